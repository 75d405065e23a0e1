"""The performance targets of a whole scenario study, side by side with the peers, in one run.

Run from the repository root::

    python benchmarks/study.py [--size 16000000] [--repeat 3] [--no-grass] [--markdown]
                               [--json results.json] [--demo-dir DIR]

It prints one table per target, each row a median of ``--repeat`` runs with the ratio to reach:

1. **One travel-time surface** on the large demo region (a generated island province of
   ``--size`` cells, 3 arc-seconds): reach's combined grid + network search for one service,
   also on the same roads cut into nodes at most 10 m apart (over a million nodes); the peak
   memory of a fresh process that loads the region and makes that surface. Beside it, on the
   walking grid alone with the same friction (slope off, one cell width): GRASS ``r.cost``
   (AccessMod's engine) and scikit-image ``MCP_Geometric``, with their largest difference to
   reach; once on the region's friction (the models differ only where a diagonal move cuts past
   an impassable cell: reach refuses it, the peers allow it) and once with every cell passable
   (the models coincide: the difference must be rounding).
2. **Multi-source network search** on that million-node network: reach's kernel
   (:func:`reach.engine.combined.network_search`), scipy ``dijkstra(min_only=True)``, networkx
   ``multi_source_dijkstra_path_length`` (GOSTnets' engine) with its graph build.
3. **A scenario study**, 3 services × 5 scenarios (baseline, new facilities, closures, paved
   roads, telemedicine) on the loaded region: ``run_scenario`` as reach runs it (searches from the
   baseline where only facilities are added, unchanged services reused, services and
   alternatives on both cores) beside the same study as 15 independent full surfaces on one
   thread. Every travel time of the two must be identical.
4. **Comoros end to end**: ``reach run scenarios/comoros.toml`` in a fresh process (PBF → tables,
   rasters, GIS files, maps, report with its PDF).
5. **Comoros PBF ingest** to the routable network (``read_roads`` + ``build_network``) beside
   osmnx ``graph_from_xml`` on the same extract (written as OSM XML beforehand, not timed).

Real data (rows 4-5) come from ``REACH_DATA`` (default ``../shared/data``); those rows are left
out with a note when it is absent, and GRASS rows when ``grass`` is not installed
(``apt-get install grass-core``). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import osmium
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.engine import (
    Row,
    all_passable,
    compare_times,
    facility_nodes,
    fmt_n,
    networkx_times,
    reversed_csr,
    reversed_digraph,
    set_ratios,
    skimage_times,
    timed,
)
from reach.demo import demo_scenario_toml, generate_demo
from reach.engine.combined import combined_search, network_search
from reach.model.assemble import SearchGraph, search_graph
from reach.model.network import Network, build_network
from reach.model.region import Region, mode_profile
from reach.results import BASELINE, RunResult
from reach.run.evaluate import evaluate
from reach.run.region import load_region, read_roads
from reach.run.scenario_set import run_scenario
from reach.run.session import region_session, service_graph
from reach.settings import data_dir
from reach.spec import ScenarioSpec, load_scenario

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = 16_000_000
#: Node spacing of the densified network (metres): the demo's roads cut this finely give over a
#: million nodes at 16M cells.
DENSE_SPACING_M = 10.0


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _hwm_mb() -> float:
    """Peak resident memory of this process so far (``VmHWM``), in MB."""
    text = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", text)
    return int(match.group(1)) / 1024.0 if match else float("nan")


def _rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", text)
    return int(match.group(1)) / 1024.0 if match else float("nan")


def _reset_hwm() -> None:
    """Reset this process's peak resident memory to the current one (Linux ``clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


def _service_seeds(region: Region, service: str) -> tuple[np.ndarray, np.ndarray]:
    """Snapped cells and facility indices of a service's facilities on the grid."""
    searcher = region_session(region)
    fac = searcher.snap(region.facilities[service])
    cells = fac["cell"].to_numpy()
    on_grid = np.flatnonzero(cells >= 0)
    return cells[on_grid].astype(np.int64), on_grid.astype(np.int32)


