"""Write a run: tables, rasters, GIS files, maps, reports and the manifest, in one folder swap."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from reach.codes import (
    REASON_BARRIER,
    REASON_BEYOND_LIMIT,
    REASON_LABELS,
    REASON_NO_DATA,
    REASON_NO_ROUTE,
    REASON_REACHED,
    REASON_WATER,
)
from reach.model.region import Region
from reach.outputs.audit import manifest_warning_lines, write_audit
from reach.outputs.polygons import write_polygons
from reach.outputs.write import (
    CATEGORY_COLOURS,
    Category,
    atomic_folder,
    today_iso,
    write_geotiff,
    write_gpkg,
    write_json,
    write_table,
)
from reach.progress import Clock, Tally
from reach.results import Evaluation, RunResult
from reach.run.audit import audit_run
from reach.run.manifest import build_manifest
from reach.run.reopen import write_run_state
from reach.run.session import region_session
from reach.spec import ScenarioSpec

__all__ = ["write_analysis", "write_run"]

_log = logging.getLogger("reach.run")


#: How the reason raster's codes look in a GIS (reached green; the reasons apart).
REASON_COLOURS: dict[int, str] = {
    REASON_REACHED: "#009e73",
    REASON_BEYOND_LIMIT: "#d55e00",
    REASON_NO_ROUTE: "#cc79a7",
    REASON_BARRIER: "#000000",
    REASON_WATER: "#56b4e9",
    REASON_NO_DATA: "#bbbbbb",
}


def _facility_categories(table: pd.DataFrame) -> dict[int, Category]:
    """Each facility row of a catchment raster, named by its id and name."""
    ids = table["facility_id"].astype(str).tolist()
    names = table["name"].astype(str).tolist() if "name" in table.columns else ids
    return {
        k: Category(f"{fid} {name}".strip(), CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)])
        for k, (fid, name) in enumerate(zip(ids, names, strict=True))
    }


def _write_rasters(ev: Evaluation, folder: Path, region: Region) -> None:
    """``travel_time_``, ``catchment_`` and ``reason_<service>.tif`` of one evaluation."""
    grid = region.grid
    kw: dict[str, Any] = {"transform": grid.transform, "crs": grid.crs}
    reasons = {code: Category(label, REASON_COLOURS[code]) for code, label in REASON_LABELS.items()}
    for name, res in ev.services.items():
        t = res.search.time_min.reshape(grid.shape)
        t32 = np.where(np.isfinite(t), t, np.nan).astype(np.float32)
        write_geotiff(
            folder / f"travel_time_{name}.tif", t32, nodata=float("nan"), units="min",
            description=f"minutes to the nearest {name} facility", **kw,
        )  # fmt: skip
        catchment = res.search.facility.reshape(grid.shape).astype(np.int32)
        write_geotiff(
            folder / f"catchment_{name}.tif", catchment, nodata=-1,
            description="row of facilities.csv for this service (0-based); the .qml beside it "
            "names each row by its facility_id and name",
            categories=_facility_categories(res.facility_table), **kw,
        )  # fmt: skip
        write_geotiff(
            folder / f"reason_{name}.tif", res.search.reason.reshape(grid.shape), nodata=None,
            description="; ".join(f"{k}={v}" for k, v in REASON_LABELS.items()),
            categories=reasons, **kw,
        )  # fmt: skip


def _write_delta_rasters(base: Evaluation, alt: Evaluation, folder: Path, region: Region) -> None:
    """``minutes_saved_`` and ``access_change_<service>.tif`` of an alternative."""
    grid = region.grid
    kw: dict[str, Any] = {"transform": grid.transform, "crs": grid.crs}
    changes = {
        0: Category("unchanged", "#dddddd"),
        1: Category("newly reached within the limit", "#009e73"),
        2: Category("no longer reached", "#d55e00"),
    }
    for name, res in alt.services.items():
        tb = base.services[name].search.time_min
        ta = res.search.time_min
        both = np.isfinite(tb) & np.isfinite(ta)
        saved = np.full(grid.n_cells, np.nan)
        saved[both] = tb[both] - ta[both]
        write_geotiff(
            folder / f"minutes_saved_{name}.tif", saved.reshape(grid.shape).astype(np.float32),
            nodata=float("nan"), units="min",
            description="baseline minus alternative travel time (positive = faster)", **kw,
        )  # fmt: skip
        rb = base.services[name].search.reason == REASON_REACHED
        ra = res.search.reason == REASON_REACHED
        change = np.zeros(grid.n_cells, dtype=np.uint8)
        change[~rb & ra] = 1
        change[rb & ~ra] = 2
        write_geotiff(
            folder / f"access_change_{name}.tif", change.reshape(grid.shape), nodata=None,
            description="0 unchanged; 1 newly reached within the limit; 2 no longer reached",
            categories=changes, **kw,
        )  # fmt: skip


def _write_vectors(ev: Evaluation, folder: Path, region: Region) -> None:
    """``facilities.gpkg`` (a layer per service) and ``zones.gpkg`` (coverage per service)."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, res in ev.services.items():
        table = res.facility_table
        layers[name] = gpd.GeoDataFrame(
            table.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(table["lon"], table["lat"]),
            crs="EPSG:4326",
        )
    write_gpkg(layers, folder / "facilities.gpkg")
    zones = region.zones
    if zones.geometry.isna().all():
        return
    outline = zones[["zone_id", "geometry"]].to_crs("EPSG:4326")
    outline = outline.assign(zone_id=outline["zone_id"].astype(str))
    coverage: dict[str, gpd.GeoDataFrame] = {}
    for name, res in ev.services.items():
        cov = res.coverage.drop(columns=["service"])
        coverage[name] = gpd.GeoDataFrame(
            outline.merge(cov, on="zone_id", how="left"), geometry="geometry", crs="EPSG:4326"
        )
    write_gpkg(coverage, folder / "zones.gpkg")


