"""Cut country-wide downloads to the study area: raster window, OSM extract, boundaries."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import osmium
import rasterio
import shapely
from affine import Affine
from osmium.filter import EntityFilter, IdFilter, KeyFilter
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from reach.errors import FetchError
from reach.fetch.sources import BBox
from reach.ingest.osm import FACILITY_AMENITIES, NON_ROAD_HIGHWAYS

__all__ = ["clip_boundaries", "clip_osm_pbf", "clip_population", "write_zones"]

_ROWS_PER_BLOCK = 1024


def clip_population(src: Path, dst: Path, bbox: BBox, *, source: str) -> tuple[int, int]:
    """Write the cells of raster ``src`` that cover ``bbox`` to ``dst`` (GeoTIFF, deflate).

    The window is widened to whole cells; values, nodata, CRS and cell size are kept. Rows are
    copied in blocks, so a country raster is never read whole.

    Parameters
    ----------
    src, dst
        The downloaded raster and the GeoTIFF to write.
    bbox
        The area (lon/lat).
    source
        Where ``src`` came from, for messages.

    Returns
    -------
    tuple[int, int]
        Rows and columns written.

    Raises
    ------
    FetchError
        When the raster cannot be read or does not overlap the area.
    """
    try:
        ds = rasterio.open(src)
    except RasterioIOError as exc:
        raise FetchError(
            f"the population raster cannot be read ({' '.join(str(exc).split())[:150]})",
            path=source,
            fix="fetch again with refresh=True (--refresh), or check the WorldPop base URL",
        ) from exc
    with ds:
        bounds = tuple(bbox)
        if ds.crs is not None and ds.crs.to_epsg() != 4326:
            bounds = transform_bounds("EPSG:4326", ds.crs, *bbox)
        inv = ~ds.transform
        cols, rows = zip(
            *(inv @ (x, y) for x in (bounds[0], bounds[2]) for y in (bounds[1], bounds[3])),
            strict=True,
        )
        col0 = max(0, math.floor(min(cols) + 1e-9))
        row0 = max(0, math.floor(min(rows) + 1e-9))
        col1 = min(ds.width, math.ceil(max(cols) - 1e-9))
        row1 = min(ds.height, math.ceil(max(rows) - 1e-9))
        if col1 <= col0 or row1 <= row0:
            raise FetchError(
                f"the population raster does not cover the area {bbox.text()}",
                path=source,
                fix="check the ISO3 code: the raster is of another country",
            )
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "height": row1 - row0,
            "width": col1 - col0,
            "count": 1,
            "dtype": ds.dtypes[0],
            "crs": ds.crs,
            "transform": ds.transform @ Affine.translation(col0, row0),
            "nodata": ds.nodata,
            "compress": "DEFLATE",
            "NUM_THREADS": "1",
        }
        if profile["width"] >= 256 and profile["height"] >= 256:
            profile.update(tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(dst, "w", **profile) as out:
            for start in range(row0, row1, _ROWS_PER_BLOCK):
                height = min(_ROWS_PER_BLOCK, row1 - start)
                block = ds.read(1, window=Window(col0, start, col1 - col0, height))
                out.write(block, 1, window=Window(0, start - row0, col1 - col0, height))
    return row1 - row0, col1 - col0


def write_zones(zones: gpd.GeoDataFrame, dst: Path, *, sort_by: str | None = None) -> int:
    """Write polygons as GeoJSON (lon/lat, no feature ids, rows sorted); return how many.

    Parameters
    ----------
    zones
        The polygons (a frame without a CRS is taken as lon/lat).
    dst
        The GeoJSON file to write.
    sort_by
        A column to sort the rows by (stable), when the frame has it.

    Returns
    -------
    int
        Zones written.
    """
    frame = zones.to_crs("EPSG:4326") if zones.crs is not None else zones.set_crs("EPSG:4326")
    if sort_by is not None and sort_by in frame.columns:
        frame = frame.sort_values(sort_by, kind="stable")
    frame = frame.reset_index(drop=True)
    dst.write_text(frame.to_json(drop_id=True) + "\n", encoding="utf-8")
    return len(frame)


def clip_boundaries(src: Path, dst: Path, bbox: BBox, *, source: str, id_column: str) -> int:
    """Write the boundaries of ``src`` that meet ``bbox``, cut to it, as GeoJSON.

    Parameters
    ----------
    src, dst
        The downloaded boundaries and the GeoJSON to write.
    bbox
        The area (lon/lat).
    source
        Where ``src`` came from, for messages.
    id_column
        The column of zone ids, to sort the rows by.

    Returns
    -------
    int
        Zones written (0: none meets the area, and nothing is written).

    Raises
    ------
    FetchError
        When the downloaded file cannot be read.
    """
    try:
        zones = gpd.read_file(src, engine="pyogrio")
    except Exception as exc:  # pyogrio / GDAL raise many kinds
        raise FetchError(
            f"the boundaries file cannot be read ({' '.join(str(exc).split())[:150]})",
            path=source,
            fix="fetch again with refresh=True (--refresh), or check the geoBoundaries base URL",
        ) from exc
    zones = zones.to_crs("EPSG:4326") if zones.crs is not None else zones.set_crs("EPSG:4326")
    area = shapely.box(*bbox)
    zones = zones[zones.intersects(area)]
    if zones.empty:
        return 0
    cut = gpd.clip(zones, area, keep_geom_type=True)
    cut = cut[~cut.geometry.is_empty & cut.geometry.notna()]
    if cut.empty:
        return 0
    return write_zones(cut, dst, sort_by=id_column)


# --- OSM -----------------------------------------------------------------------------------------


def _is_facility(tags: osmium.osm.TagList) -> bool:
    return tags.get("amenity") in FACILITY_AMENITIES or "healthcare" in tags


def _way_meets(way: osmium.osm.Way, bbox: BBox) -> bool:
    """Whether a way has a node in the box or crosses it."""
    xs: list[float] = []
    ys: list[float] = []
    for nref in way.nodes:
        loc = nref.location
        if loc.valid():
            lon, lat = loc.lon, loc.lat
            if bbox.west <= lon <= bbox.east and bbox.south <= lat <= bbox.north:
                return True
            xs.append(lon)
            ys.append(lat)
    if len(xs) < 2:
        return False
    if max(xs) < bbox.west or min(xs) > bbox.east or max(ys) < bbox.south or min(ys) > bbox.north:
        return False
    return bool(shapely.intersects(shapely.linestrings(xs, ys), shapely.box(*bbox)))


def _wanted_way(tags: osmium.osm.TagList) -> bool:
    highway = tags.get("highway")
    if highway is not None and highway not in NON_ROAD_HIGHWAYS:
        return True
    return tags.get("route") == "ferry" or _is_facility(tags)


def clip_osm_pbf(src: Path, dst: Path, bbox: BBox, *, source: str) -> None:
    """Write the roads, ferries and facilities of an OSM file that meet ``bbox`` to ``dst``.

    Ways are kept whole (with all their nodes) when any part lies in the box; facility nodes
    when they lie in it; facility relations (e.g. a hospital drawn as a multipolygon) when one
    of their member ways meets it, with those ways.

    Parameters
    ----------
    src
        An ``.osm.pbf`` (or ``.osm``) file, e.g. a country extract.
    dst
        The file to write; its name ending sets the format (``.osm.pbf``).
    bbox
        The area (lon/lat).
    source
        Where ``src`` came from, for messages.

    Raises
    ------
    FetchError
        When the extract cannot be read.
    """
    fmt = "osm" if src.name.endswith(".osm") else "pbf"
    keys = KeyFilter("highway", "route", "amenity", "healthcare")
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []
    try:
        with osmium.BackReferenceWriter(str(dst), ref_src=str(src), overwrite=True) as writer:
            processor = osmium.FileProcessor(osmium.io.File(str(src), fmt)).with_locations()
            for obj in processor.with_filter(keys):
                tags = obj.tags
                if isinstance(obj, osmium.osm.Node):
                    loc = obj.location
                    if (
                        _is_facility(tags)
                        and loc.valid()
                        and bbox.west <= loc.lon <= bbox.east
                        and bbox.south <= loc.lat <= bbox.north
                    ):
                        writer.add_node(obj)
                elif isinstance(obj, osmium.osm.Way):
                    if _wanted_way(tags) and _way_meets(obj, bbox):
                        writer.add_way(obj)
                elif isinstance(obj, osmium.osm.Relation) and _is_facility(tags):
                    members = [(m.type, m.ref, m.role) for m in obj.members]
                    if any(t == "w" for t, _, _ in members):
                        relations.append((obj.id, members, {t.k: t.v for t in tags}))
            if relations:
                wanted = {ref for _, members, _ in relations for t, ref, _ in members if t == "w"}
                meeting: set[int] = set()
                ways = osmium.FileProcessor(osmium.io.File(str(src), fmt)).with_locations()
                for way in ways.with_filter(EntityFilter(osmium.osm.WAY)).with_filter(
                    IdFilter(wanted)
                ):
                    if _way_meets(way, bbox):  # type: ignore[arg-type]
                        meeting.add(way.id)
                for rel_id, members, rel_tags in relations:
                    if any(t == "w" and ref in meeting for t, ref, _ in members):
                        writer.add_relation(
                            osmium.osm.mutable.Relation(id=rel_id, members=members, tags=rel_tags)
                        )
    except (RuntimeError, OSError, ValueError) as exc:
        raise FetchError(
            f"the OSM extract cannot be read ({' '.join(str(exc).split())[:150]})",
            path=source,
            fix="fetch again with refresh=True (--refresh), or check the PBF URL",
        ) from exc
