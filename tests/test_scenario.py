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
