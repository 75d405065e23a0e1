"""Run a scenario set: the baseline and every alternative, compared.

Stage by stage (ingest → model → engine → metrics → scenarios → outputs): the region is loaded
once (:mod:`reach.build`); each evaluation applies its operations to the roads, facilities and
friction, searches every service, and measures coverage; alternatives are compared with the
baseline; everything is written atomically. This module wires the stages together; it does not
configure logging or exit codes.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from reach import __version__
from reach.build import Clock, Region, load_region, mode_profile
from reach.engine.combined import (
    CLOSED,
    REASON_LABELS,
    REASON_REACHED,
    SearchGraph,
    SearchResult,
    combined_search,
)
from reach.errors import ConservationError, ScenarioError
from reach.ingest.connectivity import read_connectivity
from reach.ingest.roads import RoadLines
from reach.metrics.coverage import ALL_ZONES_ID, coverage_table
from reach.metrics.virtual import referral_trips_avoided, virtual_coverage_table
from reach.model.assemble import search_graph
from reach.model.connectivity import connected_cells
from reach.model.grid import Friction
from reach.model.network import Network, build_network
from reach.model.snap import snap_to_passable
from reach.outputs.folders import folder_run_id
from reach.outputs.maps import write_maps
from reach.outputs.write import (
    atomic_folder,
    check_output_target,
    file_sha256,
    write_geotiff,
    write_gpkg,
    write_json,
    write_table,
)
from reach.scenario import (
    AddFacility,
    Alternative,
    CloseFacility,
    DigitalLearning,
    Scenario,
    Season,
    ServiceSpec,
    Telemedicine,
    UpgradeFacility,
    UpgradeRoad,
    VehicleAvailability,
)
from reach.scenarios.compare import CellAccess, compare_access, rank_alternatives
from reach.scenarios.facilities import apply_facility_operations
from reach.scenarios.roads import apply_road_operations, apply_season

__all__ = [
    "REASON_EXPLANATIONS",
    "Evaluation",
    "RunResult",
    "ServiceResult",
    "baseline_result",
    "compare_evaluations",
    "evaluate",
    "key_threshold",
    "run_scenario",
    "service_graph",
]

#: Plain-language meaning of each unreachable reason, written into the manifest.
REASON_EXPLANATIONS: dict[str, str] = {
    "beyond_time_limit": "a route exists but takes longer than the scenario's time limit",
    "no_network_link": "no route at all: e.g. an island or valley with no facility and no road "
    "or ferry out",
    "on_barrier": "the cell lies on a barrier (e.g. wetland) that cannot be crossed on foot",
    "water_no_ferry": "the cell is water and no ferry or road serves it",
    "outside_data": "the cell has people but lies outside the land-cover / friction data",
}

StepCallback = Callable[[str], None]
_log = logging.getLogger("reach.pipeline")
BASELINE = "baseline"


@dataclass(eq=False)
class ServiceResult:
    """One service's results in one evaluation.

    Attributes
    ----------
    spec
        The service as configured.
    facilities
        The facilities used (lon/lat), with their grid cell (``-1`` when off the grid).
    search
        Times, catchments and reasons per cell, with the service's mode.
    coverage
        The coverage table (a mix of riding and walking when only a share has the vehicle).
    facility_table
        Catchment population, mean time and load per facility.
    access
        Per-cell access for comparisons (vehicle share, connectivity).
    virtual
        Physical / virtual-only / neither table where telemedicine or online learning is on.
    referrals
        Hub-and-spoke referral trips avoided, per primary facility.
    season
        The season this result is for (the worst one when seasons are given).
    """

    spec: ServiceSpec
    facilities: gpd.GeoDataFrame
    search: SearchResult
    coverage: pd.DataFrame
    facility_table: pd.DataFrame
    access: CellAccess
    virtual: pd.DataFrame | None = None
    referrals: pd.DataFrame | None = None
    season: str | None = None


@dataclass(eq=False)
class Evaluation:
    """The baseline or one alternative, evaluated."""

    name: str
    alternative: Alternative | None
    services: dict[str, ServiceResult]
    seasons: pd.DataFrame | None = None

    @property
    def coverage(self) -> pd.DataFrame:
        """Coverage of every service."""
        return pd.concat([r.coverage for r in self.services.values()], ignore_index=True)

    @property
    def facilities(self) -> pd.DataFrame:
        """Facility tables of every service."""
        return pd.concat([r.facility_table for r in self.services.values()], ignore_index=True)

    def table(self, attr: str) -> pd.DataFrame | None:
        """Concatenate an optional per-service table (``virtual`` or ``referrals``)."""
        parts = [getattr(r, attr) for r in self.services.values() if getattr(r, attr) is not None]
        return pd.concat(parts, ignore_index=True) if parts else None


@dataclass(eq=False)
class RunResult:
    """Everything a run produced."""

    scenario: Scenario
    region: Region
    baseline: Evaluation
    alternatives: dict[str, Evaluation]
    comparison: pd.DataFrame | None
    ranking: pd.DataFrame | None
    timings_s: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    #: What the run noticed and the manifest reports (e.g. an input changed while it was read).
    warnings: list[str] = field(default_factory=list)

    # the baseline's parts, for convenience
    @property
    def grid(self) -> Any:
        """The analysis grid."""
        return self.region.grid

    @property
    def population(self) -> Any:
        """Population on the grid."""
        return self.region.population

    @property
    def zone(self) -> np.ndarray:
        """Zone number per cell."""
        return self.region.zone

    @property
    def zones(self) -> gpd.GeoDataFrame:
        """Reporting zones."""
        return self.region.zones

    @property
    def friction(self) -> Friction:
        """Baseline walking friction."""
        return self.region.friction

    @property
    def services(self) -> dict[str, ServiceResult]:
        """Baseline results per service."""
        return self.baseline.services

    @property
    def coverage(self) -> pd.DataFrame:
        """Baseline coverage."""
        return self.baseline.coverage

    @property
    def facilities(self) -> pd.DataFrame:
        """Baseline facility tables."""
        return self.baseline.facilities


def _facility_table(
    fac: gpd.GeoDataFrame, result: SearchResult, people: np.ndarray, svc: ServiceSpec
) -> pd.DataFrame:
    n = len(fac)
    # only cells with people (most of a region has none; the sums are the same without them)
    cells = np.flatnonzero(people.ravel())
    lab = result.facility[cells]
    time_min = result.time_min[cells]
    reached = lab >= 0
    pop = people.ravel()[cells] * svc.target_share
    catch = np.bincount(lab[reached], weights=pop[reached], minlength=n)[:n]
    top = max(svc.thresholds_min)
    within = reached & (time_min <= top)
    catch_within = np.bincount(lab[within], weights=pop[within], minlength=n)[:n]
    tsum = np.bincount(
        lab[reached], weights=(pop * np.where(reached, time_min, 0))[reached], minlength=n
    )[:n]
    capacity = fac["capacity"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.where(catch > 0, tsum / catch, np.nan)
        load = np.where(capacity > 0, catch / capacity, np.nan)
    return pd.DataFrame(
        {
            "service": svc.name,
            "facility_id": fac["facility_id"].astype(str).to_numpy(),
            "name": fac["name"].astype(str).to_numpy(),
            "tier": fac["tier"].astype(str).to_numpy(),
            "capacity": capacity,
            "lon": fac.geometry.x.to_numpy(),
            "lat": fac.geometry.y.to_numpy(),
            "on_grid": fac["cell"].to_numpy() >= 0,
            "catchment_population": catch,
            f"catchment_within_{top:g}min": catch_within,
            "catchment_mean_time_min": mean_t,
            "load_ratio": load,
        }
    )


class _Searcher:
    """Searches for one road / friction variant, building each mode's network once."""

    def __init__(self, region: Region, roads: RoadLines, friction: Friction) -> None:
        self.region = region
        self.roads = roads
        self.friction = friction
        self.networks: dict[str, Network] = {}
        self.graphs: dict[str, SearchGraph] = {}
        self.passable = np.isfinite(friction.pace_min_per_m)
        # services run on threads: one builds a mode's network and graph, the others wait
        self._lock = threading.Lock()

    def network(self, mode: str) -> Network:
        with self._lock:
            if mode not in self.networks:
                scn = self.region.scenario
                self.networks[mode] = build_network(
                    self.roads,
                    self.region.grid,
                    profile=mode_profile(scn, mode),
                    ferry_wait_min=scn.ferries.headway_min / 2.0,
                )
            return self.networks[mode]

    def graph(self, mode: str) -> SearchGraph:
        network = self.network(mode)
        with self._lock:
            if mode not in self.graphs:
                scn = self.region.scenario
                self.graphs[mode] = search_graph(
                    self.region.grid, self.friction, network, neighbours=scn.grid.neighbours
                )
            return self.graphs[mode]

    def snap(self, fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        grid = self.region.grid
        pts = fac.to_crs(grid.crs).geometry
        out = fac.copy()
        out["cell"] = snap_to_passable(pts.x.to_numpy(), pts.y.to_numpy(), grid, self.passable)
        return out

    def search(
        self,
        fac: gpd.GeoDataFrame,
        mode: str,
        *,
        start: ServiceResult | None = None,
        base: _Searcher | None = None,
    ) -> SearchResult:
        """Search from the facilities; from ``start`` (made on ``base``'s graph, this one's when
        not given) onward, when facilities were added or closed, or roads only got faster."""
        scn = self.region.scenario
        graph = self.graph(mode)
        cells = fac["cell"].to_numpy()
        on_grid = np.flatnonzero(cells >= 0)
        warm: SearchResult | None = None
        node_seeds = None
        faster = None
        if start is not None and base is not None and base is not self:
            faster = _faster_edges(base.graph(mode), graph, start.search)
            if faster is None:
                start = None  # the roads changed otherwise: search in full
        if start is not None:
            warm, new = _renumbered(start, fac)
            closing = bool((warm.facility == CLOSED).any())
            node_lab = warm.node_facility
            # carried on only with the node catchments it needs (searches made by partitions
            # have none), and not closures and faster roads at once
            if (node_lab is None and (closing or faster is not None)) or (
                closing and faster is not None
            ):
                warm = None
            else:
                if faster is not None and node_lab is not None:
                    nodes, times, into = faster
                    node_seeds = (nodes, times, node_lab[into])
                on_grid = on_grid[np.isin(on_grid, new)]
                if len(on_grid) == 0 and not closing and (faster is None or not len(faster[0])):
                    return warm  # nothing new: the earlier search stands
        return combined_search(
            graph,
            cells[on_grid],
            seed_facility=on_grid,
            max_time_min=scn.grid.max_travel_time_min,
            start=warm,
            node_seeds=node_seeds,
        )


def _faster_edges(
    old: SearchGraph, new: SearchGraph, search: SearchResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Where a road change only made edges faster, the nodes to search on from, with the new
    time through each faster edge and the node it leads to (whose catchment it takes).

    ``None`` when the change did more (nodes, edges or walking links differ, or an edge got
    slower): then the earlier search cannot be carried on and the caller searches in full.
    """
    same = (
        old.n_nodes == new.n_nodes
        and np.array_equal(old.rev_indptr, new.rev_indptr)
        and np.array_equal(old.rev_src, new.rev_src)
        and np.array_equal(old.node_cell, new.node_cell)
        and np.array_equal(old.connector_min, new.connector_min)
        and np.array_equal(old.pace_min_per_m, new.pace_min_per_m)
    )
    if not same or (new.rev_cost_min > old.rev_cost_min).any():
        return None
    faster = np.flatnonzero(new.rev_cost_min < old.rev_cost_min)
    # edge e runs from rev_src[e] into the node j with rev_indptr[j] <= e < rev_indptr[j+1]
    into = np.searchsorted(new.rev_indptr, faster, side="right") - 1
    through = search.node_time_min[into] + new.rev_cost_min[faster]
    nodes = new.rev_src[faster]
    better = through < search.node_time_min[nodes]
    return nodes[better], through[better], into[better]


_BASE_SEARCHERS: weakref.WeakKeyDictionary[Region, _Searcher] = weakref.WeakKeyDictionary()
_BASE_LOCK = threading.Lock()


def _base_searcher(region: Region) -> _Searcher:
    """The searcher of the region's own roads and friction, kept while the region lives: the
    baseline and every alternative that leaves the roads alone share its networks and graphs."""
    with _BASE_LOCK:
        searcher = _BASE_SEARCHERS.get(region)
        if searcher is None:
            searcher = _Searcher(region, region.roads, region.friction)
            _BASE_SEARCHERS[region] = searcher
        return searcher


def service_graph(region: Region, mode: str) -> SearchGraph:
    """The baseline search graph (walking grid + the mode's network) of a loaded region."""
    return _base_searcher(region).graph(mode)


def _renumbered(start: ServiceResult, fac: gpd.GeoDataFrame) -> tuple[SearchResult, np.ndarray]:
    """The earlier search with catchments renumbered to ``fac``'s rows (``CLOSED`` for the
    facilities no longer there), and the new rows."""
    old_ids = start.facilities["facility_id"].astype(str).to_numpy()
    new_ids = fac["facility_id"].astype(str).to_numpy()
    row_of = {fid: i for i, fid in enumerate(new_ids)}
    old_to_new = np.array([row_of.get(fid, CLOSED) for fid in old_ids], dtype=np.int32)

    def renumber(lab: np.ndarray) -> np.ndarray:
        return np.where(lab >= 0, old_to_new[np.maximum(lab, 0)], -1).astype(np.int32)

    search = start.search
    nodes = None if search.node_facility is None else renumber(search.node_facility)
    new_rows = np.flatnonzero(~np.isin(new_ids, old_ids))
    return replace(search, facility=renumber(search.facility), node_facility=nodes), new_rows


#: Operations on one service's facilities or demand, leaving every route as it was: an
#: alternative made only of these builds on the baseline. Each service is searched from the
#: baseline's times onward (only what new facilities serve sooner, and what closed ones served);
#: a service no operation names keeps the baseline's result.
_SERVICE_OPS = (
    AddFacility,
    CloseFacility,
    UpgradeFacility,
    VehicleAvailability,
    Telemedicine,
    DigitalLearning,
)


def _builds_on_baseline(alt: Alternative) -> bool:
    """Whether an alternative is evaluated from the baseline onward: it only changes facilities
    or demand, or upgrades roads (carried on where that only made edges faster)."""
    return all(isinstance(op, (*_SERVICE_OPS, UpgradeRoad)) for op in alt.operations)


def _coverage(
    region: Region,
    svc: ServiceSpec,
    result: SearchResult,
    walk: SearchResult | None,
    vehicle_share: float,
) -> pd.DataFrame:
    """Coverage of one service; with a vehicle share, riders and walkers are counted apart."""
    people = region.population.people
    zone = region.zone
    time_min, reason = result.time_min, result.reason
    if walk is not None:
        people = np.concatenate(
            [people.ravel() * vehicle_share, people.ravel() * (1 - vehicle_share)]
        )
        zone = np.concatenate([zone.ravel(), zone.ravel()])
        time_min = np.concatenate([time_min, walk.time_min])
        reason = np.concatenate([reason, walk.reason])
    cov = coverage_table(
        people, zone, time_min, reason,
        zone_ids=region.zones["zone_id"].astype(str).tolist(),
        zone_names=region.zones["name"].astype(str).tolist(),
        service=svc.name,
        thresholds_min=svc.thresholds_min,
        target_share=svc.target_share,
    )  # fmt: skip
    expected = region.raster_total * svc.target_share
    got = float(cov.loc[cov["zone_id"] == ALL_ZONES_ID, "population"].iloc[0])
    if abs(got - expected) > 1e-6 * max(1.0, expected):
        raise ConservationError(
            f"{svc.name}: covered + uncovered {got:.3f} ≠ raster {expected:.3f}"
        )
    return cov


def baseline_result(
    region: Region, svc: ServiceSpec, facilities: gpd.GeoDataFrame, search: SearchResult
) -> ServiceResult:
    """A service's baseline result from its search, measured as :func:`evaluate` measures it.

    For searches made elsewhere (e.g. partition by partition on a cluster): coverage,
    facility table and access, everyone with the service's own mode.
    """
    return ServiceResult(
        spec=svc,
        facilities=facilities,
        search=search,
        coverage=_coverage(region, svc, search, None, 1.0),
        facility_table=_facility_table(facilities, search, region.population.people, svc),
        access=CellAccess(time_min=search.time_min),
    )


def _virtual(
    region: Region,
    svc: ServiceSpec,
    result: SearchResult,
    fac: gpd.GeoDataFrame,
    op: Telemedicine | DigitalLearning,
    searcher: _Searcher,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame | None]:
    scn = region.scenario
    spec = op.connectivity
    conn = read_connectivity(
        scn.resolve(spec.path),
        kind=spec.kind,
        layer=spec.layer,
        range_m=spec.range_m,
        threshold=spec.threshold,
    )
    connected = connected_cells(conn, region.grid)
    time_grid = result.time_min.reshape(region.grid.shape)
    table = virtual_coverage_table(
        region.population.people, region.zone, time_grid, connected,
        zone_ids=region.zones["zone_id"].astype(str).tolist(),
        zone_names=region.zones["name"].astype(str).tolist(),
        service=svc.name, thresholds_min=svc.thresholds_min,
        remote_share=op.remote_share, target_share=svc.target_share,
    )  # fmt: skip
    referrals = None
    if isinstance(op, Telemedicine) and op.hub_and_spoke:
        hubs = fac[fac["tier"] == op.referral_tier]
        primary = fac[fac["tier"] != op.referral_tier]
        if len(hubs) and len(primary):
            hub_times = searcher.search(hubs, svc.mode).time_min
            cells = primary["cell"].to_numpy()
            ref_time = np.where(cells >= 0, hub_times[np.maximum(cells, 0)], np.nan)
            ref_time = np.where(np.isfinite(ref_time), ref_time, np.nan)
            lab = result.facility
            pop = region.population.people.ravel() * svc.target_share
            reached = lab >= 0
            catch_all = np.bincount(lab[reached], weights=pop[reached], minlength=len(fac))
            idx = np.flatnonzero(fac["tier"].to_numpy() != op.referral_tier)
            flat_conn = connected.ravel()
            referrals = referral_trips_avoided(
                primary.drop(columns="geometry").reset_index(drop=True),
                catchment_population=catch_all[idx],
                connected_facility=np.where(cells >= 0, flat_conn[np.maximum(cells, 0)], False),
                referral_time_min=ref_time,
                referral_share=op.referral_share,
                remote_share=op.remote_share,
                visits_per_person_year=op.visits_per_person_year,
            )
            referrals.insert(0, "service", svc.name)
    return connected, table, referrals


def evaluate(
    region: Region,
    *,
    name: str = BASELINE,
    alternative: Alternative | None = None,
    clock: Clock | None = None,
    baseline: Evaluation | None = None,
    incremental: bool = True,
) -> Evaluation:
    """Evaluate the baseline (no alternative) or one alternative on a loaded region.

    Parameters
    ----------
    region
        The loaded region.
    name
        The evaluation's name.
    alternative
        Its operations; ``None`` for the baseline.
    clock
        Times the steps.
    baseline
        The baseline's evaluation. With it, an alternative that only changes facilities or
        demand (adds, closes, upgrades; vehicles, telemedicine; nothing on the roads) is
        searched from the baseline onward: only the cells a new facility serves sooner, and
        those a closed one served, are visited, and a service it does not name keeps the
        baseline's result. The times are the same as a full search.
    incremental
        Set False to search every alternative in full.

    Returns
    -------
    Evaluation
        Per-service results, and the per-season table when seasons are given.
    """
    clock = clock or Clock()
    scn = region.scenario
    ops: Sequence[object] = alternative.operations if alternative else ()
    with clock.step(f"{name}: apply operations"):
        # seasons are applied per season variant below, not to the alternative's roads
        roads = apply_road_operations(region.roads, [o for o in ops if not isinstance(o, Season)])
        facilities = apply_facility_operations(region.facilities, ops)
    seasons = [op for op in ops if isinstance(op, Season)]
    vehicle = {op.service: op.share for op in ops if isinstance(op, VehicleAvailability)}
    virtual_ops = {op.service: op for op in ops if isinstance(op, Telemedicine | DigitalLearning)}
    variants: list[tuple[str, float, _Searcher]] = []
    share_left = 1.0 - sum(s.share_of_year for s in seasons)
    if share_left < -1e-9:
        raise ScenarioError(
            f"alternative {name!r}: the seasons' share_of_year adds up to more than 1",
            fix="make the shares of the year add up to 1 at most",
        )
    if not seasons or share_left > 1e-9:
        variants.append(
            (
                "rest of year" if seasons else "all year",
                max(share_left, 0.0),
                _base_searcher(region)
                if roads is region.roads
                else _Searcher(region, roads, region.friction),
            )
        )
    for season in seasons:
        friction = region.friction
        if season.walk_multiplier != 1.0:
            friction = replace(
                friction, pace_min_per_m=friction.pace_min_per_m / season.walk_multiplier
            )
        variants.append(
            (
                season.name,
                season.share_of_year,
                _Searcher(region, apply_season(roads, season), friction),
            )
        )

    # searched on from the baseline (road upgrades only where they made edges faster, which
    # the search checks per mode against the baseline's graph)
    carry_on = (
        incremental
        and baseline is not None
        and alternative is not None
        and _builds_on_baseline(alternative)
    )
    # a service no operation names, on the baseline's roads and seasons, keeps its result
    same_roads = incremental and baseline is not None and roads is region.roads and not seasons
    untouched = {
        svc.name
        for svc in scn.services
        if same_roads
        and alternative is not None
        and not any(getattr(op, "service", None) == svc.name for op in ops)
    }

    def one_service(svc: ServiceSpec) -> tuple[ServiceResult, list[pd.DataFrame]]:
        if svc.name in untouched and baseline is not None:
            # nothing of this service changes: the baseline's result stands as it is
            return baseline.services[svc.name], []
        with _search_slots():
            return _evaluate_service(
                region, svc, facilities[svc.name], variants,
                name=name, clock=clock, seasons=bool(seasons),
                start=baseline.services[svc.name] if carry_on and baseline else None,
                base=_base_searcher(region) if carry_on else None,
                vehicle_share=vehicle.get(svc.name, 1.0), virtual_op=virtual_ops.get(svc.name),
            )  # fmt: skip

    threads = min(len(scn.services), _threads())
    if threads <= 1:
        done = [one_service(svc) for svc in scn.services]
    else:
        # the kernels release the GIL; the region is only read
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(one_service, scn.services))
    services = {svc.name: res for svc, (res, _) in zip(scn.services, done, strict=True)}
    season_rows = [part for _, parts in done for part in parts]
    season_table = (
        _season_summary(pd.concat(season_rows, ignore_index=True)) if season_rows else None
    )
    return Evaluation(name=name, alternative=alternative, services=services, seasons=season_table)


def _evaluate_service(
    region: Region,
    svc: ServiceSpec,
    facilities: gpd.GeoDataFrame,
    variants: Sequence[tuple[str, float, _Searcher]],
    *,
    name: str,
    clock: Clock,
    seasons: bool,
    start: ServiceResult | None,
    base: _Searcher | None,
    vehicle_share: float,
    virtual_op: Telemedicine | DigitalLearning | None,
) -> tuple[ServiceResult, list[pd.DataFrame]]:
    """One service of an evaluation: each season variant searched, the worst one kept.

    Returns the service's result and, with seasons, each variant's coverage rows.
    """
    best: ServiceResult | None = None
    best_key = np.inf
    season_rows: list[pd.DataFrame] = []
    for season_name, share, searcher in variants:
        with clock.step(f"{name}: {svc.name}: travel times"):
            fac = searcher.snap(facilities)
            result = searcher.search(fac, svc.mode, start=start, base=base)
            walk = None
            if vehicle_share < 1.0 and svc.mode != "walk":
                walk = searcher.search(fac, "walk")
        with clock.step(f"{name}: {svc.name}: coverage"):
            cov = _coverage(region, svc, result, walk, vehicle_share)
            access = CellAccess(
                time_min=result.time_min,
                walk_time_min=None if walk is None else walk.time_min,
                vehicle_share=vehicle_share,
            )
            virtual = referrals = None
            if virtual_op is not None:
                connected, virtual, referrals = _virtual(
                    region, svc, result, fac, virtual_op, searcher
                )
                access = replace(
                    access, connected=connected.ravel(), remote_share=virtual_op.remote_share
                )
            table = _facility_table(fac, result, region.population.people, svc)
        top = max(svc.thresholds_min)
        all_row = cov[cov["zone_id"] == ALL_ZONES_ID].iloc[0]
        if seasons:
            part = cov.copy()
            part.insert(0, "share_of_year", share)
            part.insert(0, "season", season_name)
            season_rows.append(part)
        key = float(all_row[f"within_{top:g}min"])
        if best is None or key < best_key:
            best_key = key
            best = ServiceResult(
                spec=svc, facilities=fac, search=result, coverage=cov, facility_table=table,
                access=access, virtual=virtual, referrals=referrals,
                season=season_name if seasons else None,
            )  # fmt: skip
    assert best is not None
    return best, season_rows


_SLOTS: threading.BoundedSemaphore | None = None
_SLOTS_LOCK = threading.Lock()


def _search_slots() -> threading.BoundedSemaphore:
    """At most ``_threads()`` services evaluated at once in the process (alternatives and
    services both run on threads: this keeps the work, and the memory, to that many)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = threading.BoundedSemaphore(_threads())
        return _SLOTS


def _season_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Add, per service and zone, the share of the year each threshold is met on average."""
    within_cols = [c for c in rows.columns if c.startswith("within_") and c.endswith("min")]
    out = rows.copy()
    for col in within_cols:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"year_share_{col}"] = np.where(
                out["population"] > 0, out[col] / out["population"] * out["share_of_year"], np.nan
            )
    year = (
        out.groupby(["service", "zone_id"], sort=False)[[f"year_share_{c}" for c in within_cols]]
        .sum(min_count=1)
        .reset_index()
    )
    year.insert(
        0,
        "share_of_year",
        out.groupby(["service", "zone_id"], sort=False)["share_of_year"].sum().to_numpy(),
    )
    year.insert(0, "season", "year (weighted)")
    cols = ["season", "share_of_year", "service", "zone_id"]
    return pd.concat([out, year], ignore_index=True)[
        cols + [c for c in out.columns if c not in cols]
    ]


def compare_evaluations(region: Region, base: Evaluation, alt: Evaluation) -> pd.DataFrame:
    """Compare one evaluation with the baseline for every service (see ``scenarios.compare``)."""
    parts = []
    for svc in region.scenario.services:
        parts.append(
            compare_access(
                region.population.people, region.zone,
                base.services[svc.name].access, alt.services[svc.name].access,
                zone_ids=region.zones["zone_id"].astype(str).tolist(),
                zone_names=region.zones["name"].astype(str).tolist(),
                service=svc.name, alternative=alt.name, thresholds_min=svc.thresholds_min,
                target_share=svc.target_share,
                cost=alt.alternative.cost if alt.alternative else None,
            )
        )  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def key_threshold(svc: ServiceSpec) -> float:
    """The threshold that ranks alternatives: the middle one of the service's thresholds."""
    th = sorted(svc.thresholds_min)
    return th[len(th) // 2]


def _versions() -> dict[str, str]:
    out = {
        "reach": __version__,
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
    }
    for pkg in (
        "numpy",
        "scipy",
        "numba",
        "pandas",
        "geopandas",
        "shapely",
        "pyproj",
        "rasterio",
        "osmium",
        "pydantic",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _evaluate_all(
    region: Region, baseline: Evaluation | None, clock: Clock
) -> tuple[Evaluation, dict[str, Evaluation]]:
    """Evaluate the baseline (unless given) and every alternative, on both cores.

    Alternatives that add, close or suspend roads and ferries, or bring seasons, are searched
    in full, so they start at once, beside the baseline; those that touch only facilities,
    demand or road upgrades start when the baseline is done, and build on it. Searches run on
    at most ``_threads()`` threads at a time (``REACH_THREADS``); the kernels release the GIL
    and the region is only read, so the results are the same as one after the other.
    """
    alts = region.scenario.alternatives

    def run(alt: Alternative, base: Evaluation | None) -> Evaluation:
        return evaluate(region, name=alt.name, alternative=alt, clock=clock, baseline=base)

    if _threads() <= 1:
        base = baseline if baseline is not None else evaluate(region, clock=clock)
        return base, {a.name: run(a, base) for a in alts}
    # the pool's threads mostly wait for search slots (see _search_slots); a few more threads
    # than slots keep the slots busy while others build graphs, whatever the alternatives count
    with ThreadPoolExecutor(max_workers=min(len(alts) + 1, 2 * _threads() + 1)) as pool:
        base_future = None if baseline is not None else pool.submit(evaluate, region, clock=clock)
        futures = {a.name: pool.submit(run, a, None) for a in alts if not _builds_on_baseline(a)}
        done = base_future.result() if base_future is not None else baseline
        assert done is not None
        for a in alts:
            if a.name not in futures:
                futures[a.name] = pool.submit(run, a, done)
        return done, {a.name: futures[a.name].result() for a in alts}


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _threads() -> int:
    """Worker threads for alternatives: ``$REACH_THREADS``, else the number of cores."""
    cores = os.cpu_count() or 1
    value = os.environ.get("REACH_THREADS", "").strip()
    if not value:
        return cores
    if not value.isdigit() or not 1 <= int(value) <= 4 * cores:
        raise ScenarioError(
            f"$REACH_THREADS = {value[:20]!r} is not a thread count from 1 to {4 * cores}",
            fix="set it to the number of cores to use, or unset it",
        )
    return int(value)


def run_scenario(
    scn: Scenario,
    *,
    out_dir: Path | None = None,
    write: bool = True,
    on_step: StepCallback | None = None,
    region: Region | None = None,
    maps: bool = True,
    baseline: Evaluation | None = None,
) -> RunResult:
    """Run a scenario set (baseline + alternatives) and write its outputs atomically.

    Parameters
    ----------
    scn
        The validated scenario.
    out_dir
        Output folder; default the scenario's ``outputs.folder`` (relative to the scenario).
    write
        Write the files; with False only the in-memory results are returned.
    on_step
        Called with the name of each step as it starts (for a progress display).
    region
        An already loaded region of this scenario (skips reading the inputs again).
    maps
        Write the HTML maps (when the scenario's ``outputs.maps`` is on too).
    baseline
        The baseline, already evaluated (e.g. by a partitioned run on a Dask cluster).

    Returns
    -------
    RunResult
        Baseline, alternatives, comparison and ranking, with timings.
    """
    clock = Clock(on_step)
    _threads()  # a bad $REACH_THREADS is refused before any work
    target = None
    if write:
        target = out_dir if out_dir is not None else scn.resolve(scn.outputs.folder)
        target = check_output_target(target, protect=scn.protected_paths())
    # the inputs' sha256 and stamps before they are read: the manifest records what the results
    # came from, and an input changed while the run read it is reported
    inputs = {p: (file_sha256(p), _stamp(p)) for p in scn.input_paths() if p.is_file()}
    region = region or load_region(scn, clock=clock)
    baseline, alternatives = _evaluate_all(region, baseline, clock)
    comparison = ranking = None
    if alternatives:
        with clock.step("compare"):
            threads = min(len(alternatives), _threads())
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(
                    pool.map(
                        lambda ev: compare_evaluations(region, baseline, ev),
                        alternatives.values(),
                    )
                )
            comparison = pd.concat(parts, ignore_index=True)
            ranking = rank_alternatives(
                comparison, key_thresholds={s.name: key_threshold(s) for s in scn.services}
            )
    run = RunResult(
        scenario=scn, region=region, baseline=baseline, alternatives=alternatives,
        comparison=comparison, ranking=ranking, timings_s=clock.timings,
        inputs={str(p): digest for p, (digest, _) in inputs.items()},
        warnings=list(getattr(region, "warnings", [])),
    )  # fmt: skip
    for p, (_, stamp) in inputs.items():
        if not p.is_file() or _stamp(p) != stamp:
            run.warnings.append(f"{p} changed while the run read it: run again to be sure")
            _log.warning(run.warnings[-1])
    if target is not None:
        with clock.step("write outputs"):
            _write_outputs(run, target, maps=maps)
        run.out_dir = target
    return run


def _write_rasters(ev: Evaluation, folder: Path, region: Region) -> None:
    grid = region.grid
    kw: dict[str, Any] = {"transform": grid.transform, "crs": grid.crs}
    for name, res in ev.services.items():
        t = res.search.time_min.reshape(grid.shape)
        t32 = np.where(np.isfinite(t), t, np.nan).astype(np.float32)
        write_geotiff(
            folder / f"travel_time_{name}.tif", t32,
            nodata=float("nan"), description=f"minutes to the nearest {name} facility", **kw,
        )  # fmt: skip
        catchment = res.search.facility.reshape(grid.shape).astype(np.int32)
        write_geotiff(
            folder / f"catchment_{name}.tif", catchment,
            nodata=-1, description="row of facilities.csv for this service (0-based)", **kw,
        )  # fmt: skip
        write_geotiff(
            folder / f"reason_{name}.tif", res.search.reason.reshape(grid.shape), nodata=None,
            description="; ".join(f"{k}={v}" for k, v in REASON_LABELS.items()), **kw,
        )  # fmt: skip


def _write_delta_rasters(base: Evaluation, alt: Evaluation, folder: Path, region: Region) -> None:
    grid = region.grid
    kw: dict[str, Any] = {"transform": grid.transform, "crs": grid.crs}
    for name, res in alt.services.items():
        tb = base.services[name].search.time_min
        ta = res.search.time_min
        both = np.isfinite(tb) & np.isfinite(ta)
        saved = np.full(grid.n_cells, np.nan)
        saved[both] = tb[both] - ta[both]
        write_geotiff(
            folder / f"minutes_saved_{name}.tif", saved.reshape(grid.shape).astype(np.float32),
            nodata=float("nan"),
            description="baseline minus alternative travel time (positive = faster)", **kw,
        )  # fmt: skip
        rb = base.services[name].search.reason == REASON_REACHED
        ra = res.search.reason == REASON_REACHED
        change = np.zeros(grid.n_cells, dtype=np.uint8)
        change[~rb & ra] = 1
        change[rb & ~ra] = 2
        write_geotiff(
            folder / f"access_change_{name}.tif", change.reshape(grid.shape), nodata=None,
            description="0 unchanged; 1 newly reached within the limit; 2 no longer reached", **kw,
        )  # fmt: skip


def _write_vectors(ev: Evaluation, folder: Path, region: Region) -> None:
    """``facilities.gpkg`` (a layer per service) and ``zones.gpkg`` (coverage per service)."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, res in ev.services.items():
        table = res.facility_table
        layers[name] = gpd.GeoDataFrame(
            table.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(table["lon"], table["lat"]),
            crs="EPSG:4326",
        )
    write_gpkg(layers, folder / "facilities.gpkg")
    zones = region.zones
    if zones.geometry.isna().all():
        return
    outline = zones[["zone_id", "geometry"]].to_crs("EPSG:4326")
    outline = outline.assign(zone_id=outline["zone_id"].astype(str))
    coverage: dict[str, gpd.GeoDataFrame] = {}
    for name, res in ev.services.items():
        cov = res.coverage.drop(columns=["service"])
        coverage[name] = gpd.GeoDataFrame(
            outline.merge(cov, on="zone_id", how="left"), geometry="geometry", crs="EPSG:4326"
        )
    write_gpkg(coverage, folder / "zones.gpkg")


def _write_evaluation(ev: Evaluation, folder: Path, region: Region) -> None:
    parquet = region.scenario.outputs.parquet
    write_table(ev.coverage, folder / "coverage", parquet=parquet)
    write_table(ev.facilities, folder / "facilities", parquet=parquet)
    for attr in ("virtual", "referrals"):
        table = ev.table(attr)
        if table is not None:
            write_table(table, folder / attr, parquet=parquet)
    if ev.seasons is not None:
        write_table(ev.seasons, folder / "seasons", parquet=parquet)
    _write_vectors(ev, folder, region)
    if region.scenario.outputs.rasters:
        _write_rasters(ev, folder, region)


def _write_outputs(run: RunResult, target: Path, *, maps: bool = True) -> None:
    scn = run.scenario
    region = run.region
    grid = region.grid
    with atomic_folder(target, protect=scn.protected_paths(), command="run") as tmp:
        _write_evaluation(run.baseline, tmp, region)
        if scn.outputs.rasters:
            write_geotiff(
                tmp / "population.tif", region.population.people.astype(np.float32),
                transform=grid.transform, crs=grid.crs, nodata=None,
                description="people per cell (0 where nodata)",
            )  # fmt: skip
        for name, ev in run.alternatives.items():
            folder = tmp / "alternatives" / name
            folder.mkdir(parents=True)
            _write_evaluation(ev, folder, region)
            if scn.outputs.rasters:
                _write_delta_rasters(run.baseline, ev, folder, region)
        if run.comparison is not None and run.ranking is not None:
            write_table(run.comparison, tmp / "comparison", parquet=scn.outputs.parquet)
            write_table(run.ranking, tmp / "ranking", parquet=scn.outputs.parquet)
        if scn.outputs.maps and maps:
            write_maps(
                run, tmp, offline=scn.outputs.maps_offline, basemap_url=scn.outputs.basemap_url
            )
        inputs = run.inputs
        warnings: list[str] = list(run.warnings)
        if scn.outputs.reports and maps:
            # matplotlib and WeasyPrint are imported only when reports are asked for
            from reach.outputs.report import pdf_unavailable, write_report

            pdf = scn.outputs.report_pdf
            why = pdf_unavailable() if pdf else None
            if why is not None:
                pdf = False
                warnings.append(f"PDF reports skipped, HTML written: {why}")
                _log.warning(warnings[-1])
            for lang in scn.outputs.reports:
                write_report(run, tmp, lang=lang, pdf=pdf)
        manifest: dict[str, Any] = {
            "run_id": folder_run_id(tmp),
            "reach_version": __version__,
            "scenario": scn.model_dump(mode="json"),
            "scenario_base_dir": str(scn.base_dir),
            "inputs_sha256": inputs,
            "versions": _versions(),
            "timings_s": run.timings_s,
            "grid": {
                "rows": grid.rows,
                "cols": grid.cols,
                "crs": grid.crs.to_string(),
                "transform": list(grid.transform)[:6],
            },
            "population": {
                "raster_total": region.raster_total,
                "grid_total": region.population.total,
            },
            "friction": {"populated_water_cells_made_land": region.friction.populated_water_cells},
            "unreachable_reasons": {
                label: REASON_EXPLANATIONS.get(label, "")
                for code, label in REASON_LABELS.items()
                if code
            },
            "alternatives": sorted(run.alternatives),
            "warnings": warnings,
            "outputs": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()),
        }
        write_json(tmp / "manifest.json", manifest)
