"""``reach fetch``: real data for any region — OSM roads and facilities, WorldPop population,
geoBoundaries zones — cached with checksums, usable offline, and a starter scenario.

Examples
--------
>>> from reach.fetch import fetch_region
>>> result = fetch_region("Anjouan, Comoros", out_dir="regions/anjouan")  # doctest: +SKIP
>>> result.scenario  # doctest: +SKIP
PosixPath('.../regions/anjouan/scenario.toml')
"""

from __future__ import annotations

from reach.errors import (
    ChecksumMismatchError,
    DownloadTooLargeError,
    FetchError,
    NotCachedError,
    NotFoundError,
)
from reach.fetch.cache import (
    CACHE_ENV,
    CacheEntry,
    CacheInfo,
    ClearedCache,
    cache_clear,
    cache_info,
    default_cache_dir,
)
from reach.fetch.config import BASE_URLS_ENV, BaseUrls, DownloadPolicy
from reach.fetch.download import ProgressCallback
from reach.fetch.region import MANIFEST_NAME, SCENARIO_NAME, FetchResult, fetch_region
from reach.fetch.sources import BBox

__all__ = [
    "BASE_URLS_ENV",
    "CACHE_ENV",
    "MANIFEST_NAME",
    "SCENARIO_NAME",
    "BBox",
    "BaseUrls",
    "CacheEntry",
    "CacheInfo",
    "ChecksumMismatchError",
    "ClearedCache",
    "DownloadPolicy",
    "DownloadTooLargeError",
    "FetchError",
    "FetchResult",
    "NotCachedError",
    "NotFoundError",
    "ProgressCallback",
    "cache_clear",
    "cache_info",
    "default_cache_dir",
    "fetch_region",
]
