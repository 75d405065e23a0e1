"""Benchmark partitioned runs (``reach.partition``) on a generated region of 10⁸ cells.

Run from the repository root (``pip install -e '.[test,dask]'``)::

    python benchmarks/partition.py [--size 100000000] [--workers 2] [--tile-cells 4000000]
                                   [--folder DIR] [--check-size 2000000] [--json out.json]

It

1. checks, on a small demo (``--check-size`` cells), that a partitioned run on the Dask cluster
   gives the whole-region run's results: from the loaded region (friction sliced) and from the
   scenario file (each worker reads its own window);
2. generates (or reuses, with ``--folder``) the big demo region and runs it partitioned from the
   scenario file, so no process ever holds the whole friction: the coordinator reads the
   population, zones, roads and facilities, the workers build the friction window by window;
3. prints the plan, the steps' wall times, the work and peak memory per partition and per
   worker, and an estimate for a national run (Indonesia, ~190 million land cells at 100 m,
   ~17,000 islands) on a 16-worker cluster, scaled from the measured rates.

See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from reach.demo import demo_scenario_toml, generate_demo
from reach.metrics.coverage import ALL_ZONES_ID
from reach.partition import PartitionedRun, coordinator_bytes, run_partitioned
from reach.results import Evaluation
from reach.run.checks import memory_estimate_bytes
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.settings import MEMORY_ENV, available_memory_bytes
from reach.spec import ScenarioSpec, load_scenario

__all__ = ["compare_evaluations", "main", "national_estimate"]

GIB = 2**30


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def demo_folder(folder: Path, *, size: int, seed: int) -> Path:
    """Generate the demo region into ``folder`` unless it already holds one of that size."""
    summary = folder / "summary.json"
    scenario = folder / "demo.toml"
    if summary.is_file() and scenario.is_file():
        info = json.loads(summary.read_text())
        rows, cols = info["grid"]["rows"], info["grid"]["cols"]
        if abs(rows * cols - size) <= size // 100 and info.get("seed") == seed:
            print(f"reusing {folder} ({rows * cols:,} cells)")
            return scenario
    t0 = time.perf_counter()
    files = generate_demo(folder, size_cells=size, seed=seed)
    scenario.write_text(demo_scenario_toml(files, relative_to=folder), "utf-8")
    print(f"generated {folder} ({files.size_cells:,} cells) in {time.perf_counter() - t0:.1f} s")
    return scenario


def compare_evaluations(base: Evaluation, other: Evaluation) -> dict[str, float]:
    """Largest differences between two evaluations of the same region."""
    dt = 0.0
    finite = catch = reason = 0
    for name, r in base.services.items():
        a, b = r.search, other.services[name].search
        fa, fb = np.isfinite(a.time_min), np.isfinite(b.time_min)
        finite += int((fa != fb).sum())
        both = fa & fb
        if both.any():
            dt = max(dt, float(np.abs(a.time_min[both] - b.time_min[both]).max()))
        catch += int((a.facility != b.facility).sum())
        reason += int((a.reason != b.reason).sum())
    ca, cb = base.coverage, other.coverage
    num = ca.select_dtypes("number").columns
    x, y = ca[num].to_numpy(float), cb[num].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.nanmax(np.where(x != 0, np.abs(x - y) / np.abs(x), np.abs(x - y)))
    return {
        "max_abs_time_diff_min": dt,
        "reached_differently": finite,
        "catchment_diffs": catch,
        "reason_diffs": reason,
        "coverage_max_rel_diff": float(rel),
    }


def _check(size: int, seed: int, address: str, tile_cells: int) -> pd.DataFrame:
    """Partitioned = whole-region run on a small demo (both kinds of partitioned run)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="reach-partition-check-") as tmp:
        scn_path = demo_folder(Path(tmp), size=size, seed=seed)
        scn = load_scenario(scn_path)
        t0 = time.perf_counter()
        region = load_region(scn)
        base = evaluate(region)
        single_s = time.perf_counter() - t0
        rows.append(
            {"run": "whole region, 1 process", "partitions": 1, "rounds": 0, "wall_s": single_s}
        )
        for label, source in (
            ("partitioned: region sliced", region),
            ("partitioned: windows read by workers", scn),
        ):
            t0 = time.perf_counter()
            res = run_partitioned(source, scheduler=address, by="tiles", tile_cells=tile_cells)
            wall = time.perf_counter() - t0
            rows.append(
                {
                    "run": label,
                    "partitions": len(res.plan.partitions),
                    "rounds": res.rounds,
                    "wall_s": wall,
                    **compare_evaluations(base, res.baseline),
                }
            )
    return pd.DataFrame(rows)


