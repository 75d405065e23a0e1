"""Get a request's answer from the cache or the network; offline, note what is missing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reach.errors import FetchError, NotCachedError
from reach.fetch.cache import Cache, CacheEntry
from reach.fetch.config import DownloadPolicy
from reach.fetch.download import ProgressCallback, discard_partial, download
from reach.fetch.request import Request

__all__ = ["Client", "Used"]


@dataclass(frozen=True)
class Used:
    """A cached answer a fetch used, and whether it came from the cache."""

    entry: CacheEntry
    from_cache: bool


def _valid_json(request: Request) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError(
                f"{request.name}: the server's answer is not JSON ({type(exc).__name__})",
                path=request.full_url,
                fix="check the base URL of this source (it may point at a web page), or try "
                "again later",
            ) from exc

    return check


class Client:
    """The cache and the network together.

    Parameters
    ----------
    cache
        Where answers are kept.
    policy
        Retries, timeouts and caps.
    offline
        Use only the cache: a missing answer is noted in :attr:`missing`, not downloaded.
    refresh
        Download again even what the cache holds (ignored offline).
    progress
        Download progress callback.
    """

    def __init__(
        self,
        cache: Cache,
        *,
        policy: DownloadPolicy,
        offline: bool = False,
        refresh: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.cache = cache
        self.policy = policy
        self.offline = offline
        self.refresh = refresh and not offline
        self.progress = progress
        #: Requests not in the cache while offline, as ``"label (url)"``.
        self.missing: list[str] = []
        #: Answers used, in order.
        self.used: list[Used] = []

    def cached(self, request: Request) -> bool:
        """Whether the cache holds a good copy of ``request``'s answer.

        Parameters
        ----------
        request
            What was asked.

        Returns
        -------
        bool
            True when its file is cached and matches its recorded sha256.
        """
        return self.cache.lookup(request) is not None

    def get(
        self, request: Request, *, validate: Callable[[Path], None] | None = None
    ) -> Path | None:
        """The cached file answering ``request``; downloaded first unless cached.

        Parameters
        ----------
        request
            What to get.
        validate
            Raises :class:`FetchError` when a downloaded answer is unusable (it is then not
            cached).

        Returns
        -------
        pathlib.Path or None
            The file in the cache; None when offline and it is not cached (see
            :attr:`missing`).
        """
        if not self.refresh:
            entry = self.cache.lookup(request)
            if entry is not None:
                self.used.append(Used(entry, from_cache=True))
                if self.progress is not None:
                    self.progress(request.name, entry.size, entry.size)
                return entry.path
        if self.offline:
            self.missing.append(f"{request.name} ({request.full_url})")
            return None
        with self.cache.download_lock(request):
            if not self.refresh:  # another process may have fetched it meanwhile
                entry = self.cache.lookup(request)
                if entry is not None:
                    self.used.append(Used(entry, from_cache=True))
                    return entry.path
            part = self.cache.partial_path(request)
            done = download(request, part, policy=self.policy, progress=self.progress)
            if validate is not None:
                try:
                    validate(done.path)
                except BaseException:
                    discard_partial(done.path)
                    raise
            entry = self.cache.store(request, done)
        self.used.append(Used(entry, from_cache=False))
        return entry.path

    def get_json(self, request: Request) -> Any | None:
        """The parsed JSON answer to ``request`` (None when offline and not cached).

        Parameters
        ----------
        request
            What to get; an answer that is not JSON is refused and not cached.

        Returns
        -------
        Any
            The parsed answer, or None when offline and it is not cached.
        """
        path = self.get(request, validate=_valid_json(request))
        return None if path is None else json.loads(path.read_bytes())

    def raise_missing(self, blocked: list[str]) -> None:
        """Raise :class:`NotCachedError` listing what offline use lacked, if anything.

        Parameters
        ----------
        blocked
            Further steps that could not even be named because they depend on missing answers.
        """
        if not self.missing:
            return
        text = "; ".join(self.missing)
        if blocked:
            text += f"; and, depending on those, {', '.join(blocked)}"
        raise NotCachedError(
            f"offline, and the download cache ({self.cache.folder}) lacks: {text}",
            fix="run the same fetch once with the network (without --offline) to fill the cache, "
            "or build the region from local files with `reach init`",
        )
