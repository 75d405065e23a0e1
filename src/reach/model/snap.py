"""Join points to the grid: network nodes and facilities to the cells they stand in.

:func:`snap_to_passable` picks the cell; :func:`connector_metres` measures the connector from
the point to that cell's centre, which the search graph walks at the cell's pace (for a whole
region in :func:`reach.model.assemble.connector_minutes`, and window by window in a
partitioned run).
"""

from __future__ import annotations

import numpy as np

from reach.model.grid import AnalysisGrid

__all__ = ["SNAP_RADIUS_CELLS", "connector_metres", "snap_to_passable"]

#: How far (in cells) :func:`snap_to_passable` looks for a passable cell by default.
SNAP_RADIUS_CELLS = 2


def snap_to_passable(
    x: np.ndarray,
    y: np.ndarray,
    grid: AnalysisGrid,
    passable: np.ndarray,
    *,
    search_radius_cells: int = SNAP_RADIUS_CELLS,
    max_distance_m: float | None = None,
) -> np.ndarray:
    """Return the cell of each point, moved to the nearest passable cell when needed.

    A point in an impassable cell (a pier over water, a clinic drawn in a lake) joins the
    passable cell within ``search_radius_cells`` whose centre is nearest, measured in metres;
    ties go to the lowest cell index. Points with no passable cell near them, or outside the
    grid, get ``-1``.

    Parameters
    ----------
    x, y
        Point coordinates in the grid CRS.
    grid
        The analysis grid.
    passable
        ``bool`` (rows, cols) mask of cells one can stand in.
    search_radius_cells
        How far to look for a passable cell, in cells.
    max_distance_m
        When given, look instead for a passable cell whose centre lies within this many metres
        of the point's cell centre (``search_radius_cells`` is then not used).

    Returns
    -------
    numpy.ndarray
        ``int64`` flat cell index per point, ``-1`` where none.
    """
    cells = grid.cell_of(x, y)
    flat = passable.ravel()
    inside = cells >= 0
    ok = np.zeros(len(cells), dtype=bool)
    ok[inside] = flat[cells[inside]]
    todo = np.flatnonzero(inside & ~ok)
    out = np.where(ok, cells, -1)
    if len(todo) == 0:
        return out
    r0, c0 = np.divmod(cells[todo], grid.cols)
    best = np.full(len(todo), -1, dtype=np.int64)
    best_d = np.full(len(todo), np.inf)
    rad = search_radius_cells
    if max_distance_m is not None:
        rad = int(np.ceil(max_distance_m / grid.min_cell_size_m))
    for dr in range(-rad, rad + 1):
        for dc in range(-rad, rad + 1):
            r = r0 + dr
            c = c0 + dc
            valid = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
            cand = np.where(valid, r * grid.cols + c, 0)
            valid &= flat[cand]
            rows_mid = np.clip(r0, 0, grid.rows - 1)
            d = np.hypot(dc * grid.dx_m[rows_mid], dr * grid.dy_m)
            if max_distance_m is not None:
                valid &= d <= max_distance_m
            better = valid & ((d < best_d) | ((d == best_d) & (cand < best)))
            best = np.where(better, cand, best)
            best_d = np.where(better, d, best_d)
    out[todo] = best
    return out


def connector_metres(
    x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: AnalysisGrid
) -> np.ndarray:
    """Metres between each point and the centre of its cell.

    Parameters
    ----------
    x, y
        Point coordinates in the grid CRS.
    cell
        ``int64`` flat cell of each point (:func:`snap_to_passable`), ``-1`` for none.
    grid
        The analysis grid.

    Returns
    -------
    numpy.ndarray
        ``float64`` metres per point (row width ``dx_m`` of the cell's row, height ``dy_m``);
        ``inf`` where the cell is ``-1``.
    """
    out = np.full(len(x), np.inf)
    ok = cell >= 0
    if not ok.any():
        return out
    c = cell[ok]
    cx, cy = grid.cell_centres(c)
    rows = c // grid.cols
    t = grid.transform
    dx_m = (x[ok] - cx) / abs(t.a) * grid.dx_m[rows]
    dy_m = (y[ok] - cy) / abs(t.e) * grid.dy_m
    out[ok] = np.hypot(dx_m, dy_m)
    return out