def _write_evaluation(ev: Evaluation, folder: Path, region: Region) -> None:
    """One evaluation's tables, GIS layers and (when asked) rasters into ``folder``."""
    parquet = region.scenario.outputs.parquet
    write_table(ev.coverage, folder / "coverage", parquet=parquet)
    for level in region.zone_levels:
        write_table(
            ev.level_coverage(level.name), folder / f"coverage_{level.name}", parquet=parquet
        )
    write_table(ev.facilities, folder / "facilities", parquet=parquet)
    for attr in ("virtual", "referrals"):
        table = ev.table(attr)
        if table is not None:
            write_table(table, folder / attr, parquet=parquet)
    if ev.seasons is not None:
        write_table(ev.seasons, folder / "seasons", parquet=parquet)
    _write_vectors(ev, folder, region)
    if region.scenario.outputs.rasters:
        _write_rasters(ev, folder, region)


def _write_tables(run: RunResult, tmp: Path, tally: Tally) -> None:
    """The tables and rasters of the baseline, the alternatives and the comparison."""
    scn, region = run.scenario, run.region
    grid = region.grid
    _write_evaluation(run.baseline, tmp, region)
    tally.add()
    if region.population_counts is not None:
        write_table(
            region.population_counts.table, tmp / "population_counts",
            parquet=scn.outputs.parquet,
        )  # fmt: skip
    if region.population_correction is not None:
        write_table(
            region.population_correction.table, tmp / "population_correction",
            parquet=scn.outputs.parquet,
        )  # fmt: skip
    if scn.outputs.rasters:
        write_geotiff(
            tmp / "population.tif", region.population.people.astype(np.float32),
            transform=grid.transform, crs=grid.crs, nodata=None,
            description="people per cell (0 where nodata)",
        )  # fmt: skip
    if run.sensitivity is not None:
        sens = run.sensitivity
        for stem, frame in (
            ("sensitivity", sens.ranges),
            ("sensitivity_samples", sens.samples),
            ("sensitivity_design", sens.design),
            ("sensitivity_influence", sens.influence),
        ):
            write_table(frame, tmp / stem, parquet=scn.outputs.parquet)
    for name, ev in run.alternatives.items():
        folder = tmp / "alternatives" / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_evaluation(ev, folder, region)
        if scn.outputs.rasters:
            _write_delta_rasters(run.baseline, ev, folder, region)
        tally.add()
    if run.comparison is not None and run.ranking is not None:
        write_table(run.comparison, tmp / "comparison", parquet=scn.outputs.parquet)
        write_table(run.ranking, tmp / "ranking", parquet=scn.outputs.parquet)