def _save(ev: Evaluation, folder: Path) -> None:
    """An evaluation's per-cell arrays and tables, for a comparison in another process."""
    for name, r in ev.services.items():
        for attr in ("time_min", "facility", "reason", "node_time_min"):
            np.save(folder / f"{name}.{attr}.npy", getattr(r.search, attr))
    ev.coverage.to_pickle(folder / "coverage.pkl")
    ev.facilities.to_pickle(folder / "facilities.pkl")


def _whole_compare(folder: Path, scenario: Path) -> dict[str, Any]:
    """Run the whole region in this process and compare with the saved partitioned run."""
    _reset_peak()
    t0 = time.perf_counter()
    region = load_region(load_scenario(scenario))
    base = evaluate(region)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {"wall_s": wall, "peak_rss_gb": _peak_rss_bytes() / GIB}
    dt = 0.0
    finite = catch = reason = nodes = 0
    for name, r in base.services.items():
        a = r.search
        tb = np.load(folder / f"{name}.time_min.npy")
        fa, fb = np.isfinite(a.time_min), np.isfinite(tb)
        finite += int((fa != fb).sum())
        both = fa & fb
        if both.any():
            dt = max(dt, float(np.abs(a.time_min[both] - tb[both]).max()))
        del tb
        catch += int((a.facility != np.load(folder / f"{name}.facility.npy")).sum())
        reason += int((a.reason != np.load(folder / f"{name}.reason.npy")).sum())
        nb = np.load(folder / f"{name}.node_time_min.npy")
        nodes += int((np.isfinite(a.node_time_min) != np.isfinite(nb)).sum())
    cov = pd.read_pickle(folder / "coverage.pkl")
    num = base.coverage.select_dtypes("number").columns
    x, y = base.coverage[num].to_numpy(float), cov[num].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.nanmax(np.where(x != 0, np.abs(x - y) / np.abs(x), np.abs(x - y)))
    fac = pd.read_pickle(folder / "facilities.pkl")
    fnum = base.facilities.select_dtypes("number").columns
    fx, fy = base.facilities[fnum].to_numpy(float), fac[fnum].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frel = np.nanmax(np.where(fx != 0, np.abs(fx - fy) / np.abs(fx), np.abs(fx - fy)))
    out.update(
        max_abs_time_diff_min=dt,
        reached_differently=finite,
        nodes_reached_differently=nodes,
        catchment_diffs=catch,
        reason_diffs=reason,
        coverage_max_rel_diff=float(rel),
        facility_table_max_rel_diff=float(frel),
        coverage_identical=bool(base.coverage.equals(cov)),
    )
    return out


def _worker_table(run: PartitionedRun) -> pd.DataFrame:
    rows = []
    by_pid: dict[int, list[Any]] = {}
    for s in run.stats:
        by_pid.setdefault(s.pid, []).append(s)
    for k, (pid, stats) in enumerate(sorted(by_pid.items())):
        rows.append(
            {
                "worker": k,
                "pid": pid,
                "partitions": len(stats),
                "window_cells": sum(s.window_cells for s in stats),
                "busy_s": sum(sum(s.seconds.values()) for s in stats),
                "peak_rss_gb": max(s.peak_rss_bytes for s in stats) / GIB,
            }
        )
    return pd.DataFrame(rows)


