"""Virtual access: telemedicine for health, online learning for schools.

For a travel-time threshold ``T`` every cell is one of :data:`VIRTUAL_CLASSES`:

- ``physical``: the facility is within ``T`` (whatever the signal);
- ``virtual_only``: the facility is beyond ``T`` or unreachable, but the cell has connectivity,
  so part of the demand (the service's ``remote_share``) can be served remotely;
- ``neither``: beyond ``T`` and no connectivity — the double burden.

The *effective* coverage counts the demand served: ``physical + remote_share × virtual_only``.
Virtual access only adds to physical access; it never reduces coverage.

Hub-and-spoke telemedicine (:func:`referral_trips_avoided`) counts the referral trips a connected
primary facility saves by consulting the hospital remotely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reach.errors import ConservationError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.model.zones import ZoneShares, zone_memberships, zone_numbers
from reach.schema import (
    VIRTUAL_PARTS,
    effective_covered_col,
    neither_col,
    physical_col,
    virtual_only_col,
)

__all__ = [
    "NEITHER",
    "PHYSICAL",
    "VIRTUAL_CLASSES",
    "VIRTUAL_ONLY",
    "check_virtual_conservation",
    "classify_access",
    "referral_trips_avoided",
    "virtual_coverage_table",
]

#: Per-cell access classes for a threshold, in code order.
VIRTUAL_CLASSES: tuple[str, ...] = ("physical", "virtual_only", "neither")
PHYSICAL = 0
VIRTUAL_ONLY = 1
NEITHER = 2


def classify_access(
    time_min: np.ndarray, connected: np.ndarray, *, threshold_min: float
) -> np.ndarray:
    """Classify each cell as physical, virtual-only or neither for one threshold.

    Parameters
    ----------
    time_min
        Minutes to the nearest facility; ``inf`` or NaN where unreachable.
    connected
        ``bool``, same shape: where remote service works.
    threshold_min
        The threshold ``T`` in minutes.

    Returns
    -------
    numpy.ndarray
        ``uint8``, same shape: :data:`PHYSICAL` (0) where ``time ≤ T``, :data:`VIRTUAL_ONLY` (1)
        where ``time > T`` or unreachable and connected, :data:`NEITHER` (2) otherwise.
    """
    t = np.asarray(time_min, dtype=np.float64)
    c = np.asarray(connected, dtype=bool)
    if t.shape != c.shape:
        raise ScenarioError(f"time_min {t.shape} and connected {c.shape} must have the same shape")
    if math.isnan(threshold_min):
        raise ScenarioError("threshold_min must be a number")
    physical = t <= threshold_min  # NaN compares False: unreachable
    out = np.where(physical, PHYSICAL, np.where(c, VIRTUAL_ONLY, NEITHER))
    return out.astype(np.uint8)


def _share(name: str, value: float, *, allow_zero: bool) -> float:
    v = float(value)
    low_ok = v >= 0.0 if allow_zero else v > 0.0
    ok = math.isfinite(v) and low_ok and v <= 1.0
    if not ok:
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ScenarioError(f"{name} must lie in {bound} (got {value})")
    return v


def virtual_coverage_table(
    people: np.ndarray,
    zone: np.ndarray | ZoneShares,
    time_min: np.ndarray,
    connected: np.ndarray,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    service: str,
    thresholds_min: Sequence[float],
    remote_share: float,
    target_share: float = 1.0,
) -> pd.DataFrame:
    """Physical, virtual-only and double-burden population per zone, and effective coverage.

    Parameters
    ----------
    people
        Population per cell (any shape; 0 where nodata).
    zone
        ``int`` per cell: ``k+1`` for zone ``k``, 0 outside every zone; or the
        :class:`~reach.model.zones.ZoneShares` of the cells (a shared cell counts in each zone
        it touches by its share).
    time_min
        Minutes to the nearest facility; ``inf`` (or NaN) where unreachable.
    connected
        ``bool`` per cell: where remote service works.
    zone_ids, zone_names
        Identifiers and names of the zones, in zone order.
    service
        Service name written in every row.
    thresholds_min
        Travel-time thresholds in minutes.
    remote_share
        Share of the demand of a virtual-only cell that can be served remotely, in [0, 1].
    target_share
        Share of the population the service targets (e.g. school-age children).

    Returns
    -------
    pandas.DataFrame
        One row per zone, then :data:`~reach.metrics.coverage.OUTSIDE_ZONES_ID` and
        :data:`~reach.metrics.coverage.ALL_ZONES_ID` rows. Columns ``service``, ``zone_id``,
        ``zone_name``, ``population``, ``population_connected``, then for each threshold
        ``T`` (formatted ``{T:g}``): ``physical_Tmin``, ``virtual_only_Tmin``,
        ``neither_Tmin``, ``effective_covered_Tmin``
        (``physical + remote_share × virtual_only``), and the same four as ``pct_…`` of the
        population (NaN where nobody lives).

    Raises
    ------
    ConservationError
        If physical + virtual-only + neither differs from the population in any row, the zone
        rows and the outside row do not add up to the grid total, or effective coverage falls
        below physical coverage.
    """
    remote = _share("remote_share", remote_share, allow_zero=True)
    target = _share("target_share", target_share, allow_zero=False)
    pop = np.asarray(people, dtype=np.float64).ravel() * target
    z = zone_numbers(zone)
    t = np.asarray(time_min, dtype=np.float64).ravel()
    c = np.asarray(connected, dtype=bool).ravel()
    if not (len(pop) == len(z) == len(t) == len(c)):
        raise ScenarioError(
            f"people, zone, time_min and connected differ in size "
            f"({len(pop)}, {len(z)}, {len(t)}, {len(c)})"
        )
    if not np.isfinite(pop).all():
        raise ScenarioError("people must be finite (give 0 where the raster has nodata)")
    n_zones = len(zone_ids)
    if len(zone_names) != n_zones:
        raise ScenarioError("zone_ids and zone_names differ in length")
    if len(z) and (z.min() < 0 or z.max() > n_zones):
        raise ScenarioError(f"zone numbers must lie in 0..{n_zones}")
    thresholds = sorted({float(x) for x in thresholds_min})
    if not thresholds or any(math.isnan(x) for x in thresholds):
        raise ScenarioError("give at least one threshold, in minutes")

    # only cells with people count (most of a region has none): every sum below is unchanged
    keep = np.flatnonzero(pop != 0)
    # one row per (cell, zone it shares), its share of the cell's people; n_zones = outside
    members = zone_memberships(zone, n_zones, keep)
    cells = keep[members.item]
    pop, t, c = pop[cells] * members.weight, t[cells], c[cells]
    group = members.group
    n_groups = n_zones + 1

    def sums(mask: np.ndarray | None = None) -> np.ndarray:
        w = pop if mask is None else np.where(mask, pop, 0.0)
        return np.bincount(group, weights=w, minlength=n_groups)

    table: dict[str, np.ndarray] = {"population": sums(), "population_connected": sums(c)}
    for th in thresholds:
        cls = classify_access(t, c, threshold_min=th)
        physical = sums(cls == PHYSICAL)
        virtual = sums(cls == VIRTUAL_ONLY)
        table[physical_col(th)] = physical
        table[virtual_only_col(th)] = virtual
        table[neither_col(th)] = sums(cls == NEITHER)
        table[effective_covered_col(th)] = physical + remote * virtual

    frame = pd.DataFrame(table)
    frame.insert(0, "zone_name", [str(n) for n in zone_names] + [OUTSIDE_ZONES_ID])
    frame.insert(0, "zone_id", [str(i) for i in zone_ids] + [OUTSIDE_ZONES_ID])
    frame.insert(0, "service", service)
    all_row: dict[str, object] = {col: float(frame[col].sum()) for col in table}
    all_row.update(service=service, zone_id=ALL_ZONES_ID, zone_name=ALL_ZONES_ID)
    frame = pd.concat([frame, pd.DataFrame([all_row])], ignore_index=True)
    denom = frame["population"].where(frame["population"] > 0)
    for th in thresholds:
        for count, pct in VIRTUAL_PARTS:
            frame[pct(th)] = 100.0 * frame[count(th)] / denom
    check_virtual_conservation(frame, raster_total=float(pop.sum()), thresholds_min=thresholds)
    return frame


def check_virtual_conservation(
    frame: pd.DataFrame, *, raster_total: float, thresholds_min: Sequence[float]
) -> None:
    """Raise :class:`ConservationError` unless every row and the zone sum add up.

    Checks, for every threshold and row: physical + virtual-only + neither = population, and
    physical ≤ effective covered ≤ physical + virtual-only; and that the zone rows plus the
    outside row, and the all row, equal the grid total.

    Parameters
    ----------
    frame
        A table as :func:`virtual_coverage_table` makes it: the zone rows, the outside-zones
        row and the all row (``zone_id`` :data:`reach.metrics.coverage.ALL_ZONES_ID`).
    raster_total
        The people the table must account for (after any target share).
    thresholds_min
        The table's travel-time thresholds in minutes; each is checked.

    Raises
    ------
    ConservationError
        If any of these does not hold, to within ``1e-9 * max(1, |raster_total|)`` people.
    """
    tol = 1e-9 * max(1.0, abs(raster_total))
    for th in thresholds_min:
        phys = frame[physical_col(th)]
        virt = frame[virtual_only_col(th)]
        eff = frame[effective_covered_col(th)]
        parts = phys + virt + frame[neither_col(th)]
        bad = (parts - frame["population"]).abs() > tol
        if bad.any():
            rows = ", ".join(frame.loc[bad, "zone_id"].astype(str))
            raise ConservationError(
                f"physical + virtual-only + neither within {th:g} min do not add up to the "
                f"population in rows: {rows}"
            )
        if ((eff < phys - tol) | (eff > phys + virt + tol)).any():
            raise ConservationError(
                f"effective coverage within {th:g} min falls outside "
                "[physical, physical + virtual-only]"
            )
    zone_rows = frame["zone_id"] != ALL_ZONES_ID
    total_rows = float(frame.loc[zone_rows, "population"].sum())
    all_pop = float(frame.loc[~zone_rows, "population"].sum())
    if abs(total_rows - raster_total) > tol or abs(all_pop - raster_total) > tol:
        raise ConservationError(
            f"zones + outside ({total_rows:.3f}) and the all row ({all_pop:.3f}) must equal "
            f"the raster total ({raster_total:.3f})"
        )


#: Facility columns copied into the referral table when present.
_ID_COLUMNS = ("facility_id", "name", "tier")


def referral_trips_avoided(
    facilities: pd.DataFrame,
    *,
    catchment_population: np.ndarray,
    connected_facility: np.ndarray,
    referral_time_min: np.ndarray,
    referral_share: float,
    remote_share: float,
    visits_per_person_year: float = 1.0,
) -> pd.DataFrame:
    """Referral trips a hub-and-spoke telemedicine link saves, per primary facility.

    Every row of ``facilities`` is a *spoke* (health centre, clinic): the caller leaves out the
    hubs (hospitals). A spoke with connectivity consults the hospital remotely, so a share of
    the patients it would refer no longer travel.

    Assumptions
    -----------
    - Each person in a spoke's catchment makes ``visits_per_person_year`` visits a year to it
      (the catchment is the people whose nearest facility it is, already scaled by the
      service's target share);
    - ``referral_share`` of those visits are referred on to the hospital, whether or not the
      spoke is connected: ``referrals = catchment × visits × referral_share``;
    - at a connected spoke, ``remote_share`` of referrals are settled by a remote consultation
      (``remote_consults``); the hospital end is assumed connected;
    - a consultation replaces one patient round trip from the spoke to the hospital, taking
      ``2 × referral_time_min`` (the travel time from the spoke's cell to the nearest hub with
      the service's mode; escorts, waiting and costs are not counted);
    - where no hospital can be reached (``referral_time_min`` NaN or ``inf``) the referral
      trip is not made today, so no trip is avoided and no time saved — the remote consults
      are then new access, not saved travel (``referral_reachable`` is ``False``).

    Parameters
    ----------
    facilities
        The spokes, one row each; ``facility_id``, ``name``, ``tier`` are copied when present.
    catchment_population
        People (already times the target share) whose nearest facility each spoke is.
    connected_facility
        ``bool`` per spoke: whether its cell has connectivity.
    referral_time_min
        Minutes from each spoke to the nearest hub; NaN or ``inf`` when none can be reached.
    referral_share
        Share of visits referred to the hub, in [0, 1].
    remote_share
        Share of referrals settled remotely at a connected spoke, in [0, 1].
    visits_per_person_year
        Visits to the spoke per person per year (≥ 0).

    Returns
    -------
    pandas.DataFrame
        One row per spoke: the copied id columns, ``catchment_population``, ``connected``,
        ``referral_time_min``, ``referral_reachable``, ``referrals_per_year``,
        ``remote_consults_per_year``, ``trips_avoided_per_year`` and
        ``patient_hours_saved_per_year`` (``trips_avoided × 2 × referral_time_min / 60``).
    """
    n = len(facilities)
    pop = np.asarray(catchment_population, dtype=np.float64).ravel()
    conn = np.asarray(connected_facility, dtype=bool).ravel()
    ref_time = np.asarray(referral_time_min, dtype=np.float64).ravel()
    if not (len(pop) == len(conn) == len(ref_time) == n):
        raise ScenarioError(
            f"catchment_population, connected_facility and referral_time_min need one value "
            f"per facility ({n}); got {len(pop)}, {len(conn)}, {len(ref_time)}"
        )
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("catchment_population must be finite and ≥ 0")
    if (ref_time < 0).any():
        raise ScenarioError("referral_time_min must be ≥ 0 (NaN where no hub can be reached)")
    referral = _share("referral_share", referral_share, allow_zero=True)
    remote = _share("remote_share", remote_share, allow_zero=True)
    visits = float(visits_per_person_year)
    if not (math.isfinite(visits) and visits >= 0):
        raise ScenarioError(f"visits_per_person_year must be finite and ≥ 0 (got {visits})")

    reachable = np.isfinite(ref_time)
    referrals = pop * visits * referral
    consults = np.where(conn, remote * referrals, 0.0)
    avoided = np.where(reachable, consults, 0.0)
    hours = np.where(reachable, avoided * 2.0 * np.where(reachable, ref_time, 0.0) / 60.0, 0.0)

    out = pd.DataFrame(
        {col: facilities[col].to_numpy() for col in _ID_COLUMNS if col in facilities.columns}
    )
    out["catchment_population"] = pop
    out["connected"] = conn
    out["referral_time_min"] = np.where(reachable, ref_time, np.nan)
    out["referral_reachable"] = reachable
    out["referrals_per_year"] = referrals
    out["remote_consults_per_year"] = consults
    out["trips_avoided_per_year"] = avoided
    out["patient_hours_saved_per_year"] = hours
    out.index = pd.RangeIndex(n)
    return out
