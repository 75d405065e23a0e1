"""The k nearest facilities of every cell and node, in one search over the combined graph.

A multi-label Dijkstra on the reversed graph (as :func:`reach.engine.combined.combined_search`):
each queue entry carries a facility; a vertex is settled once per facility, at most ``k`` times,
and the ``r``-th facility settled at a vertex is its ``r``-th nearest. A vertex that already
holds ``k`` facilities passes on no more, which is exact: a facility that is not among the
``k`` nearest of a vertex is not among the ``k`` nearest of any vertex whose route to it runs
through that one (every facility nearer to the first is nearer to the second too). The time of
a vertex's first facility equals the single search's time; the search costs about ``k`` times
one search.

Pure functions on arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from reach.engine.combined import graph_tuple, predecessors
from reach.engine.heap import grow_f8, grow_i8, heap_pop, heap_push
from reach.model.assemble import SearchGraph

__all__ = ["MAX_K", "KNearest", "k_nearest"]

#: The most facilities per vertex one search keeps.
MAX_K = 20


@dataclass(frozen=True, eq=False)
class KNearest:
    """The ``k`` nearest facilities of each vertex, nearest first.

    Attributes
    ----------
    time_min
        ``float64`` (n_cells + n_nodes, k): minutes to the vertex's r-th nearest facility;
        ``inf`` where it has fewer than ``r`` within the limit.
    facility
        ``int32`` (n_cells + n_nodes, k): that facility (its seed label), ``-1`` for none.
    """

    time_min: np.ndarray
    facility: np.ndarray

    @property
    def k(self) -> int:
        """Facilities kept per vertex."""
        return int(self.time_min.shape[1])


@njit(cache=True, nogil=True)
def _k_search(
    g: tuple[Any, ...],
    seeds: np.ndarray,
    seed_time: np.ndarray,
    seed_label: np.ndarray,
    n_labels: int,
    k: int,
    limit: float,
    room: int,
    n_total: int,
) -> tuple[np.ndarray, np.ndarray]:
    ktime = np.full((n_total, k), np.inf)
    klab = np.full((n_total, k), -1, dtype=np.int32)
    count = np.zeros(n_total, dtype=np.int32)
    keys = np.empty(max(1024, 2 * seeds.shape[0]) + room, dtype=np.float64)
    items = np.empty(keys.shape[0], dtype=np.int64)
    out_u = np.empty(room, dtype=np.int64)
    out_cost = np.empty(room, dtype=np.float64)
    n = 0
    for i in range(seeds.shape[0]):
        if seed_time[i] <= limit:
            n = heap_push(keys, items, n, seed_time[i], seeds[i] * n_labels + seed_label[i])
    while n > 0:
        t, code, n = heap_pop(keys, items, n)
        v = code // n_labels
        lab = code - v * n_labels
        c = count[v]
        if c >= k:
            continue
        seen = False
        for s in range(c):
            if klab[v, s] == lab:
                seen = True
                break
        if seen:
            continue
        ktime[v, c] = t
        klab[v, c] = lab
        count[v] = c + 1
        m = predecessors(v, g, out_u, out_cost)
        if n + m > keys.shape[0]:
            keys = grow_f8(keys, n)
            items = grow_i8(items, n)
            while n + m > keys.shape[0]:
                keys = grow_f8(keys, n)
                items = grow_i8(items, n)
        for e in range(m):
            u = out_u[e]
            cu = count[u]
            if cu >= k:
                continue
            nt = t + out_cost[e]
            if nt > limit:
                continue
            dup = False
            for s in range(cu):
                if klab[u, s] == lab:
                    dup = True
                    break
            if not dup:
                n = heap_push(keys, items, n, nt, u * n_labels + lab)
    return ktime, klab


def k_nearest(
    graph: SearchGraph,
    seed_vertex: np.ndarray,
    *,
    seed_facility: np.ndarray,
    seed_time_min: np.ndarray,
    k: int,
    max_time_min: float = np.inf,
) -> KNearest:
    """The ``k`` nearest facilities of every vertex, and the minutes to each.

    Parameters
    ----------
    graph
        The search graph.
    seed_vertex
        ``int64`` vertices the facilities start from (cells, and nodes as ``n_cells + node``).
    seed_facility
        The facility (label, ``0 ..``) of each seed.
    seed_time_min
        Minutes from each seed to its facility.
    k
        Facilities kept per vertex (1 to :data:`MAX_K`).
    max_time_min
        Facilities further than this are not kept.

    Returns
    -------
    KNearest
        Per vertex, its facilities nearest first.

    Raises
    ------
    ValueError
        When ``k`` is outside 1 to :data:`MAX_K`, or a seed is not a vertex of the graph.
    """
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be from 1 to {MAX_K}")
    n_total = graph.n_cells + graph.n_nodes
    seeds = np.asarray(seed_vertex, dtype=np.int64)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= n_total):
        raise ValueError("a seed is not a vertex of the graph")
    labels = np.asarray(seed_facility, dtype=np.int64)
    n_labels = int(labels.max()) + 1 if labels.size else 1
    g = graph_tuple(graph)
    per_cell = int(np.bincount(g[15]).max()) if len(g[15]) else 0
    in_degree = np.diff(graph.rev_indptr)
    room = len(graph.moves) + per_cell + (int(in_degree.max()) if len(in_degree) else 0) + 2
    ktime, klab = _k_search(
        g, seeds, np.asarray(seed_time_min, np.float64), labels, n_labels, int(k),
        float(max_time_min), room, n_total,
    )  # fmt: skip
    return KNearest(time_min=ktime, facility=klab)
