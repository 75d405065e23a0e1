"""A content-addressed cache of what a run builds from its inputs alone: the walking friction
and each mode's routable network.

Warping the land cover and the elevation onto the grid is the slowest step of loading a region
(about 2.4 s of a Comoros run) and its result depends only on the input files and the settings.
So it is kept, once built, in the user's cache folder (``~/.cache/reach-model`` on Linux;
``REACH_CACHE`` moves it), under a key that is the sha256 of everything it depends on:

- the bytes (sha256) of the land-cover, elevation, barrier and water files;
- the ``[grid]`` settings and the ``[region]`` tables of those layers (speeds, water classes,
  layers, ``all_touched``);
- the grid itself (shape, transform, CRS) and the population's validity and populated cells
  (the friction makes nodata impassable and keeps populated "water" as land);
- reach's version and :data:`CACHE_FORMAT`.

A mode's network (about 1 s of a Comoros run for two modes) is keyed the same way by its road
and ferry lines (every point, id and tag), the grid, the mode's speeds and the ferry wait, so
an alternative that changes no road reuses the baseline's, and one that does gets its own.

A rerun with unchanged inputs, another scenario on the same inputs, or an analysis command
reads the arrays back exactly (``float64``, ``uint8``: the same bytes as building them), so
every output is the same, byte for byte.

The cache is kept out of the project: a folder beside the outputs could sit inside another
reach output folder (a ``reach fetch`` region holds its runs' outputs) and would be left behind
by a command refused after loading. The folder is reach's own: it is created with a
``CACHEDIR.TAG`` (the cache-directory tag backup tools skip) and used only while that tag is
there, so a folder of the same name that reach did not make is never read or written. An entry
is written to a temporary file and renamed into place, so a run killed at any instant leaves
either the whole entry or none; an entry that cannot be read back whole (or whose arrays do not
match its checksum) is built again. The least recently used entries are removed once the
folder holds more than :data:`MAX_CACHE_MB` (``REACH_CACHE_MB``). ``REACH_CACHE=off`` turns
the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reach.ingest.population import Population
from reach.ingest.roads import RoadLines
from reach.model.grid import AnalysisGrid, Friction
from reach.model.joins import RoadFeet
from reach.model.network import Network
from reach.model.speeds import ModeProfile
from reach.outputs.write import atomic_file, write_text_atomic
from reach.run.manifest import input_sha256
from reach.spec import ScenarioSpec

__all__ = [
    "CACHE_DIR_NAME",
    "CACHE_FORMAT",
    "CACHE_TAG",
    "MAX_CACHE_MB",
    "cache_dir",
    "cached_friction",
    "cached_network",
    "friction_key",
    "network_key",
]

_log = logging.getLogger("reach.run")

#: The cache folder's name, in the user's cache folder.
CACHE_DIR_NAME = "reach-model"
#: The format of the entries; a change makes every older entry a miss.
CACHE_FORMAT = 2
#: The cache-directory tag (https://bford.info/cachedir/): its first line is the standard
#: signature, the second says it is reach's.
CACHE_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is a cache made by reach (its friction and networks, rebuilt from the\n"
    "# inputs when missing). Delete it freely; reach uses it only while this file is here.\n"
)
# what makes a tag reach's: the standard signature, then this line's start (the rest of the
# wording may change between versions without orphaning a user's cache)
_TAG_START = "Signature: 8a477f597d28d172789f06886806bc55\n# This folder is a cache made by reach"
_TAG_FILE = "CACHEDIR.TAG"
# the entries' kinds: their files are <kind>-<sha256>.npz, and only those are ever removed
_KINDS = ("friction", "network")
#: The most the cache folder may hold, in MB, before its oldest entries are removed.
MAX_CACHE_MB = 2048.0


def cache_dir() -> Path | None:
    """Where the cache lives, or ``None`` when it is off.

    Returns
    -------
    Path or None
        ``REACH_CACHE`` when it names a folder, else the user cache folder's ``reach-model``
        (``~/.cache/reach-model`` on Linux, through platformdirs, which follows
        ``XDG_CACHE_HOME``); ``None`` for ``REACH_CACHE=off`` (or ``0``, ``no``, ``false``).
    """
    from platformdirs import user_cache_dir

    setting = os.environ.get("REACH_CACHE", "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting).expanduser()
    return Path(user_cache_dir(CACHE_DIR_NAME, appauthor=False))


def _usable(folder: Path) -> bool:
    """Whether ``folder`` is reach's cache (made now if it does not exist)."""
    tag = folder / _TAG_FILE
    if folder.is_dir():
        try:
            return tag.is_file() and tag.read_text(encoding="utf-8").startswith(_TAG_START)
        except OSError:
            return False
    if folder.exists():
        return False
    try:
        folder.mkdir(parents=True)
        write_text_atomic(tag, CACHE_TAG)
    except OSError as exc:
        _log.info("no cache in %s: %s", folder, exc)
        return False
    return True


