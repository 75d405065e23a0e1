"""The scenario file (TOML, version 1): what region, which services, which modes, which outputs.

Read with :mod:`tomllib`, validated with pydantic; unknown keys are rejected with the key and the
line it stands on. Paths are relative to the scenario file; ``${REACH_DATA}`` expands to the real
data folder (:func:`reach.settings.data_dir`). URLs and GDAL virtual file systems are refused.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from reach.codes import EDUCATION_TIERS, HEALTH_TIERS
from reach.errors import ScenarioError
from reach.languages import LOCALES_ENV, available_languages, language_list
from reach.settings import ALLOW_ENV, DATA_ENV, allowed_roots, data_dir

__all__ = [
    "BoundariesSpec",
    "CountWeightsSpec",
    "FacilitiesSpec",
    "GridSpec",
    "LandCoverSpec",
    "LayerSpec",
    "OutputsSpec",
    "PopulationCountsSpec",
    "RegionSpec",
    "RoadLinesSpec",
    "ScenarioSpec",
    "SensitivitySpec",
    "ServiceSpec",
    "ZoneLevelSpec",
    "check_service",
    "check_tier",
    "load_scenario",
    "parse_scenario",
    "service_tiers",
    "tier_order",
]


_FORBIDDEN = re.compile(r"^(/vsi|[a-z][a-z0-9+.\-]*:/)", re.IGNORECASE)


def _local_path(value: object) -> object:
    """Refuse URLs and GDAL virtual file system paths before they become ``Path`` objects."""
    if isinstance(value, str) and (_FORBIDDEN.match(value) or "/vsi" in value.lower()):
        raise ValueError(
            f"{value!r} is a URL or a GDAL virtual file system path; give a local file"
        )
    return value


#: A path in a scenario file: local files only.
LocalPath = Annotated[Path, BeforeValidator(_local_path)]


#: Bounds on what a scenario file may ask for (each far above any real study).
MAX_SCENARIO_BYTES = 4 * 2**20
MAX_EXTENDS_DEPTH = 16
MAX_THRESHOLDS = 24
MAX_SERVICES = 32
MAX_ALTERNATIVES = 500
MAX_OPERATIONS = 1000
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
MAX_NODE_TOLERANCE_M = 100.0

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_characters(value: object) -> object:
    """Refuse control characters (terminal escape sequences) in any text of the file."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, list | tuple):
        texts = [v for v in value if isinstance(v, str)]
    elif isinstance(value, dict):
        texts = [v for kv in value.items() for v in kv if isinstance(v, str)]
    for text in texts:
        if _CONTROL.search(text):
            raise ValueError(f"{text[:40]!r} holds a control character; use plain text")
    return value


class _Strict(BaseModel):
    """Base of every table: unknown keys, NaN, infinities and control characters refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=10_000
    )

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        return _no_control_characters(value)


class LayerSpec(_Strict):
    """A vector layer burnt into the grid (barriers, water).

    Attributes
    ----------
    path
        GeoPackage, GeoJSON, shapefile or FlatGeobuf, relative to the scenario file.
    layer
        Layer name inside a multi-layer file.
    all_touched
        Burn every cell the geometry touches, not only the cells whose centre it covers.
    """

    path: LocalPath
    layer: str | None = None
    all_touched: bool = False


class RoadLinesSpec(_Strict):
    """Non-OSM road lines with a class column (AccessMod style).

    Attributes
    ----------
    path
        GeoPackage, shapefile or GeoJSON of lines with a CRS, relative to the scenario file.
    class_column
        Column holding each line's class (e.g. ``"label"`` for AccessMod, ``"highway"``); the
        classes are looked up in each mode's ``highway_kph``. Lines with no class are left
        out.
    layer
        Layer to read (needed when the file has several).
    ferry_classes
        Class values that are ferry routes.
    node_tolerance_m
        Line ends within this many metres of another line are joined to it (0: none); see
        :func:`reach.model.noding.node_lines`.
    split_crossings
        Split lines where they cross without a shared vertex, unless a ``bridge``, ``tunnel``
        or ``layer`` column says they do not meet.
    """

    path: LocalPath
    class_column: str
    layer: str | None = None
    ferry_classes: list[str] = Field(default_factory=list)
    node_tolerance_m: float = Field(default=5.0, ge=0, le=MAX_NODE_TOLERANCE_M)
    split_crossings: bool = True


class BoundariesSpec(_Strict):
    """Reporting zones: the polygons coverage is reported by.

    Attributes
    ----------
    path
        GeoPackage, GeoJSON or shapefile of polygons, relative to the scenario file.
    id_column
        Column with the zone id; by default a usual id column if present, else ``Z001``,
        ``Z002``, … by row.
    name_column
        Column with the zone name; by default a usual name column if present, else the id.
    layer
        Layer to read (needed when the file has several).
    where
        Keep only zones where, for any listed column, the value is one of its values, e.g.
        ``{ kode = ["53.11", "53.12"] }`` (one kabupaten out of a province file, by code or by
        name); a filter that keeps nothing is refused. With a filter the population raster is
        read only in the window of the zones kept.
    rename
        Names to use instead of the file's, by zone id (e.g. to correct a mislabelled
        polygon); an id the file lacks is refused.
    membership
        How cells join zones: ``"exact"`` (default) by the share of each cell inside each zone,
        so a coastal or boundary cell's people are split between the zones it touches and the
        outside; ``"centre"`` each cell whole to the zone its centre lies in (reach before 17).
    """

    path: LocalPath
    id_column: str | None = None
    name_column: str | None = None
    layer: str | None = None
    where: dict[str, list[str]] = Field(default_factory=dict)
    #: Names to use instead of the file's, by zone id (e.g. to correct a mislabelled polygon).
    rename: dict[str, str] = Field(default_factory=dict)
    #: How cells join zones: by exact share of the cell (default) or by the cell's centre.
    membership: Literal["exact", "centre"] = "exact"


class LandCoverSpec(_Strict):
    """Land cover: a class raster with labels, or cover-fraction rasters; walking speeds.

    Give either ``path`` with ``labels``, or ``fractions``.

    Attributes
    ----------
    path
        GeoTIFF of integer land-cover classes, relative to the scenario file.
    labels
        Label of each class value, keyed by the value as text (``{ "1" = "Built_area" }``);
        every class in the raster needs one.
    fractions
        Cover-fraction GeoTIFF (percent of the cell, 0–100) by label, e.g. Copernicus CGLC;
        the rasters share one grid.
    speeds_kph
        Walking speed (km/h, ≥ 0) by label; every label read needs one (except a
        ``water_classes`` fraction), and 0 makes the class water (impassable on foot), except
        in cells the population raster gives people.
    water_classes
        For cover fractions: labels whose share above 50 % makes a cell water.
    """

    path: LocalPath | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    fractions: dict[str, LocalPath] = Field(default_factory=dict)
    speeds_kph: dict[str, float]
    water_classes: list[str] = Field(default_factory=lambda: ["PermanentWater"])

    @model_validator(mode="after")
    def _one_kind(self) -> LandCoverSpec:
        if (self.path is None) == (not self.fractions):
            raise ValueError("give either `path` (+ `labels`) or `fractions`, not both or neither")
        if self.path is not None and not self.labels:
            raise ValueError("a class raster needs `labels` (class value = label)")
        for label, kph in self.speeds_kph.items():
            if not math.isfinite(kph) or kph < 0:
                raise ValueError(f"speed of {label!r} must be a finite number ≥ 0")
        return self


class PopulationCorrectionSpec(_Strict):
    """A table of people per zone the population raster is corrected to (AccessMod style).

    Attributes
    ----------
    path
        CSV (or a GeoPackage, GeoJSON or shapefile, whose attributes are read) with one row per
        reporting zone, relative to the scenario file.
    zone_column
        Column holding the zone id (the ``[region.boundaries] id_column`` values).
    total_column
        Column holding the zone's people (a number ≥ 0).
    mode
        ``"totals"``: each zone's people are rescaled to the table's total; ``"shares"``: the
        raster's own total inside the zones is kept and shared out by the table's shares (for
        a raster of a later year than the table). People outside every zone are left as they
        are.
    warn_share
        A zone whose raster people differ from its target by more than this share of the
        target is warned about (default 0.1: 10 %).
    """

    path: LocalPath
    zone_column: str
    total_column: str
    mode: Literal["totals", "shares"] = "totals"
    warn_share: float = Field(default=0.1, ge=0, le=100)


class ZoneLevelSpec(_Strict):
    """Another set of reporting zones (e.g. desa beside kecamatan), with its own coverage table.

    Attributes
    ----------
    name
        The level's name, used in the table's file name (``coverage_<name>.csv``).
    path, id_column, name_column, layer, where
        As in ``[region.boundaries]``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
    path: LocalPath
    id_column: str | None = None
    name_column: str | None = None
    layer: str | None = None
    where: dict[str, list[str]] = Field(default_factory=dict)


