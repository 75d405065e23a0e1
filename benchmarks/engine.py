"""Benchmark reach's engine stages beside peer tools on the same inputs.

Run from the repository root::

    python benchmarks/engine.py [--region comoros|demo|all] [--demo-size CELLS] [--repeat 3]
                                [--json results.json] [--markdown] [--check-pipeline]

For each region (Comoros: the real scenario; demo: a generated island district in a temporary
folder) it times

* reach's own stages, through the pipeline's functions, for one service (default ``health``);
* a network-only multi-source search on reach's ``Network`` arrays, reversed (the search runs
  from the facilities, like reach's): scipy ``csgraph.dijkstra(min_only=True)`` and networkx
  ``multi_source_dijkstra_path_length`` (GOSTnets' engine), with their node times compared;
* a grid-only walking search on the same friction: reach's ``combined_search`` with no network
  beside scikit-image's ``MCP_Geometric``. The two models coincide only with the slope factor off
  and a constant cell width, so this comparison uses both; they still differ where reach refuses
  a diagonal move that cuts past an impassable cell and scikit-image allows it.

Times are medians of ``--repeat`` runs after a numba warm-up; the warm-up's first-call time
(numba cache load, and a cold compile in a fresh process with an empty cache) is reported
separately. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from affine import Affine
from rasterio.crs import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from skimage.graph import MCP_Geometric

from reach.codes import STATUS_BARRIER
from reach.demo import demo_scenario_toml, generate_demo
from reach.engine.combined import SearchResult, combined_search
from reach.ingest.population import Population, aggregate_population, read_population
from reach.ingest.roads import RoadLines
from reach.metrics.coverage import coverage_table
from reach.model.assemble import SearchGraph, search_graph
from reach.model.grid import (
    AnalysisGrid,
    Friction,
    grid_from_population,
)
from reach.model.network import Network, build_network
from reach.model.snap import snap_to_passable
from reach.model.speeds import default_profile, profile_with_overrides
from reach.run.region import read_roads, read_service_facilities, read_zone_layer, region_friction
from reach.run.scenario_set import run_scenario
from reach.spec import ScenarioSpec, ServiceSpec, load_scenario

__all__ = [
    "Row",
    "bench_comoros",
    "bench_demo",
    "bench_region",
    "exactness_failures",
    "format_table",
    "main",
    "warm_up_numba",
]

REPO = Path(__file__).resolve().parents[1]
COMOROS_SCENARIO = REPO / "scenarios" / "comoros.toml"
DEFAULT_DEMO_SIZE = 4_000_000

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Rows and timing
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a results table.

    Attributes
    ----------
    group
        ``reach``, ``network-only`` or ``grid-only``.
    name
        Stage or tool.
    size
        Human-readable input size (cells, nodes, edges).
    times_s
        Wall time of each repeat, in seconds.
    ref
        Name of the reach row this row's ratio is taken against, or ``None`` for no ratio.
    notes
        Free text (exactness checks, what the row includes).
    ratio
        Median time over the reference row's median time (filled by :func:`set_ratios`).
    """

    group: str
    name: str
    size: str
    times_s: list[float]
    ref: str | None = None
    notes: str = ""
    ratio: float | None = None

    @property
    def median_s(self) -> float:
        """Median wall time in seconds."""
        return float(statistics.median(self.times_s))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dataclasses.asdict(self)
        out["median_s"] = self.median_s
        return out


@dataclass
class RegionResult:
    """All rows of one region, with facts about its inputs."""

    region: str
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        """Append a row and return it."""
        self.rows.append(row)
        return row


def timed(fn: Callable[[], T], *, repeat: int) -> tuple[T, list[float]]:
    """Call ``fn`` ``repeat`` times; return its last result and the wall time of each call.

    The previous result is dropped before each call, so two copies never live at once.
    """
    times: list[float] = []
    out: T | None = None
    for _ in range(max(1, repeat)):
        out = None
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    assert out is not None
    return out, times


def set_ratios(rows: Sequence[Row]) -> None:
    """Fill each row's ratio to its reference row."""
    by_name = {r.name: r for r in rows if r.group == "reach" or r.ref is None}
    for r in rows:
        if r.ref is not None and r.ref in by_name and by_name[r.ref].median_s > 0:
            r.ratio = r.median_s / by_name[r.ref].median_s


