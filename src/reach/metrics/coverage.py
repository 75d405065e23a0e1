"""Coverage per reporting zone and service, with population conservation checked in code.

For each zone: people within each threshold, people reached only beyond the largest threshold,
unreachable people by reason, and population-weighted mean / median / 90th-percentile time over
the people reached. Rows for people outside every zone and for the whole grid close the account:
within + beyond + unreachable = population in every row, and the zone rows plus the outside row
add up to the raster total.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numba import njit

from reach.codes import REASON_LABELS, REASON_REACHED
from reach.errors import ConservationError
from reach.model.zones import ZoneShares, zone_memberships
from reach.schema import pct_within_col, reached_beyond_col, unreachable_col, within_col

__all__ = [
    "ALL_ZONES_ID",
    "OUTSIDE_ZONES_ID",
    "check_conservation",
    "coverage_table",
    "weighted_quantiles_by_group",
]

OUTSIDE_ZONES_ID = "(outside zones)"
ALL_ZONES_ID = "(all)"


def weighted_quantiles_by_group(
    group: np.ndarray,
    value: np.ndarray,
    weight: np.ndarray,
    n_groups: int,
    qs: Sequence[float],
    *,
    value_order: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted quantiles of ``value`` in each group (lower quantile: first value whose cumulative
    weight reaches ``q`` of the group's weight).

    Parameters
    ----------
    group, value, weight
        Per item: group index (``0 .. n_groups-1``), value and weight.
    n_groups
        Number of groups.
    qs
        Quantiles wanted, in ``[0, 1]``.
    value_order
        ``np.argsort(value)`` when the caller has it already (it is the slow part).

    Returns
    -------
    numpy.ndarray
        ``(n_groups, len(qs))``; NaN for groups with no weight.
    """
    out = np.full((n_groups, len(qs)), np.nan)
    if len(qs) == 0:
        return out
    rank = np.argsort(np.asarray(qs, dtype=np.float64), kind="stable")
    sorted_qs = np.asarray(qs, dtype=np.float64)[rank]
    order = np.argsort(value) if value_order is None else value_order
    found = _quantiles_in_value_order(
        np.asarray(order, dtype=np.int64),
        np.asarray(group, dtype=np.int64),
        np.asarray(value, dtype=np.float64),
        np.asarray(weight, dtype=np.float64),
        n_groups,
        sorted_qs,
    )
    out[:, rank] = found
    return out


@njit(cache=True, nogil=True)
def _quantiles_in_value_order(
    order: np.ndarray,
    group: np.ndarray,
    value: np.ndarray,
    weight: np.ndarray,
    n_groups: int,
    qs: np.ndarray,
) -> np.ndarray:
    """Weighted lower quantiles per group, walking the items once in value order.

    ``qs`` ascending. Each group's running weight is kept; a quantile ``q`` is the first value at
    which it reaches ``q`` of the group's total (less 1e-12 of it, for rounding). The order among
    equal values does not matter: they are the same value.
    """
    k = qs.shape[0]
    out = np.full((n_groups, k), np.nan)
    totals = np.zeros(n_groups)
    for i in range(group.shape[0]):
        if weight[i] > 0:
            totals[group[i]] += weight[i]
    cum = np.zeros(n_groups)
    nxt = np.zeros(n_groups, dtype=np.int64)
    last = np.full(n_groups, np.nan)
    for idx in range(order.shape[0]):
        i = order[idx]
        w = weight[i]
        if not w > 0:
            continue
        g = group[i]
        cum[g] += w
        last[g] = value[i]
        tot = totals[g]
        while nxt[g] < k and cum[g] >= qs[nxt[g]] * tot - 1e-12 * tot:
            out[g, nxt[g]] = value[i]
            nxt[g] += 1
    for g in range(n_groups):
        for j in range(nxt[g], k):
            if totals[g] > 0:
                out[g, j] = last[g]  # not reached by rounding: the group's largest value
    return out


