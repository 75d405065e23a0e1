"""Run a scenario: load its region, evaluate the baseline and alternatives, write the outputs.

One module per job: :mod:`~reach.run.region` loads a region (with the checks of
:mod:`~reach.run.checks`), :mod:`~reach.run.session` holds its search session,
:mod:`~reach.run.evaluate` evaluates the baseline or an alternative (measured by
:mod:`~reach.run.measure`), :mod:`~reach.run.scenario_set` runs a scenario set,
:mod:`~reach.run.analyses` holds the analysis commands, and :mod:`~reach.run.write` writes a
run or an analysis with its manifest.
"""

from __future__ import annotations

from reach.run.evaluate import compare_evaluations, evaluate, key_threshold
from reach.run.measure import baseline_result
from reach.run.region import load_region, read_region_inputs
from reach.run.scenario_set import run_scenario
from reach.run.session import SearchSession, region_session, service_graph

__all__ = [
    "SearchSession",
    "baseline_result",
    "compare_evaluations",
    "evaluate",
    "key_threshold",
    "load_region",
    "read_region_inputs",
    "region_session",
    "run_scenario",
    "service_graph",
]