def _dense_network(region: Region, mode: str) -> Network:
    scn = region.scenario
    return build_network(
        region.roads,
        region.grid,
        profile=mode_profile(scn, mode),
        ferry_wait_min=scn.ferries.headway_min / 2.0,
        max_node_spacing_m=DENSE_SPACING_M,
    )


def _agreement(a: np.ndarray, b: np.ndarray) -> str:
    cmp = compare_times(a, b)
    return (
        f"max |Δ| {cmp['max_abs']:.2g} min (median {cmp['median_abs']:.2g}) on "
        f"{fmt_n(cmp['both'])}; reached by one only: {cmp['only_a'] + cmp['only_b']}"
    )


# --------------------------------------------------------------------------------------------
# 1. One surface
# --------------------------------------------------------------------------------------------


def surface_child(scenario_path: Path, service: str) -> dict[str, Any]:
    """In a fresh process: load the region, make one service's surface; report times and peak.

    Called through ``--surface-child``; the parent reads the JSON it prints.
    """
    t0 = time.perf_counter()
    scn = load_scenario(scenario_path)
    region = load_region(scn)
    load_s = time.perf_counter() - t0
    svc = next(s for s in scn.services if s.name == service)
    seeds, labels = _service_seeds(region, service)
    t0 = time.perf_counter()
    graph = service_graph(region, svc.mode)
    graph_s = time.perf_counter() - t0
    before = _hwm_mb()
    held = _rss_mb()
    _reset_hwm()
    t0 = time.perf_counter()
    result = combined_search(
        graph, seeds, seed_facility=labels, max_time_min=scn.grid.max_travel_time_min
    )
    search_s = time.perf_counter() - t0
    search_peak = _hwm_mb()
    return {
        "load_s": load_s,
        "graph_s": graph_s,
        "search_s": search_s,
        "peak_before_search_mb": before,
        "held_before_search_mb": held,
        "peak_during_search_mb": search_peak,
        "peak_mb": max(before, search_peak),
        "reached": int(np.isfinite(result.time_min).sum()),
    }


def _run_surface_child(scenario_path: Path, service: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--surface-child", str(scenario_path), "--service", service],
        check=True,
        capture_output=True,
        text=True,
    )
    last = out.stdout.strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last)
    return result


def bench_surface(
    region: Region,
    scenario_path: Path,
    *,
    service: str,
    repeat: int,
    grass: bool,
    workdir: Path,
) -> tuple[list[Row], dict[str, Any]]:
    """Rows of target 1: one surface, its peak memory, and the grid-only peers."""
    scn = region.scenario
    svc = next(s for s in scn.services if s.name == service)
    seeds, labels = _service_seeds(region, service)
    graph = service_graph(region, svc.mode)
    limit = scn.grid.max_travel_time_min
    size = f"{fmt_n(graph.n_cells)} cells + {fmt_n(graph.n_nodes)} nodes"
    rows: list[Row] = []
    res, t = timed(
        lambda: combined_search(graph, seeds, seed_facility=labels, max_time_min=limit),
        repeat=repeat,
    )
    name = f"reach combined search ({svc.name}, {svc.mode})"
    rows.append(Row("surface", name, size, t, None,
                    f"{len(seeds)} facilities; {fmt_n(np.isfinite(res.time_min).sum())} cells "
                    f"reached; limit {limit:g} min; slope on"))  # fmt: skip
    del res
    dense = _dense_network(region, svc.mode)
    dense_graph = search_graph(region.grid, region.friction, dense, neighbours=scn.grid.neighbours)
    dense_size = f"{fmt_n(graph.n_cells)} cells + {fmt_n(dense.n_nodes)} nodes"
    res_dense, t = timed(
        lambda: combined_search(dense_graph, seeds, seed_facility=labels, max_time_min=limit),
        repeat=repeat,
    )
    rows.append(Row("surface", "reach, roads cut every 10 m", dense_size, t, name,
                    f"{fmt_n(dense.n_edges)} edges"))  # fmt: skip
    del res_dense
    child = [_run_surface_child(scenario_path, service) for _ in range(max(1, repeat))]
    peak = max(c["peak_mb"] for c in child)
    rows.append(Row("surface", "fresh process: load region + graph + surface", size,
                    [c["load_s"] + c["graph_s"] + c["search_s"] for c in child], None,
                    f"peak memory {peak:,.0f} MB (load {child[0]['peak_before_search_mb']:,.0f}, "
                    f"search {child[0]['peak_during_search_mb']:,.0f}); search alone "
                    f"{np.median([c['search_s'] for c in child]):.2f} s"))  # fmt: skip

    grid_rows, grid_facts = bench_grid_peers(
        graph, seeds, repeat=repeat, grass=grass, workdir=workdir
    )
    rows += grid_rows
    facts = {"surface_child": child, "peak_mb": peak, **grid_facts,
             "dense_nodes": dense.n_nodes, "nodes": graph.n_nodes}  # fmt: skip
    return rows, facts


