"""Capacity-limited coverage: who is served, who is within reach of a full facility, who is not.

Nearest-facility coverage counts everybody within a threshold as covered, however many people a
facility can take. Here each facility serves at most its capacity, in three steps:

1. **Catchments.** :func:`catchment_times` runs one bounded search per facility and keeps, for
   every populated cell within the threshold of *that* facility, its travel time: a sparse
   facility × cell matrix (``scipy.sparse.csr_array``). A cell can lie in several catchments.
2. **Allocation.** Facilities take turns in a stated priority order (:func:`processing_order`:
   tier rank, then capacity, ties by facility index). Each one serves the people of its catchment
   that no earlier facility has served, closest first (by its own travel time, ties by cell
   index), until its capacity is used up; the cell where the capacity runs out is served in
   part, in proportion. A facility without a capacity (NaN) serves its whole catchment.
3. **Accounting.** Every populated cell's people split exactly three ways: *served*, *within
   reach but over capacity* (within the threshold of some facility, but every such facility is
   full) and *beyond reach* (within the threshold of none). Per zone the same three columns, with
   an outside-zones row and an all row, are checked to add up to the grid total
   (:class:`~reach.errors.ConservationError` otherwise).

Pure functions on arrays except :func:`catchment_times`, which runs the engine's search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from reach.codes import REASON_BEYOND_LIMIT
from reach.engine.combined import SearchResult, combined_search
from reach.errors import ConservationError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.model.assemble import SearchGraph
from reach.model.joins import FacilitySeeds
from reach.model.zones import ZoneShares, zone_memberships, zone_numbers
from reach.schema import pct_col

__all__ = [
    "CAPACITY_PARTS",
    "CapacityCoverage",
    "capacity_coverage",
    "catchment_times",
    "check_capacity_conservation",
    "processing_order",
]

#: The three parts every cell's people are split into, in column order.
CAPACITY_PARTS: tuple[str, ...] = ("served", "in_reach_over_capacity", "beyond_reach")

#: Facility columns copied into the facility table when present.
_ID_COLUMNS = ("facility_id", "name", "tier")


def _blank_search(graph: SearchGraph) -> SearchResult:
    """An empty search (no facility, nothing reached) to start bounded searches from.

    Every cell is marked as lying beyond the limit, so :func:`combined_search` skips its
    region-wide pass that tells "beyond the limit" from "no route" for the cells a bounded search
    does not reach: that pass costs as much as a full search. Only the times of searches started
    from here are used, never their reasons.
    """
    n = graph.n_cells
    return SearchResult(
        time_min=np.full(n, np.inf),
        facility=np.full(n, -1, dtype=np.int32),
        reason=np.full(n, REASON_BEYOND_LIMIT, dtype=np.uint8),
        node_time_min=np.full(graph.n_nodes, np.inf),
    )


def catchment_times(
    graph: SearchGraph,
    seed_cells: np.ndarray,
    *,
    people: np.ndarray,
    max_time_min: float,
    seeds: FacilitySeeds | None = None,
) -> sparse.csr_array:
    """Travel time from every populated cell to each facility, up to a time bound.

    One bounded search per facility (``combined_search(graph, [cell], max_time_min=...)``): its
    cost grows with the facility's catchment (plus a few passes over flat arrays), not with a
    search of the whole region.

    Parameters
    ----------
    graph
        The search graph (one mode, one road / friction variant).
    seed_cells
        Flat cell of each facility; ``-1`` (off the grid) gives an empty row.
    people
        People per cell (any shape with ``graph.n_cells`` values); only cells with people > 0
        are kept. Pass a masked copy (0 elsewhere) to keep a subset, e.g. the people a baseline
        leaves beyond a threshold.
    max_time_min
        The bound in minutes (finite): cells further than this from a facility are left out.
    seeds
        Where each facility's search starts, numbered as ``seed_cells``
        (:func:`reach.model.assemble.facility_seeds`: the cells around it and the roads near
        it); ``None``: from its cell alone, at 0 minutes.

    Returns
    -------
    scipy.sparse.csr_array
        ``float64`` of shape ``(len(seed_cells), graph.n_cells)``: row ``f`` holds the minutes
        from each kept cell within ``max_time_min`` of facility ``f`` to it; column indices are
        flat cell indices, sorted. The *stored entries* are the catchment: the facility's own
        cell may be stored with a time of 0, so read the structure (``indptr`` / ``indices``), not
        ``!= 0``, and never call ``eliminate_zeros`` on it.
    """
    bound = float(max_time_min)
    if not math.isfinite(bound) or bound < 0:
        raise ScenarioError(f"max_time_min must be finite and ≥ 0 (got {max_time_min})")
    pop = np.asarray(people, dtype=np.float64).ravel()
    if pop.shape != (graph.n_cells,):
        raise ScenarioError(f"people has {pop.size} values; the graph has {graph.n_cells} cells")
    pts = np.asarray(seed_cells, dtype=np.int64).ravel()
    if pts.size and pts.max() >= graph.n_cells:
        raise ScenarioError("a seed cell lies outside the grid")
    kept = np.flatnonzero(pop > 0)
    blank = _blank_search(graph)
    indptr = np.zeros(len(pts) + 1, dtype=np.int64)
    parts_idx: list[np.ndarray] = []
    parts_time: list[np.ndarray] = []
    if seeds is not None:
        cell_at = np.searchsorted(seeds.cells.point, np.arange(len(pts) + 1))
        node_at = np.searchsorted(seeds.nodes.point, np.arange(len(pts) + 1))
    for f, cell in enumerate(pts):
        if cell >= 0:
            start_cells = np.array([cell], dtype=np.int64)
            start_min = np.zeros(1)
            joins = None
            if seeds is not None:
                a, b = cell_at[f], cell_at[f + 1]
                start_cells, start_min = seeds.cells.vertex[a:b], seeds.cells.time_min[a:b]
                a, b = node_at[f], node_at[f + 1]
                if b > a:
                    joins = (
                        seeds.nodes.vertex[a:b],
                        seeds.nodes.time_min[a:b],
                        np.zeros(b - a, dtype=np.int32),
                    )
            res = combined_search(
                graph,
                start_cells,
                seed_facility=np.zeros(len(start_cells), dtype=np.int32),
                seed_time_min=start_min,
                max_time_min=bound,
                start=blank,
                node_seeds=joins,
            )
            t = res.time_min[kept]
            inside = t <= bound
            parts_idx.append(kept[inside])
            parts_time.append(t[inside])
            indptr[f + 1] = indptr[f] + int(inside.sum())
        else:
            indptr[f + 1] = indptr[f]
    indices = np.concatenate(parts_idx) if parts_idx else np.empty(0, dtype=np.int64)
    data = np.concatenate(parts_time) if parts_time else np.empty(0, dtype=np.float64)
    return sparse.csr_array((data, indices, indptr), shape=(len(pts), graph.n_cells))


def processing_order(
    n_facilities: int,
    *,
    tier: Sequence[str] | None = None,
    tier_order: Sequence[str] = (),
    capacity_people: np.ndarray | None = None,
    larger_capacity_first: bool = True,
) -> np.ndarray:
    """The order in which facilities take their share of the people.

    Sorted by tier rank (the position of the facility's tier in ``tier_order``; tiers not listed
    come after all listed ones), then by capacity (larger first by default; no capacity, NaN,
    counts as the largest), then by facility index, so the order is always deterministic.

    Parameters
    ----------
    n_facilities
        Number of facilities.
    tier
        Tier of each facility, or ``None`` to ignore tiers.
    tier_order
        Tiers from first served to last, e.g. ``("hospital", "health_centre", "clinic")``.
    capacity_people
        Capacity of each facility (NaN = unlimited), or ``None`` to ignore capacities.
    larger_capacity_first
        Larger capacities first (default) or smaller first.

    Returns
    -------
    numpy.ndarray
        ``int64`` permutation of ``0 .. n_facilities-1``: facility indices, first served first.
    """
    index = np.arange(n_facilities, dtype=np.int64)
    rank = np.zeros(n_facilities, dtype=np.int64)
    if tier is not None:
        if len(tier) != n_facilities:
            raise ScenarioError(f"tier has {len(tier)} values for {n_facilities} facilities")
        pos = {str(t): i for i, t in enumerate(tier_order)}
        rank = np.array([pos.get(str(t), len(pos)) for t in tier], dtype=np.int64)
    cap_key = np.zeros(n_facilities)
    if capacity_people is not None:
        cap = np.asarray(capacity_people, dtype=np.float64).ravel()
        if cap.shape != (n_facilities,):
            raise ScenarioError(f"capacity_people has {cap.size} values for {n_facilities}")
        cap = np.where(np.isnan(cap), np.inf, cap)
        cap_key = -cap if larger_capacity_first else cap
    return np.lexsort((index, cap_key, rank)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class CapacityCoverage:
    """Capacity-limited coverage of one service at one threshold.

    Attributes
    ----------
    threshold_min
        The catchment threshold in minutes.
    served, in_reach_over_capacity, beyond_reach
        ``float64`` (n_cells,): people per cell (times the target share) in each part; the
        three add up to the cell's people.
    served_by
        ``scipy.sparse.csr_array`` facility × cell: the people each facility serves in each
        cell (stored only where it serves someone).
    facilities
        One row per facility (in facility order): the copied id columns, ``facility``
        (index), ``priority_rank`` (1 = served first), ``capacity_people`` (NaN = unlimited),
        ``catchment_people`` (people within the threshold of it, whoever serves them),
        ``served_people``, ``unused_capacity_people`` (NaN when unlimited),
        ``pct_capacity_used`` and ``served_up_to_min`` (the travel time of the furthest cell it
        serves, even in part: its effective catchment radius; NaN when it serves nobody).
    zones
        One row per zone, then the outside-zones and all rows: ``service``, ``zone_id``,
        ``zone_name``, ``threshold_min``, ``population``, ``served``,
        ``in_reach_over_capacity``, ``beyond_reach`` and the same three as ``pct_…``.
    """

    threshold_min: float
    served: np.ndarray
    in_reach_over_capacity: np.ndarray
    beyond_reach: np.ndarray
    served_by: sparse.csr_array
    facilities: pd.DataFrame
    zones: pd.DataFrame


def _check_matrix(times: sparse.csr_array | sparse.csr_matrix, n_cells: int) -> sparse.csr_array:
    m = sparse.csr_array(times)
    if m.shape[1] != n_cells:
        raise ScenarioError(f"the catchment matrix has {m.shape[1]} columns for {n_cells} cells")
    if m.nnz and (np.isnan(m.data).any() or (m.data < 0).any()):
        raise ScenarioError("catchment times must be ≥ 0 and not NaN")
    if not m.has_canonical_format:
        raise ScenarioError("the catchment matrix must list each cell once per facility, sorted")
    return m


def capacity_coverage(
    people: np.ndarray,
    catchment_time_min: sparse.csr_array,
    *,
    capacity_people: np.ndarray,
    threshold_min: float,
    zone: np.ndarray | ZoneShares,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    order: np.ndarray | None = None,
    target_share: float = 1.0,
    facilities: pd.DataFrame | None = None,
) -> CapacityCoverage:
    """Serve each facility's catchment up to its capacity, in priority order, closest first.

    Parameters
    ----------
    people
        People per cell (any shape; 0 where nodata).
    catchment_time_min
        Facility × cell travel times from :func:`catchment_times` (bound ≥ ``threshold_min``).
    capacity_people
        People each facility can serve (in the service's target population); NaN = unlimited.
    threshold_min
        A cell is in a facility's catchment when its time to that facility is ≤ this.
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every zone row.
    order
        Facility indices, first served first (:func:`processing_order`); default index order.
    target_share
        Share of the population the service targets (e.g. school-age children), in (0, 1].
    facilities
        One row per facility; ``facility_id``, ``name`` and ``tier`` are copied when present.

    Returns
    -------
    CapacityCoverage
        Per-cell parts, who serves whom, and the facility and zone tables.

    Raises
    ------
    ConservationError
        If a cell's, a zone row's or the grid's parts do not add up to its people, or a facility
        serves more than its capacity.
    """
    if not (0.0 < float(target_share) <= 1.0):
        raise ScenarioError(f"target_share must lie in (0, 1] (got {target_share})")
    th = float(threshold_min)
    if math.isnan(th) or th < 0:
        raise ScenarioError(f"threshold_min must be ≥ 0 (got {threshold_min})")
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("people must be finite and ≥ 0 (give 0 where the raster has nodata)")
    n_cells = pop.size
    z = zone_numbers(zone)
    if z.shape != (n_cells,):
        raise ScenarioError(f"zone has {z.size} values for {n_cells} cells")
    n_zones = len(zone_ids)
    if len(zone_names) != n_zones:
        raise ScenarioError("zone_ids and zone_names differ in length")
    if n_cells and (z.min() < 0 or z.max() > n_zones):
        raise ScenarioError(f"zone numbers must lie in 0..{n_zones}")
    times = _check_matrix(catchment_time_min, n_cells)
    n_fac = times.shape[0]
    cap = np.asarray(capacity_people, dtype=np.float64).ravel()
    if cap.shape != (n_fac,):
        raise ScenarioError(f"capacity_people has {cap.size} values for {n_fac} facilities")
    if (cap < 0).any() or np.isinf(cap).any():
        raise ScenarioError("capacities must be ≥ 0 and finite (NaN = unlimited)")
    seq = np.arange(n_fac, dtype=np.int64) if order is None else np.asarray(order, np.int64)
    if not np.array_equal(np.sort(seq), np.arange(n_fac)):
        raise ScenarioError("order must list every facility index exactly once")
    if facilities is not None and len(facilities) != n_fac:
        raise ScenarioError(f"facilities has {len(facilities)} rows for {n_fac} facilities")

    remaining = pop.copy()
    served_fac = np.zeros(n_fac)
    catchment_fac = np.zeros(n_fac)
    reach_fac = np.full(n_fac, np.nan)
    in_reach = np.zeros(n_cells, dtype=bool)
    by_cells: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * n_fac
    by_people: list[np.ndarray] = [np.empty(0)] * n_fac
    for f in seq:
        lo, hi = times.indptr[f], times.indptr[f + 1]
        cells = times.indices[lo:hi].astype(np.int64)
        t = times.data[lo:hi]
        inside = t <= th
        cells, t = cells[inside], t[inside]
        in_reach[cells] = True
        catchment_fac[f] = pop[cells].sum()
        step = np.lexsort((cells, t))  # closest first; ties by cell index
        cells, t = cells[step], t[step]
        avail = remaining[cells]
        if np.isnan(cap[f]):
            take = avail
        else:
            before = np.cumsum(avail) - avail  # people already taken when this cell's turn comes
            take = np.minimum(np.maximum(cap[f] - before, 0.0), avail)
        remaining[cells] = avail - take
        got = take > 0
        served_fac[f] = take.sum()
        if got.any():
            reach_fac[f] = float(t[got].max())
        back = np.argsort(cells[got], kind="stable")  # cell order for the CSR row
        by_cells[f] = cells[got][back]
        by_people[f] = take[got][back]
    by_ptr = np.zeros(n_fac + 1, dtype=np.int64)
    np.cumsum([len(c) for c in by_cells], out=by_ptr[1:])
    served_by = sparse.csr_array(
        (
            np.concatenate([np.empty(0), *by_people]),
            np.concatenate([np.empty(0, dtype=np.int64), *by_cells]),
            by_ptr,
        ),
        shape=(n_fac, n_cells),
    )

    served = pop - remaining
    over = np.where(in_reach, remaining, 0.0)
    beyond = np.where(in_reach, 0.0, remaining)

    rank = np.empty(n_fac, dtype=np.int64)
    rank[seq] = np.arange(1, n_fac + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_used = np.where(cap > 0, 100.0 * served_fac / cap, np.nan)
    fac_table = pd.DataFrame(
        {}
        if facilities is None
        else {c: facilities[c].to_numpy() for c in _ID_COLUMNS if c in facilities.columns}
    )
    fac_table["facility"] = np.arange(n_fac)
    fac_table["priority_rank"] = rank
    fac_table["capacity_people"] = cap
    fac_table["catchment_people"] = catchment_fac
    fac_table["served_people"] = served_fac
    fac_table["unused_capacity_people"] = cap - served_fac
    fac_table["pct_capacity_used"] = pct_used
    fac_table["served_up_to_min"] = reach_fac
    fac_table.index = pd.RangeIndex(n_fac)

    n_groups = n_zones + 1
    keep = np.flatnonzero(pop != 0)  # every part is 0 where there are no people
    members = zone_memberships(zone, n_zones, keep)
    table: dict[str, np.ndarray] = {
        "population": members.sums(pop[keep], n_groups),
        "served": members.sums(served[keep], n_groups),
        "in_reach_over_capacity": members.sums(over[keep], n_groups),
        "beyond_reach": members.sums(beyond[keep], n_groups),
    }
    zones = pd.DataFrame(table)
    zones.insert(0, "threshold_min", th)
    zones.insert(0, "zone_name", [str(n) for n in zone_names] + [OUTSIDE_ZONES_ID])
    zones.insert(0, "zone_id", [str(i) for i in zone_ids] + [OUTSIDE_ZONES_ID])
    zones.insert(0, "service", service)
    all_row: dict[str, object] = {c: float(zones[c].sum()) for c in table}
    all_row.update(service=service, zone_id=ALL_ZONES_ID, zone_name=ALL_ZONES_ID, threshold_min=th)
    zones = pd.concat([zones, pd.DataFrame([all_row])], ignore_index=True)
    denom = zones["population"].where(zones["population"] > 0)
    for part in CAPACITY_PARTS:
        zones[pct_col(part)] = 100.0 * zones[part] / denom

    result = CapacityCoverage(
        threshold_min=th,
        served=served,
        in_reach_over_capacity=over,
        beyond_reach=beyond,
        served_by=served_by,
        facilities=fac_table,
        zones=zones,
    )
    check_capacity_conservation(result, people=pop)
    return result


def check_capacity_conservation(result: CapacityCoverage, *, people: np.ndarray) -> None:
    """Raise :class:`ConservationError` unless the capacity accounting adds up.

    Checks: every cell's served + over capacity + beyond reach equals its people (all ≥ 0);
    each zone row's parts equal its population; the zone rows plus the outside row, and the all
    row, equal the grid total; what the facilities serve equals what the cells are served; and
    no facility serves more than its capacity.

    Parameters
    ----------
    result
        The coverage to check.
    people
        People per cell, already times the target share.
    """
    pop = np.asarray(people, dtype=np.float64).ravel()
    total = float(pop.sum())
    tol = 1e-9 * max(1.0, total)
    parts = [result.served, result.in_reach_over_capacity, result.beyond_reach]
    cell_tol = 1e-9 * np.maximum(1.0, pop)
    if any((p < -cell_tol).any() for p in parts):
        raise ConservationError("a capacity part is negative in some cell")
    if (np.abs(parts[0] + parts[1] + parts[2] - pop) > cell_tol).any():
        raise ConservationError("served + over capacity + beyond reach ≠ people in some cell")
    zones = result.zones
    row_sum = sum(zones[p] for p in CAPACITY_PARTS)
    bad = (row_sum - zones["population"]).abs() > tol
    if bad.any():
        rows = ", ".join(zones.loc[bad, "zone_id"].astype(str))
        raise ConservationError(f"capacity coverage rows do not add up: {rows}")
    is_all = zones["zone_id"] == ALL_ZONES_ID
    zone_total = float(zones.loc[~is_all, "population"].sum())
    all_total = float(zones.loc[is_all, "population"].sum())
    if abs(zone_total - total) > tol or abs(all_total - total) > tol:
        raise ConservationError(
            f"zones + outside ({zone_total:.3f}) and the all row ({all_total:.3f}) must equal "
            f"the grid total ({total:.3f})"
        )
    fac = result.facilities
    if abs(float(fac["served_people"].sum()) - float(result.served.sum())) > tol:
        raise ConservationError("people served by facilities ≠ people served in cells")
    cap = fac["capacity_people"].to_numpy(float)
    over = np.isfinite(cap) & (
        fac["served_people"].to_numpy(float) > cap + 1e-9 * np.maximum(1, cap)
    )
    if over.any():
        raise ConservationError(f"facilities {np.flatnonzero(over).tolist()} exceed capacity")
