"""When an input's data are from: the data's own date, not the day the file was copied.

A report's sources table says how current each input is. A file's modification time only says
when it was downloaded or copied; the data carry better dates of their own:

* an OSM extract (``.osm.pbf``, ``.osm``) its replication timestamp (the moment of the planet
  it was cut from), or the file header's timestamp;
* a GeoTIFF its ``TIFFTAG_DATETIME`` tag, when the producer wrote one;
* many rasters and tables a year in their name (WorldPop's ``com_ppp_2020_UNadj.tif``).

The modification time is the last resort, and is labelled as such.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDate", "data_date"]

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")


@dataclass(frozen=True)
class DataDate:
    """An input's date and where it was read from.

    Attributes
    ----------
    date
        ISO date (``2021-04-08``) or year (``2020``).
    source
        ``osm`` (the extract's replication timestamp or header), ``tiff`` (its date tag),
        ``name`` (a year in the file name) or ``file`` (the file's modification time).
    """

    date: str
    source: str


def _osm_date(path: Path) -> str | None:
    import osmium

    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    except (RuntimeError, OSError):
        return None
    try:
        header = reader.header()
        stamp = header.get("osmosis_replication_timestamp") or header.get("timestamp")
    finally:
        reader.close()
    return stamp[:10] if stamp and re.match(r"\d{4}-\d\d-\d\d", stamp) else None


def _tiff_date(path: Path) -> str | None:
    import rasterio

    try:
        with rasterio.open(path) as ds:
            stamp = ds.tags().get("TIFFTAG_DATETIME", "")
    except (rasterio.errors.RasterioIOError, OSError):
        return None
    found = re.match(r"(\d{4})[:\-](\d\d)[:\-](\d\d)", stamp)
    return "-".join(found.groups()) if found else None


def data_date(path: Path) -> DataDate | None:
    """The date of an input's data, from the best place it can be read.

    Parameters
    ----------
    path
        The input file.

    Returns
    -------
    DataDate or None
        The date and its source; ``None`` when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        return None
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".osm", ".pbf")):
        osm = _osm_date(path)
        if osm:
            return DataDate(osm, "osm")
    if name.endswith((".tif", ".tiff")):
        tiff = _tiff_date(path)
        if tiff:
            return DataDate(tiff, "tiff")
    year = _YEAR.search(path.stem)
    if year:
        return DataDate(year.group(1), "name")
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).date().isoformat()
    return DataDate(modified, "file")
