"""Routes read back from the search: real edges, in order, adding up to the travel time."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from typer.testing import CliRunner

from reach.cli import app
from reach.engine.combined import combined_search
from reach.engine.nearest import k_nearest
from reach.engine.routes import STEP_DOOR, STEP_EDGE, trace_routes
from reach.metrics.routes import route_legs
from reach.model.assemble import SearchGraph
from reach.results import Evaluation
from reach.run.evaluate import evaluate
from reach.run.explain import explain_origins
from reach.run.od import od_table, zone_origins
from reach.run.region import load_region
from reach.run.session import region_session
from reach.spec import load_scenario
from tests.helpers import write_tiny_region
from tests.test_engine_exact import explicit_graph, instances

REPO = Path(__file__).resolve().parents[1]


def _vertex(graph: SearchGraph, v: int) -> tuple[str, int]:
    return ("c", v) if v < graph.n_cells else ("n", v - graph.n_cells)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_every_route_is_a_chain_of_real_edges_adding_up_to_the_time(
    case: tuple[SearchGraph, np.ndarray],
) -> None:
    """On random grids and networks (with edges and connectors of zero minutes): each step is
    an edge of the explicit graph at its weight, the steps join up, the route ends at a seed
    of the cell's own catchment, and its minutes add up to the cell's time."""
    graph, seeds = case
    result = combined_search(graph, seeds)
    explicit = explicit_graph(graph)
    cells = np.arange(graph.n_cells)
    steps = trace_routes(
        graph,
        result,
        cells,
        seed_vertex=seeds,
        seed_time_min=np.zeros(len(seeds)),
        seed_facility=np.arange(len(seeds)),
    )
    assert not (steps.kind == 255).any()
    for cell in cells:
        part = steps.of(int(cell))
        if not math.isfinite(result.time_min[cell]):
            assert part.stop == part.start and steps.facility[cell] == -1
            continue
        kinds = steps.kind[part]
        assert kinds[-1] == STEP_DOOR and (kinds[:-1] != STEP_DOOR).all()
        assert steps.vertex_from[part][0] == cell
        assert (steps.vertex_from[part][1:] == steps.vertex_to[part][:-1]).all()
        assert steps.vertex_to[part][-1] == seeds[steps.facility[cell]]
        for s in range(part.start, part.stop - 1):
            a = _vertex(graph, int(steps.vertex_from[s]))
            b = _vertex(graph, int(steps.vertex_to[s]))
            want = explicit[a][b]["weight"]
            assert abs(steps.time_min[s] - want) <= 1e-9 * max(1.0, want)
        total = steps.time_min[part].sum()
        assert abs(total - result.time_min[cell]) <= 1e-9 * max(1.0, total)
        # and it is a least-time route: no shorter path to any seed exists
        best = nx.multi_source_dijkstra_path_length(
            explicit.reverse(copy=False), [("c", int(s)) for s in seeds]
        )[("c", int(cell))]
        assert abs(total - best) <= 1e-9 * max(1.0, best)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Evaluation]:
    region = load_region(load_scenario(write_tiny_region(tmp_path_factory.mktemp("tiny"))))
    return region, evaluate(region)


def test_legs_of_every_populated_cell_add_up_to_its_raster_time(
    tiny: tuple[object, Evaluation],
) -> None:
    region, base = tiny
    res = base.services["health"]
    session = region_session(region)  # type: ignore[arg-type]
    graph = session.graph(res.spec.mode)
    seeds = session.seeds(res.facilities, res.spec.mode)
    cv, ct, cl = seeds.cells.as_engine()
    nv, nt, nl = seeds.nodes.as_engine()
    origins = np.flatnonzero(np.isfinite(res.search.time_min))
    steps = trace_routes(
        graph, res.search, origins,
        seed_vertex=np.concatenate([cv, graph.n_cells + nv]),
        seed_time_min=np.concatenate([ct, nt]), seed_facility=np.concatenate([cl, nl]),
    )  # fmt: skip
    legs = route_legs(
        steps, graph=graph, grid=region.grid, network=session.network(res.spec.mode),  # type: ignore[attr-defined]
        lines=session.roads, mode=res.spec.mode,
    )  # fmt: skip
    sums = np.bincount(legs.legs["origin"], weights=legs.legs["time_min"], minlength=len(origins))
    np.testing.assert_allclose(sums, res.search.time_min[origins], rtol=0, atol=1e-6)
    # the route ends at the cell's own facility (its catchment), by road where it rides one
    assert (steps.facility == res.search.facility[origins]).all()
    assert set(legs.legs["kind"]) >= {"walk", "road", "to_door"}
    road = legs.legs[legs.legs["kind"] == "road"]
    assert (road["mode"] == "motorbike").all() and road["road_class"].notna().all()
    assert (steps.kind == STEP_EDGE).sum() > 0


def test_explain_gives_each_origin_its_facility_time_and_legs(
    tiny: tuple[object, Evaluation],
) -> None:
    region, base = tiny
    res = base.services["health"]
    grid = region.grid  # type: ignore[attr-defined]
    cells = np.flatnonzero(np.isfinite(res.search.time_min))[[0, -1]]
    import geopandas as gpd

    x, y = grid.cell_centres(cells)
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=grid.crs).to_crs("EPSG:4326")
    origins = pd.DataFrame(
        {"origin_id": ["a", "b", "far"], "lon": [*pts.x, 0.0], "lat": [*pts.y, 0.0]}
    )
    found = explain_origins(region, base, origins)  # type: ignore[arg-type]
    rows = found.origins.set_index("origin_id")
    np.testing.assert_allclose(rows.loc[["a", "b"], "travel_time_min"], res.search.time_min[cells])
    parts = rows[["walk_min", "ride_min", "ferry_wait_min", "ferry_min", "to_door_min"]]
    np.testing.assert_allclose(
        parts.loc[["a", "b"]].sum(axis=1), rows.loc[["a", "b"], "travel_time_min"]
    )
    fac = res.facilities.reset_index(drop=True)
    assert list(rows.loc[["a", "b"], "facility_id"]) == [
        str(fac["facility_id"].iloc[k]) for k in res.search.facility[cells]
    ]
    assert rows.loc["far", "reason"] == "outside_grid" and math.isnan(
        rows.loc["far", "travel_time_min"]
    )
    assert rows.loc["far", "legs"] == 0 and (found.legs["origin_id"] != "far").all()
    assert found.legs.crs == "EPSG:4326" and found.legs.geometry.is_valid.all()


def test_the_command_prints_and_writes_routes_and_refuses_bad_origins(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    region = load_region(load_scenario(scenario))
    grid = region.grid
    import geopandas as gpd

    x, y = grid.cell_centres(np.array([grid.cols * (grid.rows // 2) + grid.cols // 3]))
    pt = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=grid.crs).to_crs("EPSG:4326")
    at = f"{pt.x.iloc[0]:.6f},{pt.y.iloc[0]:.6f}"
    out = tmp_path / "explained"
    res = CliRunner().invoke(app, ["explain", str(scenario), "--at", at, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "to the door" in res.output and "min to" in res.output
    assert {"routes.csv", "route_legs.csv", "routes.gpkg", "manifest.json"} <= {
        p.name for p in out.iterdir()
    }
    legs = pd.read_csv(out / "route_legs.csv")
    routes = pd.read_csv(out / "routes.csv")
    assert legs["time_min"].sum() == pytest.approx(routes["travel_time_min"].sum(), abs=0.01)
    points = tmp_path / "villages.csv"
    points.write_text(f"nama,lon,lat\nDesa A,{at}\n", "utf-8")
    res = CliRunner().invoke(
        app, ["explain", str(scenario), "--points", str(points), "--out", str(tmp_path / "p")]
    )
    assert res.exit_code == 0, res.output and "Desa A" in res.output
    for args in (
        ["--at", "200,1"],
        ["--at", "abc"],
        [],
        ["--points", str(tmp_path / "none.csv")],
        ["--at", at, "--service", "helth"],
    ):
        bad = CliRunner().invoke(
            app, ["explain", str(scenario), *args, "--out", str(tmp_path / "x")]
        )
        lines = [ln for ln in bad.output.splitlines() if ln.strip()]
        assert bad.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:"), bad.output
        assert not (tmp_path / "x").exists()


@pytest.mark.realdata
def test_comoros_routes_of_1000_cells_add_up_to_their_raster_times(comoros: Path) -> None:
    """1,000 random populated cells of Comoros, three services (motorbike with ferries, on
    foot, schools): every route follows the search, ends at the cell's catchment facility and
    its legs add up to the raster time to 0.01 min."""
    del comoros  # skips without the real data
    region = load_region(load_scenario(REPO / "scenarios" / "comoros.toml"))
    base = evaluate(region)
    people = region.population.people.ravel()
    session = region_session(region)
    rng = np.random.default_rng(2026)
    for name, res in base.services.items():
        mode = res.spec.mode
        graph = session.graph(mode)
        seeds = session.seeds(res.facilities, mode)
        cv, ct, cl = seeds.cells.as_engine()
        nv, nt, nl = seeds.nodes.as_engine()
        pool = np.flatnonzero((people > 0) & np.isfinite(res.search.time_min))
        origins = rng.choice(pool, 1000, replace=False)
        steps = trace_routes(
            graph, res.search, origins,
            seed_vertex=np.concatenate([cv, graph.n_cells + nv]),
            seed_time_min=np.concatenate([ct, nt]), seed_facility=np.concatenate([cl, nl]),
        )  # fmt: skip
        assert not (steps.kind == 255).any(), name
        legs = route_legs(
            steps, graph=graph, grid=region.grid, network=session.network(mode),
            lines=session.roads, mode=mode,
        )  # fmt: skip
        sums = np.bincount(legs.legs["origin"], weights=legs.legs["time_min"], minlength=1000)
        assert np.abs(sums - res.search.time_min[origins]).max() <= 0.01, name
        assert (steps.facility == res.search.facility[origins]).all(), name
        if name == "health":  # some Comoros routes take a boat
            assert (legs.legs["kind"] == "ferry").any() or (legs.legs["kind"] == "road").any()


# --------------------------------------------------------------------------------------------
# k nearest facilities and origin–destination tables


@settings(max_examples=120, deadline=None)
@given(instances())
def test_k_nearest_equals_one_search_per_facility(case: tuple[SearchGraph, np.ndarray]) -> None:
    """The r-th time of every vertex is the r-th smallest of the single-facility searches, its
    first is the multi-source search's (same time, same facility but for ties), and the route
    to each of the k is a chain of real edges adding up to that time."""
    graph, seeds = case
    k = 3
    near = k_nearest(
        graph, seeds, seed_facility=np.arange(len(seeds)), seed_time_min=np.zeros(len(seeds)), k=k
    )
    n_total = graph.n_cells + graph.n_nodes
    per = np.full((n_total, len(seeds)), np.inf)
    for f, s in enumerate(seeds):
        one = combined_search(graph, np.array([s]))
        per[:, f] = np.concatenate([one.time_min, one.node_time_min])
    want = np.sort(per, axis=1)[:, :k]
    got = near.time_min[:, : want.shape[1]]
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    both = np.isfinite(want)
    np.testing.assert_allclose(got[both], want[both], rtol=1e-12, atol=1e-12)
    full = combined_search(graph, seeds)
    np.testing.assert_array_equal(near.time_min[: graph.n_cells, 0], full.time_min)
    for rank in range(min(k, len(seeds))):
        cells = np.flatnonzero(near.facility[: graph.n_cells, rank] >= 0)
        steps = trace_routes(
            graph, near, cells, seed_vertex=seeds, seed_time_min=np.zeros(len(seeds)),
            seed_facility=np.arange(len(seeds)), to_facility=near.facility[cells, rank],
        )  # fmt: skip
        assert not (steps.kind == 255).any()
        sums = np.bincount(steps.origin, weights=steps.time_min, minlength=len(cells))
        np.testing.assert_allclose(sums, near.time_min[cells, rank], rtol=1e-9, atol=1e-12)


def test_od_table_ranks_facilities_and_its_first_is_the_catchment(
    tiny: tuple[object, Evaluation],
) -> None:
    region, base = tiny
    res = base.services["health"]
    grid = region.grid  # type: ignore[attr-defined]
    cells = np.flatnonzero(np.isfinite(res.search.time_min))[::97]
    import geopandas as gpd

    x, y = grid.cell_centres(cells)
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=grid.crs).to_crs("EPSG:4326")
    origins = pd.DataFrame(
        {"origin_id": [f"o{i}" for i in range(len(cells))], "lon": pts.x, "lat": pts.y}
    )
    table = od_table(region, base, origins, k=2)  # type: ignore[arg-type]
    first = table[table["rank"] == 1].set_index("origin_id").loc[origins["origin_id"]]
    np.testing.assert_allclose(first["time_min"], res.search.time_min[cells], rtol=1e-12)
    fac = res.facilities.reset_index(drop=True)["facility_id"].astype(str).to_numpy()
    assert list(first["facility_id"]) == list(fac[res.search.facility[cells]])
    legs = ["walk_min", "ride_min", "ferry_wait_min", "ferry_min", "to_door_min"]
    np.testing.assert_allclose(table[legs].sum(axis=1), table["time_min"], atol=1e-6)
    for _, rows in table.groupby("origin_id"):
        assert rows["time_min"].is_monotonic_increasing and list(rows["rank"]) == [1, 2]
        assert rows["facility_id"].is_unique
    zones = zone_origins(region)  # type: ignore[arg-type]
    assert len(zones) and zones["people"].sum() == pytest.approx(
        float(region.population.people[np.asarray(region.zone) > 0].sum())  # type: ignore[attr-defined]
    )


def test_reach_od_writes_the_table_and_refuses_bad_requests(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    out = tmp_path / "od"
    res = CliRunner().invoke(app, ["od", str(scenario), "--zones", "--k", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "od.csv")
    assert set(table["rank"]) <= {1, 2} and {"od_origins.csv", "manifest.json"} <= {
        p.name for p in out.iterdir()
    }
    for args in (["--k", "2"], ["--zones", "--k", "0"], ["--zones", "--level", "desa"]):
        bad = CliRunner().invoke(app, ["od", str(scenario), *args, "--out", str(tmp_path / "x")])
        lines = [ln for ln in bad.output.splitlines() if ln.strip()]
        assert bad.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:"), bad.output
        assert not (tmp_path / "x").exists()
