"""Pass 1 of the demo generator: elevation and natural land cover, and their coarse summaries.

The elevation is the island groups' bumps plus value noise, with lakes levelled; the land cover
follows height and moisture. Both are computed in row strips; the elevation is written to
``dem.tif`` as it goes, the land cover is kept for pass 2 (:mod:`reach.demo.population`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from reach.demo.islands import GAUSS, SEA_OFFSET_M, Template, bump_radius_px, bump_values
from reach.demo.landcover import CROP, FOREST, GRASS, SEA, WATER
from reach.demo.layout import BLOCK, ByteArray, Float32Array, FloatArray, Layout
from reach.demo.noise import NOISE_OCTAVES, Noises
from reach.demo.rasters import raster_profile, strips

__all__ = ["Terrain", "pass_terrain"]

# Land below this height is lowland: cropland where moist enough.
_LOWLAND_M = 320.0


@dataclass
class Terrain:
    """Full-resolution land cover and coarse-block summaries of the terrain."""

    landcover: ByteArray
    n_land: ByteArray  # cells per block on land (not lake, not sea), 0..16
    n_any: ByteArray  # cells per block above sea level (lakes included)
    elevation_m: Float32Array  # mean elevation per block
    class_area_km2: FloatArray  # area by land-cover class, indexed by class code


def _block_sum(values: npt.NDArray[Any], ccols: int, fill: float) -> FloatArray:
    """Sum over ``BLOCK`` x ``BLOCK`` blocks, padding the edges with ``fill``."""
    nrows, cols = values.shape
    hp = -(-nrows // BLOCK) * BLOCK
    padded = np.full((hp, ccols * BLOCK), fill, dtype=np.float64)
    padded[:nrows, :cols] = values
    summed: FloatArray = padded.reshape(hp // BLOCK, BLOCK, ccols, BLOCK).sum(axis=(1, 3))
    return summed


def _terrain_strip(
    layout: Layout, templates: Sequence[Template], noises: Noises, row0: int, nrows: int
) -> tuple[Float32Array, ByteArray]:
    """Elevation (m) and natural land cover of rows ``row0 .. row0 + nrows``."""
    cols = layout.cols
    elevation_m = np.full((nrows, cols), -SEA_OFFSET_M, dtype=np.float32)
    for template in templates:
        for bump in template.bumps.tolist():
            radius = bump_radius_px(bump)
            ra = max(row0, math.floor(bump[0] - radius))
            rb = min(row0 + nrows, math.ceil(bump[0] + radius) + 1)
            ca = max(0, math.floor(bump[1] - radius))
            cb = min(cols, math.ceil(bump[1] + radius) + 1)
            if ra >= rb or ca >= cb:
                continue
            dy = (np.arange(ra, rb, dtype=np.float32) + np.float32(0.5 - bump[0]))[:, None]
            dx = (np.arange(ca, cb, dtype=np.float32) + np.float32(0.5 - bump[1]))[None, :]
            elevation_m[ra - row0 : rb - row0, ca:cb] += bump_values(bump, dy, dx)
    fine: Float32Array | None = None
    for (_, amplitude_m), noise in zip(NOISE_OCTAVES, noises.terrain, strict=True):
        fine = noise.strip(row0, nrows, cols)
        elevation_m += np.float32(amplitude_m) * fine
    assert fine is not None
    lake = np.zeros((nrows, cols), dtype=bool)
    for template in templates:
        if template.lake is None:
            continue
        lr, lc, ra_px, rb_px, theta, level_m = template.lake
        radius = 1.5 * ra_px
        r_a = max(row0, math.floor(lr - radius))
        r_b = min(row0 + nrows, math.ceil(lr + radius) + 1)
        c_a = max(0, math.floor(lc - radius))
        c_b = min(cols, math.ceil(lc + radius) + 1)
        if r_a >= r_b or c_a >= c_b:
            continue
        dy = (np.arange(r_a, r_b) + 0.5 - lr)[:, None]
        dx = (np.arange(c_a, c_b) + 0.5 - lc)[None, :]
        q = bump_values([0.0, 0.0, ra_px, rb_px, theta, 1.0, GAUSS], dy, dx)
        # q is exp(-d²/2); inside the (noisy) ellipse d < 1.
        inside = q > np.exp(-0.5 * (1.0 + 0.35 * fine[r_a - row0 : r_b - row0, c_a:c_b]))
        window = elevation_m[r_a - row0 : r_b - row0, c_a:c_b]
        window[inside] = np.float32(level_m)
        lake[r_a - row0 : r_b - row0, c_a:c_b] |= inside
    moisture = 0.7 * noises.moisture[0].strip(row0, nrows, cols) + 0.3 * noises.moisture[1].strip(
        row0, nrows, cols
    )
    cover = np.full((nrows, cols), GRASS, dtype=np.uint8)
    low = elevation_m < _LOWLAND_M
    cover[low & (moisture > -0.05)] = CROP
    cover[(~low & (moisture > -0.35)) | (low & (moisture < -0.6))] = FOREST
    cover[elevation_m > 1450.0] = GRASS
    cover[lake] = WATER
    cover[elevation_m <= 0.0] = SEA
    return elevation_m, cover


def pass_terrain(
    layout: Layout, templates: Sequence[Template], noises: Noises, *, dem_path: Path | None
) -> Terrain:
    """Compute the terrain of a demo region, writing its elevation to ``dem_path``.

    Parameters
    ----------
    layout
        The region's grid.
    templates
        The shape of each island group (:func:`reach.demo.islands.draw_template`).
    noises
        The region's value noises.
    dem_path
        Where to write ``dem.tif``, or ``None`` to compute the terrain only.

    Returns
    -------
    Terrain
        The land cover and the coarse-block summaries.
    """
    rows, cols = layout.rows, layout.cols
    crows, ccols = layout.coarse_rows, layout.coarse_cols
    landcover = np.empty((rows, cols), dtype=np.uint8)
    n_land = np.zeros((crows, ccols), dtype=np.uint8)
    n_any = np.zeros((crows, ccols), dtype=np.uint8)
    elev_blocks = np.zeros((crows, ccols), dtype=np.float32)
    class_area = np.zeros(8, dtype=np.float64)
    with contextlib.ExitStack() as stack:
        dem = None
        if dem_path is not None:
            profile = raster_profile(layout, dtype="float32", nodata=None)
            dem = stack.enter_context(rasterio.open(dem_path, "w", **profile))
            dem.update_tags(units="metres above sea level", source="reach.synthetic")
        for row0, nrows in strips(rows, cols):
            elevation_m, cover = _terrain_strip(layout, templates, noises, row0, nrows)
            landcover[row0 : row0 + nrows] = cover
            if dem is not None:
                dem.write(elevation_m, 1, window=Window(0, row0, cols, nrows))
            b0 = row0 // BLOCK
            land = (cover <= FOREST).astype(np.float64)
            above = (cover <= WATER).astype(np.float64)
            blocks_land = _block_sum(land, ccols, 0.0)
            b1 = b0 + blocks_land.shape[0]
            n_land[b0:b1] = blocks_land.astype(np.uint8)
            n_any[b0:b1] = _block_sum(above, ccols, 0.0).astype(np.uint8)
            elev_blocks[b0:b1] = (
                _block_sum(elevation_m, ccols, -SEA_OFFSET_M) / (BLOCK * BLOCK)
            ).astype(np.float32)
            area_rows = layout.cell_area_km2(np.arange(row0, row0 + nrows))
            for code in range(1, 7):
                class_area[code] += float(np.sum((cover == code).sum(axis=1) * area_rows))
    return Terrain(
        landcover=landcover,
        n_land=n_land,
        n_any=n_any,
        elevation_m=elev_blocks,
        class_area_km2=class_area,
    )
