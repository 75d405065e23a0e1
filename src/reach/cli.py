"""The ``reach`` command. The only place that sets up logging, progress display and exit codes.

Every option is checked at the door — before a scenario's region is read or a cluster started —
with one line naming the option, the problem and the fix (exit 2). All of the command's own
printing happens inside :func:`guard`: data (zone names, facility ids, alternative names,
paths) is cleaned of terminal control characters (:func:`clean`) and never read as markup, and
a closed, full or ASCII-only standard output never gives a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import logging
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reach.errors import (
    EXIT_INTERNAL,
    EXIT_RESOURCE,
    ReachError,
    ScenarioError,
    resource_error,
)
from reach.metrics import (
    MAX_CANDIDATES,
    MAX_SITES,
    check_amount,
    check_count,
    check_minutes,
)

if TYPE_CHECKING:
    import pandas as pd

    from reach.model.region import Region
    from reach.results import Evaluation, RunResult
    from reach.spec import ScenarioSpec, SensitivitySpec

T = TypeVar("T")

#: Exit code when the reader of the standard output went away (128 + SIGPIPE, as a shell says).
EXIT_BROKEN_PIPE = 128 + 13
#: Exit code of a usage error (an unknown option, a value of the wrong type).
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 128 + 2

# --------------------------------------------------------------------------------------------
# the terminal: control characters, encodings, closed or full streams
# --------------------------------------------------------------------------------------------

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM and APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape, and a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 controls (but tab and newline), DEL, C1 controls
    r"|[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidirectional overrides
)


def clean(value: object, *, lines: bool = False) -> str:
    """``str(value)`` made safe for a terminal: escape sequences and control characters removed.

    A tab becomes a space; so does a line break unless ``lines`` (text of several lines).
    Use it on every piece of data that reaches the terminal.
    """
    text = _CONTROL.sub("", str(value)).replace("\t", " ")
    return text if lines else text.replace("\n", " ")


#: What a terminal that cannot show a character shows instead.
_ASCII_FALLBACK = {
    "≤": "<=", "≥": ">=", "–": "-", "—": "--", "−": "-", "…": "...", "×": "x", "Δ": "d",
    "·": ".", "→": "->", "←": "<-", "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*",
    "±": "+/-", "°": " deg", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}  # fmt: skip
_ENCODE_ERRORS = "reach-terminal"


def _encode_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_ASCII_FALLBACK.get(ch, "?") for ch in bad), exc.end


codecs.register_error(_ENCODE_ERRORS, _encode_fallback)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError):
        return False


class _Console(Console):
    """A console that never reads data as markup or emoji codes, nor highlights it, and that
    reports a closed pipe as an error for :func:`guard` (rich would exit with 1 itself)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, markup=False, emoji=False, **kwargs)

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


_err = _Console(stderr=True, soft_wrap=True)
_out = _Console(width=None if _isatty(sys.stdout) else 120)
_state: dict[str, Any] = {"debug": False, "quiet": False, "signal": None, "told": False}


class _StdoutError(Exception):
    """Writing to the standard output failed (a closed pipe, a full disk)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _print(*objects: Any) -> None:
    """Print on the standard output (data must already be cleaned, or be :class:`Text`).

    A table is never cut: written to a file or a pipe it is printed at its full width, and in a
    terminal too narrow for it its cells wrap (folding long words) instead of ending in "…".
    """
    try:
        for obj in objects:
            if isinstance(obj, Table):
                for column in obj.columns:
                    column.overflow = "fold"
                if not _isatty(sys.stdout):
                    needed = _out.measure(obj, options=_out.options.update(width=10_000))
                    width = _out.width
                    _out.width = max(needed.maximum, 80)  # print() never goes wider than this
                    try:
                        _out.print(obj)
                    finally:
                        _out.width = width
                    continue
            _out.print(obj)
    except OSError as exc:
        raise _StdoutError(exc) from exc


def _say_err(text: str) -> None:
    """One line on stderr; a closed or full stderr is ignored (there is nowhere else to say)."""
    with contextlib.suppress(OSError, ValueError):
        _err.print(" ".join(clean(text).split()))


def _silence_stdout() -> None:
    """Point the standard output at /dev/null, so what is still buffered goes nowhere quietly."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def _stdout_failed(exc: OSError) -> NoReturn:
    _silence_stdout()
    if exc.errno == errno.EPIPE:
        raise typer.Exit(EXIT_BROKEN_PIPE)
    why = exc.strerror or str(exc) or type(exc).__name__
    _say_err(
        f"error: cannot write to the standard output: {why} — fix: redirect it to a file on a "
        "disk with space, or run with --quiet"
    )
    raise typer.Exit(EXIT_RESOURCE)


def _fail(line: str, code: int) -> NoReturn:
    if _state["debug"]:
        with contextlib.suppress(OSError, ValueError):
            traceback.print_exc()
    _say_err(line)
    raise typer.Exit(code)


def guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn errors into one line on stderr and the documented exit code.

    Every command's work runs inside this: a ``ReachError`` prints its one line and exits with
    its code, an OS limit (disk full, too many files) exits 3, Ctrl-C and SIGTERM exit 130 and
    143, and anything else is an internal error with a pointer to ``--debug``.

    Parameters
    ----------
    fn
        The command's work.

    Returns
    -------
    T
        What ``fn`` returned, when it succeeded.
    """
    try:
        return fn()
    except typer.Exit:
        raise
    except _StdoutError as exc:
        _stdout_failed(exc.exc)
    except ReachError as exc:
        _fail(f"error: {exc.one_line()}", exc.exit_code)
    except KeyboardInterrupt:
        _say_err("interrupted; the output folder was left as it was")
        _state["told"] = True
        raise typer.Exit(_interrupted_code()) from None
    except RecursionError:
        _fail(
            "error: the inputs are nested too deeply (Python's recursion limit was reached) — "
            "fix: shorten the `extends` chain or flatten the nested tables",
            EXIT_RESOURCE,
        )
    except MemoryError:
        _fail(
            "error: the run ran out of memory — fix: coarsen the grid (grid.aggregate_factor), "
            "run fewer services, or run on partitions (--workers N)",
            EXIT_RESOURCE,
        )
    except Exception as exc:
        mapped = resource_error(exc)
        if mapped is not None:
            _fail(f"error: {mapped.one_line()}", mapped.exit_code)
        first = str(exc).splitlines()[0] if str(exc) else ""
        _fail(
            f"internal error: {type(exc).__name__}: {first} — please report it, "
            "and run again with --debug for the traceback",
            EXIT_INTERNAL,
        )


def _on_signal(signum: int, frame: object) -> None:
    """SIGTERM (and SIGHUP) end a run as Ctrl-C does: the output folder code cleans up."""
    _state["signal"] = signum
    raise KeyboardInterrupt


def _prepare_process() -> None:
    """Open /dev/null on closed standard streams, let them degrade to ASCII, catch SIGTERM.

    GDAL's own messages are silenced too (reach reports its errors in one line).
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.open(os.devnull, os.O_RDWR)  # takes the lowest free descriptor: this one
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(OSError, ValueError, TypeError, LookupError):
                reconfigure(errors=_ENCODE_ERRORS)
    if "--debug" not in sys.argv[1:]:
        # GDAL prints its own "ERROR 1: …" lines to the terminal beside the exception the
        # library raises, which reach turns into one line; they go to the null device (read
        # when GDAL first reports, so before any of it loads). --debug keeps them.
        os.environ.setdefault("CPL_LOG", os.devnull)
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(signum, _on_signal)


