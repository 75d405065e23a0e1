"""Compare an alternative with the baseline: who gains, who loses, at what cost.

Works on per-cell *covered fractions*: for a threshold ``T`` a cell counts 1 when its people
reach the service within ``T``; with vehicle availability ``s`` the share ``s`` rides and the rest
walk; with telemedicine or online learning, connected cells beyond ``T`` count ``remote_share``
(the demand served remotely). Covered people are ``Σ people × fraction``; people gaining access
are ``Σ people × max(f_alt − f_base, 0)`` and losing ``Σ people × max(f_base − f_alt, 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.model.zones import ZoneShares, zone_memberships
from reach.schema import (
    alt_within_col,
    base_within_col,
    delta_within_col,
    gaining_col,
    losing_col,
    newly_covered_per_cost_col,
    pct_alt_within_col,
    pct_base_within_col,
)

__all__ = ["CellAccess", "compare_access", "rank_alternatives"]


@dataclass(frozen=True, eq=False)
class CellAccess:
    """What one evaluation says about each cell, for one service.

    Attributes
    ----------
    time_min
        Minutes with the service's mode (``inf`` unreachable).
    walk_time_min
        Minutes on foot when only a share has the vehicle, else ``None``.
    vehicle_share
        Share of people with the vehicle (1 when ``walk_time_min`` is ``None``).
    connected
        Cells where remote service works, or ``None``.
    remote_share
        Share of demand that can be served remotely in connected cells.
    """

    time_min: np.ndarray
    walk_time_min: np.ndarray | None = None
    vehicle_share: float = 1.0
    connected: np.ndarray | None = None
    remote_share: float = 0.0

    def covered_fraction(self, threshold_min: float) -> np.ndarray:
        """Fraction of each cell's people covered within ``threshold_min``.

        Parameters
        ----------
        threshold_min
            The travel-time threshold in minutes (a time equal to it is within).

        Returns
        -------
        numpy.ndarray
            ``float64`` per cell, in [0, 1]: 1 or 0 by ``time_min``; with a walking share,
            ``vehicle_share`` of that plus the rest by ``walk_time_min``; with remote service,
            connected cells add ``remote_share`` of the share not yet covered.
        """
        within = (self.time_min <= threshold_min).astype(np.float64)
        if self.walk_time_min is not None:
            walk = (self.walk_time_min <= threshold_min).astype(np.float64)
            within = self.vehicle_share * within + (1.0 - self.vehicle_share) * walk
        if self.connected is not None and self.remote_share > 0:
            within = within + (1.0 - within) * self.remote_share * self.connected
        return within

    def take(self, cells: np.ndarray) -> CellAccess:
        """The same access for a subset of cells.

        Parameters
        ----------
        cells
            The cells to keep: anything that indexes the per-cell arrays (flat indices or a
            boolean mask).

        Returns
        -------
        CellAccess
            The per-cell arrays indexed by ``cells``; ``vehicle_share`` and ``remote_share``
            unchanged.
        """
        return CellAccess(
            time_min=self.time_min[cells],
            walk_time_min=None if self.walk_time_min is None else self.walk_time_min[cells],
            vehicle_share=self.vehicle_share,
            connected=None if self.connected is None else self.connected[cells],
            remote_share=self.remote_share,
        )

    def mean_time_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per cell: (share of people reaching at all, their time sum), the parts of the mean time.

        Returns
        -------
        tuple of numpy.ndarray
            ``float64`` per cell: the share of its people who reach the service at all (1 or
            0, or with a walking share the vehicle and walking shares that reach), and the sum
            of those shares times their (finite) minutes. Summed over cells weighted by people,
            the second over the first is the people-weighted mean time of those who reach.
        """
        t = self.time_min
        reach = np.isfinite(t).astype(np.float64)
        tsum = np.where(np.isfinite(t), t, 0.0)
        if self.walk_time_min is not None:
            w = self.walk_time_min
            s = self.vehicle_share
            wreach = np.isfinite(w).astype(np.float64)
            tsum = s * tsum + (1 - s) * np.where(np.isfinite(w), w, 0.0)
            reach = s * reach + (1 - s) * wreach
        return reach, tsum


@njit(cache=True, inline="always")
def _fraction(t: float, w: float, share: float, conn: bool, rs: float, th: float) -> float:
    """:meth:`CellAccess.covered_fraction` of one cell (same arithmetic, same bits); ``w`` is
    NaN without a walking share, ``rs`` 0 without remote service. Scalars only: numba passes
    arrays to a call with reference counting, which would cost more than the work here."""
    within = 1.0 if t <= th else 0.0
    if not np.isnan(w):
        walk = 1.0 if w <= th else 0.0
        within = share * within + (1.0 - share) * walk
    if rs > 0:
        within = within + (1.0 - within) * rs * (1.0 if conn else 0.0)
    return within


