"""HTTP downloads that resume, retry, respect a size cap and check checksums.

Only ``http`` and ``https`` are spoken (also after a redirect). A download goes into a partial
file; an interrupted one resumes with an HTTP range request when the server names a version of
the file (``ETag`` or ``Last-Modified``), else starts again. Connection errors, timeouts, HTTP
5xx and 429 are retried with exponential backoff, a bounded number of times. A file larger than
the cap, or not matching its checksum, is deleted and reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

from reach.errors import (
    ChecksumMismatchError,
    DownloadTooLargeError,
    FetchError,
    NotFoundError,
)
from reach.fetch.config import DownloadPolicy
from reach.fetch.request import Request

__all__ = [
    "Downloaded",
    "ProgressCallback",
    "discard_partial",
    "download",
    "file_digests",
]

#: Called as a download advances: ``progress(label, bytes_done, bytes_total_or_None)``.
ProgressCallback = Callable[[str, int, int | None], None]

_CHUNK = 1 << 16
#: Free space kept on the disk beyond a download's announced size.
_DISK_MARGIN = 64 * 2**20
_MAX_SIDECAR_BYTES = 4096


@dataclass(frozen=True)
class Downloaded:
    """A finished download in its partial file, checked.

    Attributes
    ----------
    path
        The partial file holding the complete download.
    size
        Bytes.
    sha256
        Hex sha256 of the bytes.
    checked
        What the bytes were checked against (``"sha256 given"``, ``"<url>.sha256"``), or None.
    """

    path: Path
    size: int
    sha256: str
    checked: str | None


class _RetryableError(Exception):
    """A failure worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _RangeRefusedError(_RetryableError):
    """HTTP 416: the partial file does not fit the resource any more; start again."""


class _GaveUpError(FetchError):
    """Retries exhausted; the partial file is kept so that the next run resumes."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow at most 5 redirects, and only to http(s) URLs."""

    max_redirections = 5

    def http_error_302(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
    ) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urljoin(req.full_url, location)
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                fp.close()
                raise FetchError(
                    f"the server redirected to {target[:200]!r}, which is not an http(s) URL",
                    path=req.full_url,
                    fix="use another server or mirror; reach only follows http(s) redirects",
                )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    """An opener for http(s) only: no ``file:``, ``ftp:`` or ``data:`` handlers."""
    director = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        director.add_handler(handler)
    return director


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _http_failure(request: Request, exc: urllib.error.HTTPError) -> NoReturn:
    """Raise :class:`_RetryableError` for a passing server trouble, else a :class:`FetchError`."""
    code = exc.code
    headers = exc.headers
    exc.close()
    if code == 416:
        raise _RangeRefusedError("the server refused to resume (HTTP 416)")
    if code in (408, 425, 429) or code >= 500:
        raise _RetryableError(f"HTTP {code}", retry_after=_retry_after(headers))
    fix = {
        404: "check the place, ISO3 code, year or URL: the server has no such resource",
        401: "this server needs a login; use a public mirror",
        403: "the server refused; check the URL or use a mirror",
    }.get(code, "check the URL, or try another server")
    error = NotFoundError if code in (404, 410) else FetchError
    raise error(
        f"{request.name}: the server answered HTTP {code} {exc.reason}",
        path=request.full_url,
        fix=fix,
    )


