"""The manifest of an output folder: what the results came from, and how they were made.

A run and every analysis command write one (``manifest.json``): the scenario as resolved, the
inputs' sha256 taken before they were read, the package versions, the grid, the population
totals, what each unreachable reason means, the table schema's version, the warnings, and the
files written with their sha256 (but the maps and reports, which may be written again). Its
``run_id`` repeats the folder marker's, which is how reach proves it wrote a folder (see
:mod:`reach.outputs.folders`).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import rasterio

from reach import __version__
from reach.codes import REASON_LABELS
from reach.model.region import Region
from reach.outputs.folders import MANIFEST_NAME, OUTPUT_MARKER, folder_run_id
from reach.outputs.i18n import REASON_EXPLANATIONS
from reach.outputs.write import file_sha256
from reach.schema import SCHEMA_VERSION
from reach.spec import ScenarioSpec

__all__ = [
    "build_manifest",
    "changed_inputs",
    "file_stamp",
    "hashed_output",
    "input_digests",
    "input_sha256",
    "package_versions",
]

#: The packages whose versions a manifest records, besides reach, Python and GDAL.
_PACKAGES = (
    "numpy",
    "scipy",
    "numba",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "rasterio",
    "osmium",
    "pydantic",
)


def hashed_output(rel: str) -> bool:
    """Whether the manifest records the sha256 of a file of its folder.

    Every file is hashed but the marker, the manifest itself and the maps and reports at the
    top of the folder, which ``reach map`` and ``reach report`` may write again into a run's
    folder (the manifest they keep still vouches for the rest).

    Parameters
    ----------
    rel
        The file's path inside the folder, with ``/``.

    Returns
    -------
    bool
        False for ``.reach-output``, ``manifest.json``, ``map_*.html`` and ``report_*.html`` /
        ``.pdf`` at the top of the folder; True for every other file.
    """
    if "/" in rel:
        return True
    if rel in (OUTPUT_MARKER, MANIFEST_NAME):
        return False
    return not (
        (rel.startswith("map_") and rel.endswith(".html"))
        or (rel.startswith("report_") and rel.endswith((".html", ".pdf")))
    )


def package_versions() -> dict[str, str]:
    """Versions of reach, Python, GDAL and the packages the results depend on.

    Returns
    -------
    dict of str to str
        Package name to version (``"not installed"`` for a missing optional one).
    """
    out = {
        "reach": __version__,
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
    }
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def file_stamp(path: Path) -> tuple[int, int]:
    """A file's size and modification time in nanoseconds, to notice it changing.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple of int
        ``(size, mtime_ns)``.
    """
    st = path.stat()
    return st.st_size, st.st_mtime_ns


# the sha256 of inputs already hashed by this process, by path, inode, size and mtime
_input_digests: dict[tuple[str, int, int, int], str] = {}


def input_sha256(path: Path) -> str:
    """An input file's sha256, hashed once per process while it stays the same file.

    The manifest's digests and the friction cache's key both need the inputs' hashes; the
    second asks for files the first has just hashed. A file replaced or rewritten gets a new
    inode, size or modification time, and is hashed again.

    Parameters
    ----------
    path
        The input file.

    Returns
    -------
    str
        Its sha256, 64 hex digits.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _input_digests:
        _input_digests[key] = file_sha256(path)
    return _input_digests[key]


def input_digests(scn: ScenarioSpec) -> dict[Path, tuple[str, tuple[int, int]]]:
    """The sha256 and stamp of every input file of a scenario, taken before they are read.

    Parameters
    ----------
    scn
        The validated scenario.

    Returns
    -------
    dict of Path to (str, (int, int))
        Each input file's hex sha256 and :func:`file_stamp`.
    """
    return {p: (input_sha256(p), file_stamp(p)) for p in scn.input_paths() if p.is_file()}


def changed_inputs(digests: Mapping[Path, tuple[str, tuple[int, int]]]) -> list[str]:
    """A warning line for each input that changed (or went) since :func:`input_digests`.

    Parameters
    ----------
    digests
        What :func:`input_digests` returned before the inputs were read.

    Returns
    -------
    list of str
        One line per changed input, for the manifest and the log.
    """
    return [
        f"{p} changed while the run read it: run again to be sure"
        for p, (_, stamp) in digests.items()
        if not p.is_file() or file_stamp(p) != stamp
    ]


#: What each ``[grid] model`` computes, as the manifest records it.
MODEL_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "reach": {
        "name": "reach",
        "roads": "a network; each cell walks straight to the nearest point of each road near "
        "it, and each facility is joined where it stands",
    },
    "accessmod": {
        "name": "accessmod",
        "roads": "AccessMod 5's raster model: roads burned into the land cover (every cell "
        "touched, the fastest class winning, over water and barriers), the whole cell at the "
        "road's speed; r.cost's moves (diagonals may pass between impassable cells); "
        "facilities start at their cell; minutes truncated to whole minutes",
    },
}


def build_manifest(
    scn: ScenarioSpec,
    region: Region,
    folder: Path,
    *,
    command: str,
    inputs: Mapping[str, str],
    timings_s: Mapping[str, float],
    warnings: list[str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of an output folder being written.

    Parameters
    ----------
    scn
        The scenario the folder's results came from.
    region
        Its loaded region.
    folder
        The folder being written (its marker's run id is repeated; its files are listed, so
        build the manifest last).
    command
        The command that wrote it (``run``, ``capacity``, ...).
    inputs
        The inputs' sha256 by path.
    timings_s
        Seconds per step.
    warnings
        What the run noticed about its inputs.
    extra
        Further keys (``alternatives`` of a run, ``parameters`` of an analysis).

    Returns
    -------
    dict
        The manifest, ready for :func:`reach.outputs.write.write_json`.
    """
    grid = region.grid
    manifest: dict[str, Any] = {
        "run_id": folder_run_id(folder),
        "command": command,
        "reach_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "scenario": scn.model_dump(mode="json"),
        "scenario_base_dir": str(scn.base_dir),
        "inputs_sha256": dict(inputs),
        "versions": package_versions(),
        "timings_s": dict(timings_s),
        "grid": {
            "rows": grid.rows,
            "cols": grid.cols,
            "crs": grid.crs.to_string(),
            "transform": list(grid.transform)[:6],
        },
        "model": MODEL_DESCRIPTIONS[scn.grid.model],
        "population": {
            "raster_total": region.raster_total,
            "grid_total": region.population.total,
            "population_total": region.population_total,
        },
        "friction": {"populated_water_cells_made_land": region.friction.populated_water_cells},
        "unreachable_reasons": {
            label: REASON_EXPLANATIONS.get(label, "")
            for code, label in REASON_LABELS.items()
            if code
        },
        "warnings": list(warnings),
    }
    if region.roads_noding is not None:
        manifest["roads_noding"] = region.roads_noding.summary()
    if region.population_correction is not None:
        manifest["population"]["correction"] = region.population_correction.summary()
    if region.population_counts is not None:
        counts = region.population_counts
        manifest["population"]["counts"] = {
            "zones": len(counts.table),
            "total": float(counts.table["count"].sum()),
            "spread": {str(k): int(v) for k, v in counts.table["spread"].value_counts().items()},
            "rows_left_out": list(counts.table.attrs.get("ignored_rows", [])),
        }
    manifest.update(extra or {})
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    manifest["outputs"] = files
    # what `reach map` and `reach report` check before they read a run back (run/reopen.py)
    manifest["outputs_sha256"] = {
        rel: file_sha256(folder / rel) for rel in files if hashed_output(rel)
    }
    return manifest
