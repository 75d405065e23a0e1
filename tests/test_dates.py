"""An input's date is its data's date: the OSM extract's, the raster's tag, a year in the name."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from reach.ingest.dates import data_date


def _tif(path: Path, tags: dict[str, str] | None = None) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
        crs="EPSG:4326", transform=Affine(1, 0, 0, 0, -1, 2),
    ) as ds:  # fmt: skip
        ds.write(np.zeros((1, 2, 2), np.uint8))
        if tags:
            ds.update_tags(**tags)
    return path


def test_the_data_date_comes_from_the_data_before_the_file(tmp_path: Path) -> None:
    tagged = _tif(tmp_path / "pop_2019.tif", {"TIFFTAG_DATETIME": "2018:06:30 12:00:00"})
    assert data_date(tagged).date == "2018-06-30" and data_date(tagged).source == "tiff"
    named = _tif(tmp_path / "com_ppp_2020_UNadj.tif")
    assert (data_date(named).date, data_date(named).source) == ("2020", "name")
    plain = tmp_path / "clinics.csv"
    plain.write_text("a\n1\n")
    os.utime(plain, (1_600_000_000, 1_600_000_000))
    assert (data_date(plain).date, data_date(plain).source) == ("2020-09-13", "file")
    assert data_date(tmp_path / "missing.csv") is None
    srtm = tmp_path / "S12E043.SRTMGL1.hgt.zip"
    srtm.write_bytes(b"")
    assert data_date(srtm).source == "file"  # "043" is no year


@pytest.mark.realdata
def test_an_osm_extract_is_dated_by_its_replication_timestamp(comoros: Path) -> None:
    when = data_date(comoros / "comores-latest.osm.pbf")
    assert when is not None
    assert (when.date, when.source) == ("2021-04-08", "osm")
