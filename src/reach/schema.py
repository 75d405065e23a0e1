"""The output table schema: the name, unit and meaning of every column of every table reach writes.

A column whose name holds a travel-time threshold ``T`` (``within_30min``) is a
:class:`PerThreshold`: call it with the threshold to get the name (``within_col(30)``), the way
every module that writes or reads such a column spells it. A :class:`TableSchema` lays out one
table as :class:`Block` s of columns written once, once per threshold or for the largest threshold
only, some of them only under a named condition; :meth:`TableSchema.columns` gives the ordered
column names of a table for the thresholds of a service, and :data:`TABLES` lists every table, in
the order of the columns page of the documentation (:func:`columns_markdown`).

Thresholds are written with Python's ``g`` format: ``30`` and ``30.0`` give ``30``, ``7.5`` gives
``7.5``. A table that stacks several services holds the union of their columns, in the order they
first appear (:func:`stacked`). Only the standard library and :mod:`reach.codes` are used here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from reach.codes import (
    REASON_BARRIER,
    REASON_BEYOND_LIMIT,
    REASON_LABELS,
    REASON_NO_DATA,
    REASON_NO_ROUTE,
    REASON_REACHED,
    REASON_WATER,
)

__all__ = [
    "ACCESS_FACILITIES",
    "ACCESS_ZONES",
    "AUDIT",
    "CANDIDATES",
    "CAPACITY_FACILITIES",
    "CAPACITY_ZONES",
    "CATCHMENTS_LAYER",
    "COMPARISON",
    "COVERAGE",
    "EQUITY",
    "EQUITY_MEASURES",
    "FACILITIES",
    "FACILITIES_LAYER",
    "ISOCHRONES_LAYER",
    "NETWORK_LAYER",
    "PLACE_ORIGIN_PREFIX",
    "POPULATION_CORRECTION",
    "POPULATION_COUNTS",
    "RANKING",
    "REFERRALS",
    "REFERRAL_FACILITIES",
    "REFERRAL_ZONES",
    "ROUTES",
    "ROUTE_LEGS",
    "SCHEMA_VERSION",
    "SEASONS",
    "SENSITIVITY",
    "SENSITIVITY_DESIGN",
    "SENSITIVITY_INFLUENCE",
    "SENSITIVITY_SAMPLES",
    "SITES",
    "TABLES",
    "VIRTUAL",
    "VIRTUAL_PARTS",
    "ZONES_LAYER",
    "ZONE_ORIGIN_PREFIX",
    "Block",
    "Column",
    "PerThreshold",
    "TableSchema",
    "alt_within_col",
    "at_limit_col",
    "base_within_col",
    "beyond_col",
    "catchment_within_col",
    "columns_markdown",
    "delta_within_col",
    "effective_covered_col",
    "end_to_end_beyond_col",
    "end_to_end_within_col",
    "gaining_col",
    "losing_col",
    "minutes_text",
    "neither_col",
    "newly_covered_per_cost_col",
    "pct_alt_within_col",
    "pct_base_within_col",
    "pct_beyond_col",
    "pct_col",
    "pct_effective_covered_col",
    "pct_end_to_end_beyond_col",
    "pct_end_to_end_within_col",
    "pct_neither_col",
    "pct_physical_col",
    "pct_virtual_only_col",
    "pct_within_col",
    "physical_col",
    "reached_beyond_col",
    "reached_col",
    "stacked",
    "unreachable_col",
    "unreachable_columns",
    "virtual_only_col",
    "within_col",
    "year_share_within_col",
]

#: ``origin_id`` prefix of a place's route in :attr:`reach.results.RunResult.routes`
#: (``place:<osm_id>``): the routes the maps draw when a place is clicked.
PLACE_ORIGIN_PREFIX = "place:"
#: ``origin_id`` prefix of a zone's representative route in ``RunResult.routes``
#: (``zone:<zone_id>``): the route the report's "how people travel from here" is told from.
ZONE_ORIGIN_PREFIX = "zone:"

#: Version of the table schema, written into each run's manifest. Raise it when a column of any
#: table is renamed, removed, moved or changes its meaning or unit.
SCHEMA_VERSION = "1"

# units
PEOPLE = "people"
PERCENT = "%"
MINUTES = "min"
TEXT = "text"
FLAG = "true/false"
INDEX = "index"
DEGREES = "degrees"
RATIO = "ratio"
SHARE = "share (0–1)"
MONEY = "cost unit"
PER_YEAR = "per year"


def minutes_text(threshold_min: float) -> str:
    """A threshold as column names write it: ``30`` and ``30.0`` give ``30``, ``7.5`` ``7.5``.

    Parameters
    ----------
    threshold_min
        The threshold in minutes.

    Returns
    -------
    str
        The threshold in Python's ``g`` format.
    """
    return f"{threshold_min:g}"


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes
    ----------
    name
        The column's name.
    unit
        Its unit (``people``, ``min``, ``%``, ...; ``text`` for names and identifiers).
    meaning
        What it holds, in one line.
    """

    name: str
    unit: str
    meaning: str


@dataclass(frozen=True)
class PerThreshold:
    """A column written for a travel-time threshold ``T``: ``prefix``, then ``T``, then ``suffix``.

    Call it with a threshold to get the column's name: ``within_col(30) == "within_30min"``.

    Attributes
    ----------
    prefix
        The name before the threshold.
    unit
        The unit of the column.
    meaning
        What it holds, in one line; ``{T}`` stands for the threshold.
    suffix
        The name after the threshold.
    """

    prefix: str
    unit: str
    meaning: str
    suffix: str = "min"

    def __call__(self, threshold_min: float) -> str:
        """The column's name for one threshold.

        Parameters
        ----------
        threshold_min
            The threshold in minutes.

        Returns
        -------
        str
            E.g. ``within_30min``.
        """
        return f"{self.prefix}{minutes_text(threshold_min)}{self.suffix}"

    def column(self, threshold_min: float) -> Column:
        """The column for one threshold, its meaning filled in.

        Parameters
        ----------
        threshold_min
            The threshold in minutes.

        Returns
        -------
        Column
            Name, unit and meaning.
        """
        text = minutes_text(threshold_min)
        return Column(self(threshold_min), self.unit, self.meaning.format(T=text))

    def pattern(self) -> Column:
        """The column for any threshold, named with ``<T>`` (for the documentation).

        Returns
        -------
        Column
            E.g. ``within_<T>min``.
        """
        return Column(f"{self.prefix}<T>{self.suffix}", self.unit, self.meaning.format(T="T"))

    def share(self, meaning: str) -> PerThreshold:
        """The ``pct_…`` column of this one: its share of the row's population, in %.

        Parameters
        ----------
        meaning
            What the share is, in one line; ``{T}`` stands for the threshold.

        Returns
        -------
        PerThreshold
            Named ``pct_`` + this column's name.
        """
        return PerThreshold(pct_col(self.prefix), PERCENT, meaning, self.suffix)


