"""Connectivity layers: reading and checking them, and bringing them onto the analysis grid."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS

from reach.errors import InputError
from reach.ingest.connectivity import Connectivity, read_connectivity
from reach.ingest.population import Population
from reach.model.connectivity import connected_cells, tower_cells
from reach.model.grid import EARTH_RADIUS_M, AnalysisGrid, grid_from_population

UTM = "EPSG:32750"  # UTM 50S, metres
WGS84 = "EPSG:4326"


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """A north-up transform (rasterio's helper warns about Affine ``*`` in this version)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def _grid(transform: Affine, crs: str, shape: tuple[int, int]) -> AnalysisGrid:
    pop = Population(
        people=np.zeros(shape),
        valid=np.ones(shape, dtype=bool),
        transform=transform,
        crs=CRS.from_user_input(crs),
        path=Path("pop.tif"),
        total=0.0,
        nodata_inferred=False,
    )
    return grid_from_population(pop)


def _write(tmp_path: Path, name: str, geoms: list[shapely.Geometry], crs: str | None) -> Path:
    path = tmp_path / name
    frame = gpd.GeoDataFrame({"n": list(range(len(geoms)))}, geometry=geoms, crs=crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        frame.to_file(path)
    return path


def _write_raster(
    tmp_path: Path, name: str, values: np.ndarray, transform: Affine, crs: str | None, **kw: object
) -> Path:
    path = tmp_path / name
    profile: dict[str, object] = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype.name,
        "transform": transform,
        "crs": crs,
    }
    profile.update(kw)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values, 1)
    return path


# --- reading ---------------------------------------------------------------------------------


def test_read_polygons(tmp_path: Path) -> None:
    path = _write(tmp_path, "cov.gpkg", [shapely.box(120, -9, 121, -8)], WGS84)
    conn = read_connectivity(path, kind="polygons")
    assert conn.kind == "polygons" and conn.path == path
    assert conn.raster is None and conn.towers is None
    assert conn.polygons is not None and len(conn.polygons) == 1
    assert conn.polygons.crs == WGS84


def test_read_repairs_invalid_polygons(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    path = _write(tmp_path, "bowtie.gpkg", [bowtie], WGS84)
    conn = read_connectivity(path, kind="polygons")
    assert conn.polygons is not None
    assert conn.polygons.attrs["repaired"] == 1
    assert conn.polygons.geometry.is_valid.all()
    assert shapely.area(conn.polygons.geometry.to_numpy()).sum() == pytest.approx(0.5)


def test_read_towers_splits_multipoints(tmp_path: Path) -> None:
    geoms = [shapely.MultiPoint([(120, -8), (120.1, -8)]), shapely.Point(120.2, -8.1)]
    path = _write(tmp_path, "towers.gpkg", geoms, WGS84)
    conn = read_connectivity(path, kind="towers", range_m=5000)
    assert conn.towers is not None and len(conn.towers) == 3
    assert set(conn.towers.geometry.geom_type) == {"Point"}
    assert conn.range_m == 5000.0


def test_no_crs_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "nocrs.shp", [shapely.box(0, 0, 1, 1)], None)
    with pytest.raises(InputError, match="coordinate reference system") as info:
        read_connectivity(path, kind="polygons")
    assert "nocrs.shp" in str(info.value)
    assert ".prj" in str(info.value)  # the fix


def test_points_given_as_polygons(tmp_path: Path) -> None:
    path = _write(tmp_path, "towers.gpkg", [shapely.Point(120, -8)], WGS84)
    with pytest.raises(InputError, match="wrong type") as info:
        read_connectivity(path, kind="polygons")
    assert "towers.gpkg" in str(info.value)
    assert "kind = 'towers'" in str(info.value)


def test_polygons_given_as_towers(tmp_path: Path) -> None:
    path = _write(tmp_path, "cov.gpkg", [shapely.box(0, 0, 1, 1)], WGS84)
    with pytest.raises(InputError, match="Polygon") as info:
        read_connectivity(path, kind="towers", range_m=1000)
    assert "kind = 'polygons'" in str(info.value)


