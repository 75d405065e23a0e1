"""The worked examples in ``scenarios/`` run on the real Comoros data and say what they should.

Each script runs as a planner would run it (a subprocess with ``REACH_DATA`` set), writes its
table to a temporary folder, and the table is checked against what must hold whatever the data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.settings import DATA_ENV
from reach.spec import load_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _script(name: str, out: Path, data: Path, *args: str) -> str:
    env = {**os.environ, DATA_ENV: str(data)}
    proc = subprocess.run(
        [sys.executable, str(SCENARIOS / name), "--out", str(out), *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    return proc.stdout


def test_new_health_centre_script_ranks_sites_on_the_worst_island(
    real_data: Path, comoros: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sites.csv"
    stdout = _script("new_health_centre.py", out, real_data, "--candidates", "4")
    sites = pd.read_csv(out)
    assert "Worst access within 60 min for health: Nzwani (Anjouan)" in stdout
    assert 1 <= len(sites) <= 4
    # ranked by people newly covered; a new centre never takes coverage away
    assert (np.diff(sites["newly_covered"].to_numpy()) <= 0).all()
    assert (sites["newly_covered"] >= 0).all() and sites["newly_covered"].iloc[0] > 1000
    assert (sites["island_pct_after"] >= sites["island_pct_before"]).all()
    # every site is on Nzwani (Anjouan), the eastern island
    assert sites["lon"].between(44.15, 44.6).all()


def test_wet_season_script_counts_losses_and_what_paving_keeps(
    real_data: Path, comoros: Path, tmp_path: Path
) -> None:
    out = tmp_path / "wet.csv"
    _script("wet_season.py", out, real_data)
    table = pd.read_csv(out).set_index("zone_id")
    everyone = table.loc["(all)"]
    assert everyone["covered_wet"] < everyone["covered_dry"]
    assert everyone["losing_in_wet_season"] == pytest.approx(
        everyone["covered_dry"] - everyone["covered_wet"], abs=0.2
    )
    # paving on Nzwani keeps some of Nzwani's people, and nobody elsewhere
    assert table.loc["COM.1_1", "kept_by_paving"] > 0
    assert table.loc["COM.2_1", "kept_by_paving"] == 0
    dry_pct = 100 * table["covered_dry"] / table["population"]
    wet_pct = 100 * table["covered_wet"] / table["population"]
    year = table["year_share_covered_pct"]
    assert ((year <= dry_pct + 0.1) & (year >= wet_pct - 0.1)).all()


def test_telemedicine_script_grows_with_share_and_range(
    real_data: Path, comoros: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tele.csv"
    _script("telemedicine.py", out, real_data, "--shares", "0.1", "0.5", "--ranges-km", "3", "10")
    table = pd.read_csv(out)
    assert len(table) == 4
    assert (table["effective_pct"] >= table["physical_pct"]).all()
    by = table.set_index(["tower_range_km", "remote_share"])
    assert by.loc[(10.0, 0.5), "effective_pct"] >= by.loc[(3.0, 0.5), "effective_pct"]
    assert by.loc[(10.0, 0.5), "people_connected"] > by.loc[(3.0, 0.5), "people_connected"]
    assert (
        by.loc[(3.0, 0.5), "referral_trips_avoided_per_year"]
        > by.loc[(3.0, 0.1), "referral_trips_avoided_per_year"]
    )


def test_comoros_options_compares_seven_alternatives(
    real_data: Path, comoros: Path, tmp_path: Path
) -> None:
    scn = load_scenario(SCENARIOS / "comoros_options.toml")
    assert scn.scenario.name == "Comoros health options"
    assert len(scn.alternatives) >= 4
    region = load_region(scn)
    run = run_scenario(scn, out_dir=tmp_path / "out", region=region)
    assert run.ranking is not None
    health = run.ranking[run.ranking["service"] == "health"].set_index("alternative")
    assert health.loc["health_centre_nzwani", "gaining"] > 10_000
    assert health.loc["health_centre_nzwani", "losing"] == 0
    assert health.loc["wet_season", "losing"] > 0 and health.loc["few_motorbikes", "losing"] > 0
    # each island has hospitals of its own and the boat wait is half a day: no one's nearest
    # care within the thresholds is across the sea, so a more frequent ferry changes nothing
    assert health.loc["ferry_twice_daily", "gaining"] == 0
    for name in scn.alternatives:
        assert (tmp_path / "out" / "alternatives" / name.name / "coverage.csv").is_file()
    # the incremental search of an added centre equals the full search, cell for cell
    alt = next(a for a in scn.alternatives if a.name == "health_centre_nzwani")
    full = evaluate(region, alternative=alt, baseline=run.baseline, incremental=False)
    fast = run.alternatives["health_centre_nzwani"]
    for svc in ("health", "health_walk"):
        np.testing.assert_array_equal(
            fast.services[svc].search.time_min, full.services[svc].search.time_min
        )
        np.testing.assert_array_equal(
            fast.services[svc].search.reason, full.services[svc].search.reason
        )
