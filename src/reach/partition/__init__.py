"""Country-scale runs: split a region into partitions and search each as an independent task.

A partitioned run gives the same travel times, catchments (up to exact ties), reasons and
coverage tables as a whole-region run, with memory per task bounded by its window:

1. **Survey** the region (:mod:`~reach.partition.survey`): passable components, islands (the
   components linked by roads and ferries within the time limit), which components have any
   route to each service's facilities, and the fastest rows / columns per minute of any step.
2. **Plan** (:mod:`~reach.partition.plan`, :mod:`~reach.partition.owners`): every passable cell
   of an island with a facility gets one owner. ``by="auto"`` keeps each island whole,
   grouping small islands by tile and cutting an island larger than ``tile_cells`` into tiles;
   ``"islands"``, ``"tiles"`` and ``"zones"`` (reporting zones, cut into tiles when large) are
   the other ways. Islands with no facility need no search at all.
3. **Search** each partition on its window — its core plus a halo — with the facilities in the
   window (:mod:`~reach.partition.tasks` builds what a worker is sent,
   :mod:`~reach.partition.windows` is what it runs). A partition holding whole islands is exact
   at once. A cut island's tiles use the halo the time limit and the fastest speed give
   (``max_travel_time_min × rate + 4`` cells) when it is no wider than half a tile, and are then
   exact at once too; otherwise their halo is two cells and they **exchange** the times at
   their edges in rounds until nothing changes (:mod:`~reach.partition.exchange`), which gives
   the whole-region times exactly.
4. **Merge** the cores into one set of per-cell arrays (time, catchment as the row of the
   service's facility table, reason) and measure coverage with the pipeline's own code
   (:mod:`~reach.partition.merge`).

Tasks run in this process (``executor="local"``), on a local Dask cluster (``workers=N``) or on
a running Dask scheduler (``scheduler="tcp://..."``) (:mod:`~reach.partition.executors`). A task
is sent its window's arrays only: from a loaded :class:`reach.model.region.Region` a slice of the
friction, from a scenario file nothing but two bit masks — the worker reads the land cover and
elevation under its window itself, with the windowed readers of :mod:`reach.ingest`
(:mod:`~reach.partition.friction`). The coordinator keeps the population, zones and the merged
results of the whole grid (about 64 bytes per cell plus 13 per service;
:mod:`~reach.partition.inputs`).

Only the baseline is partitioned; alternatives are evaluated on a loaded region as before
(:func:`run_partitioned` is in :mod:`~reach.partition.runner`).
"""

from __future__ import annotations

from reach.partition.executors import check_scheduler_address, check_workers, quiet_dask_logs
from reach.partition.inputs import COORDINATOR_BYTES_PER_CELL, coordinator_bytes
from reach.partition.plan import (
    BYTES_PER_WINDOW_CELL,
    BYTES_PER_WINDOW_CELL_PER_SERVICE,
    DEFAULT_TILE_CELLS,
    Partition,
    PartitionPlan,
    check_partition_options,
    plan_partitions,
)
from reach.partition.runner import PartitionedRun, run_partitioned
from reach.partition.survey import (
    halo_for,
    merge_survey_tiles,
    mode_network,
    reach_rates,
    survey_friction,
    survey_tile,
)

__all__ = [
    "BYTES_PER_WINDOW_CELL",
    "BYTES_PER_WINDOW_CELL_PER_SERVICE",
    "COORDINATOR_BYTES_PER_CELL",
    "DEFAULT_TILE_CELLS",
    "Partition",
    "PartitionPlan",
    "PartitionedRun",
    "check_partition_options",
    "check_scheduler_address",
    "check_workers",
    "coordinator_bytes",
    "halo_for",
    "merge_survey_tiles",
    "mode_network",
    "plan_partitions",
    "quiet_dask_logs",
    "reach_rates",
    "run_partitioned",
    "survey_friction",
    "survey_tile",
]