class CountWeightsSpec(_Strict):
    """A layer that weights where, inside each zone, its people are placed.

    Attributes
    ----------
    path
        A GeoTIFF (its values, or ``class_weights`` of its classes, are the weights), a polygon
        layer (each polygon's ``column`` value, or 1, is a weight per unit of area: a
        settlement-cover share, a built-up density), or a point layer (each point weighs its
        ``column`` value, or 1: buildings, households), relative to the scenario file.
    column
        Attribute of a polygon or point layer holding the weight.
    layer
        Layer of a multi-layer vector file.
    class_weights
        For a class raster (land cover): the weight of each class value, keyed by the value as
        text (``{ "50" = 1.0, "40" = 0.2 }``); classes not listed weigh 0.
    """

    path: LocalPath
    column: str | None = None
    layer: str | None = None
    class_weights: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )


class PopulationCountsSpec(_Strict):
    """People counted per zone (a census or register table), spread over a grid reach makes.

    For a region with no population raster. Each zone's people are placed in its cells —
    evenly over its land, or in proportion to ``weights`` — so that every zone holds exactly
    its count, and the grid's total is the table's total over the zones.

    Attributes
    ----------
    path
        CSV (``,`` ``;`` tab or ``|``), xlsx, or a vector file's attributes, one row per zone,
        relative to the scenario file. Rows of zones the zones layer (after its ``where``) does
        not hold, such as the province's own row, are left out and counted in the manifest.
    zone_column
        Column holding the zone id (Kemendagri ``53.11`` and ``5311`` match each other).
    total_column
        Column holding the zone's people; thousands separators (``277.290``, ``277,290``) are
        understood.
    zones
        The polygons the counts belong to; default ``[region.boundaries]``.
    cell_size_m
        Cell size of the grid, in metres (default 500).
    crs
        The grid's CRS (e.g. ``"EPSG:32750"``); default the UTM zone of the zones' centre.
    weights
        Where people live inside each zone; without it, evenly over the zone's land. A zone
        whose cells all weigh 0 is spread evenly and reported in the audit.
    """

    path: LocalPath
    zone_column: str
    total_column: str
    zones: BoundariesSpec | None = None
    cell_size_m: float = Field(default=500.0, ge=10, le=20_000, allow_inf_nan=False)
    crs: str | None = None
    weights: CountWeightsSpec | None = None


class RegionSpec(_Strict):
    """The region's input files, each relative to the scenario file.

    Attributes
    ----------
    population
        People-per-cell GeoTIFF (e.g. WorldPop); its grid (after ``aggregate_factor``) is the
        analysis grid. A national raster is read only in the window of filtered boundaries.
    population_counts
        Instead of ``population``: people per zone, spread over a grid reach makes.
    osm
        OSM extract (``.osm``, ``.osm.bz2`` or ``.osm.pbf``): the roads and ferries, and the
        facilities of services read ``from_osm``. When given, ``roads`` is not read.
    roads
        Road lines with a class column, for a region without an OSM extract. With neither
        ``osm`` nor ``roads`` the region has no roads: every service walks over the grid alone.
    boundaries
        Reporting zones; without them the whole grid is one zone named after the scenario.
    landcover
        Land cover and its walking speeds; without it everyone walks at
        ``[grid] default_walk_kph`` off the network.
    dem
        Elevation tiles (GeoTIFF or SRTM ``.hgt`` / ``.hgt.zip``) for the slope of the walk;
        read only when ``[grid] slope`` is on.
    barriers
        Layers burnt into the grid as barriers (impassable on foot).
    water
        Layers burnt into the grid as water (impassable on foot).
    population_correction
        A table of people per zone the raster is rescaled to (needs ``boundaries``).
    zone_levels
        More sets of reporting zones, each with its own coverage table.
    """

    population: LocalPath | None = None
    population_counts: PopulationCountsSpec | None = None
    osm: LocalPath | None = None
    roads: RoadLinesSpec | None = None
    boundaries: BoundariesSpec | None = None
    landcover: LandCoverSpec | None = None
    dem: list[LocalPath] = Field(default_factory=list)
    barriers: list[LayerSpec] = Field(default_factory=list)
    water: list[LayerSpec] = Field(default_factory=list)
    population_correction: PopulationCorrectionSpec | None = None
    zone_levels: list[ZoneLevelSpec] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _correction_needs_zones(self) -> RegionSpec:
        if self.population is None and self.population_counts is None:
            raise ValueError(
                "missing key `population` (a population raster), or give "
                "[region.population_counts] (people per zone) instead"
            )
        if self.population is not None and self.population_counts is not None:
            raise ValueError(
                "give either `population` (a raster) or [region.population_counts] (people per "
                "zone), not both"
            )
        if self.population_correction is not None and self.boundaries is None:
            raise ValueError("[region.population_correction] needs [region.boundaries]")
        if self.population_correction is not None and self.population_counts is not None:
            raise ValueError(
                "[region.population_counts] already gives each zone its people: drop "
                "[region.population_correction]"
            )
        counts = self.population_counts
        if counts is not None and counts.zones is None and self.boundaries is None:
            raise ValueError(
                "[region.population_counts] needs `zones` or [region.boundaries] (the polygons "
                "the counts belong to)"
            )
        names = [level.name for level in self.zone_levels]
        if len(set(names)) != len(names):
            raise ValueError(f"zone level names must be unique: {names}")
        if self.zone_levels and self.boundaries is None:
            raise ValueError("[[region.zone_levels]] needs [region.boundaries]")
        return self

    def population_source(self) -> Path:
        """The file the people come from: the raster, or the table of counts.

        Returns
        -------
        Path
            As the scenario gives it (unresolved).
        """
        if self.population is not None:
            return self.population
        assert self.population_counts is not None
        return self.population_counts.path

    def count_zones(self) -> BoundariesSpec | None:
        """The polygons ``population_counts`` belong to (its ``zones``, else the boundaries).

        Returns
        -------
        BoundariesSpec or None
            ``None`` when the population is a raster.
        """
        if self.population_counts is None:
            return None
        return self.population_counts.zones or self.boundaries