def _array_digest(arrays: Iterable[np.ndarray]) -> str:
    """The sha256 of arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a, order="C")
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def friction_key(scn: ScenarioSpec, grid: AnalysisGrid, pop: Population) -> str:
    """The sha256 of everything the walking friction of a region depends on.

    Parameters
    ----------
    scn
        The validated scenario.
    grid
        The analysis grid.
    pop
        The population on the grid (its validity and populated cells).

    Returns
    -------
    str
        64 hex digits.
    """
    from reach import __version__

    region = scn.region
    paths: list[Path] = []
    lc = region.landcover
    if lc is not None:
        paths += [scn.resolve(p) for p in ([lc.path] if lc.path is not None else [])]
        paths += [scn.resolve(p) for _, p in sorted(lc.fractions.items())]
    if region.dem and scn.grid.slope:
        paths += [scn.resolve(p) for p in region.dem]
    paths += [scn.resolve(x.path) for x in (*region.barriers, *region.water)]
    record: dict[str, Any] = {
        "what": "friction",
        "format": CACHE_FORMAT,
        "reach": __version__,
        "grid_settings": scn.grid.model_dump(mode="json"),
        "landcover": None if region.landcover is None else region.landcover.model_dump(mode="json"),
        "dem": [str(p) for p in region.dem] if scn.grid.slope else [],
        "barriers": [x.model_dump(mode="json") for x in region.barriers],
        "water": [x.model_dump(mode="json") for x in region.water],
        "files": [input_sha256(p) for p in paths if p.is_file()],
        "missing": [str(p) for p in paths if not p.is_file()],
        "grid": [
            list(grid.shape),
            list(grid.transform)[:6],
            grid.crs.to_wkt(),
        ],
        "masks": _array_digest([np.asarray(pop.valid, bool), np.asarray(pop.people) > 0]),
    }
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_entry(path: Path) -> dict[str, np.ndarray] | None:
    """An entry's arrays, or ``None`` when it is missing, partial or fails its checksum."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        return None
    except Exception as exc:  # any damage to an entry only means "build it"
        _log.info("cache entry %s unreadable (%s): building it again", path.name, exc)
        return None
    digest = str(arrays.pop("digest", ""))
    if _array_digest(arrays[k] for k in sorted(arrays)) != digest:
        _log.info("cache entry %s does not match its checksum: building it again", path.name)
        return None
    return arrays


