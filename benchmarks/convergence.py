"""Coverage at several grid sizes: reach beside AccessMod's method, on the same inputs.

A coverage figure should describe the region, not the grid it was computed on. This script runs
one scenario at several cell sizes and prints, for each, the share of people within each
threshold from reach and from AccessMod's method implemented plainly here:

* **reach** — the scenario as written, the grid made finer or coarser:
  - Malawi's 1 km population raster is cut into ``k × k`` cells of ``1000 / k`` m, each with
    ``1 / k²`` of its cell's people (people spread evenly within each 1 km cell, so every grid
    holds the same people in the same places);
  - Comoros's WorldPop raster (3 arcseconds, about 92 m) is summed into blocks
    (``[grid] aggregate_factor``).
* **AccessMod's method** — the same friction (land cover, barriers, water, read by reach onto
  the same grid) with every road burned in as cells (every cell a road touches, the fastest
  class winning, over water and barriers), each road cell at its road's speed, and
  scikit-image's ``MCP_Geometric`` cost-distance (8 moves, the mean of two cells' costs times
  the move's length, as GRASS ``r.cost``) from the facilities' cells. Ferries are left out:
  AccessMod's raster has none.

The table gives each threshold's coverage per grid, then the gap of each grid to the finest
one. Run from the repository root with the shared data (``REACH_DATA``, default
``../shared/data``)::

    python benchmarks/convergence.py                        # Malawi 1000/500/200/100/50 m
    python benchmarks/convergence.py --region comoros       # ~500/200/100 m
    python benchmarks/convergence.py --region malawi --cells 1000,200 --markdown
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize
from skimage.graph import MCP_Geometric

from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.region import Region
from reach.model.snap import snap_to_passable
from reach.model.speeds import way_speeds_kph
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.run.session import mode_profile
from reach.spec import ScenarioSpec, load_scenario

REPO = Path(__file__).resolve().parents[1]

#: Grids of each region: cell size label (m) → how the population raster is changed.
REGIONS: dict[str, tuple[str, str, dict[int, tuple[str, int]]]] = {
    # name: (scenario, service, {cell_m: ("split" k | "aggregate" f)})
    "malawi": (
        "malawi_accessmod",
        "health",
        {
            1000: ("split", 1),
            500: ("split", 2),
            200: ("split", 5),
            100: ("split", 10),
            50: ("split", 20),
        },
    ),
    "comoros": (
        "comoros",
        "health",
        {500: ("aggregate", 5), 200: ("aggregate", 2), 100: ("aggregate", 1)},
    ),
}


@dataclass(frozen=True)
class GridRun:
    """Coverage on one grid."""

    cell_m: int
    cells: int
    reach_pct: dict[int, float]
    accessmod_pct: dict[int, float]
    reach_s: float
    accessmod_s: float


def split_population(src: Path, dst: Path, k: int) -> None:
    """Write ``src`` cut into ``k × k`` cells per cell, each with ``1 / k²`` of its people."""
    with rasterio.open(src) as ds:
        data = ds.read(1).astype(np.float64)
        nodata = ds.nodata
        profile = ds.profile
        t = ds.transform
    if nodata is not None and not np.isnan(nodata):
        data[data == nodata] = np.nan
    fine = np.repeat(np.repeat(data / (k * k), k, axis=0), k, axis=1).astype(np.float32)
    profile.update(
        width=fine.shape[1],
        height=fine.shape[0],
        transform=rasterio.Affine(t.a / k, t.b, t.c, t.d, t.e / k, t.f),
        dtype="float32",
        nodata=np.nan,
        compress="deflate",
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    with rasterio.open(dst, "w", **profile) as out:
        out.write(fine, 1)


def scenario_at(scn: ScenarioSpec, how: str, k: int, folder: Path) -> ScenarioSpec:
    """The scenario on the grid ``how`` / ``k`` describes (a split raster goes in ``folder``)."""
    if how == "aggregate":
        return scn.model_copy(update={"grid": scn.grid.model_copy(update={"aggregate_factor": k})})
    if k == 1:
        return scn
    population = scn.region.population
    assert population is not None
    fine = folder / f"population_x{k}.tif"
    split_population(scn.resolve(population), fine, k)
    region = scn.region.model_copy(update={"population": str(fine)})
    return scn.model_copy(update={"region": region})


def reach_coverage(scn: ScenarioSpec, region: Region, service: str) -> dict[int, float]:
    """The (all) row of reach's coverage table: percent within each threshold."""
    run = run_scenario(scn, write=False, maps=False, region=region)
    cov = run.coverage
    row = cov[(cov["service"] == service) & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]
    svc = next(s for s in scn.services if s.name == service)
    return {int(t): float(row[f"pct_within_{int(t)}min"]) for t in svc.thresholds_min}


