"""A tiny region written by the tests themselves: 40 × 40 cells, one road, two clinics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

CELL_DEG = 0.001
WEST, NORTH = 120.0, -9.0
SIZE = 40

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="reach-tests">
  <node id="1" lat="-9.0205" lon="120.0015"/>
  <node id="2" lat="-9.0205" lon="120.0200"/>
  <node id="3" lat="-9.0205" lon="120.0385"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>
</osm>
"""

FACILITIES_CSV = "facility_id,name,tier,lon,lat\nC1,Pustu Barat,clinic,120.0025,-9.0205\nC2,Pustu Timur,clinic,120.0375,-9.0305\n"

ZONES = """{"type": "FeatureCollection",
"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
"features": [
{"type": "Feature", "properties": {"zone_id": "W", "name": "West"},
 "geometry": {"type": "Polygon", "coordinates": [[[120.0, -9.0], [120.02, -9.0], [120.02, -9.04], [120.0, -9.04], [120.0, -9.0]]]}},
{"type": "Feature", "properties": {"zone_id": "E", "name": "East"},
 "geometry": {"type": "Polygon", "coordinates": [[[120.02, -9.0], [120.04, -9.0], [120.04, -9.04], [120.02, -9.04], [120.02, -9.0]]]}}
]}
"""

SCENARIO = """version = 1
[scenario]
name = "Tiny"
[region]
population = "population.tif"
osm = "roads.osm"
[region.boundaries]
path = "zones.geojson"
id_column = "zone_id"
name_column = "name"
[[services]]
name = "health"
kind = "health"
mode = "motorbike"
thresholds_min = [5, 15, 30]
facilities = { path = "clinics.csv", id_column = "facility_id", tier_column = "tier" }
[outputs]
folder = "out"
"""


def write_population(path: Path, people: np.ndarray, *, nodata: float | None = -99999.0) -> None:
    """Write a population GeoTIFF on the tiny grid."""
    with rasterio.open(
        path, "w", driver="GTiff", height=people.shape[0], width=people.shape[1], count=1,
        dtype="float32", crs="EPSG:4326", nodata=nodata,
        transform=Affine(CELL_DEG, 0, WEST, 0, -CELL_DEG, NORTH),
    ) as dst:  # fmt: skip
        dst.write(people.astype(np.float32), 1)


def tiny_people() -> np.ndarray:
    """People per cell: 10 everywhere, a village of 500 in one cell, sea (nodata) on the east edge."""
    people = np.full((SIZE, SIZE), 10.0)
    people[30, 8] = 500.0
    people[:, -2:] = -99999.0
    return people


def write_tiny_region(folder: Path) -> Path:
    """Write the tiny region and its scenario into ``folder``; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_population(folder / "population.tif", tiny_people())
    (folder / "roads.osm").write_text(OSM)
    (folder / "clinics.csv").write_text(FACILITIES_CSV)
    (folder / "zones.geojson").write_text(ZONES)
    scenario = folder / "tiny.toml"
    scenario.write_text(SCENARIO)
    return scenario