class GridSpec(_Strict):
    """The analysis grid and the off-network walk.

    Attributes
    ----------
    neighbours
        Moves of the off-network walk: 8 (queen) or 16 (queen + knight moves).
    max_travel_time_min
        The search's time limit in minutes: cells further from every facility are beyond
        reach; ``inf`` means no limit.
    aggregate_factor
        Sum blocks of this many × this many population cells into one analysis cell (1–100;
        1 keeps the raster's grid).
    default_walk_kph
        Walking speed (km/h) off the network where no land cover gives one.
    slope
        Slow the walk on slopes (Tobler's hiking function) with the region's DEM.
    model
        ``"reach"`` (the default): roads are a network that each cell joins where the road is
        nearest, facilities are joined where they stand. ``"accessmod"``: WHO AccessMod 5's
        raster model, to reproduce a published AccessMod analysis — roads burned into the
        land cover as cells (every cell a road touches, the fastest class winning, over water
        and barriers), the whole cell at the road's speed, GRASS ``r.cost``'s moves (a
        diagonal may pass between two impassable cells), facilities starting at their cell,
        no slope, and minutes truncated to whole minutes as AccessMod writes them. Its
        figures depend on the grid's cell size (they overstate on coarse grids).
    """

    neighbours: Literal[8, 16] = 8
    #: Minutes; ``inf`` means no limit (NaN is refused by ``gt``).
    max_travel_time_min: float = Field(default=720.0, gt=0, allow_inf_nan=True)
    aggregate_factor: int = Field(default=1, ge=1, le=100)
    default_walk_kph: float = Field(default=4.0, gt=0, le=20)
    slope: bool = True
    model: Literal["reach", "accessmod"] = "reach"


class SensitivitySpec(_Strict):
    """How sure the coverage figures are, given that travel speeds are estimates.

    Attributes
    ----------
    samples
        Runs of the baseline over a Latin-hypercube sample of the speed tables; 0 (the
        default) runs none. Each coverage figure is then given with the range the middle 90 %
        of the samples fall in.
    speed_range_pct
        How far each speed may be off, in percent either way: every land-cover walking speed
        and every road class's speed of each travel mode searched is multiplied by a factor
        drawn in ``1 ± speed_range_pct / 100``, each independently.
    seed
        The sample's seed: the same seed gives the same sample and the same ranges.
    """

    samples: int = Field(default=0, ge=0, le=1000)
    speed_range_pct: float = Field(default=20.0, gt=0, lt=100)
    seed: int = Field(default=0, ge=0)

    @field_validator("samples")
    @classmethod
    def _not_one(cls, value: int) -> int:
        if value == 1:
            raise ValueError("one sample gives no range: use 0 (none) or at least 2")
        return value


class FerrySpec(_Strict):
    """Ferry timetable assumptions.

    Attributes
    ----------
    headway_min
        Minutes between departures; every crossing waits half of it to board, unless the ferry
        has a headway of its own (0 for no wait).
    """

    headway_min: float = Field(default=120.0, ge=0)


class FacilitiesSpec(_Strict):
    """Where a service's facilities come from and how to read them.

    Give either ``path`` or ``from_osm = true``.

    Attributes
    ----------
    path
        CSV (``;`` files may use decimal commas) or xlsx with lon/lat columns in decimal degrees
        (EPSG:4326), or a vector file with a CRS, relative to the scenario file.
    from_osm
        Take the facilities from the region's OSM extract, classified by the service's kind.
    from_osm_tags
        Classify the rows of ``path`` by their OSM tags instead of by ``tier_column``.
    layer
        Layer of a multi-layer vector file, or the sheet of an xlsx workbook (default: first).
    id_column
        Column with unique facility ids; without it a ``kode`` / ``kode_faskes`` / ``npsn``
        column when its values are complete and unique, else ids are ``<file stem>-<row>``
        (1-based row in the file, 4 digits).
    name_column
        Column with the facility's name.
    tier_column, tier_map, default_tier
        Each facility's tier: the ``tier_column`` value passed through ``tier_map``;
        unmapped values get ``default_tier`` (else they are refused). Without ``tier_map``,
        Indonesian kinds are understood (Puskesmas, RSUD, Pustu, Polindes, SD, SMP, SMA, …);
        without ``tier_column`` the tier is read from a ``tier`` / ``jenis`` / ``tipe`` /
        ``kategori`` column or the name, and ``default_tier`` fills the rest.
    capacity_column
        Column with capacities (people served: patients, pupils); empty means unlimited.
    lon_column, lat_column
        Coordinate columns of a CSV or xlsx (``longitude``/``bujur``/``x`` and
        ``latitude``/``lintang``/``y`` are found too).
    where
        Keep only rows where, for any listed column, the value is one of its values, e.g.
        ``{ amenity = ["hospital", "clinic"] }``.
    tiers
        Keep only facilities of these tiers, which are then also the tiers operations may
        give (empty: keep every facility; operations may give the service kind's tiers).
    capacity_by_tier
        Capacity (people served, > 0) by tier, for facilities whose file gives none.
    snap_within_m
        How far (metres, cell centre to cell centre) a facility standing in water, on a
        barrier or on a no-data cell is moved to the nearest passable cell; beyond it the
        facility serves nobody (the audit says so). Default: within two cells.
    duplicate_within_m
        Two facilities closer than this (metres) are taken as one recorded twice when one is
        an OSM node and the other an OSM building or area (other sources: same name and tier).
    merge_duplicates
        Merge such pairs into one facility (listed in the audit); ``false`` keeps both.
    """

    path: LocalPath | None = None
    from_osm: bool = False
    from_osm_tags: bool = False
    layer: str | None = None
    id_column: str | None = None
    name_column: str | None = "name"
    tier_column: str | None = None
    tier_map: dict[str, str] = Field(default_factory=dict)
    default_tier: str | None = None
    capacity_column: str | None = None
    lon_column: str = "lon"
    lat_column: str = "lat"
    where: dict[str, list[str]] = Field(default_factory=dict)
    tiers: list[str] = Field(default_factory=list)
    #: Capacity (people served) by tier, for facilities whose file gives none.
    capacity_by_tier: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    snap_within_m: float | None = Field(default=None, gt=0, le=100_000, allow_inf_nan=False)
    duplicate_within_m: float = Field(default=50.0, ge=0, le=10_000, allow_inf_nan=False)
    merge_duplicates: bool = True

    @model_validator(mode="after")
    def _source(self) -> FacilitiesSpec:
        if (self.path is None) == (not self.from_osm):
            raise ValueError("give either `path` or `from_osm = true`")
        return self


