"""Every input is checked at the door: before it is opened, and so that it cannot reach a host.

Issue 15, the readers' part. Each case writes its own small files into ``tmp_path``:

1. paths that are not a regular file (FIFO, socket, device, folder), that hold a NUL byte or
   are over-long, are refused by every reader before anything is opened;
2. no vector file can make GDAL (pyogrio's own copy) send a request: a GeoJSON whose ``crs``
   is a link to the localhost canary, OGR VRT files however they are disguised;
3. every raster goes through the memory preflight and the geotransform checks; a south-up
   raster is read north-up and gives the same results as its north-up copy;
4. land-cover, elevation, barrier, water and zone layers that miss the population grid are
   refused, and partial land-cover / elevation coverage is warned about;
5. OSM files with negative ids (JOSM's new objects) read as their positive-id twins;
6. population rasters with no people, NaN, infinite or negative values are refused clearly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import EXIT_OK, InputError, ReachError, ResourceLimitError
from reach.ingest import rasters
from reach.ingest.boundaries import read_zones
from reach.ingest.connectivity import read_connectivity
from reach.ingest.facilities import read_facilities
from reach.ingest.landcover import read_cover_fractions, read_dem, read_landcover_classes
from reach.ingest.layers import read_vector_layer
from reach.ingest.lines import read_road_lines
from reach.ingest.osm import read_osm_facilities, read_osm_roads
from reach.ingest.population import read_population
from reach.ingest.rasters import RasterWindow
from reach.model.grid import grid_from_population
from reach.model.network import build_network
from reach.model.speeds import default_profile
from reach.run.region import load_region, read_region_inputs
from reach.spec import load_scenario
from tests.conftest import Canary
from tests.helpers import CELL_DEG, NORTH, OSM, SIZE, WEST, tiny_people, write_tiny_region

NORTH_UP = Affine(CELL_DEG, 0, WEST, 0, -CELL_DEG, NORTH)
GRID_BOUNDS = (WEST, NORTH - SIZE * CELL_DEG, WEST + SIZE * CELL_DEG, NORTH)
#: A window over the tiny grid, as a partitioned run's task reads its part of a layer.
GRID_WINDOW = RasterWindow(bounds=GRID_BOUNDS, crs=CRS.from_epsg(4326))
GLOBE = RasterWindow(bounds=(-180.0, -90.0, 180.0, 90.0), crs=CRS.from_epsg(4326))


def _tif(path: Path, data: np.ndarray, transform: Affine = NORTH_UP, **kw: Any) -> Path:
    profile: dict[str, Any] = {
        "driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
        "dtype": str(data.dtype), "crs": "EPSG:4326", "transform": transform,
    }  # fmt: skip
    profile.update(kw)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def _south_up(path: Path, data: np.ndarray, transform: Affine = NORTH_UP, **kw: Any) -> Path:
    """The same raster stored south-up: rows reversed, positive y pixel size."""
    rows = data.shape[0]
    t = Affine(transform.a, 0, transform.c, 0, -transform.e, transform.f + transform.e * rows)
    return _tif(path, np.ascontiguousarray(data[::-1]), t, **kw)


def _geojson(path: Path, geoms: list[Any], props: dict[str, list[Any]], crs: Any = None) -> Path:
    gpd.GeoDataFrame(props, geometry=geoms, crs="EPSG:4326").to_file(path, driver="GeoJSON")
    if crs is not None:  # replace the CRS member GDAL wrote
        import json

        doc = json.loads(path.read_text())
        doc["crs"] = crs
        path.write_text(json.dumps(doc))
    return path


BOX = shapely.box(WEST + 0.005, NORTH - 0.035, WEST + 0.035, NORTH - 0.005)
LINE = shapely.LineString([(WEST + 0.001, NORTH - 0.02), (WEST + 0.039, NORTH - 0.02)])
POINT = shapely.Point(WEST + 0.002, NORTH - 0.02)


# --- 1. paths that are not regular files ----------------------------------------------------

Reader = Callable[[Path], object]

#: Every reader of reach.ingest (and the windowed one of partitioned runs), with the name its
#: file must end in.
READERS: dict[str, tuple[str, Reader]] = {
    "population": (".tif", read_population),
    "land cover": (".tif", lambda p: read_landcover_classes(p, labels={1: "a"})),
    "cover fraction": (".tif", lambda p: read_cover_fractions({"Tree": p})),
    "dem tif": (".tif", lambda p: read_dem([p])),
    "dem srtm zip": (".hgt.zip", lambda p: read_dem([p])),
    "dem srtm hgt": (".hgt", lambda p: read_dem([p])),
    "signal raster": (".tif", lambda p: read_connectivity(p, kind="raster")),
    "windowed population": (".tif", lambda p: read_population(p, window=GRID_WINDOW)),
    "windowed land cover": (
        ".tif",
        lambda p: read_landcover_classes(p, labels={1: "a"}, window=GRID_WINDOW),
    ),
    "windowed cover fraction": (
        ".tif",
        lambda p: read_cover_fractions({"Tree": p}, window=GRID_WINDOW),
    ),
    "windowed dem": (".tif", lambda p: read_dem([p], window=GRID_WINDOW)),
    "osm roads": (".osm", read_osm_roads),
    "osm facilities": (".osm.pbf", read_osm_facilities),
    "road lines": (".geojson", lambda p: read_road_lines(p, class_column="highway")),
    "zones": (".gpkg", read_zones),
    "barriers": (".shp", lambda p: read_vector_layer(p, what="barrier layer")),
    "water": (".fgb", lambda p: read_vector_layer(p, what="water layer")),
    "facilities csv": (".csv", lambda p: read_facilities(p, service="health")),
    "facilities geojson": (".geojson", lambda p: read_facilities(p, service="health")),
    "towers": (".geojson", lambda p: read_connectivity(p, kind="towers", range_m=1000)),
    "coverage polygons": (".gpkg", lambda p: read_connectivity(p, kind="polygons")),
}


def _call_with_guard(reader: Reader, path: Path, fifo: Path | None = None) -> BaseException:
    """Run the reader in a thread; if it blocks on the FIFO, unblock it and fail the test."""
    box: list[BaseException | None] = [None]

    def run() -> None:
        try:
            reader(path)
        except BaseException as exc:  # handed to the test
            box[0] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        assert fifo is not None
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # lets the blocked open return
        os.close(fd)
        thread.join(10)
        pytest.fail(f"the reader opened the FIFO {fifo} and blocked")
    assert box[0] is not None, "the reader accepted the path"
    return box[0]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path (a Unix socket's path is limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="rd", dir="/tmp"))
    yield folder
    shutil.rmtree(folder)


KINDS = ["fifo", "char device", "socket", "folder", "missing", "nul byte", "long name", "long path"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader_name", list(READERS))
def test_path_refused_before_open(reader_name: str, kind: str, short_dir: Path) -> None:
    suffix, reader = READERS[reader_name]
    name = ("N00E000" if "srtm" in reader_name else "input") + suffix
    path = short_dir / name
    fifo = None
    expected = {
        "fifo": "named pipe (FIFO)",
        "char device": "character device",
        "socket": "a socket",
        "folder": "is a folder",
        "missing": "not found",
        "nul byte": "NUL byte",
        "long name": "too long",
        "long path": "too long",
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)
        fifo = path
    elif kind == "char device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "nul byte":
        path = short_dir / ("in\x00put" + suffix)
    elif kind == "long name":
        path = short_dir / ("x" * 300 + suffix)
    elif kind == "long path":
        path = short_dir.joinpath(*(["d" * 200] * 25), name)
    exc = _call_with_guard(reader, path, fifo)
    assert isinstance(exc, InputError), repr(exc)
    line = exc.one_line()
    assert "\n" not in line
    assert expected in line, line
    assert suffix in line  # names the file


def test_shapefile_and_gpkg_side_files_are_checked(short_dir: Path) -> None:
    shp = short_dir / "wall.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[LINE], crs="EPSG:4326").to_file(shp)
    (short_dir / "wall.dbf").unlink()
    os.mkfifo(short_dir / "wall.dbf")
    exc = _call_with_guard(lambda p: read_vector_layer(p, what="barrier layer"), shp)
    assert isinstance(exc, InputError) and "wall.dbf" in str(exc) and "FIFO" in str(exc)
    gpkg = short_dir / "zones.gpkg"
    gpd.GeoDataFrame({"zone_id": ["a"]}, geometry=[BOX], crs="EPSG:4326").to_file(gpkg)
    os.mkfifo(short_dir / "zones.gpkg-wal")
    exc = _call_with_guard(read_zones, gpkg)
    assert isinstance(exc, InputError) and "zones.gpkg-wal" in str(exc)


def test_regular_files_still_read(tmp_path: Path) -> None:
    # a symlink to a regular file is followed; the checks refuse nothing that is a real file
    real = _tif(tmp_path / "real.tif", tiny_people().astype(np.float32), nodata=-99999.0)
    link = tmp_path / "link.tif"
    link.symlink_to(real)
    assert read_population(link).total == read_population(real).total


# --- 2. no vector file reaches the network ---------------------------------------------------


def _link_crs(url: str) -> dict[str, Any]:
    return {"type": "link", "properties": {"href": f"{url}/crs.wkt", "type": "ogcwkt"}}


def _vector_cases(folder: Path, url: str) -> list[tuple[str, Callable[[], object]]]:
    crs = _link_crs(url)
    zones = _geojson(folder / "zones.geojson", [BOX], {"zone_id": ["a"]}, crs)
    roads = _geojson(folder / "roads.geojson", [LINE], {"highway": ["primary"]}, crs)
    wall = _geojson(folder / "wall.geojson", [LINE], {"a": [1]}, crs)
    fac = _geojson(folder / "fac.geojson", [POINT], {"facility_id": ["c"], "tier": ["clinic"]}, crs)
    towers = _geojson(folder / "towers.geojson", [POINT], {"a": [1]}, crs)
    cover = _geojson(folder / "cover.geojson", [BOX], {"a": [1]}, crs)
    return [
        ("zones", lambda: read_zones(zones)),
        ("road lines", lambda: read_road_lines(roads, class_column="highway")),
        ("barriers", lambda: read_vector_layer(wall, what="barrier layer")),
        ("water", lambda: read_vector_layer(wall, what="water layer")),
        ("facilities", lambda: read_facilities(fac, service="health", tier_column="tier")),
        ("towers", lambda: read_connectivity(towers, kind="towers", range_m=1000)),
        ("polygons", lambda: read_connectivity(cover, kind="polygons")),
    ]


def _read_all(cases: list[tuple[str, Callable[[], object]]]) -> None:
    for _, read in cases:
        with contextlib.suppress(ReachError):  # a refusal is fine; a request is not
            read()


def test_geojson_crs_link_sends_no_request(
    tmp_path: Path, canary: Canary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no_proxy would let a request past the proxy setting: the refusing HTTP layer stops it
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    before_hits, before_refused = len(canary.hits), len(rasters.REFUSED_URLS)
    cases = _vector_cases(tmp_path, canary.url)
    _read_all(cases)
    assert canary.hits[before_hits:] == []
    refused = rasters.REFUSED_URLS[before_refused:]
    assert len(refused) >= len(cases) and all(canary.url in u for u in refused)


def test_proxy_setting_alone_blocks_the_request(
    tmp_path: Path, canary: Canary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without the refusing HTTP layer (pyogrio's GDAL not found), the dead proxy still holds
    monkeypatch.setattr(rasters, "_ogr_lib_cache", [None])
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    before = len(canary.hits)
    _read_all(_vector_cases(tmp_path, canary.url)[:2])
    assert canary.hits[before:] == []


def test_sandbox_restores_the_gdal_options() -> None:
    import pyogrio

    previous = pyogrio.get_gdal_config_option("GDAL_HTTP_PROXY")
    with rasters.ogr_sandbox(), rasters.ogr_sandbox():
        assert pyogrio.get_gdal_config_option("GDAL_HTTP_PROXY") == rasters.NO_PROXY
    assert pyogrio.get_gdal_config_option("GDAL_HTTP_PROXY") == previous


@pytest.mark.parametrize(
    ("name", "head", "needle"),
    [
        ("decl", '<?xml version="1.0"?>', "VRT"),
        ("comment", "<!--" + " " * 2000 + "-->", "VRT"),
        ("padding", "\n" * 3000, "VRT"),
    ],
)
def test_disguised_ogr_vrt_refused(
    name: str, head: str, needle: str, tmp_path: Path, canary: Canary
) -> None:
    before = len(canary.hits)
    vrt = (
        f'{head}<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/vsicurl/{canary.url}'
        f"/{name}.none</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )
    for suffix in (".geojson", ".gpkg", ".shp", ".fgb"):
        path = tmp_path / f"{name}{suffix}"
        path.write_text(vrt)
        with pytest.raises(InputError, match=needle):
            read_zones(path)
    assert canary.hits[before:] == []


def test_files_that_are_not_their_format_refused(tmp_path: Path) -> None:
    kml = tmp_path / "z.geojson"
    kml.write_text('<?xml version="1.0"?><kml><Placemark/></kml>')
    with pytest.raises(InputError, match="XML file"):
        read_zones(kml)
    gpkg = tmp_path / "real.gpkg"
    gpd.GeoDataFrame({"zone_id": ["a"]}, geometry=[BOX], crs="EPSG:4326").to_file(gpkg)
    fake = tmp_path / "z2.geojson"
    fake.write_bytes(gpkg.read_bytes())
    with pytest.raises(InputError, match="named like a GeoJSON file"):
        read_zones(fake)
    empty = tmp_path / "e.geojson"
    empty.write_text("  \n")
    with pytest.raises(InputError, match="empty"):
        read_zones(empty)
    # a byte-order mark and white space before a real GeoJSON are fine
    good = _geojson(tmp_path / "g.geojson", [BOX], {"zone_id": ["a"]})
    bom = tmp_path / "bom.geojson"
    bom.write_bytes(b"\xef\xbb\xbf\n  " + good.read_bytes())
    assert len(read_zones(bom)) == 1


# --- 3. rasters: memory preflight, geotransform, south-up --------------------------------------


@pytest.fixture(scope="module")
def huge_tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 100,000 × 100,000 uint8 header over a few kilobytes (sparse tiles)."""
    path = tmp_path_factory.mktemp("huge") / "huge.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=100_000, width=100_000, count=1, dtype="uint8",
        crs="EPSG:4326", transform=Affine(1e-5, 0, 120.0, 0, -1e-5, -9.0), tiled=True,
        sparse_ok=True, nodata=255,
    ) as dst:  # fmt: skip
        dst.write(np.ones((1, 256, 256), np.uint8), window=((0, 256), (0, 256)))
    return path


