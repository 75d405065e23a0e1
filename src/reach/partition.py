"""Country-scale runs: split a region into partitions and search each as an independent task.

A partitioned run gives the same travel times, catchments (up to exact ties), reasons and
coverage tables as a whole-region run, with memory per task bounded by its window:

1. **Survey** the region (:mod:`reach.partition_survey`): passable components, islands (the
   components linked by roads and ferries within the time limit), which components have any
   route to each service's facilities, and the fastest rows / columns per minute of any step.
2. **Partition**: every passable cell of an island with a facility gets one owner. ``by="auto"``
   keeps each island whole, grouping small islands by tile and cutting an island larger than
   ``tile_cells`` into tiles; ``"islands"``, ``"tiles"`` and ``"zones"`` (reporting zones, cut
   into tiles when large) are the other ways. Islands with no facility need no search at all.
3. **Search** each partition on its window — its core plus a halo — with the facilities in the
   window (:mod:`reach.partition_window`). A partition holding whole islands is exact at once.
   A cut island's tiles use the halo the time limit and the fastest speed give
   (``max_travel_time_min × rate + 4`` cells) when it is no wider than half a tile, and are then
   exact at once too; otherwise their halo is two cells and they **exchange** the times at
   their edges in rounds until nothing changes, which gives the whole-region times exactly.
4. **Merge** the cores into one set of per-cell arrays (time, catchment as the row of the
   service's facility table, reason) and measure coverage with the pipeline's own code.

Tasks run in this process (``executor="local"``), on a local Dask cluster (``workers=N``) or on
a running Dask scheduler (``scheduler="tcp://..."``). A task is sent its window's arrays only:
from a loaded :class:`reach.build.Region` a slice of the friction, from a scenario file nothing
but two bit masks — the worker reads the land cover and elevation under its window itself
(:mod:`reach.partition_io`). The coordinator keeps the population, zones and the merged
results of the whole grid (about 64 bytes per cell plus 13 per service).

Only the baseline is partitioned; alternatives are evaluated on a loaded region as before.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from reach.build import (
    BYTES_PER_RAW_CELL,
    Clock,
    Region,
    check_memory,
    mode_profile,
    read_region_inputs,
)
from reach.engine.combined import (
    REASON_BARRIER,
    REASON_BEYOND_LIMIT,
    REASON_NO_DATA,
    REASON_NO_ROUTE,
    REASON_REACHED,
    REASON_WATER,
    STATUS_BARRIER,
    STATUS_NO_DATA,
    STATUS_PASSABLE,
    STATUS_WATER,
    SearchResult,
)
from reach.errors import ResourceLimitError, ScenarioError
from reach.model.grid import AnalysisGrid, Friction
from reach.model.network import build_network
from reach.model.snap import snap_to_passable
from reach.partition_io import FileFriction, Rect, pack_mask, whole_grid_tiles
from reach.partition_survey import (
    Links,
    ModeNetwork,
    Survey,
    halo_for,
    link_components,
    merge_survey_tiles,
    mode_network,
    reach_rates,
    survey_friction,
    survey_tile,
)
from reach.partition_window import (
    CoreResult,
    Exports,
    FileWindow,
    ModeWindow,
    Seeds,
    ServiceWindow,
    WindowStats,
    WindowTask,
    continue_window,
    finish_window,
    start_window,
)
from reach.scenario import Scenario

if TYPE_CHECKING:
    from reach.pipeline import Evaluation

__all__ = [
    "BYTES_PER_WINDOW_CELL",
    "BYTES_PER_WINDOW_CELL_PER_SERVICE",
    "COORDINATOR_BYTES_PER_CELL",
    "DEFAULT_TILE_CELLS",
    "Partition",
    "PartitionPlan",
    "PartitionedRun",
    "plan_partitions",
    "run_partitioned",
]

_log = logging.getLogger("reach.partition")

#: Default cells per tile (2,000 × 2,000, about 1.3 GB per task at its peak).
DEFAULT_TILE_CELLS = 4_000_000
#: Peak bytes per window cell of a task (friction build, search graph, engine arrays),
#: measured on the 100-million-cell demo (``benchmarks/partition.py``) and rounded up.
BYTES_PER_WINDOW_CELL = 200
#: More bytes per window cell for each service searched (its times, catchments, reasons).
BYTES_PER_WINDOW_CELL_PER_SERVICE = 40
#: Bytes per grid cell the coordinator keeps (population, zones, components, owners, and the
#: coverage table's work arrays), besides :data:`COORDINATOR_BYTES_PER_CELL_PER_SERVICE`.
COORDINATOR_BYTES_PER_CELL = 64
#: Bytes per grid cell and service of the merged results (time, catchment, reason).
COORDINATOR_BYTES_PER_CELL_PER_SERVICE = 13

PartitionBy = Literal["auto", "islands", "tiles", "zones"]
ExecutorKind = Literal["local", "dask"]
StepCallback = Callable[[str], None]
_RING = 2  # a knight's move: the farthest a walking move reaches
_CHUNK = 8_000_000  # cells per slice when the coordinator walks the whole grid


# --------------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------------


class _Local:
    """Runs every task at once in this process."""

    workers = 1

    def put(self, obj: Any) -> Any:
        return obj

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def submit_on(self, holder: Any, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(holder, *args)

    def settle(self, handles: Iterable[Any]) -> None:
        return None

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        return list(handles)

    def close(self) -> None:
        return None


def _item(pair: tuple[Any, ...], k: int) -> Any:
    return pair[k]


class _Dask:
    """Runs tasks on a Dask cluster: a new local one, or the one behind a scheduler address."""

    def __init__(self, *, workers: int | None, scheduler: str | None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ScenarioError(
                "a Dask run needs dask.distributed, which is not installed",
                fix="pip install 'reach[dask]' (or run without workers / scheduler)",
            ) from exc
        level = quiet_dask_logs()
        self.cluster: Any = None
        if scheduler:
            check_scheduler_address(scheduler)
            self.client = Client(scheduler, timeout=f"{SCHEDULER_CONNECT_TIMEOUT_S * 3:g}s")
        else:
            self.cluster = LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=level,
            )
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def put(self, obj: Any) -> Any:
        # in a list: a dict would be scattered value by value, under its keys as Dask keys
        return self.client.scatter([obj], hash=False)[0]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def submit_on(self, holder: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(holder, ...)`` on the worker that holds ``holder`` (a partition's state):
        moving a state to an idle worker would hold it twice for nothing."""
        where = list(self.client.who_has([holder]).get(holder.key, ()))
        if not where:
            return self.submit(fn, holder, *args)
        return self.client.submit(
            fn, holder, *args, pure=False, workers=where, allow_other_workers=False
        )

    def settle(self, handles: Iterable[Any]) -> None:
        from dask.distributed import wait

        wait(list(handles))

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        from concurrent.futures import CancelledError

        from dask.distributed import KilledWorker

        try:
            return list(self.client.gather(list(handles)))
        except (CancelledError, KilledWorker) as exc:
            # a partition's state lives on one worker between rounds: losing it ends the run
            raise ResourceLimitError(
                f"a Dask worker was lost during the partitioned run ({type(exc).__name__})",
                fix="give each worker more memory (its limit must hold the partitions it keeps "
                "between rounds), or use smaller tiles (tile_cells), and run again",
            ) from exc

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _executor(
    executor: ExecutorKind | None, workers: int | None, scheduler: str | None
) -> _Local | _Dask:
    if executor is None:
        executor = "dask" if (workers or scheduler) else "local"
    if executor == "local":
        if scheduler:
            raise ScenarioError(
                "a scheduler address needs the Dask executor", fix="drop executor='local'"
            )
        return _Local()
    if executor != "dask":
        raise ScenarioError(f"unknown executor {executor!r}", fix="use 'local' or 'dask'")
    if workers is not None:
        check_workers(workers)
    return _Dask(workers=workers, scheduler=scheduler)


