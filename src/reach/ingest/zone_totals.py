"""Read a table of people per reporting zone (e.g. census totals), validated against the zones.

The table the population correction (:mod:`reach.model.population_correction`) rescales the
raster to: one row per zone, its id and its people. A table reach cannot use exactly is refused
with one line naming the file, the problem and the fix. Numeric administrative codes match with
or without their dots (a table's ``5311`` is the zones' ``53.11``, Kemendagri style); BPS codes
are other numbers and are not translated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from reach.errors import InputError
from reach.ingest.boundaries import read_vector_file
from reach.ingest.conventions import zone_code_key
from reach.ingest.rasters import check_local_path
from reach.ingest.tables import read_table_text

__all__ = ["match_zone_codes", "read_zone_totals"]

_WHAT = "population correction table"
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


def read_zone_totals(
    path: str | Path,
    *,
    zone_column: str,
    total_column: str,
    zone_ids: Sequence[str],
    table: str = "[region.population_correction]",
    ignored: list[str] | None = None,
) -> dict[str, float]:
    """Read people per zone from a CSV (or a vector file's attributes), one row per zone.

    Parameters
    ----------
    path
        CSV (comma, semicolon, tab or bar separated, UTF-8), an xlsx workbook (first sheet), or
        a GeoPackage, GeoJSON, shapefile or FlatGeobuf whose attribute table is read.
    zone_column
        Column holding the zone id.
    total_column
        Column holding the zone's people.
    zone_ids
        The ids of the region's reporting zones; the table must give each exactly once. A
        numeric code matches a zone's code with or without dots (``5311`` = ``53.11``).
    table
        The scenario table that names the file, for the messages' fixes.
    ignored
        When given, rows whose zone the zones do not have (the province's own row, the other
        kabupaten of a province table) are left out and their ids appended here, instead of
        being refused.

    Notes
    -----
    Totals are whole people: a thousands separator (``277.290``, ``277,290``, ``277 290``) is
    read as such; a single decimal comma (``12,5``) as a decimal.

    Returns
    -------
    dict
        People (``float`` ≥ 0) by zone id, in the order of ``zone_ids``.

    Raises
    ------
    InputError
        When the file cannot be read, lacks a column, repeats a zone, names a zone the zones
        file does not have or leaves one out, or gives a total that is missing, not a number,
        negative or not finite.
    """
    p = check_local_path(path, what=_WHAT)
    rows = _read_table(p)
    for col, key in ((zone_column, "zone_column"), (total_column, "total_column")):
        if col not in rows.columns:
            raise InputError(
                f"no column {col!r} (columns: {', '.join(map(str, rows.columns))})",
                path=p,
                fix=f"set `{key}` in {table} to one of the columns",
            )
    known = [str(z) for z in zone_ids]
    ids = pd.Series(
        match_zone_codes(rows[zone_column].astype(str).str.strip().tolist(), known),
        index=rows.index,
        dtype=object,
    )
    if ignored is not None:
        extra = ~ids.isin(known)
        ignored += [str(v) for v in ids[extra]]
        rows, ids = rows.loc[~extra], ids[~extra]
    dup = sorted(set(ids[ids.duplicated()]))
    if dup:
        raise InputError(
            f"zone {', '.join(map(repr, dup))} appears more than once",
            path=p,
            fix="give each zone one row",
        )
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise InputError(
            f"no reporting zone has id {', '.join(map(repr, unknown))}",
            path=p,
            fix=f"use the zones' ids ({', '.join(known[:5])}{', …' if len(known) > 5 else ''})",
        )
    missing = [z for z in known if z not in set(ids)]
    if missing:
        raise InputError(
            f"no total for zone {', '.join(map(repr, missing))}",
            path=p,
            fix="give every reporting zone a row",
        )
    totals: dict[str, float] = {}
    for zid, raw in zip(ids, rows[total_column], strict=True):
        text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw)
        try:
            value = _people(text)
        except ValueError:
            raise InputError(
                f"zone {zid!r}: total {text!r} is not a number",
                path=p,
                fix=f"write a plain number of people in {total_column!r}",
            ) from None
        if not math.isfinite(value) or value < 0:
            raise InputError(
                f"zone {zid!r}: total {text!r} is not a finite number ≥ 0",
                path=p,
                fix=f"write a plain number of people ≥ 0 in {total_column!r}",
            )
        totals[zid] = value
    return {z: totals[z] for z in known}


def match_zone_codes(ids: Sequence[str], zone_ids: Sequence[str]) -> list[str]:
    """A table's zone ids, each numeric code written as the zones write it.

    An id that is a zone id stays; a numeric code whose digits are those of exactly one zone's
    code becomes that zone's id (``5311`` → ``53.11``, ``53.11`` → ``5311``); any other id stays
    as it is, for the caller to refuse.

    Parameters
    ----------
    ids
        The table's ids, stripped.
    zone_ids
        The reporting zones' ids.

    Returns
    -------
    list of str
        One id per entry of ``ids``.
    """
    known = set(zone_ids)
    by_key: dict[str, list[str]] = {}
    for zid in zone_ids:
        key = zone_code_key(zid)
        if key is not None:
            by_key.setdefault(key, []).append(zid)
    out: list[str] = []
    for value in ids:
        key = zone_code_key(value)
        matches = by_key.get(key, []) if key is not None and value not in known else []
        out.append(matches[0] if len(matches) == 1 else value)
    return out


#: A whole number written with thousands separators: ``277.290``, ``1,234,567``, ``866 210``.
_THOUSANDS = re.compile(r"^\d{1,3}([.,\u00a0 ])\d{3}(\1\d{3})*$")


def _people(text: str) -> float:
    """A count of people as a number: thousands separators dropped, a decimal comma read."""
    t = text.strip().replace("_", "")
    if _THOUSANDS.match(t):
        return float(re.sub(r"[.,\u00a0 ]", "", t))
    t = t.replace(" ", "")
    if t.count(",") == 1 and "." not in t:
        t = t.replace(",", ".")
    return float(t)


def _read_table(path: Path) -> pd.DataFrame:
    """The file's rows as text columns (a CSV), or its attribute table (a vector file)."""
    if path.suffix.lower() in _VECTOR_SUFFIXES:
        gdf = read_vector_file(path, what=_WHAT)
        return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return read_table_text(path, what=_WHAT)