def _open(
    opener: urllib.request.OpenerDirector,
    request: Request,
    url: str,
    headers: dict[str, str],
    timeout: float,
) -> http.client.HTTPResponse:
    req = urllib.request.Request(url, headers=headers)
    try:
        response: http.client.HTTPResponse = opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        _http_failure(request, exc)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        detail = " ".join(str(reason).split()) or type(exc).__name__
        raise _RetryableError(f"cannot connect ({detail})") from exc
    return response


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def discard_partial(part: Path) -> None:
    """Delete a partial download and its resume record.

    Parameters
    ----------
    part
        The partial file (its record is beside it, ``<part>.json``); either may be missing.
    """
    for p in (part, _meta_path(part)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _validator(headers: Message) -> str | None:
    """A strong version tag of the resource, for a safe resume (``If-Range``)."""
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified")


def _resume_headers(request: Request, part: Path) -> tuple[int, dict[str, str]]:
    """Bytes already downloaded and the headers asking for the rest (if resumable)."""
    if not part.is_file():
        return 0, {}
    try:
        meta = json.loads(_meta_path(part).read_text("utf-8"))
    except (OSError, ValueError):
        meta = {}
    offset = part.stat().st_size
    if offset and meta.get("url") == request.full_url and meta.get("validator"):
        return offset, {"Range": f"bytes={offset}-", "If-Range": str(meta["validator"])}
    return 0, {}


def _range_start(value: str | None) -> int | None:
    """Start of a ``Content-Range: bytes START-END/TOTAL`` header."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _too_large(request: Request, size: int, cap: int) -> DownloadTooLargeError:
    return DownloadTooLargeError(
        f"{request.name} is larger than the {cap:,}-byte download cap ({size:,} bytes or more)",
        path=request.full_url,
        fix="raise the cap (DownloadPolicy.max_bytes) if you trust this server, or choose a "
        "smaller area",
    )


def _attempt(
    request: Request,
    part: Path,
    opener: urllib.request.OpenerDirector,
    policy: DownloadPolicy,
    cap: int,
    progress: ProgressCallback | None,
) -> None:
    """One try at getting the (rest of the) file into ``part``."""
    offset, extra = _resume_headers(request, part)
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "identity", **extra}
    timeout = request.timeout_s or policy.timeout_s
    try:
        response = _open(opener, request, request.full_url, headers, timeout)
    except _RangeRefusedError:
        discard_partial(part)
        raise
    with response:
        if response.status == 206 and _range_start(response.headers.get("Content-Range")) == offset:
            mode = "ab"
        elif response.status == 206:
            discard_partial(part)
            raise _RetryableError("the server resumed at the wrong place")
        else:
            offset, mode = 0, "wb"
            meta = {"url": request.full_url, "validator": _validator(response.headers)}
            _meta_path(part).write_text(json.dumps(meta), "utf-8")
        length_text = response.headers.get("Content-Length")
        length = int(length_text) if length_text and length_text.isdigit() else None
        total = None if length is None else offset + length
        if total is not None and total > cap:
            discard_partial(part)
            raise _too_large(request, total, cap)
        if length is not None and shutil.disk_usage(part.parent).free < length + _DISK_MARGIN:
            discard_partial(part)
            raise DownloadTooLargeError(
                f"not enough free disk space for {request.name} ({length:,} bytes)",
                path=part.parent,
                fix="free some space, or point $REACH_CACHE_DIR at a larger disk",
            )
        done = offset
        with part.open(mode) as fh:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _RetryableError(f"the connection broke ({type(exc).__name__})") from exc
                if not chunk:
                    break
                done += len(chunk)
                if done > cap:
                    fh.close()
                    discard_partial(part)
                    raise _too_large(request, done, cap)
                fh.write(chunk)
                if progress is not None:
                    progress(request.name, done, total)
    if total is not None and done < total:
        raise _RetryableError(f"the connection closed after {done:,} of {total:,} bytes")


def _with_retries(
    request: Request, policy: DownloadPolicy, action: Callable[[], None], *, partial: Path | None
) -> None:
    """Run ``action`` until it succeeds, retrying :class:`_RetryableError` with backoff."""
    attempt = 0
    while True:
        try:
            action()
            return
        except _RetryableError as exc:
            if attempt >= policy.retries:
                resumes = " (the next run resumes the download)" if partial else ""
                raise _GaveUpError(
                    f"{request.name}: {exc.reason}; gave up after {attempt + 1} attempts",
                    path=request.full_url,
                    fix=f"check the internet connection or the server, and run again{resumes}; "
                    "with no internet, build the region from local files with `reach init`",
                ) from None
            delay = min(policy.backoff_s * 2**attempt, policy.max_backoff_s)
            if exc.retry_after is not None:
                delay = min(max(delay, exc.retry_after), policy.max_backoff_s)
            attempt += 1
            time.sleep(delay)


def file_digests(path: Path) -> tuple[str, str, int]:
    """Compute the sha256 and md5 (hex) and size of a file, read once.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    tuple of (str, str, int)
        ``(sha256, md5, size in bytes)``.
    """
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
            size += len(block)
    return sha.hexdigest(), md5.hexdigest(), size


def _sidecar_url(url: str, suffix: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + suffix))


def _parse_sidecar(text: bytes) -> tuple[str, str] | None:
    """``("sha256"|"md5", hex)`` from a checksum file (``HEX`` or ``HEX  name``), else None."""
    try:
        token = text.decode("ascii").split(maxsplit=1)[0].lower()
    except (UnicodeDecodeError, IndexError):
        return None
    if not all(c in "0123456789abcdef" for c in token):
        return None
    return {64: ("sha256", token), 32: ("md5", token)}.get(len(token))


def _sidecar(
    request: Request, policy: DownloadPolicy, opener: urllib.request.OpenerDirector
) -> tuple[str, str, str] | None:
    """The first checksum sidecar the server has: ``(algorithm, hex, url)``, else None."""
    if request.params or request.kind != "data":
        return None
    for suffix in policy.sidecars:
        url = _sidecar_url(request.url, suffix)
        found: list[bytes] = []

        def fetch(url: str = url, found: list[bytes] = found) -> None:
            headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "identity"}
            try:
                response = _open(opener, request, url, headers, policy.timeout_s)
            except FetchError:  # no sidecar (404 and the like): nothing to check against
                return
            with response:
                try:
                    found.append(response.read(_MAX_SIDECAR_BYTES + 1))
                except (OSError, http.client.HTTPException) as exc:
                    raise _RetryableError(f"the connection broke ({type(exc).__name__})") from exc

        _with_retries(request, policy, fetch, partial=None)
        if found and len(found[0]) <= _MAX_SIDECAR_BYTES:
            parsed = _parse_sidecar(found[0])
            if parsed is not None:
                return (*parsed, url)
    return None


def _expected(
    request: Request, policy: DownloadPolicy, opener: urllib.request.OpenerDirector
) -> tuple[str, str, str] | None:
    """What the download must match: ``(algorithm, hex, where it comes from)``, or None."""
    if request.sha256 is not None:
        return ("sha256", request.sha256.lower(), "sha256 given")
    return _sidecar(request, policy, opener)


def _verify(request: Request, part: Path, expected: tuple[str, str, str] | None) -> Downloaded:
    sha256, md5, size = file_digests(part)
    if expected is None:
        return Downloaded(part, size, sha256, None)
    algorithm, want, source = expected
    got = sha256 if algorithm == "sha256" else md5
    if got != want:
        raise ChecksumMismatchError(
            f"{request.name} is corrupt: its {algorithm} is {got}, but {source} says {want}",
            path=request.full_url,
            fix="run the fetch again to download it afresh; if it fails again, the server's "
            "file or checksum is wrong — use another mirror",
        )
    return Downloaded(part, size, sha256, source)


def download(
    request: Request,
    part: Path,
    *,
    policy: DownloadPolicy,
    progress: ProgressCallback | None = None,
) -> Downloaded:
    """Download ``request`` into the partial file ``part`` and check it.

    Parameters
    ----------
    request
        What to get.
    part
        The partial file (its folder must exist). An earlier interrupted download of the same
        URL left in it is resumed when the server allows.
    policy
        Retries, timeouts and caps.
    progress
        Called with ``(label, bytes_done, bytes_total_or_None)`` as bytes arrive.

    Returns
    -------
    Downloaded
        The complete file (still at ``part``) with its sha256.

    Raises
    ------
    FetchError
        After the last retry (the partial file is kept so that the next run resumes), or at
        once for an HTTP error other than 408/425/429/5xx, or a redirect to a non-http(s) URL.
    ChecksumMismatchError
        When a given sha256 or a checksum sidecar disagrees (the file is deleted).
    DownloadTooLargeError
        Beyond the size cap or the free disk space (the file is deleted).
    """
    opener = _opener()
    cap = policy.max_bytes if request.kind == "data" else policy.max_api_bytes
    expected = _expected(request, policy, opener)  # first: a failure here wastes nothing
    keep = False
    try:
        try:
            _with_retries(
                request,
                policy,
                lambda: _attempt(request, part, opener, policy, cap, progress),
                partial=part,
            )
        except _GaveUpError:
            keep = part.is_file()
            raise
        return _verify(request, part, expected)
    except KeyboardInterrupt:
        keep = True
        raise
    except BaseException:
        if not keep:
            discard_partial(part)
        raise
    finally:
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                _meta_path(part).unlink()
