"""Where travellers join a road: feet of the roads, facility joins, and grid-size robustness."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.codes import STATUS_BARRIER, STATUS_PASSABLE
from reach.engine.combined import combined_search
from reach.ingest.roads import RoadLines
from reach.model.assemble import facility_seeds, search_graph
from reach.model.grid import AnalysisGrid, Friction
from reach.model.joins import walk_minutes
from reach.model.network import build_network
from reach.model.snap import snap_to_passable
from reach.model.speeds import default_profile
from tests.helpers import road_lines, utm_grid
from tests.test_engine_exact import explicit_graph


def _friction(pace: np.ndarray) -> Friction:
    status = np.where(np.isfinite(pace), STATUS_PASSABLE, STATUS_BARRIER).astype(np.uint8)
    return Friction(pace_min_per_m=pace, status=status, elevation_m=None)


def test_a_cell_beside_a_road_walks_straight_to_it() -> None:
    """The road runs 30 m inside the next row: the cell above walks 80 m straight down to it."""
    grid = utm_grid(4, 6, 100.0)
    y_road = 400.0 - 100.0 - 30.0  # 30 m below the top of row 1
    lines = road_lines([([(0.0, y_road), (600.0, y_road)], {"highway": "primary"})])
    net = build_network(lines, grid, profile=default_profile("car"), ferry_wait_min=0)
    feet = net.feet
    # the cell of row 0, column 2 (centre at x=250, y=350): foot right below, 80 m away
    k = int(np.flatnonzero(feet.cell == 0 * 6 + 2)[0])
    assert feet.x[k] == 250.0 and feet.y[k] == y_road
    np.testing.assert_allclose(feet.walk_m[k].sum(), 80.0)
    # 50 m in its own cell, 30 m in the cell below, nothing in a third
    assert feet.walk_cells[k].tolist() == [2, 8, -1]
    np.testing.assert_allclose(feet.walk_m[k, :2], [50.0, 30.0])
    # the row of the road itself walks 20 m; row 3 is two rows off and has no foot
    assert set(feet.cell.tolist()) == set(range(0, 18))
    # a slow cell on the way makes the walk slower; an impassable one makes it impossible
    pace = np.full((4, 6), 0.015)
    pace[1, 2] = 0.06
    minutes = walk_minutes(feet.walk_cells, feet.walk_m, pace.ravel())
    np.testing.assert_allclose(minutes[k], 50 * 0.015 + 30 * 0.06)
    pace[1, 2] = np.inf
    assert math.isinf(walk_minutes(feet.walk_cells, feet.walk_m, pace.ravel())[k])


def test_spurs_never_shorten_the_road() -> None:
    """End → foot → end costs the piece's time; one-way pieces get one-way spurs."""
    grid = utm_grid(5, 5, 100.0)
    lines = road_lines([([(20.0, 20.0), (480.0, 470.0)], {"highway": "primary", "oneway": "yes"})])
    bare = build_network(
        lines, grid, profile=default_profile("car"), ferry_wait_min=0, road_joins=False
    )
    net = build_network(lines, grid, profile=default_profile("car"), ferry_wait_min=0)
    assert net.first_foot == bare.n_nodes and net.feet.n > 0
    g = nx.DiGraph()
    for s, d, t in zip(net.src, net.dst, net.time_min, strict=True):
        g.add_edge(int(s), int(d), weight=float(t))
    road = nx.DiGraph()
    for s, d, t in zip(bare.src, bare.dst, bare.time_min, strict=True):
        road.add_edge(int(s), int(d), weight=float(t))
    for a in range(bare.n_nodes):
        want = nx.single_source_dijkstra_path_length(road, a)
        got = nx.single_source_dijkstra_path_length(g, a)
        for b, t in want.items():
            assert got[b] == np.float64(t) or abs(got[b] - t) <= 1e-12 * max(t, 1)
        # and no road node is reached that the road alone does not reach
        assert {b for b in got if b < bare.n_nodes} == set(want)


@st.composite
def road_cases(draw: st.DrawFn) -> tuple[AnalysisGrid, Friction, RoadLines, np.ndarray]:
    rows = draw(st.integers(3, 7))
    cols = draw(st.integers(3, 7))
    cell = 100.0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    speeds_kph = rng.uniform(1.0, 6.0, (rows, cols))
    blocked = rng.random((rows, cols)) < draw(st.sampled_from([0.0, 0.15, 0.3]))
    pace = np.where(blocked, np.inf, 60.0 / (speeds_kph * 1000.0))
    ways = []
    for _ in range(draw(st.integers(1, 3))):
        n_pts = draw(st.integers(2, 4))
        pts = [
            (float(rng.uniform(0, cols * cell)), float(rng.uniform(0, rows * cell)))
            for _ in range(n_pts)
        ]
        tags = {"highway": str(rng.choice(["primary", "track", "residential"]))}
        if rng.random() < 0.3:
            tags["oneway"] = "yes"
        ways.append((pts, tags))
    facilities = rng.uniform([0, 0], [cols * cell, rows * cell], (draw(st.integers(1, 3)), 2))
    return utm_grid(rows, cols, cell), _friction(pace), road_lines(ways), facilities


