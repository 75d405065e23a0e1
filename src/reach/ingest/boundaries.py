"""Read reporting zones (admin boundaries or any polygons) and the shared vector-file opener.

:func:`read_vector_file` is the one place vector layers are opened (facilities, road lines,
barriers, water and connectivity use it too): local regular files only, known formats only (by
name and by first bytes), no VRT, one named layer, GDAL kept off the network, errors as
:class:`reach.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from reach.errors import InputError
from reach.ingest.rasters import check_local_path, looks_like_vrt, ogr_sandbox

__all__ = [
    "NAME_COLUMNS",
    "VECTOR_DRIVERS",
    "ZONE_ID_COLUMNS",
    "check_geographic_bounds",
    "read_vector_bounds",
    "read_vector_file",
    "read_zones",
    "require_crs",
    "text_values",
    "where_mask",
]

#: Columns tried, in order, for the zone id when ``id_column`` is not given.
ZONE_ID_COLUMNS: tuple[str, ...] = ("zone_id", "id", "kode", "GID_2", "GID_1", "admin_code")
#: Columns tried, in order, for the zone name when ``name_column`` is not given.
NAME_COLUMNS: tuple[str, ...] = ("name", "nama", "NAME_2", "NAME_1", "admin_name")

#: GDAL / OGR vector drivers reach reads, by the file suffix that selects them.
VECTOR_DRIVERS: dict[str, str] = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".fgb": "FlatGeobuf",
    ".geojsonl": "GeoJSONSeq",
    ".geojsons": "GeoJSONSeq",
}

_VECTOR_ERRORS: tuple[type[BaseException], ...] = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    RuntimeError,
    OSError,
    ValueError,
    UnicodeDecodeError,
    shapely.errors.GEOSException,  # e.g. a ring that does not close
)


def _detail(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


#: First bytes of each supported format (after a UTF-8 byte-order mark and white space for the
#: text formats): a file that does not start like its format is refused before GDAL opens it,
#: so no other GDAL driver (OGR VRT, GML, KML, CSV, …) ever sees a user's file.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "GPKG": (b"SQLite format 3\x00",),
    "ESRI Shapefile": (b"\x00\x00\x27\x0a",),
    "FlatGeobuf": (b"fgb\x03",),
    "GeoJSON": (b"{", b"["),
    "GeoJSONSeq": (b"{", b"\x1e", b"["),
}
_TEXT_DRIVERS = frozenset({"GeoJSON", "GeoJSONSeq"})

#: Files GDAL opens beside the one named: each must be a regular file too (a FIFO would hang).
_SIDECARS: dict[str, tuple[str, ...]] = {
    "ESRI Shapefile": (".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".qix"),
    "GPKG": ("-wal", "-shm", "-journal"),
}


def _check_vector_kind(p: Path, *, what: str) -> str:
    """Check the file is one reach reads, by its name and its first bytes; return the driver."""
    suffix = p.suffix.lower()
    if suffix == ".vrt" or looks_like_vrt(p):
        raise InputError(
            f"the {what} is a GDAL virtual dataset (VRT)",
            path=p,
            fix="convert it to a GeoPackage first (ogr2ogr out.gpkg in.vrt)",
        )
    if suffix not in VECTOR_DRIVERS:
        raise InputError(
            f"the {what} has an unsupported type '{suffix or p.name}'",
            path=p,
            fix="give a GeoPackage (.gpkg), GeoJSON (.geojson) or shapefile (.shp)",
        )
    driver = VECTOR_DRIVERS[suffix]
    try:
        with p.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise InputError(
            f"cannot read the {what} ({exc.strerror or type(exc).__name__})",
            path=p,
            fix="check the file's permissions",
        ) from exc
    if driver in _TEXT_DRIVERS:
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not head:
        raise InputError(f"the {what} is empty", path=p, fix="give a file with features")
    if not head.startswith(_MAGIC[driver]):
        looks = "an XML file" if head.startswith(b"<") else "not a valid file of that kind"
        raise InputError(
            f"the {what} is named like a {driver} file but is {looks}",
            path=p,
            fix=f"give a real {driver} file (check it with ogrinfo), or rename it to its format",
        )
    extensions = _SIDECARS.get(driver, ())
    if driver == "GPKG":
        sides = [p.with_name(p.name + ext) for ext in extensions]
    else:
        sides = [p.with_name(p.stem + e) for ext in extensions for e in (ext, ext.upper())]
    for side in sides:
        if side.exists():
            check_local_path(side, what=f"{what}'s side file")
    return driver


def _vector_error(what: str, exc: BaseException, *, layer: str | None = None) -> str:
    where = f"layer '{layer}' of the {what}" if layer is not None else f"the {what}"
    verb = "read" if layer is not None else "open"
    return f"cannot {verb} {where} ({_detail(exc)})"


def _choose_layer(p: Path, *, what: str, layer: str | None) -> str:
    """The layer to read: the one asked for, or the file's only layer with geometry."""
    try:
        with ogr_sandbox():
            layers = pyogrio.list_layers(p)
    except _VECTOR_ERRORS as exc:
        raise InputError(
            _vector_error(what, exc),
            path=p,
            fix="check it is a complete, valid vector file (try ogrinfo on it)",
        ) from exc
    names = [str(row[0]) for row in layers]
    spatial = [str(row[0]) for row in layers if row[1] is not None]
    if layer is None:
        if len(spatial) == 1:
            return spatial[0]
        if not spatial:
            raise InputError(
                f"the {what} has no layer with geometry",
                path=p,
                fix="give a file with points, lines or polygons",
            )
        raise InputError(
            f"the {what} has {len(spatial)} layers ({', '.join(spatial[:10])})",
            path=p,
            fix="name the layer to read",
        )
    if layer not in names:
        raise InputError(
            f"the {what} has no layer '{layer}' (layers: {', '.join(names[:10])})",
            path=p,
            fix="use one of the listed layer names",
        )
    return layer