RASTER_READERS: dict[str, Reader] = {
    "population": read_population,
    "land cover": lambda p: read_landcover_classes(p, labels={1: "a"}),
    "cover fraction": lambda p: read_cover_fractions({"Tree": p}),
    "dem": lambda p: read_dem([p]),
    "signal raster": lambda p: read_connectivity(p, kind="raster"),
    # a window over the whole globe: the whole file is under it
    "windowed population": lambda p: read_population(p, window=GLOBE),
    "windowed land cover": lambda p: read_landcover_classes(p, labels={1: "a"}, window=GLOBE),
    "windowed cover fraction": lambda p: read_cover_fractions({"Tree": p}, window=GLOBE),
    "windowed dem": lambda p: read_dem([p], window=GLOBE),
}


@pytest.mark.parametrize("reader_name", list(RASTER_READERS))
def test_every_raster_goes_through_the_memory_preflight(
    reader_name: str, huge_tif: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REACH_MEMORY_GB", "8")
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="100,000 × 100,000") as info:
        RASTER_READERS[reader_name](huge_tif)
    assert time.perf_counter() - t0 < 5  # refused from the header, no cell read
    assert "huge.tif" in info.value.one_line()


BAD_TRANSFORMS = {
    "nan pixel": (Affine(float("nan"), 0, WEST, 0, -CELL_DEG, NORTH), "NaN or infinite"),
    "inf pixel": (Affine(CELL_DEG, 0, WEST, 0, float("inf"), NORTH), "NaN or infinite"),
    "nan origin": (Affine(CELL_DEG, 0, float("nan"), 0, -CELL_DEG, NORTH), "NaN or infinite"),
    # GDAL writes no georeferencing at all for a zero pixel size: no CRS is the first thing seen
    "zero pixel": (
        Affine(0.0, 0, WEST, 0, -CELL_DEG, NORTH),
        "no georeferencing|no coordinate reference system",
    ),
    "rotated": (Affine(CELL_DEG, 0.0002, WEST, 0.0002, -CELL_DEG, NORTH), "rotated"),
    "off the globe": (Affine(10.0, 0, WEST, 0, -10.0, NORTH), "off the globe"),
}