def pct_col(name: str) -> str:
    """The column holding a count as a share of the row's population, in %.

    Parameters
    ----------
    name
        The count's column (``served``, ``primary_unreachable``, ...).

    Returns
    -------
    str
        ``pct_`` + ``name``.
    """
    return f"pct_{name}"


def unreachable_col(reason: str) -> str:
    """The coverage column counting the people unreachable for one reason.

    Parameters
    ----------
    reason
        A label of :data:`reach.codes.REASON_LABELS` (``no_network_link``, ...).

    Returns
    -------
    str
        ``unreachable_`` + ``reason``.
    """
    return f"unreachable_{reason}"


#: Why people are unreachable, per reason code: the meaning of each ``unreachable_…`` column.
_UNREACHABLE_MEANINGS: dict[int, str] = {
    REASON_BEYOND_LIMIT: "people with a route that takes longer than the scenario's time limit",
    REASON_NO_ROUTE: "people with no route at all to a facility (e.g. an island without one)",
    REASON_BARRIER: "people on a cell that cannot be crossed on foot (e.g. wetland)",
    REASON_WATER: "people on a water cell that no ferry or road serves",
    REASON_NO_DATA: "people outside the land-cover / friction data",
}


def unreachable_columns() -> list[Column]:
    """The ``unreachable_<reason>`` columns of the coverage table, in reason-code order.

    Returns
    -------
    list of Column
        One per reason code but ``reached``.
    """
    return [
        Column(unreachable_col(REASON_LABELS[code]), PEOPLE, _UNREACHABLE_MEANINGS[code])
        for code in sorted(REASON_LABELS)
        if code != REASON_REACHED
    ]


#: The measures of the equity table, each written over the reached people and again with the
#: unreachable set to the time limit.
EQUITY_MEASURES: dict[str, tuple[str, str]] = {
    "mean_time_min": (MINUTES, "population-weighted mean travel time"),
    "p90_time_min": (MINUTES, "population-weighted 90th percentile of travel time"),
    "gini": (RATIO, "Gini coefficient of travel time (0 = everybody's time the same)"),
    "palma": (RATIO, "Palma ratio: time borne by the longest 10 % over the shortest 40 %"),
}


def reached_col(measure: str) -> str:
    """The equity column of a measure over the people who reach a facility.

    Parameters
    ----------
    measure
        A key of :data:`EQUITY_MEASURES`.

    Returns
    -------
    str
        ``measure`` + ``_reached``.
    """
    return f"{measure}_reached"


def at_limit_col(measure: str) -> str:
    """The equity column of a measure with every unreachable person set to the time limit.

    Parameters
    ----------
    measure
        A key of :data:`EQUITY_MEASURES`.

    Returns
    -------
    str
        ``measure`` + ``_unreached_at_limit``.
    """
    return f"{measure}_unreached_at_limit"


# --- the columns named per threshold ----------------------------------------------------------

within_col = PerThreshold("within_", PEOPLE, "people who reach the nearest facility within {T} min")
pct_within_col = within_col.share("share of the row's people within {T} min")
reached_beyond_col = PerThreshold(
    "reached_beyond_", PEOPLE, "people who reach a facility, but only in more than {T} min"
)
catchment_within_col = PerThreshold(
    "catchment_within_", PEOPLE, "people of the facility's catchment within {T} min of it"
)
year_share_within_col = PerThreshold(
    "year_share_within_",
    SHARE,
    "share of the row's people within {T} min, times the season's share of the year",
)
beyond_col = PerThreshold("beyond_", PEOPLE, "people beyond {T} min of a facility, or unreachable")
pct_beyond_col = beyond_col.share("share of the row's people beyond {T} min, or unreachable")
physical_col = PerThreshold(
    "physical_", PEOPLE, "people within {T} min of a facility, whatever the signal"
)
virtual_only_col = PerThreshold(
    "virtual_only_", PEOPLE, "people beyond {T} min or unreachable, in a connected cell"
)
neither_col = PerThreshold(
    "neither_", PEOPLE, "people beyond {T} min and without connectivity: the double burden"
)
effective_covered_col = PerThreshold(
    "effective_covered_", PEOPLE, "people served within {T} min: physical + remote share × virtual"
)
pct_physical_col = physical_col.share("share of the row's people physically within {T} min")
pct_virtual_only_col = virtual_only_col.share("share of the row's people virtual only at {T} min")
pct_neither_col = neither_col.share("share of the row's people with neither at {T} min")
pct_effective_covered_col = effective_covered_col.share(
    "share of the row's people effectively served within {T} min"
)
#: The virtual coverage counts and their shares, in column order.
VIRTUAL_PARTS: tuple[tuple[PerThreshold, PerThreshold], ...] = (
    (physical_col, pct_physical_col),
    (virtual_only_col, pct_virtual_only_col),
    (neither_col, pct_neither_col),
    (effective_covered_col, pct_effective_covered_col),
)
end_to_end_within_col = PerThreshold(
    "end_to_end_within_", PEOPLE, "people who reach a facility and on to referral within {T} min"
)
end_to_end_beyond_col = PerThreshold(
    "end_to_end_beyond_", PEOPLE, "people whose referral chain is complete but takes over {T} min"
)
pct_end_to_end_within_col = end_to_end_within_col.share(
    "share of the row's people end to end within {T} min"
)
pct_end_to_end_beyond_col = end_to_end_beyond_col.share(
    "share of the row's people end to end in more than {T} min"
)
base_within_col = PerThreshold("base_within_", PEOPLE, "people covered within {T} min, baseline")
alt_within_col = PerThreshold("alt_within_", PEOPLE, "people covered within {T} min, alternative")
delta_within_col = PerThreshold(
    "delta_within_", PEOPLE, "people covered within {T} min, alternative minus baseline"
)
pct_base_within_col = base_within_col.share("share of the row's people covered, baseline")
pct_alt_within_col = alt_within_col.share("share of the row's people covered, alternative")
gaining_col = PerThreshold(
    "gaining_", PEOPLE, "people covered within {T} min by the alternative only"
)
losing_col = PerThreshold("losing_", PEOPLE, "people covered within {T} min by the baseline only")
newly_covered_per_cost_col = PerThreshold(
    "newly_covered_per_cost_",
    f"{PEOPLE} per {MONEY}",
    "net people newly covered within {T} min per unit of cost (empty without a cost)",
)


