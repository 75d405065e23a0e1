"""Read roads, ferries and facilities from OpenStreetMap files (XML, bzip2 XML, PBF).

This module only reads and validates: it never decides how fast a road is (that is
:mod:`reach.model.speeds`) nor which facility offers which service (that is the facilities
ingest). Everything is parsed by libosmium through pyosmium. Its XML parser (expat) refuses
documents that declare entities ("XML entities are not supported") and never fetches external
DTDs or other URLs; this module adds no XML parsing of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import osmium
import pandas as pd
import shapely
from osmium.filter import EntityFilter, IdFilter, KeyFilter
from pyproj import CRS

from reach.errors import InputError
from reach.ingest.rasters import check_local_path
from reach.ingest.roads import TAG_COLUMNS, RoadLines

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "FACILITY_AMENITIES",
    "FACILITY_COLUMNS",
    "NON_ROAD_HIGHWAYS",
    "OSM_SUFFIXES",
    "PLACE_COLUMNS",
    "PLACE_KINDS",
    "OsmReadReport",
    "read_osm_facilities",
    "read_osm_places",
    "read_osm_roads",
    "read_osm_roads_with_report",
]

#: File name endings this module reads, with the libosmium format string for each.
OSM_SUFFIXES: dict[str, str] = {".osm.pbf": "pbf", ".osm.bz2": "osm.bz2", ".osm": "osm"}

#: ``highway`` values that are not travelled roads (planned, disused, stops, rooms, areas).
NON_ROAD_HIGHWAYS: frozenset[str] = frozenset(
    {
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "razed",
        "dismantled",
        "platform",
        "raceway",
        "bus_stop",
        "elevator",
        "corridor",
        "services",
        "rest_area",
    }
)

#: ``amenity`` values read as facilities (any ``healthcare=*`` tag is read as well).
FACILITY_AMENITIES: frozenset[str] = frozenset(
    {
        "hospital",
        "clinic",
        "doctors",
        "school",
        "kindergarten",
        "college",
        "university",
        "pharmacy",
    }
)

#: Columns of :func:`read_osm_facilities` (besides ``geometry``).
FACILITY_COLUMNS: tuple[str, ...] = (
    "osm_type",
    "osm_id",
    "name",
    "amenity",
    "healthcare",
    "school",
    "isced_level",
    "operator",
    "capacity",
)

#: ``place`` values read as settlements, largest first (the order maps rank their names by).
PLACE_KINDS: tuple[str, ...] = ("city", "town", "village", "hamlet")

#: Columns of :func:`read_osm_places` (besides ``geometry``).
PLACE_COLUMNS: tuple[str, ...] = ("osm_id", "name", "place", "population")

_WGS84 = CRS.from_epsg(4326)
_FORMATS = "OSM XML (.osm), bzip2 OSM XML (.osm.bz2) or OSM PBF (.osm.pbf)"


@dataclass(frozen=True)
class OsmReadReport:
    """What :func:`read_osm_roads_with_report` kept and dropped.

    Attributes
    ----------
    ways_read
        Road and ferry ways returned.
    ways_dropped_missing_nodes
        Road or ferry ways dropped because fewer than 2 of their nodes have a location in the
        file (typical at the edge of a clipped extract).
    ferries
        Ferry ways (``route=ferry``) among those returned.
    nodes_missing
        Node references (in road and ferry ways) whose node is not in the file; they are left
        out of their way's line.
    ways_skipped_not_road
        Ways tagged ``highway`` skipped because they are not travelled roads
        (:data:`NON_ROAD_HIGHWAYS`, or ``area=yes``).
    """

    ways_read: int
    ways_dropped_missing_nodes: int
    ferries: int
    nodes_missing: int
    ways_skipped_not_road: int = 0


def _check_path(path: str | Path) -> tuple[Path, str]:
    """Check that ``path`` is an existing, non-empty OSM file; return it and its format.

    Raises
    ------
    InputError
        The file is missing, not a regular file (a folder, FIFO, socket or device), empty,
        has a NUL byte or an over-long name, or has an unknown extension.
    """
    text = str(path)
    name = Path(text).name.lower()
    fmt = next((f for suffix, f in OSM_SUFFIXES.items() if name.endswith(suffix)), None)
    if fmt is None and "\x00" not in text:
        raise InputError(
            f"unsupported OSM file type '{Path(text).name[:100]}'",
            path=Path(text),
            fix=f"give an {_FORMATS} file, e.g. a Geofabrik extract",
        )
    p = check_local_path(path, what="OSM file")
    assert fmt is not None  # a NUL byte is refused by check_local_path
    if p.stat().st_size == 0:
        raise InputError(
            "OSM file is empty", path=p, fix="download the extract again (the copy is empty)"
        )
    return p, fmt


def _unreadable(p: Path, exc: BaseException) -> InputError:
    """Return the error for a file libosmium could not read."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return InputError(
        f"cannot read OSM file ({detail}); it may be truncated, corrupt or not OSM data",
        path=p,
        fix="download the extract again or check it with `osmium fileinfo -e`",
    )


