"""Capacity-limited coverage: per-facility catchments, allocation by priority, the three parts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from reach.codes import STATUS_BARRIER, STATUS_PASSABLE
from reach.engine.combined import combined_search
from reach.errors import ConservationError
from reach.metrics.capacity import (
    CAPACITY_PARTS,
    capacity_coverage,
    catchment_times,
    check_capacity_conservation,
    processing_order,
)
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.model.assemble import SearchGraph, moves_for
from reach.model.region import Region
from reach.results import Evaluation
from tests.helpers import tiny_baseline


def _matrix(rows: list[dict[int, float]], n_cells: int) -> sparse.csr_array:
    """Facility × cell times from one ``{cell: minutes}`` dict per facility."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.concatenate([np.array(sorted(r), dtype=np.int64) for r in rows] + [[]])
    data = np.concatenate([np.array([r[c] for c in sorted(r)]) for r in rows] + [[]])
    return sparse.csr_array((data, indices.astype(np.int64), indptr), shape=(len(rows), n_cells))


ZONE_ARGS: dict[str, object] = {
    "zone_ids": ["A", "B"],
    "zone_names": ["Alpha", "Beta"],
    "service": "health",
}


def test_closest_first_and_the_last_cell_is_split() -> None:
    # one facility, capacity 35; cells at 4, 1, 3, 2 minutes with 40, 10, 30, 20 people.
    # closest first: cell 1 (10 people, total 10), cell 3 (20, total 30), cell 2 (30 people,
    # only 5 left): 5 of its 30 served, 25 over capacity; cell 0 (40) over capacity entirely.
    people = np.array([40.0, 10.0, 30.0, 20.0, 7.0])
    times = _matrix([{0: 4.0, 1: 1.0, 2: 3.0, 3: 2.0}], 5)
    zone = np.array([1, 1, 2, 2, 0])
    r = capacity_coverage(
        people, times, capacity_people=np.array([35.0]), threshold_min=10, zone=zone, **ZONE_ARGS
    )
    np.testing.assert_allclose(r.served, [0, 10, 5, 20, 0])
    np.testing.assert_allclose(r.in_reach_over_capacity, [40, 0, 25, 0, 0])
    np.testing.assert_allclose(r.beyond_reach, [0, 0, 0, 0, 7])  # cell 4: no facility near
    np.testing.assert_allclose(r.served + r.in_reach_over_capacity + r.beyond_reach, people)
    f = r.facilities.iloc[0]
    assert f["served_people"] == 35.0 and f["unused_capacity_people"] == 0.0
    assert f["catchment_people"] == 100.0 and f["pct_capacity_used"] == 100.0
    assert f["served_up_to_min"] == 3.0  # the split cell is the furthest it serves
    np.testing.assert_allclose(r.served_by.toarray(), [[0, 10, 5, 20, 0]])


def test_threshold_cuts_the_catchment() -> None:
    people = np.array([10.0, 10.0, 10.0])
    times = _matrix([{0: 5.0, 1: 15.0, 2: 30.0}], 3)
    r = capacity_coverage(
        people, times, capacity_people=np.array([np.nan]), threshold_min=15,
        zone=np.array([1, 1, 2]), **ZONE_ARGS,
    )  # fmt: skip
    np.testing.assert_allclose(r.served, [10, 10, 0])  # 15 min is within 15 (inclusive)
    np.testing.assert_allclose(r.beyond_reach, [0, 0, 10])
    assert np.isnan(r.facilities["unused_capacity_people"].iloc[0])  # unlimited
    assert np.isnan(r.facilities["pct_capacity_used"].iloc[0])


