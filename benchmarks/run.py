"""A whole Comoros run, as the planner waits for it, against one bare scikit-image surface.

Run from the repository root (with the real data beside it)::

    python benchmarks/run.py [--repeat 3] [--cold] [--scenario scenarios/comoros.toml]

It prints, in one run and on this machine:

* the floor: one scikit-image ``MCP_Geometric`` surface (constructor + ``find_costs``) on the
  scenario's own walking friction and grid, from the health facilities' cells, in-process
  (median of the repeats);
* ``reach run SCENARIO`` whole-process, fresh (``REACH_CACHE=off``, a new output folder: the
  friction and the networks are built from the files), and again with unchanged inputs (both
  read from the cache), each as the median of the repeats and as a ratio to the floor;
* with ``--cold``: the first run after an install (numba's cache beside the package emptied)
  without and with ``reach warm-up`` first, as a ratio to a later run. This empties and
  rebuilds numba's cache of the installed reach (about a minute);
* the profile of the last fresh run: each step's seconds from its ``manifest.json``, and what
  is left (Python's start and imports, writing the outputs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _reach(args: list[str], env: dict[str, str]) -> float:
    """Seconds of one whole ``reach`` process (its output thrown away)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reach.cli", "-q", *args], check=True, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def _floor_s(scenario: Path, repeat: int) -> tuple[float, int]:
    """One bare scikit-image surface on the scenario's friction: median seconds, cells."""
    from skimage.graph import MCP_Geometric

    from reach.run.region import load_region
    from reach.spec import load_scenario

    os.environ["REACH_CACHE"] = "off"
    region = load_region(load_scenario(scenario))
    grid = region.grid
    costs = np.asarray(region.friction.pace_min_per_m, dtype=np.float64).reshape(grid.shape)
    fac = region.facilities["health"].to_crs(grid.crs)
    cell = grid.cell_of(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
    starts = [[int(c // grid.cols), int(c % grid.cols)] for c in np.unique(cell[cell >= 0])]
    sampling = (float(grid.dy_m), float(np.mean(grid.dx_m)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        mcp = MCP_Geometric(costs, fully_connected=True, sampling=sampling)
        mcp.find_costs(starts)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), grid.rows * grid.cols


def _numba_cache_files() -> list[Path]:
    import reach

    return sorted(Path(reach.__file__).parent.rglob("*.nb[ic]"))


def main(argv: list[str] | None = None) -> int:
    """Time the runs and print the table; 0 when every run succeeded."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="Also time a run after an install.")
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "comoros.toml")
    args = parser.parse_args(argv)
    scenario = args.scenario.resolve()
    floor, cells = _floor_s(scenario, args.repeat)

    work = Path(tempfile.mkdtemp(prefix="reach-bench-run-"))
    cache = work / "cache"
    base = {**os.environ, "REACH_CACHE_MB": "4096"}
    fresh_env = {**base, "REACH_CACHE": "off"}
    warm_env = {**base, "REACH_CACHE": str(cache)}
    try:
        _reach(["run", str(scenario), "--out", str(work / "first")], warm_env)  # fills the cache
        fresh, again = [], []
        for i in range(args.repeat):
            fresh.append(_reach(["run", str(scenario), "--out", str(work / f"f{i}")], fresh_env))
            again.append(_reach(["run", str(scenario), "--out", str(work / f"a{i}")], warm_env))
        rows = [
            ("one bare scikit-image surface (in-process)", floor),
            ("reach run, fresh (friction built)", statistics.median(fresh)),
            ("reach run again, unchanged inputs", statistics.median(again)),
        ]
        print(f"{scenario.name}: {cells:,} cells; medians of {args.repeat} runs\n")
        print(f"| {'work':<44} | {'s':>6} | {'÷ surface':>9} |")
        print(f"|{'-' * 46}|{'-' * 8}|{'-' * 11}|")
        for label, s in rows:
            print(f"| {label:<44} | {s:6.2f} | {s / floor:8.1f}× |")
        if args.cold:
            files = _numba_cache_files()
            for f in files:
                f.unlink()
            cold = _reach(["run", str(scenario), "--out", str(work / "cold")], warm_env)
            for f in _numba_cache_files():
                f.unlink()
            t_warm_up = _reach(["warm-up"], warm_env)
            after = _reach(["run", str(scenario), "--out", str(work / "after")], warm_env)
            later = _reach(["run", str(scenario), "--out", str(work / "later")], warm_env)
            print(f"\n| {'first run after an install':<44} | {'s':>6} | {'÷ later':>9} |")
            print(f"|{'-' * 46}|{'-' * 8}|{'-' * 11}|")
            print(f"| {'no warm-up':<44} | {cold:6.2f} | {cold / later:8.2f}× |")
            print(f"| {'after reach warm-up (' + f'{t_warm_up:.1f} s)':<44} | {after:6.2f} | "
                  f"{after / later:8.2f}× |")  # fmt: skip
            print(f"| {'a later run':<44} | {later:6.2f} | {1.0:8.2f}× |")
        manifest = json.loads((work / f"f{args.repeat - 1}" / "manifest.json").read_text())
        steps = manifest["timings_s"]
        total = statistics.median(fresh)
        print(f"\nprofile of a fresh run ({total:.2f} s whole-process):\n")
        for name, s in sorted(steps.items(), key=lambda kv: -kv[1]):
            if s >= 0.05:
                print(f"  {s:6.2f}  {name}")
        print(f"  {total - sum(steps.values()):6.2f}  the rest: Python's start and imports, "
              "routes, audit, writing the outputs")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
