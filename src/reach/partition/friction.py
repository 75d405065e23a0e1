"""A window's friction: a slice of a loaded region's, or built by the worker from the files.

A partitioned run from a scenario file never holds the whole friction anywhere: each task reads
the land cover and elevation under its window with the readers of :mod:`reach.ingest`, given a
:class:`reach.ingest.rasters.RasterWindow` (so the same checks apply: local GeoTIFFs only, GDAL
sandboxed, the memory preflight, nodata and mask bands, Copernicus 255 = no data, SRTM voids,
every land-cover class labelled, a south-up file read north-up), burns the barrier and water
layers, and builds the friction with the same :func:`reach.model.grid.build_friction` a
whole-region run uses, on the window's part of the analysis grid. The population (which decides
valid and populated cells) is read once by the coordinator and handed to the window as two bit
masks.

Notes
-----
Whether each layer overlaps the region, and fits in memory, is checked once, by
:func:`reach.run.region.read_region_inputs`, before the windows are built; so is whether a layer
holds any valid cell at all (a window may lie where it has none). SRTM ``.hgt`` tiles are read
whole (they are small) when their name places them under the window.

Warping a window with GDAL is not bit for bit the warp of the whole grid: the window's origin is
rounded differently (elevations then differ by about 1e-10 m, travel times by about 1e-12
relative). A run on a loaded :class:`reach.model.region.Region` slices its friction instead and is
exact.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from reach.ingest.landcover import (
    LandCover,
    read_cover_fractions,
    read_dem,
    read_landcover_classes,
)
from reach.ingest.layers import read_vector_layer
from reach.ingest.rasters import RasterWindow
from reach.model.grid import AnalysisGrid, Friction, Rect, build_friction
from reach.spec import ScenarioSpec

__all__ = [
    "FileFriction",
    "FileWindow",
    "FrictionPayload",
    "pack_mask",
    "slice_friction",
    "unpack_mask",
]


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """A boolean array as bits (``numpy.packbits`` of the flat array).

    Parameters
    ----------
    mask
        Any boolean array.

    Returns
    -------
    numpy.ndarray
        ``uint8`` bits, to send instead of the array.
    """
    return np.packbits(np.asarray(mask, dtype=bool).ravel())


def unpack_mask(bits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The boolean array :func:`pack_mask` packed.

    Parameters
    ----------
    bits
        What :func:`pack_mask` returned.
    shape
        The array's shape.

    Returns
    -------
    numpy.ndarray
        ``bool`` of ``shape``.
    """
    n = shape[0] * shape[1]
    return np.unpackbits(bits, count=n).astype(bool).reshape(shape)


def slice_friction(friction: Friction, rect: Rect) -> Friction:
    """The part of a loaded friction under a window, as contiguous arrays of its own.

    Parameters
    ----------
    friction
        The whole grid's friction.
    rect
        The window.

    Returns
    -------
    Friction
        Pace, status and elevation of the window's cells.
    """
    r0, r1, c0, c1 = rect
    return Friction(
        pace_min_per_m=np.ascontiguousarray(friction.pace_min_per_m[r0:r1, c0:c1]),
        status=np.ascontiguousarray(friction.status[r0:r1, c0:c1]),
        elevation_m=None
        if friction.elevation_m is None
        else np.ascontiguousarray(friction.elevation_m[r0:r1, c0:c1]),
    )


@functools.lru_cache(maxsize=16)
def _vector_layer(path: Path, what: str, layer: str | None) -> gpd.GeoDataFrame:
    """A barrier or water layer, read once per worker process."""
    return read_vector_layer(path, what=what, layer=layer)


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

    scenario: ScenarioSpec
    grid: AnalysisGrid

    def friction(self, rect: Rect, *, valid: np.ndarray, populated: np.ndarray) -> Friction:
        """The friction of the window ``rect``, as :func:`~reach.run.region.region_friction` does.

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
        grid = self.grid.window(rect)
        window = RasterWindow(bounds=grid.bounds, crs=grid.crs)
        landcover: LandCover | None = None
        spec = region.landcover
        if spec is not None:
            if spec.path is not None:
                labels = {int(k): v for k, v in spec.labels.items()}
                landcover = read_landcover_classes(
                    scn.resolve(spec.path), labels=labels, window=window
                )
            else:
                paths = {label: scn.resolve(path) for label, path in spec.fractions.items()}
                landcover = read_cover_fractions(paths, window=window)
        dem = (
            read_dem([scn.resolve(p) for p in region.dem], window=window)
            if region.dem and scn.grid.slope
            else []
        )
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


@dataclass(frozen=True, eq=False)
class FileWindow:
    """A window's friction to be read from files on the worker.

    Attributes
    ----------
    reader
        What reads and builds it.
    valid_bits, populated_bits
        Packed bit masks (:func:`pack_mask`) of the window's cells inside the population data
        and with people (the population is read once, by the coordinator).
    """

    reader: FileFriction
    valid_bits: np.ndarray
    populated_bits: np.ndarray

    def build(self, rect: Rect) -> Friction:
        """Read and build the friction.

        Parameters
        ----------
        rect
            The window.

        Returns
        -------
        Friction
            The window's friction.
        """
        r0, r1, c0, c1 = rect
        shape = (r1 - r0, c1 - c0)
        return self.reader.friction(
            rect,
            valid=unpack_mask(self.valid_bits, shape),
            populated=unpack_mask(self.populated_bits, shape),
        )


#: What a task is sent for its window's friction: a slice of a loaded region's, or its files.
FrictionPayload = Friction | FileWindow
