"""Referral: primary facility → nearest referral facility, and end-to-end time per cell."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reach.codes import REASON_NO_ROUTE, REASON_REACHED
from reach.engine.combined import SearchResult
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.metrics.referral import (
    CHAIN_PRIMARY_UNREACHABLE,
    CHAIN_REACHED,
    CHAIN_REFERRAL_UNREACHABLE,
    ReferralResult,
    end_to_end_times,
    referral_analysis,
    referral_times,
)
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.session import region_session
from reach.spec import load_scenario
from tests.helpers import write_tiny_region

INF = np.inf


def _result(time: list[float], facility: list[int]) -> SearchResult:
    t = np.array(time, dtype=np.float64)
    return SearchResult(
        time_min=t,
        facility=np.array(facility, dtype=np.int32),
        reason=np.where(np.isfinite(t), REASON_REACHED, REASON_NO_ROUTE).astype(np.uint8),
        node_time_min=np.empty(0),
    )


# 7 cells. Primary facilities: P0 at cell 0, P1 at cell 3, P2 off the grid, P3 at cell 6 (a
# hospital that is also a first stop). The hospital is at cell 6; cell 3 (P1) has no route to it.
PRIMARY_CELLS = np.array([0, 3, -1, 6])
PRIMARY = _result([0, 5, 12, 0, 7, INF, 0], [0, 0, 1, 1, 1, -1, 3])
REFERRAL = _result([30, 35, INF, INF, INF, INF, 0], [0, 0, -1, -1, -1, -1, 0])
PEOPLE = np.array([10.0, 20, 30, 40, 50, 60, 70])
ZONE = np.array([1, 1, 1, 2, 2, 2, 0])
FACILITIES = pd.DataFrame(
    {
        "facility_id": ["P0", "P1", "P2", "P3"],
        "name": ["Pustu A", "Pustu B", "Off grid", "Hospital"],
        "tier": ["clinic", "clinic", "clinic", "hospital"],
    }
)


def _analysis(**kw: object) -> ReferralResult:
    args: dict[str, object] = {
        "zone": ZONE,
        "zone_ids": ["A", "B"],
        "zone_names": ["Alpha", "Beta"],
        "service": "health",
        "thresholds_min": [60, 30],
        "facilities": FACILITIES,
    }
    args.update(kw)
    return referral_analysis(PEOPLE, PRIMARY, REFERRAL, PRIMARY_CELLS, **args)  # type: ignore[arg-type]


def test_referral_times_per_primary_facility() -> None:
    time, which = referral_times(PRIMARY_CELLS, REFERRAL)
    np.testing.assert_array_equal(time, [30, INF, INF, 0])
    np.testing.assert_array_equal(which, [0, -1, -1, 0])


def test_end_to_end_times_hand_computed() -> None:
    total, chain = end_to_end_times(PRIMARY.time_min, PRIMARY.facility, np.array([30, INF, INF, 0]))
    # cell 0: 0 + 30; cell 1: 5 + 30; cells 2-4 go to P1, which cannot refer; cell 5 reaches no
    # primary facility; cell 6: at the hospital
    np.testing.assert_array_equal(total, [30, 35, INF, INF, INF, INF, 0])
    assert chain.tolist() == [
        CHAIN_REACHED, CHAIN_REACHED, CHAIN_REFERRAL_UNREACHABLE, CHAIN_REFERRAL_UNREACHABLE,
        CHAIN_REFERRAL_UNREACHABLE, CHAIN_PRIMARY_UNREACHABLE, CHAIN_REACHED,
    ]  # fmt: skip


def test_facility_table_hand_computed() -> None:
    r = _analysis()
    f = r.facilities
    assert f["facility_id"].tolist() == ["P0", "P1", "P2", "P3"]
    assert f["tier"].tolist() == ["clinic", "clinic", "clinic", "hospital"]
    np.testing.assert_array_equal(f["referral_time_min"], [30, np.nan, np.nan, 0])
    assert f["referral_reachable"].tolist() == [True, False, False, True]
    assert f["referral_facility"].tolist()[0] == 0 and f["referral_facility"].tolist()[3] == 0
    assert f["referral_facility"].isna().tolist() == [False, True, True, False]
    np.testing.assert_allclose(f["catchment_population"], [30, 120, 0, 70])
    # P0's people: 10 at 30 min, 20 at 35 → (300 + 700) / 30
    np.testing.assert_allclose(f["catchment_mean_end_to_end_min"], [1000 / 30, np.nan, np.nan, 0])
    assert f["cell"].tolist() == [0, 3, -1, 6]


def test_zone_table_hand_computed() -> None:
    r = _analysis()
    z = r.zones
    assert list(z["zone_id"]) == ["A", "B", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    # A (cells 0-2): 10 within 30, 30 within 60, 30 whose clinic cannot refer
    # B (cells 3-5): 90 whose clinic cannot refer, 60 with no clinic in reach
    # outside (cell 6): 70 at the hospital itself
    np.testing.assert_allclose(z["population"], [60, 150, 70, 280])
    np.testing.assert_allclose(z["end_to_end_within_30min"], [10, 0, 70, 80])
    np.testing.assert_allclose(z["end_to_end_within_60min"], [30, 0, 70, 100])
    np.testing.assert_allclose(z["end_to_end_beyond_60min"], [0, 0, 0, 0])
    np.testing.assert_allclose(z["referral_unreachable"], [30, 90, 0, 120])
    np.testing.assert_allclose(z["primary_unreachable"], [0, 60, 0, 60])
    np.testing.assert_allclose(z["pct_end_to_end_within_60min"], [50, 0, 100, 100 * 100 / 280])
    # mean over completed chains: A = (10·30 + 20·35) / 30; p90 (lower): 35
    assert z.loc[0, "mean_end_to_end_min"] == pytest.approx(1000 / 30)
    assert z.loc[0, "p90_end_to_end_min"] == 35
    assert math.isnan(z.loc[1, "mean_end_to_end_min"])  # nobody in B completes the chain
    assert z.loc[3, "mean_end_to_end_min"] == pytest.approx((300 + 700 + 0) / 100)


def test_target_share_scales_people_only() -> None:
    half = _analysis(target_share=0.5)
    full = _analysis()
    np.testing.assert_allclose(half.zones["population"], 0.5 * full.zones["population"])
    np.testing.assert_allclose(half.end_to_end_time_min, full.end_to_end_time_min)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="catchment id"):
        end_to_end_times(np.array([1.0]), np.array([3]), np.array([0.0]))
    with pytest.raises(ValueError, match="differ in size"):
        referral_analysis(
            PEOPLE[:3], PRIMARY, REFERRAL, PRIMARY_CELLS, zone=ZONE[:3], zone_ids=["A", "B"],
            zone_names=["A", "B"], service="s", thresholds_min=[30],
        )  # fmt: skip
    with pytest.raises(ValueError, match="rows"):
        _analysis(facilities=FACILITIES.iloc[:2])


def test_on_a_region_the_chain_is_never_shorter_than_going_direct(tmp_path: Path) -> None:
    region = load_region(load_scenario(write_tiny_region(tmp_path)))
    base = evaluate(region).services["health"]
    fac = base.facilities
    searcher = region_session(region)
    hospital = fac[fac["facility_id"] == "C1"]  # pretend C1 is the hospital
    referral = searcher.search(hospital, "motorbike")
    cells = fac["cell"].to_numpy()
    r = referral_analysis(
        region.population.people, base.search, referral, cells, zone=region.zone,
        zone_ids=region.zones["zone_id"].astype(str).tolist(),
        zone_names=region.zones["name"].astype(str).tolist(), service="health",
        thresholds_min=[15, 30], facilities=fac,
        own_referral=np.where(fac["facility_id"] == "C1", 0, -1),
    )  # fmt: skip
    f = r.facilities.set_index("facility_id")
    assert f.loc["C1", "referral_time_min"] == 0.0
    assert f.loc["C2", "referral_time_min"] == pytest.approx(referral.time_min[cells[1]])
    done = r.chain == CHAIN_REACHED
    assert done.any()
    # home → nearest clinic → hospital is a path to the hospital: never shorter than the best
    assert (r.end_to_end_time_min[done] >= referral.time_min[done] - 1e-9).all()
    # in C1's own catchment the chain is just the trip to C1
    own = done & (base.search.facility == 0)
    np.testing.assert_allclose(r.end_to_end_time_min[own], base.search.time_min[own])
    all_row = r.zones[r.zones["zone_id"] == ALL_ZONES_ID].iloc[0]
    assert all_row["population"] == pytest.approx(float(region.population.people.sum()))
