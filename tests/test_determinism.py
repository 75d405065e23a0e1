"""The same inputs give the same bytes: tables, rasters and GeoPackages of a scenario set."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pyogrio

from reach.outputs.folders import OUTPUT_MARKER
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import write_tiny_set


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", OUTPUT_MARKER)
    }


def test_two_runs_give_identical_files(tmp_path: Path) -> None:
    scenario = write_tiny_set(tmp_path / "project")
    run_scenario(load_scenario(scenario), out_dir=tmp_path / "project" / "a")
    # a second copy of the project elsewhere, run later: paths and times differ, bytes must not
    shutil.copytree(tmp_path / "project", tmp_path / "copy", ignore=shutil.ignore_patterns("a"))
    run_scenario(load_scenario(tmp_path / "copy" / "tiny.toml"), out_dir=tmp_path / "copy" / "b")
    a, b = _digests(tmp_path / "project" / "a"), _digests(tmp_path / "copy" / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    kinds = {Path(k).suffix for k in a}
    assert {".csv", ".parquet", ".tif", ".gpkg"} <= kinds
    # the manifest differs only in timings and absolute paths
    ma = json.loads((tmp_path / "project" / "a" / "manifest.json").read_text())
    mb = json.loads((tmp_path / "copy" / "b" / "manifest.json").read_text())
    for key in ("timings_s", "scenario_base_dir", "inputs_sha256", "run_id"):
        ma.pop(key), mb.pop(key)
    assert ma == mb


def test_geopackages_hold_facilities_and_zone_coverage(tmp_path: Path) -> None:
    scenario = write_tiny_set(tmp_path)
    run_scenario(load_scenario(scenario))
    out = tmp_path / "out"
    assert [name for name, _ in pyogrio.list_layers(out / "facilities.gpkg")] == ["health"]
    fac = gpd.read_file(out / "facilities.gpkg", layer="health")
    assert set(fac["facility_id"]) == {"C1", "C2"}
    assert fac.crs.to_epsg() == 4326 and "catchment_population" in fac
    zones = gpd.read_file(out / "zones.gpkg", layer="health")
    assert sorted(zones["zone_id"]) == ["E", "W"]
    assert {"pct_within_15min", "unreachable_total"} <= set(zones.columns)
    assert (out / "alternatives" / "new_post" / "facilities.gpkg").is_file()
    added = gpd.read_file(out / "alternatives" / "new_post" / "facilities.gpkg", layer="health")
    assert "P1" in set(added["facility_id"])