def test_priority_order_decides_overlaps() -> None:
    # cells 0, 1, 2 with 10, 20, 30 people. Facility 0 (capacity 25) reaches cells 0, 1;
    # facility 1 (capacity 40) reaches cells 1, 2.
    people = np.array([10.0, 20.0, 30.0])
    times = _matrix([{0: 1.0, 1: 2.0}, {1: 1.0, 2: 2.0}], 3)
    cap = np.array([25.0, 40.0])
    zone = np.array([1, 1, 2])
    # facility 0 first: takes cell 0 (10) and 15 of cell 1; facility 1 then takes the other 5
    # of cell 1 and 30 of cell 2 — 35 of its 40. Everyone is served.
    a = capacity_coverage(
        people, times, capacity_people=cap, threshold_min=5, zone=zone, order=np.array([0, 1]),
        **ZONE_ARGS,
    )  # fmt: skip
    np.testing.assert_allclose(a.served, [10, 20, 30])
    np.testing.assert_allclose(a.facilities["served_people"], [25, 35])
    np.testing.assert_allclose(a.served_by.toarray(), [[10, 15, 0], [0, 5, 30]])
    # facility 1 first: takes all 20 of cell 1 and 20 of cell 2 (its nearest first); facility 0
    # then finds only cell 0 left (10): 10 of cell 2 remain, within reach but over capacity.
    b = capacity_coverage(
        people, times, capacity_people=cap, threshold_min=5, zone=zone, order=np.array([1, 0]),
        **ZONE_ARGS,
    )  # fmt: skip
    np.testing.assert_allclose(b.served, [10, 20, 20])
    np.testing.assert_allclose(b.in_reach_over_capacity, [0, 0, 10])
    np.testing.assert_allclose(b.facilities["served_people"], [10, 40])
    assert b.facilities["priority_rank"].tolist() == [2, 1]


def test_ties_in_time_go_by_cell_index() -> None:
    people = np.array([10.0, 10.0])
    times = _matrix([{0: 3.0, 1: 3.0}], 2)
    r = capacity_coverage(
        people, times, capacity_people=np.array([15.0]), threshold_min=5,
        zone=np.array([1, 2]), **ZONE_ARGS,
    )  # fmt: skip
    np.testing.assert_allclose(r.served, [10, 5])