def national_estimate(
    run: PartitionedRun,
    wall_s: float,
    workers: int,
    *,
    land_cells: float = 190e6,
    bbox_cells: float = 51_000 * 19_000,
    islands: int = 17_000,
    target_workers: int = 16,
) -> pd.DataFrame:
    """Scale the measured run to a national one (Indonesia by default)."""
    plan = run.plan
    t = run.timings_s
    grid_cells = plan.grid.n_cells
    core = sum(p.core_cells for p in plan.partitions)
    window = sum(p.window_cells for p in plan.partitions)
    task_s = sum(sum(s.seconds.values()) for s in run.stats)
    survey_s = t.get("partition: survey", 0.0) * workers  # worker-seconds, all tiles
    coordinator_s = (
        sum(v for k, v in t.items() if k not in ("partition: survey",))
        - t.get("partition: search", 0.0)
        - t.get("partition: exchange", 0.0)
        - t.get("partition: results", 0.0)
    )
    per_window = task_s / window
    per_survey = survey_s / grid_cells
    per_coord = coordinator_s / grid_cells
    n_serv = len(plan.scenario.services)
    window_nat = land_cells * window / max(core, 1)
    worker_s = (window_nat * per_window + bbox_cells * per_survey) / target_workers
    coord_nat = bbox_cells * per_coord
    # a worker keeps, between rounds, pace and elevation (16 B) and per service the times and
    # catchments (12 B) of every window cell it holds; on top, one task's transient peak
    state = 16 + 12 * n_serv
    held: dict[int, int] = {}
    peak: dict[int, int] = {}
    for s in run.stats:
        held[s.pid] = held.get(s.pid, 0) + s.window_cells
        peak[s.pid] = max(peak.get(s.pid, 0), s.peak_rss_bytes)
    transient = max(peak[p] - held[p] * state for p in peak)
    per_worker = transient + window_nat / target_workers * state
    rows = [
        ("measured: grid cells", f"{grid_cells:,}"),
        ("measured: passable cells owned by partitions", f"{core:,}"),
        ("measured: window cells searched", f"{window:,} ({window / max(core, 1):.2f}× the cores)"),
        ("measured: worker-seconds per million window cells", f"{per_window * 1e6:.2f}"),
        ("measured: survey worker-seconds per million grid cells", f"{per_survey * 1e6:.2f}"),
        ("measured: coordinator seconds per million grid cells", f"{per_coord * 1e6:.2f}"),
        ("measured: wall time", f"{wall_s:,.0f} s on {workers} workers"),
        ("national: land cells / islands", f"{land_cells:,.0f} / {islands:,}"),
        ("national: grid (bounding box) cells", f"{bbox_cells:,.0f}"),
        ("national: window cells (same overhead)", f"{window_nat:,.0f}"),
        (
            f"national: workers' share of the wall time ({target_workers} workers)",
            f"{worker_s / 60:,.0f} min",
        ),
        ("national: coordinator's share (one process)", f"{coord_nat / 60:,.0f} min"),
        ("national: wall time, roughly", f"{(worker_s + coord_nat) / 60:,.0f} min"),
        (
            "measured: worker peak = states held + one task's peak",
            f"{max(peak.values()) / GIB:.2f} GiB = {max(held.values()) * state / GIB:.2f} "
            f"({state} B × {max(held.values()):,} window cells) + {transient / GIB:.2f}",
        ),
        (
            "national: peak memory per worker",
            f"{per_worker / GIB:,.1f} GiB ({window_nat / target_workers:,.0f} window cells held)",
        ),
        (
            "national: coordinator memory (whole-grid arrays)",
            f"{coordinator_bytes(plan.scenario, int(bbox_cells), 1) / GIB:,.0f} GiB",
        ),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"])


def _cell(v: object) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
        return f"{v:,}"
    return str(v)


def _print(title: str, frame: pd.DataFrame, *, markdown: bool) -> None:
    print(f"\n**{title}**\n")
    if not markdown:
        print(frame.to_string(index=False, formatters={c: _cell for c in frame.columns}))
        return
    print("| " + " | ".join(map(str, frame.columns)) + " |")
    print("|" + "|".join("---:" if frame[c].dtype.kind in "iuf" else "---" for c in frame) + "|")
    for row in frame.itertuples(index=False):
        print("| " + " | ".join(_cell(v) for v in row) + " |")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the exactness check fails."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100_000_000, help="cells of the big demo")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tile-cells", type=int, default=4_000_000)
    ap.add_argument("--folder", type=Path, default=None, help="where to keep the big demo")
    ap.add_argument("--check-size", type=int, default=2_000_000, help="0 skips the check")
    ap.add_argument("--check-tile-cells", type=int, default=250_000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument(
        "--compare-whole",
        action="store_true",
        help="also run the big region whole (in another process) and compare",
    )
    ap.add_argument("--whole-compare", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.whole_compare:  # the child process of --compare-whole
        print(json.dumps(_whole_compare(*args.whole_compare)))
        return 0

    from dask.distributed import LocalCluster

    print(
        f"machine: {os.cpu_count()} cores, {available_memory_bytes() / GIB:.0f} GiB available, "
        f"Python {platform.python_version()}"
    )
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    print(f"local Dask cluster: {args.workers} workers in {time.perf_counter() - t0:.1f} s")
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    ok = True
    try:
        if args.check_size:
            check = _check(
                args.check_size, args.seed, cluster.scheduler_address, args.check_tile_cells
            )
            _print(f"exactness on a {args.check_size:,}-cell demo", check, markdown=args.markdown)
            sliced = check.iloc[1]
            ok = bool(sliced["max_abs_time_diff_min"] == 0 and sliced["reason_diffs"] == 0)
            ok &= bool((check.iloc[1:]["coverage_max_rel_diff"] <= 1e-9).all())
            report["check"] = check.to_dict(orient="records")

        folder = args.folder or Path(tempfile.mkdtemp(prefix="reach-partition-"))
        scn_path = demo_folder(folder, size=args.size, seed=args.seed)
        scn: ScenarioSpec = load_scenario(scn_path)
        # the whole-region run's own preflight, for comparison
        import rasterio

        with rasterio.open(scn.resolve(scn.region.population)) as ds:
            rows, cols = ds.height, ds.width
        need = memory_estimate_bytes(scn, rows, cols)
        print(
            f"whole-region run of {rows:,} × {cols:,} cells: needs ~{need / GIB:.1f} GiB by its "
            f"own estimate ({available_memory_bytes() / GIB:.1f} GiB available); "
            f"partitioned coordinator ~{coordinator_bytes(scn, rows, cols) / GIB:.1f} GiB"
        )
        _reset_peak()
        t0 = time.perf_counter()
        run = run_partitioned(scn, scheduler=cluster.scheduler_address, tile_cells=args.tile_cells)
        wall = time.perf_counter() - t0
        coord_peak = _peak_rss_bytes()
        print(f"\n{run.plan.describe()}")
        steps = pd.DataFrame(
            sorted(run.timings_s.items(), key=lambda kv: -kv[1]), columns=["step", "wall_s"]
        )
        steps.loc[len(steps)] = ["total (run_partitioned)", wall]
        _print("steps (coordinator's wall clock)", steps, markdown=args.markdown)
        work = run.work_table()
        _print("work per partition", work, markdown=args.markdown)
        workers = _worker_table(run)
        _print("per worker", workers, markdown=args.markdown)
        cov = run.baseline.coverage
        allrow = cov[cov["zone_id"] == ALL_ZONES_ID][
            [
                "service",
                "population",
                "pct_within_30min",
                "pct_within_60min",
                "pct_within_120min",
                "unreachable_total",
                "mean_time_min",
            ]
        ]
        _print("coverage, all zones", allrow, markdown=args.markdown)
        print(
            f"\ncoordinator peak RSS {coord_peak / GIB:.2f} GiB; exchange rounds {run.rounds}; "
            f"wall {wall:,.1f} s"
        )
        est = national_estimate(run, wall, args.workers)
        _print("national estimate (Indonesia, 16 workers)", est, markdown=args.markdown)
        report.update(
            wall_s=wall,
            coordinator_peak_rss_bytes=coord_peak,
            rounds=run.rounds,
            timings_s=run.timings_s,
            plan=run.plan.table().to_dict(orient="records"),
            work=work.to_dict(orient="records"),
            workers=workers.to_dict(orient="records"),
            estimate=est.to_dict(orient="records"),
        )
        if args.compare_whole:
            saved = Path(tempfile.mkdtemp(prefix="reach-partition-saved-"))
            _save(run.baseline, saved)
            del run
    finally:
        cluster.close()
    if args.compare_whole:
        # the whole-region run in a fresh process, the cluster gone; its own memory preflight
        # (160 B per cell, conservative) is lifted to the machine's memory for the benchmark
        env = {**os.environ, MEMORY_ENV: f"{psutil.virtual_memory().total / GIB:.1f}"}
        proc = subprocess.run(
            [sys.executable, __file__, "--whole-compare", str(saved), str(scn_path)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        shutil.rmtree(saved, ignore_errors=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        whole = json.loads(proc.stdout.strip().splitlines()[-1])
        _print(
            "the same region run whole, in one process, against the partitioned run",
            pd.DataFrame([whole]).T.reset_index().set_axis(["quantity", "value"], axis=1),
            markdown=args.markdown,
        )
        report["whole"] = whole
        ok &= whole["max_abs_time_diff_min"] < 1e-6 and whole["reason_diffs"] == 0
        ok &= whole["coverage_max_rel_diff"] <= 1e-9
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    if not ok:
        print("EXACTNESS CHECK FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