# --- tables -----------------------------------------------------------------------------------

Repeat = Literal["once", "each", "largest"]


@dataclass(frozen=True)
class Block:
    """Columns that follow each other in a table.

    Attributes
    ----------
    columns
        The columns: :class:`Column` s when written once, :class:`PerThreshold` s otherwise.
    repeat
        ``once``; ``each`` — the whole block once per threshold, ascending; ``largest`` — for
        the largest threshold only.
    when
        The option under which the block is written (empty: always).
    condition
        When that is, in words (for the documentation).
    """

    columns: tuple[Column | PerThreshold, ...]
    repeat: Repeat = "once"
    when: str = ""
    condition: str = ""

    def expand(self, thresholds_min: Sequence[float]) -> list[Column]:
        """The block's columns for ascending thresholds.

        Parameters
        ----------
        thresholds_min
            The thresholds in minutes, ascending, without repeats.

        Returns
        -------
        list of Column
            In column order.
        """
        if self.repeat == "once":
            return [_fixed(c) for c in self.columns]
        if not thresholds_min:
            raise ValueError("this table's columns need at least one threshold")
        chosen = thresholds_min if self.repeat == "each" else thresholds_min[-1:]
        return [_per(c).column(th) for th in chosen for c in self.columns]

    def patterns(self) -> list[Column]:
        """The block's columns for any threshold (``<T>``), for the documentation.

        Returns
        -------
        list of Column
            In column order.
        """
        return [c if isinstance(c, Column) else c.pattern() for c in self.columns]


def _fixed(col: Column | PerThreshold) -> Column:
    if not isinstance(col, Column):
        raise TypeError(f"{col.prefix}…: a column per threshold in a block written once")
    return col


def _per(col: Column | PerThreshold) -> PerThreshold:
    if not isinstance(col, PerThreshold):
        raise TypeError(f"{col.name}: a fixed column in a block repeated per threshold")
    return col


@dataclass(frozen=True)
class TableSchema:
    """The columns of one table reach writes.

    Attributes
    ----------
    files
        The files holding it (``.csv``; also ``.parquet`` where the outputs ask for it).
    command
        The command that writes it.
    where
        Where in that command's output folder.
    meaning
        What a row is, in one line.
    blocks
        Its columns, in order.
    """

    files: tuple[str, ...]
    command: str
    where: str
    meaning: str
    blocks: tuple[Block, ...]

    @property
    def options(self) -> tuple[str, ...]:
        """The options under which some of the columns are written."""
        return tuple(dict.fromkeys(b.when for b in self.blocks if b.when))

    def described(
        self, thresholds_min: Iterable[float] = (), *, options: Collection[str] = ()
    ) -> list[Column]:
        """The table's columns, in order, for one service's thresholds.

        Parameters
        ----------
        thresholds_min
            The service's thresholds in minutes (any order; repeats ignored).
        options
            The options that hold (see :attr:`options`); blocks under others are left out.

        Returns
        -------
        list of Column
            Name, unit and meaning of each column.
        """
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.files[0]} has no option {sorted(unknown)}")
        ths = sorted({float(t) for t in thresholds_min})
        return [c for b in self.blocks if not b.when or b.when in options for c in b.expand(ths)]

    def columns(
        self, thresholds_min: Iterable[float] = (), *, options: Collection[str] = ()
    ) -> list[str]:
        """The table's column names, in order, for one service's thresholds.

        Parameters
        ----------
        thresholds_min
            The service's thresholds in minutes (any order; repeats ignored).
        options
            The options that hold (see :attr:`options`).

        Returns
        -------
        list of str
            The column names.
        """
        return [c.name for c in self.described(thresholds_min, options=options)]


def stacked(column_lists: Iterable[Sequence[str]]) -> list[str]:
    """The columns of tables stacked one under the other: each name once, in first order.

    Parameters
    ----------
    column_lists
        The column names of each table (e.g. one per service).

    Returns
    -------
    list of str
        The union of the names, in the order they first appear.
    """
    return list(dict.fromkeys(name for names in column_lists for name in names))


def _once(*columns: Column) -> Block:
    return Block(columns)


