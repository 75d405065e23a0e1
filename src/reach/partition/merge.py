"""Assembling the whole-grid result from the partitions' cores.

Every cell and node has one owner, so the cores' results fill one array per service without
overlap; the reasons of the cells no search reached come from the whole region's components
(:mod:`reach.partition.survey`), and coverage is measured with the pipeline's own code, as a
whole-region run measures it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from reach.codes import (
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
)
from reach.engine.combined import SearchResult
from reach.model.grid import Friction
from reach.model.region import Region
from reach.partition.inputs import CoordinatorInputs
from reach.partition.owners import CHUNK_CELLS
from reach.partition.plan import PartitionPlan
from reach.partition.windows import CoreResult

if TYPE_CHECKING:
    from reach.results import Evaluation

__all__ = ["baseline_evaluation", "merge_results", "region_without_friction"]

_STATUS_REASON = np.full(256, REASON_NO_DATA, dtype=np.uint8)
_STATUS_REASON[STATUS_PASSABLE] = REASON_NO_ROUTE
_STATUS_REASON[STATUS_BARRIER] = REASON_BARRIER
_STATUS_REASON[STATUS_WATER] = REASON_WATER
_STATUS_REASON[STATUS_NO_DATA] = REASON_NO_DATA


def merge_results(plan: PartitionPlan, results: Sequence[CoreResult]) -> dict[str, SearchResult]:
    """One :class:`SearchResult` per service over the whole grid.

    Parameters
    ----------
    plan
        The partitions (the survey's components and statuses, the routes per service).
    results
        Every partition's core results.

    Returns
    -------
    dict
        Per service: times, catchments (rows of its facility table), reasons and node times.
        An unreached passable cell is "beyond the time limit" when its component has a route
        to a facility, else "no route"; impassable cells get their status's reason.
    """
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
        for a in range(0, n, CHUNK_CELLS):
            b = min(a + CHUNK_CELLS, n)
            reason[a:b] = _STATUS_REASON[status[a:b]]
            open_ = status[a:b] == STATUS_PASSABLE
            lab = labels[a:b]
            beyond = open_ & routes[lab] & (lab > 0)
            reason[a:b][beyond] = REASON_BEYOND_LIMIT
            reason[a:b][np.isfinite(t[a:b])] = REASON_REACHED
        out[svc.name] = SearchResult(time_min=t, facility=f, reason=reason, node_time_min=nt)
    return out


def region_without_friction(inputs: CoordinatorInputs, plan: PartitionPlan) -> Region:
    """The region of a run from a scenario file, whose friction was never built whole.

    Parameters
    ----------
    inputs
        The coordinator's inputs.
    plan
        The partitions (the survey counts the populated water cells).

    Returns
    -------
    Region
        Everything but the friction (``region.friction`` has empty arrays and the whole grid's
        ``populated_water_cells``): enough to write outputs, not to evaluate alternatives.
    """
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
        zone_shares=inputs.zone_shares,
        population_correction=inputs.population_correction,
        friction=empty,
        roads=inputs.roads,
        facilities=inputs.facilities,
        timings_s={},
    )


def baseline_evaluation(
    region: Region, plan: PartitionPlan, searches: Mapping[str, SearchResult]
) -> Evaluation:
    """The baseline :class:`reach.results.Evaluation`, measured as ``evaluate`` measures it.

    Parameters
    ----------
    region
        The region.
    plan
        The partitions (the snapped facilities).
    searches
        The merged search of every service.

    Returns
    -------
    Evaluation
        Coverage and facility tables of the baseline.
    """
    from reach.results import Evaluation
    from reach.run.measure import baseline_result

    services = {
        svc.name: baseline_result(region, svc, plan.facilities[svc.name], searches[svc.name])
        for svc in plan.scenario.services
    }
    return Evaluation(name="baseline", alternative=None, services=services)
