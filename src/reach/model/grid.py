"""The analysis grid and the walking friction on it.

The grid is the population raster's own grid. Land cover and elevation are warped onto it
(nearest class / average fraction / bilinear elevation); barriers and water are burnt in.
Population is never interpolated: only sum-conserving changes (``ingest.population``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import Resampling, reproject, transform_bounds

from reach.codes import STATUS_BARRIER, STATUS_NO_DATA, STATUS_PASSABLE, STATUS_WATER
from reach.errors import InputError
from reach.ingest.landcover import LandCover
from reach.ingest.population import Population
from reach.ingest.rasters import RasterLayer

__all__ = [
    "EARTH_RADIUS_M",
    "AnalysisGrid",
    "Friction",
    "Rect",
    "build_friction",
    "burn_mask",
    "grid_from_population",
    "rasterize_zones",
    "warp_layer",
]

#: Mean Earth radius used for cell sizes and edge lengths in geographic grids.
EARTH_RADIUS_M = 6_371_008.8

#: A window of an analysis grid: ``(row0, row1, col0, col1)``, ends exclusive.
Rect = tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class AnalysisGrid:
    """The raster grid every layer is brought onto.

    Attributes
    ----------
    rows, cols
        Shape.
    transform
        Affine transform (north-up, no rotation).
    crs
        Coordinate reference system.
    dx_m
        ``float64`` (rows,): cell width in metres at the centre of each row.
    dy_m
        Cell height in metres.
    """

    rows: int
    cols: int
    transform: Affine
    crs: CRS
    dx_m: np.ndarray
    dy_m: float

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (self.rows, self.cols)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.rows * self.cols

    @property
    def geographic(self) -> bool:
        """True when coordinates are longitude / latitude degrees."""
        return bool(self.crs.is_geographic)

    @property
    def min_cell_size_m(self) -> float:
        """The smallest cell side in metres."""
        return float(min(self.dx_m.min(), self.dy_m))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of the grid in ``crs`` units."""
        t = self.transform
        x0, y0 = t @ (0, 0)
        x1, y1 = t @ (self.cols, self.rows)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def window(self, rect: Rect) -> AnalysisGrid:
        """The part of the grid a window covers, as a grid of its own.

        Parameters
        ----------
        rect
            ``(row0, row1, col0, col1)``, ends exclusive.

        Returns
        -------
        AnalysisGrid
            The window's cells: its own transform, and the row widths of its rows.
        """
        r0, r1, c0, c1 = rect
        return AnalysisGrid(
            rows=r1 - r0,
            cols=c1 - c0,
            transform=self.transform @ Affine.translation(c0, r0),
            crs=self.crs,
            dx_m=np.asarray(self.dx_m[r0:r1], dtype=np.float64),
            dy_m=self.dy_m,
        )

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index of each point (in the grid CRS); ``-1`` outside the grid.

        Parameters
        ----------
        x, y
            The points' coordinates, in ``crs`` units.

        Returns
        -------
        numpy.ndarray
            ``int64``, of the points' shape: ``row * cols + col`` of the cell holding each
            point, or ``-1`` for a point outside the grid or with a non-finite coordinate.
        """
        t = self.transform
        col_f = (np.asarray(x, dtype=np.float64) - t.c) / t.a
        row_f = (np.asarray(y, dtype=np.float64) - t.f) / t.e
        col = np.floor(col_f).astype(np.int64)
        row = np.floor(row_f).astype(np.int64)
        inside = (row >= 0) & (row < self.rows) & (col >= 0) & (col < self.cols)
        inside &= np.isfinite(col_f) & np.isfinite(row_f)
        return np.where(inside, row * self.cols + col, -1)

    def cell_centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of the centres of flat cell indices.

        Parameters
        ----------
        cells
            Flat cell indices (``row * cols + col``).

        Returns
        -------
        tuple of numpy.ndarray
            ``(x, y)`` of each cell's centre, in ``crs`` units.
        """
        rows, cols = np.divmod(np.asarray(cells, dtype=np.int64), self.cols)
        t = self.transform
        return t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e


def grid_from_population(pop: Population) -> AnalysisGrid:
    """Return the analysis grid of a population raster, with cell sizes in metres per row.

    Parameters
    ----------
    pop
        The population raster.

    Returns
    -------
    AnalysisGrid
        Its grid; for geographic rasters ``dx_m`` shrinks with the cosine of latitude.
    """
    t = pop.transform
    if t.b != 0 or t.d != 0:
        raise InputError(
            "population raster is rotated or sheared",
            path=pop.path,
            fix="warp it to a north-up grid (gdalwarp) first",
        )
    rows, cols = pop.people.shape
    crs = CRS.from_user_input(pop.crs)
    if crs.is_geographic:
        lat = t.f + t.e * (np.arange(rows) + 0.5)
        rad = np.pi / 180.0
        dx = EARTH_RADIUS_M * np.cos(lat * rad) * abs(t.a) * rad
        dy = EARTH_RADIUS_M * abs(t.e) * rad
    else:
        unit = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        dx = np.full(rows, abs(t.a) * unit)
        dy = abs(t.e) * unit
    return AnalysisGrid(
        rows=rows, cols=cols, transform=t, crs=crs, dx_m=np.asarray(dx, float), dy_m=float(dy)
    )


