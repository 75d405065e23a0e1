"""The analysis commands beyond distance coverage, on a loaded region and its baseline.

Capacity-limited coverage, accessibility scores (2SFCA / E2SFCA), equity, referral chains and the
siting of new facilities. Each analysis wires the metric modules (``reach.metrics``) and the
siting solvers (``reach.scenarios.optimize``) to a region the way :mod:`reach.run.evaluate` wires
coverage: the same search graph, facilities, zones and target shares. In-memory results;
:func:`reach.run.write.write_analysis` writes them with a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reach.errors import ScenarioError
from reach.metrics import MAX_CANDIDATES, MAX_SITES, check_amount, check_count, check_minutes
from reach.metrics.accessibility import Accessibility, StepDecay, fca_accessibility
from reach.metrics.capacity import (
    CapacityCoverage,
    capacity_coverage,
    catchment_times,
    check_capacity_conservation,
    processing_order,
)
from reach.metrics.equity import equity_table
from reach.metrics.referral import ReferralResult, referral_analysis
from reach.model.region import Region
from reach.results import Evaluation, ServiceResult
from reach.run.evaluate import (
    key_threshold,
)
from reach.run.session import service_graph, service_seeds
from reach.scenarios.optimize import (
    SolverComparison,
    build_siting_problem,
    candidates_from_grid,
    candidates_from_underserved,
    compare_solvers,
)
from reach.spec import (
    ServiceSpec,
    check_service,
    service_tiers,
    tier_order,
)

__all__ = [
    "SitingStudy",
    "accessibility_study",
    "capacity_study",
    "check_referral_tier",
    "equity_study",
    "referral_study",
    "siting_study",
]


def check_referral_tier(
    region: Region, service: str, tier: str, *, option: str = "referral tier"
) -> str:
    """``tier`` if ``service`` has a facility of that tier in the loaded region.

    Call it after loading the region and before any search.

    Parameters
    ----------
    region
        The loaded region (its baseline facilities).
    service
        The service's name.
    tier
        The referral tier asked for (e.g. ``"hospital"``).
    option
        How the user gave it, for the message (e.g. ``"--tier"``).

    Returns
    -------
    str
        ``tier``.

    Raises
    ------
    ScenarioError
        When no facility of the service has that tier, listing the tiers its facilities have
        (top tier first), or the scenario has no such service.
    """
    check_service(region.scenario, service)
    fac = region.facilities[service]
    present = list(dict.fromkeys(fac["tier"].dropna().astype(str)))
    if tier not in present:
        order = {t: i for i, t in enumerate(service_tiers(region.scenario, service))}
        have = sorted(present, key=lambda t: (order.get(t, len(order)), t))
        raise ScenarioError(
            f"{option} {tier!r}: service {service!r} has no facility of that tier "
            f"(its facilities have {', '.join(have) or 'no tiers'})",
            fix=f"use one of {', '.join(have)}" if have else "give the facilities tiers",
        )
    return tier


def _zones(region: Region) -> dict[str, list[str]]:
    """The region's zone ids and names, as keyword arguments of the metric tables."""
    return {
        "zone_ids": region.zones["zone_id"].astype(str).tolist(),
        "zone_names": region.zones["name"].astype(str).tolist(),
    }


def _service(baseline: Evaluation, service: str) -> tuple[ServiceSpec, ServiceResult]:
    """The named service's spec and baseline result; ScenarioError when there is none."""
    if not isinstance(service, str) or service not in baseline.services:
        raise ScenarioError(
            f"service {service!r}: the scenario has no such service",
            fix=f"use one of {', '.join(baseline.services)}",
        )
    res = baseline.services[service]
    return res.spec, res


