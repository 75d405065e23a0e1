"""The plan of a partitioned run: which partitions, with which windows, halos and costs.

Planning surveys the region (:mod:`reach.partition.survey`: components, islands, routes and
the fastest rows / columns per minute), places each mode's network and the facilities on the
grid, gives every cell an owner (:mod:`reach.partition.owners`) and sizes each partition's
window: its core plus a halo. A partition holding whole islands needs no halo. A cut island's
tiles use the halo the time limit and the fastest speed give (``max_travel_time_min × rate +
4`` cells) when it is no wider than half a tile; otherwise their halo is two cells and they
exchange edge times in rounds (:mod:`reach.partition.exchange`). :meth:`PartitionPlan.describe`
is what ``reach plan`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.errors import ScenarioError
from reach.model.assemble import facility_seeds
from reach.model.grid import AnalysisGrid, Rect
from reach.model.joins import FacilitySeeds
from reach.model.network import Network, build_network
from reach.model.region import Region, mode_profile
from reach.model.snap import snap_to_passable
from reach.partition.executors import Executor, ExecutorKind, make_executor
from reach.partition.friction import FileWindow
from reach.partition.inputs import CoordinatorInputs, read_inputs
from reach.partition.owners import (
    PartitionBy,
    cell_owners,
    node_owners,
    partition_islands,
    row_strips,
)
from reach.partition.survey import (
    Links,
    ModeNetwork,
    Survey,
    SurveyTile,
    halo_for,
    link_components,
    merge_survey_tiles,
    mode_network,
    reach_rates,
    survey_friction,
    survey_tile,
)
from reach.partition.windows import RING_CELLS
from reach.progress import Clock, StepCallback
from reach.spec import ScenarioSpec

__all__ = [
    "BYTES_PER_WINDOW_CELL",
    "BYTES_PER_WINDOW_CELL_PER_SERVICE",
    "DEFAULT_TILE_CELLS",
    "MAX_TILE_CELLS",
    "MIN_TILE_CELLS",
    "PARTITION_BY",
    "Partition",
    "PartitionPlan",
    "check_partition_options",
    "held_bytes_per_cell",
    "make_plan",
    "plan_partitions",
    "task_memory_bytes",
    "tile_side",
    "whole_grid_tiles",
]

#: Default cells per tile (2,000 × 2,000, about 1.3 GB per task at its peak).
DEFAULT_TILE_CELLS = 4_000_000
#: Peak bytes per window cell of a task (friction build, search graph, engine arrays),
#: measured on the 100-million-cell demo (``benchmarks/partition.py``) and rounded up.
BYTES_PER_WINDOW_CELL = 200
#: More bytes per window cell for each service searched (its times, catchments, reasons).
BYTES_PER_WINDOW_CELL_PER_SERVICE = 40
#: Ways to partition a region.
PARTITION_BY = ("auto", "islands", "tiles", "zones")
#: The smallest tile, in cells (an 8 × 8 square).
MIN_TILE_CELLS = 64
#: The largest tile, in cells.
MAX_TILE_CELLS = 10**12


def check_partition_options(
    by: object,
    tile_cells: object = None,
    halo_cells: object = None,
    *,
    by_option: str = "by",
    tile_option: str = "tile_cells",
) -> None:
    """Refuse an unknown way to partition, or a tile or halo size out of range, up front.

    Parameters
    ----------
    by, tile_cells, halo_cells
        The options given (see :func:`plan_partitions`).
    by_option, tile_option
        Their names, for messages.

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
    seeds
        Per service, where the search from each facility starts: the cells around it and the
        roads near it (:func:`reach.model.assemble.facility_seeds`, priced with the region's
        friction).
    """

    scenario: ScenarioSpec
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
    seeds: dict[str, FacilitySeeds] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per partition: window, core, people, facilities, halo, memory.

        Returns
        -------
        pandas.DataFrame
            Columns ``partition``, ``kind``, ``row0``, ``row1``, ``col0``, ``col1`` (the
            window, halo included), ``window_cells``, ``core_cells``, ``population``,
            ``facilities`` (all services), ``nodes``, ``halo_rows``, ``halo_cols``,
            ``exchange`` and ``memory_mb`` (estimated peak memory of the task, MiB).
        """
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
        """A printable summary and table (for ``reach plan``).

        Returns
        -------
        str
            Lines on the grid, its components and islands, the partitions, the halo and
            whether times are exchanged, the people no partition owns and (when there are
            partitions) the largest task and the memory held between exchange rounds, then
            :meth:`table`.
        """
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


