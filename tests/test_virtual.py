"""Virtual access: per-cell classes, the coverage table, hub-and-spoke referrals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.codes import REASON_NO_ROUTE, REASON_REACHED
from reach.errors import ConservationError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID, coverage_table
from reach.metrics.virtual import (
    NEITHER,
    PHYSICAL,
    VIRTUAL_CLASSES,
    VIRTUAL_ONLY,
    check_virtual_conservation,
    classify_access,
    referral_trips_avoided,
    virtual_coverage_table,
)

INF = np.inf
NAN = np.nan

# a 3×3 region: two zones and two cells outside every zone
PEOPLE = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0], [70.0, 80.0, 90.0]])
ZONE = np.array([[1, 1, 2], [1, 2, 2], [0, 0, 2]])
TIME = np.array([[5.0, 20.0, 40.0], [INF, 10.0, NAN], [60.0, 30.0, 31.0]])
CONNECTED = np.array([[False, True, True], [True, False, False], [False, True, False]])


def _table(remote_share: float = 0.5, **kw: object) -> pd.DataFrame:
    args: dict[str, object] = {
        "zone_ids": ["A", "B"],
        "zone_names": ["Alpha", "Beta"],
        "service": "health",
        "thresholds_min": [60, 30],
        "remote_share": remote_share,
    }
    args.update(kw)
    return virtual_coverage_table(PEOPLE, ZONE, TIME, CONNECTED, **args)


def test_classes_are_named_in_code_order() -> None:
    assert VIRTUAL_CLASSES[PHYSICAL] == "physical"
    assert VIRTUAL_CLASSES[VIRTUAL_ONLY] == "virtual_only"
    assert VIRTUAL_CLASSES[NEITHER] == "neither"


def test_classify_access_hand_computed() -> None:
    got = classify_access(TIME, CONNECTED, threshold_min=30)
    assert got.dtype == np.uint8
    # 30 minutes is within 30 (inclusive); inf and NaN are unreachable
    np.testing.assert_array_equal(got, [[0, 0, 1], [1, 0, 2], [2, 0, 2]])
    np.testing.assert_array_equal(
        classify_access(TIME, CONNECTED, threshold_min=60), [[0, 0, 0], [1, 0, 2], [0, 0, 0]]
    )


def test_classify_access_physical_whatever_the_signal() -> None:
    time = np.array([1.0, 1.0])
    got = classify_access(time, np.array([True, False]), threshold_min=5)
    np.testing.assert_array_equal(got, [PHYSICAL, PHYSICAL])


def test_classify_access_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same shape"):
        classify_access(np.zeros(3), np.zeros(4, bool), threshold_min=5)


def test_table_hand_computed() -> None:
    t = _table()
    assert list(t["zone_id"]) == ["A", "B", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    assert list(t["zone_name"]) == ["Alpha", "Beta", OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    assert (t["service"] == "health").all()
    rows = t.set_index("zone_id")
    expected = {
        # zone: population, connected, (phys, virt, neither, effective) at 30, then at 60
        "A": (70, 60, (30, 40, 0, 50), (30, 40, 0, 50)),
        "B": (230, 30, (50, 30, 150, 65), (170, 0, 60, 170)),
        OUTSIDE_ZONES_ID: (150, 80, (80, 0, 70, 80), (150, 0, 0, 150)),
        ALL_ZONES_ID: (450, 170, (160, 70, 220, 195), (350, 40, 60, 370)),
    }
    for zone_id, (pop, conn, at30, at60) in expected.items():
        row = rows.loc[zone_id]
        assert row["population"] == pop, zone_id
        assert row["population_connected"] == conn, zone_id
        for th, values in (("30", at30), ("60", at60)):
            got = tuple(
                row[f"{part}_{th}min"]
                for part in ("physical", "virtual_only", "neither", "effective_covered")
            )
            assert got == pytest.approx(values), (zone_id, th)
    assert rows.loc[ALL_ZONES_ID, "pct_effective_covered_30min"] == pytest.approx(100 * 195 / 450)
    assert rows.loc["B", "pct_neither_30min"] == pytest.approx(100 * 150 / 230)
    assert rows.loc["A", "pct_physical_60min"] == pytest.approx(100 * 30 / 70)


def test_table_target_share_scales_everything() -> None:
    full, half = _table(), _table(target_share=0.5)
    numeric = [c for c in full.columns if c not in ("service", "zone_id", "zone_name")]
    counts = [c for c in numeric if not c.startswith("pct_")]
    np.testing.assert_allclose(half[counts].to_numpy(), 0.5 * full[counts].to_numpy())
    pct = [c for c in numeric if c.startswith("pct_")]
    np.testing.assert_allclose(half[pct].to_numpy(), full[pct].to_numpy())


def test_table_remote_share_limits() -> None:
    none = _table(remote_share=0.0).set_index("zone_id")
    full = _table(remote_share=1.0).set_index("zone_id")
    for th in ("30", "60"):
        np.testing.assert_allclose(none[f"effective_covered_{th}min"], none[f"physical_{th}min"])
        np.testing.assert_allclose(
            full[f"effective_covered_{th}min"],
            full[f"physical_{th}min"] + full[f"virtual_only_{th}min"],
        )


def test_table_empty_zone_has_nan_percentages() -> None:
    zone = np.where(ZONE == 0, 1, ZONE)  # nobody lives outside the zones
    t = virtual_coverage_table(
        PEOPLE, zone, TIME, CONNECTED,
        zone_ids=["A", "B"], zone_names=["A", "B"], service="s",
        thresholds_min=[30], remote_share=0.5,
    )  # fmt: skip
    outside = t.set_index("zone_id").loc[OUTSIDE_ZONES_ID]
    assert outside["population"] == 0
    assert np.isnan(outside["pct_physical_30min"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"remote_share": 1.5}, "remote_share"),
        ({"remote_share": -0.1}, "remote_share"),
        ({"target_share": 0.0}, "target_share"),
        ({"thresholds_min": []}, "threshold"),
        ({"zone_ids": ["A"], "zone_names": ["A"]}, "zone numbers"),
    ],
)
def test_table_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _table(**kwargs)


def test_conservation_violation_is_caught() -> None:
    t = _table()
    check_virtual_conservation(t, raster_total=450.0, thresholds_min=[30, 60])
    broken = t.copy()
    broken.loc[0, "neither_30min"] += 1.0
    with pytest.raises(ConservationError, match="A"):
        check_virtual_conservation(broken, raster_total=450.0, thresholds_min=[30, 60])
    with pytest.raises(ConservationError, match="raster total"):
        check_virtual_conservation(t, raster_total=451.0, thresholds_min=[30, 60])
    shrunk = t.copy()
    shrunk.loc[1, "effective_covered_60min"] -= 5.0
    with pytest.raises(ConservationError, match="effective"):
        check_virtual_conservation(shrunk, raster_total=450.0, thresholds_min=[30, 60])


_times = st.one_of(
    st.floats(min_value=0, max_value=200, allow_nan=False),
    st.just(np.inf),
    st.just(np.nan),
)


@st.composite
def _cases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=1, max_value=30))
    n_zones = draw(st.integers(min_value=0, max_value=4))
    return {
        "people": np.array(draw(st.lists(st.floats(0, 1e4), min_size=n, max_size=n))),
        "zone": np.array(draw(st.lists(st.integers(0, n_zones), min_size=n, max_size=n))),
        "time": np.array(draw(st.lists(_times, min_size=n, max_size=n))),
        "connected": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        "more": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        "n_zones": n_zones,
        "thresholds": draw(st.lists(st.floats(1, 180), min_size=1, max_size=3)),
        "remote": draw(st.floats(0, 1)),
        "remote_more": draw(st.floats(0, 1)),
        "target": draw(st.floats(0.01, 1)),
    }


@settings(max_examples=250, deadline=None)
@given(_cases())
def test_virtual_coverage_never_reduces_coverage(case: dict[str, Any]) -> None:
    people, zone, time = case["people"], case["zone"], case["time"]
    connected, more = case["connected"], case["more"]
    ids = [f"Z{k}" for k in range(case["n_zones"])]
    thresholds = case["thresholds"]
    remote = case["remote"]
    remote_more = max(remote, case["remote_more"])
    target = case["target"]

    def table(conn: np.ndarray, share: float) -> pd.DataFrame:
        return virtual_coverage_table(
            people, zone, time, conn,
            zone_ids=ids, zone_names=ids, service="s",
            thresholds_min=thresholds, remote_share=share, target_share=target,
        )  # fmt: skip

    base = table(connected, remote)
    wider = table(connected | more, remote)  # more connectivity
    keener = table(connected, remote_more)  # more demand served remotely
    # the physical part is exactly what the coverage table counts as within T
    reason = np.where(np.isfinite(time), REASON_REACHED, REASON_NO_ROUTE).astype(np.uint8)
    physical = coverage_table(
        people, zone, np.nan_to_num(time, nan=np.inf), reason,
        zone_ids=ids, zone_names=ids, service="s", thresholds_min=thresholds,
        target_share=target,
    )  # fmt: skip
    tol = 1e-9 * max(1.0, float(people.sum()))
    for th in sorted(set(thresholds)):
        eff = base[f"effective_covered_{th:g}min"]
        phys = base[f"physical_{th:g}min"]
        assert (eff >= phys - tol).all()
        np.testing.assert_allclose(phys, physical[f"within_{th:g}min"], atol=tol)
        np.testing.assert_allclose(
            phys + base[f"virtual_only_{th:g}min"] + base[f"neither_{th:g}min"],
            base["population"],
            atol=tol,
        )
        assert (wider[f"effective_covered_{th:g}min"] >= eff - tol).all()
        assert (keener[f"effective_covered_{th:g}min"] >= eff - tol).all()
        np.testing.assert_allclose(wider[f"physical_{th:g}min"], phys, atol=tol)


# --- hub-and-spoke referrals --------------------------------------------------------------------


def test_referrals_hand_computed() -> None:
    spokes = pd.DataFrame(
        {
            "facility_id": ["F1", "F2", "F3", "F4"],
            "name": ["One", "Two", "Three", "Four"],
            "service": "health",
            "tier": ["health_centre", "clinic", "clinic", "clinic"],
        }
    )
    out = referral_trips_avoided(
        spokes,
        catchment_population=np.array([1000.0, 500.0, 300.0, 0.0]),
        connected_facility=np.array([True, False, True, True]),
        referral_time_min=np.array([90.0, 30.0, np.nan, np.inf]),
        referral_share=0.1,
        remote_share=0.6,
        visits_per_person_year=2.0,
    )
    assert list(out["facility_id"]) == ["F1", "F2", "F3", "F4"]
    assert "service" not in out.columns  # the caller adds the service name
    assert list(out["tier"]) == ["health_centre", "clinic", "clinic", "clinic"]
    # referrals = catchment × visits × referral share
    np.testing.assert_allclose(out["referrals_per_year"], [200.0, 100.0, 60.0, 0.0])
    # connected spokes settle remote_share of them remotely
    np.testing.assert_allclose(out["remote_consults_per_year"], [120.0, 0.0, 36.0, 0.0])
    # ... which avoids a trip only where the hospital can be reached at all
    np.testing.assert_allclose(out["trips_avoided_per_year"], [120.0, 0.0, 0.0, 0.0])
    # round trip: 120 trips × 2 × 90 min / 60 = 360 h
    np.testing.assert_allclose(out["patient_hours_saved_per_year"], [360.0, 0.0, 0.0, 0.0])
    assert list(out["referral_reachable"]) == [True, True, False, False]
    assert np.isnan(out["referral_time_min"].iloc[2]) and np.isnan(out["referral_time_min"][3])
    assert list(out["connected"]) == [True, False, True, True]


def test_referrals_without_id_columns_and_empty() -> None:
    out = referral_trips_avoided(
        pd.DataFrame(index=range(1)),
        catchment_population=np.array([10.0]),
        connected_facility=np.array([True]),
        referral_time_min=np.array([60.0]),
        referral_share=0.5,
        remote_share=1.0,
    )
    assert out["trips_avoided_per_year"].iloc[0] == 5.0
    assert out["patient_hours_saved_per_year"].iloc[0] == 10.0
    empty = referral_trips_avoided(
        pd.DataFrame({"facility_id": []}),
        catchment_population=np.array([]),
        connected_facility=np.array([], bool),
        referral_time_min=np.array([]),
        referral_share=0.1,
        remote_share=0.5,
    )
    assert len(empty) == 0 and "trips_avoided_per_year" in empty.columns


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"catchment_population": np.array([1.0, 2.0])}, "one value per facility"),
        ({"catchment_population": np.array([-1.0])}, "catchment_population"),
        ({"referral_time_min": np.array([-5.0])}, "referral_time_min"),
        ({"referral_share": 1.2}, "referral_share"),
        ({"remote_share": np.nan}, "remote_share"),
        ({"visits_per_person_year": -1.0}, "visits_per_person_year"),
    ],
)
def test_referrals_reject_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "catchment_population": np.array([1.0]),
        "connected_facility": np.array([True]),
        "referral_time_min": np.array([10.0]),
        "referral_share": 0.1,
        "remote_share": 0.5,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        referral_trips_avoided(pd.DataFrame({"facility_id": ["F"]}), **args)