_SERVICE = Column("service", TEXT, "the service's name")
_ZONE_ID = Column(
    "zone_id", TEXT, "the zone's id; `(outside zones)` and `(all)` in the last two rows"
)
_ZONE_NAME = Column("zone_name", TEXT, "the zone's name (the same markers in the last two rows)")
_POPULATION = Column("population", PEOPLE, "people of the service's target population in the row")
_TARGET = _once(
    _POPULATION,
    Column(
        "target_share", SHARE, "share of everyone the service is for (e.g. school-age children)"
    ),
    Column("total_population", PEOPLE, "everyone in the row, before the target share"),
)
_ZONE = _once(_SERVICE, _ZONE_ID, _ZONE_NAME)
_FACILITY_ID = Column("facility_id", TEXT, "the facility's id")
_NAME = Column("name", TEXT, "the facility's name")
_TIER = Column("tier", TEXT, "the facility's tier (hospital, health_centre, primary, ...)")
_FACILITY_IDS = _once(_FACILITY_ID, _NAME, _TIER)
_FACILITY = Column("facility", INDEX, "the facility's row in the service's facility list (0-based)")
_LON = Column("lon", DEGREES, "longitude, WGS 84")
_LAT = Column("lat", DEGREES, "latitude, WGS 84")
_CELL = Column(
    "cell", INDEX, "flat index of the grid cell (row × columns + column; -1 off the grid)"
)
_GEOMETRY = Column("geometry", "WGS 84", "the geometry (GeoPackage only)")
_THRESHOLD = Column("threshold_min", MINUTES, "the travel-time threshold of the row")
_CATCHMENT_POPULATION = Column(
    "catchment_population", PEOPLE, "people whose nearest facility it is"
)

_COVERAGE_COUNTS = (
    Block((within_col,), "each"),
    Block((reached_beyond_col,), "largest"),
    _once(
        *unreachable_columns(),
        Column("unreachable_total", PEOPLE, "people who reach no facility, whatever the reason"),
        Column("mean_time_min", MINUTES, "population-weighted mean travel time of the reached"),
        Column("median_time_min", MINUTES, "weighted median travel time of the reached (lower)"),
        Column("p90_time_min", MINUTES, "weighted 90th percentile travel time of the reached"),
    ),
    Block((pct_within_col,), "each"),
)

COVERAGE = TableSchema(
    files=("coverage.csv", "coverage_<level>.csv"),
    command="reach run",
    where="the output folder and each `alternatives/<name>/` (`coverage_<level>.csv`: per "
    "`[[region.zone_levels]]` entry)",
    meaning="per service and zone (then outside zones, all): who reaches a facility, how fast",
    blocks=(_ZONE, _TARGET, *_COVERAGE_COUNTS),
)

_FACILITY_MEASURES = (
    _once(
        Column("on_grid", FLAG, "whether the facility lies on a cell of the grid (else unused)"),
        _CATCHMENT_POPULATION,
    ),
    Block((catchment_within_col,), "largest"),
    _once(
        Column("catchment_mean_time_min", MINUTES, "mean travel time of its catchment's people"),
        Column("load_ratio", RATIO, "catchment population over capacity (empty without one)"),
    ),
)
_CAPACITY = Column("capacity", PEOPLE, "people the facility can serve, as given (empty: unknown)")

FACILITIES = TableSchema(
    files=("facilities.csv",),
    command="reach run",
    where="the output folder and each `alternatives/<name>/`",
    meaning="per service and facility: its catchment (the people whose nearest facility it is)",
    blocks=(
        _once(_SERVICE, _FACILITY_ID, _NAME, _TIER, _CAPACITY, _LON, _LAT),
        *_FACILITY_MEASURES,
    ),
)

FACILITIES_LAYER = TableSchema(
    files=("facilities.gpkg",),
    command="reach run",
    where="a layer per service, beside facilities.csv",
    meaning="the facilities.csv rows as points, without lon and lat",
    blocks=(
        _once(_SERVICE, _FACILITY_ID, _NAME, _TIER, _CAPACITY),
        *_FACILITY_MEASURES,
        _once(_GEOMETRY),
    ),
)

ZONES_LAYER = TableSchema(
    files=("zones.gpkg",),
    command="reach run",
    where="a layer per service, beside coverage.csv, when the zones have shapes",
    meaning="the coverage.csv rows of the zones (not the last two), without the service",
    blocks=(
        _once(_ZONE_ID, _ZONE_NAME),
        _TARGET,
        *_COVERAGE_COUNTS,
        _once(_GEOMETRY),
    ),
)

_POLYGON_CELLS = _once(
    Column("cells", "count", "grid cells in the polygon"),
    Column("area_km2", "km²", "their area (the cells' own areas summed)"),
)

CATCHMENTS_LAYER = TableSchema(
    files=("catchments.gpkg",),
    command="reach run",
    where="a layer per service (with `[outputs] polygons`), beside facilities.gpkg, in the "
    "output folder and each `alternatives/<name>/`",
    meaning="one (multi)polygon per facility with a catchment: its cells of "
    "catchment_<service>.tif dissolved, cell edges kept exactly",
    blocks=(
        _once(_SERVICE, _FACILITY, _FACILITY_ID, _NAME, _TIER),
        _POLYGON_CELLS,
        _once(_CATCHMENT_POPULATION),
        Block((catchment_within_col,), "each"),
        _once(
            Column(
                "catchment_mean_time_min", MINUTES, "mean travel time of its catchment's people"
            ),
            _GEOMETRY,
        ),
    ),
)

ISOCHRONES_LAYER = TableSchema(
    files=("isochrones.gpkg",),
    command="reach run",
    where="a layer per service (with `[outputs] polygons`), in the output folder and each "
    "`alternatives/<name>/`",
    meaning="one (multi)polygon per threshold, largest first: the cells reached within it "
    "(cumulative, so each holds the smaller ones)",
    blocks=(
        _once(
            _SERVICE,
            _THRESHOLD,
            Column(
                "population_within",
                PEOPLE,
                "people within the threshold: coverage.csv's `within_<T>min` of the `(all)` row",
            ),
            Column(
                "pct_population_within",
                PERCENT,
                "their share of the service's population (coverage.csv's `pct_within_<T>min`)",
            ),
        ),
        _POLYGON_CELLS,
        _once(_GEOMETRY),
    ),
)

