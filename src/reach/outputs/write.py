"""Deterministic writes of rasters, tables and the run manifest.

A run writes them into the temporary folder of :func:`reach.outputs.folders.atomic_folder`,
which replaces the output folder at the end, so a failed run leaves it as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.outputs.folders import OUTPUT_MARKER, atomic_folder, check_output_target

__all__ = [
    "OUTPUT_MARKER",
    "atomic_folder",
    "check_output_target",
    "file_sha256",
    "write_geotiff",
    "write_gpkg",
    "write_json",
    "write_table",
]


def write_geotiff(
    path: Path,
    array: np.ndarray,
    *,
    transform: Affine,
    crs: CRS,
    nodata: float | int | None,
    description: str = "",
) -> None:
    """Write one band as a Cloud-Optimized GeoTIFF (deflate), deterministically."""
    profile: dict[str, Any] = {
        "driver": "COG",
        "height": array.shape[0],
        "width": array.shape[1],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "DEFLATE",
        "BLOCKSIZE": 512,
        "NUM_THREADS": "1",
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        if description:
            dst.set_band_description(1, description)


def write_table(frame: pd.DataFrame, stem: Path, *, parquet: bool = True) -> list[Path]:
    """Write ``frame`` as ``stem.csv`` (and ``stem.parquet``); return the files written."""
    csv = stem.with_suffix(".csv")
    frame.to_csv(csv, index=False, float_format="%.6f", lineterminator="\n")
    written = [csv]
    if parquet:
        pq = stem.with_suffix(".parquet")
        frame.reset_index(drop=True).to_parquet(pq, index=False, compression="zstd")
        written.append(pq)
    return written


#: The date written into GeoPackage metadata, so the same data gives the same bytes.
GPKG_FIXED_DATE = "2000-01-01T00:00:00.000Z"


def write_gpkg(frames: Mapping[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write one GeoPackage with a layer per entry of ``frames``, byte for byte reproducibly.

    GDAL stamps the write time into the file's metadata; it is pinned to
    :data:`GPKG_FIXED_DATE` while writing.
    """
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    try:
        for i, (layer, frame) in enumerate(frames.items()):
            frame.to_file(
                path, layer=layer, driver="GPKG", engine="pyogrio", mode="w" if i == 0 else "a"
            )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (streamed)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
