"""Put the friction grid and a mode's network together into the engine's search graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reach.model.grid import AnalysisGrid, Friction
from reach.model.joins import (
    FacilitySeeds,
    Seeds,
    cell_joins,
    fastest,
    point_joins,
    walk_minutes,
)
from reach.model.network import Network
from reach.model.snap import connector_metres, snap_to_passable

__all__ = [
    "KNIGHT_MOVES",
    "QUEEN_MOVES",
    "SearchGraph",
    "connector_minutes",
    "connector_pace_minutes",
    "facility_seeds",
    "moves_for",
    "node_joins",
    "search_graph",
]

#: The 8 queen moves (row, column offsets).
QUEEN_MOVES = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64
)
#: The 8 knight moves added for 16-neighbour searches.
KNIGHT_MOVES = np.array(
    [(-2, -1), (-2, 1), (-1, -2), (-1, 2), (1, -2), (1, 2), (2, -1), (2, 1)], dtype=np.int64
)


def moves_for(neighbours: int) -> np.ndarray:
    """Return the move offsets for 8 or 16 neighbours.

    Parameters
    ----------
    neighbours
        How many neighbours a cell steps to: 8 (the queen moves) or 16 (the queen and the
        knight moves).

    Returns
    -------
    numpy.ndarray
        ``int64`` (neighbours, 2): ``(row, column)`` offsets, :data:`QUEEN_MOVES` first; a new
        array, not a view of the module's constants.

    Raises
    ------
    ValueError
        If ``neighbours`` is neither 8 nor 16.
    """
    if neighbours == 8:
        return QUEEN_MOVES.copy()
    if neighbours == 16:
        return np.concatenate([QUEEN_MOVES, KNIGHT_MOVES])
    raise ValueError(f"neighbours must be 8 or 16, not {neighbours}")


@dataclass(frozen=True, eq=False)
class SearchGraph:
    """Everything the combined search needs, as flat arrays.

    Attributes
    ----------
    rows, cols
        Grid shape.
    pace_min_per_m
        ``float64`` (rows*cols,): walking pace on flat ground; ``inf`` where impassable.
    elevation_m
        ``float64`` (rows*cols,) or empty: elevations for Tobler's slope factor (NaN = unknown).
    status
        ``uint8`` (rows*cols,): ``STATUS_*`` code of each cell.
    dx_m
        ``float64`` (rows,): cell width in metres at each row's centre.
    dy_m
        Cell height in metres.
    moves
        ``int64`` (k, 2) move offsets (8 or 16).
    rev_indptr, rev_src, rev_cost_min
        The network reversed, as CSR: the edges *into* node ``j`` are
        ``rev_src[rev_indptr[j]:rev_indptr[j+1]]`` with costs ``rev_cost_min[...]``.
    node_cell
        ``int64`` (n_nodes,): the cell each node connects to, ``-1`` for none.
    connector_min
        ``float64`` (n_nodes,): minutes between each node and its cell's centre (either way).
    cut_corners
        Let a diagonal move pass between two impassable cells (GRASS ``r.cost``'s rule, for the
        AccessMod-compatible model); by default it may not.
    """

    rows: int
    cols: int
    pace_min_per_m: np.ndarray
    elevation_m: np.ndarray
    status: np.ndarray
    dx_m: np.ndarray
    dy_m: float
    moves: np.ndarray
    rev_indptr: np.ndarray
    rev_src: np.ndarray
    rev_cost_min: np.ndarray
    node_cell: np.ndarray
    connector_min: np.ndarray
    cut_corners: bool = False

    @property
    def n_cells(self) -> int:
        """Number of grid cells."""
        return self.rows * self.cols

    @property
    def n_nodes(self) -> int:
        """Number of network nodes."""
        return len(self.node_cell)


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
        node_cell, connector = node_joins(network, grid, friction)
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


def node_joins(
    network: Network, grid: AnalysisGrid, friction: Friction
) -> tuple[np.ndarray, np.ndarray]:
    """The cell each node of a network joins, and the minutes walked between them.

    A road node joins the cell it stands in (or the nearest passable one,
    :func:`reach.model.snap.snap_to_passable`) through that cell's centre; a foot
    (:mod:`reach.model.joins`) joins the cell whose centre walks straight to it, across the
    cells that walk crosses, each at its own pace.

    Parameters
    ----------
    network
        The mode's network.
    grid
        The analysis grid.
    friction
        Walking friction on the grid.

    Returns
    -------
    tuple of numpy.ndarray
        ``(node_cell, connector_min)``: ``int64`` cell per node (``-1`` for none, also for a
        foot whose walk crosses an impassable cell) and ``float64`` minutes (``inf`` for none).
    """
    passable = np.isfinite(friction.pace_min_per_m)
    k = network.first_foot
    road_x, road_y = network.x[:k], network.y[:k]
    cell = snap_to_passable(road_x, road_y, grid, passable)
    minutes = connector_minutes(road_x, road_y, cell, grid, friction)
    feet = network.feet
    foot_min = walk_minutes(feet.walk_cells, feet.walk_m, friction.pace_min_per_m.ravel())
    foot_cell = np.where(np.isfinite(foot_min), feet.cell, -1)
    return np.concatenate([cell, foot_cell]), np.concatenate([minutes, foot_min])


def connector_minutes(
    x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: AnalysisGrid, friction: Friction
) -> np.ndarray:
    """Minutes to walk between each point and the centre of its cell, at that cell's pace.

    Parameters
    ----------
    x, y
        Point coordinates in the grid CRS.
    cell
        ``int64`` flat cell of each point, ``-1`` for none.
    grid
        The analysis grid.
    friction
        Its walking friction.

    Returns
    -------
    numpy.ndarray
        :func:`reach.model.snap.connector_metres` times the cell's pace; ``inf`` where the
        cell is ``-1``.
    """
    return connector_pace_minutes(
        connector_metres(x, y, cell, grid), cell, friction.pace_min_per_m.ravel()
    )


def connector_pace_minutes(
    metres: np.ndarray, cell: np.ndarray, pace_min_per_m: np.ndarray
) -> np.ndarray:
    """Connector minutes from connector metres: each node's metres times its cell's pace.

    Parameters
    ----------
    metres
        ``float64`` connector length per node (:func:`reach.model.snap.connector_metres`).
    cell
        ``int64`` the cell of each node in ``pace_min_per_m``, ``-1`` for none.
    pace_min_per_m
        ``float64`` flat walking pace of the cells.

    Returns
    -------
    numpy.ndarray
        ``float64`` minutes per node; ``inf`` where the cell is ``-1``.
    """
    out = np.full(len(metres), np.inf)
    ok = cell >= 0
    out[ok] = metres[ok] * pace_min_per_m[cell[ok]]
    return out


def facility_seeds(
    x: np.ndarray,
    y: np.ndarray,
    cell: np.ndarray,
    network: Network | None,
    grid: AnalysisGrid,
    *,
    pace_min_per_m: np.ndarray | Callable[[np.ndarray], np.ndarray],
) -> FacilitySeeds:
    """Where a search from points (facilities) starts, and at what times.

    Each facility stands at its point, not at its cell's centre: the cells of its 3×3 block
    start at the straight walk from their centres to it (:func:`reach.model.joins.cell_joins`),
    and the tails of the road edges passing near it at the walk to where the edge passes
    nearest plus the minutes along the edge (:func:`reach.model.joins.point_joins`). Walks
    cross cells at each one's pace; one impassable cell on the way rules a walk out.

    Parameters
    ----------
    x, y
        The points in the grid CRS.
    cell
        ``int64`` each point's (snapped) cell, ``-1`` off the grid (no seeds).
    network
        The mode's network, or ``None`` (walking only: cell seeds alone).
    grid
        The analysis grid.
    pace_min_per_m
        The walking pace of the grid's cells (flat or (rows, cols), ``inf`` impassable), or a
        function giving the pace of the flat cells it is passed: only the cells the walks
        cross are asked for, once (a partitioned run reads them from the files).

    Returns
    -------
    FacilitySeeds
        Cell and node seeds numbered by point, the fastest kept per (point, vertex).
    """
    point, cells, walk_cells, walk_m = cell_joins(x, y, cell, grid)
    roads = None
    if network is not None and network.n_edges > 0:
        roads = point_joins(
            x, y, cell, node_x=network.x, node_y=network.y, src=network.src, dst=network.dst,
            time_min=network.time_min, is_ferry=network.is_ferry, grid=grid,
        )  # fmt: skip
    if callable(pace_min_per_m):
        crossed = [walk_cells] if roads is None else [walk_cells, roads.walk_cells]
        needed = np.unique(np.concatenate([c.ravel() for c in crossed]))
        needed = needed[needed >= 0]
        pace = np.asarray(pace_min_per_m(needed), dtype=np.float64)

        def local(c: np.ndarray) -> np.ndarray:  # the walks' cells in ``needed``'s numbering
            return np.where(c >= 0, np.searchsorted(needed, np.maximum(c, 0)), c)

    else:
        pace = np.ravel(pace_min_per_m)

        def local(c: np.ndarray) -> np.ndarray:
            return c

    cell_seeds = fastest(point, cells, walk_minutes(local(walk_cells), walk_m, pace))
    if roads is None:
        return FacilitySeeds(cells=cell_seeds, nodes=Seeds.empty())
    minutes = walk_minutes(local(roads.walk_cells), roads.walk_m, pace) + roads.along_min
    return FacilitySeeds(cells=cell_seeds, nodes=fastest(roads.point, roads.node, minutes))
