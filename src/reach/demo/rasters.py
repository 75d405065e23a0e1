"""The demo rasters' GeoTIFF profile, and the row strips they are computed and written in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reach.demo.layout import Layout

__all__ = ["raster_profile", "strips"]

# Raster tiles, and strips of whole tiles of about this many cells.
_TILE = 256
_STRIP_TARGET_CELLS = 4_000_000


def _strip_rows(cols: int) -> int:
    return _TILE * max(1, _STRIP_TARGET_CELLS // (_TILE * max(cols, 1)))


def strips(rows: int, cols: int) -> Iterator[tuple[int, int]]:
    """The row strips of a grid, each a whole number of tiles of about 4 million cells.

    Parameters
    ----------
    rows, cols
        The grid's size.

    Yields
    ------
    tuple of int
        The first row of a strip and its number of rows.
    """
    step = _strip_rows(cols)
    for row0 in range(0, rows, step):
        yield row0, min(step, rows - row0)


def raster_profile(layout: Layout, *, dtype: str, nodata: float | None) -> dict[str, Any]:
    """The rasterio profile of a demo raster: a tiled, deflated GeoTIFF on the region's grid.

    Parameters
    ----------
    layout
        The region's grid.
    dtype
        The band's data type (``"float32"`` or ``"uint8"``).
    nodata
        The nodata value, or ``None`` for none.

    Returns
    -------
    dict
        Keyword arguments of :func:`rasterio.open` in write mode.
    """
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": layout.cols,
        "height": layout.rows,
        "count": 1,
        "dtype": dtype,
        "crs": "EPSG:4326",
        "transform": layout.transform,
        "tiled": True,
        "blockxsize": _TILE,
        "blockysize": _TILE,
        "compress": "deflate",
        "predictor": 3 if dtype == "float32" else 2,
        "BIGTIFF": "IF_SAFER",
    }
    if nodata is not None:
        profile["nodata"] = nodata
    return profile
