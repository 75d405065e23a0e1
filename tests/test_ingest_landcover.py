"""Land cover classes, cover fractions and DEM tiles (GeoTIFF and SRTM .hgt.zip)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.errors import InputError
from reach.ingest.landcover import read_cover_fractions, read_dem, read_landcover_classes
from reach.ingest.rasters import RasterWindow

MALAWI_LABELS = {1: "Built_area", 2: "Low_dense_vegetation", 3: "Dense_vegetation"}
CGLC = (
    "Bare",
    "BuiltUp",
    "Crops",
    "Grass",
    "MossLichen",
    "PermanentWater",
    "SeasonalWater",
    "Shrub",
    "Snow",
    "Tree",
)


def north_up(x: float, y: float, size: float) -> Affine:
    return Affine(size, 0.0, x, 0.0, -size, y)


def write_tif(
    path: Path,
    array: np.ndarray,
    *,
    nodata: float | None = None,
    crs: str = "EPSG:32636",
    transform: Affine | None = None,
) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=array.shape[0],
        width=array.shape[1],
        count=1,
        dtype=array.dtype.name,
        crs=crs,
        transform=transform or north_up(600000, -1600000, 1000),
        nodata=nodata,
    ) as dst:
        dst.write(array, 1)
    return path


# --- classes ----------------------------------------------------------------------------------


def test_classes_read_with_nodata(tmp_path: Path) -> None:
    arr = np.array([[1, 2, 255], [3, 3, 1]], dtype="uint8")
    lc = read_landcover_classes(
        write_tif(tmp_path / "lc.tif", arr, nodata=255), labels=MALAWI_LABELS
    )
    assert lc.fractions is None
    assert lc.classes is not None
    assert lc.classes.values.dtype == np.uint8
    assert lc.classes.nodata_mask.tolist() == [[False, False, True], [False, False, False]]
    assert lc.class_labels == MALAWI_LABELS


def test_unlabelled_classes_listed(tmp_path: Path) -> None:
    arr = np.array([[1, 7, 9], [3, 0, 1]], dtype="uint8")
    with pytest.raises(InputError, match="no label: 0, 7, 9"):
        read_landcover_classes(
            write_tif(tmp_path / "lc.tif", arr, nodata=255), labels=MALAWI_LABELS
        )


def test_undeclared_fill_is_an_unlabelled_class(tmp_path: Path) -> None:
    arr = np.array([[1, 255]], dtype="uint8")
    with pytest.raises(InputError, match="255"):
        read_landcover_classes(write_tif(tmp_path / "lc.tif", arr), labels=MALAWI_LABELS)


def test_fractional_classes_rejected(tmp_path: Path) -> None:
    arr = np.array([[1.0, 2.5]], dtype="float32")
    with pytest.raises(InputError, match="fractional"):
        read_landcover_classes(write_tif(tmp_path / "lc.tif", arr), labels=MALAWI_LABELS)


def test_integral_float_classes_ok(tmp_path: Path) -> None:
    arr = np.array([[1.0, 2.0, np.nan]], dtype="float32")
    lc = read_landcover_classes(write_tif(tmp_path / "lc.tif", arr), labels=MALAWI_LABELS)
    assert lc.classes is not None and lc.classes.nodata_mask.tolist() == [[False, False, True]]


def test_bad_labels_rejected(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "lc.tif", np.array([[1]], dtype="uint8"))
    with pytest.raises(InputError, match="no land cover class labels"):
        read_landcover_classes(path, labels={})
    with pytest.raises(InputError, match="whole number"):
        read_landcover_classes(path, labels={"1": "Built"})  # type: ignore[dict-item]


def test_all_nodata_classes_rejected(tmp_path: Path) -> None:
    arr = np.array([[255, 255]], dtype="uint8")
    with pytest.raises(InputError, match="every cell"):
        read_landcover_classes(
            write_tif(tmp_path / "lc.tif", arr, nodata=255), labels=MALAWI_LABELS
        )


# --- fractions --------------------------------------------------------------------------------


def test_fractions_on_one_grid(tmp_path: Path) -> None:
    tree = write_tif(tmp_path / "tree.tif", np.array([[80, 255]], dtype="uint8"), nodata=255)
    crops = write_tif(tmp_path / "crops.tif", np.array([[20, 255]], dtype="uint8"))
    lc = read_cover_fractions({"Tree": tree, "Crops": crops})
    assert lc.classes is None
    assert lc.fractions is not None
    assert list(lc.fractions) == ["Tree", "Crops"]
    assert lc.class_labels == {1: "Tree", 2: "Crops"}
    # 255 is nodata even where the file does not declare it
    assert lc.fractions["Crops"].nodata_mask.tolist() == [[False, True]]


def test_fractions_on_different_grids_rejected(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "a.tif", np.zeros((2, 2), dtype="uint8"))
    b = write_tif(
        tmp_path / "b.tif",
        np.zeros((2, 2), dtype="uint8"),
        transform=north_up(600100, -1600000, 1000),
    )
    c = write_tif(tmp_path / "c.tif", np.zeros((2, 3), dtype="uint8"))
    with pytest.raises(InputError, match="same grid"):
        read_cover_fractions({"A": a, "B": b})
    with pytest.raises(InputError, match="same grid"):
        read_cover_fractions({"A": a, "C": c})


def test_fraction_out_of_range_rejected(tmp_path: Path) -> None:
    a = write_tif(tmp_path / "a.tif", np.array([[50, 150]], dtype="uint8"), nodata=255)
    with pytest.raises(InputError, match=r"1 cells outside 0–100 \(min 150, max 150\)"):
        read_cover_fractions({"A": a})


def test_no_fractions_rejected() -> None:
    with pytest.raises(InputError, match="no cover fraction"):
        read_cover_fractions({})


# --- DEM --------------------------------------------------------------------------------------


def test_dem_geotiff_void_masked(tmp_path: Path) -> None:
    arr = np.array([[10, -32768], [2000, 5]], dtype="int16")
    (dem,) = read_dem([write_tif(tmp_path / "dem.tif", arr)])
    assert dem.values.dtype == np.float64
    assert np.isnan(dem.values[0, 1])
    assert dem.nodata_mask.tolist() == [[False, True], [False, False]]
    assert np.nanmax(dem.values) == 2000.0


def test_dem_declared_nodata_masked(tmp_path: Path) -> None:
    arr = np.array([[10.5, -9999.0]], dtype="float32")
    (dem,) = read_dem([write_tif(tmp_path / "dem.tif", arr, nodata=-9999)])
    assert dem.nodata_mask.tolist() == [[False, True]]


def test_dem_undeclared_fill_rejected(tmp_path: Path) -> None:
    arr = np.array([[10.5, -9999.0]], dtype="float32")
    with pytest.raises(InputError, match=r"elevations from -9999"):
        read_dem([write_tif(tmp_path / "dem.tif", arr)])


def test_dem_bad_zip_rejected(tmp_path: Path) -> None:
    path = tmp_path / "S12E043.SRTMGL1.hgt.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="zip"):
        read_dem([path])
    empty = tmp_path / "S13E043.SRTMGL1.hgt.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match=r"0 \.hgt files"):
        read_dem([empty])


def test_dem_no_tiles_rejected() -> None:
    with pytest.raises(InputError, match="no elevation tiles"):
        read_dem([])


def test_dem_vrt_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dem.tif"
    path.write_text('<VRTDataset rasterXSize="1" rasterYSize="1"></VRTDataset>')
    with pytest.raises(InputError, match="VRT"):
        read_dem([path])


# --- windows ----------------------------------------------------------------------------------

#: The test rasters' CRS, as a window names it.
UTM36S = CRS.from_epsg(32636)


def _window(rows: tuple[int, int], cols: tuple[int, int], *, cell: float = 1000) -> RasterWindow:
    """A window over rows and columns of the rasters ``write_tif`` writes by default."""
    x0, y0 = 600000, -1600000
    return RasterWindow(
        bounds=(x0 + cols[0] * cell, y0 - rows[1] * cell, x0 + cols[1] * cell, y0 - rows[0] * cell),
        crs=UTM36S,
    )


def test_windowed_classes_are_the_whole_read_under_the_window(tmp_path: Path) -> None:
    classes = (np.arange(20 * 30, dtype=np.uint8).reshape(20, 30) % 3) + 1
    classes[0, :] = 255
    path = write_tif(tmp_path / "lc.tif", classes, nodata=255)
    whole = read_landcover_classes(path, labels=MALAWI_LABELS).classes
    window = _window((4, 9), (5, 12))
    part = read_landcover_classes(path, labels=MALAWI_LABELS, window=window)
    assert whole is not None and part is not None and part.classes is not None
    m = window.margin_px
    rows, cols = slice(4 - m, 9 + m), slice(5 - m, 12 + m)
    np.testing.assert_array_equal(part.classes.values, whole.values[rows, cols])
    np.testing.assert_array_equal(part.classes.nodata_mask, whole.nodata_mask[rows, cols])
    assert part.classes.transform == whole.transform @ Affine.translation(5 - m, 4 - m)
    assert part.class_labels == MALAWI_LABELS
    # a south-up copy gives the same window
    t = north_up(600000, -1600000, 1000)
    south = Affine(t.a, 0, t.c, 0, -t.e, t.f + t.e * 20)
    flipped = write_tif(tmp_path / "s.tif", classes[::-1].copy(), nodata=255, transform=south)
    part_s = read_landcover_classes(flipped, labels=MALAWI_LABELS, window=window)
    assert part_s is not None and part_s.classes is not None
    np.testing.assert_array_equal(part_s.classes.values, part.classes.values)
    assert part_s.classes.transform == part.classes.transform


def test_windowed_reads_keep_the_checks_but_allow_an_empty_window(tmp_path: Path) -> None:
    classes = np.full((30, 30), 255, np.uint8)
    classes[20:, 20:] = 1
    path = write_tif(tmp_path / "lc.tif", classes, nodata=255)
    # only nodata under the window: no error (the whole file has valid cells)
    empty = read_landcover_classes(path, labels={1: "a"}, window=_window((2, 6), (2, 6)))
    assert empty is not None and empty.classes is not None
    assert empty.classes.nodata_mask.all()
    # class labels are still checked in a window
    classes[20:, 20:] = 7
    path = write_tif(tmp_path / "lc7.tif", classes, nodata=255)
    with pytest.raises(InputError, match="no label: 7"):
        read_landcover_classes(path, labels={1: "a"}, window=_window((22, 26), (22, 26)))
    # and the cover fractions' range
    bad = write_tif(tmp_path / "f.tif", np.full((30, 30), 120, np.uint8))
    with pytest.raises(InputError, match="outside 0–100"):
        read_cover_fractions({"Tree": bad}, window=_window((2, 6), (2, 6)))


def test_a_window_off_the_rasters_reads_nothing(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "lc.tif", np.ones((10, 10), np.uint8))
    far = _window((500, 510), (500, 510))
    assert read_landcover_classes(path, labels={1: "a"}, window=far) is None
    assert read_cover_fractions({"Tree": path}, window=far) is None
    assert read_dem([path], window=far) == []


def test_windowed_fractions_are_the_whole_read_under_the_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    paths = {
        name: write_tif(tmp_path / f"{name}.tif", rng.integers(0, 101, (25, 25)).astype(np.uint8))
        for name in ("Tree", "Crops")
    }
    whole = read_cover_fractions(paths)
    window = _window((10, 14), (3, 8))
    part = read_cover_fractions(paths, window=window)
    assert whole.fractions is not None and part is not None and part.fractions is not None
    assert part.class_labels == whole.class_labels == {1: "Tree", 2: "Crops"}
    m = window.margin_px
    for name, layer in part.fractions.items():
        expected = whole.fractions[name].values[10 - m : 14 + m, max(3 - m, 0) : 8 + m]
        np.testing.assert_array_equal(layer.values, expected)


def _hgt(path: Path, value: int) -> Path:
    """A 3-arc-second SRTM tile (1201 × 1201 big-endian int16) of one elevation."""
    np.full((1201, 1201), value, dtype=">i2").tofile(path)
    return path


def test_srtm_tiles_read_whole_when_their_name_is_under_the_window(tmp_path: Path) -> None:
    tile = _hgt(tmp_path / "S12E043.hgt", 250)
    over = RasterWindow(bounds=(43.2, -11.8, 43.4, -11.6), crs=CRS.from_epsg(4326))
    away = RasterWindow(bounds=(10.0, 5.0, 10.5, 5.5), crs=CRS.from_epsg(4326))
    (dem,) = read_dem([tile], window=over)
    assert dem.shape == (1201, 1201) and float(np.nanmax(dem.values)) == 250
    assert read_dem([tile], window=away) == []
    # a projected window is placed in lon/lat
    utm38s = RasterWindow(bounds=(300000, 8700000, 310000, 8710000), crs=CRS.from_epsg(32738))
    assert len(read_dem([tile], window=utm38s)) == 1


# --- real data --------------------------------------------------------------------------------


def test_malawi_landcover(malawi: Path) -> None:
    lc = read_landcover_classes(malawi / "landcover.tif", labels=MALAWI_LABELS)
    assert lc.classes is not None
    values = lc.classes.values[~lc.classes.nodata_mask]
    assert sorted(np.unique(values).tolist()) == [1, 2, 3]
    with pytest.raises(InputError, match="no label: 3"):
        read_landcover_classes(malawi / "landcover.tif", labels={1: "a", 2: "b"})


def test_comoros_cover_fractions(comoros: Path) -> None:
    folder = comoros / "landcover_cglc"
    lc = read_cover_fractions({name: folder / f"landcover_{name}.tif" for name in CGLC})
    assert lc.fractions is not None
    assert len(lc.fractions) == 10
    tree = lc.fractions["Tree"]
    assert tree.shape == (1028, 1327)
    assert tree.crs.to_epsg() == 4326
    assert int(tree.values[~tree.nodata_mask].max()) <= 100


def test_comoros_srtm(comoros: Path) -> None:
    tiles = sorted((comoros / "srtm").glob("*.hgt.zip"))
    assert len(tiles) == 3
    dems = read_dem(tiles)
    assert len(dems) == 3
    assert all(d.shape == (3601, 3601) for d in dems)
    assert max(float(np.nanmax(d.values)) for d in dems) == pytest.approx(2361, abs=1)
    assert all(d.crs.to_epsg() == 4326 for d in dems)


def test_malawi_dem(malawi: Path) -> None:
    (dem,) = read_dem([malawi / "dem.tif"])
    assert np.nanmin(dem.values) == 42 and np.nanmax(dem.values) == 2957
