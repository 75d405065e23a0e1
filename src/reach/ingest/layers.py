"""Generic vector layers (barriers, water): read, check the CRS and geometries, nothing else."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from reach.errors import InputError

__all__ = ["read_vector_layer"]

_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb"}


def read_vector_layer(path: str | Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file as a GeoDataFrame, with one-line errors.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, shapefile or FlatGeobuf.
    what
        What the layer is for, used in messages (e.g. ``"barrier layer"``).
    layer
        Layer name inside a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Rows with non-empty geometries, in the file's CRS.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} not found", path=p, fix="check the path in the scenario file")
    if p.suffix.lower() not in _SUFFIXES:
        raise InputError(
            f"{what} has an unsupported extension {p.suffix!r}",
            path=p,
            fix="give a .gpkg, .geojson, .shp or .fgb file",
        )
    try:
        gdf = gpd.read_file(p, layer=layer)
    except Exception as exc:  # pyogrio / GDAL raise many kinds
        raise InputError(
            f"cannot read {what}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            path=p,
            fix="check that the file opens in QGIS and the layer name is right",
        ) from exc
    if gdf.crs is None:
        raise InputError(f"{what} has no CRS", path=p, fix="set its CRS (e.g. EPSG:4326) in QGIS")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        raise InputError(f"{what} has no geometries", path=p, fix="give a layer with features")
    return gdf.reset_index(drop=True)
