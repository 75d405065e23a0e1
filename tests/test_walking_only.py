"""A region without roads (neither ``osm`` nor ``[region.roads]``): every service walks the grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from reach.model.assemble import SearchGraph
from reach.run.audit import audit_run
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.run.session import service_graph, service_seeds
from reach.spec import load_scenario
from tests.helpers import tiny_people, write_tiny_region


def _roadless(folder: Path, *, mode: str = "motorbike", extra: str = "") -> Path:
    """The tiny region without ``osm = ...``; facilities from its CSV; ``mode`` for health."""
    scenario = write_tiny_region(folder)
    text = scenario.read_text().replace('osm = "roads.osm"\n', "")
    text = text.replace('mode = "motorbike"', f'mode = "{mode}"')
    scenario.write_text(text + extra)
    return scenario


def _grid_dijkstra(g: SearchGraph, seed_cells: np.ndarray, seed_min: np.ndarray) -> np.ndarray:
    """Least walking time to the nearest source over the plain 8-neighbour grid (scipy).

    The sources start at their own times (the walk from each cell around a facility to it):
    a source vertex joined to each at that many minutes.
    """
    pace = g.pace_min_per_m
    src, dst, cost = [], [], []
    source = g.n_cells
    for cell, minutes in zip(seed_cells, seed_min, strict=True):
        src.append(source)
        dst.append(int(cell))
        cost.append(float(minutes) + 1e-300)  # scipy drops explicit zeros
    for u in range(g.n_cells):
        ru, cu = divmod(u, g.cols)
        for dr, dc in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
            rv, cv = ru + dr, cu + dc
            if not (0 <= rv < g.rows and 0 <= cv < g.cols):
                continue
            v = rv * g.cols + cv
            if not (np.isfinite(pace[u]) and np.isfinite(pace[v])):
                continue
            corners = (ru * g.cols + cv, rv * g.cols + cu) if dr and dc else ()
            if any(not np.isfinite(pace[k]) for k in corners):
                continue
            width = abs(dc) * (g.dx_m[ru] + g.dx_m[rv]) / 2
            dist = float(np.hypot(width, abs(dr) * g.dy_m))
            src.append(u)
            dst.append(v)
            cost.append(dist * (pace[u] + pace[v]) / 2)
    graph = csr_matrix((cost, (src, dst)), shape=(g.n_cells + 1, g.n_cells + 1))
    times = dijkstra(graph, directed=True, indices=source)
    return np.asarray(times)[: g.n_cells]


def test_walking_only_scenario_is_valid_and_network_empty(tmp_path: Path) -> None:
    scn = load_scenario(_roadless(tmp_path))
    assert scn.region.osm is None and scn.region.roads is None
    region = load_region(scn)
    assert region.roads.n_ways == 0
    for mode in ("walk", "motorbike", "car"):
        assert service_graph(region, mode).n_nodes == 0


def test_times_equal_a_plain_grid_dijkstra(tmp_path: Path) -> None:
    region = load_region(load_scenario(_roadless(tmp_path, mode="walk")))
    result = evaluate(region).services["health"]
    g = service_graph(region, "walk")
    seeds = service_seeds(region, "walk", result.facilities).cells
    assert set(seeds.point) == set(range(len(result.facilities)))
    expected = _grid_dijkstra(g, seeds.vertex, seeds.time_min)
    got = result.search.time_min
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    ok = np.isfinite(expected)
    assert ok.sum() > 1000
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9, atol=1e-9)


def test_a_motorbike_service_walks(tmp_path: Path) -> None:
    walk = evaluate(load_region(load_scenario(_roadless(tmp_path / "w", mode="walk"))))
    for mode in ("motorbike", "car"):
        other = evaluate(load_region(load_scenario(_roadless(tmp_path / mode, mode=mode))))
        np.testing.assert_array_equal(
            other.services["health"].search.time_min, walk.services["health"].search.time_min
        )


def test_no_roads_is_reported_once_as_info(tmp_path: Path) -> None:
    found = audit_run(load_region(load_scenario(_roadless(tmp_path))))
    roads = [f for f in found if "road" in f.check]
    assert [(f.check, f.severity, f.subject) for f in roads] == [("no_roads", "info", "region")]


def test_a_walking_only_run_writes_coverage_report_and_maps(tmp_path: Path) -> None:
    extra = 'reports = ["en", "id"]\nreport_pdf = false\n'
    scenario = _roadless(tmp_path, extra=extra)
    text = scenario.read_text().replace(extra, "")
    scenario.write_text(text.replace('folder = "out"\n', 'folder = "out"\n' + extra))
    run_scenario(load_scenario(scenario))
    out = tmp_path / "out"
    coverage = pd.read_csv(out / "coverage.csv")
    zones = coverage[~coverage["zone_id"].astype(str).str.startswith("(")]
    total = coverage.loc[coverage["zone_id"] == "(all)", "population"].item()
    people = tiny_people()
    assert total == pytest.approx(people[people > 0].sum(), rel=1e-9)
    outside = coverage.loc[coverage["zone_id"] == "(outside zones)", "population"].sum()
    assert zones["population"].sum() + outside == pytest.approx(total, rel=1e-12)
    for name in ("map_health.html", "report_en.html", "report_id.html", "audit.json"):
        assert (out / name).is_file(), name
    audit = json.loads((out / "audit.json").read_text())
    assert "no_roads" in json.dumps(audit)