@dataclass(frozen=True, eq=False)
class Friction:
    """Walking friction on the analysis grid.

    Attributes
    ----------
    pace_min_per_m
        ``float64`` (rows, cols): minutes per metre on flat ground; ``inf`` where impassable.
    status
        ``uint8`` (rows, cols): ``STATUS_*`` code (passable, barrier, water, no data).
    elevation_m
        ``float64`` (rows, cols) or ``None``: elevation for Tobler's slope factor.
    populated_water_cells
        Cells the land cover calls water but the population raster gives people: they are
        treated as land (mixed coastline pixels), and counted here.
    """

    pace_min_per_m: np.ndarray
    status: np.ndarray
    elevation_m: np.ndarray | None
    populated_water_cells: int = 0


def _warp(layer: RasterLayer, grid: AnalysisGrid, *, resampling: Resampling) -> np.ndarray:
    """Warp a raster layer onto the grid as float64 with NaN for nodata."""
    src = layer.values.astype(np.float64)
    src[layer.nodata_mask] = np.nan
    dst = np.full(grid.shape, np.nan)
    x_scale, y_scale = _warp_scales(layer, grid)
    reproject(
        source=src,
        destination=dst,
        src_transform=layer.transform,
        src_crs=layer.crs,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=resampling,
        # GDAL otherwise sizes its resampling kernel from each chunk it warps, so a window of
        # the grid and the whole grid would get slightly different values
        XSCALE=x_scale,
        YSCALE=y_scale,
    )
    return dst


def warp_layer(
    layer: RasterLayer, grid: AnalysisGrid, *, resampling: Resampling = Resampling.average
) -> np.ndarray:
    """Warp a raster layer onto the grid.

    Parameters
    ----------
    layer
        The raster (any CRS).
    grid
        The analysis grid.
    resampling
        How source pixels are combined into a cell (default: their area-weighted mean).

    Returns
    -------
    numpy.ndarray
        ``float64`` (rows, cols), NaN where the raster has no data.
    """
    return _warp(layer, grid, resampling=resampling)


def _warp_scales(layer: RasterLayer, grid: AnalysisGrid) -> tuple[float, float]:
    """Source pixels per grid cell along x and y, from the pixel sizes alone."""
    if layer.crs == grid.crs:
        return abs(layer.transform.a / grid.transform.a), abs(layer.transform.e / grid.transform.e)
    rows, cols = layer.values.shape
    left, bottom, right, top = transform_bounds(layer.crs, grid.crs, *layer.bounds)
    return (
        abs((right - left) / cols / grid.transform.a),
        abs((top - bottom) / rows / grid.transform.e),
    )


def burn_mask(layers: Sequence[tuple[gpd.GeoDataFrame, bool]], grid: AnalysisGrid) -> np.ndarray:
    """Burn geometry layers (with their ``all_touched`` flag) into a boolean mask.

    Parameters
    ----------
    layers
        ``(frame, all_touched)`` pairs: the geometries (reprojected to the grid's CRS; missing
        and empty ones are skipped), and whether to burn every cell a geometry touches rather
        than only the cells whose centre it covers.
    grid
        The analysis grid.

    Returns
    -------
    numpy.ndarray
        ``bool`` (rows, cols): True in the cells any layer burns.
    """
    mask = np.zeros(grid.shape, dtype=bool)
    for gdf, all_touched in layers:
        shapes = [g for g in gdf.to_crs(grid.crs).geometry if g is not None and not g.is_empty]
        if not shapes:
            continue
        burnt = rasterize(
            shapes,
            out_shape=grid.shape,
            transform=grid.transform,
            fill=0,
            default_value=1,
            all_touched=all_touched,
            dtype="uint8",
        )
        mask |= burnt.astype(bool)
    return mask


