"""Progress: the step callback a display passes in, and the clock that times each step.

A display is any callable taking a step's name. One that also has a ``count(name, done,
total)`` method (:class:`CountingDisplay`) is told, during a long step, how many of its parts
are done: the alternatives evaluated, the sensitivity samples run, the outputs written. A
terminal shows that as a bar with the count and the time left; a log gets a line now and then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "CountingDisplay",
    "StepCallback",
    "Tally",
]


#: Called with the name of each step as it starts (a progress display passes one in).
StepCallback = Callable[[str], None]


@runtime_checkable
class CountingDisplay(Protocol):
    """A progress display that also shows how many parts of a long step are done."""

    def __call__(self, name: str) -> None:
        """Show that the step ``name`` started."""

    def count(self, name: str, done: int, total: int) -> None:
        """Show how many parts of a long step are finished.

        Parameters
        ----------
        name
            What the parts are (e.g. ``"alternatives evaluated"``).
        done
            Parts finished so far (0 when the step starts).
        total
            How many parts the step has.
        """


class Tally:
    """Counts the finished parts of one long step and tells the display (thread-safe).

    Parameters
    ----------
    name
        The step's name, as the display shows it.
    total
        How many parts the step has.
    display
        The display told of each finished part; ``None`` (or a display that cannot count)
        to count silently.

    Attributes
    ----------
    done
        Parts finished so far.
    """

    def __init__(self, name: str, total: int, display: StepCallback | None = None) -> None:
        self.name = name
        self.total = max(int(total), 0)
        self.done = 0
        self._count = display.count if isinstance(display, CountingDisplay) else None
        self._lock = threading.Lock()
        if self._count is not None:
            self._count(self.name, 0, self.total)

    def add(self, parts: int = 1) -> None:
        """Count ``parts`` more parts as finished (never beyond the total).

        Parameters
        ----------
        parts
            How many parts just finished.
        """
        with self._lock:
            self.done = min(self.done + parts, self.total)
            if self._count is not None:
                self._count(self.name, self.done, self.total)


class Clock:
    """Times named steps and reports each to an optional callback as it starts.

    One clock times a whole load, evaluation or run; its ``timings`` become the
    ``timings_s`` of the region, the run and the manifest.

    Parameters
    ----------
    on_step
        Called with each step's name as the step starts (a progress display passes one in);
        ``None`` to time silently.

    Attributes
    ----------
    timings
        Seconds spent per step name (wall-clock, rounded to 0.1 ms).
    """

    def __init__(self, on_step: StepCallback | None = None) -> None:
        self.on_step = on_step
        self.timings: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the ``with`` block under ``name``, adding to the time of a repeated name.

        ``on_step`` is called with ``name`` before the block starts. The time is recorded only
        when the block finishes without an exception.

        Parameters
        ----------
        name
            The step's name as a progress display shows it and the manifest records it, e.g.
            ``"read population"`` or ``"baseline: health: travel times"``.
        """
        if self.on_step:
            self.on_step(name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 4)

    def tally(self, name: str, total: int) -> Tally:
        """A :class:`Tally` of the ``total`` parts of a long step, shown by this clock's display.

        Parameters
        ----------
        name
            What the parts are, as the display shows it (e.g. ``"alternatives evaluated"``).
        total
            How many parts there are.

        Returns
        -------
        Tally
            Call its ``add()`` as each part finishes.
        """
        return Tally(name, total, self.on_step)
