"""The built-in demo region: a deterministic, fictitious remote island district.

:func:`generate_demo` writes a complete set of reach inputs for a made-up regency in open sea in
eastern Indonesia (around 123.5°E, 10.8°S, where there is no real land): a volcanic main island,
a smaller island across a strait with a ferry, a few islets and an inland lake. Everything is
generated from a seed with :func:`numpy.random.default_rng`; the same ``size_cells`` and ``seed``
give byte-identical files.

Files written (names inside the output folder):

``roads.osm``
    OSM XML with a road hierarchy (trunk to footpath, one one-way pair in the capital) routed on
    land by least-cost paths over a coarse slope grid, plus ``route=ferry`` ways between islands.
``population.tif``
    People per cell, float32, nodata ``-99999`` over the sea (like WorldPop), 3 arc-seconds.
``dem.tif``
    Elevation in metres (negative over the sea), float32, same grid.
``landcover.tif``
    Land-cover classes (:data:`LANDCOVER_CLASSES`), uint8, nodata 255, same grid.
``facilities.geojson``
    Health and education facilities with tiers and capacities.
``districts.geojson``
    District (kecamatan) polygons; the text equals :func:`demo_boundaries_geojson`.
``summary.json``
    Counts and lengths describing what was generated.

``size_cells`` scales the extent at a fixed 92 m resolution: one island group (main island,
second island, islets) per ~600,000 cells, the groups joined by ferries. Rasters are computed and
written in row strips: 1.6 x 10⁷ cells take ~7 s and 0.4 GB, 10⁸ cells ~35 s and 0.6 GB.

Run ``python -m reach.synthetic OUT_DIR [--size N] [--seed S]`` to write the files.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import numpy.typing as npt
import rasterio
import shapely
from rasterio.features import shapes as raster_shapes
from rasterio.transform import Affine
from rasterio.windows import Window
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping, shape

from reach.errors import InputError, ReachError

__all__ = [
    "DEFAULT_SIZE_CELLS",
    "LANDCOVER_CLASSES",
    "LANDCOVER_NODATA",
    "MIN_SIZE_CELLS",
    "POPULATION_NODATA",
    "DemoFiles",
    "demo_boundaries_geojson",
    "generate_demo",
    "main",
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
#: Land-cover class codes of ``landcover.tif``.
LANDCOVER_CLASSES: dict[int, str] = {
    1: "built-up",
    2: "cropland",
    3: "grass/shrub",
    4: "forest",
    5: "water",
    6: "sea",
}
#: Nodata of ``landcover.tif``.
LANDCOVER_NODATA = 255
#: Nodata of ``population.tif`` (the sea), as in WorldPop.
POPULATION_NODATA = -99999.0

_BUILT, _CROP, _GRASS, _FOREST, _WATER, _SEA = 1, 2, 3, 4, 5, 6

# Grid: 3 arc-seconds, centred on open sea south of Timor and east of Sumba.
_RES_DEG = 1.0 / 1200.0
_CENTRE_LON_DEG = 123.5
_CENTRE_LAT_DEG = -10.8
_EARTH_RADIUS_KM = 6371.0088
# One island group per nominal footprint of this many rows and columns.
_GROUP_ROWS = 800
_GROUP_COLS = 750
# Coarse routing grid: blocks of _BLOCK x _BLOCK cells (about 370 m).
_BLOCK = 4
# Raster tiles and strips.
_TILE = 256
_STRIP_TARGET_CELLS = 4_000_000

# Terrain.
_SEA_OFFSET_M = 150.0
_NOISE_OCTAVES: tuple[tuple[float, float], ...] = ((0.055, 80.0), (0.018, 36.0), (0.007, 12.0))
_LOWLAND_M = 320.0

# People.
_TARGET_PEOPLE_PER_KM2 = 120.0
_KM2_PER_VILLAGE = 8.0
_DISPERSED_PER_KM2 = {_BUILT: 30.0, _CROP: 30.0, _GRASS: 6.0, _FOREST: 2.0}
_BUILT_UP_PER_KM2 = 500.0
# Population values are multiples of 1/256 person: every float64 sum of them is exact.
_POP_QUANTUM = 256.0
_VILLAGE_SPACING_BLOCKS = 5
_TOWN_WEIGHT = {"capital": 22.0, "port": 7.0, "town": 6.0, "island_town": 5.0}

# Ferries.
_FERRY_KMH = 20.0
_FERRY_NODE_SPACING_KM = 1.5

# Random streams: one generator per purpose (and island group), so that computing the
# boundaries alone draws exactly the numbers the full generation draws.
_S_TEMPLATE, _S_NOISE, _S_NAMES, _S_VILLAGES, _S_FACILITIES, _S_TAGS = 1, 2, 3, 4, 5, 6

_FILE_NAMES = {
    "roads_osm": "roads.osm",
    "population_tif": "population.tif",
    "dem_tif": "dem.tif",
    "landcover_tif": "landcover.tif",
    "facilities_geojson": "facilities.geojson",
    "boundaries_geojson": "districts.geojson",
}
_SUMMARY_NAME = "summary.json"
_REGENCY = "Pulau Contoh district"


@dataclass(frozen=True)
class DemoFiles:
    """Paths and totals of a generated demo region.

    Attributes
    ----------
    folder
        The output folder.
    roads_osm
        OSM XML with highway ways and ``route=ferry`` ways.
    population_tif
        People per cell, float32, EPSG:4326, nodata ``-99999`` over the sea.
    dem_tif
        Elevation in metres, float32, same grid.
    landcover_tif
        Land-cover classes (:data:`LANDCOVER_CLASSES`), uint8, nodata 255, same grid.
    facilities_geojson
        Facility points with ``facility_id``, ``name``, ``service``, ``tier``, ``capacity``.
    boundaries_geojson
        District polygons with ``zone_id`` and ``name``.
    size_cells
        Rows times columns of the population grid.
    population_total
        Exact float64 sum of the population raster's valid cells.
    """

    folder: Path
    roads_osm: Path
    population_tif: Path
    dem_tif: Path
    landcover_tif: Path
    facilities_geojson: Path
    boundaries_geojson: Path
    size_cells: int
    population_total: float


# --------------------------------------------------------------------------------------------
# Grid layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GroupBox:
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
class _Layout:
    """The analysis grid and its split into island groups."""

    rows: int
    cols: int
    west_deg: float
    north_deg: float
    groups: tuple[_GroupBox, ...]

    @property
    def transform(self) -> Affine:
        return Affine(_RES_DEG, 0.0, self.west_deg, 0.0, -_RES_DEG, self.north_deg)

    @property
    def coarse_rows(self) -> int:
        return -(-self.rows // _BLOCK)

    @property
    def coarse_cols(self) -> int:
        return -(-self.cols // _BLOCK)

    def lon(self, x_px: npt.ArrayLike) -> FloatArray:
        """Longitude of a cell-edge coordinate ``x_px`` (cell centres are ``col + 0.5``)."""
        return self.west_deg + np.asarray(x_px, dtype=np.float64) * _RES_DEG

    def lat(self, y_px: npt.ArrayLike) -> FloatArray:
        """Latitude of a cell-edge coordinate ``y_px`` (cell centres are ``row + 0.5``)."""
        return self.north_deg - np.asarray(y_px, dtype=np.float64) * _RES_DEG

    def cell_area_km2(self, rows: npt.ArrayLike) -> FloatArray:
        """Area of one cell of each row, on the authalic sphere."""
        r = np.asarray(rows, dtype=np.float64)
        top = np.radians(self.lat(r))
        bottom = np.radians(self.lat(r + 1.0))
        return _EARTH_RADIUS_KM**2 * math.radians(_RES_DEG) * (np.sin(top) - np.sin(bottom))

    def cell_dx_m(self, rows: npt.ArrayLike) -> FloatArray:
        """East-west size of a cell of each row, in metres."""
        lat = np.radians(self.lat(np.asarray(rows, dtype=np.float64) + 0.5))
        return 1000.0 * _EARTH_RADIUS_KM * math.radians(_RES_DEG) * np.cos(lat)

    @property
    def cell_dy_m(self) -> float:
        """North-south size of a cell, in metres."""
        return 1000.0 * _EARTH_RADIUS_KM * math.radians(_RES_DEG)


def _layout(size_cells: int) -> _Layout:
    if not isinstance(size_cells, int | np.integer) or size_cells < MIN_SIZE_CELLS:
        raise InputError(
            f"size_cells must be an integer of at least {MIN_SIZE_CELLS:,}, not {size_cells!r}",
            fix=f"use the default {DEFAULT_SIZE_CELLS:,} or a larger grid",
        )
    rows = max(1, round(math.sqrt(size_cells * _GROUP_ROWS / _GROUP_COLS)))
    cols = max(1, round(size_cells / rows))
    west = round((_CENTRE_LON_DEG - cols / 2 * _RES_DEG) / _RES_DEG) * _RES_DEG
    north = round((_CENTRE_LAT_DEG + rows / 2 * _RES_DEG) / _RES_DEG) * _RES_DEG
    n_gy = max(1, round(rows / _GROUP_ROWS))
    n_gx = max(1, round(cols / _GROUP_COLS))
    r_edges = [round(i * rows / n_gy) for i in range(n_gy + 1)]
    c_edges = [round(j * cols / n_gx) for j in range(n_gx + 1)]
    crows, ccols = -(-rows // _BLOCK), -(-cols // _BLOCK)
    cr_edges = [e // _BLOCK for e in r_edges[:-1]] + [crows]
    cc_edges = [e // _BLOCK for e in c_edges[:-1]] + [ccols]
    groups = []
    for i in range(n_gy):
        for j in range(n_gx):
            groups.append(
                _GroupBox(
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
    return _Layout(rows=rows, cols=cols, west_deg=west, north_deg=north, groups=tuple(groups))


def _rng(seed: int, stream: int, group: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, group])


# --------------------------------------------------------------------------------------------
# Terrain: bumps, value noise, lakes
# --------------------------------------------------------------------------------------------

_GAUSS, _CONE = 0, 1


@dataclass(frozen=True)
class _Template:
    """The shape of one island group.

    ``bumps`` rows are ``(row_px, col_px, sigma_along_px, sigma_across_px, angle_rad, height_m,
    kind)``; a Gaussian adds ``h exp(-q/2)``, a cone ``h exp(-sqrt(q))`` with ``q`` the scaled
    squared distance. ``lake`` is ``(row_px, col_px, radius_a_px, radius_b_px, angle_rad,
    level_m)`` or ``None``.
    """

    bumps: FloatArray
    lake: tuple[float, float, float, float, float, float] | None
    main_px: tuple[float, float]
    second_px: tuple[float, float]


def _bump_values(
    bump: Sequence[float], dy: npt.NDArray[Any], dx: npt.NDArray[Any]
) -> npt.NDArray[Any]:
    """Height of one bump at offsets ``dy``, ``dx`` (cells) from its centre (broadcasting)."""
    _, _, sa, sb, angle, height, kind = bump
    c, s = math.cos(angle), math.sin(angle)
    u = dx * c + dy * s
    v = dy * c - dx * s
    q = (u / sa) ** 2 + (v / sb) ** 2
    if int(kind) == _GAUSS:
        return height * np.exp(-0.5 * q)
    return height * np.exp(-np.sqrt(q))


def _bump_radius_px(bump: Sequence[float]) -> float:
    reach = 4.0 if int(bump[6]) == _GAUSS else 9.0
    return reach * max(bump[2], bump[3])


def _smooth_elevation_at(bumps: FloatArray, row_px: float, col_px: float) -> float:
    """Elevation without noise at one point (metres)."""
    total = -_SEA_OFFSET_M
    for bump in bumps.tolist():
        if abs(row_px - bump[0]) < _bump_radius_px(bump) and abs(col_px - bump[1]) < (
            _bump_radius_px(bump)
        ):
            total += float(
                _bump_values(bump, np.array(row_px - bump[0]), np.array(col_px - bump[1]))
            )
    return total


def _template(box: _GroupBox, seed: int) -> _Template:
    """Draw the island group of one footprint: main island, second island, islets, lake."""
    rng = _rng(seed, _S_TEMPLATE, box.index)
    scale = box.scale_px
    flip_u = bool(rng.random() < 0.5)
    flip_v = bool(rng.random() < 0.5)
    # Groups after the first turn a little, for variety (the default region is group 0).
    turn = float(rng.uniform(-0.35, 0.35)) if box.index > 0 else 0.0
    cos_t, sin_t = math.cos(turn), math.sin(turn)

    def px(u: float, v: float) -> tuple[float, float]:
        u, v = (
            0.5 + (u - 0.5) * cos_t - (v - 0.5) * sin_t,
            0.5 + (u - 0.5) * sin_t + (v - 0.5) * cos_t,
        )
        u = 1.0 - u if flip_u else u
        v = 1.0 - v if flip_v else v
        return box.r0 + v * box.height_px, box.c0 + u * box.width_px

    def angle(theta: float) -> float:
        theta += turn
        if flip_u:
            theta = math.pi - theta
        if flip_v:
            theta = -theta
        return theta

    def jit(width: float) -> float:
        return float(rng.uniform(-width, width))

    bumps: list[list[float]] = []
    # Main island: Gaussians along a curved spine.
    a = np.array([0.25 + jit(0.02), 0.52 + jit(0.02)])
    b = np.array([0.63 + jit(0.02), 0.38 + jit(0.02)])
    tangent = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-tangent[1], tangent[0]])
    ctrl = (a + b) / 2 + normal * jit(0.05)

    def spine(t: float) -> tuple[npt.NDArray[np.float64], float]:
        point = (1 - t) ** 2 * a + 2 * t * (1 - t) * ctrl + t**2 * b
        d = 2 * (1 - t) * (ctrl - a) + 2 * t * (b - ctrl)
        return point, math.atan2(float(d[1]), float(d[0]))

    for t in np.clip(np.linspace(0.0, 1.0, 6) + rng.uniform(-0.03, 0.03, 6), 0.0, 1.0):
        (u, v), theta = spine(float(t))
        sigma = float(rng.uniform(0.072, 0.085)) * scale
        r, c = px(float(u), float(v))
        bumps.append([r, c, sigma * 1.25, sigma * 0.85, angle(theta), rng.uniform(380, 500), 0])
    # Ridges running off the spine.
    for _ in range(4):
        (u, v), theta = spine(float(rng.uniform(0.1, 0.9)))
        side = 1.0 if rng.random() < 0.5 else -1.0
        direction = theta + side * math.pi / 2 + jit(0.5)
        cu = float(u) + 0.07 * math.cos(direction)
        cv = float(v) + 0.07 * math.sin(direction)
        r, c = px(cu, cv)
        bumps.append(
            [r, c, 0.055 * scale, 0.018 * scale, angle(direction), rng.uniform(120, 220), 0]
        )
    # The volcano: a cone with a crater.
    (u, v), _ = spine(float(rng.uniform(0.22, 0.38)))
    r, c = px(float(u), float(v))
    cone = 0.030 * scale * float(rng.uniform(0.9, 1.1))
    # Summit at 1,750-1,950 m whatever the spine and ridges below it add up to.
    ground_m = _smooth_elevation_at(np.array(bumps, dtype=np.float64), r, c)
    summit_m = float(rng.uniform(1750, 1950))
    bumps.append([r, c, cone, cone, 0.0, max(summit_m - ground_m, 300.0), _CONE])
    crater = 0.005 * scale
    bumps.append([r, c, crater, crater, 0.0, -rng.uniform(100, 160), _GAUSS])
    main_px = px(*(float(x) for x in spine(0.5)[0]))
    # Second island across a strait.
    cu, cv = 0.81 + jit(0.02), 0.75 + jit(0.02)
    phi = float(rng.uniform(0, math.pi))
    for side in (-1.0, 1.0):
        r, c = px(cu + side * 0.025 * math.cos(phi), cv + side * 0.025 * math.sin(phi))
        sigma = float(rng.uniform(0.040, 0.048)) * scale
        bumps.append([r, c, sigma, sigma, 0.0, rng.uniform(280, 330), _GAUSS])
    second_px = px(cu, cv)
    # Lake on the flank of the spine's far end.
    (u, v), theta = spine(float(rng.uniform(0.72, 0.88)))
    offset = jit(0.02)
    lake_r, lake_c = px(float(u + normal[0] * offset), float(v + normal[1] * offset))
    arr = np.array(bumps, dtype=np.float64)
    level = _smooth_elevation_at(arr, lake_r, lake_c) - 25.0
    radius_a = 0.013 * scale * float(rng.uniform(0.9, 1.3))
    radius_b = radius_a * float(rng.uniform(0.55, 0.8))
    lake_angle = float(rng.uniform(0, math.pi))
    lake = (lake_r, lake_c, radius_a, radius_b, lake_angle, level) if level > 150.0 else None
    # Islets in open water.
    islets: list[tuple[float, float]] = []
    n_islets = int(rng.integers(1, 4))
    for _ in range(40):
        if len(islets) >= n_islets:
            break
        iu, iv = float(rng.uniform(0.08, 0.92)), float(rng.uniform(0.08, 0.92))
        sigma = 0.011 * scale * float(rng.uniform(0.9, 1.3))
        height = float(rng.uniform(200, 260))
        r, c = px(iu, iv)
        if _smooth_elevation_at(arr, r, c) > -_SEA_OFFSET_M + 20.0:
            continue
        if any(math.hypot(iu - ou, iv - ov) < 0.12 for ou, ov in islets):
            continue
        islets.append((iu, iv))
        bumps.append([r, c, sigma, sigma, 0.0, height, _GAUSS])
    return _Template(
        bumps=np.array(bumps, dtype=np.float64), lake=lake, main_px=main_px, second_px=second_px
    )


@dataclass(frozen=True)
class _ValueNoise:
    """Smooth value noise: random values on a lattice, interpolated with a smoothstep."""

    lattice: Float32Array
    spacing_px: float

    @classmethod
    def make(cls, rng: np.random.Generator, rows: int, cols: int, spacing_px: float) -> _ValueNoise:
        spacing = max(3.0, spacing_px)
        shape = (int(rows / spacing) + 3, int(cols / spacing) + 3)
        return cls(rng.uniform(-1.0, 1.0, shape).astype(np.float32), spacing)

    @staticmethod
    def _weights(start: int, count: int, spacing: float) -> tuple[IntArray, Float32Array]:
        pos = (np.arange(start, start + count, dtype=np.float64) + 0.5) / spacing
        index = np.floor(pos).astype(np.int64)
        f = pos - index
        return index, (f * f * (3.0 - 2.0 * f)).astype(np.float32)

    def strip(self, row0: int, nrows: int, cols: int) -> Float32Array:
        """Noise in ``[-1, 1]`` for rows ``row0 .. row0 + nrows`` of a ``cols`` wide grid."""
        iy, fy = self._weights(row0, nrows, self.spacing_px)
        ix, fx = self._weights(0, cols, self.spacing_px)
        lat = self.lattice
        by_row = lat[iy] * (1.0 - fy)[:, None] + lat[iy + 1] * fy[:, None]
        out: Float32Array = by_row[:, ix] * (1.0 - fx) + by_row[:, ix + 1] * fx
        return out


@dataclass(frozen=True)
class _Noises:
    terrain: tuple[_ValueNoise, ...]
    moisture: tuple[_ValueNoise, _ValueNoise]
    farms: _ValueNoise


def _noises(layout: _Layout, seed: int) -> _Noises:
    rng = _rng(seed, _S_NOISE)
    unit = layout.groups[0].scale_px
    rows, cols = layout.rows, layout.cols
    terrain = tuple(_ValueNoise.make(rng, rows, cols, f * unit) for f, _ in _NOISE_OCTAVES)
    moisture = (
        _ValueNoise.make(rng, rows, cols, 0.04 * unit),
        _ValueNoise.make(rng, rows, cols, 0.012 * unit),
    )
    farms = _ValueNoise.make(rng, rows, cols, 0.02 * unit)
    return _Noises(terrain=terrain, moisture=moisture, farms=farms)


def _terrain_strip(
    layout: _Layout, templates: Sequence[_Template], noises: _Noises, row0: int, nrows: int
) -> tuple[Float32Array, ByteArray]:
    """Elevation (m) and natural land cover of rows ``row0 .. row0 + nrows``."""
    cols = layout.cols
    elevation_m = np.full((nrows, cols), -_SEA_OFFSET_M, dtype=np.float32)
    for template in templates:
        for bump in template.bumps.tolist():
            radius = _bump_radius_px(bump)
            ra = max(row0, math.floor(bump[0] - radius))
            rb = min(row0 + nrows, math.ceil(bump[0] + radius) + 1)
            ca = max(0, math.floor(bump[1] - radius))
            cb = min(cols, math.ceil(bump[1] + radius) + 1)
            if ra >= rb or ca >= cb:
                continue
            dy = (np.arange(ra, rb, dtype=np.float32) + np.float32(0.5 - bump[0]))[:, None]
            dx = (np.arange(ca, cb, dtype=np.float32) + np.float32(0.5 - bump[1]))[None, :]
            elevation_m[ra - row0 : rb - row0, ca:cb] += _bump_values(bump, dy, dx)
    fine: Float32Array | None = None
    for (_, amplitude_m), noise in zip(_NOISE_OCTAVES, noises.terrain, strict=True):
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
        q = _bump_values([0.0, 0.0, ra_px, rb_px, theta, 1.0, _GAUSS], dy, dx)
        # q is exp(-d²/2); inside the (noisy) ellipse d < 1.
        inside = q > np.exp(-0.5 * (1.0 + 0.35 * fine[r_a - row0 : r_b - row0, c_a:c_b]))
        window = elevation_m[r_a - row0 : r_b - row0, c_a:c_b]
        window[inside] = np.float32(level_m)
        lake[r_a - row0 : r_b - row0, c_a:c_b] |= inside
    moisture = 0.7 * noises.moisture[0].strip(row0, nrows, cols) + 0.3 * noises.moisture[1].strip(
        row0, nrows, cols
    )
    cover = np.full((nrows, cols), _GRASS, dtype=np.uint8)
    low = elevation_m < _LOWLAND_M
    cover[low & (moisture > -0.05)] = _CROP
    cover[(~low & (moisture > -0.35)) | (low & (moisture < -0.6))] = _FOREST
    cover[elevation_m > 1450.0] = _GRASS
    cover[lake] = _WATER
    cover[elevation_m <= 0.0] = _SEA
    return elevation_m, cover


# --------------------------------------------------------------------------------------------
# Pass 1: terrain and land cover, coarse summaries
# --------------------------------------------------------------------------------------------


@dataclass
class _Terrain:
    """Full-resolution land cover and coarse-block summaries of the terrain."""

    landcover: ByteArray
    n_land: ByteArray  # cells per block on land (not lake, not sea), 0..16
    n_any: ByteArray  # cells per block above sea level (lakes included)
    elevation_m: Float32Array  # mean elevation per block
    class_area_km2: FloatArray  # area by land-cover class, indexed by class code


def _strip_rows(cols: int) -> int:
    return _TILE * max(1, _STRIP_TARGET_CELLS // (_TILE * max(cols, 1)))


def _strips(rows: int, cols: int) -> Iterator[tuple[int, int]]:
    step = _strip_rows(cols)
    for row0 in range(0, rows, step):
        yield row0, min(step, rows - row0)


def _block_sum(values: npt.NDArray[Any], ccols: int, fill: float) -> FloatArray:
    """Sum over ``_BLOCK`` x ``_BLOCK`` blocks, padding the edges with ``fill``."""
    nrows, cols = values.shape
    hp = -(-nrows // _BLOCK) * _BLOCK
    padded = np.full((hp, ccols * _BLOCK), fill, dtype=np.float64)
    padded[:nrows, :cols] = values
    summed: FloatArray = padded.reshape(hp // _BLOCK, _BLOCK, ccols, _BLOCK).sum(axis=(1, 3))
    return summed


def _raster_profile(layout: _Layout, dtype: str, nodata: float | None) -> dict[str, Any]:
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


def _pass_terrain(
    layout: _Layout, templates: Sequence[_Template], noises: _Noises, dem_path: Path | None
) -> _Terrain:
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
            profile = _raster_profile(layout, "float32", None)
            dem = stack.enter_context(rasterio.open(dem_path, "w", **profile))
            dem.update_tags(units="metres above sea level", source="reach.synthetic")
        for row0, nrows in _strips(rows, cols):
            elevation_m, cover = _terrain_strip(layout, templates, noises, row0, nrows)
            landcover[row0 : row0 + nrows] = cover
            if dem is not None:
                dem.write(elevation_m, 1, window=Window(0, row0, cols, nrows))
            b0 = row0 // _BLOCK
            land = (cover <= _FOREST).astype(np.float64)
            above = (cover <= _WATER).astype(np.float64)
            blocks_land = _block_sum(land, ccols, 0.0)
            b1 = b0 + blocks_land.shape[0]
            n_land[b0:b1] = blocks_land.astype(np.uint8)
            n_any[b0:b1] = _block_sum(above, ccols, 0.0).astype(np.uint8)
            elev_blocks[b0:b1] = (
                _block_sum(elevation_m, ccols, -_SEA_OFFSET_M) / (_BLOCK * _BLOCK)
            ).astype(np.float32)
            area_rows = layout.cell_area_km2(np.arange(row0, row0 + nrows))
            for code in range(1, 7):
                class_area[code] += float(np.sum((cover == code).sum(axis=1) * area_rows))
    return _Terrain(
        landcover=landcover,
        n_land=n_land,
        n_any=n_any,
        elevation_m=elev_blocks,
        class_area_km2=class_area,
    )


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_SYLLABLES = (
    "la", "ma", "ba", "wa", "ta", "na", "ra", "ka", "lo", "bo", "to", "ne", "le", "me", "ri",
    "ni", "ngo", "nga", "sa", "so", "du", "lu", "ku", "mbu", "we", "ke", "pe", "de", "ti", "ru",
    "wai", "lai", "ole", "mau", "kou", "nda", "mba", "rea", "ende", "oka",
)  # fmt: skip
_PREFIXES = ("Wae", "Oe", "Nanga", "Watu", "Lewo", "Tana", "Ile", "Ai", "Kampung", "Desa")


class _Namer:
    """Unique place names in an eastern-Indonesian style."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def take(self, name: str) -> str:
        self._used.add(name)
        return name

    def new(self, *, prefix_ok: bool = True) -> str:
        for _ in range(1000):
            n = int(self._rng.integers(2, 4))
            parts = [_SYLLABLES[int(i)] for i in self._rng.integers(0, len(_SYLLABLES), n)]
            word = "".join(parts)
            if len(word) < 4 or len(word) > 10:
                continue
            word = word.capitalize()
            if prefix_ok and self._rng.random() < 0.2:
                prefix = _PREFIXES[int(self._rng.integers(0, len(_PREFIXES)))]
                word = f"{prefix} {word}"
            if word not in self._used:
                self._used.add(word)
                return word
        raise RuntimeError("ran out of names")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Planning: islands, towns, ports, villages
