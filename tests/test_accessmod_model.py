"""The AccessMod-compatible model: roads as cells, r.cost's corners, whole minutes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from reach.cli import app
from reach.codes import STATUS_PASSABLE, STATUS_WATER
from reach.engine.combined import combined_search
from reach.model.accessmod import burned_friction, road_cell_kph
from reach.model.assemble import search_graph
from reach.model.grid import Friction
from reach.model.speeds import default_profile
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.spec import load_scenario
from tests.helpers import road_lines, utm_grid, write_tiny_region


def test_roads_are_burned_as_cells_fastest_first_over_water() -> None:
    grid = utm_grid(5, 5)
    # a track along row 2 and a primary down column 2: they share cell (2, 2)
    lines = road_lines(
        [
            ([(10.0, 250.0), (490.0, 250.0)], {"highway": "track"}),
            ([(250.0, 490.0), (250.0, 10.0)], {"highway": "primary"}),
        ]
    )
    car = default_profile("car")
    kph = road_cell_kph(lines, grid, car)
    assert (kph[2, :] > 0).all() and (kph[:, 2] > 0).all()
    assert kph[2, 2] == car.highway_kph["primary"]
    assert kph[2, 0] == car.highway_kph["track"]
    assert (kph[0, 0], kph[4, 4]) == (0.0, 0.0)
    pace = np.full((5, 5), 0.015)
    status = np.full((5, 5), STATUS_PASSABLE, np.uint8)
    pace[:, 3] = np.inf  # a river across column 3: the track bridges it
    status[:, 3] = STATUS_WATER
    burned = burned_friction(Friction(pace, status, None), lines, grid, car)
    assert np.isfinite(burned.pace_min_per_m[2, 3]) and burned.status[2, 3] == STATUS_PASSABLE
    assert np.isinf(burned.pace_min_per_m[1, 3])
    assert burned.pace_min_per_m[2, 2] == 60.0 / (car.highway_kph["primary"] * 1000.0)
    assert burned.elevation_m is None


def test_a_diagonal_passes_between_impassable_cells_only_with_cut_corners() -> None:
    grid = utm_grid(2, 2)
    pace = np.array([[0.015, np.inf], [np.inf, 0.015]])
    status = np.where(np.isfinite(pace), STATUS_PASSABLE, STATUS_WATER).astype(np.uint8)
    graph = search_graph(grid, Friction(pace, status, None), None)
    assert np.isinf(combined_search(graph, np.array([0])).time_min[3])
    cut = combined_search(dataclasses.replace(graph, cut_corners=True), np.array([0]))
    np.testing.assert_allclose(cut.time_min[3], np.hypot(100, 100) * 0.015)


def _accessmod_tiny(tmp_path: Path) -> Path:
    scenario = write_tiny_region(tmp_path)
    text = scenario.read_text().replace("[grid]\n", '[grid]\nmodel = "accessmod"\n')
    if 'model = "accessmod"' not in text:
        text += '\n[grid]\nmodel = "accessmod"\n'
    scenario.write_text(text)
    return scenario


def test_times_are_whole_minutes_and_facilities_start_at_zero(tmp_path: Path) -> None:
    region = load_region(load_scenario(_accessmod_tiny(tmp_path)))
    res = evaluate(region).services["health"]
    t = res.search.time_min
    finite = np.isfinite(t)
    assert finite.sum() > 100
    np.testing.assert_array_equal(t[finite], np.floor(t[finite]))
    cells = res.facilities["cell"].to_numpy()
    assert (t[cells[cells >= 0]] == 0).all()
    reach_model = load_region(load_scenario(write_tiny_region(tmp_path / "reach")))
    other = evaluate(reach_model).services["health"].search.time_min
    assert not np.array_equal(np.isfinite(other), finite) or not np.allclose(
        other[finite], t[finite]
    )


def test_the_manifest_names_the_model_and_partitions_refuse_it(tmp_path: Path) -> None:
    scenario = _accessmod_tiny(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["--quiet", "run", str(scenario), "--no-maps"])
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "accessmod"
    refused = runner.invoke(
        app, ["--quiet", "run", str(scenario), "--no-maps", "--workers", "1", "--out",
              str(tmp_path / "parts")],
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "AccessMod-compatible model" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "parts").exists()
