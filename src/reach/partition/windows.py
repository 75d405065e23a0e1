"""One partition's search on its window of the grid: what a worker receives, runs and returns.

A window is a rectangle of the analysis grid around the partition's **core** (the cells and
network nodes whose results the partition owns). Its search graph is the whole-region graph
restricted to the window — the same walking moves, connectors and network edges with the same
costs — plus **portal rows** appended below the window's cells, impassable, one cell per portal:

* a *seed portal* lets the coordinator start a network node at a given time and catchment: the
  node gets a zero-cost edge to a portal node standing in the portal cell, and the portal cell
  is seeded (the engine only seeds cells);
* an *export portal* shows a core node's time and catchment in a cell (a shadow node with a
  zero-cost edge into the node, standing in the portal cell), because the engine reports
  catchments per cell only.

Adding ``0.0`` leaves a time unchanged, so portals never alter a time. A partition whose window
holds every path within the time limit (a whole island, or a halo as wide as the fastest path
can go) is exact after one search. Otherwise partitions **exchange** values: each round, every
cell next to the core (within two cells: the knight's move) and every node one edge out of the
core is seeded with its owner's latest time, and the search continues from its previous result
(``combined_search(start=...)``, only what improves is visited). When no value changes the
times are the least fixed point of the whole graph's equations, i.e. the whole-region search's.

The cell status given to the engine is "no data" everywhere: reasons are decided by the
coordinator from the whole region's components, so the engine's own route check is skipped.
Connectors are the whole-region graph's: the coordinator measures each node's connector
(:func:`reach.model.snap.connector_metres`) and the window multiplies it by its cell's pace
(:func:`reach.model.assemble.connector_pace_minutes`), as :func:`reach.model.assemble.search_graph`
does.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from reach.codes import REASON_NO_DATA, STATUS_NO_DATA
from reach.engine.combined import SearchResult, combined_search
from reach.model.assemble import SearchGraph, connector_pace_minutes, moves_for
from reach.model.grid import Friction, Rect
from reach.model.joins import walk_minutes
from reach.partition.friction import FileWindow, FrictionPayload

__all__ = [
    "RING_CELLS",
    "CoreResult",
    "Exports",
    "ModeWindow",
    "Seeds",
    "ServiceWindow",
    "WindowState",
    "WindowStats",
    "WindowTask",
    "continue_window",
    "finish_window",
    "start_window",
]


#: Cells around a core that exchange values: a knight's move, the farthest a walking move reaches.
RING_CELLS = 2


@dataclass(frozen=True, eq=False)
class ModeWindow:
    """A mode's network inside one window, numbered locally.

    Local nodes are: the window's nodes (sorted by global id), then ghost nodes (outside the
    window, one edge out of the core), then seed-portal nodes, then export shadows.

    Attributes
    ----------
    mode
        The travel mode.
    node_cell
        ``int64``: each local node's window cell (portal cells for portal nodes), ``-1`` none.
    connector_m
        ``float64``: metres from each window node to its cell's centre (``inf`` for none;
        portal nodes are joined at no cost).
    foot_nodes, foot_cells, foot_m
        The window's feet (:mod:`reach.model.joins`): their local numbers, the window cells
        their walks cross (``-1`` unused, ``-2`` outside the window: no join here) and the
        metres in each.
    rev_indptr, rev_src, rev_cost_min
        The edges into each local node (reversed CSR), local numbering.
    core_nodes, core_node_ids
        Local and global numbers of the core's nodes.
    seed_node_ids, seed_portals
        Global numbers of the nodes that can be seeded, and the cell of each one's portal.
    export_node_ids, export_portals
        Global numbers of the core nodes other partitions need, and their shadows' cells.
    """

    mode: str
    node_cell: np.ndarray
    connector_m: np.ndarray
    rev_indptr: np.ndarray
    rev_src: np.ndarray
    rev_cost_min: np.ndarray
    core_nodes: np.ndarray
    core_node_ids: np.ndarray
    seed_node_ids: np.ndarray
    seed_portals: np.ndarray
    export_node_ids: np.ndarray
    export_portals: np.ndarray
    foot_nodes: np.ndarray
    foot_cells: np.ndarray
    foot_m: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Local nodes, portals included."""
        return len(self.node_cell)