def fmt_n(n: float) -> str:
    """Compact count: 1234 → 1.2k, 2_000_000 → 2.00M."""
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return f"{n:.0f}"


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------------
# numba warm-up
# --------------------------------------------------------------------------------------------


def _tiny_graph() -> SearchGraph:
    """A 4x4 grid with a wall, a 2-node road across it and an isolated open cell.

    It drives every compiled path of ``combined_search``: grid moves with the slope factor,
    network edges, the cell ↔ node links, and the reachability pass (finite time limit, an
    unreached open cell). Built through ``search_graph`` so it follows the engine's format.
    """
    rows, cols = 4, 4
    grid = AnalysisGrid(
        rows=rows,
        cols=cols,
        transform=Affine(100.0, 0.0, 500_000.0, 0.0, -100.0, 8_700_000.0),
        crs=CRS.from_epsg(32738),
        dx_m=np.full(rows, 100.0),
        dy_m=100.0,
    )
    pace = np.full((rows, cols), 0.012)
    status = np.zeros((rows, cols), dtype=np.uint8)
    pace[:, 2] = np.inf  # a wall down column 2; the road crosses it
    status[:, 2] = STATUS_BARRIER
    pace[3, 1] = np.inf  # cell (3, 0) is open but boxed in by barriers and the grid edge
    status[3, 1] = STATUS_BARRIER
    pace[2, 0] = np.inf
    status[2, 0] = STATUS_BARRIER
    friction = Friction(
        pace_min_per_m=pace, status=status, elevation_m=np.linspace(0.0, 30.0, 16).reshape(4, 4)
    )
    x = np.array([500_150.0, 500_350.0])  # cells (0, 1) and (0, 3)
    y = np.array([8_699_950.0, 8_699_950.0])
    network = Network(
        x=x,
        y=y,
        src=np.array([1, 0], dtype=np.int64),
        dst=np.array([0, 1], dtype=np.int64),
        time_min=np.array([0.5, 0.5]),
        length_m=np.array([200.0, 200.0]),
        is_ferry=np.zeros(2, dtype=bool),
        rev_indptr=np.array([0, 1, 2], dtype=np.int64),
        mode="motorbike",
    )
    return search_graph(grid, friction, network, neighbours=8)


def warm_up_numba() -> dict[str, Any]:
    """Call ``combined_search`` once on a tiny graph; return its time and numba cache stats.

    Returns
    -------
    dict
        ``first_call_s`` and, per compiled function, cache hits and misses.
    """
    from reach.engine import combined

    graph = _tiny_graph()
    t0 = time.perf_counter()
    combined_search(graph, np.array([0]), max_time_min=60.0)
    first = time.perf_counter() - t0
    stats = {}
    for name in ("_dijkstra", "_reachable"):
        s = getattr(combined, name).stats
        stats[name] = {
            "cache_hits": sum(s.cache_hits.values()),
            "misses": sum(s.cache_misses.values()),
        }
    t0 = time.perf_counter()
    combined_search(graph, np.array([0]), max_time_min=60.0)
    second = time.perf_counter() - t0
    return {"first_call_s": first, "second_call_s": second, "numba_cache": stats}