@pytest.mark.parametrize("case", list(BAD_TRANSFORMS))
@pytest.mark.parametrize("reader_name", list(RASTER_READERS))
def test_bad_geotransform_refused(reader_name: str, case: str, tmp_path: Path) -> None:
    transform, needle = BAD_TRANSFORMS[case]
    path = _tif(tmp_path / "bad.tif", np.ones((SIZE, SIZE), np.uint8), transform)
    with pytest.raises(InputError, match=needle) as info:
        RASTER_READERS[reader_name](path)
    assert "bad.tif" in info.value.one_line()


def test_south_up_rasters_read_north_up(tmp_path: Path) -> None:
    people = tiny_people().astype(np.float32)
    north = read_population(_tif(tmp_path / "n.tif", people, nodata=-99999.0))
    south = read_population(_south_up(tmp_path / "s.tif", people, nodata=-99999.0))
    assert south.transform == north.transform and south.transform.e < 0
    np.testing.assert_array_equal(south.people, north.people)
    # east-to-west too (negative x pixel size)
    t = Affine(-CELL_DEG, 0, WEST + SIZE * CELL_DEG, 0, -CELL_DEG, NORTH)
    east = read_population(_tif(tmp_path / "e.tif", people[:, ::-1].copy(), t, nodata=-99999.0))
    assert east.transform == north.transform
    np.testing.assert_array_equal(east.people, north.people)
    classes = np.arange(SIZE * SIZE, dtype=np.int32).reshape(SIZE, SIZE) % 3 + 1
    labels = {1: "a", 2: "b", 3: "c"}
    lc_n = read_landcover_classes(_tif(tmp_path / "lcn.tif", classes), labels=labels).classes
    lc_s = read_landcover_classes(_south_up(tmp_path / "lcs.tif", classes), labels=labels).classes
    assert lc_n is not None and lc_s is not None and lc_s.transform == lc_n.transform
    np.testing.assert_array_equal(lc_s.values, lc_n.values)
    dem = (np.arange(SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE) % 97) * 3.0
    (d_n,) = read_dem([_tif(tmp_path / "dn.tif", dem)])
    (d_s,) = read_dem([_south_up(tmp_path / "ds.tif", dem)])
    assert d_s.transform == d_n.transform
    np.testing.assert_array_equal(d_s.values, d_n.values)
    # a windowed read (a partitioned run's task) reads the same window from both
    box = (WEST + 0.010, NORTH - 0.030, WEST + 0.020, NORTH - 0.012)
    window = RasterWindow(bounds=box, crs=CRS.from_epsg(4326))
    (w_n,) = read_dem([tmp_path / "dn.tif"], window=window)
    (w_s,) = read_dem([tmp_path / "ds.tif"], window=window)
    assert w_s.transform == w_n.transform
    np.testing.assert_array_equal(w_s.values, w_n.values)
    # the window's pixels (and a margin) are the whole read's, where they lie
    col0, row0 = (round(v) for v in ~d_n.transform @ (w_n.transform.c, w_n.transform.f))
    rows, cols = w_n.shape
    assert rows >= 18 + 2 * window.margin_px and cols >= 10 + 2 * window.margin_px
    np.testing.assert_array_equal(w_n.values, d_n.values[row0 : row0 + rows, col0 : col0 + cols])


