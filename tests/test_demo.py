"""The built-in demo region runs end to end through the same ingest as real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reach.codes import REASON_REACHED
from reach.demo import run_demo
from reach.metrics.coverage import ALL_ZONES_ID
from reach.spec import load_scenario
from tests.helpers import output_hashes

SMALL = 120_000


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    run_demo(out, size_cells=SMALL)
    return out


def test_demo_writes_inputs_results_and_conserves_people(demo_out: Path) -> None:
    assert (demo_out / "inputs" / "demo.toml").is_file()
    results = demo_out / "results"
    cov = pd.read_csv(results / "coverage.csv")
    assert set(cov["service"]) == {"health", "primary_school", "secondary_school"}
    import json

    summary = json.loads((demo_out / "inputs" / "summary.json").read_text())
    health_all = cov[(cov["service"] == "health") & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]
    total = float(summary["population_total"]) if "population_total" in summary else None
    manifest = json.loads((results / "manifest.json").read_text())
    assert health_all["population"] == pytest.approx(manifest["population"]["raster_total"])
    if total is not None:
        assert health_all["population"] == pytest.approx(total)
    schools = cov[(cov["service"] == "primary_school") & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]
    assert schools["population"] == pytest.approx(0.13 * health_all["population"])


def test_demo_rerun_is_byte_identical(demo_out: Path, tmp_path: Path) -> None:
    from reach.run.scenario_set import run_scenario

    scn = load_scenario(demo_out / "inputs" / "demo.toml")
    again = run_scenario(scn, out_dir=tmp_path / "again")
    assert again.out_dir is not None
    first = output_hashes(demo_out / "results")
    assert "run_state/state.json" in first
    assert output_hashes(again.out_dir) == first


def test_ferry_links_the_islands(demo_out: Path) -> None:
    """The second island's people reach the hospital only across the ferry."""
    from reach.run.scenario_set import run_scenario

    scn = load_scenario(demo_out / "inputs" / "demo.toml")
    run = run_scenario(scn, write=False)
    fac = run.services["health"].facilities
    hospital = np.flatnonzero(fac["tier"].to_numpy() == "hospital")
    assert len(hospital) == 1
    from reach.engine.combined import combined_search
    from reach.ingest.osm import read_osm_roads
    from reach.model.assemble import search_graph
    from reach.model.network import build_network
    from reach.model.speeds import default_profile

    assert scn.region.osm is not None
    roads = read_osm_roads(scn.resolve(scn.region.osm))
    cells = fac["cell"].to_numpy()[hospital]
    times = {}
    for wait in (60.0, 600.0):
        net = build_network(
            roads, run.grid, profile=default_profile("motorbike"), ferry_wait_min=wait
        )
        res = combined_search(search_graph(run.grid, run.friction, net), cells)
        times[wait] = res
    reached = times[60.0].reason == REASON_REACHED
    delta = times[600.0].time_min[reached] - times[60.0].time_min[reached]
    # some people (the other island) wait exactly 540 minutes more; nobody gains
    assert (delta >= -1e-9).all()
    assert np.isclose(delta, 540.0).any()


@pytest.mark.slow
def test_warm_up_compiles_the_kernels_a_run_and_reach_od_use(tmp_path: Path) -> None:
    """In a fresh process with an empty numba cache, ``reach warm-up`` leaves every kernel of
    a run, ``reach explain`` and ``reach od`` compiled in the cache, and nothing else."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "numba"
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "reach.cli", "-q", "warm-up"], cwd=work, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the search kernels are compiled" in done.stdout
    assert list(work.iterdir()) == []  # nothing written where it ran
    compiled = {p.name.split("-")[0] for p in cache.rglob("*.nbi")}
    for kernel in (
        "combined._dijkstra", "combined._rim", "nearest._k_search", "routes._trace",
        "coverage._coverage_sums", "compare._compare_sums", "joins._candidates",
    ):  # fmt: skip
        assert kernel in compiled, (kernel, sorted(compiled))