def _unreadable(p: Path, what: str, exc: BaseException, layer: str) -> InputError:
    return InputError(
        _vector_error(what, exc, layer=layer),
        path=p,
        fix="check it is a complete, valid vector file (try ogrinfo on it)",
    )


def _open_layer(
    path: str | Path, *, what: str, layer: str | None, **kw: Any
) -> tuple[Path, str, dict[str, Any]]:
    """Check a vector file and its layer before anything reads it: (path, layer, layer info)."""
    p = check_local_path(path, what=what)
    driver = _check_vector_kind(p, what=what)
    chosen = _choose_layer(p, what=what, layer=layer)
    try:
        return p, chosen, _layer_info(p, what=what, layer=chosen, driver=driver, **kw)
    except InputError:
        raise
    except _VECTOR_ERRORS as exc:
        raise _unreadable(p, what, exc, chosen) from exc


def _layer_info(p: Path, *, what: str, layer: str, driver: str, **kw: Any) -> dict[str, Any]:
    with ogr_sandbox():
        info = pyogrio.read_info(p, layer=layer, **kw)
    found = str(info.get("driver"))
    if found != driver:
        raise InputError(
            f"the {what} is a {found} file, not {driver} as its name says",
            path=p,
            fix="give the file a name that matches its format",
        )
    return dict(info)


