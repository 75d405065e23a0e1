"""Partitioned runs (``reach.partition``) give the whole-region run's results.

One small demo region and one local Dask cluster (2 workers) serve the whole module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reach.demo import demo_scenario_toml, generate_demo
from reach.engine.combined import combined_search
from reach.errors import ScenarioError
from reach.model.assemble import SearchGraph, search_graph
from reach.model.joins import walk_minutes
from reach.model.network import Network, build_network
from reach.model.region import Region, mode_profile
from reach.model.snap import connector_metres
from reach.partition import (
    halo_for,
    merge_survey_tiles,
    mode_network,
    plan_partitions,
    reach_rates,
    run_partitioned,
    survey_friction,
    survey_tile,
)
from reach.results import Evaluation
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.spec import AddFacility, Alternative, ScenarioSpec, load_scenario
from tests.helpers import assert_same_evaluation

SIZE = 200_000
TILE = 10_000  # 100 × 100 cells: the demo's main island is cut into many tiles


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local Dask cluster with two single-threaded workers, for the whole module."""
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScenarioSpec, Region, Evaluation]:
    """The demo region (islands joined by a ferry), loaded, and its whole-region baseline."""
    folder = tmp_path_factory.mktemp("partition") / "demo"
    files = generate_demo(folder, size_cells=SIZE, seed=7)
    path = folder / "demo.toml"
    path.write_text(demo_scenario_toml(files, relative_to=folder), "utf-8")
    scn = load_scenario(path)
    region = load_region(scn)
    return scn, region, evaluate(region)


def _variant(region: Region, *, limit_min: float, modes: tuple[str, ...]) -> Region:
    """The region with another time limit and only the services of some modes."""
    scn = region.scenario
    services = [s for s in scn.services if s.mode in modes]
    grid = scn.grid.model_copy(update={"max_travel_time_min": limit_min})
    scn2 = scn.model_copy(update={"grid": grid, "services": services})
    facilities = {s.name: region.facilities[s.name] for s in services}
    return replace(region, scenario=scn2, facilities=facilities)


def test_tiles_on_dask_equal_the_whole_region(
    demo: tuple[ScenarioSpec, Region, Evaluation], scheduler: str
) -> None:
    """Tiles narrower than the time limit's reach exchange edge times until exact."""
    _, region, base = demo
    run = run_partitioned(region, scheduler=scheduler, by="tiles", tile_cells=TILE)
    assert len(run.plan.partitions) > 4
    assert run.plan.exchange and run.rounds > 0
    assert len({s.pid for s in run.stats}) == 2  # both workers had work
    assert_same_evaluation(region, base, run.baseline, ties=True)


