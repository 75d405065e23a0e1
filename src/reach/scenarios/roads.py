"""Road and ferry operations of a scenario: pure functions from lines to new lines.

Every function takes a :class:`~reach.ingest.roads.RoadLines` and one operation model of
:mod:`reach.spec` and returns a **new** ``RoadLines``; the input is never modified (arrays
and tag frames that change are copied, the others are shared). Nothing here reads or writes
files. :func:`reach.model.network.build_network` then turns the result into a network.

Ways are named by their ``way_id`` (the OSM way id; the ``row * MAX_PARTS + part`` id of line
layers). Roads and ferries that an operation adds get fresh negative way ids below every
existing id, and fresh negative node ids below every existing node id, except where an endpoint
snaps onto an existing point: there the new way reuses that point's node id and coordinates,
which is what joins it to the network.

How the operations act on the network
    ``upgrade_road`` and ``add_road`` change or add tags, so every mode's speed follows from its
    profile. ``close_road``, ``suspend_ferry``, a season multiplier of 0 and ``close_fords``
    set ``closed``: the way gives no network edge at all (no riding, no walking along it; the
    off-network grid walk still crosses its cells). Season multipliers scale ``speed_factor``,
    which ``build_network`` applies to every mode's speed on the way, including the walking
    fallback of mixed trips. ``headway_min`` (boarding wait = half of it) and ``ferry_kph``
    override the scenario's ferry settings per ferry; a ``ferry_kph`` also overrides a
    ``duration`` tag.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from reach.errors import ScenarioError
from reach.ingest.roads import RoadLines
from reach.model.grid import EARTH_RADIUS_M
from reach.model.network import segment_lengths_m
from reach.spec import (
    AddFerry,
    AddRoad,
    ChangeFerry,
    CloseRoad,
    Season,
    SuspendFerry,
    UpgradeRoad,
)

__all__ = [
    "UNPAVED_CLASSES",
    "add_ferry",
    "add_road",
    "apply_road_operations",
    "apply_season",
    "change_ferry",
    "close_road",
    "suspend_ferry",
    "upgrade_road",
]

#: Classes whose untagged surface a season treats as ``"unpaved"`` (when that key is given).
UNPAVED_CLASSES: frozenset[str] = frozenset({"track", "path", "unclassified"})
_SHOW = 10
_WGS84 = CRS.from_epsg(4326)


# --- small helpers ----------------------------------------------------------------------------


def _norm(value: object) -> str | None:
    """First ``;``-separated value of a tag, trimmed and lower-cased (None if not text)."""
    if not isinstance(value, str):
        return None
    text = value.split(";", 1)[0].strip().lower()
    return text or None


def _norm_column(tags: pd.DataFrame, name: str) -> np.ndarray:
    """Normalised values of tag column ``name`` (all None when the column is absent)."""
    if name not in tags.columns:
        return np.full(len(tags), None, dtype=object)
    codes, uniques = pd.factorize(tags[name].to_numpy(dtype=object), use_na_sentinel=True)
    table = np.array([_norm(u) for u in uniques] + [None], dtype=object)
    return np.asarray(table[codes], dtype=object)  # code -1 (missing) picks the trailing None


def _way_class(tags: pd.DataFrame) -> np.ndarray:
    """Each way's class: normalised ``highway``, else ``road_class`` (line layers)."""
    highway = _norm_column(tags, "highway")
    road_class = _norm_column(tags, "road_class")
    return np.where(pd.isna(highway), road_class, highway)


def _has_road_class(tags: pd.DataFrame) -> np.ndarray:
    """Ways carrying a ``road_class`` label (line layers)."""
    if "road_class" not in tags.columns:
        return np.zeros(len(tags), dtype=bool)
    return np.asarray(tags["road_class"].notna().to_numpy(), dtype=bool)


def _show(ids: Iterable[int]) -> str:
    """A short, sorted list of ids for a message."""
    values = sorted(set(int(i) for i in ids))
    text = ", ".join(str(v) for v in values[:_SHOW])
    return text + (f" and {len(values) - _SHOW} more" if len(values) > _SHOW else "")


