"""Generic vector layers (barriers, water): read, check the CRS and geometries, nothing else."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from reach.errors import InputError
from reach.ingest.boundaries import read_vector_file, require_crs

__all__ = ["read_vector_layer"]


def read_vector_layer(path: str | Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer that is burnt into the grid, with one-line errors.

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
    gdf = read_vector_file(p, what=what, layer=layer)
    require_crs(gdf, path=p, what=what)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        raise InputError(f"the {what} has no geometries", path=p, fix="give a layer with features")
    return gdf.reset_index(drop=True)
