"""How fast the command line starts: ``reach --help`` and ``reach --version``, whole-process.

A planner types ``reach --help`` first; it must answer at once (target: under 0.3 s on an idle
machine). The script times each command over several runs (median), beside a bare ``python -c
pass`` as the floor, and prints what ``python -X importtime`` says importing ``reach.cli`` costs
and its five heaviest imports::

    python benchmarks/startup.py            # 7 runs each
    python benchmarks/startup.py --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _wall_s(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _importtime() -> tuple[float, list[tuple[float, str]]]:
    """Cumulative seconds of importing ``reach.cli`` and the heaviest single imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import reach.cli"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    rows = []
    total = 0.0
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        cumulative = int(parts[1]) / 1e6
        name = parts[2].strip()
        rows.append((int(parts[0]) / 1e6, name))
        if name == "reach.cli":
            total = cumulative
    return total, sorted(rows, reverse=True)[:5]


def main(argv: list[str] | None = None) -> int:
    """Time the commands and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    floor = _wall_s([sys.executable, "-c", "pass"], args.runs)
    print(f"{'command':<28} {'median s':>9} {'× python -c pass':>17}")
    for label, cmd in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("reach --version", [sys.executable, "-m", "reach.cli", "--version"]),
        ("reach --help", [sys.executable, "-m", "reach.cli", "--help"]),
    ):
        wall = _wall_s(cmd, args.runs)
        print(f"{label:<28} {wall:>9.3f} {wall / floor:>17.1f}")
    total, heavy = _importtime()
    print(f"\nimport reach.cli: {total:.3f} s cumulative (python -X importtime)")
    for own, name in heavy:
        print(f"  {own:.3f} s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