NETWORK_LAYER = TableSchema(
    files=("network.gpkg",),
    command="reach run",
    where="a layer per travel mode of the services (with `[outputs] network_layer`; not with "
    '`[grid] model = "accessmod"`, whose roads are in friction_<mode>.tif)',
    meaning="the roads and ferries the mode's search rides, a row per way (two when only "
    "part of it is ridden both ways); the joins of cells to roads are left out",
    blocks=(
        _once(
            Column("way_id", TEXT, "the line's id: the OSM way id, or the row of a line layer"),
            Column("road_class", TEXT, "the road's class (OSM highway or road_class); `ferry`"),
            Column("road_name", TEXT, "the road's name, where the line has one"),
            Column("ferry", FLAG, "a ferry crossing (one edge from terminal to terminal)"),
            Column("oneway", FLAG, "ridden in the line's direction only; else both ways"),
            Column("speed_kph", "km/h", "the mode's speed on it (a ferry's: while crossing)"),
            Column("time_min", MINUTES, "minutes to ride the whole row one way, waits included"),
            Column("ferry_wait_min", MINUTES, "the boarding wait inside time_min (0 on roads)"),
            Column("length_m", "m", "its length as the network measures it"),
            Column("edges", "count", "directed network edges the row stands for"),
            _GEOMETRY,
        ),
    ),
)

SEASONS = TableSchema(
    files=("seasons.csv",),
    command="reach run",
    where="`alternatives/<name>/` of an alternative with seasons",
    meaning="the coverage.csv rows per season, then per zone the year weighted by the seasons",
    blocks=(
        _once(
            Column("season", TEXT, "the season; `year (weighted)` for the year's rows"),
            Column("share_of_year", SHARE, "the season's share of the year (the year: their sum)"),
        ),
        *COVERAGE.blocks,
        Block((year_share_within_col,), "each"),
    ),
)

VIRTUAL = TableSchema(
    files=("virtual.csv",),
    command="reach run",
    where="`alternatives/<name>/` of an alternative with telemedicine or learning",
    meaning="per service and zone: physical, virtual-only and neither, and the people served",
    blocks=(
        _ZONE,
        _once(
            _POPULATION,
            Column("population_connected", PEOPLE, "people in cells with connectivity"),
        ),
        Block(tuple(count for count, _ in VIRTUAL_PARTS), "each"),
        Block(tuple(share for _, share in VIRTUAL_PARTS), "each"),
    ),
)

REFERRALS = TableSchema(
    files=("referrals.csv",),
    command="reach run",
    where="`alternatives/<name>/` of a hub-and-spoke telemedicine alternative",
    meaning="per primary facility (spoke): the referral trips a remote consultation saves",
    blocks=(
        _once(_SERVICE),
        _FACILITY_IDS,
        _once(
            _CATCHMENT_POPULATION,
            Column("connected", FLAG, "whether the facility's cell has connectivity"),
            Column("referral_time_min", MINUTES, "time to the nearest hub (empty: none reached)"),
            Column("referral_reachable", FLAG, "whether a hub can be reached"),
            Column("referrals_per_year", PER_YEAR, "visits referred on to the hub"),
            Column("remote_consults_per_year", PER_YEAR, "referrals settled remotely"),
            Column("trips_avoided_per_year", PER_YEAR, "patient round trips to the hub avoided"),
            Column("patient_hours_saved_per_year", "hours per year", "travel time those save"),
        ),
    ),
)

COMPARISON = TableSchema(
    files=("comparison.csv",),
    command="reach run",
    where="the output folder, with alternatives",
    meaning="per alternative, service and zone: covered before and after, gains and losses",
    blocks=(
        _once(
            Column("alternative", TEXT, "the alternative's name"), _SERVICE, _ZONE_ID, _ZONE_NAME
        ),
        _once(_POPULATION),
        Block(
            (
                base_within_col,
                alt_within_col,
                delta_within_col,
                pct_base_within_col,
                pct_alt_within_col,
                gaining_col,
                losing_col,
            ),
            "each",
        ),
        _once(
            Column("base_mean_time_min", MINUTES, "mean travel time of the reached, baseline"),
            Column("alt_mean_time_min", MINUTES, "mean travel time of the reached, alternative"),
            Column("delta_mean_time_min", MINUTES, "alternative minus baseline mean time"),
            Column("cost", MONEY, "the alternative's cost (empty when none)"),
        ),
        Block((newly_covered_per_cost_col,), "each"),
    ),
)

RANKING = TableSchema(
    files=("ranking.csv",),
    command="reach run",
    where="the output folder, with alternatives",
    meaning="per service and alternative, best first: the whole grid at the ranking threshold",
    blocks=(
        _once(
            _SERVICE,
            Column("alternative", TEXT, "the alternative's name"),
            Column("threshold_min", MINUTES, "the ranking threshold (the middle one)"),
            Column("net_newly_covered", PEOPLE, "people covered, alternative minus baseline"),
            Column("gaining", PEOPLE, "people covered by the alternative only"),
            Column("losing", PEOPLE, "people covered by the baseline only"),
            Column("pct_points", "percentage points", "share covered, alternative minus baseline"),
            Column("delta_mean_time_min", MINUTES, "alternative minus baseline mean time"),
            Column("cost", MONEY, "the alternative's cost (empty when none)"),
            Column("newly_covered_per_cost", f"{PEOPLE} per {MONEY}", "net gain per unit of cost"),
            Column("rank", "rank", "1 = most people newly covered; ties share the better rank"),
        ),
    ),
)

CAPACITY_ZONES = TableSchema(
    files=("capacity_zones.csv",),
    command="reach capacity",
    where="its output folder",
    meaning="per zone: people served, within reach of a full facility, beyond reach",
    blocks=(
        _ZONE,
        _once(
            _THRESHOLD,
            _POPULATION,
            Column("served", PEOPLE, "people a facility within the threshold serves"),
            Column("in_reach_over_capacity", PEOPLE, "within the threshold, every facility full"),
            Column("beyond_reach", PEOPLE, "people beyond the threshold of every facility"),
            Column(pct_col("served"), PERCENT, "share of the row's people served"),
            Column(pct_col("in_reach_over_capacity"), PERCENT, "share in reach, over capacity"),
            Column(pct_col("beyond_reach"), PERCENT, "share of the row's people beyond reach"),
        ),
    ),
)

