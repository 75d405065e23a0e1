"""The command line: a good run, and bad inputs that get one clear line and a non-zero exit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import EXIT_BAD_INPUT
from tests.helpers import SIZE, tiny_people, write_population, write_tiny_region

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--quiet", *args])
    return result.exit_code, result.stdout, result.stderr


def test_tiny_run_writes_tables_and_conserves_population(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    code, out, err = _run("run", str(scenario))
    assert code == 0, err
    folder = tmp_path / "out"
    names = sorted(p.name for p in folder.iterdir())
    expected = {
        "coverage.csv", "coverage.parquet", "facilities.csv", "manifest.json",
        "travel_time_health.tif", "catchment_health.tif", "reason_health.tif",
    }  # fmt: skip
    assert expected <= set(names)
    cov = pd.read_csv(folder / "coverage.csv")
    total = float(cov.loc[cov["zone_id"] == "(all)", "population"].iloc[0])
    people = tiny_people()
    assert total == pytest.approx(people[people >= 0].sum())
    fac = pd.read_csv(folder / "facilities.csv")
    assert fac["catchment_population"].sum() == pytest.approx(total)
    assert "Tiny" in out


def _assert_clean_failure(tmp_path: Path, code: int, err: str, *needles: str) -> None:
    assert code == EXIT_BAD_INPUT, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle.lower() in err.lower(), err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_boundaries_without_crs(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    text = (tmp_path / "zones.geojson").read_text()
    start = text.index('"crs"')
    end = text.index('"features"')
    (tmp_path / "zones.geojson").write_text(text[:start] + text[end:])
    # GeoJSON without a crs member means WGS84 by the spec, so use a shapefile without .prj
    import geopandas as gpd

    gdf = gpd.read_file(tmp_path / "zones.geojson")
    gdf.to_file(tmp_path / "zones.shp")
    (tmp_path / "zones.prj").unlink()
    scenario.write_text(scenario.read_text().replace("zones.geojson", "zones.shp"))
    code, _, err = _run("run", str(scenario))
    _assert_clean_failure(tmp_path, code, err, "zones.shp", "CRS")


def test_swapped_lon_lat(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    (tmp_path / "clinics.csv").write_text(
        "facility_id,name,tier,lon,lat\nC1,A,clinic,-9.02,120.0025\n"
    )
    code, _, err = _run("run", str(scenario))
    _assert_clean_failure(tmp_path, code, err, "clinics.csv", "swapped")


def test_empty_network(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    (tmp_path / "roads.osm").write_text(
        '<?xml version="1.0"?>\n<osm version="0.6"><node id="1" lat="-9.01" lon="120.01"/></osm>\n'
    )
    code, _, err = _run("run", str(scenario))
    _assert_clean_failure(tmp_path, code, err, "roads.osm")


def test_all_nodata_population(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    write_population(tmp_path / "population.tif", np.full((SIZE, SIZE), -99999.0))
    code, _, err = _run("run", str(scenario))
    _assert_clean_failure(tmp_path, code, err, "population.tif")


def test_unknown_scenario_key_names_line(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    scenario.write_text(
        scenario.read_text().replace('osm = "roads.osm"', 'osm = "roads.osm"\nosmm = 1')
    )
    code, _, err = _run("run", str(scenario))
    _assert_clean_failure(tmp_path, code, err, "tiny.toml:7", "osmm")


def test_failed_run_keeps_previous_outputs(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    assert _run("run", str(scenario))[0] == 0
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    (tmp_path / "clinics.csv").write_text("facility_id,name,tier,lon,lat\n")
    code, _, err = _run("run", str(scenario))
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before


def test_console_script_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reach.cli", "run", str(tmp_path / "missing.toml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.strip().count("\n") == 0
    assert "missing.toml" in proc.stderr and "not found" in proc.stderr


def test_run_writes_maps_unless_told_not_to(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    assert _run("run", str(scenario))[0] == 0
    page = (tmp_path / "out" / "map_health.html").read_text()
    assert "Pustu Barat" in page
    # offline: no script or stylesheet to fetch
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=.https?:", page)
    assert _run("run", "--no-maps", str(scenario))[0] == 0
    assert not (tmp_path / "out" / "map_health.html").exists()


def test_map_command_writes_only_maps(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    code, out, err = _run("map", str(scenario), "--out", str(tmp_path / "pages"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [
        ".reach-output",
        "manifest.json",
        "map_health.html",
    ]
    assert "map_health.html" in out
    assert not (tmp_path / "out").exists()
    code, _, err = _run("map", str(scenario), "--basemap", "http://tiles.invalid/{z}/{x}/{y}")
    assert code == EXIT_BAD_INPUT and "https" in err


def test_report_command_writes_both_languages(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    out = tmp_path / "reports"
    code, _, err = _run(
        "report", str(scenario), "--lang", "en", "--lang", "id", "--no-pdf", "--out", str(out)
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        ".reach-output",
        "manifest.json",
        "report_en.html",
        "report_id.html",
    ]
    assert "Cakupan" in (out / "report_id.html").read_text()
    code, _, err = _run("report", str(scenario), "--lang", "de")
    assert code == EXIT_BAD_INPUT and "de" in err and "fr (Français)" in err


def test_plan_and_a_run_on_a_local_dask_cluster(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    code, out, err = _run("plan", str(scenario), "--by", "tiles", "--tile-cells", "400")
    assert code == 0, err
    assert "partition" in out.lower()
    assert _run("run", "--no-maps", str(scenario))[0] == 0
    whole = pd.read_csv(tmp_path / "out" / "coverage.csv")
    whole_catchments = gpd.read_file(tmp_path / "out" / "catchments.gpkg")
    assert list((tmp_path / "out").glob("friction_*.tif"))
    code, _, err = _run("run", "--no-maps", "--workers", "2", "--by", "tiles", str(scenario))
    assert code == 0, err
    parted = pd.read_csv(tmp_path / "out" / "coverage.csv")
    pd.testing.assert_frame_equal(whole, parted, rtol=1e-9)
    # the polygons come from the merged searches; no process held the whole friction
    parted_catchments = gpd.read_file(tmp_path / "out" / "catchments.gpkg")
    pd.testing.assert_frame_equal(whole_catchments, parted_catchments, rtol=1e-9)
    assert not list((tmp_path / "out").glob("friction_*.tif"))
    assert (tmp_path / "out" / "network.gpkg").is_file()
    code, _, err = _run("run", "--workers", "2", "--by", "counties", str(scenario))
    assert code == EXIT_BAD_INPUT and "counties" in err
