"""`reach map` and `reach report` read a finished run back instead of searching again.

The maps and reports written from the folder are byte for byte those of the run in memory; a
folder reach did not write, another scenario, a changed input or a changed output file are
never trusted: the command says why in one line and runs the scenario.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.outputs.maps import write_maps
from reach.outputs.report import write_report
from reach.run.reopen import STATE_FOLDER, reopen_run
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import CENSUS_TABLE, write_census_region, write_tiny_set

runner = CliRunner()

DATE = "2026-12-03"


def _cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--quiet", *args])
    return result.exit_code, result.stdout, result.stderr


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny set (every kind of alternative) run into ``out``, with its maps."""
    folder = tmp_path_factory.mktemp("reopen")
    scenario = write_tiny_set(folder)
    code, _, err = _cli("run", str(scenario))
    assert code == 0, err
    return scenario


def _fresh_copy(scenario: Path, target: Path) -> Path:
    """The project of ``scenario`` with its run, copied (times kept) to ``target``."""
    shutil.copytree(scenario.parent, target, symlinks=True)
    return target / scenario.name


def _written_from_both(scenario: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The maps and both reports (HTML) of the run in memory and of the run read back."""
    scn = load_scenario(scenario)
    found = reopen_run(scn, scn.resolve(scn.outputs.folder))
    assert found.run is not None, found.line
    assert found.line.startswith("read the run in "), found.line
    memory = run_scenario(scn, write=False)
    folders = (tmp_path / "memory", tmp_path / "folder")
    for run, folder in zip((memory, found.run), folders, strict=True):
        write_maps(run, folder, title_date=DATE)
        for lang in ("en", "id"):
            write_report(run, folder, lang=lang, pdf=False, title_date=DATE)
    return folders


def test_maps_and_reports_from_the_folder_are_those_of_the_run(
    tiny_set: Path, tmp_path: Path
) -> None:
    memory, folder = _written_from_both(tiny_set, tmp_path)
    a, b = _files(memory), _files(folder)
    assert sorted(a) == ["map_health.html", "report_en.html", "report_id.html"]
    assert [name for name in a if a[name] != b[name]] == []


def test_the_read_back_run_holds_the_exact_arrays(tiny_set: Path) -> None:
    scn = load_scenario(tiny_set)
    back = reopen_run(scn, scn.resolve(scn.outputs.folder)).run
    assert back is not None
    memory = run_scenario(scn, write=False)
    for name, ev in [("baseline", memory.baseline), *memory.alternatives.items()]:
        other = back.baseline if name == "baseline" else back.alternatives[name]
        for svc, res in ev.services.items():
            got = other.services[svc]
            # float64 minutes, inf unreachable (the rasters hold float32 and NaN)
            assert got.search.time_min.dtype == np.float64
            np.testing.assert_array_equal(got.search.time_min, res.search.time_min)
            np.testing.assert_array_equal(got.search.facility, res.search.facility)
            np.testing.assert_array_equal(got.search.reason, res.search.reason)
            assert (got.access.walk_time_min is None) == (res.access.walk_time_min is None)
            assert (got.access.connected is None) == (res.access.connected is None)
            assert got.access.vehicle_share == res.access.vehicle_share
            assert got.season == res.season
            assert got.coverage.equals(res.coverage)
            assert got.facility_table.equals(res.facility_table)
    few = back.alternatives["few_bikes"].services["health"].access
    assert few.walk_time_min is not None and few.vehicle_share == 0.3
    assert back.alternatives["tele"].services["health"].access.connected is not None
    np.testing.assert_array_equal(back.population.people, memory.population.people)
    assert back.population.people.dtype == np.float64
    np.testing.assert_array_equal(back.zone, memory.zone)
    # the routes the maps and the report show: the same rows, the same lines
    assert back.routes is not None and memory.routes is not None
    pd.testing.assert_frame_equal(back.routes.origins, memory.routes.origins)
    pd.testing.assert_frame_equal(
        back.routes.legs.drop(columns="geometry"), memory.routes.legs.drop(columns="geometry")
    )
    assert back.routes.legs.geometry.geom_equals_exact(memory.routes.legs.geometry, 0).all()


def test_census_counts_read_back_give_the_same_report(tmp_path: Path) -> None:
    scenario = write_census_region(tmp_path / "census", table=CENSUS_TABLE)
    code, _, err = _cli("run", str(scenario))
    assert code == 0, err
    memory, folder = _written_from_both(scenario, tmp_path)
    a, b = _files(memory), _files(folder)
    assert [name for name in a if a[name] != b[name]] == []


def test_the_commands_say_they_read_the_run(tiny_set: Path, tmp_path: Path) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    code, out, err = _cli("report", str(scenario), "--no-pdf")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"read the run in {tmp_path / 'project' / 'out'}")
    assert "(written 20" in out.splitlines()[0]
    # the report written into the run's folder keeps it a run that can be read again
    code, out, err = _cli("map", str(scenario), "--out", str(tmp_path / "pages"))
    assert code == 0, err
    assert out.startswith("read the run in "), out
    assert (tmp_path / "project" / "out" / "report_en.html").is_file()
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [
        ".reach-output",
        "manifest.json",
        "map_health.html",
    ]


def test_no_run_there_runs_the_scenario(tiny_set: Path, tmp_path: Path) -> None:
    code, out, err = _cli(
        "map", str(tiny_set), "--from", str(tmp_path / "nothing"), "--out", str(tmp_path / "m")
    )
    assert code == 0, err
    first = out.splitlines()[0]
    assert first == f"running the scenario: no run in {tmp_path / 'nothing'} yet", first
    assert (tmp_path / "m" / "map_health.html").is_file()


def test_a_changed_input_runs_the_scenario(tiny_set: Path, tmp_path: Path) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    clinics = scenario.parent / "clinics.csv"
    clinics.write_text(clinics.read_text().replace("120.0375", "120.0365"))
    code, out, err = _cli("map", str(scenario))
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("running the scenario: the input "), first
    assert "clinics.csv changed since the run" in first
    # the maps of the scenario run again show the moved clinic
    assert "120.0365" in (scenario.parent / "out" / "map_health.html").read_text()


def test_a_changed_scenario_runs_it_again(tiny_set: Path, tmp_path: Path) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    scenario.write_text(scenario.read_text().replace("[5, 15, 30]", "[5, 15, 45]"))
    scn = load_scenario(scenario)
    found = reopen_run(scn, scn.resolve(scn.outputs.folder))
    assert found.run is None
    assert "the scenario's 'services' changed since the run" in found.line
    # [outputs] only says what to write: a run is still this scenario's
    scenario.write_text(
        tiny_set.read_text().replace('folder = "out"', 'folder = "out"\nmaps_offline = false')
    )
    scn = load_scenario(scenario)
    assert reopen_run(scn, scn.resolve(scn.outputs.folder)).run is not None


def test_a_folder_reach_did_not_write_is_not_trusted(tiny_set: Path, tmp_path: Path) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    out = scenario.parent / "out"
    (out / "notes.txt").write_text("mine\n")
    code, text, err = _cli("report", str(scenario), "--no-pdf", "--out", str(tmp_path / "r"))
    assert code == 0, err
    first = text.splitlines()[0]
    assert first.startswith("running the scenario: "), first
    assert "not a folder reach can vouch for" in first and "notes.txt" in first
    # the same files, copied by hand without reach's marker: not a run reach wrote
    (out / "notes.txt").unlink()
    copied = tmp_path / "copied"
    shutil.copytree(out, copied, ignore=shutil.ignore_patterns(".reach-output"))
    found = reopen_run(load_scenario(scenario), copied)
    assert found.run is None and "not a folder reach can vouch for" in found.line


@pytest.mark.parametrize(
    "rel", ["travel_time_health.tif", "alternatives/pave/catchment_health.tif",
            f"{STATE_FOLDER}/baseline.parquet", "coverage.parquet"],
)  # fmt: skip
def test_a_tampered_file_is_refused_even_with_its_size_and_time(
    tiny_set: Path, tmp_path: Path, rel: str
) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    path = scenario.parent / "out" / rel
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the marker's stamp still matches
    scn = load_scenario(scenario)
    found = reopen_run(scn, scn.resolve(scn.outputs.folder))
    assert found.run is None
    out = scenario.parent / "out"
    assert found.line == (
        f"running the scenario: {rel} changed since the run wrote it (its sha256 differs) ({out})"
    ), found.line


def test_a_touched_file_is_refused_by_the_marker(tiny_set: Path, tmp_path: Path) -> None:
    scenario = _fresh_copy(tiny_set, tmp_path / "project")
    os.utime(scenario.parent / "out" / "population.tif", ns=(1, 1))
    scn = load_scenario(scenario)
    found = reopen_run(scn, scn.resolve(scn.outputs.folder))
    assert found.run is None and "population.tif" in found.line, found.line
    assert "changed since reach wrote it" in found.line


def test_a_folder_of_maps_is_no_run(tiny_set: Path, tmp_path: Path) -> None:
    code, _, err = _cli("map", str(tiny_set), "--out", str(tmp_path / "pages"))
    assert code == 0, err
    found = reopen_run(load_scenario(tiny_set), tmp_path / "pages")
    assert found.run is None
    assert (
        found.line
        == f"running the scenario: {tmp_path / 'pages'} holds no run (written by `reach map`)"
    )
