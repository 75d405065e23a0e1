"""One request of a fetch: what to get, how to name it, and the cache key it is stored under."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from reach.errors import FetchError
from reach.fetch.config import check_http_url

__all__ = ["Request"]

_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Request:
    """A GET request whose answer is cached.

    Attributes
    ----------
    url
        An http(s) URL without the query parameters.
    params
        Query parameters, in order.
    label
        What it is, for progress and messages (e.g. ``"WorldPop raster COM 2020"``).
    suffix
        File name ending of the cached copy (``".tif"``, ``".osm"``, ``".json"``).
    kind
        ``"api"`` for small answers (capped by ``DownloadPolicy.max_api_bytes``), ``"data"`` for
        files (capped by ``max_bytes``; checked against checksum sidecars).
    sha256
        The expected sha256 (hex) when it is known in advance; the download must match it.
    timeout_s
        Socket timeout for this request, when it must differ from the policy's (slow queries).
    """

    url: str
    params: tuple[tuple[str, str], ...] = ()
    label: str = ""
    suffix: str = ""
    kind: Literal["api", "data"] = "data"
    sha256: str | None = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        check_http_url(self.url, what=f"the address of {self.label or 'a download'}")
        if self.sha256 is not None and not _HEX.match(self.sha256.lower()):
            raise FetchError(
                f"the expected sha256 of {self.label or self.url} is not 64 hex digits",
                fix="copy the checksum again",
            )

    @property
    def full_url(self) -> str:
        """The URL with its query string."""
        if not self.params:
            return self.url
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}{urlencode(self.params)}"

    @property
    def key(self) -> str:
        """sha256 (hex) of the canonical request: method, URL and parameters."""
        canonical = json.dumps(
            {"method": "GET", "url": self.url, "params": [list(p) for p in self.params]},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        """What to call it in messages."""
        return self.label or self.url