def cold_compile_s() -> dict[str, Any]:
    """Warm up in a fresh process whose numba cache folder is empty: the true compile time."""
    with tempfile.TemporaryDirectory(prefix="reach-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--warm-up-only"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------------
# reach stages (the pipeline's functions, in run_scenario's order)
# --------------------------------------------------------------------------------------------


def stage_population(scn: ScenarioSpec) -> tuple[Population, AnalysisGrid]:
    """Read the population raster (aggregated if the scenario says so) and derive the grid."""
    pop = read_population(scn.resolve(scn.region.population))
    if scn.grid.aggregate_factor > 1:
        pop = aggregate_population(pop, factor=scn.grid.aggregate_factor)
    return pop, grid_from_population(pop)


def stage_zones(scn: ScenarioSpec, *, grid: AnalysisGrid) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read the reporting zones and measure their membership of the grid's cells."""
    zones, zone, _ = read_zone_layer(scn, grid)
    return zones, zone


def stage_friction(scn: ScenarioSpec, *, grid: AnalysisGrid, pop: Population) -> Friction:
    """Read land cover, DEM, barriers and water, and build the walking friction."""
    return region_friction(scn, grid=grid, pop=pop)


def stage_network(
    roads: RoadLines, *, scn: ScenarioSpec, grid: AnalysisGrid, svc: ServiceSpec
) -> Network:
    """Build the routable network of the service's travel mode."""
    profile = profile_with_overrides(default_profile(svc.mode), scn.modes.get(svc.mode, {}))
    return build_network(roads, grid, profile=profile, ferry_wait_min=scn.ferries.headway_min / 2)


def stage_facilities(
    scn: ScenarioSpec, *, svc: ServiceSpec, grid: AnalysisGrid, friction: Friction
) -> gpd.GeoDataFrame:
    """Read the service's facilities and snap them to passable cells (``cell`` column)."""
    fac = read_service_facilities(scn, svc, {})
    pts = fac.to_crs(grid.crs).geometry
    passable = np.isfinite(friction.pace_min_per_m)
    fac["cell"] = snap_to_passable(pts.x.to_numpy(), pts.y.to_numpy(), grid, passable)
    return fac


def _seeds(fac: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Seed cells and facility numbers of the facilities on the grid (as the pipeline does)."""
    cells = fac["cell"].to_numpy()
    on_grid = np.flatnonzero(cells >= 0)
    return cells[on_grid].astype(np.int64), on_grid


# --------------------------------------------------------------------------------------------
# Peers: network only
# --------------------------------------------------------------------------------------------


def facility_nodes(network: Network, seed_cells: np.ndarray, *, grid: AnalysisGrid) -> np.ndarray:
    """The connected network node nearest each facility's snapped cell centre (unique, sorted).

    Distances are taken in the grid CRS, with longitudes shrunk by the cosine of the mean
    latitude on geographic grids.
    """
    degree = np.bincount(network.src, minlength=network.n_nodes) + np.bincount(
        network.dst, minlength=network.n_nodes
    )
    connected = np.flatnonzero(degree > 0)
    fx, fy = grid.cell_centres(seed_cells)
    scale = np.cos(np.deg2rad(np.mean(fy))) if grid.geographic else 1.0
    tree = cKDTree(np.column_stack([network.x[connected] * scale, network.y[connected]]))
    _, idx = tree.query(np.column_stack([fx * scale, fy]))
    return np.unique(connected[np.asarray(idx)])


def reversed_csr(network: Network) -> csr_matrix:
    """The reversed network as a scipy CSR matrix: row ``j`` holds the edges *into* node ``j``.

    ``Network`` keeps its edges sorted by ``(dst, src)`` with ``rev_indptr`` as offsets, so
    this is reach's own arrays without a copy of the structure.
    """
    n = network.n_nodes
    return csr_matrix((network.time_min, network.src, network.rev_indptr), shape=(n, n))


def reversed_digraph(network: Network) -> nx.DiGraph:
    """The reversed network as a networkx DiGraph (edge ``dst → src``, attribute ``weight``)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(network.n_nodes))
    g.add_weighted_edges_from(
        zip(network.dst.tolist(), network.src.tolist(), network.time_min.tolist(), strict=True)
    )
    return g


def networkx_times(graph: nx.DiGraph, sources: np.ndarray) -> dict[int, float]:
    """Multi-source Dijkstra lengths from the sources (GOSTnets' call)."""
    lengths: dict[int, float] = nx.multi_source_dijkstra_path_length(
        graph, set(sources.tolist()), weight="weight"
    )
    return lengths


def _networkx_run(
    network: Network, sources: np.ndarray, *, repeat: int
) -> tuple[np.ndarray, list[float], list[float]]:
    """Build the networkx graph and search it; return node times, build and search times."""
    g, t_build = timed(lambda: reversed_digraph(network), repeat=repeat)
    lengths, t_search = timed(lambda: networkx_times(g, sources), repeat=repeat)
    return _dict_to_array(lengths, n=network.n_nodes), t_build, t_search


def _dict_to_array(lengths: dict[int, float], *, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    if lengths:
        keys = np.fromiter(lengths.keys(), dtype=np.int64, count=len(lengths))
        out[keys] = np.fromiter(lengths.values(), dtype=np.float64, count=len(lengths))
    return out


def compare_times(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Differences between two time arrays (``inf`` = not reached).

    Returns
    -------
    dict
        ``both`` (count reached by both), ``only_a``, ``only_b``, ``max_abs``, ``median_abs``,
        ``p99_abs`` (minutes, over the cells or nodes both reach), ``min_a_minus_b`` (the most
        negative ``a - b``: ``a`` faster) and ``identical_share`` (share within 1e-9 minutes).
    """
    fa = np.isfinite(a)
    fb = np.isfinite(b)
    both = fa & fb
    d = np.abs(a[both] - b[both])
    out = {
        "both": int(both.sum()),
        "only_a": int((fa & ~fb).sum()),
        "only_b": int((fb & ~fa).sum()),
        "max_abs": float(d.max()) if d.size else 0.0,
        "median_abs": float(np.median(d)) if d.size else 0.0,
        "p99_abs": float(np.quantile(d, 0.99)) if d.size else 0.0,
        "min_a_minus_b": float((a[both] - b[both]).min()) if d.size else 0.0,
        "identical_share": float((d <= 1e-9).mean()) if d.size else 1.0,
    }
    return out


def bench_network(
    network: Network,
    seed_cells: np.ndarray,
    *,
    grid: AnalysisGrid,
    repeat: int,
    ref: str,
) -> tuple[list[Row], dict[str, Any]]:
    """Time scipy and networkx multi-source searches on the reversed network.

    Parameters
    ----------
    network
        reach's network of the service's mode.
    seed_cells
        The facilities' snapped cells.
    grid
        The analysis grid (for cell centres).
    repeat
        Runs per measurement.
    ref
        Name of the reach row the search rows are compared with.

    Returns
    -------
    rows, facts
        Table rows, and the exactness check (scipy vs networkx node times).
    """
    sources = facility_nodes(network, seed_cells, grid=grid)
    size = f"{fmt_n(network.n_nodes)} nodes, {fmt_n(network.n_edges)} edges"
    csg, t_build_sp = timed(lambda: reversed_csr(network), repeat=repeat)
    sp_time, t_sp = timed(
        lambda: dijkstra(csg, directed=True, indices=sources, min_only=True), repeat=repeat
    )
    nx_time, t_build_nx, t_nx = _networkx_run(network, sources, repeat=repeat)
    cmp = compare_times(np.asarray(sp_time, dtype=np.float64), nx_time)
    exact = (
        f"vs scipy: max |Δ| {cmp['max_abs']:.2g} min on {fmt_n(cmp['both'])} nodes; "
        f"reached by one only: {cmp['only_a'] + cmp['only_b']}"
    )
    src_note = f"{len(sources)} source nodes"
    rows = [
        Row("network-only", "scipy: CSR from reach arrays", size, t_build_sp, None, "build, once"),
        Row("network-only", "scipy dijkstra(min_only)", size, t_sp, ref, src_note),
        Row("network-only", "networkx: build DiGraph", size, t_build_nx, None, "build, once"),
        Row("network-only", "networkx multi_source_dijkstra", size, t_nx, ref, exact),
    ]
    facts = {"source_nodes": len(sources), "scipy_vs_networkx": cmp}
    return rows, facts


# --------------------------------------------------------------------------------------------
# Peers: grid only
# --------------------------------------------------------------------------------------------


def flat_walk_graph(grid: AnalysisGrid, friction: Friction) -> SearchGraph:
    """Grid-only search graph with the slope factor off and a constant cell width (8 moves)."""
    flat = Friction(
        pace_min_per_m=friction.pace_min_per_m, status=friction.status, elevation_m=None
    )
    graph = search_graph(grid, flat, None, neighbours=8)
    return dataclasses.replace(graph, dx_m=np.full(grid.rows, float(np.mean(grid.dx_m))))


def all_passable(graph: SearchGraph) -> SearchGraph:
    """The same graph with every impassable cell given the slowest finite pace.

    With no impassable cell, reach's rule against cutting corners never applies and reach and
    scikit-image compute the same model: their times must agree to rounding.
    """
    pace = graph.pace_min_per_m
    finite = np.isfinite(pace)
    slowest = float(pace[finite].max()) if finite.any() else 0.012
    return dataclasses.replace(
        graph,
        pace_min_per_m=np.where(finite, pace, slowest),
        status=np.zeros_like(graph.status),
    )


def skimage_times(
    graph: SearchGraph, seed_cells: np.ndarray, *, repeat: int
) -> tuple[np.ndarray, list[float], list[float]]:
    """scikit-image ``MCP_Geometric`` on the graph's pace (``inf`` is impassable for it).

    Returns
    -------
    times, build_s, search_s
        Minutes per cell (``inf`` where unreached), and the wall times of the constructor and
        of ``find_costs``.
    """
    costs = graph.pace_min_per_m.reshape(graph.rows, graph.cols)
    sampling = (float(graph.dy_m), float(graph.dx_m[0]))
    starts = np.column_stack(np.divmod(seed_cells, graph.cols)).tolist()
    mcp, t_build = timed(
        lambda: MCP_Geometric(costs, fully_connected=True, sampling=sampling), repeat=repeat
    )
    (cum, _), t_search = timed(lambda: mcp.find_costs(starts), repeat=repeat)
    return np.asarray(cum, dtype=np.float64).ravel(), t_build, t_search


def bench_grid(
    grid: AnalysisGrid, friction: Friction, seed_cells: np.ndarray, *, repeat: int
) -> tuple[list[Row], dict[str, Any]]:
    """Time reach's grid-only search beside scikit-image on the same (flat, constant-dx) grid.

    Parameters
    ----------
    grid
        The analysis grid.
    friction
        The walking friction (its elevation is ignored here).
    seed_cells
        The facilities' snapped cells.
    repeat
        Runs per measurement.

    Returns
    -------
    rows, facts
        Table rows and the comparison of the two time grids.
    """
    graph = flat_walk_graph(grid, friction)
    size = f"{fmt_n(graph.n_cells)} cells"
    reach_res, t_reach = timed(lambda: combined_search(graph, seed_cells), repeat=repeat)
    sk_time, t_build, t_search = skimage_times(graph, seed_cells, repeat=repeat)
    cmp = compare_times(reach_res.time_min, sk_time)
    del reach_res, sk_time
    name = "reach combined_search, no network"
    note = (
        f"max |Δ| {cmp['max_abs']:.3g} min, median {cmp['median_abs']:.2g}, "
        f"identical {100 * cmp['identical_share']:.1f}% of {fmt_n(cmp['both'])} cells; "
        f"reached by one only: {cmp['only_a'] + cmp['only_b']}"
    )
    rows = [
        Row("grid-only", name, size, t_reach, None, "slope off, constant dx, 8 moves"),
        Row("grid-only", "skimage MCP_Geometric: build", size, t_build, None, "build, once"),
        Row("grid-only", "skimage MCP_Geometric.find_costs", size, t_search, name, note),
    ]
    # every cell passable: the models coincide exactly, and every cell is searched
    open_graph = all_passable(graph)
    open_res, t_reach_open = timed(lambda: combined_search(open_graph, seed_cells), repeat=repeat)
    sk_open, _, t_search_open = skimage_times(open_graph, seed_cells, repeat=repeat)
    cmp_open = compare_times(open_res.time_min, sk_open)
    name_open = "reach, all cells passable"
    note_open = (
        f"exactness: max |Δ| {cmp_open['max_abs']:.2g} min on {fmt_n(cmp_open['both'])} cells; "
        f"reached by one only: {cmp_open['only_a'] + cmp_open['only_b']}"
    )
    rows += [
        Row("grid-only", name_open, size, t_reach_open, None, "impassable → slowest pace"),
        Row("grid-only", "skimage find_costs, all passable", size, t_search_open, name_open,
            note_open),
    ]  # fmt: skip
    return rows, {"reach_vs_skimage": cmp, "reach_vs_skimage_all_passable": cmp_open}


# --------------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------------


def bench_region(
    scn: ScenarioSpec,
    *,
    region: str,
    service: str = "health",
    repeat: int = 3,
    check_pipeline: bool = False,
) -> RegionResult:
    """Time reach's stages and the peers on one scenario's inputs.

    Parameters
    ----------
    scn
        The scenario.
    region
        Label of the region in the output.
    service
        Name of the service whose facilities and mode are used.
    repeat
        Runs per measurement (the median is reported).
    check_pipeline
        Also run ``run_scenario(write=False)`` and check its travel times for the service are
        identical to the benchmark's (guards against the stages drifting from the pipeline).

    Returns
    -------
    RegionResult
        The rows and facts about the inputs.
    """
    svc = next((s for s in scn.services if s.name == service), None)
    if svc is None:
        names = ", ".join(s.name for s in scn.services)
        raise SystemExit(f"{region}: no service {service!r} (it has {names})")
    res = RegionResult(region=region)
    add = res.add

    (pop, grid), t = timed(lambda: stage_population(scn), repeat=repeat)
    cells = f"{fmt_n(grid.n_cells)} cells"
    add(Row("reach", "read population", cells, t, notes=f"{grid.rows} x {grid.cols}"))
    (zones, zone), t = timed(lambda: stage_zones(scn, grid=grid), repeat=repeat)
    add(Row("reach", "read + rasterize zones", f"{len(zones)} zones", t))
    (roads, _), t = timed(lambda: read_roads(scn), repeat=repeat)
    add(Row("reach", "read OSM roads", f"{fmt_n(roads.n_ways)} ways", t,
            notes=f"{fmt_n(len(roads.x))} points"))  # fmt: skip
    network, t = timed(lambda: stage_network(roads, scn=scn, grid=grid, svc=svc), repeat=repeat)
    net_size = f"{fmt_n(network.n_nodes)} nodes, {fmt_n(network.n_edges)} edges"
    add(Row("reach", f"build network ({svc.mode})", net_size, t))
    friction, t = timed(lambda: stage_friction(scn, grid=grid, pop=pop), repeat=repeat)
    slope = "with slope" if friction.elevation_m is not None else "no DEM"
    add(Row("reach", "build friction", cells, t, notes=f"land cover, {slope}"))
    fac, t = timed(
        lambda: stage_facilities(scn, svc=svc, grid=grid, friction=friction), repeat=repeat
    )
    seed_cells, seed_fac = _seeds(fac)
    add(Row("reach", "read + snap facilities", f"{len(fac)} facilities", t,
            notes=f"{len(seed_cells)} on the grid"))  # fmt: skip
    graph, t = timed(
        lambda: search_graph(grid, friction, network, neighbours=scn.grid.neighbours),
        repeat=repeat,
    )
    add(Row("reach", "assemble search graph", f"{cells} + {net_size}", t,
            notes="includes snapping nodes to cells"))  # fmt: skip
    limit = scn.grid.max_travel_time_min
    result, t = timed(
        lambda: combined_search(graph, seed_cells, seed_facility=seed_fac, max_time_min=limit),
        repeat=repeat,
    )
    combined_name = "combined search (grid + network)"
    reached = int(np.isfinite(result.time_min).sum())
    add(Row("reach", combined_name, f"{cells} + {net_size}", t,
            notes=f"all {len(seed_cells)} facilities at once, limit {limit:g} min; "
            f"{fmt_n(reached)} cells reached"))  # fmt: skip
    cov, t = timed(
        lambda: coverage_table(
            pop.people,
            zone,
            result.time_min,
            result.reason,
            zone_ids=zones["zone_id"].astype(str).tolist(),
            zone_names=zones["name"].astype(str).tolist(),
            service=svc.name,
            thresholds_min=svc.thresholds_min,
            target_share=svc.target_share,
        ),
        repeat=repeat,
    )
    add(Row("reach", "coverage table", f"{cells}, {len(zones)} zones", t))
    total = sum(r.median_s for r in res.rows)
    res.rows.append(Row("reach", "total of the stages above", "", [total], notes="sum of medians"))

    net_rows, net_facts = bench_network(
        network, seed_cells, grid=grid, repeat=repeat, ref=combined_name
    )
    res.rows += net_rows
    grid_rows, grid_facts = bench_grid(grid, friction, seed_cells, repeat=repeat)
    res.rows += grid_rows
    set_ratios(res.rows)
    res.facts = {
        "scenario": scn.scenario.name,
        "service": svc.name,
        "mode": svc.mode,
        "grid": {"rows": grid.rows, "cols": grid.cols, "cells": grid.n_cells},
        "network": {"nodes": network.n_nodes, "edges": network.n_edges},
        "facilities": len(fac),
        "seed_cells": len(seed_cells),
        "cells_reached": reached,
        "population_covered_all": _covered(cov),
        **net_facts,
        **grid_facts,
        "peak_rss_mb_after": _peak_rss_mb(),
    }
    if check_pipeline:
        res.facts["pipeline_check"] = _check_pipeline(scn, svc=svc, result=result)
    return res


def _covered(cov: pd.DataFrame) -> dict[str, Any]:
    """The coverage table's ``(all)`` row, JSON-ready."""
    row = cov.loc[cov["zone_id"] == "(all)"].iloc[0]
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def _check_pipeline(scn: ScenarioSpec, *, svc: ServiceSpec, result: SearchResult) -> dict[str, Any]:
    """Run the pipeline and compare its travel times for ``svc`` with the benchmark's."""
    t0 = time.perf_counter()
    run = run_scenario(scn, write=False)
    took = time.perf_counter() - t0
    theirs = run.services[svc.name].search
    same = bool(
        np.array_equal(theirs.time_min, result.time_min)
        and np.array_equal(theirs.facility, result.facility)
        and np.array_equal(theirs.reason, result.reason)
    )
    return {"identical": same, "run_scenario_s": took, "pipeline_timings_s": run.timings_s}


def bench_comoros(
    *, scenario: Path = COMOROS_SCENARIO, repeat: int = 3, check_pipeline: bool = False
) -> RegionResult:
    """Benchmark the Comoros scenario (real data; ``REACH_DATA`` or ``../shared/data``)."""
    scn = load_scenario(scenario)
    return bench_region(scn, region="comoros", repeat=repeat, check_pipeline=check_pipeline)


def bench_demo(
    *,
    size_cells: int = DEFAULT_DEMO_SIZE,
    seed: int = 7,
    repeat: int = 3,
    check_pipeline: bool = False,
) -> RegionResult:
    """Generate the demo region into a temporary folder and benchmark it."""
    with tempfile.TemporaryDirectory(prefix="reach-bench-demo-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        files = generate_demo(folder, size_cells=size_cells, seed=seed)
        gen_s = time.perf_counter() - t0
        path = folder / "demo.toml"
        path.write_text(demo_scenario_toml(files, relative_to=folder), encoding="utf-8")
        scn = load_scenario(path)
        res = bench_region(
            scn,
            region=f"demo {fmt_n(size_cells)}",
            repeat=repeat,
            check_pipeline=check_pipeline,
        )
    res.facts["generate_s"] = gen_s
    res.facts["requested_size_cells"] = size_cells
    return res


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

_HEADER = ("stage / tool", "size", "time s (median)", "ratio to reach", "notes")


def _cells(row: Row) -> tuple[str, str, str, str, str]:
    ratio = ""
    if row.ratio is not None:
        ratio = f"{row.ratio:.2f}x" if row.ratio >= 0.1 else f"{row.ratio:.2g}x"
    name = row.name if row.group == "reach" else f"[{row.group}] {row.name}"
    t = row.median_s
    timing = f"{t:.3f}" if t < 100 else f"{t:.1f}"
    return name, row.size, timing, ratio, row.notes


def format_table(result: RegionResult, *, markdown: bool = False) -> str:
    """Format one region's rows as an aligned plain-text or a markdown table.

    Parameters
    ----------
    result
        The region's rows.
    markdown
        Markdown (pipes) instead of aligned plain text.

    Returns
    -------
    str
        The table with a title line.
    """
    body = [_cells(r) for r in result.rows]
    title = f"{result.region}: {result.facts.get('scenario', '')}, service " + str(
        result.facts.get("service", "")
    )
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(_HEADER) + " |"]
        lines.append("|---|---|---:|---:|---|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(_HEADER[:-1])]

    def fmt(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in (2, 3) else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells[:-1], widths, strict=True))
        ]
        return "  ".join([*parts, cells[-1]]).rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths) + 5)
    return "\n".join([title, rule, fmt(_HEADER), rule, *(fmt(c) for c in body), rule])