def _iterate(p: Path, processor: osmium.FileProcessor) -> Iterator[object]:
    """Iterate ``processor``, turning libosmium's read errors into :class:`InputError`."""
    try:
        yield from processor
    # libosmium io/pbf/xml/bzip2 errors, and coordinates it cannot parse
    except (RuntimeError, OSError, ValueError, osmium.InvalidLocationError) as exc:
        raise _unreadable(p, exc) from exc


def _processor(p: Path, fmt: str, *filters: object) -> osmium.FileProcessor:
    """A file processor with a node-location index and the given filters."""
    fp = osmium.FileProcessor(osmium.io.File(str(p), fmt)).with_locations("flex_mem")
    for filt in filters:
        fp = fp.with_filter(filt)
    return fp


def _negative_node_locations(p: Path, fmt: str, wanted: set[int]) -> dict[int, tuple[float, float]]:
    """Locations of the ``wanted`` nodes with negative ids.

    JOSM saves objects that were never uploaded with negative ids (``<node id="-1" …>``).
    libosmium's node-location index only holds positive ids (its store for negative ids is a
    no-op in pyosmium), so ways made of such nodes come back without locations. This second pass
    reads the nodes themselves; it runs only when a way refers to a negative node id.
    """
    found: dict[int, tuple[float, float]] = {}
    fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.NODE)
    for obj in _iterate(p, fp):
        node: osmium.osm.Node = obj  # type: ignore[assignment]
        if node.id < 0 and node.id in wanted:
            loc = node.location
            if loc.valid():
                found[node.id] = (loc.lon, loc.lat)
    return found


def _fill_negative(
    xs: list[float], ys: list[float], refs: list[int], located: dict[int, tuple[float, float]]
) -> None:
    """Put the locations of negative-id nodes in place of their NaN placeholders."""
    for i, ref in enumerate(refs):
        if ref < 0 and math.isnan(xs[i]) and ref in located:
            xs[i], ys[i] = located[ref]


def read_osm_roads(path: str | Path) -> RoadLines:
    """Read every road and ferry line of an OSM file.

    See :func:`read_osm_roads_with_report`, which also says what was dropped.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    RoadLines
        Lines in EPSG:4326 (x = longitude, y = latitude), sorted by way id.

    Raises
    ------
    InputError
        The file is missing, of an unknown type, unreadable, or holds no roads.
    """
    lines, _ = read_osm_roads_with_report(path)
    return lines


