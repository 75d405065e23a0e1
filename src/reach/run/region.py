"""Load a region: read every input of a scenario onto its grid and build the baseline model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.errors import InputError, ScenarioError
from reach.findings import Finding
from reach.ingest.boundaries import read_zones
from reach.ingest.facilities import facilities_from_osm, read_facilities
from reach.ingest.landcover import (
    LandCover,
    read_cover_fractions,
    read_dem,
    read_landcover_classes,
)
from reach.ingest.layers import read_vector_layer
from reach.ingest.lines import read_road_lines
from reach.ingest.osm import read_osm_facilities, read_osm_places, read_osm_roads
from reach.ingest.population import Population, aggregate_population, read_population
from reach.ingest.rasters import RasterWindow, open_geotiff
from reach.ingest.roads import RoadLines
from reach.ingest.zone_totals import read_zone_totals
from reach.model.counts import (
    SpreadCounts,
    empty_zone_findings,
    grid_over,
    nested_shares,
    point_weights,
    polygon_weights,
    spread_counts,
)
from reach.model.facility_audit import location_findings, merge_duplicates, name_findings
from reach.model.grid import (
    AnalysisGrid,
    Friction,
    build_friction,
    grid_from_population,
    warp_layer,
)
from reach.model.noding import NodingReport, node_lines
from reach.model.population_correction import PopulationCorrection, correct_population
from reach.model.region import Region, RegionInputs, ZoneLevel
from reach.model.zones import ZoneShares, zone_shares
from reach.progress import Clock
from reach.run.cache import cached_friction
from reach.run.checks import (
    check_layers_overlap,
    check_memory,
    require_on_grid,
    require_overlap,
)
from reach.spec import (
    BoundariesSpec,
    ScenarioSpec,
    ServiceSpec,
    ZoneLevelSpec,
)

__all__ = [
    "correct_region_population",
    "friction_inputs",
    "load_region",
    "read_count_population",
    "read_count_weights",
    "read_landcover",
    "read_region_inputs",
    "read_roads",
    "read_service_facilities",
    "read_zone_layer",
    "read_zone_levels",
    "region_friction",
]

_log = logging.getLogger("reach")


def read_roads(scn: ScenarioSpec) -> tuple[RoadLines, NodingReport | None]:
    """The region's roads and ferries, from its OSM extract or else its road-line layer.

    Parameters
    ----------
    scn
        The validated scenario; ``[region] osm`` is read when given (``[region.roads]`` is then
        not read), else the ``[region.roads]`` layer with its class column, noded with its
        ``node_tolerance_m`` and ``split_crossings`` (:func:`reach.model.noding.node_lines`).

    Returns
    -------
    RoadLines
        The baseline road and ferry lines, in the file's CRS; no lines at all for a region
        with neither (a walking-only region).
    NodingReport or None
        What noding the line layer repaired; ``None`` for OSM input, which its node ids
        already join.
    """
    region = scn.region
    if region.osm is not None:
        return read_osm_roads(scn.resolve(region.osm)), None
    if region.roads is None:
        return RoadLines.empty(), None
    spec = region.roads
    lines = read_road_lines(
        scn.resolve(spec.path),
        class_column=spec.class_column,
        layer=spec.layer,
        ferry_classes=spec.ferry_classes,
    )
    noded, report = node_lines(
        lines, tolerance_m=spec.node_tolerance_m, split_crossings=spec.split_crossings
    )
    if report.ends_joined or report.crossings_split:
        _log.info(
            "road lines noded: %d line ends joined, %d crossings split; %d parts -> %d",
            report.ends_joined,
            report.crossings_split,
            report.components_before,
            report.components_after,
        )
    return noded, report


def read_landcover(scn: ScenarioSpec) -> LandCover | None:
    """The region's land cover (a class raster or cover-fraction rasters), if it has any.

    Parameters
    ----------
    scn
        The validated scenario; its ``[region.landcover]`` table says which rasters to read.

    Returns
    -------
    LandCover or None
        The classes (with their labels) or the cover fractions; ``None`` without a
        ``[region.landcover]`` table.

    Raises
    ------
    InputError
        When the ``labels`` keys are not integer class values, or a raster is refused.
    """
    spec = scn.region.landcover
    if spec is None:
        return None
    if spec.path is not None:
        try:
            labels = {int(k): v for k, v in spec.labels.items()}
        except ValueError as exc:
            raise InputError(
                "land-cover labels must map integer class values to names",
                path=scn.resolve(spec.path),
                fix='write labels as { "1" = "Built_area", ... }',
            ) from exc
        return read_landcover_classes(scn.resolve(spec.path), labels=labels)
    return read_cover_fractions({k: scn.resolve(v) for k, v in spec.fractions.items()})


def read_service_facilities(
    scn: ScenarioSpec,
    svc: ServiceSpec,
    osm_cache: dict[str, gpd.GeoDataFrame],
    *,
    findings: list[Finding] | None = None,
) -> gpd.GeoDataFrame:
    """A service's baseline facilities, filtered to its tiers, sorted by ``facility_id``.

    Parameters
    ----------
    scn
        The validated scenario.
    svc
        The service, whose ``[services.facilities]`` table says where its facilities come
        from (a file, or the region's OSM extract) and which tiers to keep.
    osm_cache
        Shared by the services of one load, so the OSM extract's features are read once; the
        first service reading from OSM fills it.
    findings
        Where the audit's findings are appended: duplicates merged (or kept, with
        ``merge_duplicates = false``) and facilities without a name
        (:mod:`reach.model.facility_audit`).

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities in lon/lat (EPSG:4326), with ``service`` set to the service's name,
        missing capacities filled from ``capacity_by_tier``, and two records of one facility
        within ``duplicate_within_m`` merged into one.

    Raises
    ------
    InputError
        When no facility has one of the service's ``tiers``, or the facility file is refused.
    """
    spec = svc.facilities
    if spec.from_osm:
        assert scn.region.osm is not None
        osm_path = scn.resolve(scn.region.osm)
        if "features" not in osm_cache:
            osm_cache["features"] = read_osm_facilities(osm_path)
        fac = facilities_from_osm(osm_cache["features"], service=svc.kind, source=osm_path)
    else:
        assert spec.path is not None
        fac = read_facilities(
            scn.resolve(spec.path),
            service=svc.kind,
            id_column=spec.id_column,
            name_column=spec.name_column,
            tier_column=spec.tier_column,
            tier_map=spec.tier_map or None,
            default_tier=spec.default_tier,
            capacity_column=spec.capacity_column,
            lon_column=spec.lon_column,
            lat_column=spec.lat_column,
            layer=spec.layer,
            where=spec.where or None,
            from_osm_tags=spec.from_osm_tags,
        )
    if spec.tiers:
        fac = fac[fac["tier"].isin(spec.tiers)]
        if fac.empty:
            raise InputError(
                f"service {svc.name!r}: no facility has a tier in {spec.tiers}",
                path=scn.resolve(spec.path) if spec.path else scn.region.osm,
                fix="check `tiers` against the tiers the facility file holds",
            )
    fac = fac.to_crs("EPSG:4326").copy()
    fac["service"] = svc.name
    if spec.capacity_by_tier:
        by_tier = fac["tier"].map(spec.capacity_by_tier).astype(float)
        fac["capacity"] = fac["capacity"].astype(float).fillna(by_tier)
    fac = fac.sort_values("facility_id", kind="stable").reset_index(drop=True)
    fac, merged = merge_duplicates(
        fac,
        service=svc.name,
        kind=svc.kind,
        from_osm=spec.from_osm,
        within_m=spec.duplicate_within_m,
        merge=spec.merge_duplicates,
    )
    if findings is not None:
        findings.extend(merged)
        findings.extend(name_findings(fac, service=svc.name))
    return fac.reset_index(drop=True)


def read_zone_layer(
    scn: ScenarioSpec, grid: AnalysisGrid
) -> tuple[gpd.GeoDataFrame, np.ndarray, ZoneShares | None]:
    """Reporting zones, their zone number per cell and their membership (one zone if none).

    Parameters
    ----------
    scn
        The validated scenario; ``[region.boundaries]`` gives the zones file, its columns and
        any ``rename``.
    grid
        The analysis grid the zones are measured on (``[region.boundaries] membership``: the
        exact share of each cell inside each zone, or each cell by its centre).

    Returns
    -------
    zones : geopandas.GeoDataFrame
        ``zone_id``, ``name`` and ``geometry``, names renamed as asked; without boundaries one
        zone ``"region"`` named after the scenario, with no geometry.
    zone : numpy.ndarray
        ``int32`` (rows, cols): ``k+1`` for row ``k`` of ``zones``, 0 outside every zone (1
        everywhere without boundaries); a shared cell's zone is its largest share.
    shares : ZoneShares or None
        The cells' membership, measured once (``None`` without boundaries).

    Raises
    ------
    ScenarioError
        When ``rename`` names a zone id the file does not have.
    """
    if scn.region.boundaries is None:
        zones = gpd.GeoDataFrame(
            {"zone_id": ["region"], "name": [scn.scenario.name]}, geometry=[None], crs=grid.crs
        )
        return zones, np.ones(grid.shape, dtype=np.int32), None
    b = scn.region.boundaries
    zones = _read_zone_spec(scn, b)
    unknown = sorted(set(b.rename) - set(zones["zone_id"].astype(str)))
    if unknown:
        raise ScenarioError(
            f"[region.boundaries] rename: no zone with id {', '.join(map(repr, unknown))}",
            path=scn.resolve(b.path),
            fix=f"use ids from the id column: {', '.join(zones['zone_id'].astype(str)[:10])}",
        )
    if b.rename:
        zones = zones.copy()
        zones["name"] = [
            b.rename.get(str(i), n) for i, n in zip(zones["zone_id"], zones["name"], strict=True)
        ]
    shares = zone_shares(zones, grid, membership=b.membership)
    return zones, shares.zone, shares


def _read_zone_spec(scn: ScenarioSpec, spec: BoundariesSpec | ZoneLevelSpec) -> gpd.GeoDataFrame:
    """The zones a boundaries-like table names, filtered by its ``where``."""
    return read_zones(
        scn.resolve(spec.path), id_column=spec.id_column, name_column=spec.name_column,
        layer=spec.layer, where=spec.where or None,
    )  # fmt: skip


def _same_zones(a: BoundariesSpec | None, b: BoundariesSpec | None) -> bool:
    """Whether two zone tables name the same zones (same file, layer, columns and filter)."""
    if a is None or b is None:
        return False
    keys = ("path", "layer", "id_column", "where")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def read_zone_levels(scn: ScenarioSpec, grid: AnalysisGrid) -> tuple[ZoneLevel, ...]:
    """The ``[[region.zone_levels]]`` and their exact membership on the grid.

    Parameters
    ----------
    scn
        The validated scenario.
    grid
        The analysis grid.

    Returns
    -------
    tuple of ZoneLevel
        One per level, in the scenario's order.
    """
    membership = scn.region.boundaries.membership if scn.region.boundaries else "exact"
    levels = []
    for spec in scn.region.zone_levels:
        zones = _read_zone_spec(scn, spec)
        path = scn.resolve(spec.path)
        zb = zones.total_bounds
        require_overlap(
            [((float(zb[0]), float(zb[1]), float(zb[2]), float(zb[3])), zones.crs)],
            grid, what=f"zone level {spec.name!r}", path=path,
        )  # fmt: skip
        shares = zone_shares(zones, grid, membership=membership)
        levels.append(ZoneLevel(name=spec.name, zones=zones, membership=shares))
    return tuple(levels)


def _counted_membership(
    spread: SpreadCounts,
    pop: Population,
    zones: gpd.GeoDataFrame,
    shares: ZoneShares,
    grid: AnalysisGrid,
) -> ZoneShares:
    """Zones nested by code in the count zones report the people counted in them."""
    nested = nested_shares(
        spread.origin, pop.people, origin_ids=spread.table["zone_id"].tolist(),
        level=shares, level_ids=zones["zone_id"].astype(str).tolist(),
        geometry=zones.geometry, grid=grid,
    )  # fmt: skip
    return shares if nested is None else nested


def read_count_weights(scn: ScenarioSpec, grid: AnalysisGrid) -> np.ndarray | None:
    """The weights ``[region.population_counts.weights]`` gives each cell of the grid.

    Parameters
    ----------
    scn
        The validated scenario.
    grid
        The grid the counts are spread over.

    Returns
    -------
    numpy.ndarray or None
        ``float64`` (rows, cols) ≥ 0 (0 where the layer has nothing or no data); ``None``
        without a weight layer.

    Raises
    ------
    InputError
        When the layer cannot be read, lacks the column, has lines, or gives negative weights.
    """
    spec = scn.region.population_counts
    if spec is None or spec.weights is None:
        return None
    w = spec.weights
    path = scn.resolve(w.path)
    what = "population weight layer"
    if path.suffix.lower() in (".tif", ".tiff"):
        t = grid.transform
        bounds = (t.c, t.f + t.e * grid.rows, t.c + t.a * grid.cols, t.f)
        layer = open_geotiff(path, what=what, window=RasterWindow(bounds, grid.crs))
        if layer is None:
            raise InputError(
                "the weight raster does not cover the count zones", path=path,
                fix="give a raster of the study area, or drop `weights` to spread evenly",
            )  # fmt: skip
        if w.class_weights:
            values = np.zeros(layer.values.shape, dtype=np.float64)
            for key, weight in w.class_weights.items():
                values[layer.values == float(key)] = weight
            layer = replace(layer, values=values)
        out = warp_layer(layer, grid)
    else:
        frame = read_vector_layer(path, what=what, layer=w.layer)
        if w.column is not None and w.column not in frame.columns:
            cols = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
            raise InputError(
                f"the {what} has no column {w.column!r} (columns: {cols})", path=path,
                fix="set `column` in [region.population_counts.weights] to one of them",
            )  # fmt: skip
        frame = frame.to_crs(grid.crs)
        t = grid.transform
        frame = frame.cx[t.c : t.c + t.a * grid.cols, t.f + t.e * grid.rows : t.f]
        values = (
            np.ones(len(frame))
            if w.column is None
            else np.asarray(pd.to_numeric(frame[w.column], errors="coerce"), dtype=np.float64)
        )
        values = np.where(np.isfinite(values), values, 0.0)
        kinds = set(frame.geometry.geom_type)
        if kinds & {"LineString", "MultiLineString"}:
            raise InputError(
                f"the {what} has lines; weights come from polygons, points or a raster",
                path=path, fix="give settlement polygons, building points or a raster",
            )  # fmt: skip
        if kinds <= {"Point", "MultiPoint"}:
            pts = frame.geometry.representative_point()
            out = point_weights(pts.x.to_numpy(), pts.y.to_numpy(), values, grid)
        else:
            out = polygon_weights(frame.reset_index(drop=True), values, grid)
    out = np.where(np.isfinite(out), out, 0.0)
    if (out < 0).any():
        raise InputError(
            f"the {what} gives negative weights (min {float(out.min()):g})", path=path,
            fix="give weights ≥ 0 (a share of settlement, a count of buildings)",
        )  # fmt: skip
    return out


def read_count_population(
    scn: ScenarioSpec, *, max_cells: Callable[[int, int], None] | None = None
) -> tuple[Population, SpreadCounts, gpd.GeoDataFrame]:
    """The people of ``[region.population_counts]`` spread over a grid made over their zones.

    Parameters
    ----------
    scn
        The validated scenario (with ``[region.population_counts]``).
    max_cells
        Called with the grid's rows and columns before anything is spread on it.

    Returns
    -------
    population : Population
        People per cell (valid where a zone covers the cell); its ``total`` the counts' total.
    spread : SpreadCounts
        Each zone's count and where it was placed, and the cells' origin by zone.
    zones : geopandas.GeoDataFrame
        The count zones (``zone_id``, ``name``, ``geometry``).

    Raises
    ------
    InputError
        When the table, the zones or the weights are refused, or the grid would be too large.
    """
    spec = scn.region.population_counts
    zspec = scn.region.count_zones()
    assert spec is not None and zspec is not None
    table = scn.resolve(spec.path)
    zones = _read_zone_spec(scn, zspec)
    try:
        grid = grid_over(zones, cell_size_m=spec.cell_size_m, crs=spec.crs)
    except ValueError as exc:
        raise InputError(
            f"[region.population_counts]: {exc}", path=scn.resolve(zspec.path),
            fix="set a larger cell_size_m, or a projected crs in metres",
        ) from None  # fmt: skip
    if max_cells is not None:
        max_cells(grid.rows, grid.cols)
    ids = zones["zone_id"].astype(str).tolist()
    ignored: list[str] = []
    totals = read_zone_totals(
        table, zone_column=spec.zone_column, total_column=spec.total_column, zone_ids=ids,
        table="[region.population_counts]", ignored=ignored,
    )  # fmt: skip
    shares = zone_shares(zones, grid, membership="exact")
    inside = zones.to_crs(grid.crs).geometry.representative_point()
    fallback = grid.cell_of(inside.x.to_numpy(), inside.y.to_numpy())
    weights = read_count_weights(scn, grid)
    wname = f"the weight layer {scn.resolve(spec.weights.path).name}" if spec.weights else ""
    try:
        spread = spread_counts(
            shares, [totals[z] for z in ids], zone_ids=ids,
            zone_names=zones["name"].astype(str).tolist(), weights=weights,
            fallback_cells=fallback, weight_name=wname,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(
            str(exc), path=scn.resolve(zspec.path), fix="check that zone's polygon"
        ) from None
    valid = (shares.zone > 0) | (spread.people > 0)
    if shares.cells.size:
        valid.ravel()[shares.cells] = True
    if ignored:
        _log.info(
            "%s: %d rows for zones the zones file does not hold were left out (%s)",
            table.name, len(ignored), ", ".join(ignored[:8]),
        )  # fmt: skip
    spread.table.attrs["ignored_rows"] = ignored
    pop = Population(
        people=spread.people, valid=valid, transform=grid.transform, crs=grid.crs, path=table,
        total=spread.total, nodata_inferred=False,
    )  # fmt: skip
    return pop, spread, zones


def friction_inputs(scn: ScenarioSpec, *, pop: Population) -> dict[str, Any]:
    """Read the layers the walking friction is built from, once.

    Parameters
    ----------
    scn
        The validated scenario; the DEM is read only when ``[grid] slope`` is on.
    pop
        The population on the grid: cells without data become impassable, and populated cells
        the land cover calls water are kept as land.

    Returns
    -------
    dict
        Keyword arguments of :func:`reach.model.grid.build_friction` (all but the grid).
    """
    region = scn.region
    dem = read_dem([scn.resolve(p) for p in region.dem]) if region.dem and scn.grid.slope else []
    barriers = [
        (read_vector_layer(scn.resolve(x.path), what="barrier layer", layer=x.layer), x.all_touched)
        for x in region.barriers
    ]
    water = [
        (read_vector_layer(scn.resolve(x.path), what="water layer", layer=x.layer), x.all_touched)
        for x in region.water
    ]
    lc = region.landcover
    return {
        "valid": pop.valid,
        "populated": pop.people > 0,
        "default_walk_kph": scn.grid.default_walk_kph,
        "landcover": read_landcover(scn),
        "landcover_kph": lc.speeds_kph if lc else None,
        "water_fraction_classes": lc.water_classes if lc else (),
        "dem": dem,
        "barriers": barriers,
        "water": water,
    }


def region_friction(scn: ScenarioSpec, *, grid: AnalysisGrid, pop: Population) -> Friction:
    """Read land cover, elevation, barriers and water, and build the walking friction.

    Parameters
    ----------
    scn
        The validated scenario; the DEM is read only when ``[grid] slope`` is on.
    grid
        The analysis grid.
    pop
        The population on the grid: cells without data become impassable, and populated cells
        the land cover calls water are kept as land.

    Returns
    -------
    Friction
        Walking pace (minutes per metre), status and elevation per cell.
    """
    return build_friction(grid, **friction_inputs(scn, pop=pop))


def correct_region_population(
    scn: ScenarioSpec,
    pop: Population,
    zones: gpd.GeoDataFrame,
    membership: np.ndarray | ZoneShares,
) -> tuple[Population, PopulationCorrection | None]:
    """The population rescaled per zone to ``[region.population_correction]``, if asked for.

    Parameters
    ----------
    scn
        The validated scenario.
    pop
        The population on the analysis grid.
    zones
        The reporting zones (their ``zone_id`` is matched to the table's ``zone_column``).
    membership
        Each cell's zone number, or the exact zone shares.

    Returns
    -------
    Population
        The corrected population (its ``total`` the corrected total), or ``pop`` unchanged.
    PopulationCorrection or None
        The factors per zone and the warnings; ``None`` without a correction table.

    Raises
    ------
    InputError
        When the table is refused (see :func:`reach.ingest.zone_totals.read_zone_totals`), or
        its totals add up to 0 in ``"shares"`` mode.
    """
    spec = scn.region.population_correction
    if spec is None:
        return pop, None
    path = scn.resolve(spec.path)
    ids = zones["zone_id"].astype(str).tolist()
    totals = read_zone_totals(
        path, zone_column=spec.zone_column, total_column=spec.total_column, zone_ids=ids
    )
    if spec.mode == "shares" and sum(totals.values()) <= 0:
        raise InputError(
            "the totals add up to 0, so they give no shares",
            path=path,
            fix='give each zone its people (or use mode = "totals")',
        )
    correction = correct_population(
        pop.people, membership, zone_ids=ids, zone_names=zones["name"].astype(str).tolist(),
        totals=totals, mode=spec.mode, warn_share=spec.warn_share,
    )  # fmt: skip
    _log.info(
        "population corrected to %s (%s): %.0f -> %.0f people",
        path.name, spec.mode, correction.total_before, correction.total_after,
    )  # fmt: skip
    for f in correction.findings:
        _log.warning("%s", f.message)
    return replace(pop, people=correction.people, total=correction.total_after), correction


def read_region_inputs(
    scn: ScenarioSpec,
    *,
    clock: Clock | None = None,
    max_cells: Callable[[int, int], None] | None = None,
) -> RegionInputs:
    """Read the population, zones, roads and facilities of a scenario onto its grid.

    Parameters
    ----------
    scn
        The validated scenario.
    clock
        Times the steps.
    max_cells
        Called with the population raster's rows and columns before it is read, to refuse one
        too large; default :func:`~reach.run.checks.check_memory` for a whole run.

    Returns
    -------
    RegionInputs
        The population, grid, zones, roads and facilities, with the warnings about layers
        that cover only part of the grid.

    Raises
    ------
    InputError
        When an input is refused: a file that cannot be read, a layer missing the grid, or a
        service none of whose facilities lies on it.
    ScenarioError
        When an input path leads outside the project folder, or ``rename`` names an unknown
        zone.
    ResourceLimitError
        When the run would not fit in memory.
    """
    clock = clock or Clock()
    limit = max_cells or (lambda r, c: check_memory(scn, r, c))
    spread: SpreadCounts | None = None
    with clock.step("read population"):
        if scn.region.population_counts is not None:
            pop, spread, _ = read_count_population(scn, max_cells=limit)
        else:
            pop = _read_population_raster(scn, max_cells=limit)
        raster_total = pop.total
        if scn.grid.aggregate_factor > 1:
            pop = aggregate_population(pop, factor=scn.grid.aggregate_factor)
        grid = grid_from_population(pop)
    with clock.step("read zones"):
        zones, zone, shares = read_zone_layer(scn, grid)
        levels = read_zone_levels(scn, grid)
        if spread is not None and scn.grid.aggregate_factor == 1:
            if _same_zones(scn.region.count_zones(), scn.region.boundaries):
                # the counts' zones report: each cell's people by the zone they came from
                shares = spread.origin
            elif shares is not None:
                shares = _counted_membership(spread, pop, zones, shares, grid)
            zone = shares.zone if shares is not None else zone
            levels = tuple(
                replace(
                    lv, membership=_counted_membership(spread, pop, lv.zones, lv.membership, grid)
                )
                for lv in levels
            )
    correction = None
    if scn.region.population_correction is not None:
        with clock.step("correct population"):
            pop, correction = correct_region_population(
                scn, pop, zones, shares if shares is not None else zone
            )
    with clock.step("read roads"):
        roads, noding = read_roads(scn)
    findings: list[Finding] = []
    with clock.step("read facilities"):
        osm_cache: dict[str, gpd.GeoDataFrame] = {}
        facilities = {
            s.name: read_service_facilities(scn, s, osm_cache, findings=findings)
            for s in scn.services
        }
        for svc in scn.services:
            require_on_grid(scn, svc, facilities[svc.name], grid)
    # after the facilities: when none of them is on the grid, the population raster is the
    # file in the wrong place, and that refusal says so
    warnings: list[str] = []
    if correction is not None:
        findings += correction.findings
        warnings += [f.message for f in correction.findings]
    if spread is not None:
        empty: list[Finding] = []
        if isinstance(shares, ZoneShares):
            empty += empty_zone_findings(
                pop.people, shares, zone_ids=zones["zone_id"].astype(str).tolist(),
                zone_names=zones["name"].astype(str).tolist(), level="zone",
            )  # fmt: skip
        for lv in levels:
            empty += empty_zone_findings(
                pop.people, lv.membership, zone_ids=lv.zones["zone_id"].astype(str).tolist(),
                zone_names=lv.zones["name"].astype(str).tolist(), level=lv.name,
            )  # fmt: skip
        findings += [*spread.findings, *empty]
        warnings += [f.message for f in (*spread.findings, *empty)]
    with clock.step("check layers"):
        if scn.region.boundaries is not None:
            zb = zones.total_bounds
            require_overlap(
                [((float(zb[0]), float(zb[1]), float(zb[2]), float(zb[3])), zones.crs)],
                grid,
                what="zones file",
                path=scn.resolve(scn.region.boundaries.path),
            )
        check_layers_overlap(scn, grid, warnings=warnings, findings=findings)
    return RegionInputs(
        population=pop, raster_total=raster_total, grid=grid, zones=zones, zone=zone,
        roads=roads, facilities=facilities, warnings=tuple(warnings), zone_shares=shares,
        roads_noding=noding, findings=tuple(findings), population_correction=correction,
        population_counts=spread, zone_levels=levels,
    )  # fmt: skip


def _read_population_raster(
    scn: ScenarioSpec, *, max_cells: Callable[[int, int], None]
) -> Population:
    """The population raster; with filtered boundaries, only its window over the zones kept."""
    assert scn.region.population is not None
    path = scn.resolve(scn.region.population)
    b = scn.region.boundaries
    if b is None or not b.where:
        return read_population(path, max_cells=max_cells)
    zones = _read_zone_spec(scn, b)
    zb = [float(v) for v in zones.total_bounds]
    pop = read_population(
        path, max_cells=max_cells, window=RasterWindow((zb[0], zb[1], zb[2], zb[3]), zones.crs)
    )
    if pop is None or pop.total <= 0:
        raise InputError(
            f"the population raster holds nobody under the zones {dict(b.where)} keeps",
            path=path,
            fix="give a raster that covers those zones, or check the boundaries filter",
        )
    _log.info("population raster read in the window of %d zones: %d × %d cells",
              len(zones), *pop.people.shape)  # fmt: skip
    return pop


def load_region(scn: ScenarioSpec, *, clock: Clock | None = None) -> Region:
    """Read every input of a scenario and build the baseline model.

    Parameters
    ----------
    scn
        The validated scenario.
    clock
        Times the steps (and reports progress); a new one by default.

    Returns
    -------
    Region
        Everything the pipeline needs to evaluate the baseline and its alternatives.

    Raises
    ------
    InputError
        When an input is refused (see :func:`read_region_inputs`).
    ScenarioError
        When an input path leads outside the project folder, or ``rename`` names an unknown
        zone.
    ResourceLimitError
        When the run would not fit in memory.
    """
    clock = clock or Clock()
    inputs = read_region_inputs(scn, clock=clock)
    pop, grid = inputs.population, inputs.grid
    with clock.step("build friction"):
        friction, cached = cached_friction(
            scn, grid, pop, lambda: region_friction(scn, grid=grid, pop=pop)
        )
    if cached:  # the manifest's timings say where it came from
        clock.timings["read friction from the cache"] = clock.timings.pop("build friction")
    findings = list(inputs.findings)
    for svc in scn.services:
        findings += location_findings(
            inputs.facilities[svc.name], grid, friction, service=svc.name,
            snap_within_m=svc.facilities.snap_within_m,
        )  # fmt: skip
    raster_total, zones, zone = inputs.raster_total, inputs.zones, inputs.zone
    roads, facilities = inputs.roads, inputs.facilities
    places = None
    if scn.region.osm is not None:
        with clock.step("read places"):  # settlement names, for the maps
            places = read_osm_places(scn.resolve(scn.region.osm))
    return Region(
        scenario=scn,
        population=pop,
        raster_total=raster_total,
        grid=grid,
        zones=zones,
        zone=zone,
        zone_shares=inputs.zone_shares,
        friction=friction,
        roads=roads,
        facilities=facilities,
        timings_s=clock.timings,
        warnings=list(inputs.warnings),
        roads_noding=inputs.roads_noding,
        findings=findings,
        population_correction=inputs.population_correction,
        population_counts=inputs.population_counts,
        zone_levels=inputs.zone_levels,
        places=places,
    )
