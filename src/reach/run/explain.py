"""Why is this village three hours away: the routes of chosen origins, leg by leg.

For origins given as points (a village, a house, a clinic a planner doubts), reach finds the
cell each stands in, reads the least-time route from it to the nearest facility of each service
out of the baseline search (:mod:`reach.engine.routes`, exact: the legs add up to the cell's
travel time), and gives it as legs (:mod:`reach.metrics.routes`): the walk to the road, each
road stretch, the wait for the boat and the crossing, the walk to the door. An origin with no
route says why, with the same reasons as the rasters.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from reach.codes import REASON_LABELS
from reach.engine.routes import trace_routes
from reach.errors import ScenarioError
from reach.metrics.routes import RouteLegs, leg_summary, route_legs
from reach.model.region import Region
from reach.results import Evaluation, Explanation, ServiceResult
from reach.run.session import region_session
from reach.schema import ROUTE_LEGS, ROUTES

__all__ = ["explain_origins"]


def _service_routes(
    region: Region, res: ServiceResult, cells: np.ndarray
) -> tuple[RouteLegs, np.ndarray]:
    """The legs of the routes from ``cells`` (``-1``: off the grid) for one service."""
    scn = region.scenario
    if scn.grid.model == "accessmod":
        raise ScenarioError(
            "routes are not kept for the AccessMod-compatible model (its times are truncated "
            "to whole minutes)",
            fix='explain with [grid] model = "reach" (the default)',
        )
    session = region_session(region)
    mode = res.spec.mode
    graph = session.graph(mode)
    network = session.network(mode)
    seeds = session.seeds(res.facilities, mode)
    cell_v, cell_t, cell_l = seeds.cells.as_engine()
    node_v, node_t, node_l = seeds.nodes.as_engine()
    on = cells >= 0
    steps = trace_routes(
        graph,
        res.search,
        cells[on],
        seed_vertex=np.concatenate([cell_v, graph.n_cells + node_v]),
        seed_time_min=np.concatenate([cell_t, node_t]),
        seed_facility=np.concatenate([cell_l, node_l]),
    )
    spec = scn.region.landcover
    at = res.facilities.to_crs(region.grid.crs).geometry
    legs = route_legs(
        steps, graph=graph, grid=region.grid, network=network, lines=session.roads, mode=mode,
        landcover_kph=dict(spec.speeds_kph) if spec is not None and spec.speeds_kph else None,
        facility_xy=(at.x.to_numpy(), at.y.to_numpy()),
    )  # fmt: skip
    return legs, np.flatnonzero(on)


def explain_origins(
    region: Region,
    base: Evaluation,
    origins: pd.DataFrame,
    *,
    services: Sequence[str] | None = None,
) -> Explanation:
    """The least-time route from each origin to the nearest facility of each service.

    Parameters
    ----------
    region
        The loaded region.
    base
        Its baseline evaluation (the searches the routes are read from).
    origins
        ``origin_id``, ``lon`` and ``lat`` (WGS 84) of each origin.
    services
        The services to explain (default: all).

    Returns
    -------
    Explanation
        The origins' times, facilities and minutes by leg kind, and the legs as lines.
    """
    grid = region.grid
    pts = gpd.GeoSeries(gpd.points_from_xy(origins["lon"], origins["lat"]), crs="EPSG:4326").to_crs(
        grid.crs
    )
    cells = grid.cell_of(pts.x.to_numpy(), pts.y.to_numpy()).astype(np.int64)
    ids = origins["origin_id"].astype(str).to_numpy()
    rows: list[pd.DataFrame] = []
    frames: list[gpd.GeoDataFrame] = []
    for name in services or list(base.services):
        res = base.services[name]
        legs, where = _service_routes(region, res, cells)
        summary = leg_summary(legs.legs, len(where))
        table = pd.DataFrame(
            {
                "origin_id": ids,
                "service": name,
                "lon": origins["lon"].to_numpy(np.float64),
                "lat": origins["lat"].to_numpy(np.float64),
            }
        )
        time = np.full(len(ids), np.nan)  # empty where not reached: ``reason`` says why
        reason = np.full(len(ids), "outside_grid", dtype=object)
        fac_row = np.full(len(ids), -1)
        on_cells = cells[where]
        time[where] = np.where(
            np.isfinite(res.search.time_min[on_cells]), res.search.time_min[on_cells], np.nan
        )
        reason[where] = [REASON_LABELS[int(c)] for c in res.search.reason[on_cells]]
        fac_row[where] = legs.facility
        table["travel_time_min"] = time
        table["reason"] = reason
        fac = res.facilities.reset_index(drop=True)
        table["facility_id"] = [
            str(fac["facility_id"].iloc[k]) if k >= 0 else None for k in fac_row
        ]
        table["facility_name"] = [
            (None if pd.isna(fac["name"].iloc[k]) else str(fac["name"].iloc[k])) if k >= 0 else None
            for k in fac_row
        ]
        for col in summary.columns:
            values = np.full(len(ids), np.nan)
            values[where] = summary[col].to_numpy()
            table[col] = np.where(np.isfinite(time), values, np.nan)
        n_legs = np.zeros(len(ids), np.int64)
        n_legs[where] = np.bincount(legs.legs["origin"], minlength=len(where))
        table["legs"] = n_legs
        rows.append(table[list(ROUTES.columns())])
        leg_table = legs.legs.copy()
        leg_table.insert(0, "service", name)
        leg_table.insert(0, "origin_id", ids[where][leg_table["origin"].to_numpy()])
        leg_table = leg_table[list(ROUTE_LEGS.columns())]
        lines = [shapely.linestrings(p) for p in legs.points]
        frame = gpd.GeoDataFrame(leg_table, geometry=list(lines), crs=grid.crs)
        frames.append(frame.to_crs("EPSG:4326"))
    table = pd.concat(rows, ignore_index=True)
    legs_all = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    return Explanation(origins=table, legs=legs_all)