class _Group(typer.core.TyperGroup):
    """The command group: a usage error (a wrong type, an unknown option) is one line too."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        call = {"args": args, "prog_name": prog_name, "complete_var": complete_var, **extra}
        if not standalone_mode:
            return super().main(standalone_mode=False, **call)
        try:
            rv = super().main(standalone_mode=False, **call)
        except typer.Exit as exc:
            rv = exc.exit_code
        except typer.TyperException as exc:  # click's usage errors, as typer carries them
            fmt = getattr(exc, "format_message", None)
            message = str(fmt() if callable(fmt) else exc)
            code = int(getattr(exc, "exit_code", EXIT_USAGE))
            if type(exc).__name__ == "NoArgsIsHelpError":
                with contextlib.suppress(OSError, ValueError):
                    typer.echo(message, err=True)
                sys.exit(code)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "reach"
            _say_err(f"error: {message} — fix: see `{where} --help`")
            sys.exit(code)
        except typer.Abort:
            _say_err("interrupted")
            _state["told"] = True
            sys.exit(_interrupted_code())
        except OSError as exc:  # printing the help into a closed pipe
            _silence_stdout()
            sys.exit(EXIT_BROKEN_PIPE if exc.errno == errno.EPIPE else EXIT_RESOURCE)
        except Exception as exc:  # never a traceback, whatever escaped
            _say_err(f"internal error: {type(exc).__name__}: {exc} — please report it")
            sys.exit(EXIT_INTERNAL)
        if rv == EXIT_INTERRUPTED:  # typer's own answer to an interrupt while it parsed
            if not _state.get("told"):
                _say_err("interrupted")
                _state["told"] = True
            rv = _interrupted_code()
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_Group,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="reach: who can reach a clinic or a school, how long it takes, and what would change.",
)


def _version(value: bool) -> None:
    """Print reach's version and exit (an eager option: nothing else is loaded)."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("reach")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown (not installed)"
        typer.echo(f"reach {number}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each step's details (reach's INFO log).")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show reach's version and exit."
        ),
    ] = False,
) -> None:
    del show_version  # handled by its callback
    _state["debug"] = debug
    _state["quiet"] = quiet
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.getLogger("reach").setLevel(level)
    for name in ("distributed", "dask"):  # Dask says more at info than a user wants
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)


class _LogDisplay:
    """Progress as plain lines for a log file or a pipe: one per step, with the seconds since
    the start, and a count line for a long step at most every few seconds (and when it ends)."""

    #: Seconds between two count lines of the same step.
    EVERY_S = 5.0

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._started = self._clock()
        self._last: dict[str, float] = {}

    def __call__(self, text: str) -> None:
        _say_err(f"[{self._clock() - self._started:7.1f} s] {text}")

    def count(self, name: str, done: int, total: int) -> None:
        now = self._clock()
        if done == 0 or (done < total and now - self._last.get(name, -1e9) < self.EVERY_S):
            return
        self._last[name] = now
        self(f"{name}: {done:,}/{total:,}")


class _BarDisplay:
    """Progress in a terminal: a spinner with the current step and, during a long step, a bar
    with the count of its parts done and the time left (rich.progress)."""

    def __init__(self, progress: Any, first: str) -> None:
        self._progress = progress
        self._step = progress.add_task(clean(first), total=None)
        self._bars: dict[str, Any] = {}

    def __call__(self, text: str) -> None:
        self._progress.update(self._step, description=clean(text))

    def count(self, name: str, done: int, total: int) -> None:
        task = self._bars.get(name)
        if task is None:
            task = self._bars[name] = self._progress.add_task(clean(name), total=total)
        self._progress.update(task, completed=done, total=total)
        if done >= total:
            self._progress.remove_task(self._bars.pop(name))


@contextlib.contextmanager
def _status(first: str) -> Iterator[Callable[[str], None]]:
    """A progress display on stderr (none with --quiet); yields the function that updates it.

    In a terminal it is a spinner with the current step, and a bar with counts and the time
    left during long steps (alternatives, sensitivity samples, outputs); written to a log file
    or a pipe (a scheduled job, CI) each step is a plain line with the seconds since the start
    instead, and long steps add a count line now and then.
    """
    if _state.get("quiet"):
        yield lambda _text: None
        return
    if not _isatty(sys.stderr):
        display = _LogDisplay()
        display(first)
        yield display
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as _Progress
    from rich.text import Text

    class _Counted(ProgressColumn):
        """A column shown only on a counted task (the step line has no bar)."""

        def __init__(self, column: ProgressColumn) -> None:
            super().__init__()
            self.column = column

        def render(self, task: Any) -> Any:
            return Text("") if task.total is None else self.column.render(task)

    columns = (
        SpinnerColumn("dots"),
        TextColumn("{task.description}"),
        _Counted(BarColumn(bar_width=24)),
        _Counted(MofNCompleteColumn()),
        _Counted(TimeRemainingColumn()),
    )
    with _Progress(*columns, console=_err, transient=True) as progress:
        yield _BarDisplay(progress, first)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _fmt(value: float, spec: str, suffix: str = "") -> str:
    return "–" if value != value else f"{value:{spec}}{suffix}"


def _coverage_tables(run: RunResult) -> None:
    from reach.metrics.coverage import ALL_ZONES_ID
    from reach.schema import pct_within_col

    services = {s.name: s for s in run.scenario.services}
    for svc, part in run.coverage.groupby("service", sort=False):
        spec = services[str(svc)]
        th = sorted(spec.thresholds_min)
        title = f"{svc}: people within reach — {run.scenario.scenario.name}"
        if spec.target_share < 1:  # say whose people they are (e.g. the school-age children)
            title += f" (target population: {spec.target_share:.1%} of everyone)"
        table = Table(title=Text(clean(title)))
        people = "population" if spec.target_share == 1 else "target pop."
        for col in ("zone", people, *[f"≤{t:g} min" for t in th]):
            table.add_column(col, justify="left" if col == "zone" else "right")
        for col in ("median min", "p90 min", "unreachable"):
            table.add_column(col, justify="right")
        for _, row in part.iterrows():
            bold = "bold" if row["zone_id"] == ALL_ZONES_ID else ""
            table.add_row(
                Text(clean(row["zone_name"]), style=bold),
                f"{row['population']:,.0f}",
                *[_fmt(row[pct_within_col(t)], ".1f", " %") for t in th],
                _fmt(row["median_time_min"], ".0f"),
                _fmt(row["p90_time_min"], ".0f"),
                f"{row['unreachable_total']:,.0f}",
            )
        _print(table)


def _comparison_table(run: RunResult) -> None:
    from reach.metrics.coverage import ALL_ZONES_ID
    from reach.schema import pct_alt_within_col, pct_base_within_col

    if run.ranking is None or run.comparison is None:
        return
    cmp = run.comparison[run.comparison["zone_id"] == ALL_ZONES_ID]
    thresholds = {s.name: sorted(s.thresholds_min) for s in run.scenario.services}
    for svc, part in run.ranking.groupby("service", sort=False):
        th = thresholds[str(svc)]
        key = part.iloc[0]["threshold_min"]
        table = Table(
            title=Text(clean(f"{svc}: alternatives against the baseline (ranked at ≤{key:g} min)"))
        )
        table.add_column("rank", justify="right")
        table.add_column("alternative", justify="left", no_wrap=True)
        for col in (f"≤{t:g} min" for t in th):
            table.add_column(col, justify="right")
        for col in ("newly covered", "gaining", "losing", "Δ mean min", "cost", "per 1,000 cost"):
            table.add_column(col, justify="right")
        base = cmp[cmp["service"] == svc].iloc[0]
        table.add_row(
            "", Text("baseline", style="italic"),
            *[_fmt(base[pct_base_within_col(t)], ".1f", " %") for t in th],
            "", "", "", "", "", "",
        )  # fmt: skip
        for _, r in part.iterrows():
            row = cmp[(cmp["service"] == svc) & (cmp["alternative"] == r["alternative"])].iloc[0]
            table.add_row(
                str(r["rank"]),
                Text(clean(r["alternative"])),
                *[_fmt(row[pct_alt_within_col(t)], ".1f", " %") for t in th],
                f"{r['net_newly_covered']:+,.0f}",
                f"{r['gaining']:,.0f}",
                f"{r['losing']:,.0f}",
                _fmt(r["delta_mean_time_min"], "+.1f"),
                _fmt(r["cost"], ",.0f"),
                _fmt(1000 * r["newly_covered_per_cost"], ".2f"),
            )
        _print(table)


def _summary(run: object) -> None:
    from reach.results import RunResult

    assert isinstance(run, RunResult)
    _coverage_tables(run)
    _comparison_table(run)
    if run.out_dir is not None:
        from reach.outputs.audit import audit_summary_lines

        for line in audit_summary_lines(run.findings, path=clean(run.out_dir / "audit.csv")):
            _print(Text(line))
        _print(f"outputs written to {clean(run.out_dir)}")


