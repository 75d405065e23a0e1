"""Road line layers noded: line ends near another line joined, crossings split.

A GIS line layer is used as digitised: a road that stops 3 m short of another, or two roads
that cross without a shared vertex, do not meet in the network. :func:`node_lines` repairs
both on a :class:`~reach.ingest.roads.RoadLines` and returns a new one with a
:class:`NodingReport` of what it did. Joining inserts a vertex shared by the lines (which
:func:`reach.model.network.build_network` makes a junction), so every way keeps its id, its
tags and its per-way arrays. OSM input is already noded by its node ids and is not passed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from reach.ingest.roads import RoadLines
from reach.model.grid import EARTH_RADIUS_M
from reach.model.network import segment_lengths_m

__all__ = [
    "NodingRepair",
    "NodingReport",
    "line_components",
    "node_lines",
    "road_way_components",
]

#: Metres per degree of latitude (and of longitude at the equator).
_M_PER_DEG = EARTH_RADIUS_M * np.pi / 180.0
#: A crossing or snap closer than this to a vertex uses the vertex.
_VERTEX_EPS_M = 1e-3
#: Points are keyed by coordinates rounded to 1e-9 degree or 1 mm, as the line reader does.
_GEOGRAPHIC_KEY_SCALE = 1e9
_PROJECTED_KEY_M = 1e-3
_NOT_TRUE = frozenset({"", "no", "false", "0", "n"})


@dataclass(frozen=True)
class NodingRepair:
    """One repair :func:`node_lines` made (or, for ``crossing_kept``, chose not to make).

    Attributes
    ----------
    kind
        ``"end"``: a line end joined to another line; ``"crossing"``: two lines split and
        joined where they cross; ``"crossing_kept"``: a crossing left apart because a
        ``bridge``, ``tunnel`` or ``layer`` attribute says the lines do not meet.
    way_id
        The way whose end moved (``end``), or the first of the two crossing ways.
    other_way_id
        The way it was joined to, or the second crossing way.
    x, y
        Where, in the lines' CRS.
    distance_m
        How far the end moved (0 for crossings).
    to_free_end
        The end was joined to the other line's free end, so two line ends were joined.
    """

    kind: str
    way_id: int
    other_way_id: int
    x: float
    y: float
    distance_m: float
    to_free_end: bool = False


@dataclass(frozen=True)
class NodingReport:
    """What noding a road line layer did.

    Attributes
    ----------
    tolerance_m
        Line ends within this distance of another line were joined (0: none).
    split_crossings
        Whether crossings without a shared vertex were split.
    ends_joined
        Free line ends now joined to another line: those moved, those lying exactly on a line,
        and the free ends others were joined to.
    crossings_split
        Crossings split and joined.
    crossings_kept
        Crossings left apart (bridge, tunnel or differing layer).
    components_before, components_after
        Connected parts of the line network before and after.
    max_end_distance_m
        The farthest an end moved (0 when none did).
    repairs
        Every repair, sorted by kind and position.
    """

    tolerance_m: float
    split_crossings: bool
    ends_joined: int
    crossings_split: int
    crossings_kept: int
    components_before: int
    components_after: int
    max_end_distance_m: float
    repairs: tuple[NodingRepair, ...] = ()

    def summary(self) -> dict[str, float | int | bool]:
        """The counts, for the run's manifest.

        Returns
        -------
        dict
            Every attribute but ``repairs``.
        """
        return {
            "tolerance_m": self.tolerance_m,
            "split_crossings": self.split_crossings,
            "ends_joined": self.ends_joined,
            "crossings_split": self.crossings_split,
            "crossings_kept": self.crossings_kept,
            "components_before": self.components_before,
            "components_after": self.components_after,
            "max_end_distance_m": self.max_end_distance_m,
        }


def road_way_components(lines: RoadLines) -> np.ndarray:
    """The connected part each way belongs to (ways joined by shared node ids; ferries too).

    Parameters
    ----------
    lines
        Road and ferry lines.

    Returns
    -------
    numpy.ndarray
        ``int64`` (n_ways,): a component number per way, 0 for the part with the most ways,
        then by size (ties by smallest way id).
    """
    if lines.n_ways == 0:
        return np.empty(0, dtype=np.int64)
    _, node = np.unique(lines.node_id, return_inverse=True)
    node = np.asarray(node).ravel()
    n = int(node.max()) + 1
    way_of_point = np.repeat(np.arange(lines.n_ways), np.diff(lines.offsets))
    seg = np.flatnonzero(way_of_point[1:] == way_of_point[:-1])
    graph = coo_matrix((np.ones(len(seg)), (node[seg], node[seg + 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    first = np.asarray(lines.offsets[:-1], dtype=np.int64)
    raw = label[node[first]]
    ids = np.asarray(lines.way_id, dtype=np.int64)
    parts = np.unique(raw)
    size = np.array([(raw == p).sum() for p in parts])
    low = np.array([ids[raw == p].min() for p in parts])
    order = np.lexsort((low, -size))
    rank = np.empty(parts.size, dtype=np.int64)
    rank[order] = np.arange(parts.size)
    return rank[np.searchsorted(parts, raw)]


def line_components(lines: RoadLines) -> int:
    """Number of connected parts of the lines (points joined along ways and by shared nodes).

    Parameters
    ----------
    lines
        Road and ferry lines.

    Returns
    -------
    int
        How many parts :func:`road_way_components` finds.
    """
    return int(np.unique(road_way_components(lines)).size)


def _truthy(values: pd.Series) -> np.ndarray:
    """``bridge`` / ``tunnel`` values that say yes (anything but empty, no, false, 0)."""
    return np.array(
        [v is not None and str(v).strip().lower() not in _NOT_TRUE for v in values], dtype=bool
    )


def _layers(tags: pd.DataFrame) -> np.ndarray:
    """Each way's ``layer`` as text, ``"0"`` where absent (OSM's default layer)."""
    if "layer" not in tags.columns:
        return np.full(len(tags), "0", dtype=object)
    return np.array(
        ["0" if v is None or str(v).strip() == "" else str(v).strip() for v in tags["layer"]],
        dtype=object,
    )


def _column(tags: pd.DataFrame, name: str) -> pd.Series:
    return tags[name] if name in tags.columns else pd.Series([None] * len(tags), dtype=object)


class _Frame:
    """The lines' coordinates with metres per coordinate unit, and point keys."""

    def __init__(self, lines: RoadLines) -> None:
        crs = CRS.from_user_input(lines.crs)
        self.geographic = bool(crs.is_geographic)
        if self.geographic:
            self.unit_m = 1.0
            self.key_scale = _GEOGRAPHIC_KEY_SCALE
        else:
            axes = crs.axis_info
            self.unit_m = float(axes[0].unit_conversion_factor) if axes else 1.0
            self.key_scale = self.unit_m / _PROJECTED_KEY_M

    def scale(self, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres per coordinate unit along x and y, at each latitude (geographic) or fixed."""
        lat = np.asarray(lat, dtype=np.float64)
        if self.geographic:
            return _M_PER_DEG * np.cos(np.radians(lat)), np.full(lat.shape, _M_PER_DEG)
        return np.full(lat.shape, self.unit_m), np.full(lat.shape, self.unit_m)

    def query_distance(self, tolerance_m: float, y: np.ndarray) -> float:
        """A distance in coordinate units that no point within ``tolerance_m`` exceeds."""
        if not self.geographic:
            return tolerance_m / self.unit_m
        cos = max(float(np.cos(np.radians(np.abs(y).max()))) if len(y) else 1.0, 1e-3)
        return tolerance_m / (_M_PER_DEG * cos)

    def key(self, x: float, y: float) -> tuple[int, int]:
        """The rounded key of a point."""
        return (round(x * self.key_scale), round(y * self.key_scale))


@dataclass
class _Insert:
    """A vertex to insert into segment ``seg`` at fraction ``t``, keyed by its point."""

    seg: int
    t: float
    key: tuple[int, int]


def node_lines(
    lines: RoadLines, *, tolerance_m: float = 5.0, split_crossings: bool = True
) -> tuple[RoadLines, NodingReport]:
    """Join line ends near another line, and split lines where they cross.

    Parameters
    ----------
    lines
        Road and ferry lines of a GIS line layer (never changed).
    tolerance_m
        A line end (one no other line shares) within this many metres of another line — its
        end, a vertex or the inside of a segment — is moved to the nearest point of it, which
        becomes a vertex both share; another line's free end is preferred to its inside. 0
        joins no end. Distances are in metres: on geographic coordinates with the metres per
        degree at the end's latitude, otherwise in the CRS's linear unit converted to metres.
        Ends are joined nearest first; a line's end never joins the same line.
    split_crossings
        Split two lines where they cross without a shared vertex (a vertex both share is
        inserted), unless either is a ``bridge`` or ``tunnel`` or their ``layer`` values
        differ; an end lying exactly on another line is joined this way even with
        ``tolerance_m = 0``. Ferries are never split and never a target of an end.

    Returns
    -------
    RoadLines
        The noded lines: the same ways, ids, tags and per-way arrays, with the inserted
        vertices and the moved ends. The same set of lines in any row order gives the same
        lines.
    NodingReport
        The counts and every repair.
    """
    frame = _Frame(lines)
    x = np.asarray(lines.x, dtype=np.float64)
    y = np.asarray(lines.y, dtype=np.float64)
    node_id = np.asarray(lines.node_id, dtype=np.int64)
    offsets = np.asarray(lines.offsets, dtype=np.int64)
    n_ways = lines.n_ways
    counts = np.diff(offsets)
    way_of_point = np.repeat(np.arange(n_ways), counts)
    seg = (
        np.flatnonzero(way_of_point[1:] == way_of_point[:-1])
        if len(x) > 1
        else np.empty(0, np.int64)
    )
    seg_way = way_of_point[seg]
    ferry = lines.is_ferry()
    bridge = _truthy(_column(lines.tags, "bridge")) | _truthy(_column(lines.tags, "tunnel"))
    layer = _layers(lines.tags)
    first_point = offsets[:-1]
    last_point = offsets[1:] - 1
    is_way_end = np.zeros(len(x), dtype=bool)
    is_way_end[first_point[counts > 0]] = True
    is_way_end[last_point[counts > 0]] = True
    seg_len_m = (
        segment_lengths_m(x[seg], y[seg], x[seg + 1], y[seg + 1], geographic=True)
        if frame.geographic
        else np.hypot(x[seg + 1] - x[seg], y[seg + 1] - y[seg]) * frame.unit_m
    )
    segs = shapely.linestrings(np.stack([np.c_[x[seg], y[seg]], np.c_[x[seg + 1], y[seg + 1]]], 1))
    target = ~ferry[seg_way]
    tree = shapely.STRtree(np.where(target, segs, None))

    # a point by its key, so an inserted point on an existing vertex reuses its node
    kx = np.round(x * frame.key_scale).astype(np.int64).tolist()
    ky = np.round(y * frame.key_scale).astype(np.int64).tolist()
    key_point = dict(
        zip(zip(kx[::-1], ky[::-1], strict=True), range(len(x) - 1, -1, -1), strict=True)
    )
    del kx, ky
    inserts: list[_Insert] = []
    degree: dict[int, int] = {}
    ids, n_used = np.unique(node_id, return_counts=True)
    degree.update(zip(ids.tolist(), n_used.tolist(), strict=True))
    repairs: list[NodingRepair] = []
    # a point moved onto another line: its new key
    moved: dict[int, tuple[int, int]] = {}
    new_xy: dict[tuple[int, int], tuple[float, float]] = {}

    def node_of(key: tuple[int, int], px: float, py: float) -> tuple[int, int]:
        new_xy.setdefault(key, (px, py))
        return key

    def at_vertex(s: int, t: float) -> int | None:
        """The point index of segment ``s``'s vertex within 1 mm of fraction ``t``, if any."""
        if t * seg_len_m[s] < _VERTEX_EPS_M:
            return int(seg[s])
        if (1.0 - t) * seg_len_m[s] < _VERTEX_EPS_M:
            return int(seg[s] + 1)
        return None

    def point_key(p: int) -> tuple[int, int]:
        return moved.get(p, frame.key(x[p], y[p]))

    # --- crossings -------------------------------------------------------------------------
    if split_crossings and len(seg):
        a, b = tree.query(segs, predicate="intersects")
        keep = (a < b) & target[a] & target[b] & (seg_way[a] != seg_way[b])
        a, b = a[keep], b[keep]
        na0, na1, nb0, nb1 = (node_id[seg[a]], node_id[seg[a] + 1], node_id[seg[b]],
                              node_id[seg[b] + 1])  # fmt: skip
        apart = (na0 != nb0) & (na0 != nb1) & (na1 != nb0) & (na1 != nb1)
        a, b = a[apart], b[apart]
        where = shapely.intersection(segs[a], segs[b])
        point = shapely.get_type_id(where) == 0
        a, b, where = a[point], b[point], where[point]
        ta = shapely.line_locate_point(segs[a], where, normalized=True)
        tb = shapely.line_locate_point(segs[b], where, normalized=True)
        wxy = shapely.get_coordinates(where)
        seen: set[tuple[int, int, tuple[int, int]]] = set()
        # sorted by position, so the repairs and new node ids do not depend on row order
        for k in np.lexsort((wxy[:, 1], wxy[:, 0])):
            sa, sb = int(a[k]), int(b[k])
            wa, wb = int(seg_way[sa]), int(seg_way[sb])
            va, vb = at_vertex(sa, float(ta[k])), at_vertex(sb, float(tb[k]))
            if va is not None and vb is not None:
                continue  # two vertices within 1 mm: left as they are
            if va is not None:
                key = frame.key(x[va], y[va])
            elif vb is not None:
                key = frame.key(x[vb], y[vb])
            else:
                key = node_of(frame.key(wxy[k, 0], wxy[k, 1]), wxy[k, 0], wxy[k, 1])
            pair = (min(wa, wb), max(wa, wb), key)
            if pair in seen:
                continue  # the same crossing found through a vertex's two segments
            seen.add(pair)
            meets = not (bridge[wa] or bridge[wb]) and layer[wa] == layer[wb]
            end_point = va if va is not None and is_way_end[va] else None
            if end_point is None and vb is not None and is_way_end[vb]:
                end_point = vb
            kind = "crossing" if meets else "crossing_kept"
            if meets and end_point is not None:
                kind = "end"
            first, second = (wa, wb) if end_point is None or end_point == va else (wb, wa)
            repairs.append(
                NodingRepair(kind, int(lines.way_id[first]), int(lines.way_id[second]),
                             float(wxy[k, 0]), float(wxy[k, 1]), 0.0)
            )  # fmt: skip
            if not meets:
                continue
            if va is None:
                inserts.append(_Insert(sa, float(ta[k]), key))
            if vb is None:
                inserts.append(_Insert(sb, float(tb[k]), key))
            if va is not None:
                degree[int(node_id[va])] += 1
            if vb is not None:
                degree[int(node_id[vb])] += 1

    # --- line ends near another line --------------------------------------------------------
    if tolerance_m > 0 and len(seg):
        ends = np.unique(np.r_[first_point[counts > 1], last_point[counts > 1]])
        ends = ends[np.array([degree[int(node_id[p])] == 1 for p in ends], dtype=bool)]
        end_way = way_of_point[ends]
        e, s = tree.query(
            shapely.points(x[ends], y[ends]),
            predicate="dwithin",
            distance=frame.query_distance(tolerance_m, y),
        )
        keep = seg_way[s] != end_way[e]
        keep &= layer[seg_way[s]] == layer[end_way[e]]
        e, s = e[keep], s[keep]
        p = ends[e]
        sx, sy = frame.scale(y[p])
        rel = np.stack(
            [
                np.c_[(x[seg[s]] - x[p]) * sx, (y[seg[s]] - y[p]) * sy],
                np.c_[(x[seg[s] + 1] - x[p]) * sx, (y[seg[s] + 1] - y[p]) * sy],
            ],
            axis=1,
        )
        local = shapely.linestrings(rel) if len(rel) else np.empty(0, dtype=object)
        origin = shapely.points(np.zeros(len(s)), np.zeros(len(s)))
        dist_m = shapely.distance(local, origin)
        t = shapely.line_locate_point(local, origin, normalized=True)
        near = dist_m <= tolerance_m
        e, s, p, dist_m, t = e[near], s[near], p[near], dist_m[near], t[near]
        # candidates per end: (free end of the target first, distance, position)
        cand: dict[int, list[tuple[int, float, float, float, int, float]]] = {}
        by_node = np.argsort(node_id, kind="stable")
        sorted_nodes = node_id[by_node]

        def met_ways(pk: int) -> set[int]:
            """Ways the end's own way already meets within twice the tolerance of the end."""
            w = int(way_of_point[pk])
            step = 1 if pk == first_point[w] else -1
            along, q = 0.0, pk
            met: set[int] = set()
            while first_point[w] <= q + step <= last_point[w]:
                ex, ey = frame.scale(np.array([y[q]]))
                along += float(np.hypot((x[q + step] - x[q]) * ex[0], (y[q + step] - y[q]) * ey[0]))
                q += step
                if along > 2 * tolerance_m:
                    break
                if degree[int(node_id[q])] > 1:
                    lo, hi = (
                        np.searchsorted(sorted_nodes, node_id[q], side="left"),
                        np.searchsorted(sorted_nodes, node_id[q], side="right"),
                    )
                    met.update(int(v) for v in way_of_point[by_node[lo:hi]])
            return met

        met_by_end: dict[int, set[int]] = {}
        for k in range(len(s)):
            sk, tk, pk = int(s[k]), float(t[k]), int(p[k])
            wk = int(seg_way[sk])
            if pk not in met_by_end:
                met_by_end[pk] = met_ways(pk)
            if wk in met_by_end[pk]:
                continue  # an overshoot: the end's line already meets this one just before it
            v = at_vertex(sk, tk)
            qx = x[seg[sk]] + tk * (x[seg[sk] + 1] - x[seg[sk]])
            qy = y[seg[sk]] + tk * (y[seg[sk] + 1] - y[seg[sk]])
            if v is None and bridge[wk]:
                continue  # a bridge or tunnel meets other lines only at its ends
            if v is not None and bridge[wk] and not is_way_end[v]:
                continue
            cand.setdefault(pk, []).append((1, float(dist_m[k]), qx, qy, sk, tk))
            # the target's free end, when it is within the tolerance too
            for w_end in (int(seg[sk]), int(seg[sk] + 1)):
                if is_way_end[w_end] and degree[int(node_id[w_end])] == 1:
                    ex, ey = frame.scale(np.array([y[pk]]))
                    d = float(np.hypot((x[w_end] - x[pk]) * ex[0], (y[w_end] - y[pk]) * ey[0]))
                    if d <= tolerance_m:
                        cand[pk].append((0, d, float(x[w_end]), float(y[w_end]), sk, -1.0 - w_end))
        best = {pk: min(c) for pk, c in cand.items()}
        order = sorted(best, key=lambda pk: (best[pk][1], x[pk], y[pk]))
        for pk in order:
            if degree[int(node_id[pk])] > 1:
                continue  # another end was joined onto it
            _, d, qx, qy, sk, tk = best[pk]
            to_end = tk < 0
            if to_end:  # another line's free end
                w_end = int(-1.0 - tk)
                key = point_key(w_end)
                degree[int(node_id[w_end])] += 1
            else:
                v = at_vertex(sk, tk)
                if v is not None:
                    key = point_key(v)
                    degree[int(node_id[v])] += 1
                else:
                    key = node_of(frame.key(qx, qy), qx, qy)
                    inserts.append(_Insert(sk, tk, key))
            moved[pk] = key
            degree[int(node_id[pk])] += 1
            other = int(seg_way[sk])
            repairs.append(
                NodingRepair("end", int(lines.way_id[way_of_point[pk]]),
                             int(lines.way_id[other]), float(x[pk]), float(y[pk]), d, to_end)
            )  # fmt: skip

    noded = _apply(lines, seg, inserts, moved, key_point, new_xy, way_of_point)
    repairs.sort(key=lambda r: (r.kind, r.x, r.y, r.distance_m))
    end_d = [r.distance_m for r in repairs if r.kind == "end"]
    report = NodingReport(
        tolerance_m=float(tolerance_m),
        split_crossings=bool(split_crossings),
        ends_joined=sum(1 + r.to_free_end for r in repairs if r.kind == "end"),
        crossings_split=sum(1 for r in repairs if r.kind == "crossing"),
        crossings_kept=sum(1 for r in repairs if r.kind == "crossing_kept"),
        components_before=line_components(lines),
        components_after=line_components(noded),
        max_end_distance_m=float(max(end_d, default=0.0)),
        repairs=tuple(repairs),
    )
    return noded, report


def _apply(
    lines: RoadLines,
    seg: np.ndarray,
    inserts: list[_Insert],
    moved: dict[int, tuple[int, int]],
    key_point: dict[tuple[int, int], int],
    new_xy: dict[tuple[int, int], tuple[float, float]],
    way_of_point: np.ndarray,
) -> RoadLines:
    """The lines with the vertices inserted and the ends moved (new arrays throughout)."""
    if not inserts and not moved:
        return RoadLines(
            way_id=lines.way_id.copy(), offsets=lines.offsets.copy(), x=lines.x.copy(),
            y=lines.y.copy(), node_id=lines.node_id.copy(), tags=lines.tags.copy(),
            crs=lines.crs, source=lines.source, speed_factor=_copy(lines.speed_factor),
            closed=_copy(lines.closed), headway_min=_copy(lines.headway_min),
            ferry_kph=_copy(lines.ferry_kph),
        )  # fmt: skip
    # new nodes: keys not already a vertex, numbered by key so row order does not matter
    fresh = sorted({k for k in new_xy if k not in key_point})
    base = min(int(lines.node_id.min()), 0) - 1
    node_by_key = {k: base - i for i, k in enumerate(fresh)}
    xy_by_key = {k: new_xy[k] for k in fresh}
    used = {k for k in moved.values()} | {ins.key for ins in inserts}
    for k in used - set(fresh):  # existing vertices: their node and coordinates
        i = key_point[k]
        node_by_key[k] = int(lines.node_id[i])
        xy_by_key[k] = (float(lines.x[i]), float(lines.y[i]))

    x = np.asarray(lines.x, dtype=np.float64).copy()
    y = np.asarray(lines.y, dtype=np.float64).copy()
    node = np.asarray(lines.node_id, dtype=np.int64).copy()
    for p, key in moved.items():
        node[p] = node_by_key[key]
        x[p], y[p] = xy_by_key[key]
    # one insert per segment and point
    unique: dict[tuple[int, tuple[int, int]], float] = {}
    for ins in inserts:
        unique.setdefault((ins.seg, ins.key), ins.t)
    items = sorted(unique.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1]))
    at = np.array([int(seg[s]) for (s, _), _ in items], dtype=np.int64)
    frac = np.array([t for _, t in items], dtype=np.float64)
    ins_x = np.array([xy_by_key[k][0] for (_, k), _ in items], dtype=np.float64)
    ins_y = np.array([xy_by_key[k][1] for (_, k), _ in items], dtype=np.float64)
    ins_node = np.array([node_by_key[k] for (_, k), _ in items], dtype=np.int64)
    n = len(x)
    pos = np.r_[np.arange(n), at]
    sub = np.r_[np.zeros(n), frac]
    order = np.lexsort((sub, pos))
    all_x = np.r_[x, ins_x][order]
    all_y = np.r_[y, ins_y][order]
    all_node = np.r_[node, ins_node][order]
    all_way = np.r_[way_of_point, way_of_point[at]][order]
    offsets = np.zeros(lines.n_ways + 1, dtype=np.int64)
    np.cumsum(np.bincount(all_way, minlength=lines.n_ways), out=offsets[1:])
    return RoadLines(
        way_id=lines.way_id.copy(), offsets=offsets, x=all_x, y=all_y, node_id=all_node,
        tags=lines.tags.copy(), crs=lines.crs, source=lines.source,
        speed_factor=_copy(lines.speed_factor), closed=_copy(lines.closed),
        headway_min=_copy(lines.headway_min), ferry_kph=_copy(lines.ferry_kph),
    )  # fmt: skip


def _copy(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.copy()
