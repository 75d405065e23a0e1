"""Errors of ``reach fetch``: one line each, naming what failed and how to fix it."""

from __future__ import annotations

from reach.errors import EXIT_BAD_INPUT, EXIT_RESOURCE, ReachError

__all__ = [
    "ChecksumMismatchError",
    "DownloadTooLargeError",
    "FetchError",
    "NotCachedError",
    "NotFoundError",
]


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
