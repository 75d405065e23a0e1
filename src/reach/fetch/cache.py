"""The download cache: one file per request, its sha256 in a small JSON index.

The cache lives in the user cache folder (``platformdirs`` when installed, else
``$XDG_CACHE_HOME/reach`` or ``~/.cache/reach``), or in ``$REACH_CACHE_DIR``. Each answer is
stored under the sha256 of its canonical request (URL + parameters): ``files/<key><suffix>``.
Downloads arrive in ``partial/`` and are moved into ``files/`` only once complete and checked,
so a reader never sees half a file. A cached file whose bytes no longer match its recorded
sha256 is dropped and fetched again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reach.errors import FetchError
from reach.fetch.download import Downloaded, discard_partial, file_digests
from reach.fetch.request import Request
from reach.outputs.write import write_text_atomic

__all__ = [
    "CACHE_ENV",
    "Cache",
    "CacheEntry",
    "CacheInfo",
    "ClearedCache",
    "cache_clear",
    "cache_info",
    "default_cache_dir",
]

#: Environment variable naming the cache folder.
CACHE_ENV = "REACH_CACHE_DIR"

_INDEX = "index.json"
_LOCK = "index.lock"
_FILES = "files"
_PARTIAL = "partial"
_LOCKS = "locks"
#: The cache marker: a standard cache-directory tag (backup tools skip the folder) whose
#: comment line says it is reach's. Only a folder carrying it is ever cleared.
_TAG = "CACHEDIR.TAG"
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This is the download cache of reach (reach fetch); `reach cache clear` empties it.\n"
)
_TAG_LINE = "# This is the download cache of reach"


def default_cache_dir() -> Path:
    """The cache folder: ``$REACH_CACHE_DIR``, else the user cache folder's ``reach``.

    Returns
    -------
    Path
        The folder, resolved (it need not exist yet).
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
        return (Path(base).expanduser() / "reach").resolve()
    return Path(user_cache_dir("reach", appauthor=False)).resolve()


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer.

    Attributes
    ----------
    key
        sha256 of the canonical request.
    label
        What it is (e.g. ``"WorldPop raster COM 2020"``).
    url
        The full URL it came from.
    path
        The cached file.
    size
        Bytes.
    sha256
        Hex sha256 of the file, recorded when it was stored.
    created
        When it was stored (ISO 8601, UTC).
    checked
        What the download was checked against (a sidecar URL, ``"sha256 given"``), or None.
    """

    key: str
    label: str
    url: str
    path: Path
    size: int
    sha256: str
    created: str
    checked: str | None = None


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds.

    Attributes
    ----------
    folder
        The cache folder.
    entries
        The cached answers, oldest first.
    partial_bytes
        Bytes in interrupted downloads kept for resuming.
    """

    folder: Path
    entries: tuple[CacheEntry, ...]
    partial_bytes: int

    @property
    def total_bytes(self) -> int:
        """Bytes of cached files and partial downloads."""
        return sum(e.size for e in self.entries) + self.partial_bytes