@njit(cache=True, inline="always")
def _mean_parts(t: float, w: float, share: float) -> tuple[float, float]:
    """:meth:`CellAccess.mean_time_weights` of one cell: (share reaching, time sum)."""
    reach = 1.0 if np.isfinite(t) else 0.0
    tsum = t if np.isfinite(t) else 0.0
    if not np.isnan(w):
        tsum = share * tsum + (1 - share) * (w if np.isfinite(w) else 0.0)
        reach = share * reach + (1 - share) * (1.0 if np.isfinite(w) else 0.0)
    return reach, tsum


@njit(cache=True, nogil=True)
def _compare_sums(
    cells: np.ndarray,
    pop: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    thresholds: np.ndarray,
    tb: np.ndarray, wb: np.ndarray, sb: float, cb: np.ndarray, rb: float,
    ta: np.ndarray, wa: np.ndarray, sa: float, ca: np.ndarray, ra: float,
) -> np.ndarray:  # fmt: skip
    """Per group, in one pass over the populated cells (in order, so the sums are those of
    ``np.bincount``): population, then per threshold base / alt covered, gaining, losing, then
    base reach, base time sum, alt reach, alt time sum (people-weighted). ``wb``/``wa`` and
    ``cb``/``ca`` are empty when there is no walking share or no remote service."""
    k = thresholds.shape[0]
    out = np.zeros((n_groups, 1 + 4 * k + 4))
    has_wb = wb.shape[0] > 0
    has_wa = wa.shape[0] > 0
    rb = rb if cb.shape[0] > 0 else 0.0
    ra = ra if ca.shape[0] > 0 else 0.0
    for n in range(cells.shape[0]):
        i = cells[n]
        g = group[n]
        p = pop[n]
        t_b = tb[i]
        t_a = ta[i]
        w_b = wb[i] if has_wb else np.nan
        w_a = wa[i] if has_wa else np.nan
        c_b = cb[i] if rb > 0 else False
        c_a = ca[i] if ra > 0 else False
        out[g, 0] += p
        for j in range(k):
            th = thresholds[j]
            fb = _fraction(t_b, w_b, sb, c_b, rb, th)
            fa = _fraction(t_a, w_a, sa, c_a, ra, th)
            out[g, 1 + 4 * j] += p * fb
            out[g, 2 + 4 * j] += p * fa
            out[g, 3 + 4 * j] += p * max(fa - fb, 0.0)
            out[g, 4 + 4 * j] += p * max(fb - fa, 0.0)
        reach, tsum = _mean_parts(t_b, w_b, sb)
        out[g, 1 + 4 * k] += p * reach
        out[g, 2 + 4 * k] += p * tsum
        reach, tsum = _mean_parts(t_a, w_a, sa)
        out[g, 3 + 4 * k] += p * reach
        out[g, 4 + 4 * k] += p * tsum
    return out


def _kernel_args(acc: CellAccess) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    none = np.empty(0)
    return (
        np.ascontiguousarray(acc.time_min, dtype=np.float64).ravel(),
        none if acc.walk_time_min is None else np.ascontiguousarray(acc.walk_time_min).ravel(),
        float(acc.vehicle_share),
        np.empty(0, dtype=np.bool_) if acc.connected is None
        else np.ascontiguousarray(acc.connected, dtype=np.bool_).ravel(),
        float(acc.remote_share),
    )  # fmt: skip


