"""Bring a connectivity layer onto the analysis grid: which cells can use remote services.

- **polygons**: a cell is connected when its centre lies in a coverage polygon;
- **raster**: a cell is connected when any part of it has a signal above the threshold (the
  0/1 "above threshold" layer is warped with the maximum); nodata is not connected;
- **towers**: a cell is connected when its centre lies within ``range_m`` metres of a tower:
  great-circle distance on the sphere of :data:`reach.model.grid.EARTH_RADIUS_M` for lon/lat
  grids, planar distance in the grid's metres for projected grids (the metric the walking
  search uses too).

Towers are exact and cheap at any grid size: on one grid row the cells within range of a tower
form one run of columns (distance grows with the column offset along a row, also along a
parallel on the sphere), so each (tower, row) pair gives a column interval, and the intervals
are painted with a running sum, a block of rows at a time.
"""

from __future__ import annotations

import numpy as np
import shapely
from rasterio.warp import Resampling, reproject

from reach.ingest.connectivity import Connectivity
from reach.ingest.rasters import RasterLayer
from reach.model.grid import EARTH_RADIUS_M, AnalysisGrid, burn_mask

__all__ = ["connected_cells", "tower_cells"]

_NODATA = 255
#: Upper bound on (tower, row) pairs held at once, and on cells in one painting block.
_BATCH = 4_000_000


def connected_cells(conn: Connectivity, grid: AnalysisGrid) -> np.ndarray:
    """Return which cells of the grid have connectivity.

    Parameters
    ----------
    conn
        A layer from :func:`reach.ingest.connectivity.read_connectivity`.
    grid
        The analysis grid.

    Returns
    -------
    numpy.ndarray
        ``bool`` (rows, cols): ``True`` where telemedicine / online learning works.
    """
    if conn.kind == "polygons":
        assert conn.polygons is not None
        return _polygon_cells(conn, grid)
    if conn.kind == "raster":
        assert conn.raster is not None
        return _raster_cells(conn.raster, conn.threshold, grid)
    assert conn.towers is not None and conn.range_m is not None
    towers = conn.towers.to_crs(grid.crs)
    xy = shapely.get_coordinates(towers.geometry.to_numpy())
    keep = np.isfinite(xy).all(axis=1)
    return tower_cells(xy[keep, 0], xy[keep, 1], range_m=conn.range_m, grid=grid)


def _polygon_cells(conn: Connectivity, grid: AnalysisGrid) -> np.ndarray:
    assert conn.polygons is not None
    return burn_mask([(conn.polygons, False)], grid)


def _raster_cells(layer: RasterLayer, threshold: float, grid: AnalysisGrid) -> np.ndarray:
    """Warp "signal above threshold" with the maximum: connected if any part of a cell is."""
    above = np.asarray(layer.values > threshold, dtype=np.uint8)
    src = np.where(layer.nodata_mask, np.uint8(_NODATA), above).astype(np.uint8)
    dst = np.full(grid.shape, _NODATA, dtype=np.uint8)
    reproject(
        source=src,
        destination=dst,
        src_transform=layer.transform,
        src_crs=layer.crs,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        src_nodata=_NODATA,
        dst_nodata=_NODATA,
        resampling=Resampling.max,
    )
    return dst == 1


