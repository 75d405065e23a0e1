"""The combined least-time search over the walking grid and the road/ferry network.

One Dijkstra over an implicit graph whose vertices are the grid cells (``0 .. n_cells-1``) and
the network nodes (``n_cells .. n_cells+n_nodes-1``):

* cell → neighbouring cell (8 or 16 moves): ``distance_m × mean(pace_u, pace_v)`` minutes, times
  Tobler's slope factor ``exp(3.5 (|s + 0.05| - 0.05))`` when elevations are given, where ``s`` is
  the rise over run of the move. A move is impossible when either end is impassable
  (``pace = inf``) or, for diagonal and knight moves, when a cell it cuts across is impassable
  (a graph may let diagonal moves pass between two impassable cells, as GRASS ``r.cost`` and so
  AccessMod do: ``SearchGraph.cut_corners``).
* network node → network node: the edge's travel time (the network model decides it).
* cell ↔ network node lying in that cell, both ways: walking from the cell's centre to the node
  at the cell's pace (``connector_min``). A traveller joins or leaves the road anywhere along it
  (the network model places nodes densely along every edge); because joining costs the walk
  from the centre, hopping between two nodes through their cell is never faster than walking.

The search runs from the facilities on the reversed graph, so the time of a vertex is the time
*from* it *to* its nearest facility. Pure functions on arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from reach.codes import (
    CLOSED,
    REASON_BARRIER,
    REASON_BEYOND_LIMIT,
    REASON_NO_DATA,
    REASON_NO_ROUTE,
    REASON_REACHED,
    REASON_WATER,
    STATUS_BARRIER,
    STATUS_NO_DATA,
    STATUS_PASSABLE,
    STATUS_WATER,
)
from reach.engine.heap import BUCKET_MIN, N_BUCKETS, grow_f8, grow_i8, heap_pop, heap_push
from reach.model.assemble import SearchGraph

__all__ = [
    "NetworkSearchResult",
    "SearchResult",
    "cell_index",
    "combined_search",
    "graph_tuple",
    "move_cost",
    "network_search",
    "predecessors",
]

#: A lower bound of Tobler's slope factor ``exp(3.5 (|s + 0.05| - 0.05))`` (its minimum is
#: ``exp(-0.175)`` = 0.8395… at ``s = -0.05``), rounded down so that rounding never lifts it above
#: the factor computed: moves that cannot improve a cell even at this factor skip the ``exp``.
_MIN_SLOPE_FACTOR = 0.8394


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Result of a combined search.

    Attributes
    ----------
    time_min
        ``float64`` (rows*cols,): minutes to the nearest facility; ``inf`` where not reached
        within the limit (never a sentinel number).
    facility
        ``int32`` (rows*cols,): index of that facility (its catchment), ``-1`` where not reached.
    reason
        ``uint8`` (rows*cols,): ``REASON_*`` code; ``REASON_REACHED`` where reached.
    node_time_min
        ``float64`` (n_nodes,): the same time for each network node.
    node_facility
        ``int32`` (n_nodes,): each node's catchment, when the search kept them (needed to search
        on from this result after closing facilities).
    """

    time_min: np.ndarray
    facility: np.ndarray
    reason: np.ndarray
    node_time_min: np.ndarray
    node_facility: np.ndarray | None = None


