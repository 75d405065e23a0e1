"""Read health facilities and schools from CSV, Excel, GeoJSON, GeoPackage or OSM-tagged features.

Every reader returns the same table: :data:`FACILITY_COLUMNS` plus a Point ``geometry``. Where the
scenario names no column or gives no ``tier_map``, the conventions of
:mod:`reach.ingest.conventions` fill in: ``lintang``/``bujur``, ``nama``, ``kode``, and tiers from
a ``jenis``/``tipe`` column or the name (Puskesmas, RSUD, SD, SMA, …).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from reach.codes import EDUCATION_TIERS, SERVICE_TIERS
from reach.errors import InputError
from reach.ingest.boundaries import (
    check_geographic_bounds,
    read_vector_file,
    require_crs,
    text_values,
    where_mask,
)
from reach.ingest.conventions import (
    ID_ALIASES,
    KIND_ALIASES,
    LAT_ALIASES,
    LON_ALIASES,
    NAME_ALIASES,
    education_tier_from_text,
    fold_text,
    parse_number,
    tier_from_text,
)
from reach.ingest.rasters import check_local_path
from reach.ingest.tables import EXCEL_SUFFIXES, decimal_comma_table, read_table_text

__all__ = [
    "FACILITY_COLUMNS",
    "classify_osm_health",
    "classify_osm_school",
    "facilities_from_osm",
    "read_facilities",
]

FACILITY_COLUMNS: tuple[str, ...] = ("facility_id", "name", "service", "tier", "capacity")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_SHOW = 5

# --- OSM tag classification -------------------------------------------------------------------

#: ``healthcare=*`` values that count as a clinic (primary care point).
_CLINIC_HEALTHCARE = frozenset(
    {
        "clinic",
        "doctor",
        "yes",
        "midwife",
        "nurse",
        "birthing_centre",
        "birthing_center",
        "vaccination_centre",
        "community_health_worker",
    }
)
_CLINIC_AMENITY = frozenset({"clinic", "doctors"})
_CENTRE_NAME = re.compile(r"\b(puskesmas|centre|center|centro)\b")
_PUSKESMAS_NAME = re.compile(r"\bpuskesmas\b")

_ISCED_TIER = {1: "primary", 2: "lower_secondary", 3: "upper_secondary"}
_SCHOOL_TAG_TIER = {
    "primary": "primary",
    "elementary": "primary",
    "secondary": "lower_secondary",
    "lower_secondary": "lower_secondary",
    "middle": "lower_secondary",
    "junior_high": "lower_secondary",
    "upper_secondary": "upper_secondary",
    "high": "upper_secondary",
    "senior_high": "upper_secondary",
}
_SCHOOL_TAG_EXCLUDED = frozenset(
    {"kindergarten", "preschool", "pre_school", "university", "college"}
)


def _tag_set(value: Any) -> set[str]:
    """The values of a possibly ``;``-separated OSM tag, folded."""
    folded = fold_text(value)
    return {part.strip().replace(" ", "_") for part in folded.split(";") if part.strip()}


def classify_osm_health(amenity: Any, healthcare: Any, name: Any = None) -> str | None:
    """Health tier of an OSM feature from its tags, or ``None`` if it is not a facility reach uses.

    Parameters
    ----------
    amenity, healthcare, name
        The ``amenity``, ``healthcare`` and ``name`` tags (missing: ``None`` / NaN).

    Returns
    -------
    str or None
        ``"hospital"`` for ``amenity=hospital`` or ``healthcare=hospital``; ``"health_centre"``
        for ``healthcare=centre``, or a clinic whose name says puskesmas / centre / centro;
        ``"clinic"`` for ``amenity=clinic|doctors`` and ``healthcare=clinic|doctor|yes|midwife|…``;
        ``None`` for pharmacies and anything else.
    """
    a = _tag_set(amenity)
    h = _tag_set(healthcare)
    folded = fold_text(name)
    if "hospital" in a or "hospital" in h:
        return "hospital"
    if h & {"centre", "center"}:
        return "health_centre"
    clinic_tags = _CLINIC_HEALTHCARE
    if "pharmacy" in a or "pharmacy" in h:
        # a pharmacy is not a facility unless it is also tagged as a specific clinic
        clinic_tags = _CLINIC_HEALTHCARE - {"yes"}
    if not (a & _CLINIC_AMENITY or h & clinic_tags):
        return None
    if _PUSKESMAS_NAME.search(folded):
        return "health_centre"
    if ("clinic" in a or "clinic" in h) and _CENTRE_NAME.search(folded):
        return "health_centre"
    return "clinic"


def _isced_levels(value: Any) -> list[int]:
    return [int(d) for d in re.findall(r"\d+", fold_text(value))]


def classify_osm_school(
    amenity: Any, isced_level: Any = None, school: Any = None, name: Any = None
) -> str | None:
    """Education tier of an OSM feature from its tags, or ``None`` if it is not a school.

    Parameters
    ----------
    amenity
        The ``amenity`` tag; only ``amenity=school`` is a school (kindergartens, colleges and
        universities are not).
    isced_level
        The ``isced:level`` tag, e.g. ``"1"`` or ``"1;2"`` (the lowest level 1–3 wins).
    school
        The ``school`` tag (``primary``, ``secondary``, …), used when ``isced_level`` is absent.
    name
        The name, used last: SD / MI / école primaire → primary; SMP / MTs / collège → lower
        secondary; SMA / SMK / MA / lycée → upper secondary.

    Returns
    -------
    str or None
        The tier (default ``"primary"``), or ``None`` if not a school or pre-primary / tertiary
        only.
    """
    if "school" not in _tag_set(amenity):
        return None
    levels = _isced_levels(isced_level)
    if levels:
        school_levels = [lv for lv in levels if lv in _ISCED_TIER]
        if school_levels:
            return _ISCED_TIER[min(school_levels)]
        return None
    tags = _tag_set(school)
    tiers = [_SCHOOL_TAG_TIER[t] for t in tags if t in _SCHOOL_TAG_TIER]
    if tiers:
        return min(tiers, key=EDUCATION_TIERS.index)
    if tags and tags <= _SCHOOL_TAG_EXCLUDED:
        return None
    return education_tier_from_text(name) or "primary"


# --- shared helpers ---------------------------------------------------------------------------


def _rows_text(rows: Sequence[int] | np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in list(rows)[:_SHOW])
    more = f" and {len(rows) - _SHOW} more" if len(rows) > _SHOW else ""
    return f"{shown}{more}"


def _find_column(columns: Sequence[str], wanted: str, aliases: tuple[str, ...]) -> str | None:
    if wanted in columns:
        return wanted
    if wanted.lower() not in aliases:
        return None
    lowered = {c.lower(): c for c in columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _numbers(values: Sequence[str | None], *, decimal_comma: bool) -> np.ndarray:
    return np.array([parse_number(v, decimal_comma=decimal_comma) for v in values], np.float64)


def _csv_points(
    table: pd.DataFrame,
    rows: np.ndarray,
    lon_col: str,
    lat_col: str,
    path: Path,
    *,
    decimal_comma: bool,
) -> gpd.GeoSeries:
    lon = _numbers(text_values(table[lon_col]), decimal_comma=decimal_comma)
    lat = _numbers(text_values(table[lat_col]), decimal_comma=decimal_comma)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw_lon = table[lon_col].iloc[i]
        raw_lat = table[lat_col].iloc[i]
        raise InputError(
            f"{int(bad.sum())} facilities have no usable coordinates "
            f"(row {_rows_text(rows[bad])}; first: {lon_col}={raw_lon!r}, {lat_col}={raw_lat!r})",
            path=path,
            fix=f"fill in {lon_col} and {lat_col} in decimal degrees, or delete those rows",
        )
    projected = (np.abs(lon) > 180) | (np.abs(lat) > 180)
    if projected.any():
        i = int(np.flatnonzero(projected)[0])
        raise InputError(
            f"{lon_col}/{lat_col} hold projected-looking numbers, not degrees "
            f"(row {int(rows[i])}: {lon[i]:g}, {lat[i]:g})",
            path=path,
            fix="give lon/lat in decimal degrees (EPSG:4326), or a GeoPackage that carries its CRS",
        )
    swapped = (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    if swapped.any():
        i = int(np.flatnonzero(swapped)[0])
        raise InputError(
            f"lon and lat look swapped: {int(swapped.sum())} rows have |{lat_col}| > 90 "
            f"(row {int(rows[i])}: {lon_col}={lon[i]:g}, {lat_col}={lat[i]:g})",
            path=path,
            fix=f"swap the {lon_col} and {lat_col} columns (or the column names you gave)",
        )
    off = np.abs(lat) > 90
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise InputError(
            f"{int(off.sum())} facilities have a latitude beyond ±90° "
            f"(row {int(rows[i])}: {lat[i]:g})",
            path=path,
            fix="correct the coordinates (decimal degrees)",
        )
    return gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326")


def _vector_points(geoms: gpd.GeoSeries, rows: np.ndarray, path: Path) -> gpd.GeoSeries:
    arr = np.asarray(geoms.to_numpy(), dtype=object)
    empty = np.array([g is None or shapely.is_empty(g) for g in arr], dtype=bool)
    if empty.any():
        raise InputError(
            f"{int(empty.sum())} facilities have an empty geometry (row {_rows_text(rows[empty])})",
            path=path,
            fix="give those rows a location, or delete them",
        )
    arr = shapely.force_2d(arr)
    not_point = shapely.get_type_id(arr) != 0
    if not_point.any():
        arr[not_point] = shapely.point_on_surface(arr[not_point])
    coords = shapely.get_coordinates(arr)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} facilities have NaN coordinates (row {_rows_text(rows[bad])})",
            path=path,
            fix="give those rows a location, or delete them",
        )
    return gpd.GeoSeries(arr, crs=geoms.crs)


def _check_tier(tier: str, service: str, path: Path, origin: str) -> None:
    known = SERVICE_TIERS.get(service)
    if known is not None and tier not in known:
        raise InputError(
            f"{origin} '{tier}' is not a {service} tier ({', '.join(known)})",
            path=path,
            fix=f"map it to one of: {', '.join(known)}",
        )


def _check_service(service: str, path: Path) -> str:
    if not isinstance(service, str) or not service.strip():
        raise InputError(
            "the facilities need a service name", path=path, fix="use 'health' or 'education'"
        )
    return service.strip()


def _assemble(
    points: gpd.GeoSeries,
    *,
    ids: Sequence[str],
    names: Sequence[str],
    service: str,
    tiers: Sequence[str | None],
    capacity: np.ndarray,
    path: Path,
    id_origin: str,
) -> gpd.GeoDataFrame:
    if len(points) == 0:
        raise InputError(
            f"no {service} facilities are left after reading and filtering",
            path=path,
            fix="check the filter (where) values and the service",
        )
    counts = pd.Series(list(ids), dtype=object).value_counts()
    dups = counts[counts > 1]
    if len(dups):
        shown = ", ".join(f"{k} ({v}×)" for k, v in list(dups.items())[:_SHOW])
        raise InputError(
            f"{len(dups)} facility ids are used more than once ({id_origin}): {shown}",
            path=path,
            fix="make the ids unique, or leave id_column unset so reach numbers the rows",
        )
    frame = gpd.GeoDataFrame(
        {
            "facility_id": pd.Series(list(ids), dtype=object),
            "name": pd.Series(list(names), dtype=object),
            "service": pd.Series([service] * len(ids), dtype=object),
            "tier": pd.Series(list(tiers), dtype=object),
            "capacity": np.asarray(capacity, dtype=np.float64),
        },
        geometry=points.reset_index(drop=True),
        crs=points.crs,
    )
    return frame[[*FACILITY_COLUMNS, "geometry"]]


def _capacity(
    table: pd.DataFrame,
    column: str,
    rows: np.ndarray,
    path: Path,
    *,
    strict: bool,
    decimal_comma: bool = False,
) -> np.ndarray:
    raw = text_values(table[column])
    numbers = _numbers(raw, decimal_comma=decimal_comma)
    given = np.array([v is not None for v in raw], dtype=bool)
    unparsed = given & ~np.isfinite(numbers)
    negative = np.isfinite(numbers) & (numbers < 0)
    if not strict:
        numbers[unparsed | negative] = np.nan
        return numbers
    if unparsed.any():
        i = int(np.flatnonzero(unparsed)[0])
        raise InputError(
            f"{int(unparsed.sum())} capacities in column '{column}' are not numbers "
            f"(row {_rows_text(rows[unparsed])}; first: {raw[i]!r})",
            path=path,
            fix="give capacities as numbers, or leave them empty for unlimited",
        )
    if negative.any():
        raise InputError(
            f"{int(negative.sum())} capacities in column '{column}' are negative "
            f"(row {_rows_text(rows[negative])})",
            path=path,
            fix="give capacities as numbers ≥ 0, or leave them empty for unlimited",
        )
    return numbers


def _ids_from_column(table: pd.DataFrame, column: str, rows: np.ndarray, path: Path) -> list[str]:
    values = text_values(table[column])
    missing = np.array([v is None for v in values], dtype=bool)
    if missing.any():
        raise InputError(
            f"{int(missing.sum())} facilities have no id in column '{column}' "
            f"(row {_rows_text(rows[missing])})",
            path=path,
            fix="fill in the ids, or leave id_column unset so reach numbers the rows",
        )
    return [str(v) for v in values]


def _generated_ids(path: Path, rows: np.ndarray) -> list[str]:
    return [f"{path.stem}-{int(r):04d}" for r in rows]


def _default_column(columns: Sequence[str], aliases: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _default_ids(table: pd.DataFrame) -> str | None:
    """A ``kode``-like column whose values are all present and unique, else ``None``."""
    column = _default_column([str(c) for c in table.columns], ID_ALIASES)
    if column is None:
        return None
    values = text_values(table[column])
    if any(v is None for v in values) or len(set(values)) != len(values):
        return None
    return column


def _names(table: pd.DataFrame, column: str | None) -> list[str]:
    if column is None or column not in table.columns:
        return [""] * len(table)
    return [v or "" for v in text_values(table[column])]


def _require_column(table: pd.DataFrame, column: str, path: Path, role: str) -> None:
    if column not in table.columns:
        columns = ", ".join(str(c) for c in table.columns if c != "geometry")
        raise InputError(
            f"the facilities file has no {role} column '{column}' (columns: {columns})",
            path=path,
            fix=f"set the {role} column to one of the listed columns",
        )


# --- public readers ---------------------------------------------------------------------------


def read_facilities(
    path: str | Path,
    *,
    service: str,
    id_column: str | None = None,
    name_column: str | None = "name",
    tier_column: str | None = None,
    tier_map: Mapping[str, str] | None = None,
    default_tier: str | None = None,
    capacity_column: str | None = None,
    lon_column: str = "lon",
    lat_column: str = "lat",
    layer: str | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
    from_osm_tags: bool = False,
    sheet: str | None = None,
) -> gpd.GeoDataFrame:
    """Read facilities (clinics, schools, …) from a CSV, xlsx, GeoJSON, GeoPackage or shapefile.

    Parameters
    ----------
    path
        CSV (``,``, ``;``, tab or ``|`` separated; with ``;``, tab or ``|`` a decimal comma is
        read, ``122,2170``) or Excel workbook (``.xlsx``) with lon/lat columns in decimal
        degrees (EPSG:4326), or a vector file with a CRS.
    service
        The service these facilities offer, e.g. ``"health"`` or ``"education"``.
    id_column
        Column with unique facility ids. Without it, a ``kode`` / ``kode_faskes`` / ``npsn``
        column whose values are all present and unique; else ids are
        ``f"{file stem}-{row:04d}"`` with ``row`` the 1-based row in the file (stable when
        filters change).
    name_column
        Column with the facility name (the default ``"name"`` falls back to ``nama``,
        ``nama_faskes``, ``nama_sekolah``; none of them: names are ``""``).
    tier_column, tier_map, default_tier
        Tier of each facility: the value in ``tier_column`` passed through ``tier_map``. Without
        ``tier_map``, values that already are tier names pass, and others are read by the
        Indonesian vocabulary (:func:`reach.ingest.conventions.tier_from_text`), then from the
        name. Unmapped values get ``default_tier``, or raise. Without ``tier_column``, each
        facility's tier is read from a ``tier`` / ``jenis`` / ``tipe`` / ``kategori`` column
        (through ``tier_map`` when given) or else its name; what stays unread gets
        ``default_tier`` (``None`` when not given).
    capacity_column
        Column with capacities (patients, pupils); empty = unlimited (NaN).
    lon_column, lat_column
        Coordinate columns of a CSV or workbook (``longitude``/``lng``/``long``/``bujur``/``x``
        and ``latitude``/``lintang``/``y`` are found too).
    layer
        Layer of a multi-layer vector file, or the sheet of a workbook.
    where
        Keep only rows where, for **any** listed column, the value is one of that column's
        values, e.g. ``{"amenity": ["hospital", "clinic"], "healthcare": ["yes"]}``.
    from_osm_tags
        Classify rows by their OSM tags (see :func:`facilities_from_osm`) instead of
        ``tier_column``; rows that are not facilities of ``service`` are dropped.
    sheet
        Sheet of a workbook (default ``layer``, else the first sheet).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`FACILITY_COLUMNS` and a Point ``geometry``, in the file's CRS
        (EPSG:4326 for a CSV). Non-point geometries are replaced by a point on their surface.

    Raises
    ------
    InputError
        On a missing or unreadable file, no CRS, missing columns, unusable / swapped /
        projected coordinates, empty geometries, unmapped tiers, bad capacities, duplicate ids,
        or no facilities left after filtering.
    """
    what = "facilities file"
    p = check_local_path(path, what=what)
    service = _check_service(service, p)
    is_csv = p.suffix.lower() in (*_CSV_SUFFIXES, *EXCEL_SUFFIXES)
    decimal_comma = False
    if is_csv:
        table: pd.DataFrame = read_table_text(
            p, what=what, sheet=sheet if sheet is not None else layer
        )
        decimal_comma = decimal_comma_table(p, what=what)
        columns = [str(c) for c in table.columns]
        lon_col = _find_column(columns, lon_column, LON_ALIASES)
        lat_col = _find_column(columns, lat_column, LAT_ALIASES)
        for wanted, found, role in (
            (lon_column, lon_col, "longitude"),
            (lat_column, lat_col, "latitude"),
        ):
            if found is None:
                raise InputError(
                    f"the facilities file has no {role} column '{wanted}' "
                    f"(columns: {', '.join(columns)})",
                    path=p,
                    fix=f"name the {role} column, or set {'lon' if role == 'longitude' else 'lat'}"
                    "_column to the column that holds it",
                )
    else:
        table = read_vector_file(p, what=what, layer=layer)
        require_crs(table, path=p, what=what)
    table = table.reset_index(drop=True)
    rows = np.arange(1, len(table) + 1)
    if where:
        keep = where_mask(table, where, path=p, what="facilities file")
        table = table.loc[keep].reset_index(drop=True)
        rows = rows[keep]
    for column, role in ((id_column, "id"), (tier_column, "tier"), (capacity_column, "capacity")):
        if column is not None:
            _require_column(table, column, p, role)
    if name_column is not None and name_column != "name":
        _require_column(table, name_column, p, "name")
    elif name_column == "name" and "name" not in table.columns:
        name_column = _default_column([str(c) for c in table.columns], NAME_ALIASES)
    if id_column is None and not from_osm_tags:
        id_column = _default_ids(table)

    if is_csv:
        assert lon_col is not None and lat_col is not None
        points = _csv_points(table, rows, lon_col, lat_col, p, decimal_comma=decimal_comma)
    else:
        points = _vector_points(table.geometry, rows, p)

    if from_osm_tags:
        attributes = (
            table.drop(columns=[table.geometry.name])
            if isinstance(table, gpd.GeoDataFrame)
            else table
        )
        features = gpd.GeoDataFrame(
            attributes,
            geometry=points,
            crs=points.crs,
        )
        return _from_osm(
            features,
            service=service,
            source=p,
            rows=rows,
            id_column=id_column,
            name_column=name_column,
            capacity_column=capacity_column,
        )

    ids = (
        _ids_from_column(table, id_column, rows, p)
        if id_column is not None
        else _generated_ids(p, rows)
    )
    names = _names(table, name_column)
    tiers = _tiers(table, service, tier_column, tier_map, default_tier, p, names=names)
    capacity = (
        _capacity(table, capacity_column, rows, p, strict=True, decimal_comma=decimal_comma)
        if capacity_column is not None
        else np.full(len(table), np.nan)
    )
    if not is_csv:
        check_geographic_bounds(gpd.GeoDataFrame(geometry=points), path=p, what=what)
    return _assemble(
        points,
        ids=ids,
        names=names,
        service=service,
        tiers=tiers,
        capacity=capacity,
        path=p,
        id_origin=f"column '{id_column}'" if id_column else "generated",
    )


def _tiers(
    table: pd.DataFrame,
    service: str,
    tier_column: str | None,
    tier_map: Mapping[str, str] | None,
    default_tier: str | None,
    path: Path,
    *,
    names: Sequence[str],
) -> list[str | None]:
    if default_tier is not None:
        _check_tier(default_tier, service, path, "default_tier")
    if tier_map is not None:
        for target in set(tier_map.values()):
            _check_tier(target, service, path, "tier_map target")
    known = SERVICE_TIERS.get(service)
    mapping = {str(k).strip(): v for k, v in (tier_map or {}).items()}
    if tier_column is None:
        return _tiers_by_convention(table, service, mapping, default_tier, names=names)
    out: list[str | None] = []
    unmapped: set[str] = set()
    for value, name in zip(text_values(table[tier_column]), names, strict=True):
        key = "" if value is None else value
        tier = mapping.get(key)
        if tier is None and tier_map is None and value is not None:
            if known is None or value in known:
                tier = value
            else:
                tier = tier_from_text(service, value, kind=True) or tier_from_text(service, name)
        if tier is None:
            unmapped.add(key)
            tier = default_tier
        out.append(tier)
    if unmapped and default_tier is None:
        shown = ", ".join(repr(v) for v in sorted(unmapped)[:10])
        raise InputError(
            f"{len(unmapped)} values in tier column '{tier_column}' have no tier: {shown}",
            path=path,
            fix="add them to tier_map, or set default_tier",
        )
    return out


def _tiers_by_convention(
    table: pd.DataFrame,
    service: str,
    mapping: Mapping[str, str],
    default_tier: str | None,
    *,
    names: Sequence[str],
) -> list[str | None]:
    """Each row's tier from the first kind column that says one, else its name, else default."""
    known = SERVICE_TIERS.get(service)
    lowered = {str(c).lower(): str(c) for c in table.columns if c != "geometry"}
    kinds = [text_values(table[lowered[a]]) for a in KIND_ALIASES if a in lowered]
    out: list[str | None] = []
    for i, name in enumerate(names):
        tier: str | None = None
        for column in kinds:
            value = column[i]
            if value is None:
                continue
            tier = mapping.get(value)
            if tier is None and known is not None and value in known:
                tier = value
            if tier is None:
                tier = tier_from_text(service, value, kind=True)
            if tier is not None:
                break
        if tier is None:
            tier = tier_from_text(service, name) or default_tier
        out.append(tier)
    return out


