"""Population correction: the raster's people rescaled per zone to a table of totals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reach.errors import InputError, ScenarioError
from reach.ingest.zone_totals import read_zone_totals
from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.population_correction import CORRECTION_COLUMNS, correct_population
from reach.model.zones import ZoneShares, zone_memberships
from reach.partition.runner import run_partitioned
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.schema import POPULATION_CORRECTION
from reach.spec import load_scenario
from tests.helpers import assert_same_evaluation, write_tiny_region

REPO = Path(__file__).resolve().parents[1]

# two zones on a 2 × 3 grid: zone a (number 1) holds 7 people, zone b (2) 8, the outside 6
PEOPLE = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
ZONE = np.array([[1, 1, 2], [1, 2, 0]], dtype=np.int32)
IDS, NAMES = ["a", "b"], ["A", "B"]


def _zone_sums(people: np.ndarray, membership: np.ndarray | ZoneShares) -> np.ndarray:
    rows = zone_memberships(membership, 2)
    return rows.sums(people.ravel(), 3)


def test_totals_mode_rescales_each_zone_to_its_total() -> None:
    corr = correct_population(
        PEOPLE, ZONE, zone_ids=IDS, zone_names=NAMES, totals={"a": 14, "b": 4}, warn_share=0.1
    )
    assert list(corr.table.columns) == list(CORRECTION_COLUMNS)
    t = corr.table.set_index("zone_id")
    assert t.loc["a", "raster_people"] == 7 and t.loc["b", "raster_people"] == 8
    assert t.loc["a", "factor"] == pytest.approx(2.0) and t.loc["b", "factor"] == pytest.approx(0.5)
    np.testing.assert_allclose(corr.people, [[2.0, 4.0, 1.5], [8.0, 2.5, 6.0]])
    sums = _zone_sums(corr.people, ZONE)
    np.testing.assert_allclose(sums, [14.0, 4.0, 6.0])  # the outside cell left as it is
    assert corr.total_before == 21 and corr.total_after == pytest.approx(24.0)
    # both zones differ by more than 10 %: one warning each, value raster ÷ target
    assert [(f.check, f.subject, f.subject_id) for f in corr.findings] == [
        ("population_total_differs", "zone", "a"),
        ("population_total_differs", "zone", "b"),
    ]
    assert [f.value for f in corr.findings] == pytest.approx([0.5, 2.0])
    assert all(f.severity == "warning" and f.unit == "ratio" for f in corr.findings)


def test_shares_mode_keeps_the_raster_total_inside_the_zones() -> None:
    corr = correct_population(
        PEOPLE, ZONE, zone_ids=IDS, zone_names=NAMES, totals={"a": 3, "b": 1}, mode="shares"
    )
    sums = _zone_sums(corr.people, ZONE)
    # 15 people inside the zones, shared 3 : 1
    np.testing.assert_allclose(sums, [11.25, 3.75, 6.0])
    assert corr.total_after == pytest.approx(corr.total_before)
    assert corr.table["target_people"].tolist() == pytest.approx([11.25, 3.75])


def test_warn_share_sets_which_zones_are_warned_about() -> None:
    totals = {"a": 7.5, "b": 8.0}  # a differs by 6.7 %, b not at all
    quiet = correct_population(
        PEOPLE, ZONE, zone_ids=IDS, zone_names=NAMES, totals=totals, warn_share=0.1
    )
    assert quiet.findings == ()
    loud = correct_population(
        PEOPLE, ZONE, zone_ids=IDS, zone_names=NAMES, totals=totals, warn_share=0.05
    )
    assert [f.subject_id for f in loud.findings] == ["a"]
    assert "7 people" in loud.findings[0].message and "8" in loud.findings[0].message


def test_shared_cells_get_the_share_weighted_factor_and_zones_hit_their_targets() -> None:
    # cell 1 is 60 % a, 40 % b; cell 4 half b, half outside; cell 5 half b, half outside
    shares = ZoneShares(
        zone=ZONE,
        cells=np.array([1, 1, 4, 5], dtype=np.int64),
        zones=np.array([1, 2, 2, 2], dtype=np.int32),
        fractions=np.array([0.6, 0.4, 0.5, 0.5]),
    )
    for mode in ("totals", "shares"):
        corr = correct_population(
            PEOPLE, shares, zone_ids=IDS, zone_names=NAMES, totals={"a": 14, "b": 4}, mode=mode
        )
        sums = _zone_sums(corr.people, shares)
        np.testing.assert_allclose(sums[:2], corr.table["target_people"], rtol=1e-12)
        f_a, f_b = corr.table["factor"]
        # a whole cell of a, the shared cell, and a coastal cell of b (its outside half too)
        assert corr.people[0, 0] == pytest.approx(f_a * 1.0)
        assert corr.people[0, 1] == pytest.approx((0.6 * f_a + 0.4 * f_b) * 2.0)
        assert corr.people[1, 2] == pytest.approx(f_b * 6.0)
    totals = correct_population(
        PEOPLE, shares, zone_ids=IDS, zone_names=NAMES, totals={"a": 14, "b": 4}
    )
    assert totals.table["target_people"].tolist() == pytest.approx([14.0, 4.0], rel=1e-12)


def test_a_zone_without_raster_people_is_warned_about_not_scaled() -> None:
    zone = np.where(ZONE == 2, 1, ZONE)  # zone b holds no cell
    corr = correct_population(
        PEOPLE, zone, zone_ids=IDS, zone_names=NAMES, totals={"a": 30, "b": 10}
    )
    assert [f.check for f in corr.findings] == [
        "population_total_differs",
        "population_total_unplaced",
    ]
    assert _zone_sums(corr.people, zone)[0] == pytest.approx(30.0)


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "census.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("zone,people\na,1\nb,2\nc,3\n", "no reporting zone has id 'c'"),
        ("zone,people\na,1\n", "no total for zone 'b'"),
        ("zone,people\na,1\nb,-2\n", "not a finite number ≥ 0"),
        ("zone,people\na,1\nb,many\n", "is not a number"),
        ("zone,people\na,1\nb,\n", "is not a number"),
        ("zone,people\na,1\na,2\nb,2\n", "appears more than once"),
        ("zone,persons\na,1\nb,2\n", "no column 'people'"),
    ],
)
def test_bad_tables_are_refused_with_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = _table(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_zone_totals(path, zone_column="zone", total_column="people", zone_ids=["a", "b"])
    line = str(err.value)
    assert "\n" not in line and problem in line and str(path) in line and "fix:" in line


def test_a_good_table_reads_in_zone_order(tmp_path: Path) -> None:
    path = _table(tmp_path, "people;zone\n2 000;b\n1000.5;a\n")
    totals = read_zone_totals(path, zone_column="zone", total_column="people", zone_ids=IDS)
    assert totals == {"a": 1000.5, "b": 2000.0}


CORRECTION = """
[region.population_correction]
path = "census.csv"
zone_column = "zone_id"
total_column = "people"
mode = "{mode}"
"""


def _tiny_corrected(tmp_path: Path, mode: str = "totals", census: str = "") -> Path:
    scenario = write_tiny_region(tmp_path / "tiny")
    (scenario.parent / "census.csv").write_text(census or "zone_id,people\nW,10000\nE,2000\n")
    text = scenario.read_text().replace(
        "[region.boundaries]", CORRECTION.format(mode=mode).lstrip() + "[region.boundaries]"
    )
    scenario.write_text(text)
    return scenario


def test_the_table_is_an_input_and_needs_zones(tmp_path: Path) -> None:
    scn = load_scenario(_tiny_corrected(tmp_path))
    assert scn.resolve(Path("census.csv")) in scn.input_paths()
    text = (tmp_path / "tiny" / "tiny.toml").read_text()
    start = text.index("[region.boundaries]")
    end = text.index("[[services]]")
    (tmp_path / "tiny" / "tiny.toml").write_text(text[:start] + text[end:])
    with pytest.raises(ScenarioError, match=r"needs \[region.boundaries\]"):
        load_scenario(tmp_path / "tiny" / "tiny.toml")


def test_the_tiny_region_is_corrected_and_conserved(tmp_path: Path) -> None:
    scn = load_scenario(_tiny_corrected(tmp_path))
    region = load_region(scn)
    assert region.population_correction is not None
    # the raster: 20 columns × 40 rows of 10 in W, one of them the village of 500; E 18 of 10
    assert region.raster_total == pytest.approx(8490 + 7200)
    assert region.population_total == pytest.approx(12_000)
    assert region.population.total == pytest.approx(12_000)
    assert [f.subject_id for f in region.findings if f.check == "population_total_differs"] == [
        "W",
        "E",
    ]
    differs = [f.message for f in region.findings if f.check == "population_total_differs"]
    assert [w for w in region.warnings if w in differs] == differs
    # the run's conservation check compares with the corrected total (it raises otherwise)
    cov = evaluate(region).services["health"].coverage
    by_zone = cov.set_index("zone_id")["population"]
    assert by_zone["W"] == pytest.approx(10_000) and by_zone["E"] == pytest.approx(2000)
    assert by_zone[ALL_ZONES_ID] == pytest.approx(12_000)


def test_the_tiny_run_writes_the_table_and_the_manifest(tmp_path: Path) -> None:
    scenario = _tiny_corrected(tmp_path, mode="shares")
    text = scenario.read_text().replace('folder = "out"', 'folder = "out"\nreports = ["en", "id"]')
    scenario.write_text(text + "report_pdf = false\n")
    scn = load_scenario(scenario)
    out = tmp_path / "out"
    run_scenario(scn, out_dir=out)
    table = pd.read_csv(out / "population_correction.csv")
    assert list(table.columns) == POPULATION_CORRECTION.columns()
    # shares mode: the raster's 15,690 people shared 10 : 2
    assert table["target_people"].tolist() == pytest.approx([15_690 * 10 / 12, 15_690 * 2 / 12])
    manifest = json.loads((out / "manifest.json").read_text())
    population = manifest["population"]
    assert population["raster_total"] == pytest.approx(15_690)
    assert population["population_total"] == pytest.approx(15_690)
    corr = population["correction"]
    assert corr["mode"] == "shares"
    assert [z["zone_id"] for z in corr["zones"]] == ["W", "E"]
    # each zone's warning once (the audit does not repeat what loading said)
    assert sum("zone 'West' (W)" in w for w in manifest["warnings"]) == 1
    cov = pd.read_csv(out / "coverage.csv").set_index("zone_id")
    assert cov.loc["W", "population"] == pytest.approx(15_690 * 10 / 12)
    # the report says so, in both languages, with the table of factors
    assert (
        "redistributed between the zones by the shares of census.csv"
        in (out / "report_en.html").read_text()
    )
    assert (
        "dibagi ulang antarwilayah menurut proporsi dalam census.csv"
        in (out / "report_id.html").read_text()
    )


@pytest.mark.realdata
def test_comoros_islands_follow_the_census(comoros: Path) -> None:
    scn = load_scenario(REPO / "scenarios" / "comoros.toml")
    region = load_region(scn)
    census = pd.read_csv(comoros / "census_2017_islands.csv").set_index("gid_1")
    corr = region.population_correction
    assert corr is not None and corr.mode == "totals"
    rows = zone_memberships(region.membership, len(region.zones))
    sums = rows.sums(region.population.people.ravel(), len(region.zones) + 1)
    for k, zid in enumerate(region.zones["zone_id"]):
        assert sums[k] == pytest.approx(census.loc[zid, "census_2017_population"], rel=1e-9)
    # the raster's swap is warned about, island by island
    warned = {f.subject_id for f in region.findings if f.check == "population_total_differs"}
    assert warned == {"COM.1_1", "COM.2_1", "COM.3_1"}
    assert region.raster_total == pytest.approx(869_595.03, abs=1.0)


def test_a_partitioned_run_from_the_file_is_corrected_too(tmp_path: Path) -> None:
    scn = load_scenario(_tiny_corrected(tmp_path))
    region = load_region(scn)
    base = evaluate(region)
    run = run_partitioned(scn, by="zones", tile_cells=64)
    assert len(run.plan.partitions) >= 2
    assert run.region.population_total == pytest.approx(12_000)
    assert run.region.population_correction is not None
    assert_same_evaluation(region, base, run.baseline, exact=False, ties=True)
