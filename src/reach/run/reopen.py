"""Reopen a finished run from its output folder, for the maps and reports, instead of searching.

A run writes, beside its tables and rasters, ``run_state/``: what the maps and reports draw
that the user-facing files do not hold exactly — each evaluation's per-cell minutes in full
``float64`` (the rasters are ``float32``), catchment rows, reasons, walking minutes where only a
share has the vehicle and the cells with a signal for telemedicine; the people per cell
(``float64``), their validity and zone number; the zones' outlines in the region's CRS; the
settlements the maps name; the baseline routes the maps and the report show (of the places and
of each zone's representative origin, with their legs' lines); and a small ``state.json`` (the
grid, the population totals, each service's season, vehicle and remote shares).
:func:`write_run_state` writes it; the manifest records the sha256 of every file.

:func:`reopen_run` trusts a folder only when all of this holds, and otherwise says why in one
line:

- reach wrote the folder and nobody changed it since (its marker, see
  :mod:`reach.outputs.folders`), and it holds a run of this reach version and table schema;
- the run is of this scenario, as it is now (every setting but ``[outputs]``, which says only
  what to write);
- every input file has the sha256 the manifest recorded (hashed now, as a run would; an input
  inside the scenario's folder is matched by its place there, so a project moved or copied
  with its outputs still reads its run back);
- every file the run wrote but its maps and reports has the sha256 the manifest recorded.

The run rebuilt from the folder is what :func:`reach.run.scenario_set.run_scenario` returned
for the maps and reports: the same arrays, tables and numbers, so they come out byte for byte
the same. The roads the maps draw are read again from the region's (unchanged) road input
(:func:`reach.run.region.read_roads`, a second or two where a search takes minutes; kept in the
folder they would outweigh everything else). It is not a model: its region has a friction that
passes nowhere and no zone shares, its searches no node times, so it cannot be searched again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from rasterio.crs import CRS

from reach import __version__
from reach.codes import STATUS_NO_DATA
from reach.engine.combined import SearchResult
from reach.errors import InputError
from reach.findings import Finding
from reach.ingest.population import Population
from reach.model.counts import SpreadCounts
from reach.model.grid import AnalysisGrid, Friction, grid_from_population
from reach.model.population_correction import PopulationCorrection
from reach.model.region import Region
from reach.model.zones import ZoneShares
from reach.outputs.folders import MANIFEST_NAME, check_output_target
from reach.outputs.write import file_sha256
from reach.results import (
    BASELINE,
    Evaluation,
    Explanation,
    RunResult,
    SensitivityResult,
    ServiceResult,
)
from reach.run.manifest import hashed_output
from reach.run.region import read_roads
from reach.scenarios.compare import CellAccess
from reach.schema import COVERAGE, FACILITIES, REFERRALS, SCHEMA_VERSION, VIRTUAL, TableSchema
from reach.spec import ScenarioSpec, ServiceSpec

__all__ = [
    "STATE_FOLDER",
    "STATE_FORMAT",
    "Reopened",
    "reopen_run",
    "write_run_state",
]

#: The sub-folder of a run's output folder holding what :func:`reopen_run` reads back.
STATE_FOLDER = "run_state"
#: The format of ``run_state/state.json``; a folder of another format is run again.
STATE_FORMAT = 2
#: The state's record.
_STATE_FILE = "state.json"
#: The per-cell values of the region (people, validity, zone number).
_REGION_FILE = "region.parquet"
#: The zones' outlines, in the region's CRS.
_ZONES_FILE = "zones.parquet"
#: The settlements the maps name.
_PLACES_FILE = "places.parquet"
#: The baseline routes the maps and the report show: one row per origin and service …
_ROUTES_FILE = "routes.parquet"
#: … and one per leg, with its line (GeoParquet, EPSG:4326).
_ROUTE_LEGS_FILE = "route_legs.parquet"


# --------------------------------------------------------------------------------------------
# writing


def _cells(arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({name: np.asarray(a).ravel() for name, a in arrays.items()})


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # minutes and people compress a third better with their bytes split into streams
    floats = [str(c) for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    frame.to_parquet(
        path, index=False, compression="zstd", compression_level=9, use_dictionary=False,
        use_byte_stream_split=floats or False,
    )  # fmt: skip


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's dtype but the geometry's (Parquet reads text back as ``str``)."""
    return {str(c): str(t) for c, t in frame.dtypes.items() if str(t) != "geometry"}