def test_towers_need_a_range(tmp_path: Path) -> None:
    path = _write(tmp_path, "towers.gpkg", [shapely.Point(120, -8)], WGS84)
    with pytest.raises(InputError, match="range") as info:
        read_connectivity(path, kind="towers")
    assert "towers.gpkg" in str(info.value)
    with pytest.raises(InputError, match="positive"):
        read_connectivity(path, kind="towers", range_m=-5)


def test_empty_layer(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    empty = gpd.GeoDataFrame({"n": []}, geometry=gpd.GeoSeries([], crs=WGS84))
    empty.to_file(path, geometry_type="Polygon")
    with pytest.raises(InputError, match="no features") as info:
        read_connectivity(path, kind="polygons")
    assert "empty.gpkg" in str(info.value)
    nulls = _write(tmp_path, "nulls.gpkg", [None, shapely.Point()], WGS84)
    with pytest.raises(InputError, match="no features"):
        read_connectivity(nulls, kind="towers", range_m=100)


def test_missing_file_and_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        read_connectivity(tmp_path / "nowhere.gpkg", kind="polygons")
    assert "nowhere.gpkg" in str(info.value)
    with pytest.raises(InputError, match="not found"):
        read_connectivity(tmp_path / "nowhere.tif", kind="raster")
    with pytest.raises(InputError, match="unknown connectivity kind"):
        read_connectivity(tmp_path / "x.gpkg", kind="wifi")


def test_raster_errors(tmp_path: Path) -> None:
    t = from_origin(120, -8, 0.01, 0.01)
    nodata = _write_raster(
        tmp_path, "nodata.tif", np.full((2, 2), -9999, np.int16), t, WGS84, nodata=-9999
    )
    with pytest.raises(InputError, match="only nodata"):
        read_connectivity(nodata, kind="raster")
    nocrs = _write_raster(tmp_path, "nocrs.tif", np.ones((2, 2), np.uint8), t, None)
    with pytest.raises(InputError, match="coordinate reference system") as info:
        read_connectivity(nocrs, kind="raster")
    assert "nocrs.tif" in str(info.value)
    good = _write_raster(tmp_path, "good.tif", np.ones((2, 2), np.uint8), t, WGS84)
    with pytest.raises(InputError, match="no layers"):
        read_connectivity(good, kind="raster", layer="signal")
    with pytest.raises(InputError, match="finite"):
        read_connectivity(good, kind="raster", threshold=float("nan"))
    conn = read_connectivity(good, kind="raster", threshold=-100)
    assert conn.raster is not None and conn.threshold == -100.0


def test_connectivity_holds_exactly_one_layer(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only `towers`"):
        Connectivity(
            kind="towers", polygons=None, raster=None, towers=None, range_m=10.0,
            threshold=0.0, path=tmp_path,
        )  # fmt: skip


# --- towers ----------------------------------------------------------------------------------


def test_tower_1000m_on_projected_grid(tmp_path: Path) -> None:
    # 300 m cells; a tower at the centre of cell (4, 4) reaches (di, dj) with
    # 300² (di² + dj²) ≤ 1000², i.e. di² + dj² ≤ 11.1: a 7×7 block without its 3 corner cells
    grid = _grid(from_origin(500_000, 9_000_000, 300, 300), UTM, (9, 9))
    path = _write(tmp_path, "t.gpkg", [shapely.Point(501_350, 8_998_650)], UTM)
    got = connected_cells(read_connectivity(path, kind="towers", range_m=1000), grid)
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 1, 1, 1, 0, 0, 0],
            [0, 0, 1, 1, 1, 1, 1, 0, 0],
            [0, 1, 1, 1, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 1, 1, 1, 0],
            [0, 0, 1, 1, 1, 1, 1, 0, 0],
            [0, 0, 0, 1, 1, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    assert got.dtype == bool and got.sum() == 37
    np.testing.assert_array_equal(got, expected)


def test_tower_in_lon_lat_on_projected_grid(tmp_path: Path) -> None:
    grid = _grid(from_origin(500_000, 9_000_000, 300, 300), UTM, (9, 9))
    lon, lat = pyproj.Transformer.from_crs(UTM, WGS84, always_xy=True).transform(501_350, 8_998_650)
    path = _write(tmp_path, "t.geojson", [shapely.Point(lon, lat)], WGS84)
    got = connected_cells(read_connectivity(path, kind="towers", range_m=1000), grid)
    assert got.sum() == 37 and got[4, 1] and got[1, 4] and not got[2, 1]


def test_tower_1000m_on_geographic_grid(tmp_path: Path) -> None:
    # 0.005° cells at 8° S: about 550 m wide and 556 m high. 1000 m reaches the 8 neighbours
    # (the diagonal is ~782 m) but not two cells away (~1101 m across, ~1112 m down).
    grid = _grid(from_origin(120.0, -8.0, 0.005, 0.005), WGS84, (7, 7))
    path = _write(tmp_path, "t.gpkg", [shapely.Point(120.0175, -8.0175)], WGS84)
    got = connected_cells(read_connectivity(path, kind="towers", range_m=1000), grid)
    expected = np.zeros((7, 7), dtype=bool)
    expected[2:5, 2:5] = True
    np.testing.assert_array_equal(got, expected)
    # 1200 m adds the four cells two steps along the axes (diagonal knights are ~1235 m)
    wider = connected_cells(read_connectivity(path, kind="towers", range_m=1200), grid)
    expected[3, [1, 5]] = True
    expected[[1, 5], 3] = True
    np.testing.assert_array_equal(wider, expected)


def _reference_geographic(grid: AnalysisGrid, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distance (m) from every cell centre to its nearest tower, by pyproj."""
    geod = pyproj.Geod(a=EARTH_RADIUS_M, b=EARTH_RADIUS_M)
    cx, cy = grid.cell_centres(np.arange(grid.n_cells))
    best = np.full(grid.n_cells, np.inf)
    for x, y in zip(lon, lat, strict=True):
        _, _, dist = geod.inv(cx, cy, np.full_like(cx, x), np.full_like(cy, y))
        best = np.minimum(best, dist)
    return best.reshape(grid.shape)


def _reference_planar(grid: AnalysisGrid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    cx, cy = grid.cell_centres(np.arange(grid.n_cells))
    dist = np.hypot(cx[:, None] - x[None, :], cy[:, None] - y[None, :]).min(axis=1)
    return dist.reshape(grid.shape)


def _assert_matches(got: np.ndarray, dist: np.ndarray, range_m: float) -> None:
    differ = got != (dist <= range_m)
    # only cells on the circle itself (rounding) may differ
    assert np.all(np.abs(dist[differ] - range_m) < 1e-3), dist[differ]


@pytest.mark.parametrize("seed", range(4))
def test_towers_match_great_circle_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = _grid(from_origin(24.0, 61.0, 0.01, 0.005), WGS84, (40, 50))  # high latitude
    lon = rng.uniform(23.9, 24.6, 12)  # some towers outside the grid
    lat = rng.uniform(60.75, 61.05, 12)
    range_m = float(rng.uniform(300, 4000))
    got = tower_cells(lon, lat, range_m=range_m, grid=grid)
    _assert_matches(got, _reference_geographic(grid, lon, lat), range_m)
    assert got.any()


@pytest.mark.parametrize("seed", range(4))
def test_towers_match_planar_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = _grid(from_origin(500_000, 9_000_000, 100, 100), UTM, (30, 40))
    x = rng.uniform(499_000, 505_000, 10)
    y = rng.uniform(8_996_000, 9_001_000, 10)
    range_m = float(rng.uniform(100, 1500))
    got = tower_cells(x, y, range_m=range_m, grid=grid)
    _assert_matches(got, _reference_planar(grid, x, y), range_m)


@pytest.mark.parametrize("cell", [(0, 0), (39, 49), (5, 31), (20, 3)])
def test_tower_range_is_exact_to_a_centimetre(cell: tuple[int, int]) -> None:
    grid = _grid(from_origin(24.0, 61.0, 0.01, 0.005), WGS84, (40, 50))
    lon, lat = np.array([24.2137]), np.array([60.8791])
    flat = np.array([cell[0] * grid.cols + cell[1]])
    dist = _reference_geographic(grid, lon, lat).ravel()[flat][0]
    assert tower_cells(lon, lat, range_m=dist + 0.01, grid=grid)[cell]
    assert not tower_cells(lon, lat, range_m=dist - 0.01, grid=grid)[cell]
    pgrid = _grid(from_origin(500_000, 9_000_000, 100, 100), UTM, (40, 50))
    x, y = np.array([502_137.3]), np.array([8_997_912.9])
    pdist = _reference_planar(pgrid, x, y).ravel()[flat][0]
    assert tower_cells(x, y, range_m=pdist + 0.01, grid=pgrid)[cell]
    assert not tower_cells(x, y, range_m=pdist - 0.01, grid=pgrid)[cell]


def test_towers_across_the_antimeridian() -> None:
    grid = _grid(from_origin(179.95, 10.0, 0.01, 0.01), WGS84, (10, 10))  # to 180.05° E
    lon, lat = np.array([-179.97]), np.array([9.95])  # = 180.03° E
    got = tower_cells(lon, lat, range_m=3000, grid=grid)
    assert got[:, 8].any() and not got[:, 0].any()
    _assert_matches(got, _reference_geographic(grid, lon, lat), 3000)


def test_towers_batches_and_huge_range(monkeypatch: pytest.MonkeyPatch) -> None:
    import reach.model.connectivity as mc

    grid = _grid(from_origin(24.0, 61.0, 0.01, 0.005), WGS84, (40, 50))
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(24.0, 24.5, 30), rng.uniform(60.8, 61.0, 30)
    whole = tower_cells(lon, lat, range_m=800, grid=grid)
    monkeypatch.setattr(mc, "_BATCH", 60)  # many small batches and painting blocks
    np.testing.assert_array_equal(tower_cells(lon, lat, range_m=800, grid=grid), whole)
    assert tower_cells(lon[:1], lat[:1], range_m=3e7, grid=grid).all()
    assert not tower_cells(np.array([]), np.array([]), range_m=800, grid=grid).any()


# --- polygons --------------------------------------------------------------------------------


def test_polygon_covers_by_cell_centre_projected(tmp_path: Path) -> None:
    # 100 m cells; the box reaches 240 m east (column 2's centre at 250 m is outside, though
    # 40 % of that cell is covered) and 160 m south (row 1's centre at 150 m is inside)
    grid = _grid(from_origin(500_000, 9_000_500, 100, 100), UTM, (5, 5))
    box = shapely.box(500_000, 9_000_340, 500_240, 9_000_500)
    expected = np.zeros((5, 5), dtype=bool)
    expected[0:2, 0:2] = True
    path = _write(tmp_path, "cov.gpkg", [box], UTM)
    np.testing.assert_array_equal(
        connected_cells(read_connectivity(path, kind="polygons"), grid), expected
    )
    # the same area in lon/lat gives the same cells
    to_ll = pyproj.Transformer.from_crs(UTM, WGS84, always_xy=True).transform
    ll_box = shapely.transform(
        shapely.segmentize(box, 10), lambda xy: np.column_stack(to_ll(xy[:, 0], xy[:, 1]))
    )
    ll_path = _write(tmp_path, "cov_ll.geojson", [ll_box], WGS84)
    np.testing.assert_array_equal(
        connected_cells(read_connectivity(ll_path, kind="polygons"), grid), expected
    )


def test_polygon_covers_by_cell_centre_geographic(tmp_path: Path) -> None:
    grid = _grid(from_origin(120.0, -8.0, 0.01, 0.01), WGS84, (5, 5))
    shapes = [
        shapely.box(120.0, -8.022, 120.024, -8.0),  # centres of rows 0-1, columns 0-1
        shapely.box(120.041, -8.05, 120.044, -8.041),  # a sliver missing every centre
    ]
    path = _write(tmp_path, "cov.gpkg", shapes, WGS84)
    got = connected_cells(read_connectivity(path, kind="polygons"), grid)
    expected = np.zeros((5, 5), dtype=bool)
    expected[0:2, 0:2] = True
    np.testing.assert_array_equal(got, expected)


# --- rasters ---------------------------------------------------------------------------------


def test_raster_any_part_above_threshold_projected(tmp_path: Path) -> None:
    # a 25 m dBm raster under a 100 m grid: a cell is connected if any valid pixel in it is
    # above -100 dBm; nodata pixels never connect
    grid = _grid(from_origin(500_000, 9_000_300, 100, 100), UTM, (3, 3))
    dbm = np.full((12, 12), -110, dtype=np.int16)
    dbm[0:4, 0:4] = -9999  # all of cell (0, 0) is nodata
    dbm[6, 11] = -80  # one pixel of cell (1, 2)
    dbm[8:12, 0:2] = -9999  # half of cell (2, 0) nodata ...
    dbm[9, 3] = -95  # ... and one valid pixel above the threshold
    dbm[0, 4] = -100  # equal to the threshold is not above it
    t = from_origin(500_000, 9_000_300, 25, 25)
    path = _write_raster(tmp_path, "dbm.tif", dbm, t, UTM, nodata=-9999)
    got = connected_cells(read_connectivity(path, kind="raster", threshold=-100), grid)
    expected = np.zeros((3, 3), dtype=bool)
    expected[1, 2] = expected[2, 0] = True
    np.testing.assert_array_equal(got, expected)
    # nodata that happens to exceed the threshold is still not connected
    ones = np.where(dbm == -9999, -9999, 0).astype(np.int16)
    path2 = _write_raster(tmp_path, "ones.tif", ones, t, UTM, nodata=-9999)
    assert not connected_cells(read_connectivity(path2, kind="raster", threshold=-10000), grid)[
        0, 0
    ]


def test_raster_coarser_than_grid_geographic(tmp_path: Path) -> None:
    grid = _grid(from_origin(120.0, -8.0, 0.01, 0.01), WGS84, (4, 4))
    flags = np.array([[1, 0], [0, 1]], dtype=np.uint8)
    path = _write_raster(tmp_path, "flags.tif", flags, from_origin(120.0, -8.0, 0.02, 0.02), WGS84)
    got = connected_cells(read_connectivity(path, kind="raster"), grid)
    np.testing.assert_array_equal(got, np.kron(flags, np.ones((2, 2), np.uint8)).astype(bool))


def test_raster_in_lon_lat_onto_projected_grid(tmp_path: Path) -> None:
    grid = _grid(from_origin(500_000, 9_000_000, 300, 300), UTM, (6, 6))
    lon, lat = pyproj.Transformer.from_crs(UTM, WGS84, always_xy=True).transform(500_900, 8_999_100)
    # a lon/lat raster much larger than the grid: west half signal, east half none
    values = np.zeros((40, 40), dtype=np.float32)
    values[:, :20] = 1.0
    t = from_origin(lon - 0.02, lat + 0.02, 0.001, 0.001)
    path = _write_raster(tmp_path, "sig.tif", values, t, WGS84)
    got = connected_cells(read_connectivity(path, kind="raster", threshold=0.5), grid)
    assert got[:, :2].all() and not got[:, 4:].any()
    # cells outside the raster are not connected
    small = _write_raster(tmp_path, "small.tif", np.ones((2, 2), np.float32), t, WGS84)
    assert not connected_cells(read_connectivity(small, kind="raster"), grid).any()