@settings(max_examples=120, deadline=None)
@given(road_cases())
def test_no_walk_is_faster_than_the_land_it_crosses(
    case: tuple[AnalysisGrid, Friction, RoadLines, np.ndarray],
) -> None:
    """Each foot's walk minutes equal the pace integrated along its straight line."""
    grid, friction, lines, _ = case
    net = build_network(lines, grid, profile=default_profile("car"), ferry_wait_min=0)
    feet = net.feet
    minutes = walk_minutes(feet.walk_cells, feet.walk_m, friction.pace_min_per_m.ravel())
    t = grid.transform
    for k in range(feet.n):
        r, c = divmod(int(feet.cell[k]), grid.cols)
        x0, y0 = t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e
        s = (np.arange(4000) + 0.5) / 4000
        xs, ys = x0 + s * (feet.x[k] - x0), y0 + s * (feet.y[k] - y0)
        cells = grid.cell_of(xs, ys)
        length = math.hypot(feet.x[k] - x0, feet.y[k] - y0)
        assert (cells >= 0).all()
        # the foot lies in the cell's 3×3 block
        fr, fc = divmod(int(cells[-1]), grid.cols)
        assert abs(fr - r) <= 1 and abs(fc - c) <= 1
        pace = friction.pace_min_per_m.ravel()[cells]
        if np.isinf(pace).any():
            assert math.isinf(minutes[k])
        else:
            assert minutes[k] == np.float64(minutes[k])
            np.testing.assert_allclose(minutes[k], pace.mean() * length, rtol=2e-3, atol=1e-9)


@settings(max_examples=120, deadline=None)
@given(road_cases())
def test_search_with_road_and_facility_joins_equals_networkx(
    case: tuple[AnalysisGrid, Friction, RoadLines, np.ndarray],
) -> None:
    """The engine over feet, spurs and facility joins is a plain Dijkstra of that graph."""
    grid, friction, lines, points = case
    net = build_network(lines, grid, profile=default_profile("car"), ferry_wait_min=0)
    graph = search_graph(grid, friction, net)
    passable = np.isfinite(friction.pace_min_per_m)
    cells = snap_to_passable(points[:, 0], points[:, 1], grid, passable)
    seeds = facility_seeds(
        points[:, 0], points[:, 1], cells, net, grid, pace_min_per_m=friction.pace_min_per_m
    )
    on = np.flatnonzero(cells >= 0)
    res = combined_search(
        graph, seeds.cells.vertex, seed_facility=seeds.cells.point.astype(np.int32),
        seed_time_min=seeds.cells.time_min, node_seeds=seeds.nodes.as_engine(),
    )  # fmt: skip
    reverse = explicit_graph(graph).reverse(copy=True)
    for part, kind in ((seeds.cells, "c"), (seeds.nodes, "n")):
        for v, tm in zip(part.vertex, part.time_min, strict=True):
            w, key = float(tm), (kind, int(v))
            if not reverse.has_edge("source", key) or reverse["source"][key]["weight"] > w:
                reverse.add_edge("source", key, weight=w)
    # every facility on the grid starts at least at its own cell
    assert set(np.unique(seeds.cells.point)) == set(on.tolist())
    expected = nx.single_source_dijkstra_path_length(reverse, "source") if len(on) else {}
    for cell in range(graph.n_cells):
        want = expected.get(("c", cell), math.inf)
        got = res.time_min[cell]
        assert (math.isinf(want) and math.isinf(got)) or abs(got - want) <= 1e-9 * max(1, want)


def _coverage(cell_m: float, *, joins: bool) -> np.ndarray:
    """Share of people within 10, 20 and 30 min on a generated 3 × 3 km case at one grid size.

    One road runs off-grid-line through the area; people are spread evenly at 20 m; one clinic
    stands near the road. Every grid holds the same people in the same places.
    """
    side = 3000.0
    n = int(side / cell_m)
    grid = utm_grid(n, n, cell_m)
    rng = np.random.default_rng(5)
    fine = 20.0
    k = int(side / fine)
    xs, ys = np.meshgrid((np.arange(k) + 0.5) * fine, (np.arange(k) + 0.5) * fine)
    people = rng.gamma(2.0, 1.0, xs.shape)
    cell = grid.cell_of(xs.ravel(), ys.ravel())
    pop = np.bincount(cell, weights=people.ravel(), minlength=grid.n_cells)
    pace = np.full((n, n), 60.0 / 3000.0)  # 3 km/h off road
    lines = road_lines(
        [([(0.0, 1234.0), (1700.0, 1561.0), (3000.0, 1777.0)], {"highway": "primary"})]
    )
    net = build_network(
        lines, grid, profile=default_profile("car"), ferry_wait_min=0, road_joins=joins
    )
    friction = _friction(pace)
    graph = search_graph(grid, friction, net)
    clinic = np.array([[2211.0]]), np.array([[1790.0]])
    fac_cell = grid.cell_of(clinic[0].ravel(), clinic[1].ravel())
    if joins:
        s = facility_seeds(
            clinic[0].ravel(), clinic[1].ravel(), fac_cell, net, grid, pace_min_per_m=pace
        )
        res = combined_search(
            graph, s.cells.vertex, seed_time_min=s.cells.time_min,
            seed_facility=np.zeros(s.cells.n, np.int32), node_seeds=s.nodes.as_engine(),
        )  # fmt: skip
    else:
        res = combined_search(graph, fac_cell)
    return np.array([pop[res.time_min <= t].sum() / pop.sum() * 100 for t in (10, 20, 30)])


def test_coverage_converges_with_the_grid_size() -> None:
    """With the joins, 150 m and 250 m grids give coverage within 1 point of a 50 m grid's;
    through the cell centres only (no feet, facilities at their cells' centres) they miss by
    several points."""
    fine = _coverage(50.0, joins=True)
    for cell_m in (150.0, 250.0):
        coarse = _coverage(cell_m, joins=True)
        old = _coverage(cell_m, joins=False)
        assert np.abs(coarse - fine).max() <= 1.0, (cell_m, coarse, fine)
        assert np.abs(old - fine).max() >= 3.0, (cell_m, old, fine)
