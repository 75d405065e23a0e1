"""Where the time goes: each origin's least-time route to care, as legs a person reads.

The steps of a route (:func:`reach.engine.routes.trace_routes`) are merged into legs:

* ``walk`` — off-road walking (cell to cell, onto and off a road), with its metres, the land
  cover crossed (the classes whose walking speed the cells have) and the climb;
* ``road`` — each stretch along one road (the same class and name), by the mode's vehicle, or on
  foot for a walking service;
* ``ferry_wait`` and ``ferry`` — the wait for the boat (half its headway) and the crossing;
* ``to_door`` — from where the route meets the facility's surroundings to the facility itself
  (the straight walk to it, and for a road passing by, the minutes along to where it is nearest).

The legs' minutes add up to the origin's travel time in the search; :func:`route_legs` checks
it for every route (to 1e-6 min) and says so when they do not. A long table, one row per leg
(r5py's way), with the points of each leg for drawing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reach.engine.routes import (
    STEP_CONNECT,
    STEP_DOOR,
    STEP_EDGE,
    STEP_LEAVE,
    STEP_WALK,
    RouteSteps,
)
from reach.ingest.roads import RoadLines
from reach.model.assemble import SearchGraph
from reach.model.grid import AnalysisGrid
from reach.model.network import Network, segment_lengths_m

__all__ = ["LEG_COLUMNS", "LEG_KINDS", "RouteLegs", "leg_summary", "route_legs"]

#: What a leg is, in the order a traveller meets them on a typical route.
LEG_KINDS: tuple[str, ...] = ("walk", "road", "ferry_wait", "ferry", "to_door")

#: Columns of :attr:`RouteLegs.legs`.
LEG_COLUMNS: tuple[str, ...] = (
    "origin",
    "leg",
    "kind",
    "mode",
    "time_min",
    "length_km",
    "road_class",
    "road_name",
    "land_cover",
    "climb_m",
)

#: How far, in minutes, a route's legs may sum from its travel time before it is flagged.
SUM_TOLERANCE_MIN = 1e-6


@dataclass(frozen=True, eq=False)
class RouteLegs:
    """The legs of several origins' routes.

    Attributes
    ----------
    legs
        One row per leg, :data:`LEG_COLUMNS`: ``origin`` (the origin's position), ``leg``
        (1, 2, … along the route), ``kind`` (:data:`LEG_KINDS`), ``mode`` (``walk``, or the
        vehicle on a road leg, ``ferry``), ``time_min``, ``length_km``, ``road_class`` and
        ``road_name`` (road legs; ``None`` where the line has none), ``land_cover`` (walk
        legs: the classes crossed, ``;``-separated, when the region has a land-cover layer)
        and ``climb_m`` (walk legs: metres climbed, when it has elevations).
    points
        The leg's points in the grid CRS, one ``(n, 2)`` array per row of ``legs``.
    facility
        ``int32`` (n_origins,): the facility row each origin's route ends at, -1 for none.
    total_min
        ``float64`` (n_origins,): each origin's travel time (``inf`` where not reached).
    """

    legs: pd.DataFrame
    points: list[np.ndarray]
    facility: np.ndarray
    total_min: np.ndarray


def _vertex_xy(
    v: np.ndarray, grid: AnalysisGrid, network: Network | None
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (grid CRS) of vertices: a cell's centre, or a network node."""
    n_cells = grid.rows * grid.cols
    v = np.asarray(v, np.int64)
    x = np.empty(len(v))
    y = np.empty(len(v))
    cell = v < n_cells
    x[cell], y[cell] = grid.cell_centres(v[cell])
    if (~cell).any():
        assert network is not None
        node = v[~cell] - n_cells
        x[~cell] = network.x[node]
        y[~cell] = network.y[node]
    return x, y


def _land_cover(pace: np.ndarray, speeds_kph: Mapping[str, float]) -> list[str]:
    """The land-cover classes whose walking speed gives these paces (in the order met)."""
    found: list[str] = []
    for p in pace:
        for label, kph in speeds_kph.items():
            if kph > 0 and abs(60.0 / (kph * 1000.0) - p) <= 1e-12 * p and label not in found:
                found.append(label)
    return found


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _texts(column: pd.Series) -> list[str | None]:
    """A tag column as a list of text, ``None`` where it is missing."""
    values = column.to_numpy(dtype=object)
    missing = pd.isna(values)
    return [None if gone else str(v) for v, gone in zip(values, missing, strict=True)]


def route_legs(
    steps: RouteSteps,
    *,
    graph: SearchGraph,
    grid: AnalysisGrid,
    network: Network | None,
    lines: RoadLines,
    mode: str,
    landcover_kph: Mapping[str, float] | None = None,
    facility_xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> RouteLegs:
    """Merge routes' steps into legs: walks, road stretches, ferry waits and crossings.

    Parameters
    ----------
    steps
        The routes (:func:`reach.engine.routes.trace_routes`).
    graph
        The graph searched (its paces and elevations).
    grid
        The analysis grid.
    network
        The mode's network the graph was built from (``None``: walking only).
    lines
        The road lines the network was built from (classes and names).
    mode
        The service's travel mode (the vehicle of its road legs).
    landcover_kph
        Walking speed by land-cover class, to name the ground a walk crosses.
    facility_xy
        The facilities' coordinates (grid CRS) by catchment id: the walk to the door then
        ends at the facility, with its straight length; without them it is a point.

    Returns
    -------
    RouteLegs
        One row per leg, and each leg's points.

    Raises
    ------
    ValueError
        When a route's legs do not add up to its travel time (the steps were traced on another
        search), naming the origin.
    """
    n_cells = grid.rows * grid.cols
    vx, vy = _vertex_xy(steps.vertex_from, grid, network)
    wx, wy = _vertex_xy(steps.vertex_to, grid, network)
    metres = segment_lengths_m(vx, vy, wx, wy, geographic=grid.geographic)
    # the tags as plain lists of text or None: one lookup per road step, no pandas indexing
    road_col = _texts(lines.tags["road_class"]) if "road_class" in lines.tags else None
    highway = _texts(lines.tags["highway"])
    names = _texts(lines.tags["name"])
    elev = graph.elevation_m if graph.elevation_m.size == n_cells else None
    rows: list[dict[str, Any]] = []
    points: list[np.ndarray] = []
    n_origins = len(steps.facility)
    for i in range(n_origins):
        part = steps.of(i)
        if part.stop == part.start:
            continue
        legs_i: list[dict[str, Any]] = []
        pts_i: list[list[tuple[float, float]]] = []
        walk_cells: list[list[int]] = []
        for s in range(part.start, part.stop):
            kind_code = int(steps.kind[s])
            minutes = float(steps.time_min[s])
            if kind_code == 255:
                raise ValueError(f"origin {i}: its route does not follow the search's times")
            road_class = road_name = None
            sub: list[tuple[str, float, float]] = []  # (kind, minutes, metres)
            if kind_code in (STEP_WALK, STEP_CONNECT, STEP_LEAVE):
                sub.append(("walk", minutes, float(metres[s])))
                leg_mode = "walk"
            elif kind_code == STEP_EDGE:
                assert network is not None
                e = int(steps.edge[s])
                way = int(network.way[e])
                if network.is_ferry[e]:
                    wait = float(network.wait_min[e])
                    if wait > 0:
                        sub.append(("ferry_wait", wait, 0.0))
                    sub.append(("ferry", minutes - wait, float(network.length_m[e])))
                    leg_mode = "ferry"
                else:
                    cls = road_col[way] if road_col is not None else None
                    road_class = cls or highway[way]
                    road_name = names[way]
                    sub.append(("road", minutes, float(network.length_m[e])))
                    leg_mode = mode
            else:
                assert kind_code == STEP_DOOR
                door = 0.0
                if facility_xy is not None:
                    fac = int(steps.facility[i])
                    wx[s], wy[s] = facility_xy[0][fac], facility_xy[1][fac]
                    door = float(
                        segment_lengths_m(
                            vx[s : s + 1], vy[s : s + 1], wx[s : s + 1], wy[s : s + 1],
                            geographic=grid.geographic,
                        )[0]
                    )  # fmt: skip
                sub.append(("to_door", minutes, door))
                leg_mode = "walk"
            for kind, sub_min, sub_m in sub:
                last = legs_i[-1] if legs_i else None
                same = (
                    last is not None
                    and last["kind"] == kind
                    and kind in ("walk", "road")
                    and last["road_class"] == road_class
                    and last["road_name"] == road_name
                )
                if last is not None and sub_min == 0.0 and sub_m == 0.0 and kind != "to_door":
                    same = True  # a step of no minutes and no length (a spur's end) joins on
                if same and last is not None:
                    last["time_min"] += sub_min
                    last["length_m"] += sub_m
                    pts_i[-1].append((float(wx[s]), float(wy[s])))
                    if kind == "walk":
                        walk_cells[-1] += [int(v) for v in (steps.vertex_to[s],) if v < n_cells]
                    continue
                legs_i.append(
                    {"origin": i, "kind": kind, "mode": leg_mode, "time_min": sub_min,
                     "length_m": sub_m, "road_class": road_class, "road_name": road_name}
                )  # fmt: skip
                pts_i.append([(float(vx[s]), float(vy[s])), (float(wx[s]), float(wy[s]))])
                cells = [int(v) for v in (steps.vertex_from[s], steps.vertex_to[s]) if v < n_cells]
                walk_cells.append(cells if kind == "walk" else [])
        total = sum(float(leg["time_min"]) for leg in legs_i)
        if abs(total - float(steps.total_min[i])) > SUM_TOLERANCE_MIN * max(1.0, total):
            raise ValueError(
                f"origin {i}: its legs add up to {total} min, its travel time is "
                f"{steps.total_min[i]} min"
            )
        for k, (leg, cells) in enumerate(zip(legs_i, walk_cells, strict=True), start=1):
            leg["leg"] = k
            leg["length_km"] = float(leg.pop("length_m")) / 1000.0
            leg["land_cover"] = None
            leg["climb_m"] = None
            if leg["kind"] == "walk" and cells:
                unique = list(dict.fromkeys(cells))
                if landcover_kph:
                    found = _land_cover(graph.pace_min_per_m[unique], landcover_kph)
                    leg["land_cover"] = ";".join(found) if found else None
                if elev is not None:
                    z = elev[np.asarray(cells, np.int64)]
                    rise = np.diff(z[np.isfinite(z)])
                    leg["climb_m"] = float(rise[rise > 0].sum())
        rows += legs_i
        points += [np.asarray(p, dtype=np.float64) for p in pts_i]
    legs = pd.DataFrame(rows, columns=list(LEG_COLUMNS))
    legs["origin"] = legs["origin"].astype(np.int64)
    legs["leg"] = legs["leg"].astype(np.int64)
    for col in ("time_min", "length_km", "climb_m"):
        legs[col] = legs[col].astype(np.float64)
    for col in ("road_class", "road_name", "land_cover"):
        legs[col] = legs[col].astype(object).where(legs[col].notna(), None)
    return RouteLegs(legs=legs, points=points, facility=steps.facility, total_min=steps.total_min)


def leg_summary(legs: pd.DataFrame, n_origins: int) -> pd.DataFrame:
    """Minutes per leg kind for each origin: ``walk_min``, ``ride_min``, ``ferry_wait_min``,
    ``ferry_min``, ``to_door_min`` (0 where a route has none of a kind).

    Parameters
    ----------
    legs
        :attr:`RouteLegs.legs`.
    n_origins
        Number of origins (rows of the result, in order).

    Returns
    -------
    pandas.DataFrame
        One row per origin.
    """
    out = pd.DataFrame(index=pd.RangeIndex(n_origins))
    names = {"walk": "walk_min", "road": "ride_min", "ferry_wait": "ferry_wait_min",
             "ferry": "ferry_min", "to_door": "to_door_min"}  # fmt: skip
    for kind, col in names.items():
        part = legs[legs["kind"] == kind]
        out[col] = np.bincount(part["origin"], weights=part["time_min"], minlength=n_origins)
    return out