# --------------------------------------------------------------------------------------------


@dataclass
class _Place:
    """A town or village; ``node`` is its coarse block inside the group (row-major index)."""

    name: str
    kind: str  # capital | port | town | island_town | village
    node: int
    island: int
    elevation_m: float
    coastal: bool
    weight: float
    population: float = 0.0

    @property
    def is_town(self) -> bool:
        return self.kind != "village"


@dataclass
class _GroupPlan:
    """Everything decided about one island group before rasters and roads are written."""

    box: _GroupBox
    land: BoolArray  # coarse blocks fully on land
    elevation_m: FloatArray
    coastal: BoolArray
    labels: IntArray
    main_label: int
    second_label: int
    main_name: str
    second_name: str
    places: list[_Place] = field(default_factory=list)
    land_km2: float = 0.0
    main_km2: float = 0.0
    ports: list[int] = field(default_factory=list)  # extra (inter-group) port nodes

    def rc(self, node: int) -> tuple[int, int]:
        nx = self.land.shape[1]
        return node // nx, node % nx

    def global_node(self, node: int, ccols: int) -> int:
        r, c = self.rc(node)
        return (self.box.cr0 + r) * ccols + self.box.cc0 + c

    def place_px(self, place: _Place) -> tuple[float, float]:
        """Row and column (cell-edge coordinates) of a place's block centre."""
        r, c = self.rc(place.node)
        return (self.box.cr0 + r) * _BLOCK + _BLOCK / 2, (self.box.cc0 + c) * _BLOCK + _BLOCK / 2

    @property
    def capital(self) -> _Place:
        return self.places[0]