def bench_grid_peers(
    graph: SearchGraph, seeds: np.ndarray, *, repeat: int, grass: bool, workdir: Path
) -> tuple[list[Row], dict[str, Any]]:
    """reach, GRASS r.cost and scikit-image on the walking grid alone, same friction."""
    rows: list[Row] = []
    facts: dict[str, Any] = {}
    grid_graph = flat_walk_graph_of(graph)
    for label, g in (
        ("region friction", grid_graph),
        ("all cells passable", all_passable(grid_graph)),
    ):
        size = f"{fmt_n(g.n_cells)} cells ({label})"
        ref = f"reach, grid only ({label})"
        mine, t = timed(lambda g=g: combined_search(g, seeds), repeat=repeat)
        rows.append(Row("grid", ref, size, t, None, "slope off, square cells, 8 moves"))
        sk, t_build, t_search = skimage_times(g, seeds, repeat=repeat)
        rows.append(Row("grid", f"scikit-image MCP_Geometric ({label})", size,
                        [a + b for a, b in zip(t_build, t_search, strict=True)], ref,
                        f"build + find_costs; vs reach: "
                        f"{_agreement(mine.time_min, sk)}"))  # fmt: skip
        facts[f"skimage_{label}"] = compare_times(mine.time_min, sk)
        del sk
        if grass:
            from benchmarks.grass_peer import rcost_times

            pace = g.pace_min_per_m.reshape(g.rows, g.cols)
            rr, cc = np.divmod(seeds, g.cols)
            runs = []
            for _ in range(max(1, repeat)):
                runs.append(rcost_times(pace, rr, cc, cell_m=float(g.dy_m), workdir=workdir))
            run = runs[-1]
            rows.append(Row("grid", f"GRASS r.cost ({label})", size, [r.cost_s for r in runs], ref,
                            f"r.cost alone (import {run.import_s:.1f} s, export "
                            f"{run.export_s:.1f} s not counted), peak {run.peak_rss_mb:,.0f} MB; "
                            f"vs reach: "
                            f"{_agreement(mine.time_min, run.time_min)}"))  # fmt: skip
            facts[f"grass_{label}"] = compare_times(mine.time_min, run.time_min)
            del runs, run
        del mine
    return rows, facts


def flat_walk_graph_of(graph: SearchGraph) -> SearchGraph:
    """The walking grid of a search graph alone: no network, slope off, square cells of the
    mean cell width (the model GRASS ``r.cost`` and scikit-image compute)."""
    import dataclasses

    empty_i = np.empty(0, dtype=np.int64)
    width = float(np.mean(graph.dx_m))
    return dataclasses.replace(
        graph,
        elevation_m=np.empty(0),
        dx_m=np.full(graph.rows, width),
        dy_m=width,
        rev_indptr=np.zeros(1, dtype=np.int64),
        rev_src=empty_i,
        rev_cost_min=np.empty(0),
        node_cell=empty_i,
        connector_min=np.empty(0),
    )


# --------------------------------------------------------------------------------------------
# 2. Network search
# --------------------------------------------------------------------------------------------


