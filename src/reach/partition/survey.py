"""What a partitioned run needs to know about the whole region before it splits it.

Three things, all cheap next to the search itself:

* **components** — the passable cells joined 4-wise (a diagonal or knight move is only allowed
  when the cells it cuts across are passable, so 4-connectivity is exactly the walking
  connectivity of the engine), as an ``int32`` label per cell (:func:`survey_friction` for a
  loaded friction, :func:`survey_tile` + :func:`merge_survey_tiles` tile by tile);
* **islands** — the components linked by roads and ferries (every mode the services use) into
  groups no path leaves; edges longer than the time limit cannot be on a path within it and do
  not link (:func:`link_components`). The same graph, directed and per service, says which
  components have *any* route to a facility, which is how an unreached cell is told "beyond the
  time limit" from "no network link" without searching the whole region;
* **how far a path within the limit can go** — the largest rows and columns any edge of the
  combined graph covers per minute (:func:`reach_rates`), so that a window with a halo of
  ``max_travel_time_min × rate`` cells (plus the node snapping radius) around its core holds
  every path within the limit that starts in the core (:func:`halo_for`).

Pure functions on arrays; the only inputs read are the ones handed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from reach.model.grid import AnalysisGrid, Friction
from reach.model.joins import fractional_rc
from reach.model.network import Network
from reach.model.snap import SNAP_RADIUS_CELLS, connector_metres, snap_to_passable

__all__ = [
    "FOUR_NEIGHBOURS",
    "HALO_MARGIN_CELLS",
    "TOBLER_MIN_FACTOR",
    "Links",
    "ModeNetwork",
    "Survey",
    "SurveyTile",
    "halo_for",
    "link_components",
    "merge_survey_tiles",
    "mode_network",
    "reach_rates",
    "survey_friction",
    "survey_tile",
]

#: 4-connectivity: the walking connectivity of the engine's moves (see the module docstring).
FOUR_NEIGHBOURS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
#: The smallest value of Tobler's factor ``exp(3.5 (|s + 0.05| - 0.05))`` (at a 5 % descent).
TOBLER_MIN_FACTOR = math.exp(-3.5 * 0.05)
#: Cells added to every halo: the snapping radius, a node's offset inside its cell, rounding.
HALO_MARGIN_CELLS = SNAP_RADIUS_CELLS + 2


@dataclass(frozen=True, eq=False)
class Survey:
    """The whole grid's components and friction summary.

    Attributes
    ----------
    labels
        ``int32`` (rows, cols): component number ``1..n_components`` of each passable cell,
        0 where impassable.
    status
        ``uint8`` (rows, cols): the friction's ``STATUS_*`` code of each cell.
    n_components
        Number of components.
    min_pace_min_per_m
        The fastest walking pace on the grid (``inf`` when nothing is passable).
    slope
        Whether elevations are given (Tobler's factor can then speed a descent up).
    populated_water_cells
        Cells the land cover calls water that were made land because people live there.
    """

    labels: np.ndarray
    status: np.ndarray
    n_components: int
    min_pace_min_per_m: float
    slope: bool
    populated_water_cells: int

    @property
    def passable(self) -> np.ndarray:
        """``bool`` (rows, cols): cells one can walk in."""
        return np.asarray(self.labels > 0)


def _min_pace(pace: np.ndarray) -> float:
    finite = pace[np.isfinite(pace)]
    return float(finite.min()) if finite.size else math.inf


def survey_friction(friction: Friction) -> Survey:
    """Survey a friction loaded whole (a :class:`reach.model.region.Region`'s).

    Parameters
    ----------
    friction
        The whole grid's friction.

    Returns
    -------
    Survey
        Its components and summary.
    """
    passable = np.isfinite(friction.pace_min_per_m)
    labels, n = ndimage.label(passable, structure=FOUR_NEIGHBOURS)
    return Survey(
        labels=np.asarray(labels, dtype=np.int32),
        status=friction.status,
        n_components=int(n),
        min_pace_min_per_m=_min_pace(friction.pace_min_per_m),
        slope=friction.elevation_m is not None,
        populated_water_cells=friction.populated_water_cells,
    )


@dataclass(frozen=True, eq=False)
class SurveyTile:
    """One tile's components (numbered ``1..n_components`` within the tile) and summary.

    ``row0`` / ``col0`` place the tile on the grid; ``labels`` and ``status`` are its cells.
    """

    row0: int
    col0: int
    labels: np.ndarray
    status: np.ndarray
    n_components: int
    min_pace_min_per_m: float
    slope: bool
    populated_water_cells: int


def survey_tile(row0: int, col0: int, friction: Friction) -> SurveyTile:
    """Survey the friction of one tile (computed for exactly the tile's cells).

    Parameters
    ----------
    row0, col0
        The tile's first row and column on the grid.
    friction
        The tile's friction.

    Returns
    -------
    SurveyTile
        Its components (numbered within the tile) and summary.
    """
    passable = np.isfinite(friction.pace_min_per_m)
    labels, n = ndimage.label(passable, structure=FOUR_NEIGHBOURS)
    return SurveyTile(
        row0=row0,
        col0=col0,
        labels=np.asarray(labels, dtype=np.int32),
        status=friction.status,
        n_components=int(n),
        min_pace_min_per_m=_min_pace(friction.pace_min_per_m),
        slope=friction.elevation_m is not None,
        populated_water_cells=friction.populated_water_cells,
    )


def merge_survey_tiles(tiles: Sequence[SurveyTile], shape: tuple[int, int]) -> Survey:
    """Join tiles that cover the grid without overlap into one survey.

    Components touching across a seam (two passable cells side by side, one in each tile) are
    merged; the final numbers follow the order of the tiles and of the labels within them.

    Parameters
    ----------
    tiles
        The tiles' surveys.
    shape
        ``(rows, cols)`` of the grid.

    Returns
    -------
    Survey
        The whole grid's components and summary.
    """
    offsets = np.cumsum([0] + [t.n_components for t in tiles])
    labels = np.zeros(shape, dtype=np.int32)
    status = np.zeros(shape, dtype=np.uint8)
    for tile, off in zip(tiles, offsets[:-1], strict=False):
        r1 = tile.row0 + tile.labels.shape[0]
        c1 = tile.col0 + tile.labels.shape[1]
        window = labels[tile.row0 : r1, tile.col0 : c1]
        window[...] = np.where(tile.labels > 0, tile.labels + off, 0)
        status[tile.row0 : r1, tile.col0 : c1] = tile.status
    n_prov = int(offsets[-1])
    # seams: every pair of side-by-side passable cells with different provisional labels
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    join = (a > 0) & (b > 0) & (a != b)
    a, b = a[join], b[join]
    graph = sparse.coo_matrix(
        (np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_prov + 1, n_prov + 1)
    ).tocsr()
    _, comp = csgraph.connected_components(graph, directed=False)
    # renumber 1..n in order of first appearance, keeping 0 for impassable
    roots = comp[1:]
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    lookup = np.zeros(n_prov + 1, dtype=np.int32)
    lookup[1:] = order[inverse] + 1
    merged = lookup[labels]
    return Survey(
        labels=merged,
        status=status,
        n_components=len(first),
        min_pace_min_per_m=min((t.min_pace_min_per_m for t in tiles), default=math.inf),
        slope=any(t.slope for t in tiles),
        populated_water_cells=sum(t.populated_water_cells for t in tiles),
    )


@dataclass(frozen=True, eq=False)
class ModeNetwork:
    """A mode's network placed on the grid, as the whole-region search would place it.

    Attributes
    ----------
    mode
        The travel mode.
    network
        The network (:func:`reach.model.network.build_network`).
    node_cell
        ``int64`` (n_nodes,): the cell each node joins (``snap_to_passable``), ``-1`` for none.
    connector_m
        ``float64`` (n_nodes,): metres between each node and its cell's centre, the factor of
        the engine's connector minutes before the cell's pace (``inf`` where no cell); for a
        foot (:mod:`reach.model.joins`), the length of its walk, which a window prices cell by
        cell from ``network.feet``.
    anchor
        ``int64`` (n_nodes,): the node's cell, or for a node with none, the grid cell nearest
        its position (a foot: the cell it joins); partitions place nodes by it.
    """

    mode: str
    network: Network
    node_cell: np.ndarray
    connector_m: np.ndarray
    anchor: np.ndarray


def mode_network(network: Network, grid: AnalysisGrid, passable: np.ndarray) -> ModeNetwork:
    """Place a mode's network on the grid (node cells, connector lengths, anchors).

    Parameters
    ----------
    network
        The mode's network.
    grid
        The analysis grid.
    passable
        ``bool`` (rows, cols): cells one can walk in.

    Returns
    -------
    ModeNetwork
        Node cells as the whole-region search snaps them, and connector metres
        (:func:`reach.model.snap.connector_metres`, the same as the whole-region graph's).
    """
    k = network.first_foot
    road_x, road_y = network.x[:k], network.y[:k]
    road_cell = snap_to_passable(road_x, road_y, grid, passable)
    row_f, col_f = fractional_rc(grid, road_x, road_y)
    with np.errstate(invalid="ignore"):
        r = np.clip(np.floor(np.nan_to_num(row_f)), 0, grid.rows - 1).astype(np.int64)
        c = np.clip(np.floor(np.nan_to_num(col_f)), 0, grid.cols - 1).astype(np.int64)
    feet = network.feet
    # a foot joins its cell when every cell its walk crosses is passable (as the whole-region
    # graph decides it from the paces), and is placed by that cell
    flat = passable.ravel()
    crossed = feet.walk_cells
    walk_ok = np.where(crossed >= 0, flat[np.maximum(crossed, 0)], crossed == -1).all(axis=1)
    node_cell = np.concatenate([road_cell, np.where(walk_ok, feet.cell, -1)])
    anchor = np.concatenate([np.where(road_cell >= 0, road_cell, r * grid.cols + c), feet.cell])
    connector_m = np.concatenate(
        [connector_metres(road_x, road_y, road_cell, grid), feet.walk_m.sum(axis=1)]
    )
    return ModeNetwork(
        mode=network.mode,
        network=network,
        node_cell=node_cell,
        connector_m=connector_m,
        anchor=anchor.astype(np.int64),
    )


def reach_rates(
    grid: AnalysisGrid,
    *,
    min_pace_min_per_m: float,
    slope: bool,
    networks: Sequence[ModeNetwork],
) -> tuple[float, float]:
    """The most rows and columns any step of a path can cover per minute.

    A walking move of ``dr`` rows costs at least ``dr × dy × pace_min × τ`` minutes (``τ`` is
    Tobler's smallest factor when elevations are given), ``dc`` columns at least
    ``dc × min(dx) × pace_min × τ``; a connector is a walk at a cell's pace, so no faster; a
    network edge covers the rows and columns between its end nodes in its time (a ferry's wait
    included). The rates are the largest of these.

    Parameters
    ----------
    grid
        The analysis grid.
    min_pace_min_per_m
        The fastest walking pace on the grid.
    slope
        Whether elevations are given.
    networks
        The placed networks of the modes searched.

    Returns
    -------
    tuple of float
        ``(rows_per_min, cols_per_min)``; ``inf`` when some edge takes no time.
    """
    tau = TOBLER_MIN_FACTOR if slope else 1.0
    if math.isfinite(min_pace_min_per_m) and min_pace_min_per_m > 0:
        rows_rate = 1.0 / (grid.dy_m * min_pace_min_per_m * tau)
        cols_rate = 1.0 / (float(grid.dx_m.min()) * min_pace_min_per_m * tau)
    elif min_pace_min_per_m <= 0:
        return math.inf, math.inf
    else:
        rows_rate = cols_rate = 0.0
    for mn in networks:
        net = mn.network
        if net.n_edges == 0:
            continue
        row_f, col_f = fractional_rc(grid, net.x, net.y)
        for frac, is_rows in ((row_f, True), (col_f, False)):
            span = np.abs(frac[net.src] - frac[net.dst])
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(span > 0, span / net.time_min, 0.0)
            top = float(np.nanmax(rate)) if rate.size else 0.0
            if is_rows:
                rows_rate = max(rows_rate, top)
            else:
                cols_rate = max(cols_rate, top)
    return rows_rate, cols_rate


def halo_for(max_time_min: float, rates: tuple[float, float]) -> tuple[float, float]:
    """Rows and columns around a core that hold every path within ``max_time_min`` from it.

    Parameters
    ----------
    max_time_min
        The time limit.
    rates
        ``(rows_per_min, cols_per_min)`` (:func:`reach_rates`).

    Returns
    -------
    tuple of float
        ``ceil(max_time_min × rate) + HALO_MARGIN_CELLS`` per axis (``inf`` when unbounded).
    """
    out = []
    for rate in rates:
        span = max_time_min * rate
        out.append(math.inf if not math.isfinite(span) else math.ceil(span) + HALO_MARGIN_CELLS)
    return out[0], out[1]


@dataclass(frozen=True, eq=False)
class Links:
    """How the components hang together through the networks.

    Attributes
    ----------
    island_of_component
        ``int64`` (n_components + 1,): the island (linked group) of each component; entry 0
        (impassable) is ``-1``. Islands are numbered ``0..n_islands-1``.
    island_of_node
        Per mode, ``int64`` (n_nodes,): the island of each node (its own when it touches no
        cell and no node that does).
    n_islands
        Number of islands.
    routes
        Per service, ``bool`` (n_components + 1,): components with some route, of any length,
        to one of the service's facilities.
    """

    island_of_component: np.ndarray
    island_of_node: dict[str, np.ndarray]
    n_islands: int
    routes: dict[str, np.ndarray]


def _reverse_reachable(
    n_vertices: int, src: np.ndarray, dst: np.ndarray, seeds: np.ndarray
) -> np.ndarray:
    """Vertices with a directed path to some seed (breadth-first on the reversed edges)."""
    seen = np.zeros(n_vertices, dtype=bool)
    if seeds.size == 0:
        return seen
    root = n_vertices
    rows = np.concatenate([dst, np.full(len(seeds), root)])
    cols = np.concatenate([src, seeds])
    graph = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_vertices + 1, n_vertices + 1)
    )
    order = csgraph.breadth_first_order(graph, root, directed=True, return_predecessors=False)
    seen[order[order < n_vertices]] = True
    return seen


def link_components(
    labels: np.ndarray,
    n_components: int,
    networks: Mapping[str, ModeNetwork],
    *,
    max_time_min: float,
    facility_cells: Mapping[str, tuple[str, np.ndarray]],
) -> Links:
    """Group the components into islands, and find the components with a route to a facility.

    Parameters
    ----------
    labels
        Component number per cell (0 impassable), flat or 2-D.
    n_components
        Number of components.
    networks
        The placed networks by mode.
    max_time_min
        The time limit: a network edge that takes longer cannot be on a path within it and does
        not link islands (it still counts for routes of any length).
    facility_cells
        Per service: its mode and the cells of its facilities (``-1`` off the grid).

    Returns
    -------
    Links
        Islands of components and nodes, and routes per service.
    """
    flat = np.asarray(labels).ravel()
    base = n_components + 1
    offsets: dict[str, int] = {}
    total = base
    for mode, mn in networks.items():
        offsets[mode] = total
        total += mn.network.n_nodes
    und_a: list[np.ndarray] = []
    und_b: list[np.ndarray] = []
    directed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for mode, mn in networks.items():
        off = offsets[mode]
        net = mn.network
        has = np.flatnonzero(mn.node_cell >= 0)
        comp = flat[mn.node_cell[has]].astype(np.int64)
        node_v = has + off
        src_v = net.src + off
        dst_v = net.dst + off
        short = net.time_min <= max_time_min
        und_a += [node_v, src_v[short]]
        und_b += [comp, dst_v[short]]
        # directed, for routes: node → cell, cell → node, and the network edges
        directed[mode] = (
            np.concatenate([node_v, comp, src_v]),
            np.concatenate([comp, node_v, dst_v]),
        )
    a = np.concatenate(und_a) if und_a else np.empty(0, np.int64)
    b = np.concatenate(und_b) if und_b else np.empty(0, np.int64)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(total, total))
    _, comp_of = csgraph.connected_components(graph.tocsr(), directed=False)
    # islands numbered by first appearance among the components, then among the nodes
    _, first, inverse = np.unique(comp_of[1:], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    island = np.empty(total, dtype=np.int64)
    island[0] = -1
    island[1:] = rank[inverse]
    routes: dict[str, np.ndarray] = {}
    for service, (mode, cells) in facility_cells.items():
        on = cells[cells >= 0]
        seeds = np.unique(flat[on].astype(np.int64))
        seeds = seeds[seeds > 0]
        src, dst = directed.get(mode, (np.empty(0, np.int64), np.empty(0, np.int64)))
        seen = _reverse_reachable(total, src, dst, seeds)
        routes[service] = seen[:base]
    return Links(
        island_of_component=island[:base],
        island_of_node={
            mode: island[offsets[mode] : offsets[mode] + mn.network.n_nodes]
            for mode, mn in networks.items()
        },
        n_islands=len(first),
        routes=routes,
    )