CAPACITY_FACILITIES = TableSchema(
    files=("capacity_facilities.csv",),
    command="reach capacity",
    where="its output folder",
    meaning="per facility: its capacity and the people it serves, in priority order",
    blocks=(
        _FACILITY_IDS,
        _once(
            _FACILITY,
            Column("priority_rank", "rank", "its turn in taking people (1 = first)"),
            Column("capacity_people", PEOPLE, "people it can serve (empty: unlimited)"),
            Column("catchment_people", PEOPLE, "people within the threshold of it, whoever serves"),
            Column("served_people", PEOPLE, "people it serves"),
            Column("unused_capacity_people", PEOPLE, "capacity left (empty when unlimited)"),
            Column("pct_capacity_used", PERCENT, "served over capacity"),
            Column("served_up_to_min", MINUTES, "time of the furthest cell it serves (its radius)"),
        ),
    ),
)

EQUITY = TableSchema(
    files=("equity.csv",),
    command="reach equity",
    where="its output folder",
    meaning="per service and zone, worst zones first: how unequal travel times are",
    blocks=(
        _ZONE,
        _once(
            Column("rank_worst_first", "rank", "1 = the worst zone (empty in the last two rows)"),
            _POPULATION,
            Column("reached", PEOPLE, "people who reach a facility"),
            Column("unreachable", PEOPLE, "people who reach none"),
            Column(pct_col("unreachable"), PERCENT, "share of the row's people who reach none"),
        ),
        Block((beyond_col, pct_beyond_col), "each"),
        _once(
            *(
                Column(reached_col(m), unit, f"{text}, over the people reached")
                for m, (unit, text) in EQUITY_MEASURES.items()
            )
        ),
        Block(
            (
                Column("limit_min", MINUTES, "the search's time limit"),
                *(
                    Column(at_limit_col(m), unit, f"{text}, the unreachable counted at the limit")
                    for m, (unit, text) in EQUITY_MEASURES.items()
                ),
            ),
            when="limit",
            condition="when the scenario's time limit is finite",
        ),
    ),
)

ACCESS_ZONES = TableSchema(
    files=("access_zones.csv",),
    command="reach access",
    where="its output folder",
    meaning="per zone: floating-catchment (2SFCA) supply per 1,000 people",
    blocks=(
        _ZONE,
        _once(
            Column("method", TEXT, "2SFCA, E2SFCA or Gaussian 2SFCA"),
            _POPULATION,
            Column("population_with_access", PEOPLE, "people with a score above 0"),
            Column("pct_with_access", PERCENT, "share of the row's people with a score above 0"),
            Column("mean_supply_per_1000_people", "per 1,000 people", "population-weighted mean"),
            Column("median_supply_per_1000_people", "per 1,000 people", "weighted median (lower)"),
            Column(
                "supply_allocated", "supply", "the row's share of the supply (Σ people × score)"
            ),
        ),
    ),
)

ACCESS_FACILITIES = TableSchema(
    files=("access_facilities.csv",),
    command="reach access",
    where="its output folder",
    meaning="per facility: its supply and the weighted demand on it",
    blocks=(
        _FACILITY_IDS,
        _once(
            _FACILITY,
            Column("supply", "supply", "its capacity, or 1 when no facility has one"),
            Column("weighted_demand_people", PEOPLE, "people who can reach it, distance-weighted"),
            Column("supply_per_1000_people", "per 1,000 people", "its supply ratio (empty: none)"),
        ),
    ),
)

REFERRAL_ZONES = TableSchema(
    files=("referral_zones.csv",),
    command="reach referral",
    where="its output folder",
    meaning="per zone: people who reach a facility and from it the referral tier, end to end",
    blocks=(
        _ZONE,
        _once(_POPULATION),
        Block((end_to_end_within_col,), "each"),
        Block((end_to_end_beyond_col,), "largest"),
        _once(
            Column("primary_unreachable", PEOPLE, "people who reach no primary facility"),
            Column("referral_unreachable", PEOPLE, "people whose facility reaches no referral one"),
            Column("mean_end_to_end_min", MINUTES, "mean end-to-end time, complete chains only"),
            Column("p90_end_to_end_min", MINUTES, "90th percentile of it, complete chains only"),
        ),
        Block((pct_end_to_end_within_col,), "each"),
        Block((pct_end_to_end_beyond_col,), "largest"),
        _once(
            Column(pct_col("primary_unreachable"), PERCENT, "share who reach no primary facility"),
            Column(
                pct_col("referral_unreachable"), PERCENT, "share whose chain breaks at referral"
            ),
        ),
    ),
)

REFERRAL_FACILITIES = TableSchema(
    files=("referral_facilities.csv",),
    command="reach referral",
    where="its output folder",
    meaning="per facility: its time to the nearest facility of the referral tier",
    blocks=(
        _FACILITY_IDS,
        _once(
            _FACILITY,
            _CELL,
            Column(
                "referral_time_min", MINUTES, "time to the nearest referral facility (or empty)"
            ),
            Column("referral_reachable", FLAG, "whether a referral facility can be reached"),
            Column("referral_facility", INDEX, "that facility's row (empty when none)"),
            _CATCHMENT_POPULATION,
            Column("catchment_mean_end_to_end_min", MINUTES, "mean end-to-end time of them"),
        ),
    ),
)

SITES = TableSchema(
    files=("sites_greedy.csv", "sites_exact.csv"),
    command="reach optimize",
    where="its output folder",
    meaning="per new site of the greedy or the exact solution, the largest gain first",
    blocks=(
        _once(
            Column("order", "rank", "the site's place in the solution (1 = first)"),
            Column("candidate", INDEX, "the candidate's row in candidates.csv (0-based)"),
            Column("candidate_id", TEXT, "the candidate's id"),
            _LON,
            _LAT,
            _CELL,
            Column("marginal_gain_people", PEOPLE, "people this site adds to the ones before"),
            Column(
                "cumulative_gain_people", PEOPLE, "people newly covered by it and the ones before"
            ),
        ),
        Block(
            (
                Column("cost", MONEY, "the site's cost"),
                Column("cumulative_cost", MONEY, "cost of this and the sites before"),
            ),
            when="cost",
            condition="with a cost per site",
        ),
        Block(
            (Column("capacity_people", PEOPLE, "people the site could serve"),),
            when="capacity",
            condition="when the candidates have capacities",
        ),
    ),
)

