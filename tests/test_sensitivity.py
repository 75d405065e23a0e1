"""Coverage as a range: the baseline rerun over a Latin-hypercube sample of the speeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID
from reach.run.evaluate import evaluate
from reach.run.region import friction_inputs, load_region
from reach.run.sensitivity import latin_hypercube, sample_coverage, sensitivity_study, speed_factors
from reach.spec import load_scenario
from tests.helpers import write_tiny_region

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_the_design_is_a_latin_hypercube_in_the_range() -> None:
    design = latin_hypercube(5, samples=8, speed_range_pct=20, seed=3)
    assert design.shape == (8, 5)
    assert (design >= 0.8).all() and (design <= 1.2).all()
    # every factor has exactly one sample in each of the 8 equal slices of its range
    slices = np.floor((design - 0.8) / 0.4 * 8).astype(int)
    for col in slices.T:
        assert sorted(col.tolist()) == list(range(8))
    np.testing.assert_array_equal(design, latin_hypercube(5, samples=8, speed_range_pct=20, seed=3))
    assert not np.array_equal(design, latin_hypercube(5, samples=8, speed_range_pct=20, seed=4))


def _tiny(tmp_path: Path):  # type: ignore[no-untyped-def]
    region = load_region(load_scenario(write_tiny_region(tmp_path)))
    return region, evaluate(region)


def test_a_sample_at_the_scenarios_speeds_is_the_baseline(tmp_path: Path) -> None:
    """The sample path measures exactly as the run does; faster speeds never cover fewer."""
    region, base = _tiny(tmp_path)
    factors = speed_factors(region)
    assert set(factors["kind"]) == {"default walk", "road"}
    inputs = friction_inputs(region.scenario, pop=region.population)
    ones = sample_coverage(region, inputs, factors, np.ones(len(factors)), 0)
    got = pd.concat(ones, ignore_index=True)
    cov = base.services["health"].coverage
    for t in region.scenario.services[0].thresholds_min:
        mine = got[got["threshold_min"] == float(t)].set_index("zone_id")["pct_within"]
        want = cov.set_index("zone_id")[f"pct_within_{t:g}min"]
        pd.testing.assert_series_equal(
            mine.sort_index(), want.astype(float).sort_index(), check_names=False
        )
    slow = pd.concat(sample_coverage(region, inputs, factors, np.full(len(factors), 0.8), 1))
    fast = pd.concat(sample_coverage(region, inputs, factors, np.full(len(factors), 1.2), 2))
    both = slow.merge(fast, on=["service", "zone_id", "threshold_min"], suffixes=("_s", "_f"))
    ok = both["pct_within_s"].notna()
    assert (both.loc[ok, "pct_within_f"] >= both.loc[ok, "pct_within_s"] - 1e-9).all()
    assert (both.loc[ok, "pct_within_f"] > both.loc[ok, "pct_within_s"]).any()


def test_ranges_hold_the_samples_and_repeat_with_the_seed(tmp_path: Path) -> None:
    region, base = _tiny(tmp_path)
    a = sensitivity_study(region, base, samples=5, speed_range_pct=25, seed=7)
    b = sensitivity_study(region, base, samples=5, speed_range_pct=25, seed=7)
    pd.testing.assert_frame_equal(a.ranges, b.ranges)
    pd.testing.assert_frame_equal(a.design, b.design)
    r = a.ranges.dropna(subset=["pct_low"])
    assert (r["pct_low"] <= r["pct_median"] + 1e-12).all()
    assert (r["pct_median"] <= r["pct_high"] + 1e-12).all()
    assert (r["samples"] == 5).all()
    # every sample's figure is kept, and the range is their 5th-95th percentile
    whole = a.samples[(a.samples["zone_id"] == ALL_ZONES_ID) & (a.samples["threshold_min"] == 30)]
    row = a.ranges[(a.ranges["zone_id"] == ALL_ZONES_ID) & (a.ranges["threshold_min"] == 30)]
    assert float(row["pct_low"].iloc[0]) == pytest.approx(whole["pct_within"].quantile(0.05))
    assert float(row["pct_high"].iloc[0]) == pytest.approx(whole["pct_within"].quantile(0.95))
    assert len(a.design) == 5 * len(a.factors)
    np.testing.assert_allclose(
        a.design["sampled_kph"], a.design["speed_kph"] * a.design["multiplier"]
    )
    with pytest.raises(ValueError, match="at least 2"):
        sensitivity_study(region, base, samples=1, speed_range_pct=20)


def test_one_sample_is_refused_in_the_scenario(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    scenario.write_text(scenario.read_text() + "\n[sensitivity]\nsamples = 1\n")
    with pytest.raises(ScenarioError, match="one sample gives no range"):
        load_scenario(scenario)


def test_bad_samples_on_the_command_line_are_one_line(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    result = runner.invoke(app, ["--quiet", "sensitivity", str(scenario), "--samples", "1"])
    assert result.exit_code != 0
    assert "--samples 1" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out_sensitivity").exists()


@pytest.mark.realdata
def test_reach_sensitivity_on_comoros_writes_ranges_into_the_report(
    real_data: Path, tmp_path: Path
) -> None:
    """A small sample of Comoros: the tables, the manifest and the report's ranges."""
    del real_data  # only its skip
    shutil.copy(REPO / "scenarios" / "comoros.toml", tmp_path / "comoros.toml")
    out = tmp_path / "sens"
    result = runner.invoke(
        app,
        ["--quiet", "sensitivity", str(tmp_path / "comoros.toml"), "--samples", "4", "--seed",
         "2", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ranges = pd.read_csv(out / "sensitivity.csv")
    whole = ranges[(ranges["service"] == "health") & (ranges["zone_id"] == ALL_ZONES_ID)]
    assert len(whole) == 3
    assert (whole["pct_low"] < whole["pct_high"]).all()
    # ± 20 % on every speed moves the whole islands' figure by points, not by nothing
    assert (whole["pct_high"] - whole["pct_low"]).max() > 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sensitivity"]["samples"] == 4
    html = (out / "report_en.html").read_text()
    pct = float(whole[whole["threshold_min"] == 60]["pct_within"].iloc[0])
    lo = float(whole[whole["threshold_min"] == 60]["pct_low"].iloc[0])
    assert f"{pct:.1f}% ({lo:.1f}–" in html
    assert "How sure the figures are" in html
    influence = pd.read_csv(out / "sensitivity_influence.csv")
    assert set(influence["service"]) == {"health", "health_walk", "school"}