class ServiceSpec(_Strict):
    """One service (e.g. health by motorbike, primary schools on foot).

    Attributes
    ----------
    name
        The service's name (letters, digits, ``_`` and ``-``, up to 64), unique in the file;
        it names the service's output files, e.g. ``travel_time_<name>.tif``.
    label
        Its display name per report language, e.g. ``{ en = "Health (motorbike)", id =
        "Kesehatan (sepeda motor)" }``; reports fall back to English, then to ``name``.
    kind
        ``"health"`` or ``"education"``: how OSM facilities are classified and which tiers
        the service has by default.
    mode
        How people travel to it: ``"walk"``, ``"motorbike"`` or ``"car"``.
    thresholds_min
        Travel-time thresholds in minutes that coverage is reported at (kept sorted, without
        repeats; at most 24).
    target_share
        Share of the population the service is for (e.g. school-age children), in (0, 1].
    facilities
        Where the facilities come from.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
    label: dict[str, Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=dict, max_length=20
    )
    kind: Literal["health", "education"]
    mode: Literal["walk", "motorbike", "car"] = "walk"
    thresholds_min: list[float] = Field(
        default_factory=lambda: [30.0, 60.0, 120.0], max_length=MAX_THRESHOLDS
    )
    target_share: float = Field(default=1.0, gt=0, le=1)
    facilities: FacilitiesSpec

    @field_validator("thresholds_min")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one threshold")
        if any(not math.isfinite(v) or v <= 0 for v in value):
            raise ValueError("thresholds must be positive finite minutes")
        return sorted(set(value))


class OutputsSpec(_Strict):
    """What to write and where.

    Attributes
    ----------
    folder
        The output folder, relative to the scenario file; replaced whole by each run, and
        only when reach can prove it wrote it.
    rasters
        Write GeoTIFFs: travel time, catchment and reason per service, the population, and
        each alternative's minutes saved and access change.
    parquet
        Write each table of a run as Parquet beside its CSV.
    maps
        Interactive HTML maps, one per service.
    maps_offline
        Maps that open with no internet (Leaflet embedded, no basemap unless
        ``basemap_url``).
    basemap_url
        An ``https://`` tile URL template for a basemap (e.g. an OpenStreetMap tile server).
    reports
        Regional reports (HTML, and PDF with ``report_pdf``) to write, by language:
        ``["en", "id"]``; the maps are written in these languages too (English without).
        Any language there is a catalogue for (see :mod:`reach.languages`).
    report_pdf
        Also write each report as a PDF (skipped, with a warning, when no PDF engine is
        available).
    polygons
        Write ``catchments.gpkg`` (a polygon per facility) and ``isochrones.gpkg`` (a polygon
        per threshold), a layer per service.
    network_layer
        Write ``network.gpkg``: each mode's routable roads and ferries with their class,
        speed and minutes.
    """

    folder: LocalPath = Path("maps/run")
    rasters: bool = True
    parquet: bool = True
    #: Interactive HTML maps, one per service.
    maps: bool = True
    #: Maps that open with no internet (Leaflet embedded, no basemap unless ``basemap_url``).
    maps_offline: bool = True
    #: A tile URL template for a basemap (e.g. an OpenStreetMap tile server), used online.
    basemap_url: str | None = Field(default=None, pattern=r"^https://[^\s'\"<>]+$")
    #: Regional reports (HTML and PDF) to write, by language: ``["en", "id"]``.
    reports: list[str] = Field(default_factory=list, max_length=20)
    #: Also write each report as a PDF.
    report_pdf: bool = True
    #: Catchment and isochrone polygons (catchments.gpkg, isochrones.gpkg).
    polygons: bool = True
    #: Each mode's routable network as lines (network.gpkg).
    network_layer: bool = True

    @field_validator("reports")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        known = available_languages()
        for code in value:
            if code not in known:
                raise ValueError(
                    f"no report language {code!r}: use one of {language_list()}, or add a "
                    f"catalogue {code}.po to the folder ${LOCALES_ENV} names"
                )
        return list(dict.fromkeys(value))


class ScenarioMeta(_Strict):
    """The scenario's name and description (the ``[scenario]`` table).

    Attributes
    ----------
    name
        The scenario's name (1–200 characters), shown in reports and maps.
    description
        Free text about the scenario.
    currency
        The ISO 4217 code of the alternatives' costs (``"IDR"``, ``"USD"``, ``"KMF"``; case
        does not matter, kept in capitals), one of the currencies CLDR knows (Babel's
        ``list_currencies``). Reports then write every cost and gain per cost in that currency,
        in the report's language (``Rp1.500.000.000``). Without it, costs are plain numbers
        labelled as having no currency.
    """

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        """A currency CLDR knows, in capitals; ValueError naming a few known codes otherwise."""
        if value is None:
            return None
        from babel.numbers import list_currencies  # imported only when a currency is given

        code = value.strip().upper()
        if code not in list_currencies():
            raise ValueError(
                f"{value!r} is not an ISO 4217 currency code; give one such as IDR, USD or KMF"
            )
        return code


# --- operations: what an alternative changes ---------------------------------------------------

LonLat = tuple[float, float]


def _check_lon_lat(point: LonLat) -> LonLat:
    """``point`` if it is a finite longitude, latitude pair; ValueError otherwise."""
    lon, lat = point
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"({lon}, {lat}) is not a longitude, latitude pair")
    return point


class AddFacility(_Strict):
    """Open a new facility.

    Attributes
    ----------
    op
        ``"add_facility"``.
    service
        The service's name.
    facility_id
        Its id (1–64 characters), not one the service already has.
    name
        Its name; default its id.
    lon, lat
        Where it stands, in decimal degrees.
    tier
        Its tier, one the service may have.
    capacity
        People it can serve (≥ 0); unlimited when not given.
    """

    op: Literal["add_facility"]
    service: str
    facility_id: str = Field(min_length=1, max_length=64)
    name: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    tier: str
    capacity: float | None = Field(default=None, ge=0)


class CloseFacility(_Strict):
    """Close an existing facility.

    Attributes
    ----------
    op
        ``"close_facility"``.
    service
        The service's name.
    facility_id
        The facility's id; closing a service's last facility is refused.
    """

    op: Literal["close_facility"]
    service: str
    facility_id: str


class UpgradeFacility(_Strict):
    """Change a facility's tier and/or capacity.

    Attributes
    ----------
    op
        ``"upgrade_facility"``.
    service
        The service's name.
    facility_id
        The facility's id.
    tier
        Its new tier; unchanged when not given.
    capacity
        People it can serve (≥ 0); unchanged when not given.
    """

    op: Literal["upgrade_facility"]
    service: str
    facility_id: str
    tier: str | None = None
    capacity: float | None = Field(default=None, ge=0)


class UpgradeRoad(_Strict):
    """Improve roads chosen by OSM way id, or by class inside a polygon (lon/lat ring).

    Attributes
    ----------
    op
        ``"upgrade_road"``.
    way_ids
        Ways to change (not ferries).
    polygon
        A ring of lon/lat points (3 or more): roads with any point inside or on its edge.
    highway_classes
        Keep only the chosen ways of these classes (``highway`` or line-layer class).
    set_highway, set_surface, set_tracktype, set_smoothness
        The new tags (at least one).
    """

    op: Literal["upgrade_road"]
    way_ids: list[int] = Field(default_factory=list)
    polygon: list[LonLat] = Field(default_factory=list)
    highway_classes: list[str] = Field(default_factory=list)
    set_highway: str | None = None
    set_surface: str | None = None
    set_tracktype: str | None = None
    set_smoothness: str | None = None

    @model_validator(mode="after")
    def _target(self) -> UpgradeRoad:
        if not self.way_ids and len(self.polygon) < 3:
            raise ValueError("choose roads with `way_ids` or a `polygon` of 3 or more points")
        for point in self.polygon:
            _check_lon_lat(point)
        if not any((self.set_highway, self.set_surface, self.set_tracktype, self.set_smoothness)):
            raise ValueError(
                "say what changes: set_highway, set_surface, set_tracktype or set_smoothness"
            )
        return self


class AddRoad(_Strict):
    """Build a new road segment between two points (lon/lat).

    An endpoint within 200 m of an existing road point joins the network there.

    Attributes
    ----------
    op
        ``"add_road"``.
    start, end
        The endpoints, ``[lon, lat]`` in decimal degrees.
    highway
        Its OSM ``highway`` class (its speed in each mode).
    surface
        Its OSM ``surface``.
    name
        Its name.
    """

    op: Literal["add_road"]
    start: LonLat
    end: LonLat
    highway: str = "tertiary"
    surface: str = "asphalt"
    name: str = ""

    @model_validator(mode="after")
    def _points(self) -> AddRoad:
        _check_lon_lat(self.start)
        _check_lon_lat(self.end)
        return self


class CloseRoad(_Strict):
    """Close roads or bridges (by OSM way id).

    Attributes
    ----------
    op
        ``"close_road"``.
    way_ids
        The ways to close to all traffic (at least one).
    """

    op: Literal["close_road"]
    way_ids: list[int] = Field(min_length=1)


class AddFerry(_Strict):
    """Start a ferry route between two points (lon/lat).

    Each endpoint moves onto the nearest road point or ferry terminal within 2 km (its port).

    Attributes
    ----------
    op
        ``"add_ferry"``.
    start, end
        The ports, ``[lon, lat]`` in decimal degrees.
    headway_min
        Minutes between departures (> 0).
    speed_kph
        Crossing speed in km/h; default the mode's ferry speed.
    duration_min
        Crossing time in minutes; wins over ``speed_kph`` when both are given.
    name
        Its name.
    """

    op: Literal["add_ferry"]
    start: LonLat
    end: LonLat
    headway_min: float = Field(gt=0)
    speed_kph: float | None = Field(default=None, gt=0, le=100)
    duration_min: float | None = Field(default=None, gt=0)
    name: str = ""

    @model_validator(mode="after")
    def _points(self) -> AddFerry:
        _check_lon_lat(self.start)
        _check_lon_lat(self.end)
        return self


class ChangeFerry(_Strict):
    """Change the headway or speed of ferries (by way id, or all of them).

    Attributes
    ----------
    op
        ``"change_ferry"``.
    way_ids
        The ferry routes to change.
    all
        Change every ferry route.
    headway_min
        New minutes between departures.
    speed_kph
        New crossing speed in km/h (overrides a ``duration`` tag).
    """

    op: Literal["change_ferry"]
    way_ids: list[int] = Field(default_factory=list)
    all: bool = False
    headway_min: float | None = Field(default=None, gt=0)
    speed_kph: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _target(self) -> ChangeFerry:
        if not self.way_ids and not self.all:
            raise ValueError("choose ferries with `way_ids` or `all = true`")
        if self.headway_min is None and self.speed_kph is None:
            raise ValueError("say what changes: headway_min or speed_kph")
        return self


class SuspendFerry(_Strict):
    """Suspend ferries (by way id, or all of them).

    Attributes
    ----------
    op
        ``"suspend_ferry"``.
    way_ids
        The ferry routes to suspend.
    all
        Suspend every ferry route.
    """

    op: Literal["suspend_ferry"]
    way_ids: list[int] = Field(default_factory=list)
    all: bool = False

    @model_validator(mode="after")
    def _target(self) -> SuspendFerry:
        if not self.way_ids and not self.all:
            raise ValueError("choose ferries with `way_ids` or `all = true`")
        return self


class Season(_Strict):
    """A season: speed multipliers on unpaved roads, closed fords, a share of the year.

    Each service's result is the season variant leaving fewest people within its largest
    threshold; the seasons table weights every variant by its share of the year.

    Attributes
    ----------
    op
        ``"season"``.
    name
        The season's name (e.g. ``"rainy season"``).
    share_of_year
        Its share of the year, in (0, 1]; the seasons of an alternative add up to 1 at most,
        and the rest of the year keeps the alternative's roads.
    surface_multipliers
        Speed multiplier (0–1) by ``surface`` value; ``unpaved`` also applies to tracks,
        paths and unclassified roads with no surface tag. 0 closes the road.
    tracktype_multipliers
        Speed multiplier (0–1) by ``tracktype``; a road takes the smaller of its two.
    walk_multiplier
        Multiplier (0, 1] on the off-network walking speed.
    close_fords
        Close ways tagged ``ford`` (any value but ``no``).
    """

    op: Literal["season"]
    name: str = Field(min_length=1, max_length=64)
    share_of_year: float = Field(gt=0, le=1)
    surface_multipliers: dict[str, float] = Field(default_factory=dict)
    tracktype_multipliers: dict[str, float] = Field(default_factory=dict)
    walk_multiplier: float = Field(default=1.0, gt=0, le=1)
    close_fords: bool = False

    @model_validator(mode="after")
    def _factors(self) -> Season:
        for key, value in {**self.surface_multipliers, **self.tracktype_multipliers}.items():
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"multiplier of {key!r} must be between 0 and 1")
        return self


class VehicleAvailability(_Strict):
    """Only a share of people has the service's vehicle; the rest walk.

    Attributes
    ----------
    op
        ``"vehicle_availability"``.
    service
        The service's name.
    share
        Share of people (0–1) who travel with the service's mode.
    """

    op: Literal["vehicle_availability"]
    service: str
    share: float = Field(ge=0, le=1)


class ConnectivitySpec(_Strict):
    """Where mobile data works: polygons, a raster (cells > threshold), or towers with a range.

    Attributes
    ----------
    kind
        ``"polygons"``, ``"raster"`` or ``"towers"``.
    path
        The layer, relative to the scenario file.
    layer
        Layer of a multi-layer vector file.
    range_m
        The towers' range in metres (needed for towers; at most 100 km).
    threshold
        For a raster: cells above this value are connected.
    """

    kind: Literal["polygons", "raster", "towers"]
    path: LocalPath
    layer: str | None = None
    range_m: float | None = Field(default=None, gt=0, le=100_000)
    threshold: float = 0.0

    @model_validator(mode="after")
    def _range(self) -> ConnectivitySpec:
        if self.kind == "towers" and self.range_m is None:
            raise ValueError("tower points need `range_m`")
        return self


class Telemedicine(_Strict):
    """Remote consultations for a health service where there is connectivity.

    Attributes
    ----------
    op
        ``"telemedicine"``.
    service
        The service's name.
    remote_share
        Share of demand in a connected cell that can be served remotely, in (0, 1].
    connectivity
        Where mobile data works.
    hub_and_spoke
        Also count the referral trips from connected primary facilities to the hubs that
        remote consultations avoid.
    referral_tier
        The hubs' tier.
    referral_share
        Share of primary-care visits referred on to a hub, in [0, 1].
    visits_per_person_year
        Visits a person makes to primary care a year (for the referral counts).
    """

    op: Literal["telemedicine"]
    service: str
    remote_share: float = Field(gt=0, le=1)
    connectivity: ConnectivitySpec
    hub_and_spoke: bool = False
    referral_tier: str = "hospital"
    referral_share: float = Field(default=0.1, ge=0, le=1)
    #: Visits a person makes to primary care a year (for the referral counts).
    visits_per_person_year: float = Field(default=1.0, gt=0, le=50)


class DigitalLearning(_Strict):
    """Online learning for a school service where there is connectivity.

    Attributes
    ----------
    op
        ``"digital_learning"``.
    service
        The service's name.
    remote_share
        Share of demand in a connected cell that can be served online, in (0, 1].
    connectivity
        Where mobile data works.
    """

    op: Literal["digital_learning"]
    service: str
    remote_share: float = Field(gt=0, le=1)
    connectivity: ConnectivitySpec


Operation = Annotated[
    AddFacility
    | CloseFacility
    | UpgradeFacility
    | UpgradeRoad
    | AddRoad
    | CloseRoad
    | AddFerry
    | ChangeFerry
    | SuspendFerry
    | Season
    | VehicleAvailability
    | Telemedicine
    | DigitalLearning,
    Field(discriminator="op"),
]


#: Operations that only make access worse: an alternative made of these alone is a stress test.
STRESS_TEST_OPS: frozenset[str] = frozenset(
    {"close_facility", "close_road", "suspend_ferry", "season", "vehicle_availability"}
)


class Alternative(_Strict):
    """A named alternative: the baseline plus operations.

    Attributes
    ----------
    name
        Its name (letters, digits, ``_`` and ``-``, up to 64; not ``baseline``), unique in the
        file; its outputs go to ``alternatives/<name>/``.
    label
        Its display name per report language (as a service's ``label``).
    description
        Free text about it.
    cost
        Its cost (≥ 0), for the gain-per-cost columns; in the ``[scenario]`` currency when one
        is given.
    kind
        ``"investment"`` (something a planner could build or pay for: facilities, roads,
        ferries, telemedicine, online learning) or ``"stress_test"`` (access made worse on
        purpose to see how robust it is: a wet season, few vehicles, closures, a suspended
        ferry). Reports rank investments among themselves and show stress tests apart, as
        losses against the baseline. Left out, it is inferred from the operations (see
        :attr:`resolved_kind`).
    operations
        What it changes, applied in order (at most 1,000).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
    label: dict[str, Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=dict, max_length=20
    )
    description: str = ""
    cost: float | None = Field(default=None, ge=0)
    kind: Literal["investment", "stress_test"] | None = None
    operations: list[Operation] = Field(default_factory=list, max_length=MAX_OPERATIONS)

    @property
    def resolved_kind(self) -> Literal["investment", "stress_test"]:
        """Its ``kind``, or the one its operations imply when it gives none.

        An alternative whose operations are all of :data:`STRESS_TEST_OPS` (closing a facility
        or a road, suspending a ferry, a season, vehicle availability) — at least one — is a
        stress test; any other operation (a new or upgraded facility or road, a new ferry, a
        changed ferry timetable, telemedicine, online learning) makes it an investment, and so
        does having no operation.

        Returns
        -------
        str
            ``"investment"`` or ``"stress_test"``.
        """
        if self.kind is not None:
            return self.kind
        ops = {op.op for op in self.operations}
        return "stress_test" if ops and ops <= STRESS_TEST_OPS else "investment"


class ScenarioSpec(_Strict):
    """A whole scenario file, version 1.

    Attributes
    ----------
    version
        The file format's version: 1.
    scenario
        Its name and description.
    region
        The region's input files.
    grid
        The analysis grid and the off-network walk.
    ferries
        Ferry timetable assumptions.
    modes
        Settings laid over each travel mode's default profile, by mode (e.g.
        ``highway_kph = { track = 15 }`` under ``[modes.motorbike]``): tables merge key by
        key, other settings are replaced.
    services
        The services (1 to 32, unique names).
    outputs
        What to write and where.
    alternatives
        The alternatives evaluated against the baseline (at most 500, unique names).
    sensitivity
        Ranges for the baseline's coverage figures over a sample of the speed tables.
    """

    version: Literal[1] = 1
    scenario: ScenarioMeta
    region: RegionSpec
    grid: GridSpec = GridSpec()
    ferries: FerrySpec = FerrySpec()
    modes: dict[Literal["walk", "motorbike", "car"], dict[str, Any]] = Field(default_factory=dict)
    services: list[ServiceSpec] = Field(max_length=MAX_SERVICES)
    outputs: OutputsSpec = OutputsSpec()
    alternatives: list[Alternative] = Field(default_factory=list, max_length=MAX_ALTERNATIVES)
    sensitivity: SensitivitySpec = SensitivitySpec()
    #: Folder that relative paths are resolved against (the scenario file's folder).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    #: The file it was read from, for messages.
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _checks(self) -> ScenarioSpec:
        """Checks across tables: services, OSM facilities and alternatives' names."""
        if not self.services:
            raise ValueError("give at least one [[services]] entry")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique: {names}")
        for svc in self.services:
            if svc.facilities.from_osm and self.region.osm is None:
                raise ValueError(f"service {svc.name!r} reads facilities from OSM but no `osm`")
        alt_names = [a.name for a in self.alternatives]
        if "baseline" in alt_names or len(set(alt_names)) != len(alt_names):
            raise ValueError(f"alternative names must be unique and not 'baseline': {alt_names}")
        for alt in self.alternatives:
            for op in alt.operations:
                check_operation(op, self.services, where=f"alternative {alt.name!r}")
        return self

    def input_paths(self) -> list[Path]:
        """Every input file the scenario names, resolved (operations' layers included).

        Returns
        -------
        list of Path
            Absolute paths, sorted, each once (files that do not exist are listed too).

        Raises
        ------
        ScenarioError
            When a path leads outside the project folder.
        """
        r = self.region
        files = [r.population] if r.population else []
        if r.population_counts:
            c = r.population_counts
            files += [c.path] + ([c.zones.path] if c.zones else [])
            files += [c.weights.path] if c.weights else []
        files += [level.path for level in r.zone_levels]
        files += [r.osm] if r.osm else []
        files += [r.roads.path] if r.roads else []
        files += [r.boundaries.path] if r.boundaries else []
        files += [r.population_correction.path] if r.population_correction else []
        if r.landcover:
            files += (
                [r.landcover.path] if r.landcover.path else list(r.landcover.fractions.values())
            )
        files += list(r.dem) + [b.path for b in r.barriers] + [w.path for w in r.water]
        files += [s.facilities.path for s in self.services if s.facilities.path]
        for alt in self.alternatives:
            files += [
                op.connectivity.path
                for op in alt.operations
                if isinstance(op, Telemedicine | DigitalLearning)
            ]
        return sorted({self.resolve(f) for f in files})

    def protected_paths(self) -> list[Path]:
        """Folders an output folder of this scenario may never be, nor contain.

        The project folder, the scenario's folder and the folder of every input file.

        Returns
        -------
        list of Path
            Absolute folders, sorted.

        Raises
        ------
        ScenarioError
            When an input path leads outside the project folder.
        """
        from reach.settings import project_root

        folders = {project_root(self._base_dir), self._base_dir}
        if self._source is not None:
            folders.add(Path(self._source).resolve().parent)
        inputs = self.input_paths()
        folders |= {p.parent for p in inputs} | {p for p in inputs if p.is_dir()}
        return sorted(folders)

    def resolve(self, path: Path) -> Path:
        """Resolve a path of this file against its folder (``${REACH_DATA}`` expanded).

        Parameters
        ----------
        path
            A path as the scenario file gives it (relative to :attr:`base_dir`, or absolute).

        Returns
        -------
        Path
            The absolute path, ``..`` collapsed and symlinks followed.

        Raises
        ------
        ScenarioError
            When the path leaves the project folder (see :func:`reach.settings.allowed_roots`),
        or is a URL, a GDAL virtual path or not plain text.
        """
        resolved = resolve_path(path, self._base_dir)
        roots = allowed_roots(self._base_dir)
        if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
            raise ScenarioError(
                f"path {str(path)!r} points outside the project folder {roots[0]}",
                path=self._source or self._base_dir,
                fix=f"keep inputs and outputs inside the project folder or ${{{DATA_ENV}}}, "
                f"or list the folder in {ALLOW_ENV}",
            )
        return resolved

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self._base_dir

    def with_base_dir(self, folder: Path) -> ScenarioSpec:
        """Return a copy whose relative paths resolve against ``folder``.

        Parameters
        ----------
        folder
            The folder relative paths resolve against (made absolute).

        Returns
        -------
        ScenarioSpec
            The copy (this scenario is unchanged).
        """
        copy = self.model_copy()
        copy._base_dir = folder.resolve()
        return copy


def resolve_path(path: Path | str, base_dir: Path) -> Path:
    """Expand ``${REACH_DATA}``, make ``path`` absolute against ``base_dir`` and resolve it.

    ``..`` is collapsed and every symlink followed, so the project-folder check that follows
    sees where the path really leads.

    Parameters
    ----------
    path
        The path as written (``~`` and ``${REACH_DATA}`` or ``$REACH_DATA`` expanded).
    base_dir
        The folder a relative path is taken from.

    Returns
    -------
    Path
        The absolute, resolved path.

    Raises
    ------
    ScenarioError
        For URLs, GDAL virtual file system paths, NUL bytes and over-long names.
    """
    text = str(path)
    if _FORBIDDEN.match(text) or "/vsi" in text.lower() or "://" in text:
        raise ScenarioError(
            f"path {text[:200]!r} is a URL or a GDAL virtual file system path",
            fix="give a local file path",
        )
    check_path_text(text)
    text = text.replace("${" + DATA_ENV + "}", str(data_dir())).replace(
        "$" + DATA_ENV, str(data_dir())
    )
    p = Path(text).expanduser()
    return Path(os.path.realpath(p if p.is_absolute() else base_dir / p))


def check_path_text(text: str) -> None:
    """Refuse a path holding a NUL or control character, or with over-long names.

    Parameters
    ----------
    text
        The path as text: at most :data:`MAX_PATH_BYTES` bytes in all and
        :data:`MAX_NAME_BYTES` per name (UTF-8).

    Raises
    ------
    ScenarioError
        Naming the problem.
    """
    if "\x00" in text or _CONTROL.search(text):
        raise ScenarioError(
            f"path {text[:80]!r} holds a NUL or control character", fix="give a plain path"
        )
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in raw.split(b"/")):
        raise ScenarioError(
            f"path {text[:60]!r}… is too long (over {MAX_PATH_BYTES} bytes, or a name over "
            f"{MAX_NAME_BYTES})",
            fix="give a shorter path",
        )


