"""The terminal: control characters stripped, no markup, closed / full / ASCII streams, signals.

The subprocess cases run at once (a fixture starts them all), so the file stays fast.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reach.cli import app, clean, guard
from reach.errors import EXIT_RESOURCE
from tests.helpers import write_tiny_region

runner = CliRunner()
ESC = "\x1b"
HOSTILE = "\x1b[31mWest\x1b]0;pwned\x07[bold red]X[/bold red] :smile: \x9b2J\u202eevil\r\x00"


def _reach(*args: str) -> list[str]:
    return [sys.executable, "-m", "reach.cli", "--quiet", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LC_ALL")}
    return env | extra


def _sigterm_caught(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/status").open() as fh:
            for line in fh:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


def _small_file_size_limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024, resource.RLIM_INFINITY))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, str, str]]]:
    """Start every subprocess case at once; yield ``{case: (exit code, stdout, stderr)}``."""
    base = tmp_path_factory.mktemp("terminal")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    folders: dict[str, Path] = {}

    def start(name: str, *, stdout: int | object = subprocess.PIPE, **kw: object) -> None:
        folders[name] = base / name
        scenario = write_tiny_region(folders[name])
        procs[name] = subprocess.Popen(  # type: ignore[call-overload]
            kw.pop("cmd", None) or _reach("run", "--no-maps", str(scenario)),
            stdout=stdout, stderr=subprocess.PIPE, env=kw.pop("env", _env()), **kw,
        )  # fmt: skip

    with Path("/dev/full").open("wb") as full:
        start("dev_full", stdout=full)
    start("closed_pipe")
    assert procs["closed_pipe"].stdout is not None
    procs["closed_pipe"].stdout.close()  # the reader went away, as `| head -0` does
    start("ascii", env=_env(PYTHONIOENCODING="ascii", LANG="C", LC_ALL="C"))
    scenario = base / "closed_stdout" / "tiny.toml"
    start(
        "closed_stdout",
        stdout=subprocess.DEVNULL,
        cmd=["sh", "-c", 'exec "$@" >&-', "sh", *_reach("run", "--no-maps", str(scenario))],
    )
    start("file_size_limit", preexec_fn=_small_file_size_limit)
    start("sigterm")
    sig = procs["sigterm"]
    deadline = time.monotonic() + 60
    while not _sigterm_caught(sig.pid) and sig.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # into the run (importing, reading the region or searching), well before the tiny run ends
    time.sleep(0.2)
    sig.send_signal(signal.SIGTERM)

    results: dict[str, tuple[int, str, str]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (
            proc.returncode,
            (out or b"").decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )
    results["sigterm_listing"] = (
        0,
        "\n".join(sorted(p.name for p in folders["sigterm"].iterdir())),
        "",
    )
    yield results


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err and "Exception" not in err, err


def test_full_standard_output_is_one_line_and_exit_3(runs: dict[str, tuple[int, str, str]]) -> None:
    code, _, err = runs["dev_full"]
    _no_traceback(err)
    assert code == EXIT_RESOURCE, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "standard output" in lines[0], err


def test_file_size_limit_is_one_line_and_exit_3(runs: dict[str, tuple[int, str, str]]) -> None:
    code, _, err = runs["file_size_limit"]
    _no_traceback(err)
    assert code == EXIT_RESOURCE, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and ("size" in lines[0] or "ulimit" in lines[0]), err


def test_closed_pipe_is_quiet(runs: dict[str, tuple[int, str, str]]) -> None:
    code, _, err = runs["closed_pipe"]
    _no_traceback(err)
    assert err.strip() == "", err
    assert code == 128 + signal.SIGPIPE


def test_ascii_terminal(runs: dict[str, tuple[int, str, str]]) -> None:
    code, out, err = runs["ascii"]
    _no_traceback(err)
    assert code == 0, err
    out.encode("ascii")  # nothing but ASCII reached the terminal
    assert "<=5 min" in out and "West" in out


def test_closed_standard_output(runs: dict[str, tuple[int, str, str]]) -> None:
    code, _, err = runs["closed_stdout"]
    _no_traceback(err)
    assert code == 0, err


def test_sigterm_during_a_run(runs: dict[str, tuple[int, str, str]]) -> None:
    code, _, err = runs["sigterm"]
    _no_traceback(err)
    assert code == 128 + signal.SIGTERM, (code, err)
    assert "interrupted" in err
    listing = runs["sigterm_listing"][1].split("\n")
    assert not [n for n in listing if n.startswith(".out")], listing  # no temporary litter


# --- in process ---------------------------------------------------------------------------------


def test_clean_strips_escapes_and_controls() -> None:
    text = clean(HOSTILE)
    assert ESC not in text and "\x9b" not in text and "\x07" not in text and "\x00" not in text
    assert "\u202e" not in text and "\r" not in text
    assert text.startswith("West") and "[bold red]X[/bold red]" in text and ":smile:" in text
    assert clean("a\nb\tc") == "a b c" and clean("a\nb", lines=True) == "a\nb"


def test_zone_name_with_escapes_reaches_the_terminal_clean(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    zones = tmp_path / "zones.geojson"
    hostile = HOSTILE.encode("unicode_escape").decode("ascii").replace("\\x", "\\u00")
    zones.write_text(zones.read_text().replace('"name": "West"', f'"name": "{hostile}"'))
    result = runner.invoke(app, ["--quiet", "run", "--no-maps", str(scenario)])
    assert result.exit_code == 0, result.stderr
    assert ESC not in result.stdout and "\x9b" not in result.stdout and "\x07" not in result.stdout
    # data is never read as markup or emoji codes: it is shown as it was written
    assert "West[bold red]X[/bold red] :smile:" in result.stdout
    assert "😄" not in result.stdout


def test_error_messages_are_cleaned_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--quiet", "run", str(tmp_path / f"{ESC}[2Jmissing.toml")])
    assert result.exit_code == 2
    assert ESC not in result.stderr and "missing.toml" in result.stderr


@pytest.mark.parametrize(
    ("exc", "code", "needle"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/x/coverage.csv"), 3, "space"),
        (OSError(errno.EROFS, "Read-only file system", "/x/out"), 3, "read-only"),
        (PermissionError(errno.EACCES, "Permission denied", "/x/out"), 3, "permission"),
        (OSError(errno.EFBIG, "File too large", "/x/t.tif"), 3, "size"),
        (RecursionError("maximum recursion depth exceeded"), 3, "nested too deeply"),
        (MemoryError(), 3, "memory"),
        (ZeroDivisionError("boom"), 1, "internal error"),
    ],
)
def test_guard_maps_resource_errors_to_one_line(
    capsys: pytest.CaptureFixture[str], exc: BaseException, code: int, needle: str
) -> None:
    def fail() -> None:
        raise exc

    with pytest.raises(typer.Exit) as info:
        guard(fail)
    assert info.value.exit_code == code
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert needle in err.lower() and "Traceback" not in err
    if isinstance(exc, OSError):
        assert exc.filename in err


def test_dask_logs_stay_at_warning() -> None:
    pytest.importorskip("distributed")
    from reach.partition import quiet_dask_logs

    reach_log = logging.getLogger("reach")
    before = reach_log.level
    try:
        reach_log.setLevel(logging.WARNING)
        assert quiet_dask_logs() == logging.WARNING
        assert logging.getLogger("distributed").getEffectiveLevel() == logging.WARNING
        assert not logging.getLogger("distributed.scheduler").isEnabledFor(logging.INFO)
        reach_log.setLevel(logging.DEBUG)  # --debug
        assert quiet_dask_logs() == logging.DEBUG
    finally:
        reach_log.setLevel(before)
        quiet_dask_logs()
