"""A scenario's region, loaded once: its inputs on the analysis grid and the baseline model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np

from reach.findings import Finding
from reach.ingest.population import Population
from reach.ingest.roads import RoadLines
from reach.model.counts import SpreadCounts
from reach.model.grid import (
    AnalysisGrid,
    Friction,
)
from reach.model.noding import NodingReport
from reach.model.population_correction import PopulationCorrection
from reach.model.speeds import ModeProfile, default_profile, profile_with_overrides
from reach.model.zones import ZoneShares
from reach.spec import (
    ScenarioSpec,
)

T = TypeVar("T")

__all__ = [
    "Region",
    "RegionInputs",
    "ZoneLevel",
    "mode_profile",
]


def mode_profile(scn: ScenarioSpec, mode: str) -> ModeProfile:
    """The travel mode's speeds and rules, with the scenario's ``[modes.<mode>]`` overrides.

    Parameters
    ----------
    scn
        The scenario whose ``modes`` table may override the mode's defaults.
    mode
        The travel mode: ``"walk"``, ``"motorbike"`` or ``"car"``.

    Returns
    -------
    ModeProfile
        The mode's default profile with the scenario's settings laid over it.

    Raises
    ------
    ScenarioError
        For an unknown mode, or an override naming an unknown setting or giving a bad value.
    """
    return profile_with_overrides(default_profile(mode), scn.modes.get(mode, {}))  # type: ignore[call-overload]


@dataclass(frozen=True, eq=False)
class ZoneLevel:
    """Another set of reporting zones on the grid (``[[region.zone_levels]]``).

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    name
        The level's name (``coverage_<name>.csv``).
    zones
        ``zone_id``, ``name`` and ``geometry``.
    membership
        Each cell's share of each zone.
    """

    name: str
    zones: gpd.GeoDataFrame
    membership: ZoneShares


@dataclass(eq=False)
class Region:
    """A scenario's region, loaded once: the baseline inputs and model.

    The baseline and every alternative are evaluated on it; apart from the values
    :meth:`cached` keeps (under a lock) it is only read, so threads share it. Each parameter is
    kept as the attribute of the same name.

    Parameters
    ----------
    scenario
        The scenario it was loaded from.
    population
        People per cell on the analysis grid (after any ``aggregate_factor`` and any
        population correction).
    raster_total
        The population raster's own total (people) before any grid change or correction;
        coverage tables are checked to add up to :attr:`population_total`.
    grid, zones, zone, friction, roads
        The analysis grid, the reporting zones and their zone number per cell (``k+1`` for row
        ``k`` of ``zones``, 0 outside every zone), the baseline walking friction, and the
        baseline road / ferry lines.
    facilities
        The baseline facilities of each service (lon/lat), by service name.
    timings_s
        Seconds spent per loading step.
    warnings
        Lines about inputs that were used but look wrong (e.g. a land-cover layer covering under
        half of the grid), for the manifest; each is also logged on the ``reach`` logger.
    zone_shares
        Each cell's share of each zone (:class:`~reach.model.zones.ZoneShares`); ``None``: each
        cell whole to ``zone``. People per zone are summed by :attr:`membership`.
    roads_noding
        What noding a road line layer repaired (``None`` for OSM roads), for the manifest.
    findings
        What loading noticed or repaired, for the data-quality audit (see
        :class:`~reach.findings.Finding`).
    population_correction
        How the population was rescaled to ``[region.population_correction]`` (``None``:
        the raster as it is).
    population_counts
        How ``[region.population_counts]`` was spread over the grid (``None``: a raster).
    zone_levels
        The ``[[region.zone_levels]]``: more reporting zones, each with its own table.
    places
        Named settlements from the region's OSM extract (columns of
        :func:`reach.ingest.osm.read_osm_places`), drawn on the maps; ``None`` without an
        extract.
    """

    scenario: ScenarioSpec
    population: Population
    raster_total: float
    grid: AnalysisGrid
    zones: gpd.GeoDataFrame
    zone: np.ndarray
    friction: Friction
    roads: RoadLines
    facilities: dict[str, gpd.GeoDataFrame]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    zone_shares: ZoneShares | None = None
    roads_noding: NodingReport | None = None
    findings: list[Finding] = field(default_factory=list)
    population_correction: PopulationCorrection | None = None
    population_counts: SpreadCounts | None = None
    zone_levels: tuple[ZoneLevel, ...] = ()
    places: gpd.GeoDataFrame | None = None
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def population_total(self) -> float:
        """People the coverage tables add up to: the corrected total, or the raster's own."""
        if self.population_correction is None:
            return self.raster_total
        return self.population_correction.total_after

    @property
    def membership(self) -> ZoneShares | np.ndarray:
        """What people are summed per zone by: the zone shares, or the zone number per cell."""
        return self.zone if self.zone_shares is None else self.zone_shares

    def cached(self, key: str, build: Callable[[], T]) -> T:
        """A value built once for this region and kept as long as it lives.

        The run keeps the region's search session here (networks and graphs built once and
        shared by the baseline and every alternative on the same roads). Thread-safe: two
        threads asking at once get the same value, built once.

        Parameters
        ----------
        key
            The value's name.
        build
            Makes the value the first time it is asked for.

        Returns
        -------
        T
            The value built by the first call with ``key``.
        """
        with self._cache_lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def clear_cached(self) -> None:
        """Drop every value :meth:`cached` kept (the next call with a key builds it again)."""
        with self._cache_lock:
            self._cache.clear()


@dataclass(frozen=True, eq=False)
class RegionInputs:
    """A region's inputs read onto its grid, before the walking friction is built.

    What :func:`reach.run.region.read_region_inputs` returns; :class:`Region` adds the friction.
    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    population
        People per cell on the analysis grid (after any ``aggregate_factor``).
    raster_total
        The population raster's total (people) before any grid change.
    grid
        The analysis grid, the population raster's (aggregated).
    zones, zone
        The reporting zones and their zone number per cell (``k+1`` for row ``k`` of
        ``zones``, 0 outside every zone).
    roads
        The road and ferry lines.
    facilities
        Each service's facilities (lon/lat), filtered to its tiers, by service name.
    warnings
        Lines about inputs that were used but look wrong, for the manifest.
    zone_shares
        Each cell's share of each zone; ``None``: each cell whole to ``zone``.
    roads_noding
        What noding a road line layer repaired (``None`` for OSM roads).
    findings
        What reading noticed (e.g. a layer covering part of the grid), for the audit.
    population_correction
        How the population was rescaled to ``[region.population_correction]``, if it was.
    population_counts
        How ``[region.population_counts]`` was spread over the grid, if it was.
    zone_levels
        The ``[[region.zone_levels]]`` on the grid.
    """

    population: Population
    raster_total: float
    grid: AnalysisGrid
    zones: gpd.GeoDataFrame
    zone: np.ndarray
    roads: RoadLines
    facilities: dict[str, gpd.GeoDataFrame]
    warnings: tuple[str, ...] = ()
    roads_noding: NodingReport | None = None
    zone_shares: ZoneShares | None = None
    findings: tuple[Finding, ...] = ()
    population_correction: PopulationCorrection | None = None
    population_counts: SpreadCounts | None = None
    zone_levels: tuple[ZoneLevel, ...] = ()
