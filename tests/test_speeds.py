"""Tests of reach.model.speeds: mode profiles, tag parsing and per-way speeds."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reach.errors import ScenarioError
from reach.ingest.roads import TAG_COLUMNS
from reach.model.speeds import (
    KPH_PER_KNOT,
    KPH_PER_MPH,
    MODES,
    ModeProfile,
    default_profile,
    parse_duration_min,
    parse_maxspeed,
    profile_with_overrides,
    way_fixed_time_min,
    way_oneway,
    way_speeds_kph,
)


def frame(*rows: Mapping[str, str | None]) -> pd.DataFrame:
    """A tags frame like ``RoadLines.tags`` (all TAG_COLUMNS, None where absent)."""
    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in TAG_COLUMNS})


def speed(profile: ModeProfile | str, **tags: str | None) -> float:
    prof = default_profile(profile) if isinstance(profile, str) else profile
    return float(way_speeds_kph(frame(tags), prof)[0])


def oneway(profile: ModeProfile | str, **tags: str | None) -> int:
    prof = default_profile(profile) if isinstance(profile, str) else profile
    return int(way_oneway(frame(tags), prof)[0])


# --- profiles -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_default_profiles(mode: str) -> None:
    prof = default_profile(mode)
    assert prof.name == mode
    assert prof.ferry_kph > 0
    assert prof == default_profile(mode.upper())
    assert hash(prof) == hash(default_profile(mode))
    with pytest.raises(TypeError):
        prof.highway_kph["primary"] = 1.0  # type: ignore[index]


def test_unknown_mode() -> None:
    with pytest.raises(ScenarioError, match=r"unknown travel mode 'bicycle'.*walk, motorbike"):
        default_profile("bicycle")


def test_walk_and_vehicle_flags() -> None:
    walk = default_profile("walk")
    assert not walk.respects_oneway and not walk.use_maxspeed
    for mode in ("motorbike", "car"):
        prof = default_profile(mode)
        assert prof.respects_oneway and prof.use_maxspeed
        assert prof.walk_fallback_kph == 4.5


MOTORBIKE = {
    "trunk": 60,
    "primary": 55,
    "secondary": 45,
    "tertiary": 40,
    "unclassified": 30,
    "residential": 25,
    "living_street": 15,
    "service": 15,
    "road": 25,
    "track": 20,
    "path": 10,
    "bridleway": 8,
    "cycleway": 15,
    "primary_link": 55,
    "trunk_link": 60,
    "tertiary_link": 40,
    "footway": 4.5,
    "steps": 4.5,
    "pedestrian": 4.5,
    "motorway": 4.5,
    "something_odd": 4.5,
}
CAR = {
    "motorway": 90,
    "motorway_link": 90,
    "trunk": 70,
    "primary": 60,
    "secondary": 50,
    "secondary_link": 50,
    "tertiary": 40,
    "unclassified": 30,
    "residential": 25,
    "service": 15,
    "track": 15,
    "path": 4.5,
    "footway": 4.5,
    "steps": 4.5,
    "bridleway": 4.5,
}
WALK = {
    "primary": 5,
    "residential": 5,
    "footway": 5,
    "pedestrian": 5,
    "steps": 2.5,
    "path": 4.5,
    "track": 4.5,
    "primary_link": 5,
    "something_odd": 4.5,
}


@pytest.mark.parametrize(
    ("mode", "cls", "kph"),
    [("motorbike", c, v) for c, v in MOTORBIKE.items()]
    + [("car", c, v) for c, v in CAR.items()]
    + [("walk", c, v) for c, v in WALK.items()]
    + [("boat", c, v) for c, v in WALK.items()],
)
def test_class_speeds(mode: str, cls: str, kph: float) -> None:
    assert speed(mode, highway=cls) == pytest.approx(kph)


def test_link_class_uses_own_entry_when_listed() -> None:
    prof = profile_with_overrides(default_profile("car"), {"highway_kph": {"primary_link": 35}})
    assert speed(prof, highway="primary_link") == 35
    assert speed(prof, highway="secondary_link") == 50


def test_class_labels_are_normalised() -> None:
    assert speed("motorbike", highway=" Primary ") == 55
    assert speed("motorbike", highway="primary;secondary") == 55


# --- surface, tracktype, smoothness, maxspeed -------------------------------------------------


def test_factor_is_min_of_tagged_factors() -> None:
    # track 20 km/h: gravel 0.7, grade4 0.55, bad 0.7 -> min 0.55
    assert speed("motorbike", highway="track", surface="gravel") == pytest.approx(20 * 0.7)
    assert speed(
        "motorbike", highway="track", surface="gravel", tracktype="grade4", smoothness="bad"
    ) == pytest.approx(20 * 0.55)
    assert speed("motorbike", highway="track", smoothness="horrible") == pytest.approx(20 * 0.35)
    assert speed("motorbike", highway="track", surface="mud") == pytest.approx(20 * 0.4)
    assert speed("motorbike", highway="primary", surface="asphalt") == 55
    assert speed("motorbike", highway="primary", surface="dirt") == pytest.approx(55 * 0.55)


def test_untagged_and_unknown_factors_count_as_one() -> None:
    assert speed("motorbike", highway="tertiary") == 40
    assert speed("motorbike", highway="tertiary", surface="goudron") == 40
    assert speed("motorbike", highway="tertiary", surface="goudron", tracktype="grade3") == (
        pytest.approx(40 * 0.7)
    )
    assert speed("motorbike", highway="tertiary", surface="Gravel;asphalt") == pytest.approx(28)


def test_impassable_smoothness_means_walking() -> None:
    assert speed("motorbike", highway="track", smoothness="impassable") == 4.5
    assert speed("car", highway="primary", smoothness="impassable") == 4.5
    no_walk = profile_with_overrides(default_profile("car"), {"walk_fallback_kph": 0})
    assert math.isnan(speed(no_walk, highway="primary", smoothness="impassable"))


def test_maxspeed_caps_never_raises() -> None:
    assert speed("motorbike", highway="primary", maxspeed="30") == 30
    assert speed("motorbike", highway="primary", maxspeed="100") == 55
    assert speed("car", highway="primary", maxspeed="20 mph") == pytest.approx(20 * KPH_PER_MPH)
    assert speed("car", highway="primary", maxspeed="999") == 60  # implausible: ignored
    assert speed("car", highway="primary", maxspeed="ID:rural") == 60
    assert speed("car", highway="track", surface="mud", maxspeed="40") == pytest.approx(15 * 0.3)
    assert speed("walk", highway="primary", maxspeed="5") == 5
    no_cap = profile_with_overrides(default_profile("car"), {"use_maxspeed": False})
    assert speed(no_cap, highway="primary", maxspeed="30") == 60


def test_maxspeed_does_not_apply_to_walking_fallback() -> None:
    assert speed("car", highway="footway", maxspeed="5") == 4.5


def test_road_class_for_line_layers() -> None:
    prof = profile_with_overrides(
        default_profile("motorbike"), {"highway_kph": {"Jalan Kabupaten": 35}}
    )
    assert speed(prof, road_class="jalan kabupaten") == 35
    assert speed(prof, road_class="primary") == 55
    assert speed(prof, highway="track", road_class="primary") == 20
    assert speed(prof, highway="", road_class="primary") == 55
    assert speed(prof, road_class="unknown label") == 4.5
    assert speed(prof, road_class=None) == 4.5


def test_ferry_speed_in_every_mode() -> None:
    for mode in MODES:
        prof = default_profile(mode)
        tags = frame({"route": "ferry"}, {"route": "ferry", "highway": "footway"})
        np.testing.assert_array_equal(way_speeds_kph(tags, prof), [prof.ferry_kph] * 2)
        assert way_oneway(frame({"route": "ferry", "oneway": "yes"}), prof).tolist() == [0]
    fast = profile_with_overrides(
        default_profile("walk"), {"ferry_kph": 30, "walk_fallback_kph": 0}
    )
    assert speed(fast, route="ferry") == 30


def test_fixed_time_only_on_ferries() -> None:
    tags = frame(
        {"route": "ferry", "duration": "01:30"},
        {"route": "ferry", "duration": "PT45M"},
        {"route": "ferry"},
        {"route": "ferry", "duration": "soon"},
        {"highway": "primary", "duration": "00:10"},
    )
    minutes = way_fixed_time_min(tags)
    assert minutes.dtype == np.float64
    np.testing.assert_array_equal(minutes, [90.0, 45.0, np.nan, np.nan, np.nan])


def test_vectorised_mixed_frame() -> None:
    tags = frame(
        {"highway": "primary", "surface": "asphalt", "maxspeed": "40"},
        {"highway": "footway"},
        {"route": "ferry"},
        {"highway": "track", "tracktype": "grade5"},
        {"highway": "secondary_link", "oneway": "-1"},
    )
    tags.index = [10, 5, 99, 7, 3]  # a non-default index must not matter
    kph = way_speeds_kph(tags, default_profile("motorbike"))
    assert kph.dtype == np.float64
    np.testing.assert_allclose(kph, [40, 4.5, 20, 8, 45])
    ow = way_oneway(tags, default_profile("motorbike"))
    assert ow.dtype == np.int8
    assert ow.tolist() == [0, 0, 0, 0, -1]


def test_missing_columns_and_empty_frames() -> None:
    tags = pd.DataFrame({"highway": ["primary", None]})
    np.testing.assert_array_equal(way_speeds_kph(tags, default_profile("car")), [60, 4.5])
    assert way_oneway(tags, default_profile("car")).tolist() == [0, 0]
    np.testing.assert_array_equal(way_fixed_time_min(tags), [np.nan, np.nan])
    empty = frame()
    assert way_speeds_kph(empty, default_profile("car")).shape == (0,)
    assert way_oneway(empty, default_profile("car")).shape == (0,)
    assert way_fixed_time_min(empty).shape == (0,)


# --- oneway ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "primary"}, 0),
        ({"highway": "primary", "oneway": "yes"}, 1),
        ({"highway": "primary", "oneway": "true"}, 1),
        ({"highway": "primary", "oneway": "1"}, 1),
        ({"highway": "primary", "oneway": "YES"}, 1),
        ({"highway": "primary", "oneway": "-1"}, -1),
        ({"highway": "primary", "oneway": "reverse"}, -1),
        ({"highway": "primary", "oneway": "no"}, 0),
        ({"highway": "primary", "oneway": "false"}, 0),
        ({"highway": "primary", "oneway": "0"}, 0),
        ({"highway": "primary", "oneway": "reversible"}, 0),
        ({"highway": "primary", "oneway": "alternating"}, 0),
        ({"highway": "residential", "junction": "roundabout"}, 1),
        ({"highway": "residential", "junction": "circular"}, 1),
        ({"highway": "residential", "junction": "roundabout", "oneway": "no"}, 0),
        ({"highway": "residential", "junction": "roundabout", "oneway": "-1"}, -1),
        ({"highway": "motorway"}, 1),
        ({"highway": "motorway", "oneway": "no"}, 0),
        ({"highway": "motorway_link"}, 0),
        ({"road_class": "primary", "oneway": "yes"}, 1),
    ],
)
def test_oneway_car(tags: dict[str, str], expected: int) -> None:
    assert oneway("car", **tags) == expected
    assert oneway("walk", **tags) == 0
    no_oneway = profile_with_overrides(default_profile("car"), {"respects_oneway": False})
    assert oneway(no_oneway, **tags) == 0


def test_oneway_does_not_bind_walking_fallback() -> None:
    assert oneway("motorbike", highway="footway", oneway="yes") == 0
    assert oneway("car", highway="path", oneway="yes") == 0
    assert oneway("motorbike", highway="path", oneway="yes") == 1
    assert oneway("car", highway="primary", oneway="yes", smoothness="impassable") == 0


# --- parse_maxspeed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("50", 50.0),
        (" 50 ", 50.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("50kmh", 50.0),
        ("50 kph", 50.0),
        ("50 KM/H", 50.0),
        ("50.5", 50.5),
        ("50 mph", 50 * KPH_PER_MPH),
        ("30 knots", 30 * KPH_PER_KNOT),
        ("30 knot", 30 * KPH_PER_KNOT),
        ("30 kn", 30 * KPH_PER_KNOT),
        ("50;60", 50.0),
        ("60 mph;40", 60 * KPH_PER_MPH),
        ("5", 5.0),
        ("150", 150.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("walk", None),
        ("ID:urban", None),
        ("RU:rural", None),
        ("FR:walk", None),
        ("1,000", None),
        ("50,5", None),
        ("0", None),
        ("4", None),
        ("151", None),
        ("999999", None),
        ("-50", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("1e2", None),
        ("100 mph", None),
        ("50 furlongs", None),
        ("٥٠", None),
        ("9" * 500, None),
    ],
)
def test_parse_maxspeed(value: str | None, kph: float | None) -> None:
    result = parse_maxspeed(value)
    if kph is None:
        assert result is None
    else:
        assert result == pytest.approx(kph)


def test_parse_maxspeed_window() -> None:
    assert parse_maxspeed("200", max_kph=250) == 200
    assert parse_maxspeed("3", min_kph=1) == 3
    assert parse_maxspeed("3") is None


def test_parse_maxspeed_non_text() -> None:
    assert parse_maxspeed(float("nan")) is None  # type: ignore[arg-type]
    assert parse_maxspeed(50) is None  # type: ignore[arg-type]


@given(st.text())
def test_parse_maxspeed_never_raises(text: str) -> None:
    result = parse_maxspeed(text)
    assert result is None or (isinstance(result, float) and 5.0 <= result <= 150.0)


@given(
    st.one_of(
        st.text(alphabet="0123456789.,;: -kmhptsnoKMH/", max_size=20),
        st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,3})? ?(km/h|mph|knots|kmh)?", fullmatch=True),
    ),
    st.floats(0, 200),
    st.floats(0, 400),
)
def test_parse_maxspeed_window_property(text: str, low: float, high: float) -> None:
    result = parse_maxspeed(text, min_kph=low, max_kph=high)
    assert result is None or low <= result <= high


# --- parse_duration_min ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        ("01:30", 90.0),
        ("1:30", 90.0),
        ("00:45", 45.0),
        ("12:00", 720.0),
        ("01:30:30", 90.5),
        ("00:00:30", 0.5),
        ("45", 45.0),
        ("90", 90.0),
        ("7.5", 7.5),
        (" 01:30 ", 90.0),
        ("PT1H30M", 90.0),
        ("PT45M", 45.0),
        ("PT2H", 120.0),
        ("PT30S", 0.5),
        ("pt1h", 60.0),
        ("P1DT2H", 1560.0),
        ("PT1.5H", 90.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("1h30", None),
        ("01:75", None),
        ("01:30:75", None),
        ("-30", None),
        ("-01:30", None),
        ("0", None),
        ("00:00", None),
        ("PT", None),
        ("P", None),
        ("P1DT", None),
        ("PT-5M", None),
        ("1:2:3:4", None),
        ("nan", None),
    ],
)
def test_parse_duration(value: str | None, minutes: float | None) -> None:
    result = parse_duration_min(value)
    if minutes is None:
        assert result is None
    else:
        assert result == pytest.approx(minutes)


@given(st.text())
def test_parse_duration_never_raises(text: str) -> None:
    result = parse_duration_min(text)
    assert result is None or (math.isfinite(result) and result > 0)


# --- overrides ------------------------------------------------------------------------------


def test_overrides_merge_key_by_key() -> None:
    base = default_profile("motorbike")
    prof = profile_with_overrides(
        base,
        {
            "highway_kph": {"path": 12, "footway": 6},
            "surface_factor": {"mud": 0.2},
            "ferry_kph": 25,
            "respects_oneway": False,
        },
    )
    assert prof.highway_kph["path"] == 12
    assert prof.highway_kph["footway"] == 6
    assert prof.highway_kph["primary"] == 55  # untouched keys kept
    assert prof.surface_factor["mud"] == 0.2
    assert prof.surface_factor["asphalt"] == 1.0
    assert prof.ferry_kph == 25.0 and isinstance(prof.ferry_kph, float)
    assert prof.respects_oneway is False
    assert base.highway_kph["path"] == 10  # base unchanged
    assert "footway" not in base.highway_kph
    assert speed(prof, highway="footway") == 6


def test_override_to_zero_stops_riding() -> None:
    prof = profile_with_overrides(default_profile("motorbike"), {"highway_kph": {"path": 0}})
    assert speed(prof, highway="path") == 4.5


def test_empty_overrides_give_equal_profile() -> None:
    base = default_profile("car")
    assert profile_with_overrides(base, {}) == base


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"speed": 3}, "unknown mode profile setting 'speed'"),
        ({"highway_kph": {"primary": -5}}, "'highway_kph.primary'"),
        ({"highway_kph": {"primary": "fast"}}, "'highway_kph.primary' must be a number"),
        ({"highway_kph": {"primary": float("nan")}}, "'highway_kph.primary'"),
        ({"highway_kph": {"primary": float("inf")}}, "'highway_kph.primary'"),
        ({"highway_kph": {"primary": True}}, "'highway_kph.primary' must be a number"),
        ({"highway_kph": {"primary": 1000}}, "'highway_kph.primary'"),
        ({"highway_kph": {"": 10}}, "'highway_kph'"),
        ({"highway_kph": {3: 10}}, "'highway_kph'"),
        ({"highway_kph": 50}, "'highway_kph' must be a table"),
        ({"surface_factor": {"gravel": 1.5}}, "'surface_factor.gravel'"),
        ({"tracktype_factor": {"grade5": -0.1}}, "'tracktype_factor.grade5'"),
        ({"smoothness_factor": {"bad": None}}, "'smoothness_factor.bad'"),
        ({"ferry_kph": 0}, "'ferry_kph' must be above 0"),
        ({"ferry_kph": -3}, "'ferry_kph'"),
        ({"ferry_kph": "20"}, "'ferry_kph' must be a number"),
        ({"walk_fallback_kph": -1}, "'walk_fallback_kph'"),
        ({"respects_oneway": "yes"}, "'respects_oneway' must be true or false"),
        ({"use_maxspeed": 1}, "'use_maxspeed' must be true or false"),
        ({"name": ""}, "'name'"),
        ({"name": 5}, "'name'"),
    ],
)
def test_override_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)) as info:
        profile_with_overrides(default_profile("motorbike"), overrides)
    text = str(info.value)
    assert "\n" not in text and "fix:" in text


def test_overrides_must_be_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="must be a table"):
        profile_with_overrides(default_profile("car"), [("ferry_kph", 3)])  # type: ignore[arg-type]


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ScenarioError, match=re.escape("'highway_kph.track'")):
        ModeProfile(
            name="custom",
            highway_kph={"track": -1},
            surface_factor={},
            tracktype_factor={},
            smoothness_factor={},
            ferry_kph=10,
            respects_oneway=False,
            walk_fallback_kph=4,
            use_maxspeed=False,
        )


# --- real data ------------------------------------------------------------------------------


@pytest.mark.realdata
def test_comoros_speeds(comoros: Path) -> None:
    from reach.ingest.osm import read_osm_roads

    path = comoros / "comores-latest.osm.pbf"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    lines = read_osm_roads(path)
    ferry = lines.is_ferry()
    for mode in MODES:
        prof = default_profile(mode)
        kph = way_speeds_kph(lines.tags, prof)
        assert kph.shape == (lines.n_ways,)
        assert not np.isnan(kph).any()  # every mode has a walking fallback
        assert np.all(kph[ferry] == prof.ferry_kph)
        assert np.all((kph > 0) & (kph <= 90))
        ow = way_oneway(lines.tags, prof)
        assert set(np.unique(ow)) <= {-1, 0, 1}
        assert not ow[ferry].any()
    car_ow = way_oneway(lines.tags, default_profile("car"))
    assert (car_ow != 0).sum() >= 150  # 175 oneway=yes and 21 roundabouts in the extract