runner = CliRunner()


def _run(folder: Path) -> pd.DataFrame:
    result = runner.invoke(app, ["--quiet", "run", str(folder / "tiny.toml")])
    assert result.exit_code == EXIT_OK, (result.stderr, result.stdout)
    return pd.read_csv(folder / "out" / "coverage.csv")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Coverage of the tiny region as written (north-up, positive OSM ids)."""
    folder = tmp_path_factory.mktemp("baseline")
    write_tiny_region(folder)
    return _run(folder)


def test_south_up_population_gives_the_same_coverage(
    tmp_path: Path, baseline: pd.DataFrame
) -> None:
    write_tiny_region(tmp_path)
    _south_up(tmp_path / "population.tif", tiny_people().astype(np.float32), nodata=-99999.0)
    pd.testing.assert_frame_equal(_run(tmp_path), baseline)
    assert (tmp_path / "out" / "map_health.html").is_file()  # the map works too
    with rasterio.open(tmp_path / "out" / "population.tif") as src:
        assert src.transform == NORTH_UP


# --- 4. layers that miss the region -----------------------------------------------------------

ELSEWHERE = Affine(CELL_DEG, 0, 10.0, 0, -CELL_DEG, 50.0)
LANDCOVER = """[region.landcover]
path = "landcover.tif"
labels = { "1" = "Built_area" }
speeds_kph = { Built_area = 4.0 }
"""


def _scenario(folder: Path, *, dem: bool = False, extra: str = "") -> Path:
    path = write_tiny_region(folder)
    text = path.read_text()
    if dem:
        text = text.replace('osm = "roads.osm"\n', 'osm = "roads.osm"\ndem = ["dem.tif"]\n')
    path.write_text(text.replace("[[services]]", extra + "[[services]]", 1))
    return path


def test_layers_off_the_grid_refused(tmp_path: Path) -> None:
    ones = np.ones((SIZE, SIZE), np.uint8)
    scn = load_scenario(_scenario(tmp_path, extra=LANDCOVER))
    _tif(tmp_path / "landcover.tif", ones, ELSEWHERE)
    with pytest.raises(InputError, match="does not overlap the region's population grid") as e:
        read_region_inputs(scn)
    assert "landcover.tif" in e.value.one_line() and "the grid's (120" in e.value.one_line()

    scn = load_scenario(_scenario(tmp_path, dem=True))
    _tif(tmp_path / "dem.tif", np.full((SIZE, SIZE), 10.0, np.float32), ELSEWHERE)
    with pytest.raises(InputError, match="does not overlap") as e:
        read_region_inputs(scn)
    assert "dem.tif" in e.value.one_line()

    far = shapely.box(10.0, 49.9, 10.1, 50.0)
    _geojson(tmp_path / "far.geojson", [far], {"a": [1]})
    for kind in ("barriers", "water"):
        scn = load_scenario(_scenario(tmp_path, extra=f'[[region.{kind}]]\npath = "far.geojson"\n'))
        with pytest.raises(InputError, match="does not overlap") as e:
            read_region_inputs(scn)
        assert "far.geojson" in e.value.one_line()

    scn = load_scenario(_scenario(tmp_path))
    _geojson(tmp_path / "zones.geojson", [far], {"zone_id": ["W"], "name": ["W"]})
    with pytest.raises(InputError, match="does not overlap") as e:
        read_region_inputs(scn)
    assert "zones.geojson" in e.value.one_line()


def test_partial_cover_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    scn = load_scenario(_scenario(tmp_path, dem=True, extra=LANDCOVER))
    quarter = np.ones((SIZE, SIZE // 4), np.uint8)
    _tif(tmp_path / "landcover.tif", quarter)
    _tif(tmp_path / "dem.tif", np.full((SIZE, SIZE), 10.0, np.float32))  # covers it all
    with caplog.at_level(logging.WARNING, logger="reach"):
        region = load_region(scn)
    assert len(region.warnings) == 1, region.warnings
    assert "landcover.tif" in region.warnings[0] and "covers only 26%" in region.warnings[0]
    assert region.warnings[0] in caplog.text


# --- 5. OSM files with negative ids -----------------------------------------------------------

OSM_POSITIVE = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="JOSM">
  <node id="1" lat="-9.0205" lon="120.0015"/>
  <node id="2" lat="-9.0205" lon="120.0200"/>
  <node id="3" lat="-9.0205" lon="120.0385"/>
  <node id="4" lat="-9.0300" lon="120.0200"/>
  <node id="5" lat="-9.0350" lon="120.0100"/>
  <node id="6" lat="-9.0350" lon="120.0110"/>
  <node id="7" lat="-9.0360" lon="120.0110"/>
  <node id="8" lat="-9.0105" lon="120.0300"><tag k="amenity" v="clinic"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>
  <way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="track"/></way>
  <way id="12"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="5"/>
    <tag k="amenity" v="school"/></way>
  <way id="13"><nd ref="4"/><nd ref="5"/><nd ref="6"/><nd ref="4"/></way>
  <relation id="20"><member type="way" ref="13" role="outer"/><tag k="type" v="multipolygon"/>
    <tag k="healthcare" v="hospital"/></relation>
</osm>
"""


