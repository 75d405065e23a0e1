"""Scenario sets end to end: alternatives, their comparison, ranking and delta rasters; and the
properties every alternative must keep (adding never slows anyone, closing never speeds anyone,
virtual access never takes coverage away)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reach.cli import app
from reach.codes import REASON_REACHED
from reach.model.region import Region
from reach.results import Evaluation
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.spec import Alternative, ScenarioSpec, load_scenario
from tests.helpers import (
    CELL_DEG,
    NAMES,
    NORTH,
    SIZE,
    TOWERS,
    WEST,
    assert_same_evaluation,
    tiny_people,
    write_tiny_set,
)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScenarioSpec, Region, Evaluation]:
    scn = load_scenario(write_tiny_set(tmp_path_factory.mktemp("set")))
    region = load_region(scn)
    return scn, region, evaluate(region)


def _alt(scn: ScenarioSpec, name: str) -> Alternative:
    return next(a for a in scn.alternatives if a.name == name)


def _time(ev: Evaluation) -> np.ndarray:
    return ev.services["health"].search.time_min


def test_scenario_set_writes_every_alternative_and_the_comparison(tmp_path: Path) -> None:
    scn = load_scenario(write_tiny_set(tmp_path))
    run = run_scenario(scn)
    out = tmp_path / "out"
    people = tiny_people()
    total = float(people[people >= 0].sum())
    for name in NAMES:
        folder = out / "alternatives" / name
        for file in ("coverage.csv", "facilities.csv", "travel_time_health.tif",
                     "minutes_saved_health.tif", "access_change_health.tif"):  # fmt: skip
            assert (folder / file).is_file(), (name, file)
        cov = pd.read_csv(folder / "coverage.csv")
        assert cov.loc[cov["zone_id"] == "(all)", "population"].iloc[0] == pytest.approx(total)
    assert (out / "alternatives" / "tele" / "virtual.csv").is_file()
    assert (out / "alternatives" / "wet" / "seasons.csv").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["alternatives"] == sorted(NAMES)

    ranking = pd.read_csv(out / "ranking.csv").set_index("alternative")
    assert set(ranking.index) == set(NAMES)
    assert ranking.loc["new_post", "gaining"] > 0 and ranking.loc["new_post", "losing"] == 0
    assert ranking.loc["close_east", "losing"] > 0 and ranking.loc["close_east", "gaining"] == 0
    assert ranking.loc["few_bikes", "losing"] > 0
    assert ranking.loc["wet", "losing"] > 0
    assert ranking.loc["tele", "losing"] == 0
    # per cost is net gain over cost, only where a cost is given
    assert ranking.loc["new_post", "newly_covered_per_cost"] == pytest.approx(
        ranking.loc["new_post", "net_newly_covered"] / 1000
    )
    assert np.isnan(ranking.loc["wet", "newly_covered_per_cost"])
    assert ranking["rank"].min() == 1

    comparison = pd.read_csv(out / "comparison.csv")
    everyone = comparison[comparison["zone_id"] == "(all)"].set_index("alternative")
    zones = comparison[~comparison["zone_id"].str.startswith("(")]
    # the zone rows plus the outside row add up to the all row
    for th in (5, 15, 30):
        col = f"delta_within_{th}min"
        by_zone = comparison[comparison["zone_id"] != "(all)"].groupby("alternative")[col].sum()
        np.testing.assert_allclose(by_zone.loc[everyone.index], everyone[col], atol=1e-6)
        net = everyone[f"gaining_{th}min"] - everyone[f"losing_{th}min"]
        np.testing.assert_allclose(net, everyone[col], atol=1e-6)
    assert set(zones["zone_name"]) == {"West", "East"}

    # the delta rasters: a new post only saves minutes, a closure only costs them
    with rasterio.open(out / "alternatives" / "new_post" / "minutes_saved_health.tif") as src:
        saved = src.read(1)
    assert np.nanmin(saved) >= 0 and np.nanmax(saved) > 0
    with rasterio.open(out / "alternatives" / "close_east" / "minutes_saved_health.tif") as src:
        lost = src.read(1)
    assert np.nanmax(lost) <= 0 and np.nanmin(lost) < 0
    base_t = run.baseline.services["health"].search.time_min
    alt_t = run.alternatives["new_post"].services["health"].search.time_min
    both = np.isfinite(base_t) & np.isfinite(alt_t)
    np.testing.assert_allclose(
        saved.ravel()[both], (base_t[both] - alt_t[both]).astype(np.float32), rtol=1e-6
    )
    assert np.isnan(saved.ravel()[~both]).all()


def test_compare_command_prints_the_ranked_alternatives(tmp_path: Path) -> None:
    scenario = write_tiny_set(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(scenario)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    for name in NAMES:
        assert name in result.stdout
    assert (tmp_path / "out" / "comparison.csv").is_file()


def test_only_added_facilities_search_incrementally_with_identical_times(
    tiny_set: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    scn, region, base = tiny_set
    alt = _alt(scn, "new_post")
    fast = evaluate(region, name="a", alternative=alt, baseline=base)
    full = evaluate(region, name="a", alternative=alt, baseline=base, incremental=False)
    assert_same_evaluation(region, full, fast)
    assert fast.services["health"].search.time_min is not base.services["health"].search.time_min


def _ops(ops: list[dict[str, Any]]) -> Alternative:
    return Alternative.model_validate({"name": "x", "operations": ops})


def _lon_lat(col: float, row: float) -> tuple[float, float]:
    return WEST + (col + 0.5) * CELL_DEG, NORTH - (row + 0.5) * CELL_DEG


cells = st.tuples(st.integers(0, SIZE - 3), st.integers(0, SIZE - 1))
SETTINGS: dict[str, Any] = {
    "max_examples": 200,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}


@settings(**SETTINGS)
@given(cell=cells, incremental=st.booleans())
def test_adding_a_facility_never_increases_any_time(
    tiny_set: tuple[ScenarioSpec, Region, Evaluation], cell: tuple[int, int], incremental: bool
) -> None:
    _, region, base = tiny_set
    lon, lat = _lon_lat(cell[0], cell[1])
    alt = Alternative.model_validate(
        {
            "name": "x",
            "operations": [
                {
                    "op": "add_facility",
                    "service": "health",
                    "facility_id": "X",
                    "lon": lon,
                    "lat": lat,
                    "tier": "post",
                }
            ],
        }
    )
    ev = evaluate(region, name="x", alternative=alt, baseline=base, incremental=incremental)
    t0, t1 = _time(base), _time(ev)
    assert (t1 <= t0).all()
    reached0 = base.services["health"].search.reason == REASON_REACHED
    assert (ev.services["health"].search.reason[reached0] == REASON_REACHED).all()


@settings(**SETTINGS)
@given(
    highway=st.sampled_from(["secondary", "primary", "trunk"]),
    start=cells,
    end=cells,
)
def test_upgrading_or_adding_a_road_never_increases_any_time(
    tiny_set: tuple[ScenarioSpec, Region, Evaluation],
    highway: str,
    start: tuple[int, int],
    end: tuple[int, int],
) -> None:
    _, region, base = tiny_set
    ops: list[dict[str, Any]] = [
        {"op": "upgrade_road", "way_ids": [10], "set_highway": highway, "set_surface": "asphalt"}
    ]
    # a new road needs two ends that do not snap onto one point (200 m ≈ 2 cells)
    if abs(start[0] - end[0]) + abs(start[1] - end[1]) > 6:
        ops.append(
            {
                "op": "add_road",
                "start": _lon_lat(*start),
                "end": _lon_lat(*end),
                "highway": "tertiary",
            }
        )
    ev = evaluate(region, name="x", alternative=_ops(ops))
    assert (_time(ev) <= _time(base) + 1e-9).all()


@settings(**SETTINGS)
@given(which=st.sampled_from(["C1", "C2"]), close_road=st.booleans())
def test_closing_a_facility_or_road_never_decreases_any_time(
    tiny_set: tuple[ScenarioSpec, Region, Evaluation], which: str, close_road: bool
) -> None:
    _, region, base = tiny_set
    ops: list[dict[str, Any]] = [
        {"op": "close_facility", "service": "health", "facility_id": which}
    ]
    if close_road:
        ops.append({"op": "close_road", "way_ids": [10]})
    ev = evaluate(region, name="x", alternative=_ops(ops))
    assert (_time(ev) >= _time(base) - 1e-9).all()
    assert (np.isinf(_time(ev)) | np.isfinite(_time(base))).all()


@settings(**SETTINGS)
@given(
    cell=cells,
    range_m=st.floats(100, 3000),
    share=st.floats(0.01, 1.0),
    base_share=st.sampled_from([1.0, 0.5]),
)
def test_virtual_access_never_reduces_coverage(
    tiny_set: tuple[ScenarioSpec, Region, Evaluation],
    cell: tuple[int, int],
    range_m: float,
    share: float,
    base_share: float,
) -> None:
    scn, region, _base = tiny_set
    lon, lat = _lon_lat(*cell)
    towers = scn.base_dir / "drawn_towers.geojson"  # inside the project folder
    towers.write_text(TOWERS.replace("[120.012, -9.032]", f"[{lon}, {lat}]"))
    ops: list[dict[str, Any]] = [
        {"op": "vehicle_availability", "service": "health", "share": base_share},
        {"op": "telemedicine", "service": "health", "remote_share": share,
         "connectivity": {"kind": "towers", "path": str(towers), "range_m": range_m}},
    ]  # fmt: skip
    physical = Alternative.model_validate({"name": "p", "operations": ops[:1]})
    virtual = Alternative.model_validate({"name": "v", "operations": ops})
    p = evaluate(region, name="p", alternative=physical).services["health"]
    v = evaluate(region, name="v", alternative=virtual).services["health"]
    for th in (5, 15, 30):
        fp, fv = p.access.covered_fraction(th), v.access.covered_fraction(th)
        assert (fv >= fp - 1e-12).all()
        assert v.virtual is not None
        everyone = v.virtual[v.virtual["zone_id"] == "(all)"].iloc[0]
        assert everyone[f"effective_covered_{th}min"] >= everyone[f"physical_{th}min"] - 1e-9


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False))
def test_row_order_of_inputs_does_not_change_outputs(rnd: Any) -> None:
    import tempfile

    from tests.helpers import FACILITIES_CSV

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_tiny_set(folder)
        # two more roads so the ways have an order to shuffle
        extra = (
            '  <node id="4" lat="-9.0300" lon="120.0050"/>\n'
            '  <node id="5" lat="-9.0350" lon="120.0300"/>\n'
            '  <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="track"/></way>\n'
            '  <way id="12"><nd ref="2"/><nd ref="4"/><tag k="highway" v="path"/></way>\n'
        )
        osm = (folder / "roads.osm").read_text().replace("</osm>", extra + "</osm>")
        (folder / "roads.osm").write_text(osm)
        first = evaluate(load_region(load_scenario(folder / "tiny.toml")))
        lines = osm.splitlines()
        body = [ln for ln in lines if ln.strip().startswith(("<node", "<way"))]
        head = [ln for ln in lines if ln not in body and "</osm>" not in ln]
        nodes = [ln for ln in body if "<node" in ln]
        ways = [ln for ln in body if "<way" in ln]
        rnd.shuffle(ways)
        (folder / "roads.osm").write_text("\n".join([*head, *nodes, *ways, "</osm>"]) + "\n")
        rows = FACILITIES_CSV.strip().splitlines()
        body_rows = rows[1:]
        rnd.shuffle(body_rows)
        (folder / "clinics.csv").write_text("\n".join([rows[0], *body_rows]) + "\n")
        second = evaluate(load_region(load_scenario(folder / "tiny.toml")))
    a, b = first.services["health"], second.services["health"]
    np.testing.assert_array_equal(a.search.time_min, b.search.time_min)
    np.testing.assert_array_equal(a.search.facility, b.search.facility)
    pd.testing.assert_frame_equal(a.coverage, b.coverage)
    pd.testing.assert_frame_equal(a.facility_table, b.facility_table)


WALK_SERVICE = """
[[services]]
name = "health_walk"
kind = "health"
mode = "walk"
thresholds_min = [15, 30, 60]
facilities = { path = "clinics.csv", id_column = "facility_id", tier_column = "tier" }
"""


@pytest.fixture(scope="module")
def two_services(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ScenarioSpec, Region, Evaluation]:
    path = write_tiny_set(tmp_path_factory.mktemp("two"))
    text = path.read_text()
    # the second service goes with the first, before the outputs and alternatives
    path.write_text(text.replace("[outputs]", WALK_SERVICE.lstrip() + "[outputs]", 1))
    scn = load_scenario(path)
    region = load_region(scn)
    return scn, region, evaluate(region)


@pytest.mark.parametrize("name", NAMES)
def test_every_alternative_evaluated_from_the_baseline_equals_a_full_evaluation(
    two_services: tuple[ScenarioSpec, Region, Evaluation], name: str
) -> None:
    scn, region, base = two_services
    alt = _alt(scn, name)
    fast = evaluate(region, name=name, alternative=alt, baseline=base)
    full = evaluate(region, name=name, alternative=alt, incremental=False)
    assert set(fast.services) == {"health", "health_walk"}
    assert_same_evaluation(region, full, fast)
    # an alternative that names only "health" and leaves the roads alone reuses the walk result
    roads_alone = name in ("new_post", "close_east", "few_bikes", "tele")
    reused = fast.services["health_walk"] is base.services["health_walk"]
    assert reused == roads_alone