def facilities_from_osm(
    features: gpd.GeoDataFrame, *, service: str, source: Path
) -> gpd.GeoDataFrame:
    """Classify OSM-tagged features into facilities of one service.

    Parameters
    ----------
    features
        Points (or polygons) with OSM tag columns: ``amenity``, ``healthcare``, ``name`` and, when
        available, ``osm_type``, ``osm_id``, ``school``, ``isced_level`` (or ``isced:level``) and
        ``capacity`` — the shape of ``reach.ingest.osm.read_osm_facilities``.
    service
        ``"health"`` (see :func:`classify_osm_health`; pharmacies are excluded) or
        ``"education"`` (see :func:`classify_osm_school`).
    source
        The file the features came from, for messages and generated ids.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`FACILITY_COLUMNS` and a Point ``geometry``. ``facility_id`` is
        ``f"{osm_type[0]}{osm_id}"`` (e.g. ``"n2716272375"``) or, without OSM ids,
        ``f"{source.stem}-{row:04d}"``. ``capacity`` is the ``capacity`` tag where it is a
        number ≥ 0, else NaN (unlimited).

    Raises
    ------
    InputError
        If the service is unknown, the tag columns are missing, a geometry is empty, ids repeat,
        or no feature is a facility of the service.
    """
    source = Path(source)
    require_crs(features, path=source, what="facility features")
    table = features.reset_index(drop=True)
    rows = np.arange(1, len(table) + 1)
    points = _vector_points(table.geometry, rows, source)
    frame = gpd.GeoDataFrame(
        table.drop(columns=[table.geometry.name]), geometry=points, crs=points.crs
    )
    return _from_osm(
        frame,
        service=service,
        source=source,
        rows=rows,
        id_column=None,
        name_column="name",
        capacity_column=None,
    )