def _facts_lines(result: RegionResult) -> list[str]:
    f = result.facts
    lines = []
    if "generate_s" in f:
        lines.append(f"  demo generated in {f['generate_s']:.1f} s (not a reach stage)")
    net = f.get("scipy_vs_networkx", {})
    grid = f.get("reach_vs_skimage", {})
    if net:
        lines.append(
            f"  network exactness, scipy vs networkx: max |Δ| {net['max_abs']:.3g} min over "
            f"{net['both']} nodes ({net['only_a'] + net['only_b']} reached by one only)"
        )
    if grid:
        lines.append(
            "  grid, reach vs skimage (slope off, constant dx): max |Δ| "
            f"{grid['max_abs']:.3g} min, p99 {grid['p99_abs']:.3g}, "
            f"median {grid['median_abs']:.3g}; "
            f"identical on {100 * grid['identical_share']:.2f}% of {grid['both']} cells; "
            f"reached by reach only {grid['only_a']}, by skimage only {grid['only_b']}"
        )
        lines.append(
            "    reach forbids diagonal moves that cut past an impassable cell, skimage allows them"
            f" (skimage is never slower: min(reach - skimage) = {grid['min_a_minus_b']:.2g} min)"
        )
    grid_open = f.get("reach_vs_skimage_all_passable", {})
    if grid_open:
        lines.append(
            f"  grid, every cell passable (same model in both): max |Δ| "
            f"{grid_open['max_abs']:.3g} min over {grid_open['both']} cells "
            f"({grid_open['only_a'] + grid_open['only_b']} reached by one only)"
        )
    if "pipeline_check" in f:
        pc = f["pipeline_check"]
        lines.append(
            f"  run_scenario check: travel times identical = {pc['identical']} "
            f"(full run {pc['run_scenario_s']:.1f} s)"
        )
    lines.append(f"  peak RSS so far: {f['peak_rss_mb_after']:.0f} MB")
    return lines


