"""Load a scenario's region once: ingest every input and build the baseline model.

Everything here sits left of the engine in the data flow (ingest → model). The pipeline, the
Python API and the benchmarks all load a region through :func:`load_region`, so an alternative
scenario re-uses the baseline's grid, friction, roads and facilities and only rebuilds what its
operations change.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from rasterio.warp import transform_bounds

from reach.errors import InputError, ResourceLimitError, ScenarioError
from reach.ingest.boundaries import read_vector_bounds, read_zones
from reach.ingest.facilities import facilities_from_osm, read_facilities
from reach.ingest.landcover import (
    LandCover,
    dem_header,
    geotiff_header,
    read_cover_fractions,
    read_dem,
    read_landcover_classes,
)
from reach.ingest.layers import read_vector_layer
from reach.ingest.lines import read_road_lines
from reach.ingest.osm import read_osm_facilities, read_osm_roads
from reach.ingest.population import Population, aggregate_population, read_population
from reach.ingest.roads import RoadLines
from reach.model.grid import (
    AnalysisGrid,
    Friction,
    build_friction,
    grid_from_population,
    rasterize_zones,
)
from reach.model.speeds import ModeProfile, default_profile, profile_with_overrides
from reach.scenario import Scenario, ServiceSpec
from reach.settings import MEMORY_ENV, available_memory_bytes

__all__ = [
    "MIN_LAYER_COVERAGE",
    "Clock",
    "Region",
    "RegionInputs",
    "check_layers_overlap",
    "load_region",
    "mode_profile",
    "read_landcover",
    "read_region_inputs",
    "read_roads",
    "read_service_facilities",
    "read_zone_layer",
    "region_friction",
]

StepCallback = Callable[[str], None]

_log = logging.getLogger("reach")

#: A land-cover or elevation layer covering less of the population grid than this share gets a
#: warning (in ``Region.warnings`` and the ``reach`` log); one covering none of it is refused.
MIN_LAYER_COVERAGE = 0.5


class Clock:
    """Times named steps and reports each to an optional callback as it starts."""

    def __init__(self, on_step: StepCallback | None = None) -> None:
        self.on_step = on_step
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block under ``name`` (accumulating when a name repeats)."""
        if self.on_step:
            self.on_step(name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 4)


def read_roads(scn: Scenario) -> RoadLines:
    """The region's roads and ferries, from OSM or a road-line layer."""
    region = scn.region
    if region.osm is not None:
        return read_osm_roads(scn.resolve(region.osm))
    assert region.roads is not None
    spec = region.roads
    return read_road_lines(
        scn.resolve(spec.path),
        class_column=spec.class_column,
        layer=spec.layer,
        ferry_classes=spec.ferry_classes,
    )


def read_landcover(scn: Scenario) -> LandCover | None:
    """The region's land cover (class raster or cover fractions), if any."""
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
    scn: Scenario, svc: ServiceSpec, osm_cache: dict[str, gpd.GeoDataFrame]
) -> gpd.GeoDataFrame:
    """A service's facilities, filtered to its tiers, sorted by id (``service`` = its name)."""
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
    return fac.sort_values("facility_id", kind="stable").reset_index(drop=True)


#: Bytes per analysis cell a run holds at its peak (grid, friction, search, tables), measured
#: on the demo region (2.4 GB at 16 million cells with three services) and rounded up.
BYTES_PER_CELL = 160
#: Bytes per cell each evaluated service keeps (times, catchment, reason).
BYTES_PER_CELL_PER_RESULT = 16
#: Bytes per raw raster cell while the population is read and aggregated.
BYTES_PER_RAW_CELL = 24