def _frame_table(frame: pd.DataFrame, title: str, columns: dict[str, str]) -> None:
    """Print chosen columns of a table (``{column: header}``); numbers get separators."""
    import numpy as np
    import pandas as pd

    table = Table(title=Text(clean(title)))
    for header in columns.values():
        table.add_column(clean(header), justify="right")
    for _, row in frame.iterrows():
        cells: list[str | Text] = []
        for col in columns:
            value = row[col]
            if isinstance(value, float | np.floating):
                number = float(value)
                spec = ".2f" if abs(number) < 10 else ",.1f" if abs(number) < 1000 else ",.0f"
                spec = ".5f" if col in ("lon", "lat") else spec
                cells.append(_fmt(number, spec))
            else:
                cells.append(Text("" if pd.isna(value) else clean(value)))
        table.add_row(*cells)
    _print(table)


# --------------------------------------------------------------------------------------------
# checks at the door
# --------------------------------------------------------------------------------------------


def _load(scenario: Path) -> ScenarioSpec:
    from reach.spec import load_scenario

    return load_scenario(scenario)


def _check_target(folder: Path, scn: ScenarioSpec | None) -> Path:
    """Refuse an output folder reach may not replace, before any work (see ``atomic_folder``)."""
    from reach.outputs.folders import check_output_target

    return check_output_target(folder, protect=scn.protected_paths() if scn is not None else ())


def _parts(workers: int | None, scheduler: str | None, by: str | None) -> dict[str, Any] | None:
    """The partitioned-run options, checked (the scheduler's address is probed)."""
    if workers is None and scheduler is None and by is None:
        return None
    from reach.partition import check_partition_options, check_scheduler_address, check_workers

    if by is not None:
        check_partition_options(by, by_option="--by")
    if workers is None and scheduler is None:
        if by is not None:
            raise ScenarioError(
                f"--by {by} needs --workers or --scheduler (it splits a run on Dask)",
                fix="add --workers 2, or drop --by",
            )
        return None
    if workers is not None and scheduler is not None:
        raise ScenarioError(
            "--workers and --scheduler exclude each other",
            fix="give --workers N for a new local cluster, or --scheduler for a running one",
        )
    if workers is not None:
        check_workers(workers, option="--workers")
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler, option="--scheduler")
    return {"workers": workers, "scheduler": scheduler, "by": by or "auto"}


_BASEMAP = re.compile(r"https://[^\s'\"<>\\]+")


def _check_basemap(url: str) -> str:
    if not _BASEMAP.fullmatch(url) or len(url) > 2000:
        raise ScenarioError(
            f"--basemap {url!r} is not an https tile URL", fix="give https://…/{z}/{x}/{y}.png"
        )
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ScenarioError(
            f"--basemap {url!r} has no {', '.join(missing)} in it",
            fix="give a tile URL template such as https://…/{z}/{x}/{y}.png",
        )
    return url


def _check_langs(lang: Sequence[str], *, option: str = "--lang") -> list[str]:
    from reach.languages import LOCALES_ENV, available_languages, language_list

    if not lang:
        raise ScenarioError(f"{option}: no language given", fix=f"use {language_list()}")
    known = available_languages()
    for code in lang:
        if code not in known:
            raise ScenarioError(
                f"{option} {code!r}: no report in that language",
                fix=f"use {language_list()}, or add a catalogue {code}.po to the folder "
                f"${LOCALES_ENV} names",
            )
    return list(dict.fromkeys(lang))


# --------------------------------------------------------------------------------------------
# run, compare, plan
# --------------------------------------------------------------------------------------------


def _run_with_progress(
    scn: ScenarioSpec,
    out: Path | None,
    *,
    maps: bool = True,
    write: bool = True,
    parts: dict[str, Any] | None = None,
) -> RunResult:
    from reach.run.scenario_set import run_scenario

    def go(on_step: Callable[[str], None] | None) -> RunResult:
        if not parts:
            return run_scenario(scn, out_dir=out, maps=maps, write=write, on_step=on_step)
        from reach.partition import run_partitioned
        from reach.run.region import load_region

        # alternatives need the region's friction, which a run read by the workers leaves out
        source = load_region(scn) if scn.alternatives else scn
        part = run_partitioned(source, on_step=on_step, **parts)
        return run_scenario(
            scn, out_dir=out, maps=maps, write=write, on_step=on_step, region=part.region,
            baseline=part.baseline,
        )  # fmt: skip

    if _state.get("quiet"):
        return go(None)
    with _status("starting") as step:
        return go(step)


ScenarioArg = Annotated[Path, typer.Argument(help="Scenario file (TOML).")]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Run the baseline as partitions on a local Dask cluster."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Run the baseline on a Dask cluster (tcp://host:port)."),
]
ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by", help="Partitions: auto (default), islands, tiles or zones (with --workers)."
    ),
]
NoMaps = Annotated[bool, typer.Option("--no-maps", help="Do not write the HTML maps.")]
RunOutOpt = Annotated[
    Path | None, typer.Option("--out", help="Output folder (default: the scenario's).")
]


def _default_folder(scn: ScenarioSpec, out: Path | None) -> Path:
    return out if out is not None else scn.resolve(scn.outputs.folder)


@app.command()
def run(
    scenario: ScenarioArg,
    out: RunOutOpt = None,
    no_maps: NoMaps = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    by: ByOpt = None,
) -> None:
    """Run a scenario: travel times, coverage tables, rasters, maps and a manifest."""

    def go() -> None:
        parts = _parts(workers, scheduler, by)
        scn = _load(scenario)
        _check_target(_default_folder(scn, out), scn)
        _summary(_run_with_progress(scn, out, maps=not no_maps, parts=parts))

    guard(go)


@app.command()
def sensitivity(
    scenario: ScenarioArg,
    samples: Annotated[
        int | None,
        typer.Option("--samples", help="Samples of the speeds (default the scenario's, or 50)."),
    ] = None,
    speed_range: Annotated[
        float | None,
        typer.Option("--range", help="How far each speed may be off, ± percent (default 20)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="The sample's seed.")] = None,
    out: OutOpt = None,
    no_maps: NoMaps = False,
) -> None:
    """Coverage as ranges: the baseline rerun over a Latin-hypercube sample of the speeds."""

    def go() -> None:
        from reach.metrics.coverage import ALL_ZONES_ID

        scn = _load(scenario)
        spec = _sensitivity_spec(scn, samples, speed_range, seed)
        scn = scn.model_copy(update={"sensitivity": spec, "alternatives": []})
        folder = _check_target(_study_out(scn, out, "sensitivity"), scn)
        result = _run_with_progress(scn, folder, maps=not no_maps)
        assert result.sensitivity is not None
        ranges = result.sensitivity.ranges
        whole = ranges[ranges["zone_id"] == ALL_ZONES_ID].copy()
        whole["figure"] = [
            f"{p:.1f} % ({lo:.1f}–{hi:.1f} %)"
            for p, lo, hi in zip(whole["pct_within"], whole["pct_low"], whole["pct_high"],
                                 strict=True)
        ]  # fmt: skip
        whole["within"] = [f"{t:g} min" for t in whole["threshold_min"]]
        _frame_table(
            whole,
            f"within each threshold, with the middle 90 % of {spec.samples} samples "
            f"(speeds ± {spec.speed_range_pct:g} %)",
            {"service": "service", "within": "within", "figure": "% of people (90 % range)"},
        )
        _print(f"sensitivity tables and reports written to {clean(result.out_dir)}")

    guard(go)


def _sensitivity_spec(
    scn: ScenarioSpec, samples: int | None, speed_range: float | None, seed: int | None
) -> SensitivitySpec:
    """The scenario's ``[sensitivity]`` with the command's options laid over it, checked."""
    from reach.spec import SensitivitySpec

    have = scn.sensitivity
    n = samples if samples is not None else (have.samples or 50)
    pct = speed_range if speed_range is not None else have.speed_range_pct
    s = seed if seed is not None else have.seed
    if not 2 <= n <= 1000:
        raise ScenarioError(f"--samples {n}: give 2 to 1000 samples", fix="e.g. --samples 50")
    if not 0 < pct < 100:
        raise ScenarioError(
            f"--range {pct:g}: give a percentage between 0 and 100", fix="e.g. --range 20"
        )
    if s < 0:
        raise ScenarioError(f"--seed {s}: give a seed of 0 or more", fix="e.g. --seed 1")
    return SensitivitySpec(samples=n, speed_range_pct=pct, seed=s)


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML) with alternatives.")],
    out: RunOutOpt = None,
    no_maps: NoMaps = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    by: ByOpt = None,
) -> None:
    """Run a scenario set and print the alternatives against the baseline, ranked."""

    def go() -> None:
        parts = _parts(workers, scheduler, by)
        scn = _load(scenario)
        if not scn.alternatives:
            raise ScenarioError(
                "the scenario has no [[alternatives]] to compare",
                path=scenario,
                fix="add [[alternatives]] entries, or use `reach run`",
            )
        _check_target(_default_folder(scn, out), scn)
        result = _run_with_progress(scn, out, maps=not no_maps, parts=parts)
        _comparison_table(result)
        _print(f"comparison.csv, ranking.csv and delta rasters written to {clean(result.out_dir)}")

    guard(go)


