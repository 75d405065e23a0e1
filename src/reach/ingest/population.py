"""Read a population raster (people per cell) and aggregate it to coarser grids by sum.

Population is never interpolated: :func:`aggregate_population` sums blocks of cells, so the total
is conserved (DESIGN.md, "Analysis grid").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from reach.errors import ConservationError, InputError
from reach.ingest.rasters import RasterWindow, check_geographic_grid, open_geotiff

__all__ = ["INFERRED_NODATA_BELOW", "Population", "aggregate_population", "read_population"]

#: With no declared nodata, values at or below this are taken as a fill value (WorldPop -99999).
INFERRED_NODATA_BELOW = -9999.0

_WHAT = "population raster"


@dataclass(frozen=True, eq=False)
class Population:
    """People per cell on a grid.

    Attributes
    ----------
    people
        ``float64`` 2-D array of people per cell, 0 where nodata.
    valid
        Boolean 2-D array, ``False`` where the raster has no data.
    transform
        Affine transform of the grid.
    crs
        Coordinate reference system of the grid.
    path
        The file it was read from.
    total
        Sum of ``people`` over valid cells (``float64``).
    nodata_inferred
        ``True`` when the file declared no nodata value and reach took very negative fill values
        (e.g. WorldPop's -99999) as nodata.
    """

    people: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS
    path: Path
    total: float
    nodata_inferred: bool

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the grid."""
        rows, cols = self.people.shape
        return int(rows), int(cols)


@overload
def read_population(
    path: str | Path,
    *,
    max_cells: Callable[[int, int], None] | None = None,
    window: None = None,
) -> Population: ...


@overload
def read_population(
    path: str | Path,
    *,
    max_cells: Callable[[int, int], None] | None = None,
    window: RasterWindow,
) -> Population | None: ...


def read_population(
    path: str | Path,
    *,
    max_cells: Callable[[int, int], None] | None = None,
    window: RasterWindow | None = None,
) -> Population | None:
    """Read and validate a people-per-cell GeoTIFF (e.g. WorldPop).

    Parameters
    ----------
    path
        A local GeoTIFF with people per cell in band 1.
    max_cells
        A check of the raster's size, called before it is read (see ``open_geotiff``).
    window
        Read only the cells under this window (see ``open_geotiff``); a window may hold no
        valid cell and no people.

    Returns
    -------
    Population or None
        People per cell (0 and invalid where nodata) and the total; ``None`` only for a window
        that holds no cell of the raster.

    Raises
    ------
    InputError
        If the file cannot be read as a GeoTIFF, has no CRS, has a geographic CRS not in degrees,
        has negative or infinite values, or (a whole read) has no valid cells or sums to 0.

    Notes
    -----
    The declared nodata value is honoured. When none is declared, cells at or below
    :data:`INFERRED_NODATA_BELOW` (e.g. -99999) are taken as nodata and ``nodata_inferred`` is set.
    NaN cells are always nodata.
    """
    layer = open_geotiff(path, what=_WHAT, max_cells=max_cells, window=window)
    if layer is None:
        return None
    check_geographic_grid(layer, what=_WHAT)
    p = layer.path
    if layer.values.dtype.kind not in "iuf":
        raise InputError(
            f"the {_WHAT} has {layer.values.dtype} cells, not numbers",
            path=p,
            fix="export people per cell as a Float32 GeoTIFF",
        )
    values = layer.values.astype(np.float64)
    nodata = layer.nodata_mask.copy()
    inferred = False
    if layer.nodata is None:
        with np.errstate(invalid="ignore"):
            fill = values <= INFERRED_NODATA_BELOW
        if fill.any():
            nodata |= fill
            inferred = True
    valid = ~nodata
    if not valid.any() and window is None:
        nan_note = " (NaN)" if np.isnan(values).any() else ""
        raise InputError(
            f"every cell of the {_WHAT} is nodata{nan_note}",
            path=p,
            fix="check the file holds people per cell for your region",
        )
    inside = values[valid]
    n_inf = int(np.isinf(inside).sum())
    if n_inf:
        raise InputError(
            f"the {_WHAT} has {n_inf} infinite cells",
            path=p,
            fix="set those cells to nodata or to a number of people",
        )
    negative = inside < 0
    n_neg = int(negative.sum())
    if n_neg:
        raise InputError(
            f"the {_WHAT} has {n_neg} negative cells (min {float(inside.min()):g})",
            path=p,
            fix="declare the fill value as nodata (gdal_edit.py -a_nodata VALUE) "
            "or set negative cells to 0",
        )
    people = np.where(valid, values, 0.0)
    with np.errstate(over="ignore"):  # an overflowing sum is refused just below
        total = float(people.sum(dtype=np.float64))
    if not math.isfinite(total):
        raise InputError(
            f"the {_WHAT} sums to {total}",
            path=p,
            fix="check the values are people per cell",
        )
    if total <= 0 and window is None:
        raise InputError(
            f"the {_WHAT}'s population sums to 0",
            path=p,
            fix="check the file holds people per cell for your region",
        )
    return Population(
        people=people,
        valid=valid,
        transform=layer.transform,
        crs=layer.crs,
        path=p,
        total=total,
        nodata_inferred=inferred,
    )


def _block_reduce(array: np.ndarray, factor: int, *, fill: float | bool, how: str) -> np.ndarray:
    """Reduce ``factor``×``factor`` blocks by sum or any, padding partial edge blocks."""
    rows, cols = array.shape
    out_rows = -(-rows // factor)
    out_cols = -(-cols // factor)
    padded = np.full((out_rows * factor, out_cols * factor), fill, dtype=array.dtype)
    padded[:rows, :cols] = array
    blocks = padded.reshape(out_rows, factor, out_cols, factor)
    if how == "sum":
        return np.asarray(blocks.sum(axis=(1, 3), dtype=np.float64))
    return np.asarray(blocks.any(axis=(1, 3)))


def aggregate_population(pop: Population, *, factor: int) -> Population:
    """Sum ``factor``×``factor`` blocks of cells into a coarser grid.

    Parameters
    ----------
    pop
        The population on its own grid.
    factor
        How many cells along each side form one new cell (1 returns an equal copy).

    Returns
    -------
    Population
        The coarser grid, anchored at the same top-left corner. Edge blocks may be partial (they
        cover fewer original cells). A new cell is valid where any of its cells was valid; the
        total is conserved up to float rounding.

    Raises
    ------
    InputError
        If ``factor`` is not a positive integer.
    ConservationError
        If the totals differ by more than float rounding (a bug, never the user's fault).
    """
    if isinstance(factor, bool) or not isinstance(factor, int | np.integer) or factor < 1:
        raise InputError(
            f"the aggregation factor must be a positive whole number, not {factor!r}",
            path=pop.path,
            fix="use 1, 2, 3, …",
        )
    factor = int(factor)
    if factor == 1:
        people = pop.people.astype(np.float64, copy=True)
        valid = pop.valid.copy()
    else:
        people = _block_reduce(pop.people.astype(np.float64), factor, fill=0.0, how="sum")
        valid = _block_reduce(pop.valid.astype(bool), factor, fill=False, how="any")
    total = float(people.sum(dtype=np.float64))
    tolerance = 1e-9 * max(abs(pop.total), 1.0)
    if not abs(total - pop.total) <= tolerance:
        raise ConservationError(
            f"aggregating population by {factor} changed the total from {pop.total!r} to {total!r}",
            path=pop.path,
        )
    return Population(
        people=people,
        valid=valid,
        transform=pop.transform @ Affine.scale(factor),
        crs=pop.crs,
        path=pop.path,
        total=total,
        nodata_inferred=pop.nodata_inferred,
    )
