"""The road network of an island group: trunk roads to footpaths, and town streets.

Roads are planned as chains of coarse blocks, routed by least cost (:mod:`reach.demo.routing`):
the trunk road from the capital to the ports, primary roads to the other towns, then the
villages by size, bigger ones getting better roads; a one-way pair and a street grid in towns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from reach.demo.layout import Layout
from reach.demo.places import GroupPlan
from reach.demo.routing import edges_of, grid_graph, route
from reach.demo.streams import STREAM_ROADS, random_stream

__all__ = ["Way", "plan_roads"]

_STREET_NAMES = (
    "Jalan Merdeka", "Jalan Pahlawan", "Jalan Diponegoro", "Jalan Gajah Mada", "Jalan Kartini",
    "Jalan Hasanuddin", "Jalan Imam Bonjol", "Jalan Pattimura", "Jalan El Tari",
    "Jalan Cendana", "Jalan Kenanga", "Jalan Melati", "Jalan Flamboyan", "Jalan Pasar",
    "Jalan Masjid", "Jalan Gereja", "Jalan Sekolah", "Jalan Nelayan",
)  # fmt: skip
_COUPLET_NAMES = ("Jalan Sudirman", "Jalan Ahmad Yani")
_VILLAGE_CLASSES = ("secondary", "tertiary", "unclassified", "track", "path")
_VILLAGE_CLASS_SHARE = (0.15, 0.40, 0.65, 0.85, 1.0)


@dataclass
class Way:
    """A road as a chain of coarse blocks (global row-major indices)."""

    nodes: list[int]
    highway: str
    name: str | None = None
    oneway: bool = False
    in_capital: bool = False


def plan_roads(layout: Layout, plan: GroupPlan, *, seed: int) -> list[Way]:
    """The road network of one island group, from trunk roads to footpaths and town streets.

    Parameters
    ----------
    layout
        The region's grid.
    plan
        The island group, with its places and (inter-group) ports.
    seed
        The region's seed.

    Returns
    -------
    list of Way
        The roads, as chains of global coarse blocks.
    """
    rng = random_stream(seed, STREAM_ROADS, plan.box.index)
    graph = grid_graph(layout, plan)
    ny, nx = plan.land.shape
    ccols = layout.coarse_cols
    places = plan.places
    by_node = {p.node: p for p in places}
    towns = [p for p in places if p.is_town]
    network: set[int] = {p.node for p in towns if p.kind in ("capital", "island_town")}
    local_ways: list[tuple[list[int], str, str | None, bool]] = []
    used: set[tuple[int, int]] = set()

    def add(path: list[int], highway: str, name: str | None, oneway: bool = False) -> None:
        local_ways.append((path, highway, name, oneway))
        used.update(edges_of(path))

    # Trunk: the capital to the ferry port and to ports towards other groups.
    trunk = [p.node for p in towns if p.kind == "port"] + plan.ports
    for path in route(graph, network, trunk):
        add(path, "trunk", f"Jalan Trans {plan.main_name}")
    # Primary: the other towns; on other islands, their town to the biggest village.
    others = sorted((p for p in towns if p.kind == "town"), key=lambda p: -p.population)
    for path in route(graph, network, [p.node for p in others]):
        add(path, "primary", f"Jalan Raya {plan.main_name}")
    for town in (p for p in towns if p.kind == "island_town"):
        biggest = max(
            (p for p in places if p.kind == "village" and p.island == town.island),
            key=lambda p: p.population,
            default=None,
        )
        if biggest is not None:
            for path in route(graph, network, [biggest.node]):
                add(path, "primary", f"Jalan Raya {plan.second_name}")
    # Islands without a town get their biggest village as a seed.
    villages = sorted((p for p in places if p.kind == "village"), key=lambda p: -p.population)
    seeded = {int(plan.labels.flat[n]) for n in network}
    for village in villages:
        if village.island not in seeded:
            network.add(village.node)
            seeded.add(village.island)
    # Villages by size: bigger ones get better roads; high villages get tracks and paths.
    tiers: dict[str, list[int]] = {c: [] for c in _VILLAGE_CLASSES}
    waiting = [v for v in villages if v.node not in network]
    n = len(waiting)
    for rank, village in enumerate(waiting):
        share = (rank + 0.5) / max(n, 1)
        level = next(i for i, s in enumerate(_VILLAGE_CLASS_SHARE) if share <= s)
        if village.elevation_m > 1000.0:
            level = max(level, 4)
        elif village.elevation_m > 700.0:
            level = max(level, 3)
        tiers[_VILLAGE_CLASSES[level]].append(village.node)
    # Roads of one class go around villages waiting for a lesser road, so those keep theirs.
    edges = graph.tocoo()
    for level, highway in enumerate(_VILLAGE_CLASSES):
        later = [n for c in _VILLAGE_CLASSES[level + 1 :] for n in tiers[c] if n not in network]
        passable = np.ones(graph.shape[0], dtype=bool)
        passable[later] = False
        ok = passable[edges.row] & passable[edges.col]
        tier_graph = sparse.csr_matrix(
            (edges.data[ok], (edges.row[ok], edges.col[ok])), shape=graph.shape
        )
        for path in route(tier_graph, network, tiers[highway]):
            name: str | None = None
            target = by_node[path[-1]].name
            if highway == "secondary" or (highway == "tertiary" and rng.random() < 0.5):
                name = f"Jalan {target}"
            highway_used = "footway" if highway == "path" and rng.random() < 0.25 else highway
            add(path, highway_used, name)

    # Town streets: a one-way pair in the capital, then a grid of residential streets.
    for town in towns:
        radius = {"capital": 4, "port": 3, "town": 3}.get(town.kind, 2)
        tr, tc = town.node // nx, town.node % nx
        r_a, r_b = max(0, tr - radius), min(ny, tr + radius + 1)
        c_a, c_b = max(0, tc - radius), min(nx, tc + radius + 1)
        window = plan.land[r_a:r_b, c_a:c_b]
        lab, _ = ndimage.label(window)
        keep = lab == lab[tr - r_a, tc - c_a]
        keep_nodes = {(r_a + r) * nx + (c_a + c) for r, c in zip(*np.nonzero(keep), strict=True)}
        if town.kind == "capital":
            couplet = _find_couplet(tr, tc, nx, keep_nodes, used)
            if couplet is not None:
                for chain, name in zip(couplet, _COUPLET_NAMES, strict=True):
                    add(chain, "tertiary", name, oneway=True)
        for horizontal in (True, False):
            outer = range(r_a, r_b) if horizontal else range(c_a, c_b)
            inner = range(c_a, c_b) if horizontal else range(r_a, r_b)
            for o in outer:
                run: list[int] = []
                for i in inner:
                    node = o * nx + i if horizontal else i * nx + o
                    prev = run[-1] if run else None
                    edge_ok = (
                        prev is not None
                        and node in keep_nodes
                        and (min(prev, node), max(prev, node)) not in used
                    )
                    if edge_ok:
                        run.append(node)
                        continue
                    if len(run) > 1:
                        add(run, "residential", _street_name(rng))
                    run = [node] if node in keep_nodes else []
                if len(run) > 1:
                    add(run, "residential", _street_name(rng))

    # Every port and town must be on a road; stub out to a neighbour otherwise.
    on_roads = {n for path, *_ in local_ways for n in path}
    for node in [p.node for p in towns] + plan.ports:
        if node in on_roads:
            continue
        r, c = node // nx, node % nx
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < ny and 0 <= cc < nx and plan.land[rr, cc]:
                add([rr * nx + cc, node], "residential", None)
                on_roads.update((node, rr * nx + cc))
                break

    capital_node = plan.capital.node
    cap_r, cap_c = capital_node // nx, capital_node % nx
    ways = []
    for path, highway, name, oneway in local_ways:
        near_capital = all(
            max(abs(n // nx - cap_r), abs(n % nx - cap_c)) <= 4 for n in (path[0], path[-1])
        )
        ways.append(
            Way(
                nodes=[plan.global_node(n, ccols) for n in path],
                highway=highway,
                name=name,
                oneway=oneway,
                in_capital=near_capital,
            )
        )
    return ways


def _street_name(rng: np.random.Generator) -> str | None:
    if rng.random() < 0.4:
        return None
    return _STREET_NAMES[int(rng.integers(0, len(_STREET_NAMES)))]


def _find_couplet(
    tr: int, tc: int, nx: int, keep: set[int], used: set[tuple[int, int]]
) -> tuple[list[int], list[int]] | None:
    """Two parallel 3-block streets near the capital's centre, for a one-way pair.

    The first runs east (or south), the second back west (or north); both ends are joined by
    the residential grid.
    """
    for horizontal in (True, False):
        for d_out in (-1, 1, -2, 2, 0, -3, 3, -4):
            for d_in in (-1, -2, 0, -3, 1, -4):
                chains: list[list[int]] = []
                for lane in (0, 1):
                    o = d_out + lane
                    if horizontal:
                        chain = [(tr + o) * nx + tc + d_in + k for k in range(4)]
                    else:
                        chain = [(tr + d_in + k) * nx + tc + o for k in range(4)]
                    chains.append(chain)
                nodes = chains[0] + chains[1]
                if not all(n in keep for n in nodes):
                    continue
                if any(e in used for ch in chains for e in edges_of(ch)):
                    continue
                if horizontal and any(abs(n % nx - tc - d_in) > 3 for n in nodes):
                    continue  # wrapped around a row end
                return chains[0], chains[1][::-1]
    return None
