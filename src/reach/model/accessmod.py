"""AccessMod 5's raster model of roads, for reproducing a published AccessMod analysis.

WHO AccessMod 5 (and its headless pipeline) merges roads into the land cover as cells and runs
GRASS ``r.cost`` on the merged raster. With ``[grid] model = "accessmod"`` reach does the same:

* every cell a road line touches (``all_touched``) becomes a road cell of that road's class,
  the fastest class winning where several touch a cell; road cells are laid over water and
  barriers (AccessMod's stack ranks roads above them, so a road crosses a river as a bridge);
* the whole road cell is crossed at the road's speed, and every other cell at its land cover's
  walking speed; slopes are not used (AccessMod's isotropic analysis);
* moves are ``r.cost``'s: the mean of the two cells' costs times the move's length, a diagonal
  move allowed between two impassable cells (``SearchGraph.cut_corners``);
* a facility starts in its cell at 0 minutes, and minutes are truncated to whole minutes as
  AccessMod writes its travel-time raster (a cell at 60.9 min counts within 60 min).

These figures overstate access on coarse grids (a 1 km cell touched by a road is crossed at
the road's speed): ``benchmarks/convergence.py`` measures by how much.
"""

from __future__ import annotations

import numpy as np
import shapely
from rasterio.features import rasterize

from reach.codes import STATUS_PASSABLE
from reach.ingest.roads import RoadLines
from reach.model.grid import AnalysisGrid, Friction
from reach.model.network import grid_coordinates, road_speeds_kph
from reach.model.speeds import ModeProfile

__all__ = ["burned_friction", "road_cell_kph"]


def road_cell_kph(lines: RoadLines, grid: AnalysisGrid, profile: ModeProfile) -> np.ndarray:
    """The roads as cells: each cell's fastest road speed in one mode (0 where no road).

    Parameters
    ----------
    lines
        Road and ferry lines (ferries and ways the mode cannot ride are left out).
    grid
        The analysis grid.
    profile
        The travel mode.

    Returns
    -------
    numpy.ndarray
        ``float64`` (rows, cols) km/h.
    """
    kph = road_speeds_kph(lines, profile)
    ways = np.flatnonzero(np.isfinite(kph) & (kph > 0) & (np.diff(lines.offsets) >= 2))
    if len(ways) == 0:
        return np.zeros(grid.shape)
    x, y = grid_coordinates(lines, grid)
    counts = np.diff(lines.offsets)[ways]
    points = np.concatenate([np.arange(lines.offsets[w], lines.offsets[w + 1]) for w in ways])
    lines_geom = shapely.linestrings(
        np.column_stack([x[points], y[points]]), indices=np.repeat(np.arange(len(ways)), counts)
    )
    # burned slowest first: the fastest class, burned last, wins a cell several roads touch
    order = np.argsort(kph[ways], kind="stable")
    return np.asarray(
        rasterize(
            ((lines_geom[i], float(kph[ways][i])) for i in order),
            out_shape=grid.shape,
            transform=grid.transform,
            fill=0.0,
            all_touched=True,
            dtype="float64",
        ),
        dtype=np.float64,
    )


def burned_friction(
    friction: Friction, lines: RoadLines, grid: AnalysisGrid, profile: ModeProfile
) -> Friction:
    """The walking friction with the roads of one mode burned in, as AccessMod merges them.

    Parameters
    ----------
    friction
        The region's walking friction (land cover, water, barriers).
    lines
        Road and ferry lines.
    grid
        The analysis grid.
    profile
        The travel mode whose road speeds are burned in.

    Returns
    -------
    Friction
        Road cells at their road's pace and passable (over water, barriers and gaps in the
        population data too); no elevation (AccessMod's isotropic model has no slope).
    """
    kph = road_cell_kph(lines, grid, profile)
    # AccessMod's stack knows no population: a road crosses a gap in the population data too
    road = kph > 0
    pace = np.asarray(friction.pace_min_per_m, dtype=np.float64).copy()
    pace[road] = 60.0 / (kph[road] * 1000.0)
    status = np.asarray(friction.status).copy()
    status[road] = STATUS_PASSABLE
    return Friction(
        pace_min_per_m=pace,
        status=status,
        elevation_m=None,
        populated_water_cells=friction.populated_water_cells,
    )