@app.command()
def plan(
    scenario: ScenarioArg,
    by: ByOpt = None,
    tile_cells: Annotated[
        int | None, typer.Option("--tile-cells", help="Cells per tile (default 4,000,000).")
    ] = None,
    workers: WorkersOpt = None,
) -> None:
    """Print the partitions a run on Dask would use: cells, halos, memory per task."""

    def go() -> None:
        from reach.partition import check_partition_options, check_workers, plan_partitions

        check_partition_options(
            by or "auto", tile_cells, by_option="--by", tile_option="--tile-cells"
        )
        if workers is not None:
            check_workers(workers, option="--workers")
        scn = _load(scenario)
        text = plan_partitions(
            scn,
            by=by or "auto",  # type: ignore[arg-type]
            tile_cells=tile_cells,
            workers=workers,
        ).describe()
        _print(clean(text, lines=True))

    guard(go)


# --------------------------------------------------------------------------------------------
# map, report
# --------------------------------------------------------------------------------------------


def _sizes(folder: Path, tmp: Path, written: list[Path], size: Callable[[int], str]) -> None:
    """Print each file written (named in ``folder``, where the swap put it) and its size."""
    for path in written:
        final = folder / path.relative_to(tmp)
        _print(f"{clean(final)}  ({size(final.stat().st_size)})")


@app.command("map")
def map_(
    scenario: ScenarioArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the maps (default: the scenario's output folder)."),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Link Leaflet from the web and add a basemap.")
    ] = False,
    basemap: Annotated[
        str | None, typer.Option("--basemap", help="Tile URL template for a basemap (https).")
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="The run's folder to read (default: the scenario's output folder)."
        ),
    ] = None,
) -> None:
    """Write only a scenario's HTML maps, one per service, from its finished run.

    The run in the scenario's output folder (or ``--from``) is read back when reach wrote it
    for this scenario and these inputs, unchanged; otherwise the scenario is run in memory.
    One line says which, and why.
    """

    def go() -> None:
        from reach.outputs.maps import write_maps
        from reach.outputs.write import atomic_folder
        from reach.run.reopen import reopen_run

        if basemap is not None:
            _check_basemap(basemap)
        scn = _load(scenario)
        folder = _check_target(_default_folder(scn, out), scn)
        found = reopen_run(scn, _default_folder(scn, source))
        try:  # one whole line, whatever the width (a log keeps it greppable)
            _out.print(clean(found.line), soft_wrap=True)
        except OSError as exc:
            raise _StdoutError(exc) from exc
        result = found.run or _run_with_progress(scn, None, write=False)
        with atomic_folder(
            folder, protect=scn.protected_paths(), keep_existing=True, command="map"
        ) as tmp:
            written = write_maps(
                result,
                tmp,
                offline=not online and scn.outputs.maps_offline,
                basemap_url=basemap or scn.outputs.basemap_url,
            )
        _sizes(folder, tmp, written, lambda n: f"{n / 1e6:.1f} MB")

    guard(go)


@app.command()
def report(
    scenario: ScenarioArg,
    lang: Annotated[
        list[str],
        typer.Option(
            "--lang", help="Language: en, id, fr, or one catalogued in $REACH_LOCALES (repeat)."
        ),
    ] = ["en"],  # noqa: B006 - typer reads the default
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the reports (default: the scenario's output)."),
    ] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Write the HTML report only.")] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="The run's folder to read (default: the scenario's output folder)."
        ),
    ] = None,
) -> None:
    """Write a scenario's (or set's) regional report, HTML and PDF, from its finished run.

    The run in the scenario's output folder (or ``--from``) is read back when reach wrote it
    for this scenario and these inputs, unchanged; otherwise the scenario is run in memory.
    One line says which, and why.
    """

    def go() -> None:
        from reach.outputs.report import write_report
        from reach.outputs.write import atomic_folder
        from reach.run.reopen import reopen_run

        langs = _check_langs(lang)
        scn = _load(scenario)
        folder = _check_target(_default_folder(scn, out), scn)
        found = reopen_run(scn, _default_folder(scn, source))
        try:  # one whole line, whatever the width (a log keeps it greppable)
            _out.print(clean(found.line), soft_wrap=True)
        except OSError as exc:
            raise _StdoutError(exc) from exc
        result = found.run or _run_with_progress(scn, None, write=False)
        written: list[Path] = []
        with atomic_folder(
            folder, protect=scn.protected_paths(), keep_existing=True, command="report"
        ) as tmp:
            for code in langs:
                written += write_report(result, tmp, lang=code, pdf=not no_pdf)
        _sizes(folder, tmp, written, lambda n: f"{n / 1e3:,.0f} KB")

    guard(go)


# --------------------------------------------------------------------------------------------
# the analysis commands
# --------------------------------------------------------------------------------------------


@dataclass
class _Study:
    scn: ScenarioSpec
    region: Region
    base: Evaluation
    service: str
    folder: Path
    #: The inputs' sha256 and stamps, taken before they were read (for the manifest).
    inputs: dict[Path, tuple[str, tuple[int, int]]]


def _study_out(scn: ScenarioSpec, out: Path | None, name: str) -> Path:
    if out is not None:
        return out
    base = scn.resolve(scn.outputs.folder)
    return base.parent / f"{base.name}_{name}"


def _open_study(
    scenario: Path,
    out: Path | None,
    kind: str,
    *,
    service: str | None = None,
    per_service: bool = True,
    check: Callable[[ScenarioSpec, str], None] | None = None,
    before_search: Callable[[Region, str], None] | None = None,
) -> _Study:
    """Load the scenario, check the names and the output folder, then the region, then search."""
    from reach.spec import check_service

    scn = _load(scenario)
    name = ""
    if per_service:
        name = check_service(scn, service, option="--service", default_first=service is None)
    if check is not None:
        check(scn, name)
    folder = _check_target(_study_out(scn, out, f"{kind}_{name}" if name else kind), scn)
    # the pipeline is imported only once the names and the folder are checked
    from reach.run.evaluate import evaluate
    from reach.run.manifest import input_digests
    from reach.run.region import load_region

    inputs = input_digests(scn)
    with _status("loading the region") as step:
        region = load_region(scn)
        if before_search is not None:
            before_search(region, name)
        step("baseline travel times")
        base = evaluate(region)
    return _Study(scn=scn, region=region, base=base, service=name, folder=folder, inputs=inputs)


def _write_study(
    study: _Study,
    tables: dict[str, pd.DataFrame],
    command: str,
    files: dict[str, str] | None = None,
    *,
    parameters: dict[str, object] | None = None,
    layers: dict[str, dict[str, Any]] | None = None,
) -> None:
    from reach.run.manifest import changed_inputs
    from reach.run.write import write_analysis

    for line in changed_inputs(study.inputs):
        study.region.warnings.append(line)
        logging.getLogger("reach").warning(line)
    write_analysis(
        study.scn, study.region, tables, study.folder,
        command=command, inputs={str(p): d for p, (d, _) in study.inputs.items()},
        timings_s=study.region.timings_s,
        parameters={"service": study.service, **(parameters or {})}, files=files,
        evaluation=study.base, layers=layers,
    )  # fmt: skip
    _print(f"written to {clean(study.folder)}")


ServiceOpt = Annotated[
    str | None, typer.Option("--service", help="Service name (default: the first).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder.")]
ThresholdOpt = Annotated[
    float | None, typer.Option("--threshold", help="Minutes (default: the middle threshold).")
]


def _threshold(threshold: float | None) -> float | None:
    return None if threshold is None else check_minutes("--threshold", threshold)


