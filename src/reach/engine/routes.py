"""Least-time routes read back from a finished combined search, step by step.

A combined search (:func:`reach.engine.combined.combined_search`) runs from the facilities on
the reversed graph, so the time of a vertex is the time from it to its nearest facility, and
that time was set through one step: ``time[v] = cost(v → w) + time[w]`` for the vertex ``w`` it
was reached from, with ``w`` in the same catchment. The route from any origin is therefore the
chain of such steps down to a seed (a vertex the search started at, at the walk from it to its
facility), and it can be read from the times alone: at each vertex, the neighbour that explains
its time. Nothing is stored during the search — no predecessor array, no memory cost, no change
to the search's hot loop — and the route costs ``O(steps × degree)`` to read.

The steps are priced with the search's own cost code (``move_cost``, the connectors and the
network's edge times), so their minutes add up to the origin's time up to floating-point
rounding (a few 1e-12 minutes per step). Pure functions on arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from reach.engine.combined import SearchResult, graph_tuple, move_cost
from reach.engine.nearest import KNearest
from reach.model.assemble import SearchGraph

__all__ = [
    "STEP_CONNECT",
    "STEP_DOOR",
    "STEP_EDGE",
    "STEP_LEAVE",
    "STEP_WALK",
    "RouteSteps",
    "trace_routes",
]

#: A walk from a cell to a neighbouring cell (8 or 16 moves).
STEP_WALK = 0
#: A walk from a cell's centre onto a network node joined to it (onto the road).
STEP_CONNECT = 1
#: A network edge (a road piece, a spur of a foot, a ferry crossing with its wait).
STEP_EDGE = 2
#: A walk from a network node to its cell's centre (off the road).
STEP_LEAVE = 3
#: The last step: from the seed vertex to the facility itself (the walk to the door, and for
#: a road seed the minutes along the road to where it passes nearest).
STEP_DOOR = 4

#: Largest gap, in minutes, between a vertex's time and the step said to explain it, relative
#: to the time (the search adds the same numbers; only the order of rounding may differ).
_REL_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class RouteSteps:
    """The steps of the routes of several origins, as one long table of arrays.

    Attributes
    ----------
    origin
        ``int64`` (n_steps,): the origin (its position in the ``origins`` given) of each step;
        the steps of one origin are consecutive, from the origin to the facility.
    kind
        ``uint8`` (n_steps,): ``STEP_*`` code.
    vertex_from, vertex_to
        ``int64`` (n_steps,): the vertices the step joins (cells ``0 .. n_cells-1``, nodes
        ``n_cells + node``); for :data:`STEP_DOOR` both are the seed vertex.
    edge
        ``int64`` (n_steps,): the network edge of a :data:`STEP_EDGE` (its index in the
        network's edge arrays), else -1.
    time_min
        ``float64`` (n_steps,): the step's minutes.
    facility
        ``int32`` (n_origins,): the catchment each origin's route ends at, -1 where the origin
        was not reached (its route has no steps).
    total_min
        ``float64`` (n_origins,): the origin's time in the search (``inf`` where not reached).
    """

    origin: np.ndarray
    kind: np.ndarray
    vertex_from: np.ndarray
    vertex_to: np.ndarray
    edge: np.ndarray
    time_min: np.ndarray
    facility: np.ndarray
    total_min: np.ndarray

    def of(self, i: int) -> slice:
        """The slice of the step arrays holding origin ``i``'s route.

        Parameters
        ----------
        i
            The origin's position.

        Returns
        -------
        slice
            Its steps (empty where it was not reached).
        """
        lo, hi = np.searchsorted(self.origin, [i, i + 1])
        return slice(int(lo), int(hi))


@njit(cache=True)
def _seed_time(
    v: int, lab: int, seed_v: np.ndarray, seed_t: np.ndarray, seed_l: np.ndarray
) -> float:
    """The smallest starting time of a seed of catchment ``lab`` at vertex ``v`` (``inf``: none);
    ``seed_v`` is sorted."""
    i = np.searchsorted(seed_v, v)
    best = np.inf
    while i < seed_v.shape[0] and seed_v[i] == v:
        if seed_l[i] == lab and seed_t[i] < best:
            best = seed_t[i]
        i += 1
    return best


@njit(cache=True, inline="always")
def _time_of(kt: np.ndarray, kl: np.ndarray, v: int, lab: int) -> float:
    """Minutes from vertex ``v`` to facility ``lab`` (``inf``: not among its nearest)."""
    for s in range(kt.shape[1]):
        if kl[v, s] == lab:
            return kt[v, s]
    return np.inf


@njit(cache=True)
def _explaining(
    v: int,
    lab: int,
    g: tuple[Any, ...],
    fwd_indptr: np.ndarray,
    fwd_dst: np.ndarray,
    fwd_edge: np.ndarray,
    rev_cost: np.ndarray,
    kt: np.ndarray,
    kl: np.ndarray,
    out_w: np.ndarray,
    out_kind: np.ndarray,
    out_edge: np.ndarray,
    out_cost: np.ndarray,
    out_t: np.ndarray,
) -> int:
    """Write the steps out of ``v`` that explain its time to facility ``lab`` (``t(w) + cost =
    t(v)`` within the tolerance, ``t`` the times to that facility); return their count."""
    (
        rows, cols, pace, elev, use_slope, dx, dy, moves, _rev_indptr, _rev_src, _rc,
        node_cell, connector, cell_first, nodes_by_cell, cell_of_sorted, cut_corners,
    ) = g  # fmt: skip
    n_cells = rows * cols
    tv = _time_of(kt, kl, v, lab)
    tol = _REL_TOL * max(1.0, tv)
    n = 0
    if v < n_cells:
        r = v // cols
        c = v - r * cols
        for m in range(moves.shape[0]):
            rw = r + moves[m, 0]
            cw = c + moves[m, 1]
            if rw < 0 or rw >= rows or cw < 0 or cw >= cols:
                continue
            w = rw * cols + cw
            tw = _time_of(kt, kl, w, lab)
            if not tw <= tv:
                continue
            cost = move_cost(r, c, rw, cw, cols, pace, elev, use_slope, dx, dy, cut_corners)
            if abs(tw + cost - tv) <= tol:
                out_w[n], out_kind[n], out_edge[n], out_cost[n] = w, STEP_WALK, -1, cost
                out_t[n] = tw
                n += 1
        k = cell_first[v]
        if k >= 0:
            while k < nodes_by_cell.shape[0] and cell_of_sorted[k] == v:
                node = nodes_by_cell[k]
                k += 1
                w = n_cells + node
                cost = connector[node]
                tw = _time_of(kt, kl, w, lab)
                if tw <= tv and abs(tw + cost - tv) <= tol:
                    out_w[n], out_kind[n], out_edge[n], out_cost[n] = w, STEP_CONNECT, -1, cost
                    out_t[n] = tw
                    n += 1
    else:
        j = v - n_cells
        for e in range(fwd_indptr[j], fwd_indptr[j + 1]):
            w = n_cells + fwd_dst[e]
            cost = rev_cost[fwd_edge[e]]
            tw = _time_of(kt, kl, w, lab)
            if tw <= tv and abs(tw + cost - tv) <= tol:
                out_w[n], out_kind[n], out_edge[n], out_cost[n] = w, STEP_EDGE, fwd_edge[e], cost
                out_t[n] = tw
                n += 1
        cell = node_cell[j]
        if cell >= 0:
            cost = connector[j]
            tw = _time_of(kt, kl, cell, lab)
            if tw <= tv and abs(tw + cost - tv) <= tol:
                out_w[n], out_kind[n], out_edge[n], out_cost[n] = cell, STEP_LEAVE, -1, cost
                out_t[n] = tw
                n += 1
    return n


@njit(cache=True)
def _trace(
    g: tuple[Any, ...],
    fwd_indptr: np.ndarray,
    fwd_dst: np.ndarray,
    fwd_edge: np.ndarray,
    rev_cost: np.ndarray,
    kt: np.ndarray,
    kl: np.ndarray,
    seed_v: np.ndarray,
    seed_t: np.ndarray,
    seed_l: np.ndarray,
    origins: np.ndarray,
    targets: np.ndarray,
    room: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_total = kt.shape[0]
    # the steps found, grown as needed
    o_origin = np.empty(1024, np.int64)
    o_kind = np.empty(1024, np.uint8)
    o_from = np.empty(1024, np.int64)
    o_to = np.empty(1024, np.int64)
    o_edge = np.empty(1024, np.int64)
    o_time = np.empty(1024, np.float64)
    # the explaining steps of one vertex
    c_w = np.empty(room, np.int64)
    c_kind = np.empty(room, np.uint8)
    c_edge = np.empty(room, np.int64)
    c_cost = np.empty(room, np.float64)
    c_t = np.empty(room, np.float64)
    # a plateau of equal times (edges of zero minutes), searched breadth first
    p_v = np.empty(64, np.int64)
    p_parent = np.empty(64, np.int64)
    p_kind = np.empty(64, np.uint8)
    p_edge = np.empty(64, np.int64)
    path = np.empty(64, np.int64)
    n = 0
    for i in range(origins.shape[0]):
        v = origins[i]
        lab = targets[i]
        if lab < 0 or not np.isfinite(_time_of(kt, kl, v, lab)):
            continue
        for _ in range(n_total + 1):
            if n + p_v.shape[0] + 2 > o_origin.shape[0]:
                grow = o_origin.shape[0] + p_v.shape[0] + 2
                o_origin = np.concatenate((o_origin, np.empty(grow, np.int64)))
                o_kind = np.concatenate((o_kind, np.empty(grow, np.uint8)))
                o_from = np.concatenate((o_from, np.empty(grow, np.int64)))
                o_to = np.concatenate((o_to, np.empty(grow, np.int64)))
                o_edge = np.concatenate((o_edge, np.empty(grow, np.int64)))
                o_time = np.concatenate((o_time, np.empty(grow, np.float64)))
            tv = _time_of(kt, kl, v, lab)
            tol = _REL_TOL * max(1.0, tv)
            st = _seed_time(v, lab, seed_v, seed_t, seed_l)
            if abs(st - tv) <= tol:
                o_origin[n], o_kind[n], o_from[n], o_to[n] = i, STEP_DOOR, v, v
                o_edge[n], o_time[n] = -1, st
                n += 1
                break
            k = _explaining(
                v, lab, g, fwd_indptr, fwd_dst, fwd_edge, rev_cost, kt, kl,
                c_w, c_kind, c_edge, c_cost, c_t,
            )  # fmt: skip
            best = -1
            for q in range(k):  # the step that gets nearest the facility
                if c_t[q] < tv and (best < 0 or c_t[q] < c_t[best]):
                    best = q
            if best >= 0:
                o_origin[n], o_kind[n], o_from[n], o_to[n] = i, c_kind[best], v, c_w[best]
                o_edge[n], o_time[n] = c_edge[best], c_cost[best]
                n += 1
                v = c_w[best]
                continue
            # only steps of zero minutes explain v: search the plateau of its time for a
            # vertex that leaves it (or is a seed), and take the zero steps there
            p_v[0] = v
            p_parent[0] = -1
            n_p = 1
            found = -1
            q = 0
            while q < n_p and found < 0:
                x = p_v[q]
                if q > 0 and abs(_seed_time(x, lab, seed_v, seed_t, seed_l) - tv) <= tol:
                    found = q
                    break
                k = _explaining(
                    x, lab, g, fwd_indptr, fwd_dst, fwd_edge, rev_cost, kt, kl,
                    c_w, c_kind, c_edge, c_cost, c_t,
                )  # fmt: skip
                for z in range(k):
                    w = c_w[z]
                    if c_t[z] < tv:
                        if q > 0:
                            found = q
                        break
                    seen = False
                    for y in range(n_p):
                        if p_v[y] == w:
                            seen = True
                            break
                    if seen:
                        continue
                    if n_p == p_v.shape[0]:
                        p_v = np.concatenate((p_v, np.empty(n_p, np.int64)))
                        p_parent = np.concatenate((p_parent, np.empty(n_p, np.int64)))
                        p_kind = np.concatenate((p_kind, np.empty(n_p, np.uint8)))
                        p_edge = np.concatenate((p_edge, np.empty(n_p, np.int64)))
                    p_v[n_p], p_parent[n_p], p_kind[n_p], p_edge[n_p] = w, q, c_kind[z], c_edge[z]
                    n_p += 1
                q += 1
            if found < 0:
                # nothing explains the time (a search on another graph): say so
                o_origin[n], o_kind[n], o_from[n], o_to[n] = i, 255, v, v
                o_edge[n], o_time[n] = -1, tv
                n += 1
                break
            depth = 0
            x = found
            while x > 0:
                if depth == path.shape[0]:
                    path = np.concatenate((path, np.empty(depth, np.int64)))
                path[depth] = x
                depth += 1
                x = p_parent[x]
            if n + depth + 2 > o_origin.shape[0]:
                grow = o_origin.shape[0] + depth + 2
                o_origin = np.concatenate((o_origin, np.empty(grow, np.int64)))
                o_kind = np.concatenate((o_kind, np.empty(grow, np.uint8)))
                o_from = np.concatenate((o_from, np.empty(grow, np.int64)))
                o_to = np.concatenate((o_to, np.empty(grow, np.int64)))
                o_edge = np.concatenate((o_edge, np.empty(grow, np.int64)))
                o_time = np.concatenate((o_time, np.empty(grow, np.float64)))
            for d in range(depth - 1, -1, -1):
                x = path[d]
                o_origin[n], o_kind[n], o_from[n], o_to[n] = i, p_kind[x], p_v[p_parent[x]], p_v[x]
                o_edge[n], o_time[n] = p_edge[x], 0.0
                n += 1
            v = p_v[found]
    return o_origin[:n], o_kind[:n], o_from[:n], o_to[:n], o_edge[:n], o_time[:n]


def trace_routes(
    graph: SearchGraph,
    result: SearchResult | KNearest,
    origins: np.ndarray,
    *,
    seed_vertex: np.ndarray,
    seed_time_min: np.ndarray,
    seed_facility: np.ndarray,
    to_facility: np.ndarray | None = None,
) -> RouteSteps:
    """The least-time route of each origin to a facility, as steps, from a finished search.

    Parameters
    ----------
    graph
        The graph the search ran on.
    result
        The search: a single one (with its node times and catchments, ``node_facility``),
        whose routes go to each origin's nearest facility, or a k-nearest one
        (:func:`reach.engine.nearest.k_nearest`), whose routes go to ``to_facility``.
    origins
        ``int64`` vertices to start from: cells (flat index) or nodes (``n_cells + node``).
    seed_vertex, seed_time_min, seed_facility
        The seeds the search started from (cells and nodes as vertices), their starting times
        and catchments — those of every open facility, as :class:`reach.model.joins.Seeds`
        give them.
    to_facility
        The facility (seed label) each origin's route goes to; default its nearest. With a
        k-nearest search, one among the origin's ``k`` (else the origin has no route).

    Returns
    -------
    RouteSteps
        The steps, origin after origin; an origin not reached has none (``facility`` -1,
        ``total_min`` ``inf``). A route whose times no step explains (the search was made on
        another graph) ends in one step of kind 255 holding the minutes left unexplained.

    Raises
    ------
    ValueError
        When the search kept no node catchments, or an origin is not a vertex of the graph.
    """
    if isinstance(result, KNearest):
        kt = result.time_min
        kl = result.facility.astype(np.int32)
    else:
        if result.node_facility is None:
            raise ValueError("tracing routes needs the search's node catchments")
        kt = np.concatenate([result.time_min, result.node_time_min])[:, None]
        kl = np.concatenate([result.facility, result.node_facility]).astype(np.int32)[:, None]
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and (origins.min() < 0 or origins.max() >= len(kt)):
        raise ValueError("an origin is not a vertex of the graph")
    targets = (
        kl[origins, 0].astype(np.int32)
        if to_facility is None
        else np.asarray(to_facility, dtype=np.int32)
    )
    order = np.argsort(np.asarray(seed_vertex, np.int64), kind="stable")
    seed_v = np.asarray(seed_vertex, np.int64)[order]
    seed_t = np.asarray(seed_time_min, np.float64)[order]
    seed_l = np.asarray(seed_facility, np.int32)[order]
    # the network forwards: the reversed CSR's edges (sorted by head) sorted by tail
    heads = np.repeat(np.arange(graph.n_nodes, dtype=np.int64), np.diff(graph.rev_indptr))
    fwd_edge = np.argsort(graph.rev_src, kind="stable").astype(np.int64)
    fwd_dst = heads[fwd_edge]
    fwd_indptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph.rev_src, minlength=graph.n_nodes), out=fwd_indptr[1:])
    g = graph_tuple(graph)
    per_cell = int(np.bincount(g[15]).max()) if len(g[15]) else 0
    out_degree = int(np.diff(fwd_indptr).max()) if graph.n_nodes else 0
    room = len(graph.moves) + per_cell + out_degree + 2
    o, kind, v_from, v_to, edge, minutes = _trace(
        g, fwd_indptr, fwd_dst, fwd_edge, graph.rev_cost_min, kt, kl,
        seed_v, seed_t, seed_l, origins, targets, room,
    )  # fmt: skip
    hit = kl[origins] == targets[:, None]
    total = np.where(hit, kt[origins], np.inf).min(axis=1) if len(origins) else np.empty(0)
    reached = np.isfinite(total) & (targets >= 0)
    return RouteSteps(
        origin=o,
        kind=kind,
        vertex_from=v_from,
        vertex_to=v_to,
        edge=edge,
        time_min=minutes,
        facility=np.where(reached, targets, -1).astype(np.int32),
        total_min=np.where(reached, total, np.inf),
    )