def bench_network_search(
    region: Region, *, service: str, repeat: int
) -> tuple[list[Row], dict[str, Any]]:
    """reach's kernel, scipy and networkx on the million-node network, from the facilities."""
    scn = region.scenario
    svc = next(s for s in scn.services if s.name == service)
    network = _dense_network(region, svc.mode)
    seeds, _ = _service_seeds(region, service)
    sources = facility_nodes(network, seeds, grid=region.grid)
    size = f"{fmt_n(network.n_nodes)} nodes, {fmt_n(network.n_edges)} edges"
    mine, t = timed(
        lambda: network_search(network.rev_indptr, network.src, network.time_min, sources),
        repeat=repeat,
    )
    ref = "reach network_search"
    rows = [Row("network", ref, size, t, None, f"{len(sources)} source nodes")]
    csg, t_csr = timed(lambda: reversed_csr(network), repeat=repeat)
    sp, t = timed(
        lambda: dijkstra(csg, directed=True, indices=sources, min_only=True), repeat=repeat
    )
    sp = np.asarray(sp, dtype=np.float64)
    rows.append(Row("network", "scipy dijkstra(min_only=True)", size, t, ref,
                    f"CSR from reach's arrays {np.median(t_csr):.3f} s not counted; vs reach: "
                    f"{_agreement(mine.time_min, sp)}"))  # fmt: skip
    g, t_build = timed(lambda: reversed_digraph(network), repeat=repeat)
    lengths, t_nx = timed(lambda: networkx_times(g, sources), repeat=repeat)
    nx_time = np.full(network.n_nodes, np.inf)
    keys = np.fromiter(lengths.keys(), dtype=np.int64, count=len(lengths))
    nx_time[keys] = np.fromiter(lengths.values(), dtype=np.float64, count=len(lengths))
    rows.append(Row("network", "networkx: build DiGraph + multi_source_dijkstra", size,
                    [a + b for a, b in zip(t_build, t_nx, strict=True)], ref,
                    f"search alone {np.median(t_nx):.2f} s; vs reach: "
                    f"{_agreement(mine.time_min, nx_time)}"))  # fmt: skip
    facts = {
        "scipy": compare_times(mine.time_min, sp),
        "networkx": compare_times(mine.time_min, nx_time),
        "sources": len(sources),
    }
    return rows, facts


# --------------------------------------------------------------------------------------------
# 3. The scenario study
# --------------------------------------------------------------------------------------------


def study_toml(region: Region, base_toml: str, *, folder: Path) -> str:
    """The demo scenario with four alternatives: new facilities, closures, paving, telemedicine.

    New sites are the most underserved places of each service in the baseline (picked by
    :func:`reach.scenarios.candidates.underserved_sites`); closures are the five health
    facilities serving the fewest people; telemedicine reaches 8 km around the hospitals and
    health centres (illustrative towers, written to ``folder``).
    """
    from reach.scenarios.candidates import underserved_sites

    base = evaluate(region)
    adds: list[str] = []
    for svc in region.scenario.services:
        res = base.services[svc.name]
        sites = underserved_sites(
            region.population.people, res.search.time_min, region.grid,
            beyond_min=max(svc.thresholds_min) / 2, n_sites=5, radius_m=3000.0,
        )  # fmt: skip
        tier = str(res.facilities["tier"].iloc[0])
        for k, site in enumerate(sites.itertuples()):
            adds.append(
                f'  {{ op = "add_facility", service = "{svc.name}", '
                f'facility_id = "new-{svc.name}-{k}", lon = {site.lon:.5f}, '
                f'lat = {site.lat:.5f}, tier = "{tier}" }},'
            )
    table = base.services["health"].facility_table
    few = table.sort_values(["catchment_population", "facility_id"]).head(5)["facility_id"].tolist()
    closes = [
        f'  {{ op = "close_facility", service = "health", facility_id = "{fid}" }},' for fid in few
    ]
    health = region.facilities["health"]
    towers = health[health["tier"].isin(["hospital", "health_centre"])][["facility_id", "geometry"]]
    towers.to_file(folder / "towers.geojson", driver="GeoJSON")
    minx, miny, maxx, maxy = region.zones.to_crs(4326).total_bounds
    midx = (minx + maxx) / 2
    corners = [(minx, miny), (midx, miny), (midx, maxy), (minx, maxy)]
    poly = "[" + ", ".join(f"[{x:.4f}, {y:.4f}]" for x, y in corners) + "]"
    return (
        base_toml
        + '\n[[alternatives]]\nname = "new_facilities"\noperations = [\n'
        + "\n".join(adds)
        + '\n]\n\n[[alternatives]]\nname = "close_small_clinics"\noperations = [\n'
        + "\n".join(closes)
        + '\n]\n\n[[alternatives]]\nname = "pave_west"\noperations = [\n'
        + f'  {{ op = "upgrade_road", polygon = {poly}, '
        + 'highway_classes = ["track", "unclassified"], set_highway = "tertiary", '
        + 'set_surface = "asphalt" },\n]\n'
        + '\n[[alternatives]]\nname = "telemedicine"\noperations = [\n'
        + '  { op = "telemedicine", service = "health", remote_share = 0.3, connectivity = '
        + '{ kind = "towers", path = "towers.geojson", range_m = 8000 } },\n]\n'
    )