#: The loggers of Dask that a run keeps at warning level (unless reach's own log is at debug).
DASK_LOGGERS = ("distributed", "dask", "bokeh", "tornado")
#: Seconds a probe of a scheduler's address waits for the connection.
SCHEDULER_CONNECT_TIMEOUT_S = 3.0
#: Ways to partition a region.
PARTITION_BY = ("auto", "islands", "tiles", "zones")
#: The smallest tile, in cells (an 8 × 8 square).
MIN_TILE_CELLS = 64
#: The largest tile, in cells.
MAX_TILE_CELLS = 10**12


def max_workers() -> int:
    """The most workers a new local cluster may have: four per core, at least 4."""
    return max(4, 4 * (os.cpu_count() or 1))


def quiet_dask_logs() -> int:
    """Keep Dask's loggers at warning level (debug when reach's own logger is at debug).

    Dask sets its loggers to info when it is imported, so call this after importing it.
    Returns the level set.
    """
    debug = logging.getLogger("reach").isEnabledFor(logging.DEBUG)
    level = logging.DEBUG if debug else logging.WARNING
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def check_workers(workers: object, *, option: str = "workers") -> int:
    """``workers`` if it is a whole number from 1 to :func:`max_workers`.

    Raises
    ------
    ScenarioError
        Naming the option, the value and a fix.
    """
    from reach.metrics import check_count

    return check_count(option, workers, upper=max_workers())


def check_partition_options(
    by: object,
    tile_cells: object = None,
    halo_cells: object = None,
    *,
    by_option: str = "by",
    tile_option: str = "tile_cells",
) -> None:
    """Refuse an unknown way to partition, or a tile or halo size out of range, up front.

    Raises
    ------
    ScenarioError
        Naming the option, the value and a fix (a tile is never silently enlarged).
    """
    from reach.metrics import check_count

    if by not in PARTITION_BY:
        raise ScenarioError(
            f"{by_option} {by!r} is not a known partitioning", fix=f"use {', '.join(PARTITION_BY)}"
        )
    if tile_cells is not None:
        check_count(tile_option, tile_cells, lower=MIN_TILE_CELLS, upper=MAX_TILE_CELLS)
    if halo_cells is not None:
        check_count("halo_cells", halo_cells, lower=0, upper=MAX_TILE_CELLS)


_ADDRESS = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})/?"
)


def check_scheduler_address(address: object, *, option: str = "scheduler") -> str:
    """``address`` if it is ``tcp://host:port`` (or ``tls://``) and something listens there.

    A plain TCP connection is tried, for at most :data:`SCHEDULER_CONNECT_TIMEOUT_S` seconds,
    before any cluster is contacted.

    Raises
    ------
    ScenarioError
        On a malformed address, or when nothing answers at it.
    """
    fix = "give the address of a running Dask scheduler, e.g. tcp://scheduler:8786"
    text = address if isinstance(address, str) else ""
    m = _ADDRESS.fullmatch(text.strip())
    if m is None or (m["scheme"] or "tcp") not in ("tcp", "tls"):
        raise ScenarioError(f"{option} {address!r} is not an address like tcp://host:8786", fix=fix)
    host, port = m["host"].strip("[]"), int(m["port"])
    if not 1 <= port <= 65535:
        raise ScenarioError(f"{option} {address!r}: port {port} is out of range", fix=fix)
    try:
        with socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ScenarioError(
            f"{option} {text}: no Dask scheduler answers there ({why})",
            fix="start the scheduler (`dask scheduler`), check the host and port, "
            "or run with --workers N for a local cluster",
        ) from None
    return text.strip()


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Inputs:
    """What the coordinator holds: everything of a region but its friction."""

    scenario: Scenario
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


