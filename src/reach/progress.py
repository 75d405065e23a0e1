"""Progress: the step callback a display passes in, and the clock that times each step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "Clock",
    "StepCallback",
]


#: Called with the name of each step as it starts (a progress display passes one in).
StepCallback = Callable[[str], None]


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
