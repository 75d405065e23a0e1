"""Atomic, deterministic writes of rasters, tables and the run manifest.

A run writes into a fresh temporary folder beside the destination and renames it into place at
the end, so a failed run leaves the output folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.errors import InputError

__all__ = [
    "OUTPUT_MARKER",
    "atomic_folder",
    "file_sha256",
    "write_geotiff",
    "write_gpkg",
    "write_json",
    "write_table",
]


#: A file in every folder reach writes: only such folders (or empty ones) are ever replaced.
OUTPUT_MARKER = ".reach-output"


def _check_replaceable(destination: Path) -> None:
    """Refuse to replace a file, or a folder that reach did not write."""
    if destination.is_file() or (destination.exists() and not destination.is_dir()):
        raise InputError(
            "the output folder is an existing file",
            path=destination,
            fix="choose another output folder, or move the file away",
        )
    if destination.is_dir():
        if (destination / OUTPUT_MARKER).is_file() or (destination / "manifest.json").is_file():
            return
        if any(destination.iterdir()):
            raise InputError(
                "the output folder holds files that reach did not write; a run replaces its "
                "output folder, so it will not use this one",
                path=destination,
                fix="choose a new or empty output folder",
            )


@contextmanager
def atomic_folder(destination: Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``destination`` when the block succeeds.

    On an exception the temporary folder is removed and ``destination`` is untouched. The new
    folder carries :data:`OUTPUT_MARKER`; an existing ``destination`` is replaced only when it is
    empty or was written by reach.

    Raises
    ------
    InputError
        When ``destination`` is a file, or a folder with files reach did not write.
    """
    destination = Path(destination).resolve()
    _check_replaceable(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the output folder's parent: {exc.strerror}",
            path=destination.parent,
            fix="choose an output folder you can write to",
        ) from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.tmp-", dir=destination.parent))
    try:
        (tmp / OUTPUT_MARKER).write_text("written by reach; this folder is replaced on each run\n")
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old: Path | None = None
    if destination.exists():
        old = destination.parent / f".{destination.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        destination.rename(old)
    try:
        tmp.rename(destination)
    except BaseException:
        if old is not None:
            old.rename(destination)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