def exactness_failures(result: RegionResult, *, tol_min: float = 1e-6) -> list[str]:
    """The exactness checks of a region that failed (empty when all hold).

    Parameters
    ----------
    result
        A benchmarked region.
    tol_min
        Largest time difference, in minutes, still counted as equal.

    Returns
    -------
    list of str
        One message per failed check: scipy vs networkx node times, reach vs scikit-image with
        every cell passable, and (when run) the benchmark's stages vs ``run_scenario``.
    """
    f = result.facts
    out = []
    for key, what in (
        ("scipy_vs_networkx", "network-only scipy vs networkx"),
        ("reach_vs_skimage_all_passable", "grid-only reach vs skimage, all cells passable"),
    ):
        cmp = f.get(key)
        if cmp and (cmp["max_abs"] > tol_min or cmp["only_a"] or cmp["only_b"]):
            out.append(f"{what}: {cmp}")
    cmp = f.get("reach_vs_skimage")
    if cmp and cmp["min_a_minus_b"] < -tol_min:
        out.append(f"grid-only: skimage slower than reach somewhere: {cmp}")
    if "pipeline_check" in f and not f["pipeline_check"]["identical"]:
        out.append("the benchmark's stages no longer match run_scenario's travel times")
    return out


def _machine() -> dict[str, Any]:
    versions = {}
    for pkg in ("numpy", "scipy", "numba", "networkx", "scikit-image"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", choices=("comoros", "demo", "all"), default="all")
    parser.add_argument("--demo-size", type=int, default=DEFAULT_DEMO_SIZE, help="grid cells")
    parser.add_argument("--seed", type=int, default=7, help="demo seed")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--service", default="health", help="service to benchmark")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument(
        "--check-pipeline",
        action="store_true",
        help="also run run_scenario and check its travel times equal the benchmark's",
    )
    parser.add_argument("--no-cold-compile", action="store_true", help="skip the cold compile")
    parser.add_argument("--warm-up-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.warm_up_only:
        print(json.dumps(warm_up_numba()))
        return 0

    warm = warm_up_numba()
    cold = {} if args.no_cold_compile else cold_compile_s()
    print(
        f"numba first call (tiny graph): {warm['first_call_s']:.2f} s in this process "
        f"(cache: {warm['numba_cache']['_dijkstra']}); second call {warm['second_call_s']:.4f} s"
    )
    if cold:
        text = f"{cold['first_call_s']:.2f} s" if "first_call_s" in cold else str(cold)
        print(f"numba cold compile (fresh process, empty cache): {text}")
    print()

    results: list[RegionResult] = []
    if args.region in ("comoros", "all"):
        results.append(bench_comoros(repeat=args.repeat, check_pipeline=args.check_pipeline))
        _print(results[-1], markdown=args.markdown)
    if args.region in ("demo", "all"):
        results.append(
            bench_demo(
                size_cells=args.demo_size,
                seed=args.seed,
                repeat=args.repeat,
                check_pipeline=args.check_pipeline,
            )
        )
        _print(results[-1], markdown=args.markdown)

    peak = _peak_rss_mb()
    print(f"peak RSS: {peak:.0f} MB")
    failures = [f"{r.region}: {msg}" for r in results for msg in exactness_failures(r)]
    if args.json:
        payload = {
            "machine": _machine(),
            "repeat": args.repeat,
            "numba": {"warm_up": warm, "cold_compile": cold},
            "regions": {
                r.region: {"rows": [row.as_dict() for row in r.rows], "facts": r.facts}
                for r in results
            },
            "peak_rss_mb": peak,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    for msg in failures:
        print(f"EXACTNESS CHECK FAILED: {msg}", file=sys.stderr)
    return 1 if failures else 0


def _print(result: RegionResult, *, markdown: bool) -> None:
    print(format_table(result, markdown=markdown))
    if markdown:
        print()  # a table ends at a blank line
    print("\n".join(_facts_lines(result)))
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
