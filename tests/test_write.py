"""Atomic output folders: a failed run leaves the folder as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.errors import InputError
from reach.outputs.write import OUTPUT_MARKER, atomic_folder, file_sha256, write_geotiff


def test_failed_block_leaves_destination_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("previous run")
    (dest / OUTPUT_MARKER).write_text("")
    with pytest.raises(RuntimeError), atomic_folder(dest) as tmp:
        (tmp / "half.csv").write_text("partial")
        raise RuntimeError("boom")
    assert sorted(p.name for p in dest.iterdir()) == [OUTPUT_MARKER, "old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_success_replaces_destination(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("previous run")
    (dest / "manifest.json").write_text("{}")
    with atomic_folder(dest) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == [OUTPUT_MARKER, "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("kind", ["file", "foreign folder"])
def test_never_replaces_what_reach_did_not_write(tmp_path: Path, kind: str) -> None:
    dest = tmp_path / "out"
    if kind == "file":
        dest.write_text("a user's file")
    else:
        dest.mkdir()
        (dest / "thesis.docx").write_text("years of work")
    with pytest.raises(InputError) as info, atomic_folder(dest) as tmp:
        (tmp / "new.txt").write_text("new")
    assert str(dest) in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (dest.read_text() if kind == "file" else (dest / "thesis.docx").read_text())


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
