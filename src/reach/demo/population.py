"""The people of the demo region: who lives in which village, and pass 2 of the generator.

Pass 2 spreads each place's people over the land around it, marks the densest cells built-up,
adds people living dispersed on farms, and writes ``population.tif`` and ``landcover.tif``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from reach.demo.landcover import (
    BUILT,
    CROP,
    FOREST,
    GRASS,
    LANDCOVER_CLASSES,
    LANDCOVER_NODATA,
    SEA,
    WATER,
)
from reach.demo.layout import Layout
from reach.demo.noise import ValueNoise
from reach.demo.places import GroupPlan
from reach.demo.rasters import raster_profile, strips
from reach.demo.terrain import Terrain

__all__ = ["POPULATION_NODATA", "pass_population", "set_populations"]

#: Nodata of ``population.tif`` (the sea), as in WorldPop.
POPULATION_NODATA = -99999.0

_TARGET_PEOPLE_PER_KM2 = 120.0
# People living dispersed (outside villages), per km² of each land class.
_DISPERSED_PER_KM2 = {BUILT: 30.0, CROP: 30.0, GRASS: 6.0, FOREST: 2.0}
# People per km² from which a cell is built-up.
_BUILT_UP_PER_KM2 = 500.0
# Population values are multiples of 1/256 person: every float64 sum of them is exact.
_POP_QUANTUM = 256.0


def set_populations(plans: Sequence[GroupPlan], terrain: Terrain) -> None:
    """Share the people not living on dispersed farms among the places, by weight.

    Sets each place's ``population``.

    Parameters
    ----------
    plans
        The island groups of the region.
    terrain
        The region's terrain (for its land area by class).
    """
    land_km2 = float(terrain.class_area_km2[1:5].sum())
    target = _TARGET_PEOPLE_PER_KM2 * land_km2
    dispersed = sum(terrain.class_area_km2[k] * d for k, d in _DISPERSED_PER_KM2.items())
    in_villages = max(target - dispersed, 0.25 * target)
    total_weight = sum(p.weight for plan in plans for p in plan.places)
    for plan in plans:
        for place in plan.places:
            place.population = place.weight * in_villages / total_weight


def pass_population(
    layout: Layout,
    terrain: Terrain,
    groups: Sequence[GroupPlan],
    farm_noise: ValueNoise,
    *,
    population_path: Path,
    landcover_path: Path,
) -> tuple[float, dict[str, float]]:
    """Write population and land cover; return the exact total and land-cover areas.

    Parameters
    ----------
    layout
        The region's grid.
    terrain
        The region's terrain; its land cover gets the built-up cells.
    groups
        The island groups, with the populations of their places.
    farm_noise
        The noise that varies the people living on farms.
    population_path, landcover_path
        Where to write ``population.tif`` and ``landcover.tif``.

    Returns
    -------
    tuple of float and dict
        The exact float64 sum of the population raster's valid cells, and the area of each
        land-cover class in km² (rounded to 0.1).
    """
    rows, cols = layout.rows, layout.cols
    cover_all = terrain.landcover
    vy, vx, sig, amp = [], [], [], []
    for g in groups:
        for place in g.places:
            r, c = g.place_px(place)
            sigma_px = (120.0 + 90.0 * math.sqrt(place.population / 1000.0)) / layout.cell_dy_m
            rad = math.ceil(4 * sigma_px)
            ra, rb = max(0, math.floor(r) - rad), min(rows, math.floor(r) + rad + 1)
            ca, cb = max(0, math.floor(c) - rad), min(cols, math.floor(c) + rad + 1)
            win = cover_all[ra:rb, ca:cb]
            land = (win >= BUILT) & (win <= FOREST)
            dy = (np.arange(ra, rb) + 0.5 - r)[:, None]
            dx = (np.arange(ca, cb) + 0.5 - c)[None, :]
            g_val = np.exp(-0.5 * (dy**2 + dx**2) / sigma_px**2)
            norm = float(np.sum(g_val * land))
            vy.append(r)
            vx.append(c)
            sig.append(sigma_px)
            amp.append(place.population / norm if norm > 0 else 0.0)
    vy_a, sig_a = np.array(vy), np.array(sig)
    reach_a = np.ceil(4 * sig_a)
    density_lut = np.zeros(256, dtype=np.float64)
    for code, per_km2 in _DISPERSED_PER_KM2.items():
        density_lut[code] = per_km2
    total = 0.0
    area_by_class = np.zeros(8, dtype=np.float64)
    pop_profile = raster_profile(layout, dtype="float32", nodata=POPULATION_NODATA)
    lc_profile = raster_profile(layout, dtype="uint8", nodata=LANDCOVER_NODATA)
    with (
        rasterio.open(population_path, "w", **pop_profile) as pop_ds,
        rasterio.open(landcover_path, "w", **lc_profile) as lc_ds,
    ):
        pop_ds.update_tags(units="people per cell", source="reach.synthetic")
        lc_ds.update_tags(
            source="reach.synthetic",
            classes=";".join(f"{k}={v}" for k, v in LANDCOVER_CLASSES.items()),
        )
        for row0, nrows in strips(rows, cols):
            cover = cover_all[row0 : row0 + nrows]
            blob = np.zeros((nrows, cols), dtype=np.float64)
            sel = np.flatnonzero((vy_a + reach_a > row0) & (vy_a - reach_a < row0 + nrows))
            for k in sel.tolist():
                r, c, s, rad = vy[k], vx[k], sig[k], int(reach_a[k])
                ra, rb = max(row0, math.floor(r) - rad), min(row0 + nrows, math.floor(r) + rad + 1)
                ca, cb = max(0, math.floor(c) - rad), min(cols, math.floor(c) + rad + 1)
                if ra >= rb or ca >= cb:
                    continue
                dy = (np.arange(ra, rb) + 0.5 - r)[:, None]
                dx = (np.arange(ca, cb) + 0.5 - c)[None, :]
                blob[ra - row0 : rb - row0, ca:cb] += amp[k] * np.exp(-0.5 * (dy**2 + dx**2) / s**2)
            land = (cover >= BUILT) & (cover <= FOREST)
            blob[~land] = 0.0
            area = layout.cell_area_km2(np.arange(row0, row0 + nrows))[:, None]
            cover[land & (blob >= _BUILT_UP_PER_KM2 * area)] = BUILT
            farms = np.clip(1.0 + 0.9 * farm_noise.strip(row0, nrows, cols), 0.1, 1.9)
            people = blob + density_lut[cover] * area * farms
            people = np.round(np.minimum(people, 30000.0) * _POP_QUANTUM) / _POP_QUANTUM
            people[cover == WATER] = 0.0
            out = people.astype(np.float32)
            sea = cover == SEA
            total += float(np.sum(out[~sea], dtype=np.float64))
            out[sea] = np.float32(POPULATION_NODATA)
            pop_ds.write(out, 1, window=Window(0, row0, cols, nrows))
            lc_ds.write(cover, 1, window=Window(0, row0, cols, nrows))
            for code in range(1, 7):
                area_by_class[code] += float(np.sum((cover == code) * area))
    areas = {LANDCOVER_CLASSES[k]: round(float(area_by_class[k]), 1) for k in range(1, 7)}
    return total, areas