def tile_side(tile_cells: int) -> int:
    """The side, in cells, of the square tiles of ``tile_cells`` cells (at least 8).

    Parameters
    ----------
    tile_cells
        Cells per tile.

    Returns
    -------
    int
        The side.
    """
    return max(8, math.isqrt(max(int(tile_cells), 64)))


def whole_grid_tiles(shape: tuple[int, int], side: int) -> Sequence[Rect]:
    """Rectangles of ``side`` × ``side`` cells (smaller at the edges) covering a grid.

    Parameters
    ----------
    shape
        ``(rows, cols)`` of the grid.
    side
        The tiles' side in cells.

    Returns
    -------
    Sequence of Rect
        Row by row.
    """
    rows, cols = shape
    return [
        (r, min(r + side, rows), c, min(c + side, cols))
        for r in range(0, rows, side)
        for c in range(0, cols, side)
    ]


def _survey(inputs: CoordinatorInputs, ex: Executor, side: int) -> Survey:
    if inputs.region is not None:
        return survey_friction(inputs.region.friction)
    handles = []
    for rect in whole_grid_tiles(inputs.grid.shape, side):
        handles.append(ex.submit(_survey_task, rect, ex.put(inputs.file_window(rect))))
    return merge_survey_tiles(ex.gather(handles), inputs.grid.shape)


def _survey_task(rect: Rect, payload: FileWindow) -> SurveyTile:
    return survey_tile(rect[0], rect[2], payload.build(rect))


def _snap(
    fac: gpd.GeoDataFrame, grid: AnalysisGrid, passable: np.ndarray, within_m: float | None
) -> gpd.GeoDataFrame:
    """The facilities with their cell, as the pipeline's searcher snaps them."""
    pts = fac.to_crs(grid.crs).geometry
    out = fac.copy()
    out["cell"] = snap_to_passable(
        pts.x.to_numpy(), pts.y.to_numpy(), grid, passable, max_distance_m=within_m
    )
    return out


