"""Planning an island group: its islands, towns, ports and villages on the coarse grid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from reach.demo.islands import Template
from reach.demo.layout import BLOCK, BoolArray, FloatArray, GroupBox, IntArray, Layout
from reach.demo.names import Namer
from reach.demo.streams import STREAM_VILLAGES, random_stream
from reach.demo.terrain import Terrain

__all__ = ["GroupPlan", "Place", "farthest", "inter_group_ports", "plan_group"]

# Land per village, in km², and the least distance between two villages, in blocks.
_KM2_PER_VILLAGE = 8.0
_VILLAGE_SPACING_BLOCKS = 5
# The share of the people of each kind of town, relative to an average village.
_TOWN_WEIGHT = {"capital": 22.0, "port": 7.0, "town": 6.0, "island_town": 5.0}


@dataclass
class Place:
    """A town or village; ``node`` is its coarse block inside the group (row-major index)."""

    name: str
    kind: str  # capital | port | town | island_town | village
    node: int
    island: int
    elevation_m: float
    coastal: bool
    weight: float
    population: float = 0.0

    @property
    def is_town(self) -> bool:
        """Whether the place is a town of any kind (not a village)."""
        return self.kind != "village"


@dataclass
class GroupPlan:
    """Everything decided about one island group before rasters and roads are written."""

    box: GroupBox
    land: BoolArray  # coarse blocks fully on land
    elevation_m: FloatArray
    coastal: BoolArray
    labels: IntArray
    main_label: int
    second_label: int
    main_name: str
    second_name: str
    places: list[Place] = field(default_factory=list)
    land_km2: float = 0.0
    main_km2: float = 0.0
    ports: list[int] = field(default_factory=list)  # extra (inter-group) port nodes

    def rc(self, node: int) -> tuple[int, int]:
        """Row and column of a block inside the group.

        Parameters
        ----------
        node
            The block's row-major index inside the group.

        Returns
        -------
        tuple of int
            Its ``(row, col)`` in coarse blocks, from the group's north-west block.
        """
        nx = self.land.shape[1]
        return node // nx, node % nx

    def global_node(self, node: int, ccols: int) -> int:
        """The row-major index on the whole coarse grid (``ccols`` wide) of a group's block.

        Parameters
        ----------
        node
            The block's row-major index inside the group.
        ccols
            Columns of the whole coarse grid (:attr:`reach.demo.layout.Layout.coarse_cols`).

        Returns
        -------
        int
            The block's row-major index on the whole coarse grid.
        """
        r, c = self.rc(node)
        return (self.box.cr0 + r) * ccols + self.box.cc0 + c

    def place_px(self, place: Place) -> tuple[float, float]:
        """Row and column (cell-edge coordinates) of a place's block centre.

        Parameters
        ----------
        place
            A place of this group.

        Returns
        -------
        tuple of float
            ``(row, col)`` of the centre of its block on the whole grid, in cells.
        """
        r, c = self.rc(place.node)
        return (self.box.cr0 + r) * BLOCK + BLOCK / 2, (self.box.cc0 + c) * BLOCK + BLOCK / 2

    @property
    def capital(self) -> Place:
        """The group's capital (its first place)."""
        return self.places[0]


def _block_area_km2(layout: Layout, box: GroupBox) -> FloatArray:
    """Area of one block per coarse row of the group."""
    rows = (np.arange(box.cr0, box.cr1) * BLOCK + BLOCK / 2).astype(np.float64)
    return layout.cell_area_km2(rows) * BLOCK * BLOCK


def _nearest_component(labels: IntArray, land: BoolArray, row: float, col: float) -> int:
    """Label of the land component nearest a point given in coarse-block coordinates."""
    rr, cc = np.nonzero(land)
    if rr.size == 0:
        return 0
    k = int(np.argmin((rr + 0.5 - row) ** 2 + (cc + 0.5 - col) ** 2))
    return int(labels[rr[k], cc[k]])


def farthest(candidates: IntArray, nx: int, anchors: Sequence[int]) -> int:
    """The candidate node farthest from its nearest anchor.

    Parameters
    ----------
    candidates
        Row-major block indices on a grid ``nx`` blocks wide.
    nx
        The grid's width in blocks.
    anchors
        Blocks already chosen.

    Returns
    -------
    int
        The first of the candidates whose nearest anchor is farthest away.
    """
    cr, cc = candidates // nx, candidates % nx
    best = np.full(candidates.shape, np.inf)
    for a in anchors:
        ar, ac = a // nx, a % nx
        best = np.minimum(best, (cr - ar) ** 2 + (cc - ac) ** 2)
    return int(candidates[int(np.argmax(best))])


