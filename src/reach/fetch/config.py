"""Where ``reach fetch`` downloads from, and how patiently: base URLs and the download policy.

Every source's base URL can be replaced, one by one, through :data:`BASE_URLS_ENV` or the
``base_urls`` argument of :func:`reach.fetch.fetch_region` (mirrors, a local server in tests).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from reach import __version__
from reach.errors import FetchError

__all__ = [
    "BASE_URLS_ENV",
    "BaseUrls",
    "DownloadPolicy",
    "check_http_url",
    "resolve_base_urls",
]

#: Environment variable overriding base URLs: JSON (``{"overpass": "https://..."}``) or
#: ``name=url`` pairs separated by commas or whitespace.
BASE_URLS_ENV = "REACH_FETCH_BASE_URLS"


@dataclass(frozen=True)
class BaseUrls:
    """The base URL of each source (no trailing slash).

    Attributes
    ----------
    geocoder
        A Nominatim-style geocoder: ``{geocoder}/search`` and ``{geocoder}/reverse``.
    overpass
        An Overpass API endpoint folder: ``{overpass}/interpreter``.
    worldpop
        WorldPop's REST listing of population datasets: ``{worldpop}/{dataset}?iso3=…``.
    geoboundaries
        The geoBoundaries API of a release: ``{geoboundaries}/{ISO3}/ADM{level}/``.
    """

    geocoder: str = "https://nominatim.openstreetmap.org"
    overpass: str = "https://overpass-api.de/api"
    worldpop: str = "https://hub.worldpop.org/rest/data/pop"
    geoboundaries: str = "https://www.geoboundaries.org/api/current/gbOpen"

    def replaced(self, overrides: Mapping[str, str], *, origin: str) -> BaseUrls:
        """Return a copy with some bases replaced (each checked to be an http(s) URL).

        Parameters
        ----------
        overrides
            Source name (``overpass``, ``geocoder``, ...) to its new base URL.
        origin
            Where the overrides came from (an environment variable, an argument), for
            messages.

        Returns
        -------
        BaseUrls
            The new bases, trailing slashes removed; this one is unchanged.

        Raises
        ------
        FetchError
            For a name that is not a source, or a URL that is not http(s).
        """
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise FetchError(
                f"unknown source {unknown[0]!r} in the base URLs",
                path=origin,
                fix=f"use the names {', '.join(names)}",
            )
        clean = {
            name: check_http_url(url, what=f"base URL of {name}", origin=origin).rstrip("/")
            for name, url in overrides.items()
        }
        return dataclasses.replace(self, **clean)


def check_http_url(url: str, *, what: str, origin: str | None = None) -> str:
    """Return ``url`` if it is an absolute http or https URL with a host.

    Parameters
    ----------
    url
        The address to check.
    what
        What the address is for (``"base URL of overpass"``), for the message.
    origin
        Where it came from, for the message.

    Returns
    -------
    str
        ``url``, surrounding whitespace removed.

    Raises
    ------
    FetchError
        Otherwise (``file:``, ``ftp:``, relative URLs and so on are refused).
    """
    parts = urlsplit(str(url).strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(
            f"{what} {str(url)[:200]!r} is not an http(s) URL",
            path=origin,
            fix="give an address starting with https:// (or http://)",
        )
    return str(url).strip()


def _parse_env(text: str) -> dict[str, str]:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FetchError(
                f"${BASE_URLS_ENV} is not valid JSON ({exc.msg})",
                fix='write {"overpass": "https://…"} or overpass=https://…',
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise FetchError(
                f"${BASE_URLS_ENV} must be a JSON object of names to URLs",
                fix='write {"overpass": "https://…"}',
            )
        return {str(k): v for k, v in data.items()}
    pairs: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise FetchError(
                f"${BASE_URLS_ENV}: {item[:100]!r} is not name=url",
                fix="write e.g. overpass=https://example.org/api,geocoder=https://…",
            )
        pairs[name.strip()] = url.strip()
    return pairs


def resolve_base_urls(explicit: BaseUrls | Mapping[str, str] | None = None) -> BaseUrls:
    """The base URLs to use: defaults, then :data:`BASE_URLS_ENV`, then ``explicit``.

    A :class:`BaseUrls` given explicitly is used as it is; a mapping replaces only the sources
    it names.

    Parameters
    ----------
    explicit
        Bases given by the caller, if any.

    Returns
    -------
    BaseUrls
        Every source's base URL, each checked to be http(s).

    Raises
    ------
    FetchError
        For an unknown source name, a URL that is not http(s) or a malformed
        :data:`BASE_URLS_ENV`.
    """
    if isinstance(explicit, BaseUrls):
        return BaseUrls().replaced(dataclasses.asdict(explicit), origin="base_urls")
    urls = BaseUrls()
    env = os.environ.get(BASE_URLS_ENV, "")
    if env.strip():
        urls = urls.replaced(_parse_env(env), origin=f"${BASE_URLS_ENV}")
    if explicit:
        urls = urls.replaced(dict(explicit), origin="base_urls")
    return urls


@dataclass(frozen=True)
class DownloadPolicy:
    """How downloads behave: retries, timeouts and size caps.

    Attributes
    ----------
    retries
        Further attempts after a connection error, a timeout, HTTP 5xx or 429 (0 = none).
    backoff_s
        Wait before the first retry; it doubles on each further retry.
    max_backoff_s
        Longest wait between attempts (a server's ``Retry-After`` is honoured up to this).
    timeout_s
        Socket timeout: connecting, and each wait for more bytes.
    max_bytes
        Largest data file (extract, raster, boundaries) accepted; a larger one is refused.
    max_api_bytes
        Largest API answer (geocoder, listings) accepted.
    user_agent
        Sent with every request (public geocoders require one that names the application).
    sidecars
        Checksum files tried beside each data file (``<url>.sha256``, ``<url>.md5``); when one
        exists, the download must match it.
    """

    retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0
    max_bytes: int = 4 * 2**30
    max_api_bytes: int = 32 * 2**20
    user_agent: str = f"reach/{__version__} (travel-time access analysis)"
    sidecars: tuple[str, ...] = (".sha256", ".md5")

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("retries and delays must be ≥ 0")
        if self.timeout_s <= 0 or self.max_bytes <= 0 or self.max_api_bytes <= 0:
            raise ValueError("timeouts and size caps must be > 0")
