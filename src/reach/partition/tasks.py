"""What each partition's worker is sent: its window task.

A task holds the window's cells and core, each mode's network cut to the window (the window's
nodes and ghosts, with portals for seeds and exports; see :mod:`reach.partition.windows`), the
facilities in the window, and for an exchanging partition the cells next to its core that
other partitions own (its **ring**) and the core cells and nodes other partitions need (its
**exports**). The coordinator sorts each mode's nodes and edges once, so that each task costs
only its own part of the networks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from reach.model.grid import Rect
from reach.partition.friction import pack_mask
from reach.partition.plan import Partition, PartitionPlan
from reach.partition.windows import RING_CELLS, ModeWindow, ServiceWindow, WindowTask

__all__ = ["build_tasks"]


def _local_cells(rect: Rect, flat: np.ndarray, grid_cols: int) -> np.ndarray:
    """Window numbers of global cells (``-1`` outside the window)."""
    r0, r1, c0, c1 = rect
    r, c = np.divmod(np.asarray(flat, dtype=np.int64), grid_cols)
    inside = (flat >= 0) & (r >= r0) & (r < r1) & (c >= c0) & (c < c1)
    return np.where(inside, (r - r0) * (c1 - c0) + (c - c0), -1)


@dataclass(eq=False)
class _Rings:
    """Cells next to each exchanging partition's core, and what each partition exports."""

    ring_local: dict[int, np.ndarray]
    ring_ids: dict[int, np.ndarray]
    export_ids: dict[int, np.ndarray]


def _rings(plan: PartitionPlan) -> _Rings:
    grid = plan.grid
    owner = plan.owner
    comp_island = plan.links.island_of_component
    labels = plan.survey.labels
    foot = np.ones((2 * RING_CELLS + 1, 2 * RING_CELLS + 1), dtype=bool)
    ring_local: dict[int, np.ndarray] = {}
    ring_ids: dict[int, np.ndarray] = {}
    pairs_id: list[np.ndarray] = []
    pairs_owner: list[np.ndarray] = []
    for p in plan.partitions:
        if not p.exchange:
            continue
        r0, r1, c0, c1 = p.rect
        ow = owner[r0:r1, c0:c1]
        core = ow == p.index
        isl = comp_island[labels[r0:r1, c0:c1]]
        cut = (ow >= 0) & plan.split_islands[np.maximum(isl, 0)]
        ring = ndimage.binary_dilation(core, structure=foot) & ~core & cut
        local = np.flatnonzero(ring.ravel())
        ids = _global_of(p.rect, local, grid.cols)
        ring_local[p.index] = local
        ring_ids[p.index] = ids
        pairs_id.append(ids)
        pairs_owner.append(ow.ravel()[local].astype(np.int64))
    export_ids: dict[int, np.ndarray] = {}
    if pairs_id:
        ids = np.concatenate(pairs_id)
        own = np.concatenate(pairs_owner)
        for q in np.unique(own):
            export_ids[int(q)] = np.unique(ids[own == q])
    return _Rings(ring_local=ring_local, ring_ids=ring_ids, export_ids=export_ids)


def _global_of(rect: Rect, local: np.ndarray, grid_cols: int) -> np.ndarray:
    r0, _, c0, c1 = rect
    r, c = np.divmod(np.asarray(local, dtype=np.int64), c1 - c0)
    return (r + r0) * grid_cols + (c + c0)


@dataclass(eq=False)
class _ModeIndex:
    """A mode's nodes and edges sorted once, so that each partition costs only its own part."""

    by_owner: np.ndarray  # node ids sorted by owner
    owner_starts: np.ndarray  # by_owner[owner_starts[k]:owner_starts[k + 1]]: owner k's nodes
    by_row: np.ndarray  # owned node ids sorted by anchor row
    rows_sorted: np.ndarray  # their anchor rows
    anchor_col: np.ndarray  # anchor column of every node
    cross: np.ndarray  # edges within the limit between nodes of two partitions
    cross_src_owner: np.ndarray
    cross_dst_owner: np.ndarray

    @classmethod
    def of(cls, plan: PartitionPlan, mode: str) -> _ModeIndex:
        mn = plan.networks[mode]
        net = mn.network
        own = plan.node_owner[mode]
        by_owner = np.argsort(own, kind="stable")
        starts = np.searchsorted(own[by_owner], np.arange(len(plan.partitions) + 1))
        rows, cols = np.divmod(mn.anchor, plan.grid.cols)
        owned = np.flatnonzero(own >= 0)
        by_row = owned[np.argsort(rows[owned], kind="stable")]
        so, do = own[net.src], own[net.dst]
        cross = np.flatnonzero(
            (net.time_min <= plan.scenario.grid.max_travel_time_min)
            & (so != do)
            & (so >= 0)
            & (do >= 0)
        )
        return cls(
            by_owner=by_owner,
            owner_starts=starts,
            by_row=by_row,
            rows_sorted=rows[by_row],
            anchor_col=cols,
            cross=cross,
            cross_src_owner=so[cross],
            cross_dst_owner=do[cross],
        )


