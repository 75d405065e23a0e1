"""Scenario files: strict validation with the key and the line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from reach.errors import ScenarioError
from reach.scenario import parse_scenario
from reach.settings import DATA_ENV

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