def build_friction(
    grid: AnalysisGrid,
    *,
    valid: np.ndarray,
    default_walk_kph: float,
    populated: np.ndarray | None = None,
    landcover: LandCover | None = None,
    landcover_kph: Mapping[str, float] | None = None,
    water_fraction_classes: Sequence[str] = ("PermanentWater",),
    dem: Sequence[RasterLayer] = (),
    barriers: Sequence[tuple[gpd.GeoDataFrame, bool]] = (),
    water: Sequence[tuple[gpd.GeoDataFrame, bool]] = (),
) -> Friction:
    """Build the walking friction of the grid.

    Parameters
    ----------
    grid
        The analysis grid.
    valid
        Cells inside the data (population not nodata); the rest get ``STATUS_NO_DATA``.
    populated
        Cells with people: land cover that calls them water is overruled (coastline pixels
        mixed between land and sea); vector water and barrier layers are not.
    default_walk_kph
        Walking speed where no land cover is given.
    landcover
        Land cover as classes or fractions (``ingest.landcover``).
    landcover_kph
        Walking speed by land-cover label; a speed of 0 makes the class impassable (water).
    water_fraction_classes
        For cover fractions: labels whose share above 50 % makes a cell water.
    dem
        Elevation tiles; warped (bilinear) and mosaicked.
    barriers, water
        Vector layers burnt in as barriers and as water, each with its ``all_touched`` flag.

    Returns
    -------
    Friction
        Pace, status and elevation on the grid.
    """
    if default_walk_kph <= 0:
        raise ValueError("default_walk_kph must be positive")
    pace = np.full(grid.shape, 60.0 / (default_walk_kph * 1000.0))
    populated_water_cells = 0
    status = np.where(valid, STATUS_PASSABLE, STATUS_NO_DATA).astype(np.uint8)
    speeds = dict(landcover_kph or {})
    if landcover is not None:
        if landcover.classes is not None:
            classes = _warp(landcover.classes, grid, resampling=Resampling.nearest)
            kph = np.full(grid.shape, np.nan)
            for code, label in landcover.class_labels.items():
                if label not in speeds:
                    raise InputError(
                        f"land-cover class {label!r} has no walking speed",
                        path=landcover.classes.path,
                        fix=f"add {label} to the scenario's land-cover speeds_kph",
                    )
                kph[classes == code] = speeds[label]
            nodata = np.isnan(classes)
        else:
            assert landcover.fractions is not None
            share_sum = np.zeros(grid.shape)
            pace_sum = np.zeros(grid.shape)
            water_share = np.zeros(grid.shape)
            nodata = np.ones(grid.shape, dtype=bool)
            for label, layer in sorted(landcover.fractions.items()):
                frac = _warp(layer, grid, resampling=Resampling.average)
                ok = np.isfinite(frac)
                nodata &= ~ok
                frac = np.where(ok, frac, 0.0) / 100.0
                if label in water_fraction_classes:
                    water_share += frac
                    continue
                speed = speeds.get(label)
                if speed is None:
                    raise InputError(
                        f"land-cover fraction {label!r} has no walking speed",
                        path=layer.path,
                        fix=f"add {label} to the scenario's land-cover speeds_kph",
                    )
                if speed <= 0:
                    water_share += frac
                    continue
                share_sum += frac
                pace_sum += frac * 60.0 / (speed * 1000.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                lc_pace = np.where(share_sum > 0, pace_sum / share_sum, np.nan)
            kph = np.where(np.isfinite(lc_pace), 60.0 / (lc_pace * 1000.0), np.nan)
            kph[(water_share > 0.5) & ~nodata] = 0.0
        has = np.isfinite(kph)
        pace[has & (kph > 0)] = 60.0 / (kph[has & (kph > 0)] * 1000.0)
        lc_water = has & (kph <= 0)
        if populated is not None:
            populated_water_cells = int((lc_water & populated).sum())
            lc_water &= ~populated
        pace[lc_water] = np.inf
        status[lc_water & (status == STATUS_PASSABLE)] = STATUS_WATER
        # cells with population but no land-cover value keep the default walking speed
        del nodata
    water_mask = burn_mask(water, grid)
    pace[water_mask] = np.inf
    status[water_mask & (status == STATUS_PASSABLE)] = STATUS_WATER
    barrier_mask = burn_mask(barriers, grid)
    pace[barrier_mask] = np.inf
    status[barrier_mask & (status != STATUS_NO_DATA)] = STATUS_BARRIER
    pace[status == STATUS_NO_DATA] = np.inf
    elevation: np.ndarray | None = None
    if dem:
        elevation = np.full(grid.shape, np.nan)
        for tile in dem:
            part = _warp(tile, grid, resampling=Resampling.bilinear)
            fill = np.isnan(elevation) & np.isfinite(part)
            elevation[fill] = part[fill]
    return Friction(
        pace_min_per_m=pace,
        status=status,
        elevation_m=elevation,
        populated_water_cells=populated_water_cells,
    )


def rasterize_zones(zones: gpd.GeoDataFrame, grid: AnalysisGrid) -> np.ndarray:
    """Return ``int32`` zone numbers per cell: ``k+1`` for row ``k`` of ``zones``, 0 outside.

    Cells are assigned by their centre; where zones overlap the later row wins.

    Parameters
    ----------
    zones
        The zone polygons, reprojected to the grid's CRS (missing and empty geometries are
        skipped but keep their number).
    grid
        The analysis grid.

    Returns
    -------
    numpy.ndarray
        ``int32`` (rows, cols): the zone number of each cell, 0 outside every zone.
    """
    shapes = [
        (geom, k + 1)
        for k, geom in enumerate(zones.to_crs(grid.crs).geometry)
        if geom is not None and not geom.is_empty
    ]
    if not shapes:
        return np.zeros(grid.shape, dtype=np.int32)
    return np.asarray(
        rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32"),
        dtype=np.int32,
    )
