"""Origin–destination tables: each origin's k nearest facilities, with the split of the time.

For origins given as points or as zones (each zone's population-weighted centre, moved to the
zone's populated cell nearest it), one k-nearest search per service
(:func:`reach.engine.nearest.k_nearest`, exact: its first facility is the catchment raster's,
at the same time) gives each origin's ``k`` nearest facilities; the route to each is read back
(:mod:`reach.engine.routes`) and split into walking, riding, ferry waiting and crossing, and
the walk to the door. One long table, one row per origin, service and rank (r5py's shape).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.codes import REASON_LABELS
from reach.engine.nearest import k_nearest
from reach.engine.routes import trace_routes
from reach.errors import ScenarioError
from reach.metrics.routes import leg_summary, route_legs
from reach.model.region import Region
from reach.model.zones import ZoneShares
from reach.results import Evaluation
from reach.run.session import region_session

__all__ = ["OD_COLUMNS", "od_table", "zone_origins"]

#: Columns of :func:`od_table`'s table.
OD_COLUMNS: tuple[str, ...] = (
    "origin_id",
    "service",
    "rank",
    "facility_id",
    "facility_name",
    "time_min",
    "reason",
    "walk_min",
    "ride_min",
    "ferry_wait_min",
    "ferry_min",
    "to_door_min",
)


def zone_origins(region: Region, *, level: str | None = None) -> pd.DataFrame:
    """One origin per zone: its population-weighted centre, on its populated cell nearest it.

    Parameters
    ----------
    region
        The loaded region.
    level
        A reporting level (``[[region.zone_levels]]`` name) instead of the main zones.

    Returns
    -------
    pandas.DataFrame
        ``origin_id`` (the zone id), ``name``, ``lon``, ``lat`` (the chosen cell's centre) and
        ``people`` (the zone's), for each zone with people on the grid.

    Raises
    ------
    ScenarioError
        When the region has no such level.
    """
    if level is None:
        zones, number = region.zones, np.asarray(region.zone)
    else:
        found = [lv for lv in region.zone_levels if lv.name == level]
        if not found:
            known = ", ".join(lv.name for lv in region.zone_levels) or "none"
            raise ScenarioError(
                f"--level {level!r}: no such zone level", fix=f"use one of: {known}"
            )
        member = found[0].membership
        zones = found[0].zones
        number = np.asarray(member.zone if isinstance(member, ZoneShares) else member)
    # each cell counts for the zone holding it (or most of it): k+1 for row k, 0 outside
    zone_of = number.ravel().astype(np.int64) - 1
    grid = region.grid
    people = np.asarray(region.population.people, dtype=np.float64).ravel()
    cells = np.flatnonzero((people > 0) & (zone_of >= 0))
    x, y = grid.cell_centres(cells)
    z = zone_of[cells]
    w = people[cells]
    n = len(zones)
    total = np.bincount(z, weights=w, minlength=n)
    cx = np.bincount(z, weights=w * x, minlength=n)
    cy = np.bincount(z, weights=w * y, minlength=n)
    rows = []
    for zi in np.flatnonzero(total > 0):
        mx, my = cx[zi] / total[zi], cy[zi] / total[zi]
        mine = np.flatnonzero(z == zi)
        best = mine[np.argmin((x[mine] - mx) ** 2 + (y[mine] - my) ** 2)]
        rows.append((zi, x[best], y[best], total[zi]))
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    pts = gpd.GeoSeries(
        gpd.points_from_xy([r[1] for r in rows], [r[2] for r in rows]), crs=grid.crs
    ).to_crs("EPSG:4326")
    return pd.DataFrame(
        {
            "origin_id": zones["zone_id"].astype(str).to_numpy()[idx],
            "name": zones["name"].astype(str).to_numpy()[idx],
            "lon": pts.x.to_numpy(),
            "lat": pts.y.to_numpy(),
            "people": [r[3] for r in rows],
        }
    )


def od_table(
    region: Region,
    base: Evaluation,
    origins: pd.DataFrame,
    *,
    k: int = 3,
    services: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each origin's ``k`` nearest facilities of each service, with the split of the time.

    Parameters
    ----------
    region
        The loaded region.
    base
        Its baseline evaluation (the facilities searched from).
    origins
        ``origin_id``, ``lon`` and ``lat`` (WGS 84).
    k
        Facilities per origin and service.
    services
        The services (default: all).

    Returns
    -------
    pandas.DataFrame
        :data:`OD_COLUMNS`: a row per origin, service and rank (1 = nearest) with the facility,
        its minutes and their split by leg kind; an origin that reaches fewer than ``k``
        facilities within the scenario's time limit has fewer rows, and one that reaches none
        a single row of rank 1 with no facility, no time (empty, never a number standing for
        "unreachable") and ``reason`` saying why.
    """
    grid = region.grid
    pts = gpd.GeoSeries(gpd.points_from_xy(origins["lon"], origins["lat"]), crs="EPSG:4326").to_crs(
        grid.crs
    )
    cells = grid.cell_of(pts.x.to_numpy(), pts.y.to_numpy()).astype(np.int64)
    ids = origins["origin_id"].astype(str).to_numpy()
    on = np.flatnonzero(cells >= 0)
    session = region_session(region)
    limit = region.scenario.grid.max_travel_time_min
    frames: list[pd.DataFrame] = []
    for name in services or list(base.services):
        res = base.services[name]
        mode = res.spec.mode
        graph = session.graph(mode)
        seeds = session.seeds(res.facilities, mode)
        cv, ct, cl = seeds.cells.as_engine()
        nv, nt, nl = seeds.nodes.as_engine()
        sv = np.concatenate([cv, graph.n_cells + nv])
        st = np.concatenate([ct, nt])
        sl = np.concatenate([cl, nl])
        near = k_nearest(graph, sv, seed_facility=sl, seed_time_min=st, k=k, max_time_min=limit)
        fac = res.facilities.reset_index(drop=True)
        fac_ids = fac["facility_id"].astype(str).to_numpy()
        fac_names = fac["name"].to_numpy(dtype=object)
        network = session.network(mode)
        for rank in range(1, k + 1):
            target = near.facility[cells[on], rank - 1]
            has = np.flatnonzero(target >= 0)
            if not len(has):
                continue
            steps = trace_routes(
                graph, near, cells[on][has], seed_vertex=sv, seed_time_min=st,
                seed_facility=sl, to_facility=target[has],
            )  # fmt: skip
            legs = route_legs(
                steps, graph=graph, grid=grid, network=network, lines=session.roads, mode=mode
            )
            split = leg_summary(legs.legs, len(has))
            rows = pd.DataFrame(
                {
                    "origin_id": ids[on][has],
                    "service": name,
                    "rank": rank,
                    "facility_id": fac_ids[target[has]],
                    "facility_name": [
                        None if pd.isna(v) else str(v) for v in fac_names[target[has]]
                    ],
                    "time_min": steps.total_min,
                    "reason": REASON_LABELS[0],
                }
            )
            frames.append(pd.concat([rows, split], axis=1))
        # origins with no facility at all: one row saying why
        first = np.full(len(ids), -1)
        first[on] = near.facility[cells[on], 0]
        none = np.flatnonzero(first < 0)
        if len(none):
            reason = np.full(len(none), "outside_grid", dtype=object)
            inside = cells[none] >= 0
            reason[inside] = [REASON_LABELS[int(c)] for c in res.search.reason[cells[none][inside]]]
            frames.append(
                pd.DataFrame(
                    {
                        "origin_id": ids[none],
                        "service": name,
                        "rank": 1,
                        "facility_id": None,
                        "facility_name": None,
                        "time_min": np.nan,
                        "reason": reason,
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=OD_COLUMNS)
    order = {v: i for i, v in enumerate(dict.fromkeys(ids))}
    table["_o"] = table["origin_id"].map(order)
    table = table.sort_values(["_o", "service", "rank"], kind="stable").drop(columns="_o")
    table["time_min"] = table["time_min"].astype(np.float64)
    return table[list(OD_COLUMNS)].reset_index(drop=True)