def burned_pace(region: Region, service: str) -> np.ndarray:
    """The friction with the roads burned in (AccessMod's merge): pace in min/m per cell."""
    scn = region.scenario
    grid = region.grid
    svc = next(s for s in scn.services if s.name == service)
    lines = region.roads
    kph = way_speeds_kph(lines.tags, mode_profile(scn, svc.mode))
    keep = np.flatnonzero(np.isfinite(kph) & (kph > 0) & ~lines.is_ferry())

    geoms = [
        shapely.LineString(
            np.column_stack(
                [
                    lines.x[lines.offsets[w] : lines.offsets[w + 1]],
                    lines.y[lines.offsets[w] : lines.offsets[w + 1]],
                ]
            )
        )
        for w in keep
    ]
    ways = gpd.GeoDataFrame({"kph": kph[keep]}, geometry=geoms, crs=lines.crs).to_crs(grid.crs)
    ways = ways.sort_values("kph", kind="stable")  # the fastest burned last wins
    road_kph = rasterize(
        ((g, v) for g, v in zip(ways.geometry, ways["kph"], strict=True)),
        out_shape=(grid.rows, grid.cols),
        transform=grid.transform,
        fill=0.0,
        all_touched=True,
        dtype="float64",
    )
    pace = region.friction.pace_min_per_m.copy()
    road = road_kph > 0
    pace[road] = 60.0 / (road_kph[road] * 1000.0)
    return pace


def accessmod_coverage(region: Region, service: str) -> dict[int, float]:
    """AccessMod's method on the region: burned roads, MCP cost-distance, percent within."""
    scn = region.scenario
    grid = region.grid
    svc = next(s for s in scn.services if s.name == service)
    pace = burned_pace(region, service)
    passable = np.isfinite(pace)
    fac = region.facilities[service].to_crs(grid.crs)
    cells = snap_to_passable(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy(), grid, passable)
    cells = np.unique(cells[cells >= 0])
    mcp = MCP_Geometric(
        pace, fully_connected=True, sampling=(float(grid.dy_m), float(np.mean(grid.dx_m)))
    )
    cum, _ = mcp.find_costs(np.column_stack(np.divmod(cells, grid.cols)).tolist())
    minutes = np.asarray(cum, np.float64)
    people = np.nan_to_num(region.population.people.astype(np.float64))
    total = people.sum()
    return {int(t): float(100.0 * people[minutes <= t].sum() / total) for t in svc.thresholds_min}


def run_region(name: str, cells_m: list[int]) -> tuple[list[GridRun], list[int]]:
    """Coverage of the region on each grid asked for."""
    scenario, service, grids = REGIONS[name]
    base = load_scenario(REPO / "scenarios" / f"{scenario}.toml")
    svc = next(s for s in base.services if s.name == service)
    out: list[GridRun] = []
    with tempfile.TemporaryDirectory(prefix="reach-convergence-") as tmp:
        # the split rasters live in a temporary folder: let the scenario read them there
        allowed = [p for p in os.environ.get("REACH_ALLOW_PATHS", "").split(os.pathsep) if p]
        os.environ["REACH_ALLOW_PATHS"] = os.pathsep.join([*allowed, tmp])
        for cell_m in cells_m:
            how, k = grids[cell_m]
            scn = scenario_at(base, how, k, Path(tmp))
            region = load_region(scn)
            t0 = time.perf_counter()
            r = reach_coverage(scn, region, service)
            t1 = time.perf_counter()
            a = accessmod_coverage(region, service)
            t2 = time.perf_counter()
            out.append(GridRun(cell_m, region.grid.n_cells, r, a, t1 - t0, t2 - t1))
            print(f"  {name} {cell_m} m: {region.grid.n_cells:,} cells", file=sys.stderr)
    return out, [int(t) for t in svc.thresholds_min]


def table(name: str, runs: list[GridRun], thresholds: list[int], *, markdown: bool) -> str:
    """The coverage table, then each grid's gap to the finest grid."""
    finest = min(runs, key=lambda r: r.cell_m)
    head = ["grid", "cells"]
    head += [f"reach {t}" for t in thresholds] + [f"AccessMod {t}" for t in thresholds]
    head += ["reach s", "AccessMod s"]
    rows = []
    for r in runs:
        rows.append(
            [f"{r.cell_m} m", f"{r.cells:,}"]
            + [f"{r.reach_pct[t]:.1f}" for t in thresholds]
            + [f"{r.accessmod_pct[t]:.1f}" for t in thresholds]
            + [f"{r.reach_s:.1f}", f"{r.accessmod_s:.1f}"]
        )
    gap_head = ["grid"] + [f"reach {t}" for t in thresholds]
    gap_head += [f"AccessMod {t}" for t in thresholds]
    gaps = []
    for r in runs:
        gaps.append(
            [f"{r.cell_m} m"]
            + [f"{r.reach_pct[t] - finest.reach_pct[t]:+.1f}" for t in thresholds]
            + [f"{r.accessmod_pct[t] - finest.accessmod_pct[t]:+.1f}" for t in thresholds]
        )
    title = f"{name}: % of people within each threshold (min)"
    gap_title = f"{name}: points above the {finest.cell_m} m grid's figure"
    return "\n".join(
        [_render(title, head, rows, markdown), "", _render(gap_title, gap_head, gaps, markdown)]
    )


def _render(title: str, head: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([title, fmt.format(*head), *(fmt.format(*r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", choices=[*REGIONS, "all"], default="malawi")
    parser.add_argument("--cells", help="cell sizes in metres, comma-separated (default all)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args(argv)
    os.environ.setdefault("REACH_DATA", str(REPO.parent / "shared" / "data"))
    names = list(REGIONS) if args.region == "all" else [args.region]
    for name in names:
        grids = REGIONS[name][2]
        cells = sorted(grids, reverse=True)
        if args.cells:
            cells = [int(c) for c in args.cells.split(",") if int(c) in grids]
        runs, thresholds = run_region(name, cells)
        print(table(name, runs, thresholds, markdown=args.markdown))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
