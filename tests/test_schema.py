"""The output table schema (``reach.schema``): the columns page is generated from it, and the
tables a run and the analysis commands write have exactly the columns it names, in its order."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pyogrio
import pytest
from typer.testing import CliRunner

from reach import schema
from reach.cli import app
from reach.spec import load_scenario
from tests.helpers import write_tiny_set

PAGE = Path(__file__).resolve().parents[1] / "docs" / "columns.md"

runner = CliRunner()


def test_the_columns_page_is_generated_from_the_schema() -> None:
    assert PAGE.read_text("utf-8") == schema.columns_markdown(), (
        "docs/columns.md is out of date: run python docs/gen_columns.py"
    )


def test_threshold_columns_are_named_in_g_format() -> None:
    assert schema.within_col(30) == schema.within_col(30.0) == "within_30min"
    assert schema.pct_within_col(7.5) == "pct_within_7.5min"
    assert schema.pct_within_col(60) == schema.pct_col(schema.within_col(60))
    assert schema.pct_physical_col(15) == schema.pct_col(schema.physical_col(15))
    assert schema.unreachable_col("no_network_link") == "unreachable_no_network_link"
    col = schema.reached_beyond_col.column(120)
    assert col.name == "reached_beyond_120min" and "120 min" in col.meaning
    assert schema.within_col.pattern().name == "within_<T>min"


def test_thresholds_come_ascending_once_each() -> None:
    names = schema.COVERAGE.columns([30, 5, 15, 5.0])
    assert [n for n in names if n.startswith("within_")] == [
        "within_5min",
        "within_15min",
        "within_30min",
    ]
    assert [n for n in names if n.startswith("reached_beyond_")] == ["reached_beyond_30min"]


def test_options_and_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="no option"):
        schema.EQUITY.columns([30], options=["limits"])
    with pytest.raises(ValueError, match="threshold"):
        schema.COVERAGE.columns([])
    assert "limit_min" in schema.EQUITY.columns([30], options=["limit"])
    assert "limit_min" not in schema.EQUITY.columns([30])


def test_every_table_and_column_is_named_once() -> None:
    files = [f for table in schema.TABLES for f in table.files]
    assert len(files) == len(set(files))
    for table in schema.TABLES:
        names = table.columns([5, 15, 30], options=table.options)
        assert len(names) == len(set(names)), table.files
        assert all(c.unit and c.meaning for c in table.described([30], options=table.options))


def test_stacked_tables_keep_the_first_order() -> None:
    a = schema.COVERAGE.columns([30, 60])
    b = schema.COVERAGE.columns([30, 90])
    both = schema.stacked([a, b])
    assert both[: len(a)] == a and both[len(a) :] == [
        "within_90min",
        "reached_beyond_90min",
        "pct_within_90min",
    ]


# --- the tables real outputs have -------------------------------------------------------------

#: The tiny set's clinics and a hospital, for the hub-and-spoke telemedicine and the referral.
CLINICS = (
    "facility_id,name,tier,lon,lat\nC1,Pustu Barat,clinic,120.0025,-9.0205\n"
    "C2,Pustu Timur,clinic,120.0375,-9.0305\nH1,RSUD Tengah,hospital,120.0200,-9.0105\n"
)

#: The analysis commands run, each into its own folder.
STUDIES = {
    "capacity": ["capacity"],
    "equity": ["equity"],
    "access": ["access"],
    "referral": ["referral"],
    "optimize": ["optimize", "--sites", "2", "--candidates", "20", "--cost", "100"],
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float], bool]:
    """The tiny set run (every kind of alternative) and each analysis command on it."""
    folder = tmp_path_factory.mktemp("schema")
    scenario = write_tiny_set(folder)
    (folder / "clinics.csv").write_text(CLINICS)
    text = scenario.read_text()
    text = text.replace(
        "hub_and_spoke = false", 'hub_and_spoke = true, referral_tier = "hospital"'
    ).replace('folder = "out"', 'folder = "out"\nmaps = false')
    scenario.write_text(text)
    for args in [["run"], *STUDIES.values()]:
        out = folder / ("out" if args == ["run"] else args[0])
        result = runner.invoke(app, ["--quiet", *args, str(scenario), "--out", str(out)])
        assert result.exit_code == 0, (args, result.stderr)
    scn = load_scenario(scenario)
    (service,) = scn.services
    return folder, list(service.thresholds_min), math.isfinite(scn.grid.max_travel_time_min)


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def _check(folder: Path, expected: dict[str, list[str]], *, audit: bool = True) -> None:
    if audit:  # every run and analysis folder holds the data-quality audit
        expected = {**expected, "audit.csv": schema.AUDIT.columns()}
    written = sorted(p.name for p in folder.glob("*.csv"))
    assert written == sorted(expected), folder
    for name, columns in expected.items():
        assert _header(folder / name) == columns, name


def test_a_run_writes_the_schemas_columns(written: tuple[Path, list[float], bool]) -> None:
    folder, th, _ = written
    out = folder / "out"
    run = {
        "coverage.csv": schema.COVERAGE.columns(th),
        "facilities.csv": schema.FACILITIES.columns(th),
    }
    compared = {
        "comparison.csv": schema.COMPARISON.columns(th),
        "ranking.csv": schema.RANKING.columns(),
    }
    _check(out, {**run, **compared})
    extra = {
        "wet": {"seasons.csv": schema.SEASONS.columns(th)},
        "tele": {
            "virtual.csv": schema.VIRTUAL.columns(th),
            "referrals.csv": schema.REFERRALS.columns(),
        },
    }
    alternatives = sorted((out / "alternatives").iterdir())
    assert {p.name for p in alternatives} >= set(extra)
    for alt in alternatives:
        _check(alt, {**run, **extra.get(alt.name, {})}, audit=False)
    for name, table in (
        ("zones.gpkg", schema.ZONES_LAYER),
        ("facilities.gpkg", schema.FACILITIES_LAYER),
    ):
        layers = [str(layer) for layer, _ in pyogrio.list_layers(out / name)]
        assert layers == ["health"], name
        fields = list(pyogrio.read_info(out / name, layer="health")["fields"])
        assert [*fields, "geometry"] == table.columns(th), name


def test_the_analysis_commands_write_the_schemas_columns(
    written: tuple[Path, list[float], bool],
) -> None:
    folder, th, limit = written
    _check(
        folder / "capacity",
        {
            "capacity_zones.csv": schema.CAPACITY_ZONES.columns(),
            "capacity_facilities.csv": schema.CAPACITY_FACILITIES.columns(),
        },
    )
    options = ["limit"] if limit else []
    _check(folder / "equity", {"equity.csv": schema.EQUITY.columns(th, options=options)})
    _check(
        folder / "access",
        {
            "access_zones.csv": schema.ACCESS_ZONES.columns(),
            "access_facilities.csv": schema.ACCESS_FACILITIES.columns(),
        },
    )
    _check(
        folder / "referral",
        {
            "referral_zones.csv": schema.REFERRAL_ZONES.columns(th),
            "referral_facilities.csv": schema.REFERRAL_FACILITIES.columns(),
        },
    )
    sites = schema.SITES.columns(options=["cost"])
    _check(
        folder / "optimize",
        {
            "sites_greedy.csv": sites,
            "sites_exact.csv": sites,
            "candidates.csv": schema.CANDIDATES.columns(options=["underserved", "cost"]),
        },
    )
