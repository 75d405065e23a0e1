"""Road and ferry lines → a routable network for one travel mode, as CSR arrays.

Every way is cut into segments between consecutive points; long road segments are cut further
so that a node falls in (nearly) every cell the road crosses, which is where the grid and the
network join. Ferries are single edges from terminal to terminal costing the boarding wait plus
the crossing. One-way roads give one directed edge; parallel edges keep the fastest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer

from reach.errors import InputError
from reach.ingest.roads import RoadLines
from reach.model.grid import EARTH_RADIUS_M, AnalysisGrid
from reach.model.joins import RoadFeet, road_feet
from reach.model.speeds import ModeProfile, way_fixed_time_min, way_oneway, way_speeds_kph

__all__ = [
    "Network",
    "build_network",
    "empty_network",
    "grid_coordinates",
    "road_speeds_kph",
    "segment_lengths_m",
]


@dataclass(frozen=True, eq=False)
class Network:
    """A directed network in the grid's CRS.

    Attributes
    ----------
    x, y
        ``float64`` (n_nodes,): node coordinates in the grid CRS.
    src, dst
        ``int64`` (n_edges,): edge ends, sorted by ``(dst, src)``.
    time_min
        ``float64`` (n_edges,): travel time of each edge in minutes.
    length_m
        ``float64`` (n_edges,): edge length in metres.
    is_ferry
        ``bool`` (n_edges,): ferry edges.
    way
        ``int64`` (n_edges,): the way (line) of the road lines each edge runs along — a road
        piece, a spur of a foot, or a ferry crossing — for its class, name and speed.
    wait_min
        ``float64`` (n_edges,): the boarding wait included in ``time_min`` (0 but on ferries).
    rev_indptr
        ``int64`` (n_nodes + 1,): CSR offsets of the edges into each node (by ``dst``).
    mode
        The travel mode the times are for.
    feet
        Where cells join the roads (:mod:`reach.model.joins`): foot ``k`` is node
        ``first_foot + k``, the last nodes of the network, joined to its piece's ends by spur
        edges. Empty when the network was built without them.
    """

    x: np.ndarray
    y: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    time_min: np.ndarray
    length_m: np.ndarray
    is_ferry: np.ndarray
    way: np.ndarray
    wait_min: np.ndarray
    rev_indptr: np.ndarray
    mode: str
    feet: RoadFeet = field(default_factory=RoadFeet.empty)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    @property
    def first_foot(self) -> int:
        """Node number of the first foot (the road nodes come before it)."""
        return self.n_nodes - self.feet.n

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.src)


def segment_lengths_m(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, *, geographic: bool
) -> np.ndarray:
    """Length of straight segments in metres (haversine for lon/lat, Euclidean otherwise).

    Parameters
    ----------
    x0, y0
        Coordinates of the segments' start points: longitude and latitude in degrees when
        ``geographic``, projected coordinates otherwise.
    x1, y1
        Coordinates of their end points, alike.
    geographic
        True for lon/lat degrees: great-circle (haversine) lengths on a sphere of radius
        :data:`reach.model.grid.EARTH_RADIUS_M`. False for projected coordinates: the plain
        Euclidean length, in the coordinates' own units (no unit conversion is made, so these
        are metres only for a CRS in metres).

    Returns
    -------
    numpy.ndarray
        ``float64``, one length per segment.
    """
    if not geographic:
        return np.asarray(np.hypot(x1 - x0, y1 - y0), dtype=np.float64)
    rad = np.pi / 180.0
    lat0 = y0 * rad
    lat1 = y1 * rad
    a = (
        np.sin((lat1 - lat0) / 2) ** 2
        + np.cos(lat0) * np.cos(lat1) * np.sin((x1 - x0) * rad / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))), np.float64)


def empty_network(mode: str) -> Network:
    """A network with no nodes and no edges: a walking-only region's, in any mode.

    Parameters
    ----------
    mode
        The travel mode it is for.

    Returns
    -------
    Network
        Zero nodes, zero edges; ``rev_indptr`` is ``[0]``.
    """
    none_f, none_i = np.empty(0, np.float64), np.empty(0, np.int64)
    return Network(
        x=none_f, y=none_f.copy(), src=none_i, dst=none_i.copy(), time_min=none_f.copy(),
        length_m=none_f.copy(), is_ferry=np.empty(0, bool), way=none_i.copy(),
        wait_min=none_f.copy(), rev_indptr=np.zeros(1, np.int64), mode=mode,
    )  # fmt: skip


def grid_coordinates(lines: RoadLines, grid: AnalysisGrid) -> tuple[np.ndarray, np.ndarray]:
    """The lines' point coordinates in the grid's CRS.

    Parameters
    ----------
    lines
        Road and ferry lines in any CRS.
    grid
        The analysis grid.

    Returns
    -------
    tuple of numpy.ndarray
        ``float64`` x and y of every point, in the grid's CRS.
    """
    src = CRS.from_user_input(lines.crs)
    dst = CRS.from_user_input(grid.crs.to_wkt())
    if src == dst:
        return lines.x.astype(np.float64), lines.y.astype(np.float64)
    tr = Transformer.from_crs(src, dst, always_xy=True)
    x, y = tr.transform(lines.x, lines.y)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def road_speeds_kph(lines: RoadLines, profile: ModeProfile, *, ferries: bool = False) -> np.ndarray:
    """Each way's speed in one mode, as the network rides it (NaN: not ridden).

    Parameters
    ----------
    lines
        Road and ferry lines (an alternative's ``speed_factor`` and ``closed`` applied).
    profile
        The travel mode.
    ferries
        Keep the ferries' tag speeds (before a line's own ``ferry_kph``); by default they are
        NaN, roads only.

    Returns
    -------
    numpy.ndarray
        ``float64`` km/h per way.
    """
    speed_kph = way_speeds_kph(lines.tags, profile)
    if lines.speed_factor is not None:
        speed_kph = speed_kph * lines.speed_factor
    if lines.closed is not None:
        speed_kph = np.where(lines.closed, np.nan, speed_kph)
    return speed_kph if ferries else np.where(lines.is_ferry(), np.nan, speed_kph)


def build_network(
    lines: RoadLines,
    grid: AnalysisGrid,
    *,
    profile: ModeProfile,
    ferry_wait_min: float,
    max_node_spacing_m: float | None = None,
    road_joins: bool = True,
) -> Network:
    """Build the routable network of one mode.

    Parameters
    ----------
    lines
        Roads and ferries (any CRS; brought to the grid's).
    grid
        The analysis grid (CRS, and the node spacing default).
    profile
        The travel mode's speeds and rules.
    ferry_wait_min
        Boarding wait added to every ferry crossing (half the headway), unless the lines carry
        a per-ferry headway.
    max_node_spacing_m
        Road segments longer than this are cut; default half the smallest cell side.
    road_joins
        Add the feet of the roads (:func:`reach.model.joins.road_feet`): every cell then joins
        each road near it where the road is nearest, not only at nodes inside the cell. False
        builds the roads alone.

    Returns
    -------
    Network
        Directed edges with times, and the reversed CSR offsets; no nodes for lines read from
        no file (a walking-only region, :meth:`RoadLines.empty`).

    Raises
    ------
    InputError
        When a road file gave no lines at all.
    """
    if lines.n_ways == 0 and lines.source is None:
        return empty_network(profile.name)
    if lines.n_ways == 0:
        raise InputError(
            "the road network is empty",
            path=lines.source,
            fix="give a file with highway ways or road lines inside the region",
        )
    spacing = max_node_spacing_m or grid.min_cell_size_m / 2.0
    x, y = grid_coordinates(lines, grid)
    node_key, point_node = np.unique(lines.node_id, return_inverse=True)
    n_nodes = len(node_key)
    node_x = np.zeros(n_nodes)
    node_y = np.zeros(n_nodes)
    node_x[point_node] = x
    node_y[point_node] = y

    speed_kph = road_speeds_kph(lines, profile, ferries=True)
    oneway = way_oneway(lines.tags, profile)
    fixed_min = way_fixed_time_min(lines.tags)
    ferry = lines.is_ferry()
    n_ways = lines.n_ways
    closed = np.zeros(n_ways, bool) if lines.closed is None else np.asarray(lines.closed, bool)
    if lines.ferry_kph is not None:
        override = np.isfinite(lines.ferry_kph) & ferry & ~closed
        speed_kph = np.where(override, lines.ferry_kph, speed_kph)
        fixed_min = np.where(override, np.nan, fixed_min)
    fixed_min = np.where(closed, np.nan, fixed_min)
    way_wait_min = np.full(n_ways, float(ferry_wait_min))
    if lines.headway_min is not None:
        way_wait_min = np.where(
            np.isfinite(lines.headway_min), lines.headway_min / 2.0, way_wait_min
        )
    counts = np.diff(lines.offsets)
    way_of_point = np.repeat(np.arange(lines.n_ways), counts)
    # segments between consecutive points of the same way
    seg_start = (
        np.flatnonzero(way_of_point[1:] == way_of_point[:-1])
        if len(x) > 1
        else np.empty(0, np.int64)
    )
    seg_way = way_of_point[seg_start]
    seg_len = segment_lengths_m(
        x[seg_start], y[seg_start], x[seg_start + 1], y[seg_start + 1], geographic=grid.geographic
    )
    usable = np.isfinite(speed_kph) & (speed_kph > 0)

    # --- ferries: one edge terminal to terminal --------------------------------------------
    ferry_ways = np.flatnonzero(ferry & (counts >= 2))
    f_len = np.bincount(seg_way, weights=seg_len, minlength=lines.n_ways)[ferry_ways]
    f_src = point_node[lines.offsets[ferry_ways]]
    f_dst = point_node[lines.offsets[ferry_ways + 1] - 1]
    f_speed = np.where(usable[ferry_ways], speed_kph[ferry_ways], np.nan)
    crossing = np.where(
        np.isfinite(fixed_min[ferry_ways]), fixed_min[ferry_ways], f_len / 1000.0 / f_speed * 60.0
    )
    f_ok = np.isfinite(crossing) & (f_src != f_dst)
    f_wait = way_wait_min[ferry_ways][f_ok]
    f_time = crossing[f_ok] + f_wait
    ferry_src = np.concatenate([f_src[f_ok], f_dst[f_ok]])
    ferry_dst = np.concatenate([f_dst[f_ok], f_src[f_ok]])
    ferry_time = np.concatenate([f_time, f_time])
    ferry_len = np.concatenate([f_len[f_ok], f_len[f_ok]])
    ferry_way = np.concatenate([ferry_ways[f_ok], ferry_ways[f_ok]])
    ferry_wait = np.concatenate([f_wait, f_wait])

    # --- roads: cut long segments, then direct them -----------------------------------------
    road = ~ferry[seg_way] & usable[seg_way] & (seg_len > 0)
    s_idx = seg_start[road]
    s_way = seg_way[road]
    s_len = seg_len[road]
    pieces = np.maximum(1, np.ceil(s_len / spacing).astype(np.int64))
    n_new = int((pieces - 1).sum())
    total_nodes = n_nodes + n_new
    all_x = np.concatenate([node_x, np.zeros(n_new)])
    all_y = np.concatenate([node_y, np.zeros(n_new)])
    piece_seg = np.repeat(np.arange(len(s_idx)), pieces)
    piece_k = np.arange(len(piece_seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    # interior points k = 1 .. pieces-1 of each segment get new node ids
    interior = piece_k > 0
    new_ids = n_nodes + np.arange(n_new)
    frac = piece_k[interior] / pieces[piece_seg[interior]]
    si = s_idx[piece_seg[interior]]
    all_x[new_ids] = x[si] + frac * (x[si + 1] - x[si])
    all_y[new_ids] = y[si] + frac * (y[si + 1] - y[si])
    piece_node = np.empty(len(piece_seg), dtype=np.int64)
    piece_node[~interior] = point_node[s_idx]
    piece_node[interior] = new_ids
    # piece p runs from piece_node[p] to the next piece's node, or the segment's end point
    last = np.r_[piece_seg[1:] != piece_seg[:-1], True][: len(piece_seg)]
    piece_end = np.empty_like(piece_node)
    piece_end[~last] = piece_node[1:][~last[:-1]]
    piece_end[last] = point_node[s_idx + 1]
    p_len = s_len[piece_seg] / pieces[piece_seg]
    p_way = s_way[piece_seg]
    p_time = p_len / 1000.0 / speed_kph[p_way] * 60.0
    p_oneway = oneway[p_way]
    fwd = p_oneway >= 0
    bwd = p_oneway <= 0
    feet = RoadFeet.empty()
    if road_joins:
        feet = road_feet(
            all_x[piece_node], all_y[piece_node], all_x[piece_end], all_y[piece_end], p_way, grid
        )
    foot = total_nodes + np.arange(feet.n, dtype=np.int64)
    f, fp = feet.frac, feet.piece
    f_fwd, f_bwd = fwd[fp], bwd[fp]
    # spurs: along the piece from its start to the foot and on to its end, each way it runs
    spur_src = np.concatenate(
        [piece_node[fp][f_fwd], foot[f_fwd], piece_end[fp][f_bwd], foot[f_bwd]]
    )
    spur_dst = np.concatenate(
        [foot[f_fwd], piece_end[fp][f_fwd], foot[f_bwd], piece_node[fp][f_bwd]]
    )
    share = np.concatenate([f[f_fwd], 1.0 - f[f_fwd], 1.0 - f[f_bwd], f[f_bwd]])
    spur_piece = np.concatenate([fp[f_fwd], fp[f_fwd], fp[f_bwd], fp[f_bwd]])
    total_nodes += feet.n
    all_x = np.concatenate([all_x, feet.x])
    all_y = np.concatenate([all_y, feet.y])
    src = np.concatenate([piece_node[fwd], piece_end[bwd], spur_src, ferry_src])
    dst = np.concatenate([piece_end[fwd], piece_node[bwd], spur_dst, ferry_dst])
    time = np.concatenate([p_time[fwd], p_time[bwd], share * p_time[spur_piece], ferry_time])
    length = np.concatenate([p_len[fwd], p_len[bwd], share * p_len[spur_piece], ferry_len])
    is_ferry = np.concatenate(
        [np.zeros(fwd.sum() + bwd.sum() + len(spur_src), bool), np.ones(len(ferry_src), bool)]
    )
    way = np.concatenate([p_way[fwd], p_way[bwd], p_way[spur_piece], ferry_way]).astype(np.int64)
    wait = np.concatenate([np.zeros(len(src) - len(ferry_src)), ferry_wait])
    keep = src != dst
    edges = tuple(a[keep] for a in (src, dst, time, length, is_ferry, way, wait))

    # keep the fastest of parallel edges; sort by (dst, src) for the reversed CSR
    src, dst, time = edges[:3]
    order = np.lexsort((time, src, dst))
    edges = tuple(a[order] for a in edges)
    src, dst = edges[:2]
    first_of_pair = np.ones(len(src), dtype=bool)  # empty when every road is closed
    first_of_pair[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst, time, length, is_ferry, way, wait = (a[first_of_pair] for a in edges)
    rev_indptr = np.zeros(total_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=total_nodes), out=rev_indptr[1:])
    return Network(
        x=all_x,
        y=all_y,
        src=src.astype(np.int64),
        dst=dst.astype(np.int64),
        time_min=time.astype(np.float64),
        length_m=length.astype(np.float64),
        is_ferry=is_ferry,
        way=way,
        wait_min=wait.astype(np.float64),
        rev_indptr=rev_indptr,
        mode=profile.name,
        feet=feet,
    )