@dataclass(frozen=True, eq=False)
class ServiceWindow:
    """A service's facilities inside one window.

    Attributes
    ----------
    name, mode
        The service and its travel mode.
    seed_cells
        ``int64``: window cells the facilities' searches start at (the cells around each).
    seed_facility
        ``int32``: their rows in the service's facility table (the catchment ids).
    seed_time_min
        ``float64``: the minutes from each seed cell to its facility
        (:func:`reach.model.assemble.facility_seeds`).
    seed_nodes, seed_node_time_min, seed_node_facility
        Where facilities join the roads: local nodes of the window, their minutes to the
        facility, and its row.
    """

    name: str
    mode: str
    seed_cells: np.ndarray
    seed_facility: np.ndarray
    seed_time_min: np.ndarray
    seed_nodes: np.ndarray
    seed_node_time_min: np.ndarray
    seed_node_facility: np.ndarray


@dataclass(frozen=True, eq=False)
class WindowTask:
    """Everything a worker needs to search one partition, except the friction.

    Attributes
    ----------
    index
        The partition's number.
    rect
        The window on the grid, ``(row0, row1, col0, col1)``.
    grid_cols
        Columns of the whole grid (to number cells globally).
    portal_rows
        Rows of portal cells appended below the window.
    core_bits
        The core cells of the window, packed (:func:`reach.partition.friction.pack_mask`).
    dx_m, dy_m
        Cell widths of the window's rows and the cell height, in metres (the whole grid's).
    neighbours
        8 or 16 moves.
    max_time_min
        The time limit.
    modes
        The networks by mode.
    services
        The services' facilities.
    ring_cells, ring_ids
        Window and global numbers of the cells next to the core that other partitions own.
    export_cells, export_ids
        Window and global numbers of the core cells other partitions need.
    exchange
        Whether the partition takes part in exchange rounds.
    """

    index: int
    rect: Rect
    grid_cols: int
    portal_rows: int
    core_bits: np.ndarray
    dx_m: np.ndarray
    dy_m: float
    neighbours: int
    max_time_min: float
    modes: dict[str, ModeWindow]
    services: tuple[ServiceWindow, ...]
    ring_cells: np.ndarray
    ring_ids: np.ndarray
    export_cells: np.ndarray
    export_ids: np.ndarray
    exchange: bool

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the window (portal rows excluded)."""
        r0, r1, c0, c1 = self.rect
        return r1 - r0, c1 - c0

    def global_cells(self, local: np.ndarray) -> np.ndarray:
        """Global flat numbers of window cells.

        Parameters
        ----------
        local
            Flat (row-major) numbers of cells of the window, portal rows excluded.

        Returns
        -------
        numpy.ndarray
            ``int64``: their flat numbers on the whole grid (``row × grid_cols + col``).
        """
        r0, _, c0, _ = self.rect
        rows, cols = np.divmod(np.asarray(local, dtype=np.int64), self.shape[1])
        return (rows + r0) * self.grid_cols + (cols + c0)


@dataclass(eq=False)
class WindowStats:
    """What one partition's work cost on its worker.

    Attributes
    ----------
    seconds
        Wall seconds by step (``friction``, ``graph``, ``search``, ``exchange``, ``results``).
    peak_rss_bytes
        The largest resident memory of the worker process seen during this partition's tasks
        (Linux: the process's peak, reset at the start of each task).
    rounds
        Searches run (1 + exchange rounds that had seeds for it).
    window_cells, core_cells
        Cells of the window and of the core.
    reached_cells
        Window cells reached within the limit, summed over services, after the last round.
    pid
        The worker process that ran it.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: int = 0
    rounds: int = 0
    window_cells: int = 0
    core_cells: int = 0
    reached_cells: int = 0
    pid: int = 0

    def add(self, step: str, seconds: float) -> None:
        """Add time to a step.

        Parameters
        ----------
        step
            The step's name, a key of :attr:`seconds` (``friction``, ``graph``, ``search``,
            ``exchange`` or ``results``); a new one starts at 0.
        seconds
            Wall seconds to add.
        """
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@dataclass(frozen=True, eq=False)
class Seeds:
    """Times handed to a window: cells (window or portal numbers), times and catchments."""

    cells: np.ndarray
    time_min: np.ndarray
    facility: np.ndarray


@dataclass(frozen=True, eq=False)
class Exports:
    """Values of a window's exported cells and nodes that changed since it last sent them.

    Attributes
    ----------
    index
        The partition.
    cells, nodes
        Per service: ``(global ids, times, catchments)``.
    stats
        The partition's stats so far.
    """

    index: int
    cells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    nodes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    stats: WindowStats


@dataclass(eq=False)
class WindowState:
    """A partition's search state, kept on its worker between exchange rounds."""

    task: WindowTask
    graphs: dict[str, SearchGraph]
    results: dict[str, SearchResult]
    sent_cells: dict[str, np.ndarray]
    sent_nodes: dict[str, np.ndarray]
    stats: WindowStats


def _graphs(task: WindowTask, friction: Friction) -> dict[str, SearchGraph]:
    rows, cols = task.shape
    n_window = rows * cols
    total_rows = rows + task.portal_rows
    if task.portal_rows:
        pace = np.full(total_rows * cols, np.inf)
        pace[:n_window] = friction.pace_min_per_m.ravel()
    else:
        pace = np.ascontiguousarray(friction.pace_min_per_m, dtype=np.float64).ravel()
    if friction.elevation_m is None:
        elevation = np.empty(0)
    elif task.portal_rows:
        elevation = np.full(total_rows * cols, np.nan)
        elevation[:n_window] = friction.elevation_m.ravel()
    else:
        elevation = np.ascontiguousarray(friction.elevation_m, dtype=np.float64).ravel()
    dx = task.dx_m
    if task.portal_rows:
        dx = np.concatenate([dx, np.full(task.portal_rows, dx[-1])])
    # one read-only byte for every cell: the engine only compares the status elementwise
    status = np.broadcast_to(np.uint8(STATUS_NO_DATA), (total_rows * cols,))
    moves = moves_for(task.neighbours)
    graphs: dict[str, SearchGraph] = {}
    for mode, mw in task.modes.items():
        cell = mw.node_cell
        # the window's own nodes walk to their cells; portal nodes are joined at no cost
        real = np.where(cell < n_window, cell, -1)
        connector = connector_pace_minutes(mw.connector_m, real, pace)
        connector[mw.foot_nodes] = walk_minutes(mw.foot_cells, mw.foot_m, pace)
        connector[cell >= n_window] = 0.0
        cell = np.where(np.isfinite(connector), cell, -1)
        graphs[mode] = SearchGraph(
            rows=total_rows,
            cols=cols,
            pace_min_per_m=pace,
            elevation_m=elevation,
            status=status,
            dx_m=dx,
            dy_m=task.dy_m,
            moves=moves,
            rev_indptr=mw.rev_indptr,
            rev_src=mw.rev_src,
            rev_cost_min=mw.rev_cost_min,
            node_cell=cell,
            connector_min=connector,
        )
    return graphs


def _exports(state: WindowState) -> Exports:
    task = state.task
    cells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    nodes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if task.exchange:
        for svc in task.services:
            res = state.results[svc.name]
            mw = task.modes[svc.mode]
            for where, ids, sent, out in (
                (task.export_cells, task.export_ids, state.sent_cells, cells),
                (mw.export_portals, mw.export_node_ids, state.sent_nodes, nodes),
            ):
                t = res.time_min[where]
                changed = t < sent[svc.name]
                sent[svc.name] = np.minimum(sent[svc.name], t)
                out[svc.name] = (ids[changed], t[changed], res.facility[where][changed])
    state.stats.peak_rss_bytes = max(state.stats.peak_rss_bytes, _peak_rss_bytes())
    return Exports(index=task.index, cells=cells, nodes=nodes, stats=state.stats)


def _lean(result: SearchResult) -> SearchResult:
    """The result without its per-cell reasons (the coordinator decides them), to keep less."""
    unread = np.broadcast_to(np.uint8(REASON_NO_DATA), result.reason.shape)
    return replace(result, reason=unread)


def start_window(task: WindowTask, payload: FrictionPayload) -> tuple[WindowState, Exports]:
    """Build the window's graphs and search every service from its facilities.

    Parameters
    ----------
    task
        The partition.
    payload
        Its friction (a slice of a loaded region's), or where to read it from.

    Returns
    -------
    tuple
        The state to keep on the worker, and the values the other partitions need.
    """
    _reset_peak()
    stats = WindowStats(pid=os.getpid())
    t0 = time.perf_counter()
    friction = payload.build(task.rect) if isinstance(payload, FileWindow) else payload
    t1 = time.perf_counter()
    stats.add("friction", t1 - t0)
    graphs = _graphs(task, friction)
    del friction
    t2 = time.perf_counter()
    stats.add("graph", t2 - t1)
    results: dict[str, SearchResult] = {}
    for svc in task.services:
        results[svc.name] = _lean(
            combined_search(
                graphs[svc.mode],
                svc.seed_cells,
                seed_facility=svc.seed_facility,
                seed_time_min=svc.seed_time_min,
                max_time_min=task.max_time_min,
                node_seeds=(svc.seed_nodes, svc.seed_node_time_min, svc.seed_node_facility)
                if len(svc.seed_nodes)
                else None,
            )
        )
    stats.add("search", time.perf_counter() - t2)
    rows, cols = task.shape
    stats.rounds = 1
    stats.window_cells = rows * cols
    stats.core_cells = int(np.unpackbits(task.core_bits, count=rows * cols).sum())
    state = WindowState(
        task=task,
        graphs=graphs,
        results=results,
        sent_cells={s.name: np.full(len(task.export_ids), np.inf) for s in task.services},
        sent_nodes={
            s.name: np.full(len(task.modes[s.mode].export_node_ids), np.inf) for s in task.services
        },
        stats=stats,
    )
    return state, _exports(state)


def continue_window(state: WindowState, seeds: Mapping[str, Seeds]) -> tuple[WindowState, Exports]:
    """Continue each service's search from new times at the window's edge (one round).

    Parameters
    ----------
    state
        The partition's state, from :func:`start_window` or the last round.
    seeds
        Per service, the new times and catchments at the window's edge.

    Returns
    -------
    tuple
        The state to keep, and the exported values that changed.
    """
    _reset_peak()
    t0 = time.perf_counter()
    task = state.task
    for svc in task.services:
        s = seeds.get(svc.name)
        if s is None or len(s.cells) == 0:
            continue
        state.results[svc.name] = _lean(
            combined_search(
                state.graphs[svc.mode],
                s.cells,
                seed_facility=s.facility,
                seed_time_min=s.time_min,
                max_time_min=task.max_time_min,
                start=state.results[svc.name],
            )
        )
    state.stats.rounds += 1
    state.stats.add("exchange", time.perf_counter() - t0)
    return state, _exports(state)


@dataclass(frozen=True, eq=False)
class CoreResult:
    """A partition's final results for its core.

    Attributes
    ----------
    index
        The partition.
    cells
        Per service: ``(global cell ids, times, catchments)`` of the core cells reached.
    nodes
        Per service: ``(global node ids, times)`` of the core nodes reached.
    stats
        What the partition cost.
    """

    index: int
    cells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    nodes: dict[str, tuple[np.ndarray, np.ndarray]]
    stats: WindowStats


def finish_window(state: WindowState) -> CoreResult:
    """The core's results (only reached cells and nodes are sent).

    Parameters
    ----------
    state
        The partition's state after the last round.

    Returns
    -------
    CoreResult
        The core's reached cells and nodes, and what the partition cost.
    """
    t0 = time.perf_counter()
    task = state.task
    rows, cols = task.shape
    core = np.flatnonzero(np.unpackbits(task.core_bits, count=rows * cols))
    cells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    nodes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    reached_total = 0
    for svc in task.services:
        res = state.results[svc.name]
        reached_total += int(np.isfinite(res.time_min[: rows * cols]).sum())
        t = res.time_min[core]
        hit = np.isfinite(t)
        cells[svc.name] = (task.global_cells(core[hit]), t[hit], res.facility[core][hit])
        mw = task.modes[svc.mode]
        nt = res.node_time_min[mw.core_nodes]
        nhit = np.isfinite(nt)
        nodes[svc.name] = (mw.core_node_ids[nhit], nt[nhit])
    state.stats.reached_cells = reached_total
    state.stats.add("results", time.perf_counter() - t0)
    state.stats.peak_rss_bytes = max(state.stats.peak_rss_bytes, _peak_rss_bytes())
    return CoreResult(index=task.index, cells=cells, nodes=nodes, stats=state.stats)
