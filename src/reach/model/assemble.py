"""Put the friction grid and a mode's network together into the engine's search graph."""

from __future__ import annotations

import numpy as np

from reach.engine.combined import SearchGraph, moves_for
from reach.model.grid import AnalysisGrid, Friction
from reach.model.network import Network
from reach.model.snap import snap_to_passable

__all__ = ["connector_minutes", "search_graph"]


def search_graph(
    grid: AnalysisGrid, friction: Friction, network: Network | None, *, neighbours: int = 8
) -> SearchGraph:
    """Return the combined search graph of a grid, its friction and a network.

    Parameters
    ----------
    grid
        The analysis grid.
    friction
        Walking friction on the grid.
    network
        The mode's network, or ``None`` for walking across the grid only.
    neighbours
        8 (queen) or 16 (queen + knight) moves.

    Returns
    -------
    SearchGraph
        Flat arrays for ``engine.combined.combined_search``.
    """
    passable = np.isfinite(friction.pace_min_per_m)
    if network is None or network.n_nodes == 0:
        rev_indptr = np.zeros(1, dtype=np.int64)
        rev_src = np.empty(0, dtype=np.int64)
        rev_cost = np.empty(0, dtype=np.float64)
        node_cell = np.empty(0, dtype=np.int64)
        connector = np.empty(0, dtype=np.float64)
    else:
        rev_indptr = network.rev_indptr
        rev_src = network.src
        rev_cost = network.time_min
        node_cell = snap_to_passable(network.x, network.y, grid, passable)
        connector = connector_minutes(network.x, network.y, node_cell, grid, friction)
    elevation = np.empty(0) if friction.elevation_m is None else friction.elevation_m.ravel()
    return SearchGraph(
        rows=grid.rows,
        cols=grid.cols,
        pace_min_per_m=friction.pace_min_per_m.ravel(),
        elevation_m=elevation,
        status=friction.status.ravel(),
        dx_m=grid.dx_m,
        dy_m=grid.dy_m,
        moves=moves_for(neighbours),
        rev_indptr=rev_indptr,
        rev_src=rev_src,
        rev_cost_min=rev_cost,
        node_cell=node_cell,
        connector_min=connector,
    )


def connector_minutes(
    x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: AnalysisGrid, friction: Friction
) -> np.ndarray:
    """Minutes to walk between each point and the centre of its cell, at that cell's pace.

    Points without a cell (``-1``) get ``inf``.
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
    out[ok] = np.hypot(dx_m, dy_m) * friction.pace_min_per_m.ravel()[c]
    return out
