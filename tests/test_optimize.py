"""Siting: maximal covering by greedy and by MILP, budgets, capacities, candidates, operations."""

from __future__ import annotations

import itertools
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from reach.engine.combined import combined_search
from reach.model.assemble import SearchGraph
from reach.model.grid import AnalysisGrid
from reach.model.region import Region
from reach.results import Evaluation
from reach.run.evaluate import evaluate
from reach.scenarios.optimize import (
    GREEDY_GUARANTEE,
    GREEDY_GUARANTEE_BUDGET,
    SitingProblem,
    build_siting_problem,
    candidates_from_grid,
    candidates_from_points,
    candidates_from_underserved,
    compare_solvers,
    covered_people,
    exact_sites,
    greedy_sites,
    siting_problem,
)
from reach.spec import Alternative
from tests.helpers import tiny_baseline

# four villages of 1 person and a hamlet of ½. A covers villages 1, 2; B covers 3, 4; C covers
# 2, 3 and the hamlet. Greedy takes C first (2.5 people) and then only adds 1 more; A + B cover 4.
COVER = np.array(
    [
        [1, 1, 0, 0, 0],  # A
        [0, 0, 1, 1, 0],  # B
        [0, 1, 1, 0, 1],  # C
    ]
)
PEOPLE = np.array([1.0, 1.0, 1.0, 1.0, 0.5])


def test_greedy_is_suboptimal_and_the_milp_finds_the_optimum() -> None:
    problem = siting_problem(COVER, PEOPLE)
    greedy = greedy_sites(problem, n_sites=2)
    assert greedy.sites["candidate_id"].tolist() == ["c2", "c0"]
    assert greedy.sites["marginal_gain_people"].tolist() == [2.5, 1.0]
    assert greedy.sites["cumulative_gain_people"].tolist() == [2.5, 3.5]
    assert greedy.covered_people == 3.5 and not greedy.proven_optimal
    # after C and A only B can add (village 4): the bound is 3.5 + 1 (+ 0 for the second best)
    assert greedy.upper_bound_people == 4.5
    exact = exact_sites(problem, n_sites=2)
    assert exact.sites["candidate"].tolist() == [0, 1]
    assert exact.covered_people == 4.0 and exact.proven_optimal
    assert exact.upper_bound_people == pytest.approx(4.0)
    both = compare_solvers(problem, n_sites=2)
    assert both.gap_people == pytest.approx(0.5)
    assert both.gap_pct == pytest.approx(12.5)
    assert greedy.covered_people >= GREEDY_GUARANTEE * exact.covered_people


def test_sites_that_add_nobody_are_not_chosen() -> None:
    problem = siting_problem(COVER, PEOPLE)
    for solution in (greedy_sites(problem, n_sites=3), exact_sites(problem, n_sites=3)):
        # two sites reach everyone; the third would add nobody
        assert solution.covered_people == 4.5
        assert (solution.sites["marginal_gain_people"] > 0).all()
    assert len(greedy_sites(problem, n_sites=0).sites) == 0
    assert exact_sites(problem, n_sites=0).covered_people == 0.0


def test_identical_demand_points_are_merged() -> None:
    cover = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]])
    people = np.array([2.0, 3.0, 5.0, 7.0, 0.0])
    problem = siting_problem(cover, people)
    # points 1 and 3 are covered by both sites: one group of 10; point 4 has nobody
    assert len(problem.demand_people) == 3
    assert sorted(problem.demand_people.tolist()) == [2.0, 5.0, 10.0]
    assert problem.demand_group[1] == problem.demand_group[3]  # points 1 and 3: one group
    assert problem.demand_cells.tolist() == [0, 1, 2, 3]
    assert covered_people(problem, [0]) == 12.0
    assert covered_people(problem, [0, 1]) == 17.0


def test_budget_takes_the_best_single_site_when_it_beats_the_ratio_greedy() -> None:
    # A costs 1 and covers 2 people (2 per unit); B costs 10 and covers 10 (1 per unit). With a
    # budget of 10 the cost-effectiveness greedy takes A and can afford nothing more; B alone
    # covers five times as many.
    problem = siting_problem(
        np.array([[1, 0], [0, 1]]), np.array([2.0, 10.0]), cost=np.array([1.0, 10.0])
    )
    greedy = greedy_sites(problem, budget=10)
    assert greedy.sites["candidate"].tolist() == [1]
    assert greedy.covered_people == 10.0 and greedy.total_cost == 10.0
    assert exact_sites(problem, budget=10).covered_people == 10.0
    both = greedy_sites(problem, budget=11)
    assert sorted(both.sites["candidate"].tolist()) == [0, 1]
    assert both.sites["cumulative_cost"].tolist()[-1] == 11.0
    with pytest.raises(ValueError, match="cost"):
        greedy_sites(siting_problem(COVER, PEOPLE), budget=3)
    with pytest.raises(ValueError, match="n_sites, a budget"):
        greedy_sites(problem)


