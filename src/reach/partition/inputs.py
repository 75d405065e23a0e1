"""What the coordinator of a partitioned run holds: everything of a region but its friction.

From a loaded :class:`~reach.model.region.Region` the inputs are the region's own (each task is
sent a slice of its friction); from a scenario file they are read here, once, with the memory
check of a coordinator (:func:`coordinator_bytes`), and each task builds its window's friction
itself (:class:`reach.partition.friction.FileWindow`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np

from reach.model.grid import AnalysisGrid, Rect
from reach.model.population_correction import PopulationCorrection
from reach.model.region import Region
from reach.model.zones import ZoneShares
from reach.partition.friction import (
    FileFriction,
    FileWindow,
    FrictionPayload,
    pack_mask,
    slice_friction,
)
from reach.progress import Clock
from reach.run.checks import BYTES_PER_RAW_CELL, check_memory
from reach.run.region import read_region_inputs
from reach.spec import ScenarioSpec

__all__ = [
    "COORDINATOR_BYTES_PER_CELL",
    "COORDINATOR_BYTES_PER_CELL_PER_SERVICE",
    "CoordinatorInputs",
    "coordinator_bytes",
    "inputs_from_region",
    "inputs_from_scenario",
    "read_inputs",
]

#: Bytes per grid cell the coordinator keeps (population, zones, components, owners, and the
#: coverage table's work arrays), besides :data:`COORDINATOR_BYTES_PER_CELL_PER_SERVICE`.
COORDINATOR_BYTES_PER_CELL = 64
#: Bytes per grid cell and service of the merged results (time, catchment, reason).
COORDINATOR_BYTES_PER_CELL_PER_SERVICE = 13


@dataclass(eq=False)
class CoordinatorInputs:
    """What the coordinator holds: everything of a region but its friction.

    Attributes
    ----------
    scenario
        The scenario.
    region
        The loaded region, or ``None`` for a run from the scenario file.
    grid
        The analysis grid.
    people, valid
        People per cell and cells inside the population data.
    population
        The population on the grid.
    raster_total
        The population raster's total before any grid change.
    zones, zone
        The reporting zones and the zone number of each cell.
    zone_shares
        Each cell's share of each zone; ``None``: each cell whole to ``zone``.
    population_correction
        How the population was rescaled per zone, if it was.
    roads
        The road and ferry lines.
    facilities
        The baseline facilities of each service.
    """

    scenario: ScenarioSpec
    region: Region | None
    grid: AnalysisGrid
    people: np.ndarray
    valid: np.ndarray
    population: Any
    raster_total: float
    zones: gpd.GeoDataFrame
    zone: np.ndarray
    roads: Any
    facilities: dict[str, gpd.GeoDataFrame]
    zone_shares: ZoneShares | None = None
    population_correction: PopulationCorrection | None = None

    def file_window(self, rect: Rect) -> FileWindow:
        """A window's friction to be read from the scenario's files by a worker.

        Parameters
        ----------
        rect
            The window.

        Returns
        -------
        FileWindow
            The reader and the window's valid and populated cells as bits.
        """
        r0, r1, c0, c1 = rect
        return FileWindow(
            reader=FileFriction(self.scenario, self.grid),
            valid_bits=pack_mask(self.valid[r0:r1, c0:c1]),
            populated_bits=pack_mask(self.people[r0:r1, c0:c1] > 0),
        )

    def payload(self, rect: Rect) -> FrictionPayload:
        """What a task is sent for its window's friction.

        Parameters
        ----------
        rect
            The window.

        Returns
        -------
        Friction or FileWindow
            A slice of the loaded region's friction, else where the worker reads it from.
        """
        if self.region is not None:
            return slice_friction(self.region.friction, rect)
        return self.file_window(rect)


def coordinator_bytes(scn: ScenarioSpec, rows: int, cols: int) -> int:
    """Memory the coordinator of a partitioned run needs for a ``rows`` × ``cols`` raster.

    Parameters
    ----------
    scn
        The scenario (its aggregation factor and services).
    rows, cols
        The population raster's size.

    Returns
    -------
    int
        Bytes.
    """
    factor = scn.grid.aggregate_factor
    cells = -(-rows // factor) * -(-cols // factor)
    per_cell = COORDINATOR_BYTES_PER_CELL + COORDINATOR_BYTES_PER_CELL_PER_SERVICE * len(
        scn.services
    )
    return rows * cols * BYTES_PER_RAW_CELL + cells * per_cell


def inputs_from_region(region: Region) -> CoordinatorInputs:
    """The coordinator's inputs of a loaded region (its own arrays, not copies).

    Parameters
    ----------
    region
        The loaded region.

    Returns
    -------
    CoordinatorInputs
        Its inputs; tasks are sent slices of its friction.
    """
    return CoordinatorInputs(
        scenario=region.scenario,
        region=region,
        grid=region.grid,
        people=region.population.people,
        valid=region.population.valid,
        population=region.population,
        raster_total=region.raster_total,
        zones=region.zones,
        zone=region.zone,
        roads=region.roads,
        facilities=region.facilities,
        zone_shares=region.zone_shares,
        population_correction=region.population_correction,
    )


def inputs_from_scenario(scn: ScenarioSpec, clock: Clock) -> CoordinatorInputs:
    """Read everything but the friction (which the workers build window by window).

    Parameters
    ----------
    scn
        The scenario.
    clock
        Times the reading steps.

    Returns
    -------
    CoordinatorInputs
        The population, grid, zones, roads and facilities; no region.
    """
    inputs = read_region_inputs(
        scn,
        clock=clock,
        max_cells=lambda r, c: check_memory(
            scn, r, c, estimate=coordinator_bytes, what="the coordinator of a partitioned run"
        ),
    )
    pop, raster_total, grid = inputs.population, inputs.raster_total, inputs.grid
    zones, zone, roads, facilities = inputs.zones, inputs.zone, inputs.roads, inputs.facilities
    return CoordinatorInputs(
        scenario=scn,
        region=None,
        grid=grid,
        people=pop.people,
        valid=pop.valid,
        population=pop,
        raster_total=raster_total,
        zones=zones,
        zone=zone,
        roads=roads,
        facilities=facilities,
        zone_shares=inputs.zone_shares,
        population_correction=inputs.population_correction,
    )


def read_inputs(source: ScenarioSpec | Region, clock: Clock) -> CoordinatorInputs:
    """The coordinator's inputs of a loaded region or of a scenario file.

    Parameters
    ----------
    source
        A loaded region, or a scenario.
    clock
        Times the reading steps (of a scenario).

    Returns
    -------
    CoordinatorInputs
        :func:`inputs_from_region` or :func:`inputs_from_scenario`.
    """
    if isinstance(source, Region):
        return inputs_from_region(source)
    return inputs_from_scenario(source, clock)
