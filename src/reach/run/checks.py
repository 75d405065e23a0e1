"""Checks made while a region is read: memory before a raster is read, layers that miss the
grid (refused) or cover only part of it (warned), facilities off the grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from rasterio.warp import transform_bounds

from reach.errors import InputError, ResourceLimitError
from reach.findings import Finding
from reach.ingest.boundaries import read_vector_bounds
from reach.ingest.landcover import (
    dem_header,
    geotiff_header,
)
from reach.model.grid import (
    AnalysisGrid,
)
from reach.settings import MEMORY_ENV, available_memory_bytes
from reach.spec import (
    ScenarioSpec,
    ServiceSpec,
)

__all__ = [
    "BYTES_PER_CELL",
    "BYTES_PER_CELL_PER_RESULT",
    "BYTES_PER_RAW_CELL",
    "MIN_LAYER_COVERAGE",
    "Bounds",
    "check_layers_overlap",
    "check_memory",
    "memory_estimate_bytes",
    "require_on_grid",
    "require_overlap",
]

_log = logging.getLogger("reach")


#: A land-cover or elevation layer covering less of the population grid than this share gets a
#: warning (in ``Region.warnings`` and the ``reach`` log); one covering none of it is refused.
MIN_LAYER_COVERAGE = 0.5


#: Bytes per analysis cell a run holds at its peak (grid, friction, search, tables), measured
#: on the demo region (2.4 GB at 16 million cells with three services) and rounded up.
BYTES_PER_CELL = 160


#: Bytes per cell each evaluated service keeps (times, catchment, reason).
BYTES_PER_CELL_PER_RESULT = 16


#: Bytes per raw raster cell while the population is read and aggregated.
BYTES_PER_RAW_CELL = 24


#: ``(west, south, east, north)`` of a layer in its own CRS.
Bounds = tuple[float, float, float, float]


def memory_estimate_bytes(scn: ScenarioSpec, rows: int, cols: int) -> int:
    """Peak memory a run of ``scn`` on a ``rows`` × ``cols`` population raster needs, roughly.

    The raw raster while it is read and aggregated (:data:`BYTES_PER_RAW_CELL` a cell), plus
    each analysis cell (after ``aggregate_factor``) at :data:`BYTES_PER_CELL` and
    :data:`BYTES_PER_CELL_PER_RESULT` per service for the baseline and each alternative.

    Parameters
    ----------
    scn
        The scenario: its ``aggregate_factor``, services and alternatives count.
    rows, cols
        The population raster's size in cells, from its header.

    Returns
    -------
    int
        Estimated peak bytes.
    """
    raw = rows * cols
    factor = scn.grid.aggregate_factor
    cells = -(-rows // factor) * -(-cols // factor)
    results = len(scn.services) * (1 + len(scn.alternatives))
    return raw * BYTES_PER_RAW_CELL + cells * (BYTES_PER_CELL + BYTES_PER_CELL_PER_RESULT * results)


def check_memory(
    scn: ScenarioSpec,
    rows: int,
    cols: int,
    *,
    estimate: Callable[[ScenarioSpec, int, int], int] | None = None,
    what: str = "a run",
) -> None:
    """Refuse, before reading it, a raster whose run would not fit in memory.

    Parameters
    ----------
    scn
        The scenario (its population raster is named in the message).
    rows, cols
        The population raster's size in cells, from its header.
    estimate
        Bytes the run needs; default :func:`memory_estimate_bytes`.
    what
        Who needs the memory, for the message (e.g. "the coordinator of a partitioned run").

    Raises
    ------
    ResourceLimitError
        With the estimate and what is available (``$REACH_MEMORY_GB`` caps the latter).
    """
    need = (estimate or memory_estimate_bytes)(scn, rows, cols)
    have = available_memory_bytes()
    if need > have:
        gib = 2**30
        raise ResourceLimitError(
            f"{what} on this {rows:,} × {cols:,}-cell population raster needs about "
            f"{need / gib:,.1f} GiB of memory; {have / gib:,.1f} GiB is available",
            path=scn.resolve(scn.region.population_source()),
            fix="clip the raster to the study area, set [grid] aggregate_factor, or run on a "
            f"larger machine ({MEMORY_ENV} sets the budget)",
        )


def _grid_bounds(grid: AnalysisGrid) -> Bounds:
    """The grid's outer edges in its own CRS."""
    t = grid.transform
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.cols, grid.rows)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _on_grid_crs(bounds: Bounds, crs: Any, grid: AnalysisGrid) -> Bounds | None:
    """``bounds`` (in ``crs``) in the grid's CRS; None when they cannot be transformed."""
    try:
        if crs is None or grid.crs == crs:
            out = bounds
        else:
            out = transform_bounds(crs, grid.crs, *bounds, densify_pts=21)
    except Exception:  # PROJ refusing odd bounds: the check is skipped, never failed
        return None
    if not all(math.isfinite(v) for v in out):
        return None
    return (float(out[0]), float(out[1]), float(out[2]), float(out[3]))


