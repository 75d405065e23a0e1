"""Evaluate a scenario's baseline partition by partition: plan, search and exchange, merge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from reach.errors import ScenarioError
from reach.model.region import Region
from reach.partition.exchange import search_partitions
from reach.partition.executors import ExecutorKind, make_executor
from reach.partition.inputs import read_inputs
from reach.partition.merge import baseline_evaluation, merge_results, region_without_friction
from reach.partition.owners import PartitionBy
from reach.partition.plan import PartitionPlan, check_partition_options, make_plan
from reach.partition.windows import WindowStats
from reach.progress import Clock, StepCallback
from reach.spec import ScenarioSpec

if TYPE_CHECKING:
    from reach.results import Evaluation

__all__ = ["PartitionedRun", "run_partitioned"]


@dataclass(eq=False)
class PartitionedRun:
    """The result of :func:`run_partitioned`.

    Attributes
    ----------
    region
        The region. From a scenario file it holds everything but the friction, which was
        built per window and not kept (``region.friction`` has empty arrays and the whole
        grid's ``populated_water_cells``): enough to write outputs, not to evaluate
        alternatives.
    baseline
        The baseline's evaluation, as :func:`reach.run.evaluate.evaluate` returns it.
    plan
        The partitions.
    stats
        What each partition's task cost (wall seconds by step, peak memory, rounds).
    rounds
        Exchange rounds run after the first search (0 when every window was exact).
    timings_s
        Seconds per step of the whole run.
    """

    region: Region
    baseline: Evaluation
    plan: PartitionPlan
    stats: list[WindowStats]
    rounds: int
    timings_s: dict[str, float] = field(default_factory=dict)

    def work_table(self) -> pd.DataFrame:
        """Per partition: window and core cells, rounds, seconds and peak memory.

        Returns
        -------
        pandas.DataFrame
            One row per partition.
        """
        rows = []
        for p, s in zip(self.plan.partitions, self.stats, strict=True):
            rows.append(
                {
                    "partition": p.index,
                    "kind": p.kind,
                    "window_cells": p.window_cells,
                    "core_cells": p.core_cells,
                    "rounds": s.rounds,
                    "reached_cells": s.reached_cells,
                    **{f"{k}_s": round(v, 3) for k, v in s.seconds.items()},
                    "peak_rss_mb": s.peak_rss_bytes / 2**20,
                }
            )
        return pd.DataFrame(rows).fillna(0.0)


def run_partitioned(
    source: ScenarioSpec | Region,
    *,
    executor: ExecutorKind | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    by: PartitionBy = "auto",
    tile_cells: int | None = None,
    halo_cells: int | None = None,
    plan: PartitionPlan | None = None,
    max_rounds: int = 10_000,
    on_step: StepCallback | None = None,
) -> PartitionedRun:
    """Evaluate a scenario's baseline partition by partition.

    Parameters
    ----------
    source
        A loaded region (each task is sent a slice of its friction; the results equal
        ``evaluate(region)`` bit for bit, catchments up to exact ties), or a scenario (each task
        reads and builds its window's friction; equal to float rounding of the warps).
    executor
        ``"local"`` (in this process; the default without workers or scheduler) or ``"dask"``.
    workers
        Workers of a new local Dask cluster (one thread each).
    scheduler
        Address of a running Dask scheduler (``"tcp://host:8786"``) instead of a new cluster.
    by, tile_cells, halo_cells
        How to partition (see :func:`plan_partitions`).
    plan
        A plan made earlier for this source (skips planning).
    max_rounds
        Stop with an error if the exchange has not settled after this many rounds.
    on_step
        Called with the name of each step as it starts.

    Returns
    -------
    PartitionedRun
        The region, the baseline :class:`reach.results.Evaluation`, the plan and the cost of
        every partition.
    """
    clock = Clock(on_step)
    if plan is None:
        check_partition_options(by, tile_cells, halo_cells)
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ScenarioError(f"max_rounds must be at least 1, not {max_rounds!r}", fix="use 10000")
    ex = make_executor(executor, workers=workers, scheduler=scheduler)
    try:
        inputs = read_inputs(source, clock)
        if plan is None:
            plan = make_plan(
                inputs, ex, by=by, tile_cells=tile_cells, halo_cells=halo_cells, clock=clock
            )
        results, stats, rounds = search_partitions(plan, inputs, ex, clock, max_rounds=max_rounds)
    finally:
        ex.close()
    with clock.step("partition: merge"):
        searches = merge_results(plan, results)
        del results
    region = inputs.region or region_without_friction(inputs, plan)
    with clock.step("partition: coverage"):
        baseline = baseline_evaluation(region, plan, searches)
    return PartitionedRun(
        region=region,
        baseline=baseline,
        plan=plan,
        stats=stats,
        rounds=rounds,
        timings_s=clock.timings,
    )