@app.command()
def capacity(
    scenario: ScenarioArg,
    service: ServiceOpt = None,
    threshold: ThresholdOpt = None,
    out: OutOpt = None,
) -> None:
    """Capacity-limited coverage: served, within reach but over capacity, beyond reach."""

    def go() -> None:
        minutes = _threshold(threshold)
        from reach.run.analyses import capacity_study

        study = _open_study(scenario, out, "capacity", service=service)
        result = capacity_study(study.region, study.base, study.service, threshold_min=minutes)
        _frame_table(
            result.zones,
            f"{study.service}: capacity-limited coverage within {result.threshold_min:g} min",
            {"zone_name": "zone", "population": "population", "pct_served": "% served",
             "pct_in_reach_over_capacity": "% in reach, over capacity",
             "pct_beyond_reach": "% beyond reach"},
        )  # fmt: skip
        _write_study(
            study,
            {"capacity_zones": result.zones, "capacity_facilities": result.facilities},
            "capacity",
            parameters={"threshold_min": result.threshold_min},
        )

    guard(go)


@app.command()
def equity(scenario: ScenarioArg, out: OutOpt = None) -> None:
    """Equity of travel times per zone: beyond the threshold, mean, p90, Gini, Palma."""

    def go() -> None:
        from reach.run.analyses import equity_study
        from reach.run.evaluate import key_threshold
        from reach.schema import pct_beyond_col

        study = _open_study(scenario, out, "equity", per_service=False)
        table = equity_study(study.region, study.base)
        for name, part in table.groupby("service", sort=False):
            spec = next(s for s in study.scn.services if s.name == name)
            mid = pct_beyond_col(key_threshold(spec))
            _frame_table(
                part,
                f"{name}: equity of travel time, worst zones first",
                {"rank_worst_first": "rank", "zone_name": "zone", "population": "population",
                 mid: f"% beyond {key_threshold(spec):g} min",
                 "mean_time_min_reached": "mean min", "p90_time_min_reached": "p90 min",
                 "gini_reached": "Gini", "palma_reached": "Palma",
                 "pct_unreachable": "% unreachable"},
            )  # fmt: skip
        _write_study(study, {"equity": table}, "equity")

    guard(go)


@app.command("access")
def access_scores(scenario: ScenarioArg, service: ServiceOpt = None, out: OutOpt = None) -> None:
    """Accessibility scores (enhanced two-step floating catchment): supply per 1,000 people."""

    def go() -> None:
        from reach.run.analyses import accessibility_study

        study = _open_study(scenario, out, "access", service=service)
        result = accessibility_study(study.region, study.base, study.service)
        _frame_table(
            result.zones,
            f"{study.service}: {result.method} supply per 1,000 people",
            {"zone_name": "zone", "population": "population",
             "mean_supply_per_1000_people": "mean per 1,000",
             "median_supply_per_1000_people": "median per 1,000",
             "pct_with_access": "% with access"},
        )  # fmt: skip
        _write_study(
            study,
            {"access_zones": result.zones, "access_facilities": result.facilities},
            "access",
            parameters={"method": result.method},
        )

    guard(go)


@app.command()
def referral(
    scenario: ScenarioArg,
    service: ServiceOpt = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Referral tier (default: hospital).")
    ] = None,
    out: OutOpt = None,
) -> None:
    """Referral: each facility's time to the nearest hospital, and end-to-end coverage."""

    def go() -> None:
        from reach.run.analyses import check_referral_tier, referral_study
        from reach.schema import pct_end_to_end_within_col
        from reach.spec import check_tier, service_tiers

        chosen: dict[str, str] = {}

        def check(scn: ScenarioSpec, name: str) -> None:
            tiers = service_tiers(scn, name)
            wanted = tier if tier is not None else "hospital" if "hospital" in tiers else None
            if wanted is None:
                raise ScenarioError(
                    f"--tier: service {name!r} has no hospital tier to refer to",
                    fix=f"give --tier, one of {', '.join(tiers)}",
                )
            chosen["tier"] = check_tier(scn, name, wanted, option="--tier")

        def before_search(region: Region, name: str) -> None:
            check_referral_tier(region, name, chosen["tier"], option="--tier")

        study = _open_study(
            scenario, out, "referral", service=service, check=check, before_search=before_search
        )
        name, hub = study.service, chosen["tier"]
        result = referral_study(study.region, study.base, name, referral_tier=hub)
        spec = next(s for s in study.scn.services if s.name == name)
        cols = {"zone_name": "zone", "population": "population"}
        cols |= {pct_end_to_end_within_col(t): f"% ≤{t:g} min" for t in spec.thresholds_min}
        cols |= {"mean_end_to_end_min": "mean min", "pct_primary_unreachable": "% unreachable"}
        _frame_table(result.zones, f"{name}: end to end, facility then {hub}", cols)
        _write_study(
            study,
            {"referral_zones": result.zones, "referral_facilities": result.facilities},
            "referral",
            parameters={"referral_tier": hub},
        )

    guard(go)


_LEG_NAMES = {
    "walk": "walk",
    "road": "road",
    "ferry_wait": "ferry wait",
    "ferry": "ferry",
    "to_door": "to the door",
}


def _print_route(origin: pd.Series, legs: pd.DataFrame, label: str) -> None:
    """One origin's route to one service, as a short table."""
    import math

    import pandas as pd

    where = f"{origin['origin_id']} ({origin['lon']:.5f}, {origin['lat']:.5f})"
    time = float(origin["travel_time_min"])
    if not math.isfinite(time):
        _print(f"{clean(where)} — {clean(label)}: not reached ({clean(origin['reason'])})")
        return
    fac = origin["facility_name"] or origin["facility_id"]
    table = Table(
        title=Text(clean(f"{where} — {label}: {time:,.1f} min to {fac} ({origin['facility_id']})"))
    )
    for header in ("#", "leg", "by", "min", "km", "along / across"):
        table.add_column(
            header, justify="left" if header in ("leg", "by", "along / across") else "right"
        )
    for _, leg in legs.iterrows():
        detail = []
        road_class, road_name, cover = (
            None if pd.isna(leg[k]) else str(leg[k])
            for k in ("road_class", "road_name", "land_cover")
        )
        if road_class:
            detail.append(road_class)
        if road_name:
            detail.append(f"“{road_name}”")
        if cover:
            detail.append(cover.replace(";", ", "))
        climb = float(leg["climb_m"])
        if climb >= 1:  # False for NaN (no elevations)
            detail.append(f"climb {climb:,.0f} m")
        if leg["kind"] == "walk" and float(leg["time_min"]) > 0:
            detail.append(f"{60.0 * float(leg['length_km']) / float(leg['time_min']):.1f} km/h")
        km = float(leg["length_km"])
        table.add_row(
            str(leg["leg"]), _LEG_NAMES[str(leg["kind"])], clean(leg["mode"]),
            _fmt(float(leg["time_min"]), ",.1f"), _fmt(km, ",.2f") if km > 0 else Text(""),
            Text(clean(" · ".join(detail))),
        )  # fmt: skip
    _print(table)


