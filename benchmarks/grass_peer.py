"""GRASS GIS ``r.cost`` (the engine of WHO AccessMod) as a benchmark peer, run on numpy arrays.

``r.cost`` accumulates, from the start cells, the mean of two neighbouring cells' costs times the
move's length *in cells* (1 across, √2 diagonally, √5 for knight's moves with ``-k``). Given
square cells and each cell's cost as ``pace_min_per_m × cell size``, its answer is in minutes and
its model is reach's walking grid with the slope off. It differs where a diagonal move cuts past
an impassable (null) cell: GRASS allows it, reach does not.

Each call runs in a throwaway GRASS location (``grass --tmp-location XY --exec``): the cost and
start rasters go in as GeoTIFFs (``r.in.gdal``), ``r.cost`` runs with its own wall time and peak
memory taken around it (``/usr/bin/time``), and the result comes back as a float64 GeoTIFF.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

__all__ = ["GrassRun", "grass_available", "rcost_times"]


@dataclass(frozen=True)
class GrassRun:
    """One ``r.cost`` run.

    Attributes
    ----------
    time_min
        ``float64`` (rows*cols,): accumulated minutes; ``inf`` where ``r.cost`` left null.
    import_s, cost_s, export_s
        Wall times: writing and importing the inputs, ``r.cost`` alone, exporting and reading
        the result back.
    peak_rss_mb
        Peak resident memory of the ``r.cost`` process (``/usr/bin/time``; NaN without it).
    version
        GRASS's version line.
    """

    time_min: np.ndarray
    import_s: float
    cost_s: float
    export_s: float
    peak_rss_mb: float
    version: str


def grass_available() -> str | None:
    """GRASS's version line, or ``None`` when ``grass`` is not on the PATH."""
    exe = shutil.which("grass")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    line = (out.stdout or out.stderr).strip().splitlines()
    return line[0] if line else "GRASS GIS"


_SCRIPT = """set -e
t0=$(date +%s.%N)
r.in.gdal -o input={cost_tif} output=cost --quiet
r.in.gdal -o input={start_tif} output=start --quiet
g.region raster=cost
t1=$(date +%s.%N)
{timer} r.cost {flags} input=cost start_raster=start output=acc memory={memory_mb} --quiet
t2=$(date +%s.%N)
r.out.gdal -c input=acc output={out_tif} format=GTiff type=Float64 nodata=-1 --quiet
t3=$(date +%s.%N)
echo "$t0 $t1 $t2 $t3" > {times_txt}
"""


def rcost_times(
    pace_min_per_m: np.ndarray,
    seed_rows: np.ndarray,
    seed_cols: np.ndarray,
    *,
    cell_m: float,
    knight: bool = False,
    memory_mb: int = 4000,
    workdir: Path,
) -> GrassRun:
    """Run ``r.cost`` from the seed cells over a grid of square cells.

    Parameters
    ----------
    pace_min_per_m
        ``(rows, cols)`` minutes per metre in each cell; ``inf`` or NaN is impassable.
    seed_rows, seed_cols
        The start cells.
    cell_m
        Cell size in metres (square cells).
    knight
        Also knight's moves (``r.cost -k``; reach's 16 neighbours).
    memory_mb
        ``r.cost``'s ``memory=`` (MB): large, so that it works in memory as reach does.
    workdir
        A folder for the exchange files (removed after).

    Returns
    -------
    GrassRun
        The accumulated minutes per cell and the timings.
    """
    exe = shutil.which("grass")
    if exe is None:
        raise RuntimeError("GRASS is not installed (apt-get install grass-core)")
    rows, cols = pace_min_per_m.shape
    folder = Path(tempfile.mkdtemp(prefix="rcost-", dir=workdir))
    try:
        t_write = time.perf_counter()
        cost = np.where(np.isfinite(pace_min_per_m), pace_min_per_m * cell_m, np.nan)
        start = np.full((rows, cols), np.nan, dtype=np.float32)
        start[seed_rows, seed_cols] = 1.0
        transform = from_origin(0.0, rows * cell_m, cell_m, cell_m)
        for name, data in (("cost.tif", cost), ("start.tif", start)):
            with rasterio.open(
                folder / name, "w", driver="GTiff", height=rows, width=cols, count=1,
                dtype=data.dtype, transform=transform, nodata=np.nan,
            ) as dst:  # fmt: skip
                dst.write(data, 1)
        del cost, start
        write_s = time.perf_counter() - t_write
        timer = shutil.which("time") or ""
        script = _SCRIPT.format(
            cost_tif=folder / "cost.tif",
            start_tif=folder / "start.tif",
            out_tif=folder / "acc.tif",
            times_txt=folder / "times.txt",
            flags="-k" if knight else "",
            memory_mb=int(memory_mb),
            timer=f"{timer} -f 'peak_kb=%M' -o {folder / 'rss.txt'}" if timer else "",
        )
        (folder / "run.sh").write_text(script, encoding="utf-8")
        proc = subprocess.run(
            [exe, "--tmp-location", "XY", "--exec", "bash", str(folder / "run.sh")],
            capture_output=True, text=True, check=False, cwd=folder,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"r.cost failed: {proc.stderr.strip()[-500:]}")
        t0, t1, t2, t3 = (float(x) for x in (folder / "times.txt").read_text().split())
        t_read = time.perf_counter()
        with rasterio.open(folder / "acc.tif") as src:
            acc = src.read(1).astype(np.float64).ravel()
        acc[~(acc >= 0)] = np.inf  # nodata -1 (and NaN) = not reached
        read_s = time.perf_counter() - t_read
        peak = float("nan")
        rss = folder / "rss.txt"
        if rss.exists():
            for line in rss.read_text().splitlines():
                if line.startswith("peak_kb="):
                    peak = int(line.split("=", 1)[1]) / 1024.0
        return GrassRun(
            time_min=acc,
            import_s=write_s + (t1 - t0),
            cost_s=t2 - t1,
            export_s=(t3 - t2) + read_s,
            peak_rss_mb=peak,
            version=grass_available() or "GRASS GIS",
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