def _negated(xml: str) -> str:
    """The same file as JOSM saves new objects: every id negative, with JOSM's attributes."""
    import re

    xml = re.sub(r'(id|ref)="(\d+)"', lambda m: f'{m.group(1)}="-{m.group(2)}"', xml)
    return xml.replace("<node ", '<node action="modify" visible="true" ')


def test_negative_ids_read_as_their_positive_twins(tmp_path: Path) -> None:
    pos = tmp_path / "pos.osm"
    neg = tmp_path / "neg.osm"
    pos.write_text(OSM_POSITIVE)
    neg.write_text(_negated(OSM_POSITIVE))
    a, b = read_osm_roads(pos), read_osm_roads(neg)
    assert b.n_ways == a.n_ways == 2
    order = np.argsort(-b.way_id)  # sorted by id: -11 before -10
    np.testing.assert_array_equal(-b.way_id[order], a.way_id)
    for i, j in enumerate(order):
        sa, sb = slice(a.offsets[i], a.offsets[i + 1]), slice(b.offsets[j], b.offsets[j + 1])
        np.testing.assert_array_equal(b.x[sb], a.x[sa])
        np.testing.assert_array_equal(b.y[sb], a.y[sa])
        np.testing.assert_array_equal(-b.node_id[sb], a.node_id[sa])
    pd.testing.assert_frame_equal(
        b.tags.iloc[order].reset_index(drop=True), a.tags.reset_index(drop=True)
    )
    # the same routable network
    pop = read_population(
        _tif(tmp_path / "p.tif", tiny_people().astype(np.float32), nodata=-99999.0)
    )
    grid = grid_from_population(pop)
    nets = [
        build_network(lines, grid, profile=default_profile("motorbike"), ferry_wait_min=0.0)
        for lines in (a, b)
    ]
    edges = [
        sorted(
            zip(
                np.round(n.x[n.src], 9), np.round(n.y[n.src], 9), np.round(n.x[n.dst], 9),
                np.round(n.y[n.dst], 9), np.round(n.time_min, 12), strict=True,
            )
        )
        for n in nets
    ]  # fmt: skip
    assert edges[0] == edges[1] and len(edges[0]) > 0
    # facilities: a node, a closed way and a multipolygon relation of negative ids
    fa, fb = read_osm_facilities(pos), read_osm_facilities(neg)
    assert len(fa) == len(fb) == 3
    rank = fb["osm_type"].map({"node": 0, "way": 1, "relation": 2})
    fb = fb.assign(osm_id=-fb["osm_id"], rank=rank).sort_values(["rank", "osm_id"])
    fb = fb.drop(columns="rank").reset_index(drop=True)
    pd.testing.assert_frame_equal(fb.drop(columns="geometry"), fa.drop(columns="geometry"))
    assert fb.geometry.geom_equals_exact(fa.geometry, tolerance=1e-12).all()