@app.command()
def explain(
    scenario: ScenarioArg,
    at: Annotated[
        list[str] | None,
        typer.Option("--at", help="An origin as LON,LAT (repeat for several)."),
    ] = None,
    points: Annotated[
        Path | None,
        typer.Option("--points", help="A CSV (lon, lat) or vector file of origins."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Column of the origins' ids in --points.")
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Service to explain (repeat; default: all)."),
    ] = None,
    out: OutOpt = None,
) -> None:
    """Why is it that far: each origin's least-time route to care, leg by leg.

    Prints the route of each origin to the nearest facility of each service — the walk to the
    road, each road, the wait for the ferry and the crossing, the walk to the door — and writes
    them as routes.gpkg (lines with their legs, and the origins) with routes.csv and
    route_legs.csv.
    """

    def go() -> None:
        import pandas as pd

        from reach.ingest.origins import MAX_ORIGINS, parse_lonlat, read_origins
        from reach.spec import check_service

        if not at and points is None:
            raise ScenarioError(
                "explain: no origin given", fix="give --at LON,LAT or --points FILE"
            )
        rows = [parse_lonlat(text) for text in at or []]
        if len(rows) > MAX_ORIGINS:
            raise ScenarioError(f"--at given {len(rows):,} times", fix="use --points FILE")
        frames = [
            pd.DataFrame(
                {"origin_id": [f"at {i}" for i in range(1, len(rows) + 1)],
                 "lon": [r[0] for r in rows], "lat": [r[1] for r in rows]}
            )
        ]  # fmt: skip
        if points is not None:
            frames.append(read_origins(points, id_column=id_column))
        origins = pd.concat(frames, ignore_index=True)

        def check(scn: ScenarioSpec, _: str) -> None:
            for name in service or []:
                check_service(scn, name, option="--service")

        study = _open_study(scenario, out, "explain", per_service=False, check=check)
        from reach.run.explain import explain_origins

        names = list(dict.fromkeys(service)) if service else None
        with _status("tracing the routes"):
            found = explain_origins(study.region, study.base, origins, services=names)
        specs = {s.name: s for s in study.scn.services}
        if len(found.origins) <= 20:
            for _, row in found.origins.iterrows():
                legs = found.legs[
                    (found.legs["origin_id"] == row["origin_id"])
                    & (found.legs["service"] == row["service"])
                ]
                spec = specs[str(row["service"])]
                label = spec.label.get("en") or spec.name
                _print_route(row, legs, f"{label} ({spec.mode})")
        else:
            cols = {"origin_id": "origin", "service": "service", "travel_time_min": "min",
                    "walk_min": "walk", "ride_min": "ride", "ferry_wait_min": "ferry wait",
                    "ferry_min": "ferry", "facility_id": "facility"}  # fmt: skip
            _frame_table(found.origins.head(20), f"the first 20 of {len(found.origins):,}", cols)
        points_layer = found.origins.copy()
        import geopandas as gpd

        origins_gdf = gpd.GeoDataFrame(
            points_layer,
            geometry=gpd.points_from_xy(points_layer["lon"], points_layer["lat"]),
            crs="EPSG:4326",
        )
        _write_study(
            study,
            {
                "routes": found.origins,
                "route_legs": pd.DataFrame(found.legs.drop(columns="geometry")),
            },
            "explain",
            parameters={"origins": len(origins), "services": names or list(specs)},
            layers={"routes.gpkg": {"legs": found.legs, "origins": origins_gdf}},
        )

    guard(go)


@app.command()
def od(
    scenario: ScenarioArg,
    points: Annotated[
        Path | None,
        typer.Option("--points", help="A CSV (lon, lat) or vector file of origins."),
    ] = None,
    zones: Annotated[
        bool,
        typer.Option("--zones", help="One origin per zone (its population-weighted centre)."),
    ] = False,
    level: Annotated[
        str | None, typer.Option("--level", help="With --zones: a zone level (e.g. desa).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Column of the origins' ids in --points.")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Nearest facilities per origin (1-20).")] = 3,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Service (repeat; default: all)."),
    ] = None,
    out: OutOpt = None,
) -> None:
    """Origin-destination table: each origin's k nearest facilities, with the split of the time.

    One row per origin, service and rank: the facility, its minutes, and how they split into
    walking, riding, waiting for and crossing by ferry, and the walk to the door (od.csv,
    od.parquet; the origins in od_origins.csv).
    """

    def go() -> None:
        from reach.engine.nearest import MAX_K
        from reach.ingest.origins import read_origins
        from reach.spec import check_service

        if (points is None) == (not zones):
            raise ScenarioError(
                "od: give the origins either as --points FILE or as --zones",
                fix="e.g. reach od scenario.toml --zones --level desa",
            )
        if level is not None and not zones:
            raise ScenarioError("--level goes with --zones", fix="add --zones")
        check_count("--k", k, lower=1, upper=MAX_K)
        origins = read_origins(points, id_column=id_column) if points is not None else None

        def check(scn: ScenarioSpec, _: str) -> None:
            for name in service or []:
                check_service(scn, name, option="--service")
            if level is not None and level not in [lv.name for lv in scn.region.zone_levels]:
                known = ", ".join(lv.name for lv in scn.region.zone_levels) or "none"
                raise ScenarioError(f"--level {level!r}: no such zone level", fix=f"use: {known}")

        study = _open_study(scenario, out, "od", per_service=False, check=check)
        from reach.run.od import od_table, zone_origins

        if origins is None:
            origins = zone_origins(study.region, level=level)
        names = list(dict.fromkeys(service)) if service else None
        with _status(f"the {k} nearest facilities of {len(origins):,} origins"):
            table = od_table(study.region, study.base, origins, k=k, services=names)
        cols = {"origin_id": "origin", "service": "service", "rank": "rank",
                "facility_id": "facility", "time_min": "min", "walk_min": "walk",
                "ride_min": "ride", "ferry_wait_min": "ferry wait",
                "ferry_min": "ferry"}  # fmt: skip
        shown = table.head(30)
        title = "od" if len(table) <= 30 else f"od: the first 30 of {len(table):,} rows"
        _frame_table(shown, title, cols)
        _write_study(
            study,
            {"od": table, "od_origins": origins},
            "od",
            parameters={"k": k, "origins": len(origins), "zones": zones, "level": level},
        )

    guard(go)


#: The widest lattice of candidate sites --grid-step accepts at the door (in cells).
MAX_GRID_STEP = 1_000_000


@app.command()
def optimize(
    scenario: ScenarioArg,
    service: ServiceOpt = None,
    sites: Annotated[int, typer.Option("--sites", help="How many new sites.")] = 5,
    threshold: ThresholdOpt = None,
    candidates: Annotated[
        int, typer.Option("--candidates", help="Underserved candidate cells to choose from.")
    ] = 200,
    grid_step: Annotated[
        int, typer.Option("--grid-step", help="Use every N-th passable cell as a candidate.")
    ] = 0,
    budget: Annotated[float | None, typer.Option("--budget", help="Total budget.")] = None,
    cost: Annotated[float | None, typer.Option("--cost", help="Cost per site.")] = None,
    tier: Annotated[
        str | None,
        typer.Option("--tier", help="Tier of the new sites (default: health_centre)."),
    ] = None,
    out: OutOpt = None,
) -> None:
    """Choose new sites that bring most people within the threshold (greedy and exact)."""

    def go() -> None:
        n_sites = check_count("--sites", sites, upper=MAX_SITES)
        minutes = _threshold(threshold)
        n_candidates = check_count("--candidates", candidates, upper=MAX_CANDIDATES)
        step = check_count("--grid-step", grid_step, lower=0, upper=MAX_GRID_STEP)
        money = None if budget is None else check_amount("--budget", budget)
        per_site = None if cost is None else check_amount("--cost", cost)
        if money is not None and per_site is None:
            raise ScenarioError("--budget needs --cost (the cost of a site)", fix="add --cost")
        from reach.spec import check_tier, service_tiers

        chosen: dict[str, str] = {}

        def check(scn: ScenarioSpec, name: str) -> None:
            tiers = service_tiers(scn, name)
            wanted = tier if tier is not None else "health_centre"
            if tier is None and wanted not in tiers:
                wanted = tiers[0]
            chosen["tier"] = check_tier(scn, name, wanted, option="--tier")

        study = _open_study(scenario, out, "optimize", service=service, check=check)
        from reach.run.analyses import siting_study  # the pipeline, once the names are checked

        name = study.service
        result = siting_study(
            study.region, study.base, name, n_sites=n_sites, threshold_min=minutes,
            n_candidates=n_candidates, grid_step_cells=step or None, budget=money,
            cost_per_site=per_site,
        )  # fmt: skip
        cmp = result.comparison
        for sol in (cmp.greedy, cmp.exact):
            optimal = " (proven optimal)" if sol.proven_optimal else ""
            _frame_table(
                sol.sites,
                f"{name}: {sol.solver} — {sol.covered_people:,.0f} people newly within "
                f"{result.threshold_min:g} min{optimal}",
                {"order": "#", "candidate_id": "candidate", "lon": "lon", "lat": "lat",
                 "marginal_gain_people": "gain", "cumulative_gain_people": "cumulative"},
            )  # fmt: skip
        _print(
            f"gap greedy vs exact: {cmp.gap_people:,.0f} people ({cmp.gap_pct:.2f} %) "
            f"from {len(result.candidates)} candidates"
        )
        toml = cmp.exact.alternative_toml(
            name=f"optimal_{name}_sites", service=name, tier=chosen["tier"]
        )
        _write_study(
            study,
            {"sites_greedy": cmp.greedy.sites, "sites_exact": cmp.exact.sites,
             "candidates": result.candidates},
            "optimize",
            files={"alternative.toml": toml},
            parameters={
                "sites": n_sites, "threshold_min": result.threshold_min,
                "candidates": n_candidates, "grid_step_cells": step or None, "budget": money,
                "cost_per_site": per_site, "tier": chosen["tier"],
            },
        )  # fmt: skip

    guard(go)