def check_operation(op: Any, services: list[ServiceSpec], *, where: str) -> None:
    """Check an operation's names against the scenario's services and their tiers.

    Used by the scenario file and by the session API alike.

    Parameters
    ----------
    op
        The operation; one without a ``service`` is not checked.
    services
        The scenario's services.
    where
        Where the operation stands, for the message (e.g. ``"alternative 'new-road'"``).

    Raises
    ------
    ValueError
        For an unknown service, or a tier the service's ``tiers`` list refuses.
    """
    names = [s.name for s in services]
    svc_name = getattr(op, "service", None)
    if svc_name is None:
        return
    if svc_name not in names:
        raise ValueError(
            f"{where}: {op.op} names service {svc_name!r}, which is not one of {names}"
        )
    spec = services[names.index(svc_name)]
    tier = getattr(op, "tier", None)
    if tier is None:
        return
    from reach.codes import SERVICE_TIERS

    allowed = list(spec.facilities.tiers) or list(SERVICE_TIERS.get(spec.kind, ()))
    if allowed and tier not in allowed:
        raise ValueError(
            f"{where}: {op.op} gives tier {tier!r}, which service {svc_name!r} does not have "
            f"(its tiers: {allowed})"
        )


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best guess at the line of ``loc`` (a pydantic error location) in the TOML text."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    last = re.escape(keys[-1])
    patterns = [
        rf'^\s*"?{last}"?\s*=',
        rf"^\s*\[+\s*[\w.\-\"]*\b{last}\b[\w.\-\"]*\s*\]+",
        rf'[{{,]\s*"?{last}"?\s*=',
    ]
    lines = text.splitlines()
    for pat in patterns:
        for i, line in enumerate(lines, start=1):
            if re.search(pat, line):
                return i
    return None


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """A scenario file's text and its TOML tables, refusing what is not a small text file."""
    check_path_text(str(path))
    try:
        st = path.stat()
    except OSError:
        raise ScenarioError("scenario file not found", path=path, fix="check the path") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(
            "the scenario is not a regular file (a folder, a pipe or a device)",
            path=path,
            fix="give the .toml file",
        )
    if st.st_size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"the scenario file is {st.st_size / 2**20:,.1f} MiB, over the "
            f"{MAX_SCENARIO_BYTES // 2**20} MiB a scenario may have",
            path=path,
            fix="check it is the right file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", path=path, fix="save it as UTF-8 text") from exc
    return text, _parse_toml(text, path)