def read_vector_file(path: str | Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a local vector file (GeoPackage, GeoJSON, shapefile, FlatGeobuf).

    Every vector reader of :mod:`reach.ingest` goes through here: the path is checked
    (:func:`~reach.ingest.rasters.check_local_path`: a readable regular file, never a FIFO or a
    device), the file must start like the format its name gives (so no OGR VRT, GML or other
    driver sees it), and GDAL runs in :func:`~reach.ingest.rasters.ogr_sandbox` (no network).

    Parameters
    ----------
    path
        The file.
    what
        What it is, for messages (e.g. ``"zones file"``).
    layer
        The layer to read; may be omitted when the file has one layer with geometry.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer as read, in the file's CRS (possibly ``None``: see :func:`require_crs`).

    Raises
    ------
    InputError
        If the path is a URL, missing or not a regular file, the format is not supported
        (including OGR VRT files) or the content does not match it, the layer is missing or
        ambiguous, or the file cannot be read.
    """
    p, layer, _ = _open_layer(path, what=what, layer=layer)
    try:
        with ogr_sandbox():
            frame = pyogrio.read_dataframe(p, layer=layer)
    except _VECTOR_ERRORS as exc:
        raise _unreadable(p, what, exc, layer) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"layer '{layer}' of the {what} has no geometry",
            path=p,
            fix="give a layer with points, lines or polygons",
        )
    return frame


def read_vector_bounds(
    path: str | Path, *, what: str, layer: str | None = None
) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """The extent and CRS of a vector layer, with the checks of :func:`read_vector_file`.

    Parameters
    ----------
    path
        The file.
    what
        What it is, for messages.
    layer
        The layer; may be omitted when the file has one layer with geometry.

    Returns
    -------
    tuple
        ``(xmin, ymin, xmax, ymax)`` in the layer's CRS (``None`` when the layer has no
        feature with a finite extent) and the CRS as GDAL gives it (``None`` without one).
    """
    _, _, info = _open_layer(path, what=what, layer=layer, force_total_bounds=True)
    raw = info.get("total_bounds")
    bounds = None
    if raw is not None:
        values = tuple(float(v) for v in raw)
        if len(values) == 4 and np.isfinite(values).all() and values[0] <= values[2]:
            bounds = (values[0], values[1], values[2], values[3])
    crs = info.get("crs")
    return bounds, (str(crs) if crs else None)


def require_crs(frame: gpd.GeoDataFrame, *, path: Path, what: str) -> None:
    """Raise :class:`InputError` when the layer has no CRS.

    Parameters
    ----------
    frame
        The layer.
    path
        Its file, for messages.
    what
        What it is, for messages.
    """
    if frame.crs is None:
        fix = (
            "add the missing .prj file (or save it with a CRS, e.g. ogr2ogr -a_srs EPSG:4326)"
            if path.suffix.lower() == ".shp"
            else "save it with a CRS, e.g. ogr2ogr -a_srs EPSG:4326 out.gpkg in.gpkg"
        )
        raise InputError(f"the {what} has no coordinate reference system", path=path, fix=fix)


def check_geographic_bounds(frame: gpd.GeoDataFrame, *, path: Path, what: str) -> None:
    """For a lon/lat CRS, check every coordinate lies in [-180, 180] × [-90, 90].

    Parameters
    ----------
    frame
        The layer (its CRS already checked to exist).
    path
        Its file, for messages.
    what
        What it is, for messages.

    Raises
    ------
    InputError
        If a geographic layer has coordinates off the globe.
    """
    if frame.crs is None or not frame.crs.is_geographic or frame.empty:
        return
    geoms = frame.geometry.to_numpy()
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    if not np.isfinite([xmin, ymin, xmax, ymax]).all():
        return
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise InputError(
            f"the {what} is in lon/lat degrees but its bounds "
            f"({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) are off the globe",
            path=path,
            fix="assign the CRS the coordinates are really in (ogr2ogr -a_srs EPSG:…)",
        )


def text_values(series: pd.Series) -> list[str | None]:
    """Turn a column into stripped strings, ``None`` where missing or blank.

    Whole-number floats (``3.0``, as pandas reads integer columns with gaps) become ``"3"``.

    Parameters
    ----------
    series
        The column.

    Returns
    -------
    list of str or None
        One entry per row.
    """
    out: list[str | None] = []
    for value in series.tolist():
        out.append(_text(value))
    return out


def where_mask(
    table: pd.DataFrame, where: Mapping[str, Sequence[str]], *, path: Path, what: str
) -> np.ndarray:
    """The rows to keep: those where, for any listed column, the value is one of its values.

    Parameters
    ----------
    table
        The rows (attribute columns; a geometry column is ignored).
    where
        Values to keep by column, e.g. ``{"kode": ["53.11", "53.12"]}``; a value matches the
        cell's text stripped, or, for a numeric code, with or without its dots (``5311``); a
        value ending in ``*`` matches every text it begins (``"53.11.*"``: the kecamatan of
        Sumba Timur).
    path
        The file, for messages.
    what
        What the file is, for messages (e.g. ``"zones file"``).

    Returns
    -------
    numpy.ndarray
        ``bool`` per row.

    Raises
    ------
    InputError
        When a listed column is not in the table.
    """
    columns = [str(c) for c in table.columns]
    missing = [c for c in where if c not in columns]
    if missing:
        raise InputError(
            f"the {what} has no column {', '.join(repr(c) for c in missing)} to filter on "
            f"(columns: {', '.join(c for c in columns if c != 'geometry')})",
            path=path,
            fix="filter on one of the listed columns",
        )
    keep = np.zeros(len(table), dtype=bool)
    for column, values in where.items():
        wanted = {values} if isinstance(values, str) else {str(v).strip() for v in values}
        prefixes = tuple(w[:-1] for w in wanted if w.endswith("*"))
        wanted = {w for w in wanted if not w.endswith("*")}
        wanted |= {w.replace(".", "") for w in wanted if w.replace(".", "").isdigit()}
        cells = text_values(table[column])
        keep |= np.array(
            [
                v is not None
                and (v in wanted or v.replace(".", "") in wanted or v.startswith(prefixes))
                for v in cells
            ],
            dtype=bool,
        )
    return keep


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        if float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def _pick(columns: list[str], wanted: str | None, defaults: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in columns else None
    for name in defaults:
        if name in columns:
            return name
    return None


def read_zones(
    path: str | Path,
    *,
    id_column: str | None = None,
    name_column: str | None = None,
    layer: str | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
) -> gpd.GeoDataFrame:
    """Read reporting zones (polygons) with an id and a name.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON or shapefile of polygons.
    id_column
        Column with the zone id. By default the first of :data:`ZONE_ID_COLUMNS` present, else
        the row numbers as ``"Z001"``, ``"Z002"``, ….
    name_column
        Column with the zone name. By default the first of :data:`NAME_COLUMNS` present, else the
        zone id.
    layer
        Layer to read (needed when the file has several).
    where
        Keep only the rows :func:`where_mask` keeps (e.g. one kabupaten of a province file).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``zone_id`` (str), ``name`` (str) and ``geometry`` (Polygon / MultiPolygon), in
        the file's CRS. Invalid polygons (e.g. self-intersecting) are repaired with
        :func:`shapely.make_valid`, keeping only polygonal parts; how many is in
        ``gdf.attrs["repaired"]``.

    Raises
    ------
    InputError
        If the file has no CRS, no zones, empty or non-polygon geometries, missing or duplicate
        ids, coordinates off the globe, or a polygon crossing the antimeridian.
    """
    what = "zones file"
    frame = read_vector_file(path, what=what, layer=layer)
    p = check_local_path(path, what=what)
    require_crs(frame, path=p, what=what)
    if frame.empty:
        raise InputError("the zones file has no zones", path=p, fix="give a layer of polygons")
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    if where:
        keep = where_mask(frame, where, path=p, what=what)
        if not keep.any():
            column = next(iter(where))
            seen = sorted({v for v in text_values(frame[column]) if v is not None})
            shown = ", ".join(seen[:12]) + (", …" if len(seen) > 12 else "")
            raise InputError(
                f"the filter {dict(where)} keeps none of the {len(frame)} zones",
                path=p,
                fix=f"use values the column {column!r} holds: {shown}",
            )
        frame = frame.loc[keep].reset_index(drop=True)

    id_col = _pick(columns, id_column, ZONE_ID_COLUMNS)
    if id_column is not None and id_col is None:
        raise InputError(
            f"the zones file has no column '{id_column}' (columns: {', '.join(columns)})",
            path=p,
            fix="set the zone id column to one of the listed columns",
        )
    name_col = _pick(columns, name_column, NAME_COLUMNS)
    if name_column is not None and name_col is None:
        raise InputError(
            f"the zones file has no column '{name_column}' (columns: {', '.join(columns)})",
            path=p,
            fix="set the zone name column to one of the listed columns",
        )

    n = len(frame)
    if id_col is None:
        ids: list[str | None] = [f"Z{i + 1:03d}" for i in range(n)]
    else:
        ids = text_values(frame[id_col])
        missing = [i + 1 for i, v in enumerate(ids) if v is None]
        if missing:
            rows = ", ".join(str(r) for r in missing[:5])
            raise InputError(
                f"{len(missing)} zones have no id in column '{id_col}' (rows {rows})",
                path=p,
                fix="fill in the ids, or choose another id column",
            )
    counts = pd.Series(ids).value_counts()
    dups = counts[counts > 1]
    if len(dups):
        shown = ", ".join(f"{k} ({v}×)" for k, v in list(dups.items())[:5])
        raise InputError(
            f"the zones file has {len(dups)} duplicate zone ids in column '{id_col}': {shown}",
            path=p,
            fix="make the zone ids unique (or dissolve zones with the same id)",
        )
    names = text_values(frame[name_col]) if name_col is not None else [None] * n
    names_out = [
        name if name is not None else str(zid) for name, zid in zip(names, ids, strict=True)
    ]

    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    for i, geom in enumerate(geoms):
        if geom is None or shapely.is_empty(geom):
            raise InputError(
                f"zone {ids[i]} (row {i + 1}) has an empty geometry",
                path=p,
                fix="delete that row or draw its boundary",
            )
    kinds = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(kinds, (3, 6)))
    if len(bad):
        first = int(bad[0])
        raise InputError(
            f"the zones file has {len(bad)} non-polygon geometries "
            f"(first: zone {ids[first]}, a {geoms[first].geom_type})",
            path=p,
            fix="give zones as polygons (points and lines cannot hold population)",
        )
    geoms = shapely.force_2d(geoms)
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    for i in invalid.tolist():
        fixed = _polygonal_part(shapely.make_valid(geoms[i]))
        if fixed is None:
            raise InputError(
                f"zone {ids[i]} (row {i + 1}) has an invalid polygon with no area after repair",
                path=p,
                fix="redraw that zone's boundary",
            )
        geoms[i] = fixed

    zones = gpd.GeoDataFrame(
        {"zone_id": [str(v) for v in ids], "name": names_out},
        geometry=gpd.GeoSeries(geoms, crs=frame.crs),
        crs=frame.crs,
    )
    check_geographic_bounds(zones, path=p, what=what)
    if zones.crs is not None and zones.crs.is_geographic:
        bounds = shapely.bounds(geoms)
        span = bounds[:, 2] - bounds[:, 0]
        crossing = np.flatnonzero(span > 180)
        if len(crossing):
            first = int(crossing[0])
            raise InputError(
                f"{len(crossing)} zones cross the antimeridian (first: zone {ids[first]}, "
                f"spanning {span[first]:.1f}° of longitude)",
                path=p,
                fix="split at the antimeridian (ogr2ogr -wrapdateline) or use a projected CRS",
            )
    zones.attrs["repaired"] = len(invalid)
    return zones


def _polygonal_part(geom: Any) -> Any:
    """Keep the polygons of a repaired geometry; ``None`` if nothing with area remains."""
    parts = shapely.get_parts(geom)
    polys: list[Any] = []
    for part in parts:
        if part.geom_type == "Polygon" and not part.is_empty:
            polys.append(part)
        elif part.geom_type == "MultiPolygon":
            polys.extend(q for q in part.geoms if not q.is_empty)
        elif part.geom_type == "GeometryCollection":
            sub = _polygonal_part(part)
            if sub is not None:
                polys.extend(shapely.get_parts(sub))
    if not polys:
        return None
    if len(polys) == 1:
        return polys[0]
    return shapely.MultiPolygon(polys)
