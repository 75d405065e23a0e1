"""One scenario run, stage by stage: ingest → model → engine → metrics → outputs.

This module only wires the stages together (it sits at the right end of the data flow, beside
the CLI); it does not configure logging or exit codes.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from reach import __version__
from reach.engine.combined import REASON_LABELS, SearchResult, combined_search
from reach.errors import ConservationError, InputError
from reach.ingest.boundaries import read_zones
from reach.ingest.facilities import facilities_from_osm, read_facilities
from reach.ingest.landcover import LandCover, read_cover_fractions, read_dem, read_landcover_classes
from reach.ingest.layers import read_vector_layer
from reach.ingest.lines import read_road_lines
from reach.ingest.osm import read_osm_facilities, read_osm_roads
from reach.ingest.population import Population, aggregate_population, read_population
from reach.ingest.roads import RoadLines
from reach.metrics.coverage import coverage_table
from reach.model.assemble import search_graph
from reach.model.grid import (
    AnalysisGrid,
    Friction,
    build_friction,
    grid_from_population,
    rasterize_zones,
)
from reach.model.network import Network, build_network
from reach.model.snap import snap_to_passable
from reach.model.speeds import default_profile, profile_with_overrides
from reach.outputs.write import atomic_folder, file_sha256, write_geotiff, write_json, write_table
from reach.scenario import Scenario, ServiceSpec

__all__ = ["REASON_EXPLANATIONS", "RunResult", "ServiceResult", "run_scenario"]

#: Plain-language meaning of each unreachable reason, written into the manifest.
REASON_EXPLANATIONS: dict[str, str] = {
    "beyond_time_limit": "a route exists but takes longer than the scenario's time limit",
    "no_network_link": "no route at all: e.g. an island or valley with no facility and no road "
    "or ferry out",
    "on_barrier": "the cell lies on a barrier (e.g. wetland) that cannot be crossed on foot",
    "water_no_ferry": "the cell is water and no ferry or road serves it",
    "outside_data": "the cell has people but lies outside the land-cover / friction data",
}

StepCallback = Callable[[str], None]


@dataclass(eq=False)
class ServiceResult:
    """One service's results.

    Attributes
    ----------
    spec
        The service as configured.
    facilities
        The facilities used, with their cell (``-1`` when not on the grid) and catchment.
    search
        Times, catchments and reasons per cell.
    coverage
        The coverage table of this service.
    """

    spec: ServiceSpec
    facilities: gpd.GeoDataFrame
    search: SearchResult
    coverage: pd.DataFrame


@dataclass(eq=False)
class RunResult:
    """Everything a run produced."""

    scenario: Scenario
    grid: AnalysisGrid
    population: Population
    zone: np.ndarray
    zones: gpd.GeoDataFrame
    friction: Friction
    services: dict[str, ServiceResult]
    coverage: pd.DataFrame
    facilities: pd.DataFrame
    timings_s: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)


class _Clock:
    """Times named steps and reports them to an optional callback."""

    def __init__(self, on_step: StepCallback | None) -> None:
        self.on_step = on_step
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.on_step:
            self.on_step(name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 4)


def _read_roads(scn: Scenario) -> RoadLines:
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


def _read_landcover(scn: Scenario) -> LandCover | None:
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


def _read_service_facilities(
    scn: Scenario, svc: ServiceSpec, osm_cache: dict[str, gpd.GeoDataFrame]
) -> gpd.GeoDataFrame:
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
    fac = fac.copy()
    fac["service"] = svc.name
    return fac.sort_values("facility_id", kind="stable").reset_index(drop=True)


def _facility_table(
    fac: gpd.GeoDataFrame, result: SearchResult, people: np.ndarray, svc: ServiceSpec
) -> pd.DataFrame:
    n = len(fac)
    lab = result.facility
    reached = lab >= 0
    pop = people.ravel() * svc.target_share
    catch = np.bincount(lab[reached], weights=pop[reached], minlength=n)[:n]
    top = max(svc.thresholds_min)
    within = reached & (result.time_min <= top)
    catch_within = np.bincount(lab[within], weights=pop[within], minlength=n)[:n]
    tsum = np.bincount(
        lab[reached], weights=(pop * np.where(reached, result.time_min, 0))[reached], minlength=n
    )[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.where(catch > 0, tsum / catch, np.nan)
        load = np.where(
            fac["capacity"].to_numpy(float) > 0, catch / fac["capacity"].to_numpy(float), np.nan
        )
    lon_lat = fac.to_crs("EPSG:4326").geometry
    return pd.DataFrame(
        {
            "service": svc.name,
            "facility_id": fac["facility_id"].astype(str).to_numpy(),
            "name": fac["name"].astype(str).to_numpy(),
            "tier": fac["tier"].astype(str).to_numpy(),
            "capacity": fac["capacity"].to_numpy(float),
            "lon": lon_lat.x.to_numpy(),
            "lat": lon_lat.y.to_numpy(),
            "on_grid": fac["cell"].to_numpy() >= 0,
            "catchment_population": catch,
            f"catchment_within_{top:g}min": catch_within,
            "catchment_mean_time_min": mean_t,
            "load_ratio": load,
        }
    )


def _versions() -> dict[str, str]:
    out = {
        "reach": __version__,
        "python": platform.python_version(),
        "gdal": rasterio.__gdal_version__,
    }
    for pkg in (
        "numpy",
        "scipy",
        "numba",
        "pandas",
        "geopandas",
        "shapely",
        "pyproj",
        "rasterio",
        "osmium",
        "pydantic",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _input_files(scn: Scenario) -> list[Path]:
    r = scn.region
    files = [r.population]
    files += [r.osm] if r.osm else []
    files += [r.roads.path] if r.roads else []
    files += [r.boundaries.path] if r.boundaries else []
    if r.landcover:
        files += [r.landcover.path] if r.landcover.path else list(r.landcover.fractions.values())
    files += list(r.dem) + [b.path for b in r.barriers] + [w.path for w in r.water]
    files += [s.facilities.path for s in scn.services if s.facilities.path]
    return sorted({scn.resolve(f) for f in files})


def run_scenario(
    scn: Scenario,
    *,
    out_dir: Path | None = None,
    write: bool = True,
    on_step: StepCallback | None = None,
) -> RunResult:
    """Run a scenario and (unless ``write`` is False) write its outputs atomically.

    Parameters
    ----------
    scn
        The validated scenario.
    out_dir
        Output folder; default the scenario's ``outputs.folder`` (relative to the scenario).
    write
        Write the files; with False only the in-memory results are returned.
    on_step
        Called with the name of each step as it starts (for a progress display).

    Returns
    -------
    RunResult
        Tables, per-service arrays and timings.
    """
    clock = _Clock(on_step)
    with clock.step("read population"):
        pop = read_population(scn.resolve(scn.region.population))
        raster_total = pop.total
        if scn.grid.aggregate_factor > 1:
            pop = aggregate_population(pop, factor=scn.grid.aggregate_factor)
        grid = grid_from_population(pop)
    with clock.step("read zones"):
        if scn.region.boundaries is not None:
            b = scn.region.boundaries
            zones = read_zones(
                scn.resolve(b.path), id_column=b.id_column, name_column=b.name_column, layer=b.layer
            )
            zone = rasterize_zones(zones, grid)
        else:
            zones = gpd.GeoDataFrame(
                {"zone_id": ["region"], "name": [scn.scenario.name]}, geometry=[None], crs=grid.crs
            )
            zone = np.ones(grid.shape, dtype=np.int32)
    with clock.step("build friction"):
        landcover = _read_landcover(scn)
        dem = (
            read_dem([scn.resolve(p) for p in scn.region.dem])
            if scn.region.dem and scn.grid.slope
            else []
        )
        barriers = [
            (
                read_vector_layer(scn.resolve(x.path), what="barrier layer", layer=x.layer),
                x.all_touched,
            )
            for x in scn.region.barriers
        ]
        water = [
            (
                read_vector_layer(scn.resolve(x.path), what="water layer", layer=x.layer),
                x.all_touched,
            )
            for x in scn.region.water
        ]
        lc_spec = scn.region.landcover
        friction = build_friction(
            grid,
            valid=pop.valid,
            populated=pop.people > 0,
            default_walk_kph=scn.grid.default_walk_kph,
            landcover=landcover,
            landcover_kph=lc_spec.speeds_kph if lc_spec else None,
            water_fraction_classes=lc_spec.water_classes if lc_spec else (),
            dem=dem,
            barriers=barriers,
            water=water,
        )
    with clock.step("read roads"):
        roads = _read_roads(scn)
    networks: dict[str, Network] = {}
    with clock.step("build networks"):
        for mode in sorted({s.mode for s in scn.services}):
            profile = profile_with_overrides(default_profile(mode), scn.modes.get(mode, {}))
            networks[mode] = build_network(
                roads, grid, profile=profile, ferry_wait_min=scn.ferries.headway_min / 2.0
            )
    passable = np.isfinite(friction.pace_min_per_m)
    services: dict[str, ServiceResult] = {}
    osm_cache: dict[str, gpd.GeoDataFrame] = {}
    tables = []
    fac_tables = []
    for svc in scn.services:
        with clock.step(f"{svc.name}: facilities"):
            fac = _read_service_facilities(scn, svc, osm_cache)
            pts = fac.to_crs(grid.crs).geometry
            fac["cell"] = snap_to_passable(pts.x.to_numpy(), pts.y.to_numpy(), grid, passable)
        with clock.step(f"{svc.name}: travel times"):
            graph = search_graph(grid, friction, networks[svc.mode], neighbours=scn.grid.neighbours)
            on_grid = np.flatnonzero(fac["cell"].to_numpy() >= 0)
            result = combined_search(
                graph,
                fac["cell"].to_numpy()[on_grid],
                seed_facility=on_grid,
                max_time_min=scn.grid.max_travel_time_min,
            )
        with clock.step(f"{svc.name}: coverage"):
            cov = coverage_table(
                pop.people, zone, result.time_min, result.reason,
                zone_ids=zones["zone_id"].astype(str).tolist(),
                zone_names=zones["name"].astype(str).tolist(),
                service=svc.name,
                thresholds_min=svc.thresholds_min,
                target_share=svc.target_share,
            )  # fmt: skip
            expected = raster_total * svc.target_share
            got = float(cov.loc[cov["zone_id"] == "(all)", "population"].iloc[0])
            if abs(got - expected) > 1e-6 * max(1.0, expected):
                raise ConservationError(
                    f"{svc.name}: covered+uncovered {got:.3f} ≠ raster {expected:.3f}"
                )
            ftab = _facility_table(fac, result, pop.people, svc)
        services[svc.name] = ServiceResult(spec=svc, facilities=fac, search=result, coverage=cov)
        tables.append(cov)
        fac_tables.append(ftab)
    coverage = pd.concat(tables, ignore_index=True)
    facilities = pd.concat(fac_tables, ignore_index=True)
    run = RunResult(
        scenario=scn, grid=grid, population=pop, zone=zone, zones=zones, friction=friction,
        services=services, coverage=coverage, facilities=facilities, timings_s=clock.timings,
    )  # fmt: skip
    if write:
        target = out_dir if out_dir is not None else scn.resolve(scn.outputs.folder)
        with clock.step("write outputs"):
            _write_outputs(run, target, raster_total=raster_total)
        run.out_dir = target
    return run


def _write_outputs(run: RunResult, target: Path, *, raster_total: float) -> None:
    scn = run.scenario
    grid = run.grid
    with atomic_folder(target) as tmp:
        write_table(run.coverage, tmp / "coverage", parquet=scn.outputs.parquet)
        write_table(run.facilities, tmp / "facilities", parquet=scn.outputs.parquet)
        if scn.outputs.rasters:
            write_geotiff(
                tmp / "population.tif",
                run.population.people.astype(np.float32),
                transform=grid.transform,
                crs=grid.crs,
                nodata=None,
                description="people per cell (0 where nodata)",
            )
            for name, res in run.services.items():
                t = res.search.time_min.reshape(grid.shape)
                write_geotiff(
                    tmp / f"travel_time_{name}.tif",
                    np.where(np.isfinite(t), t, np.nan).astype(np.float32),
                    transform=grid.transform,
                    crs=grid.crs,
                    nodata=float("nan"),
                    description=f"minutes to the nearest {name} facility",
                )
                write_geotiff(
                    tmp / f"catchment_{name}.tif",
                    res.search.facility.reshape(grid.shape).astype(np.int32),
                    transform=grid.transform,
                    crs=grid.crs,
                    nodata=-1,
                    description="row of facilities.csv for this service (0-based)",
                )
                write_geotiff(
                    tmp / f"reason_{name}.tif",
                    res.search.reason.reshape(grid.shape),
                    transform=grid.transform,
                    crs=grid.crs,
                    nodata=None,
                    description="; ".join(f"{k}={v}" for k, v in REASON_LABELS.items()),
                )
        inputs = {str(p): file_sha256(p) for p in _input_files(scn) if p.is_file()}
        run.inputs = inputs
        manifest: dict[str, Any] = {
            "reach_version": __version__,
            "scenario": scn.model_dump(mode="json"),
            "scenario_base_dir": str(scn.base_dir),
            "inputs_sha256": inputs,
            "versions": _versions(),
            "timings_s": run.timings_s,
            "grid": {
                "rows": grid.rows,
                "cols": grid.cols,
                "crs": grid.crs.to_string(),
                "transform": list(grid.transform)[:6],
            },
            "population": {"raster_total": raster_total, "grid_total": run.population.total},
            "friction": {"populated_water_cells_made_land": run.friction.populated_water_cells},
            "unreachable_reasons": {
                label: REASON_EXPLANATIONS.get(label, "")
                for code, label in REASON_LABELS.items()
                if code
            },
            "outputs": sorted(p.name for p in tmp.iterdir()),
        }
        write_json(tmp / "manifest.json", manifest)