def _show_bounds(b: Bounds) -> str:
    """Bounds as text for a message (six significant digits)."""
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def require_overlap(
    layer_bounds: Sequence[tuple[Bounds, Any]],
    grid: AnalysisGrid,
    *,
    what: str,
    path: Path | str | None,
) -> float | None:
    """Refuse a layer none of whose parts overlaps the grid; return the share of it covered.

    The share is measured on a lattice of 101 × 101 points over the grid, counting those
    inside any part's bounds.

    Parameters
    ----------
    layer_bounds
        Each part's (e.g. each DEM tile's) bounds and CRS (``None`` for the grid's own).
    grid
        The analysis grid (the population raster's).
    what
        What the layer is, for the message (e.g. ``"land cover raster"``).
    path
        The layer's file, for the message.

    Returns
    -------
    float or None
        The share of the grid (0–1) inside the layer's bounds; ``None``, and no check, when a
        part's bounds cannot be brought onto the grid's CRS.

    Raises
    ------
    InputError
        When no part overlaps the grid, naming the file and both extents.
    """
    g = _grid_bounds(grid)
    parts = [b for b in (_on_grid_crs(b, crs, grid) for b, crs in layer_bounds) if b is not None]
    if len(parts) < len(layer_bounds) or not parts:
        return None
    if not any(b[0] < g[2] and g[0] < b[2] and b[1] < g[3] and g[1] < b[3] for b in parts):
        shown = _show_bounds(parts[0]) if len(parts) == 1 else f"{len(parts)} tiles"
        if len(parts) > 1:
            joint = (
                min(b[0] for b in parts),
                min(b[1] for b in parts),
                max(b[2] for b in parts),
                max(b[3] for b in parts),
            )
            shown += f" within {_show_bounds(joint)}"
        raise InputError(
            f"the {what} does not overlap the region's population grid (its bounds {shown}, "
            f"the grid's {_show_bounds(g)}, in {grid.crs.to_string()})",
            path=path,
            fix="give a layer that covers the study area, or check the population raster's "
            "extent (gdalinfo / ogrinfo show each file's CRS and extent)",
        )
    xs = np.linspace(g[0], g[2], 101)
    ys = np.linspace(g[1], g[3], 101)
    gx, gy = np.meshgrid(xs, ys)
    inside = np.zeros(gx.shape, dtype=bool)
    for b in parts:
        inside |= (gx >= b[0]) & (gx <= b[2]) & (gy >= b[1]) & (gy <= b[3])
    return float(inside.mean())


def _warn_partial(
    share: float | None,
    *,
    what: str,
    path: Path | str,
    warnings: list[str] | None,
    findings: list[Finding] | None = None,
) -> None:
    """Log, and add to ``warnings`` and ``findings``, a layer covering under
    :data:`MIN_LAYER_COVERAGE`."""
    if share is None or share >= MIN_LAYER_COVERAGE:
        return
    text = (
        f"{path}: the {what} covers only {share:.0%} of the region's population grid; "
        "cells outside it keep the default values"
    )
    _log.warning(text)
    if warnings is not None:
        warnings.append(text)
    if findings is not None:
        findings.append(
            Finding(
                "layer_partial_cover", "warning", "layer", str(path), text,
                value=round(share, 4), unit="share",
            )
        )  # fmt: skip


