"""Shared test helpers, in one place: the tiny region and its scenario set, written by the tests
themselves (40 × 40 cells, one road, two clinics), loaded and evaluated, and the equality of two
evaluations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from affine import Affine

from reach.engine.combined import combined_search
from reach.ingest.roads import TAG_COLUMNS, RoadLines
from reach.model.assemble import SearchGraph
from reach.model.grid import AnalysisGrid
from reach.model.region import Region
from reach.results import Evaluation
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.run.session import service_graph
from reach.spec import load_scenario

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


#: Mobile towers for the telemedicine alternative.
TOWERS = """{"type": "FeatureCollection",
"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
"features": [{"type": "Feature", "properties": {"site": "Desa Tengah"},
 "geometry": {"type": "Point", "coordinates": [120.012, -9.032]}}]}
"""

#: One alternative of each kind of operation, on the tiny region.
ALTERNATIVES = """
[[alternatives]]
name = "new_post"
description = "A health post in the south-west village"
cost = 1000
operations = [{ op = "add_facility", service = "health", facility_id = "P1", name = "Pustu Baru", lon = 120.0085, lat = -9.0305, tier = "health_post", capacity = 500 }]

[[alternatives]]
name = "close_east"
operations = [{ op = "close_facility", service = "health", facility_id = "C2" }]

[[alternatives]]
name = "pave"
cost = 5000
operations = [{ op = "upgrade_road", way_ids = [10], set_highway = "primary", set_surface = "asphalt" }]

[[alternatives]]
name = "south_road"
cost = 8000
operations = [{ op = "add_road", start = [120.003, -9.035], end = [120.036, -9.0305], highway = "secondary" }]

[[alternatives]]
name = "wet"
operations = [{ op = "season", name = "wet", share_of_year = 0.4, surface_multipliers = { unpaved = 0.5 }, walk_multiplier = 0.5 }]

[[alternatives]]
name = "few_bikes"
operations = [{ op = "vehicle_availability", service = "health", share = 0.3 }]

[[alternatives]]
name = "tele"
cost = 200
operations = [{ op = "telemedicine", service = "health", remote_share = 0.4, hub_and_spoke = false, connectivity = { kind = "towers", path = "towers.geojson", range_m = 800 } }]
"""

NAMES = ["new_post", "close_east", "pave", "south_road", "wet", "few_bikes", "tele"]


def write_tiny_set(folder: Path) -> Path:
    """The tiny region with towers and the seven alternatives of :data:`NAMES`; its scenario."""
    scenario = write_tiny_region(folder)
    (folder / "towers.geojson").write_text(TOWERS)
    scenario.write_text(scenario.read_text() + ALTERNATIVES)
    return scenario


def tiny_baseline(
    folder: Path, *, mode: str = "motorbike"
) -> tuple[Region, Evaluation, SearchGraph]:
    """The tiny region written into ``folder``, loaded, its baseline, and ``mode``'s graph."""
    region = load_region(load_scenario(write_tiny_region(folder)))
    return region, evaluate(region), service_graph(region, mode)


def assert_catchment_ties_only(region: Region, base: Evaluation, other: Evaluation) -> None:
    """Cells whose catchment differs are exact ties: both facilities are as near."""
    limit = region.scenario.grid.max_travel_time_min
    for name, res in base.services.items():
        a, b = res.search.facility, other.services[name].search.facility
        cells = np.flatnonzero(a != b)[:20]
        if cells.size == 0:
            continue
        graph = service_graph(region, res.spec.mode)
        seed = res.facilities["cell"].to_numpy()
        for cell in cells:
            times = [
                combined_search(graph, seed[[k]], max_time_min=limit).time_min[cell]
                for k in (a[cell], b[cell])
            ]
            assert times[0] == times[1] == res.search.time_min[cell], (name, cell)


def assert_same_evaluation(
    region: Region, base: Evaluation, other: Evaluation, *, exact: bool = True, ties: bool = False
) -> None:
    """Two evaluations of ``region`` agree: times, reasons, catchments, coverage, facilities.

    ``exact=False`` allows float rounding (partitions warp windows); ``ties=True`` allows a
    cell's catchment to differ where both facilities are exactly as near.
    """
    for name, res in base.services.items():
        a, b = res.search, other.services[name].search
        np.testing.assert_array_equal(np.isfinite(a.time_min), np.isfinite(b.time_min))
        np.testing.assert_array_equal(a.reason, b.reason)
        if exact:
            np.testing.assert_array_equal(a.time_min, b.time_min)
            np.testing.assert_array_equal(a.node_time_min, b.node_time_min)
        else:
            np.testing.assert_allclose(a.time_min, b.time_min, rtol=1e-11, atol=1e-9)
            np.testing.assert_allclose(a.node_time_min, b.node_time_min, rtol=1e-11, atol=1e-9)
    if ties:
        assert_catchment_ties_only(region, base, other)
    else:
        for name, res in base.services.items():
            np.testing.assert_array_equal(res.search.facility, other.services[name].search.facility)
    pd.testing.assert_frame_equal(base.coverage, other.coverage, check_exact=exact, rtol=1e-9)
    if all(
        np.array_equal(r.search.facility, other.services[n].search.facility)
        for n, r in base.services.items()
    ):
        pd.testing.assert_frame_equal(
            base.facilities, other.facilities, check_exact=exact, rtol=1e-9
        )