def _independent(region: Region) -> dict[str, dict[str, np.ndarray]]:
    """The study as 15 independent full surfaces, one after the other, nothing shared."""
    out: dict[str, dict[str, np.ndarray]] = {}
    scn = region.scenario
    for alt in (None, *scn.alternatives):
        region.clear_cached()
        name = alt.name if alt else BASELINE
        ev = evaluate(region, name=name, alternative=alt, incremental=False)
        out[name] = {s: r.search.time_min for s, r in ev.services.items()}
    return out


def bench_study(region: Region, *, repeat: int) -> tuple[list[Row], dict[str, Any]]:
    """reach's study beside 15 independent surfaces; every travel time must be the same."""
    scn = region.scenario
    n_services = len(scn.services)
    n_scen = 1 + len(scn.alternatives)
    size = f"{n_services} services × {n_scen} scenarios, {fmt_n(region.grid.n_cells)} cells"

    def reach_study() -> RunResult:
        region.clear_cached()
        return run_scenario(scn, region=region, write=False, maps=False)

    run, t = timed(reach_study, repeat=repeat)
    ref = "reach run_scenario (incremental, 2 threads)"
    rows = [Row("study", ref, size, t, None, "baseline, 4 alternatives, comparison and ranking")]
    old = os.environ.get("REACH_THREADS")
    os.environ["REACH_THREADS"] = "1"
    try:
        _, t1 = timed(reach_study, repeat=repeat)
        rows.append(Row("study", "reach run_scenario, 1 thread", size, t1, ref, "incremental"))
        full, t_full = timed(lambda: _independent(region), repeat=repeat)
    finally:
        if old is None:
            os.environ.pop("REACH_THREADS", None)
        else:
            os.environ["REACH_THREADS"] = old
    worst = 0.0
    differ = 0
    evaluations = {BASELINE: run.baseline, **run.alternatives}
    for name, times in full.items():
        for svc, tm in times.items():
            mine = evaluations[name].services[svc].search.time_min
            both = np.isfinite(mine) & np.isfinite(tm)
            differ += int((np.isfinite(mine) != np.isfinite(tm)).sum())
            if both.any():
                worst = max(worst, float(np.abs(mine[both] - tm[both]).max()))
    rows.append(Row("study", f"{n_services * n_scen} independent full surfaces, 1 thread", size,
                    t_full, ref, f"travel times vs reach's study: max |Δ| {worst:.2g} min, "
                    f"reached by one only {differ}"))  # fmt: skip
    return rows, {"study_max_abs_min": worst, "study_reached_by_one_only": differ}


# --------------------------------------------------------------------------------------------
# 4-5. Comoros
# --------------------------------------------------------------------------------------------


