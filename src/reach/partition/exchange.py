"""The search of every partition, and the exchange of edge values between them.

Each partition is searched on its window from its facilities
(:func:`reach.partition.windows.start_window`). A partition whose window holds every path
within the time limit is then exact. The others **exchange**: the coordinator keeps, per
service, the latest time and catchment of every exchanged cell and node; each round, a
partition whose ring cells or seed nodes improved continues its search from them
(:func:`reach.partition.windows.continue_window`) and sends back the exports that changed,
until no value changes. The partitions' states stay on their workers between rounds; only
seeds and changed exports travel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from reach.errors import ResourceLimitError
from reach.partition.executors import Executor, pick
from reach.partition.inputs import CoordinatorInputs
from reach.partition.plan import PartitionPlan
from reach.partition.tasks import build_tasks
from reach.partition.windows import (
    CoreResult,
    Exports,
    Seeds,
    WindowStats,
    continue_window,
    finish_window,
    start_window,
)
from reach.progress import Clock

__all__ = ["search_partitions"]

_log = logging.getLogger("reach.partition")


@dataclass(eq=False)
class _Table:
    """The latest time and catchment of every exchanged vertex of one kind, for one service."""

    ids: np.ndarray
    time_min: np.ndarray
    facility: np.ndarray
    changed: np.ndarray

    @classmethod
    def of(cls, ids: np.ndarray) -> _Table:
        n = len(ids)
        return cls(ids, np.full(n, np.inf), np.full(n, -1, np.int32), np.zeros(n, bool))

    def apply(self, ids: np.ndarray, t: np.ndarray, f: np.ndarray) -> None:
        if len(ids) == 0:
            return
        pos = np.searchsorted(self.ids, ids)
        better = t < self.time_min[pos]
        pos, t, f = pos[better], t[better], f[better]
        self.time_min[pos] = t
        self.facility[pos] = f
        self.changed[pos] = True


def _positions(table_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(table_ids, ids)
    if len(ids) and (pos.max() >= len(table_ids) or not np.array_equal(table_ids[pos], ids)):
        raise AssertionError("a partition needs a value no partition exports")
    return pos


def search_partitions(
    plan: PartitionPlan,
    inputs: CoordinatorInputs,
    ex: Executor,
    clock: Clock,
    *,
    max_rounds: int,
) -> tuple[list[CoreResult], list[WindowStats], int]:
    """Search every partition, exchanging edge values in rounds until nothing changes.

    Parameters
    ----------
    plan
        The partitions.
    inputs
        The coordinator's inputs (for each window's friction).
    ex
        Where the tasks run.
    clock
        Times the steps (tasks, search, exchange, results).
    max_rounds
        Stop with an error if the exchange has not settled after this many rounds.

    Returns
    -------
    tuple
        The partitions' core results and costs (in the plan's order), and the rounds run.

    Raises
    ------
    ResourceLimitError
        If the exchange does not settle in ``max_rounds``, or a Dask worker is lost.
    """
    scn = plan.scenario
    with clock.step("partition: tasks"):
        tasks = build_tasks(plan)
    with clock.step("partition: search"):
        started = [
            ex.submit(start_window, ex.put(t), ex.put(inputs.payload(t.rect))) for t in tasks
        ]
        states = {t.index: ex.submit(pick, h, 0) for t, h in zip(tasks, started, strict=True)}
        exports: list[Exports] = ex.gather(ex.submit(pick, h, 1) for h in started)
        del started
        ex.settle(states.values())
    rounds = 0
    with clock.step("partition: exchange"):
        exchanging = [t for t in tasks if t.exchange]
        if exchanging:
            cell_ids = np.unique(np.concatenate([t.export_ids for t in exchanging]))
            cell_tab = {s.name: _Table.of(cell_ids) for s in scn.services}
            node_ids = {
                m: np.unique(
                    np.concatenate(
                        [np.empty(0, np.int64)] + [t.modes[m].export_node_ids for t in exchanging]
                    )
                )
                for m in plan.networks
            }
            node_tab = {s.name: _Table.of(node_ids[s.mode]) for s in scn.services}
            ring_pos = {t.index: _positions(cell_ids, t.ring_ids) for t in exchanging}
            seed_pos = {
                (t.index, m): _positions(node_ids[m], mw.seed_node_ids)
                for t in exchanging
                for m, mw in t.modes.items()
            }
        while exchanging:
            for e in exports:
                for s, (ids, tm, fa) in e.cells.items():
                    cell_tab[s].apply(ids, tm, fa)
                for s, (ids, tm, fa) in e.nodes.items():
                    node_tab[s].apply(ids, tm, fa)
            handles = []
            for t in exchanging:
                seeds: dict[str, Seeds] = {}
                for svc in t.services:
                    ct, nt = cell_tab[svc.name], node_tab[svc.name]
                    rp = ring_pos[t.index]
                    cs = rp[ct.changed[rp]]
                    mw = t.modes[svc.mode]
                    npos = seed_pos[(t.index, svc.mode)]
                    sel_n = nt.changed[npos]
                    sel_c = ct.changed[rp]
                    if not (sel_c.any() or sel_n.any()):
                        continue
                    seeds[svc.name] = Seeds(
                        cells=np.concatenate([t.ring_cells[sel_c], mw.seed_portals[sel_n]]),
                        time_min=np.concatenate([ct.time_min[cs], nt.time_min[npos[sel_n]]]),
                        facility=np.concatenate([ct.facility[cs], nt.facility[npos[sel_n]]]).astype(
                            np.int32
                        ),
                    )
                if seeds:
                    h = ex.submit_on(states[t.index], continue_window, ex.put(seeds))
                    states[t.index] = ex.submit(pick, h, 0)
                    handles.append(ex.submit(pick, h, 1))
            for tab in (*cell_tab.values(), *node_tab.values()):
                tab.changed[:] = False
            if not handles:
                break
            rounds += 1
            if rounds > max_rounds:
                raise ResourceLimitError(
                    f"the partitions' exchange did not settle in {max_rounds} rounds",
                    fix="use larger tiles (tile_cells) or a wider halo (halo_cells)",
                )
            exports = ex.gather(handles)
            ex.settle(states.values())
            _log.info("exchange round %d: %d partitions", rounds, len(handles))
    with clock.step("partition: results"):
        results: list[CoreResult] = ex.gather(
            ex.submit_on(states[t.index], finish_window) for t in tasks
        )
    results.sort(key=lambda r: r.index)
    return results, [r.stats for r in results], rounds
