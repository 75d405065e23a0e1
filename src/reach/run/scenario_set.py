"""Run a scenario set: the baseline and every alternative on both cores, compared and ranked,
written as one output folder.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from reach.errors import ScenarioError
from reach.ingest.osm import PLACE_KINDS
from reach.model.region import Region
from reach.outputs.write import (
    check_output_target,
)
from reach.progress import Clock, StepCallback
from reach.results import Evaluation, Explanation, RunResult
from reach.run.audit import audit_run
from reach.run.evaluate import (
    builds_on_baseline,
    compare_evaluations,
    evaluate,
    key_threshold,
)
from reach.run.explain import explain_origins
from reach.run.manifest import changed_inputs, input_digests
from reach.run.region import (
    load_region,
)
from reach.run.write import write_run
from reach.scenarios.compare import rank_alternatives
from reach.schema import PLACE_ORIGIN_PREFIX, ZONE_ORIGIN_PREFIX
from reach.settings import thread_count
from reach.spec import (
    Alternative,
    ScenarioSpec,
)

__all__ = [
    "MAX_ROUTED_PLACES",
    "baseline_routes",
    "evaluate_set",
    "run_scenario",
]

#: At most this many of the region's places get their routes (the largest kinds first, then the
#: most people, then by name): the maps draw each, and a page must stay small.
MAX_ROUTED_PLACES = 200
#: Place kinds, largest first (the order places are picked in when there are too many).
_PLACE_ORDER = {"city": 0, "town": 1, "village": 2, "hamlet": 3}

_log = logging.getLogger("reach.run")


def evaluate_set(
    region: Region, baseline: Evaluation | None, clock: Clock
) -> tuple[Evaluation, dict[str, Evaluation]]:
    """Evaluate the baseline (unless given) and every alternative, on both cores.

    Alternatives that add, close or suspend roads and ferries, or bring seasons, are searched
    in full, so they start at once, beside the baseline; those that touch only facilities,
    demand or road upgrades start when the baseline is done, and build on it. Searches run on
    at most ``thread_count()`` threads at a time (``REACH_THREADS``); the kernels release the GIL
    and the region is only read, so the results are the same as one after the other.

    Parameters
    ----------
    region
        The loaded region; its scenario's ``[[alternatives]]`` are evaluated.
    baseline
        The baseline, already evaluated (e.g. by a partitioned run); ``None`` to evaluate it
        here.
    clock
        Times the steps (and reports progress).

    Returns
    -------
    baseline : Evaluation
        The baseline's evaluation (``baseline`` itself when given).
    alternatives : dict of str to Evaluation
        Each alternative's evaluation, by name, in the scenario file's order.

    Raises
    ------
    ScenarioError
        When an alternative cannot be applied to the region (see
        :func:`~reach.run.evaluate.evaluate`).
    """
    alts = region.scenario.alternatives
    tally = clock.tally("alternatives evaluated", len(alts)) if alts else None

    def run(alt: Alternative, base: Evaluation | None) -> Evaluation:
        ev = evaluate(region, name=alt.name, alternative=alt, clock=clock, baseline=base)
        if tally is not None:
            tally.add()
        return ev

    if thread_count() <= 1:
        base = baseline if baseline is not None else evaluate(region, clock=clock)
        return base, {a.name: run(a, base) for a in alts}
    # the pool's threads mostly wait for search slots (see _search_slots); a few more threads
    # than slots keep the slots busy while others build graphs, whatever the alternatives count
    with ThreadPoolExecutor(max_workers=min(len(alts) + 1, 2 * thread_count() + 1)) as pool:
        base_future = None if baseline is not None else pool.submit(evaluate, region, clock=clock)
        futures = {a.name: pool.submit(run, a, None) for a in alts if not builds_on_baseline(a)}
        done = base_future.result() if base_future is not None else baseline
        assert done is not None
        for a in alts:
            if a.name not in futures:
                futures[a.name] = pool.submit(run, a, done)
        return done, {a.name: futures[a.name].result() for a in alts}


def _place_origins(region: Region) -> pd.DataFrame:
    """The region's places, the largest first, at most :data:`MAX_ROUTED_PLACES` of them."""
    places = region.places
    empty = pd.DataFrame({"origin_id": [], "lon": [], "lat": []})
    if places is None or not len(places):
        return empty
    pts = places.to_crs("EPSG:4326").geometry if places.crs is not None else places.geometry
    kinds = places["place"].astype(str).to_numpy()
    people = pd.to_numeric(places["population"], errors="coerce").to_numpy(np.float64)
    frame = pd.DataFrame(
        {
            "origin_id": [PLACE_ORIGIN_PREFIX + str(v) for v in places["osm_id"]],
            "lon": pts.x.to_numpy(np.float64),
            "lat": pts.y.to_numpy(np.float64),
            "rank": [_PLACE_ORDER.get(k, 9) for k in kinds],
            "people": np.where(np.isfinite(people), -people, 0.0),
            "name": places["name"].astype(str).to_numpy(),
            "keep": np.isin(kinds, list(PLACE_KINDS)) & np.isfinite(pts.x.to_numpy(np.float64)),
        }
    )
    frame = frame[frame["keep"]].drop_duplicates("origin_id")
    frame = frame.sort_values(["rank", "people", "name", "origin_id"], kind="stable")
    return frame.head(MAX_ROUTED_PLACES)[["origin_id", "lon", "lat"]].reset_index(drop=True)


