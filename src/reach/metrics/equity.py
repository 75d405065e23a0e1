"""Equity of travel times: who bears the longest journeys, per zone and overall.

For each zone (and the outside-zones and all rows) the table gives the share of people beyond
each threshold, the population-weighted mean and 90th percentile time, and two inequality
measures of travel time across people (every person carries the time of their cell):

- **Gini coefficient** — the mean absolute difference between the times of two people drawn at
  random, divided by twice the mean time:
  ``G = Σ_i Σ_j w_i w_j |t_i − t_j| / (2 W² t̄)``. 0 when everybody's time is the same, towards 1
  when a few people bear all the travel. This is the population form (no ``n / (n−1)``
  correction): four people with 1, 2, 3 and 4 minutes give 0.25.
- **Palma ratio** — the share of all travel time borne by the 10 % of people with the longest
  times, divided by the share borne by the 40 % with the shortest. People are ordered by time
  and the cell at a 10 % or 40 % boundary is split in proportion, so the shares are exact
  shares of people. 0.25 when everybody's time is the same; ``inf`` when the shortest 40 % have
  no travel time at all.

Both are NaN where nobody lives or the total travel time is 0 (a ratio of shares of nothing).

**Unreachable people** (time ``inf`` or NaN: beyond the search's time limit, no route, on a
barrier, ...) have no travel time to put in a mean or an inequality measure. They are never
given a stand-in number silently:

- every measure named ``…_reached`` uses the reached people only, and the ``unreachable``
  columns count the others beside it;
- when the search's time limit is given (``limit_min``), the same measures are repeated with
  every unreachable person set to that limit, in columns named ``…_unreached_at_limit``: a
  lower bound on their true times, so these inequality figures are lower bounds too when
  inequality grows with the long tail.

Zones are ranked worst first (``rank_worst_first``: 1 = worst) by the share of people beyond
the ranking threshold (unreachable included), then by the mean time of the reached, then by
zone order; zones where nobody lives come last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reach.errors import ConservationError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID, weighted_quantiles_by_group
from reach.model.zones import ZoneShares, zone_memberships, zone_numbers
from reach.schema import at_limit_col, beyond_col, pct_beyond_col, reached_col

__all__ = ["equity_table", "gini", "palma_ratio", "weighted_quantile"]


def _prepare(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values sorted ascending with their weights; zero weights dropped; inputs checked."""
    x = np.asarray(values, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if x.shape != w.shape:
        raise ScenarioError(f"values ({x.size}) and weights ({w.size}) differ in size")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ScenarioError("weights (people) must be finite and ≥ 0")
    keep = w > 0
    x, w = x[keep], w[keep]
    if not np.isfinite(x).all():
        raise ScenarioError(
            "travel times must be finite: leave the unreachable out, or set them to the "
            "time limit on purpose (equity_table does both and labels them)"
        )
    if (x < 0).any():
        raise ScenarioError("travel times must be ≥ 0")
    order = np.argsort(x, kind="stable")
    return x[order], w[order]


def _gini_sorted(x: np.ndarray, w: np.ndarray) -> float:
    """Gini of ascending ``x`` with positive weights ``w``."""
    total_w = float(w.sum())
    total_xw = float((w * x).sum())
    if total_w <= 0 or total_xw <= 0:
        return math.nan
    cum = np.cumsum(w)
    # Σ_i w_i x_i (weight below i − weight above i), ties cancel pairwise
    s = float((w * x * (2.0 * cum - w - total_w)).sum())
    return max(0.0, s / (total_w * total_xw))


def _band_sum(x: np.ndarray, w: np.ndarray, lo: float, hi: float) -> float:
    """Travel time borne by the people between weight ``lo`` and ``hi`` (ascending order)."""
    cum = np.cumsum(w)
    prev = cum - w
    part = np.clip(np.minimum(cum, hi) - np.maximum(prev, lo), 0.0, None)
    return float((part * x).sum())


def _palma_sorted(x: np.ndarray, w: np.ndarray, top: float, bottom: float) -> float:
    total_w = float(w.sum())
    if total_w <= 0 or float((w * x).sum()) <= 0:
        return math.nan
    high = _band_sum(x, w, (1.0 - top) * total_w, total_w)
    low = _band_sum(x, w, 0.0, bottom * total_w)
    return math.inf if low <= 0 else high / low


def gini(time_min: np.ndarray, people: np.ndarray) -> float:
    """Population-weighted Gini coefficient of travel time.

    Parameters
    ----------
    time_min
        Travel time of each cell (finite: leave the unreachable out).
    people
        People of each cell (the weights).

    Returns
    -------
    float
        In [0, 1); NaN when nobody has a weight or the total time is 0.
    """
    return _gini_sorted(*_prepare(time_min, people))


def palma_ratio(
    time_min: np.ndarray,
    people: np.ndarray,
    *,
    top_share: float = 0.1,
    bottom_share: float = 0.4,
) -> float:
    """Share of travel time borne by the ``top_share`` longest over the ``bottom_share`` shortest.

    Parameters
    ----------
    time_min
        Travel time of each cell (finite: leave the unreachable out).
    people
        People of each cell (the weights); cells at a boundary are split in proportion.
    top_share, bottom_share
        The shares of people compared (the Palma ratio: 0.1 and 0.4).

    Returns
    -------
    float
        The ratio; ``inf`` when the bottom group has no travel time, NaN when nobody has a
        weight or the total time is 0.
    """
    if not (0 < top_share <= 1 and 0 < bottom_share <= 1):
        raise ScenarioError("top_share and bottom_share must lie in (0, 1]")
    x, w = _prepare(time_min, people)
    return _palma_sorted(x, w, top_share, bottom_share)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Lower weighted quantile: the first value whose cumulative weight reaches ``q``.

    The same rule as the coverage table's median and 90th percentile. NaN without weight.

    Parameters
    ----------
    values
        The values (travel times in minutes): finite and ≥ 0 where the weight is positive.
    weights
        The weight of each value (people): finite and ≥ 0, of the same size as ``values``.
        Values of weight 0 are left out.
    q
        The quantile wanted, in [0, 1] (0.5 for the median). It is not checked: a ``q`` below
        0 gives the smallest value, one above 1 the largest.

    Returns
    -------
    float
        The quantile; NaN when no value has a positive weight.

    Raises
    ------
    ScenarioError
        If ``values`` and ``weights`` differ in size, a weight is negative or not finite, or a
        weighted value is negative or not finite.
    """
    x, w = _prepare(values, weights)
    out = weighted_quantiles_by_group(np.zeros(len(x), dtype=np.int64), x, w, 1, [float(q)])
    return float(out[0, 0])


def _per_group(
    group: np.ndarray, x: np.ndarray, w: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gini and Palma of each group (NaN for groups without people)."""
    g_out = np.full(n_groups, np.nan)
    p_out = np.full(n_groups, np.nan)
    keep = w > 0
    group, x, w = group[keep], x[keep], w[keep]
    order = np.lexsort((x, group))
    group, x, w = group[order], x[order], w[order]
    bounds = np.searchsorted(group, np.arange(n_groups + 1), side="left")
    for g in range(n_groups):
        s, e = bounds[g], bounds[g + 1]
        if e > s:
            g_out[g] = _gini_sorted(x[s:e], w[s:e])
            p_out[g] = _palma_sorted(x[s:e], w[s:e], 0.1, 0.4)
    return g_out, p_out


def _measures(
    group: np.ndarray, t: np.ndarray, w: np.ndarray, n_groups: int
) -> dict[str, np.ndarray]:
    """Mean, p90, Gini and Palma per group and (last element) overall, over finite ``t``."""
    all_group = np.zeros(len(t), dtype=np.int64)
    wsum = np.r_[np.bincount(group, weights=w, minlength=n_groups), w.sum()]
    tsum = np.r_[np.bincount(group, weights=w * t, minlength=n_groups), (w * t).sum()]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(wsum > 0, tsum / wsum, np.nan)
    p90 = np.r_[
        weighted_quantiles_by_group(group, t, w, n_groups, [0.9])[:, 0],
        weighted_quantiles_by_group(all_group, t, w, 1, [0.9])[:, 0],
    ]
    g_zone, p_zone = _per_group(group, t, w, n_groups)
    g_all, p_all = _per_group(all_group, t, w, 1)
    return {
        "mean_time_min": mean,
        "p90_time_min": p90,
        "gini": np.r_[g_zone, g_all],
        "palma": np.r_[p_zone, p_all],
    }


def equity_table(
    people: np.ndarray,
    zone: np.ndarray | ZoneShares,
    time_min: np.ndarray,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    thresholds_min: Sequence[float],
    limit_min: float | None = None,
    rank_threshold_min: float | None = None,
    target_share: float = 1.0,
) -> pd.DataFrame:
    """Equity of travel times per zone, zones ranked worst first.

    Parameters
    ----------
    people
        People per cell (any shape; 0 where nodata).
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    time_min
        Minutes to the nearest facility; ``inf`` or NaN where unreachable.
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every row.
    thresholds_min
        Thresholds for the ``beyond_Tmin`` / ``pct_beyond_Tmin`` columns (time > T, or
        unreachable).
    limit_min
        The search's time limit (``max_travel_time_min``): adds the ``…_unreached_at_limit``
        columns, with every unreachable person set to it. Must be at least every reached time.
    rank_threshold_min
        The threshold zones are ranked by; default the middle one of ``thresholds_min`` (as the
        pipeline ranks alternatives).
    target_share
        Share of the population the service targets, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        Zone rows worst first, then the outside-zones row and the all row. Columns:
        ``service``, ``zone_id``, ``zone_name``, ``rank_worst_first`` (``Int64``, 1 = worst;
        missing for the outside and all rows), ``population``, ``reached``, ``unreachable``,
        ``pct_unreachable``, ``beyond_Tmin`` and ``pct_beyond_Tmin`` per threshold,
        ``mean_time_min_reached``, ``p90_time_min_reached``, ``gini_reached``,
        ``palma_reached``; with ``limit_min`` also ``limit_min``,
        ``mean_time_min_unreached_at_limit``, ``p90_time_min_unreached_at_limit``,
        ``gini_unreached_at_limit`` and ``palma_unreached_at_limit``.

    Raises
    ------
    ConservationError
        If reached + unreachable differs from the population in any row, or the zone rows do
        not add up to the grid total.
    """
    if not (0.0 < float(target_share) <= 1.0):
        raise ScenarioError(f"target_share must lie in (0, 1] (got {target_share})")
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("people must be finite and ≥ 0 (give 0 where the raster has nodata)")
    z = zone_numbers(zone)
    t = np.asarray(time_min, dtype=np.float64).ravel()
    if not (pop.shape == z.shape == t.shape):
        raise ScenarioError(
            f"people, zone and time_min differ in size ({pop.size}, {z.size}, {t.size})"
        )
    if (t < 0).any():
        raise ScenarioError("travel times must be ≥ 0")
    n_zones = len(zone_ids)
    if len(zone_names) != n_zones:
        raise ScenarioError("zone_ids and zone_names differ in length")
    if z.size and (z.min() < 0 or z.max() > n_zones):
        raise ScenarioError(f"zone numbers must lie in 0..{n_zones}")
    thresholds = sorted({float(x) for x in thresholds_min})
    if not thresholds or any(math.isnan(x) for x in thresholds):
        raise ScenarioError("give at least one threshold, in minutes")
    rank_th = thresholds[len(thresholds) // 2] if rank_threshold_min is None else rank_threshold_min
    rank_th = float(rank_th)
    reached = np.isfinite(t)
    if limit_min is not None:
        limit = float(limit_min)
        top = float(t[reached & (pop > 0)].max()) if (reached & (pop > 0)).any() else 0.0
        if not (math.isfinite(limit) and limit >= top):
            raise ScenarioError(
                f"limit_min ({limit_min}) must be finite and at least the longest reached time "
                f"({top:g}): give the search's max_travel_time_min"
            )

    # one row per (cell, zone it shares), its share of the cell's people
    members = zone_memberships(zone, n_zones)
    group = members.group
    pop = pop[members.item] * members.weight
    t = t[members.item]
    reached = reached[members.item]
    n_groups = n_zones + 1

    def sums(mask: np.ndarray | None = None) -> np.ndarray:
        w = pop if mask is None else np.where(mask, pop, 0.0)
        s = np.bincount(group, weights=w, minlength=n_groups)
        return np.r_[s, s.sum()]

    table: dict[str, np.ndarray] = {
        "population": sums(),
        "reached": sums(reached),
        "unreachable": sums(~reached),
    }
    for th in {*thresholds, rank_th}:
        table[beyond_col(th)] = sums(~(t <= th))  # NaN compares False: unreachable
    measures = _measures(group[reached], t[reached], pop[reached], n_groups)
    for key, value in measures.items():
        table[reached_col(key)] = value
    if limit_min is not None:
        capped = np.where(reached, t, float(limit_min))
        table["limit_min"] = np.full(n_groups + 1, float(limit_min))
        for key, value in _measures(group, capped, pop, n_groups).items():
            table[at_limit_col(key)] = value

    frame = pd.DataFrame(table)
    denom = frame["population"].where(frame["population"] > 0)
    frame.insert(3, "pct_unreachable", 100.0 * frame["unreachable"] / denom)
    col = 4
    for th in thresholds:
        frame.insert(col, beyond_col(th), frame.pop(beyond_col(th)))
        frame.insert(col + 1, pct_beyond_col(th), 100.0 * frame[beyond_col(th)] / denom)
        col += 2
    rank_pct = 100.0 * frame[beyond_col(rank_th)] / denom
    if rank_th not in thresholds:
        frame = frame.drop(columns=beyond_col(rank_th))
    frame.insert(0, "zone_name", [str(n) for n in zone_names] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID])
    frame.insert(0, "zone_id", [str(i) for i in zone_ids] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID])
    frame.insert(0, "service", service)

    # rank the zone rows: share beyond desc, mean time desc, zone order; empty zones last
    idx = np.arange(n_zones)
    pct = rank_pct.to_numpy()[:n_zones]
    mean = frame["mean_time_min_reached"].to_numpy()[:n_zones]
    empty = ~(frame["population"].to_numpy()[:n_zones] > 0)
    order = np.lexsort(
        (idx, -np.nan_to_num(mean, nan=-np.inf), -np.nan_to_num(pct, nan=0.0), empty)
    )
    rank = np.zeros(n_zones + 2, dtype=np.int64)
    rank[order] = np.arange(1, n_zones + 1)
    frame.insert(3, "rank_worst_first", pd.Series(rank, dtype="Int64").where(rank > 0))
    rows = np.r_[order, n_zones, n_zones + 1]
    frame = frame.take(rows).reset_index(drop=True)

    total = float(pop.sum())
    tol = 1e-9 * max(1.0, total)
    bad = (frame["reached"] + frame["unreachable"] - frame["population"]).abs() > tol
    if bad.any():
        rows = ", ".join(frame.loc[bad, "zone_id"].astype(str))
        raise ConservationError(f"reached + unreachable ≠ population in rows: {rows}")
    is_all = frame["zone_id"] == ALL_ZONES_ID
    zone_total = float(frame.loc[~is_all, "population"].sum())
    if (
        abs(zone_total - total) > tol
        or abs(float(frame.loc[is_all, "population"].sum()) - total) > tol
    ):
        raise ConservationError(
            f"zones + outside ({zone_total:.3f}) must equal the grid total ({total:.3f})"
        )
    return frame
