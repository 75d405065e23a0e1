"""Every command's options are checked at the door: one line, exit 2, nothing written.

And the library functions behind them (studies, partitions, the session API) check their
arguments the same way, with a ScenarioError rather than an error deep inside the work.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import EXIT_BAD_INPUT, ScenarioError
from tests.helpers import write_tiny_region

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("door")
    write_tiny_region(folder)
    (folder / "a_file").write_text("not a folder\n")
    return folder


def _refused(folder: Path, args: list[str], *needles: str) -> str:
    before = _tree(folder)
    result = runner.invoke(app, ["--quiet", *args])
    err = result.stderr
    assert result.exit_code == EXIT_BAD_INPUT, (args, result.exit_code, err, result.stdout)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, (args, err)
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "fix:" in err, err
    for needle in needles:
        assert needle.lower() in err.lower(), (args, err)
    assert result.stdout.strip() == "", result.stdout
    assert _tree(folder) == before, f"{args} wrote {set(_tree(folder)) - set(before)}"
    return err


# option → values refused at the door, and a word the message must hold (the option's name)
CASES: list[tuple[list[str], str]] = [
    *[(["optimize", "S", "--sites", v], "--sites") for v in ("0", "-1", "1001", "abc", "1.5")],
    *[
        (["optimize", "S", "--threshold", v], "--threshold")
        for v in ("nan", "inf", "-inf", "-5", "0", "1e9", "abc")
    ],
    *[(["optimize", "S", "--candidates", v], "--candidates") for v in ("0", "-3", "100001")],
    *[(["optimize", "S", "--grid-step", v], "--grid-step") for v in ("-1", "10000000", "x")],
    *[
        (["optimize", "S", "--cost", "5", "--budget", v], "--budget")
        for v in ("nan", "inf", "0", "-10")
    ],
    *[(["optimize", "S", "--cost", v], "--cost") for v in ("nan", "inf", "0", "-1")],
    (["optimize", "S", "--budget", "100"], "--cost"),
    (["optimize", "S", "--tier", "mega_hospital"], "--tier"),
    (["optimize", "S", "--service", "schools"], "--service"),
    *[(["capacity", "S", "--threshold", v], "--threshold") for v in ("nan", "-1", "0", "1e7")],
    (["capacity", "S", "--service", "nope"], "--service"),
    (["capacity", "S", "--service", ""], "--service"),
    (["access", "S", "--service", "nope"], "--service"),
    (["referral", "S", "--service", "nope"], "--service"),
    (["referral", "S", "--tier", "primary"], "--tier"),
    *[(["plan", "S", "--tile-cells", v], "--tile-cells") for v in ("-1", "0", "63", "x")],
    (["plan", "S", "--by", "counties"], "--by"),
    *[(["plan", "S", "--workers", v], "--workers") for v in ("0", "100000")],
    *[(["run", "S", "--workers", v], "--workers") for v in ("0", "-3", "1000000", "two")],
    (["run", "S", "--workers", "2", "--by", "counties"], "--by"),
    (["run", "S", "--by", "tiles"], "--by"),
    (["run", "S", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    *[
        (["run", "S", "--scheduler", v], "--scheduler")
        for v in ("nonsense", "tcp://host", "tcp://127.0.0.1:99999", "http://127.0.0.1:80", "")
    ],
    (["compare", "S", "--workers", "0"], "--workers"),
    (["compare", "S"], "alternatives"),
    (["map", "S", "--out", "A_FILE"], "existing file"),
    (["map", "S", "--out", "."], "output folder"),
    (["map", "S", "--basemap", "http://tiles.invalid/{z}/{x}/{y}"], "--basemap"),
    (["map", "S", "--basemap", "https://tiles.invalid/tile.png"], "--basemap"),
    (["report", "S", "--out", "A_FILE"], "existing file"),
    *[(["report", "S", "--lang", v], "--lang") for v in ("de", "EN", "")],
    (["report", "S", "--lang", "en", "--lang", "xx"], "xx"),
    (["cache", "nope", "--cache-dir", "CACHE"], "cache action"),
    (["demo", "--out", "DEMO", "--seed", "-1"], "--seed"),
    *[(["demo", "--out", "DEMO", "--size", v], "--size") for v in ("-1", "5", "39999")],
    *[(["fetch", "Anjouan", "--out", "F", "--margin-km", v], "--margin-km") for v in ("nan", "-1")],
    (["fetch", "Anjouan", "--out", "F", "--admin-level", "9"], "--admin-level"),
    (["run", "S", "--sitez", "3"], "--sitez"),
    (["run"], "scenario"),
    (["nosuchcommand"], "nosuchcommand"),
]


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_refused_at_the_door(region_dir: Path, args: list[str], needle: str) -> None:
    names = {
        "S": str(region_dir / "tiny.toml"),
        "A_FILE": str(region_dir / "a_file"),
        "CACHE": str(region_dir / "cache"),
        "DEMO": str(region_dir / "demo"),
        "F": str(region_dir / "fetched"),
        ".": str(region_dir),
    }
    _refused(region_dir, [names.get(a, a) for a in args], needle)


def test_scheduler_probe_on_a_closed_port(region_dir: Path) -> None:
    port = _closed_port()
    err = _refused(
        region_dir,
        ["run", str(region_dir / "tiny.toml"), "--scheduler", f"tcp://127.0.0.1:{port}"],
        "no Dask scheduler answers",
        str(port),
    )
    assert "--scheduler" in err


def test_referral_tier_the_region_lacks_is_refused_before_the_search(region_dir: Path) -> None:
    # the tiny region's facilities are all clinics: no hospital to refer to
    err = _refused(region_dir, ["referral", str(region_dir / "tiny.toml")], "hospital", "clinic")
    assert "--tier" in err


# --- the library checks its arguments the same way --------------------------------------------


@pytest.fixture(scope="module")
def session(region_dir: Path):  # type: ignore[no-untyped-def]
    from reach.api import Scenario

    return Scenario.load(region_dir / "tiny.toml")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"beyond_min": math.nan}, "beyond_min"),
        ({"beyond_min": -1.0}, "beyond_min"),
        ({"beyond_min": math.inf}, "beyond_min"),
        ({"beyond_min": 10, "n_sites": 0}, "n_sites"),
        ({"beyond_min": 10, "radius_m": math.nan}, "radius_m"),
        ({"beyond_min": 10, "zone": "Atlantis"}, "zone"),
    ],
)
def test_api_underserved_sites_checks_arguments(session, kwargs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match=needle):
        session.underserved_sites("health", **kwargs)


def test_api_operations_check_services_and_tiers(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match=r"no such service.*health"):
        session.add_facility("school", lon=120.01, lat=-9.01, tier="clinic")
    with pytest.raises(ScenarioError, match="not a tier"):
        session.add_facility("health", lon=120.01, lat=-9.01, tier="primary")
    with pytest.raises(ScenarioError, match="lon"):
        session.add_facility("health", lon=math.nan, lat=-9.01, tier="clinic")
    with pytest.raises(ScenarioError, match="no such service"):
        session.close_facility("schools", "C1")
    with pytest.raises(ScenarioError, match="not a tier"):
        session.upgrade_facility("health", "C1", tier="mega")
    op = {"op": "add_facility", "service": "x", "facility_id": "a", "lon": 120.0, "lat": -9.0}
    with pytest.raises(ScenarioError, match="no such service"):
        session.with_operations({**op, "tier": "clinic"})
    with pytest.raises(ScenarioError, match="not a tier"):
        session.with_operations({**op, "service": "health", "tier": "xx"})
    with pytest.raises(ScenarioError, match="alternative"):
        session.alternative("nope")
    # a good one still works
    assert len(session.add_facility("health", lon=120.01, lat=-9.01, tier="clinic").run())


def test_studies_check_arguments(session) -> None:  # type: ignore[no-untyped-def]
    from reach.run.analyses import capacity_study, referral_study, siting_study

    region, base = session.region, session.evaluation()
    for bad in (math.nan, -1.0, 0.0, math.inf):
        with pytest.raises(ScenarioError, match="threshold_min"):
            capacity_study(region, base, "health", threshold_min=bad)
        with pytest.raises(ScenarioError, match="threshold_min"):
            siting_study(region, base, "health", threshold_min=bad)
    with pytest.raises(ScenarioError, match="no such service"):
        capacity_study(region, base, "nope")
    with pytest.raises(ScenarioError, match=r"hospital.*clinic"):
        referral_study(region, base, "health")
    for kwargs, needle in [
        ({"n_sites": 0}, "n_sites"),
        ({"n_sites": 10**6}, "n_sites"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"grid_step_cells": 0}, "grid_step_cells"),
        ({"budget": math.nan, "cost_per_site": 1.0}, "budget"),
        ({"budget": 10.0}, "cost per site"),
        ({"cost_per_site": -1.0}, "cost_per_site"),
        ({"threshold_min": 60.0}, "no candidate"),  # everyone is within an hour already
    ]:
        with pytest.raises(ScenarioError, match=needle):
            siting_study(region, base, "health", **kwargs)  # type: ignore[arg-type]


def test_partitions_check_arguments(session) -> None:  # type: ignore[no-untyped-def]
    from reach.partition import check_scheduler_address, plan_partitions, run_partitioned

    for tile in (-1, 0, 63):
        with pytest.raises(ScenarioError, match="tile_cells"):
            plan_partitions(session.config, tile_cells=tile)
    with pytest.raises(ScenarioError, match="partitioning"):
        run_partitioned(session.config, by="counties")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="no Dask scheduler"):
        run_partitioned(session.config, scheduler=f"tcp://127.0.0.1:{_closed_port()}")
    with pytest.raises(ScenarioError, match="not an address"):
        check_scheduler_address("tcp://:")


def test_metric_functions_refuse_with_scenario_errors() -> None:
    import numpy as np

    from reach.metrics.accessibility import StepDecay
    from reach.metrics.equity import palma_ratio

    with pytest.raises(ScenarioError):
        StepDecay(edges_min=(math.nan,), weights=(1.0,))
    with pytest.raises(ScenarioError):
        palma_ratio(np.ones(3), np.ones(3), top_share=math.nan)