def memory_estimate_bytes(scn: Scenario, rows: int, cols: int) -> int:
    """Peak memory a run of ``scn`` on a ``rows`` × ``cols`` population raster needs, roughly."""
    raw = rows * cols
    factor = scn.grid.aggregate_factor
    cells = -(-rows // factor) * -(-cols // factor)
    results = len(scn.services) * (1 + len(scn.alternatives))
    return raw * BYTES_PER_RAW_CELL + cells * (BYTES_PER_CELL + BYTES_PER_CELL_PER_RESULT * results)


def check_memory(
    scn: Scenario,
    rows: int,
    cols: int,
    *,
    estimate: Callable[[Scenario, int, int], int] | None = None,
    what: str = "a run",
) -> None:
    """Refuse, before reading it, a raster whose run would not fit in memory.

    Parameters
    ----------
    scn
        The scenario.
    rows, cols
        The population raster's size, from its header.
    estimate
        Bytes the run needs; default :func:`memory_estimate_bytes`.
    what
        Who needs the memory, for the message (e.g. "the coordinator of a partitioned run").

    Raises
    ------
    ResourceLimitError
        With the estimate and what is available (``$REACH_MEMORY_GB`` caps the latter).
    """
    need = (estimate or memory_estimate_bytes)(scn, rows, cols)
    have = available_memory_bytes()
    if need > have:
        gib = 2**30
        raise ResourceLimitError(
            f"{what} on this {rows:,} × {cols:,}-cell population raster needs about "
            f"{need / gib:,.1f} GiB of memory; {have / gib:,.1f} GiB is available",
            path=scn.resolve(scn.region.population),
            fix="clip the raster to the study area, set [grid] aggregate_factor, or run on a "
            f"larger machine ({MEMORY_ENV} sets the budget)",
        )


Bounds = tuple[float, float, float, float]


def _grid_bounds(grid: AnalysisGrid) -> Bounds:
    t = grid.transform
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.cols, grid.rows)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _on_grid_crs(bounds: Bounds, crs: Any, grid: AnalysisGrid) -> Bounds | None:
    """``bounds`` (in ``crs``) in the grid's CRS; None when they cannot be transformed."""
    try:
        if crs is None or grid.crs == crs:
            out = bounds
        else:
            out = transform_bounds(crs, grid.crs, *bounds, densify_pts=21)
    except Exception:  # PROJ refusing odd bounds: the check is skipped, never failed
        return None
    if not all(math.isfinite(v) for v in out):
        return None
    return (float(out[0]), float(out[1]), float(out[2]), float(out[3]))