def test_zone_table_hand_computed_and_target_share() -> None:
    people = np.array([40.0, 10.0, 30.0, 20.0, 7.0])
    times = _matrix([{0: 4.0, 1: 1.0, 2: 3.0, 3: 2.0}], 5)
    r = capacity_coverage(
        people, times, capacity_people=np.array([17.5]), threshold_min=10,
        zone=np.array([1, 1, 2, 2, 0]), target_share=0.5,
        facilities=pd.DataFrame({"facility_id": ["F"], "name": ["Clinic"], "tier": ["clinic"]}),
        **ZONE_ARGS,
    )  # fmt: skip
    # half of everybody: 20, 5, 15, 10, 3.5; capacity 17.5 → cell 1 (5), cell 3 (10), 2.5 of
    # cell 2. Zone A = cells 0, 1: 25 people, 5 served, 20 over. Zone B = cells 2, 3: 25
    # people, 12.5 served, 12.5 over. Outside: 3.5 beyond reach.
    z = r.zones.set_index("zone_id")
    assert list(r.zones["zone_id"]) == ["A", "B", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    np.testing.assert_allclose(z["population"], [25, 25, 3.5, 53.5])
    np.testing.assert_allclose(z["served"], [5, 12.5, 0, 17.5])
    np.testing.assert_allclose(z["in_reach_over_capacity"], [20, 12.5, 0, 32.5])
    np.testing.assert_allclose(z["beyond_reach"], [0, 0, 3.5, 3.5])
    np.testing.assert_allclose(z["pct_served"], [20, 50, 0, 100 * 17.5 / 53.5])
    assert (r.zones["threshold_min"] == 10).all()
    assert r.facilities["facility_id"].tolist() == ["F"]
    assert r.facilities["name"].tolist() == ["Clinic"]


def test_zone_with_nobody_has_nan_shares() -> None:
    r = capacity_coverage(
        np.array([5.0, 0.0]), _matrix([{0: 1.0}], 2), capacity_people=np.array([np.nan]),
        threshold_min=5, zone=np.array([1, 2]), **ZONE_ARGS,
    )  # fmt: skip
    assert np.isnan(r.zones.loc[1, "pct_served"])


def test_facility_without_catchment_and_zero_capacity() -> None:
    people = np.array([10.0, 10.0])
    times = _matrix([{}, {0: 1.0, 1: 1.0}, {0: 0.0}], 2)
    r = capacity_coverage(
        people, times, capacity_people=np.array([50.0, 0.0, np.nan]), threshold_min=5,
        zone=np.array([1, 1]), **ZONE_ARGS,
    )  # fmt: skip
    np.testing.assert_allclose(r.facilities["served_people"], [0, 0, 10])
    np.testing.assert_allclose(r.facilities["unused_capacity_people"], [50, 0, np.nan])
    assert np.isnan(r.facilities["served_up_to_min"].iloc[0])
    assert r.facilities["served_up_to_min"].iloc[2] == 0.0  # its own cell, 0 minutes
    np.testing.assert_allclose(r.in_reach_over_capacity, [0, 10])


def test_processing_order_tier_then_capacity_then_index() -> None:
    tier = ["clinic", "hospital", "clinic", "clinic", "other"]
    cap = np.array([5.0, 1.0, np.nan, 5.0, 100.0])
    order = processing_order(
        5, tier=tier, tier_order=("hospital", "health_centre", "clinic"), capacity_people=cap
    )
    # hospital first; then clinics: unlimited (2) before 5, 5 (ties by index 0, 3); "other"
    # is not listed: last
    assert order.tolist() == [1, 2, 0, 3, 4]
    small_first = processing_order(5, capacity_people=cap, larger_capacity_first=False)
    assert small_first.tolist() == [1, 0, 3, 4, 2]
    assert processing_order(3).tolist() == [0, 1, 2]


def test_bad_inputs_are_refused() -> None:
    people = np.array([1.0, 2.0])
    times = _matrix([{0: 1.0}], 2)
    args = {"threshold_min": 5, "zone": np.array([1, 1]), **ZONE_ARGS}
    with pytest.raises(ValueError, match="capacity_people"):
        capacity_coverage(people, times, capacity_people=np.array([1.0, 2.0]), **args)
    with pytest.raises(ValueError, match="order"):
        capacity_coverage(
            people, times, capacity_people=np.array([1.0]), order=np.array([1]), **args
        )
    with pytest.raises(ValueError, match="capacities"):
        capacity_coverage(people, times, capacity_people=np.array([np.inf]), **args)
    with pytest.raises(ValueError, match="columns"):
        capacity_coverage(
            np.ones(3), times, capacity_people=np.array([1.0]),
            **{**args, "zone": np.array([1, 1, 1])},
        )  # fmt: skip
    duplicated = sparse.csr_array(
        (np.array([1.0, 2.0]), np.array([0, 0]), np.array([0, 2])), shape=(1, 2)
    )
    with pytest.raises(ValueError, match="once"):
        capacity_coverage(people, duplicated, capacity_people=np.array([1.0]), **args)


def test_conservation_check_catches_a_broken_account() -> None:
    people = np.array([10.0, 20.0])
    r = capacity_coverage(
        people, _matrix([{0: 1.0}], 2), capacity_people=np.array([4.0]), threshold_min=5,
        zone=np.array([1, 2]), **ZONE_ARGS,
    )  # fmt: skip
    check_capacity_conservation(r, people=people)
    broken = replace(r, served=r.served + np.array([1.0, 0.0]))
    with pytest.raises(ConservationError, match="cell"):
        check_capacity_conservation(broken, people=people)
    zones = r.zones.copy()
    zones.loc[0, "served"] += 1.0
    with pytest.raises(ConservationError, match="rows"):
        check_capacity_conservation(replace(r, zones=zones), people=people)
    fac = r.facilities.copy()
    fac.loc[0, "capacity_people"] = 1.0
    with pytest.raises(ConservationError, match="capacity"):
        check_capacity_conservation(replace(r, facilities=fac), people=people)


@st.composite
def allocations(draw: st.DrawFn) -> tuple[np.ndarray, sparse.csr_array, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_cells = draw(st.integers(1, 12))
    n_fac = draw(st.integers(1, 5))
    people = np.round(rng.uniform(0, 50, n_cells) * (rng.random(n_cells) < 0.8), 1)
    rows = [
        {int(c): float(rng.integers(0, 20)) for c in np.flatnonzero(rng.random(n_cells) < 0.5)}
        for _ in range(n_fac)
    ]
    cap = np.where(rng.random(n_fac) < 0.25, np.nan, rng.uniform(0, 60, n_fac))
    return people, _matrix(rows, n_cells), cap


@settings(max_examples=150, deadline=None)
@given(allocations(), st.integers(0, 20))
def test_allocation_invariants(
    case: tuple[np.ndarray, sparse.csr_array, np.ndarray], threshold: int
) -> None:
    people, times, cap = case
    n = len(people)
    r = capacity_coverage(
        people, times, capacity_people=cap, threshold_min=threshold,
        zone=np.arange(n) % 3, zone_ids=["A", "B"], zone_names=["A", "B"], service="s",
    )  # fmt: skip
    np.testing.assert_allclose(r.served + r.in_reach_over_capacity + r.beyond_reach, people)
    assert min(p.min() for p in (r.served, r.in_reach_over_capacity, r.beyond_reach)) >= 0
    # within reach of some facility ⟺ not beyond reach
    near = np.zeros(n, dtype=bool)
    for f in range(times.shape[0]):
        row = slice(times.indptr[f], times.indptr[f + 1])
        near[times.indices[row][times.data[row] <= threshold]] = True
    np.testing.assert_allclose(r.beyond_reach[~near], people[~near])
    assert (r.beyond_reach[near] == 0).all()
    # a facility with spare capacity left nobody in its catchment unserved
    fac = r.facilities
    for f in range(times.shape[0]):
        if np.isnan(cap[f]) or fac["served_people"].iloc[f] < cap[f] - 1e-9:
            row = slice(times.indptr[f], times.indptr[f + 1])
            cells = times.indices[row][times.data[row] <= threshold]
            assert np.allclose(r.in_reach_over_capacity[cells], 0.0)
    np.testing.assert_allclose(np.asarray(r.served_by.sum(axis=0)).ravel(), r.served)
    all_row = r.zones[r.zones["zone_id"] == ALL_ZONES_ID].iloc[0]
    assert all_row[list(CAPACITY_PARTS)].sum() == pytest.approx(people.sum())


# --- catchment_times: bounded searches from each facility ----------------------------------------


def _graph(rng: np.random.Generator, rows: int, cols: int, n_nodes: int) -> SearchGraph:
    """A small random grid with a few one-way network edges."""
    n = rows * cols
    blocked = rng.random(n) < 0.15
    pace = np.where(blocked, np.inf, 60.0 / (rng.uniform(1.0, 6.0, n) * 1000.0))
    n_edges = 2 * n_nodes
    src = rng.integers(0, max(n_nodes, 1), n_edges) if n_nodes else np.empty(0, np.int64)
    dst = rng.integers(0, max(n_nodes, 1), n_edges) if n_nodes else np.empty(0, np.int64)
    order = np.lexsort((src, dst))
    rev_indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n_nodes), out=rev_indptr[1:])
    return SearchGraph(
        rows=rows, cols=cols, pace_min_per_m=pace, elevation_m=np.empty(0),
        status=np.where(blocked, STATUS_BARRIER, STATUS_PASSABLE).astype(np.uint8),
        dx_m=np.full(rows, 90.0), dy_m=90.0, moves=moves_for(8),
        rev_indptr=rev_indptr, rev_src=src[order].astype(np.int64),
        rev_cost_min=rng.uniform(0.01, 0.5, n_edges)[order],
        node_cell=rng.integers(0, n, n_nodes).astype(np.int64),
        connector_min=rng.uniform(0.0, 0.5, n_nodes),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 7), st.integers(2, 7), st.integers(0, 6))