def _zone_origins(region: Region, time_min: np.ndarray) -> pd.DataFrame:
    """Per zone with people, the populated cell at the median travel time of its people."""
    people = np.asarray(region.population.people, dtype=np.float64).ravel()
    zone = np.asarray(region.zone).ravel()
    time = np.asarray(time_min, dtype=np.float64).ravel()
    time = np.where(np.isfinite(time), time, np.inf)
    ids, cells = [], []
    for k, zone_id in enumerate(region.zones["zone_id"].astype(str)):
        mine = np.flatnonzero((zone == k + 1) & (people > 0))
        if not len(mine):
            continue
        order = mine[np.lexsort((mine, time[mine]))]  # by time, then by cell: one answer
        cum = np.cumsum(people[order])
        ids.append(ZONE_ORIGIN_PREFIX + zone_id)
        cells.append(int(order[int(np.searchsorted(cum, cum[-1] / 2))]))
    x, y = region.grid.cell_centres(np.asarray(cells, dtype=np.int64))
    lon, lat = Transformer.from_crs(region.grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return pd.DataFrame(
        {"origin_id": ids, "lon": np.asarray(lon, np.float64), "lat": np.asarray(lat, np.float64)}
    )


def baseline_routes(region: Region, baseline: Evaluation) -> Explanation | None:
    """The baseline routes the maps and the report show, read back from its searches.

    For each service: the routes of the region's places (at most :data:`MAX_ROUTED_PLACES`,
    ids ``place:<osm_id>``, see :data:`reach.schema.PLACE_ORIGIN_PREFIX`), and of one
    representative origin per zone with people (ids ``zone:<zone_id>``, see
    :data:`reach.schema.ZONE_ORIGIN_PREFIX`): the zone's populated cell at the
    median travel time of its people (people-weighted; the unreached count as furthest), its
    centre as the origin.

    Parameters
    ----------
    region
        The loaded region (searchable: not a reopened run).
    baseline
        Its baseline evaluation.

    Returns
    -------
    Explanation or None
        The routes; ``None`` for the AccessMod-compatible model, which keeps none.
    """
    if region.scenario.grid.model == "accessmod":
        return None
    places = _place_origins(region)
    parts: list[Explanation] = []
    try:
        for name, res in baseline.services.items():
            zones = _zone_origins(region, res.search.time_min)
            origins = pd.concat([places, zones], ignore_index=True)
            if len(origins):
                parts.append(explain_origins(region, baseline, origins, services=[name]))
    except ScenarioError as exc:
        _log.warning("no routes for the maps and the report: %s", exc)
        return None
    if not parts:
        return None
    legs = pd.concat([p.legs for p in parts], ignore_index=True)
    return Explanation(
        origins=pd.concat([p.origins for p in parts], ignore_index=True),
        legs=gpd.GeoDataFrame(legs, geometry="geometry", crs="EPSG:4326"),
    )


def run_scenario(
    scn: ScenarioSpec,
    *,
    out_dir: Path | None = None,
    write: bool = True,
    on_step: StepCallback | None = None,
    region: Region | None = None,
    maps: bool = True,
    baseline: Evaluation | None = None,
) -> RunResult:
    """Run a scenario set (baseline + alternatives) and write its outputs atomically.

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
    region
        An already loaded region of this scenario (skips reading the inputs again).
    maps
        Write the HTML maps and reports (when the scenario's ``outputs.maps`` or
        ``outputs.reports`` asks for them too).
    baseline
        The baseline, already evaluated (e.g. by a partitioned run on a Dask cluster); its
        run keeps no routes for the maps and the report (``RunResult.routes`` is ``None``).

    Returns
    -------
    RunResult
        Baseline, alternatives, comparison and ranking, with timings, the inputs' sha256 and
        the warnings (with ``out_dir`` set when the outputs were written).

    Raises
    ------
    InputError
        When the output folder may not be replaced (checked before any work), or an input is
        refused.
    ScenarioError
        When ``$REACH_THREADS`` is not a valid thread count (checked before any work), or an
        alternative cannot be applied to the region.
    ResourceLimitError
        When the run would not fit in memory, or the disk is full or not writable.
    """
    clock = Clock(on_step)
    thread_count()  # a bad $REACH_THREADS is refused before any work
    target = None
    if write:
        target = out_dir if out_dir is not None else scn.resolve(scn.outputs.folder)
        target = check_output_target(target, protect=scn.protected_paths())
    # the inputs' sha256 and stamps before they are read: the manifest records what the results
    # came from, and an input changed while the run read it is reported
    inputs = input_digests(scn)
    region = region or load_region(scn, clock=clock)
    # a baseline evaluated elsewhere (a partitioned run's, merged) keeps no search to trace
    traceable = baseline is None
    baseline, alternatives = evaluate_set(region, baseline, clock)
    comparison = ranking = None
    if alternatives:
        with clock.step("compare"):
            threads = min(len(alternatives), thread_count())
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(
                    pool.map(
                        lambda ev: compare_evaluations(region, baseline, ev),
                        alternatives.values(),
                    )
                )
            comparison = pd.concat(parts, ignore_index=True)
            ranking = rank_alternatives(
                comparison, key_thresholds={s.name: key_threshold(s) for s in scn.services}
            )
    run = RunResult(
        scenario=scn, region=region, baseline=baseline, alternatives=alternatives,
        comparison=comparison, ranking=ranking, timings_s=clock.timings,
        inputs={str(p): digest for p, (digest, _) in inputs.items()},
        warnings=list(getattr(region, "warnings", [])),
    )  # fmt: skip
    for line in changed_inputs(inputs):
        run.warnings.append(line)
        _log.warning(line)
    run.findings = audit_run(region, baseline)
    if traceable:
        with clock.step("routes"):
            run.routes = baseline_routes(region, baseline)
    if scn.sensitivity.samples:
        from reach.run.sensitivity import sensitivity_study

        run.sensitivity = sensitivity_study(
            region, baseline, samples=scn.sensitivity.samples,
            speed_range_pct=scn.sensitivity.speed_range_pct, seed=scn.sensitivity.seed,
            clock=clock,
        )  # fmt: skip
    if target is not None:
        with clock.step("write outputs"):
            write_run(run, target, maps=maps, clock=clock)
        run.out_dir = target
    return run