def _select_ids(lines: RoadLines, way_ids: Sequence[int], *, op: str) -> np.ndarray:
    """Mask of the ways named by ``way_ids``; unknown ids raise."""
    wanted = np.asarray(list(way_ids), dtype=np.int64)
    unknown = np.setdiff1d(wanted, lines.way_id)
    if len(unknown):
        raise ScenarioError(
            f"{op}: no way with id {_show(unknown)} in the road network ({lines.n_ways} ways)",
            path=lines.source,
            fix="use OSM way ids of roads inside the region (or the ids of the line layer)",
        )
    return np.isin(lines.way_id, wanted)


def _lines_crs(lines: RoadLines) -> CRS:
    return CRS.from_user_input(lines.crs)


def _from_lon_lat(lines: RoadLines, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Longitude / latitude (WGS 84) → ``lines.crs`` coordinates."""
    crs = _lines_crs(lines)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if crs == _WGS84:
        return lon, lat
    x, y = Transformer.from_crs(_WGS84, crs, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _copy_or(array: np.ndarray | None, n: int, fill: float | bool, dtype: type) -> np.ndarray:
    """A writable copy of a per-way array, or a new one filled with ``fill``."""
    if array is None:
        return np.full(n, fill, dtype=dtype)
    return np.array(array, dtype=dtype, copy=True)


def _closed(lines: RoadLines) -> np.ndarray:
    return _copy_or(lines.closed, lines.n_ways, False, bool)


# --- snapping and appending -------------------------------------------------------------------


def _snap_candidates(lines: RoadLines) -> np.ndarray:
    """Points a new way may join: every road point, and ferry terminals (not mid-crossing)."""
    counts = np.diff(lines.offsets)
    way_of_point = np.repeat(np.arange(lines.n_ways), counts)
    ferry = lines.is_ferry()
    ok = ~ferry[way_of_point]
    terminals = np.concatenate([lines.offsets[:-1][counts > 0], lines.offsets[1:][counts > 0] - 1])
    ok[terminals] = True
    return np.flatnonzero(ok)


def _snap_point(
    lines: RoadLines, candidates: np.ndarray, x: float, y: float, *, snap_m: float
) -> int | None:
    """Index of the nearest candidate point within ``snap_m`` metres of ``(x, y)``, if any.

    The search runs in a cKDTree on metric coordinates (lon/lat scaled by ``cos(lat)`` of the
    query point; projected units by their metre factor); the final choice uses exact distances.
    """
    if len(candidates) == 0 or snap_m <= 0:
        return None
    crs = _lines_crs(lines)
    geographic = bool(crs.is_geographic)
    m_per_deg = EARTH_RADIUS_M * math.pi / 180.0
    if geographic:
        ky = m_per_deg
        kx = m_per_deg * math.cos(math.radians(y))
    else:
        ky = kx = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
    # a generous window first, so the tree only holds nearby points
    win_x = 2.0 * snap_m / max(kx, 1e-6 * m_per_deg)
    win_y = 2.0 * snap_m / ky
    window = (np.abs(lines.x[candidates] - x) <= win_x) & (np.abs(lines.y[candidates] - y) <= win_y)
    candidates = candidates[window]
    if len(candidates) == 0:
        return None
    cx = lines.x[candidates].astype(np.float64)
    cy = lines.y[candidates].astype(np.float64)
    tree_xy = np.column_stack([(cx - x) * kx, (cy - y) * ky])
    tree = cKDTree(tree_xy)
    # a little slack: the scaled lon/lat distance is an approximation, checked exactly below
    near = np.asarray(tree.query_ball_point([0.0, 0.0], r=snap_m * 1.05 + 1.0), dtype=np.int64)
    if len(near) == 0:
        return None
    if geographic:
        dist = segment_lengths_m(
            np.full(len(near), x), np.full(len(near), y), cx[near], cy[near], geographic=True
        )
    else:
        dist = np.hypot(tree_xy[near, 0], tree_xy[near, 1])
    best = int(np.argmin(dist))
    if dist[best] > snap_m:
        return None
    return int(candidates[near[best]])


def _new_way_points(
    lines: RoadLines,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    snap_m: float,
    op: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates and node ids of a new two-point way, its endpoints snapped where possible."""
    xs, ys = _from_lon_lat(lines, np.array([start[0], end[0]]), np.array([start[1], end[1]]))
    node_ids = np.zeros(2, dtype=np.int64)
    fresh = int(lines.node_id.min()) if len(lines.node_id) else 0
    fresh = min(fresh, 0) - 1
    candidates = _snap_candidates(lines) if lines.n_ways else np.empty(0, np.int64)
    for k in range(2):
        hit = _snap_point(lines, candidates, float(xs[k]), float(ys[k]), snap_m=snap_m)
        if hit is None:
            node_ids[k] = fresh
            fresh -= 1
        else:
            node_ids[k] = lines.node_id[hit]
            xs[k] = lines.x[hit]
            ys[k] = lines.y[hit]
    if node_ids[0] == node_ids[1] or (xs[0] == xs[1] and ys[0] == ys[1]):
        raise ScenarioError(
            f"{op}: start {tuple(start)} and end {tuple(end)} fall on the same point "
            f"(after snapping within {snap_m:g} m)",
            fix="give two endpoints further apart, or a smaller snap distance",
        )
    return xs, ys, node_ids


def _append_way(
    lines: RoadLines,
    xs: np.ndarray,
    ys: np.ndarray,
    node_ids: np.ndarray,
    tags: dict[str, str | None],
    *,
    headway_min: float | None = None,
    ferry_kph: float | None = None,
) -> RoadLines:
    """``lines`` plus one way; per-way arrays that are set get neutral values for it.

    ``headway_min`` / ``ferry_kph`` given: the array is created when absent (NaN for the other
    ways) and holds this value for the new way.
    """
    n = lines.n_ways
    new_id = min(int(lines.way_id.min()) if n else 0, 0) - 1
    row = {c: tags.get(c) for c in lines.tags.columns}
    new_tags = pd.concat(
        [lines.tags, pd.DataFrame([row], columns=lines.tags.columns, dtype=object)],
        ignore_index=True,
    )

    def extend(
        array: np.ndarray | None, value: float | bool | None, fill: float
    ) -> np.ndarray | None:
        if array is None and value is None:
            return None
        base = np.full(n, fill) if array is None else np.asarray(array)
        return np.concatenate([base, np.array([fill if value is None else value], base.dtype)])

    return dataclasses.replace(
        lines,
        way_id=np.append(lines.way_id, np.int64(new_id)).astype(np.int64),
        offsets=np.append(lines.offsets, lines.offsets[-1] + len(xs)).astype(np.int64),
        x=np.concatenate([lines.x, xs.astype(lines.x.dtype)]),
        y=np.concatenate([lines.y, ys.astype(lines.y.dtype)]),
        node_id=np.concatenate([lines.node_id, node_ids.astype(np.int64)]),
        tags=new_tags,
        speed_factor=extend(lines.speed_factor, None, 1.0),
        closed=None
        if lines.closed is None
        else np.append(np.asarray(lines.closed, dtype=bool), False),
        headway_min=extend(lines.headway_min, headway_min, np.nan),
        ferry_kph=extend(lines.ferry_kph, ferry_kph, np.nan),
    )


# --- operations -------------------------------------------------------------------------------


def upgrade_road(lines: RoadLines, op: UpgradeRoad) -> RoadLines:
    """Set the tags of chosen roads (class, surface, tracktype, smoothness).

    Parameters
    ----------
    lines
        The road network.
    op
        The operation. Ways are chosen by ``way_ids`` and / or by ``polygon`` (a lon/lat ring;
        a road is chosen when any of its points lies inside or on the edge; the ring is brought
        to ``lines.crs`` first). ``highway_classes``, when given, keeps only chosen ways whose
        ``highway`` or ``road_class`` is one of them (trimmed, case-insensitive), for the
        ``way_ids`` as well as the polygon. ``set_highway`` sets ``highway``, and ``road_class``
        too on ways that carry one (line layers); ``set_surface``, ``set_tracktype`` and
        ``set_smoothness`` set their tags.

    Returns
    -------
    RoadLines
        New lines with the changed tags.

    Raises
    ------
    ScenarioError
        A way id is not in the network or is a ferry (use ``change_ferry``), or the operation
        selects no way at all.
    """
    ferry = lines.is_ferry()
    by_id = np.zeros(lines.n_ways, dtype=bool)
    if op.way_ids:
        by_id = _select_ids(lines, op.way_ids, op="upgrade_road")
        if np.any(by_id & ferry):
            raise ScenarioError(
                f"upgrade_road: way {_show(lines.way_id[by_id & ferry])} is a ferry route",
                fix="change ferries with `change_ferry` (headway, speed)",
            )
    in_polygon = np.zeros(lines.n_ways, dtype=bool)
    if len(op.polygon) >= 3:
        ring = np.asarray(op.polygon, dtype=np.float64)
        px, py = _from_lon_lat(lines, ring[:, 0], ring[:, 1])
        polygon = shapely.make_valid(shapely.Polygon(np.column_stack([px, py])))
        shapely.prepare(polygon)
        inside = shapely.intersects_xy(polygon, lines.x, lines.y)
        way_of_point = np.repeat(np.arange(lines.n_ways), np.diff(lines.offsets))
        hits = np.bincount(way_of_point, weights=inside, minlength=lines.n_ways)
        in_polygon = (hits > 0) & ~ferry
    selected = by_id | in_polygon
    class_note = ""
    if op.highway_classes:
        wanted = {c for c in (_norm(v) for v in op.highway_classes) if c is not None}
        highway = _norm_column(lines.tags, "highway")
        road_class = _norm_column(lines.tags, "road_class")
        class_ok = np.isin(highway, list(wanted)) | np.isin(road_class, list(wanted))
        class_note = f" of class {', '.join(sorted(wanted))}"
        selected &= class_ok
    if not selected.any():
        where = []
        if op.way_ids:
            where.append(f"way ids {_show(op.way_ids)}")
        if len(op.polygon) >= 3:
            where.append(f"the polygon ({int(in_polygon.sum())} roads with a point inside)")
        raise ScenarioError(
            f"upgrade_road selects no way: no road{class_note} among {' or '.join(where)}",
            fix="check the polygon is lon/lat around the roads, and the class names",
        )
    tags = lines.tags.copy()
    rows = tags.index[selected]
    for column, value in (
        ("highway", op.set_highway),
        ("surface", op.set_surface),
        ("tracktype", op.set_tracktype),
        ("smoothness", op.set_smoothness),
    ):
        if value is not None:
            tags.loc[rows, column] = value
    if op.set_highway is not None and "road_class" in tags.columns:
        tags.loc[tags.index[selected & _has_road_class(lines.tags)], "road_class"] = op.set_highway
    return dataclasses.replace(lines, tags=tags)


def add_road(lines: RoadLines, op: AddRoad, *, snap_m: float = 200.0) -> RoadLines:
    """Append a new straight road between two points.

    Parameters
    ----------
    lines
        The road network.
    op
        The operation: ``start`` and ``end`` (lon/lat), ``highway``, ``surface``, ``name``.
    snap_m
        An endpoint within this many metres of an existing road point (or ferry terminal) is
        moved onto the nearest one and takes its node id, so the new road joins the network
        there; otherwise it gets a fresh node.

    Returns
    -------
    RoadLines
        New lines with one more way: a fresh negative way id, tags ``highway``, ``surface``,
        ``name`` (and ``road_class = highway`` when the lines carry road classes, i.e. a line
        layer). Per-way arrays that are set get 1.0 / False / NaN for it.

    Raises
    ------
    ScenarioError
        Both endpoints fall on the same point.
    """
    xs, ys, node_ids = _new_way_points(lines, op.start, op.end, snap_m=snap_m, op="add_road")
    tags: dict[str, str | None] = {
        "highway": op.highway,
        "surface": op.surface,
        "name": op.name or None,
    }
    if _has_road_class(lines.tags).any():
        tags["road_class"] = op.highway
    return _append_way(lines, xs, ys, node_ids, tags)


def close_road(lines: RoadLines, op: CloseRoad) -> RoadLines:
    """Close roads (or bridges) to all traffic.

    Parameters
    ----------
    lines
        The road network.
    op
        The operation: ``way_ids`` to close.

    Returns
    -------
    RoadLines
        New lines with ``closed`` True on those ways (created when absent).

    Raises
    ------
    ScenarioError
        A way id is not in the network.
    """
    closed = _closed(lines)
    closed |= _select_ids(lines, op.way_ids, op="close_road")
    return dataclasses.replace(lines, closed=closed)


def _duration_text(minutes: float) -> str:
    """``"HH:MM"`` (``"HH:MM:SS"`` when not a whole minute) for a positive duration."""
    seconds = max(1, round(minutes * 60.0))
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours:02d}:{mins:02d}" + (f":{secs:02d}" if secs else "")


