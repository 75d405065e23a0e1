"""The real regions end to end: Comoros (OSM PBF, WorldPop) and the AccessMod Malawi demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from reach.codes import REASON_REACHED
from reach.metrics.coverage import ALL_ZONES_ID
from reach.results import RunResult
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import output_hashes

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def comoros_run(comoros: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    out = tmp_path_factory.mktemp("comoros") / "out"
    return run_scenario(load_scenario(REPO / "scenarios" / "comoros.toml"), out_dir=out)


def _all(run: RunResult, service: str) -> pd.Series:
    cov = run.coverage
    return cov[(cov["service"] == service) & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]


def test_comoros_population_is_conserved(comoros_run: RunResult) -> None:
    for service in ("health", "health_walk"):
        row = _all(comoros_run, service)
        # the census-corrected total: 758,316 on the islands, 17,043 in cells off GADM's coast
        assert row["population"] == pytest.approx(775_358.83, abs=1.0)
        parts = row["within_120min"] + row["reached_beyond_120min"] + row["unreachable_total"]
        assert parts == pytest.approx(row["population"], rel=1e-12)
    assert comoros_run.region.raster_total == pytest.approx(869_595.03, abs=1.0)
    zones = comoros_run.coverage[comoros_run.coverage["service"] == "health"].set_index("zone_id")
    # the population correction: each island holds its 2017 census population (the raster
    # holds 441,510, 339,610 and 64,392 by exact zone shares: Anjouan and Mohéli swapped)
    assert zones.loc["COM.2_1", "population"] == pytest.approx(379_367, abs=1e-3)
    assert zones.loc["COM.3_1", "population"] == pytest.approx(51_567, abs=1e-3)
    assert zones.loc["COM.1_1", "population"] == pytest.approx(327_382, abs=1e-3)


def test_comoros_facilities_and_plausible_coverage(comoros_run: RunResult) -> None:
    health = comoros_run.services["health"].facilities
    # hospitals, clinics, doctors, health posts (no pharmacies): 45 records, of which 8 are an
    # OSM building drawn over a node of the same facility, merged by the audit
    assert len(health) == 37
    assert set(health["tier"]) <= {"hospital", "health_centre", "clinic"}
    walk = _all(comoros_run, "health_walk")
    ride = _all(comoros_run, "health")
    # straight line: 67 % of the raster's people live within 5 km of such a facility; walking
    # 60 minutes covers 3-5 km on hilly ground, a motorbike far more. With the census
    # correction most people live on Anjouan, where walking reaches 8 % within 60 minutes.
    assert 15 < walk["pct_within_60min"] < 75
    assert ride["pct_within_60min"] > walk["pct_within_60min"] + 10
    assert ride["unreachable_total"] < 0.02 * ride["population"]


def test_comoros_times_respect_straight_line_bounds(comoros_run: RunResult) -> None:
    """No cell may be reached faster than the straight line at the fastest speed allowed."""
    grid = comoros_run.grid
    for service, fastest_kph in (("health_walk", 6.0 * 1.2), ("health", 80.0)):
        res = comoros_run.services[service]
        reached = np.flatnonzero(res.search.reason == REASON_REACHED)
        x, y = grid.cell_centres(reached)
        fac = res.facilities
        fx, fy = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
        lat0 = np.deg2rad(-11.9)
        scale = np.array([111_320.0 * np.cos(lat0), 110_574.0])
        tree = cKDTree(np.c_[fx, fy] * scale)
        dist_m, _ = tree.query(np.c_[x, y] * scale)
        lower_min = np.maximum(dist_m - 150.0, 0) / 1000.0 / fastest_kph * 60.0
        assert (res.search.time_min[reached] >= lower_min - 1e-6).all(), service


def test_comoros_outputs_are_deterministic(comoros_run: RunResult, tmp_path: Path) -> None:
    again = run_scenario(comoros_run.scenario, out_dir=tmp_path / "again")
    assert comoros_run.out_dir is not None and again.out_dir is not None
    first = output_hashes(comoros_run.out_dir)
    assert "run_state/baseline.parquet" in first
    assert output_hashes(again.out_dir) == first


def test_malawi_accessmod_demo(malawi: Path, tmp_path: Path) -> None:
    run = run_scenario(
        load_scenario(REPO / "scenarios" / "malawi_accessmod.toml"), out_dir=tmp_path / "mw"
    )
    row = _all(run, "health")
    assert row["population"] == pytest.approx(4_140_429.43, abs=1.0)
    assert len(run.services["health"].facilities) == 10
    for th in (60, 90, 120, 180):
        assert f"pct_within_{th}min" in run.coverage.columns
    # a 360-minute limit: people beyond it are counted, not dropped or given a time
    assert row["unreachable_beyond_time_limit"] > 0
    assert row["within_60min"] < row["within_180min"] <= row["population"]
    assert 30 < row["pct_within_120min"] < 90
    fac = run.facilities
    assert fac["catchment_population"].sum() == pytest.approx(
        row["within_180min"] + row["reached_beyond_180min"], rel=1e-9
    )