def _parse_toml(text: str, where: str | Path) -> dict[str, Any]:
    """TOML text parsed, a syntax error turned into a ScenarioError naming ``where``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=where, fix="correct the syntax") from exc
    except RecursionError:
        raise ScenarioError(
            "the TOML is nested too deeply to read", path=where, fix="flatten its tables and arrays"
        ) from None


def _with_extends(
    raw: dict[str, Any], path: Path | None, texts: list[tuple[str, str]], seen: tuple[Path, ...]
) -> dict[str, Any]:
    """Resolve ``extends = "other.toml"``: the other file's tables, overridden by this one's.

    The other file must sit in the same folder, so relative paths mean the same in both.
    """
    name = raw.pop("extends", None)
    if name is None:
        return raw
    where = str(path) if path else "<scenario>"
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".toml"):
        raise ScenarioError(
            f"extends = {name!r} must name a .toml file in the same folder",
            path=where,
            fix='write e.g. extends = "comoros.toml" and keep both files side by side',
        )
    if path is None:
        raise ScenarioError(
            "`extends` needs the scenario to be read from a file", path=where, fix="load a file"
        )
    base_path = Path(os.path.realpath(path.parent / name))
    if base_path in seen:
        raise ScenarioError(
            f"extends {name!r} loops back to itself", path=where, fix="break the cycle"
        )
    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            f"extends chains more than {MAX_EXTENDS_DEPTH} files",
            path=where,
            fix="start from a file nearer the base",
        )
    roots = allowed_roots(path.parent)
    if not any(base_path == r or base_path.is_relative_to(r) for r in roots):
        raise ScenarioError(
            f"extends {name!r} leads outside the project folder {roots[0]} (a symlink?)",
            path=where,
            fix=f"keep the scenario files inside the project folder, or list the folder in "
            f"{ALLOW_ENV}",
        )
    text, base_raw = _read_toml(base_path)
    texts.append((str(base_path), text))
    base_raw = _with_extends(base_raw, base_path, texts, (*seen, base_path))
    return _merged(base_raw, raw)


def parse_scenario(
    text: str, *, path: Path | None = None, base_dir: Path | None = None
) -> ScenarioSpec:
    """Parse and validate scenario TOML text.

    A file may start from another with ``extends = "other.toml"`` (same folder): its tables are
    laid over the other file's, key by key; arrays such as ``[[alternatives]]`` replace them.

    Parameters
    ----------
    text
        The scenario's TOML text (at most :data:`MAX_SCENARIO_BYTES`).
    path
        The file it was read from: named in messages, and the folder ``extends`` looks in;
        ``None`` for text from elsewhere (then ``extends`` is refused).
    base_dir
        The folder relative paths resolve against; default ``path``'s folder, else the
        working folder.

    Returns
    -------
    ScenarioSpec
        The validated scenario.

    Raises
    ------
    ScenarioError
        With the file, the line and the key for the first problem.
    """
    where = str(path) if path else "<scenario>"
    if len(text) > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"the scenario text is over {MAX_SCENARIO_BYTES // 2**20} MiB",
            path=where,
            fix="check it",
        )
    raw = _parse_toml(text, where)
    texts = [(where, text)]
    resolved = Path(os.path.realpath(path)) if path else None
    raw = _with_extends(raw, resolved, texts, (resolved,) if resolved else ())
    folder = base_dir if base_dir is not None else (path.parent if path else Path.cwd())
    try:
        scn = ScenarioSpec.model_validate(raw).with_base_dir(folder)
        scn._source = path
        return scn
    except RecursionError:
        raise ScenarioError(
            "the scenario is nested too deeply to check", path=where, fix="flatten it"
        ) from None
    except ValidationError as exc:
        # a misspelt key shows up as unknown + missing: name the unknown one first
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(k) for k in loc) or "(top level)"
        place = where
        for file, file_text in texts:
            line = _line_of(file_text, loc)
            if line:
                place = f"{file}:{line}"
                break
        if err["type"] == "extra_forbidden":
            raise ScenarioError(
                f"unknown key {dotted!r}", path=place, fix="remove it or correct its spelling"
            ) from exc
        if err["type"] == "missing":
            raise ScenarioError(f"missing key {dotted!r}", path=place, fix="add it") from exc
        raise ScenarioError(
            f"{dotted}: {err['msg']} (got {err.get('input')!r})"[:300],
            path=place,
            fix="see the scenario reference in README.md",
        ) from exc


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario file (and the file it ``extends``, if any).

    Parameters
    ----------
    path
        The scenario TOML file; its relative paths resolve against its folder.

    Returns
    -------
    ScenarioSpec
        The validated scenario.

    Raises
    ------
    ScenarioError
        When the file is missing, not a regular file, too large, not UTF-8 TOML, or not a
        valid scenario (naming the file, line and key).
    """
    p = Path(path)
    text, _ = _read_toml(p)
    return parse_scenario(text, path=p)


