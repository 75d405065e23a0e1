"""The analysis commands on the tiny region: capacity, equity, accessibility, referral, siting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import EXIT_BAD_INPUT
from reach.run.analyses import capacity_study, equity_study, referral_study, siting_study
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.spec import Alternative, load_scenario
from tests.helpers import write_tiny_region

runner = CliRunner()


def _tiny(folder: Path, capacity: str = "") -> Path:
    scenario = write_tiny_region(folder)
    (folder / "clinics.csv").write_text(
        "facility_id,name,tier,lon,lat\nC1,Pustu Barat,clinic,120.0025,-9.0205\n"
        "H1,RSUD Timur,hospital,120.0375,-9.0305\n"
    )
    if capacity:
        text = scenario.read_text().replace(
            'tier_column = "tier" }', f'tier_column = "tier", capacity_by_tier = {capacity} }}'
        )
        scenario.write_text(text)
    return scenario


def test_capacity_by_tier_limits_who_is_served(tmp_path: Path) -> None:
    scenario = _tiny(tmp_path, "{ clinic = 2000, hospital = 3000 }")
    region = load_region(load_scenario(scenario))
    base = evaluate(region)
    result = capacity_study(region, base, "health", threshold_min=30)
    everyone = result.zones[result.zones["zone_id"] == "(all)"].iloc[0]
    assert everyone["served"] == pytest.approx(5000)  # both facilities full
    assert everyone["served"] + everyone["in_reach_over_capacity"] + everyone[
        "beyond_reach"
    ] == pytest.approx(everyone["population"])
    fac = result.facilities.set_index("facility_id")
    # the hospital (higher tier) is taken first, then the clinic
    assert fac.loc["H1", "priority_rank"] < fac.loc["C1", "priority_rank"]
    assert fac.loc["H1", "served_people"] == pytest.approx(3000)


def test_equity_and_referral_on_the_tiny_region(tmp_path: Path) -> None:
    region = load_region(load_scenario(_tiny(tmp_path)))
    base = evaluate(region)
    eq = equity_study(region, base)
    assert set(eq["zone_id"]) == {"W", "E", "(outside zones)", "(all)"}
    assert eq["gini_reached"].dropna().between(0, 1).all() and eq["gini_reached"].notna().sum() == 3
    ref = referral_study(region, base, "health")
    fac = ref.facilities.set_index("facility_id")
    assert fac.loc["H1", "referral_time_min"] == 0
    assert fac.loc["C1", "referral_time_min"] > 0
    # end to end is never shorter than the trip to the nearest facility
    direct = base.services["health"].search.time_min
    both = np.isfinite(ref.end_to_end_time_min) & np.isfinite(direct)
    assert (ref.end_to_end_time_min[both] >= direct[both] - 1e-9).all()


def test_siting_sites_are_what_the_pipeline_confirms(tmp_path: Path) -> None:
    region = load_region(load_scenario(_tiny(tmp_path)))
    base = evaluate(region)
    study = siting_study(region, base, "health", n_sites=2, threshold_min=5, grid_step_cells=4)
    exact = study.comparison.exact
    assert study.comparison.greedy.covered_people <= exact.covered_people + 1e-6
    ops = exact.operations(service="health", tier="health_post")
    ev = evaluate(region, alternative=Alternative.model_validate({"name": "x", "operations": ops}))
    before = base.coverage.set_index("zone_id").loc["(all)", "within_5min"]
    after = ev.coverage.set_index("zone_id").loc["(all)", "within_5min"]
    assert after - before == pytest.approx(exact.covered_people, rel=1e-9)


@pytest.mark.parametrize(
    ("command", "files"),
    [
        (["capacity", "--threshold", "30"], ["capacity_zones.csv", "capacity_facilities.csv"]),
        (["equity"], ["equity.csv"]),
        (["access"], ["access_zones.csv", "access_facilities.csv"]),
        (["referral"], ["referral_zones.csv", "referral_facilities.csv"]),
        (
            ["optimize", "--sites", "2", "--threshold", "5", "--grid-step", "5"],
            ["sites_greedy.csv", "sites_exact.csv", "candidates.csv", "alternative.toml"],
        ),
    ],
)
def test_analysis_commands_write_their_tables(
    tmp_path: Path, command: list[str], files: list[str]
) -> None:
    scenario = _tiny(tmp_path, "{ clinic = 2000, hospital = 3000 }")
    out = tmp_path / "study"
    result = runner.invoke(app, ["--quiet", *command, str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    for name in files:
        assert (out / name).is_file(), name
    if command[0] == "optimize":
        text = (out / "alternative.toml").read_text()
        alt = load_scenario(scenario).model_copy()
        assert "add_facility" in text and alt is not None
        assert len(pd.read_csv(out / "sites_exact.csv")) == 2


def test_unknown_service_is_a_clear_error(tmp_path: Path) -> None:
    scenario = _tiny(tmp_path)
    result = runner.invoke(app, ["--quiet", "capacity", str(scenario), "--service", "dental"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "dental" in result.stderr and "Traceback" not in result.stderr
