"""Referral: from each primary facility to the nearest referral facility, and home to hospital.

A patient goes first to their nearest primary facility (health post, health centre); some are
referred on to a referral facility (a hospital). From two searches on the same graph — one from
the primary facilities (time and catchment per cell), one from the referral facilities (time per
cell) — this module gives:

- per primary facility, the **referral time**: the travel time from its cell to the nearest
  referral facility (the referral search's time at that cell), whether one can be reached, and
  the people in its catchment;
- per cell, the **end-to-end time**: the time to the nearest primary facility plus that
  facility's referral time. It follows the referral chain as it works (nearest primary, then
  its hospital), so it can be longer than going to the hospital directly; a primary facility
  that is itself a referral facility has a referral time of 0;
- per zone, the people whose end-to-end time is within each threshold, beyond the largest, and
  the two ways the chain can break: no primary facility within the search's limit
  (``primary_unreachable``) or a primary facility from which no referral facility can be reached
  (``referral_unreachable``). Every row adds up to its population; this is checked in code.

Unreachable times are ``inf`` in arrays and NaN in tables, always beside an explicit flag or
count; no number stands in for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reach.engine.combined import SearchResult
from reach.errors import ConservationError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID, weighted_quantiles_by_group
from reach.model.zones import ZoneShares, zone_memberships, zone_numbers
from reach.schema import end_to_end_beyond_col, end_to_end_within_col, pct_col

__all__ = [
    "CHAIN_LABELS",
    "CHAIN_PRIMARY_UNREACHABLE",
    "CHAIN_REACHED",
    "CHAIN_REFERRAL_UNREACHABLE",
    "ReferralResult",
    "end_to_end_times",
    "referral_analysis",
    "referral_times",
]

#: Per-cell status of the referral chain.
CHAIN_REACHED = 0
CHAIN_PRIMARY_UNREACHABLE = 1
CHAIN_REFERRAL_UNREACHABLE = 2
CHAIN_LABELS: dict[int, str] = {
    CHAIN_REACHED: "reached",
    CHAIN_PRIMARY_UNREACHABLE: "primary_unreachable",
    CHAIN_REFERRAL_UNREACHABLE: "referral_unreachable",
}

_ID_COLUMNS = ("facility_id", "name", "tier")


def referral_times(
    primary_cells: np.ndarray, referral: SearchResult, *, own_referral: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from each primary facility's cell to the nearest referral facility.

    Parameters
    ----------
    primary_cells
        Flat cell of each primary facility; ``-1`` when off the grid.
    referral
        The search from the referral facilities (same graph and mode).
    own_referral
        For each primary facility that is itself a referral facility, its number in the
        referral search (``-1`` for the others): its referral time is 0, to itself, not the
        walk from its cell's centre to it.

    Returns
    -------
    tuple of numpy.ndarray
        The referral time of each primary facility (``inf`` when no referral facility can be
        reached from it or it is off the grid) and the index of that referral facility in the
        referral search's numbering (``-1`` where none).
    """
    cells = np.asarray(primary_cells, dtype=np.int64).ravel()
    n = referral.time_min.size
    if cells.size and cells.max() >= n:
        raise ScenarioError("a primary facility's cell lies outside the grid")
    on = cells >= 0
    safe = np.where(on, cells, 0)
    time = np.where(on, referral.time_min[safe], np.inf)
    time = np.where(np.isfinite(time), time, np.inf)
    which = np.where(on & np.isfinite(time), referral.facility[safe], -1).astype(np.int64)
    if own_referral is not None:
        own = np.asarray(own_referral, dtype=np.int64).ravel()
        if own.shape != cells.shape:
            raise ScenarioError("own_referral needs one entry per primary facility")
        is_hub = own >= 0
        time = np.where(is_hub, 0.0, time)
        which = np.where(is_hub, own, which)
    return time, which