def bench_comoros(*, repeat: int, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    """Comoros end to end (fresh process) and the PBF ingest beside osmnx."""
    scenario = REPO / "scenarios" / "comoros.toml"
    rows: list[Row] = []
    times = []
    for k in range(max(1, repeat)):
        out = workdir / f"comoros-run-{k}"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "reach.cli", "run", str(scenario), "--out", str(out)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
        written = sorted(p.name for p in out.iterdir())
        shutil.rmtree(out)
    rows.append(Row("comoros", "reach run scenarios/comoros.toml (fresh process)",
                    "3 services, 100 m grid", times, None,
                    f"writes {len(written)} files: {', '.join(written[:8])} …"))  # fmt: skip

    scn = load_scenario(scenario)
    assert scn.region.osm is not None
    pbf = scn.resolve(scn.region.osm)
    region = load_region(scn)
    profile = mode_profile(scn, "motorbike")

    def ingest() -> Network:
        roads, _ = read_roads(scn)
        return build_network(roads, region.grid, profile=profile,
                             ferry_wait_min=scn.ferries.headway_min / 2.0)  # fmt: skip

    net, t = timed(ingest, repeat=repeat)
    ref = "reach: read PBF + build routable network"
    rows.append(Row("comoros", ref, f"{pbf.stat().st_size / 1e6:.1f} MB PBF", t, None,
                    f"{fmt_n(net.n_nodes)} nodes, {fmt_n(net.n_edges)} edges (motorbike, "
                    "cut to half a cell, ferries, one-ways)"))  # fmt: skip
    xml = workdir / "comoros.osm"
    _pbf_to_xml(pbf, xml)
    import osmnx

    graph, t = timed(lambda: osmnx.graph_from_xml(xml, retain_all=True), repeat=repeat)
    rows.append(Row("comoros", "osmnx graph_from_xml (same extract as XML)",
                    f"{xml.stat().st_size / 1e6:.0f} MB XML", t, ref,
                    f"{fmt_n(graph.number_of_nodes())} nodes, {fmt_n(graph.number_of_edges())} "
                    "edges (simplified, no travel times)"))  # fmt: skip
    xml.unlink()
    return rows, {"written": written}


def _pbf_to_xml(pbf: Path, xml: Path) -> None:
    """Write the PBF as OSM XML (osmnx reads only XML); not timed."""
    writer = osmium.SimpleWriter(str(xml))
    try:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    finally:
        writer.close()


# --------------------------------------------------------------------------------------------
# Output and main
# --------------------------------------------------------------------------------------------

TARGETS = {
    "surface": "one surface, 16M cells + network: ≤ 3 s, ≤ 2 GB; GRASS r.cost ≥ 2.5× slower",
    "grid": "same friction, grid only: GRASS r.cost and scikit-image beside reach",
    "network": "network search, 1M nodes: within 1.5× of scipy; networkx ≥ 10× slower",
    "study": "3 services × 5 scenarios: ≤ 15 s on 2 cores",
    "comoros": "Comoros end to end ≤ 30 s; PBF ingest ≤ 5 s, beside osmnx",
}


def format_rows(rows: Sequence[Row], *, markdown: bool) -> str:
    """The rows as a table, grouped by target."""
    lines: list[str] = []
    header = ("what", "size", "median s", "runs", "× reach", "notes")
    for group, title in TARGETS.items():
        mine = [r for r in rows if r.group == group]
        if not mine:
            continue
        cells = [
            (
                r.name,
                r.size,
                f"{r.median_s:.3f}",
                str(len(r.times_s)),
                "" if r.ratio is None else f"{r.ratio:.2f}",
                r.notes,
            )
            for r in mine
        ]
        if markdown:
            lines += [f"\n**{title}**\n", "| " + " | ".join(header) + " |",
                      "|" + "---|" * len(header)]  # fmt: skip
            lines += ["| " + " | ".join(c) + " |" for c in cells]
        else:
            widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header[:-1])]
            lines += ["", title]
            for c in [header, *cells]:
                lines.append("  ".join(v.ljust(w) for v, w in zip(c[:-1], widths, strict=True))
                             + "  " + c[-1])  # fmt: skip
    return "\n".join(lines)


