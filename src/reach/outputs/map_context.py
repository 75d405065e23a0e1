"""Place context for the coverage maps, from the region's own inputs (no tile server).

* Roads and ferries: the region's road lines in a few classes (main, other, track or path,
  ferry), merged, simplified to about half a cell and written as delta-encoded integers for
  :class:`~reach.outputs.map_layers.Polylines`.
* Label placement: the zoom level from which each label (a facility's or a settlement's name)
  is shown, so that, at every zoom, a label never covers one shown before it in rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from pyproj import CRS, Transformer

from reach.ingest.roads import RoadLines

__all__ = [
    "LABEL_HEIGHT_PX",
    "ROAD_CLASSES",
    "encode_lines",
    "label_min_zooms",
    "label_width_px",
    "road_class_lines",
]

#: Road classes of the map, drawn in this order (so the main roads are on top).
ROAD_CLASSES: tuple[str, ...] = ("track", "other", "main", "ferry")

#: Height of a label's box, in pixels, for placement.
LABEL_HEIGHT_PX = 14

_MAIN = {"motorway", "trunk", "primary", "secondary"}
_TRACK = {"track", "path", "footway", "bridleway", "steps", "pedestrian", "cycleway"}
_EARTH_M = 2 * math.pi * 6_378_137.0


def _road_class(highway: object, road_class: object, route: object) -> str:
    if route == "ferry":
        return "ferry"
    tag = str(highway if isinstance(highway, str) else road_class or "").lower()
    tag = tag.removesuffix("_link")
    if tag in _MAIN:
        return "main"
    if tag in _TRACK:
        return "track"
    return "other"


def road_class_lines(
    roads: RoadLines,
    *,
    tolerance_m: float,
    bounds: tuple[float, float, float, float],
) -> dict[str, shapely.Geometry]:
    """The region's roads and ferries by map class, merged, clipped and simplified.

    Parameters
    ----------
    roads
        The road and ferry lines (any CRS).
    tolerance_m
        Simplification tolerance in metres (e.g. half a grid cell).
    bounds
        ``(west, south, east, north)`` in degrees: lines are clipped to it.

    Returns
    -------
    dict of str to shapely.Geometry
        Class (one of :data:`ROAD_CLASSES`) → its lines in longitude / latitude, for the
        classes that have any.
    """
    if roads.n_ways == 0:
        return {}
    x, y = np.asarray(roads.x, dtype=np.float64), np.asarray(roads.y, dtype=np.float64)
    crs = CRS.from_user_input(roads.crs)
    if not crs.equals(CRS.from_epsg(4326)):
        x, y = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    counts = np.diff(np.asarray(roads.offsets))
    tags = roads.tags
    classes = np.array(
        [
            _road_class(h, c, r)
            for h, c, r in zip(tags["highway"], tags["road_class"], tags["route"], strict=True)
        ]
    )
    keep_way = counts >= 2
    way_of_point = np.repeat(np.arange(roads.n_ways), counts)
    tol_deg = tolerance_m / 111_320.0
    out: dict[str, shapely.Geometry] = {}
    for name in ROAD_CLASSES:
        ways = np.flatnonzero(keep_way & (classes == name))
        if len(ways) == 0:
            continue
        pick = np.isin(way_of_point, ways)
        _, index = np.unique(way_of_point[pick], return_inverse=True)
        lines = shapely.linestrings(np.column_stack([x[pick], y[pick]]), indices=index)
        merged = shapely.line_merge(shapely.multilinestrings(lines))
        clipped = shapely.clip_by_rect(merged, *bounds)
        simple = shapely.simplify(clipped, tol_deg, preserve_topology=False)
        if not simple.is_empty:
            out[name] = simple
    return out


def encode_lines(geometry: shapely.Geometry, *, scale: int) -> list[list[int]]:
    """The lines of a geometry as delta-encoded integers (``[x0, y0, dx1, dy1, …]`` each).

    Parameters
    ----------
    geometry
        Lines (LineString, MultiLineString or a collection holding them), longitude / latitude.
    scale
        Integer units per degree (e.g. ``10_000`` for about 11 m).

    Returns
    -------
    list of list of int
        One list per line with two or more distinct points, in the geometry's order.
    """
    out: list[list[int]] = []
    for part in shapely.get_parts(geometry):
        if part.geom_type == "LineString":
            parts = [part]
        elif part.geom_type == "MultiLineString" or part.geom_type == "GeometryCollection":
            parts = list(shapely.get_parts(part))
        else:
            continue
        for line in parts:
            if line.geom_type != "LineString":
                continue
            q = np.round(np.asarray(line.coords)[:, :2] * scale).astype(np.int64)
            keep = np.ones(len(q), dtype=bool)
            keep[1:] = np.any(q[1:] != q[:-1], axis=1)
            q = q[keep]
            if len(q) < 2:
                continue
            deltas = np.vstack([q[:1], np.diff(q, axis=0)])
            out.append(deltas.ravel().tolist())
    return out


def label_width_px(text: str) -> float:
    """A label's width in pixels for placement (about 7 pixels a character, plus padding).

    Parameters
    ----------
    text
        The label's text (unescaped).

    Returns
    -------
    float
        The estimated width.
    """
    return 7.0 * len(text) + 8.0


def label_min_zooms(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    widths_px: Sequence[float] | np.ndarray,
    *,
    min_zoom: int = 7,
    max_zoom: int = 17,
    offset_px: float = 7.0,
) -> np.ndarray:
    """The first zoom level each label can show at without covering a label ranked before it.

    Labels are boxes :data:`LABEL_HEIGHT_PX` high and ``widths_px`` wide, starting
    ``offset_px`` right of their point. Taken in the given order (the rank), each gets the
    lowest zoom in ``[min_zoom, max_zoom]`` at which its box overlaps no box of an earlier
    label shown at that zoom; a label that fits nowhere shows from ``max_zoom`` (where
    overlaps are allowed).

    Parameters
    ----------
    lon, lat
        Each label's point, degrees.
    widths_px
        Each label's width in pixels (see :func:`label_width_px`).
    min_zoom, max_zoom
        The zoom levels considered.
    offset_px
        Gap between the point and the label's left edge.

    Returns
    -------
    numpy.ndarray
        ``int64`` zoom per label.
    """
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.clip(np.asarray(lat, dtype=np.float64), -85.0, 85.0)
    width = np.asarray(widths_px, dtype=np.float64)
    # Web Mercator in units of a world 1 pixel wide at zoom 0
    wx = (lon_a + 180.0) / 360.0
    wy = (1.0 - np.log(np.tan(np.radians(lat_a)) + 1.0 / np.cos(np.radians(lat_a))) / np.pi) / 2
    n = len(lon_a)
    zooms = np.full(n, max_zoom, dtype=np.int64)
    for i in range(n):
        for z in range(min_zoom, max_zoom + 1):
            shown = np.flatnonzero(zooms[:i] <= z)
            if len(shown) == 0:
                zooms[i] = z
                break
            px = 256.0 * 2.0**z
            dx = (wx[shown] - wx[i]) * px
            dy = (wy[shown] - wy[i]) * px
            # boxes [offset, offset + w] × [-h/2, h/2] around each point
            apart_x = (dx + offset_px >= offset_px + width[i]) | (
                dx + offset_px + width[shown] <= offset_px
            )
            apart_y = np.abs(dy) >= LABEL_HEIGHT_PX
            if np.all(apart_x | apart_y):
                zooms[i] = z
                break
    return zooms