@njit(cache=True, nogil=True)
def _coverage_sums(
    group: np.ndarray,
    pop: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    thresholds: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """Per group, in one pass in cell order (so the same sums as ``np.bincount``): people, then
    within each threshold (ascending), reached beyond the last, unreachable per code in
    ``codes``, reached, and people × minutes of those reached."""
    k = thresholds.shape[0]
    nc = codes.shape[0]
    out = np.zeros((n_groups, 4 + k + nc))
    for i in range(group.shape[0]):
        g = group[i]
        p = pop[i]
        out[g, 0] += p
        if r[i] == REASON_REACHED:
            ti = t[i]
            for j in range(k):
                if ti <= thresholds[j]:
                    out[g, 1 + j] += p
            if ti > thresholds[k - 1]:
                out[g, 1 + k] += p
            out[g, 2 + k + nc] += p
            out[g, 3 + k + nc] += p * ti
        else:
            for j in range(nc):
                if r[i] == codes[j]:
                    out[g, 2 + k + j] += p
    return out


def coverage_table(
    people: np.ndarray,
    zone: np.ndarray | ZoneShares,
    time_min: np.ndarray,
    reason: np.ndarray,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    thresholds_min: Sequence[float],
    target_share: float = 1.0,
) -> pd.DataFrame:
    """Coverage of one service per zone.

    Parameters
    ----------
    people
        Population per cell (any shape; 0 where nodata).
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells, a shared cell counting its people
        times its share in each zone it touches and the rest outside every zone.
    time_min
        Minutes to the nearest facility; ``inf`` where unreachable.
    reason
        ``REASON_*`` code per cell.
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every row.
    thresholds_min
        Travel-time thresholds in minutes.
    target_share
        Share of the population the service targets (e.g. school-age children).

    Returns
    -------
    pandas.DataFrame
        One row per zone, then the outside-zones row and the all row. ``population`` is the
        service's target population; ``target_share`` and ``total_population`` (everyone,
        before the share) beside it say so.

    Raises
    ------
    ConservationError
        If any row does not add up.
    """
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    # only cells with people count (most of a region has none): every sum below is unchanged
    keep = np.flatnonzero(pop != 0)
    cell_total = float(pop[keep].sum())
    n_zones = len(zone_ids)
    # one row per (cell, zone it shares): group 0..n_zones-1 = zones, n_zones = outside
    members = zone_memberships(zone, n_zones, keep)
    cells = keep[members.item]
    pop = pop[cells] * members.weight
    t = np.asarray(time_min, dtype=np.float64).ravel()[cells]
    r = np.asarray(reason).ravel()[cells]
    group = members.group
    n_groups = n_zones + 1
    thresholds = sorted(float(x) for x in thresholds_min)

    reached = r == REASON_REACHED
    codes = [c for c in sorted(REASON_LABELS) if c != REASON_REACHED]
    sums = _coverage_sums(
        group, pop, t, r, np.asarray(thresholds), np.asarray(codes, dtype=np.int64), n_groups
    )
    k = len(thresholds)
    table: dict[str, np.ndarray] = {"population": sums[:, 0]}
    for j, th in enumerate(thresholds):
        table[within_col(th)] = sums[:, 1 + j]
    table[reached_beyond_col(thresholds[-1])] = sums[:, 1 + k]
    unreach_cols = []
    for j, code in enumerate(codes):
        col = unreachable_col(REASON_LABELS[code])
        table[col] = sums[:, 2 + k + j]
        unreach_cols.append(col)
    table["unreachable_total"] = np.sum([table[c] for c in unreach_cols], axis=0)
    reached_pop = sums[:, 2 + k + len(codes)]
    weighted_time = sums[:, 3 + k + len(codes)]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["mean_time_min"] = np.where(reached_pop > 0, weighted_time / reached_pop, np.nan)
    t_reached = t[reached]
    by_time = np.argsort(t_reached)
    q = weighted_quantiles_by_group(
        group[reached], t_reached, pop[reached], n_groups, [0.5, 0.9], value_order=by_time
    )
    table["median_time_min"] = q[:, 0]
    table["p90_time_min"] = q[:, 1]

    frame = pd.DataFrame(table)
    frame.insert(0, "zone_name", [*zone_names, OUTSIDE_ZONES_ID])
    frame.insert(0, "zone_id", [*zone_ids, OUTSIDE_ZONES_ID])
    frame.insert(0, "service", service)
    # the all row: sums, and the quantiles over everybody reached
    all_row: dict[str, object] = {
        c: frame[c].sum() for c in frame.columns if c in table and not c.endswith("time_min")
    }
    total_reached = float(reached_pop.sum())
    all_q = weighted_quantiles_by_group(
        np.zeros(len(t_reached), dtype=np.int64), t_reached, pop[reached], 1, [0.5, 0.9],
        value_order=by_time,
    )  # fmt: skip
    all_row.update(
        service=service,
        zone_id=ALL_ZONES_ID,
        zone_name=ALL_ZONES_ID,
        mean_time_min=float(weighted_time.sum() / total_reached) if total_reached > 0 else np.nan,
        median_time_min=all_q[0, 0],
        p90_time_min=all_q[0, 1],
    )
    frame = pd.concat([frame, pd.DataFrame([all_row])], ignore_index=True)
    # say in the table itself whose people these are: for a school, only the children
    at = list(frame.columns).index("population") + 1
    frame.insert(at, "target_share", float(target_share))
    frame.insert(at + 1, "total_population", frame["population"] / float(target_share))
    for th in thresholds:
        frame[pct_within_col(th)] = np.where(
            frame["population"] > 0,
            100.0 * frame[within_col(th)] / frame["population"].where(frame["population"] > 0),
            np.nan,
        )
    check_conservation(frame, raster_total=cell_total, thresholds_min=thresholds)
    return frame


def check_conservation(
    frame: pd.DataFrame, *, raster_total: float, thresholds_min: Sequence[float]
) -> None:
    """Raise :class:`ConservationError` unless every row and the zone sum add up.

    Parameters
    ----------
    frame
        A coverage table as :func:`coverage_table` makes it: the zone rows, the outside-zones
        row and the all row (``zone_id`` :data:`ALL_ZONES_ID`).
    raster_total
        The people the table must account for (after any target share).
    thresholds_min
        The table's travel-time thresholds in minutes; only the largest is used.

    Raises
    ------
    ConservationError
        If in any row the people within the largest threshold, reached beyond it and
        unreachable do not add up to its ``population``; or if the rows other than the all row,
        or the all row alone, do not add up to ``raster_total``. The tolerance is
        ``1e-9 * max(1, raster_total)`` people.
    """
    top = max(thresholds_min)
    parts = frame[within_col(top)] + frame[reached_beyond_col(top)] + frame["unreachable_total"]
    tol = 1e-9 * max(1.0, raster_total)
    bad = (parts - frame["population"]).abs() > tol
    if bad.any():
        rows = ", ".join(frame.loc[bad, "zone_id"].astype(str))
        raise ConservationError(f"coverage rows do not add up to their population: {rows}")
    zone_rows = frame["zone_id"] != ALL_ZONES_ID
    total_rows = float(frame.loc[zone_rows, "population"].sum())
    all_pop = float(frame.loc[~zone_rows, "population"].sum())
    if abs(total_rows - raster_total) > tol or abs(all_pop - raster_total) > tol:
        raise ConservationError(
            f"zones + outside ({total_rows:.3f}) and the all row ({all_pop:.3f}) must equal "
            f"the raster total ({raster_total:.3f})"
        )
