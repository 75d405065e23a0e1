"""Benchmark a scenario set: candidate health-centre sites evaluated in full vs incrementally.

Run from the repository root::

    python benchmarks/scenarios.py [--sites 10] [--repeat 3] [--scenario scenarios/comoros.toml]

Loads the region once, evaluates the baseline, screens ``--sites`` candidate sites (the cells with
most people beyond 60 minutes around them, across every zone), and then evaluates one alternative
per site — each adds one health centre to the service — twice: searching every service in full,
and incrementally (the new centre's search starts from the baseline's times and visits only the
cells it serves sooner; services the alternative does not touch are reused). It checks the two
give identical travel times and prints the per-alternative time of each, median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from reach.results import Evaluation
from reach.run.evaluate import compare_evaluations, evaluate
from reach.run.region import load_region
from reach.scenarios.candidates import underserved_sites
from reach.spec import Alternative, load_scenario

REPO = Path(__file__).resolve().parents[1]


def _alternatives(service: str, sites: list[tuple[float, float]]) -> list[Alternative]:
    return [
        Alternative.model_validate(
            {
                "name": f"site-{i + 1}",
                "operations": [
                    {
                        "op": "add_facility",
                        "service": service,
                        "facility_id": f"site-{i + 1}",
                        "lon": lon,
                        "lat": lat,
                        "tier": "health_centre",
                    }
                ],
            }
        )
        for i, (lon, lat) in enumerate(sites)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "comoros.toml")
    parser.add_argument("--service", default="health")
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    scn = load_scenario(args.scenario)
    t0 = time.perf_counter()
    region = load_region(scn)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = evaluate(region)
    t_base = time.perf_counter() - t0
    found = underserved_sites(
        region.population.people,
        base.services[args.service].search.time_min,
        region.grid,
        beyond_min=60,
        n_sites=args.sites,
        allowed=np.isfinite(region.friction.pace_min_per_m).reshape(region.grid.shape),
    )
    alts = _alternatives(args.service, list(zip(found["lon"], found["lat"], strict=True)))
    # warm-up (numba, caches)
    evaluate(region, name="w", alternative=alts[0], baseline=base)

    def run(incremental: bool) -> tuple[float, float, list[Evaluation]]:
        evs: list[Evaluation] = []
        t0 = time.perf_counter()
        for alt in alts:
            evs.append(
                evaluate(
                    region, name=alt.name, alternative=alt, baseline=base, incremental=incremental
                )
            )
        t_eval = time.perf_counter() - t0
        t0 = time.perf_counter()
        for ev in evs:
            compare_evaluations(region, base, ev)
        return t_eval, time.perf_counter() - t0, evs

    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    kept: dict[bool, list[Evaluation]] = {}
    for _ in range(args.repeat):
        for incremental in (False, True):
            t_eval, t_cmp, evs = run(incremental)
            results[incremental].append((t_eval, t_cmp))
            kept[incremental] = evs
    same = all(
        np.array_equal(a.services[s].search.time_min, b.services[s].search.time_min)
        for a, b in zip(kept[True], kept[False], strict=True)
        for s in a.services
    )
    n = len(alts)
    shape = f"{region.grid.rows} × {region.grid.cols} cells"
    what = f"{n} alternatives (one added {args.service} centre each)"
    print(f"scenario: {scn.scenario.name} · {shape} · {len(scn.services)} services · {what}")
    print(
        f"region load {t_load:.2f} s · baseline evaluation {t_base:.2f} s · repeats {args.repeat}"
    )
    print()
    print(f"{'evaluation':<14}{'per alternative s':>20}{'set of ' + str(n) + ' s':>14}"
          f"{'compare s':>12}{'speed-up':>10}")  # fmt: skip
    full_eval = statistics.median(r[0] for r in results[False])
    for incremental in (False, True):
        t_eval = statistics.median(r[0] for r in results[incremental])
        t_cmp = statistics.median(r[1] for r in results[incremental])
        label = "incremental" if incremental else "full"
        print(f"{label:<14}{t_eval / n:>20.3f}{t_eval:>14.2f}{t_cmp:>12.2f}"
              f"{full_eval / t_eval:>9.1f}×")  # fmt: skip
    print()
    print(f"identical travel times, every cell and service: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
