"""Deterministic file writers (the output folders themselves: tests/test_folders.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.outputs.write import file_sha256, write_geotiff


def test_geotiff_is_deterministic(tmp_path: Path) -> None:
    arr = np.arange(600 * 700, dtype=np.float32).reshape(600, 700)
    arr[0, 0] = np.nan
    kw = {"transform": Affine(0.001, 0, 120, 0, -0.001, -9), "crs": CRS.from_epsg(4326)}
    write_geotiff(tmp_path / "a.tif", arr, nodata=float("nan"), **kw)
    write_geotiff(tmp_path / "b.tif", arr, nodata=float("nan"), **kw)
    assert file_sha256(tmp_path / "a.tif") == file_sha256(tmp_path / "b.tif")
    with rasterio.open(tmp_path / "a.tif") as src:
        back = src.read(1)
        assert src.crs.to_epsg() == 4326
    np.testing.assert_array_equal(back[1:], arr[1:])