def read_osm_roads_with_report(path: str | Path) -> tuple[RoadLines, OsmReadReport]:
    """Read every road and ferry line of an OSM file, and report what was dropped.

    Ways with a ``highway`` tag (any value: tracks, paths, footways, steps ... no mode filter
    is applied here) and ways tagged ``route=ferry`` are read. Highways that are not travelled
    roads (:data:`NON_ROAD_HIGHWAYS`, and ``area=yes`` such as pedestrian squares) are skipped.
    Node references whose node is not in the file are left out; a way left with fewer than 2
    points is dropped and counted. Ferry relations are not read (their member ways carry
    ``route=ferry`` themselves in OSM practice).

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    tuple[RoadLines, OsmReadReport]
        The lines (EPSG:4326, sorted by way id; if a way id occurs twice the last copy wins)
        and the read report.

    Raises
    ------
    InputError
        The file is missing, of an unknown type, unreadable, or holds no roads.
    """
    p, fmt = _check_path(path)
    way_ids: list[int] = []
    xs: list[list[float]] = []
    ys: list[list[float]] = []
    refs: list[list[int]] = []
    tag_rows: dict[str, list[str | None]] = {c: [] for c in TAG_COLUMNS}
    read_tags = [c for c in TAG_COLUMNS if c != "road_class"]
    dropped = nodes_missing = skipped = 0
    pending: set[int] = set()

    fp = _processor(p, fmt, EntityFilter(osmium.osm.WAY), KeyFilter("highway", "route"))
    for obj in _iterate(p, fp):
        way: osmium.osm.Way = obj  # type: ignore[assignment]
        tags = way.tags
        highway = tags.get("highway")
        ferry = tags.get("route") == "ferry"
        if not ferry:
            if highway is None:
                continue
            if highway in NON_ROAD_HIGHWAYS or tags.get("area") == "yes":
                skipped += 1
                continue
        wx: list[float] = []
        wy: list[float] = []
        wr: list[int] = []
        for nref in way.nodes:
            loc = nref.location
            if loc.valid():
                wx.append(loc.lon)
                wy.append(loc.lat)
                wr.append(nref.ref)
            elif nref.ref < 0:  # located after the pass (see _negative_node_locations)
                wx.append(math.nan)
                wy.append(math.nan)
                wr.append(nref.ref)
                pending.add(nref.ref)
            else:
                nodes_missing += 1
        if len(wr) < 2:
            dropped += 1
            continue
        way_ids.append(way.id)
        xs.append(wx)
        ys.append(wy)
        refs.append(wr)
        for col in read_tags:
            tag_rows[col].append(tags.get(col))
        tag_rows["road_class"].append(None)

    if pending:
        located = _negative_node_locations(p, fmt, pending)
        keep_way = []
        for wx, wy, wr in zip(xs, ys, refs, strict=True):
            _fill_negative(wx, wy, wr, located)
            missing = sum(1 for v in wx if math.isnan(v))
            if missing:
                nodes_missing += missing
                kept = [i for i, v in enumerate(wx) if not math.isnan(v)]
                wx[:] = [wx[i] for i in kept]
                wy[:] = [wy[i] for i in kept]
                wr[:] = [wr[i] for i in kept]
            keep_way.append(len(wr) >= 2)
        if not all(keep_way):
            dropped += keep_way.count(False)
            way_ids = [v for v, k in zip(way_ids, keep_way, strict=True) if k]
            xs = [v for v, k in zip(xs, keep_way, strict=True) if k]
            ys = [v for v, k in zip(ys, keep_way, strict=True) if k]
            refs = [v for v, k in zip(refs, keep_way, strict=True) if k]
            for col in TAG_COLUMNS:
                tag_rows[col] = [v for v, k in zip(tag_rows[col], keep_way, strict=True) if k]

    if not way_ids:
        raise InputError(
            "OSM file contains no highway ways or ferry routes"
            + (f" ({dropped} dropped: their nodes are not in the file)" if dropped else ""),
            path=p,
            fix="use an extract that covers the study area's roads (e.g. from Geofabrik)",
        )

    ids = np.asarray(way_ids, dtype=np.int64)
    # Sort by way id; if an id repeats (merged files), keep the last copy.
    rev_order = np.argsort(ids[::-1], kind="stable")
    rev_ids = ids[::-1][rev_order]
    first = np.ones(len(rev_ids), dtype=bool)
    first[1:] = rev_ids[1:] != rev_ids[:-1]
    order = (len(ids) - 1 - rev_order)[first]

    lengths = np.fromiter((len(refs[i]) for i in order), dtype=np.int64, count=len(order))
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    x = np.fromiter((v for i in order for v in xs[i]), dtype=np.float64, count=int(offsets[-1]))
    y = np.fromiter((v for i in order for v in ys[i]), dtype=np.float64, count=int(offsets[-1]))
    node_id = np.fromiter(
        (v for i in order for v in refs[i]), dtype=np.int64, count=int(offsets[-1])
    )
    tags_df = pd.DataFrame(
        {c: pd.Series([tag_rows[c][i] for i in order], dtype=object) for c in TAG_COLUMNS}
    )
    lines = RoadLines(
        way_id=ids[order],
        offsets=offsets,
        x=x,
        y=y,
        node_id=node_id,
        tags=tags_df,
        crs=_WGS84,
        source=p,
    )
    report = OsmReadReport(
        ways_read=lines.n_ways,
        ways_dropped_missing_nodes=dropped,
        ferries=int(lines.is_ferry().sum()),
        nodes_missing=nodes_missing,
        ways_skipped_not_road=skipped,
    )
    return lines, report


