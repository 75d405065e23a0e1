"""What an evaluation and a run produce: per-service results, evaluations and the run.

Plain data, built by :mod:`reach.run` and read by :mod:`reach.outputs`, the session API and the
command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.engine.combined import SearchResult
from reach.findings import Finding
from reach.model.grid import (
    Friction,
)
from reach.model.region import Region
from reach.scenarios.compare import CellAccess
from reach.spec import (
    Alternative,
    ScenarioSpec,
    ServiceSpec,
)

__all__ = [
    "BASELINE",
    "Evaluation",
    "Explanation",
    "RunResult",
    "SensitivityResult",
    "ServiceResult",
]


#: Name of the baseline evaluation (an alternative may not be called so).
BASELINE = "baseline"


@dataclass(eq=False)
class ServiceResult:
    """One service's results in one evaluation (the baseline or an alternative).

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    spec
        The service as configured in the scenario file.
    facilities
        The facilities searched from (lon/lat, after the alternative's operations), in
        ``facility_id`` order, with their grid ``cell`` (``-1`` when off the grid or with no
        passable cell near). Row ``k`` is catchment ``k`` of ``search``.
    search
        Minutes, catchment and ``REASON_*`` code per cell, with the service's mode.
    coverage
        People within each threshold per zone (a mix of riders and walkers when only a share
        of people has the vehicle).
    facility_table
        Catchment population, population within the largest threshold, mean time (minutes)
        and load (catchment / capacity) per facility.
    access
        Per-cell access for comparisons with another evaluation (minutes, walking minutes and
        vehicle share, connectivity).
    virtual
        Physical / virtual-only / neither table where telemedicine or online learning is on;
        ``None`` otherwise.
    referrals
        Hub-and-spoke referral trips avoided, per primary facility; ``None`` without a
        hub-and-spoke telemedicine operation.
    season
        The season variant this result is for: with seasons, the one (a season, or
        ``"rest of year"``) that leaves fewest people within the largest threshold; ``None``
        without seasons.
    level_coverage
        Coverage per ``[[region.zone_levels]]`` entry, by level name (as ``coverage``).
    """

    spec: ServiceSpec
    facilities: gpd.GeoDataFrame
    search: SearchResult
    coverage: pd.DataFrame
    facility_table: pd.DataFrame
    access: CellAccess
    virtual: pd.DataFrame | None = None
    referrals: pd.DataFrame | None = None
    season: str | None = None
    level_coverage: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """The baseline's coverage over a Latin-hypercube sample of the speed tables.

    Attributes
    ----------
    factors
        The speeds varied: ``factor``, ``kind``, ``mode``, ``key``, ``speed_kph``.
    design
        Long: ``sample``, the factor's columns, its ``multiplier`` and ``sampled_kph``.
    samples
        Every sample's figure: ``sample``, ``service``, ``zone_id``, ``threshold_min``,
        ``pct_within``.
    ranges
        Per service, zone and threshold: the baseline's ``pct_within``, the middle 90 % of
        the samples (``pct_low`` – ``pct_high``), their ``pct_median`` and ``samples``.
    influence
        Per service, each factor's Spearman rank correlation with the whole region's figure
        at the service's key threshold, strongest first.
    speed_range_pct, seed, n_samples
        How the sample was drawn.
    """

    factors: pd.DataFrame
    design: pd.DataFrame
    samples: pd.DataFrame
    ranges: pd.DataFrame
    influence: pd.DataFrame
    speed_range_pct: float
    seed: int
    n_samples: int


@dataclass(eq=False)
class Evaluation:
    """The baseline or one alternative, evaluated: one result per service.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    name
        The evaluation's name: :data:`BASELINE`, or the alternative's name.
    alternative
        The alternative's operations and cost; ``None`` for the baseline.
    services
        Results by service name, in the scenario's service order.
    seasons
        With seasons, each season variant's coverage rows (with its ``share_of_year``) and
        the year-weighted rows; ``None`` without seasons.
    """

    name: str
    alternative: Alternative | None
    services: dict[str, ServiceResult]
    seasons: pd.DataFrame | None = None

    @property
    def coverage(self) -> pd.DataFrame:
        """Coverage of every service."""
        return pd.concat([r.coverage for r in self.services.values()], ignore_index=True)

    @property
    def facilities(self) -> pd.DataFrame:
        """Facility tables of every service."""
        return pd.concat([r.facility_table for r in self.services.values()], ignore_index=True)

    def level_coverage(self, level: str) -> pd.DataFrame:
        """Coverage of every service by one ``[[region.zone_levels]]`` entry, stacked.

        Parameters
        ----------
        level
            The level's name.

        Returns
        -------
        pandas.DataFrame
            The services' tables for that level, one after another (empty when none has it).
        """
        parts = [
            r.level_coverage[level] for r in self.services.values() if level in r.level_coverage
        ]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def table(self, attr: str) -> pd.DataFrame | None:
        """One optional per-service table of every service, concatenated.

        Parameters
        ----------
        attr
            The :class:`ServiceResult` attribute to gather: ``"virtual"`` or ``"referrals"``.

        Returns
        -------
        pandas.DataFrame or None
            The services' tables one after the other; ``None`` when no service has one.
        """
        parts = [getattr(r, attr) for r in self.services.values() if getattr(r, attr) is not None]
        return pd.concat(parts, ignore_index=True) if parts else None


@dataclass(frozen=True, eq=False)
class Explanation:
    """The least-time routes of some origins to each service (``reach explain``).

    Attributes
    ----------
    origins
        One row per origin and service (:data:`reach.schema.ROUTES`): the origin's travel time
        (its cell's, as in the rasters), ``reason`` (``reached`` or why not), the facility
        reached, the minutes by leg kind and the number of legs.
    legs
        One row per leg (:data:`reach.schema.ROUTE_LEGS`), with its line in EPSG:4326.
    """

    origins: pd.DataFrame
    legs: gpd.GeoDataFrame


@dataclass(eq=False)
class RunResult:
    """Everything a run of a scenario set produced: the baseline, alternatives and comparison.

    Each parameter is kept as the attribute of the same name; the properties below are the
    baseline's and the region's parts, for convenience.

    Parameters
    ----------
    scenario
        The scenario that was run.
    region
        Its loaded region (inputs on the grid and the baseline model).
    baseline
        The baseline's evaluation.
    alternatives
        Each alternative's evaluation, by name, in the scenario file's order.
    comparison
        Per alternative, service and zone: people covered before and after, gains, losses and
        cost (rows of :func:`reach.scenarios.compare.compare_access`); ``None`` without
        alternatives.
    ranking
        The alternatives ranked per service by net people newly covered within the service's
        middle threshold; ``None`` without alternatives.
    timings_s
        Seconds spent per step: loading (when the run loaded the region), each evaluation,
        comparing and writing.
    out_dir
        The folder the outputs were written to; ``None`` when nothing was written.
    inputs
        Each input file's hex sha256 by path, taken before the inputs were read.
    warnings
        What the run noticed and the manifest reports: the region's warnings about its inputs,
        and any input changed while it was read.
    findings
        The data-quality audit of the baseline, written as ``audit.csv`` / ``audit.json``.
    sensitivity
        The baseline's coverage over a sample of the speed tables (``[sensitivity]``);
        ``None`` when none was asked for.
    routes
        The baseline routes the maps and the report show: of the region's places and of one
        representative origin per zone, per service (``origin_id`` ``place:<osm_id>`` or
        ``zone:<zone_id>``); ``None`` when the run kept none.
    """

    scenario: ScenarioSpec
    region: Region
    baseline: Evaluation
    alternatives: dict[str, Evaluation]
    comparison: pd.DataFrame | None
    ranking: pd.DataFrame | None
    timings_s: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    #: What the run noticed and the manifest reports (e.g. an input changed while it was read).
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sensitivity: SensitivityResult | None = None
    routes: Explanation | None = None

    # the baseline's parts, for convenience
    @property
    def grid(self) -> Any:
        """The analysis grid."""
        return self.region.grid

    @property
    def population(self) -> Any:
        """Population on the grid."""
        return self.region.population

    @property
    def zone(self) -> np.ndarray:
        """Zone number per cell (``k+1`` for row ``k`` of ``zones``, 0 outside every zone)."""
        return self.region.zone

    @property
    def zones(self) -> gpd.GeoDataFrame:
        """Reporting zones."""
        return self.region.zones

    @property
    def friction(self) -> Friction:
        """Baseline walking friction."""
        return self.region.friction

    @property
    def services(self) -> dict[str, ServiceResult]:
        """Baseline results per service."""
        return self.baseline.services

    @property
    def coverage(self) -> pd.DataFrame:
        """Baseline coverage."""
        return self.baseline.coverage

    @property
    def facilities(self) -> pd.DataFrame:
        """Baseline facility tables."""
        return self.baseline.facilities
