"""Evaluate the baseline or one alternative on a loaded region: apply its operations, search
each service (per season variant, with vehicles), measure it, and compare with the baseline.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.errors import ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.region import Region
from reach.progress import Clock
from reach.results import BASELINE, Evaluation, ServiceResult
from reach.run.measure import (
    facility_table,
    season_summary,
    service_coverage,
    virtual_access,
)
from reach.run.session import SearchSession, region_session
from reach.scenarios.compare import CellAccess, compare_access
from reach.scenarios.facilities import apply_facility_operations
from reach.scenarios.roads import apply_road_operations, apply_season
from reach.schema import within_col
from reach.settings import thread_count
from reach.spec import (
    AddFacility,
    Alternative,
    CloseFacility,
    DigitalLearning,
    Season,
    ServiceSpec,
    Telemedicine,
    UpgradeFacility,
    UpgradeRoad,
    VehicleAvailability,
)

__all__ = [
    "SERVICE_OPERATIONS",
    "builds_on_baseline",
    "compare_evaluations",
    "evaluate",
    "key_threshold",
]


#: Operations on one service's facilities or demand, leaving every route as it was: an
#: alternative made only of these builds on the baseline. Each service is searched from the
#: baseline's times onward (only what new facilities serve sooner, and what closed ones served);
#: a service no operation names keeps the baseline's result.
SERVICE_OPERATIONS = (
    AddFacility,
    CloseFacility,
    UpgradeFacility,
    VehicleAvailability,
    Telemedicine,
    DigitalLearning,
)


def builds_on_baseline(alt: Alternative) -> bool:
    """Whether an alternative is evaluated from the baseline onward.

    Parameters
    ----------
    alt
        The alternative.

    Returns
    -------
    bool
        True when every operation is one of :data:`SERVICE_OPERATIONS` (facilities or demand)
        or a road upgrade (carried on where it only made edges faster, else searched in full).
        Alternatives that add, close or suspend roads and ferries, change ferries, or bring
        seasons are searched in full.
    """
    return all(isinstance(op, (*SERVICE_OPERATIONS, UpgradeRoad)) for op in alt.operations)


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
        The evaluation's name, also in its step names (``"<name>: <service>: coverage"``).
    alternative
        Its operations, applied to the region's roads and facilities in order (seasons to
        each season variant); ``None`` for the baseline.
    clock
        Times the steps (and reports progress); a new one by default.
    baseline
        The baseline's evaluation. With it, an alternative that builds on the baseline
        (:func:`builds_on_baseline`: it changes facilities or demand — adds, closes, upgrades;
        vehicles, telemedicine, online learning — or upgrades roads) is searched from the
        baseline onward: only the cells a new facility serves sooner, those a closed one
        served, and those a faster road reaches sooner are visited. On the baseline's roads
        and without seasons, a service no operation names keeps the baseline's result. The
        times are the same as a full search.
    incremental
        Set False to search every alternative in full, even with ``baseline``.

    Returns
    -------
    Evaluation
        Per-service results, and the per-season table when seasons are given. With seasons,
        each service's result is the season variant that leaves fewest people within its
        largest threshold.

    Raises
    ------
    ScenarioError
        When the seasons' ``share_of_year`` adds up to more than 1, or an operation names a
        facility or road the region does not have.
    ConservationError
        When a coverage table does not add up to the population.
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
    variants: list[tuple[str, float, SearchSession]] = []
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
                region_session(region)
                if roads is region.roads
                else SearchSession(region, roads, region.friction),
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
                SearchSession(region, apply_season(roads, season), friction),
            )
        )

    # searched on from the baseline (road upgrades only where they made edges faster, which
    # the search checks per mode against the baseline's graph)
    carry_on = (
        incremental
        and baseline is not None
        and alternative is not None
        and builds_on_baseline(alternative)
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
                base=region_session(region) if carry_on else None,
                vehicle_share=vehicle.get(svc.name, 1.0), virtual_op=virtual_ops.get(svc.name),
            )  # fmt: skip

    threads = min(len(scn.services), thread_count())
    if threads <= 1:
        done = [one_service(svc) for svc in scn.services]
    else:
        # the kernels release the GIL; the region is only read
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(one_service, scn.services))
    services = {svc.name: res for svc, (res, _) in zip(scn.services, done, strict=True)}
    season_rows = [part for _, parts in done for part in parts]
    season_table = (
        season_summary(
            pd.concat(season_rows, ignore_index=True),
            thresholds_min=list(
                dict.fromkeys(t for s in scn.services for t in sorted(s.thresholds_min))
            ),
        )
        if season_rows
        else None
    )
    return Evaluation(name=name, alternative=alternative, services=services, seasons=season_table)


def _evaluate_service(
    region: Region,
    svc: ServiceSpec,
    facilities: gpd.GeoDataFrame,
    variants: Sequence[tuple[str, float, SearchSession]],
    *,
    name: str,
    clock: Clock,
    seasons: bool,
    start: ServiceResult | None,
    base: SearchSession | None,
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
            fac = searcher.snap(facilities, within_m=svc.facilities.snap_within_m)
            result = searcher.search(fac, svc.mode, start=start, base=base)
            walk = None
            if vehicle_share < 1.0 and svc.mode != "walk":
                walk = searcher.search(fac, "walk")
        with clock.step(f"{name}: {svc.name}: coverage"):
            cov = service_coverage(region, svc, result, walk, vehicle_share)
            by_level = {
                lv.name: service_coverage(region, svc, result, walk, vehicle_share, level=lv)
                for lv in region.zone_levels
            }
            access = CellAccess(
                time_min=result.time_min,
                walk_time_min=None if walk is None else walk.time_min,
                vehicle_share=vehicle_share,
            )
            virtual = referrals = None
            if virtual_op is not None:
                connected, virtual, referrals = virtual_access(
                    region, svc, result, fac, virtual_op, searcher
                )
                access = replace(
                    access, connected=connected.ravel(), remote_share=virtual_op.remote_share
                )
            table = facility_table(fac, result, region.population.people, svc)
        top = max(svc.thresholds_min)
        all_row = cov[cov["zone_id"] == ALL_ZONES_ID].iloc[0]
        if seasons:
            part = cov.copy()
            part.insert(0, "share_of_year", share)
            part.insert(0, "season", season_name)
            season_rows.append(part)
        key = float(all_row[within_col(top)])
        if best is None or key < best_key:
            best_key = key
            best = ServiceResult(
                spec=svc, facilities=fac, search=result, coverage=cov, facility_table=table,
                access=access, virtual=virtual, referrals=referrals,
                season=season_name if seasons else None, level_coverage=by_level,
            )  # fmt: skip
    assert best is not None
    return best, season_rows


_SLOTS: threading.BoundedSemaphore | None = None


_SLOTS_LOCK = threading.Lock()


def _search_slots() -> threading.BoundedSemaphore:
    """At most ``thread_count()`` services evaluated at once in the process (alternatives and
    services both run on threads: this keeps the work, and the memory, to that many)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = threading.BoundedSemaphore(thread_count())
        return _SLOTS


def compare_evaluations(region: Region, base: Evaluation, alt: Evaluation) -> pd.DataFrame:
    """Compare one evaluation with the baseline for every service.

    Parameters
    ----------
    region
        The loaded region both were evaluated on.
    base
        The baseline's evaluation.
    alt
        The alternative's evaluation; its cost (if any) gives the gain-per-cost columns.

    Returns
    -------
    pandas.DataFrame
        Per service and zone (then the outside-zones and all rows): people within each
        threshold before and after, gains, losses, mean times and cost (see
        :func:`reach.scenarios.compare.compare_access`).
    """
    parts = []
    for svc in region.scenario.services:
        parts.append(
            compare_access(
                region.population.people, region.membership,
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
    """The threshold that ranks alternatives: the middle one of the service's thresholds.

    Parameters
    ----------
    svc
        The service.

    Returns
    -------
    float
        Minutes: the middle threshold (the upper middle one of an even number).
    """
    th = sorted(svc.thresholds_min)
    return th[len(th) // 2]
