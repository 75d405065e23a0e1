"""Windowed reads for partitioned runs: a worker builds the friction of its own window.

A partitioned run from a scenario file never holds the whole friction anywhere: each task reads
the land cover and elevation under its window (plus a few source pixels around it, for the
resampling kernels), burns the barrier and water layers, and builds the friction with the same
:func:`reach.model.grid.build_friction` a whole-region run uses, on the window's part of the
analysis grid. The population (which decides valid and populated cells) is read once by the
coordinator and handed to the window as two bit masks.

The readers here apply the same rules as :mod:`reach.ingest` (local GeoTIFFs only, GDAL
sandboxed, nodata and mask bands, Copernicus 255 = no data, SRTM voids, every land-cover class
labelled) to a window of the file instead of the whole of it.

Notes
-----
A south-up (or east-to-west) file is read north-up, as :mod:`reach.ingest` reads it; its
geotransform is checked (finite, non-zero pixel sizes, no rotation) in every window. Whether
each layer overlaps the region, and fits in memory, is checked once, by
:func:`reach.build.read_region_inputs`, before the windows are built.

Not checked window by window (``reach.ingest`` checks them on a whole-region run): a geographic
CRS in degrees, cover fractions within 0–100 and on one grid, plausible elevations (-500 to
9,000 m). SRTM ``.hgt`` tiles are read whole (they are small) when their name places them under
the window.

Warping a window with GDAL is not bit for bit the warp of the whole grid: the window's origin is
rounded differently (elevations then differ by about 1e-10 m, travel times by about 1e-12
relative), and when a layer is downsampled (SRTM 1″ onto a 3″ grid) GDAL widens its kernel by
the size ratio of each chunk it warps, which differs between a window and the whole grid
(metres of elevation). Fixing the kernel scale in ``reach.model.grid`` makes the second go away.
A run on a loaded :class:`reach.build.Region` slices its friction instead and is exact.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import MaskFlags
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from reach.errors import InputError, ReachError
from reach.ingest.landcover import FRACTION_NODATA, SRTM_VOID, LandCover, read_dem
from reach.ingest.layers import read_vector_layer
from reach.ingest.rasters import (
    RasterLayer,
    check_geotiff_path,
    check_transform,
    gdal_sandbox,
    nodata_mask,
    north_up,
    north_up_transform,
)
from reach.model.grid import AnalysisGrid, Friction, build_friction
from reach.scenario import Scenario

__all__ = ["FileFriction", "Rect", "pack_mask", "unpack_mask", "whole_grid_tiles", "window_grid"]

#: A window of the analysis grid: ``(row0, row1, col0, col1)``, ends exclusive.
Rect = tuple[int, int, int, int]

#: Source pixels read around a window, for the resampling kernels (bilinear, average).
_SOURCE_MARGIN_PX = 3


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """A boolean array as bits (``numpy.packbits`` of the flat array)."""
    return np.packbits(np.asarray(mask, dtype=bool).ravel())


def unpack_mask(bits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The boolean array :func:`pack_mask` packed."""
    n = shape[0] * shape[1]
    return np.unpackbits(bits, count=n).astype(bool).reshape(shape)


def window_grid(grid: AnalysisGrid, rect: Rect) -> AnalysisGrid:
    """The part of the analysis grid a window covers (its own transform and row widths)."""
    r0, r1, c0, c1 = rect
    return AnalysisGrid(
        rows=r1 - r0,
        cols=c1 - c0,
        transform=grid.transform @ Affine.translation(c0, r0),
        crs=grid.crs,
        dx_m=np.asarray(grid.dx_m[r0:r1], dtype=np.float64),
        dy_m=grid.dy_m,
    )