def test_capacity_limits_what_a_site_covers() -> None:
    # two groups of 1 person. A (capacity 1) reaches both; B (no limit) reaches group 0 only.
    problem = siting_problem(
        np.array([[1, 1], [1, 0]]), np.array([1.0, 1.0]), capacity_people=np.array([1.0, np.nan])
    )
    assert problem.capacitated
    assert covered_people(problem, [0]) == 1.0  # A is full after one person
    assert covered_people(problem, [1]) == 1.0
    # together: B takes group 0, A takes group 1 (the best assignment, not first come)
    assert covered_people(problem, [0, 1]) == pytest.approx(2.0)
    greedy = greedy_sites(problem, n_sites=2)
    assert greedy.covered_people == pytest.approx(2.0)
    assert greedy.sites["capacity_people"].isna().tolist() == [False, True]
    exact = exact_sites(problem, n_sites=1)
    assert exact.covered_people == 1.0
    assert exact_sites(problem, n_sites=2).covered_people == pytest.approx(2.0)


@st.composite
def problems(draw: st.DrawFn, *, budget: bool = False, capacity: bool = False) -> SitingProblem:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_cand = draw(st.integers(1, 7))
    n_points = draw(st.integers(1, 12))
    cover = rng.random((n_cand, n_points)) < draw(st.sampled_from([0.2, 0.4, 0.6]))
    people = np.round(rng.uniform(0, 20, n_points), 2)
    cost = np.round(rng.uniform(0.5, 5, n_cand), 2) if budget else None
    cap = (
        np.where(rng.random(n_cand) < 0.3, np.nan, np.round(rng.uniform(1, 30, n_cand), 1))
        if capacity
        else None
    )
    return siting_problem(cover, people, cost=cost, capacity_people=cap)


def _brute_force(problem: SitingProblem, k: int, budget: float = math.inf) -> float:
    best = 0.0
    n = problem.n_candidates
    cost = np.zeros(n) if problem.cost is None else problem.cost
    for size in range(1, min(k, n) + 1):
        for sites in itertools.combinations(range(n), size):
            if cost[list(sites)].sum() <= budget + 1e-9:
                best = max(best, covered_people(problem, sites))
    return best


@settings(max_examples=120, deadline=None)
@given(problems(), st.integers(1, 4))
def test_greedy_within_the_guarantee_of_the_exact_optimum(problem: SitingProblem, k: int) -> None:
    greedy = greedy_sites(problem, n_sites=k)
    exact = exact_sites(problem, n_sites=k)
    tol = 1e-6 * max(1.0, problem.total_demand_people)
    assert exact.proven_optimal
    assert exact.covered_people == pytest.approx(_brute_force(problem, k), abs=tol)
    assert greedy.covered_people <= exact.covered_people + tol
    assert greedy.covered_people >= GREEDY_GUARANTEE * exact.covered_people - tol
    assert greedy.upper_bound_people >= exact.covered_people - tol
    for s in (greedy, exact):
        assert len(s.sites) <= k
        np.testing.assert_allclose(
            s.sites["marginal_gain_people"].cumsum(), s.sites["cumulative_gain_people"]
        )


@settings(max_examples=100, deadline=None)
@given(problems(budget=True), st.floats(0.5, 12))
def test_budget_is_respected_and_greedy_within_its_guarantee(
    problem: SitingProblem, budget: float
) -> None:
    greedy = greedy_sites(problem, budget=budget)
    exact = exact_sites(problem, budget=budget)
    tol = 1e-6 * max(1.0, problem.total_demand_people)
    assert greedy.sites["cost"].sum() <= budget + 1e-9
    assert exact.sites["cost"].sum() <= budget + 1e-9
    assert exact.covered_people == pytest.approx(
        _brute_force(problem, problem.n_candidates, budget), abs=tol
    )
    assert greedy.covered_people <= exact.covered_people + tol
    assert greedy.covered_people >= GREEDY_GUARANTEE_BUDGET * exact.covered_people - tol
    assert greedy.upper_bound_people >= exact.covered_people - tol


