"""Read road (and ferry) lines from GeoPackage / shapefile / GeoJSON line layers.

AccessMod-style road layers carry a class label per line (``Main road``, ``Secondary``, …) rather
than OSM tags; OSM-derived layers carry ``highway``. Either way the result is a
:class:`reach.ingest.roads.RoadLines`, the same container the OSM reader returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from reach.errors import InputError
from reach.ingest.boundaries import (
    check_geographic_bounds,
    read_vector_file,
    require_crs,
    text_values,
)
from reach.ingest.roads import TAG_COLUMNS, RoadLines

__all__ = ["MAX_PARTS", "read_road_lines"]

#: ``way_id`` is ``row * MAX_PARTS + part``, so a row may have at most this many parts.
MAX_PARTS = 1000
#: Coordinates are rounded to this many units per coordinate unit to find shared nodes.
_GEOGRAPHIC_SCALE = 1e9  # 1e-9 degree (~0.1 mm)
_PROJECTED_SCALE = 1e3  # 1 mm in a metre CRS
_LINE_TYPES = (1, 2, 5)  # LineString, LinearRing, MultiLineString
_SHOW = 5


def _copy_column(columns: Sequence[str], tag: str) -> str | None:
    """Column of the layer holding ``tag`` (exact name first, then case-insensitive)."""
    if tag in columns:
        return tag
    matches = [c for c in columns if c.lower() == tag]
    return matches[0] if len(matches) == 1 else None


def read_road_lines(
    path: str | Path,
    *,
    class_column: str,
    layer: str | None = None,
    ferry_classes: Sequence[str] = (),
) -> RoadLines:
    """Read a line layer of roads with a class column into :class:`RoadLines`.

    Parameters
    ----------
    path
        GeoPackage, shapefile or GeoJSON of LineStrings / MultiLineStrings with a CRS.
    class_column
        Column holding each line's class (e.g. ``"label"`` for AccessMod, ``"highway"``).
    layer
        Layer to read (needed when the file has several).
    ferry_classes
        Class values that are ferry routes (their ``route`` tag becomes ``"ferry"``).

    Returns
    -------
    RoadLines
        One way per line part (MultiLineStrings are exploded) in the file's CRS;
        ``way_id = row * 1000 + part``; points with the same coordinates (to 1e-9 degree or
        1e-3 projected unit) share a negative ``node_id`` so touching lines join. Repeated
        consecutive points are dropped, and so are parts with no length. ``tags.road_class``
        is the class as text; ``highway``, ``surface``, ``tracktype``, ``maxspeed``, ``oneway``
        and the other :data:`~reach.ingest.roads.TAG_COLUMNS` are copied when the layer has them.
        Lines with no class (e.g. rivers in an osm2pgsql ``highway`` layer) are not roads and are
        left out; how many is in ``tags.attrs["unclassified"]``.

    Raises
    ------
    InputError
        If the file cannot be read, has no CRS, lacks ``class_column``, has no line with a
        class, holds classified non-line geometries, or has no lines with length.
    """
    what = "road lines file"
    frame = read_vector_file(path, what=what, layer=layer)
    p = Path(path).expanduser()
    require_crs(frame, path=p, what=what)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    if class_column not in columns:
        raise InputError(
            f"the road lines file has no class column '{class_column}' "
            f"(columns: {', '.join(columns)})",
            path=p,
            fix="set the road class column to one of the listed columns",
        )
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    present = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    classes = text_values(frame[class_column])
    has_class = np.array([c is not None for c in classes], dtype=bool)
    unclassified = int((present & ~has_class).sum())
    present &= has_class
    if not present.any():
        raise InputError(
            f"no line in the road lines file has a class in column '{class_column}'",
            path=p,
            fix="choose the column that holds the road classes",
        )
    kinds = shapely.get_type_id(geoms)
    not_line = present & ~np.isin(kinds, _LINE_TYPES)
    if not_line.any():
        rows = np.flatnonzero(not_line) + 1
        kinds_found = sorted({geoms[i].geom_type for i in np.flatnonzero(not_line)})
        raise InputError(
            f"the road lines file has {int(not_line.sum())} non-line geometries "
            f"({', '.join(kinds_found)}; row {', '.join(str(r) for r in rows[:_SHOW])})",
            path=p,
            fix="keep only the road lines in this layer",
        )

    kept_rows = np.flatnonzero(present)
    parts, part_row_local = shapely.get_parts(shapely.force_2d(geoms[kept_rows]), return_index=True)
    part_row = kept_rows[part_row_local]
    # number the parts within their row: 0, 1, 2, …
    first_of_row = np.r_[True, part_row[1:] != part_row[:-1]]
    starts = np.flatnonzero(first_of_row)
    part_no = np.arange(len(part_row)) - np.repeat(starts, np.diff(np.r_[starts, len(part_row)]))
    if len(part_no) and part_no.max() >= MAX_PARTS:
        row = int(part_row[int(np.argmax(part_no))]) + 1
        raise InputError(
            f"row {row} of the road lines file has more than {MAX_PARTS - 1} line parts",
            path=p,
            fix="split the multi-part lines first (ogr2ogr -explodecollections)",
        )

    coords, coord_part = shapely.get_coordinates(parts, return_index=True)
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        bad_row = int(part_row[coord_part[np.flatnonzero(~finite)[0]]]) + 1
        raise InputError(
            f"the road lines file has NaN or infinite coordinates (row {bad_row})",
            path=p,
            fix="repair or delete that line",
        )
    scale = _GEOGRAPHIC_SCALE if frame.crs.is_geographic else _PROJECTED_SCALE
    keys = np.round(coords * scale).astype(np.int64)
    # drop consecutive repeated points within a part
    same_as_previous = np.zeros(len(coords), dtype=bool)
    if len(coords) > 1:
        same_as_previous[1:] = (coord_part[1:] == coord_part[:-1]) & (keys[1:] == keys[:-1]).all(
            axis=1
        )
    keep_point = ~same_as_previous
    coords, coord_part, keys = coords[keep_point], coord_part[keep_point], keys[keep_point]
    points_per_part = np.bincount(coord_part, minlength=len(parts))
    good_part = points_per_part >= 2
    if not good_part.any():
        raise InputError(
            "the road lines file has no lines with length",
            path=p,
            fix="give a layer of road LineStrings",
        )
    keep_point = good_part[coord_part]
    coords, coord_part, keys = coords[keep_point], coord_part[keep_point], keys[keep_point]
    kept_parts = np.flatnonzero(good_part)
    counts = points_per_part[kept_parts]
    offsets = np.zeros(len(kept_parts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    way_row = part_row[kept_parts]
    way_id = way_row.astype(np.int64) * MAX_PARTS + part_no[kept_parts].astype(np.int64)

    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    node_id = -(np.asarray(inverse, dtype=np.int64).ravel() + 1)

    tags = _tags(frame, columns, classes, way_row, ferry_classes)
    tags.attrs["unclassified"] = unclassified
    lines = RoadLines(
        way_id=way_id,
        offsets=offsets,
        x=np.ascontiguousarray(coords[:, 0], dtype=np.float64),
        y=np.ascontiguousarray(coords[:, 1], dtype=np.float64),
        node_id=node_id,
        tags=tags,
        crs=frame.crs,
        source=p,
    )
    check_geographic_bounds(frame.iloc[kept_rows], path=p, what=what)
    return lines


def _tags(
    frame: pd.DataFrame,
    columns: list[str],
    classes: list[str | None],
    way_row: np.ndarray,
    ferry_classes: Sequence[str],
) -> pd.DataFrame:
    data: dict[str, list[str | None]] = {}
    for tag in TAG_COLUMNS:
        if tag == "road_class":
            row_values: list[str | None] = classes
        else:
            source = _copy_column(columns, tag)
            row_values = text_values(frame[source]) if source is not None else [None] * len(frame)
        data[tag] = [row_values[int(r)] for r in way_row]
    ferries = {str(c) for c in ferry_classes}
    if ferries:
        data["route"] = [
            "ferry" if cls in ferries else route
            for cls, route in zip(data["road_class"], data["route"], strict=True)
        ]
    return pd.DataFrame({tag: pd.Series(data[tag], dtype=object) for tag in TAG_COLUMNS})