def capacity_study(
    region: Region, baseline: Evaluation, service: str, *, threshold_min: float | None = None
) -> CapacityCoverage:
    """Capacity-limited coverage: each facility serves its catchment up to its capacity.

    Facilities are taken in order of tier (highest first), then capacity; each serves the
    people within ``threshold_min`` of it, nearest first, who are not yet served. A facility
    without a capacity serves everyone in its catchment.

    Parameters
    ----------
    region
        The loaded region.
    baseline
        Its evaluation (facilities snapped to cells).
    service
        The service's name.
    threshold_min
        Catchment time in minutes; default the service's middle threshold.

    Returns
    -------
    CapacityCoverage
        Served / within reach but over capacity / beyond reach, per cell, facility and zone.

    Raises
    ------
    ScenarioError
        When the scenario has no such service, or ``threshold_min`` is not a valid number of
        minutes.
    ConservationError
        When the served, over-capacity and beyond-reach people do not add up.
    """
    spec, res = _service(baseline, service)
    threshold = (
        check_minutes("threshold_min", threshold_min)
        if threshold_min is not None
        else float(key_threshold(spec))
    )
    fac = res.facilities
    graph = service_graph(region, spec.mode)
    people = region.population.people
    times = catchment_times(
        graph, fac["cell"].to_numpy(), people=people.ravel(), max_time_min=threshold,
        seeds=service_seeds(region, spec.mode, fac),
    )  # fmt: skip
    capacity = fac["capacity"].to_numpy(float) * 1.0
    order = processing_order(
        len(fac),
        tier=fac["tier"].astype(str).tolist(),
        tier_order=tier_order(spec),
        capacity_people=capacity,
    )
    result = capacity_coverage(
        people.ravel(), times,
        capacity_people=capacity, threshold_min=threshold, zone=region.membership,
        service=spec.name, order=order, target_share=spec.target_share,
        facilities=res.facility_table[["facility_id", "name", "tier"]], **_zones(region),
    )  # fmt: skip
    check_capacity_conservation(result, people=people.ravel() * spec.target_share)
    return result


def accessibility_study(
    region: Region,
    baseline: Evaluation,
    service: str,
    *,
    edges_min: tuple[float, ...] | None = None,
    weights: tuple[float, ...] = (1.0, 0.68, 0.22),
) -> Accessibility:
    """Enhanced two-step floating catchment (E2SFCA) scores: supply per 1,000 people.

    Supply is each facility's capacity (0 for a facility without one), or 1 per facility
    when no facility has a capacity.

    Parameters
    ----------
    region, baseline, service
        As for :func:`capacity_study`.
    edges_min
        Upper edges of the travel-time bands in minutes, in any order (default: the service's
        thresholds); the largest is the catchment's bound.
    weights
        Weight of each band, nearest band first; weights beyond the number of bands are
        ignored.

    Returns
    -------
    Accessibility
        Scores per cell, and the facility and zone tables.

    Raises
    ------
    ScenarioError
        When the scenario has no such service, ``edges_min`` is empty or holds an invalid
        number of minutes, or there are fewer weights than bands.
    ConservationError
        When the scores do not add up to the supply within reach.
    """
    spec, res = _service(baseline, service)
    if edges_min is not None:
        if len(edges_min) == 0:
            raise ScenarioError("edges_min is empty", fix="give at least one band edge, minutes")
        for edge in edges_min:
            check_minutes("edges_min", edge)
    edges = tuple(sorted(edges_min or spec.thresholds_min))
    if len(weights) < len(edges):
        raise ScenarioError(
            f"{len(edges)} band edges but only {len(weights)} weights",
            fix="give one weight per band edge",
        )
    decay = StepDecay(edges_min=edges, weights=tuple(weights[: len(edges)]))
    fac = res.facilities
    capacity = fac["capacity"].to_numpy(float)
    supply = None if np.isnan(capacity).all() else np.nan_to_num(capacity, nan=0.0)
    graph = service_graph(region, spec.mode)
    people = region.population.people.ravel()
    times = catchment_times(
        graph, fac["cell"].to_numpy(), people=people, max_time_min=edges[-1],
        seeds=service_seeds(region, spec.mode, fac),
    )  # fmt: skip
    return fca_accessibility(
        people, times,
        decay=decay, zone=region.membership, service=spec.name, supply=supply,
        target_share=spec.target_share,
        facilities=res.facility_table[["facility_id", "name", "tier"]], **_zones(region),
    )  # fmt: skip


