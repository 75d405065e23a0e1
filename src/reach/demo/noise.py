"""Smooth value noise: the roughness of the terrain, the moisture of land cover, the farms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reach.demo.layout import Float32Array, IntArray, Layout
from reach.demo.streams import STREAM_NOISE, random_stream

__all__ = ["NOISE_OCTAVES", "Noises", "ValueNoise", "make_noises"]

#: Octaves of the terrain noise: (lattice spacing in units of the group's side, amplitude m).
NOISE_OCTAVES: tuple[tuple[float, float], ...] = ((0.055, 80.0), (0.018, 36.0), (0.007, 12.0))


@dataclass(frozen=True)
class ValueNoise:
    """Smooth value noise: random values on a lattice, interpolated with a smoothstep."""

    lattice: Float32Array
    spacing_px: float

    @classmethod
    def make(cls, rng: np.random.Generator, rows: int, cols: int, spacing_px: float) -> ValueNoise:
        """Draw a noise for a grid of ``rows`` x ``cols`` cells.

        Parameters
        ----------
        rng
            Random generator the lattice values are drawn from.
        rows, cols
            Rows and columns of the grid the noise covers.
        spacing_px
            Distance between lattice points, in cells (a spacing under 3 is raised to 3).

        Returns
        -------
        ValueNoise
            Its lattice of ``float32`` values drawn uniformly in ``[-1, 1)``, covering the grid.
        """
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
        """Noise in ``[-1, 1]`` for rows ``row0 .. row0 + nrows`` of a ``cols`` wide grid.

        Parameters
        ----------
        row0
            The first row of the strip.
        nrows
            Rows of the strip (``row0 + nrows`` at most the rows given to :meth:`make`).
        cols
            Columns of the grid, from column 0 (at most those given to :meth:`make`).

        Returns
        -------
        numpy.ndarray
            ``float32`` (nrows, cols): the lattice values, interpolated with a smoothstep
            between the lattice points around each cell's centre.
        """
        iy, fy = self._weights(row0, nrows, self.spacing_px)
        ix, fx = self._weights(0, cols, self.spacing_px)
        lat = self.lattice
        by_row = lat[iy] * (1.0 - fy)[:, None] + lat[iy + 1] * fy[:, None]
        out: Float32Array = by_row[:, ix] * (1.0 - fx) + by_row[:, ix + 1] * fx
        return out


@dataclass(frozen=True)
class Noises:
    """The value noises of a demo region, drawn once for the whole grid."""

    terrain: tuple[ValueNoise, ...]
    moisture: tuple[ValueNoise, ValueNoise]
    farms: ValueNoise


def make_noises(layout: Layout, *, seed: int) -> Noises:
    """Draw the value noises of a demo region.

    Parameters
    ----------
    layout
        The region's grid.
    seed
        The region's seed.

    Returns
    -------
    Noises
        Terrain octaves (:data:`NOISE_OCTAVES`), two moisture noises and the farm noise.
    """
    rng = random_stream(seed, STREAM_NOISE)
    unit = layout.groups[0].scale_px
    rows, cols = layout.rows, layout.cols
    terrain = tuple(ValueNoise.make(rng, rows, cols, f * unit) for f, _ in NOISE_OCTAVES)
    moisture = (
        ValueNoise.make(rng, rows, cols, 0.04 * unit),
        ValueNoise.make(rng, rows, cols, 0.012 * unit),
    )
    farms = ValueNoise.make(rng, rows, cols, 0.02 * unit)
    return Noises(terrain=terrain, moisture=moisture, farms=farms)