# --- names a command or the session API checks against the scenario ---------------------------


def check_service(
    scn: ScenarioSpec, service: object, *, option: str = "service", default_first: bool = True
) -> str:
    """The named service of ``scn`` (the first when ``service`` is empty and ``default_first``).

    Parameters
    ----------
    scn
        The scenario.
    service
        The service's name as the user gave it (any value; ``None`` or ``""`` when not given).
    option
        How the user gave it, for the message (e.g. ``"--service"``).
    default_first
        Take the scenario's first service when ``service`` is not given; if False, refuse.

    Returns
    -------
    str
        The service's name.

    Raises
    ------
    ScenarioError
        When the scenario has no such service (or none is named and ``default_first`` is
        False), listing the names it has.
    """
    names = [s.name for s in scn.services]
    if service is None or service == "":
        if default_first:
            return names[0]
        raise ScenarioError(f"{option}: no service named", fix=f"use one of {', '.join(names)}")
    if not isinstance(service, str) or service not in names:
        raise ScenarioError(
            f"{option} {service!r}: the scenario has no such service",
            fix=f"use one of {', '.join(names)}",
        )
    return service


def _spec(scn: ScenarioSpec, service: str) -> ServiceSpec:
    """The service's spec, checked with :func:`check_service`."""
    return next(s for s in scn.services if s.name == check_service(scn, service))


