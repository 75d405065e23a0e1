"""The demo region's ``roads.osm``: roads and ferries as OSM XML, nodes every ~90 m."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from reach.demo.ferries import FERRY_KMH, FERRY_NODE_SPACING_KM, Ferry
from reach.demo.layout import BLOCK, EARTH_RADIUS_KM, Layout
from reach.demo.road_tags import road_tags
from reach.demo.roads import Way
from reach.demo.streams import STREAM_TAGS, random_stream

__all__ = ["write_osm"]


def _haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def write_osm(
    path: Path, ways: Sequence[Way], ferries: Sequence[Ferry], *, layout: Layout, seed: int
) -> dict[str, Any]:
    """Write roads and ferries as OSM XML; return lengths and counts.

    Parameters
    ----------
    path
        The file to write.
    ways
        The roads of every island group, in order.
    ferries
        The ferry routes.
    layout
        The region's grid.
    seed
        The region's seed (for the road tags).

    Returns
    -------
    dict
        ``osm_nodes``, ``osm_ways``, ``road_km_by_highway``, ``road_km_total`` and ``ferries``
        (name, km, duration of each), for the region's ``summary.json``.
    """
    ccols = layout.coarse_cols
    rng = random_stream(seed, STREAM_TAGS)
    coarse = sorted(
        {n for w in ways for n in w.nodes} | {f.a for f in ferries} | {f.b for f in ferries}
    )
    ids = {n: i + 1 for i, n in enumerate(coarse)}
    xs: list[float] = [(n % ccols) * BLOCK + BLOCK / 2 for n in coarse]
    ys: list[float] = [(n // ccols) * BLOCK + BLOCK / 2 for n in coarse]

    def interpolate(a: int, b: int, n_mid: int) -> list[int]:
        xa, ya = (a % ccols) * BLOCK + BLOCK / 2, (a // ccols) * BLOCK + BLOCK / 2
        xb, yb = (b % ccols) * BLOCK + BLOCK / 2, (b // ccols) * BLOCK + BLOCK / 2
        refs = []
        for k in range(1, n_mid + 1):
            t = k / (n_mid + 1)
            xs.append(xa + t * (xb - xa))
            ys.append(ya + t * (yb - ya))
            refs.append(len(xs))
        return refs

    way_xml: list[str] = []
    road_km: dict[str, float] = {}
    lat_of = layout.lat
    lon_of = layout.lon
    way_id = 0
    for way in ways:
        refs = [ids[way.nodes[0]]]
        km = 0.0
        for a, b in itertools.pairwise(way.nodes):
            diagonal = (a % ccols != b % ccols) and (a // ccols != b // ccols)
            refs += interpolate(a, b, BLOCK if diagonal else BLOCK - 1)
            refs.append(ids[b])
        for a, b in itertools.pairwise(way.nodes):
            ya, yb = (a // ccols) * BLOCK + 2.0, (b // ccols) * BLOCK + 2.0
            xa, xb = (a % ccols) * BLOCK + 2.0, (b % ccols) * BLOCK + 2.0
            km += _haversine_km(
                float(lon_of(xa)), float(lat_of(ya)), float(lon_of(xb)), float(lat_of(yb))
            )
        road_km[way.highway] = road_km.get(way.highway, 0.0) + km
        tags = road_tags(way, rng)
        way_id += 1
        way_xml.append(_way_element(way_id, refs, tags))
    ferry_stats = []
    for ferry in ferries:
        xa, ya = (ferry.a % ccols) * BLOCK + 2.0, (ferry.a // ccols) * BLOCK + 2.0
        xb, yb = (ferry.b % ccols) * BLOCK + 2.0, (ferry.b // ccols) * BLOCK + 2.0
        km = _haversine_km(
            float(lon_of(xa)), float(lat_of(ya)), float(lon_of(xb)), float(lat_of(yb))
        )
        n_mid = max(0, math.ceil(km / FERRY_NODE_SPACING_KM) - 1)
        refs = [ids[ferry.a], *interpolate(ferry.a, ferry.b, n_mid), ids[ferry.b]]
        minutes = max(10, 5 * round(km / FERRY_KMH * 60 / 5))
        duration = f"{minutes // 60:02d}:{minutes % 60:02d}"
        tags = {
            "route": "ferry",
            "duration": duration,
            "name": ferry.name,
            "foot": "yes",
            "motor_vehicle": "yes",
        }
        way_id += 1
        way_xml.append(_way_element(way_id, refs, tags))
        ferry_stats.append({"name": ferry.name, "km": round(km, 2), "duration": duration})

    lon = np.round(lon_of(np.array(xs)), 7)
    lat = np.round(lat_of(np.array(ys)), 7)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="reach-synthetic">\n')
        fh.write(
            f' <bounds minlat="{float(layout.lat(layout.rows)):.7f}" '
            f'minlon="{float(layout.lon(0)):.7f}" maxlat="{float(layout.lat(0)):.7f}" '
            f'maxlon="{float(layout.lon(layout.cols)):.7f}"/>\n'
        )
        chunk: list[str] = []
        for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True), start=1):
            chunk.append(f' <node id="{i}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>\n')
            if len(chunk) >= 100_000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))
        fh.writelines(way_xml)
        fh.write("</osm>\n")
    return {
        "osm_nodes": len(xs),
        "osm_ways": way_id,
        "road_km_by_highway": {k: round(v, 1) for k, v in sorted(road_km.items())},
        "road_km_total": round(sum(road_km.values()), 1),
        "ferries": ferry_stats,
    }


def _way_element(way_id: int, refs: Sequence[int], tags: dict[str, str]) -> str:
    parts = [f' <way id="{way_id}" version="1">\n']
    parts += [f'  <nd ref="{r}"/>\n' for r in refs]
    parts += [f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in sorted(tags.items())]
    parts.append(" </way>\n")
    return "".join(parts)
