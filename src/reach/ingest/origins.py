"""Places a planner asks about: origins as ``LON,LAT`` text or a file of points.

An origin is a point in WGS 84 with an id: a village, a house, a school a planner wants the
route from. A file of them is a CSV or xlsx table with longitude and latitude columns (any of
:data:`reach.ingest.conventions.LON_ALIASES` / ``LAT_ALIASES``, decimal comma accepted), or a
vector file of points (GeoPackage, GeoJSON, shapefile; polygons give their inner point). Ids come
from ``--id-column``, else an ``id`` / ``origin_id`` / name column, else the row numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from reach.errors import InputError, ScenarioError
from reach.ingest.boundaries import read_vector_file, text_values
from reach.ingest.conventions import LAT_ALIASES, LON_ALIASES, NAME_ALIASES, parse_number
from reach.ingest.tables import EXCEL_SUFFIXES, decimal_comma_table, read_table_text

__all__ = ["MAX_ORIGINS", "parse_lonlat", "read_origins"]

#: The most origins one call explains (each is a route per service; more is an OD table's job).
MAX_ORIGINS = 100_000

_ID_NAMES: tuple[str, ...] = ("origin_id", "id", "kode", *NAME_ALIASES)
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


def parse_lonlat(text: str, *, option: str = "--at") -> tuple[float, float]:
    """``"LON,LAT"`` in decimal degrees, checked.

    Parameters
    ----------
    text
        The text given (``"123.45,-10.2"``).
    option
        The option it came from, for the message.

    Returns
    -------
    tuple of float
        ``(lon, lat)``.

    Raises
    ------
    ScenarioError
        When it is not two numbers, or not a longitude and a latitude.
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise ScenarioError(
            f"{option} {text!r} is not LON,LAT", fix=f"e.g. {option} 44.25,-12.28"
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise ScenarioError(
            f"{option} {text!r} is not a longitude (±180) and a latitude (±90)",
            fix="give decimal degrees, longitude first",
        )
    return lon, lat


def _ids(table: pd.DataFrame, column: str | None, path: Path) -> list[str]:
    if column is not None:
        if column not in table.columns:
            raise InputError(
                f"no column {column!r} for the origins' ids",
                path=path,
                fix=f"use one of: {', '.join(map(str, table.columns))}",
            )
        found: str | None = column
    else:
        lowered = {str(c).lower(): str(c) for c in table.columns}
        found = next((lowered[n] for n in _ID_NAMES if n in lowered), None)
    if found is None:
        return [str(i) for i in range(1, len(table) + 1)]
    values = text_values(table[found])
    return [v if v else str(i) for i, v in enumerate(values, start=1)]


def read_origins(path: Path, *, id_column: str | None = None) -> pd.DataFrame:
    """Read a file of origins.

    Parameters
    ----------
    path
        A CSV / xlsx table with longitude and latitude columns, or a vector file of points.
    id_column
        The column of the origins' ids (default: found, or the row numbers).

    Returns
    -------
    pandas.DataFrame
        ``origin_id`` (str), ``lon``, ``lat`` (WGS 84), in the file's order.

    Raises
    ------
    InputError
        When the file cannot be read, has no rows or no coordinates, or holds more than
        :data:`MAX_ORIGINS` origins.
    """
    what = "origins file"
    if not path.is_file():
        raise InputError(f"no {what} here", path=path, fix="give the path of a CSV or GeoPackage")
    if path.suffix.lower() in _VECTOR_SUFFIXES:
        gdf = read_vector_file(path, what=what)
        if gdf.crs is None:
            raise InputError(f"the {what} has no CRS", path=path, fix="save it with its CRS")
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)
        geoms = np.asarray(gdf.geometry.to_crs("EPSG:4326").to_numpy(), dtype=object)
        not_point = shapely.get_type_id(geoms) != 0
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
        lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
        table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    else:
        table = read_table_text(path, what=what)
        columns = [str(c) for c in table.columns]
        lowered = {c.lower(): c for c in columns}
        lon_col = next((lowered[a] for a in LON_ALIASES if a in lowered), None)
        lat_col = next((lowered[a] for a in LAT_ALIASES if a in lowered), None)
        if lon_col is None or lat_col is None:
            raise InputError(
                f"the {what} has no longitude and latitude columns",
                path=path,
                fix="name them lon and lat (decimal degrees, WGS 84)",
            )
        comma = path.suffix.lower() not in EXCEL_SUFFIXES and decimal_comma_table(path, what=what)
        lon = np.array([parse_number(v, decimal_comma=comma) for v in text_values(table[lon_col])])
        lat = np.array([parse_number(v, decimal_comma=comma) for v in text_values(table[lat_col])])
    if len(table) == 0:
        raise InputError(f"the {what} has no rows", path=path, fix="give at least one origin")
    if len(table) > MAX_ORIGINS:
        raise InputError(
            f"the {what} has {len(table):,} origins, more than {MAX_ORIGINS:,}",
            path=path,
            fix="split it, or ask for an origin–destination table of zones",
        )
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(
            f"{int(bad.sum())} origins have no longitude (±180) and latitude (±90) "
            f"(first: row {row})",
            path=path,
            fix="give decimal degrees in WGS 84, or delete those rows",
        )
    return pd.DataFrame(
        {"origin_id": _ids(table, id_column, path), "lon": lon.astype(float), "lat": lat}
    )