# --------------------------------------------------------------------------------------------
# fetch, cache, demo
# --------------------------------------------------------------------------------------------

#: The widest margin ``reach fetch --margin-km`` adds around an area.
MAX_MARGIN_KM = 1000.0


@app.command()
def fetch(
    region: Annotated[
        str, typer.Argument(help="A place name, a 'west,south,east,north' box or a boundary file.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the data and scenario.")],
    year: Annotated[int, typer.Option("--year", help="WorldPop year.")] = 2020,
    iso3: Annotated[str | None, typer.Option("--iso3", help="Country code (ISO 3166-1).")] = None,
    admin_level: Annotated[
        int, typer.Option("--admin-level", help="geoBoundaries level for zones (0 = none).")
    ] = 1,
    pbf_url: Annotated[
        str | None, typer.Option("--pbf-url", help="An .osm.pbf extract to clip, for big areas.")
    ] = None,
    margin_km: Annotated[float, typer.Option("--margin-km", help="Widen the area.")] = 0.0,
    offline: Annotated[bool, typer.Option("--offline", help="Use only the cache.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Download again.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files in --out.")] = False,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")] = None,
) -> None:
    """Download (or take from the cache) roads, population and zones, and write a scenario."""

    def go() -> None:
        from reach.fetch import FetchResult, fetch_region

        if not region.strip():
            raise ScenarioError("no region given", fix='give a place name, e.g. "Anjouan, Comoros"')
        check_count("--admin-level", admin_level, lower=0, upper=5)
        margin = check_amount("--margin-km", margin_km, allow_zero=True)
        if margin > MAX_MARGIN_KM:
            raise ScenarioError(
                f"--margin-km {margin_km:g} is more than {MAX_MARGIN_KM:g} km",
                fix="give a margin of a few km",
            )
        kwargs: dict[str, Any] = {
            "out_dir": out, "year": year, "iso3": iso3,
            "admin_level": admin_level or None, "offline": offline, "refresh": refresh,
            "pbf_url": pbf_url, "margin_km": margin, "overwrite": overwrite,
            "cache_dir": cache_dir,
        }  # fmt: skip
        result: FetchResult
        if _state.get("quiet"):
            result = fetch_region(region, **kwargs)
        else:
            with _err.status("fetching", spinner="dots") as status:

                def progress(label: str, done: int, total: int | None) -> None:
                    size = f"{done / 1e6:,.1f} MB" + (f" of {total / 1e6:,.1f} MB" if total else "")
                    status.update(clean(f"{label}: {size}"))

                result = fetch_region(
                    region, progress=progress, on_step=lambda t: status.update(clean(t)), **kwargs
                )
        _print(f"scenario written: {clean(result.scenario)}")
        for note in result.notes:
            _print(f"note: {clean(note)}")
        _print(f"next: reach run {clean(result.scenario)}")

    guard(go)


def _where_option(values: list[str], option: str) -> dict[str, list[str]]:
    """``COLUMN=V1,V2`` filters as a ``where`` table."""
    out: dict[str, list[str]] = {}
    for text in values:
        column, sep, rest = text.partition("=")
        if not sep or not column.strip() or not rest.strip():
            raise ScenarioError(
                f"{option} {text!r} is not COLUMN=VALUE[,VALUE…]",
                fix=f'e.g. {option} kode=53.11 or {option} "nama=Sumba Timur"',
            )
        out.setdefault(column.strip(), []).extend(v.strip() for v in rest.split(",") if v.strip())
    return out


