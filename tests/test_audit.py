"""The data-quality audit: the region checks on generated cases, ``audit.csv`` / ``audit.json``
of a run, the report's section (and no crash on a zone outside the grid), the terminal summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from reach import schema
from reach.cli import app
from reach.outputs.audit import audit_summary_lines, manifest_warning_lines
from reach.outputs.report import render_report_html
from reach.run.audit import audit_run
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import CELL_DEG, NORTH, SIZE, WEST, write_population, write_tiny_region

runner = CliRunner()

DETACHED = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="reach-tests">
  <node id="1" lat="-9.0205" lon="120.0015"/>
  <node id="2" lat="-9.0205" lon="120.0200"/>
  <node id="3" lat="-9.0205" lon="120.0385"/>
  <node id="4" lat="-9.0350" lon="120.0050"/>
  <node id="5" lat="-9.0350" lon="120.0150"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>
  <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="track"/></way>
</osm>
"""


def _zones(features: list[tuple[str, str, tuple[float, float, float, float]]]) -> str:
    items = []
    for zid, name, (w, s, e, n) in features:
        ring = [[w, n], [e, n], [e, s], [w, s], [w, n]]
        items.append(
            {
                "type": "Feature",
                "properties": {"zone_id": zid, "name": name},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": items})


def _checks(findings: list, check: str) -> list:
    return [f for f in findings if f.check == check]


def test_a_road_network_in_two_parts_is_listed(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    (tmp_path / "roads.osm").write_text(DETACHED)
    found = audit_run(load_region(load_scenario(scenario)))
    (parts,) = _checks(found, "road_components")
    assert parts.value == 2
    (detached,) = _checks(found, "road_part_detached")
    assert detached.subject == "road" and detached.subject_id == "11"
    assert 1.0 < float(detached.value or 0) < 1.2  # 0.01 degree of longitude at 9° S


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_grid_shortcut_to_far_from_road_decides_as_the_exact_measure(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cells decided on the grid (surely near, surely far) get the exact measure's answer,
    with roads that run off the grid and people everywhere, including at the edges."""
    from reach.ingest.roads import TAG_COLUMNS, RoadLines
    from reach.model import audit

    region = load_region(load_scenario(write_tiny_region(tmp_path)))
    grid = region.grid
    rng = np.random.default_rng(seed)
    people = rng.uniform(0.0, 10.0, grid.shape) * (rng.random(grid.shape) < 0.7)
    n_ways = 6
    sizes = rng.integers(2, 6, n_ways)
    offsets = np.r_[0, np.cumsum(sizes)]
    left, bottom, right, top = grid.bounds
    pad = 0.03  # degrees (≈ 3 km): some roads start or run beyond the grid
    x = rng.uniform(left - pad, right + pad, offsets[-1])
    y = rng.uniform(bottom - pad, top + pad, offsets[-1])
    tags = pd.DataFrame({c: [None] * n_ways for c in TAG_COLUMNS}).astype(object)
    tags["highway"] = "track"
    lines = RoadLines(
        way_id=np.arange(n_ways, dtype=np.int64), offsets=offsets.astype(np.int64), x=x, y=y,
        node_id=np.arange(offsets[-1], dtype=np.int64), tags=tags, crs=grid.crs,
    )  # fmt: skip
    membership = region.zone_shares if region.zone_shares is not None else region.zone
    found = 0
    for distance_m in (300.0, 1000.0, 2500.0):
        fast = audit.far_from_road_findings(
            people, grid, lines, membership, region.zones, distance_m=distance_m
        )
        with monkeypatch.context() as m:
            m.setattr(
                audit, "_grid_distance_bounds",
                lambda *a: (np.zeros(a[4].size, bool), np.zeros(a[4].size, bool)),
            )  # fmt: skip
            exact = audit.far_from_road_findings(
                people, grid, lines, membership, region.zones, distance_m=distance_m
            )
        assert [(f.subject_id, f.value) for f in fast] == [(f.subject_id, f.value) for f in exact]
        found += len(exact)
    assert found  # the case has people far from the roads at some distance


def test_people_beyond_a_kilometre_from_any_road_are_counted_per_zone(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    people = np.zeros((SIZE, SIZE))
    people[1, 5] = 120.0  # 19 rows (≈ 2.1 km) north of the road, in the west zone
    people[20, 30] = 50.0  # next to the road, east zone
    write_population(tmp_path / "population.tif", people)
    found = _checks(audit_run(load_region(load_scenario(scenario))), "people_far_from_road")
    assert [(f.subject_id, f.value) for f in found] == [("W", 120.0)]
    assert found[0].unit == "people" and "2" not in found[0].subject_id


def test_zones_outside_the_grid_and_people_outside_zones(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    (tmp_path / "zones.geojson").write_text(
        _zones(
            [
                ("W", "West", (120.0, -9.04, 120.02, -9.0)),
                ("FAR", "Far away", (130.0, -5.1, 130.5, -5.0)),
                ("HALF", "Half on", (120.035, -9.04, 120.06, -9.03)),
            ]
        )
    )
    region = load_region(load_scenario(scenario))
    found = audit_run(region)
    (outside,) = _checks(found, "zone_outside_grid")
    assert outside.subject == "zone" and outside.subject_id == "FAR"
    (partly,) = _checks(found, "zone_partly_outside_grid")
    assert partly.subject_id == "HALF" and 0.15 < float(partly.value or 0) < 0.25
    (pop,) = _checks(found, "population_outside_zones")
    assert pop.subject == "population" and pop.severity == "warning"
    assert pop.value == pytest.approx(
        15690 - 8490 - 300, abs=1
    )  # all but West and 30 cells of Half
    # the report lists it and draws the rest, never crashing on the zone with no cell
    run = run_scenario(region.scenario, region=region, write=False)
    findings = audit_run(region, run.baseline)
    html = render_report_html(run, findings=findings)
    assert "Data quality" in html and "FAR" in html and "Zone outside the grid" in html
    assert "zone_outside_grid" not in html and "written in English" not in html
    # in Indonesian the checks are named in Indonesian, and the English findings said to be so
    html = render_report_html(run, findings=findings, lang="id")
    assert "Wilayah di luar grid" in html and "Penduduk di luar semua wilayah" in html
    assert "Temuan ditulis dalam bahasa Inggris" in html


def test_a_layer_covering_part_of_the_region_is_a_finding(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    scenario.write_text(
        scenario.read_text().replace(
            "[[services]]",
            '[region.landcover]\npath = "landcover.tif"\nlabels = { "1" = "Built_area" }\n'
            "speeds_kph = { Built_area = 4.0 }\n[[services]]",
        )
    )
    with rasterio.open(
        tmp_path / "landcover.tif", "w", driver="GTiff", height=SIZE, width=SIZE // 4, count=1,
        dtype="uint8", crs="EPSG:4326", transform=Affine(CELL_DEG, 0, WEST, 0, -CELL_DEG, NORTH),
    ) as dst:  # fmt: skip
        dst.write(np.ones((SIZE, SIZE // 4), np.uint8), 1)
    region = load_region(load_scenario(scenario))
    (layer,) = _checks(audit_run(region), "layer_partial_cover")
    assert layer.subject == "layer" and layer.subject_id.endswith("landcover.tif")
    assert layer.severity == "warning" and layer.value == pytest.approx(0.26, abs=0.01)
    # the manifest does not repeat the warning the region already has
    assert manifest_warning_lines([layer], known=region.warnings) == []


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("audit_run")
    scenario = write_tiny_region(folder)
    (folder / "roads.osm").write_text(DETACHED)
    scenario.write_text(
        scenario.read_text().replace('folder = "out"', 'folder = "out"\nmaps = false')
    )
    result = runner.invoke(app, ["run", str(scenario), "--out", str(folder / "out")])
    assert result.exit_code == 0, result.stderr
    return folder, result.stdout


def test_a_run_writes_audit_csv_and_json(tiny_run: tuple[Path, str]) -> None:
    folder, _ = tiny_run
    out = folder / "out"
    with (out / "audit.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == schema.AUDIT.columns()
    checks = [r["check"] for r in rows]
    assert "road_part_detached" in checks and "road_components" in checks
    data = json.loads((out / "audit.json").read_text())
    assert data["counts"]["road_part_detached"] == {"info": 1}
    assert len(data["findings"]) == len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    warned = [r["message"] for r in rows if r["severity"] == "warning"]
    assert all(any(m in w for w in manifest["warnings"]) for m in warned)


def test_the_audit_is_deterministic(tiny_run: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = tiny_run
    again = tmp_path / "again"
    result = runner.invoke(app, ["-q", "run", str(folder / "tiny.toml"), "--out", str(again)])
    assert result.exit_code == 0, result.stderr
    for name in ("audit.csv", "audit.json"):
        assert (again / name).read_bytes() == (folder / "out" / name).read_bytes(), name


def test_the_terminal_summary_after_a_run(tiny_run: tuple[Path, str]) -> None:
    _, stdout = tiny_run
    assert "data quality:" in stdout and "road_part_detached" in stdout
    assert "audit.csv" in stdout
    lines = audit_summary_lines([], path="x/audit.csv")
    assert lines == ["data quality: nothing to report"]
