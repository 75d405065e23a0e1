"""Least-cost paths on the coarse land grid of an island group: how the demo roads are routed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from reach.demo.layout import BLOCK, FloatArray, IntArray, Layout
from reach.demo.places import GroupPlan

__all__ = ["edges_of", "grid_graph", "route"]


def grid_graph(layout: Layout, plan: GroupPlan) -> sparse.csr_matrix:
    """Cost graph over the group's land blocks: 8 neighbours, no corner cutting.

    The cost of a step is its length times a slope penalty (``1 + (slope / 10 %)²``) and a
    height penalty (roads keep low, so they follow the coast).

    Parameters
    ----------
    layout
        The region's grid.
    plan
        The island group.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric step costs between the group's blocks (row-major indices inside the group).
    """
    land = plan.land
    elev = plan.elevation_m
    ny, nx = land.shape
    idx = np.arange(ny * nx, dtype=np.int64).reshape(ny, nx)
    dy_m = BLOCK * layout.cell_dy_m
    centre_rows = np.arange(plan.box.cr0, plan.box.cr1) * BLOCK + BLOCK / 2 - 0.5
    dx_rows = BLOCK * layout.cell_dx_m(centre_rows)
    heads: list[IntArray] = []
    tails: list[IntArray] = []
    costs: list[FloatArray] = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ra, rb = slice(0, ny - dr), slice(dr, ny)
        ca, cb = slice(max(0, -dc), nx - max(0, dc)), slice(max(0, dc), nx + min(0, dc))
        ok = land[ra, ca] & land[rb, cb]
        if dr and dc:
            ok &= land[ra, cb] & land[rb, ca]
        length = np.sqrt((dr * dy_m) ** 2 + (dc * dx_rows[ra])[:, None] ** 2)
        slope = np.abs(elev[ra, ca] - elev[rb, cb]) / length
        mean_m = np.maximum(0.0, 0.5 * (elev[ra, ca] + elev[rb, cb]))
        cost = length * (1.0 + (slope / 0.10) ** 2) * (1.0 + mean_m / 1000.0)
        heads.append(idx[ra, ca][ok])
        tails.append(idx[rb, cb][ok])
        costs.append(np.broadcast_to(cost, ok.shape)[ok])
    a = np.concatenate(heads + tails)
    b = np.concatenate(tails + heads)
    w = np.concatenate(costs + costs)
    return sparse.csr_matrix((w, (a, b)), shape=(ny * nx, ny * nx))


def route(graph: sparse.csr_matrix, network: set[int], targets: Sequence[int]) -> list[list[int]]:
    """Least-cost paths from the network to each target, merging into earlier ones.

    ``network`` (block indices already on a road, or seeds) grows by the new paths. Each
    path starts at a network block and ends at its target; targets that are already on the
    network or cannot be reached are skipped.

    Parameters
    ----------
    graph
        Step costs (:func:`grid_graph`).
    network
        Blocks already on a road; updated in place.
    targets
        Blocks to reach, in order.

    Returns
    -------
    list of list of int
        One path of blocks per target reached.
    """
    todo = [t for t in targets if t not in network]
    if not network or not todo:
        return []
    dist, pred, _ = csgraph.dijkstra(
        graph,
        directed=True,
        indices=np.array(sorted(network), dtype=np.int64),
        min_only=True,
        return_predecessors=True,
    )
    paths: list[list[int]] = []
    for t in todo:
        if t in network or not np.isfinite(dist[t]):
            continue
        path = [t]
        node = t
        while True:
            p = int(pred[node])
            if p < 0:
                break
            path.append(p)
            if p in network:
                break
            node = p
        network.update(path)
        paths.append(path[::-1])
    return paths


def edges_of(nodes: Sequence[int]) -> Iterator[tuple[int, int]]:
    """The steps of a chain of blocks, each as a sorted pair.

    Parameters
    ----------
    nodes
        The chain.

    Yields
    ------
    tuple of int
        ``(smaller, larger)`` block index of each step.
    """
    for a, b in itertools.pairwise(nodes):
        yield (a, b) if a < b else (b, a)
