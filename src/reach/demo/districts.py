"""The districts (kecamatan) of the demo region, as GeoJSON text."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from rasterio.features import shapes as raster_shapes
from rasterio.transform import Affine
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping, shape

from reach.demo.layout import BLOCK, RES_DEG, GroupBox, Layout
from reach.demo.places import GroupPlan, Place, farthest
from reach.demo.terrain import Terrain

__all__ = ["DISTRICTS_HEAD", "districts_geojson"]

#: How the text of a districts file the generator wrote begins.
DISTRICTS_HEAD = '{"type":"FeatureCollection","name":"demo_districts"'

_DIRECTIONS = ("Timur", "Timur Laut", "Utara", "Barat Laut", "Barat", "Barat Daya", "Selatan",
               "Tenggara")  # fmt: skip


def _district_seats(plan: GroupPlan) -> list[Place]:
    """Seats of the main island's districts: its towns, then big villages far from them."""
    want = int(np.clip(round(plan.main_km2 / 300.0), 2, 5))
    seats = [p for p in plan.places if p.is_town and p.island == plan.main_label]
    seats = seats[:want]
    nx = plan.land.shape[1]
    villages = sorted(
        (p for p in plan.places if p.kind == "village" and p.island == plan.main_label),
        key=lambda p: -p.population,
    )
    pool = villages[: max(1, len(villages) // 2)]
    while len(seats) < want and pool:
        nodes = np.array([p.node for p in pool])
        pick = farthest(nodes, nx, [s.node for s in seats])
        chosen = next(p for p in pool if p.node == pick)
        seats.append(chosen)
        pool.remove(chosen)
    return seats


def _as_multipolygon(geom: Any) -> MultiPolygon:
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", [geom]):
        if isinstance(g, Polygon) and not g.is_empty:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(p for p in g.geoms if not p.is_empty)
    return MultiPolygon(parts)


def _rounded(coords: Any) -> Any:
    if isinstance(coords, list | tuple):
        if coords and isinstance(coords[0], float | int):
            return [round(float(c), 6) for c in coords]
        return [_rounded(c) for c in coords]
    return coords


def districts_geojson(layout: Layout, terrain: Terrain, plans: Sequence[GroupPlan]) -> str:
    """District polygons as GeoJSON text.

    Per island group: the land (coarse blocks with any cell above sea level, buffered and
    simplified by half a block) of the main island is split by the Voronoi cells of its
    district seats; the second island with nearby islets is one more district.

    Parameters
    ----------
    layout
        The region's grid.
    terrain
        The region's terrain.
    plans
        The island groups, with the populations of their places.

    Returns
    -------
    str
        A FeatureCollection of MultiPolygons (EPSG:4326) with ``zone_id`` and ``name``, one
        feature a line, beginning with :data:`DISTRICTS_HEAD`.
    """
    tol_deg = 0.5 * BLOCK * RES_DEG
    features: list[tuple[str, str, MultiPolygon]] = []
    used: set[str] = set()
    n_total = sum(int(np.clip(round(p.main_km2 / 300.0), 2, 5)) + 1 for p in plans)
    width = max(2, len(str(n_total)))

    def unique(name: str, fallback: str) -> str:
        full = f"Kecamatan {name}"
        if full in used:
            full = f"Kecamatan {fallback}"
        used.add(full)
        return full

    for plan in plans:
        box = plan.box
        sub = (terrain.n_any[box.cr0 : box.cr1, box.cc0 : box.cc1] > 0).astype(np.uint8)
        west = layout.west_deg + box.cc0 * BLOCK * RES_DEG
        north = layout.north_deg - box.cr0 * BLOCK * RES_DEG
        tr = Affine(BLOCK * RES_DEG, 0.0, west, 0.0, -BLOCK * RES_DEG, north)
        polys = [
            shape(geom).buffer(0)
            for geom, _ in raster_shapes(sub, mask=sub.astype(bool), connectivity=8, transform=tr)
        ]
        frame = _box_polygon(layout, box)

        def point_of(place: Place, plan: GroupPlan = plan) -> Point:
            r, c = plan.place_px(place)
            return Point(float(layout.lon(c)), float(layout.lat(r)))

        seats = _district_seats(plan)
        second_town = next((p for p in plan.places if p.kind == "island_town"), None)
        main_poly = next((p for p in polys if p.contains(point_of(plan.capital))), None)
        second_poly = (
            next((p for p in polys if p.contains(point_of(second_town))), None)
            if second_town is not None
            else None
        )
        main_parts: list[Any] = []
        second_parts: list[Any] = []
        for poly in polys:
            if second_poly is None or main_poly is None:
                main_parts.append(poly)
            elif poly is second_poly:
                second_parts.append(poly)
            elif poly is main_poly or poly.distance(main_poly) <= poly.distance(second_poly):
                main_parts.append(poly)
            else:
                second_parts.append(poly)

        def cleaned(parts: list[Any], frame: Polygon = frame) -> Any:
            merged = shapely.union_all(parts).buffer(tol_deg, quad_segs=2)
            return merged.simplify(tol_deg).intersection(frame)

        main_area = cleaned(main_parts)
        seat_points = [point_of(s) for s in seats]
        if len(seats) > 1:
            cells = shapely.voronoi_polygons(shapely.MultiPoint(seat_points), extend_to=frame).geoms
            pieces = []
            for pt in seat_points:
                cell = next(c for c in cells if c.contains(pt))
                pieces.append(main_area.intersection(cell))
        else:
            pieces = [main_area]
        cx, cy = main_area.centroid.x, main_area.centroid.y
        for seat, pt, piece in zip(seats, seat_points, pieces, strict=True):
            if seat.kind == "capital":
                label = f"Kota {seat.name}"
            else:
                ang = math.degrees(math.atan2(pt.y - cy, pt.x - cx)) % 360.0
                direction = _DIRECTIONS[round(ang / 45.0) % 8]
                label = f"Pantai {direction}" if seat.coastal else f"{plan.main_name} {direction}"
            features.append((unique(label, seat.name), seat.name, _as_multipolygon(piece)))
        if second_parts:
            features.append(
                (
                    unique(f"Pulau {plan.second_name}", f"Pulau {plan.second_name}"),
                    plan.second_name,
                    _as_multipolygon(cleaned(second_parts)),
                )
            )

    lines = []
    for k, (name, _, geom) in enumerate(features, start=1):
        g = shapely.orient_polygons(shapely.set_precision(geom, 1e-6), exterior_cw=False)
        g = _as_multipolygon(shapely.make_valid(g))
        feature = {
            "type": "Feature",
            "properties": {"zone_id": f"K{k:0{width}d}", "name": name},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": _rounded(mapping(g)["coordinates"]),
            },
        }
        lines.append(json.dumps(feature, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    head = DISTRICTS_HEAD + ',"features":[\n'
    return head + ",\n".join(lines) + "\n]}\n"


def _box_polygon(layout: Layout, group: GroupBox) -> Polygon:
    """The lon/lat rectangle of a group's footprint."""
    return box(
        float(layout.lon(group.c0)),
        float(layout.lat(group.r1)),
        float(layout.lon(group.c1)),
        float(layout.lat(group.r0)),
    )
