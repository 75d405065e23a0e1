"""Progress of long steps: counts told to a display, and the lines a log gets."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from typer.testing import CliRunner

from reach.cli import app
from reach.progress import Clock, CountingDisplay
from tests.helpers import NAMES, write_tiny_set


class _Recorder:
    """A counting display that keeps what it was told."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.counts: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def __call__(self, name: str) -> None:
        self.steps.append(name)

    def count(self, name: str, done: int, total: int) -> None:
        with self._lock:
            self.counts.append((name, done, total))


def test_a_tally_counts_every_part_once_from_many_threads() -> None:
    shown = _Recorder()
    assert isinstance(shown, CountingDisplay)
    tally = Clock(shown).tally("parts", 400)
    threads = [threading.Thread(target=lambda: [tally.add() for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tally.done == 400
    done = [d for _, d, _ in shown.counts]
    assert done[0] == 0 and done[-1] == 400  # told at the start and at the end
    assert done == sorted(done) and len(done) == 401  # each part once, never backwards
    tally.add(10)
    assert tally.done == 400  # never beyond the total


def test_a_display_that_cannot_count_only_sees_steps() -> None:
    seen: list[str] = []
    clock = Clock(seen.append)
    tally = clock.tally("parts", 3)
    with clock.step("a step"):
        tally.add(3)
    assert seen == ["a step"] and tally.done == 3


def test_a_logged_run_says_how_many_alternatives_and_outputs_are_done(tmp_path: Path) -> None:
    scenario = write_tiny_set(tmp_path)
    result = CliRunner().invoke(app, ["run", str(scenario), "--no-maps"])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    # not a terminal: each step is a plain line with the seconds since the start
    assert all(re.match(r"^\[ *\d+\.\d s\] ", line) for line in lines), lines
    n = len(NAMES)
    assert any(line.endswith(f"alternatives evaluated: {n}/{n}") for line in lines)
    # the baseline, each alternative and the manifest (no maps, no reports)
    parts = 2 + n
    assert any(line.endswith(f"outputs written: {parts}/{parts}") for line in lines)
