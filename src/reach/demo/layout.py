"""The demo region's analysis grid and its split into island groups.

A grid of 3 arc-seconds (about 92 m) centred on open sea in eastern Indonesia, split into one
island-group footprint per ~600,000 cells, and a coarse grid of :data:`BLOCK` x :data:`BLOCK`
cells (about 370 m) on which places, roads and districts are planned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rasterio.transform import Affine

from reach.errors import InputError

__all__ = [
    "BLOCK",
    "DEFAULT_SIZE_CELLS",
    "EARTH_RADIUS_KM",
    "MIN_SIZE_CELLS",
    "RES_DEG",
    "BoolArray",
    "ByteArray",
    "Float32Array",
    "FloatArray",
    "GroupBox",
    "IntArray",
    "Layout",
    "grid_layout",
]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]

#: Default number of cells of the population grid (800 rows x 750 columns, about 5,000 km²).
DEFAULT_SIZE_CELLS = 600_000
#: Smallest grid the generator can fit a main island, a second island and a ferry into.
MIN_SIZE_CELLS = 40_000

#: Cell size of the grid, in degrees (3 arc-seconds).
RES_DEG = 1.0 / 1200.0
#: Radius of the authalic sphere, in kilometres.
EARTH_RADIUS_KM = 6371.0088
#: Side of a coarse block, in cells (about 370 m): places and roads are planned on blocks.
BLOCK = 4
# Grid centred on open sea south of Timor and east of Sumba.
_CENTRE_LON_DEG = 123.5
_CENTRE_LAT_DEG = -10.8
# One island group per nominal footprint of this many rows and columns.
_GROUP_ROWS = 800
_GROUP_COLS = 750


@dataclass(frozen=True)
class GroupBox:
    """The footprint of one island group, in cells and in coarse blocks."""

    index: int
    r0: int
    r1: int
    c0: int
    c1: int
    cr0: int
    cr1: int
    cc0: int
    cc1: int

    @property
    def height_px(self) -> int:
        return self.r1 - self.r0

    @property
    def width_px(self) -> int:
        return self.c1 - self.c0

    @property
    def scale_px(self) -> float:
        """Geometric mean side of the footprint in cells (the template's unit length)."""
        return math.sqrt(self.height_px * self.width_px)

    @property
    def coarse_shape(self) -> tuple[int, int]:
        return self.cr1 - self.cr0, self.cc1 - self.cc0


@dataclass(frozen=True)
class Layout:
    """The analysis grid and its split into island groups."""

    rows: int
    cols: int
    west_deg: float
    north_deg: float
    groups: tuple[GroupBox, ...]

    @property
    def transform(self) -> Affine:
        return Affine(RES_DEG, 0.0, self.west_deg, 0.0, -RES_DEG, self.north_deg)

    @property
    def coarse_rows(self) -> int:
        return -(-self.rows // BLOCK)

    @property
    def coarse_cols(self) -> int:
        return -(-self.cols // BLOCK)

    def lon(self, x_px: npt.ArrayLike) -> FloatArray:
        """Longitude of a cell-edge coordinate ``x_px`` (cell centres are ``col + 0.5``).

        Parameters
        ----------
        x_px
            Distance east of the grid's west edge, in cells (any shape).

        Returns
        -------
        numpy.ndarray
            The longitudes, in degrees, of the shape of ``x_px``.
        """
        return self.west_deg + np.asarray(x_px, dtype=np.float64) * RES_DEG

    def lat(self, y_px: npt.ArrayLike) -> FloatArray:
        """Latitude of a cell-edge coordinate ``y_px`` (cell centres are ``row + 0.5``).

        Parameters
        ----------
        y_px
            Distance south of the grid's north edge, in cells (any shape).

        Returns
        -------
        numpy.ndarray
            The latitudes, in degrees, of the shape of ``y_px``.
        """
        return self.north_deg - np.asarray(y_px, dtype=np.float64) * RES_DEG

    def cell_area_km2(self, rows: npt.ArrayLike) -> FloatArray:
        """Area of one cell of each row, on the authalic sphere.

        Parameters
        ----------
        rows
            Row numbers (any shape); a cell of row ``r`` spans ``r .. r + 1``.

        Returns
        -------
        numpy.ndarray
            The area of one cell of each row, in km², of the shape of ``rows``.
        """
        r = np.asarray(rows, dtype=np.float64)
        top = np.radians(self.lat(r))
        bottom = np.radians(self.lat(r + 1.0))
        return EARTH_RADIUS_KM**2 * math.radians(RES_DEG) * (np.sin(top) - np.sin(bottom))

    def cell_dx_m(self, rows: npt.ArrayLike) -> FloatArray:
        """East-west size of a cell of each row, in metres.

        Parameters
        ----------
        rows
            Row numbers (any shape); the size is taken at the row's centre, ``row + 0.5``.

        Returns
        -------
        numpy.ndarray
            The width of a cell of each row, in metres, of the shape of ``rows``.
        """
        lat = np.radians(self.lat(np.asarray(rows, dtype=np.float64) + 0.5))
        return 1000.0 * EARTH_RADIUS_KM * math.radians(RES_DEG) * np.cos(lat)

    @property
    def cell_dy_m(self) -> float:
        """North-south size of a cell, in metres."""
        return 1000.0 * EARTH_RADIUS_KM * math.radians(RES_DEG)


def grid_layout(size_cells: int) -> Layout:
    """The grid of a demo region of about ``size_cells`` cells, and its island groups.

    Parameters
    ----------
    size_cells
        Approximate rows x columns of the grid; at least :data:`MIN_SIZE_CELLS`.

    Returns
    -------
    Layout
        The grid (rows, columns, north-west corner) and one footprint per island group.

    Raises
    ------
    InputError
        If ``size_cells`` is not an integer of at least :data:`MIN_SIZE_CELLS`.
    """
    if not isinstance(size_cells, int | np.integer) or size_cells < MIN_SIZE_CELLS:
        raise InputError(
            f"size_cells must be an integer of at least {MIN_SIZE_CELLS:,}, not {size_cells!r}",
            fix=f"use the default {DEFAULT_SIZE_CELLS:,} or a larger grid",
        )
    rows = max(1, round(math.sqrt(size_cells * _GROUP_ROWS / _GROUP_COLS)))
    cols = max(1, round(size_cells / rows))
    west = round((_CENTRE_LON_DEG - cols / 2 * RES_DEG) / RES_DEG) * RES_DEG
    north = round((_CENTRE_LAT_DEG + rows / 2 * RES_DEG) / RES_DEG) * RES_DEG
    n_gy = max(1, round(rows / _GROUP_ROWS))
    n_gx = max(1, round(cols / _GROUP_COLS))
    r_edges = [round(i * rows / n_gy) for i in range(n_gy + 1)]
    c_edges = [round(j * cols / n_gx) for j in range(n_gx + 1)]
    crows, ccols = -(-rows // BLOCK), -(-cols // BLOCK)
    cr_edges = [e // BLOCK for e in r_edges[:-1]] + [crows]
    cc_edges = [e // BLOCK for e in c_edges[:-1]] + [ccols]
    groups = []
    for i in range(n_gy):
        for j in range(n_gx):
            groups.append(
                GroupBox(
                    index=i * n_gx + j,
                    r0=r_edges[i],
                    r1=r_edges[i + 1],
                    c0=c_edges[j],
                    c1=c_edges[j + 1],
                    cr0=cr_edges[i],
                    cr1=cr_edges[i + 1],
                    cc0=cc_edges[j],
                    cc1=cc_edges[j + 1],
                )
            )
    return Layout(rows=rows, cols=cols, west_deg=west, north_deg=north, groups=tuple(groups))
