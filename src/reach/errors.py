"""Errors that reach raises on purpose.

Every error a user can cause is a :class:`ReachError`. The CLI turns one into a single line on
stderr and an exit code; anything else is an internal error (exit 1).
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_RESOURCE",
    "ChecksumMismatchError",
    "ConservationError",
    "DownloadTooLargeError",
    "FetchError",
    "InputError",
    "NotCachedError",
    "NotFoundError",
    "ReachError",
    "RefusedURLError",
    "ResourceLimitError",
    "ScenarioError",
    "from_os_error",
    "resource_error",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_RESOURCE = 3


class ReachError(Exception):
    """Root of all errors reach raises on purpose.

    Parameters
    ----------
    problem
        What is wrong, in words a planner understands.
    path
        The file the problem is in, if any.
    fix
        How to fix it.
    """

    exit_code: int = EXIT_INTERNAL

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the single line shown to the user: file, problem, fix.

        Returns
        -------
        str
            ``"<path>: <problem> — fix: <fix>"`` (the parts present), whitespace collapsed.
        """
        text = self.problem
        if self.path:
            text = f"{self.path}: {text}"
        if self.fix:
            text = f"{text} — fix: {self.fix}"
        return " ".join(text.split())


class InputError(ReachError, ValueError):
    """An input file is missing, unreadable or has content reach cannot use."""

    exit_code = EXIT_BAD_INPUT


class ScenarioError(ReachError, ValueError):
    """The scenario file is malformed or asks for something impossible."""

    exit_code = EXIT_BAD_INPUT


class ResourceLimitError(ReachError, MemoryError):
    """The run would not fit in this machine's memory or time budget."""

    exit_code = EXIT_RESOURCE


class ConservationError(ReachError, AssertionError):
    """Population totals did not add up: an internal bug, never the user's fault."""

    exit_code = EXIT_INTERNAL


class RefusedURLError(ReachError, ValueError):
    """The report asked for a resource outside its own files (network or other local files).

    Raised by the report's resource fetcher, so that a PDF never reaches the network nor reads
    a file the report did not write: an internal error (exit 1) if it ever escapes.
    """


# --- reach fetch: one line each, naming what failed and how to fix it ----------------------------


class FetchError(ReachError, RuntimeError):
    """A download failed, a server answered something unusable, or the cache lacks a file."""

    exit_code = EXIT_BAD_INPUT


class ChecksumMismatchError(FetchError, ValueError):
    """A downloaded file does not match the checksum the server or the caller gave."""


class NotFoundError(FetchError, LookupError):
    """The server has no such resource (HTTP 404 or 410)."""


class NotCachedError(FetchError, LookupError):
    """Offline, and the cache does not hold everything the fetch needs."""


class DownloadTooLargeError(FetchError):
    """A download is larger than the configured cap (or the free disk space)."""

    exit_code = EXIT_RESOURCE


#: Operating-system errors that are the machine's limits, not reach's bugs: (problem, fix).
_RESOURCE_ERRNOS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the disk", "free some space or write to another disk"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write to another disk"),
    errno.EROFS: ("the file system is read-only", "choose an output folder you can write to"),
    errno.EACCES: ("permission denied", "choose an output folder you can write to"),
    errno.EPERM: ("the operation is not permitted", "choose an output folder you can write to"),
    errno.EFBIG: (
        "a file would exceed this system's file-size limit",
        "raise the limit (ulimit -f) or write to another disk",
    ),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n)"),
    errno.ENAMETOOLONG: ("a file name is too long", "choose a shorter output folder"),
}

#: The same limits as GDAL and other C libraries word them in their messages.
_RESOURCE_TEXTS = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
    "permission denied": errno.EACCES,
    "file too large": errno.EFBIG,
}


def from_os_error(exc: OSError, *, path: str | Path | None = None) -> ReachError | None:
    """A :class:`ResourceLimitError` (exit 3) for an OS error that is a machine limit, else None.

    Parameters
    ----------
    exc
        The error, e.g. from writing an output file.
    path
        The file to name when the error names none.

    Returns
    -------
    ReachError or None
        The resource-limit error naming the problem and its fix, or ``None`` when ``exc`` is
        not one of the machine's limits (a full disk, a quota, a read-only file system, a
        permission, a file-size or open-files limit, a name too long).
    """
    known = _RESOURCE_ERRNOS.get(exc.errno or -1)
    if known is None:
        return None
    problem, fix = known
    where = exc.filename if exc.filename is not None else path
    return ResourceLimitError(problem, path=where, fix=fix)


def resource_error(exc: BaseException) -> ReachError | None:
    """Like :func:`from_os_error`, for any error (GDAL's too, recognised by its message).

    Parameters
    ----------
    exc
        Any error; a :class:`ReachError` is left alone.

    Returns
    -------
    ReachError or None
        A :class:`ResourceLimitError` when ``exc`` is a machine limit (by its errno, or by the
        words GDAL, SQLite and the like use for one, or a writer's error under a file-size
        limit), else ``None``.
    """
    if isinstance(exc, ReachError):
        return None
    if isinstance(exc, OSError):
        mapped = from_os_error(exc)
        if mapped is not None or exc.errno is not None:
            return mapped
    text = str(exc).lower()
    for words, code in _RESOURCE_TEXTS.items():
        if words in text:
            problem, fix = _RESOURCE_ERRNOS[code]
            return ResourceLimitError(problem, fix=fix)
    if any(words in text for words in _STORAGE_TEXTS):
        return ResourceLimitError(
            "the disk refused a write (it may be full or read-only, or a file-size limit hit)",
            fix="free some space, raise the limit (ulimit -f) or write to another disk",
        )
    limit = _file_size_limit()
    if limit is not None and _from_a_writer(exc):
        # GDAL's SQLite (GeoPackage) words a file-size limit as anything but that
        first = (str(exc).splitlines() or [""])[0]
        return ResourceLimitError(
            f"writing failed while this system limits a file to {limit:,} bytes (ulimit -f): "
            f"{type(exc).__name__}: {first[:160]}",
            fix="raise the limit (ulimit -f unlimited) or write to another disk",
        )
    return None


#: How SQLite (GeoPackages) words a write the disk refused, without the reason.
_STORAGE_TEXTS = ("disk i/o error", "database or disk is full")

#: Libraries whose errors, under a file-size limit, are most likely that limit.
_WRITERS = ("pyogrio", "rasterio", "fiona", "osgeo", "sqlite3", "pyarrow", "shapely", "weasyprint")


def _file_size_limit() -> int | None:
    """This process's file-size limit in bytes (``ulimit -f``), or None when there is none."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else int(soft)


def _from_a_writer(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return isinstance(exc, OSError) or module.split(".")[0] in _WRITERS
