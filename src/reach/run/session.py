"""The search session: a road / friction variant's networks and graphs, built once, and its
searches (in full, or carried on from an earlier search when only facilities changed or roads
only got faster).
"""

from __future__ import annotations

import threading
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.codes import CLOSED
from reach.engine.combined import SearchResult, combined_search
from reach.ingest.roads import RoadLines
from reach.model.accessmod import burned_friction
from reach.model.assemble import SearchGraph, facility_seeds, search_graph
from reach.model.grid import (
    Friction,
)
from reach.model.joins import FacilitySeeds, Seeds
from reach.model.network import Network, build_network
from reach.model.region import Region, mode_profile
from reach.model.snap import snap_to_passable
from reach.model.speeds import ModeProfile
from reach.results import ServiceResult
from reach.run.cache import cached_network

__all__ = [
    "SearchSession",
    "faster_edges",
    "region_session",
    "service_graph",
    "service_seeds",
]


class SearchSession:
    """Searches for one road / friction variant, building each mode's network once.

    The region's own session (:func:`region_session`) serves the baseline and every
    alternative that leaves the roads alone; an alternative that changes roads, or a season,
    gets a session of its own. Thread-safe: services searched on threads share one session.

    Parameters
    ----------
    region
        The loaded region (grid, scenario settings).
    roads
        The road and ferry lines of this variant (the region's, or an alternative's).
    friction
        The walking friction of this variant (the region's, or a season's).
    profiles
        Travel modes' speeds to use instead of the scenario's (a sensitivity sample's), by
        mode; a mode not named takes the scenario's.

    Attributes
    ----------
    networks
        Each mode's routable network, by mode, as built so far.
    graphs
        Each mode's search graph (walking grid + network), by mode, as built so far.
    passable
        ``bool`` (rows, cols): cells one can walk in, where facilities are snapped to.
    """

    def __init__(
        self,
        region: Region,
        roads: RoadLines,
        friction: Friction,
        *,
        profiles: dict[str, ModeProfile] | None = None,
    ) -> None:
        self.region = region
        self.roads = roads
        self.friction = friction
        self.profiles = dict(profiles or {})
        self.networks: dict[str, Network] = {}
        self.graphs: dict[str, SearchGraph] = {}
        self.passable = np.isfinite(friction.pace_min_per_m)
        # services run on threads: one builds a mode's network and graph, the others wait
        self._lock = threading.Lock()

    def network(self, mode: str) -> Network:
        """The mode's road and ferry network on this variant's lines, built on first use.

        Ferry crossings wait half the scenario's ``[ferries] headway_min`` unless a line
        carries its own headway.

        Parameters
        ----------
        mode
            The travel mode (``"walk"``, ``"motorbike"`` or ``"car"``), with the scenario's
            ``[modes]`` overrides.

        Returns
        -------
        Network
            The same network on every call for the same mode.
        """
        with self._lock:
            if mode not in self.networks:
                scn = self.region.scenario
                profile = self.profiles.get(mode) or mode_profile(scn, mode)
                wait = scn.ferries.headway_min / 2.0
                self.networks[mode] = cached_network(
                    self.roads, self.region.grid, profile=profile, ferry_wait_min=wait,
                    build=lambda: build_network(
                        self.roads, self.region.grid, profile=profile, ferry_wait_min=wait
                    ),
                )  # fmt: skip
            return self.networks[mode]

    def graph(self, mode: str) -> SearchGraph:
        """The mode's search graph (walking grid + its network), built on first use.

        Parameters
        ----------
        mode
            The travel mode (``"walk"``, ``"motorbike"`` or ``"car"``).

        Returns
        -------
        SearchGraph
            The same graph on every call for the same mode, with the scenario's ``[grid]
            neighbours`` moves.
        """
        scn = self.region.scenario
        if scn.grid.model == "accessmod":
            with self._lock:
                if mode not in self.graphs:
                    # AccessMod's raster model: the roads are cells of the friction, no network
                    profile = self.profiles.get(mode) or mode_profile(scn, mode)
                    burned = burned_friction(self.friction, self.roads, self.region.grid, profile)
                    graph = search_graph(
                        self.region.grid, burned, None, neighbours=scn.grid.neighbours
                    )
                    self.graphs[mode] = replace(graph, cut_corners=True)
                return self.graphs[mode]
        network = self.network(mode)
        with self._lock:
            if mode not in self.graphs:
                self.graphs[mode] = search_graph(
                    self.region.grid, self.friction, network, neighbours=scn.grid.neighbours
                )
            return self.graphs[mode]

    def snap(self, fac: gpd.GeoDataFrame, *, within_m: float | None = None) -> gpd.GeoDataFrame:
        """Place facilities on the grid: each in its cell, or the nearest passable one.

        A facility in an impassable cell (a pier, a clinic drawn in a lake) moves to the
        nearest passable cell within two cells of it, or within ``within_m`` metres.

        Parameters
        ----------
        fac
            Facilities in any CRS.
        within_m
            How far (metres) a facility may move: the service's ``snap_within_m``; ``None``:
            within two cells.

        Returns
        -------
        geopandas.GeoDataFrame
            A copy with a ``cell`` column: the flat cell index, ``-1`` when off the grid or
            with no passable cell near.
        """
        grid = self.region.grid
        pts = fac.to_crs(grid.crs).geometry
        out = fac.copy()
        out["cell"] = snap_to_passable(
            pts.x.to_numpy(), pts.y.to_numpy(), grid, self.passable, max_distance_m=within_m
        )
        return out

    def search(
        self,
        fac: gpd.GeoDataFrame,
        mode: str,
        *,
        start: ServiceResult | None = None,
        base: SearchSession | None = None,
    ) -> SearchResult:
        """Minutes from every cell to its nearest facility, in full or carried on from a search.

        With ``start``, the earlier search is carried on when facilities were added or closed
        (only the cells a new facility serves sooner, and those a closed one served, are
        searched again), or when ``base``'s roads only got faster here. It is made in full
        instead when the roads changed otherwise, when it would need closures and faster roads
        at once, or when ``start`` kept no node catchments and either is asked. The times are
        the same either way.

        Parameters
        ----------
        fac
            The facilities, snapped (:meth:`snap`); those off the grid are not searched from.
        mode
            The travel mode.
        start
            An earlier result of the same service to carry on from (e.g. the baseline's),
            its facilities matched to ``fac`` by ``facility_id``.
        base
            The session ``start`` was searched on, when not this one; its graph is compared
            with this one's to find the edges that got faster.

        Returns
        -------
        SearchResult
            Minutes, catchment (row of ``fac``) and reason per cell, within the scenario's
            ``max_travel_time_min``.
        """
        scn = self.region.scenario
        graph = self.graph(mode)
        cells = fac["cell"].to_numpy()
        on_grid = np.flatnonzero(cells >= 0)
        warm: SearchResult | None = None
        closing = False
        node_seeds = None
        faster = None
        if scn.grid.model == "accessmod":
            start = None  # its times are truncated: a search is never carried on from them
        if start is not None and base is not None and base is not self:
            faster = faster_edges(base.graph(mode), graph, start.search)
            if faster is None:
                start = None  # the roads changed otherwise: search in full
        if start is not None:
            warm, new = _renumbered(start, fac)
            closing = bool((warm.facility == CLOSED).any())
            node_lab = warm.node_facility
            # carried on only with the node catchments it needs (searches made by partitions
            # have none), and not closures and faster roads at once
            if (node_lab is None and (closing or faster is not None)) or (
                closing and faster is not None
            ):
                warm = None
            else:
                if faster is not None and node_lab is not None:
                    nodes, times, into = faster
                    node_seeds = (nodes, times, node_lab[into])
                on_grid = on_grid[np.isin(on_grid, new)]
                if len(on_grid) == 0 and not closing and (faster is None or not len(faster[0])):
                    return warm  # nothing new: the earlier search stands
        # every facility starts from where it stands: the cells around it at the walk to it, and
        # the roads passing near it (the search only takes what improves, so the seeds of
        # facilities a carried-on search already has are harmless, and those of open ones
        # refill what closed ones served)
        seeds = self.seeds(fac, mode)
        cell_seeds = seeds.cells if warm is None or closing else seeds.cells.of(on_grid)
        nodes, times, labels = seeds.nodes.as_engine()
        if node_seeds is not None:
            nodes = np.concatenate([nodes, node_seeds[0]])
            times = np.concatenate([times, node_seeds[1]])
            labels = np.concatenate([labels, node_seeds[2].astype(np.int32)])
        seed_cells, seed_time, seed_label = cell_seeds.as_engine()
        found = combined_search(
            graph,
            seed_cells,
            seed_facility=seed_label,
            seed_time_min=seed_time,
            max_time_min=scn.grid.max_travel_time_min,
            start=warm,
            node_seeds=(nodes, times, labels) if len(nodes) else None,
        )
        if scn.grid.model == "accessmod":
            # AccessMod writes whole minutes, truncated
            found = replace(found, time_min=np.floor(found.time_min))
        return found

    def seeds(self, fac: pd.DataFrame, mode: str) -> FacilitySeeds:
        """Where a search from facilities starts (:func:`reach.model.assemble.facility_seeds`).

        Parameters
        ----------
        fac
            The facilities, snapped (:meth:`snap`): a GeoDataFrame, or a table with ``lon``,
            ``lat`` and ``cell`` columns (candidate sites).
        mode
            The travel mode.

        Returns
        -------
        FacilitySeeds
            Cell and node seeds numbered by the row of ``fac``.
        """
        grid = self.region.grid
        cells = fac["cell"].to_numpy().astype(np.int64)
        if self.region.scenario.grid.model == "accessmod":
            # AccessMod starts each facility in its cell, at 0 minutes
            on = np.flatnonzero(cells >= 0)
            start = Seeds(point=on, vertex=cells[on], time_min=np.zeros(len(on)))
            return FacilitySeeds(cells=start, nodes=Seeds.empty())
        if isinstance(fac, gpd.GeoDataFrame):
            pts = fac.to_crs(grid.crs).geometry
        else:  # a table of lon / lat (candidate sites)
            lonlat = gpd.points_from_xy(fac["lon"], fac["lat"], crs="EPSG:4326")
            pts = gpd.GeoSeries(lonlat).to_crs(grid.crs)
        return facility_seeds(
            pts.x.to_numpy(), pts.y.to_numpy(), fac["cell"].to_numpy().astype(np.int64),
            self.network(mode), grid, pace_min_per_m=self.friction.pace_min_per_m,
        )  # fmt: skip