def service_tiers(scn: ScenarioSpec, service: str) -> list[str]:
    """The tiers a facility of ``service`` may have: its declared ``tiers``, else its kind's.

    Parameters
    ----------
    scn
        The scenario.
    service
        The service's name (the first service when empty).

    Returns
    -------
    list of str
        The tiers, in their declared order, or from the top of the kind's referral chain
        down (e.g. ``hospital`` first).

    Raises
    ------
    ScenarioError
        When the scenario has no such service.
    """
    return tier_order(_spec(scn, service))


def check_tier(scn: ScenarioSpec, service: str, tier: object, *, option: str = "tier") -> str:
    """``tier`` if a facility of ``service`` may have it (as the facility files are checked).

    Parameters
    ----------
    scn
        The scenario.
    service
        The service's name.
    tier
        The tier as the user gave it (any value).
    option
        How the user gave it, for the message (e.g. ``"add_facility: tier"``).

    Returns
    -------
    str
        ``tier``.

    Raises
    ------
    ScenarioError
        When the service's tiers (its declared ``tiers``, else its kind's) do not include it,
        or the scenario has no such service.
    """
    tiers = service_tiers(scn, service)
    if not isinstance(tier, str) or tier not in tiers:
        raise ScenarioError(
            f"{option} {tier!r} is not a tier of service {service!r}",
            fix=f"use one of {', '.join(tiers)}",
        )
    return tier


def tier_order(spec: ServiceSpec) -> list[str]:
    """The service's declared tiers, else its kind's, from the top of the chain down.

    Parameters
    ----------
    spec
        The service.

    Returns
    -------
    list of str
        Its tiers, highest first (e.g. ``hospital`` first).
    """
    if spec.facilities.tiers:
        return list(spec.facilities.tiers)
    return list(HEALTH_TIERS if spec.kind == "health" else EDUCATION_TIERS)