def _side_by_side(tasks: Sequence[Callable[[], None]]) -> None:
    """Run independent writing tasks on two threads; the first failure is raised after all end.

    GDAL, the compressors, shapely and the PNG encoder release the GIL, so the rasters and
    GeoPackages of one task are written while another renders a map or a report. Each task
    writes files of its own, so the files are the same bytes in any order.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reach-write") as pool:
        futures = [pool.submit(task) for task in tasks]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def write_run(
    run: RunResult, target: Path, *, maps: bool = True, clock: Clock | None = None
) -> None:
    """Write a run into ``target`` in one folder swap.

    Parameters
    ----------
    run
        The run, baseline and alternatives.
    target
        The output folder: replaced whole, only when reach can prove it wrote it.
    maps
        Write the HTML maps and reports (when the scenario asks for them too).
    clock
        Its display is told as each part is written (the baseline, each alternative, the maps,
        each report, the manifest).

    Raises
    ------
    InputError
        When ``target`` may not be replaced (a protected folder, or one reach cannot prove
        it wrote).
    ResourceLimitError
        When the disk is full, read-only or not writable.
    """
    scn = run.scenario
    region = run.region
    draw = scn.outputs.maps and maps
    languages = scn.outputs.reports if maps else []
    parts = 2 + len(run.alternatives) + int(draw) + len(languages)
    tally = (clock or Clock()).tally("outputs written", parts)
    with atomic_folder(target, protect=scn.protected_paths(), command="run") as tmp:
        warnings: list[str] = list(run.warnings)
        findings = run.findings
        # read here, once: the PDFs set SOURCE_DATE_EPOCH for their fonts while the maps draw
        date = today_iso()

        def tables() -> None:
            _write_tables(run, tmp, tally)

        def polygons() -> None:  # catchments, isochrones, friction, network
            write_polygons(run, tmp, region_session(region))

        def drawn() -> None:
            from reach.outputs.maps import write_maps  # folium: imported while others write

            write_maps(
                run, tmp, offline=scn.outputs.maps_offline, basemap_url=scn.outputs.basemap_url,
                title_date=date,
            )  # fmt: skip
            tally.add()

        def reports() -> None:  # one language after the other: WeasyPrint is not shared
            # matplotlib and WeasyPrint are imported here, while the other outputs are written
            from reach.outputs.report import pdf_unavailable, write_report

            why = pdf_unavailable() if scn.outputs.report_pdf else None
            if why is not None:
                warnings.append(f"PDF reports skipped, HTML written: {why}")
                _log.warning(warnings[-1])
            pdf = scn.outputs.report_pdf and why is None
            for lang in languages:
                write_report(run, tmp, lang=lang, pdf=pdf, findings=findings, title_date=date)
                tally.add()

        def state() -> None:  # what `reach map` and `reach report` read back
            write_run_state(run, tmp)

        for name in run.alternatives:  # the folders first: several tasks write into them
            (tmp / "alternatives" / name).mkdir(parents=True)
        # independent files, written side by side (each into files of its own), the longest
        # first, so the two threads end together
        tasks = [*([reports] if languages else []), *([drawn] if draw else []), polygons]
        tasks += [tables, state]
        _side_by_side(tasks)
        write_audit(findings, tmp)
        warnings += manifest_warning_lines(findings, known=warnings)
        inputs = run.inputs
        manifest = build_manifest(
            scn, region, tmp,
            command="run", inputs=inputs, timings_s=run.timings_s, warnings=warnings,
            extra={"alternatives": sorted(run.alternatives), **_sensitivity_manifest(run)},
        )  # fmt: skip
        write_json(tmp / "manifest.json", manifest)
        tally.add()


def _sensitivity_manifest(run: RunResult) -> dict[str, Any]:
    """The manifest's record of a sensitivity sample (nothing without one)."""
    sens = run.sensitivity
    if sens is None:
        return {}
    return {
        "sensitivity": {
            "samples": sens.n_samples,
            "speed_range_pct": sens.speed_range_pct,
            "seed": sens.seed,
            "design": "Latin hypercube (scipy.stats.qmc.LatinHypercube)",
            "interval": "5th to 95th percentile of the samples",
            "factors": sens.factors["factor"].tolist(),
        }
    }


def write_analysis(
    scn: ScenarioSpec,
    region: Region,
    tables: Mapping[str, pd.DataFrame],
    target: Path,
    *,
    command: str,
    inputs: Mapping[str, str],
    parameters: Mapping[str, Any],
    timings_s: Mapping[str, float] | None = None,
    files: Mapping[str, str] | None = None,
    evaluation: Evaluation | None = None,
    layers: Mapping[str, Mapping[str, gpd.GeoDataFrame]] | None = None,
) -> None:
    """Write an analysis's tables and its manifest into ``target`` in one folder swap.

    The analysis commands (capacity, equity, access, referral, optimize) write through here,
    with the same folder check and swap as a run, and a manifest like a run's: the scenario,
    the inputs' sha256, versions, grid, population totals and the analysis's parameters.

    Parameters
    ----------
    scn
        The scenario analysed.
    region
        Its loaded region.
    tables
        Tables by file stem (each written as CSV and Parquet).
    target
        The output folder.
    command
        The command's name, recorded in the manifest and the folder marker.
    inputs
        The inputs' sha256 by path, taken before they were read.
    parameters
        The analysis's options (service, threshold, ...), for the manifest.
    timings_s
        Seconds per step.
    files
        Other text files by name (e.g. a summary), written as UTF-8.
    evaluation
        The evaluation the analysis measured (its facilities are audited); without it, the
        audit holds the region's findings and checks only.
    layers
        GeoPackages by file name, each a mapping of layer name to its features.

    Raises
    ------
    InputError
        When ``target`` may not be replaced (a protected folder, or one reach cannot prove
        it wrote).
    ResourceLimitError
        When the disk is full, read-only or not writable.
    """
    with atomic_folder(target, protect=scn.protected_paths(), command=command) as tmp:
        for stem, frame in tables.items():
            write_table(frame, tmp / stem)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text, "utf-8")
        for name, frames in (layers or {}).items():
            write_gpkg(frames, tmp / name)
        findings = audit_run(region, evaluation)
        write_audit(findings, tmp)
        warnings = list(region.warnings)
        warnings += manifest_warning_lines(findings, known=warnings)
        manifest = build_manifest(
            scn, region, tmp,
            command=command, inputs=inputs, timings_s=timings_s or {},
            warnings=warnings, extra={"parameters": dict(parameters)},
        )  # fmt: skip
        write_json(tmp / "manifest.json", manifest)
