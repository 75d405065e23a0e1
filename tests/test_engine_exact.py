"""The combined search equals a plain Dijkstra over the explicit combined graph (networkx)."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.codes import (
    CLOSED,
    REASON_BEYOND_LIMIT,
    REASON_NO_ROUTE,
    REASON_REACHED,
    STATUS_BARRIER,
    STATUS_PASSABLE,
)
from reach.engine.combined import combined_search, network_search
from reach.model.assemble import SearchGraph, moves_for
from reach.run.session import faster_edges


def reference_cost(g: SearchGraph, u: int, v: int) -> float:
    """Walking cost u → v written out plainly, independent of the kernel."""
    pace = g.pace_min_per_m
    ru, cu = divmod(u, g.cols)
    rv, cv = divmod(v, g.cols)
    if math.isinf(pace[u]) or math.isinf(pace[v]):
        return math.inf
    dr, dc = rv - ru, cv - cu
    crossed: list[tuple[int, int]] = []
    if abs(dr) == 1 and abs(dc) == 1:
        crossed = [] if g.cut_corners else [(ru, cv), (rv, cu)]
    elif abs(dr) == 1 and abs(dc) == 2:
        crossed = [(ru, cu + dc // 2), (rv, cu + dc // 2)]
    elif abs(dr) == 2 and abs(dc) == 1:
        crossed = [(ru + dr // 2, cu), (ru + dr // 2, cv)]
    if any(math.isinf(pace[r * g.cols + c]) for r, c in crossed):
        return math.inf
    width = abs(dc) * (g.dx_m[ru] + g.dx_m[rv]) / 2
    dist = math.hypot(width, abs(dr) * g.dy_m)
    cost = dist * (pace[u] + pace[v]) / 2
    if g.elevation_m.size:
        slope = (g.elevation_m[v] - g.elevation_m[u]) / dist
        tobler = 6 * math.exp(-3.5 * abs(slope + 0.05))
        cost *= (6 * math.exp(-3.5 * 0.05)) / tobler
    return cost


def explicit_graph(g: SearchGraph) -> nx.DiGraph:
    graph = nx.DiGraph()
    for u in range(g.n_cells):
        graph.add_node(("c", u))
        ru, cu = divmod(u, g.cols)
        for dr, dc in g.moves:
            rv, cv = ru + dr, cu + dc
            if 0 <= rv < g.rows and 0 <= cv < g.cols:
                cost = reference_cost(g, u, rv * g.cols + cv)
                if math.isfinite(cost):
                    graph.add_edge(("c", u), ("c", rv * g.cols + cv), weight=cost)
    for j in range(g.n_nodes):
        graph.add_node(("n", j))
        for e in range(g.rev_indptr[j], g.rev_indptr[j + 1]):
            a, b = ("n", int(g.rev_src[e])), ("n", j)
            w = float(g.rev_cost_min[e])
            if not graph.has_edge(a, b) or graph[a][b]["weight"] > w:
                graph.add_edge(a, b, weight=w)
        if g.node_cell[j] >= 0:
            w = float(g.connector_min[j])
            graph.add_edge(("n", j), ("c", int(g.node_cell[j])), weight=w)
            graph.add_edge(("c", int(g.node_cell[j])), ("n", j), weight=w)
    return graph


@st.composite
def instances(draw: st.DrawFn) -> tuple[SearchGraph, np.ndarray]:
    rows = draw(st.integers(2, 7))
    cols = draw(st.integers(2, 7))
    n = rows * cols
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    speeds_kph = rng.uniform(1.0, 6.0, n)
    blocked = rng.random(n) < draw(st.sampled_from([0.0, 0.15, 0.35]))
    pace = np.where(blocked, np.inf, 60.0 / (speeds_kph * 1000.0))
    status = np.where(blocked, STATUS_BARRIER, STATUS_PASSABLE).astype(np.uint8)
    elevation = rng.uniform(0, 60, n) if draw(st.booleans()) else np.empty(0)
    n_nodes = draw(st.integers(0, 8))
    n_edges = draw(st.integers(0, 16)) if n_nodes > 1 else 0
    src = rng.integers(0, max(n_nodes, 1), n_edges)
    dst = rng.integers(0, max(n_nodes, 1), n_edges)
    cost = rng.uniform(0.01, 5.0, n_edges)  # one-way edges; a ferry is just a long edge
    order = np.lexsort((src, dst))
    src, dst, cost = src[order], dst[order], cost[order]
    rev_indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n_nodes), out=rev_indptr[1:])
    node_cell = np.where(rng.random(n_nodes) < 0.8, rng.integers(0, n, n_nodes), -1)
    graph = SearchGraph(
        rows=rows,
        cols=cols,
        pace_min_per_m=pace,
        elevation_m=elevation,
        status=status,
        dx_m=rng.uniform(80, 100, rows),
        dy_m=float(rng.uniform(80, 100)),
        moves=moves_for(draw(st.sampled_from([8, 16]))),
        rev_indptr=rev_indptr,
        rev_src=src.astype(np.int64),
        rev_cost_min=cost,
        node_cell=node_cell.astype(np.int64),
        connector_min=rng.uniform(0.0, 1.0, n_nodes) * (rng.random(n_nodes) < 0.7),
        cut_corners=draw(st.booleans()),
    )
    seeds = rng.choice(n, size=draw(st.integers(1, 3)), replace=False)
    return graph, seeds


@settings(max_examples=200, deadline=None)
@given(instances())
def test_combined_search_equals_networkx_dijkstra(case: tuple[SearchGraph, np.ndarray]) -> None:
    graph, seeds = case
    result = combined_search(graph, seeds)
    reverse = explicit_graph(graph).reverse(copy=True)
    expected = nx.multi_source_dijkstra_path_length(reverse, [("c", int(s)) for s in seeds])
    for cell in range(graph.n_cells):
        want = expected.get(("c", cell), math.inf)
        got = result.time_min[cell]
        if math.isinf(want):
            assert math.isinf(got)
            assert result.facility[cell] == -1
        else:
            assert got == np.float64(want) or abs(got - want) <= 1e-9 * max(1.0, want)
            # the catchment is a facility at exactly that time
            fac = int(result.facility[cell])
            single = nx.single_source_dijkstra_path_length(reverse, ("c", int(seeds[fac])))
            assert abs(single[("c", cell)] - want) <= 1e-9 * max(1.0, want)
            assert result.reason[cell] == REASON_REACHED
    for j in range(graph.n_nodes):
        want = expected.get(("n", j), math.inf)
        got = result.node_time_min[j]
        assert (math.isinf(want) and math.isinf(got)) or abs(got - want) <= 1e-9 * max(1, want)


@settings(max_examples=200, deadline=None)
@given(instances(), st.floats(0.0, 30.0))
def test_time_limit_splits_beyond_limit_from_no_route(
    case: tuple[SearchGraph, np.ndarray], limit: float
) -> None:
    graph, seeds = case
    full = combined_search(graph, seeds)
    cut = combined_search(graph, seeds, max_time_min=limit)
    within = full.time_min <= limit
    np.testing.assert_array_equal(cut.time_min[within], full.time_min[within])
    assert np.isinf(cut.time_min[~within]).all()
    passable = graph.status == STATUS_PASSABLE
    beyond = ~within & np.isfinite(full.time_min) & passable
    assert (cut.reason[beyond] == REASON_BEYOND_LIMIT).all()
    assert (cut.reason[np.isinf(full.time_min) & passable] == REASON_NO_ROUTE).all()


@settings(max_examples=200, deadline=None)
@given(instances(), st.floats(0.5, 30.0) | st.just(math.inf), st.integers(1, 3))
def test_adding_seeds_to_a_search_equals_searching_from_all(
    case: tuple[SearchGraph, np.ndarray], limit: float, n_new: int
) -> None:
    graph, seeds = case
    rng = np.random.default_rng(len(seeds) + graph.n_cells)
    new = rng.choice(graph.n_cells, size=min(n_new, graph.n_cells), replace=False)
    old_ids = np.arange(len(seeds))
    new_ids = np.arange(len(seeds), len(seeds) + len(new))
    both = combined_search(
        graph, np.r_[seeds, new], seed_facility=np.r_[old_ids, new_ids], max_time_min=limit
    )
    before = combined_search(graph, seeds, max_time_min=limit)
    after = combined_search(graph, new, seed_facility=new_ids, max_time_min=limit, start=before)
    np.testing.assert_array_equal(after.time_min, both.time_min)
    np.testing.assert_array_equal(after.node_time_min, both.node_time_min)
    np.testing.assert_array_equal(after.reason, both.reason)
    # the catchment differs only on exact ties, and then at the same time
    differs = after.facility != both.facility
    assert (np.isfinite(after.time_min[differs])).all()
    # adding never makes anything slower
    assert (after.time_min <= before.time_min).all()


@settings(max_examples=300, deadline=None)
@given(instances(), st.floats(0.5, 30.0) | st.just(math.inf), st.data())
def test_closing_facilities_of_a_search_equals_searching_from_the_rest(
    case: tuple[SearchGraph, np.ndarray], limit: float, data: st.DataObject
) -> None:
    graph, seeds = case
    n = len(seeds)
    shut = np.array(
        data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)), dtype=int
    )
    keep = np.setdiff1d(np.arange(n), shut)
    before = combined_search(graph, seeds, max_time_min=limit)
    rest = combined_search(graph, seeds[keep], seed_facility=keep, max_time_min=limit)
    assert before.node_facility is not None
    start = dataclasses.replace(
        before,
        facility=np.where(np.isin(before.facility, shut), CLOSED, before.facility),
        node_facility=np.where(np.isin(before.node_facility, shut), CLOSED, before.node_facility),
    )
    after = combined_search(graph, np.empty(0, dtype=np.int64), max_time_min=limit, start=start)
    np.testing.assert_array_equal(after.time_min, rest.time_min)
    np.testing.assert_array_equal(after.node_time_min, rest.node_time_min)
    np.testing.assert_array_equal(after.reason, rest.reason)
    # catchments differ only on exact ties, never onto a closed facility
    assert not np.isin(after.facility, shut).any()
    assert (np.isfinite(after.time_min[after.facility != rest.facility])).all()
    # closing never makes anything faster
    assert (after.time_min >= before.time_min).all()


@settings(max_examples=300, deadline=None)
@given(instances(), st.floats(0.5, 30.0) | st.just(math.inf), st.data())
def test_searching_on_after_edges_got_faster_equals_searching_again(
    case: tuple[SearchGraph, np.ndarray], limit: float, data: st.DataObject
) -> None:
    graph, seeds = case
    m = len(graph.rev_cost_min)
    factor = np.array(data.draw(st.lists(st.sampled_from([1.0, 0.5, 0.1, 0.0]), min_size=m,
                                         max_size=m)))  # fmt: skip
    faster = dataclasses.replace(graph, rev_cost_min=graph.rev_cost_min * factor)
    before = combined_search(graph, seeds, max_time_min=limit)
    again = combined_search(faster, seeds, max_time_min=limit)
    found = faster_edges(graph, faster, before)
    assert found is not None
    assert before.node_facility is not None
    nodes, times, into = found
    after = combined_search(
        faster, np.empty(0, dtype=np.int64), max_time_min=limit, start=before,
        node_seeds=(nodes, times, before.node_facility[into]),
    )  # fmt: skip
    np.testing.assert_array_equal(after.time_min, again.time_min)
    np.testing.assert_array_equal(after.node_time_min, again.node_time_min)
    np.testing.assert_array_equal(after.reason, again.reason)
    assert (np.isfinite(after.time_min[after.facility != again.facility])).all()
    # a slower edge is not carried on
    if (faster.rev_cost_min < graph.rev_cost_min).any():
        assert faster_edges(faster, graph, again) is None


@st.composite
def networks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random directed network as reversed CSR, and some source nodes."""
    n = draw(st.integers(1, 30))
    m = draw(st.integers(0, 90))
    src = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    dst = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    cost = np.array(draw(st.lists(st.floats(0.0, 10.0), min_size=m, max_size=m)))
    order = np.lexsort((src, dst))
    src, dst, cost = src[order], dst[order], cost[order]
    indptr = np.searchsorted(dst, np.arange(n + 1)).astype(np.int64)
    sources = np.array(
        draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4, unique=True)), dtype=np.int64
    )
    return indptr, src, cost, sources


@settings(max_examples=200, deadline=None)
@given(networks(), st.floats(0.5, 20.0) | st.just(math.inf))
def test_network_search_equals_networkx_dijkstra(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], limit: float
) -> None:
    indptr, src, cost, sources = case
    n = len(indptr) - 1
    rev = nx.DiGraph()
    rev.add_nodes_from(range(n))
    for j in range(n):
        for e in range(indptr[j], indptr[j + 1]):
            # parallel edges: the cheapest one counts
            w = (
                min(float(cost[e]), rev.edges[j, src[e]]["w"])
                if rev.has_edge(j, src[e])
                else cost[e]
            )
            rev.add_edge(j, int(src[e]), w=float(w))
    expected = nx.multi_source_dijkstra_path_length(rev, {int(s) for s in sources}, weight="w")
    got = network_search(indptr, src, cost, sources, max_time_min=limit)
    for v in range(n):
        want = expected.get(v, math.inf)
        want = want if want <= limit else math.inf
        assert got.time_min[v] == want or math.isclose(got.time_min[v], want, abs_tol=1e-9)
        assert (got.source[v] >= 0) == math.isfinite(want)