def test_zones_in_process_equal_the_whole_region(
    demo: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    """Partitions by reporting zone (cut by tile when large), run in this process."""
    _, region, base = demo
    run = run_partitioned(region, by="zones", tile_cells=2 * TILE)
    assert {p.kind for p in run.plan.partitions} == {"zone"}
    assert len(run.plan.partitions) > len(region.zones) // 2
    assert_same_evaluation(region, base, run.baseline, ties=True)


def test_alternatives_continue_from_a_partitioned_baseline(
    demo: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    """An added facility is searched from the partitioned baseline's cell and node times."""
    _, region, base = demo
    run = run_partitioned(region, by="tiles", tile_cells=TILE)
    lon, lat = region.grid.transform @ (200, 250)
    add = AddFacility(
        op="add_facility", service="health", facility_id="new-1", lon=lon, lat=lat, tier="clinic"
    )
    alt = Alternative(name="new_clinic", operations=[add])
    whole = evaluate(region, name=alt.name, alternative=alt, baseline=base)
    parted = evaluate(region, name=alt.name, alternative=alt, baseline=run.baseline)
    assert_same_evaluation(region, whole, parted, ties=True)


def test_workers_reading_their_own_windows_agree(
    demo: tuple[ScenarioSpec, Region, Evaluation], scheduler: str
) -> None:
    """From the scenario file, workers build their windows' friction; equal to rounding."""
    scn, region, base = demo
    run = run_partitioned(scn, scheduler=scheduler, by="tiles", tile_cells=TILE)
    assert run.region.friction.pace_min_per_m.size == 0  # never built whole
    assert run.region.friction.populated_water_cells == region.friction.populated_water_cells
    assert_same_evaluation(region, base, run.baseline, exact=False, ties=True)


def test_islands_without_a_link_are_their_own_partitions(
    demo: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    """With a limit below the ferry's wait, each island is searched on its own, exactly."""
    _, region, _ = demo
    short = _variant(region, limit_min=100.0, modes=("walk", "motorbike"))
    base = evaluate(short)
    run = run_partitioned(short, by="islands")
    plan = run.plan
    assert len(plan.partitions) >= 2
    assert {p.kind for p in plan.partitions} == {"island"}
    assert not any(p.exchange for p in plan.partitions) and run.rounds == 0
    assert plan.links.n_islands > len(plan.partitions)  # islets with no facility: no task
    assert_same_evaluation(short, base, run.baseline, ties=True)
    # the same islands, grouped by tile when small (the default)
    auto = run_partitioned(short, by="auto", tile_cells=TILE)
    assert_same_evaluation(short, base, auto.baseline, ties=True)


def test_tiles_with_the_exact_halo_need_no_exchange(
    demo: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    """A one-island run cut into tiles whose halo holds every path within the limit."""
    _, region, _ = demo
    walk = _variant(region, limit_min=60.0, modes=("walk",))
    base = evaluate(walk)
    run = run_partitioned(walk, by="tiles", tile_cells=40_000)
    plan = run.plan
    assert not plan.exchange and run.rounds == 0
    assert plan.halo == tuple(int(h) for h in plan.exact_halo)
    assert plan.split_islands.sum() >= 1 and len(plan.partitions) > 2
    assert all(p.halo_rows == plan.halo[0] for p in plan.partitions)
    assert_same_evaluation(walk, base, run.baseline, ties=True)
    # a halo narrower than exact: the exchange makes up for it
    narrow = run_partitioned(walk, by="tiles", tile_cells=TILE, halo_cells=20)
    assert narrow.plan.exchange and narrow.rounds > 0
    assert_same_evaluation(walk, base, narrow.baseline, ties=True)


HaloSetup = dict[str, tuple[SearchGraph, tuple[float, float], np.ndarray, np.ndarray]]


def _network(region: Region, mode: str) -> Network:
    """The mode's network, as the region's search session builds it."""
    scn = region.scenario
    return build_network(
        region.roads,
        region.grid,
        profile=mode_profile(scn, mode),
        ferry_wait_min=scn.ferries.headway_min / 2.0,
    )


@pytest.fixture(scope="module")
def halo_setup(demo: tuple[ScenarioSpec, Region, Evaluation]) -> HaloSetup:
    """Per mode: the whole-region graph, the rates, the passable cells and node anchors."""
    _, region, _ = demo
    survey = survey_friction(region.friction)
    out = {}
    for mode in ("walk", "motorbike"):
        net = _network(region, mode)
        mn = mode_network(net, region.grid, survey.passable)
        rates = reach_rates(
            region.grid,
            min_pace_min_per_m=survey.min_pace_min_per_m,
            slope=survey.slope,
            networks=[mn],
        )
        graph = search_graph(region.grid, region.friction, net, neighbours=8)
        out[mode] = (graph, rates, np.flatnonzero(survey.passable.ravel()), mn.anchor)
    return out


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(["walk", "motorbike"]),
    pick=st.integers(min_value=0, max_value=10**9),
    limit=st.floats(min_value=2.0, max_value=45.0),
)
def test_no_path_within_the_limit_leaves_the_halo(
    halo_setup: HaloSetup,
    mode: str,
    pick: int,
    limit: float,
) -> None:
    """Every cell and node within ``limit`` of a cell lies within the halo of that cell."""
    graph, rates, passable, anchor = halo_setup[mode]
    cell = int(passable[pick % len(passable)])
    res = combined_search(graph, np.array([cell]), max_time_min=limit)
    hr, hc = halo_for(limit, rates)
    cols = graph.cols
    r0, c0 = divmod(cell, cols)
    rr, cc = np.divmod(np.flatnonzero(np.isfinite(res.time_min)), cols)
    nr, nc = np.divmod(anchor[np.isfinite(res.node_time_min)], cols)
    assert np.abs(np.concatenate([rr, nr]) - r0).max() <= hr
    assert np.abs(np.concatenate([cc, nc]) - c0).max() <= hc
    if mode == "walk":  # the bound is far from trivial
        assert hr < graph.rows / 4 and hc < graph.cols / 4


def test_plan_table_counts_every_person(demo: tuple[ScenarioSpec, Region, Evaluation]) -> None:
    """``plan_partitions`` lists windows, cores, halos and memory; nobody is counted twice."""
    _, region, _ = demo
    plan = plan_partitions(region, by="tiles", tile_cells=TILE)
    table = plan.table()
    for col in ("window_cells", "core_cells", "halo_rows", "halo_cols", "memory_mb"):
        assert col in table.columns
    assert (table["window_cells"] >= table["core_cells"]).all()
    assert (table["memory_mb"] > 0).all()
    assert table["population"].sum() + plan.idle_population == pytest.approx(
        region.population.total, rel=1e-12
    )
    assert table["core_cells"].sum() == int((plan.owner >= 0).sum())
    text = plan.describe()
    assert "partitions:" in text and "exact halo" in text


def test_survey_by_tiles_equals_the_whole_survey(
    demo: tuple[ScenarioSpec, Region, Evaluation],
) -> None:
    """Components found tile by tile and joined at the seams are the whole grid's."""
    _, region, _ = demo
    f = region.friction
    whole = survey_friction(f)
    rows, cols = region.grid.shape
    tiles = []
    for r in range(0, rows, 97):
        for c in range(0, cols, 89):
            sl = np.s_[r : r + 97, c : c + 89]
            part = replace(
                f,
                pace_min_per_m=f.pace_min_per_m[sl],
                status=f.status[sl],
                elevation_m=None if f.elevation_m is None else f.elevation_m[sl],
            )
            tiles.append(survey_tile(r, c, part))
    merged = merge_survey_tiles(tiles, region.grid.shape)
    assert merged.n_components == whole.n_components
    a, b = whole.labels.ravel(), merged.labels.ravel()
    pairs = np.unique(np.stack([a, b]), axis=1)
    assert pairs.shape[1] == whole.n_components + 1  # a one-to-one relabelling


def test_connector_lengths_match_the_engine(demo: tuple[ScenarioSpec, Region, Evaluation]) -> None:
    """The coordinator's connector metres times the pace are the engine's connectors."""
    _, region, _ = demo
    net = _network(region, "motorbike")
    graph = search_graph(region.grid, region.friction, net)
    mn = mode_network(net, region.grid, np.isfinite(region.friction.pace_min_per_m))
    np.testing.assert_array_equal(mn.node_cell, graph.node_cell)
    road = np.arange(net.n_nodes) < net.first_foot
    has = (mn.node_cell >= 0) & road
    pace = region.friction.pace_min_per_m.ravel()[mn.node_cell[has]]
    np.testing.assert_array_equal(mn.connector_m[has] * pace, graph.connector_min[has])
    # the feet walk across cells, each at its own pace
    assert net.feet.n > 0
    feet = walk_minutes(
        net.feet.walk_cells, net.feet.walk_m, region.friction.pace_min_per_m.ravel()
    )
    np.testing.assert_array_equal(feet, graph.connector_min[~road])
    np.testing.assert_allclose(mn.connector_m[~road], net.feet.walk_m.sum(axis=1))
    np.testing.assert_array_equal(
        connector_metres(net.x, net.y, np.full(net.n_nodes, -1), region.grid),
        np.full(net.n_nodes, np.inf),
    )


def test_bad_executor_options_are_refused(demo: tuple[ScenarioSpec, Region, Evaluation]) -> None:
    _, region, _ = demo
    with pytest.raises(ScenarioError, match="scheduler"):
        run_partitioned(region, executor="local", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ScenarioError, match="workers"):
        run_partitioned(region, executor="dask", workers=0)
    with pytest.raises(ScenarioError, match="partitioning"):
        run_partitioned(region, by="provinces")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comoros_run(comoros: Path) -> tuple[Region, Evaluation]:
    del comoros  # skips without the real data
    scn = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "comoros.toml")
    region = load_region(scn)
    return region, evaluate(region)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    ("by", "tile_cells"), [("islands", None), ("tiles", 200_000)], ids=["islands", "tiles"]
)
def test_comoros_partitioned_on_dask_equals_the_whole_region(
    comoros_run: tuple[Region, Evaluation], scheduler: str, by: str, tile_cells: int | None
) -> None:
    region, base = comoros_run
    run = run_partitioned(region, scheduler=scheduler, by=by, tile_cells=tile_cells)  # type: ignore[arg-type]
    if by == "islands":  # the ferries' wait (half a day) is the whole limit: three islands
        assert len(run.plan.partitions) >= 3 and run.rounds == 0
    else:
        assert run.plan.exchange and run.rounds > 0
    assert_same_evaluation(region, base, run.baseline, ties=True)


@pytest.mark.realdata
@pytest.mark.slow
def test_comoros_windows_read_by_workers(
    comoros_run: tuple[Region, Evaluation], scheduler: str
) -> None:
    region, base = comoros_run
    run = run_partitioned(region.scenario, scheduler=scheduler, by="tiles", tile_cells=200_000)
    assert_same_evaluation(region, base, run.baseline, exact=False, ties=True)