def plan_group(
    layout: Layout,
    terrain: Terrain,
    template: Template,
    box: GroupBox,
    namer: Namer,
    *,
    seed: int,
) -> GroupPlan:
    """Plan one island group: find its islands and choose its towns, ports and villages.

    Parameters
    ----------
    layout
        The region's grid.
    terrain
        The region's terrain (pass 1).
    template
        The group's shape, to tell its main and second island.
    box
        The group's footprint.
    namer
        The region's names, shared by all groups.
    seed
        The region's seed.

    Returns
    -------
    GroupPlan
        The group's land, islands and places (without their populations yet).
    """
    sl = (slice(box.cr0, box.cr1), slice(box.cc0, box.cc1))
    land = terrain.n_land[sl] == BLOCK * BLOCK
    any_cells = terrain.n_any[sl].astype(np.float64)
    elevation_m = terrain.elevation_m[sl].astype(np.float64)
    ny, nx = land.shape
    labels_raw, _ = ndimage.label(land)
    labels = labels_raw.astype(np.int64)
    seaish = any_cells < (BLOCK * BLOCK) / 2
    coastal = land & (ndimage.distance_transform_edt(~seaish) <= 2.5)
    main_label = _nearest_component(
        labels, land, template.main_px[0] / BLOCK - box.cr0, template.main_px[1] / BLOCK - box.cc0
    )
    second_label = _nearest_component(
        labels,
        land & (labels != main_label),
        template.second_px[0] / BLOCK - box.cr0,
        template.second_px[1] / BLOCK - box.cc0,
    )
    if main_label == 0:
        raise RuntimeError(f"island group {box.index} has no land")  # pragma: no cover
    area_rows = _block_area_km2(layout, box)
    land_km2 = float(np.sum((terrain.n_land[sl].astype(np.float64) / 16.0) * area_rows[:, None]))
    main_km2 = float(np.sum((labels == main_label) * area_rows[:, None]))
    main_name = "Contoh" if box.index == 0 else namer.new(prefix_ok=False)
    second_name = namer.new(prefix_ok=False)
    plan = GroupPlan(
        box=box,
        land=land,
        elevation_m=elevation_m,
        coastal=coastal,
        labels=labels,
        main_label=main_label,
        second_label=second_label,
        main_name=main_name,
        second_name=second_name,
        land_km2=land_km2,
        main_km2=main_km2,
    )
    flat_land = land.ravel()
    flat_labels = labels.ravel()
    flat_elev = elevation_m.ravel()
    flat_coast = coastal.ravel()
    main_nodes = np.flatnonzero(flat_labels == main_label)
    # Town sites: low, on the coast, with mostly land within ~1.5 km (not on a spit or a tip).
    roomy = ndimage.uniform_filter(land.astype(np.float64), size=9, mode="constant") >= 0.55
    lowland_coast = np.flatnonzero(
        flat_coast & (flat_elev < 150.0) & (flat_labels == main_label) & roomy.ravel()
    )
    if lowland_coast.size == 0:
        lowland_coast = np.flatnonzero(flat_coast & (flat_labels == main_label))
    if lowland_coast.size == 0:
        lowland_coast = main_nodes

    def make(kind: str, node: int) -> Place:
        return Place(
            name=namer.new(),
            kind=kind,
            node=int(node),
            island=int(flat_labels[node]),
            elevation_m=float(flat_elev[node]),
            coastal=bool(flat_coast[node]),
            weight=_TOWN_WEIGHT.get(kind, 1.0),
        )

    # Ports: the closest pair of blocks between the main and the second island.
    towns: list[Place] = []
    port_main: int | None = None
    port_second: int | None = None
    if second_label:
        second_nodes = np.flatnonzero(flat_labels == second_label)
        tree = cKDTree(np.column_stack([main_nodes // nx, main_nodes % nx]))
        dist, near = tree.query(np.column_stack([second_nodes // nx, second_nodes % nx]))
        k = int(np.argmin(dist))
        port_main, port_second = int(main_nodes[int(near[k])]), int(second_nodes[k])
    anchor = port_main if port_main is not None else int(main_nodes[main_nodes.size // 2])
    capital = make("capital", farthest(lowland_coast, nx, [anchor]))
    if box.index == 0:
        namer.take("Kota Contoh")
    towns.append(capital)
    if port_main is not None:
        towns.append(make("port", port_main))
    n_main_towns = int(np.clip(round(main_km2 / 280.0), 2, 5))
    while len(towns) < n_main_towns:
        towns.append(make("town", farthest(lowland_coast, nx, [t.node for t in towns])))
    if port_second is not None:
        towns.append(make("island_town", port_second))
    plan.places.extend(towns)

    # Villages: weighted random blocks at least _VILLAGE_SPACING_BLOCKS apart.
    rng = random_stream(seed, STREAM_VILLAGES, box.index)
    cand = np.flatnonzero(flat_land)
    weight = np.exp(-np.maximum(flat_elev[cand], 0.0) / 350.0) * (1.0 + 1.0 * flat_coast[cand])
    key = np.log(rng.random(cand.size)) / weight
    order = cand[np.argsort(-key, kind="stable")]
    blocked = np.zeros((ny, nx), dtype=bool)
    rad = _VILLAGE_SPACING_BLOCKS
    yy, xx = np.mgrid[-rad : rad + 1, -rad : rad + 1]
    disk = yy**2 + xx**2 <= rad * rad

    def block(node: int) -> None:
        r, c = node // nx, node % nx
        r_a, r_b = max(0, r - rad), min(ny, r + rad + 1)
        c_a, c_b = max(0, c - rad), min(nx, c + rad + 1)
        blocked[r_a:r_b, c_a:c_b] |= disk[
            r_a - r + rad : r_b - r + rad, c_a - c + rad : c_b - c + rad
        ]

    for town in towns:
        block(town.node)
    n_villages = max(1, round(land_km2 / _KM2_PER_VILLAGE) - len(towns))
    flat_blocked = blocked.ravel()  # a view: block() updates it
    villages: list[int] = []
    for node in order.tolist():
        if flat_blocked[node]:
            continue
        villages.append(node)
        block(node)
        if len(villages) >= n_villages:
            break
    w = rng.lognormal(0.0, 0.6, len(villages))
    for node, wv in zip(villages, w.tolist(), strict=True):
        place = make("village", node)
        place.weight = wv * math.exp(-max(place.elevation_m, 0.0) / 1200.0)
        plan.places.append(place)
    return plan


def inter_group_ports(layout: Layout, plans: Sequence[GroupPlan]) -> list[tuple[int, int]]:
    """Ports joining neighbouring groups' main islands: along each row, and down column 0.

    Each port is also added to its plan's ``ports``.

    Parameters
    ----------
    layout
        The region's grid.
    plans
        The island groups, in the order of ``layout.groups``.

    Returns
    -------
    list of tuple of int
        Pairs of global coarse node indices, one pair per ferry between groups.
    """
    n_gx = len({g.c0 for g in layout.groups})
    n_gy = len(plans) // n_gx
    pairs: list[tuple[int, int]] = []
    ccols = layout.coarse_cols
    links = [(i * n_gx + j, i * n_gx + j + 1) for i in range(n_gy) for j in range(n_gx - 1)]
    links += [(i * n_gx, (i + 1) * n_gx) for i in range(n_gy - 1)]
    for ga, gb in links:
        pa, pb = plans[ga], plans[gb]
        na = np.flatnonzero((pa.labels == pa.main_label).ravel() & pa.coastal.ravel())
        nb = np.flatnonzero((pb.labels == pb.main_label).ravel() & pb.coastal.ravel())
        if na.size == 0 or nb.size == 0:
            continue
        xa = np.array([pa.global_node(int(n), ccols) for n in na])
        xb = np.array([pb.global_node(int(n), ccols) for n in nb])
        tree = cKDTree(np.column_stack([xa // ccols, xa % ccols]))
        dist, near = tree.query(np.column_stack([xb // ccols, xb % ccols]))
        k = int(np.argmin(dist))
        node_a, node_b = int(na[int(near[k])]), int(nb[k])
        pa.ports.append(node_a)
        pb.ports.append(node_b)
        pairs.append((pa.global_node(node_a, ccols), pb.global_node(node_b, ccols)))
    return pairs