def _level_option(text: str) -> tuple[str, Path, str | None, str | None]:
    """``NAME=FILE[:ID_COLUMN[:NAME_COLUMN]]`` of ``--level``."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise ScenarioError(
            f"--level {text!r} is not NAME=FILE[:ID_COLUMN[:NAME_COLUMN]]",
            fix="e.g. --level desa=desa.geojson:kode:nama",
        )
    parts = rest.split(":")
    return (
        name.strip(),
        Path(parts[0]),
        parts[1] if len(parts) > 1 and parts[1] else None,
        parts[2] if len(parts) > 2 and parts[2] else None,
    )


@app.command("init")
def init_cmd(
    folder: Annotated[Path, typer.Argument(help="The region folder to write (made if missing).")],
    name: Annotated[str | None, typer.Option("--name", help="Scenario name.")] = None,
    boundaries: Annotated[
        Path | None, typer.Option("--boundaries", help="Reporting zones (polygons).")
    ] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Zone id column.")] = None,
    name_column: Annotated[
        str | None, typer.Option("--name-column", help="Zone name column.")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="Keep zones: COLUMN=V1,V2 (a value ending in * a prefix)."),
    ] = None,
    population: Annotated[
        Path | None, typer.Option("--population", help="Population raster (GeoTIFF).")
    ] = None,
    counts: Annotated[
        Path | None, typer.Option("--counts", help="People per zone (CSV, xlsx).")
    ] = None,
    count_zone_column: Annotated[
        str | None, typer.Option("--count-zone-column", help="Zone id column of --counts.")
    ] = None,
    count_column: Annotated[
        str | None, typer.Option("--count-column", help="People column of --counts.")
    ] = None,
    count_zones: Annotated[
        Path | None, typer.Option("--count-zones", help="Polygons of --counts (default zones).")
    ] = None,
    count_zones_id: Annotated[
        str | None, typer.Option("--count-zones-id", help="Id column of --count-zones.")
    ] = None,
    count_zones_where: Annotated[
        list[str] | None, typer.Option("--count-zones-where", help="Keep count zones: COL=V,…")
    ] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Settlement/building/land-cover weights.")
    ] = None,
    weight_column: Annotated[
        str | None, typer.Option("--weight-column", help="Weight column of --weights.")
    ] = None,
    cell_size_m: Annotated[
        float, typer.Option("--cell-size-m", help="Grid cell (m) for --counts.")
    ] = 500.0,
    osm: Annotated[Path | None, typer.Option("--osm", help="OSM extract for roads.")] = None,
    roads: Annotated[Path | None, typer.Option("--roads", help="Road line layer.")] = None,
    road_class_column: Annotated[
        str | None, typer.Option("--road-class-column", help="Class column of --roads.")
    ] = None,
    health: Annotated[Path | None, typer.Option("--health", help="Health facility list.")] = None,
    health_mode: Annotated[str, typer.Option("--health-mode", help="walk/motorbike/car.")] = (
        "motorbike"
    ),
    school: Annotated[Path | None, typer.Option("--school", help="School list.")] = None,
    school_mode: Annotated[str, typer.Option("--school-mode", help="walk/motorbike/car.")] = (
        "walk"
    ),
    school_name: Annotated[
        str, typer.Option("--school-service", help="Name of the school service.")
    ] = "school",
    tier_column: Annotated[
        str | None, typer.Option("--tier-column", help="Tier column of the facility lists.")
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Sheet of an xlsx facility list.")
    ] = None,
    facilities_where: Annotated[
        list[str] | None,
        typer.Option("--facilities-where", help="Keep facilities: COLUMN=V1,V2."),
    ] = None,
    level: Annotated[
        list[str] | None,
        typer.Option("--level", help="More zones: NAME=FILE[:ID_COLUMN[:NAME_COLUMN]]."),
    ] = None,
    health_label: Annotated[
        str | None,
        typer.Option("--health-label", help="Display name of the health service in the reports."),
    ] = None,
    school_label: Annotated[
        str | None,
        typer.Option("--school-label", help="Display name of the school service in the reports."),
    ] = None,
    report: Annotated[
        list[str] | None,
        typer.Option("--report", help="Report language: en, id, fr (repeat for several)."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="ISO 4217 code of the alternatives' costs (IDR, USD)."),
    ] = None,
    scenario_file: Annotated[
        str, typer.Option("--scenario-file", help="Scenario file name.")
    ] = "scenario.toml",
    output: Annotated[
        str, typer.Option("--output", help="Output folder, relative to the scenario.")
    ] = "output",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write again over an earlier reach init's.")
    ] = False,
) -> None:
    """Write a region folder and a scenario that runs, from local files (no network)."""

    def go() -> None:
        from reach.run.init import CountsInput, InitRequest, ServiceInput, ZonesInput, init_region

        modes = ("walk", "motorbike", "car")
        for opt, mode in (("--health-mode", health_mode), ("--school-mode", school_mode)):
            if mode not in modes:
                raise ScenarioError(
                    f"{opt} {mode!r} is not a mode", fix="use walk, motorbike or car"
                )
        langs = _check_langs(report, option="--report") if report else []
        if currency is not None:
            from reach.spec import ScenarioMeta

            try:
                ScenarioMeta(name="x", currency=currency)
            except ValueError:
                raise ScenarioError(
                    f"--currency {currency!r} is not an ISO 4217 currency code",
                    fix="give one such as IDR, USD or KMF",
                ) from None
        if "/" in scenario_file or not scenario_file.endswith(".toml"):
            raise ScenarioError(
                f"--scenario-file {scenario_file!r} is not a file name ending in .toml",
                fix="e.g. --scenario-file sumba.toml",
            )
        zones = (
            ZonesInput(boundaries, id_column=id_column, name_column=name_column,
                       where=_where_option(where or [], "--where"))
            if boundaries is not None else None
        )  # fmt: skip
        count_spec = None
        if counts is not None:
            if not count_zone_column or not count_column:
                raise ScenarioError(
                    "--counts needs --count-zone-column and --count-column",
                    fix="name the table's zone id column and its people column",
                )
            check_amount("--cell-size-m", cell_size_m)
            count_spec = CountsInput(
                counts, zone_column=count_zone_column, total_column=count_column,
                zones=ZonesInput(count_zones, id_column=count_zones_id,
                                 where=_where_option(count_zones_where or [],
                                                     "--count-zones-where"))
                if count_zones is not None else None,
                weights=weights, weight_column=weight_column, cell_size_m=cell_size_m,
            )  # fmt: skip
        services = []
        keep = _where_option(facilities_where or [], "--facilities-where")
        if health is not None:
            services.append(ServiceInput("health", "health", health_mode, health, sheet=sheet,
                                         tier_column=tier_column, where=keep,
                                         label=health_label))  # fmt: skip
        if school is not None:
            services.append(ServiceInput(school_name, "education", school_mode, school,
                                         sheet=sheet, tier_column=tier_column,
                                         where=keep, label=school_label))  # fmt: skip
        levels = {}
        for text in level or []:
            lname, lpath, lid, lnm = _level_option(text)
            levels[lname] = ZonesInput(lpath, id_column=lid, name_column=lnm)
        request = InitRequest(
            name=name or folder.resolve().name, services=tuple(services), boundaries=zones,
            population=population, counts=count_spec, osm=osm, roads=roads,
            road_class_column=road_class_column, levels=levels, reports=tuple(langs),
            scenario_file=scenario_file, output=output,
            currency=currency.strip().upper() if currency else None,
        )  # fmt: skip
        result = init_region(folder, request, overwrite=overwrite)
        _print(f"scenario written: {clean(str(result.scenario))}")
        for note in result.notes:
            _print(f"note: {clean(note)}")
        if result.project_file is None:
            _print(
                "every input lies in the project folder or ${REACH_DATA}: no .reach-project "
                "was needed"
            )
        _print(f"next: reach run {clean(str(result.scenario))}")

    guard(go)


CACHE_ACTIONS = ("info", "clear")


@app.command("cache")
def cache_cmd(
    action: Annotated[str, typer.Argument(help="info or clear.")] = "info",
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")] = None,
) -> None:
    """Show or clear the download cache of `reach fetch`."""

    def go() -> None:
        if action not in CACHE_ACTIONS:
            raise ScenarioError(f"no cache action {action!r}", fix="use `info` or `clear`")
        from reach.fetch import cache_clear, cache_info

        if action == "info":
            info = cache_info(cache_dir=cache_dir)
            table = Table(title=Text(clean(f"reach cache: {info.folder}")))
            for col in ("what", "size", "fetched", "sha256"):
                table.add_column(col)
            for e in info.entries:
                table.add_row(
                    Text(clean(e.label)),
                    f"{e.size / 1e6:,.1f} MB",
                    Text(clean(e.created)),
                    Text(clean(e.sha256[:12])),
                )
            _print(table)
            _print(f"{len(info.entries)} entries, {info.total_bytes / 1e6:,.1f} MB")
        else:
            cleared = cache_clear(cache_dir=cache_dir)
            _print(f"removed {cleared.entries} entries ({cleared.bytes / 1e6:,.1f} MB)")

    guard(go)


#: The largest region ``reach demo --size`` generates, in cells.
MAX_DEMO_CELLS = 2_000_000_000


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("maps/demo"),
    size: Annotated[int, typer.Option("--size", help="Grid cells of the generated region.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the generator.")] = 7,
    inputs_only: Annotated[
        bool,
        typer.Option(
            "--inputs-only", help="Write only the generated input files into --out (no run)."
        ),
    ] = False,
    boundaries_only: Annotated[
        bool,
        typer.Option(
            "--boundaries-only",
            help="Write only --out/districts.geojson, replacing only a districts file reach made.",
        ),
    ] = False,
) -> None:
    """Generate the built-in island district and run it (no network needed).

    With --inputs-only, only its input files are written (no scenario, no run); with
    --boundaries-only, only its districts (to refresh data/boundaries/demo_districts.geojson).
    """

    def go() -> None:
        from reach.demo import MIN_SIZE_CELLS, run_demo, write_demo_boundaries, write_demo_inputs

        if size != 0:
            check_count("--size", size, lower=MIN_SIZE_CELLS, upper=MAX_DEMO_CELLS)
        check_count("--seed", seed, lower=0, upper=2**63 - 1)
        if inputs_only and boundaries_only:
            raise ScenarioError(
                "--inputs-only and --boundaries-only exclude each other", fix="give one of them"
            )
        if boundaries_only:
            with _status("drawing the demo districts"):
                target = write_demo_boundaries(out, size_cells=size or None, seed=seed)
            _print(f"written to {clean(target)}")
            return
        _check_target(out, None)
        if inputs_only:
            with _status("generating the demo region"):
                files = write_demo_inputs(out, size_cells=size or None, seed=seed)
            _print(
                f"inputs written to {clean(files.folder)} ({files.size_cells:,} cells, "
                f"{files.population_total:,.0f} people)"
            )
            return
        with _status("generating the demo region") as step:
            result = run_demo(out, size_cells=size or None, seed=seed, on_step=step)
        _summary(result)

    guard(go)


@app.command("warm-up")
def warm_up_command() -> None:
    """Compile reach's search kernels now, so the first real run is not slower than the rest.

    Runs a small generated region in memory (about 15 s the first time after an install, a few
    seconds afterwards) and writes nothing but numba's cache beside the installed package.
    """

    def go() -> None:
        from reach.demo.warm_up import warm_up

        with _status("compiling the search kernels"):
            seconds = warm_up()
        _print(f"ready: the search kernels are compiled ({seconds:.1f} s)")

    guard(go)


def _interrupted_code() -> int:
    return 128 + int(_state.get("signal") or signal.SIGINT)


def _paragraphs(doc: str) -> str:
    """A docstring as help text: each paragraph on one line, for the terminal to wrap.

    Typer prints a command's docstring with its line breaks, so a help text wrapped at the
    source's 100 columns breaks mid-sentence in an 80-column terminal.
    """
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


for _command in app.registered_commands:
    if _command.help is None and _command.callback is not None and _command.callback.__doc__:
        _command.help = _paragraphs(_command.callback.__doc__)


def _late_signal(signum: int, frame: object) -> None:
    """After the command: a signal only sets the exit code (no exception while exiting)."""
    _state["signal"] = signum


def main() -> None:
    """Console entry point."""
    _prepare_process()
    code: Any = 0
    try:
        try:
            app()
        except SystemExit as exc:
            code = exc.code
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError):
            pass
        except OSError as exc:
            _silence_stdout()
            if code in (0, None):
                code = EXIT_BROKEN_PIPE if exc.errno == errno.EPIPE else EXIT_RESOURCE
    except KeyboardInterrupt:  # before a command started, or while it ended
        if not _state.get("told"):
            _say_err("interrupted")
        code = _interrupted_code()
    finally:
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is not None:
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(signum, _late_signal)
    if _state.get("signal") is not None and code == _interrupted_code():
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> NoReturn:
    """End an interrupted process with ``code``, its clean-up already done.

    After a handled SIGTERM, CPython could still end about one run in eight by SIGINT (exit -2)
    instead of with 128 + the signal, as if the interrupt had gone unhandled: the clean-up is
    done by now, so the streams are flushed and the process ends here with its code.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