@settings(max_examples=60, deadline=None)
@given(problems(capacity=True), st.integers(1, 3))
def test_capacitated_milp_is_the_best_assignment(problem: SitingProblem, k: int) -> None:
    greedy = greedy_sites(problem, n_sites=k)
    exact = exact_sites(problem, n_sites=k)
    tol = 1e-6 * max(1.0, problem.total_demand_people)
    assert exact.covered_people == pytest.approx(_brute_force(problem, k), abs=tol)
    assert greedy.covered_people <= exact.covered_people + tol
    if problem.capacitated:
        assert math.isnan(greedy.upper_bound_people)  # no bound claimed with capacities


# --- operations and TOML ------------------------------------------------------------------------


def _solution_with_places() -> tuple[SitingProblem, pd.DataFrame]:
    candidates = pd.DataFrame(
        {
            "candidate_id": ["north", "south", "east"],
            "lon": [44.5, 44.51, 44.52],
            "lat": [-12.3, -12.31, -12.32],
            "capacity_people": [5000.0, np.nan, 2000.0],
        }
    )
    return siting_problem(COVER, PEOPLE, candidates=candidates, threshold_min=60), candidates


def test_operations_and_toml_make_a_valid_alternative() -> None:
    problem, _ = _solution_with_places()
    solution = exact_sites(problem, n_sites=2)
    ops = solution.operations(service="health", tier="health_centre")
    assert ops == [
        {
            "op": "add_facility", "service": "health", "facility_id": "new-1",
            "name": "New site 1", "lon": 44.5, "lat": -12.3, "tier": "health_centre",
            "capacity": 5000.0,
        },
        {
            "op": "add_facility", "service": "health", "facility_id": "new-2",
            "name": "New site 2", "lon": 44.51, "lat": -12.31, "tier": "health_centre",
        },
    ]  # fmt: skip
    text = solution.alternative_toml(name="two_sites", service="health", tier="health_centre")
    entry = tomllib.loads(text)["alternatives"][0]
    alt = Alternative.model_validate(entry)
    assert alt.name == "two_sites"
    assert [op.model_dump() for op in alt.operations] == [
        {**op, "capacity": op.get("capacity")} for op in ops
    ]
    assert "4 people newly within 60 min" in alt.description
    quoted = solution.alternative_toml(
        name="q", service="health", tier="clinic", description='a "quoted"\nname ü'
    )
    assert tomllib.loads(quoted)["alternatives"][0]["description"] == 'a "quoted"\nname ü'


def test_cost_goes_into_the_toml() -> None:
    problem = siting_problem(
        COVER, PEOPLE, cost=np.array([100.0, 250.0, 75.5]),
        candidates=pd.DataFrame({"candidate_id": list("ABC"), "lon": [1.0] * 3, "lat": [2.0] * 3}),
    )  # fmt: skip
    solution = greedy_sites(problem, budget=400)
    entry = tomllib.loads(solution.alternative_toml(name="b", service="s", tier="t"))
    assert entry["alternatives"][0]["cost"] == pytest.approx(solution.total_cost)


def test_operations_need_places() -> None:
    solution = greedy_sites(siting_problem(COVER, PEOPLE), n_sites=1)
    with pytest.raises(ValueError, match="lon / lat"):
        solution.operations(service="health", tier="clinic")


# --- candidates ----------------------------------------------------------------------------------


def _grid(rows: int = 60, cols: int = 60) -> AnalysisGrid:
    return AnalysisGrid(
        rows=rows, cols=cols, transform=Affine(100.0, 0, 500_000, 0, -100.0, 9_000_000),
        crs=CRS.from_epsg(32750), dx_m=np.full(rows, 100.0), dy_m=100.0,
    )  # fmt: skip