def faster_edges(
    old: SearchGraph, new: SearchGraph, search: SearchResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Where a road change only made edges faster, the nodes to search on from.

    Parameters
    ----------
    old
        The search graph ``search`` was made on (e.g. the baseline's).
    new
        The same mode's graph after the road change.
    search
        The earlier search on ``old``.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(nodes, time_min, into)``: each node an edge that got faster leaves from, where the
        new time through it (minutes) beats the earlier search, and the node the edge leads
        to (whose catchment it takes). ``None`` when the change did more (nodes, edges or
        walking links differ, or an edge got slower): the earlier search cannot be carried on
        and the caller searches in full.
    """
    same = (
        old.n_nodes == new.n_nodes
        and np.array_equal(old.rev_indptr, new.rev_indptr)
        and np.array_equal(old.rev_src, new.rev_src)
        and np.array_equal(old.node_cell, new.node_cell)
        and np.array_equal(old.connector_min, new.connector_min)
        and np.array_equal(old.pace_min_per_m, new.pace_min_per_m)
    )
    if not same or (new.rev_cost_min > old.rev_cost_min).any():
        return None
    faster = np.flatnonzero(new.rev_cost_min < old.rev_cost_min)
    # edge e runs from rev_src[e] into the node j with rev_indptr[j] <= e < rev_indptr[j+1]
    into = np.searchsorted(new.rev_indptr, faster, side="right") - 1
    through = search.node_time_min[into] + new.rev_cost_min[faster]
    nodes = new.rev_src[faster]
    better = through < search.node_time_min[nodes]
    return nodes[better], through[better], into[better]


def _renumbered(start: ServiceResult, fac: gpd.GeoDataFrame) -> tuple[SearchResult, np.ndarray]:
    """The earlier search with catchments renumbered to ``fac``'s rows (``CLOSED`` for the
    facilities no longer there), and the new rows."""
    old_ids = start.facilities["facility_id"].astype(str).to_numpy()
    new_ids = fac["facility_id"].astype(str).to_numpy()
    row_of = {fid: i for i, fid in enumerate(new_ids)}
    old_to_new = np.array([row_of.get(fid, CLOSED) for fid in old_ids], dtype=np.int32)

    def renumber(lab: np.ndarray) -> np.ndarray:
        return np.where(lab >= 0, old_to_new[np.maximum(lab, 0)], -1).astype(np.int32)

    search = start.search
    nodes = None if search.node_facility is None else renumber(search.node_facility)
    new_rows = np.flatnonzero(~np.isin(new_ids, old_ids))
    return replace(search, facility=renumber(search.facility), node_facility=nodes), new_rows


def region_session(region: Region) -> SearchSession:
    """The search session of the region's own roads and friction, owned by the region.

    The baseline and every alternative that leaves the roads alone share its networks and
    graphs; it lives as long as the region does.

    Parameters
    ----------
    region
        The loaded region.

    Returns
    -------
    SearchSession
        The same session on every call for the same region.
    """
    return region.cached(
        "search_session", lambda: SearchSession(region, region.roads, region.friction)
    )


def service_graph(region: Region, mode: str) -> SearchGraph:
    """The baseline search graph (walking grid + the mode's network) of a loaded region.

    Parameters
    ----------
    region
        The loaded region.
    mode
        The travel mode (``"walk"``, ``"motorbike"`` or ``"car"``).

    Returns
    -------
    SearchGraph
        The graph of the region's own session, built once and shared.
    """
    return region_session(region).graph(mode)


def service_seeds(region: Region, mode: str, fac: pd.DataFrame) -> FacilitySeeds:
    """Where a search from facilities starts on a loaded region's baseline graph of a mode.

    Parameters
    ----------
    region
        The loaded region.
    mode
        The travel mode.
    fac
        The facilities, snapped (see :meth:`SearchSession.seeds`).

    Returns
    -------
    FacilitySeeds
        Seeds numbered by the row of ``fac``, for the graph of :func:`service_graph`.
    """
    return region_session(region).seeds(fac, mode)