def check_layers_overlap(
    scn: ScenarioSpec,
    grid: AnalysisGrid,
    *,
    warnings: list[str] | None = None,
    findings: list[Finding] | None = None,
) -> None:
    """Refuse land-cover, elevation, barrier and water layers that miss the grid entirely.

    Only headers and extents are read (no cell, no geometry), so a partitioned run checks its
    layers here too before any window is built.

    Parameters
    ----------
    scn
        The scenario.
    grid
        The analysis grid (the population raster's).
    warnings
        Where to add a line for a land-cover or elevation layer covering less than
        :data:`MIN_LAYER_COVERAGE` of the grid (also logged on the ``reach`` logger).
    findings
        Where to add a ``layer_partial_cover`` finding (``warning``) for each such layer.

    Raises
    ------
    InputError
        If a layer does not overlap the grid at all, naming the file and both extents.
    """
    region = scn.region
    lc = region.landcover
    if lc is not None:
        rasters: list[tuple[str, Path]] = []
        if lc.path is not None:
            rasters.append(("land cover raster", scn.resolve(lc.path)))
        else:
            rasters += [
                (f"'{label}' cover fraction raster", scn.resolve(path))
                for label, path in lc.fractions.items()
            ]
        for i, (what, path) in enumerate(rasters):
            header = geotiff_header(path, what=what)
            share = require_overlap([(header.bounds, header.crs)], grid, what=what, path=path)
            if i == 0:  # cover fractions share one grid: one warning is enough
                _warn_partial(share, what=what, path=path, warnings=warnings, findings=findings)
    if region.dem and scn.grid.slope:
        paths = [scn.resolve(p) for p in region.dem]
        headers = [dem_header(p) for p in paths]
        shown_path: Path | str = paths[0] if len(paths) == 1 else ", ".join(map(str, paths))
        what = "elevation (DEM) raster" + ("" if len(paths) == 1 else "s")
        share = require_overlap(
            [(h.bounds, h.crs) for h in headers], grid, what=what, path=shown_path
        )
        _warn_partial(share, what=what, path=shown_path, warnings=warnings, findings=findings)
    for kind, specs in (("barrier layer", region.barriers), ("water layer", region.water)):
        for spec in specs:
            path = scn.resolve(spec.path)
            bounds, crs = read_vector_bounds(path, what=kind, layer=spec.layer)
            if bounds is not None and crs is not None:
                require_overlap([(bounds, crs)], grid, what=kind, path=path)


def require_on_grid(
    scn: ScenarioSpec, svc: ServiceSpec, fac: gpd.GeoDataFrame, grid: AnalysisGrid
) -> None:
    """Refuse a service none of whose facilities lies on the population grid.

    Parameters
    ----------
    scn
        The scenario (the facility file is named in the message).
    svc
        The service.
    fac
        Its facilities in lon/lat, as :func:`~reach.run.region.read_service_facilities` reads
        them (the message gives their lon/lat span).
    grid
        The analysis grid (the population raster's).

    Raises
    ------
    InputError
        When every facility lies outside the grid (the population raster or the facilities'
        coordinates are then in the wrong place).
    """
    pts = fac.to_crs(grid.crs).geometry
    inside = grid.cell_of(pts.x.to_numpy(), pts.y.to_numpy()) >= 0
    if inside.any():
        return
    west, south, east, north = fac.total_bounds
    where = scn.resolve(svc.facilities.path) if svc.facilities.path else scn.region.osm
    raise InputError(
        f"service {svc.name!r}: none of its {len(fac)} facilities lies inside the population "
        f"raster (facilities span lon {west:.4f}…{east:.4f}, lat {south:.4f}…{north:.4f})",
        path=where,
        fix="check the facilities' coordinates and CRS, or use a population raster that "
        "covers them",
    )