def equity_study(region: Region, evaluation: Evaluation) -> pd.DataFrame:
    """Equity of travel time per zone and service, zones ranked worst first.

    Share beyond the middle threshold, mean and 90th percentile, Gini and Palma over the people
    who reach a facility, and the same with the unreachable counted at the time limit (when
    ``max_travel_time_min`` is finite).

    Parameters
    ----------
    region
        The loaded region.
    evaluation
        The evaluation (baseline or alternative) whose travel times are measured, with each
        service's own mode.

    Returns
    -------
    pandas.DataFrame
        Each service's zone rows, worst first, then its outside-zones and all rows (see
        :func:`reach.metrics.equity.equity_table`).

    Raises
    ------
    ConservationError
        When a zone's reached and unreachable people do not add up to its population.
    """
    parts = []
    limit = region.scenario.grid.max_travel_time_min
    for name, res in evaluation.services.items():
        spec = res.spec
        parts.append(
            equity_table(
                region.population.people.ravel(),
                region.membership,
                res.search.time_min,
                service=name,
                thresholds_min=spec.thresholds_min,
                limit_min=limit if np.isfinite(limit) else None,
                rank_threshold_min=key_threshold(spec),
                target_share=spec.target_share,
                **_zones(region),
            )
        )
    return pd.concat(parts, ignore_index=True)


