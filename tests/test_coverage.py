"""Coverage tables: hand-computed cases and conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.codes import REASON_BEYOND_LIMIT, REASON_NO_ROUTE, REASON_REACHED, REASON_WATER
from reach.errors import ConservationError
from reach.metrics.coverage import (
    ALL_ZONES_ID,
    OUTSIDE_ZONES_ID,
    check_conservation,
    coverage_table,
    weighted_quantiles_by_group,
)


def test_hand_computed_two_zones() -> None:
    people = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 5.0]])
    zone = np.array([[1, 1, 2], [2, 2, 0]])
    time = np.array([[10.0, 45.0, np.inf], [100.0, np.inf, 5.0]])
    reason = np.array(
        [[REASON_REACHED, REASON_REACHED, REASON_WATER], [REASON_REACHED, REASON_NO_ROUTE, 0]]
    )
    t = coverage_table(
        people, zone, time, reason,
        zone_ids=["A", "B"], zone_names=["Alpha", "Beta"], service="health",
        thresholds_min=[30, 60],
    )  # fmt: skip
    a, b, out, total = (t.iloc[i] for i in range(4))
    assert list(t["zone_id"]) == ["A", "B", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    assert a["population"] == 30 and a["within_30min"] == 10 and a["within_60min"] == 30
    assert a["mean_time_min"] == pytest.approx((10 * 10 + 20 * 45) / 30)
    assert a["median_time_min"] == 45  # the 15th person of 30 sits in the 45-minute cell
    assert b["population"] == 120
    assert b["reached_beyond_60min"] == 40
    assert b["unreachable_water_no_ferry"] == 30
    assert b["unreachable_no_network_link"] == 50
    assert b["unreachable_total"] == 80
    assert out["population"] == 5 and out["within_30min"] == 5
    assert total["population"] == people.sum()
    assert total["within_30min"] == 15
    assert total["pct_within_60min"] == pytest.approx(100 * 35 / 155)


def test_target_share_scales_everything() -> None:
    people = np.array([[100.0, 100.0]])
    t = coverage_table(
        people, np.array([[1, 1]]), np.array([[5.0, 90.0]]), np.zeros((1, 2), np.uint8),
        zone_ids=["A"], zone_names=["A"], service="s", thresholds_min=[30], target_share=0.25,
    )  # fmt: skip
    assert t.iloc[0]["population"] == 50
    assert t.iloc[0]["within_30min"] == 25
    # the table says whose people these are: a quarter of everyone, 200 in the all row
    assert list(t.columns[3:6]) == ["population", "target_share", "total_population"]
    assert (t["target_share"] == 0.25).all()
    assert t.iloc[-1]["total_population"] == 200


def test_conservation_violation_is_caught() -> None:
    people = np.array([[1.0, 2.0]])
    t = coverage_table(
        people, np.array([[1, 0]]), np.array([[1.0, 2.0]]), np.zeros((1, 2), np.uint8),
        zone_ids=["A"], zone_names=["A"], service="s", thresholds_min=[30],
    )  # fmt: skip
    t.loc[0, "within_30min"] -= 0.5
    with pytest.raises(ConservationError):
        check_conservation(t, raster_total=3.0, thresholds_min=[30])


def test_weighted_quantiles() -> None:
    q = weighted_quantiles_by_group(
        np.array([0, 0, 0, 1]), np.array([3.0, 1.0, 2.0, 7.0]), np.array([1.0, 1.0, 2.0, 1.0]),
        3, [0.5, 0.9],
    )  # fmt: skip
    # group 0 sorted: 1 (w1), 2 (w2), 3 (w1): half the weight (2) is reached at value 2
    assert q[0].tolist() == [2.0, 3.0]
    assert q[1].tolist() == [7.0, 7.0]
    assert np.isnan(q[2]).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_population_is_conserved(seed: int, n_zones: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (6, 7)
    people = rng.exponential(20.0, shape) * (rng.random(shape) < 0.8)
    zone = rng.integers(0, n_zones + 1, shape)
    time = rng.uniform(0, 200, shape)
    reason = rng.choice([REASON_REACHED, REASON_BEYOND_LIMIT, REASON_NO_ROUTE, REASON_WATER], shape)
    time[reason != REASON_REACHED] = np.inf
    t = coverage_table(
        people, zone, time, reason,
        zone_ids=[f"z{i}" for i in range(n_zones)], zone_names=[f"Z{i}" for i in range(n_zones)],
        service="s", thresholds_min=[30, 60, 120],
    )  # fmt: skip
    all_row = t[t["zone_id"] == ALL_ZONES_ID].iloc[0]
    assert all_row["population"] == pytest.approx(people.sum(), rel=1e-12)
    parts = (
        all_row["within_120min"] + all_row["reached_beyond_120min"] + all_row["unreachable_total"]
    )
    assert parts == pytest.approx(people.sum(), rel=1e-12)