def test_mixed_ids_in_one_way(tmp_path: Path) -> None:
    # a JOSM edit: a new node (negative) inserted into a downloaded way (positive ids)
    xml = OSM.replace('<node id="2" ', '<node id="-2" ').replace('<nd ref="2"/>', '<nd ref="-2"/>')
    path = tmp_path / "mixed.osm"
    path.write_text(xml)
    lines = read_osm_roads(path)
    assert lines.node_id.tolist() == [1, -2, 3]
    assert np.isfinite(lines.x).all() and lines.x[1] == pytest.approx(120.02)


def test_run_with_josm_ids(tmp_path: Path, baseline: pd.DataFrame) -> None:
    write_tiny_region(tmp_path)
    (tmp_path / "roads.osm").write_text(_negated(OSM))
    pd.testing.assert_frame_equal(_run(tmp_path), baseline)


# --- 6. population values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kw", "needle"),
    [
        (np.full((8, 8), -99999.0), {"nodata": -99999.0}, "every cell of the population"),
        (np.full((8, 8), np.nan), {}, r"every cell of the population raster is nodata \(NaN\)"),
        (np.zeros((8, 8)), {"nodata": -99999.0}, "sums to 0"),
        (np.where(np.eye(8) > 0, np.inf, 1.0), {}, "8 infinite cells"),
        (np.where(np.eye(8) > 0, -np.inf, 1.0), {"nodata": -99999.0}, "8 infinite cells"),
        (np.where(np.eye(8) > 0, -3.0, 1.0), {}, r"8 negative cells \(min -3\)"),
        (np.full((8, 8), 1e308), {"dtype": "float64"}, "sums to inf"),
    ],
    ids=["all nodata", "all nan", "all zero", "inf", "-inf", "negative", "sum overflows"],
)
def test_population_values_refused(
    values: np.ndarray, kw: dict[str, Any], needle: str, tmp_path: Path
) -> None:
    dtype = kw.pop("dtype", "float32")
    path = _tif(tmp_path / "pop.tif", values.astype(dtype), **kw)
    with pytest.raises(InputError, match=needle) as info:
        read_population(path)
    assert "pop.tif" in info.value.one_line()


def test_population_nan_and_fill_cells_are_nodata(tmp_path: Path) -> None:
    # documented: NaN is always nodata; with no declared nodata, values <= -9999 (WorldPop's
    # -99999, or -inf) are taken as the fill value
    values = np.ones((8, 8), np.float32)
    values[0, :] = np.nan
    values[1, :] = -np.inf
    values[2, :] = -99999.0
    pop = read_population(_tif(tmp_path / "pop.tif", values))
    assert pop.total == 40 and not pop.valid[:3].any() and pop.valid[3:].all()
    assert pop.nodata_inferred
