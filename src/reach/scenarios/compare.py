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

from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID

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
        """Fraction of each cell's people covered within ``threshold_min``."""
        within = (self.time_min <= threshold_min).astype(np.float64)
        if self.walk_time_min is not None:
            walk = (self.walk_time_min <= threshold_min).astype(np.float64)
            within = self.vehicle_share * within + (1.0 - self.vehicle_share) * walk
        if self.connected is not None and self.remote_share > 0:
            within = within + (1.0 - within) * self.remote_share * self.connected
        return within

    def take(self, cells: np.ndarray) -> CellAccess:
        """The same access for a subset of cells."""
        return CellAccess(
            time_min=self.time_min[cells],
            walk_time_min=None if self.walk_time_min is None else self.walk_time_min[cells],
            vehicle_share=self.vehicle_share,
            connected=None if self.connected is None else self.connected[cells],
            remote_share=self.remote_share,
        )

    def mean_time_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Per cell: (share of people reaching at all, their mean time) for the mean time."""
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


def compare_access(
    people: np.ndarray,
    zone: np.ndarray,
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

    Returns
    -------
    pandas.DataFrame
        Columns ``base_within_<T>min``, ``alt_within_<T>min``, ``delta_within_<T>min``,
        ``pct_base_…``, ``pct_alt_…``, ``gaining_<T>min``, ``losing_<T>min``,
        ``base_mean_time_min``, ``alt_mean_time_min``, ``cost`` and
        ``newly_covered_per_cost_<T>min`` (net gain / cost, where a cost is given).
    """
    pop = np.asarray(people, dtype=np.float64).ravel() * target_share
    # only cells with people count: the sums below skip the empty ones (most of a region)
    keep = np.flatnonzero(pop != 0)
    pop = pop[keep]
    base, alt = base.take(keep), alt.take(keep)
    z = np.asarray(zone).ravel()[keep].astype(np.int64)
    n_zones = len(zone_ids)
    group = np.where(z > 0, z - 1, n_zones)

    def by_zone(values: np.ndarray) -> np.ndarray:
        per = np.bincount(group, weights=values, minlength=n_zones + 1)
        return np.r_[per, per.sum()]

    table: dict[str, object] = {
        "alternative": alternative,
        "service": service,
        "zone_id": [*zone_ids, OUTSIDE_ZONES_ID, ALL_ZONES_ID],
        "zone_name": [*zone_names, OUTSIDE_ZONES_ID, ALL_ZONES_ID],
        "population": by_zone(pop),
    }
    total = by_zone(pop)
    for th in sorted(thresholds_min):
        fb = base.covered_fraction(th)
        fa = alt.covered_fraction(th)
        b = by_zone(pop * fb)
        a = by_zone(pop * fa)
        table[f"base_within_{th:g}min"] = b
        table[f"alt_within_{th:g}min"] = a
        table[f"delta_within_{th:g}min"] = a - b
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"pct_base_within_{th:g}min"] = np.where(total > 0, 100 * b / total, np.nan)
            table[f"pct_alt_within_{th:g}min"] = np.where(total > 0, 100 * a / total, np.nan)
        table[f"gaining_{th:g}min"] = by_zone(pop * np.maximum(fa - fb, 0.0))
        table[f"losing_{th:g}min"] = by_zone(pop * np.maximum(fb - fa, 0.0))
    for label, acc in (("base", base), ("alt", alt)):
        reach, tsum = acc.mean_time_weights()
        with np.errstate(invalid="ignore", divide="ignore"):
            r = by_zone(pop * reach)
            table[f"{label}_mean_time_min"] = np.where(r > 0, by_zone(pop * tsum) / r, np.nan)
    table["delta_mean_time_min"] = np.asarray(table["alt_mean_time_min"]) - np.asarray(
        table["base_mean_time_min"]
    )
    table["cost"] = np.nan if cost is None else float(cost)
    frame = pd.DataFrame(table)
    for th in sorted(thresholds_min):
        frame[f"newly_covered_per_cost_{th:g}min"] = (
            frame[f"delta_within_{th:g}min"] / frame["cost"] if cost else np.nan
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
                "net_newly_covered": r[f"delta_within_{th:g}min"],
                "gaining": r[f"gaining_{th:g}min"],
                "losing": r[f"losing_{th:g}min"],
                "pct_points": r[f"pct_alt_within_{th:g}min"] - r[f"pct_base_within_{th:g}min"],
                "delta_mean_time_min": r["delta_mean_time_min"],
                "cost": r["cost"],
                "newly_covered_per_cost": r[f"newly_covered_per_cost_{th:g}min"],
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