def _block_area_km2(layout: _Layout, box: _GroupBox) -> FloatArray:
    """Area of one block per coarse row of the group."""
    rows = (np.arange(box.cr0, box.cr1) * _BLOCK + _BLOCK / 2).astype(np.float64)
    return layout.cell_area_km2(rows) * _BLOCK * _BLOCK


def _nearest_component(labels: IntArray, land: BoolArray, row: float, col: float) -> int:
    """Label of the land component nearest a point given in coarse-block coordinates."""
    rr, cc = np.nonzero(land)
    if rr.size == 0:
        return 0
    k = int(np.argmin((rr + 0.5 - row) ** 2 + (cc + 0.5 - col) ** 2))
    return int(labels[rr[k], cc[k]])


def _farthest(candidates: IntArray, nx: int, anchors: Sequence[int]) -> int:
    """The candidate node farthest from its nearest anchor."""
    cr, cc = candidates // nx, candidates % nx
    best = np.full(candidates.shape, np.inf)
    for a in anchors:
        ar, ac = a // nx, a % nx
        best = np.minimum(best, (cr - ar) ** 2 + (cc - ac) ** 2)
    return int(candidates[int(np.argmax(best))])


def _plan_group(
    layout: _Layout,
    terrain: _Terrain,
    template: _Template,
    box: _GroupBox,
    namer: _Namer,
    seed: int,
) -> _GroupPlan:
    sl = (slice(box.cr0, box.cr1), slice(box.cc0, box.cc1))
    land = terrain.n_land[sl] == _BLOCK * _BLOCK
    any_cells = terrain.n_any[sl].astype(np.float64)
    elevation_m = terrain.elevation_m[sl].astype(np.float64)
    ny, nx = land.shape
    labels_raw, _ = ndimage.label(land)
    labels = labels_raw.astype(np.int64)
    seaish = any_cells < (_BLOCK * _BLOCK) / 2
    coastal = land & (ndimage.distance_transform_edt(~seaish) <= 2.5)
    main_label = _nearest_component(
        labels, land, template.main_px[0] / _BLOCK - box.cr0, template.main_px[1] / _BLOCK - box.cc0
    )
    second_label = _nearest_component(
        labels,
        land & (labels != main_label),
        template.second_px[0] / _BLOCK - box.cr0,
        template.second_px[1] / _BLOCK - box.cc0,
    )
    if main_label == 0:
        raise RuntimeError(f"island group {box.index} has no land")  # pragma: no cover
    area_rows = _block_area_km2(layout, box)
    land_km2 = float(np.sum((terrain.n_land[sl].astype(np.float64) / 16.0) * area_rows[:, None]))
    main_km2 = float(np.sum((labels == main_label) * area_rows[:, None]))
    main_name = "Contoh" if box.index == 0 else namer.new(prefix_ok=False)
    second_name = namer.new(prefix_ok=False)
    plan = _GroupPlan(
        box=box,
        land=land,
        elevation_m=elevation_m,
        coastal=coastal,
        labels=labels,
        main_label=main_label,
        second_label=second_label,
        main_name=main_name,
        second_name=second_name,
        land_km2=land_km2,
        main_km2=main_km2,
    )
    flat_land = land.ravel()
    flat_labels = labels.ravel()
    flat_elev = elevation_m.ravel()
    flat_coast = coastal.ravel()
    main_nodes = np.flatnonzero(flat_labels == main_label)
    # Town sites: low, on the coast, with mostly land within ~1.5 km (not on a spit or a tip).
    roomy = ndimage.uniform_filter(land.astype(np.float64), size=9, mode="constant") >= 0.55
    lowland_coast = np.flatnonzero(
        flat_coast & (flat_elev < 150.0) & (flat_labels == main_label) & roomy.ravel()
    )
    if lowland_coast.size == 0:
        lowland_coast = np.flatnonzero(flat_coast & (flat_labels == main_label))
    if lowland_coast.size == 0:
        lowland_coast = main_nodes

    def make(kind: str, node: int) -> _Place:
        return _Place(
            name=namer.new(),
            kind=kind,
            node=int(node),
            island=int(flat_labels[node]),
            elevation_m=float(flat_elev[node]),
            coastal=bool(flat_coast[node]),
            weight=_TOWN_WEIGHT.get(kind, 1.0),
        )

    # Ports: the closest pair of blocks between the main and the second island.
    towns: list[_Place] = []
    port_main: int | None = None
    port_second: int | None = None
    if second_label:
        second_nodes = np.flatnonzero(flat_labels == second_label)
        tree = cKDTree(np.column_stack([main_nodes // nx, main_nodes % nx]))
        dist, near = tree.query(np.column_stack([second_nodes // nx, second_nodes % nx]))
        k = int(np.argmin(dist))
        port_main, port_second = int(main_nodes[int(near[k])]), int(second_nodes[k])
    anchor = port_main if port_main is not None else int(main_nodes[main_nodes.size // 2])
    capital = make("capital", _farthest(lowland_coast, nx, [anchor]))
    if box.index == 0:
        namer.take("Kota Contoh")
    towns.append(capital)
    if port_main is not None:
        towns.append(make("port", port_main))
    n_main_towns = int(np.clip(round(main_km2 / 280.0), 2, 5))
    while len(towns) < n_main_towns:
        towns.append(make("town", _farthest(lowland_coast, nx, [t.node for t in towns])))
    if port_second is not None:
        towns.append(make("island_town", port_second))
    plan.places.extend(towns)

    # Villages: weighted random blocks at least _VILLAGE_SPACING_BLOCKS apart.
    rng = _rng(seed, _S_VILLAGES, box.index)
    cand = np.flatnonzero(flat_land)
    weight = np.exp(-np.maximum(flat_elev[cand], 0.0) / 350.0) * (1.0 + 1.0 * flat_coast[cand])
    key = np.log(rng.random(cand.size)) / weight
    order = cand[np.argsort(-key, kind="stable")]
    blocked = np.zeros((ny, nx), dtype=bool)
    rad = _VILLAGE_SPACING_BLOCKS
    yy, xx = np.mgrid[-rad : rad + 1, -rad : rad + 1]
    disk = yy**2 + xx**2 <= rad * rad

    def block(node: int) -> None:
        r, c = node // nx, node % nx
        r_a, r_b = max(0, r - rad), min(ny, r + rad + 1)
        c_a, c_b = max(0, c - rad), min(nx, c + rad + 1)
        blocked[r_a:r_b, c_a:c_b] |= disk[
            r_a - r + rad : r_b - r + rad, c_a - c + rad : c_b - c + rad
        ]

    for town in towns:
        block(town.node)
    n_villages = max(1, round(land_km2 / _KM2_PER_VILLAGE) - len(towns))
    flat_blocked = blocked.ravel()  # a view: block() updates it
    villages: list[int] = []
    for node in order.tolist():
        if flat_blocked[node]:
            continue
        villages.append(node)
        block(node)
        if len(villages) >= n_villages:
            break
    w = rng.lognormal(0.0, 0.6, len(villages))
    for node, wv in zip(villages, w.tolist(), strict=True):
        place = make("village", node)
        place.weight = wv * math.exp(-max(place.elevation_m, 0.0) / 1200.0)
        plan.places.append(place)
    return plan


def _set_populations(plans: Sequence[_GroupPlan], terrain: _Terrain) -> None:
    """Share the people not living on dispersed farms among the villages, by weight."""
    land_km2 = float(terrain.class_area_km2[1:5].sum())
    target = _TARGET_PEOPLE_PER_KM2 * land_km2
    dispersed = sum(terrain.class_area_km2[k] * d for k, d in _DISPERSED_PER_KM2.items())
    in_villages = max(target - dispersed, 0.25 * target)
    total_weight = sum(p.weight for plan in plans for p in plan.places)
    for plan in plans:
        for place in plan.places:
            place.population = place.weight * in_villages / total_weight


def _inter_group_ports(layout: _Layout, plans: Sequence[_GroupPlan]) -> list[tuple[int, int]]:
    """Ports joining neighbouring groups' main islands: along each row, and down column 0.

    Returns pairs of global coarse node indices; each port is also added to its plan.
    """
    n_gx = len({g.c0 for g in layout.groups})
    n_gy = len(plans) // n_gx
    pairs: list[tuple[int, int]] = []
    ccols = layout.coarse_cols
    links = [(i * n_gx + j, i * n_gx + j + 1) for i in range(n_gy) for j in range(n_gx - 1)]
    links += [(i * n_gx, (i + 1) * n_gx) for i in range(n_gy - 1)]
    for ga, gb in links:
        pa, pb = plans[ga], plans[gb]
        na = np.flatnonzero((pa.labels == pa.main_label).ravel() & pa.coastal.ravel())
        nb = np.flatnonzero((pb.labels == pb.main_label).ravel() & pb.coastal.ravel())
        if na.size == 0 or nb.size == 0:
            continue
        xa = np.array([pa.global_node(int(n), ccols) for n in na])
        xb = np.array([pb.global_node(int(n), ccols) for n in nb])
        tree = cKDTree(np.column_stack([xa // ccols, xa % ccols]))
        dist, near = tree.query(np.column_stack([xb // ccols, xb % ccols]))
        k = int(np.argmin(dist))
        node_a, node_b = int(na[int(near[k])]), int(nb[k])
        pa.ports.append(node_a)
        pb.ports.append(node_b)
        pairs.append((pa.global_node(node_a, ccols), pb.global_node(node_b, ccols)))
    return pairs


@dataclass(frozen=True)
class _Plan:
    layout: _Layout
    terrain: _Terrain
    templates: tuple[_Template, ...]
    noises: _Noises
    groups: tuple[_GroupPlan, ...]


def _plan(size_cells: int, seed: int, dem_path: Path | None) -> _Plan:
    layout = _layout(size_cells)
    templates = tuple(_template(box, seed) for box in layout.groups)
    noises = _noises(layout, seed)
    terrain = _pass_terrain(layout, templates, noises, dem_path)
    namer = _Namer(_rng(seed, _S_NAMES))
    groups = tuple(
        _plan_group(layout, terrain, t, box, namer, seed)
        for t, box in zip(templates, layout.groups, strict=True)
    )
    _set_populations(groups, terrain)
    return _Plan(layout=layout, terrain=terrain, templates=templates, noises=noises, groups=groups)


# --------------------------------------------------------------------------------------------
# Districts
# --------------------------------------------------------------------------------------------

_DIRECTIONS = ("Timur", "Timur Laut", "Utara", "Barat Laut", "Barat", "Barat Daya", "Selatan",
               "Tenggara")  # fmt: skip


def _district_seats(plan: _GroupPlan) -> list[_Place]:
    """Seats of the main island's districts: its towns, then big villages far from them."""
    want = int(np.clip(round(plan.main_km2 / 300.0), 2, 5))
    seats = [p for p in plan.places if p.is_town and p.island == plan.main_label]
    seats = seats[:want]
    nx = plan.land.shape[1]
    villages = sorted(
        (p for p in plan.places if p.kind == "village" and p.island == plan.main_label),
        key=lambda p: -p.population,
    )
    pool = villages[: max(1, len(villages) // 2)]
    while len(seats) < want and pool:
        nodes = np.array([p.node for p in pool])
        pick = _farthest(nodes, nx, [s.node for s in seats])
        chosen = next(p for p in pool if p.node == pick)
        seats.append(chosen)
        pool.remove(chosen)
    return seats


def _as_multipolygon(geom: Any) -> MultiPolygon:
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", [geom]):
        if isinstance(g, Polygon) and not g.is_empty:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(p for p in g.geoms if not p.is_empty)
    return MultiPolygon(parts)


def _rounded(coords: Any) -> Any:
    if isinstance(coords, list | tuple):
        if coords and isinstance(coords[0], float | int):
            return [round(float(c), 6) for c in coords]
        return [_rounded(c) for c in coords]
    return coords


def _district_features(layout: _Layout, terrain: _Terrain, plans: Sequence[_GroupPlan]) -> str:
    """District polygons as GeoJSON text.

    Per island group: the land (coarse blocks with any cell above sea level, buffered and
    simplified by half a block) of the main island is split by the Voronoi cells of its
    district seats; the second island with nearby islets is one more district.
    """
    tol_deg = 0.5 * _BLOCK * _RES_DEG
    features: list[tuple[str, str, MultiPolygon]] = []
    used: set[str] = set()
    n_total = sum(int(np.clip(round(p.main_km2 / 300.0), 2, 5)) + 1 for p in plans)
    width = max(2, len(str(n_total)))

    def unique(name: str, fallback: str) -> str:
        full = f"Kecamatan {name}"
        if full in used:
            full = f"Kecamatan {fallback}"
        used.add(full)
        return full

    for plan in plans:
        box = plan.box
        sub = (terrain.n_any[box.cr0 : box.cr1, box.cc0 : box.cc1] > 0).astype(np.uint8)
        west = layout.west_deg + box.cc0 * _BLOCK * _RES_DEG
        north = layout.north_deg - box.cr0 * _BLOCK * _RES_DEG
        tr = Affine(_BLOCK * _RES_DEG, 0.0, west, 0.0, -_BLOCK * _RES_DEG, north)
        polys = [
            shape(geom).buffer(0)
            for geom, _ in raster_shapes(sub, mask=sub.astype(bool), connectivity=8, transform=tr)
        ]
        frame = _box_polygon(layout, box)

        def point_of(place: _Place, plan: _GroupPlan = plan) -> Point:
            r, c = plan.place_px(place)
            return Point(float(layout.lon(c)), float(layout.lat(r)))

        seats = _district_seats(plan)
        second_town = next((p for p in plan.places if p.kind == "island_town"), None)
        main_poly = next((p for p in polys if p.contains(point_of(plan.capital))), None)
        second_poly = (
            next((p for p in polys if p.contains(point_of(second_town))), None)
            if second_town is not None
            else None
        )
        main_parts: list[Any] = []
        second_parts: list[Any] = []
        for poly in polys:
            if second_poly is None or main_poly is None:
                main_parts.append(poly)
            elif poly is second_poly:
                second_parts.append(poly)
            elif poly is main_poly or poly.distance(main_poly) <= poly.distance(second_poly):
                main_parts.append(poly)
            else:
                second_parts.append(poly)

        def cleaned(parts: list[Any], frame: Polygon = frame) -> Any:
            merged = shapely.union_all(parts).buffer(tol_deg, quad_segs=2)
            return merged.simplify(tol_deg).intersection(frame)

        main_area = cleaned(main_parts)
        seat_points = [point_of(s) for s in seats]
        if len(seats) > 1:
            cells = shapely.voronoi_polygons(shapely.MultiPoint(seat_points), extend_to=frame).geoms
            pieces = []
            for pt in seat_points:
                cell = next(c for c in cells if c.contains(pt))
                pieces.append(main_area.intersection(cell))
        else:
            pieces = [main_area]
        cx, cy = main_area.centroid.x, main_area.centroid.y
        for seat, pt, piece in zip(seats, seat_points, pieces, strict=True):
            if seat.kind == "capital":
                label = f"Kota {seat.name}"
            else:
                ang = math.degrees(math.atan2(pt.y - cy, pt.x - cx)) % 360.0
                direction = _DIRECTIONS[round(ang / 45.0) % 8]
                label = f"Pantai {direction}" if seat.coastal else f"{plan.main_name} {direction}"
            features.append((unique(label, seat.name), seat.name, _as_multipolygon(piece)))
        if second_parts:
            features.append(
                (
                    unique(f"Pulau {plan.second_name}", f"Pulau {plan.second_name}"),
                    plan.second_name,
                    _as_multipolygon(cleaned(second_parts)),
                )
            )

    lines = []
    for k, (name, _, geom) in enumerate(features, start=1):
        g = shapely.orient_polygons(shapely.set_precision(geom, 1e-6), exterior_cw=False)
        g = _as_multipolygon(shapely.make_valid(g))
        feature = {
            "type": "Feature",
            "properties": {"zone_id": f"K{k:0{width}d}", "name": name},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": _rounded(mapping(g)["coordinates"]),
            },
        }
        lines.append(json.dumps(feature, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    head = '{"type":"FeatureCollection","name":"demo_districts","features":[\n'
    return head + ",\n".join(lines) + "\n]}\n"


def _box_polygon(layout: _Layout, group: _GroupBox) -> Polygon:
    """The lon/lat rectangle of a group's footprint."""
    return box(
        float(layout.lon(group.c0)),
        float(layout.lat(group.r1)),
        float(layout.lon(group.c1)),
        float(layout.lat(group.r0)),
    )


# --------------------------------------------------------------------------------------------
# Roads: least-cost paths on the coarse land grid
# --------------------------------------------------------------------------------------------

_S_ROADS = 7
_STREET_NAMES = (
    "Jalan Merdeka", "Jalan Pahlawan", "Jalan Diponegoro", "Jalan Gajah Mada", "Jalan Kartini",
    "Jalan Hasanuddin", "Jalan Imam Bonjol", "Jalan Pattimura", "Jalan El Tari",
    "Jalan Cendana", "Jalan Kenanga", "Jalan Melati", "Jalan Flamboyan", "Jalan Pasar",
    "Jalan Masjid", "Jalan Gereja", "Jalan Sekolah", "Jalan Nelayan",
)  # fmt: skip
_COUPLET_NAMES = ("Jalan Sudirman", "Jalan Ahmad Yani")
_VILLAGE_CLASSES = ("secondary", "tertiary", "unclassified", "track", "path")
_VILLAGE_CLASS_SHARE = (0.15, 0.40, 0.65, 0.85, 1.0)


@dataclass
class _Way:
    """A road as a chain of coarse blocks (global row-major indices)."""

    nodes: list[int]
    highway: str
    name: str | None = None
    oneway: bool = False
    in_capital: bool = False


@dataclass(frozen=True)
class _Ferry:
    a: int
    b: int
    name: str


def _grid_graph(layout: _Layout, plan: _GroupPlan) -> sparse.csr_matrix:
    """Cost graph over the group's land blocks: 8 neighbours, no corner cutting.

    The cost of a step is its length times a slope penalty (``1 + (slope / 10 %)²``) and a
    height penalty (roads keep low, so they follow the coast).
    """
    land = plan.land
    elev = plan.elevation_m
    ny, nx = land.shape
    idx = np.arange(ny * nx, dtype=np.int64).reshape(ny, nx)
    dy_m = _BLOCK * layout.cell_dy_m
    centre_rows = np.arange(plan.box.cr0, plan.box.cr1) * _BLOCK + _BLOCK / 2 - 0.5
    dx_rows = _BLOCK * layout.cell_dx_m(centre_rows)
    heads: list[IntArray] = []
    tails: list[IntArray] = []
    costs: list[FloatArray] = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ra, rb = slice(0, ny - dr), slice(dr, ny)
        ca, cb = slice(max(0, -dc), nx - max(0, dc)), slice(max(0, dc), nx + min(0, dc))
        ok = land[ra, ca] & land[rb, cb]
        if dr and dc:
            ok &= land[ra, cb] & land[rb, ca]
        length = np.sqrt((dr * dy_m) ** 2 + (dc * dx_rows[ra])[:, None] ** 2)
        slope = np.abs(elev[ra, ca] - elev[rb, cb]) / length
        mean_m = np.maximum(0.0, 0.5 * (elev[ra, ca] + elev[rb, cb]))
        cost = length * (1.0 + (slope / 0.10) ** 2) * (1.0 + mean_m / 1000.0)
        heads.append(idx[ra, ca][ok])
        tails.append(idx[rb, cb][ok])
        costs.append(np.broadcast_to(cost, ok.shape)[ok])
    a = np.concatenate(heads + tails)
    b = np.concatenate(tails + heads)
    w = np.concatenate(costs + costs)
    return sparse.csr_matrix((w, (a, b)), shape=(ny * nx, ny * nx))


def _route(graph: sparse.csr_matrix, network: set[int], targets: Sequence[int]) -> list[list[int]]:
    """Least-cost paths from the network to each target, merging into earlier ones.

    ``network`` (block indices already on a road, or seeds) grows by the new paths. Each
    path starts at a network block and ends at its target; targets that are already on the
    network or cannot be reached are skipped.
    """
    todo = [t for t in targets if t not in network]
    if not network or not todo:
        return []
    dist, pred, _ = csgraph.dijkstra(
        graph,
        directed=True,
        indices=np.array(sorted(network), dtype=np.int64),
        min_only=True,
        return_predecessors=True,
    )
    paths: list[list[int]] = []
    for t in todo:
        if t in network or not np.isfinite(dist[t]):
            continue
        path = [t]
        node = t
        while True:
            p = int(pred[node])
            if p < 0:
                break
            path.append(p)
            if p in network:
                break
            node = p
        network.update(path)
        paths.append(path[::-1])
    return paths


def _edges_of(nodes: Sequence[int]) -> Iterator[tuple[int, int]]:
    for a, b in itertools.pairwise(nodes):
        yield (a, b) if a < b else (b, a)


def _plan_roads(layout: _Layout, plan: _GroupPlan, seed: int) -> list[_Way]:
    """The road network of one island group, from trunk roads to footpaths and town streets."""
    rng = _rng(seed, _S_ROADS, plan.box.index)
    graph = _grid_graph(layout, plan)
    ny, nx = plan.land.shape
    ccols = layout.coarse_cols
    places = plan.places
    by_node = {p.node: p for p in places}
    towns = [p for p in places if p.is_town]
    network: set[int] = {p.node for p in towns if p.kind in ("capital", "island_town")}
    local_ways: list[tuple[list[int], str, str | None, bool]] = []
    used: set[tuple[int, int]] = set()

    def add(path: list[int], highway: str, name: str | None, oneway: bool = False) -> None:
        local_ways.append((path, highway, name, oneway))
        used.update(_edges_of(path))

    # Trunk: the capital to the ferry port and to ports towards other groups.
    trunk = [p.node for p in towns if p.kind == "port"] + plan.ports
    for path in _route(graph, network, trunk):
        add(path, "trunk", f"Jalan Trans {plan.main_name}")
    # Primary: the other towns; on other islands, their town to the biggest village.
    others = sorted((p for p in towns if p.kind == "town"), key=lambda p: -p.population)
    for path in _route(graph, network, [p.node for p in others]):
        add(path, "primary", f"Jalan Raya {plan.main_name}")
    for town in (p for p in towns if p.kind == "island_town"):
        biggest = max(
            (p for p in places if p.kind == "village" and p.island == town.island),
            key=lambda p: p.population,
            default=None,
        )
        if biggest is not None:
            for path in _route(graph, network, [biggest.node]):
                add(path, "primary", f"Jalan Raya {plan.second_name}")
    # Islands without a town get their biggest village as a seed.
    villages = sorted((p for p in places if p.kind == "village"), key=lambda p: -p.population)
    seeded = {int(plan.labels.flat[n]) for n in network}
    for village in villages:
        if village.island not in seeded:
            network.add(village.node)
            seeded.add(village.island)
    # Villages by size: bigger ones get better roads; high villages get tracks and paths.
    tiers: dict[str, list[int]] = {c: [] for c in _VILLAGE_CLASSES}
    waiting = [v for v in villages if v.node not in network]
    n = len(waiting)
    for rank, village in enumerate(waiting):
        share = (rank + 0.5) / max(n, 1)
        level = next(i for i, s in enumerate(_VILLAGE_CLASS_SHARE) if share <= s)
        if village.elevation_m > 1000.0:
            level = max(level, 4)
        elif village.elevation_m > 700.0:
            level = max(level, 3)
        tiers[_VILLAGE_CLASSES[level]].append(village.node)
    # Roads of one class go around villages waiting for a lesser road, so those keep theirs.
    edges = graph.tocoo()
    for level, highway in enumerate(_VILLAGE_CLASSES):
        later = [n for c in _VILLAGE_CLASSES[level + 1 :] for n in tiers[c] if n not in network]
        passable = np.ones(graph.shape[0], dtype=bool)
        passable[later] = False
        ok = passable[edges.row] & passable[edges.col]
        tier_graph = sparse.csr_matrix(
            (edges.data[ok], (edges.row[ok], edges.col[ok])), shape=graph.shape
        )
        for path in _route(tier_graph, network, tiers[highway]):
            name: str | None = None
            target = by_node[path[-1]].name
            if highway == "secondary" or (highway == "tertiary" and rng.random() < 0.5):
                name = f"Jalan {target}"
            highway_used = "footway" if highway == "path" and rng.random() < 0.25 else highway
            add(path, highway_used, name)

    # Town streets: a one-way pair in the capital, then a grid of residential streets.
    for town in towns:
        radius = {"capital": 4, "port": 3, "town": 3}.get(town.kind, 2)
        tr, tc = town.node // nx, town.node % nx
        r_a, r_b = max(0, tr - radius), min(ny, tr + radius + 1)
        c_a, c_b = max(0, tc - radius), min(nx, tc + radius + 1)
        window = plan.land[r_a:r_b, c_a:c_b]
        lab, _ = ndimage.label(window)
        keep = lab == lab[tr - r_a, tc - c_a]
        keep_nodes = {(r_a + r) * nx + (c_a + c) for r, c in zip(*np.nonzero(keep), strict=True)}
        if town.kind == "capital":
            couplet = _find_couplet(tr, tc, nx, keep_nodes, used)
            if couplet is not None:
                for chain, name in zip(couplet, _COUPLET_NAMES, strict=True):
                    add(chain, "tertiary", name, oneway=True)
        for horizontal in (True, False):
            outer = range(r_a, r_b) if horizontal else range(c_a, c_b)
            inner = range(c_a, c_b) if horizontal else range(r_a, r_b)
            for o in outer:
                run: list[int] = []
                for i in inner:
                    node = o * nx + i if horizontal else i * nx + o
                    prev = run[-1] if run else None
                    edge_ok = (
                        prev is not None
                        and node in keep_nodes
                        and (min(prev, node), max(prev, node)) not in used
                    )
                    if edge_ok:
                        run.append(node)
                        continue
                    if len(run) > 1:
                        add(run, "residential", _street_name(rng))
                    run = [node] if node in keep_nodes else []
                if len(run) > 1:
                    add(run, "residential", _street_name(rng))

    # Every port and town must be on a road; stub out to a neighbour otherwise.
    on_roads = {n for path, *_ in local_ways for n in path}
    for node in [p.node for p in towns] + plan.ports:
        if node in on_roads:
            continue
        r, c = node // nx, node % nx
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < ny and 0 <= cc < nx and plan.land[rr, cc]:
                add([rr * nx + cc, node], "residential", None)
                on_roads.update((node, rr * nx + cc))
                break

    capital_node = plan.capital.node
    cap_r, cap_c = capital_node // nx, capital_node % nx
    ways = []
    for path, highway, name, oneway in local_ways:
        near_capital = all(
            max(abs(n // nx - cap_r), abs(n % nx - cap_c)) <= 4 for n in (path[0], path[-1])
        )
        ways.append(
            _Way(
                nodes=[plan.global_node(n, ccols) for n in path],
                highway=highway,
                name=name,
                oneway=oneway,
                in_capital=near_capital,
            )
        )
    return ways


def _street_name(rng: np.random.Generator) -> str | None:
    if rng.random() < 0.4:
        return None
    return _STREET_NAMES[int(rng.integers(0, len(_STREET_NAMES)))]


def _find_couplet(
    tr: int, tc: int, nx: int, keep: set[int], used: set[tuple[int, int]]
) -> tuple[list[int], list[int]] | None:
    """Two parallel 3-block streets near the capital's centre, for a one-way pair.

    The first runs east (or south), the second back west (or north); both ends are joined by
    the residential grid.
    """
    for horizontal in (True, False):
        for d_out in (-1, 1, -2, 2, 0, -3, 3, -4):
            for d_in in (-1, -2, 0, -3, 1, -4):
                chains: list[list[int]] = []
                for lane in (0, 1):
                    o = d_out + lane
                    if horizontal:
                        chain = [(tr + o) * nx + tc + d_in + k for k in range(4)]
                    else:
                        chain = [(tr + d_in + k) * nx + tc + o for k in range(4)]
                    chains.append(chain)
                nodes = chains[0] + chains[1]
                if not all(n in keep for n in nodes):
                    continue
                if any(e in used for ch in chains for e in _edges_of(ch)):
                    continue
                if horizontal and any(abs(n % nx - tc - d_in) > 3 for n in nodes):
                    continue  # wrapped around a row end
                return chains[0], chains[1][::-1]
    return None


def _ferries(
    plans: Sequence[_GroupPlan], inter: Sequence[tuple[int, int]], ccols: int
) -> list[_Ferry]:
    ferries = []
    for plan in plans:
        port = next((p for p in plan.places if p.kind == "port"), None)
        other = next((p for p in plan.places if p.kind == "island_town"), None)
        if port is not None and other is not None:
            ferries.append(
                _Ferry(
                    plan.global_node(port.node, ccols),
                    plan.global_node(other.node, ccols),
                    f"Feri {port.name} - {other.name}",
                )
            )
    owner = {}
    for plan in plans:
        for node in plan.ports:
            owner[plan.global_node(node, ccols)] = plan.main_name
    for a, b in inter:
        ferries.append(_Ferry(a, b, f"Feri Pulau {owner[a]} - Pulau {owner[b]}"))
    return ferries


# --------------------------------------------------------------------------------------------
# OSM XML
# --------------------------------------------------------------------------------------------


def _haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _pick(rng: np.random.Generator, options: Sequence[tuple[str | None, float]]) -> str | None:
    u = float(rng.random())
    acc = 0.0
    for value, p in options:
        acc += p
        if u < acc:
            return value
    return options[-1][0]


def _road_tags(way: _Way, rng: np.random.Generator) -> dict[str, str]:
    hw = way.highway
    tags: dict[str, str] = {"highway": hw}
    if way.name:
        tags["name"] = way.name
    surface: str | None
    smooth: str | None = None
    if hw in ("trunk", "primary", "secondary"):
        surface = "asphalt"
        smooth = _pick(rng, (("good", 0.3), ("intermediate", 0.3), (None, 0.4)))
        if hw != "secondary" and (way.in_capital or rng.random() < 0.15):
            tags["maxspeed"] = "40" if way.in_capital else "60"
    elif hw == "tertiary":
        surface = _pick(rng, (("asphalt", 0.5), ("paved", 0.2), ("concrete", 0.3)))
        smooth = _pick(rng, ((None, 0.4), ("intermediate", 0.3), ("bad", 0.3)))
        if way.oneway:
            tags["oneway"] = "yes"
            tags["maxspeed"] = "40"
    elif hw == "unclassified":
        surface = _pick(
            rng, (("asphalt", 0.3), ("concrete", 0.2), ("unpaved", 0.3), ("gravel", 0.2))
        )
        smooth = _pick(rng, ((None, 0.4), ("intermediate", 0.2), ("bad", 0.3), ("very_bad", 0.1)))
    elif hw == "residential":
        surface = _pick(rng, (("asphalt", 0.5), ("concrete", 0.3), ("unpaved", 0.2)))
        if way.in_capital and rng.random() < 0.2:
            tags["maxspeed"] = "30"
    elif hw == "track":
        grade = _pick(rng, (("grade2", 0.3), ("grade3", 0.4), ("grade4", 0.3))) or "grade3"
        tags["tracktype"] = grade
        surface = (
            "unpaved"
            if grade == "grade2"
            else _pick(rng, (("unpaved", 0.5), ("ground", 0.5)))
            if grade == "grade3"
            else "ground"
        )
        smooth = _pick(rng, (("bad", 0.4), ("very_bad", 0.4), ("horrible", 0.2)))
    else:
        surface = "ground"
    if surface:
        tags["surface"] = surface
    if smooth:
        tags["smoothness"] = smooth
    return tags


def _write_osm(
    path: Path, layout: _Layout, ways: Sequence[_Way], ferries: Sequence[_Ferry], seed: int
) -> dict[str, Any]:
    """Write roads and ferries as OSM XML; return lengths and counts."""
    ccols = layout.coarse_cols
    rng = _rng(seed, _S_TAGS)
    coarse = sorted(
        {n for w in ways for n in w.nodes} | {f.a for f in ferries} | {f.b for f in ferries}
    )
    ids = {n: i + 1 for i, n in enumerate(coarse)}
    xs: list[float] = [(n % ccols) * _BLOCK + _BLOCK / 2 for n in coarse]
    ys: list[float] = [(n // ccols) * _BLOCK + _BLOCK / 2 for n in coarse]

    def interpolate(a: int, b: int, n_mid: int) -> list[int]:
        xa, ya = (a % ccols) * _BLOCK + _BLOCK / 2, (a // ccols) * _BLOCK + _BLOCK / 2
        xb, yb = (b % ccols) * _BLOCK + _BLOCK / 2, (b // ccols) * _BLOCK + _BLOCK / 2
        refs = []
        for k in range(1, n_mid + 1):
            t = k / (n_mid + 1)
            xs.append(xa + t * (xb - xa))
            ys.append(ya + t * (yb - ya))
            refs.append(len(xs))
        return refs

    way_xml: list[str] = []
    road_km: dict[str, float] = {}
    lat_of = layout.lat
    lon_of = layout.lon
    way_id = 0
    for way in ways:
        refs = [ids[way.nodes[0]]]
        km = 0.0
        for a, b in itertools.pairwise(way.nodes):
            diagonal = (a % ccols != b % ccols) and (a // ccols != b // ccols)
            refs += interpolate(a, b, _BLOCK if diagonal else _BLOCK - 1)
            refs.append(ids[b])
        for a, b in itertools.pairwise(way.nodes):
            ya, yb = (a // ccols) * _BLOCK + 2.0, (b // ccols) * _BLOCK + 2.0
            xa, xb = (a % ccols) * _BLOCK + 2.0, (b % ccols) * _BLOCK + 2.0
            km += _haversine_km(
                float(lon_of(xa)), float(lat_of(ya)), float(lon_of(xb)), float(lat_of(yb))
            )
        road_km[way.highway] = road_km.get(way.highway, 0.0) + km
        tags = _road_tags(way, rng)
        way_id += 1
        way_xml.append(_way_element(way_id, refs, tags))
    ferry_stats = []
    for ferry in ferries:
        xa, ya = (ferry.a % ccols) * _BLOCK + 2.0, (ferry.a // ccols) * _BLOCK + 2.0
        xb, yb = (ferry.b % ccols) * _BLOCK + 2.0, (ferry.b // ccols) * _BLOCK + 2.0
        km = _haversine_km(
            float(lon_of(xa)), float(lat_of(ya)), float(lon_of(xb)), float(lat_of(yb))
        )
        n_mid = max(0, math.ceil(km / _FERRY_NODE_SPACING_KM) - 1)
        refs = [ids[ferry.a], *interpolate(ferry.a, ferry.b, n_mid), ids[ferry.b]]
        minutes = max(10, 5 * round(km / _FERRY_KMH * 60 / 5))
        duration = f"{minutes // 60:02d}:{minutes % 60:02d}"
        tags = {
            "route": "ferry",
            "duration": duration,
            "name": ferry.name,
            "foot": "yes",
            "motor_vehicle": "yes",
        }
        way_id += 1
        way_xml.append(_way_element(way_id, refs, tags))
        ferry_stats.append({"name": ferry.name, "km": round(km, 2), "duration": duration})

    lon = np.round(lon_of(np.array(xs)), 7)
    lat = np.round(lat_of(np.array(ys)), 7)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="reach-synthetic">\n')
        fh.write(
            f' <bounds minlat="{float(layout.lat(layout.rows)):.7f}" '
            f'minlon="{float(layout.lon(0)):.7f}" maxlat="{float(layout.lat(0)):.7f}" '
            f'maxlon="{float(layout.lon(layout.cols)):.7f}"/>\n'
        )
        chunk: list[str] = []
        for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True), start=1):
            chunk.append(f' <node id="{i}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>\n')
            if len(chunk) >= 100_000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))
        fh.writelines(way_xml)
        fh.write("</osm>\n")
    return {
        "osm_nodes": len(xs),
        "osm_ways": way_id,
        "road_km_by_highway": {k: round(v, 1) for k, v in sorted(road_km.items())},
        "road_km_total": round(sum(road_km.values()), 1),
        "ferries": ferry_stats,
    }


def _way_element(way_id: int, refs: Sequence[int], tags: dict[str, str]) -> str:
    parts = [f' <way id="{way_id}" version="1">\n']
    parts += [f'  <nd ref="{r}"/>\n' for r in refs]
    parts += [f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in sorted(tags.items())]
    parts.append(" </way>\n")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# Facilities
# --------------------------------------------------------------------------------------------

_CAPACITY = {
    "hospital": 60000,
    "health_centre": 15000,
    "clinic": 3000,
    "primary": 300,
    "lower_secondary": 500,
    "upper_secondary": 700,
}


def _facility_specs(
    plan: _GroupPlan, rng: np.random.Generator
) -> list[list[tuple[str, str, str, int]]]:
    """Per place (same order as ``plan.places``): (service, tier, name, capacity) tuples."""
    places = plan.places
    nx = plan.land.shape[1]
    towns = [p for p in places if p.is_town]
    villages = [p for p in places if not p.is_town]
    by_pop = sorted(villages, key=lambda p: -p.population)
    # Health centres: every town, plus big villages spread out, ~1 per 8 places.
    centres = {p.node for p in towns}
    n_centres = max(len(towns), round(len(places) / 8))
    for spacing in (10, 6, 0):
        for village in by_pop:
            if len(centres) >= n_centres:
                break
            if village.node in centres:
                continue
            r, c = village.node // nx, village.node % nx
            if all(max(abs(r - o // nx), abs(c - o % nx)) >= spacing for o in centres):
                centres.add(village.node)
    clinics = {p.node for p in villages if p.node not in centres and rng.random() < 0.45}
    if not clinics:
        rest = [p for p in by_pop if p.node not in centres]
        if rest:
            clinics.add(rest[0].node)
    n = len(by_pop)
    rank = {p.node: i / max(n, 1) for i, p in enumerate(by_pop)}
    median = by_pop[n // 2].population if n else 0.0
    specs: list[list[tuple[str, str, str, int]]] = []
    for place in places:
        s: list[tuple[str, str, str, int]] = []
        name, pop = place.name, place.population
        if place.kind == "capital":
            s.append(("health", "hospital", f"RSUD {name}", _CAPACITY["hospital"]))
        if place.node in centres:
            cap = 20000 if place.is_town else _CAPACITY["health_centre"]
            s.append(("health", "health_centre", f"Puskesmas {name}", cap))
        elif place.node in clinics:
            s.append(("health", "clinic", f"Pustu {name}", _CAPACITY["clinic"]))
        if place.is_town:
            n_sd = max(2, math.ceil(pop / 1500))
            n_smp = max(1, math.ceil(pop / 5000))
            n_sma = max(1, math.ceil(pop / 9000))
            s += [
                ("education", "primary", f"SD Negeri {k} {name}", 480) for k in range(1, n_sd + 1)
            ]
            s += [
                ("education", "lower_secondary", f"SMP Negeri {k} {name}", 720)
                for k in range(1, n_smp + 1)
            ]
            cap_sma = 960 if place.kind == "capital" else _CAPACITY["upper_secondary"]
            s += [
                ("education", "upper_secondary", f"SMA Negeri {k} {name}", cap_sma)
                for k in range(1, n_sma + 1)
            ]
            if place.kind == "capital":
                s.append(("education", "upper_secondary", f"SMK Negeri 1 {name}", 700))
        else:
            if pop >= median or rng.random() < 0.8:
                n_sd = max(1, round(pop / 1200))
                cap = _CAPACITY["primary"] if pop >= 400 else 180
                s += [
                    ("education", "primary", f"SD Negeri {k} {name}", cap)
                    for k in range(1, n_sd + 1)
                ]
            if rank[place.node] < 0.3:
                s.append(("education", "lower_secondary", f"SMP Negeri 1 {name}", 500))
            if rank[place.node] < 0.05:
                s.append(("education", "upper_secondary", f"SMA Negeri 1 {name}", 700))
        specs.append(s)
    return specs


def _facilities_geojson(
    layout: _Layout, plans: Sequence[_GroupPlan], seed: int
) -> tuple[str, dict[str, int]]:
    health: list[dict[str, Any]] = []
    education: list[dict[str, Any]] = []
    for plan in plans:
        rng = _rng(seed, _S_FACILITIES, plan.box.index)
        ny, nx = plan.land.shape
        for place, specs in zip(plan.places, _facility_specs(plan, rng), strict=True):
            if not specs:
                continue
            radius = 2 if place.is_town else 0
            r, c = place.node // nx, place.node % nx
            cells: list[tuple[int, int]] = []
            for rr in range(max(0, r - radius), min(ny, r + radius + 1)):
                for cc in range(max(0, c - radius), min(nx, c + radius + 1)):
                    if plan.land[rr, cc]:
                        row0 = (plan.box.cr0 + rr) * _BLOCK
                        col0 = (plan.box.cc0 + cc) * _BLOCK
                        cells += [
                            (row0 + i, col0 + j) for i in range(_BLOCK) for j in range(_BLOCK)
                        ]
            pick = rng.choice(len(cells), size=len(specs), replace=len(specs) > len(cells))
            for (service, tier, name, capacity), k in zip(specs, pick.tolist(), strict=True):
                row, col = cells[k]
                feature = {
                    "type": "Feature",
                    "properties": {
                        "name": name,
                        "service": service,
                        "tier": tier,
                        "capacity": capacity,
                    },
                    "geometry": {
                        "type": "Point",
                        "coordinates": [
                            round(float(layout.lon(col + 0.5)), 6),
                            round(float(layout.lat(row + 0.5)), 6),
                        ],
                    },
                }
                (health if service == "health" else education).append(feature)
    width = max(3, len(str(max(len(health), len(education)))))
    counts: dict[str, int] = {}
    lines = []
    for prefix, feats in (("H", health), ("S", education)):
        for k, feat in enumerate(feats, start=1):
            feat["properties"]["facility_id"] = f"{prefix}{k:0{width}d}"
            tier = feat["properties"]["tier"]
            counts[tier] = counts.get(tier, 0) + 1
            lines.append(
                json.dumps(feat, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            )
    head = '{"type":"FeatureCollection","name":"demo_facilities","features":[\n'
    return head + ",\n".join(lines) + "\n]}\n", counts


# --------------------------------------------------------------------------------------------
# Pass 2: population and built-up land
# --------------------------------------------------------------------------------------------


def _pass_population(
    plan: _Plan, pop_path: Path, landcover_path: Path
) -> tuple[float, dict[str, float]]:
    """Write population and land cover; return the exact total and land-cover areas."""
    layout, terrain = plan.layout, plan.terrain
    rows, cols = layout.rows, layout.cols
    cover_all = terrain.landcover
    vy, vx, sig, amp = [], [], [], []
    for g in plan.groups:
        for place in g.places:
            r, c = g.place_px(place)
            sigma_px = (120.0 + 90.0 * math.sqrt(place.population / 1000.0)) / layout.cell_dy_m
            rad = math.ceil(4 * sigma_px)
            ra, rb = max(0, math.floor(r) - rad), min(rows, math.floor(r) + rad + 1)
            ca, cb = max(0, math.floor(c) - rad), min(cols, math.floor(c) + rad + 1)
            win = cover_all[ra:rb, ca:cb]
            land = (win >= _BUILT) & (win <= _FOREST)
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
    pop_profile = _raster_profile(layout, "float32", POPULATION_NODATA)
    lc_profile = _raster_profile(layout, "uint8", LANDCOVER_NODATA)
    with (
        rasterio.open(pop_path, "w", **pop_profile) as pop_ds,
        rasterio.open(landcover_path, "w", **lc_profile) as lc_ds,
    ):
        pop_ds.update_tags(units="people per cell", source="reach.synthetic")
        lc_ds.update_tags(
            source="reach.synthetic",
            classes=";".join(f"{k}={v}" for k, v in LANDCOVER_CLASSES.items()),
        )
        for row0, nrows in _strips(rows, cols):
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
            land = (cover >= _BUILT) & (cover <= _FOREST)
            blob[~land] = 0.0
            area = layout.cell_area_km2(np.arange(row0, row0 + nrows))[:, None]
            cover[land & (blob >= _BUILT_UP_PER_KM2 * area)] = _BUILT
            farms = np.clip(1.0 + 0.9 * plan.noises.farms.strip(row0, nrows, cols), 0.1, 1.9)
            people = blob + density_lut[cover] * area * farms
            people = np.round(np.minimum(people, 30000.0) * _POP_QUANTUM) / _POP_QUANTUM
            people[cover == _WATER] = 0.0
            out = people.astype(np.float32)
            sea = cover == _SEA
            total += float(np.sum(out[~sea], dtype=np.float64))
            out[sea] = np.float32(POPULATION_NODATA)
            pop_ds.write(out, 1, window=Window(0, row0, cols, nrows))
            lc_ds.write(cover, 1, window=Window(0, row0, cols, nrows))
            for code in range(1, 7):
                area_by_class[code] += float(np.sum((cover == code) * area))
    areas = {LANDCOVER_CLASSES[k]: round(float(area_by_class[k]), 1) for k in range(1, 7)}
    return total, areas


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def demo_boundaries_geojson(*, size_cells: int = DEFAULT_SIZE_CELLS, seed: int = 7) -> str:
    """Return the district boundaries of a demo region as GeoJSON text.

    Parameters
    ----------
    size_cells
        Cells of the population grid (see :func:`generate_demo`).
    seed
        Random seed.

    Returns
    -------
    str
        The exact text :func:`generate_demo` writes to ``districts.geojson``: a
        FeatureCollection of MultiPolygons (EPSG:4326) with ``zone_id`` and ``name``.
    """
    plan = _plan(size_cells, seed, None)
    return _district_features(plan.layout, plan.terrain, plan.groups)


def generate_demo(
    folder: Path | str, *, size_cells: int = DEFAULT_SIZE_CELLS, seed: int = 7
) -> DemoFiles:
    """Generate the demo region's input files into ``folder``.

    Parameters
    ----------
    folder
        Output folder, created if missing; existing demo files are overwritten.
    size_cells
        Approximate number of cells of the population grid (rows x columns at 3 arc-seconds,
        about 92 m). The default, 600,000, is one island group of about 5,000 km² with some
        1,000 km² of land; larger grids hold one island group per ~600,000 cells.
    seed
        Random seed; the same seed and size give byte-identical files.

    Returns
    -------
    DemoFiles
        Paths of the files written, the grid size and the exact population total.

    Raises
    ------
    InputError
        If ``size_cells`` is below :data:`MIN_SIZE_CELLS`.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in _FILE_NAMES.items()}
    plan = _plan(size_cells, seed, paths["dem_tif"])
    layout = plan.layout
    boundaries = _district_features(layout, plan.terrain, plan.groups)
    paths["boundaries_geojson"].write_text(boundaries, encoding="utf-8", newline="\n")
    inter = _inter_group_ports(layout, plan.groups)
    ways = [w for g in plan.groups for w in _plan_roads(layout, g, seed)]
    ferries = _ferries(plan.groups, inter, layout.coarse_cols)
    road_stats = _write_osm(paths["roads_osm"], layout, ways, ferries, seed)
    facilities, tier_counts = _facilities_geojson(layout, plan.groups, seed)
    paths["facilities_geojson"].write_text(facilities, encoding="utf-8", newline="\n")
    total, areas = _pass_population(plan, paths["population_tif"], paths["landcover_tif"])
    land_km2 = sum(v for k, v in areas.items() if k not in ("water", "sea"))
    places = [p for g in plan.groups for p in g.places]
    summary = {
        "name": _REGENCY,
        "seed": seed,
        "grid": {
            "rows": layout.rows,
            "cols": layout.cols,
            "size_cells": layout.rows * layout.cols,
            "resolution_deg": _RES_DEG,
            "west_deg": round(layout.west_deg, 7),
            "north_deg": round(layout.north_deg, 7),
        },
        "island_groups": len(plan.groups),
        "land_km2": round(land_km2, 1),
        "landcover_km2": areas,
        "population_total": total,
        "people_per_land_km2": round(total / land_km2, 1) if land_km2 else 0.0,
        "towns": sum(p.is_town for p in places),
        "villages": sum(not p.is_town for p in places),
        "districts": boundaries.count('"zone_id"'),
        "facilities_by_tier": dict(sorted(tier_counts.items())),
        **road_stats,
    }
    (out / _SUMMARY_NAME).write_text(
        json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
        newline="\n",
    )
    return DemoFiles(
        folder=out,
        size_cells=layout.rows * layout.cols,
        population_total=total,
        **paths,
    )


def _replace_generated_file(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically, replacing only a districts file reach made."""
    head = '{"type":"FeatureCollection","name":"demo_districts"'
    if target.exists():
        try:
            ours = target.is_file() and target.read_text("utf-8")[: len(head)] == head
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise InputError(
                "the file exists and is not a districts file this generator wrote",
                path=target,
                fix="choose another folder, or move the file away",
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    part.write_text(text, encoding="utf-8", newline="\n")
    part.replace(target)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m reach.synthetic OUT_DIR [--size N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m reach.synthetic", description="Write the reach demo region's inputs."
    )
    parser.add_argument("out_dir", type=Path, help="output folder")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE_CELLS, help="grid cells")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument(
        "--boundaries-only",
        action="store_true",
        help="write only districts.geojson (to refresh data/boundaries/demo_districts.geojson)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        _layout(args.size)  # a bad size is refused before anything is written
        if args.boundaries_only:
            target = args.out_dir / _FILE_NAMES["boundaries_geojson"]
            text = demo_boundaries_geojson(size_cells=args.size, seed=args.seed)
            _replace_generated_file(target, text)
            print(f"wrote {target}")
            return 0
        from reach.outputs.folders import atomic_folder

        with atomic_folder(args.out_dir, command="synthetic") as tmp:
            files = generate_demo(tmp, size_cells=args.size, seed=args.seed)
    except ReachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    seconds = time.perf_counter() - start
    print(
        f"wrote {args.out_dir} ({files.size_cells:,} cells, "
        f"{files.population_total:,.0f} people) in {seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