def _bounds(grid: AnalysisGrid) -> tuple[float, float, float, float]:
    t = grid.transform
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.cols, grid.rows)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _read_window(
    path: Path, *, what: str, bounds: tuple[float, float, float, float], crs: CRS
) -> RasterLayer | None:
    """Band 1 of a local GeoTIFF under ``bounds`` (in ``crs``) plus a margin; None if outside."""
    p = check_geotiff_path(path, what=what)
    try:
        with gdal_sandbox(), rasterio.open(p, driver="GTiff") as ds:
            if ds.crs is None or not ds.crs.to_wkt():
                raise InputError(
                    f"the {what} has no coordinate reference system",
                    path=p,
                    fix="assign one, e.g. gdal_edit.py -a_srs EPSG:4326",
                )
            check_transform(ds.transform, what=what, path=p)
            t = ds.transform
            # the window is found on the north-up grid (a south-up file is flipped on read)
            up = north_up_transform(t, ds.height, ds.width)
            b = bounds if ds.crs == crs else transform_bounds(crs, ds.crs, *bounds, densify_pts=21)
            win = from_bounds(*b, transform=up)
            col0 = max(math.floor(win.col_off) - _SOURCE_MARGIN_PX, 0)
            row0 = max(math.floor(win.row_off) - _SOURCE_MARGIN_PX, 0)
            col1 = min(math.ceil(win.col_off + win.width) + _SOURCE_MARGIN_PX, ds.width)
            row1 = min(math.ceil(win.row_off + win.height) + _SOURCE_MARGIN_PX, ds.height)
            if col1 <= col0 or row1 <= row0:
                return None
            file_row0 = row0 if t.e < 0 else ds.height - row1
            file_col0 = col0 if t.a > 0 else ds.width - col1
            window = Window(file_col0, file_row0, col1 - col0, row1 - row0)
            values = ds.read(1, window=window)
            transform = t @ Affine.translation(file_col0, file_row0)
            nodata = ds.nodata
            flags = ds.mask_flag_enums[0]
            file_mask = None
            if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
                file_mask = ds.read_masks(1, window=window) == 0
            file_crs = ds.crs
            values, transform, (file_mask,) = north_up(values, transform, file_mask)
    except ReachError:
        raise
    except (rasterio.errors.RasterioError, OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(
            f"cannot read the {what} as a GeoTIFF ({detail})",
            path=p,
            fix="check the file is a complete, valid GeoTIFF (try gdalinfo on it)",
        ) from exc
    return RasterLayer(
        values=values,
        nodata_mask=nodata_mask(values, nodata, file_mask),
        transform=transform,
        crs=file_crs,
        path=p,
        nodata=None if nodata is None else float(nodata),
    )


def _class_window(layer: RasterLayer, labels: dict[int, str]) -> RasterLayer:
    values = layer.values
    present = np.unique(values[~layer.nodata_mask])
    if values.dtype.kind == "f" and not np.all(present == np.round(present)):
        raise InputError(
            "the land cover raster holds fractional values, not class numbers",
            path=layer.path,
            fix="give an integer class raster (or use cover fractions)",
        )
    unknown = [int(v) for v in present if int(v) not in labels]
    if unknown:
        raise InputError(
            f"the land cover raster has class values with no label: "
            f"{', '.join(map(str, unknown[:10]))}",
            path=layer.path,
            fix="add labels for them, or declare the fill value as nodata (gdal_edit.py -a_nodata)",
        )
    return layer


def _dem_window(layer: RasterLayer) -> RasterLayer:
    mask = layer.nodata_mask.copy()
    if layer.values.dtype.kind == "i":
        mask |= layer.values == SRTM_VOID
    elevation = layer.values.astype(np.float64)
    elevation[mask] = np.nan
    return replace(layer, values=elevation, nodata_mask=mask)


_SRTM_NAME = re.compile(r"^([NS])(\d{2})([EW])(\d{3})", re.IGNORECASE)


def _srtm_bounds(path: Path) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of an SRTM tile from its name (``S12E043…``), with a pixel's slack."""
    m = _SRTM_NAME.match(path.name)
    if not m:
        return None
    lat = int(m.group(2)) * (1 if m.group(1).upper() == "N" else -1)
    lon = int(m.group(4)) * (1 if m.group(3).upper() == "E" else -1)
    pad = 1.0 / 1200.0
    return lon - pad, lat - pad, lon + 1 + pad, lat + 1 + pad


@functools.lru_cache(maxsize=16)
def _vector_layer(path: Path, what: str, layer: str | None) -> gpd.GeoDataFrame:
    return read_vector_layer(path, what=what, layer=layer)


def _intersects(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(frozen=True, eq=False)
class FileFriction:
    """Builds the friction of any window of a scenario's region from its files.

    Attributes
    ----------
    scenario
        The scenario (its land cover, elevation, barrier and water layers and speeds).
    grid
        The whole analysis grid.
    """

    scenario: Scenario
    grid: AnalysisGrid

    def friction(self, rect: Rect, *, valid: np.ndarray, populated: np.ndarray) -> Friction:
        """The friction of the window ``rect``, as :func:`reach.build.region_friction` builds it.

        Parameters
        ----------
        rect
            The window.
        valid, populated
            ``bool`` (window rows, cols): cells inside the population data, and with people.

        Returns
        -------
        Friction
            Pace, status and elevation of the window's cells.
        """
        scn = self.scenario
        region = scn.region
        grid = window_grid(self.grid, rect)
        bounds = _bounds(grid)
        landcover: LandCover | None = None
        spec = region.landcover
        if spec is not None:
            if spec.path is not None:
                labels = {int(k): v for k, v in spec.labels.items()}
                layer = _read_window(
                    scn.resolve(spec.path), what="land cover raster", bounds=bounds, crs=grid.crs
                )
                classes = None if layer is None else _class_window(layer, labels)
                if classes is not None:
                    landcover = LandCover(classes=classes, class_labels=labels, fractions=None)
            else:
                fractions: dict[str, RasterLayer] = {}
                for label, path in spec.fractions.items():
                    layer = _read_window(
                        scn.resolve(path),
                        what=f"'{label}' cover fraction raster",
                        bounds=bounds,
                        crs=grid.crs,
                    )
                    if layer is not None:
                        mask = layer.nodata_mask | (layer.values == FRACTION_NODATA)
                        fractions[str(label)] = replace(layer, nodata_mask=mask)
                if fractions:
                    landcover = LandCover(
                        classes=None,
                        class_labels={i + 1: k for i, k in enumerate(fractions)},
                        fractions=fractions,
                    )
        dem: list[RasterLayer] = []
        if region.dem and scn.grid.slope:
            dem = self._dem(bounds, grid.crs)
        barriers = [
            (_vector_layer(scn.resolve(x.path), "barrier layer", x.layer), x.all_touched)
            for x in region.barriers
        ]
        water = [
            (_vector_layer(scn.resolve(x.path), "water layer", x.layer), x.all_touched)
            for x in region.water
        ]
        return build_friction(
            grid,
            valid=valid,
            populated=populated,
            default_walk_kph=scn.grid.default_walk_kph,
            landcover=landcover,
            landcover_kph=spec.speeds_kph if spec else None,
            water_fraction_classes=spec.water_classes if spec else (),
            dem=dem,
            barriers=barriers,
            water=water,
        )

    def _dem(self, bounds: tuple[float, float, float, float], crs: CRS) -> list[RasterLayer]:
        scn = self.scenario
        lonlat = (
            bounds
            if crs.is_geographic
            else transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
        )
        tiles: list[RasterLayer] = []
        for raw in scn.region.dem:
            path = scn.resolve(raw)
            name = path.name.lower()
            if name.endswith((".hgt", ".hgt.zip")):
                box = _srtm_bounds(path)
                if box is None or _intersects(box, lonlat):
                    tiles += read_dem([path])
                continue
            layer = _read_window(path, what="elevation (DEM) raster", bounds=bounds, crs=crs)
            if layer is not None:
                tiles.append(_dem_window(layer))
        return tiles


def whole_grid_tiles(shape: tuple[int, int], side: int) -> Sequence[Rect]:
    """Rectangles of ``side`` × ``side`` cells (smaller at the edges) covering a grid."""
    rows, cols = shape
    return [
        (r, min(r + side, rows), c, min(c + side, cols))
        for r in range(0, rows, side)
        for c in range(0, cols, side)
    ]