def _cell_lon_lat(grid: AnalysisGrid, cells: list[int]) -> tuple[np.ndarray, np.ndarray]:
    x, y = grid.cell_centres(np.array(cells))
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def test_candidates_from_points_snap_to_passable_cells() -> None:
    grid = _grid()
    passable = np.ones(grid.shape, dtype=bool)
    passable[10, 10] = False  # a lake
    lon, lat = _cell_lon_lat(grid, [5 * 60 + 7, 10 * 60 + 10])
    c = candidates_from_points(
        np.r_[lon, 0.0], np.r_[lat, 0.0], grid=grid, passable=passable, cost=[1, 2, 3]
    )
    assert c["candidate_id"].tolist() == ["p1", "p2", "p3"]
    assert c["cell"].iloc[0] == 5 * 60 + 7
    moved = int(c["cell"].iloc[1])
    assert moved != 10 * 60 + 10 and passable.ravel()[moved]
    r, col = divmod(moved, 60)
    assert abs(r - 10) <= 1 and abs(col - 10) <= 1
    assert c["cell"].iloc[2] == -1  # far off the grid
    assert c["cost"].tolist() == [1.0, 2.0, 3.0]


def test_candidates_on_a_lattice() -> None:
    grid = _grid()
    passable = np.ones(grid.shape, dtype=bool)
    passable[5, 5] = False
    allowed = np.zeros(grid.shape, dtype=bool)
    allowed[:30] = True
    c = candidates_from_grid(grid, passable, step_cells=10, allowed=allowed)
    rows, cols = np.divmod(c["cell"].to_numpy(), 60)
    assert set(rows) == {5, 15, 25} and set(cols) == {5, 15, 25, 35, 45, 55}
    assert len(c) == 3 * 6 - 1  # (5, 5) is a lake
    assert c["candidate_id"].iloc[0] == f"g{5 * 60 + 15}"
    assert c["lon"].between(100, 130).all() and c["lat"].between(-10, 0).all()


def test_candidates_from_the_underserved_screen() -> None:
    grid = _grid()
    people = np.zeros(grid.shape)
    people[10, 10] = 900.0
    time = np.full(grid.shape, 90.0)
    c = candidates_from_underserved(people, time, grid, threshold_min=60, n_sites=3, radius_m=500)
    assert c["candidate_id"].tolist() == ["u1"]
    assert c["cell"].tolist() == [10 * 60 + 10]
    assert c["underserved_people"].tolist() == [900.0]


# --- on a whole (tiny) region: the siting objective is what the pipeline then measures --------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Region, Evaluation, SearchGraph]:
    folder: Path = tmp_path_factory.mktemp("tiny_siting")
    return tiny_baseline(folder)


def test_candidate_coverage_is_the_uncovered_people_near_each_candidate(
    tiny: tuple[Region, Evaluation, SearchGraph],
) -> None:
    region, base, graph = tiny
    people = region.population.people.ravel()
    baseline = base.services["health"].search.time_min
    passable = np.isfinite(region.friction.pace_min_per_m)
    cands = candidates_from_grid(region.grid, passable, step_cells=9)
    problem = build_siting_problem(
        graph, cands, people=people, baseline_time_min=baseline, threshold_min=5
    )
    uncovered = people * ~(baseline <= 5)
    assert problem.total_demand_people <= uncovered.sum()
    for j, cell in enumerate(cands["cell"]):
        t = combined_search(graph, np.array([cell])).time_min  # a full search, for reference
        want = np.flatnonzero((t <= 5) & (uncovered > 0))
        groups = problem.cover.indices[problem.cover.indptr[j] : problem.cover.indptr[j + 1]]
        got = problem.demand_cells[np.isin(problem.demand_group, groups)]
        np.testing.assert_array_equal(np.sort(got), want)
        assert covered_people(problem, [j]) == pytest.approx(uncovered[want].sum())


def test_adding_the_chosen_sites_covers_what_the_solver_said(
    tiny: tuple[Region, Evaluation, SearchGraph],
) -> None:
    region, base, graph = tiny
    people = region.population.people.ravel()
    baseline = base.services["health"].search.time_min
    passable = np.isfinite(region.friction.pace_min_per_m)
    cands = candidates_from_grid(region.grid, passable, step_cells=7)
    problem = build_siting_problem(
        graph, cands, people=people, baseline_time_min=baseline, threshold_min=5
    )
    both = compare_solvers(problem, n_sites=2)
    assert both.exact.proven_optimal and both.gap_people >= -1e-9
    ops = both.exact.operations(service="health", tier="clinic")
    alt = Alternative.model_validate({"name": "sited", "operations": ops})
    ev = evaluate(region, name="sited", alternative=alt, baseline=base)

    def within(e: Evaluation) -> float:
        cov = e.services["health"].coverage
        return float(cov.loc[cov["zone_id"] == "(all)", "within_5min"].iloc[0])

    assert within(ev) - within(base) == pytest.approx(both.exact.covered_people, rel=1e-9)