def _pace_at(inputs: CoordinatorInputs, cells: np.ndarray, side: int) -> np.ndarray:
    """The walking pace of some cells: the loaded region's, or read tile by tile from files.

    Only the cells facilities walk across to the roads are needed, so each tile holding some
    is read over the box around them alone.
    """
    if inputs.region is not None:
        return np.asarray(inputs.region.friction.pace_min_per_m.ravel()[cells], np.float64)
    out = np.full(len(cells), np.inf)
    r, c = np.divmod(cells, inputs.grid.cols)
    tile = (r // side) * (inputs.grid.cols // side + 1) + c // side
    for t in np.unique(tile):
        at = np.flatnonzero(tile == t)
        rect = (int(r[at].min()), int(r[at].max()) + 1, int(c[at].min()), int(c[at].max()) + 1)
        pace = inputs.file_window(rect).build(rect).pace_min_per_m
        out[at] = pace[r[at] - rect[0], c[at] - rect[2]]
    return out


def _seeds(
    inputs: CoordinatorInputs, network: Network, fac: gpd.GeoDataFrame, side: int
) -> FacilitySeeds:
    """Where a service's facilities start their search, as the whole-region search has it
    (the pace of the cells their walks cross read around them)."""
    pts = fac.to_crs(inputs.grid.crs).geometry
    return facility_seeds(
        pts.x.to_numpy(), pts.y.to_numpy(), fac["cell"].to_numpy().astype(np.int64), network,
        inputs.grid, pace_min_per_m=lambda cells: _pace_at(inputs, cells, side),
    )  # fmt: skip


def plan_partitions(
    source: ScenarioSpec | Region,
    *,
    by: PartitionBy = "auto",
    tile_cells: int | None = None,
    halo_cells: int | None = None,
    executor: ExecutorKind | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    on_step: StepCallback | None = None,
) -> PartitionPlan:
    """Split a region into partitions (see :mod:`reach.partition.owners`) without searching it.

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
        Where the survey of a scenario's tiles runs (as in
        :func:`reach.partition.run_partitioned`).
    on_step
        Called with the name of each step as it starts.

    Returns
    -------
    PartitionPlan
        The partitions (``plan.table()`` / ``plan.describe()`` for a printable table).
    """
    check_partition_options(by, tile_cells, halo_cells)
    ex = make_executor(executor, workers=workers, scheduler=scheduler)
    try:
        clock = Clock(on_step)
        inputs = read_inputs(source, clock)
        return make_plan(
            inputs, ex, by=by, tile_cells=tile_cells, halo_cells=halo_cells, clock=clock
        )
    finally:
        ex.close()


def make_plan(
    inputs: CoordinatorInputs,
    ex: Executor,
    *,
    by: PartitionBy,
    tile_cells: int | None,
    halo_cells: int | None,
    clock: Clock,
) -> PartitionPlan:
    """Split a region into partitions, its survey run on an executor.

    Parameters
    ----------
    inputs
        The coordinator's inputs.
    ex
        Where the survey of a scenario's tiles runs.
    by, tile_cells, halo_cells
        How to partition (see :func:`plan_partitions`).
    clock
        Times the planning steps.

    Returns
    -------
    PartitionPlan
        The partitions.
    """
    check_partition_options(by, tile_cells, halo_cells)
    scn = inputs.scenario
    if scn.grid.model == "accessmod":
        raise ScenarioError(
            'the AccessMod-compatible model ([grid] model = "accessmod") runs on the whole '
            "region, not in partitions",
            fix="leave out --workers, --scheduler and --by, or use the reach model",
        )
    grid = inputs.grid
    tile_cells = int(tile_cells or DEFAULT_TILE_CELLS)
    side = tile_side(tile_cells)
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
            s.name: _snap(inputs.facilities[s.name], grid, passable, s.facilities.snap_within_m)
            for s in scn.services
        }
        del passable
        seeds = {
            s.name: _seeds(inputs, networks[s.mode].network, facilities[s.name], side)
            for s in scn.services
        }
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
        owner, kinds = cell_owners(
            inputs, survey, links, active, by=by, side=side, tile_cells=tile_cells
        )
        n_parts = len(kinds)
        slices, present = partition_islands(
            owner, survey.labels, links.island_of_component, n_parts, links.n_islands
        )
        spread = np.bincount(
            np.concatenate(present) if present else np.empty(0, np.int64),
            minlength=links.n_islands,
        )
        split = spread > 1
        owner_flat = owner.ravel()
        node_owner = {m: node_owners(owner_flat, mn) for m, mn in networks.items()}
    exact_max = max(exact)
    if halo_cells is None:
        exchange = not (math.isfinite(exact_max) and exact_max <= side // 2)
        halo = (RING_CELLS, RING_CELLS) if exchange else (int(exact[0]), int(exact[1]))
    else:
        h = max(int(halo_cells), RING_CELLS)
        exchange = not (math.isfinite(exact_max) and h >= exact_max)
        halo = (h, h)
    with clock.step("partition: table"):
        n_serv = len(scn.services)
        pop_of = np.zeros(n_parts)
        idle = 0.0
        for r0, r1 in row_strips(*grid.shape):
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
        seeds=seeds,
        split_islands=split,
        rates=rates,
        idle_population=idle,
        timings_s=clock.timings,
    )


def held_bytes_per_cell(n_services: int) -> int:
    """Bytes per window cell a worker keeps between exchange rounds.

    Parameters
    ----------
    n_services
        Services searched.

    Returns
    -------
    int
        Pace and elevation, and per service the times and catchments.
    """
    return 16 + 12 * n_services


def task_memory_bytes(window_cells: int, n_services: int) -> int:
    """Estimated peak memory of one partition's task on its worker.

    Parameters
    ----------
    window_cells
        Cells of its window.
    n_services
        Services searched.

    Returns
    -------
    int
        Bytes.
    """
    per_cell = BYTES_PER_WINDOW_CELL + BYTES_PER_WINDOW_CELL_PER_SERVICE * n_services
    return int(window_cells * per_cell)