def _column_or_none(table: pd.DataFrame, *names: str) -> list[Any]:
    for name in names:
        if name in table.columns:
            return list(table[name].tolist())
    return [None] * len(table)


def _from_osm(
    features: gpd.GeoDataFrame,
    *,
    service: str,
    source: Path,
    rows: np.ndarray,
    id_column: str | None,
    name_column: str | None,
    capacity_column: str | None,
) -> gpd.GeoDataFrame:
    service = _check_service(service, source)
    if service not in SERVICE_TIERS:
        raise InputError(
            f"cannot classify OSM tags for service '{service}'",
            path=source,
            fix="use service 'health' or 'education', or give tier_column instead of OSM tags",
        )
    tag_columns = ("amenity", "healthcare") if service == "health" else ("amenity",)
    if not any(c in features.columns for c in tag_columns):
        columns = ", ".join(str(c) for c in features.columns if c != features.geometry.name)
        raise InputError(
            f"the features have no OSM tag column {' or '.join(tag_columns)} (columns: {columns})",
            path=source,
            fix="give OSM features with their amenity / healthcare tags",
        )
    name_key = name_column if name_column is not None else "name"
    amenity = _column_or_none(features, "amenity")
    names_raw = _column_or_none(features, name_key)
    if service == "health":
        healthcare = _column_or_none(features, "healthcare")
        tiers = [
            classify_osm_health(a, h, n)
            for a, h, n in zip(amenity, healthcare, names_raw, strict=True)
        ]
    else:
        isced = _column_or_none(features, "isced_level", "isced:level", "isced")
        school = _column_or_none(features, "school")
        tiers = [
            classify_osm_school(a, i, s, n)
            for a, i, s, n in zip(amenity, isced, school, names_raw, strict=True)
        ]
    keep = np.array([t is not None for t in tiers], dtype=bool)
    table = features.loc[keep].reset_index(drop=True)
    kept_rows = rows[keep]
    kept_tiers = [t for t in tiers if t is not None]

    if id_column is not None:
        ids = _ids_from_column(table, id_column, kept_rows, source)
        origin = f"column '{id_column}'"
    elif "osm_type" in table.columns and "osm_id" in table.columns:
        generated = _generated_ids(source, kept_rows)
        ids = []
        for kind, number, fallback in zip(
            text_values(table["osm_type"]), text_values(table["osm_id"]), generated, strict=True
        ):
            ids.append(f"{kind[0].lower()}{number}" if kind and number else fallback)
        origin = "osm_type + osm_id"
    else:
        ids = _generated_ids(source, kept_rows)
        origin = "generated"
    capacity_key = capacity_column if capacity_column is not None else "capacity"
    capacity = (
        _capacity(table, capacity_key, kept_rows, source, strict=capacity_column is not None)
        if capacity_key in table.columns
        else np.full(len(table), np.nan)
    )
    points = gpd.GeoSeries(table.geometry.to_numpy(), crs=features.crs)
    check_geographic_bounds(gpd.GeoDataFrame(geometry=points), path=source, what="facilities")
    return _assemble(
        points,
        ids=ids,
        names=_names(table, name_key),
        service=service,
        tiers=kept_tiers,
        capacity=capacity,
        path=source,
        id_origin=origin,
    )