CANDIDATES = TableSchema(
    files=("candidates.csv",),
    command="reach optimize",
    where="its output folder",
    meaning="per candidate site the solvers chose from",
    blocks=(
        _once(
            Column("candidate_id", TEXT, "`u<rank>` (underserved) or `g<cell>` (lattice)"),
            _LON,
            _LAT,
        ),
        _once(_CELL),
        Block(
            (Column("underserved_people", PEOPLE, "people beyond the threshold around the site"),),
            when="underserved",
            condition="when chosen among underserved cells, without --grid-step",
        ),
        Block(
            (Column("cost", MONEY, "the site's cost"),),
            when="cost",
            condition="with a cost per site",
        ),
    ),
)

AUDIT = TableSchema(
    files=("audit.csv",),
    command="reach run",
    where="the output folder (and each analysis command's)",
    meaning="per finding of the data-quality audit, warnings first (also in `audit.json`)",
    blocks=(
        _once(
            Column("check", TEXT, "the check that found it (`zone_outside_grid`, ...)"),
            Column("severity", TEXT, "`warning` (a figure may be wrong), `repaired` or `info`"),
            Column(
                "subject", TEXT, "what it is about: facility, zone, road, layer, population, region"
            ),
            Column("subject_id", TEXT, "that thing's id in the input (empty: the whole region)"),
            Column("message", TEXT, "the finding in one line"),
            Column("service", TEXT, "the service it belongs to (empty: none)"),
            Column("value", "see unit", "the finding's measure (empty: none)"),
            Column("unit", TEXT, "the unit of value (m, people, share, ...)"),
        ),
    ),
)

POPULATION_CORRECTION = TableSchema(
    files=("population_correction.csv",),
    command="reach run",
    where="the output folder, with `[region.population_correction]`",
    meaning="per zone: how its people were rescaled to the table of totals (e.g. a census)",
    blocks=(
        _once(
            Column("zone_id", TEXT, "the zone's id in the zones file and in the totals table"),
            Column("zone_name", TEXT, "the zone's name"),
            Column("raster_people", PEOPLE, "people the population raster puts in the zone"),
            Column("given_total", PEOPLE, "the zone's people in the totals table"),
            Column("target_people", PEOPLE, "people in the zone after the correction (its target)"),
            Column("factor", RATIO, "what the zone's people were multiplied by"),
        ),
    ),
)

POPULATION_COUNTS = TableSchema(
    files=("population_counts.csv",),
    command="reach run",
    where="the output folder, with `[region.population_counts]`",
    meaning="per counted zone: its people, and how they were spread over the grid",
    blocks=(
        _once(
            Column("zone_id", TEXT, "the zone's id in the zones file and in the counts table"),
            Column("zone_name", TEXT, "the zone's name"),
            Column("count", PEOPLE, "the zone's people in the counts table"),
            Column("people_placed", PEOPLE, "people placed on the grid from it (equal to count)"),
            Column("cells", INDEX, "how many cells it placed people in"),
            Column(
                "spread", TEXT,
                "how: weights (the weight layer), even (over its land: no weight, or no layer), "
                "one cell (a zone smaller than any cell's share)",
            ),
        ),
    ),
)  # fmt: skip

_SENS_WHERE = "the output folder, with `[sensitivity] samples` or from `reach sensitivity`"
_SAMPLE = Column("sample", INDEX, "the sample's number (0-based)")
_FACTOR = Column(
    "factor", TEXT,
    "the speed varied: `land cover: <class>`, `off-road walk`, or `<mode>: <road class>`",
)  # fmt: skip

SENSITIVITY = TableSchema(
    files=("sensitivity.csv",),
    command="reach run / reach sensitivity",
    where=_SENS_WHERE,
    meaning="per service, zone and threshold: the baseline's coverage and the range the middle "
    "90 % of the speed samples give",
    blocks=(
        _ZONE,
        _once(
            _THRESHOLD,
            Column("pct_within", PERCENT, "the baseline's share of the row's people within it"),
            Column("pct_low", PERCENT, "the 5th percentile of the samples' shares"),
            Column("pct_high", PERCENT, "the 95th percentile of the samples' shares"),
            Column("pct_median", PERCENT, "the samples' median share"),
            Column("samples", INDEX, "how many samples (empty shares of an empty row not counted)"),
        ),
    ),
)

SENSITIVITY_SAMPLES = TableSchema(
    files=("sensitivity_samples.csv",),
    command="reach run / reach sensitivity",
    where=_SENS_WHERE,
    meaning="every sample's coverage, per service, zone and threshold",
    blocks=(
        _once(
            _SAMPLE, _SERVICE, _ZONE_ID, _THRESHOLD,
            Column("pct_within", PERCENT, "the sample's share of the row's people within it"),
        ),
    ),
)  # fmt: skip

SENSITIVITY_DESIGN = TableSchema(
    files=("sensitivity_design.csv",),
    command="reach run / reach sensitivity",
    where=_SENS_WHERE,
    meaning="the Latin-hypercube design: each speed's multiplier in each sample",
    blocks=(
        _once(
            _SAMPLE, _FACTOR,
            Column("kind", TEXT, "landcover, default walk (no land cover) or road"),
            Column("mode", TEXT, "the travel mode of a road factor (empty for the walk off roads)"),
            Column("key", TEXT, "the land-cover or road class"),
            Column("speed_kph", "km/h", "the scenario's speed"),
            Column("multiplier", RATIO, "the sample's factor, in 1 ± speed_range_pct / 100"),
            Column("sampled_kph", "km/h", "the speed the sample used"),
        ),
    ),
)  # fmt: skip

