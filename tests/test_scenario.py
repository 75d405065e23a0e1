"""Scenario files: strict validation with the key and the line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from reach.errors import ScenarioError
from reach.settings import DATA_ENV
from reach.spec import parse_scenario

BASE = """version = 1
[scenario]
name = "x"
[region]
population = "pop.tif"
osm = "roads.osm.pbf"
[[services]]
name = "health"
kind = "health"
mode = "motorbike"
facilities = { from_osm = true }
"""


def test_minimal_scenario_resolves_paths(tmp_path: Path) -> None:
    scn = parse_scenario(BASE, path=tmp_path / "s.toml")
    assert scn.resolve(scn.region.population) == tmp_path / "pop.tif"
    assert scn.services[0].thresholds_min == [30.0, 60.0, 120.0]
    assert scn.grid.neighbours == 8


def test_data_variable_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    scn = parse_scenario(
        BASE.replace('"pop.tif"', '"${REACH_DATA}/pop.tif"'), path=tmp_path / "s.toml"
    )
    assert scn.resolve(scn.region.population) == tmp_path / "data" / "pop.tif"


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (('osm = "roads.osm.pbf"', 'osm = "roads.osm.pbf"\nosmm = 2'), ["s.toml:7", "region.osmm"]),
        (('kind = "health"', 'kind = "hospital"'), ["s.toml:9", "kind"]),
        (('mode = "motorbike"', "mode = 3"), ["s.toml:10", "mode"]),
        (('mode = "motorbike"', 'mode = "motorbike"\nthresholds_min = [30, nan]'), ["thresholds"]),
        (('mode = "motorbike"', 'mode = "motorbike"\nthresholds_min = []'), ["thresholds"]),
        (('mode = "motorbike"', 'mode = "motorbike"\ntarget_share = 1.5'), ["target_share"]),
        (('name = "x"', 'name = "x"\nname = "y"'), ["not valid TOML"]),
        (('osm = "roads.osm.pbf"\n', ""), ["OSM"]),
        (('population = "pop.tif"\n', ""), ["missing key", "population"]),
        (("[scenario]", "[scenaro]"), ["unknown key", "scenaro"]),
    ],
)
def test_bad_scenarios_name_the_problem(
    tmp_path: Path, edit: tuple[str, str], needles: list[str]
) -> None:
    text = BASE.replace(*edit)
    assert text != BASE
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, path=tmp_path / "s.toml")
    message = info.value.one_line()
    assert "\n" not in message
    for needle in needles:
        assert needle.lower() in message.lower(), message


@pytest.mark.parametrize(
    "path", ["https://example.invalid/pop.tif", "/vsicurl/http://x/pop.tif", "/vsizip/a.zip/p.tif"]
)
def test_urls_and_gdal_virtual_paths_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(ScenarioError, match=r"s\.toml:5: .*URL or a GDAL virtual"):
        parse_scenario(BASE.replace('"pop.tif"', f'"{path}"'), path=tmp_path / "s.toml")


BASE_TOML = """version = 1
[scenario]
name = "Base"
[region]
population = "pop.tif"
osm = "roads.osm"
[grid]
max_travel_time_min = 300
[[services]]
name = "health"
kind = "health"
mode = "walk"
facilities = { path = "clinics.csv" }
"""


def test_extends_lays_tables_over_the_base_file(tmp_path: Path) -> None:
    from reach.spec import load_scenario

    (tmp_path / "base.toml").write_text(BASE_TOML)
    child = tmp_path / "options.toml"
    child.write_text(
        'extends = "base.toml"\n[scenario]\nname = "Options"\n[grid]\nneighbours = 16\n'
        '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "close_facility", service = "health", facility_id = "C1" }]\n'
    )
    scn = load_scenario(child)
    assert scn.scenario.name == "Options"
    assert scn.grid.neighbours == 16 and scn.grid.max_travel_time_min == 300  # merged
    assert [a.name for a in scn.alternatives] == ["a"]
    assert scn.resolve(scn.region.population) == tmp_path / "pop.tif"


@pytest.mark.parametrize(
    ("extends", "needle"),
    [
        ('"../base.toml"', "same folder"),
        ('"missing.toml"', "not found"),
        ('"options.toml"', "loops back"),
    ],
)
def test_extends_problems_name_the_file(tmp_path: Path, extends: str, needle: str) -> None:
    from reach.spec import load_scenario

    (tmp_path / "base.toml").write_text(BASE_TOML)
    child = tmp_path / "options.toml"
    child.write_text(f"extends = {extends}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert needle in str(info.value)


def test_errors_in_the_base_file_point_into_it(tmp_path: Path) -> None:
    from reach.spec import load_scenario

    (tmp_path / "base.toml").write_text(BASE_TOML.replace("neighbours", "x").replace(
        "max_travel_time_min = 300", "max_travel_time_minutes = 300"))  # fmt: skip
    child = tmp_path / "options.toml"
    child.write_text('extends = "base.toml"\n[scenario]\nname = "Options"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert "max_travel_time_minutes" in str(info.value)
    assert "base.toml:" in str(info.value)


def test_zone_rename_and_unknown_ids(tmp_path: Path) -> None:
    from reach.run.region import load_region
    from reach.spec import load_scenario
    from tests.helpers import write_tiny_region

    scenario = write_tiny_region(tmp_path)
    text = scenario.read_text().replace(
        'name_column = "name"', 'name_column = "name"\nrename = { E = "Timur <east>" }'
    )
    scenario.write_text(text)
    region = load_region(load_scenario(scenario))
    assert region.zones["name"].tolist() == ["West", "Timur <east>"]
    scenario.write_text(text.replace("{ E =", "{ Q ="))
    with pytest.raises(ScenarioError) as info:
        load_region(load_scenario(scenario))
    assert "'Q'" in str(info.value) and "zones.geojson" in str(info.value)


# --------------------------------------------------------------------------------------------
# alternatives' kinds and the currency of their costs (reports, issue 20)

_ALTERNATIVE = """
[[alternatives]]
name = "a"
operations = [{ops}]
"""
_CLOSE = '{ op = "close_facility", service = "health", facility_id = "C1" }'
_FEW = '{ op = "vehicle_availability", service = "health", share = 0.3 }'
_ADD = (
    '{ op = "add_facility", service = "health", facility_id = "N1", lon = 1.0, lat = 2.0, '
    'tier = "health_centre" }'
)
_FERRY = '{ op = "change_ferry", all = true, headway_min = 720 }'


@pytest.mark.parametrize(
    ("ops", "kind"),
    [
        (_CLOSE, "stress_test"),
        (f"{_CLOSE}, {_FEW}", "stress_test"),
        (_ADD, "investment"),
        (f"{_ADD}, {_CLOSE}", "investment"),  # a move: one site opened, one closed
        (_FERRY, "investment"),
        ("", "investment"),
    ],
)
def test_an_alternative_of_worsening_operations_only_is_a_stress_test(
    tmp_path: Path, ops: str, kind: str
) -> None:
    scn = parse_scenario(BASE + _ALTERNATIVE.format(ops=ops), path=tmp_path / "s.toml")
    alt = scn.alternatives[0]
    assert alt.kind is None and alt.resolved_kind == kind


def test_a_given_kind_overrides_the_inferred_one_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    text = BASE + _ALTERNATIVE.format(ops=_CLOSE).replace(
        'name = "a"', 'name = "a"\nkind = "investment"'
    )
    scn = parse_scenario(text, path=tmp_path / "s.toml")
    assert scn.alternatives[0].resolved_kind == "investment"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text.replace('"investment"', '"stress"'), path=tmp_path / "s.toml")
    message = info.value.one_line()
    # the line guess finds the services' `kind` first, so the key's full path is what names it
    assert "alternatives.0.kind" in message and "stress_test" in message


def test_the_currency_is_an_iso_code_kept_in_capitals(tmp_path: Path) -> None:
    assert parse_scenario(BASE, path=tmp_path / "s.toml").scenario.currency is None
    text = BASE.replace('name = "x"', 'name = "x"\ncurrency = "idr"')
    assert parse_scenario(text, path=tmp_path / "s.toml").scenario.currency == "IDR"
    for bad in ("RUPIAH", "XYZ", "Rp"):
        with pytest.raises(ScenarioError) as info:
            parse_scenario(text.replace('"idr"', f'"{bad}"'), path=tmp_path / "s.toml")
        message = info.value.one_line()
        assert "s.toml:4" in message and "ISO 4217" in message and bad in message, message