@njit(cache=True, inline="always")
def move_cost(
    ru: int,
    cu: int,
    rv: int,
    cv: int,
    cols: int,
    pace: np.ndarray,
    elev: np.ndarray,
    use_slope: bool,
    dx: np.ndarray,
    dy: float,
    cut_corners: bool,
) -> float:
    """Minutes to walk from cell ``(ru, cu)`` to neighbouring cell ``(rv, cv)``.

    Rows and columns are passed in, so no cell index is divided on the hot path.

    Parameters
    ----------
    ru, cu, rv, cv
        Row and column of the cell walked from, and of the cell walked to.
    cols
        Grid columns.
    pace
        Flat walking pace (min/m; ``inf`` impassable).
    elev
        Flat elevations (m), used when ``use_slope``.
    use_slope
        Apply Tobler's slope factor.
    dx
        Cell width (m) per row.
    dy
        Cell height (m).
    cut_corners
        Let a diagonal move pass between two impassable cells.

    Returns
    -------
    float
        The minutes, ``inf`` when the move is impossible.
    """
    u = ru * cols + cu
    v = rv * cols + cv
    pu = pace[u]
    pv = pace[v]
    if not (pu < np.inf and pv < np.inf):  # also False for NaN
        return np.inf
    adr = abs(rv - ru)
    adc = abs(cv - cu)
    if adr == 1 and adc == 1:
        corner_open = pace[ru * cols + cv] < np.inf and pace[rv * cols + cu] < np.inf
        if not (cut_corners or corner_open):
            return np.inf
    elif adr == 1 and adc == 2:
        sc = 1 if cv > cu else -1
        if not (pace[ru * cols + cu + sc] < np.inf and pace[rv * cols + cu + sc] < np.inf):
            return np.inf
    elif adr == 2 and adc == 1:
        sr = 1 if rv > ru else -1
        if not (pace[(ru + sr) * cols + cu] < np.inf and pace[(ru + sr) * cols + cv] < np.inf):
            return np.inf
    hx = adc * 0.5 * (dx[ru] + dx[rv])
    hy = adr * dy
    dist = np.sqrt(hx * hx + hy * hy)
    cost = dist * 0.5 * (pu + pv)
    if use_slope:
        eu = elev[u]
        ev = elev[v]
        if np.isfinite(eu) and np.isfinite(ev):
            s = (ev - eu) / dist
            cost *= np.exp(3.5 * (abs(s + 0.05) - 0.05))
    return cost


@njit(cache=True, inline="always")
def predecessors(v: int, g: tuple[Any, ...], out_u: np.ndarray, out_cost: np.ndarray) -> int:
    """Write the vertices with an edge into ``v`` and the edge costs; return their count.

    Parameters
    ----------
    v
        The vertex (a cell, or ``n_cells + node``).
    g
        The graph tuple (:func:`graph_tuple`).
    out_u, out_cost
        Written with the vertices and the minutes of their edges into ``v``; long enough
        for its in-degree.

    Returns
    -------
    int
        How many were written.
    """
    (
        rows, cols, pace, elev, use_slope, dx, dy, moves, rev_indptr, rev_src, rev_cost,
        node_cell, connector, cell_first, nodes_by_cell, cell_of_sorted, cut_corners,
    ) = g  # fmt: skip
    n_cells = rows * cols
    k = 0
    if v < n_cells:
        r = v // cols
        c = v - r * cols
        for m in range(moves.shape[0]):
            ru = r + moves[m, 0]
            cu = c + moves[m, 1]
            if ru < 0 or ru >= rows or cu < 0 or cu >= cols:
                continue
            u = ru * cols + cu
            cost = move_cost(ru, cu, r, c, cols, pace, elev, use_slope, dx, dy, cut_corners)
            if np.isfinite(cost):
                out_u[k] = u
                out_cost[k] = cost
                k += 1
        first = cell_first[v]
        if first >= 0:
            i = first
            while i < nodes_by_cell.shape[0] and cell_of_sorted[i] == v:
                out_u[k] = n_cells + nodes_by_cell[i]
                out_cost[k] = connector[nodes_by_cell[i]]
                k += 1
                i += 1
    else:
        j = v - n_cells
        for e in range(rev_indptr[j], rev_indptr[j + 1]):
            out_u[k] = n_cells + rev_src[e]
            out_cost[k] = rev_cost[e]
            k += 1
        cell = node_cell[j]
        if cell >= 0:
            out_u[k] = cell
            out_cost[k] = connector[j]
            k += 1
    return k