def _load_demo(size: int, demo_dir: Path | None, workdir: Path) -> tuple[ScenarioSpec, Path]:
    folder = demo_dir or workdir / "demo"
    path = folder / "study.toml"
    if not (folder / "population.tif").exists():
        files = generate_demo(folder, size_cells=size, seed=7)
        (folder / "demo.toml").write_text(
            demo_scenario_toml(files, relative_to=folder), encoding="utf-8"
        )
    base = (folder / "demo.toml").read_text(encoding="utf-8")
    base = base.replace('reports = ["en", "id"]', "reports = []")  # the study writes nothing
    path.write_text(base, encoding="utf-8")
    return load_scenario(path), path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables; 1 when an exactness check fails."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help="demo grid cells")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--service", default="health")
    ap.add_argument("--no-grass", action="store_true", help="leave GRASS r.cost out")
    ap.add_argument("--only", choices=sorted(TARGETS), action="append", help="these tables only")
    ap.add_argument("--demo-dir", type=Path, help="generate the demo here (or reuse it)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--surface-child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.surface_child:
        print(json.dumps(surface_child(args.surface_child, args.service)))
        return 0
    from benchmarks.grass_peer import grass_available

    only = set(args.only or TARGETS)
    grass = (not args.no_grass) and grass_available() is not None
    rows: list[Row] = []
    facts: dict[str, Any] = {"grass": grass_available(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="reach-study-") as tmp:
        work = Path(tmp)
        if only & {"surface", "grid", "network", "study"}:
            t0 = time.perf_counter()
            scn, path = _load_demo(args.size, args.demo_dir, work)
            facts["generate_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            region = load_region(scn)
            facts["load_region_s"] = time.perf_counter() - t0
            warm = _service_seeds(region, args.service)
            combined_search(service_graph(region, "walk"), warm[0][:1])  # numba warm-up
            if only & {"surface", "grid"}:
                r, f = bench_surface(region, path, service=args.service, repeat=args.repeat,
                                     grass=grass, workdir=work)  # fmt: skip
                rows += r
                facts["surface"] = f
            if "network" in only:
                r, f = bench_network_search(region, service=args.service, repeat=args.repeat)
                rows += r
                facts["network"] = f
            if "study" in only:
                study_path = path.with_name("study5.toml")
                study_path.write_text(
                    study_toml(region, path.read_text(encoding="utf-8"), folder=path.parent),
                    encoding="utf-8",
                )
                region5 = load_region(load_scenario(study_path))
                del region
                r, f = bench_study(region5, repeat=args.repeat)
                rows += r
                facts["study"] = f
        if "comoros" in only:
            if (data_dir() / "comoros").is_dir():
                r, f = bench_comoros(repeat=args.repeat, workdir=work)
                rows += r
                facts["comoros"] = f
            else:
                print(f"comoros rows left out: no {data_dir() / 'comoros'} (set REACH_DATA)")
    set_ratios(rows)
    print(format_rows(rows, markdown=args.markdown))
    print(f"\ngrass: {facts['grass'] or 'not installed'}; cores: {facts['cpus']}")
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [r.as_dict() for r in rows], "facts": facts}, indent=1,
                       default=str), encoding="utf-8")  # fmt: skip
    failures = _exactness_failures(facts)
    for line in failures:
        print("EXACTNESS FAILURE:", line)
    return 1 if failures else 0


def _exactness_failures(facts: dict[str, Any]) -> list[str]:
    out = []
    net = facts.get("network", {})
    for peer in ("scipy", "networkx"):
        cmp = net.get(peer)
        if cmp and (cmp["max_abs"] > 1e-6 or cmp["only_a"] or cmp["only_b"]):
            out.append(f"network search differs from {peer}: {cmp}")
    study = facts.get("study")
    if study and (study["study_max_abs_min"] > 0 or study["study_reached_by_one_only"]):
        out.append(f"incremental study differs from full recomputation: {study}")
    surface = facts.get("surface", {})
    for key in ("skimage_all cells passable", "grass_all cells passable"):
        cmp = surface.get(key)
        if cmp and cmp["max_abs"] > 1e-3 * max(1.0, cmp.get("median_abs", 0.0)) + 1e-3:
            out.append(f"{key}: the models coincide but the times differ: {cmp}")
    return out


if __name__ == "__main__":
    sys.exit(main())