def _in_edges(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Indices of the edges into ``nodes`` (edges sorted by their end, CSR offsets)."""
    first = indptr[nodes]
    counts = indptr[nodes + 1] - first
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return shift + np.arange(total, dtype=np.int64)


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in ``sorted_ids``, ``-1`` where absent."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def _mode_window(
    plan: PartitionPlan,
    part: Partition,
    mode: str,
    index: _ModeIndex,
    n_window: int,
    portal_base: int,
) -> tuple[ModeWindow, int, np.ndarray]:
    """A mode's network inside a partition's window, the portals it used, its window nodes."""
    mn = plan.networks[mode]
    net = mn.network
    k = part.index
    grid = plan.grid
    core_nodes = np.sort(index.by_owner[index.owner_starts[k] : index.owner_starts[k + 1]])
    if part.halo_rows or part.halo_cols:
        r0, r1, c0, c1 = part.rect
        a, b = np.searchsorted(index.rows_sorted, [r0, r1])
        near = index.by_row[a:b]
        col = index.anchor_col[near]
        window_nodes = np.union1d(core_nodes, near[(col >= c0) & (col < c1)])
    else:
        window_nodes = core_nodes
    if part.exchange:
        seed_ids = np.unique(net.dst[index.cross[index.cross_src_owner == k]])
        export_ids = np.unique(net.dst[index.cross[index.cross_dst_owner == k]])
    else:
        seed_ids = export_ids = np.empty(0, np.int64)
    ghosts = np.setdiff1d(seed_ids, window_nodes, assume_unique=True)
    n_w, n_g, n_s, n_e = len(window_nodes), len(ghosts), len(seed_ids), len(export_ids)
    n_local = n_w + n_g + n_s + n_e

    def local(ids: np.ndarray) -> np.ndarray:
        in_w = _lookup(window_nodes, ids)
        in_g = _lookup(ghosts, ids)
        return np.where(in_w >= 0, in_w, np.where(in_g >= 0, n_w + in_g, -1))

    node_cell = np.full(n_local, -1, dtype=np.int64)
    node_cell[:n_w] = _local_cells(part.rect, mn.node_cell[window_nodes], grid.cols)
    node_cell[n_w + n_g : n_w + n_g + n_s] = n_window + portal_base + np.arange(n_s)
    node_cell[n_w + n_g + n_s :] = n_window + portal_base + n_s + np.arange(n_e)
    connector = np.full(n_local, np.inf)
    connector[:n_w] = mn.connector_m[window_nodes]
    # the window's feet walk across cells the window prices; a cell outside it is marked -2
    is_foot = window_nodes >= net.first_foot
    crossed = net.feet.walk_cells[window_nodes[is_foot] - net.first_foot]
    local_crossed = _local_cells(part.rect, crossed.ravel(), grid.cols).reshape(crossed.shape)
    local_crossed = np.where(crossed == -1, -1, np.where(local_crossed >= 0, local_crossed, -2))
    # edges among window and ghost nodes (in the network's order), then the portals' edges
    edges = _in_edges(net.rev_indptr, np.concatenate([window_nodes, ghosts]))
    ls = local(net.src[edges])
    keep = ls >= 0
    edges, ls = edges[keep], ls[keep]
    ld = local(net.dst[edges])
    portal_nodes = n_w + n_g + np.arange(n_s)
    shadow_nodes = n_w + n_g + n_s + np.arange(n_e)
    src = np.concatenate([ls, local(seed_ids), shadow_nodes])
    dst = np.concatenate([ld, portal_nodes, local(export_ids)])
    cost = np.concatenate([net.time_min[edges], np.zeros(n_s + n_e)])
    order = np.argsort(dst, kind="stable")
    indptr = np.zeros(n_local + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n_local), out=indptr[1:])
    mw = ModeWindow(
        mode=mode,
        node_cell=node_cell,
        connector_m=connector,
        foot_nodes=np.flatnonzero(is_foot).astype(np.int64),
        foot_cells=local_crossed.astype(np.int64),
        foot_m=net.feet.walk_m[window_nodes[is_foot] - net.first_foot],
        rev_indptr=indptr,
        rev_src=src[order].astype(np.int64),
        rev_cost_min=cost[order].astype(np.float64),
        core_nodes=_lookup(window_nodes, core_nodes),
        core_node_ids=core_nodes.astype(np.int64),
        seed_node_ids=seed_ids.astype(np.int64),
        seed_portals=n_window + portal_base + np.arange(n_s, dtype=np.int64),
        export_node_ids=export_ids.astype(np.int64),
        export_portals=n_window + portal_base + n_s + np.arange(n_e, dtype=np.int64),
    )
    return mw, n_s + n_e, window_nodes


def _task(
    plan: PartitionPlan, part: Partition, rings: _Rings, index: Mapping[str, _ModeIndex]
) -> WindowTask:
    grid = plan.grid
    scn = plan.scenario
    r0, r1, c0, c1 = part.rect
    wr, wc = r1 - r0, c1 - c0
    n_window = wr * wc
    core = plan.owner[r0:r1, c0:c1] == part.index
    modes: dict[str, ModeWindow] = {}
    window_nodes: dict[str, np.ndarray] = {}
    portals = 0
    for mode in dict.fromkeys(s.mode for s in scn.services):
        mw, used, window_nodes[mode] = _mode_window(
            plan, part, mode, index[mode], n_window, portals
        )
        modes[mode] = mw
        portals += used
    portal_rows = -(-portals // wc) if portals else 0
    owner_flat = plan.owner.ravel()
    services = []
    closed = not part.exchange and not (part.halo_rows or part.halo_cols)
    for svc in scn.services:
        # every seed at a cell or node of the window: each is a real route, and a vertex's
        # owner must see the seeds of facilities beyond its window (a closed partition, whole
        # islands, takes only the facilities it owns)
        cells = plan.facilities[svc.name]["cell"].to_numpy().astype(np.int64)
        owned = np.flatnonzero((cells >= 0) & (owner_flat[np.maximum(cells, 0)] == part.index))
        seeds = plan.seeds[svc.name]
        at_cell = _local_cells(part.rect, seeds.cells.vertex, grid.cols)
        at_node = _lookup(window_nodes[svc.mode], seeds.nodes.vertex)
        if closed:
            at_cell = np.where(np.isin(seeds.cells.point, owned), at_cell, -1)
            at_node = np.where(np.isin(seeds.nodes.point, owned), at_node, -1)
        kc, kn = at_cell >= 0, at_node >= 0
        services.append(
            ServiceWindow(
                name=svc.name,
                mode=svc.mode,
                seed_cells=at_cell[kc].astype(np.int64),
                seed_facility=seeds.cells.point[kc].astype(np.int32),
                seed_time_min=seeds.cells.time_min[kc].astype(np.float64),
                seed_nodes=at_node[kn].astype(np.int64),
                seed_node_time_min=seeds.nodes.time_min[kn].astype(np.float64),
                seed_node_facility=seeds.nodes.point[kn].astype(np.int32),
            )
        )
    export_ids = rings.export_ids.get(part.index, np.empty(0, np.int64))
    return WindowTask(
        index=part.index,
        rect=part.rect,
        grid_cols=grid.cols,
        portal_rows=portal_rows,
        core_bits=pack_mask(core),
        dx_m=np.asarray(grid.dx_m[r0:r1], dtype=np.float64),
        dy_m=grid.dy_m,
        neighbours=scn.grid.neighbours,
        max_time_min=scn.grid.max_travel_time_min,
        modes=modes,
        services=tuple(services),
        ring_cells=rings.ring_local.get(part.index, np.empty(0, np.int64)),
        ring_ids=rings.ring_ids.get(part.index, np.empty(0, np.int64)),
        export_cells=_local_cells(part.rect, export_ids, grid.cols),
        export_ids=export_ids,
        exchange=part.exchange,
    )


def build_tasks(plan: PartitionPlan) -> list[WindowTask]:
    """Every partition's task, in the plan's order.

    Parameters
    ----------
    plan
        The partitions.

    Returns
    -------
    list of WindowTask
        What each partition's worker is sent, besides its friction.
    """
    rings = _rings(plan)
    index = {m: _ModeIndex.of(plan, m) for m in plan.networks}
    return [_task(plan, p, rings, index) for p in plan.partitions]
