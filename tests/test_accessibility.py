"""Two-step floating catchment scores: hand-computed cases, decay curves, supply conservation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from reach.metrics.accessibility import (
    E2SFCA_EDGES_MIN,
    E2SFCA_WEIGHTS,
    GaussianDecay,
    StepDecay,
    fca_accessibility,
    fca_scores,
)
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID


def _matrix(rows: list[dict[int, float]], n_cells: int) -> sparse.csr_array:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.concatenate([np.array(sorted(r), dtype=np.int64) for r in rows] + [[]])
    data = np.concatenate([np.array([r[c] for c in sorted(r)]) for r in rows] + [[]])
    return sparse.csr_array((data, indices.astype(np.int64), indptr), shape=(len(rows), n_cells))


# cells 0..3 with 1000, 2000, 500 and 0 people; F0 (supply 2) reaches cell 0 in 5 min and cell 1
# in 25 min; F1 (supply 1) reaches cell 1 in 8 min and cell 2 in 15 min.
PEOPLE = np.array([1000.0, 2000.0, 500.0, 0.0])
TIMES = _matrix([{0: 5.0, 1: 25.0}, {1: 8.0, 2: 15.0}], 4)
SUPPLY = np.array([2.0, 1.0])
ZONE = np.array([1, 1, 2, 2])
ZONE_ARGS: dict[str, object] = {
    "zone": ZONE,
    "zone_ids": ["A", "B"],
    "zone_names": ["Alpha", "Beta"],
    "service": "health",
}


def test_plain_2sfca_hand_computed() -> None:
    score, demand, ratio = fca_scores(PEOPLE, TIMES, decay=StepDecay.plain(30), supply=SUPPLY)
    # step 1: F0 demand 1000 + 2000 = 3000, ratio 2 / 3000; F1 demand 2000 + 500 = 2500,
    # ratio 1 / 2500
    np.testing.assert_allclose(demand, [3000, 2500])
    np.testing.assert_allclose(ratio, [1000 * 2 / 3000, 1000 * 1 / 2500])
    # step 2 (per 1000 people): cell 0 → 2/3000·1000 = 0.6667; cell 1 → (2/3000 + 1/2500)·1000
    # = 1.0667; cell 2 → 1/2500·1000 = 0.4; cell 3 has no people: NaN
    np.testing.assert_allclose(score[:3], [2 / 3, 2 / 3 + 0.4, 0.4])
    assert math.isnan(score[3])


def test_enhanced_2sfca_hand_computed() -> None:
    decay = StepDecay(edges_min=(10, 20, 30), weights=(1.0, 0.68, 0.22))
    score, demand, _ = fca_scores(PEOPLE, TIMES, decay=decay, supply=SUPPLY)
    # weights: F0 → cell 0 (5 min) 1, cell 1 (25 min) 0.22; F1 → cell 1 (8 min) 1,
    # cell 2 (15 min) 0.68
    # step 1: D0 = 1000·1 + 2000·0.22 = 1440, R0 = 2/1440; D1 = 2000·1 + 500·0.68 = 2340,
    # R1 = 1/2340
    np.testing.assert_allclose(demand, [1440, 2340])
    r0, r1 = 2 / 1440, 1 / 2340
    # step 2: A0 = 1·R0 = 1.38889‰; A1 = 0.22·R0 + 1·R1 = 0.73291‰; A2 = 0.68·R1 = 0.29060‰
    np.testing.assert_allclose(score[:3], [1000 * r0, 1000 * (0.22 * r0 + r1), 1000 * 0.68 * r1])
    np.testing.assert_allclose(score[:3], [1.388889, 0.732906, 0.290598], atol=1e-6)
    # 1000·1.388889 + 2000·0.732906 + 500·0.290598 = 3000 per 1000 → all 3 units of supply
    assert float(np.nansum(PEOPLE * score)) / 1000 == pytest.approx(3.0)


def test_supply_defaults_to_one_per_facility() -> None:
    score, _, ratio = fca_scores(PEOPLE, TIMES, decay=StepDecay.plain(30))
    np.testing.assert_allclose(ratio, [1000 / 3000, 1000 / 2500])
    np.testing.assert_allclose(score[:3], [1 / 3, 1 / 3 + 0.4, 0.4])


def test_band_edges_are_inclusive_above() -> None:
    d = StepDecay(edges_min=(10, 20, 30), weights=(1.0, 0.5, 0.25))
    np.testing.assert_allclose(
        d.weight(np.array([0, 10, 10.001, 20, 30, 30.001])), [1, 1, 0.5, 0.5, 0.25, 0]
    )
    assert d.method == "E2SFCA" and StepDecay.plain(30).method == "2SFCA"
    assert StepDecay().edges_min == E2SFCA_EDGES_MIN and StepDecay().weights == E2SFCA_WEIGHTS
    assert d.max_time_min == 30


def test_gaussian_weights() -> None:
    d = GaussianDecay(cutoff_min=30)
    floor = math.exp(-0.5)
    mid = (math.exp(-0.5 * 0.25) - floor) / (1 - floor)  # t = 15: (e^-1/8 − e^-1/2)/(1 − e^-1/2)
    np.testing.assert_allclose(d.weight(np.array([0.0, 15.0, 30.0, 31.0])), [1, mid, 0, 0])
    assert mid == pytest.approx(0.7014, abs=1e-4)  # (0.8825 − 0.6065) / 0.3935
    w = d.weight(np.linspace(0, 30, 61))
    assert (np.diff(w) < 0).all()  # falls steadily
    score, demand, _ = fca_scores(PEOPLE, TIMES, decay=d, supply=SUPPLY)
    w0 = d.weight(np.array([5.0, 25.0]))
    assert demand[0] == pytest.approx(1000 * w0[0] + 2000 * w0[1])
    assert float(np.nansum(PEOPLE * score)) / 1000 == pytest.approx(3.0)


def test_zone_table_hand_computed() -> None:
    acc = fca_accessibility(PEOPLE, TIMES, decay=StepDecay.plain(30), supply=SUPPLY, **ZONE_ARGS)
    z = acc.zones
    assert list(z["zone_id"]) == ["A", "B", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    assert (z["method"] == "2SFCA").all()
    # A: (1000·0.6667 + 2000·1.0667) / 3000 = 2800 / 3000; B: 500·0.4 / 500 = 0.4 (cell 3 has
    # nobody); all: 3000 / 3500
    np.testing.assert_allclose(z["mean_supply_per_1000_people"][[0, 1, 3]], [2.8 / 3, 0.4, 3 / 3.5])
    assert math.isnan(z["mean_supply_per_1000_people"].iloc[2])  # nobody outside the zones
    np.testing.assert_allclose(z["supply_allocated"], [2.8, 0.2, 0.0, 3.0])
    np.testing.assert_allclose(z["population"], [3000, 500, 0, 3500])
    np.testing.assert_allclose(z["pct_with_access"][[0, 1, 3]], [100, 100, 100])
    # weighted lower median of A: 1000 people at 0.667, 2000 at 1.067 → 1.067
    assert z["median_supply_per_1000_people"].iloc[0] == pytest.approx(2 / 3 + 0.4)
    assert acc.facilities["supply_per_1000_people"].tolist() == pytest.approx([2 / 3, 0.4])


def test_unreachable_facility_and_people_without_access() -> None:
    people = np.array([100.0, 50.0, 10.0])
    times = _matrix([{0: 1.0}, {}], 3)  # F1 reaches nobody; cells 1, 2 reach nothing
    acc = fca_accessibility(
        people, times, decay=StepDecay.plain(30), supply=np.array([4.0, 9.0]),
        zone=np.array([1, 1, 0]), zone_ids=["A"], zone_names=["A"], service="s",
    )  # fmt: skip
    np.testing.assert_allclose(acc.supply_per_1000_people, [40.0, 0.0, 0.0])
    assert math.isnan(acc.facilities["supply_per_1000_people"].iloc[1])
    z = acc.zones.set_index("zone_id")
    assert z.loc["A", "pct_with_access"] == pytest.approx(100 * 100 / 150)
    # the unreachable facility's 9 units count nowhere: only F0's 4 are allocated
    assert z.loc[ALL_ZONES_ID, "supply_allocated"] == pytest.approx(4.0)


def test_target_share_scales_the_demand() -> None:
    full = fca_accessibility(PEOPLE, TIMES, decay=StepDecay.plain(30), **ZONE_ARGS)
    half = fca_accessibility(
        PEOPLE, TIMES, decay=StepDecay.plain(30), target_share=0.5, **ZONE_ARGS
    )
    np.testing.assert_allclose(half.supply_per_1000_people[:3], 2 * full.supply_per_1000_people[:3])


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="one weight per band"):
        StepDecay(edges_min=(10, 20), weights=(1.0,))
    with pytest.raises(ValueError, match="increasing"):
        StepDecay(edges_min=(20, 10), weights=(1.0, 0.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        StepDecay(edges_min=(10,), weights=(1.5,))
    with pytest.raises(ValueError, match="cutoff"):
        GaussianDecay(cutoff_min=0)
    with pytest.raises(ValueError, match="supply"):
        fca_scores(PEOPLE, TIMES, decay=StepDecay.plain(30), supply=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="columns"):
        fca_scores(np.ones(3), TIMES, decay=StepDecay.plain(30))


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, sparse.csr_array, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_cells = draw(st.integers(1, 15))
    n_fac = draw(st.integers(1, 6))
    people = rng.uniform(0, 100, n_cells) * (rng.random(n_cells) < 0.8)
    rows = [
        {int(c): float(rng.uniform(0, 40)) for c in np.flatnonzero(rng.random(n_cells) < 0.5)}
        for _ in range(n_fac)
    ]
    return people, _matrix(rows, n_cells), rng.uniform(0, 10, n_fac)


@settings(max_examples=150, deadline=None)
@given(instances(), st.sampled_from(["plain", "e2sfca", "gauss"]))
def test_scores_allocate_exactly_the_supply_within_reach(
    case: tuple[np.ndarray, sparse.csr_array, np.ndarray], kind: str
) -> None:
    people, times, supply = case
    decay = {"plain": StepDecay.plain(30), "e2sfca": StepDecay(), "gauss": GaussianDecay(35)}[kind]
    acc = fca_accessibility(
        people, times, decay=decay, supply=supply, zone=np.zeros(len(people), dtype=np.int64),
        zone_ids=[], zone_names=[], service="s",
    )  # fmt: skip
    score = acc.supply_per_1000_people
    assert np.isnan(score[people == 0]).all()
    assert (score[people > 0] >= 0).all()
    within = acc.facilities["weighted_demand_people"].to_numpy() > 0
    assert float(np.nansum(people * score)) / 1000 == pytest.approx(supply[within].sum())
