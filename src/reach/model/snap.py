"""Join points to the grid: network nodes and facilities to the cells they stand in."""

from __future__ import annotations

import numpy as np

from reach.model.grid import AnalysisGrid

__all__ = ["snap_to_passable"]


def snap_to_passable(
    x: np.ndarray,
    y: np.ndarray,
    grid: AnalysisGrid,
    passable: np.ndarray,
    *,
    search_radius_cells: int = 2,
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
    for dr in range(-rad, rad + 1):
        for dc in range(-rad, rad + 1):
            r = r0 + dr
            c = c0 + dc
            valid = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
            cand = np.where(valid, r * grid.cols + c, 0)
            valid &= flat[cand]
            rows_mid = np.clip(r0, 0, grid.rows - 1)
            d = np.hypot(dc * grid.dx_m[rows_mid], dr * grid.dy_m)
            better = valid & ((d < best_d) | ((d == best_d) & (cand < best)))
            best = np.where(better, cand, best)
            best_d = np.where(better, d, best_d)
    out[todo] = best
    return out
