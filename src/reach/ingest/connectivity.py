"""Read where mobile data works: coverage polygons, a signal raster, or tower points with a range.

Read and validate only; :func:`reach.model.connectivity.connected_cells` brings the layer onto
the analysis grid. Every problem a user can cause is a one-line
:class:`reach.errors.InputError` naming the file, the problem and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from reach.errors import InputError
from reach.ingest.boundaries import check_geographic_bounds, read_vector_file, require_crs
from reach.ingest.rasters import RasterLayer, check_geographic_grid, open_geotiff

__all__ = ["CONNECTIVITY_KINDS", "Connectivity", "read_connectivity"]

#: The kinds of connectivity layer reach reads.
CONNECTIVITY_KINDS: tuple[str, ...] = ("polygons", "raster", "towers")

_WHAT = {
    "polygons": "connectivity polygon file",
    "raster": "signal raster",
    "towers": "tower point file",
}
_POLYGON_TYPES = (3, 6)  # shapely type ids: Polygon, MultiPolygon
_POINT_TYPES = (0, 4)  # Point, MultiPoint


@dataclass(frozen=True, eq=False)
class Connectivity:
    """A connectivity layer as read: exactly one of ``polygons``, ``raster``, ``towers`` is set.

    Attributes
    ----------
    kind
        ``"polygons"``, ``"raster"`` or ``"towers"``.
    polygons
        Coverage polygons (Polygon / MultiPolygon, non-empty, valid), in the file's CRS.
    raster
        Signal raster (e.g. dBm, or 0/1), band 1.
    towers
        Tower points (Point; multi-points are split), in the file's CRS.
    range_m
        Tower range in metres (towers only).
    threshold
        Raster cells with a value strictly above it are connected.
    path
        The file read.
    """

    kind: str
    polygons: gpd.GeoDataFrame | None
    raster: RasterLayer | None
    towers: gpd.GeoDataFrame | None
    range_m: float | None
    threshold: float
    path: Path

    def __post_init__(self) -> None:
        if self.kind not in CONNECTIVITY_KINDS:
            raise ValueError(f"unknown connectivity kind {self.kind!r}")
        given = {
            "polygons": self.polygons is not None,
            "raster": self.raster is not None,
            "towers": self.towers is not None,
        }
        if sum(given.values()) != 1 or not given[self.kind]:
            raise ValueError(f"a {self.kind!r} connectivity layer must set only `{self.kind}`")
        if self.kind == "towers" and (self.range_m is None or not self.range_m > 0):
            raise ValueError("tower points need a positive range_m")


def read_connectivity(
    path: str | Path,
    *,
    kind: str,
    layer: str | None = None,
    range_m: float | None = None,
    threshold: float = 0.0,
) -> Connectivity:
    """Read and check a connectivity layer.

    Parameters
    ----------
    path
        A vector file (GeoPackage, GeoJSON, shapefile, FlatGeobuf) for ``polygons`` and
        ``towers``; a GeoTIFF for ``raster``.
    kind
        ``"polygons"`` (areas with signal), ``"raster"`` (signal strength per cell) or
        ``"towers"`` (points that serve everything within ``range_m``).
    layer
        Layer of a multi-layer vector file (not used for rasters).
    range_m
        Tower range in metres; required for towers, ignored otherwise.
    threshold
        For rasters: cells with a value above it are connected (e.g. ``-100`` for dBm,
        ``0`` for a 0/1 raster).

    Returns
    -------
    Connectivity
        The layer in its file's CRS.

    Raises
    ------
    InputError
        If the file is missing or unreadable, has no CRS, has no features (or only nodata),
        has geometries of the wrong type for ``kind``, or towers come without a range.
    """
    if kind not in CONNECTIVITY_KINDS:
        raise InputError(
            f"unknown connectivity kind {kind!r}",
            path=path,
            fix=f"use one of {', '.join(CONNECTIVITY_KINDS)}",
        )
    what = _WHAT[kind]
    p = Path(path)
    if kind == "towers":
        if range_m is None:
            raise InputError(
                "tower points need a range",
                path=p,
                fix="set `range_m` (metres a tower serves, e.g. 5000)",
            )
        if not (math.isfinite(range_m) and range_m > 0):
            raise InputError(
                f"the tower range must be a positive number of metres (got {range_m})",
                path=p,
                fix="set `range_m` to the metres a tower serves, e.g. 5000",
            )
    if kind == "raster":
        if not math.isfinite(threshold):
            raise InputError(
                f"the signal threshold must be a finite number (got {threshold})",
                path=p,
                fix="set `threshold` to a number, e.g. -100 for dBm or 0 for a 0/1 raster",
            )
        if layer is not None:
            raise InputError(
                f"a signal raster has no layers (layer {layer!r} was asked for)",
                path=p,
                fix="remove `layer`, or use kind polygons / towers for a vector file",
            )
        raster = open_geotiff(p, what=what)
        check_geographic_grid(raster, what=what)
        if bool(raster.nodata_mask.all()):
            raise InputError(
                f"the {what} has only nodata cells",
                path=p,
                fix="give a raster with signal values (check its nodata value with gdalinfo)",
            )
        return Connectivity(
            kind=kind,
            polygons=None,
            raster=raster,
            towers=None,
            range_m=None,
            threshold=float(threshold),
            path=p,
        )

    frame = read_vector_file(p, what=what, layer=layer)
    require_crs(frame, path=p, what=what)
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    present[present] = ~shapely.is_empty(geoms[present])
    frame = frame.loc[present].reset_index(drop=True)
    if frame.empty:
        raise InputError(
            f"the {what} has no features",
            path=p,
            fix="give a layer with " + ("polygons" if kind == "polygons" else "points"),
        )
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    wanted = _POLYGON_TYPES if kind == "polygons" else _POINT_TYPES
    bad = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), wanted))
    if len(bad):
        first = int(bad[0])
        if kind == "polygons":
            fix = "give coverage areas as polygons (for tower points use kind = 'towers')"
        else:
            fix = "give tower locations as points (for coverage areas use kind = 'polygons')"
        raise InputError(
            f"the {what} has {len(bad)} geometries of the wrong type "
            f"(row {first + 1} is a {geoms[first].geom_type})",
            path=p,
            fix=fix,
        )
    check_geographic_bounds(frame, path=p, what=what)
    if kind == "polygons":
        invalid = ~shapely.is_valid(geoms)
        if invalid.any():
            repaired = shapely.make_valid(geoms[invalid])
            # keep only the areal parts of a repair (a bow-tie may leave lines or points)
            geoms[invalid] = [_areal(g) for g in repaired]
        polygons = gpd.GeoDataFrame(
            frame.drop(columns=frame.geometry.name),
            geometry=gpd.GeoSeries(shapely.force_2d(geoms), crs=frame.crs),
            crs=frame.crs,
        )
        polygons = polygons.loc[~polygons.geometry.is_empty].reset_index(drop=True)
        if polygons.empty:
            raise InputError(
                f"the {what} has only invalid polygons with no area after repair",
                path=p,
                fix="redraw the coverage polygons (check them with ogrinfo or QGIS)",
            )
        polygons.attrs["repaired"] = int(invalid.sum())
        return Connectivity(
            kind=kind,
            polygons=polygons,
            raster=None,
            towers=None,
            range_m=None,
            threshold=float(threshold),
            path=p,
        )
    towers = frame.explode(index_parts=False).reset_index(drop=True)
    towers = towers.set_geometry(shapely.force_2d(towers.geometry.to_numpy()), crs=frame.crs)
    xy = shapely.get_coordinates(towers.geometry.to_numpy())
    if not np.isfinite(xy).all():
        raise InputError(
            f"the {what} has points with non-finite coordinates",
            path=p,
            fix="delete or fix the points without a location",
        )
    assert range_m is not None
    return Connectivity(
        kind=kind,
        polygons=None,
        raster=None,
        towers=towers,
        range_m=float(range_m),
        threshold=float(threshold),
        path=p,
    )


def _areal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a repaired geometry (an empty polygon when none is left)."""
    parts = [
        part
        for part in shapely.get_parts(geom)
        if shapely.get_type_id(part) in _POLYGON_TYPES and not part.is_empty
    ]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)