def add_ferry(lines: RoadLines, op: AddFerry, *, snap_m: float = 2000.0) -> RoadLines:
    """Append a new ferry route between two ports.

    Parameters
    ----------
    lines
        The road and ferry network.
    op
        The operation: ``start`` and ``end`` (lon/lat), ``headway_min``, optional
        ``speed_kph`` and ``duration_min``, ``name``.
    snap_m
        Each endpoint moves onto the nearest road point or ferry terminal within this many
        metres (the port); otherwise it gets a fresh node, reached only by the off-network walk.

    Returns
    -------
    RoadLines
        New lines with one more ``route=ferry`` way of two points: a fresh negative way id, a
        ``duration`` tag (``"HH:MM"``) when ``duration_min`` is given, ``headway_min`` set for
        it (the array is created with NaN, "keep the scenario's", for the other ways), and
        ``ferry_kph`` set to ``speed_kph`` when given **and** ``duration_min`` is not: a
        ferry speed would override the duration in the network, so the duration wins.

    Raises
    ------
    ScenarioError
        Both endpoints fall on the same point.
    """
    xs, ys, node_ids = _new_way_points(lines, op.start, op.end, snap_m=snap_m, op="add_ferry")
    tags: dict[str, str | None] = {
        "route": "ferry",
        "name": op.name or None,
        "duration": None if op.duration_min is None else _duration_text(op.duration_min),
    }
    speed = op.speed_kph if op.duration_min is None else None
    return _append_way(
        lines, xs, ys, node_ids, tags, headway_min=float(op.headway_min), ferry_kph=speed
    )