# --- a census region: kabupaten counted, kecamatan reported (Indonesian codes) -------------

LON0, LAT0 = 119.9, -9.6


def lonlat_box(i: int, j: int, w: float = 0.05, h: float = 0.04) -> list[list[float]]:
    """A lon/lat rectangle ring, the ``i``-th of a row of width ``w`` east of ``LON0``."""
    x0, y0 = LON0 + i * w, LAT0 - j * h
    return [[x0, y0], [x0 + w, y0], [x0 + w, y0 - h], [x0, y0 - h], [x0, y0]]


def write_geojson(path: Path, rows: list[tuple[dict[str, str], list[list[float]]]]) -> None:
    """Write polygons (properties, ring) as a GeoJSON file."""
    features = [
        {"type": "Feature", "properties": props,
         "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for props, ring in rows
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


CENSUS_KAB = '["53.11", "53.12"]'


def write_census_region(folder: Path, *, table: str, weights: str = "") -> Path:
    """Two kabupaten (one of them split in two kecamatan), a clinic, no roads."""
    folder.mkdir(parents=True, exist_ok=True)
    write_geojson(
        folder / "kabupaten.geojson",
        [({"kode": "53.11", "nama": "Sumba Timur"}, lonlat_box(0, 0, w=0.1)),
         ({"kode": "53.12", "nama": "Sumba Barat"}, lonlat_box(1, 0, w=0.1)),
         ({"kode": "53.07", "nama": "Sikka"}, lonlat_box(3, 0, w=0.1))],
    )  # fmt: skip
    write_geojson(
        folder / "kecamatan.geojson",
        [({"kode": "53.11.01", "nama": "Kambera"}, lonlat_box(0, 0)),
         ({"kode": "53.11.02", "nama": "Pandawai"}, lonlat_box(1, 0)),
         ({"kode": "53.12.01", "nama": "Loli"}, lonlat_box(2, 0, w=0.05)),
         ({"kode": "53.12.02", "nama": "Lamboya"}, lonlat_box(3, 0, w=0.05))],
    )  # fmt: skip
    (folder / "penduduk.csv").write_text(table, encoding="utf-8")
    (folder / "puskesmas.csv").write_text(
        "nama;jenis;lintang;bujur\nPUSKESMAS KAMBERA;Puskesmas;-9,62;119,93\n", encoding="utf-8"
    )
    scenario = folder / "census.toml"
    scenario.write_text(
        f"""version = 1
[scenario]
name = "Census"
[region.boundaries]
path = "kecamatan.geojson"
id_column = "kode"
name_column = "nama"
[region.population_counts]
path = "penduduk.csv"
zone_column = "kode"
total_column = "jumlah"
cell_size_m = 1000
zones = {{ path = "kabupaten.geojson", id_column = "kode", where = {{ kode = {CENSUS_KAB} }} }}
{weights}
[[services]]
name = "health"
kind = "health"
mode = "walk"
facilities = {{ path = "puskesmas.csv", name_column = "nama" }}
[outputs]
folder = "out"
""",
        encoding="utf-8",
    )
    return scenario


CENSUS_TABLE = (
    "kode;nama;jumlah\n53;Nusa Tenggara Timur;5.700.772\n53.11;Sumba Timur;277.290\n"
    "53.12;Sumba Barat;141.760\n53.07;Sikka;346.614\n"
)


def utm_grid(rows: int, cols: int, cell_m: float = 100.0) -> AnalysisGrid:
    """A grid of square cells in UTM 50S with its top-left corner at (0, rows × cell_m)."""
    return AnalysisGrid(
        rows=rows, cols=cols, transform=Affine(cell_m, 0, 0, 0, -cell_m, rows * cell_m),
        crs=rasterio.crs.CRS.from_epsg(32750), dx_m=np.full(rows, cell_m), dy_m=cell_m,
    )  # fmt: skip


def road_lines(ways: list[tuple[list[tuple[float, float]], dict[str, str]]]) -> RoadLines:
    """Road lines in UTM 50S from (points, tags) per way; a point shared by ways is one node."""
    from pyproj import CRS

    x: list[float] = []
    y: list[float] = []
    nid: list[int] = []
    offsets, rows = [0], []
    ids: dict[tuple[float, float], int] = {}
    for pts, tags in ways:
        for pt in pts:
            x.append(pt[0])
            y.append(pt[1])
            nid.append(ids.setdefault(pt, len(ids) + 1))
        offsets.append(len(x))
        rows.append({c: tags.get(c) for c in TAG_COLUMNS})
    return RoadLines(
        way_id=np.arange(1, len(ways) + 1, dtype=np.int64), offsets=np.array(offsets, np.int64),
        x=np.array(x, float), y=np.array(y, float), node_id=np.array(nid, np.int64),
        tags=pd.DataFrame(rows, columns=list(TAG_COLUMNS), dtype=object), crs=CRS.from_epsg(32750),
    )  # fmt: skip


def output_hashes(folder: Path) -> dict[str, str]:
    """Every file an output folder holds, sub-folders included, by its sha256.

    The manifest (it records the run's time and folder) and the folder's marker are left out:
    what two runs on the same inputs must agree on byte for byte is everything else.
    """
    from reach.outputs.folders import OUTPUT_MARKER
    from reach.outputs.write import file_sha256

    return {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in ("manifest.json", OUTPUT_MARKER)
    }
