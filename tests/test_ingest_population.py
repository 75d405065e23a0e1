"""Population rasters: nodata rules, safe GeoTIFF opening, sum-conserving aggregation."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.crs import CRS
from rasterio.shutil import copy as rio_copy

from reach.errors import ConservationError, InputError
from reach.ingest.population import Population, aggregate_population, read_population
from reach.ingest.rasters import RasterWindow, open_geotiff

WGS84 = "EPSG:4326"


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """North-up transform (rasterio's helper, without its deprecation warning)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


CELL = 0.000833333


def write_tif(
    path: Path,
    array: np.ndarray,
    *,
    nodata: float | None = None,
    crs: str | None = WGS84,
    transform: Affine | None = None,
) -> Path:
    """Write a small GeoTIFF (one band, or several when ``array`` is 3-D)."""
    data = array if array.ndim == 3 else array[np.newaxis]
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "transform": transform or from_origin(43.2, -11.3, CELL, CELL),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def grid(values: list[list[float]], dtype: str = "float32") -> np.ndarray:
    return np.array(values, dtype=dtype)


# --- nodata rules -----------------------------------------------------------------------------


def test_declared_nodata_is_honoured(tmp_path: Path) -> None:
    arr = grid([[1, 2, -99999], [-99999, 4, 0.5]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))
    assert pop.total == pytest.approx(7.5)
    assert pop.valid.tolist() == [[True, True, False], [False, True, True]]
    assert pop.people.dtype == np.float64
    assert pop.people[0, 2] == 0.0
    assert pop.nodata_inferred is False


def test_declared_nodata_other_than_fill(tmp_path: Path) -> None:
    arr = grid([[3, 0, 0], [0, 2, 0]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=0))
    assert pop.total == pytest.approx(5.0)
    assert int(pop.valid.sum()) == 2


def test_worldpop_fill_inferred_without_declared_nodata(tmp_path: Path) -> None:
    arr = grid([[1.5, -99999, 2], [-99999, -99999, 3]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=None))
    assert pop.nodata_inferred is True
    assert pop.total == pytest.approx(6.5)
    assert pop.valid.tolist() == [[True, False, True], [False, False, True]]


def test_float_min_fill_inferred(tmp_path: Path) -> None:
    fill = float(np.finfo(np.float32).min)
    arr = grid([[1, fill], [2, fill]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=None))
    assert pop.nodata_inferred is True
    assert pop.total == pytest.approx(3.0)


def test_nan_cells_are_nodata_when_nodata_is_not_nan(tmp_path: Path) -> None:
    arr = grid([[1, np.nan], [-99999, 2]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))
    assert pop.total == pytest.approx(3.0)
    assert pop.valid.tolist() == [[True, False], [False, True]]


def test_nan_nodata_declared(tmp_path: Path) -> None:
    arr = grid([[1, np.nan], [np.nan, 2.25]])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=float("nan")))
    assert pop.total == pytest.approx(3.25)
    assert pop.nodata_inferred is False


def test_all_nan_valid_cells_rejected(tmp_path: Path) -> None:
    arr = grid([[np.nan, -99999], [np.nan, np.nan]])
    with pytest.raises(InputError, match="nodata"):
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))


def test_all_nodata_rejected(tmp_path: Path) -> None:
    arr = grid([[-99999, -99999]])
    with pytest.raises(InputError, match="every cell"):
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))


def test_negative_cells_rejected_with_count_and_min(tmp_path: Path) -> None:
    arr = grid([[1, -5], [-2, 3]])
    with pytest.raises(InputError, match=r"2 negative cells \(min -5\)") as info:
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))
    assert "p.tif" in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.fix


def test_small_negative_fill_is_not_inferred(tmp_path: Path) -> None:
    arr = grid([[1, -1], [2, 3]])
    with pytest.raises(InputError, match="negative"):
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=None))


def test_zero_total_rejected(tmp_path: Path) -> None:
    arr = grid([[0, 0], [0, -99999]])
    with pytest.raises(InputError, match="sums to 0"):
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))


def test_infinite_cells_rejected(tmp_path: Path) -> None:
    arr = grid([[1, np.inf]])
    with pytest.raises(InputError, match="infinite"):
        read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))


def test_integer_population_raster(tmp_path: Path) -> None:
    arr = np.array([[1, 2], [3, 65535]], dtype="uint16")
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=65535))
    assert pop.total == 6.0
    assert pop.people.dtype == np.float64


def test_multiband_uses_band_one(tmp_path: Path) -> None:
    arr = np.stack([grid([[1, 2]]), grid([[100, 200]])])
    pop = read_population(write_tif(tmp_path / "p.tif", arr, nodata=-99999))
    assert pop.total == pytest.approx(3.0)


# --- file-level validation --------------------------------------------------------------------


def test_missing_crs_rejected(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "p.tif", grid([[1, 2]]), crs=None)
    with pytest.raises(InputError, match="no coordinate reference system"):
        read_population(path)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_population(tmp_path / "nope.tif")