def _restore(frame: gpd.GeoDataFrame, dtypes: Mapping[str, str]) -> gpd.GeoDataFrame:
    """The columns given back the dtypes they had when written."""
    changed = {c: t for c, t in dtypes.items() if str(frame[c].dtype) != t}
    return frame.astype(changed) if changed else frame


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when it lies inside it, else as it is."""
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def _service_arrays(name: str, res: ServiceResult) -> dict[str, np.ndarray]:
    """The per-cell arrays of one service's result, by column name."""
    out: dict[str, np.ndarray] = {
        f"{name}/time_min": np.asarray(res.search.time_min, dtype=np.float64),
        f"{name}/facility": np.asarray(res.search.facility, dtype=np.int32),
        f"{name}/reason": np.asarray(res.search.reason, dtype=np.uint8),
    }
    if res.access.walk_time_min is not None:
        out[f"{name}/walk_time_min"] = np.asarray(res.access.walk_time_min, dtype=np.float64)
    if res.access.connected is not None:
        out[f"{name}/connected"] = np.asarray(res.access.connected, dtype=bool)
    return out


def _evaluation_record(
    ev: Evaluation, base: Evaluation | None, folder: Path
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """What ``state.json`` says of one evaluation, and its per-cell table (None: nothing new)."""
    services: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, res in ev.services.items():
        if base is not None and res is base.services[name]:
            services[name] = {"same_as_baseline": True}
            continue
        own = _service_arrays(name, res)
        # an array the alternative leaves as the baseline's (a school's walk when a road is
        # paved, the minutes of telemedicine) is taken from the baseline's
        same = []
        if base is not None:
            before = _service_arrays(name, base.services[name])
            same = [k for k, a in own.items() if k in before and np.array_equal(a, before[k])]
        arrays.update({k: a for k, a in own.items() if k not in same})
        services[name] = {
            "same_as_baseline": False,
            "from_baseline": sorted(k.removeprefix(f"{name}/") for k in same),
            "season": res.season,
            "vehicle_share": float(res.access.vehicle_share),
            "remote_share": float(res.access.remote_share),
            "walk": res.access.walk_time_min is not None,
            "connected": res.access.connected is not None,
        }
    file = f"{ev.name}.parquet" if arrays else None
    record = {"name": ev.name, "folder": folder.as_posix(), "file": file, "services": services}
    return record, (_cells(arrays) if arrays else None)


def write_run_state(run: RunResult, folder: Path) -> list[Path]:
    """Write ``run_state/`` into a run's folder being written (see the module).

    Parameters
    ----------
    run
        The run, baseline and alternatives.
    folder
        The temporary folder of the run's swap (``run_state/`` is made in it).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    region = run.region
    grid = region.grid
    state = Path(folder) / STATE_FOLDER
    state.mkdir()
    written: list[Path] = []
    cells: dict[str, np.ndarray] = {
        "people": np.asarray(region.population.people, dtype=np.float64),
        "valid": np.asarray(region.population.valid, dtype=bool),
        "zone": np.asarray(region.zone, dtype=np.int32),
    }
    counts = region.population_counts
    counted_here = counts is not None and counts.people.shape == grid.shape
    if counts is not None and counted_here:
        cells["counted_people"] = np.asarray(counts.people, dtype=np.float64)
    _write_parquet(_cells(cells), state / _REGION_FILE)
    zones = region.zones.copy()
    if zones.crs is None:
        zones = zones.set_crs(grid.crs)
    zones.to_parquet(state / _ZONES_FILE, index=None, compression="zstd")
    written += [state / _REGION_FILE, state / _ZONES_FILE]
    if region.places is not None:
        region.places.to_parquet(state / _PLACES_FILE, index=None, compression="zstd")
        written.append(state / _PLACES_FILE)
    if run.routes is not None:
        _write_parquet(run.routes.origins, state / _ROUTES_FILE)
        run.routes.legs.to_parquet(state / _ROUTE_LEGS_FILE, index=None, compression="zstd")
        written += [state / _ROUTES_FILE, state / _ROUTE_LEGS_FILE]
    evaluations = []
    folders = [(run.baseline, Path())]
    folders += [(alt, Path("alternatives") / name) for name, alt in run.alternatives.items()]
    for ev, sub in folders:
        entry, table = _evaluation_record(ev, None if ev is run.baseline else run.baseline, sub)
        if table is not None:
            _write_parquet(table, state / str(entry["file"]))
            written.append(state / str(entry["file"]))
        evaluations.append(entry)
    correction = region.population_correction
    pop = region.population
    record: dict[str, Any] = {
        "format": STATE_FORMAT,
        "written_by": f"reach {__version__}",
        "grid": {
            "rows": grid.rows,
            "cols": grid.cols,
            "transform": [float(v) for v in list(grid.transform)[:6]],
            "crs_wkt": grid.crs.to_wkt(),
        },
        "population": {
            # beside the scenario, by its place there: a copied project gives the same bytes
            "path": _relative(Path(pop.path), run.scenario.base_dir),
            "total": float(pop.total),
            "nodata_inferred": bool(pop.nodata_inferred),
            "raster_total": float(region.raster_total),
        },
        "counts": None
        if counts is None
        else {"total": counts.total, "people_stored": counted_here},
        "correction": None
        if correction is None
        else {
            "mode": correction.mode,
            "warn_share": float(correction.warn_share),
            "outside_people": float(correction.outside_people),
            "total_before": float(correction.total_before),
            "total_after": float(correction.total_after),
        },
        "populated_water_cells": int(region.friction.populated_water_cells),
        "dtypes": {
            "zones": _dtypes(region.zones),
            "places": None if region.places is None else _dtypes(region.places),
            "routes": None if run.routes is None else _dtypes(run.routes.origins),
            "route_legs": None if run.routes is None else _dtypes(run.routes.legs),
        },
        "evaluations": evaluations,
    }
    path = state / _STATE_FILE
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", "utf-8")
    written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# the trust rule


@dataclass(frozen=True, eq=False)
class Reopened:
    """What :func:`reopen_run` found in a folder.

    Attributes
    ----------
    run
        The run read back, or ``None`` when the folder holds none this scenario may use.
    line
        One line to tell the user: where the run was read and when it was written, or why
        the scenario must be run again.
    """

    run: RunResult | None
    line: str


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _scenario_difference(scn: ScenarioSpec, manifest: Mapping[str, Any]) -> str | None:
    """The first part of the scenario that differs from the run's (``[outputs]`` aside)."""
    recorded = manifest.get("scenario")
    if not isinstance(recorded, dict):
        return "the manifest records no scenario"
    now = scn.model_dump(mode="json")
    for key in sorted(set(now) | set(recorded)):
        if key != "outputs" and now.get(key) != recorded.get(key):
            return f"the scenario's {key!r} changed since the run"
    return None


def _input_names(scn: ScenarioSpec, manifest: Mapping[str, Any]) -> dict[str, str]:
    """Each input's path now, by the path the run recorded it under.

    An input inside the scenario's folder is matched by its place in that folder, so a project
    moved or copied with its outputs still reads its run back.
    """
    before = Path(str(manifest.get("scenario_base_dir", scn.base_dir)))
    names = {}
    for path in scn.input_paths():
        if path.is_file():
            was = (
                before / path.relative_to(scn.base_dir)
                if path.is_relative_to(scn.base_dir)
                else path
            )
            names[str(was)] = str(path)
    return names


def _changed_input(scn: ScenarioSpec, manifest: Mapping[str, Any]) -> str | None:
    """The first input whose sha256 is not the run's (or that came or went)."""
    recorded = manifest.get("inputs_sha256")
    if not isinstance(recorded, dict):
        return "the manifest records no inputs"
    names = _input_names(scn, manifest)
    for was in sorted(set(names) | set(recorded)):
        if was not in names:
            return f"the input {was} is gone"
        if was not in recorded:
            return f"the input {names[was]} is new since the run"
        if file_sha256(Path(names[was])) != recorded[was]:
            return f"the input {names[was]} changed since the run (its sha256 differs)"
    return None


def _changed_output(folder: Path, recorded: Any) -> str | None:
    """The first file of the run (maps and reports aside) whose sha256 is not the recorded."""
    if not isinstance(recorded, dict):
        return "the manifest records no sha256 of the run's files"
    needed = [f"{STATE_FOLDER}/{_STATE_FILE}"]
    for rel in sorted(set(recorded) | set(needed)):
        if not hashed_output(rel):
            continue
        path = folder / rel
        if rel not in recorded:
            return f"the manifest records no sha256 of {rel}"
        if not path.is_file():
            return f"{rel} is missing"
        if file_sha256(path) != recorded[rel]:
            return f"{rel} changed since the run wrote it (its sha256 differs)"
    return None


def _refusal(scn: ScenarioSpec, folder: Path) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """Why the folder's run may not be used (``None``: it may), its manifest and state."""
    where = str(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        return f"no run in {where} yet", {}, {}
    try:
        check_output_target(folder)
    except InputError as exc:
        problem = exc.problem.split(";")[0]
        return f"{where} is not a folder reach can vouch for ({problem})", {}, {}
    manifest = _load_json(folder / MANIFEST_NAME) or {}
    state = _load_json(folder / STATE_FOLDER / _STATE_FILE)
    if manifest.get("command") != "run" or not isinstance(manifest.get("scenario"), dict):
        return f"{where} holds no run (written by `reach {manifest.get('command')}`)", {}, {}
    if manifest.get("reach_version") != __version__:
        return f"the run in {where} was made by reach {manifest.get('reach_version')}", {}, {}
    if manifest.get("schema_version") != SCHEMA_VERSION:
        return f"the run in {where} has tables of another schema version", {}, {}
    if state is None or state.get("format") != STATE_FORMAT:
        return f"the run in {where} holds no {STATE_FOLDER}/ reach can read back", {}, {}
    why = (
        _scenario_difference(scn, manifest)
        or _changed_input(scn, manifest)
        or _changed_output(folder, manifest.get("outputs_sha256"))
    )
    if why is not None:
        return f"{why} ({where})", {}, {}
    return None, manifest, state


def reopen_run(scn: ScenarioSpec, folder: Path) -> Reopened:
    """The run of ``scn`` in ``folder``, read back, when the folder may be trusted with it.

    Parameters
    ----------
    scn
        The scenario as it is now.
    folder
        The run's output folder.

    Returns
    -------
    Reopened
        The run and the line "read the run in … (written …)", or no run and the line that
        says why not (no run there, a folder reach did not write or that changed, another
        scenario or reach version, an input or an output file changed, or files that cannot
        be read back).
    """
    folder = Path(folder)
    why, manifest, state = _refusal(scn, folder)
    if why is not None:
        return Reopened(run=None, line=f"running the scenario: {why}")
    try:
        run = _read_run(scn, folder, manifest, state)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # e.g. counts spread on a finer grid than the run's: what the run kept does not suffice
        why = f"the run in {folder} cannot be read back ({type(exc).__name__}: {exc})"
        return Reopened(run=None, line=f"running the scenario: {why}")
    stamp = (folder / STATE_FOLDER / _STATE_FILE).stat().st_mtime
    when = dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
    return Reopened(run=run, line=f"read the run in {folder} (written {when})")


# --------------------------------------------------------------------------------------------
# reading


def _read_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def _own_columns(
    frame: pd.DataFrame, table: TableSchema, specs: Sequence[ServiceSpec], name: str
) -> list[str]:
    """The columns of a stacked table that belong to service ``name``'s own table.

    A stacked table holds every service's per-threshold columns; a service's own table has
    those of its thresholds only (the schema names them), in the stacked order.
    """

    def named(spec: ServiceSpec) -> set[str]:
        return set(table.columns(spec.thresholds_min, options=table.options))

    own = named(next(s for s in specs if s.name == name))
    others = set().union(*[named(s) for s in specs if s.name != name])
    return [c for c in frame.columns if c in own or c not in others]


def _part(
    frame: pd.DataFrame | None, table: TableSchema, specs: Sequence[ServiceSpec], name: str
) -> pd.DataFrame | None:
    """Service ``name``'s rows of a stacked table, as its own table (None: it has none)."""
    if frame is None:
        return None
    rows = frame[frame["service"].astype(str) == name]
    if rows.empty:
        return None
    return rows[_own_columns(frame, table, specs, name)].reset_index(drop=True)


def _facilities(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The facilities searched from, as points (lon/lat) with their id, name, tier, capacity."""
    keep = ["facility_id", "name", "tier", "capacity", "on_grid"]
    return gpd.GeoDataFrame(
        table[keep].copy(),
        geometry=gpd.points_from_xy(table["lon"].to_numpy(), table["lat"].to_numpy()),
        crs="EPSG:4326",
    )


def _baseline_array(res: ServiceResult, key: str) -> np.ndarray:
    """One per-cell array of the baseline's result of a service, by its key in the state."""
    arrays = {
        "time_min": res.search.time_min,
        "facility": res.search.facility,
        "reason": res.search.reason,
        "walk_time_min": res.access.walk_time_min,
        "connected": res.access.connected,
    }
    array = arrays[key]
    if array is None:
        raise KeyError(f"the baseline's {res.spec.name} has no {key}")
    return array


def _read_evaluation(
    scn: ScenarioSpec,
    record: Mapping[str, Any],
    state_dir: Path,
    out: Path,
    base: Evaluation | None,
) -> Evaluation:
    name = str(record["name"])
    folder = out / str(record["folder"])
    cells = pd.read_parquet(state_dir / str(record["file"])) if record["file"] else None
    coverage = _read_table(folder / "coverage.parquet")
    facilities = _read_table(folder / "facilities.parquet")
    virtual = _read_table(folder / "virtual.parquet")
    referrals = _read_table(folder / "referrals.parquet")
    levels = {
        lv.name: _read_table(folder / f"coverage_{lv.name}.parquet")
        for lv in scn.region.zone_levels
    }
    specs = list(scn.services)
    services: dict[str, ServiceResult] = {}
    for spec in specs:
        svc = spec.name
        info = record["services"][svc]
        if info["same_as_baseline"]:
            assert base is not None
            services[svc] = base.services[svc]
            continue
        assert coverage is not None and facilities is not None

        def column(
            key: str, *, svc: str = svc, same: Sequence[str] = info["from_baseline"]
        ) -> np.ndarray:
            if key in same:
                assert base is not None
                return _baseline_array(base.services[svc], key)
            assert cells is not None
            return cells[f"{svc}/{key}"].to_numpy()

        time_min = column("time_min")
        table = _part(facilities, FACILITIES, specs, svc)
        cov = _part(coverage, COVERAGE, specs, svc)
        assert table is not None and cov is not None
        services[svc] = ServiceResult(
            spec=spec,
            facilities=_facilities(table),
            search=SearchResult(
                time_min=time_min,
                facility=column("facility"),
                reason=column("reason"),
                node_time_min=np.empty(0, dtype=np.float64),
            ),
            coverage=cov,
            facility_table=table,
            access=CellAccess(
                time_min=time_min,
                walk_time_min=column("walk_time_min") if info["walk"] else None,
                vehicle_share=float(info["vehicle_share"]),
                connected=column("connected") if info["connected"] else None,
                remote_share=float(info["remote_share"]),
            ),
            virtual=_part(virtual, VIRTUAL, specs, svc),
            referrals=_part(referrals, REFERRALS, specs, svc),
            season=info["season"],
            level_coverage={
                lv: part
                for lv, frame in levels.items()
                if (part := _part(frame, COVERAGE, specs, svc)) is not None
            },
        )
    alternative = None
    if name != BASELINE:
        alternative = next(a for a in scn.alternatives if a.name == name)
    return Evaluation(
        name=name,
        alternative=alternative,
        services=services,
        seasons=_read_table(folder / "seasons.parquet"),
    )


def _read_region(scn: ScenarioSpec, state: Mapping[str, Any], state_dir: Path, out: Path) -> Region:
    g = state["grid"]
    shape = (int(g["rows"]), int(g["cols"]))
    cells = pd.read_parquet(state_dir / _REGION_FILE)
    people = cells["people"].to_numpy().reshape(shape)
    p = state["population"]
    pop = Population(
        people=people,
        valid=cells["valid"].to_numpy().reshape(shape),
        transform=Affine(*g["transform"]),
        crs=CRS.from_wkt(g["crs_wkt"]),
        path=scn.base_dir / p["path"],
        total=float(p["total"]),
        nodata_inferred=bool(p["nodata_inferred"]),
    )
    grid = grid_from_population(pop)
    zone = cells["zone"].to_numpy().reshape(shape)
    dtypes = state["dtypes"]
    zones = _restore(gpd.read_parquet(state_dir / _ZONES_FILE), dtypes["zones"])
    if scn.region.boundaries is None:
        zones = zones.set_crs(grid.crs, allow_override=True)
    places = None
    if dtypes["places"] is not None:
        places = _restore(gpd.read_parquet(state_dir / _PLACES_FILE), dtypes["places"])
    correction = None
    if state["correction"] is not None:
        c = state["correction"]
        correction = PopulationCorrection(
            people=people, table=pd.read_parquet(out / "population_correction.parquet"),
            mode=str(c["mode"]), warn_share=float(c["warn_share"]),
            outside_people=float(c["outside_people"]), total_before=float(c["total_before"]),
            total_after=float(c["total_after"]),
        )  # fmt: skip
    counts = None
    if state["counts"] is not None:
        if not state["counts"]["people_stored"]:
            raise ValueError("the people counted per zone were spread on another grid")
        counts = SpreadCounts(
            people=cells["counted_people"].to_numpy().reshape(shape),
            origin=_whole_cells(zone),
            table=pd.read_parquet(out / "population_counts.parquet"),
        )
    region = Region(
        scenario=scn,
        population=pop,
        raster_total=float(p["raster_total"]),
        grid=grid,
        zones=zones,
        zone=zone,
        friction=_no_friction(grid, int(state["populated_water_cells"])),
        roads=read_roads(scn)[0],
        facilities={},
        population_correction=correction,
        population_counts=counts,
        places=places,
    )
    return region


def _whole_cells(zone: np.ndarray) -> ZoneShares:
    """Each cell whole to its zone (what a reopened run keeps of the counts' origins)."""
    empty_i = np.zeros(0, dtype=np.int64)
    return ZoneShares(
        zone=zone,
        cells=empty_i,
        zones=np.zeros(0, dtype=np.int32),
        fractions=np.zeros(0, dtype=np.float64),
    )


def _no_friction(grid: AnalysisGrid, populated_water_cells: int) -> Friction:
    """A friction that passes nowhere (read-only views: a reopened run is not searched)."""
    return Friction(
        pace_min_per_m=np.broadcast_to(np.float64(np.inf), grid.shape),
        status=np.broadcast_to(np.uint8(STATUS_NO_DATA), grid.shape),
        elevation_m=None,
        populated_water_cells=populated_water_cells,
    )


def _read_sensitivity(out: Path, record: Mapping[str, Any]) -> SensitivityResult:
    def table(stem: str) -> pd.DataFrame:
        return pd.read_parquet(out / f"{stem}.parquet")

    design = table("sensitivity_design")
    names = list(design.columns)
    factor_columns = names[names.index("sample") + 1 : names.index("multiplier")]
    factors = design[design["sample"] == design["sample"].min()][factor_columns]
    return SensitivityResult(
        factors=factors.reset_index(drop=True),
        design=design,
        samples=table("sensitivity_samples"),
        ranges=table("sensitivity"),
        influence=table("sensitivity_influence"),
        speed_range_pct=float(record["speed_range_pct"]),
        seed=int(record["seed"]),
        n_samples=int(record["samples"]),
    )


def _read_routes(state_dir: Path, dtypes: Mapping[str, Any]) -> Explanation | None:
    """The baseline routes a run kept (``None``: it kept none), with their dtypes and ``None``s."""
    if dtypes.get("routes") is None:
        return None

    def restored(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
        changed = {c: t for c, t in kinds.items() if str(frame[c].dtype) != t}
        frame = frame.astype(changed) if changed else frame
        for c, t in kinds.items():
            if t == "object":  # text read back as ``str`` has NaN where it had None
                frame[c] = frame[c].where(frame[c].notna(), None)
        return frame

    origins = restored(pd.read_parquet(state_dir / _ROUTES_FILE), dtypes["routes"])
    legs = restored(gpd.read_parquet(state_dir / _ROUTE_LEGS_FILE), dtypes["route_legs"])
    assert isinstance(legs, gpd.GeoDataFrame)
    return Explanation(origins=origins, legs=legs)


def _findings(out: Path) -> list[Finding]:
    data = _load_json(out / "audit.json") or {}
    return [Finding(**item) for item in data.get("findings", [])]


def _read_run(
    scn: ScenarioSpec, out: Path, manifest: Mapping[str, Any], state: Mapping[str, Any]
) -> RunResult:
    state_dir = out / STATE_FOLDER
    region = _read_region(scn, state, state_dir, out)
    records = {str(r["name"]): r for r in state["evaluations"]}

    def read(name: str, base: Evaluation | None) -> Evaluation:
        return _read_evaluation(scn, records[name], state_dir, out, base)

    baseline = read(BASELINE, None)
    alternatives = {a.name: read(a.name, baseline) for a in scn.alternatives}
    comparison = ranking = None
    if alternatives:
        comparison = pd.read_parquet(out / "comparison.parquet")
        ranking = pd.read_parquet(out / "ranking.parquet")
    sens = manifest.get("sensitivity")
    return RunResult(
        scenario=scn,
        region=region,
        baseline=baseline,
        alternatives=alternatives,
        comparison=comparison,
        ranking=ranking,
        timings_s={str(k): float(v) for k, v in manifest.get("timings_s", {}).items()},
        out_dir=out,
        inputs={
            now: str(manifest["inputs_sha256"][was])
            for was, now in sorted(_input_names(scn, manifest).items(), key=lambda kv: kv[1])
        },
        warnings=[str(w) for w in manifest.get("warnings", [])],
        findings=_findings(out),
        sensitivity=_read_sensitivity(out, sens) if isinstance(sens, dict) else None,
        routes=_read_routes(state_dir, state["dtypes"]),
    )
