"""Analyses beyond distance coverage, run on a loaded region and its baseline evaluation.

Capacity-limited coverage, accessibility scores (2SFCA / E2SFCA), equity, referral chains and the
siting of new facilities. Each study wires the metric modules (``reach.metrics``) and the siting
solvers (``reach.scenarios.optimize``) to a region the way :mod:`reach.pipeline` wires coverage:
the same search graph, facilities, zones and target shares. Pure in-memory results; the CLI
writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reach.build import Region
from reach.errors import ScenarioError
from reach.ingest.facilities import EDUCATION_TIERS, HEALTH_TIERS
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
from reach.pipeline import Evaluation, ServiceResult, key_threshold, service_graph
from reach.scenario import Scenario, ServiceSpec
from reach.scenarios.optimize import (
    SolverComparison,
    build_siting_problem,
    candidates_from_grid,
    candidates_from_underserved,
    compare_solvers,
)

__all__ = [
    "MAX_CANDIDATES",
    "MAX_SITES",
    "SitingStudy",
    "accessibility_study",
    "capacity_study",
    "check_referral_tier",
    "check_service",
    "check_tier",
    "equity_study",
    "referral_study",
    "service_tiers",
    "siting_study",
]


def check_service(
    scn: Scenario, service: object, *, option: str = "service", default_first: bool = True
) -> str:
    """The named service of ``scn`` (the first when ``service`` is empty and ``default_first``).

    Raises
    ------
    ScenarioError
        When the scenario has no such service, listing the names it has.
    """
    names = [s.name for s in scn.services]
    if service is None or service == "":
        if default_first:
            return names[0]
        raise ScenarioError(f"{option}: no service named", fix=f"use one of {', '.join(names)}")
    if not isinstance(service, str) or service not in names:
        raise ScenarioError(
            f"{option} {service!r}: the scenario has no such service",
            fix=f"use one of {', '.join(names)}",
        )
    return service


def _spec(scn: Scenario, service: str) -> ServiceSpec:
    return next(s for s in scn.services if s.name == check_service(scn, service))


def service_tiers(scn: Scenario, service: str) -> list[str]:
    """The tiers a facility of ``service`` may have: its declared ``tiers``, else its kind's."""
    return _tier_order(_spec(scn, service))


def check_tier(scn: Scenario, service: str, tier: object, *, option: str = "tier") -> str:
    """``tier`` if a facility of ``service`` may have it (as the facility files are checked).

    Raises
    ------
    ScenarioError
        When the service's tiers (its declared ``tiers``, else its kind's) do not include it.
    """
    tiers = service_tiers(scn, service)
    if not isinstance(tier, str) or tier not in tiers:
        raise ScenarioError(
            f"{option} {tier!r} is not a tier of service {service!r}",
            fix=f"use one of {', '.join(tiers)}",
        )
    return tier


def check_referral_tier(
    region: Region, service: str, tier: str, *, option: str = "referral tier"
) -> str:
    """``tier`` if ``service`` has a facility of that tier in the loaded region.

    Call it after loading the region and before any search.

    Raises
    ------
    ScenarioError
        When no facility of the service has that tier, listing the tiers its facilities have.
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
    return {
        "zone_ids": region.zones["zone_id"].astype(str).tolist(),
        "zone_names": region.zones["name"].astype(str).tolist(),
    }


def _service(baseline: Evaluation, service: str) -> tuple[ServiceSpec, ServiceResult]:
    if not isinstance(service, str) or service not in baseline.services:
        raise ScenarioError(
            f"service {service!r}: the scenario has no such service",
            fix=f"use one of {', '.join(baseline.services)}",
        )
    res = baseline.services[service]
    return res.spec, res


def _tier_order(spec: ServiceSpec) -> list[str]:
    if spec.facilities.tiers:
        return list(spec.facilities.tiers)
    return list(HEALTH_TIERS if spec.kind == "health" else EDUCATION_TIERS)


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
        Catchment time; default the service's middle threshold.

    Returns
    -------
    CapacityCoverage
        Served / within reach but over capacity / beyond reach, per cell, facility and zone.
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
        graph, fac["cell"].to_numpy(), people=people.ravel(), max_time_min=threshold
    )
    capacity = fac["capacity"].to_numpy(float) * 1.0
    order = processing_order(
        len(fac),
        tier=fac["tier"].astype(str).tolist(),
        tier_order=_tier_order(spec),
        capacity_people=capacity,
    )
    result = capacity_coverage(
        people.ravel(), times,
        capacity_people=capacity, threshold_min=threshold, zone=region.zone.ravel(),
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

    Supply is each facility's capacity, or 1 per facility when no facility has one.

    Parameters
    ----------
    region, baseline, service
        As for :func:`capacity_study`.
    edges_min
        Upper edges of the travel-time bands (default: the service's thresholds).
    weights
        Weight of each band.
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
    times = catchment_times(graph, fac["cell"].to_numpy(), people=people, max_time_min=edges[-1])
    return fca_accessibility(
        people, times,
        decay=decay, zone=region.zone.ravel(), service=spec.name, supply=supply,
        target_share=spec.target_share,
        facilities=res.facility_table[["facility_id", "name", "tier"]], **_zones(region),
    )  # fmt: skip


def equity_study(region: Region, evaluation: Evaluation) -> pd.DataFrame:
    """Equity of travel time per zone and service, zones ranked worst first.

    Share beyond the middle threshold, mean and 90th percentile, Gini and Palma over the people
    who reach a facility, and the same with the unreachable counted at the time limit.
    """
    parts = []
    limit = region.scenario.grid.max_travel_time_min
    for name, res in evaluation.services.items():
        spec = res.spec
        parts.append(
            equity_table(
                region.population.people.ravel(),
                region.zone.ravel(),
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
    referral time (a hospital's own is 0).
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
    referral = combined_search(
        graph, cells[hubs], seed_facility=hubs,
        max_time_min=region.scenario.grid.max_travel_time_min,
    )  # fmt: skip
    return referral_analysis(
        region.population.people.ravel(), res.search, referral, cells,
        zone=region.zone.ravel(), service=spec.name, thresholds_min=spec.thresholds_min,
        target_share=spec.target_share,
        facilities=res.facility_table[["facility_id", "name", "tier"]], **_zones(region),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SitingStudy:
    """New sites chosen by the greedy and the exact solver, and the candidates they chose from."""

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
    )  # fmt: skip
    comparison = compare_solvers(
        problem, n_sites=n_sites if budget is None else None, budget=budget,
        time_limit_s=time_limit_s,
    )  # fmt: skip
    return SitingStudy(
        service=spec.name, threshold_min=threshold, candidates=candidates, comparison=comparison
    )