@dataclass(frozen=True)
class ClearedCache:
    """What :func:`cache_clear` removed: cached entries, files and bytes."""

    folder: Path
    entries: int
    files: int
    bytes: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Cache:
    """The cache in one folder.

    Parameters
    ----------
    folder
        The cache folder (created when something is stored); default
        :func:`default_cache_dir`.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve() if folder else default_cache_dir()

    def is_reach_cache(self) -> bool:
        """Whether the folder carries reach's cache marker.

        Returns
        -------
        bool
            True when its ``CACHEDIR.TAG`` is reach's.
        """
        try:
            return _TAG_LINE in (self.folder / _TAG).read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            return False

    def _check_marker(self) -> None:
        """Refuse a folder that exists, is not empty and is not a reach cache."""
        if not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise FetchError(
                "the cache folder is a file", path=self.folder, fix="choose another cache folder"
            )
        if not self.is_reach_cache() and any(self.folder.iterdir()):
            raise FetchError(
                f"this folder is not a reach download cache (it has no {_TAG} of reach's); "
                "reach will neither write into it nor clear it",
                path=self.folder,
                fix=f"give a reach cache folder, a new or empty one, or unset ${CACHE_ENV}",
            )

    # --- the index ---------------------------------------------------------------------------

    @property
    def _index_path(self) -> Path:
        return self.folder / _INDEX

    def _read_index(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._index_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable index: its files are fetched again
        entries = data.get("entries") if isinstance(data, dict) else None
        return {k: v for k, v in (entries or {}).items() if isinstance(v, dict)}

    def _write_index(self, entries: dict[str, dict[str, Any]]) -> None:
        text = json.dumps({"version": 1, "entries": entries}, indent=1, sort_keys=True) + "\n"
        # private to the user, as the cache's index always was
        write_text_atomic(self._index_path, text, mode=0o600)

    @contextlib.contextmanager
    def _locked(self, lock: Path | None = None) -> Iterator[None]:
        """Hold a lock file (the index lock by default; a no-op where ``fcntl`` is missing)."""
        self._ensure_folders()
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        with (lock or self.folder / _LOCK).open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def download_lock(self, request: Request) -> contextlib.AbstractContextManager[None]:
        """A lock on ``request``'s download, so that two processes never write the same file.

        Parameters
        ----------
        request
            The download to lock.

        Returns
        -------
        contextlib.AbstractContextManager
            Holds the lock while its block runs.
        """
        return self._locked(self.folder / _LOCKS / f"{request.key}.lock")

    def _ensure_folders(self) -> None:
        self._check_marker()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self.is_reach_cache():
                part = self.folder / f".{_TAG}.part"
                part.write_text(_TAG_TEXT, "utf-8")
                part.replace(self.folder / _TAG)
            for sub in (_FILES, _PARTIAL, _LOCKS):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FetchError(
                f"cannot create the download cache ({exc.strerror})",
                path=self.folder,
                fix=f"set ${CACHE_ENV} to a folder you can write to",
            ) from exc

    @staticmethod
    def _entry(key: str, raw: dict[str, Any], folder: Path) -> CacheEntry | None:
        try:
            return CacheEntry(
                key=key,
                label=str(raw.get("label", "")),
                url=str(raw["url"]),
                path=folder / _FILES / Path(str(raw["file"])).name,
                size=int(raw["size"]),
                sha256=str(raw["sha256"]),
                created=str(raw.get("created", "")),
                checked=raw.get("checked"),
            )
        except (KeyError, TypeError, ValueError):
            return None

    # --- use -----------------------------------------------------------------------------------

    def partial_path(self, request: Request) -> Path:
        """Where ``request`` downloads to before it is complete (its folder is created).

        Parameters
        ----------
        request
            The download.

        Returns
        -------
        Path
            ``partial/<key><suffix>.part`` in the cache folder.
        """
        self._ensure_folders()
        return self.folder / _PARTIAL / f"{request.key}{request.suffix}.part"

    def lookup(self, request: Request) -> CacheEntry | None:
        """The cached answer to ``request``, checked against its sha256, or None.

        A cached file that is missing or whose bytes changed is dropped from the index.

        Parameters
        ----------
        request
            What was asked.

        Returns
        -------
        CacheEntry or None
            The entry, when its file is there with the recorded size and sha256.
        """
        raw = self._read_index().get(request.key)
        entry = self._entry(request.key, raw, self.folder) if raw else None
        if entry is None:
            return None
        try:
            sha256, _, size = file_digests(entry.path)
        except OSError:
            sha256, size = "", -1
        if sha256 == entry.sha256 and size == entry.size:
            return entry
        self._drop(request.key)
        return None

    def _drop(self, key: str) -> None:
        with self._locked():
            entries = self._read_index()
            raw = entries.pop(key, None)
            if raw is not None:
                entry = self._entry(key, raw, self.folder)
                if entry is not None:
                    with contextlib.suppress(FileNotFoundError):
                        entry.path.unlink()
                self._write_index(entries)

    def store(self, request: Request, downloaded: Downloaded) -> CacheEntry:
        """Move a finished download into the cache and record it in the index.

        Parameters
        ----------
        request
            What was asked.
        downloaded
            The finished, checked download (in ``partial/``).

        Returns
        -------
        CacheEntry
            The new entry.
        """
        with self._locked():
            name = f"{request.key}{request.suffix}"
            target = self.folder / _FILES / name
            downloaded.path.replace(target)
            discard_partial(downloaded.path)
            raw = {
                "label": request.name,
                "url": request.full_url,
                "file": name,
                "size": downloaded.size,
                "sha256": downloaded.sha256,
                "created": _now(),
                "checked": downloaded.checked,
            }
            entries = self._read_index()
            entries[request.key] = raw
            self._write_index(entries)
        entry = self._entry(request.key, raw, self.folder)
        assert entry is not None
        return entry

    def info(self) -> CacheInfo:
        """What the cache holds (nothing, for a folder that is not a reach cache: refused).

        Returns
        -------
        CacheInfo
            The entries whose files are there, oldest first, and the bytes of partial
            downloads.
        """
        self._check_marker()
        entries = [
            e
            for key, raw in self._read_index().items()
            if (e := self._entry(key, raw, self.folder)) is not None and e.path.is_file()
        ]
        entries.sort(key=lambda e: (e.created, e.key))
        partial = self.folder / _PARTIAL
        partial_bytes = (
            sum(p.stat().st_size for p in partial.iterdir() if p.is_file())
            if partial.is_dir()
            else 0
        )
        return CacheInfo(self.folder, tuple(entries), partial_bytes)

    def clear(self) -> ClearedCache:
        """Delete every cached file, partial download and the index (the marker stays).

        A folder without reach's cache marker is refused. Only what the cache wrote is removed
        (``files/``, ``partial/``, ``locks/``, the index); anything else in the folder is left
        alone.

        Returns
        -------
        ClearedCache
            How many entries, files and bytes were removed.
        """
        if not self.folder.is_dir():
            return ClearedCache(self.folder, 0, 0, 0)
        if not self.is_reach_cache():
            self._check_marker()  # refuses a folder with files
            return ClearedCache(self.folder, 0, 0, 0)
        with self._locked():
            n_entries = len(self._read_index())
            n_files = n_bytes = 0
            for sub in (_FILES, _PARTIAL, _LOCKS):
                for p in (self.folder / sub).iterdir():
                    if p.is_file() or p.is_symlink():
                        n_bytes += p.lstat().st_size
                        p.unlink()
                        n_files += 1
            with contextlib.suppress(FileNotFoundError):
                self._index_path.unlink()
        for sub in (_FILES, _PARTIAL, _LOCKS):
            with contextlib.suppress(OSError):
                (self.folder / sub).rmdir()
        with contextlib.suppress(OSError):
            (self.folder / _LOCK).unlink()
        return ClearedCache(self.folder, n_entries, n_files, n_bytes)


def cache_info(*, cache_dir: str | Path | None = None) -> CacheInfo:
    """List the download cache: entries with their URL, size, sha256 and date.

    Parameters
    ----------
    cache_dir
        The cache folder; default ``$REACH_CACHE_DIR`` or the user cache folder.

    Returns
    -------
    CacheInfo
        The cached entries, oldest first, and the bytes of partial downloads.
    """
    return Cache(cache_dir).info()


def cache_clear(*, cache_dir: str | Path | None = None) -> ClearedCache:
    """Delete everything in the download cache (and nothing else in its folder).

    Parameters
    ----------
    cache_dir
        The cache folder; default ``$REACH_CACHE_DIR`` or the user cache folder.

    Returns
    -------
    ClearedCache
        How many entries, files and bytes were removed.
    """
    return Cache(cache_dir).clear()