def _show_bounds(b: Bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def _require_overlap(
    layer_bounds: Sequence[tuple[Bounds, Any]],
    grid: AnalysisGrid,
    *,
    what: str,
    path: Path | str | None,
) -> float | None:
    """Refuse a layer none of whose parts overlaps the grid; return the share of it covered.

    ``layer_bounds`` holds each part's (e.g. each DEM tile's) bounds and CRS. The share is
    measured on a lattice of 101 × 101 points over the grid, counting those inside any part's
    bounds (``None``, and no check, when a part's bounds cannot be brought onto the grid's CRS).
    """
    g = _grid_bounds(grid)
    parts = [b for b in (_on_grid_crs(b, crs, grid) for b, crs in layer_bounds) if b is not None]
    if len(parts) < len(layer_bounds) or not parts:
        return None
    if not any(b[0] < g[2] and g[0] < b[2] and b[1] < g[3] and g[1] < b[3] for b in parts):
        shown = _show_bounds(parts[0]) if len(parts) == 1 else f"{len(parts)} tiles"
        if len(parts) > 1:
            joint = (
                min(b[0] for b in parts),
                min(b[1] for b in parts),
                max(b[2] for b in parts),
                max(b[3] for b in parts),
            )
            shown += f" within {_show_bounds(joint)}"
        raise InputError(
            f"the {what} does not overlap the region's population grid (its bounds {shown}, "
            f"the grid's {_show_bounds(g)}, in {grid.crs.to_string()})",
            path=path,
            fix="give a layer that covers the study area, or check the population raster's "
            "extent (gdalinfo / ogrinfo show each file's CRS and extent)",
        )
    xs = np.linspace(g[0], g[2], 101)
    ys = np.linspace(g[1], g[3], 101)
    gx, gy = np.meshgrid(xs, ys)
    inside = np.zeros(gx.shape, dtype=bool)
    for b in parts:
        inside |= (gx >= b[0]) & (gx <= b[2]) & (gy >= b[1]) & (gy <= b[3])
    return float(inside.mean())


def _warn_partial(
    share: float | None, *, what: str, path: Path | str, warnings: list[str] | None
) -> None:
    if share is None or share >= MIN_LAYER_COVERAGE:
        return
    text = (
        f"{path}: the {what} covers only {share:.0%} of the region's population grid; "
        "cells outside it keep the default values"
    )
    _log.warning(text)
    if warnings is not None:
        warnings.append(text)


def check_layers_overlap(
    scn: Scenario, grid: AnalysisGrid, *, warnings: list[str] | None = None
) -> None:
    """Refuse land-cover, elevation, barrier and water layers that miss the grid entirely.

    Only headers and extents are read (no cell, no geometry), so a partitioned run checks its
    layers here too before any window is built.

    Parameters
    ----------
    scn
        The scenario.
    grid
        The analysis grid (the population raster's).
    warnings
        Where to add a line for a land-cover or elevation layer covering less than
        :data:`MIN_LAYER_COVERAGE` of the grid (also logged on the ``reach`` logger).

    Raises
    ------
    InputError
        If a layer does not overlap the grid at all, naming the file and both extents.
    """
    region = scn.region
    lc = region.landcover
    if lc is not None:
        rasters: list[tuple[str, Path]] = []
        if lc.path is not None:
            rasters.append(("land cover raster", scn.resolve(lc.path)))
        else:
            rasters += [
                (f"'{label}' cover fraction raster", scn.resolve(path))
                for label, path in lc.fractions.items()
            ]
        for i, (what, path) in enumerate(rasters):
            header = geotiff_header(path, what=what)
            share = _require_overlap([(header.bounds, header.crs)], grid, what=what, path=path)
            if i == 0:  # cover fractions share one grid: one warning is enough
                _warn_partial(share, what=what, path=path, warnings=warnings)
    if region.dem and scn.grid.slope:
        paths = [scn.resolve(p) for p in region.dem]
        headers = [dem_header(p) for p in paths]
        shown_path: Path | str = paths[0] if len(paths) == 1 else ", ".join(map(str, paths))
        what = "elevation (DEM) raster" + ("" if len(paths) == 1 else "s")
        share = _require_overlap(
            [(h.bounds, h.crs) for h in headers], grid, what=what, path=shown_path
        )
        _warn_partial(share, what=what, path=shown_path, warnings=warnings)
    for kind, specs in (("barrier layer", region.barriers), ("water layer", region.water)):
        for spec in specs:
            path = scn.resolve(spec.path)
            bounds, crs = read_vector_bounds(path, what=kind, layer=spec.layer)
            if bounds is not None and crs is not None:
                _require_overlap([(bounds, crs)], grid, what=kind, path=path)


def _require_on_grid(
    scn: Scenario, svc: ServiceSpec, fac: gpd.GeoDataFrame, grid: AnalysisGrid
) -> None:
    """Refuse a service none of whose facilities lies on the population grid."""
    pts = fac.to_crs(grid.crs).geometry
    inside = grid.cell_of(pts.x.to_numpy(), pts.y.to_numpy()) >= 0
    if inside.any():
        return
    west, south, east, north = fac.total_bounds
    where = scn.resolve(svc.facilities.path) if svc.facilities.path else scn.region.osm
    raise InputError(
        f"service {svc.name!r}: none of its {len(fac)} facilities lies inside the population "
        f"raster (facilities span lon {west:.4f}…{east:.4f}, lat {south:.4f}…{north:.4f})",
        path=where,
        fix="check the facilities' coordinates and CRS, or use a population raster that "
        "covers them",
    )


def read_zone_layer(scn: Scenario, grid: AnalysisGrid) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Reporting zones and their zone number per cell (one zone for the whole grid if none)."""
    if scn.region.boundaries is None:
        zones = gpd.GeoDataFrame(
            {"zone_id": ["region"], "name": [scn.scenario.name]}, geometry=[None], crs=grid.crs
        )
        return zones, np.ones(grid.shape, dtype=np.int32)
    b = scn.region.boundaries
    zones = read_zones(
        scn.resolve(b.path), id_column=b.id_column, name_column=b.name_column, layer=b.layer
    )
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
    return zones, rasterize_zones(zones, grid)


def region_friction(scn: Scenario, *, grid: AnalysisGrid, pop: Population) -> Friction:
    """Read land cover, elevation, barriers and water, and build the walking friction."""
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
    return build_friction(
        grid,
        valid=pop.valid,
        populated=pop.people > 0,
        default_walk_kph=scn.grid.default_walk_kph,
        landcover=read_landcover(scn),
        landcover_kph=lc.speeds_kph if lc else None,
        water_fraction_classes=lc.water_classes if lc else (),
        dem=dem,
        barriers=barriers,
        water=water,
    )


def mode_profile(scn: Scenario, mode: str) -> ModeProfile:
    """The travel mode's profile with the scenario's overrides."""
    return profile_with_overrides(default_profile(mode), scn.modes.get(mode, {}))  # type: ignore[call-overload]


@dataclass(eq=False)
class Region:
    """A scenario's region, loaded once: the baseline inputs and model.

    Attributes
    ----------
    scenario
        The scenario it was loaded from.
    population
        Population on the analysis grid.
    raster_total
        The population raster's total before any grid change.
    grid, zones, zone, friction, roads
        The analysis grid, reporting zones (+ zone number per cell), walking friction, and the
        road / ferry lines.
    facilities
        The baseline facilities of each service (lon/lat), by service name.
    timings_s
        Seconds spent per loading step.
    warnings
        Lines about inputs that were used but look wrong (e.g. a land-cover layer covering under
        half of the grid), for the manifest; each is also logged on the ``reach`` logger.
    """

    scenario: Scenario
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


@dataclass(frozen=True, eq=False)
class RegionInputs:
    """A region's inputs read onto its grid, before the walking friction is built."""

    population: Population
    raster_total: float
    grid: AnalysisGrid
    zones: gpd.GeoDataFrame
    zone: np.ndarray
    roads: RoadLines
    facilities: dict[str, gpd.GeoDataFrame]
    warnings: tuple[str, ...] = ()


def read_region_inputs(
    scn: Scenario,
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
        Checks the population raster's size before it is read; default :func:`check_memory`.
    """
    clock = clock or Clock()
    with clock.step("read population"):
        pop = read_population(
            scn.resolve(scn.region.population),
            max_cells=max_cells or (lambda r, c: check_memory(scn, r, c)),
        )
        raster_total = pop.total
        if scn.grid.aggregate_factor > 1:
            pop = aggregate_population(pop, factor=scn.grid.aggregate_factor)
        grid = grid_from_population(pop)
    with clock.step("read zones"):
        zones, zone = read_zone_layer(scn, grid)
    with clock.step("read roads"):
        roads = read_roads(scn)
    with clock.step("read facilities"):
        osm_cache: dict[str, gpd.GeoDataFrame] = {}
        facilities = {s.name: read_service_facilities(scn, s, osm_cache) for s in scn.services}
        for svc in scn.services:
            _require_on_grid(scn, svc, facilities[svc.name], grid)
    # after the facilities: when none of them is on the grid, the population raster is the
    # file in the wrong place, and that refusal says so
    warnings: list[str] = []
    with clock.step("check layers"):
        if scn.region.boundaries is not None:
            zb = zones.total_bounds
            _require_overlap(
                [((float(zb[0]), float(zb[1]), float(zb[2]), float(zb[3])), zones.crs)],
                grid,
                what="zones file",
                path=scn.resolve(scn.region.boundaries.path),
            )
        check_layers_overlap(scn, grid, warnings=warnings)
    return RegionInputs(
        population=pop, raster_total=raster_total, grid=grid, zones=zones, zone=zone,
        roads=roads, facilities=facilities, warnings=tuple(warnings),
    )  # fmt: skip


def load_region(scn: Scenario, *, clock: Clock | None = None) -> Region:
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
    """
    clock = clock or Clock()
    inputs = read_region_inputs(scn, clock=clock)
    pop, grid = inputs.population, inputs.grid
    with clock.step("build friction"):
        friction = region_friction(scn, grid=grid, pop=pop)
    raster_total, zones, zone = inputs.raster_total, inputs.zones, inputs.zone
    roads, facilities = inputs.roads, inputs.facilities
    return Region(
        scenario=scn,
        population=pop,
        raster_total=raster_total,
        grid=grid,
        zones=zones,
        zone=zone,
        friction=friction,
        roads=roads,
        facilities=facilities,
        timings_s=clock.timings,
        warnings=list(inputs.warnings),
    )