def test_catchment_times_equal_one_full_search_per_facility(
    seed: int, rows: int, cols: int, n_nodes: int
) -> None:
    rng = np.random.default_rng(seed)
    graph = _graph(rng, rows, cols, n_nodes)
    n = graph.n_cells
    people = rng.uniform(0, 10, n) * (rng.random(n) < 0.7)
    seeds = np.r_[rng.integers(0, n, 3), -1]
    bound = float(rng.uniform(0.5, 4.0))
    m = catchment_times(graph, seeds, people=people, max_time_min=bound)
    assert m.shape == (4, n)
    assert m.indptr[4] == m.indptr[3]  # the off-grid facility has an empty row
    for f, cell in enumerate(seeds[:3]):
        full = combined_search(graph, np.array([cell])).time_min  # unbounded, from scratch
        want = np.flatnonzero((full <= bound) & (people > 0))
        row = slice(m.indptr[f], m.indptr[f + 1])
        np.testing.assert_array_equal(m.indices[row], want)
        np.testing.assert_allclose(m.data[row], full[want])


def test_catchment_times_refuses_an_unbounded_search() -> None:
    graph = _graph(np.random.default_rng(0), 3, 3, 0)
    with pytest.raises(ValueError, match="finite"):
        catchment_times(graph, np.array([0]), people=np.ones(9), max_time_min=np.inf)
    with pytest.raises(ValueError, match="cells"):
        catchment_times(graph, np.array([0]), people=np.ones(8), max_time_min=5)