def referral_study(
    region: Region, baseline: Evaluation, service: str, *, referral_tier: str = "hospital"
) -> ReferralResult:
    """Referral chains: each primary facility's time to the nearest ``referral_tier`` facility.

    The end-to-end time of a cell is its time to its nearest facility plus that facility's
    referral time (a hospital's own is 0). The referral search uses the service's mode on the
    baseline's roads.

    Parameters
    ----------
    region, baseline, service
        As for :func:`capacity_study`.
    referral_tier
        The tier patients are referred to (the hubs).

    Returns
    -------
    ReferralResult
        Each primary facility's referral time, the end-to-end time and chain status per cell,
        and end-to-end coverage per zone.

    Raises
    ------
    ScenarioError
        When the scenario has no such service, the service has no facility of
        ``referral_tier``, or none of them lies on a passable cell of the grid.
    ConservationError
        When a zone's parts do not add up to its population.
    """
    from reach.engine.combined import combined_search

    spec, res = _service(baseline, service)
    fac = res.facilities
    tiers = fac["tier"].astype(str)
    if not isinstance(referral_tier, str) or referral_tier not in set(tiers):
        have = ", ".join(dict.fromkeys(tiers)) or "none"
        raise ScenarioError(
            f"referral tier {referral_tier!r}: service {service!r} has no facility of that tier "
            f"(its facilities have {have})",
            fix=f"use one of {have}",
        )
    hubs = np.flatnonzero((tiers == referral_tier).to_numpy())
    cells = fac["cell"].to_numpy()
    hubs = hubs[cells[hubs] >= 0]
    if len(hubs) == 0:
        raise ScenarioError(
            f"referral tier {referral_tier!r}: no facility of that tier of service {service!r} "
            "lies on a passable cell of the grid",
            fix="check the facilities' coordinates, or use another tier",
        )
    graph = service_graph(region, spec.mode)
    seeds = service_seeds(region, spec.mode, fac).of(hubs)
    seed_cells, seed_min, seed_hub = seeds.cells.as_engine()
    referral = combined_search(
        graph, seed_cells, seed_facility=seed_hub, seed_time_min=seed_min,
        max_time_min=region.scenario.grid.max_travel_time_min,
        node_seeds=seeds.nodes.as_engine() if seeds.nodes.n else None,
    )  # fmt: skip
    return referral_analysis(
        region.population.people.ravel(), res.search, referral, cells,
        zone=region.membership, service=spec.name, thresholds_min=spec.thresholds_min,
        target_share=spec.target_share,
        facilities=res.facility_table[["facility_id", "name", "tier"]], **_zones(region),
        own_referral=np.where(np.isin(np.arange(len(fac)), hubs), np.arange(len(fac)), -1),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SitingStudy:
    """New sites chosen by the greedy and the exact solver, and the candidates they chose from.

    What :func:`siting_study` returns. Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    service
        The service's name.
    threshold_min
        The coverage threshold in minutes the sites were chosen for.
    candidates
        The candidate sites: ``candidate_id``, ``lon``, ``lat`` and ``cell``, with
        ``underserved_people`` when taken from the underserved cells and ``cost`` when a cost
        per site was given.
    comparison
        The greedy and the exact solutions, and the gap between them.
    """

    service: str
    threshold_min: float
    candidates: pd.DataFrame
    comparison: SolverComparison


def siting_study(
    region: Region,
    baseline: Evaluation,
    service: str,
    *,
    n_sites: int = 5,
    threshold_min: float | None = None,
    n_candidates: int = 200,
    grid_step_cells: int | None = None,
    budget: float | None = None,
    cost_per_site: float | None = None,
    time_limit_s: float = 60.0,
) -> SitingStudy:
    """Choose up to ``n_sites`` new sites that bring most people within ``threshold_min``.

    Existing facilities stay; people they already serve within the threshold do not count.
    Candidates are the ``n_candidates`` cells with most underserved people around them (or
    every ``grid_step_cells``-th passable cell). Each candidate's catchment comes from a bounded
    search; the greedy and the exact (MILP, HiGHS) solvers then pick the sites.

    Parameters
    ----------
    region, baseline, service
        As for :func:`capacity_study`.
    n_sites
        How many new sites at most (1 to :data:`~reach.metrics.MAX_SITES`); not used with a
        ``budget``.
    threshold_min
        Coverage threshold in minutes; default the service's middle threshold.
    n_candidates
        How many underserved candidate cells to choose from (1 to
        :data:`~reach.metrics.MAX_CANDIDATES`).
    grid_step_cells
        Take candidates on a lattice of every this many cells instead (passable cells only).
    budget
        Limit the sites by total cost instead of by number (needs ``cost_per_site``).
    cost_per_site
        Cost of each new site, in the budget's unit.
    time_limit_s
        Seconds the exact solver may take.

    Returns
    -------
    SitingStudy
        The candidates, and the sites each solver chose with the people they newly cover.

    Raises
    ------
    ScenarioError
        When the scenario has no such service, an argument is out of range, a budget comes
        without a cost per site, or there is no candidate site.
    """
    spec, res = _service(baseline, service)
    threshold = (
        check_minutes("threshold_min", threshold_min)
        if threshold_min is not None
        else float(key_threshold(spec))
    )
    if budget is None or n_sites is not None:
        n_sites = check_count("n_sites", n_sites, upper=MAX_SITES)
    n_candidates = check_count("n_candidates", n_candidates, upper=MAX_CANDIDATES)
    if grid_step_cells is not None:
        grid_step_cells = check_count(
            "grid_step_cells", grid_step_cells, upper=max(region.grid.shape)
        )
    if budget is not None:
        budget = check_amount("budget", budget)
        if cost_per_site is None:
            raise ScenarioError("a budget needs a cost per site", fix="give cost_per_site")
    if cost_per_site is not None:
        cost_per_site = check_amount("cost_per_site", cost_per_site)
    time_limit_s = check_amount("time_limit_s", time_limit_s)
    grid = region.grid
    passable = np.isfinite(region.friction.pace_min_per_m).reshape(grid.shape)
    if grid_step_cells:
        candidates = candidates_from_grid(grid, passable, step_cells=grid_step_cells)
    else:
        candidates = candidates_from_underserved(
            region.population.people, res.search.time_min, grid,
            threshold_min=threshold, n_sites=n_candidates, allowed=passable,
        )  # fmt: skip
    if candidates.empty:
        how = (
            f"a lattice every {grid_step_cells} cells"
            if grid_step_cells
            else f"no cell has people beyond {threshold:g} min around it"
        )
        raise ScenarioError(
            f"service {spec.name!r}: no candidate site ({how})",
            fix="use a smaller grid step" if grid_step_cells else "use a lower threshold",
        )
    if cost_per_site is not None:
        candidates = candidates.assign(cost=float(cost_per_site))
    problem = build_siting_problem(
        service_graph(region, spec.mode), candidates,
        people=region.population.people.ravel(), baseline_time_min=res.search.time_min,
        threshold_min=threshold, target_share=spec.target_share,
        seeds=service_seeds(region, spec.mode, candidates),
    )  # fmt: skip
    comparison = compare_solvers(
        problem, n_sites=n_sites if budget is None else None, budget=budget,
        time_limit_s=time_limit_s,
    )  # fmt: skip
    return SitingStudy(
        service=spec.name, threshold_min=threshold, candidates=candidates, comparison=comparison
    )
