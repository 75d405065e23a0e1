"""Measure a service's search: coverage per zone, the facility table, telemedicine and
online-learning coverage with referrals avoided, and the seasons' summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.engine.combined import SearchResult
from reach.errors import ConservationError
from reach.ingest.connectivity import read_connectivity
from reach.metrics.coverage import ALL_ZONES_ID, coverage_table
from reach.metrics.virtual import referral_trips_avoided, virtual_coverage_table
from reach.model.connectivity import connected_cells
from reach.model.region import Region, ZoneLevel
from reach.model.zones import stacked
from reach.results import ServiceResult
from reach.run.session import SearchSession
from reach.scenarios.compare import CellAccess
from reach.schema import catchment_within_col, within_col, year_share_within_col
from reach.spec import (
    DigitalLearning,
    ServiceSpec,
    Telemedicine,
)

__all__ = [
    "baseline_result",
    "facility_table",
    "season_summary",
    "service_coverage",
    "virtual_access",
]


def facility_table(
    fac: gpd.GeoDataFrame, result: SearchResult, people: np.ndarray, svc: ServiceSpec
) -> pd.DataFrame:
    """Catchment population, mean time and load of each facility of a service.

    A facility's catchment is the people whose nearest facility it is (reached within the
    scenario's ``max_travel_time_min``), times the service's target share.

    Parameters
    ----------
    fac
        The facilities searched from, snapped (with their ``cell``), in catchment order.
    result
        The search from them.
    people
        People per cell (any shape; 0 where nodata).
    svc
        The service (its name, largest threshold and target share).

    Returns
    -------
    pandas.DataFrame
        One row per facility: ``service``, ``facility_id``, ``name``, ``tier``, ``capacity``,
        ``lon``, ``lat``, ``on_grid``, ``catchment_population``,
        ``catchment_within_<T>min`` (within the largest threshold ``T``),
        ``catchment_mean_time_min`` (NaN for an empty catchment) and ``load_ratio``
        (catchment / capacity; NaN without a capacity).
    """
    n = len(fac)
    # only cells with people (most of a region has none; the sums are the same without them)
    cells = np.flatnonzero(people.ravel())
    lab = result.facility[cells]
    time_min = result.time_min[cells]
    reached = lab >= 0
    pop = people.ravel()[cells] * svc.target_share
    catch = np.bincount(lab[reached], weights=pop[reached], minlength=n)[:n]
    top = max(svc.thresholds_min)
    within = reached & (time_min <= top)
    catch_within = np.bincount(lab[within], weights=pop[within], minlength=n)[:n]
    tsum = np.bincount(
        lab[reached], weights=(pop * np.where(reached, time_min, 0))[reached], minlength=n
    )[:n]
    capacity = fac["capacity"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.where(catch > 0, tsum / catch, np.nan)
        load = np.where(capacity > 0, catch / capacity, np.nan)
    return pd.DataFrame(
        {
            "service": svc.name,
            "facility_id": fac["facility_id"].astype(str).to_numpy(),
            "name": fac["name"].astype(str).to_numpy(),
            "tier": fac["tier"].astype(str).to_numpy(),
            "capacity": capacity,
            "lon": fac.geometry.x.to_numpy(),
            "lat": fac.geometry.y.to_numpy(),
            "on_grid": fac["cell"].to_numpy() >= 0,
            "catchment_population": catch,
            catchment_within_col(top): catch_within,
            "catchment_mean_time_min": mean_t,
            "load_ratio": load,
        }
    )


def service_coverage(
    region: Region,
    svc: ServiceSpec,
    result: SearchResult,
    walk: SearchResult | None,
    vehicle_share: float,
    *,
    level: ZoneLevel | None = None,
) -> pd.DataFrame:
    """Coverage of one service per zone; with walking times, riders and walkers count apart.

    Parameters
    ----------
    region
        The loaded region (people, zones, and the population total the table must add up to:
        the raster's, or the corrected one).
    svc
        The service (thresholds, target share).
    result
        The search with the service's mode.
    walk
        The search on foot when only a share of people has the vehicle, else ``None``.
    vehicle_share
        Share of people (0–1) who ride: they count with ``result``'s times and the rest with
        ``walk``'s; ignored without ``walk``.
    level
        Report by this ``[[region.zone_levels]]`` entry instead of the boundaries.

    Returns
    -------
    pandas.DataFrame
        People within each threshold per zone, then the outside-zones and all rows (see
        :func:`reach.metrics.coverage.coverage_table`).

    Raises
    ------
    ConservationError
        When the all row's population differs from the population total times the target share.
    """
    people = region.population.people
    zone = region.membership if level is None else level.membership
    zones = region.zones if level is None else level.zones
    time_min, reason = result.time_min, result.reason
    if walk is not None:
        people = np.concatenate(
            [people.ravel() * vehicle_share, people.ravel() * (1 - vehicle_share)]
        )
        zone = stacked(zone, 2)
        time_min = np.concatenate([time_min, walk.time_min])
        reason = np.concatenate([reason, walk.reason])
    cov = coverage_table(
        people, zone, time_min, reason,
        zone_ids=zones["zone_id"].astype(str).tolist(),
        zone_names=zones["name"].astype(str).tolist(),
        service=svc.name,
        thresholds_min=svc.thresholds_min,
        target_share=svc.target_share,
    )  # fmt: skip
    expected = region.population_total * svc.target_share
    got = float(cov.loc[cov["zone_id"] == ALL_ZONES_ID, "population"].iloc[0])
    if abs(got - expected) > 1e-6 * max(1.0, expected):
        raise ConservationError(
            f"{svc.name}: covered + uncovered {got:.3f} ≠ raster {expected:.3f}"
        )
    return cov


def baseline_result(
    region: Region, svc: ServiceSpec, facilities: gpd.GeoDataFrame, search: SearchResult
) -> ServiceResult:
    """A service's baseline result from its search, measured as :func:`evaluate` measures it.

    For searches made elsewhere (e.g. partition by partition on a cluster): coverage,
    facility table and access, everyone with the service's own mode.

    Parameters
    ----------
    region
        The loaded region.
    svc
        The service.
    facilities
        The facilities searched from, snapped (with their ``cell``), in catchment order.
    search
        The search from them over the whole grid.

    Returns
    -------
    ServiceResult
        Coverage, facility table and access (no virtual, referral or season tables).

    Raises
    ------
    ConservationError
        When the coverage does not add up to the population raster's total.
    """
    return ServiceResult(
        spec=svc,
        facilities=facilities,
        search=search,
        coverage=service_coverage(region, svc, search, None, 1.0),
        facility_table=facility_table(facilities, search, region.population.people, svc),
        access=CellAccess(time_min=search.time_min),
    )


def virtual_access(
    region: Region,
    svc: ServiceSpec,
    result: SearchResult,
    fac: gpd.GeoDataFrame,
    op: Telemedicine | DigitalLearning,
    searcher: SearchSession,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame | None]:
    """Telemedicine or online-learning coverage of a service, and referral trips avoided.

    Parameters
    ----------
    region
        The loaded region.
    svc
        The service.
    result
        Its search with the service's mode.
    fac
        The facilities searched from, snapped (with their ``cell``), in catchment order.
    op
        The operation: where connectivity works, the share of demand served remotely and,
        for hub-and-spoke telemedicine, the referral tier, share and visits a year.
    searcher
        The session ``result`` was searched on; with hub-and-spoke telemedicine the hubs
        (facilities of the referral tier) are searched on it too.

    Returns
    -------
    connected : numpy.ndarray
        ``bool`` (rows, cols): cells where remote service works.
    table : pandas.DataFrame
        Physical, virtual-only and neither population per zone and threshold (see
        :func:`reach.metrics.virtual.virtual_coverage_table`).
    referrals : pandas.DataFrame or None
        Referral trips and patient hours avoided per primary facility (see
        :func:`reach.metrics.virtual.referral_trips_avoided`); ``None`` without hub-and-spoke,
        or when the service has no facility of the referral tier or none of another tier.

    Raises
    ------
    InputError
        When the connectivity layer is refused.
    ConservationError
        When the virtual coverage table does not add up.
    """
    scn = region.scenario
    spec = op.connectivity
    conn = read_connectivity(
        scn.resolve(spec.path),
        kind=spec.kind,
        layer=spec.layer,
        range_m=spec.range_m,
        threshold=spec.threshold,
    )
    connected = connected_cells(conn, region.grid)
    time_grid = result.time_min.reshape(region.grid.shape)
    table = virtual_coverage_table(
        region.population.people, region.membership, time_grid, connected,
        zone_ids=region.zones["zone_id"].astype(str).tolist(),
        zone_names=region.zones["name"].astype(str).tolist(),
        service=svc.name, thresholds_min=svc.thresholds_min,
        remote_share=op.remote_share, target_share=svc.target_share,
    )  # fmt: skip
    referrals = None
    if isinstance(op, Telemedicine) and op.hub_and_spoke:
        hubs = fac[fac["tier"] == op.referral_tier]
        primary = fac[fac["tier"] != op.referral_tier]
        if len(hubs) and len(primary):
            hub_times = searcher.search(hubs, svc.mode).time_min
            cells = primary["cell"].to_numpy()
            ref_time = np.where(cells >= 0, hub_times[np.maximum(cells, 0)], np.nan)
            ref_time = np.where(np.isfinite(ref_time), ref_time, np.nan)
            lab = result.facility
            pop = region.population.people.ravel() * svc.target_share
            reached = lab >= 0
            catch_all = np.bincount(lab[reached], weights=pop[reached], minlength=len(fac))
            idx = np.flatnonzero(fac["tier"].to_numpy() != op.referral_tier)
            flat_conn = connected.ravel()
            referrals = referral_trips_avoided(
                primary.drop(columns="geometry").reset_index(drop=True),
                catchment_population=catch_all[idx],
                connected_facility=np.where(cells >= 0, flat_conn[np.maximum(cells, 0)], False),
                referral_time_min=ref_time,
                referral_share=op.referral_share,
                remote_share=op.remote_share,
                visits_per_person_year=op.visits_per_person_year,
            )
            referrals.insert(0, "service", svc.name)
    return connected, table, referrals


def season_summary(rows: pd.DataFrame, *, thresholds_min: Sequence[float]) -> pd.DataFrame:
    """Add, per service and zone, the share of the year each threshold is met on average.

    Parameters
    ----------
    rows
        Each season variant's coverage rows, with ``season`` and ``share_of_year`` columns.
    thresholds_min
        The thresholds of the rows' ``within_<T>min`` columns, in their column order.

    Returns
    -------
    pandas.DataFrame
        ``rows`` with a ``year_share_within_<T>min`` column per threshold (the share of the
        zone's people within ``T`` times the variant's share of the year), followed by one
        ``"year (weighted)"`` row per service and zone summing them over the variants.
    """
    out = rows.copy()
    for t in thresholds_min:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[year_share_within_col(t)] = np.where(
                out["population"] > 0,
                out[within_col(t)] / out["population"] * out["share_of_year"],
                np.nan,
            )
    shares = [year_share_within_col(t) for t in thresholds_min]
    year = out.groupby(["service", "zone_id"], sort=False)[shares].sum(min_count=1).reset_index()
    year.insert(
        0,
        "share_of_year",
        out.groupby(["service", "zone_id"], sort=False)["share_of_year"].sum().to_numpy(),
    )
    year.insert(0, "season", "year (weighted)")
    cols = ["season", "share_of_year", "service", "zone_id"]
    return pd.concat([out, year], ignore_index=True)[
        cols + [c for c in out.columns if c not in cols]
    ]
