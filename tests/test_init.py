"""``reach init``: a scenario that runs, from local files, with no network."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import InputError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID
from reach.run.init import (
    INIT_MARK,
    CountsInput,
    InitRequest,
    ServiceInput,
    ZonesInput,
    init_region,
    scenario_path_text,
)
from reach.run.scenario_set import run_scenario
from reach.settings import ALLOW_ENV, DATA_ENV, PROJECT_FILE
from reach.spec import load_scenario
from tests.helpers import CENSUS_TABLE, write_census_region


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or look up a host fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"reach init tried the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _office(folder: Path) -> Path:
    """A district office's files (kabupaten, kecamatan, a census table, puskesmas)."""
    write_census_region(folder, table=CENSUS_TABLE)
    (folder / "census.toml").unlink()
    return folder


def _request(data: Path, **kw: Any) -> InitRequest:
    base: dict[str, Any] = {
        "name": "Sumba",
        "boundaries": ZonesInput(
            data / "kecamatan.geojson", id_column="kode", name_column="nama",
            where={"kode": ["53.11.*", "53.12.*"]},
        ),
        "counts": CountsInput(
            data / "penduduk.csv", zone_column="kode", total_column="jumlah",
            zones=ZonesInput(data / "kabupaten.geojson", id_column="kode",
                             where={"nama": ["Sumba Timur", "Sumba Barat"]}),
            cell_size_m=1000,
        ),
        "services": (ServiceInput("health", "health", "walk", data / "puskesmas.csv"),),
    }  # fmt: skip
    base.update(kw)
    return InitRequest(**base)