def end_to_end_times(
    primary_time_min: np.ndarray,
    primary_facility: np.ndarray,
    facility_referral_min: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Time from each cell to its nearest primary facility and on to that facility's hospital.

    Parameters
    ----------
    primary_time_min
        Minutes to the nearest primary facility per cell; ``inf`` (or NaN) where unreachable.
    primary_facility
        Index of that primary facility per cell (``-1`` where unreachable).
    facility_referral_min
        Referral time of each primary facility (``inf`` where none can be reached).

    Returns
    -------
    tuple of numpy.ndarray
        ``float64`` end-to-end minutes per cell (``inf`` where the chain breaks) and ``uint8``
        chain status per cell (``CHAIN_*``).
    """
    t = np.asarray(primary_time_min, dtype=np.float64).ravel()
    lab = np.asarray(primary_facility, dtype=np.int64).ravel()
    ref = np.asarray(facility_referral_min, dtype=np.float64).ravel()
    if t.shape != lab.shape:
        raise ScenarioError("primary_time_min and primary_facility differ in size")
    reached = np.isfinite(t) & (lab >= 0)
    if reached.any() and lab[reached].max() >= ref.size:
        raise ScenarioError("a catchment id has no referral time: number facilities as the search")
    ref_or_none = np.r_[ref, np.inf]  # the extra last entry: no primary facility reached
    leg2 = ref_or_none[np.where(reached, lab, ref.size)]
    leg2 = np.where(np.isfinite(leg2), leg2, np.inf)
    total = np.where(reached, t, np.inf) + leg2
    status = np.full(t.shape, CHAIN_REACHED, dtype=np.uint8)
    status[~reached] = CHAIN_PRIMARY_UNREACHABLE
    status[reached & ~np.isfinite(leg2)] = CHAIN_REFERRAL_UNREACHABLE
    return total, status


@dataclass(frozen=True, eq=False)
class ReferralResult:
    """Referral times and end-to-end access of one service.

    Attributes
    ----------
    facilities
        One row per primary facility: the copied id columns, ``facility``, ``cell``,
        ``referral_time_min`` (NaN when unreachable), ``referral_reachable``,
        ``referral_facility`` (``Int64`` index in the referral search's numbering, missing when
        unreachable), ``catchment_population`` (people whose nearest primary facility it is),
        ``catchment_mean_end_to_end_min`` (NaN when none of them completes the chain).
    end_to_end_time_min
        ``float64`` (n_cells,): minutes home → primary → referral; ``inf`` where the chain
        breaks.
    chain
        ``uint8`` (n_cells,): ``CHAIN_*`` status.
    zones
        One row per zone, then the outside-zones and all rows: ``service``, ``zone_id``,
        ``zone_name``, ``population``, ``end_to_end_within_Tmin`` per threshold,
        ``end_to_end_beyond_Tmaxmin``, ``primary_unreachable``, ``referral_unreachable``,
        ``pct_…`` of each, ``mean_end_to_end_min`` and ``p90_end_to_end_min`` (over the people
        whose chain is complete).
    """

    facilities: pd.DataFrame
    end_to_end_time_min: np.ndarray
    chain: np.ndarray
    zones: pd.DataFrame


def referral_analysis(
    people: np.ndarray,
    primary: SearchResult,
    referral: SearchResult,
    primary_cells: np.ndarray,
    *,
    zone: np.ndarray | ZoneShares,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    thresholds_min: Sequence[float],
    target_share: float = 1.0,
    facilities: pd.DataFrame | None = None,
    own_referral: np.ndarray | None = None,
) -> ReferralResult:
    """Referral time per primary facility and end-to-end coverage per zone.

    Parameters
    ----------
    people
        People per cell (any shape; 0 where nodata).
    primary
        The search from the primary facilities; its catchment ids are indices into
        ``primary_cells``. They may include the referral facilities (referral time 0).
    referral
        The search from the referral facilities, same graph (mode, season) as ``primary``.
    primary_cells
        Flat cell of each primary facility (``-1`` off the grid).
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every zone row.
    thresholds_min
        End-to-end thresholds in minutes.
    target_share
        Share of the population the service targets, in (0, 1].
    facilities
        One row per primary facility; ``facility_id``, ``name``, ``tier`` are copied.
    own_referral
        For each primary facility that is itself a referral facility, its number in the
        referral search, ``-1`` for the others (see :func:`referral_times`).

    Returns
    -------
    ReferralResult
        The facility table, end-to-end times and chain status per cell, and the zone table.

    Raises
    ------
    ConservationError
        If a zone row's parts do not add up to its population, or the zone rows to the grid.
    """
    if not (0.0 < float(target_share) <= 1.0):
        raise ScenarioError(f"target_share must lie in (0, 1] (got {target_share})")
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("people must be finite and ≥ 0 (give 0 where the raster has nodata)")
    z = zone_numbers(zone)
    n = pop.size
    if not (z.size == n == primary.time_min.size == referral.time_min.size):
        raise ScenarioError("people, zone and the two searches differ in size")
    n_zones = len(zone_ids)
    if len(zone_names) != n_zones:
        raise ScenarioError("zone_ids and zone_names differ in length")
    if n and (z.min() < 0 or z.max() > n_zones):
        raise ScenarioError(f"zone numbers must lie in 0..{n_zones}")
    thresholds = sorted({float(x) for x in thresholds_min})
    if not thresholds or any(math.isnan(x) for x in thresholds):
        raise ScenarioError("give at least one threshold, in minutes")
    cells = np.asarray(primary_cells, dtype=np.int64).ravel()
    n_fac = cells.size
    if facilities is not None and len(facilities) != n_fac:
        raise ScenarioError(f"facilities has {len(facilities)} rows for {n_fac} primary facilities")

    ref_time, ref_which = referral_times(cells, referral, own_referral=own_referral)
    total, chain = end_to_end_times(primary.time_min, primary.facility, ref_time)
    complete = chain == CHAIN_REACHED

    lab = primary.facility.astype(np.int64)
    in_catch = (lab >= 0) & np.isfinite(primary.time_min)
    catch = np.bincount(lab[in_catch], weights=pop[in_catch], minlength=n_fac)[:n_fac]
    done = complete & in_catch
    e2e_sum = np.bincount(
        lab[done], weights=(pop * np.where(done, total, 0.0))[done], minlength=n_fac
    )
    e2e_pop = np.bincount(lab[done], weights=pop[done], minlength=n_fac)
    fac = pd.DataFrame(
        {}
        if facilities is None
        else {c: facilities[c].to_numpy() for c in _ID_COLUMNS if c in facilities.columns}
    )
    reachable = np.isfinite(ref_time)
    fac["facility"] = np.arange(n_fac)
    fac["cell"] = cells
    fac["referral_time_min"] = np.where(reachable, ref_time, np.nan)
    fac["referral_reachable"] = reachable
    fac["referral_facility"] = pd.array(
        [int(w) if w >= 0 else pd.NA for w in ref_which], dtype="Int64"
    )
    fac["catchment_population"] = catch
    with np.errstate(invalid="ignore", divide="ignore"):
        fac["catchment_mean_end_to_end_min"] = np.where(
            e2e_pop[:n_fac] > 0, e2e_sum[:n_fac] / e2e_pop[:n_fac], np.nan
        )
    fac.index = pd.RangeIndex(n_fac)

    # one row per (cell, zone it shares), its share of the cell's people
    members = zone_memberships(zone, n_zones)
    group = members.group
    pop = pop[members.item] * members.weight
    cell_total, cell_chain = total, chain
    total, chain, complete = total[members.item], chain[members.item], complete[members.item]
    n_groups = n_zones + 1

    def sums(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
        w = pop if weights is None else weights
        if mask is not None:
            w = np.where(mask, w, 0.0)
        s = np.bincount(group, weights=w, minlength=n_groups)
        return np.r_[s, s.sum()]

    top = thresholds[-1]
    table: dict[str, np.ndarray] = {"population": sums()}
    for th in thresholds:
        table[end_to_end_within_col(th)] = sums(complete & (total <= th))
    table[end_to_end_beyond_col(top)] = sums(complete & (total > top))
    table["primary_unreachable"] = sums(chain == CHAIN_PRIMARY_UNREACHABLE)
    table["referral_unreachable"] = sums(chain == CHAIN_REFERRAL_UNREACHABLE)
    done_pop = sums(complete)
    weighted = sums(complete, weights=pop * np.where(complete, total, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mean_end_to_end_min"] = np.where(done_pop > 0, weighted / done_pop, np.nan)
    table["p90_end_to_end_min"] = np.r_[
        weighted_quantiles_by_group(
            group[complete], total[complete], pop[complete], n_groups, [0.9]
        )[:, 0],
        weighted_quantiles_by_group(
            np.zeros(int(complete.sum()), dtype=np.int64), total[complete], pop[complete], 1, [0.9]
        )[:, 0],
    ]
    frame = pd.DataFrame(table)
    denom = frame["population"].where(frame["population"] > 0)
    counts = [c for c in table if c != "population" and not c.endswith("_end_to_end_min")]
    for c in counts:
        frame[pct_col(c)] = 100.0 * frame[c] / denom
    frame.insert(0, "zone_name", [str(x) for x in zone_names] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID])
    frame.insert(0, "zone_id", [str(x) for x in zone_ids] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID])
    frame.insert(0, "service", service)

    total_pop = float(pop.sum())
    tol = 1e-9 * max(1.0, total_pop)
    parts = (
        frame[end_to_end_within_col(top)]
        + frame[end_to_end_beyond_col(top)]
        + frame["primary_unreachable"]
        + frame["referral_unreachable"]
    )
    bad = (parts - frame["population"]).abs() > tol
    if bad.any():
        rows = ", ".join(frame.loc[bad, "zone_id"].astype(str))
        raise ConservationError(f"end-to-end rows do not add up to their population: {rows}")
    is_all = frame["zone_id"] == ALL_ZONES_ID
    zone_total = float(frame.loc[~is_all, "population"].sum())
    if abs(zone_total - total_pop) > tol:
        raise ConservationError(
            f"zones + outside ({zone_total:.3f}) must equal the grid total ({total_pop:.3f})"
        )
    return ReferralResult(
        facilities=fac, end_to_end_time_min=cell_total, chain=cell_chain, zones=frame
    )