def test_folder_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        read_population(tmp_path)


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/https://example.org/pop.tif",
        "https://example.org/pop.tif",
        "zip:///tmp/pop.zip!pop.tif",
        "/VSIZIP/tmp/pop.zip/pop.tif",
    ],
)
def test_remote_and_virtual_paths_rejected(path: str) -> None:
    with pytest.raises(InputError, match="URL or GDAL virtual path"):
        read_population(path)


def test_vrt_disguised_as_tif_rejected(tmp_path: Path) -> None:
    real = write_tif(tmp_path / "real.tif", grid([[1, 2]]), nodata=-99999)
    rio_copy(real, tmp_path / "virtual.vrt", driver="VRT")
    disguised = tmp_path / "disguised.tif"
    shutil.copy(tmp_path / "virtual.vrt", disguised)
    with pytest.raises(InputError, match="VRT"):
        read_population(disguised)
    with pytest.raises(InputError, match="VRT"):
        read_population(tmp_path / "virtual.vrt")


def test_vrt_with_leading_whitespace_rejected(tmp_path: Path) -> None:
    real = write_tif(tmp_path / "real.tif", grid([[1, 2]]), nodata=-99999)
    rio_copy(real, tmp_path / "virtual.vrt", driver="VRT")
    disguised = tmp_path / "disguised.tif"
    disguised.write_bytes(b"\n  " + (tmp_path / "virtual.vrt").read_bytes())
    with pytest.raises(InputError, match=r"VRT|GeoTIFF"):
        read_population(disguised)


def test_other_format_named_tif_rejected(tmp_path: Path) -> None:
    path = tmp_path / "grid.tif"
    path.write_text(
        "ncols 2\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2\n"
    )
    with pytest.raises(InputError, match="GeoTIFF"):
        read_population(path)


def test_corrupt_tif_rejected(tmp_path: Path) -> None:
    good = write_tif(tmp_path / "good.tif", np.ones((64, 64), dtype="float32"), nodata=-99999)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(good.read_bytes()[:300])
    with pytest.raises(InputError, match="cannot read") as info:
        read_population(broken)
    assert "\n" not in str(info.value)


def test_garbage_bytes_rejected(tmp_path: Path) -> None:
    path = tmp_path / "junk.tif"
    path.write_bytes(b"II*\x00" + b"\xff" * 50)
    with pytest.raises(InputError):
        read_population(path)


def test_geographic_bounds_off_globe_rejected(tmp_path: Path) -> None:
    path = write_tif(
        tmp_path / "p.tif",
        grid([[1, 2]]),
        nodata=-99999,
        transform=from_origin(500000, 9e6, 100, 100),
    )
    with pytest.raises(InputError, match="off the globe"):
        read_population(path)


def test_projected_population_ok(tmp_path: Path) -> None:
    path = write_tif(
        tmp_path / "p.tif",
        grid([[1, 2], [3, np.nan]]),
        nodata=float("nan"),
        crs="EPSG:32636",
        transform=from_origin(600000, -1600000, 1000, 1000),
    )
    pop = read_population(path)
    assert pop.total == pytest.approx(6.0)
    assert pop.crs == CRS.from_epsg(32636)


def test_open_geotiff_keeps_dtype_and_mask(tmp_path: Path) -> None:
    arr = np.array([[1, 255], [3, 4]], dtype="uint8")
    layer = open_geotiff(write_tif(tmp_path / "lc.tif", arr, nodata=255), what="land cover")
    assert layer.values.dtype == np.uint8
    assert layer.nodata_mask.tolist() == [[False, True], [False, False]]
    assert layer.nodata == 255.0
    assert layer.shape == (2, 2)


# --- aggregation ------------------------------------------------------------------------------


def make_population(people: np.ndarray, valid: np.ndarray) -> Population:
    people = np.where(valid, people, 0.0).astype(np.float64)
    return Population(
        people=people,
        valid=valid,
        transform=from_origin(10.0, 5.0, 0.1, 0.1),
        crs=CRS.from_epsg(4326),
        path=Path("synthetic.tif"),
        total=float(people.sum()),
        nodata_inferred=False,
    )


def test_aggregate_sums_blocks_with_partial_edges() -> None:
    people = np.arange(15, dtype=float).reshape(3, 5)
    valid = np.ones((3, 5), dtype=bool)
    valid[2, :] = False
    valid[0, 4] = False
    agg = aggregate_population(make_population(people, valid), factor=2)
    assert agg.people.shape == (2, 3)
    # block (0,0): 0+1+5+6; block (0,2): col 4 → row0 invalid (0) + row1 9
    assert agg.people.tolist() == [[12.0, 20.0, 9.0], [0.0, 0.0, 0.0]]
    assert agg.valid.tolist() == [[True, True, True], [False, False, False]]
    assert agg.total == pytest.approx(41.0)
    assert agg.transform == from_origin(10.0, 5.0, 0.2, 0.2)


