"""Run a scenario set: the baseline and every alternative on both cores, compared and ranked,
written as one output folder.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from reach.model.region import Region
from reach.outputs.write import (
    check_output_target,
)
from reach.progress import Clock, StepCallback
from reach.results import Evaluation, RunResult
from reach.run.audit import audit_run
from reach.run.evaluate import (
    builds_on_baseline,
    compare_evaluations,
    evaluate,
    key_threshold,
)
from reach.run.manifest import changed_inputs, input_digests
from reach.run.region import (
    load_region,
)
from reach.run.write import write_run
from reach.scenarios.compare import rank_alternatives
from reach.settings import thread_count
from reach.spec import (
    Alternative,
    ScenarioSpec,
)

__all__ = [
    "evaluate_set",
    "run_scenario",
]

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
        The baseline, already evaluated (e.g. by a partitioned run on a Dask cluster).

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