@njit(cache=True, nogil=True)
def _dijkstra(
    g: tuple[Any, ...],
    seeds: np.ndarray,
    seed_time: np.ndarray,
    seed_label: np.ndarray,
    limit: float,
    move_m: np.ndarray,
    has_node: np.ndarray,
    room: int,
    time: np.ndarray,
    label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Multi-source Dijkstra with labels; vertices beyond ``limit`` stay ``inf``.

    ``time`` and ``label`` are updated in place: all ``inf`` / ``-1`` for a fresh search, or the
    times of an earlier search to add seeds to it (only vertices the new seeds reach sooner are
    visited, so the result is the minimum over old and new seeds).
    The flag returned is True when the limit cut off some path (a vertex left unreached might
    have a route longer than the limit); False means every unreached vertex has no route at all.

    ``room`` is the most entries one popped vertex can push (its in-degree at most). The search
    itself runs in :func:`_dijkstra_run`, which never reallocates an array (numba compiles a loop
    that may swap an array for a larger one markedly slower); it returns here when the queue's
    arrays may not hold one more vertex's pushes, and is called again after they are doubled.
    """
    near_k = np.empty(4096 + room, dtype=np.float64)
    near_v = np.empty(4096 + room, dtype=np.int64)
    far_k = np.empty(seeds.shape[0] + 1024 + room, dtype=np.float64)
    far_v = np.empty(seeds.shape[0] + 1024 + room, dtype=np.int64)
    head = np.full(N_BUCKETS, -1, dtype=np.int64)
    pool_k = np.empty(4096 + room, dtype=np.float64)
    pool_v = np.empty(4096 + room, dtype=np.int64)
    pool_next = np.empty(4096 + room, dtype=np.int64)
    # n_near, n_far, pool_used, free, in_lists, current bucket, limited
    state = np.array([0, 0, 0, -1, 0, -1, 0], dtype=np.int64)
    n_far = 0
    for i in range(seeds.shape[0]):
        s = seeds[i]
        if seed_time[i] > limit:
            state[6] = 1
        elif seed_time[i] < time[s]:
            time[s] = seed_time[i]
            label[s] = seed_label[i]
            n_far = heap_push(far_k, far_v, n_far, seed_time[i], s)
    state[1] = n_far
    while _dijkstra_run(
        g, limit, move_m, has_node, room, time, label,
        near_k, near_v, far_k, far_v, head, pool_k, pool_v, pool_next, state,
    ):  # fmt: skip
        live = state[0] + state[4] + state[1]
        while live + room > near_k.shape[0]:
            near_k = grow_f8(near_k, state[0])
            near_v = grow_i8(near_v, state[0])
        if state[1] + room > far_k.shape[0]:
            far_k = grow_f8(far_k, state[1])
            far_v = grow_i8(far_v, state[1])
        if state[2] + room > pool_k.shape[0]:
            pool_k = grow_f8(pool_k, state[2])
            pool_v = grow_i8(pool_v, state[2])
            pool_next = grow_i8(pool_next, state[2])
    return time, label, state[6] == 1


@njit(cache=True, nogil=True)
def _dijkstra_run(
    g: tuple[Any, ...],
    limit: float,
    move_m: np.ndarray,
    has_node: np.ndarray,
    room: int,
    time: np.ndarray,
    label: np.ndarray,
    near_k: np.ndarray,
    near_v: np.ndarray,
    far_k: np.ndarray,
    far_v: np.ndarray,
    head: np.ndarray,
    pool_k: np.ndarray,
    pool_v: np.ndarray,
    pool_next: np.ndarray,
    state: np.ndarray,
) -> bool:
    """Run the search of :func:`_dijkstra` from ``state`` on; True when it stopped for room.

    The queue (see :mod:`reach.engine.heap`): a near heap for the current bucket, the next
    buckets as lists in a pool of entries, a far heap beyond them.
    """
    inv_width = 1.0 / BUCKET_MIN
    n_buckets = head.shape[0]
    n_near = state[0]
    n_far = state[1]
    pool_used = state[2]
    free = state[3]
    in_lists = state[4]
    current = state[5]
    limited = state[6] == 1
    # The graph is unpacked once and the edges into each popped vertex are walked here, with the
    # walking cost written out: the same edges, order and arithmetic as ``predecessors`` and
    # ``move_cost`` (which ``_reachable`` uses), but with no call in the loop, since numba
    # passes arrays to a call with reference counting that costs more than the search itself.
    (
        rows, cols, pace, elev, use_slope, _dx, _dy, moves, rev_indptr, rev_src, rev_cost,
        node_cell, connector, cell_first, nodes_by_cell, cell_of_sorted, cut_corners,
    ) = g  # fmt: skip
    n_cells = rows * cols
    n_moves = moves.shape[0]
    move_dr = np.ascontiguousarray(moves[:, 0])
    move_dc = np.ascontiguousarray(moves[:, 1])
    n_sorted = nodes_by_cell.shape[0]
    status = 0
    while True:
        if (
            n_near + in_lists + n_far + room > near_k.shape[0]
            or n_far + room > far_k.shape[0]
            or pool_used + room > pool_k.shape[0]
        ):
            status = 1  # the caller grows the arrays and calls again
            break
        while n_near == 0:
            # load the next bucket that holds entries (and the far entries falling in it)
            if in_lists == 0:
                if n_far == 0:
                    break
                bucket = np.int64(far_k[0] * inv_width)
                current = bucket if bucket > current + 1 else current + 1
            else:
                current += 1
            slot = current % n_buckets
            e = head[slot]
            head[slot] = -1
            while e >= 0:
                w = pool_v[e]
                if pool_k[e] <= time[w]:  # else stale: w was reached sooner since
                    n_near = heap_push(near_k, near_v, n_near, pool_k[e], w)
                nxt = pool_next[e]
                pool_next[e] = free
                free = e
                in_lists -= 1
                e = nxt
            while n_far > 0 and np.int64(far_k[0] * inv_width) <= current:
                fk, w, n_far = heap_pop(far_k, far_v, n_far)
                if fk <= time[w]:
                    n_near = heap_push(near_k, near_v, n_near, fk, w)
        if n_near == 0:
            break
        t, v, n_near = heap_pop(near_k, near_v, n_near)
        if t > time[v]:
            continue  # a stale entry: v was reached sooner since
        lab = label[v]
        is_cell = v < n_cells
        r = c = first = e0 = j = n_net = 0
        pv = 0.0
        if is_cell:
            r = v // cols
            c = v - r * cols
            pv = pace[v]
            n_conn = 0
            if has_node[v]:  # (a byte per cell: cheaper to read than ``cell_first``)
                first = cell_first[v]
                while first + n_conn < n_sorted and cell_of_sorted[first + n_conn] == v:
                    n_conn += 1
            n_edges = n_moves + n_conn
        else:
            j = v - n_cells
            e0 = rev_indptr[j]
            n_net = rev_indptr[j + 1] - e0
            n_edges = n_net + (1 if node_cell[j] >= 0 else 0)
        for e in range(n_edges):
            if is_cell and e < n_moves:
                ru = r + move_dr[e]
                cu = c + move_dc[e]
                if ru < 0 or ru >= rows or cu < 0 or cu >= cols:
                    continue
                u = ru * cols + cu
                if time[u] <= t:
                    continue  # settled (or tied): no move cost is negative
                pu = pace[u]
                if not (pu < np.inf and pv < np.inf):
                    continue
                adr = abs(r - ru)
                adc = abs(c - cu)
                if adr == 1 and adc == 1:
                    if not cut_corners and not (
                        pace[ru * cols + c] < np.inf and pace[r * cols + cu] < np.inf
                    ):
                        continue
                elif adr == 1 and adc == 2:
                    sc = 1 if c > cu else -1
                    if not (
                        pace[ru * cols + cu + sc] < np.inf and pace[r * cols + cu + sc] < np.inf
                    ):
                        continue
                elif adr == 2 and adc == 1:
                    sr = 1 if r > ru else -1
                    if not (
                        pace[(ru + sr) * cols + cu] < np.inf and pace[(ru + sr) * cols + c] < np.inf
                    ):
                        continue
                dist = move_m[r, e]
                cost = dist * 0.5 * (pu + pv)
                if use_slope:
                    if t + cost * _MIN_SLOPE_FACTOR >= time[u]:
                        continue  # even the kindest slope cannot improve u
                    eu = elev[u]
                    ev = elev[v]
                    if np.isfinite(eu) and np.isfinite(ev):
                        slope = (ev - eu) / dist
                        cost *= np.exp(3.5 * (abs(slope + 0.05) - 0.05))
            elif is_cell:
                node = nodes_by_cell[first + e - n_moves]
                u = n_cells + node
                cost = connector[node]
            elif e < n_net:
                u = n_cells + rev_src[e0 + e]
                cost = rev_cost[e0 + e]
            else:
                u = node_cell[j]
                cost = connector[j]
            nt = t + cost
            if nt < time[u]:
                if nt <= limit:
                    time[u] = nt
                    label[u] = lab
                    bucket = np.int64(nt * inv_width)
                    if bucket <= current:
                        n_near = heap_push(near_k, near_v, n_near, nt, u)
                    elif bucket < current + n_buckets:
                        if free >= 0:
                            e = free
                            free = pool_next[e]
                        else:
                            e = pool_used
                            pool_used += 1
                        pool_k[e] = nt
                        pool_v[e] = u
                        slot = bucket % n_buckets
                        pool_next[e] = head[slot]
                        head[slot] = e
                        in_lists += 1
                    else:
                        n_far = heap_push(far_k, far_v, n_far, nt, u)
                else:
                    limited = True
    state[0] = n_near
    state[1] = n_far
    state[2] = pool_used
    state[3] = free
    state[4] = in_lists
    state[5] = current
    state[6] = 1 if limited else 0
    return status == 1


@njit(cache=True, nogil=True)
def _reachable(
    g: tuple[Any, ...],
    seeds: np.ndarray,
    start: np.ndarray,
    buffer_size: int,
) -> np.ndarray:
    """Mark every vertex with some path to a seed, whatever its length (breadth-first)."""
    n_total = g[0] * g[1] + g[11].shape[0]
    seen = start.copy()
    queue = np.empty(n_total, dtype=np.int64)
    head = 0
    tail = 0
    for v in range(n_total):
        if seen[v]:
            queue[tail] = v
            tail += 1
    for i in range(seeds.shape[0]):
        if not seen[seeds[i]]:
            seen[seeds[i]] = True
            queue[tail] = seeds[i]
            tail += 1
    out_u = np.empty(buffer_size, dtype=np.int64)
    out_cost = np.empty(buffer_size, dtype=np.float64)
    while head < tail:
        v = queue[head]
        head += 1
        k = predecessors(v, g, out_u, out_cost)
        for i in range(k):
            u = out_u[i]
            if not seen[u]:
                seen[u] = True
                queue[tail] = u
                tail += 1
    return seen


def move_lengths_m(graph: SearchGraph) -> np.ndarray:
    """Length in metres of each move from each row: ``(rows, k)``, NaN where it leaves the grid.

    A move from row ``r`` to row ``r + dr`` spans ``|dc|`` cells of the two rows' mean width and
    ``|dr|`` cell heights (the same arithmetic as :func:`move_cost`, so the same bits).
    """
    r = np.arange(graph.rows)[:, None]
    dr = graph.moves[None, :, 0]
    dc = graph.moves[None, :, 1]
    ru = r + dr
    inside = (ru >= 0) & (ru < graph.rows)
    ru = np.clip(ru, 0, max(graph.rows - 1, 0))
    dx = graph.dx_m
    hx = np.abs(dc) * 0.5 * (dx[ru] + dx[r])
    hy = np.abs(dr) * float(graph.dy_m)
    return np.where(inside, np.sqrt(hx * hx + hy * hy), np.nan)


@njit(cache=True, nogil=True)
def _rim(g: tuple[Any, ...], closed: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Vertices not ``closed``, with a finite time, next to a closed vertex (either way)."""
    n_total = closed.shape[0]
    mark = np.zeros(n_total, dtype=np.bool_)
    n_cells = g[0] * g[1]
    rev_indptr = g[8]
    rev_src = g[9]
    node_cell = g[11]
    for v in range(n_total):
        if not closed[v]:
            continue
        if v < n_cells:
            r = v // g[1]
            c = v - r * g[1]
            for m in range(g[7].shape[0]):
                rr = r + g[7][m, 0]
                cc = c + g[7][m, 1]
                if 0 <= rr < g[0] and 0 <= cc < g[1]:
                    u = rr * g[1] + cc
                    if not closed[u] and finite[u]:
                        mark[u] = True
        else:
            j = v - n_cells
            for e in range(rev_indptr[j], rev_indptr[j + 1]):
                u = n_cells + rev_src[e]
                if not closed[u] and finite[u]:
                    mark[u] = True
            cell = node_cell[j]
            if cell >= 0 and not closed[cell] and finite[cell]:
                mark[cell] = True
    # edges out of closed nodes, and nodes in closed cells
    for j in range(rev_indptr.shape[0] - 1):
        v = n_cells + j
        for e in range(rev_indptr[j], rev_indptr[j + 1]):
            u = n_cells + rev_src[e]
            if closed[u] and not closed[v] and finite[v]:
                mark[v] = True
        cell = node_cell[j]
        if cell >= 0 and closed[cell] and not closed[v] and finite[v]:
            mark[v] = True
    return np.flatnonzero(mark).astype(np.int64)


def cell_index(graph: SearchGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes sorted by cell, and the first sorted position of each cell.

    Parameters
    ----------
    graph
        The search graph.

    Returns
    -------
    tuple of numpy.ndarray
        ``(cell_first, nodes_by_cell, cell_of_sorted)``: ``int64`` first sorted position of
        each cell's nodes (``-1`` if none), the nodes joined to a cell sorted by it, and the
        cell of each sorted node.
    """
    connected = np.flatnonzero(graph.node_cell >= 0)
    order = connected[np.argsort(graph.node_cell[connected], kind="stable")]
    cell_of_sorted = graph.node_cell[order]
    cell_first = np.full(graph.n_cells, -1, dtype=np.int64)
    if len(order):
        starts = np.flatnonzero(np.r_[True, cell_of_sorted[1:] != cell_of_sorted[:-1]])
        cell_first[cell_of_sorted[starts]] = starts
    return cell_first, order.astype(np.int64), cell_of_sorted.astype(np.int64)


def graph_tuple(graph: SearchGraph) -> tuple[Any, ...]:
    """The graph as the compiled searches take it: a flat tuple of its arrays and sizes.

    Parameters
    ----------
    graph
        The search graph.

    Returns
    -------
    tuple
        ``(rows, cols, pace, elevation, use_slope, dx, dy, moves, rev_indptr, rev_src,
        rev_cost, node_cell, connector, cell_first, nodes_by_cell, cell_of_sorted,
        cut_corners)``; see :func:`cell_index` for the three node-by-cell arrays.
    """
    cell_first, nodes_by_cell, cell_of_sorted = cell_index(graph)
    use_slope = graph.elevation_m.size == graph.n_cells
    elev = graph.elevation_m if use_slope else np.empty(0)
    return (
        graph.rows, graph.cols, graph.pace_min_per_m, elev, use_slope, graph.dx_m,
        float(graph.dy_m), graph.moves, graph.rev_indptr, graph.rev_src, graph.rev_cost_min,
        graph.node_cell, graph.connector_min, cell_first, nodes_by_cell, cell_of_sorted,
        bool(graph.cut_corners),
    )  # fmt: skip


def _seed_arrays(
    vertices: np.ndarray,
    label: np.ndarray | None,
    time_min: np.ndarray | None,
    *,
    n: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeds as ``int64`` vertices (checked to lie in ``0..n-1``), ``int32`` labels (default
    ``0..k-1``) and ``float64`` starting times (default 0)."""
    seeds = np.asarray(vertices, dtype=np.int64)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= n):
        raise ValueError(what)
    labels = np.arange(len(seeds), dtype=np.int32) if label is None else np.asarray(label, np.int32)
    times = np.zeros(len(seeds)) if time_min is None else np.asarray(time_min, np.float64)
    return seeds, labels, times


def combined_search(
    graph: SearchGraph,
    seed_cells: np.ndarray,
    *,
    seed_facility: np.ndarray | None = None,
    seed_time_min: np.ndarray | None = None,
    max_time_min: float = np.inf,
    start: SearchResult | None = None,
    node_seeds: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> SearchResult:
    """Time from every cell to its nearest seed, over the combined walk + network graph.

    Parameters
    ----------
    graph
        The search graph.
    seed_cells
        Flat cell indices of the facilities.
    seed_facility
        Facility index of each seed (default ``0..n-1``); it becomes the catchment id.
    seed_time_min
        Starting time of each seed (default 0), e.g. a waiting time at the facility.
    max_time_min
        Stop the search at this time; cells beyond it are given ``REASON_BEYOND_LIMIT`` when some
        longer path exists, ``REASON_NO_ROUTE`` when none does.
    start
        An earlier search on the same graph and limit, its catchment ids already numbered as in
        ``seed_facility``, and ``CLOSED`` (-2) for facilities now closed (which needs its
        ``node_facility``). The seeds are added to it: only the vertices they reach sooner, and
        those the closed facilities served, are searched; the result equals a search from the
        open old facilities and the new seeds together (on a tie the old catchment is kept).

    node_seeds
        ``(nodes, time_min, catchment)``: network nodes to search on from as well, at these
        times and with these catchments — with ``start``, where roads got faster: the node at
        the start of an edge whose time fell, at the new time through it.

    Returns
    -------
    SearchResult
        Times, catchments and reasons per cell.
    """
    seeds, labels, times0 = _seed_arrays(
        seed_cells, seed_facility, seed_time_min, n=graph.n_cells, what="seed cell outside the grid"
    )
    if node_seeds is not None:
        nodes, node_t, node_lab = node_seeds
        seeds = np.concatenate([seeds, graph.n_cells + np.asarray(nodes, dtype=np.int64)])
        times0 = np.concatenate([times0, np.asarray(node_t, dtype=np.float64)])
        labels = np.concatenate([labels, np.asarray(node_lab, dtype=np.int32)])
    g = graph_tuple(graph)
    cell_first, cell_of_sorted = g[13], g[15]
    in_degree = np.diff(graph.rev_indptr)
    per_cell = int(np.bincount(cell_of_sorted).max()) if len(cell_of_sorted) else 0
    buffer_size = len(graph.moves) + per_cell + (int(in_degree.max()) if len(in_degree) else 0) + 2
    n = graph.n_cells
    n_total = n + graph.n_nodes
    if n_total >= 2**31:
        raise ValueError("a single search holds fewer than 2**31 cells and nodes; partition it")
    closing = False
    if start is None:
        time0 = np.full(n_total, np.inf)
        label0 = np.full(n_total, -1, dtype=np.int32)
    else:
        if start.time_min.shape != (n,) or start.node_time_min.shape != (graph.n_nodes,):
            raise ValueError("the start search is of another graph")
        time0 = np.concatenate([start.time_min, start.node_time_min])
        node_label = (
            np.full(graph.n_nodes, -1, dtype=np.int32)
            if start.node_facility is None
            else start.node_facility.astype(np.int32)
        )
        label0 = np.concatenate([start.facility.astype(np.int32), node_label])
        closed = label0 == CLOSED
        closing = bool(closed.any())
        if closing:
            if start.node_facility is None:
                raise ValueError("closing facilities needs the start search's node catchments")
            # what the closed facilities served is searched again, from the vertices around it
            # (at their own times and catchments, which stand: their routes end at open ones)
            time0[closed] = np.inf
            label0[closed] = -1
            rim = _rim(g, closed, np.isfinite(time0))
            seeds = np.concatenate([seeds, rim])
            times0 = np.concatenate([times0, time0[rim]])
            labels = np.concatenate([labels, label0[rim]])
            time0[rim] = np.inf
            label0[rim] = -1
    time, label, limited = _dijkstra(
        g,
        seeds,
        times0,
        labels,
        float(max_time_min),
        move_lengths_m(graph),
        cell_first >= 0,
        buffer_size,
        time0,
        label0,
    )
    cell_time = time[:n]
    reached = np.isfinite(cell_time)
    reason = np.full(n, REASON_REACHED, dtype=np.uint8)
    status = graph.status
    unreached = ~reached
    reason[unreached & (status == STATUS_BARRIER)] = REASON_BARRIER
    reason[unreached & (status == STATUS_WATER)] = REASON_WATER
    reason[unreached & (status == STATUS_NO_DATA)] = REASON_NO_DATA
    open_unreached = unreached & (status == STATUS_PASSABLE)
    if closing and start is not None:
        # A cell left unreached with a route to an open facility: either the route passes a
        # cell that was beyond the limit before, or this search, which went out from every
        # vertex around the closed catchments, was cut by the limit on its way. Neither: none
        # has a route, and no breadth-first pass is needed.
        limited = limited or bool((start.reason == REASON_BEYOND_LIMIT).any())
    elif start is not None:
        # still unreached: beyond the limit stays so (the old route is still there); cells with
        # no route may now have a long one to a new seed
        old = start.reason
        reason[open_unreached & (old == REASON_BEYOND_LIMIT)] = REASON_BEYOND_LIMIT
        open_unreached &= old != REASON_BEYOND_LIMIT
    if open_unreached.any():
        if limited:
            begin = np.isfinite(time) if start is None or closing else np.zeros(n_total, np.bool_)
            seen = _reachable(g, seeds, begin, buffer_size)[:n]
        else:
            seen = np.zeros(n, dtype=np.bool_)
        reason[open_unreached & seen] = REASON_BEYOND_LIMIT
        reason[open_unreached & ~seen] = REASON_NO_ROUTE
    # views of the search's own arrays, not copies (at 16M cells a copy is 200 MB and 0.1 s)
    return SearchResult(
        time_min=cell_time,
        facility=label[:n],
        reason=reason,
        node_time_min=time[n:],
        node_facility=label[n:],
    )


@njit(cache=True, nogil=True)
def _network_dijkstra(
    indptr: np.ndarray,
    src: np.ndarray,
    cost: np.ndarray,
    seeds: np.ndarray,
    seed_time: np.ndarray,
    seed_label: np.ndarray,
    limit: float,
    time: np.ndarray,
    label: np.ndarray,
) -> None:
    """Multi-source Dijkstra on a network alone (CSR of the edges into each node), in place.

    The network's edges are short and its frontier small, so one heap serves better here than
    the bucket queue of :func:`_dijkstra` (measured: 0.17 s against 0.30 s on 1.2M nodes).
    """
    # every edge is walked once (from its node's one valid pop), so the heap never holds more
    # than the seeds and the edges: sized so, it is never reallocated in the loop (which numba
    # compiles markedly slower)
    keys = np.empty(seeds.shape[0] + src.shape[0] + 1, dtype=np.float64)
    items = np.empty(seeds.shape[0] + src.shape[0] + 1, dtype=np.int64)
    size = 0
    for i in range(seeds.shape[0]):
        s = seeds[i]
        if seed_time[i] <= limit and seed_time[i] < time[s]:
            time[s] = seed_time[i]
            label[s] = seed_label[i]
            size = heap_push(keys, items, size, seed_time[i], s)
    while size > 0:
        t, v, size = heap_pop(keys, items, size)
        if t > time[v]:
            continue  # stale: v was reached sooner since
        lab = label[v]
        for e in range(indptr[v], indptr[v + 1]):
            u = src[e]
            nt = t + cost[e]
            if nt < time[u] and nt <= limit:
                time[u] = nt
                label[u] = lab
                size = heap_push(keys, items, size, nt, u)


@dataclass(frozen=True, eq=False)
class NetworkSearchResult:
    """Result of a network-only search.

    Attributes
    ----------
    time_min
        ``float64`` (n_nodes,): minutes from each node to its nearest source; ``inf`` where not
        reached within the limit.
    source
        ``int32`` (n_nodes,): the label of that source, ``-1`` where not reached.
    """

    time_min: np.ndarray
    source: np.ndarray


def network_search(
    rev_indptr: np.ndarray,
    rev_src: np.ndarray,
    rev_cost_min: np.ndarray,
    source_nodes: np.ndarray,
    *,
    source_label: np.ndarray | None = None,
    source_time_min: np.ndarray | None = None,
    max_time_min: float = np.inf,
) -> NetworkSearchResult:
    """Time from every node of a network to its nearest source node, over the network alone.

    The network part of :func:`combined_search` alone (GOSTnets' and pandana's question: the
    nearest facility along the roads), with its own kernel.

    Parameters
    ----------
    rev_indptr, rev_src, rev_cost_min
        The network reversed, as CSR (as in :class:`SearchGraph`): the edges into node ``j``
        come from ``rev_src[rev_indptr[j]:rev_indptr[j+1]]`` at ``rev_cost_min[...]`` minutes.
    source_nodes
        Node indices to search from (the facilities' nodes).
    source_label
        Label of each source (default ``0..n-1``).
    source_time_min
        Starting time of each source (default 0).
    max_time_min
        Stop the search at this time.

    Returns
    -------
    NetworkSearchResult
        Times and nearest-source labels per node.
    """
    n_nodes = len(rev_indptr) - 1
    seeds, labels, times0 = _seed_arrays(
        source_nodes,
        source_label,
        source_time_min,
        n=n_nodes,
        what="source node outside the network",
    )
    time = np.full(n_nodes, np.inf)
    label = np.full(n_nodes, -1, dtype=np.int32)
    _network_dijkstra(
        np.asarray(rev_indptr, dtype=np.int64),
        np.asarray(rev_src, dtype=np.int64),
        np.asarray(rev_cost_min, dtype=np.float64),
        seeds,
        times0,
        labels,
        float(max_time_min),
        time,
        label,
    )
    return NetworkSearchResult(time_min=time, source=label)