def coordinator_bytes(scn: Scenario, rows: int, cols: int) -> int:
    """Memory the coordinator of a partitioned run needs for a ``rows`` × ``cols`` raster."""
    factor = scn.grid.aggregate_factor
    cells = -(-rows // factor) * -(-cols // factor)
    per_cell = COORDINATOR_BYTES_PER_CELL + COORDINATOR_BYTES_PER_CELL_PER_SERVICE * len(
        scn.services
    )
    return rows * cols * BYTES_PER_RAW_CELL + cells * per_cell


def _inputs_from_region(region: Region) -> _Inputs:
    return _Inputs(
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
    )


def _inputs_from_scenario(scn: Scenario, clock: Clock) -> _Inputs:
    """Read everything but the friction (which the workers build window by window)."""
    inputs = read_region_inputs(
        scn,
        clock=clock,
        max_cells=lambda r, c: check_memory(
            scn, r, c, estimate=coordinator_bytes, what="the coordinator of a partitioned run"
        ),
    )
    pop, raster_total, grid = inputs.population, inputs.raster_total, inputs.grid
    zones, zone, roads, facilities = inputs.zones, inputs.zone, inputs.roads, inputs.facilities
    return _Inputs(
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
    )


# --------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """One partition of a plan.

    Attributes
    ----------
    index
        Its number.
    kind
        ``"islands"`` (whole islands, closed), ``"island"``, ``"tile"`` or ``"zone"``.
    rect
        Its window on the grid, ``(row0, row1, col0, col1)``, halo included.
    core_rect
        The bounding box of its core cells.
    core_cells
        Passable cells it owns.
    population
        People in the cells it owns.
    facilities
        Facilities per service whose cell it owns.
    nodes
        Network nodes it owns, all modes.
    halo_rows, halo_cols
        Its halo in cells (0 for whole islands).
    exchange
        Whether it exchanges edge times with its neighbours in rounds.
    memory_bytes
        Estimated peak memory of its task.
    """

    index: int
    kind: str
    rect: Rect
    core_rect: Rect
    core_cells: int
    population: float
    facilities: dict[str, int]
    nodes: int
    halo_rows: int
    halo_cols: int
    exchange: bool
    memory_bytes: int

    @property
    def window_cells(self) -> int:
        """Cells of its window."""
        r0, r1, c0, c1 = self.rect
        return (r1 - r0) * (c1 - c0)


@dataclass(eq=False)
class PartitionPlan:
    """How a region is split, and everything the coordinator learnt doing it.

    Attributes
    ----------
    scenario, grid
        The scenario and its analysis grid.
    by, tile_cells
        How it was split.
    exact_halo
        ``(rows, cols)`` a window needs around its core so that no path within the time limit
        leaves it (``max_travel_time_min`` × the fastest rows / columns per minute, + 4).
    halo
        The halo the cut islands' tiles use.
    exchange
        Whether those tiles exchange edge times in rounds (their halo is narrower than exact).
    partitions
        The partitions.
    survey, links, networks
        Components, islands and routes, and each mode's network placed on the grid.
    owner
        ``int32`` (rows, cols): the partition owning each cell, ``-1`` for none.
    facilities
        Each service's facilities with their snapped grid cell (``cell``, ``-1`` off the grid).
    node_owner
        Per mode, ``int64``: the partition owning each network node, ``-1`` for none.
    split_islands
        ``bool`` per island: owned by more than one partition.
    rates
        The fastest ``(rows, cols)`` per minute of any step of a path.
    idle_population
        People on islands with no facility of any service (no search needed).
    timings_s
        Seconds per planning step.
    """

    scenario: Scenario
    grid: AnalysisGrid
    by: str
    tile_cells: int
    exact_halo: tuple[float, float]
    halo: tuple[int, int]
    exchange: bool
    partitions: list[Partition]
    survey: Survey
    links: Links
    networks: dict[str, ModeNetwork]
    owner: np.ndarray
    facilities: dict[str, gpd.GeoDataFrame]
    node_owner: dict[str, np.ndarray]
    split_islands: np.ndarray
    rates: tuple[float, float]
    idle_population: float
    timings_s: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per partition: window, core, people, facilities, halo, memory."""
        rows = []
        for p in self.partitions:
            r0, r1, c0, c1 = p.rect
            rows.append(
                {
                    "partition": p.index,
                    "kind": p.kind,
                    "row0": r0,
                    "row1": r1,
                    "col0": c0,
                    "col1": c1,
                    "window_cells": p.window_cells,
                    "core_cells": p.core_cells,
                    "population": p.population,
                    "facilities": sum(p.facilities.values()),
                    "nodes": p.nodes,
                    "halo_rows": p.halo_rows,
                    "halo_cols": p.halo_cols,
                    "exchange": p.exchange,
                    "memory_mb": p.memory_bytes / 2**20,
                }
            )
        return pd.DataFrame(rows)

    def describe(self) -> str:
        """A printable summary and table (for ``reach plan``)."""
        t = self.table()
        eh = ", ".join(
            "unbounded" if not math.isfinite(h) else f"{h:,.0f}" for h in self.exact_halo
        )
        head = [
            f"{self.scenario.scenario.name}: {self.grid.rows:,} × {self.grid.cols:,} cells, "
            f"{self.survey.n_components:,} components in "
            f"{len(np.unique(self.links.island_of_component[1:])):,} islands "
            f"({int(self.split_islands.sum())} cut into tiles)",
            f"partitions: {len(self.partitions)} by {self.by} (tile {self.tile_cells:,} cells); "
            f"exact halo (rows, cols) {eh} from {self.scenario.grid.max_travel_time_min:g} min × "
            f"{self.rates[0]:.2f} rows/min, {self.rates[1]:.2f} cols/min",
            (
                "no island is cut: every partition holds whole islands"
                if not self.split_islands.any()
                else f"cut islands: halo {self.halo[0]} × {self.halo[1]} cells, "
                + ("times exchanged in rounds" if self.exchange else "exact, no exchange")
            ),
            f"people in cells no partition owns (islands with no facility, impassable cells): "
            f"{self.idle_population:,.0f}",
        ]
        if len(t):
            held = t.loc[t["exchange"], "window_cells"].sum() * held_bytes_per_cell(
                len(self.scenario.services)
            )
            head.append(
                f"largest task: {t['window_cells'].max():,} window cells, "
                f"{t['memory_mb'].max():,.0f} MB; all windows {t['window_cells'].sum():,} cells"
                + (
                    f"; between exchange rounds the workers hold {held / 2**30:,.2f} GiB in all"
                    if held
                    else ""
                )
            )
        return "\n".join(head) + "\n" + t.to_string(index=False, float_format=lambda v: f"{v:,.1f}")


def _tile_side(tile_cells: int) -> int:
    return max(8, math.isqrt(max(int(tile_cells), 64)))


def _survey(inputs: _Inputs, ex: _Local | _Dask, side: int) -> Survey:
    if inputs.region is not None:
        return survey_friction(inputs.region.friction)
    reader = FileFriction(inputs.scenario, inputs.grid)
    handles = []
    for rect in whole_grid_tiles(inputs.grid.shape, side):
        r0, r1, c0, c1 = rect
        payload = FileWindow(
            reader=reader,
            valid_bits=pack_mask(inputs.valid[r0:r1, c0:c1]),
            populated_bits=pack_mask(inputs.people[r0:r1, c0:c1] > 0),
        )
        handles.append(ex.submit(_survey_task, rect, ex.put(payload)))
    return merge_survey_tiles(ex.gather(handles), inputs.grid.shape)


def _survey_task(rect: Rect, payload: FileWindow) -> Any:
    return survey_tile(rect[0], rect[2], payload.build(rect))


def _snap(fac: gpd.GeoDataFrame, grid: AnalysisGrid, passable: np.ndarray) -> gpd.GeoDataFrame:
    """The facilities with their cell, as the pipeline's searcher snaps them."""
    pts = fac.to_crs(grid.crs).geometry
    out = fac.copy()
    out["cell"] = snap_to_passable(pts.x.to_numpy(), pts.y.to_numpy(), grid, passable)
    return out


def _component_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """``int64`` (n + 1, 4): row0, row1, col0, col1 of each component (row 0 unused)."""
    boxes = np.zeros((n + 1, 4), dtype=np.int64)
    for k, sl in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        if sl is not None:
            boxes[k] = (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
    return boxes


def _island_boxes(boxes: np.ndarray, island: np.ndarray, n_islands: int) -> np.ndarray:
    out = np.empty((n_islands, 4), dtype=np.int64)
    out[:, 0] = out[:, 2] = np.iinfo(np.int64).max
    out[:, 1] = out[:, 3] = -1
    k = np.flatnonzero(island >= 0)
    isl = island[k]
    np.minimum.at(out[:, 0], isl, boxes[k, 0])
    np.maximum.at(out[:, 1], isl, boxes[k, 1])
    np.minimum.at(out[:, 2], isl, boxes[k, 2])
    np.maximum.at(out[:, 3], isl, boxes[k, 3])
    return out


def _strips(rows: int, cols: int, cells: int = 8_000_000) -> Iterable[tuple[int, int]]:
    step = max(1, cells // max(cols, 1))
    for r in range(0, rows, step):
        yield r, min(r + step, rows)


def _owners(
    inputs: _Inputs,
    survey: Survey,
    links: Links,
    active: np.ndarray,
    *,
    by: PartitionBy,
    side: int,
    tile_cells: int,
) -> tuple[np.ndarray, list[str]]:
    """The owner of every cell (``-1`` none) and each partition's kind."""
    grid = inputs.grid
    rows, cols = grid.shape
    n_tile_cols = -(-cols // side)
    n_tiles = -(-rows // side) * n_tile_cols
    comp_island = links.island_of_component
    boxes = _island_boxes(
        _component_boxes(survey.labels, survey.n_components), comp_island, links.n_islands
    )
    area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
    centre_tile = ((boxes[:, 0] + boxes[:, 1]) // 2 // side) * n_tile_cols + (
        (boxes[:, 2] + boxes[:, 3]) // 2 // side
    )
    big = area > tile_cells
    n_keys: int
    zone_big = np.zeros(1, dtype=bool)
    if by == "islands":
        n_keys = links.n_islands
    elif by == "zones":
        n_zones = len(inputs.zones)
        zb = np.zeros((n_zones + 1, 4), dtype=np.int64)
        for k, sl in enumerate(ndimage.find_objects(inputs.zone, max_label=n_zones), start=1):
            if sl is not None:
                zb[k] = (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
        zone_big = (zb[:, 1] - zb[:, 0]) * (zb[:, 3] - zb[:, 2]) > tile_cells
        zone_big[0] = True  # cells outside every zone: by tile
        n_keys = (n_zones + 1) * n_tiles
    else:
        n_keys = n_tiles
    counts = np.zeros(n_keys, dtype=np.int64)
    opened = np.zeros(n_keys, dtype=bool)  # keys holding cells of a cut island

    def keys_of(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lab = survey.labels[r0:r1]
        isl = comp_island[lab]
        act = (lab > 0) & active[np.maximum(isl, 0)]
        rr, cc = np.nonzero(act)
        isl = isl[rr, cc]
        tile = ((rr + r0) // side) * n_tile_cols + cc // side
        if by == "islands":
            key = isl
        elif by == "tiles":
            key = tile
        elif by == "zones":
            z = inputs.zone[r0:r1][rr, cc].astype(np.int64)
            key = z * n_tiles + np.where(zone_big[z], tile, 0)
        else:
            key = np.where(big[isl], tile, centre_tile[isl])
        flat = (rr + r0) * cols + cc
        return flat, key, isl

    for r0, r1 in _strips(rows, cols):
        _, key, isl = keys_of(r0, r1)
        counts += np.bincount(key, minlength=n_keys)
        if by == "auto":
            opened[key[big[isl]]] = True
    used = np.flatnonzero(counts)
    ids = np.full(n_keys, -1, dtype=np.int32)
    ids[used] = np.arange(len(used), dtype=np.int32)
    owner = np.full(rows * cols, -1, dtype=np.int32)
    for r0, r1 in _strips(rows, cols):
        flat, key, _ = keys_of(r0, r1)
        owner[flat] = ids[key]
    fixed = {"islands": "island", "tiles": "tile", "zones": "zone"}.get(by)
    kinds = [fixed or ("tile" if opened[k] else "islands") for k in used]
    return owner.reshape(rows, cols), kinds


def _node_owners(owner_flat: np.ndarray, mn: ModeNetwork) -> np.ndarray:
    """The partition of each node: its cell's, or for a node with none, a linked node's."""
    net = mn.network
    own = np.full(net.n_nodes, -1, dtype=np.int64)
    has = mn.node_cell >= 0
    own[has] = owner_flat[mn.node_cell[has]]
    cellless = ~has
    if not cellless.any() or net.n_edges == 0:
        return own
    e = cellless[net.src] | cellless[net.dst]
    a, b = net.src[e], net.dst[e]
    ends = np.concatenate([a, b])
    seeds = np.unique(ends[~cellless[ends]])
    seeds = seeds[own[seeds] >= 0]
    if seeds.size == 0:
        return own
    n = net.n_nodes
    graph = sparse.csr_matrix(
        (
            np.ones(2 * len(a) + len(seeds), dtype=np.int8),
            (np.concatenate([a, b, np.full(len(seeds), n)]), np.concatenate([b, a, seeds])),
        ),
        shape=(n + 1, n + 1),
    )
    order, pred = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=True)
    for v in order[1:]:
        if own[v] < 0:
            own[v] = own[pred[v]]
    return own


def _partition_islands(
    owner: np.ndarray, labels: np.ndarray, comp_island: np.ndarray, n: int, n_islands: int
) -> tuple[list[Any], list[np.ndarray]]:
    """Each partition's bounding box, and the islands among its cells."""
    slices = ndimage.find_objects(owner + 1, max_label=n)
    present: list[np.ndarray] = []
    for k, sl in enumerate(slices):
        if sl is None:
            present.append(np.empty(0, np.int64))
            continue
        core = owner[sl] == k
        isl = comp_island[labels[sl][core]]
        present.append(np.flatnonzero(np.bincount(isl, minlength=n_islands)))
    return slices, present


def plan_partitions(
    source: Scenario | Region,
    *,
    by: PartitionBy = "auto",
    tile_cells: int | None = None,
    halo_cells: int | None = None,
    executor: ExecutorKind | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    on_step: StepCallback | None = None,
) -> PartitionPlan:
    """Split a region into partitions (see the module docstring) without searching it.

    Parameters
    ----------
    source
        A loaded region (its friction is sliced), or a scenario (its friction is built tile by
        tile by the executor's workers, never whole).
    by
        ``"auto"``, ``"islands"``, ``"tiles"`` or ``"zones"``.
    tile_cells
        Cells per tile (default :data:`DEFAULT_TILE_CELLS`); islands larger than this are cut.
    halo_cells
        Halo of the cut islands' tiles. Default: the exact halo when it is at most half a tile,
        else 2 cells and exchange rounds. A halo narrower than exact always exchanges.
    executor, workers, scheduler
        Where the survey of a scenario's tiles runs (as in :func:`run_partitioned`).
    on_step
        Called with the name of each step as it starts.

    Returns
    -------
    PartitionPlan
        The partitions (``plan.table()`` / ``plan.describe()`` for a printable table).
    """
    check_partition_options(by, tile_cells, halo_cells)
    ex = _executor(executor, workers, scheduler)
    try:
        return _plan(source, ex, by=by, tile_cells=tile_cells, halo_cells=halo_cells,
                     clock=Clock(on_step))  # fmt: skip
    finally:
        ex.close()


def _plan(
    source: Scenario | Region,
    ex: _Local | _Dask,
    *,
    by: PartitionBy,
    tile_cells: int | None,
    halo_cells: int | None,
    clock: Clock,
    inputs: _Inputs | None = None,
) -> PartitionPlan:
    check_partition_options(by, tile_cells, halo_cells)
    if inputs is None:
        inputs = (
            _inputs_from_region(source)
            if isinstance(source, Region)
            else _inputs_from_scenario(source, clock)
        )
    scn = inputs.scenario
    grid = inputs.grid
    tile_cells = int(tile_cells or DEFAULT_TILE_CELLS)
    side = _tile_side(tile_cells)
    with clock.step("partition: survey"):
        survey = _survey(inputs, ex, side)
        passable = survey.passable
    with clock.step("partition: networks"):
        networks: dict[str, ModeNetwork] = {}
        for mode in dict.fromkeys(s.mode for s in scn.services):
            net = build_network(
                inputs.roads,
                grid,
                profile=mode_profile(scn, mode),
                ferry_wait_min=scn.ferries.headway_min / 2.0,
            )
            networks[mode] = mode_network(net, grid, passable)
        facilities = {
            s.name: _snap(inputs.facilities[s.name], grid, passable) for s in scn.services
        }
        del passable
    limit = scn.grid.max_travel_time_min
    with clock.step("partition: islands"):
        cells = {s.name: (s.mode, facilities[s.name]["cell"].to_numpy()) for s in scn.services}
        links = link_components(
            survey.labels, survey.n_components, networks, max_time_min=limit, facility_cells=cells
        )
        active = np.zeros(links.n_islands, dtype=bool)
        lab_flat = survey.labels.ravel()
        for _, fc in cells.values():
            comp = lab_flat[fc[fc >= 0]]
            active[links.island_of_component[comp[comp > 0]]] = True
        rates = reach_rates(
            grid,
            min_pace_min_per_m=survey.min_pace_min_per_m,
            slope=survey.slope,
            networks=list(networks.values()),
        )
        exact = halo_for(limit, rates)
    with clock.step("partition: owners"):
        owner, kinds = _owners(
            inputs, survey, links, active, by=by, side=side, tile_cells=tile_cells
        )
        n_parts = len(kinds)
        slices, present = _partition_islands(
            owner, survey.labels, links.island_of_component, n_parts, links.n_islands
        )
        spread = np.bincount(
            np.concatenate(present) if present else np.empty(0, np.int64),
            minlength=links.n_islands,
        )
        split = spread > 1
        owner_flat = owner.ravel()
        node_owner = {m: _node_owners(owner_flat, mn) for m, mn in networks.items()}
    exact_max = max(exact)
    if halo_cells is None:
        exchange = not (math.isfinite(exact_max) and exact_max <= side // 2)
        halo = (_RING, _RING) if exchange else (int(exact[0]), int(exact[1]))
    else:
        h = max(int(halo_cells), _RING)
        exchange = not (math.isfinite(exact_max) and h >= exact_max)
        halo = (h, h)
    with clock.step("partition: table"):
        n_serv = len(scn.services)
        pop_of = np.zeros(n_parts)
        idle = 0.0
        for r0, r1 in _strips(*grid.shape):
            ow = owner[r0:r1].ravel()
            ppl = inputs.people[r0:r1].ravel()
            hit = ow >= 0
            pop_of += np.bincount(ow[hit], weights=ppl[hit], minlength=n_parts)
            idle += float(ppl[~hit].sum())
        fac_of = {
            s: np.bincount(owner_flat[fc[fc >= 0]][owner_flat[fc[fc >= 0]] >= 0], minlength=n_parts)
            for s, (_, fc) in cells.items()
        }
        nodes_of = sum(
            (np.bincount(o[o >= 0], minlength=n_parts) for o in node_owner.values()),
            start=np.zeros(n_parts, dtype=np.int64),
        )
        parts: list[Partition] = []
        for k in range(n_parts):
            sl = slices[k]
            core_rect = (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
            is_open = bool(split[present[k]].any())
            hr, hc = halo if is_open else (0, 0)
            rect = (
                max(core_rect[0] - hr, 0),
                min(core_rect[1] + hr, grid.rows),
                max(core_rect[2] - hc, 0),
                min(core_rect[3] + hc, grid.cols),
            )
            core_n = int(np.count_nonzero(owner[sl] == k))
            window_n = (rect[1] - rect[0]) * (rect[3] - rect[2])
            parts.append(
                Partition(
                    index=k,
                    kind=kinds[k],
                    rect=rect,
                    core_rect=core_rect,
                    core_cells=core_n,
                    population=float(pop_of[k]),
                    facilities={s: int(v[k]) for s, v in fac_of.items()},
                    nodes=int(nodes_of[k]),
                    halo_rows=hr,
                    halo_cols=hc,
                    exchange=is_open and exchange,
                    memory_bytes=task_memory_bytes(window_n, n_serv),
                )
            )
    return PartitionPlan(
        scenario=scn,
        grid=grid,
        by=by,
        tile_cells=tile_cells,
        exact_halo=exact,
        halo=halo,
        exchange=exchange,
        partitions=parts,
        survey=survey,
        links=links,
        networks=networks,
        owner=owner,
        facilities=facilities,
        node_owner=node_owner,
        split_islands=split,
        rates=rates,
        idle_population=idle,
        timings_s=clock.timings,
    )


def held_bytes_per_cell(n_services: int) -> int:
    """Bytes per window cell a worker keeps between exchange rounds (pace, elevation, and per
    service the times and catchments)."""
    return 16 + 12 * n_services


def task_memory_bytes(window_cells: int, n_services: int) -> int:
    """Estimated peak memory of one partition's task on its worker."""
    per_cell = BYTES_PER_WINDOW_CELL + BYTES_PER_WINDOW_CELL_PER_SERVICE * n_services
    return int(window_cells * per_cell)


# --------------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------------


def _local_cells(rect: Rect, flat: np.ndarray, grid_cols: int) -> np.ndarray:
    """Window numbers of global cells (``-1`` outside the window)."""
    r0, r1, c0, c1 = rect
    r, c = np.divmod(np.asarray(flat, dtype=np.int64), grid_cols)
    inside = (flat >= 0) & (r >= r0) & (r < r1) & (c >= c0) & (c < c1)
    return np.where(inside, (r - r0) * (c1 - c0) + (c - c0), -1)


@dataclass(eq=False)
class _Rings:
    """Cells next to each exchanging partition's core, and what each partition exports."""

    ring_local: dict[int, np.ndarray]
    ring_ids: dict[int, np.ndarray]
    export_ids: dict[int, np.ndarray]


def _rings(plan: PartitionPlan) -> _Rings:
    grid = plan.grid
    owner = plan.owner
    comp_island = plan.links.island_of_component
    labels = plan.survey.labels
    foot = np.ones((2 * _RING + 1, 2 * _RING + 1), dtype=bool)
    ring_local: dict[int, np.ndarray] = {}
    ring_ids: dict[int, np.ndarray] = {}
    pairs_id: list[np.ndarray] = []
    pairs_owner: list[np.ndarray] = []
    for p in plan.partitions:
        if not p.exchange:
            continue
        r0, r1, c0, c1 = p.rect
        ow = owner[r0:r1, c0:c1]
        core = ow == p.index
        isl = comp_island[labels[r0:r1, c0:c1]]
        cut = (ow >= 0) & plan.split_islands[np.maximum(isl, 0)]
        ring = ndimage.binary_dilation(core, structure=foot) & ~core & cut
        local = np.flatnonzero(ring.ravel())
        ids = _global_of(p.rect, local, grid.cols)
        ring_local[p.index] = local
        ring_ids[p.index] = ids
        pairs_id.append(ids)
        pairs_owner.append(ow.ravel()[local].astype(np.int64))
    export_ids: dict[int, np.ndarray] = {}
    if pairs_id:
        ids = np.concatenate(pairs_id)
        own = np.concatenate(pairs_owner)
        for q in np.unique(own):
            export_ids[int(q)] = np.unique(ids[own == q])
    return _Rings(ring_local=ring_local, ring_ids=ring_ids, export_ids=export_ids)


def _global_of(rect: Rect, local: np.ndarray, grid_cols: int) -> np.ndarray:
    r0, _, c0, c1 = rect
    r, c = np.divmod(np.asarray(local, dtype=np.int64), c1 - c0)
    return (r + r0) * grid_cols + (c + c0)


@dataclass(eq=False)
class _ModeIndex:
    """A mode's nodes and edges sorted once, so that each partition costs only its own part."""

    by_owner: np.ndarray  # node ids sorted by owner
    owner_starts: np.ndarray  # by_owner[owner_starts[k]:owner_starts[k + 1]]: owner k's nodes
    by_row: np.ndarray  # owned node ids sorted by anchor row
    rows_sorted: np.ndarray  # their anchor rows
    anchor_col: np.ndarray  # anchor column of every node
    cross: np.ndarray  # edges within the limit between nodes of two partitions
    cross_src_owner: np.ndarray
    cross_dst_owner: np.ndarray

    @classmethod
    def of(cls, plan: PartitionPlan, mode: str) -> _ModeIndex:
        mn = plan.networks[mode]
        net = mn.network
        own = plan.node_owner[mode]
        by_owner = np.argsort(own, kind="stable")
        starts = np.searchsorted(own[by_owner], np.arange(len(plan.partitions) + 1))
        rows, cols = np.divmod(mn.anchor, plan.grid.cols)
        owned = np.flatnonzero(own >= 0)
        by_row = owned[np.argsort(rows[owned], kind="stable")]
        so, do = own[net.src], own[net.dst]
        cross = np.flatnonzero(
            (net.time_min <= plan.scenario.grid.max_travel_time_min)
            & (so != do)
            & (so >= 0)
            & (do >= 0)
        )
        return cls(
            by_owner=by_owner,
            owner_starts=starts,
            by_row=by_row,
            rows_sorted=rows[by_row],
            anchor_col=cols,
            cross=cross,
            cross_src_owner=so[cross],
            cross_dst_owner=do[cross],
        )


def _in_edges(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Indices of the edges into ``nodes`` (edges sorted by their end, CSR offsets)."""
    first = indptr[nodes]
    counts = indptr[nodes + 1] - first
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return shift + np.arange(total, dtype=np.int64)


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in ``sorted_ids``, ``-1`` where absent."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def _mode_window(
    plan: PartitionPlan,
    part: Partition,
    mode: str,
    index: _ModeIndex,
    n_window: int,
    portal_base: int,
) -> tuple[ModeWindow, int]:
    """A mode's network inside a partition's window; returns it and the portals it used."""
    mn = plan.networks[mode]
    net = mn.network
    k = part.index
    grid = plan.grid
    core_nodes = np.sort(index.by_owner[index.owner_starts[k] : index.owner_starts[k + 1]])
    if part.halo_rows or part.halo_cols:
        r0, r1, c0, c1 = part.rect
        a, b = np.searchsorted(index.rows_sorted, [r0, r1])
        near = index.by_row[a:b]
        col = index.anchor_col[near]
        window_nodes = np.union1d(core_nodes, near[(col >= c0) & (col < c1)])
    else:
        window_nodes = core_nodes
    if part.exchange:
        seed_ids = np.unique(net.dst[index.cross[index.cross_src_owner == k]])
        export_ids = np.unique(net.dst[index.cross[index.cross_dst_owner == k]])
    else:
        seed_ids = export_ids = np.empty(0, np.int64)
    ghosts = np.setdiff1d(seed_ids, window_nodes, assume_unique=True)
    n_w, n_g, n_s, n_e = len(window_nodes), len(ghosts), len(seed_ids), len(export_ids)
    n_local = n_w + n_g + n_s + n_e

    def local(ids: np.ndarray) -> np.ndarray:
        in_w = _lookup(window_nodes, ids)
        in_g = _lookup(ghosts, ids)
        return np.where(in_w >= 0, in_w, np.where(in_g >= 0, n_w + in_g, -1))

    node_cell = np.full(n_local, -1, dtype=np.int64)
    node_cell[:n_w] = _local_cells(part.rect, mn.node_cell[window_nodes], grid.cols)
    node_cell[n_w + n_g : n_w + n_g + n_s] = n_window + portal_base + np.arange(n_s)
    node_cell[n_w + n_g + n_s :] = n_window + portal_base + n_s + np.arange(n_e)
    connector = np.full(n_local, np.inf)
    connector[:n_w] = mn.connector_m[window_nodes]
    # edges among window and ghost nodes (in the network's order), then the portals' edges
    edges = _in_edges(net.rev_indptr, np.concatenate([window_nodes, ghosts]))
    ls = local(net.src[edges])
    keep = ls >= 0
    edges, ls = edges[keep], ls[keep]
    ld = local(net.dst[edges])
    portal_nodes = n_w + n_g + np.arange(n_s)
    shadow_nodes = n_w + n_g + n_s + np.arange(n_e)
    src = np.concatenate([ls, local(seed_ids), shadow_nodes])
    dst = np.concatenate([ld, portal_nodes, local(export_ids)])
    cost = np.concatenate([net.time_min[edges], np.zeros(n_s + n_e)])
    order = np.argsort(dst, kind="stable")
    indptr = np.zeros(n_local + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n_local), out=indptr[1:])
    mw = ModeWindow(
        mode=mode,
        node_cell=node_cell,
        connector_m=connector,
        rev_indptr=indptr,
        rev_src=src[order].astype(np.int64),
        rev_cost_min=cost[order].astype(np.float64),
        core_nodes=_lookup(window_nodes, core_nodes),
        core_node_ids=core_nodes.astype(np.int64),
        seed_node_ids=seed_ids.astype(np.int64),
        seed_portals=n_window + portal_base + np.arange(n_s, dtype=np.int64),
        export_node_ids=export_ids.astype(np.int64),
        export_portals=n_window + portal_base + n_s + np.arange(n_e, dtype=np.int64),
    )
    return mw, n_s + n_e


def _task(
    plan: PartitionPlan, part: Partition, rings: _Rings, index: Mapping[str, _ModeIndex]
) -> WindowTask:
    grid = plan.grid
    scn = plan.scenario
    r0, r1, c0, c1 = part.rect
    wr, wc = r1 - r0, c1 - c0
    n_window = wr * wc
    core = plan.owner[r0:r1, c0:c1] == part.index
    modes: dict[str, ModeWindow] = {}
    portals = 0
    for mode in dict.fromkeys(s.mode for s in scn.services):
        mw, used = _mode_window(plan, part, mode, index[mode], n_window, portals)
        modes[mode] = mw
        portals += used
    portal_rows = -(-portals // wc) if portals else 0
    owner_flat = plan.owner.ravel()
    services = []
    for svc in scn.services:
        cells = plan.facilities[svc.name]["cell"].to_numpy().astype(np.int64)
        local = _local_cells(part.rect, cells, grid.cols)
        mine = local >= 0
        if not part.exchange and not (part.halo_rows or part.halo_cols):
            mine &= owner_flat[np.maximum(cells, 0)] == part.index
        rows = np.flatnonzero(mine)
        services.append(
            ServiceWindow(
                name=svc.name,
                mode=svc.mode,
                seed_cells=local[rows],
                seed_facility=rows.astype(np.int32),
            )
        )
    export_ids = rings.export_ids.get(part.index, np.empty(0, np.int64))
    return WindowTask(
        index=part.index,
        rect=part.rect,
        grid_cols=grid.cols,
        portal_rows=portal_rows,
        core_bits=pack_mask(core),
        dx_m=np.asarray(grid.dx_m[r0:r1], dtype=np.float64),
        dy_m=grid.dy_m,
        neighbours=scn.grid.neighbours,
        max_time_min=scn.grid.max_travel_time_min,
        modes=modes,
        services=tuple(services),
        ring_cells=rings.ring_local.get(part.index, np.empty(0, np.int64)),
        ring_ids=rings.ring_ids.get(part.index, np.empty(0, np.int64)),
        export_cells=_local_cells(part.rect, export_ids, grid.cols),
        export_ids=export_ids,
        exchange=part.exchange,
    )


def _payload(inputs: _Inputs, rect: Rect) -> Friction | FileWindow:
    r0, r1, c0, c1 = rect
    if inputs.region is not None:
        f = inputs.region.friction
        return Friction(
            pace_min_per_m=np.ascontiguousarray(f.pace_min_per_m[r0:r1, c0:c1]),
            status=np.ascontiguousarray(f.status[r0:r1, c0:c1]),
            elevation_m=None
            if f.elevation_m is None
            else np.ascontiguousarray(f.elevation_m[r0:r1, c0:c1]),
        )
    return FileWindow(
        reader=FileFriction(inputs.scenario, inputs.grid),
        valid_bits=pack_mask(inputs.valid[r0:r1, c0:c1]),
        populated_bits=pack_mask(inputs.people[r0:r1, c0:c1] > 0),
    )


# --------------------------------------------------------------------------------------------
# the exchange
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Table:
    """The latest time and catchment of every exchanged vertex of one kind, for one service."""

    ids: np.ndarray
    time_min: np.ndarray
    facility: np.ndarray
    changed: np.ndarray

    @classmethod
    def of(cls, ids: np.ndarray) -> _Table:
        n = len(ids)
        return cls(ids, np.full(n, np.inf), np.full(n, -1, np.int32), np.zeros(n, bool))

    def apply(self, ids: np.ndarray, t: np.ndarray, f: np.ndarray) -> None:
        if len(ids) == 0:
            return
        pos = np.searchsorted(self.ids, ids)
        better = t < self.time_min[pos]
        pos, t, f = pos[better], t[better], f[better]
        self.time_min[pos] = t
        self.facility[pos] = f
        self.changed[pos] = True


def _positions(table_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(table_ids, ids)
    if len(ids) and (pos.max() >= len(table_ids) or not np.array_equal(table_ids[pos], ids)):
        raise AssertionError("a partition needs a value no partition exports")
    return pos


@dataclass(eq=False)
class PartitionedRun:
    """The result of :func:`run_partitioned`.

    Attributes
    ----------
    region
        The region. From a scenario file it holds everything but the friction, which was
        built per window and not kept (``region.friction`` has empty arrays and the whole
        grid's ``populated_water_cells``): enough to write outputs, not to evaluate
        alternatives.
    baseline
        The baseline's evaluation, as :func:`reach.pipeline.evaluate` returns it.
    plan
        The partitions.
    stats
        What each partition's task cost (wall seconds by step, peak memory, rounds).
    rounds
        Exchange rounds run after the first search (0 when every window was exact).
    timings_s
        Seconds per step of the whole run.
    """

    region: Region
    baseline: Evaluation
    plan: PartitionPlan
    stats: list[WindowStats]
    rounds: int
    timings_s: dict[str, float] = field(default_factory=dict)

    def work_table(self) -> pd.DataFrame:
        """Per partition: window and core cells, rounds, seconds and peak memory."""
        rows = []
        for p, s in zip(self.plan.partitions, self.stats, strict=True):
            rows.append(
                {
                    "partition": p.index,
                    "kind": p.kind,
                    "window_cells": p.window_cells,
                    "core_cells": p.core_cells,
                    "rounds": s.rounds,
                    "reached_cells": s.reached_cells,
                    **{f"{k}_s": round(v, 3) for k, v in s.seconds.items()},
                    "peak_rss_mb": s.peak_rss_bytes / 2**20,
                }
            )
        return pd.DataFrame(rows).fillna(0.0)


def run_partitioned(
    source: Scenario | Region,
    *,
    executor: ExecutorKind | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    by: PartitionBy = "auto",
    tile_cells: int | None = None,
    halo_cells: int | None = None,
    plan: PartitionPlan | None = None,
    max_rounds: int = 10_000,
    on_step: StepCallback | None = None,
) -> PartitionedRun:
    """Evaluate a scenario's baseline partition by partition.

    Parameters
    ----------
    source
        A loaded region (each task is sent a slice of its friction; the results equal
        ``evaluate(region)`` bit for bit, catchments up to exact ties), or a scenario (each task
        reads and builds its window's friction; equal to float rounding of the warps).
    executor
        ``"local"`` (in this process; the default without workers or scheduler) or ``"dask"``.
    workers
        Workers of a new local Dask cluster (one thread each).
    scheduler
        Address of a running Dask scheduler (``"tcp://host:8786"``) instead of a new cluster.
    by, tile_cells, halo_cells
        How to partition (see :func:`plan_partitions`).
    plan
        A plan made earlier for this source (skips planning).
    max_rounds
        Stop with an error if the exchange has not settled after this many rounds.
    on_step
        Called with the name of each step as it starts.

    Returns
    -------
    PartitionedRun
        The region, the baseline :class:`reach.pipeline.Evaluation`, the plan and the cost of
        every partition.
    """
    clock = Clock(on_step)
    if plan is None:
        check_partition_options(by, tile_cells, halo_cells)
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ScenarioError(f"max_rounds must be at least 1, not {max_rounds!r}", fix="use 10000")
    ex = _executor(executor, workers, scheduler)
    try:
        inputs = (
            _inputs_from_region(source)
            if isinstance(source, Region)
            else _inputs_from_scenario(source, clock)
        )
        if plan is None:
            plan = _plan(source, ex, by=by, tile_cells=tile_cells, halo_cells=halo_cells,
                         clock=clock, inputs=inputs)  # fmt: skip
        results, stats, rounds = _search(plan, inputs, ex, clock, max_rounds=max_rounds)
    finally:
        ex.close()
    with clock.step("partition: merge"):
        searches = _merge(plan, results)
        del results
    region = inputs.region or _region_without_friction(inputs, plan)
    with clock.step("partition: coverage"):
        baseline = _evaluation(region, plan, searches)
    return PartitionedRun(
        region=region,
        baseline=baseline,
        plan=plan,
        stats=stats,
        rounds=rounds,
        timings_s=clock.timings,
    )


def _search(
    plan: PartitionPlan,
    inputs: _Inputs,
    ex: _Local | _Dask,
    clock: Clock,
    *,
    max_rounds: int,
) -> tuple[list[CoreResult], list[WindowStats], int]:
    scn = plan.scenario
    with clock.step("partition: tasks"):
        rings = _rings(plan)
        index = {m: _ModeIndex.of(plan, m) for m in plan.networks}
        tasks = [_task(plan, p, rings, index) for p in plan.partitions]
    with clock.step("partition: search"):
        started = [
            ex.submit(start_window, ex.put(t), ex.put(_payload(inputs, t.rect))) for t in tasks
        ]
        states = {t.index: ex.submit(_item, h, 0) for t, h in zip(tasks, started, strict=True)}
        exports: list[Exports] = ex.gather(ex.submit(_item, h, 1) for h in started)
        del started
        ex.settle(states.values())
    rounds = 0
    with clock.step("partition: exchange"):
        exchanging = [t for t in tasks if t.exchange]
        if exchanging:
            cell_ids = np.unique(np.concatenate([t.export_ids for t in exchanging]))
            cell_tab = {s.name: _Table.of(cell_ids) for s in scn.services}
            node_ids = {
                m: np.unique(
                    np.concatenate(
                        [np.empty(0, np.int64)] + [t.modes[m].export_node_ids for t in exchanging]
                    )
                )
                for m in plan.networks
            }
            node_tab = {s.name: _Table.of(node_ids[s.mode]) for s in scn.services}
            ring_pos = {t.index: _positions(cell_ids, t.ring_ids) for t in exchanging}
            seed_pos = {
                (t.index, m): _positions(node_ids[m], mw.seed_node_ids)
                for t in exchanging
                for m, mw in t.modes.items()
            }
        while exchanging:
            for e in exports:
                for s, (ids, tm, fa) in e.cells.items():
                    cell_tab[s].apply(ids, tm, fa)
                for s, (ids, tm, fa) in e.nodes.items():
                    node_tab[s].apply(ids, tm, fa)
            handles = []
            for t in exchanging:
                seeds: dict[str, Seeds] = {}
                for svc in t.services:
                    ct, nt = cell_tab[svc.name], node_tab[svc.name]
                    rp = ring_pos[t.index]
                    cs = rp[ct.changed[rp]]
                    mw = t.modes[svc.mode]
                    npos = seed_pos[(t.index, svc.mode)]
                    sel_n = nt.changed[npos]
                    sel_c = ct.changed[rp]
                    if not (sel_c.any() or sel_n.any()):
                        continue
                    seeds[svc.name] = Seeds(
                        cells=np.concatenate([t.ring_cells[sel_c], mw.seed_portals[sel_n]]),
                        time_min=np.concatenate([ct.time_min[cs], nt.time_min[npos[sel_n]]]),
                        facility=np.concatenate([ct.facility[cs], nt.facility[npos[sel_n]]]).astype(
                            np.int32
                        ),
                    )
                if seeds:
                    h = ex.submit_on(states[t.index], continue_window, ex.put(seeds))
                    states[t.index] = ex.submit(_item, h, 0)
                    handles.append(ex.submit(_item, h, 1))
            for tab in (*cell_tab.values(), *node_tab.values()):
                tab.changed[:] = False
            if not handles:
                break
            rounds += 1
            if rounds > max_rounds:
                raise ResourceLimitError(
                    f"the partitions' exchange did not settle in {max_rounds} rounds",
                    fix="use larger tiles (tile_cells) or a wider halo (halo_cells)",
                )
            exports = ex.gather(handles)
            ex.settle(states.values())
            _log.info("exchange round %d: %d partitions", rounds, len(handles))
    with clock.step("partition: results"):
        results: list[CoreResult] = ex.gather(
            ex.submit_on(states[t.index], finish_window) for t in tasks
        )
    results.sort(key=lambda r: r.index)
    return results, [r.stats for r in results], rounds


# --------------------------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------------------------

_STATUS_REASON = np.full(256, REASON_NO_DATA, dtype=np.uint8)
_STATUS_REASON[STATUS_PASSABLE] = REASON_NO_ROUTE
_STATUS_REASON[STATUS_BARRIER] = REASON_BARRIER
_STATUS_REASON[STATUS_WATER] = REASON_WATER
_STATUS_REASON[STATUS_NO_DATA] = REASON_NO_DATA


def _merge(plan: PartitionPlan, results: Sequence[CoreResult]) -> dict[str, SearchResult]:
    """One :class:`SearchResult` per service over the whole grid."""
    n = plan.grid.n_cells
    labels = plan.survey.labels.ravel()
    status = plan.survey.status.ravel()
    out: dict[str, SearchResult] = {}
    for svc in plan.scenario.services:
        t = np.full(n, np.inf)
        f = np.full(n, -1, dtype=np.int32)
        nt = np.full(plan.networks[svc.mode].network.n_nodes, np.inf)
        for r in results:
            ids, tm, fa = r.cells[svc.name]
            t[ids] = tm
            f[ids] = fa
            nids, ntm = r.nodes[svc.name]
            nt[nids] = ntm
        routes = plan.links.routes[svc.name]
        reason = np.empty(n, dtype=np.uint8)
        for a in range(0, n, _CHUNK):
            b = min(a + _CHUNK, n)
            reason[a:b] = _STATUS_REASON[status[a:b]]
            open_ = status[a:b] == STATUS_PASSABLE
            lab = labels[a:b]
            beyond = open_ & routes[lab] & (lab > 0)
            reason[a:b][beyond] = REASON_BEYOND_LIMIT
            reason[a:b][np.isfinite(t[a:b])] = REASON_REACHED
        out[svc.name] = SearchResult(time_min=t, facility=f, reason=reason, node_time_min=nt)
    return out


def _region_without_friction(inputs: _Inputs, plan: PartitionPlan) -> Region:
    empty = Friction(
        pace_min_per_m=np.empty((0, 0)),
        status=np.empty((0, 0), dtype=np.uint8),
        elevation_m=None,
        populated_water_cells=plan.survey.populated_water_cells,
    )
    return Region(
        scenario=inputs.scenario,
        population=inputs.population,
        raster_total=inputs.raster_total,
        grid=inputs.grid,
        zones=inputs.zones,
        zone=inputs.zone,
        friction=empty,
        roads=inputs.roads,
        facilities=inputs.facilities,
        timings_s={},
    )


def _evaluation(
    region: Region, plan: PartitionPlan, searches: Mapping[str, SearchResult]
) -> Evaluation:
    """The baseline :class:`reach.pipeline.Evaluation`, measured as ``evaluate`` measures it."""
    from reach.pipeline import Evaluation, baseline_result

    services = {
        svc.name: baseline_result(region, svc, plan.facilities[svc.name], searches[svc.name])
        for svc in plan.scenario.services
    }
    return Evaluation(name="baseline", alternative=None, services=services)