def compare_access(
    people: np.ndarray,
    zone: np.ndarray | ZoneShares,
    base: CellAccess,
    alt: CellAccess,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    alternative: str,
    thresholds_min: Sequence[float],
    target_share: float = 1.0,
    cost: float | None = None,
) -> pd.DataFrame:
    """Per zone (+ outside and all rows): covered before/after, gains, losses, mean times, cost.

    Parameters
    ----------
    people
        Population per cell (any shape; 0 where nodata).
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    base, alt
        The service's access per cell in the baseline and in the alternative, on the same
        cells as ``people``.
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service, alternative
        The names of the service and the alternative, written in every row.
    thresholds_min
        Travel-time thresholds in minutes.
    target_share
        Share of the population the service targets (e.g. school-age children).
    cost
        The alternative's cost, for the gain-per-cost columns; ``None`` (or 0) leaves those
        columns NaN.

    Returns
    -------
    pandas.DataFrame
        Columns ``base_within_<T>min``, ``alt_within_<T>min``, ``delta_within_<T>min``,
        ``pct_base_…``, ``pct_alt_…``, ``gaining_<T>min``, ``losing_<T>min``,
        ``base_mean_time_min``, ``alt_mean_time_min``, ``delta_mean_time_min``, ``cost`` and
        ``newly_covered_per_cost_<T>min`` (net gain / cost, where a cost is given).
    """
    pop = np.asarray(people, dtype=np.float64).ravel() * target_share
    # only cells with people count: the sums below skip the empty ones (most of a region)
    keep = np.flatnonzero(pop != 0)
    n_zones = len(zone_ids)
    # one row per (cell, zone it shares), its share of the cell's people
    members = zone_memberships(zone, n_zones, keep)
    cells = keep[members.item]
    ths = sorted(float(x) for x in thresholds_min)
    sums = _compare_sums(
        cells,
        pop[cells] * members.weight,
        members.group,
        n_zones + 1,
        np.asarray(ths),
        *_kernel_args(base),
        *_kernel_args(alt),
    )

    def by_zone(col: int) -> np.ndarray:
        per = sums[:, col]
        return np.r_[per, per.sum()]

    table: dict[str, object] = {
        "alternative": alternative,
        "service": service,
        "zone_id": [*zone_ids, OUTSIDE_ZONES_ID, ALL_ZONES_ID],
        "zone_name": [*zone_names, OUTSIDE_ZONES_ID, ALL_ZONES_ID],
        "population": by_zone(0),
    }
    total = by_zone(0)
    for j, th in enumerate(ths):
        b = by_zone(1 + 4 * j)
        a = by_zone(2 + 4 * j)
        table[base_within_col(th)] = b
        table[alt_within_col(th)] = a
        table[delta_within_col(th)] = a - b
        with np.errstate(invalid="ignore", divide="ignore"):
            table[pct_base_within_col(th)] = np.where(total > 0, 100 * b / total, np.nan)
            table[pct_alt_within_col(th)] = np.where(total > 0, 100 * a / total, np.nan)
        table[gaining_col(th)] = by_zone(3 + 4 * j)
        table[losing_col(th)] = by_zone(4 + 4 * j)
    k = len(ths)
    for name, col in (("base_mean_time_min", 1 + 4 * k), ("alt_mean_time_min", 3 + 4 * k)):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = by_zone(col)
            table[name] = np.where(r > 0, by_zone(col + 1) / r, np.nan)
    table["delta_mean_time_min"] = np.asarray(table["alt_mean_time_min"]) - np.asarray(
        table["base_mean_time_min"]
    )
    table["cost"] = np.nan if cost is None else float(cost)
    frame = pd.DataFrame(table)
    for th in sorted(thresholds_min):
        frame[newly_covered_per_cost_col(th)] = (
            frame[delta_within_col(th)] / frame["cost"] if cost else np.nan
        )
    return frame


def rank_alternatives(
    comparison: pd.DataFrame, *, key_thresholds: dict[str, float]
) -> pd.DataFrame:
    """Rank alternatives per service by net people newly covered within the key threshold.

    Parameters
    ----------
    comparison
        Rows of :func:`compare_access` for every alternative and service.
    key_thresholds
        The threshold (minutes) that ranks each service, e.g. its middle one.

    Returns
    -------
    pandas.DataFrame
        One row per service and alternative: net gain, people gaining and losing, percentage
        points, cost, gain per cost and rank (1 = best; ties share the better rank).
    """
    rows = []
    all_rows = comparison[comparison["zone_id"] == ALL_ZONES_ID]
    for (service, alt), part in all_rows.groupby(["service", "alternative"], sort=True):
        th = key_thresholds[str(service)]
        r = part.iloc[0]
        rows.append(
            {
                "service": service,
                "alternative": alt,
                "threshold_min": th,
                "net_newly_covered": r[delta_within_col(th)],
                "gaining": r[gaining_col(th)],
                "losing": r[losing_col(th)],
                "pct_points": r[pct_alt_within_col(th)] - r[pct_base_within_col(th)],
                "delta_mean_time_min": r["delta_mean_time_min"],
                "cost": r["cost"],
                "newly_covered_per_cost": r[newly_covered_per_cost_col(th)],
            }
        )
    ranking = pd.DataFrame(rows)
    if ranking.empty:
        return ranking
    ranking["rank"] = (
        ranking.groupby("service")["net_newly_covered"]
        .rank(method="min", ascending=False)
        .astype(int)
    )
    return ranking.sort_values(["service", "rank", "alternative"], kind="stable").reset_index(
        drop=True
    )