def _is_facility(tags: osmium.osm.TagList) -> bool:
    """Whether an object's tags make it a facility candidate."""
    return tags.get("amenity") in FACILITY_AMENITIES or "healthcare" in tags


def _facility_row(osm_type: str, osm_id: int, tags: osmium.osm.TagList) -> list[object]:
    """The attribute values of one facility, in :data:`FACILITY_COLUMNS` order."""
    return [
        osm_type,
        osm_id,
        tags.get("name"),
        tags.get("amenity"),
        tags.get("healthcare"),
        tags.get("school"),
        tags.get("isced:level"),
        tags.get("operator"),
        tags.get("capacity") or tags.get("beds"),
    ]


def _mean_point(points: Iterable[tuple[int, float, float]]) -> tuple[float, float] | None:
    """Mean of the located points ``(node_id, lon, lat)``, each node counted once (NaN skipped)."""
    seen: dict[int, tuple[float, float]] = {}
    for ref, lon, lat in points:
        if not math.isnan(lon):
            seen[ref] = (lon, lat)
    if not seen:
        return None
    lon = math.fsum(v[0] for v in seen.values()) / len(seen)
    lat = math.fsum(v[1] for v in seen.values()) / len(seen)
    return lon, lat


def _way_points(way: osmium.osm.Way) -> list[tuple[int, float, float]]:
    """Located nodes of a way as ``(node_id, lon, lat)``; NaN for negative ids (located later)."""
    out = []
    for nref in way.nodes:
        loc = nref.location
        if loc.valid():
            out.append((nref.ref, loc.lon, loc.lat))
        elif nref.ref < 0:
            out.append((nref.ref, math.nan, math.nan))
    return out


def _locate_negative(
    p: Path, fmt: str, point_lists: Iterable[list[tuple[int, float, float]]]
) -> None:
    """Fill in, in place, the NaN points of negative-id nodes (see _negative_node_locations)."""
    lists = list(point_lists)
    wanted = {ref for pts in lists for ref, lon, _ in pts if ref < 0 and math.isnan(lon)}
    if not wanted:
        return
    located = _negative_node_locations(p, fmt, wanted)
    for pts in lists:
        for i, (ref, lon, _) in enumerate(pts):
            if ref < 0 and math.isnan(lon) and ref in located:
                pts[i] = (ref, *located[ref])


def read_osm_facilities(path: str | Path) -> gpd.GeoDataFrame:
    """Read health and education facilities (and pharmacies) from an OSM file.

    A feature is read when ``amenity`` is one of :data:`FACILITY_AMENITIES` (hospital, clinic,
    doctors, school, kindergarten, college, university, pharmacy) or it has any
    ``healthcare=*`` tag. Pharmacies are kept: classifying services is done later.

    Each feature becomes one point:

    - a node: its location;
    - a way (normally closed, an outline): the mean of its distinct node coordinates (unclosed
      ways are kept too, with the same rule, rather than losing a facility);
    - a relation (multipolygon): the mean of the distinct nodes of its member ways; a
      relation none of whose member-way nodes are in the file is skipped.

    Nodes or ways without any located node are skipped.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`FACILITY_COLUMNS` and ``geometry`` (Points, EPSG:4326), sorted by
        ``osm_type`` then ``osm_id``. ``osm_id`` is ``int64``; the other attributes are strings
        or ``None``; ``isced_level`` is the ``isced:level`` tag and ``capacity`` the raw
        ``capacity`` (else ``beds``) tag. Empty (with these columns) when there is none.

    Raises
    ------
    InputError
        The file is missing, of an unknown type or unreadable.
    """
    import geopandas as gpd

    p, fmt = _check_path(path)
    rows: list[list[object]] = []
    points: list[tuple[float, float]] = []
    way_rows: list[tuple[list[object], list[tuple[int, float, float]]]] = []
    relations: list[tuple[list[object], list[int]]] = []

    fp = _processor(p, fmt, KeyFilter("amenity", "healthcare"))
    for obj in _iterate(p, fp):
        tags = obj.tags  # type: ignore[attr-defined]
        if not _is_facility(tags):
            continue
        if isinstance(obj, osmium.osm.Node):
            loc = obj.location
            if loc.valid():
                rows.append(_facility_row("node", obj.id, tags))
                points.append((loc.lon, loc.lat))
        elif isinstance(obj, osmium.osm.Way):
            way_rows.append((_facility_row("way", obj.id, tags), _way_points(obj)))
        elif isinstance(obj, osmium.osm.Relation):
            members = [m.ref for m in obj.members if m.type == "w"]
            if members:
                relations.append((_facility_row("relation", obj.id, tags), members))

    member_points: dict[int, list[tuple[int, float, float]]] = {}
    if relations:
        # Relations come after ways in an OSM file, so their member ways need a second pass.
        # libosmium's IdFilter takes only ids >= 0: negative (JOSM) way ids are matched here.
        wanted = {ref for _, members in relations for ref in members}
        filters: list[object] = [EntityFilter(osmium.osm.WAY)]
        if min(wanted) >= 0:
            filters.append(IdFilter(wanted))
        fp = _processor(p, fmt, *filters)
        for obj in _iterate(p, fp):
            if obj.id in wanted:  # type: ignore[attr-defined]
                member_points[obj.id] = _way_points(obj)  # type: ignore[arg-type, attr-defined]
    _locate_negative(p, fmt, [pts for _, pts in way_rows] + list(member_points.values()))
    for row, pts in way_rows:
        pt = _mean_point(pts)
        if pt is not None:
            rows.append(row)
            points.append(pt)
    for row, members in relations:
        pt = _mean_point(pt for ref in members for pt in member_points.get(ref, []))
        if pt is not None:
            rows.append(row)
            points.append(pt)

    frame = pd.DataFrame(
        {c: pd.Series([r[i] for r in rows], dtype=object) for i, c in enumerate(FACILITY_COLUMNS)}
    )
    frame["osm_id"] = frame["osm_id"].astype(np.int64)
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    geometry = shapely.points(xy[:, 0], xy[:, 1])
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=_WGS84)
    type_rank = gdf["osm_type"].map({"node": 0, "way": 1, "relation": 2})
    order = np.lexsort((gdf["osm_id"].to_numpy(), type_rank.to_numpy()))
    return gdf.iloc[order].reset_index(drop=True)