SENSITIVITY_INFLUENCE = TableSchema(
    files=("sensitivity_influence.csv",),
    command="reach run / reach sensitivity",
    where=_SENS_WHERE,
    meaning="which speeds the whole region's figure depends on most, per service",
    blocks=(
        _once(
            _SERVICE,
            Column("threshold_min", MINUTES, "the service's key (middle) threshold"),
            _FACTOR,
            Column(
                "spearman_rho", RATIO,
                "rank correlation of the factor's multiplier with the (all) row's share within "
                "the key threshold, -1 to 1 (empty when either does not vary); strongest first",
            ),
        ),
    ),
)  # fmt: skip

_ORIGIN_ID = Column("origin_id", TEXT, "the origin's id (`at 1`, … for --at; the file's ids)")

ROUTES = TableSchema(
    files=("routes.csv",),
    command="reach explain",
    where="its output folder (and the `origins` layer of routes.gpkg)",
    meaning="per origin and service: its travel time, the facility it reaches, minutes by leg",
    blocks=(
        _once(
            _ORIGIN_ID,
            _SERVICE,
            _LON,
            _LAT,
            Column("travel_time_min", MINUTES, "minutes to the nearest facility (its cell's)"),
            Column(
                "reason",
                TEXT,
                "`reached`, or why not (as the reason rasters; `outside_grid` off the grid)",
            ),
            Column("facility_id", TEXT, "the facility the route ends at (empty: none)"),
            Column("facility_name", TEXT, "its name"),
            Column("walk_min", MINUTES, "minutes walking off the roads"),
            Column("ride_min", MINUTES, "minutes along roads, by the service's mode"),
            Column("ferry_wait_min", MINUTES, "minutes waiting for ferries"),
            Column("ferry_min", MINUTES, "minutes crossing by ferry"),
            Column("to_door_min", MINUTES, "minutes from the route's last vertex to the door"),
            Column("legs", "count", "legs of the route (rows of route_legs.csv)"),
        ),
    ),
)

ROUTE_LEGS = TableSchema(
    files=("route_legs.csv",),
    command="reach explain",
    where="its output folder (and the `legs` layer of routes.gpkg, with each leg's line)",
    meaning="one row per leg of each route, in order; the legs' minutes add up to the time",
    blocks=(
        _once(
            _ORIGIN_ID,
            _SERVICE,
            Column("leg", INDEX, "the leg's place along the route (1, 2, …)"),
            Column("kind", TEXT, "`walk`, `road`, `ferry_wait`, `ferry` or `to_door`"),
            Column("mode", TEXT, "`walk`, the service's vehicle on a road leg, or `ferry`"),
            Column("time_min", MINUTES, "the leg's minutes"),
            Column(
                "length_km",
                "km",
                "the leg's length (0 for a wait; straight to the door for the last)",
            ),
            Column("road_class", TEXT, "road legs: the road's class (OSM highway or road_class)"),
            Column("road_name", TEXT, "road legs: the road's name, where the line has one"),
            Column(
                "land_cover",
                TEXT,
                "walk legs: the land-cover classes crossed (class rasters; `;`-separated)",
            ),
            Column("climb_m", "m", "walk legs: metres climbed (with elevations)"),
        ),
    ),
)

#: Every table reach writes, in the order of the documentation.
TABLES: tuple[TableSchema, ...] = (
    COVERAGE,
    FACILITIES,
    AUDIT,
    POPULATION_CORRECTION,
    POPULATION_COUNTS,
    SENSITIVITY,
    SENSITIVITY_SAMPLES,
    SENSITIVITY_DESIGN,
    SENSITIVITY_INFLUENCE,
    ZONES_LAYER,
    FACILITIES_LAYER,
    CATCHMENTS_LAYER,
    ISOCHRONES_LAYER,
    NETWORK_LAYER,
    SEASONS,
    VIRTUAL,
    REFERRALS,
    COMPARISON,
    RANKING,
    CAPACITY_ZONES,
    CAPACITY_FACILITIES,
    EQUITY,
    ACCESS_ZONES,
    ACCESS_FACILITIES,
    REFERRAL_ZONES,
    REFERRAL_FACILITIES,
    SITES,
    CANDIDATES,
    ROUTES,
    ROUTE_LEGS,
)

_REPEAT_NOTES: dict[str, str] = {
    "once": "",
    "each": "one per threshold T, ascending",
    "largest": "the largest threshold T only",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def columns_markdown() -> str:
    """The documentation page describing every column of every table (``docs/columns.md``).

    Returns
    -------
    str
        Markdown: per table its files, who writes it and a row per column.
    """
    lines = [
        "# Output columns",
        "",
        "<!-- generated from src/reach/schema.py by docs/gen_columns.py: do not edit -->",
        "",
        f"Schema version {SCHEMA_VERSION} (`schema_version` in a run's `manifest.json`).",
        "",
        "Every table reach writes, with its columns in order. `<T>` stands for a travel-time "
        "threshold of the service in minutes, written as Python's `g` format writes it (`30`, "
        "`7.5`). People are those of the service's target population (people × its target "
        "share). A table that stacks several services holds the union of their columns, in the "
        "order they first appear. The last two zone rows are `(outside zones)` (people outside "
        "every zone) and `(all)` (the whole grid).",
    ]
    for table in TABLES:
        files = ", ".join(f"`{f}`" for f in table.files)
        about = table.meaning[0].upper() + table.meaning[1:]
        lines += [
            "",
            f"## {files}",
            "",
            f"{about}. Written by `{table.command}`: {table.where}.",
            "",
        ]
        lines += ["| column | unit | meaning |", "| --- | --- | --- |"]
        for block in table.blocks:
            notes = [n for n in (_REPEAT_NOTES[block.repeat], block.condition) if n]
            tail = f" ({'; '.join(notes)})" if notes else ""
            for col in block.patterns():
                lines.append(
                    f"| `{_cell(col.name)}` | {_cell(col.unit)} | {_cell(col.meaning)}{tail} |"
                )
    return "\n".join(lines) + "\n"
