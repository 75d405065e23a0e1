"""Deterministic writes of rasters, tables and the run manifest.

A run writes them into the temporary folder of :func:`reach.outputs.folders.atomic_folder`,
which replaces the output folder at the end, so a failed run leaves it as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from affine import Affine
from rasterio.crs import CRS

from reach.outputs.folders import OUTPUT_MARKER, atomic_folder, check_output_target

__all__ = [
    "CATEGORY_COLOURS",
    "OUTPUT_MARKER",
    "Category",
    "atomic_file",
    "atomic_folder",
    "category_style",
    "check_output_target",
    "file_sha256",
    "today_iso",
    "write_geotiff",
    "write_gpkg",
    "write_json",
    "write_table",
    "write_text_atomic",
]


#: A colour-blind-safe qualitative palette (Okabe & Ito), for category rasters.
CATEGORY_COLOURS: tuple[str, ...] = (
    "#009e73", "#e69f00", "#56b4e9", "#cc79a7", "#0072b2", "#d55e00", "#f0e442", "#999999",
)  # fmt: skip


@dataclass(frozen=True)
class Category:
    """One value of a category raster: its label and colour (``#rrggbb``).

    Attributes
    ----------
    label
        What the value means, shown in GIS legends.
    colour
        Its colour.
    """

    label: str
    colour: str


def write_geotiff(
    path: Path,
    array: np.ndarray,
    *,
    transform: Affine,
    crs: CRS,
    nodata: float | int | None,
    description: str = "",
    units: str = "",
    categories: Mapping[int, Category] | None = None,
) -> None:
    """Write one band as a Cloud-Optimized GeoTIFF (deflate), deterministically.

    A category raster (``categories`` given) gets overviews by nearest neighbour, so a zoomed-out
    view shows only values that occur (an average of reason codes or facility rows is
    meaningless), a colour table when its type allows one (8 and 16 bits), and a QGIS style
    beside it (``<name>.qml``) naming and colouring every value; a continuous raster gets
    averaged overviews and its ``units`` on the band.

    Parameters
    ----------
    path
        The file to write.
    array
        The band, rows by columns; its dtype is the file's.
    transform
        The affine transform of the grid.
    crs
        Its coordinate reference system.
    nodata
        The value of cells without data, or None.
    description
        The band's description, if any.
    units
        The band's unit (``min``), if any.
    categories
        The values of a category raster, with their labels and colours.
    """
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
        "RESAMPLING": "NEAREST" if categories is not None else "AVERAGE",
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        if description:
            dst.set_band_description(1, description)
        if units:
            dst.units = (units,)
        if categories is not None and array.dtype in (np.uint8, np.uint16):
            dst.write_colormap(
                1, {int(v): (*_rgb(c.colour), 255) for v, c in sorted(categories.items())}
            )
    if categories is not None:
        write_text_atomic(path.with_suffix(".qml"), category_style(categories))


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def category_style(categories: Mapping[int, Category]) -> str:
    """A QGIS style (QML) colouring and naming each value of a category raster.

    Parameters
    ----------
    categories
        The values with their labels and colours.

    Returns
    -------
    str
        The QML text; QGIS applies ``<raster>.qml`` when it opens ``<raster>.tif``.
    """
    entries = "\n".join(
        f'        <paletteEntry value="{int(v)}" color="{c.colour}" alpha="255" '
        f'label="{xml_escape(c.label, {chr(34): "&quot;"})}"/>'
        for v, c in sorted(categories.items())
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28" styleCategories="Symbology">\n'
        "  <pipe>\n"
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1">\n'
        "      <colorPalette>\n"
        f"{entries}\n"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        "</qgis>\n"
    )


#: Columns of coordinates, written with 6 decimals (about 0.1 m); other numbers get 3.
_COORDINATE_COLUMNS = frozenset({"lon", "lat", "longitude", "latitude", "x", "y"})


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a spreadsheet shows it: people, minutes and shares rounded to 3 decimals
    (a thousandth of a person, not a millionth), coordinates to 6; the Parquet file keeps
    every digit."""
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    if not floats:
        return frame
    out = frame.copy()
    for col in floats:
        out[col] = out[col].round(6 if str(col).lower() in _COORDINATE_COLUMNS else 3)
    return out


def write_table(frame: pd.DataFrame, stem: Path, *, parquet: bool = True) -> list[Path]:
    """Write ``frame`` as ``stem.csv`` (and ``stem.parquet``); return the files written.

    The CSV rounds people, minutes and shares to 3 decimals and coordinates to 6, so it reads
    in a spreadsheet; the Parquet file holds the exact values.

    Parameters
    ----------
    frame
        The table; its index is not written.
    stem
        The path without suffix.
    parquet
        Also write Parquet (zstd) beside the CSV.

    Returns
    -------
    list of Path
        The CSV, then the Parquet file when written.
    """
    csv = stem.with_suffix(".csv")
    _for_csv(frame).to_csv(csv, index=False, lineterminator="\n")
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

    Parameters
    ----------
    frames
        Layer name to its features, written in this order.
    path
        The GeoPackage to write (replaced by the first layer).

    Returns
    -------
    Path
        ``path``.
    """
    with _fixed_gpkg_date():
        for i, (layer, frame) in enumerate(frames.items()):
            frame.to_file(
                path, layer=layer, driver="GPKG", engine="pyogrio", mode="w" if i == 0 else "a"
            )
    return path


# GDAL's configuration is one for the process: the date is pinned when the first writer starts
# and restored when the last one ends, so GeoPackages written on two threads both get it
_gpkg_lock = threading.Lock()
_gpkg_writers = 0
_gpkg_saved: list[str | None] = []


@contextlib.contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    """``OGR_CURRENT_DATE`` pinned to :data:`GPKG_FIXED_DATE` while any thread writes."""
    global _gpkg_writers
    with _gpkg_lock:
        if _gpkg_writers == 0:
            _gpkg_saved[:] = [pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")]
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
        _gpkg_writers += 1
    try:
        yield
    finally:
        with _gpkg_lock:
            _gpkg_writers -= 1
            if _gpkg_writers == 0:
                pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _gpkg_saved[0]})


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int = 0o644) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it only when the block succeeds.

    The one way reach writes a single file in place: a reader never sees half a file, and a
    failed or killed write leaves the old one (the temporary is ``.<name>.<random>.tmp``).

    Parameters
    ----------
    path
        The file to write.
    mode
        Permission bits of the file written.

    Yields
    ------
    Path
        The temporary file to write to; it is renamed onto ``path`` when the block ends
        without an exception, and removed otherwise.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(mode)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def today_iso() -> str:
    """Today's date (UTC) as ``YYYY-MM-DD``, or that of ``SOURCE_DATE_EPOCH`` when set.

    The date the maps and reports carry: ``SOURCE_DATE_EPOCH`` pins it for reproducible builds.

    Returns
    -------
    str
        The ISO date.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.datetime.now(tz=dt.UTC).date().isoformat()


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write UTF-8 text with ``\\n`` line ends to ``path`` through :func:`atomic_file`.

    Parameters
    ----------
    path
        The file to write.
    text
        Its content.
    mode
        Permission bits of the file written.
    """
    with atomic_file(path, mode=mode) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON with sorted keys and a trailing newline.

    Parameters
    ----------
    path
        The file to write.
    data
        What to write; values JSON does not know are written as their ``str``.
    """
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (streamed).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Its sha256, 64 hex digits.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