def _select_ferries(
    lines: RoadLines, way_ids: Sequence[int], every: bool, *, op: str
) -> np.ndarray:
    """Mask of the ferries an operation names (or all of them)."""
    ferry = lines.is_ferry()
    if every:
        if not ferry.any():
            raise ScenarioError(
                f"{op}: the network has no ferry route (route=ferry)",
                path=lines.source,
                fix="add one with `add_ferry`, or drop the operation",
            )
        selected = ferry.copy()
    else:
        selected = np.zeros(lines.n_ways, dtype=bool)
    if way_ids:
        named = _select_ids(lines, way_ids, op=op)
        if np.any(named & ~ferry):
            raise ScenarioError(
                f"{op}: way {_show(lines.way_id[named & ~ferry])} is not a ferry route",
                fix="name ways tagged route=ferry (or use close_road / upgrade_road for roads)",
            )
        selected |= named
    return selected


def change_ferry(lines: RoadLines, op: ChangeFerry) -> RoadLines:
    """Change the headway and / or crossing speed of ferries.

    Parameters
    ----------
    lines
        The road and ferry network.
    op
        The operation: ``way_ids`` or ``all``; ``headway_min`` and / or ``speed_kph``.

    Returns
    -------
    RoadLines
        New lines with ``headway_min`` / ``ferry_kph`` set on those ferries (arrays created
        with NaN, "keep", for the other ways). A speed overrides a ``duration`` tag.

    Raises
    ------
    ScenarioError
        A way id is unknown or not a ferry, or ``all`` with no ferry in the network.
    """
    selected = _select_ferries(lines, op.way_ids, op.all, op="change_ferry")
    headway = lines.headway_min
    kph = lines.ferry_kph
    if op.headway_min is not None:
        headway = _copy_or(headway, lines.n_ways, np.nan, np.float64)
        headway[selected] = op.headway_min
    if op.speed_kph is not None:
        kph = _copy_or(kph, lines.n_ways, np.nan, np.float64)
        kph[selected] = op.speed_kph
    return dataclasses.replace(lines, headway_min=headway, ferry_kph=kph)


