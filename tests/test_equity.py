"""Equity of travel times: Gini, Palma, weighted quantiles, the zone table and its ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.metrics.equity import equity_table, gini, palma_ratio, weighted_quantile

INF = np.inf


def test_gini_hand_computed() -> None:
    # 4 people with 1, 2, 3, 4 minutes: Σ_i Σ_j |t_i − t_j| = 2·(1+2+3+1+2+1) = 20 over 16 pairs;
    # mean 2.5 → G = 20 / (2 · 16 · 2.5) = 0.25
    assert gini(np.array([1.0, 2, 3, 4]), np.ones(4)) == pytest.approx(0.25)
    # three people at 1 minute, one at 4: Σ|·| = 2·3·3 = 18, mean 7/4 → 18 / (2·16·1.75) = 9/28
    assert gini(np.array([1.0, 4.0]), np.array([3.0, 1.0])) == pytest.approx(9 / 28)
    # a cell of 3 people counts as 3 people with its time
    assert gini(np.array([1.0, 4.0]), np.array([3.0, 1.0])) == pytest.approx(
        gini(np.array([1.0, 1, 1, 4]), np.ones(4))
    )
    assert gini(np.array([5.0, 5.0]), np.array([1.0, 7.0])) == 0.0  # everybody equal
    # one person bears all the travel among n: G = (n − 1) / n
    assert gini(np.array([0.0, 0, 0, 0, 10]), np.ones(5)) == pytest.approx(0.8)


def test_palma_hand_computed() -> None:
    # 4 people with 1, 2, 3, 4 minutes, each 25 % of the people. The shortest 40 %: person 1
    # (25 %) and 15/25 = 0.6 of person 2 → 1 + 0.6·2 = 2.2 person-minutes. The longest 10 %:
    # 0.4 of person 4 → 1.6. Palma = 1.6 / 2.2
    assert palma_ratio(np.array([1.0, 2, 3, 4]), np.ones(4)) == pytest.approx(1.6 / 2.2)
    # 10 people with 1..10 minutes: longest 10 % = 10, shortest 40 % = 1+2+3+4 = 10 → 1
    assert palma_ratio(np.arange(1.0, 11.0), np.ones(10)) == pytest.approx(1.0)
    # everybody equal: 10 % / 40 % = 0.25
    assert palma_ratio(np.array([7.0, 7.0]), np.array([3.0, 2.0])) == pytest.approx(0.25)
    # the shortest 40 % travel 0 minutes: unbounded
    assert palma_ratio(np.array([0.0, 0, 0, 0, 0, 9]), np.ones(6)) == math.inf


def test_undefined_cases_are_nan_not_zero() -> None:
    assert math.isnan(gini(np.array([1.0]), np.array([0.0])))  # nobody
    assert math.isnan(gini(np.array([0.0, 0.0]), np.ones(2)))  # nobody travels
    assert math.isnan(palma_ratio(np.array([0.0, 0.0]), np.ones(2)))
    assert math.isnan(weighted_quantile(np.array([3.0]), np.array([0.0]), 0.9))


def test_unreachable_must_be_left_out_explicitly() -> None:
    with pytest.raises(ValueError, match="finite"):
        gini(np.array([1.0, INF]), np.ones(2))
    with pytest.raises(ValueError, match="finite"):
        palma_ratio(np.array([1.0, np.nan]), np.ones(2))
    # ...but a time nobody lives at does not matter
    assert gini(np.array([1.0, 2.0, INF]), np.array([1.0, 1.0, 0.0])) == pytest.approx(1 / 6)


def test_weighted_quantile_lower_rule() -> None:
    t = np.array([10.0, 20.0, 30.0])
    w = np.array([5.0, 4.0, 1.0])
    assert weighted_quantile(t, w, 0.5) == 10.0  # 5 of 10 reach the half
    assert weighted_quantile(t, w, 0.9) == 20.0  # 9 of 10
    assert weighted_quantile(t, w, 0.91) == 30.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 200), st.floats(0.01, 50)), min_size=1, max_size=25),
)
def test_gini_equals_the_pairwise_definition(pairs: list[tuple[float, float]]) -> None:
    t = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    mean = float((w * t).sum() / w.sum())
    if mean <= 0:
        assert math.isnan(gini(t, w))
        return
    pairwise = float((w[:, None] * w[None, :] * np.abs(t[:, None] - t[None, :])).sum())
    assert gini(t, w) == pytest.approx(pairwise / (2 * w.sum() ** 2 * mean), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 100), min_size=10, max_size=60).filter(lambda v: len(v) % 10 == 0))
def test_palma_equals_counting_people(times: list[int]) -> None:
    # whole people, a multiple of 10 of them: the 10 % and 40 % are whole people too
    t = np.sort(np.array(times, dtype=np.float64))
    n = len(t)
    expected = t[-n // 10 :].sum() / t[: 4 * n // 10].sum()
    # the same people grouped into cells of equal time
    values, counts = np.unique(t, return_counts=True)
    assert palma_ratio(values, counts.astype(np.float64)) == pytest.approx(expected)


# --- the zone table ------------------------------------------------------------------------------

# zone A: four people at 1, 2, 3, 4 minutes; zone B: 2 people at 10 min, 2 unreachable, one
# empty cell; outside: 5 people at 7 min
PEOPLE = np.array([1.0, 1, 1, 1, 2, 2, 5, 0])
ZONE = np.array([1, 1, 1, 1, 2, 2, 0, 2])
TIME = np.array([1.0, 2, 3, 4, 10, INF, 7, np.nan])
ARGS: dict[str, object] = {
    "zone_ids": ["A", "B"],
    "zone_names": ["Alpha", "Beta"],
    "service": "health",
    "thresholds_min": [30, 5],
}


def test_table_hand_computed() -> None:
    t = equity_table(PEOPLE, ZONE, TIME, limit_min=60, **ARGS)
    # ranked by the share beyond the middle threshold (30): B has 50 %, A none
    assert list(t["zone_id"]) == ["B", "A", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    assert t["rank_worst_first"].tolist()[:2] == [1, 2]
    assert t["rank_worst_first"].isna().tolist() == [False, False, True, True]
    r = t.set_index("zone_id")
    np.testing.assert_allclose(r["population"], [4, 4, 5, 13])
    np.testing.assert_allclose(r["reached"], [2, 4, 5, 11])
    np.testing.assert_allclose(r["unreachable"], [2, 0, 0, 2])
    np.testing.assert_allclose(r["pct_unreachable"], [50, 0, 0, 200 / 13])
    np.testing.assert_allclose(r["beyond_5min"], [4, 0, 5, 9])  # unreachable are beyond
    np.testing.assert_allclose(r["pct_beyond_30min"], [50, 0, 0, 200 / 13])
    # reached only: A's 1..4 → mean 2.5, Gini 0.25, Palma 1.6/2.2; B's two at 10 → Gini 0,
    # Palma 0.25; all: (1+2+3+4 + 2·10 + 5·7) / 11 = 65/11
    np.testing.assert_allclose(r["mean_time_min_reached"], [10, 2.5, 7, 65 / 11])
    np.testing.assert_allclose(r["p90_time_min_reached"], [10, 4, 7, 10])
    np.testing.assert_allclose(r["gini_reached"][["A", "B"]], [0.25, 0.0])
    np.testing.assert_allclose(r["palma_reached"][["A", "B"]], [1.6 / 2.2, 0.25])
    # unreachable set to the 60-minute limit: B = 2 people at 10, 2 at 60 → mean 35;
    # Σ|·| = 2·2·2·50 = 400 over 16 → mean difference 25, G = 25 / (2·35) = 5/14;
    # Palma = 0.4·60 / (1.6·10) = 1.5
    np.testing.assert_allclose(r["limit_min"], 60)
    assert r.loc["B", "mean_time_min_unreached_at_limit"] == pytest.approx(35)
    assert r.loc["B", "p90_time_min_unreached_at_limit"] == 60
    assert r.loc["B", "gini_unreached_at_limit"] == pytest.approx(5 / 14)
    assert r.loc["B", "palma_unreached_at_limit"] == pytest.approx(1.5)
    # A has nobody unreachable: both variants agree
    assert r.loc["A", "gini_unreached_at_limit"] == pytest.approx(0.25)
    all_t = np.array([1.0, 2, 3, 4, 10, 7])
    all_w = np.array([1.0, 1, 1, 1, 2, 5])
    assert r.loc[ALL_ZONES_ID, "gini_reached"] == pytest.approx(gini(all_t, all_w))
    capped = np.r_[all_t, 60.0]
    assert r.loc[ALL_ZONES_ID, "gini_unreached_at_limit"] == pytest.approx(
        gini(capped, np.r_[all_w, 2.0])
    )


def test_without_a_limit_there_is_no_stand_in_column() -> None:
    t = equity_table(PEOPLE, ZONE, TIME, **ARGS)
    assert not any("at_limit" in c for c in t.columns)
    assert "limit_min" not in t.columns


def test_ranking_ties_go_by_mean_time_then_zone_order_and_empty_zones_last() -> None:
    people = np.array([1.0, 1.0, 1.0, 0.0, 1.0])
    zone = np.array([1, 2, 3, 4, 5])
    time = np.array([5.0, 8.0, 8.0, 1.0, 50.0])
    t = equity_table(
        people, zone, time, zone_ids=list("CDEFG"), zone_names=list("CDEFG"), service="s",
        thresholds_min=[30],
    )  # fmt: skip
    # G has 100 % beyond 30; C, D, E none: D and E (8 min) before C (5 min), D before E by
    # order; F is empty: last
    assert list(t["zone_id"])[:5] == ["G", "D", "E", "C", "F"]
    assert t["rank_worst_first"].tolist()[:5] == [1, 2, 3, 4, 5]


def test_rank_threshold_can_be_chosen() -> None:
    people = np.array([10.0, 10.0, 10.0])
    zone = np.array([1, 2, 2])
    time = np.array([20.0, 1.0, 90.0])
    args: dict[str, object] = {
        "zone_ids": ["X", "Y"], "zone_names": ["X", "Y"], "service": "s",
        "thresholds_min": [15, 60],
    }  # fmt: skip
    # beyond 15: X 100 %, Y 50 % → X worst; beyond 60: X 0 %, Y 50 % → Y worst
    assert equity_table(people, zone, time, rank_threshold_min=15, **args)["zone_id"][0] == "X"
    assert equity_table(people, zone, time, rank_threshold_min=60, **args)["zone_id"][0] == "Y"
    default = equity_table(people, zone, time, **args)  # middle of [15, 60] → 60
    assert default["zone_id"][0] == "Y"


def test_target_share_and_conservation() -> None:
    t = equity_table(PEOPLE, ZONE, TIME, target_share=0.5, **ARGS)
    r = t.set_index("zone_id")
    assert r.loc[ALL_ZONES_ID, "population"] == pytest.approx(6.5)
    assert (t["reached"] + t["unreachable"] == t["population"]).all()
    zone_rows = t[t["zone_id"] != ALL_ZONES_ID]
    assert zone_rows["population"].sum() == pytest.approx(6.5)
    # shares do not depend on the target share
    full = equity_table(PEOPLE, ZONE, TIME, **ARGS)
    pd.testing.assert_series_equal(t["gini_reached"], full["gini_reached"])


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="longest reached time"):
        equity_table(PEOPLE, ZONE, TIME, limit_min=5, **ARGS)
    with pytest.raises(ValueError, match="differ in size"):
        equity_table(PEOPLE[:3], ZONE, TIME, **ARGS)
    with pytest.raises(ValueError, match="zone numbers"):
        equity_table(PEOPLE, ZONE + 5, TIME, **ARGS)