def tower_cells(x: np.ndarray, y: np.ndarray, *, range_m: float, grid: AnalysisGrid) -> np.ndarray:
    """Cells whose centre lies within ``range_m`` metres of a tower.

    Parameters
    ----------
    x, y
        Tower coordinates in the grid's CRS (longitude, latitude for a geographic grid).
    range_m
        Range of every tower in metres.
    grid
        The analysis grid.

    Returns
    -------
    numpy.ndarray
        ``bool`` (rows, cols).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    if not range_m > 0:
        raise ValueError("range_m must be positive")
    out = np.zeros(grid.shape, dtype=bool)
    if len(x) == 0:
        return out
    t = grid.transform
    rows, cols = grid.shape
    if grid.geographic:
        ang = range_m / EARTH_RADIUS_M  # radians
        if ang >= np.pi:
            out[:] = True
            return out
        half_rows = np.degrees(ang)
    else:
        unit = grid.dy_m / abs(t.e)  # metres per CRS unit
        reach_u = range_m / unit
        half_rows = reach_u
        # towers wholly beyond the grid's x extent cannot reach it
        x0, x1 = sorted((t.c, t.c + cols * t.a))
        near = (x >= x0 - reach_u) & (x <= x1 + reach_u)
        x, y = x[near], y[near]
    # candidate rows per tower (one row of slack; the exact test below decides)
    r_a = (y - half_rows - t.f) / t.e - 0.5
    r_b = (y + half_rows - t.f) / t.e - 0.5
    lo = np.maximum(np.ceil(np.minimum(r_a, r_b)) - 1, 0).astype(np.int64)
    hi = np.minimum(np.floor(np.maximum(r_a, r_b)) + 1, rows - 1).astype(np.int64)
    counts = np.maximum(hi - lo + 1, 0)
    ends = np.cumsum(counts)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    start = 0
    while start < len(x):
        # a batch of towers with at most _BATCH (tower, row) pairs (at least one tower)
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _BATCH, side="right")), start + 1)
        idx = np.arange(start, stop)
        n_pairs = counts[idx]
        tower = np.repeat(idx, n_pairs)
        offset = np.arange(len(tower)) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
        row = lo[tower] + offset
        row_y = t.f + (row + 0.5) * t.e
        if grid.geographic:
            parts.extend(_geographic_intervals(x[tower], y[tower], row, row_y, ang, grid))
        else:
            dy = row_y - y[tower]
            half2 = reach_u * reach_u - dy * dy
            ok = half2 >= 0
            half = np.sqrt(np.where(ok, half2, 0.0))
            xt = x[tower]
            parts.append(_columns(xt - half, xt + half, row, ok, grid))
        start = stop
    _paint(out, parts)
    return out


def _geographic_intervals(
    lon_t: np.ndarray,
    lat_t: np.ndarray,
    row: np.ndarray,
    lat_row: np.ndarray,
    ang: float,
    grid: AnalysisGrid,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Column intervals within ``ang`` radians of great circle, for (tower, row) pairs.

    Haversine: ``hav(d) = hav(Δφ) + cos φ₁ cos φ₂ hav(Δλ)``, so on a parallel the cells within
    range have ``hav(Δλ) ≤ (hav(ang) − hav(Δφ)) / (cos φ₁ cos φ₂)``.
    """
    phi_t = np.radians(lat_t)
    phi_r = np.radians(lat_row)
    hav_range = np.sin(ang / 2.0) ** 2
    hav_dphi = np.sin((phi_r - phi_t) / 2.0) ** 2
    denom = np.cos(phi_r) * np.cos(phi_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        rhs = (hav_range - hav_dphi) / denom
    ok = hav_dphi <= hav_range
    tiny = denom <= 1e-15  # a pole: every longitude is equally far
    whole = ok & (tiny | (rhs >= 1.0))
    rhs = np.clip(np.where(ok & ~tiny, rhs, 0.0), 0.0, 1.0)
    dlon = np.degrees(2.0 * np.arcsin(np.sqrt(rhs)))
    dlon = np.where(whole, np.inf, dlon)
    out = []
    # the grid may lie on either side of the antimeridian from the tower
    for shift in (-360.0, 0.0, 360.0):
        centre = lon_t + shift
        out.append(_columns(centre - dlon, centre + dlon, row, ok, grid))
    return out


def _columns(
    x_lo: np.ndarray, x_hi: np.ndarray, row: np.ndarray, ok: np.ndarray, grid: AnalysisGrid
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows and first / last columns whose centres lie in ``[x_lo, x_hi]``; empty ones dropped."""
    t = grid.transform
    with np.errstate(invalid="ignore"):
        c_a = (x_lo - t.c) / t.a - 0.5
        c_b = (x_hi - t.c) / t.a - 0.5
    c_lo = np.ceil(np.minimum(c_a, c_b))
    c_hi = np.floor(np.maximum(c_a, c_b))
    c_lo = np.clip(np.nan_to_num(c_lo, nan=np.inf), 0, grid.cols)
    c_hi = np.clip(np.nan_to_num(c_hi, nan=-np.inf), -1, grid.cols - 1)
    keep = ok & (c_lo <= c_hi)
    return row[keep], c_lo[keep].astype(np.int64), c_hi[keep].astype(np.int64)


def _paint(out: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Set ``out[row, first:last + 1] = True`` for every interval, a block of rows at a time."""
    if not parts:
        return
    row = np.concatenate([p[0] for p in parts])
    first = np.concatenate([p[1] for p in parts])
    last = np.concatenate([p[2] for p in parts])
    if len(row) == 0:
        return
    rows, cols = out.shape
    width = cols + 1
    block = max(1, _BATCH // width)
    order = np.argsort(row, kind="stable")
    row, first, last = row[order], first[order], last[order]
    for b0 in np.unique(row // block) * block:
        i0, i1 = np.searchsorted(row, [b0, b0 + block])
        n_rows = min(block, rows - int(b0))
        r = row[i0:i1] - b0
        size = n_rows * width
        diff = np.bincount(r * width + first[i0:i1], minlength=size)[:size].astype(np.int64)
        diff -= np.bincount(r * width + last[i0:i1] + 1, minlength=size)[:size]
        runs = np.cumsum(diff.reshape(n_rows, width), axis=1)[:, :cols]
        out[b0 : b0 + n_rows] |= runs > 0