def suspend_ferry(lines: RoadLines, op: SuspendFerry) -> RoadLines:
    """Suspend ferries (they give no network edge).

    Parameters
    ----------
    lines
        The road and ferry network.
    op
        The operation: ``way_ids`` or ``all``.

    Returns
    -------
    RoadLines
        New lines with ``closed`` True on those ferries (created when absent).

    Raises
    ------
    ScenarioError
        A way id is unknown or not a ferry, or there is no ferry to suspend.
    """
    selected = _select_ferries(lines, op.way_ids, op.all, op="suspend_ferry")
    closed = _closed(lines)
    closed |= selected
    return dataclasses.replace(lines, closed=closed)


def _multiplier_lookup(values: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """``table[value]`` per way (keys compared normalised), NaN where absent."""
    normalised = {k: v for k, v in ((_norm(k), v) for k, v in table.items()) if k is not None}
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    found = [normalised.get(u, np.nan) if isinstance(u, str) else np.nan for u in uniques]
    return np.array([*found, np.nan], dtype=np.float64)[codes]


def apply_season(lines: RoadLines, op: Season) -> RoadLines:
    """Slow down or close roads for a season.

    Each road's multiplier is the smaller of its surface multiplier (by its ``surface`` tag;
    a track, path or unclassified road with no surface tag counts as ``"unpaved"`` when that
    key is given) and its tracktype multiplier (by ``tracktype``); a road matching neither
    keeps its speed. Ferries are not touched.

    Parameters
    ----------
    lines
        The road network.
    op
        The season. ``walk_multiplier`` is **not** applied here: it slows the off-network walk,
        which the grid handles. ``share_of_year`` is for weighting results, not for the lines.

    Returns
    -------
    RoadLines
        New lines: ``speed_factor`` multiplied by each way's multiplier (created as 1.0 when
        absent); a multiplier of 0 closes the way (``closed`` True, the factor kept); with
        ``close_fords``, ways tagged ``ford`` with any value but ``no`` are closed too.
    """
    tags = lines.tags
    surface = _norm_column(tags, "surface")
    if "unpaved" in {_norm(k) for k in op.surface_multipliers}:
        untagged_unpaved = pd.isna(surface) & np.isin(_way_class(tags), list(UNPAVED_CLASSES))
        surface = np.where(untagged_unpaved, "unpaved", surface)
    by_surface = _multiplier_lookup(surface, op.surface_multipliers)
    by_track = _multiplier_lookup(_norm_column(tags, "tracktype"), op.tracktype_multipliers)
    multiplier = np.fmin(by_surface, by_track)  # NaN only where neither matches
    multiplier[lines.is_ferry()] = np.nan
    shut = multiplier == 0.0
    slow = np.isfinite(multiplier) & ~shut
    factor = _copy_or(lines.speed_factor, lines.n_ways, 1.0, np.float64)
    factor[slow] *= multiplier[slow]
    closed = _closed(lines)
    closed |= shut
    if op.close_fords:
        ford = _norm_column(tags, "ford")
        closed |= np.asarray(~pd.isna(ford) & (ford != "no"), dtype=bool)
    return dataclasses.replace(lines, speed_factor=factor, closed=closed)


def apply_road_operations(lines: RoadLines, ops: Sequence[object]) -> RoadLines:
    """Apply, in order, every road and ferry operation of a list.

    Parameters
    ----------
    lines
        The road and ferry network.
    ops
        Operation models of :mod:`reach.spec`. ``UpgradeRoad``, ``AddRoad``, ``CloseRoad``,
        ``AddFerry``, ``ChangeFerry``, ``SuspendFerry`` and ``Season`` are applied (with the
        default snap distances); every other operation (facilities, vehicle availability,
        telemedicine, ...) is ignored.

    Returns
    -------
    RoadLines
        The lines after all operations (``lines`` itself when there is none to apply).

    Raises
    ------
    ScenarioError
        An operation cannot be applied (see the single operations).
    """
    result = lines
    for op in ops:
        if isinstance(op, UpgradeRoad):
            result = upgrade_road(result, op)
        elif isinstance(op, AddRoad):
            result = add_road(result, op)
        elif isinstance(op, CloseRoad):
            result = close_road(result, op)
        elif isinstance(op, AddFerry):
            result = add_ferry(result, op)
        elif isinstance(op, ChangeFerry):
            result = change_ferry(result, op)
        elif isinstance(op, SuspendFerry):
            result = suspend_ferry(result, op)
        elif isinstance(op, Season):
            result = apply_season(result, op)
    return result