# --- on a whole (tiny) region ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Region, Evaluation, SearchGraph]:
    folder: Path = tmp_path_factory.mktemp("tiny_capacity")
    return tiny_baseline(folder)


def _zone_args(region: Region) -> dict[str, object]:
    return {
        "zone": region.zone,
        "zone_ids": region.zones["zone_id"].astype(str).tolist(),
        "zone_names": region.zones["name"].astype(str).tolist(),
        "service": "health",
    }


@pytest.mark.parametrize("threshold", [5.0, 15.0])
def test_unlimited_capacity_serves_exactly_the_covered(
    tiny: tuple[Region, Evaluation, SearchGraph], threshold: float
) -> None:
    region, base, graph = tiny
    res = base.services["health"]
    people = region.population.people
    m = catchment_times(graph, res.facilities["cell"].to_numpy(), people=people, max_time_min=15)
    r = capacity_coverage(
        people, m, capacity_people=np.full(m.shape[0], np.nan), threshold_min=threshold,
        facilities=res.facilities, **_zone_args(region),
    )  # fmt: skip
    # with no capacity limit, served = the people the nearest-facility coverage counts within T
    cov = res.coverage.set_index("zone_id")[f"within_{threshold:g}min"]
    got = r.zones.set_index("zone_id")["served"]
    np.testing.assert_allclose(got.to_numpy(), cov.loc[got.index].to_numpy(), rtol=1e-12)
    assert r.in_reach_over_capacity.sum() == 0
    assert r.facilities["facility_id"].tolist() == ["C1", "C2"]


def test_capacity_limits_on_a_region(tiny: tuple[Region, Evaluation, SearchGraph]) -> None:
    region, base, graph = tiny
    res = base.services["health"]
    people = region.population.people
    m = catchment_times(graph, res.facilities["cell"].to_numpy(), people=people, max_time_min=15)
    cap = np.array([1000.0, 500.0])
    r = capacity_coverage(
        people, m, capacity_people=cap, threshold_min=15,
        order=processing_order(2, capacity_people=cap), **_zone_args(region),
    )  # fmt: skip
    np.testing.assert_allclose(r.facilities["served_people"], cap)  # both fill up
    assert r.facilities["priority_rank"].tolist() == [1, 2]  # larger capacity first
    assert (r.facilities["catchment_people"] > cap).all()
    all_row = r.zones[r.zones["zone_id"] == ALL_ZONES_ID].iloc[0]
    assert all_row["served"] == pytest.approx(1500.0)
    assert all_row["population"] == pytest.approx(float(people.sum()))
    # the facilities take their closest people: each one's furthest served cell is nearer
    # than the threshold
    assert (r.facilities["served_up_to_min"] < 15).all()