def _write_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Store arrays as one ``.npz`` entry with their checksum, whole or not at all."""
    arrays = {k: np.asarray(v, order="C") for k, v in arrays.items()}  # 0-d stays 0-d
    digest = _array_digest(arrays[k] for k in sorted(arrays))
    with atomic_file(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, allow_pickle=False, digest=np.asarray(digest), **arrays)


def _cached(
    kind: str,
    key: str,
    build: Callable[[], Any],
    *,
    to_arrays: Callable[[Any], dict[str, np.ndarray]],
    from_arrays: Callable[[dict[str, np.ndarray]], Any | None],
) -> tuple[Any, bool]:
    """An object from its cache entry, or built and then stored; and whether it was cached."""
    folder = cache_dir()
    if folder is None or not _usable(folder):
        return build(), False
    path = folder / f"{kind}-{key}.npz"
    arrays = _read_entry(path)
    found = None if arrays is None else from_arrays(arrays)
    if found is not None:
        os.utime(path)  # the most recently used is kept longest
        _log.info("%s read from the cache: %s", kind, path)
        return found, True
    built = build()
    try:
        _write_entry(path, to_arrays(built))
        _prune(folder, keep=path)
    except OSError as exc:
        _log.info("the %s was not cached in %s: %s", kind, folder, exc)
    return built, False


def _friction_arrays(friction: Friction) -> dict[str, np.ndarray]:
    arrays = {
        "pace_min_per_m": friction.pace_min_per_m,
        "status": friction.status,
        "populated_water_cells": np.asarray(friction.populated_water_cells, np.int64),
    }
    if friction.elevation_m is not None:
        arrays["elevation_m"] = friction.elevation_m
    return arrays


def _friction_of(arrays: dict[str, np.ndarray], grid: AnalysisGrid) -> Friction | None:
    pace, status = arrays.get("pace_min_per_m"), arrays.get("status")
    if (
        pace is None
        or status is None
        or pace.shape != grid.shape
        or status.shape != grid.shape
        or pace.dtype != np.float64
        or status.dtype != np.uint8
    ):
        return None
    return Friction(
        pace_min_per_m=pace,
        status=status,
        elevation_m=arrays.get("elevation_m"),
        populated_water_cells=int(arrays["populated_water_cells"]),
    )


def _prune(folder: Path, *, keep: Path) -> None:
    """Remove the oldest entries while the folder holds more than ``REACH_CACHE_MB``."""
    try:
        limit_mb = float(os.environ.get("REACH_CACHE_MB", MAX_CACHE_MB))
    except ValueError:
        limit_mb = MAX_CACHE_MB
    entries = sorted(
        (p for kind in _KINDS for p in folder.glob(f"{kind}-*.npz") if p != keep),
        key=lambda p: p.stat().st_mtime_ns,
    )
    total = sum(p.stat().st_size for p in entries) + keep.stat().st_size
    for p in entries:
        if total <= limit_mb * 1e6:
            break
        total -= p.stat().st_size
        p.unlink(missing_ok=True)


def cached_friction(
    scn: ScenarioSpec,
    grid: AnalysisGrid,
    pop: Population,
    build: Callable[[], Friction],
) -> tuple[Friction, bool]:
    """The region's walking friction from the cache, or built and then cached.

    Parameters
    ----------
    scn
        The validated scenario.
    grid
        The analysis grid.
    pop
        The population on the grid.
    build
        Builds the friction (from the files) when the cache has no entry.

    Returns
    -------
    Friction
        The friction, exactly as ``build`` gives it.
    bool
        Whether it came from the cache.
    """
    friction, cached = _cached(
        "friction", friction_key(scn, grid, pop), build,
        to_arrays=_friction_arrays, from_arrays=lambda a: _friction_of(a, grid),
    )  # fmt: skip
    return friction, cached


def network_key(
    lines: RoadLines, grid: AnalysisGrid, *, profile: ModeProfile, ferry_wait_min: float
) -> str:
    """The sha256 of everything a mode's routable network depends on.

    Parameters
    ----------
    lines
        The road and ferry lines (their points, ids and every tag).
    grid
        The analysis grid.
    profile
        The mode's speeds and rules.
    ferry_wait_min
        The default ferry wait.

    Returns
    -------
    str
        64 hex digits.
    """
    from reach import __version__

    tags = lines.tags
    tag_hash = pd.util.hash_pandas_object(tags.astype(object), index=True).to_numpy()
    record = {
        "what": "network",
        "format": CACHE_FORMAT,
        "reach": __version__,
        "lines": _array_digest(
            [lines.way_id, lines.offsets, lines.x, lines.y, lines.node_id, tag_hash]
        ),
        "tags": list(map(str, tags.columns)),
        "lines_crs": lines.crs.to_wkt(),
        "grid": [list(grid.shape), list(grid.transform)[:6], grid.crs.to_wkt()],
        "profile": {
            f.name: (dict(v) if isinstance(v, Mapping) else v)
            for f in dataclasses.fields(profile)
            for v in [getattr(profile, f.name)]
        },
        "ferry_wait_min": float(ferry_wait_min),
    }
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _network_arrays(net: Network) -> dict[str, np.ndarray]:
    arrays = {f"net_{f.name}": getattr(net, f.name) for f in dataclasses.fields(net)
              if f.name not in ("mode", "feet")}  # fmt: skip
    arrays["net_mode"] = np.asarray(net.mode)
    arrays |= {f"feet_{f.name}": getattr(net.feet, f.name) for f in dataclasses.fields(net.feet)}
    return arrays


def _network_of(arrays: dict[str, np.ndarray]) -> Network | None:
    try:
        feet = RoadFeet(**{f.name: arrays[f"feet_{f.name}"] for f in dataclasses.fields(RoadFeet)})
        fields = {
            f.name: arrays[f"net_{f.name}"]
            for f in dataclasses.fields(Network)
            if f.name not in ("mode", "feet")
        }
        return Network(**fields, mode=str(arrays["net_mode"]), feet=feet)
    except (KeyError, TypeError):
        return None


def cached_network(
    lines: RoadLines,
    grid: AnalysisGrid,
    *,
    profile: ModeProfile,
    ferry_wait_min: float,
    build: Callable[[], Network],
) -> Network:
    """A mode's routable network from the cache, or built and then cached.

    Parameters
    ----------
    lines
        The road and ferry lines.
    grid
        The analysis grid.
    profile
        The mode's speeds and rules.
    ferry_wait_min
        The default ferry wait.
    build
        Builds the network when the cache has no entry.

    Returns
    -------
    Network
        The network, exactly as ``build`` gives it.
    """
    key = network_key(lines, grid, profile=profile, ferry_wait_min=ferry_wait_min)
    net, _ = _cached("network", key, build, to_arrays=_network_arrays, from_arrays=_network_of)
    assert isinstance(net, Network)
    return net