def test_aggregate_factor_one_is_a_copy() -> None:
    pop = make_population(np.ones((2, 2)), np.ones((2, 2), dtype=bool))
    agg = aggregate_population(pop, factor=1)
    assert agg.people is not pop.people
    assert np.array_equal(agg.people, pop.people)
    assert agg.total == pop.total


@pytest.mark.parametrize("factor", [0, -2, 1.5, True])
def test_aggregate_bad_factor_rejected(factor: object) -> None:
    pop = make_population(np.ones((2, 2)), np.ones((2, 2), dtype=bool))
    with pytest.raises(InputError, match="factor"):
        aggregate_population(pop, factor=factor)  # type: ignore[arg-type]


def test_aggregate_detects_broken_total() -> None:
    pop = make_population(np.ones((2, 2)), np.ones((2, 2), dtype=bool))
    lying = Population(
        people=pop.people,
        valid=pop.valid,
        transform=pop.transform,
        crs=pop.crs,
        path=pop.path,
        total=5.0,
        nodata_inferred=False,
    )
    with pytest.raises(ConservationError):
        aggregate_population(lying, factor=2)


@settings(max_examples=150, deadline=None)
@given(
    people=arrays(
        np.float64,
        st.tuples(st.integers(1, 23), st.integers(1, 23)),
        elements=st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    ),
    factor=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_aggregate_conserves_total(people: np.ndarray, factor: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    valid = rng.random(people.shape) < 0.8
    pop = make_population(people, valid)
    exact = math.fsum(pop.people.ravel().tolist())
    agg = aggregate_population(pop, factor=factor)
    assert agg.people.shape == (-(-people.shape[0] // factor), -(-people.shape[1] // factor))
    scale = max(abs(exact), 1e-300)
    assert abs(agg.total - exact) <= 1e-9 * scale or exact == agg.total == 0
    assert abs(math.fsum(agg.people.ravel().tolist()) - exact) <= 1e-9 * scale or exact == 0
    # valid where any sub-cell valid; no people where nothing is valid
    for r in range(agg.people.shape[0]):
        for c in range(agg.people.shape[1]):
            block = valid[r * factor : (r + 1) * factor, c * factor : (c + 1) * factor]
            assert agg.valid[r, c] == block.any()
            if not block.any():
                assert agg.people[r, c] == 0.0


# --- real data --------------------------------------------------------------------------------


def test_comoros_worldpop(comoros: Path) -> None:
    path = comoros / "com_ppp_2020_UNadj.tif"
    pop = read_population(path)
    assert pop.total == pytest.approx(869_595, abs=1)
    assert pop.nodata_inferred is False
    assert open_geotiff(path, what="population raster").nodata == -99999
    assert pop.people.shape == (1270, 1576)
    assert pop.crs == CRS.from_epsg(4326)
    agg = aggregate_population(pop, factor=10)
    assert agg.people.shape == (127, 158)
    assert agg.total == pytest.approx(pop.total, rel=1e-12)


def test_malawi_population(malawi: Path) -> None:
    pop = read_population(malawi / "population.tif")
    assert pop.total == pytest.approx(4_140_429, abs=1)
    assert pop.nodata_inferred is False
    assert pop.crs == CRS.from_epsg(32636)
    assert pop.people.shape == (196, 227)


# --- windows ----------------------------------------------------------------------------------


def test_windowed_population_is_the_whole_read_under_the_window(tmp_path: Path) -> None:
    people = np.arange(40 * 50, dtype=np.float32).reshape(40, 50) % 7
    people[:12, :] = -99999.0  # an undeclared fill, inferred as nodata
    path = write_tif(tmp_path / "pop.tif", people)
    whole = read_population(path)
    west, north = 43.2, -11.3
    box = (west + 20 * CELL, north - 30 * CELL, west + 30 * CELL, north - 20 * CELL)
    window = RasterWindow(bounds=box, crs=CRS.from_epsg(4326))
    part = read_population(path, window=window)
    assert part is not None
    col0, row0 = (round(v) for v in ~whole.transform @ (part.transform.c, part.transform.f))
    rows, cols = part.shape
    assert rows >= 10 + 2 * window.margin_px and cols >= 10 + 2 * window.margin_px
    np.testing.assert_array_equal(part.people, whole.people[row0 : row0 + rows, col0 : col0 + cols])
    np.testing.assert_array_equal(part.valid, whole.valid[row0 : row0 + rows, col0 : col0 + cols])
    assert part.total == float(part.people.sum())
    # a window of nodata only is not refused (the whole raster has people)
    top = (west + 20 * CELL, north - 5 * CELL, west + 30 * CELL, north - 2 * CELL)
    empty = read_population(path, window=RasterWindow(bounds=top, crs=CRS.from_epsg(4326)))
    assert empty is not None and not empty.valid.any() and empty.total == 0.0
    # nor is a window off the raster: there is nothing to read
    off = RasterWindow(bounds=(0.0, 0.0, 1.0, 1.0), crs=CRS.from_epsg(4326))
    assert read_population(path, window=off) is None