def _population_tag(text: str | None) -> float:
    """The ``population`` tag as a number (``"12 345"``, ``"12,345"``); NaN when it is not one."""
    digits = (text or "").replace(",", "").replace(" ", "").replace(".", "")
    return float(digits) if digits.isdigit() else math.nan


def read_osm_places(path: str | Path) -> gpd.GeoDataFrame:
    """Read named settlements (``place=city|town|village|hamlet`` nodes) from an OSM file.

    Only nodes are read: settlements mapped as areas only (rare for villages) are left out.
    A node without a ``name`` (or with a blank one) is skipped, as the map has nothing to show
    for it.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`PLACE_COLUMNS` and ``geometry`` (Points, EPSG:4326), sorted by
        ``osm_id``: ``osm_id`` ``int64``, ``name`` the ``name`` tag (stripped), ``place`` one
        of :data:`PLACE_KINDS`, ``population`` the ``population`` tag as a number (NaN when
        absent or not a number). Empty (with these columns) when there is none.

    Raises
    ------
    InputError
        The file is missing, of an unknown type or unreadable.
    """
    import geopandas as gpd

    p, fmt = _check_path(path)
    rows: list[tuple[int, str, str, float, float, float]] = []
    fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.NODE).with_filter(
        KeyFilter("place")
    )
    for obj in _iterate(p, fp):
        node: osmium.osm.Node = obj  # type: ignore[assignment]
        kind = node.tags.get("place")
        name = (node.tags.get("name") or "").strip()
        if kind not in PLACE_KINDS or not name or not node.location.valid():
            continue
        population = _population_tag(node.tags.get("population"))
        rows.append((node.id, name, kind, population, node.location.lon, node.location.lat))
    rows.sort(key=lambda r: r[0])
    frame = pd.DataFrame(
        {
            "osm_id": pd.Series([r[0] for r in rows], dtype=np.int64),
            "name": pd.Series([r[1] for r in rows], dtype=object),
            "place": pd.Series([r[2] for r in rows], dtype=object),
            "population": pd.Series([r[3] for r in rows], dtype=np.float64),
        }
    )
    xy = np.asarray([(r[4], r[5]) for r in rows], dtype=np.float64).reshape(-1, 2)
    return gpd.GeoDataFrame(frame, geometry=shapely.points(xy[:, 0], xy[:, 1]), crs=_WGS84)