def test_init_writes_a_scenario_that_runs_offline(
    tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    data = _office(project / "data")
    result = init_region(project / "sumba", _request(data))
    text = result.scenario.read_text()
    assert text.startswith(INIT_MARK)
    assert result.project_file is None  # the data lie inside the project: nothing to allow
    assert 'path = "../data/penduduk.csv"' in text
    assert "# No roads: everyone walks" in text  # each choice said in a comment
    assert "2 zones, 419,050 people" in text
    assert any("2 rows of the counts table" in n for n in result.notes)
    scn = load_scenario(result.scenario)
    run = run_scenario(scn, maps=False)
    cov = run.baseline.coverage.set_index("zone_id")
    assert cov.loc[ALL_ZONES_ID, "population"] == pytest.approx(277_290 + 141_760)
    assert (project / "sumba" / "output" / "coverage.csv").is_file()


def test_a_data_folder_beside_the_project_is_set_up_in_a_project_file(
    tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    data = _office(tmp_path / "kantor" / "data")
    region = tmp_path / "analisis" / "sumba"
    result = init_region(region, _request(data))
    assert result.project_file == region / PROJECT_FILE
    marker = tomllib.loads(result.project_file.read_text())
    assert marker["data_folders"] == ["../../kantor/data"]
    run = run_scenario(load_scenario(result.scenario), maps=False)
    assert run.region.population_total == pytest.approx(419_050)
    # without the project file the same scenario is refused, naming the rule and its fixes
    result.project_file.unlink()
    with pytest.raises(ScenarioError) as err:
        load_scenario(result.scenario).input_paths()
    assert "outside the project folder" in str(err.value)
    assert ALLOW_ENV in err.value.fix


def test_a_project_file_lists_the_project_data_too(
    tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the region folder in a repository whose data folder holds the zones; the census is
    # elsewhere: the project file must keep the repository's data readable too
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    data = _office(repo / "data")
    census = tmp_path / "bps"
    census.mkdir()
    (census / "penduduk.csv").write_text((data / "penduduk.csv").read_text())
    (data / "penduduk.csv").unlink()
    req = _request(data)
    req = InitRequest(**{**req.__dict__, "counts": CountsInput(
        census / "penduduk.csv", zone_column="kode", total_column="jumlah",
        zones=req.counts.zones if req.counts else None, cell_size_m=1000,
    )})  # fmt: skip
    result = init_region(repo / "regions" / "sumba", req)
    assert result.project_file is not None
    listed = tomllib.loads(result.project_file.read_text())["data_folders"]
    assert listed == ["../../../bps", "../../data"]
    run = run_scenario(load_scenario(result.scenario), maps=False)
    assert run.region.population_total == pytest.approx(419_050)
    # a project file the user wrote is never replaced
    result.project_file.write_text("# mine\n")
    with pytest.raises(InputError, match="does not list every input folder"):
        init_region(repo / "regions" / "sumba", req, overwrite=True)
    assert result.project_file.read_text() == "# mine\n"


def test_init_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    data = _office(tmp_path / "data")
    region = tmp_path / "region"
    region.mkdir()
    mine = region / "scenario.toml"
    mine.write_text("# my own scenario\n")
    with pytest.raises(InputError, match="reach init did not write it"):
        init_region(region, _request(data))
    assert mine.read_text() == "# my own scenario\n"
    mine.unlink()
    first = init_region(region, _request(data)).scenario.read_text()
    with pytest.raises(InputError, match="--overwrite"):
        init_region(region, _request(data, name="Again"))
    again = init_region(region, _request(data, name="Again"), overwrite=True)
    assert again.scenario.read_text() != first and 'name = "Again"' in again.scenario.read_text()


def test_a_refused_input_leaves_nothing_behind(tmp_path: Path) -> None:
    data = _office(tmp_path / "data")
    (data / "penduduk.csv").write_text("kode;jumlah\n53.11;277.290\n")  # Sumba Barat missing
    region = tmp_path / "new_region"
    with pytest.raises(InputError, match=r"no total for zone '53\.12'"):
        init_region(region, _request(data))
    assert not region.exists()


def test_requests_that_cannot_make_a_scenario_are_refused(tmp_path: Path) -> None:
    data = _office(tmp_path / "data")
    with pytest.raises(ScenarioError, match="either as a raster"):
        init_region(tmp_path / "r", _request(data, counts=None))
    with pytest.raises(ScenarioError, match="class column"):
        init_region(tmp_path / "r", _request(data, roads=data / "kabupaten.geojson"))
    with pytest.raises(ScenarioError, match="no service"):
        init_region(tmp_path / "r", _request(data, services=()))
    assert not (tmp_path / "r").exists()


def test_official_road_classes_get_speeds_from_their_osm_equivalent(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    data = _office(tmp_path / "data")
    roads = gpd.GeoDataFrame(
        {"road_class": ["nasional", "provinsi", "jalan tani"]},
        geometry=[shapely.LineString([(119.91, -9.62), (120.09, -9.62)]),
                  shapely.LineString([(120.05, -9.61), (120.05, -9.63)]),
                  shapely.LineString([(120.15, -9.61), (120.15, -9.63)])],
        crs="EPSG:4326",
    )  # fmt: skip
    roads.to_file(data / "jalan.gpkg")
    req = _request(
        data,
        roads=data / "jalan.gpkg",
        road_class_column="road_class",
        services=(ServiceInput("health", "health", "motorbike", data / "puskesmas.csv"),),
    )
    result = init_region(tmp_path / "r", req)
    raw = tomllib.loads(result.scenario.read_text())
    speeds = raw["modes"]["motorbike"]["highway_kph"]
    assert speeds == {"nasional": 55, "provinsi": 45, "jalan tani": 30}
    assert "Guessed as unclassified — check: jalan tani" in result.scenario.read_text()
    run = run_scenario(load_scenario(result.scenario), maps=False)
    assert run.region.roads.way_id.size >= 3


def test_reach_data_paths_are_written_as_reach_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "shared"))
    inside = tmp_path / "shared" / "ntt" / "desa.geojson"
    assert scenario_path_text(inside, tmp_path / "x") == "${REACH_DATA}/ntt/desa.geojson"
    assert scenario_path_text(tmp_path / "d" / "f.csv", tmp_path / "x") == "../d/f.csv"


def test_the_command_writes_the_scenario_and_refuses_in_one_line(tmp_path: Path) -> None:
    data = _office(tmp_path / "data")
    args = [
        "init", str(tmp_path / "r"),
        "--boundaries", str(data / "kecamatan.geojson"), "--id-column", "kode",
        "--name-column", "nama", "--where", "kode=53.11.*,53.12.*",
        "--counts", str(data / "penduduk.csv"), "--count-zone-column", "kode",
        "--count-column", "jumlah", "--count-zones", str(data / "kabupaten.geojson"),
        "--count-zones-id", "kode", "--count-zones-where", "kode=53.11,53.12",
        "--health", str(data / "puskesmas.csv"), "--health-mode", "walk",
        "--level", f"kabupaten={data / 'kabupaten.geojson'}:kode:nama", "--report", "id",
        "--health-label", "Puskesmas berjalan kaki", "--currency", "idr",
    ]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "scenario written" in res.output and "next: reach run" in res.output
    scn = load_scenario(tmp_path / "r" / "scenario.toml")
    assert scn.outputs.reports == ["id"] and scn.scenario.currency == "IDR"
    assert scn.services[0].label == {"id": "Puskesmas berjalan kaki"}
    assert [lv.name for lv in scn.region.zone_levels] == ["kabupaten"]
    run = run_scenario(scn, maps=False)
    by_kab = pd.read_csv(tmp_path / "r" / "output" / "coverage_kabupaten.csv", dtype=str)
    assert set(by_kab["zone_id"]) >= {"53.11", "53.12", "53.07"}
    del run
    bad = CliRunner().invoke(app, [*args[:2], "--health", str(data / "nope.csv")])
    assert bad.exit_code != 0
    assert "Traceback" not in bad.output
    lines = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), bad.output
    for option, value, said in (("--currency", "RUPIAH", "ISO 4217"), ("--report", "de", "fr")):
        bad = CliRunner().invoke(app, [*args[:2], option, value])
        assert bad.exit_code != 0 and said in bad.output and "Traceback" not in bad.output


@pytest.mark.realdata
def test_sumba_init_then_run_keeps_every_kabupaten_total(
    real_data: Path, tmp_path: Path, no_network: None
) -> None:
    """The committed Sumba scenario is what reach init writes, and its tables add up."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    committed = (repo / "scenarios" / "sumba.toml").read_text()
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    script = (repo / "scenarios" / "sumba_init.sh").read_text()
    (scenarios / "sumba_init.sh").write_text(script)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", DATA_ENV: str(real_data)}
    done = subprocess.run(
        ["bash", str(scenarios / "sumba_init.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (scenarios / "sumba.toml").read_text() == committed
    scn = load_scenario(scenarios / "sumba.toml")
    run = run_scenario(scn, out_dir=tmp_path / "out", maps=False)
    totals = {"53.11": 277_290, "53.12": 141_760, "53.17": 92_138, "53.18": 355_022}
    for table in (run.baseline.coverage, run.baseline.level_coverage("desa")):
        for svc in ("health", "sma"):
            rows = table[table["service"] == svc]
            per_kab = (
                rows[rows["zone_id"].str.count(r"\.") >= 2]
                .groupby(rows["zone_id"].str[:5])["population"]
                .sum()
            )
            outside = rows.loc[rows["zone_id"] == "(outside zones)", "population"].sum()
            for kab, total in totals.items():
                assert per_kab[kab] == pytest.approx(total, rel=1e-9)
            assert rows.loc[rows["zone_id"] == ALL_ZONES_ID, "population"].iloc[0] == (
                pytest.approx(866_210, rel=1e-12)
            )
            assert outside == pytest.approx(0.0, abs=1e-6)
    counts = run.region.population_counts
    assert counts is not None
    assert dict(zip(counts.table["zone_id"], counts.table["people_placed"], strict=True)) == (
        pytest.approx(totals, rel=1e-12)
    )
