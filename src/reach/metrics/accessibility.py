"""Accessibility scores: the two-step floating catchment area method and its enhanced variants.

Coverage asks "is a facility near?"; these scores ask "how much supply is there for me, given
everyone else who can reach the same facilities?". From the facility × cell travel times of
:func:`reach.metrics.capacity.catchment_times`, with supply ``S_j`` (a facility's capacity, or 1
per facility when none is known), demand ``P_i`` (people per cell) and a distance-decay weight
``w(t)`` (1 within the catchment and 0 beyond it for the plain method):

1. each facility's **supply ratio** ``R_j = S_j / Σ_i w(t_ij) P_i`` — its supply per person of
   the (weighted) demand that can reach it;
2. each cell's **score** ``A_i = Σ_j w(t_ij) R_j`` — the supply ratios of the facilities it can
   reach, weighted the same way.

Scores are reported as supply per 1,000 people (``supply_per_1000_people``): with capacities
in people served, capacity places per 1,000 people; without them, facilities per 1,000 people.
Because both steps use the same weights, the population-weighted scores add up to the supply of
every facility somebody can reach: ``Σ_i P_i A_i / 1000 = Σ_{j : demand_j > 0} S_j``. This
is checked in code, like the population totals of the coverage tables.

Decay options:

- :class:`StepDecay` — stepwise weights per travel-time band (enhanced 2SFCA, E2SFCA); a single
  band with weight 1 is the plain 2SFCA (:meth:`StepDecay.plain`). Band ``k`` holds the times
  ``edges[k-1] < t ≤ edges[k]`` (the first band starts at 0, inclusive);
- :class:`GaussianDecay` — a continuous Gaussian curve that falls from 1 at 0 minutes to 0 at
  the cutoff: ``w(t) = (exp(-½ (t/d0)²) − exp(-½)) / (1 − exp(-½))`` for ``t ≤ d0``, 0 beyond.

Only populated cells are scored (the matrix keeps only them); other cells get NaN. A populated
cell that reaches no facility gets a score of 0: no supply within reach.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from reach.errors import ConservationError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID, weighted_quantiles_by_group
from reach.model.zones import ZoneShares, zone_memberships, zone_numbers

__all__ = [
    "E2SFCA_EDGES_MIN",
    "E2SFCA_WEIGHTS",
    "Accessibility",
    "GaussianDecay",
    "StepDecay",
    "fca_accessibility",
    "fca_scores",
]

#: A common E2SFCA setting: three 10-minute bands and their weights.
E2SFCA_EDGES_MIN: tuple[float, ...] = (10.0, 20.0, 30.0)
E2SFCA_WEIGHTS: tuple[float, ...] = (1.0, 0.68, 0.22)

_PER_PEOPLE = 1000.0


@dataclass(frozen=True)
class StepDecay:
    """Stepwise weights per travel-time band (E2SFCA).

    Attributes
    ----------
    edges_min
        Upper edges of the bands in minutes, increasing: ``(10, 20, 30)`` gives the bands
        ``[0, 10]``, ``(10, 20]`` and ``(20, 30]``.
    weights
        The weight of each band, in [0, 1].
    """

    edges_min: tuple[float, ...] = E2SFCA_EDGES_MIN
    weights: tuple[float, ...] = E2SFCA_WEIGHTS

    def __post_init__(self) -> None:
        e = np.asarray(self.edges_min, dtype=np.float64)
        w = np.asarray(self.weights, dtype=np.float64)
        if e.size == 0 or e.shape != w.shape:
            raise ScenarioError("give one weight per band edge (at least one band)")
        if not np.isfinite(e).all() or (e <= 0).any() or (np.diff(e) <= 0).any():
            raise ScenarioError(
                f"band edges must be positive, finite and increasing: {self.edges_min}"
            )
        if not np.isfinite(w).all() or (w < 0).any() or (w > 1).any():
            raise ScenarioError(f"band weights must lie in [0, 1]: {self.weights}")

    @classmethod
    def plain(cls, threshold_min: float) -> StepDecay:
        """The plain two-step method: weight 1 up to ``threshold_min``, 0 beyond.

        Parameters
        ----------
        threshold_min
            The catchment size in minutes (the weight is 1 at exactly this time).

        Returns
        -------
        StepDecay
            A single band ``[0, threshold_min]`` of weight 1.

        Raises
        ------
        ScenarioError
            If ``threshold_min`` is not positive and finite.
        """
        return cls(edges_min=(float(threshold_min),), weights=(1.0,))

    @property
    def max_time_min(self) -> float:
        """Beyond this the weight is 0: search catchments up to here."""
        return float(self.edges_min[-1])

    @property
    def method(self) -> str:
        """``2SFCA`` for a single band of weight 1, else ``E2SFCA``."""
        return "2SFCA" if self.weights == (1.0,) else "E2SFCA"

    def weight(self, time_min: np.ndarray) -> np.ndarray:
        """Weight of each travel time (0 beyond the last band).

        Parameters
        ----------
        time_min
            Travel times in minutes.

        Returns
        -------
        numpy.ndarray
            ``float64``, of the shape of ``time_min``: the weight of the band each time falls
            in (a time on a band's upper edge belongs to that band), 0 beyond the last edge.
        """
        t = np.asarray(time_min, dtype=np.float64)
        band = np.searchsorted(np.asarray(self.edges_min), t, side="left")
        w = np.r_[np.asarray(self.weights, dtype=np.float64), 0.0]
        return w[band]


@dataclass(frozen=True)
class GaussianDecay:
    """A Gaussian weight that is 1 at 0 minutes and falls smoothly to 0 at the cutoff.

    Attributes
    ----------
    cutoff_min
        The catchment size ``d0`` in minutes.
    """

    cutoff_min: float = 30.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cutoff_min) and self.cutoff_min > 0):
            raise ScenarioError(f"cutoff_min must be positive and finite (got {self.cutoff_min})")

    @property
    def max_time_min(self) -> float:
        """Beyond this the weight is 0: search catchments up to here."""
        return float(self.cutoff_min)

    @property
    def method(self) -> str:
        """``Gaussian 2SFCA``."""
        return "Gaussian 2SFCA"

    def weight(self, time_min: np.ndarray) -> np.ndarray:
        """Weight of each travel time.

        Parameters
        ----------
        time_min
            Travel times in minutes.

        Returns
        -------
        numpy.ndarray
            ``float64``, of the shape of ``time_min``: the Gaussian weight, clipped to [0, 1],
            for times up to ``cutoff_min``; 0 beyond it (and for NaN).
        """
        t = np.asarray(time_min, dtype=np.float64)
        floor = math.exp(-0.5)
        w = (np.exp(-0.5 * (t / self.cutoff_min) ** 2) - floor) / (1.0 - floor)
        return np.where(t <= self.cutoff_min, np.clip(w, 0.0, 1.0), 0.0)


Decay = StepDecay | GaussianDecay


def _weights_matrix(times: sparse.csr_array, decay: Decay) -> sparse.csr_array:
    m = sparse.csr_array(times)
    if m.nnz and (np.isnan(m.data).any() or (m.data < 0).any()):
        raise ScenarioError("catchment times must be ≥ 0 and not NaN")
    w = sparse.csr_array((decay.weight(m.data), m.indices, m.indptr), shape=m.shape)
    return w


def fca_scores(
    demand_people: np.ndarray,
    catchment_time_min: sparse.csr_array,
    *,
    decay: Decay,
    supply: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-step floating catchment scores.

    Parameters
    ----------
    demand_people
        Demand per cell (people, already times any target share), flat or grid-shaped.
    catchment_time_min
        Facility × cell travel times (:func:`reach.metrics.capacity.catchment_times`, searched
        up to at least ``decay.max_time_min``); stored entries are the pairs within reach.
    decay
        :class:`StepDecay` or :class:`GaussianDecay`.
    supply
        Supply per facility (e.g. capacity); ``None`` counts 1 per facility. Must be finite and
        ≥ 0: fill unknown capacities before, or pass ``None``.

    Returns
    -------
    tuple of numpy.ndarray
        ``supply_per_1000_people`` per cell (NaN where the cell has no people; 0 where it
        reaches no facility), the weighted demand of each facility
        (``Σ_i w(t_ij) P_i``, people), and each facility's supply ratio per 1,000 people of its
        weighted demand (NaN where nobody can reach it: its supply counts nowhere).
    """
    pop = np.asarray(demand_people, dtype=np.float64).ravel()
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("demand must be finite and ≥ 0")
    w = _weights_matrix(catchment_time_min, decay)
    n_fac, n_cells = w.shape
    if n_cells != pop.size:
        raise ScenarioError(f"the catchment matrix has {n_cells} columns for {pop.size} cells")
    s = np.ones(n_fac) if supply is None else np.asarray(supply, dtype=np.float64).ravel()
    if s.shape != (n_fac,):
        raise ScenarioError(f"supply has {s.size} values for {n_fac} facilities")
    if not np.isfinite(s).all() or (s < 0).any():
        raise ScenarioError("supply must be finite and ≥ 0 (or None for 1 per facility)")
    demand = w @ pop
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(demand > 0, s / demand, np.nan)
    score = w.T @ np.where(demand > 0, ratio, 0.0) * _PER_PEOPLE
    score = np.where(pop > 0, score, np.nan)
    return score, demand, ratio * _PER_PEOPLE


@dataclass(frozen=True, eq=False)
class Accessibility:
    """Floating-catchment accessibility of one service.

    Attributes
    ----------
    method
        ``2SFCA``, ``E2SFCA`` or ``Gaussian 2SFCA``.
    supply_per_1000_people
        ``float64`` (n_cells,): the score of each cell; NaN where nobody lives.
    facilities
        One row per facility: the copied id columns, ``facility``, ``supply``,
        ``weighted_demand_people`` and ``supply_per_1000_people`` (its ratio; NaN when nobody
        can reach it).
    zones
        One row per zone, then the outside-zones and all rows: ``service``, ``zone_id``,
        ``zone_name``, ``method``, ``population``, ``population_with_access`` (score > 0),
        ``pct_with_access``, ``mean_supply_per_1000_people`` (population-weighted),
        ``median_supply_per_1000_people`` (weighted, lower) and ``supply_allocated`` (the
        zone's share of the supply, ``Σ P_i A_i / 1000``).
    """

    method: str
    supply_per_1000_people: np.ndarray
    facilities: pd.DataFrame
    zones: pd.DataFrame


def fca_accessibility(
    people: np.ndarray,
    catchment_time_min: sparse.csr_array,
    *,
    decay: Decay,
    zone: np.ndarray | ZoneShares,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    supply: np.ndarray | None = None,
    target_share: float = 1.0,
    facilities: pd.DataFrame | None = None,
) -> Accessibility:
    """Floating-catchment scores per cell, facility and zone.

    Parameters
    ----------
    people
        People per cell (any shape; 0 where nodata).
    catchment_time_min
        Facility × cell travel times, searched up to at least ``decay.max_time_min``.
    decay
        :class:`StepDecay` (``StepDecay.plain(T)`` for the plain 2SFCA) or
        :class:`GaussianDecay`.
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every zone row.
    supply
        Supply per facility (capacity); ``None`` counts 1 per facility.
    target_share
        Share of the population the service targets, in (0, 1].
    facilities
        One row per facility; ``facility_id``, ``name`` and ``tier`` are copied when present.

    Returns
    -------
    Accessibility
        Scores per cell, the facility table and the zone table.

    Raises
    ------
    ConservationError
        If the population-weighted scores do not add up to the supply within reach, or the
        zone rows do not add up to the grid's population.
    """
    if not (0.0 < float(target_share) <= 1.0):
        raise ScenarioError(f"target_share must lie in (0, 1] (got {target_share})")
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    z = zone_numbers(zone)
    if z.shape != pop.shape:
        raise ScenarioError(f"zone has {z.size} values for {pop.size} cells")
    n_zones = len(zone_ids)
    if len(zone_names) != n_zones:
        raise ScenarioError("zone_ids and zone_names differ in length")
    if z.size and (z.min() < 0 or z.max() > n_zones):
        raise ScenarioError(f"zone numbers must lie in 0..{n_zones}")
    score, demand, ratio = fca_scores(pop, catchment_time_min, decay=decay, supply=supply)
    n_fac = len(demand)
    s = np.ones(n_fac) if supply is None else np.asarray(supply, dtype=np.float64).ravel()
    if facilities is not None and len(facilities) != n_fac:
        raise ScenarioError(f"facilities has {len(facilities)} rows for {n_fac} facilities")

    fac = pd.DataFrame(
        {}
        if facilities is None
        else {
            c: facilities[c].to_numpy()
            for c in ("facility_id", "name", "tier")
            if c in facilities.columns
        }
    )
    fac["facility"] = np.arange(n_fac)
    fac["supply"] = s
    fac["weighted_demand_people"] = demand
    fac["supply_per_1000_people"] = ratio
    fac.index = pd.RangeIndex(n_fac)

    n_groups = n_zones + 1
    a = np.where(pop > 0, score, 0.0)
    # one row per (cell with people, zone it shares), its share of the cell's people
    keep = np.flatnonzero(pop > 0)
    members = zone_memberships(zone, n_zones, keep)
    group, row_pop, row_a = (
        members.group,
        pop[keep][members.item] * members.weight,
        a[keep][members.item],
    )
    pop_sum = np.bincount(group, weights=row_pop, minlength=n_groups)
    weighted = np.bincount(group, weights=row_pop * row_a, minlength=n_groups)
    with_access = np.bincount(group, weights=np.where(row_a > 0, row_pop, 0.0), minlength=n_groups)
    median = weighted_quantiles_by_group(group, row_a, row_pop, n_groups, [0.5])
    all_median = weighted_quantiles_by_group(
        np.zeros(group.size, dtype=np.int64), row_a, row_pop, 1, [0.5]
    )
    zones = pd.DataFrame(
        {
            "population": np.r_[pop_sum, pop_sum.sum()],
            "population_with_access": np.r_[with_access, with_access.sum()],
            "supply_weighted_sum": np.r_[weighted, weighted.sum()],
            "median_supply_per_1000_people": np.r_[median[:, 0], all_median[0, 0]],
        }
    )
    denom = zones["population"].where(zones["population"] > 0)
    zones["pct_with_access"] = 100.0 * zones["population_with_access"] / denom
    zones["mean_supply_per_1000_people"] = zones["supply_weighted_sum"] / denom
    zones["supply_allocated"] = zones.pop("supply_weighted_sum") / _PER_PEOPLE
    zones.insert(0, "population", zones.pop("population"))
    zones.insert(0, "method", decay.method)
    ids = [str(i) for i in zone_ids] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    names = [str(n) for n in zone_names] + [OUTSIDE_ZONES_ID, ALL_ZONES_ID]
    zones.insert(0, "zone_name", names)
    zones.insert(0, "zone_id", ids)
    zones.insert(0, "service", service)
    zones = zones[
        [
            "service", "zone_id", "zone_name", "method", "population", "population_with_access",
            "pct_with_access", "mean_supply_per_1000_people", "median_supply_per_1000_people",
            "supply_allocated",
        ]
    ]  # fmt: skip

    total = float(pop.sum())
    tol = 1e-9 * max(1.0, total)
    if abs(float(pop_sum.sum()) - total) > tol:
        raise ConservationError("zone rows do not add up to the grid's population")
    reachable_supply = float(s[demand > 0].sum())
    allocated = float(weighted.sum()) / _PER_PEOPLE
    if abs(allocated - reachable_supply) > 1e-9 * max(1.0, reachable_supply):
        raise ConservationError(
            f"scores allocate {allocated:.6g} of supply; the facilities within reach of someone "
            f"have {reachable_supply:.6g}"
        )
    return Accessibility(
        method=decay.method, supply_per_1000_people=score, facilities=fac, zones=zones
    )
