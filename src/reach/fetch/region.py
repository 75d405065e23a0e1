"""``fetch_region``: the data for a study area, and a starter scenario that runs on it."""

from __future__ import annotations

import datetime as dt
import filecmp
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from reach import __version__
from reach.errors import FetchError, InputError, NotFoundError
from reach.fetch.cache import Cache
from reach.fetch.client import Client
from reach.fetch.clip import clip_boundaries, clip_osm_pbf, clip_population, write_zones
from reach.fetch.config import BaseUrls, DownloadPolicy, check_http_url, resolve_base_urls
from reach.fetch.download import ProgressCallback
from reach.fetch.request import Request
from reach.fetch.sources import (
    BBox,
    boundaries_listing,
    boundaries_source,
    check_overpass_answer,
    country_of,
    overpass_request,
    parse_place,
    place_search,
    reverse_search,
    worldpop_listing,
    worldpop_source,
)
from reach.fetch.starter import SERVICES, starter_scenario
from reach.outputs.write import atomic_folder, check_output_target, file_sha256, write_json
from reach.progress import StepCallback

__all__ = [
    "MANIFEST_NAME",
    "MAX_OVERPASS_AREA_DEG2",
    "SCENARIO_NAME",
    "FetchResult",
    "fetch_region",
]

#: The starter scenario's file name.
SCENARIO_NAME = "scenario.toml"
#: The record of what was fetched, with sha256s.
MANIFEST_NAME = "fetch_manifest.json"
#: Largest area (square degrees) asked of the Overpass API; larger areas need a PBF extract.
MAX_OVERPASS_AREA_DEG2 = 4.0

_POPULATION = "population.tif"
_BOUNDARIES = "boundaries.geojson"
_ISO3 = re.compile(r"^[A-Z]{3}$")
_VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_region` wrote.

    Attributes
    ----------
    folder
        The output folder.
    scenario
        The starter scenario (``scenario.toml``).
    manifest
        ``fetch_manifest.json``: sources, URLs and sha256 of every file.
    files
        The data files by role: ``osm``, ``population`` and, when there are any,
        ``boundaries``.
    name
        The place's name.
    bbox
        The area fetched (lon/lat).
    iso3
        The country.
    from_cache
        True when every answer came from the cache (no network was used).
    notes
        Things the user should know (a service without facilities, boundaries missing, ...).
    """

    folder: Path
    scenario: Path
    manifest: Path
    files: dict[str, Path]
    name: str
    bbox: BBox
    iso3: str | None
    from_cache: bool
    notes: tuple[str, ...] = ()


@dataclass
class _Area:
    """The study area as far as it is known."""

    name: str
    bbox: BBox | None = None
    iso3: str | None = None
    zones: gpd.GeoDataFrame | None = None
    origin: str = ""


@dataclass
class _Plan:
    """The downloads a fetch ends up with, and notes."""

    osm: tuple[Request, Path] | None = None
    population: tuple[Request, Path] | None = None
    boundaries: tuple[Request, Path] | None = None
    boundaries_notes: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _step(on_step: StepCallback | None, text: str) -> None:
    if on_step is not None:
        on_step(text)


def _check_options(year: int, iso3: str | None, admin_level: int | None) -> str | None:
    if not 1990 <= year <= 2100:
        raise FetchError(f"year {year} is out of range", fix="give a year such as 2020")
    if admin_level is not None and not 0 <= admin_level <= 5:
        raise FetchError(f"admin level {admin_level} is out of range", fix="give 0 (country) to 5")
    if iso3 is None:
        return None
    code = iso3.strip().upper()
    if not _ISO3.match(code):
        raise FetchError(
            f"{iso3!r} is not a three-letter ISO 3166 country code",
            fix="give e.g. COM for Comoros, MWI for Malawi, IDN for Indonesia",
        )
    return code


def _zones_area(path: Path) -> _Area:
    """A boundary file as the area: its zones (lon/lat) and their bounds."""
    from reach.ingest.boundaries import read_zones

    zones = read_zones(path)
    if zones.crs is None:
        raise InputError("the boundary file has no CRS", path=path, fix="give a file with a CRS")
    zones = zones.to_crs("EPSG:4326")
    west, south, east, north = (float(v) for v in zones.total_bounds)
    bbox = BBox(west, south, east, north).checked(origin=str(path))
    return _Area(name=path.stem, bbox=bbox, zones=zones, origin=str(path))


def _resolve_area(region: str | Path | Sequence[float], client: Client, urls: BaseUrls) -> _Area:
    """Read ``region``: a box, a boundary file, or a place name (geocoded)."""
    if not isinstance(region, str | Path):
        values = [float(v) for v in region]
        if len(values) != 4:
            raise FetchError(
                f"a box needs 4 numbers, got {len(values)}", fix="give west,south,east,north"
            )
        bbox = BBox(*values).checked()
        return _Area(name=f"area {bbox.text()}", bbox=bbox, origin=bbox.text())
    text = str(region).strip()
    if not text:
        raise FetchError("the region is empty", fix="give a place name, a box or a boundary file")
    bbox_or_none = BBox.parse(text) if isinstance(region, str) else None
    if bbox_or_none is not None:
        return _Area(name=f"area {bbox_or_none.text()}", bbox=bbox_or_none, origin=text)
    path = Path(text).expanduser()
    if isinstance(region, Path) or path.suffix.lower() in _VECTOR_SUFFIXES:
        if not path.is_file():
            raise FetchError(
                "boundary file not found", path=path, fix="check the path, or give a place name"
            )
        return _zones_area(path.resolve())
    search = place_search(urls, text)
    data = client.get_json(search)
    if data is None:
        return _Area(name=text, origin=text)
    place = parse_place(data, search, text)
    return _Area(name=place.name, bbox=place.bbox, iso3=place.iso3, origin=text)


def _country(area: _Area, client: Client, urls: BaseUrls) -> str | None:
    """The area's ISO3 code, looked up at its centre when the geocoder did not give it."""
    if area.iso3 is not None or area.bbox is None:
        return area.iso3
    lon, lat = area.bbox.centre
    lookup = reverse_search(urls, lon, lat)
    data = client.get_json(lookup)
    if data is None:
        return None
    code = country_of(data)
    if code is None:
        raise FetchError(
            f"cannot tell which country the area's centre ({lon:.4f}, {lat:.4f}) lies in",
            path=lookup.full_url,
            fix="give the country's ISO3 code (--iso3)",
        )
    return code


def _with_checksum(request: Request, checksums: Mapping[str, str]) -> Request:
    known = checksums.get(request.url)
    if known is None:
        return request
    return Request(
        url=request.url,
        params=request.params,
        label=request.label,
        suffix=request.suffix,
        kind=request.kind,
        sha256=known.strip().lower(),
        timeout_s=request.timeout_s,
    )


def _plan_osm(
    area: _Area,
    client: Client,
    urls: BaseUrls,
    plan: _Plan,
    *,
    pbf_url: str | None,
    checksums: Mapping[str, str],
) -> None:
    if pbf_url is not None:
        url = check_http_url(pbf_url, what="the PBF extract URL")
        request = _with_checksum(
            Request(url=url, label="OSM extract (PBF)", suffix=".osm.pbf"), checksums
        )
        path = client.get(request)
    elif area.bbox is None:
        plan.blocked.append("the OSM extract")
        return
    else:
        request = overpass_request(urls, area.bbox)
        path = client.get(request, validate=check_overpass_answer(request))
    if path is not None:
        plan.osm = (request, path)


def _plan_population(
    iso3: str | None,
    client: Client,
    urls: BaseUrls,
    plan: _Plan,
    *,
    year: int,
    dataset: str,
    checksums: Mapping[str, str],
) -> None:
    if iso3 is None:
        plan.blocked.append("the WorldPop raster")
        return
    listing = worldpop_listing(urls, dataset, iso3)
    data = client.get_json(listing)
    if data is None:
        plan.blocked.append("the WorldPop raster")
        return
    url = worldpop_source(data, listing, iso3=iso3, year=year, dataset=dataset)
    request = _with_checksum(
        Request(
            url=check_http_url(url, what="WorldPop's raster URL", origin=listing.full_url),
            label=f"WorldPop raster {iso3} {year}",
            suffix=".tif",
        ),
        checksums,
    )
    path = client.get(request)
    if path is not None:
        plan.population = (request, path)


def _plan_boundaries(
    iso3: str | None,
    client: Client,
    urls: BaseUrls,
    plan: _Plan,
    *,
    level: int,
    checksums: Mapping[str, str],
) -> None:
    """geoBoundaries at ``level``, else the next coarser level that exists."""
    if iso3 is None:
        plan.blocked.append("the boundaries")
        return
    data: Any = None
    listing: Request | None = None
    for lvl in range(level, -1, -1):
        candidate = boundaries_listing(urls, iso3, lvl)
        if client.offline and not client.cached(candidate):
            continue
        try:
            data = client.get_json(candidate)
        except NotFoundError:
            continue
        listing = candidate
        if lvl != level:
            plan.notes.append(f"geoBoundaries has no ADM{level} for {iso3}; used ADM{lvl}")
        break
    if listing is None:
        if client.offline:
            first = boundaries_listing(urls, iso3, level)
            client.missing.append(f"{first.name} ({first.full_url})")
            plan.blocked.append("the boundaries file")
        else:
            plan.notes.append(f"geoBoundaries has no boundaries of {iso3}: no reporting zones")
        return
    url, notes = boundaries_source(data, listing)
    request = _with_checksum(
        Request(
            url=check_http_url(url, what="geoBoundaries' file URL", origin=listing.full_url),
            label=f"{listing.label} boundaries",
            suffix=".geojson",
        ),
        checksums,
    )
    path = client.get(request)
    if path is not None:
        plan.boundaries = (request, path)
        plan.boundaries_notes = notes


def _facility_counts(osm: Path, bbox: BBox) -> dict[str, int]:
    """Facilities per starter service lying in the area (0 when there are none)."""
    from reach.ingest.facilities import facilities_from_osm
    from reach.ingest.osm import read_osm_facilities

    features = read_osm_facilities(osm)
    counts: dict[str, int] = {}
    for svc in SERVICES:
        try:
            fac = facilities_from_osm(features, service=svc.kind, source=osm)
        except InputError:
            counts[svc.name] = 0
            continue
        inside = shapely.contains_xy(shapely.box(*bbox), fac.geometry.x, fac.geometry.y)
        counts[svc.name] = int(np.count_nonzero(inside))
    return counts


def _check_roads(osm: Path, source: str) -> None:
    from reach.ingest.osm import read_osm_roads

    try:
        read_osm_roads(osm)
    except InputError as exc:
        raise FetchError(
            f"the OSM extract has no usable roads ({exc.problem})",
            path=source,
            fix="check the area (a box west,south,east,north over land with roads)",
        ) from exc


def _build(
    plan: _Plan, area: _Area, folder: Path, *, admin_level: int | None
) -> tuple[dict[str, Path], tuple[str, str, str] | None]:
    """Write the clipped files into ``folder``; return them by role, and the zones spec."""
    assert plan.osm is not None and plan.population is not None and area.bbox is not None
    files: dict[str, Path] = {}
    osm_request, osm_cached = plan.osm
    if osm_cached.name.endswith(".osm.pbf"):
        osm = folder / "roads.osm.pbf"
        clip_osm_pbf(osm_cached, osm, area.bbox, source=osm_request.full_url)
    else:
        osm = folder / "roads.osm"
        shutil.copyfile(osm_cached, osm)
    _check_roads(osm, osm_request.full_url)
    files["osm"] = osm

    pop_request, pop_cached = plan.population
    population = folder / _POPULATION
    clip_population(pop_cached, population, area.bbox, source=pop_request.full_url)
    files["population"] = population

    zones_spec: tuple[str, str, str] | None = None
    if area.zones is not None:
        write_zones(area.zones[["zone_id", "name", "geometry"]], folder / _BOUNDARIES)
        zones_spec = (_BOUNDARIES, "zone_id", "name")
    elif plan.boundaries is not None:
        b_request, b_cached = plan.boundaries
        n = clip_boundaries(
            b_cached,
            folder / _BOUNDARIES,
            area.bbox,
            source=b_request.full_url,
            id_column="shapeID",
        )
        if n:
            zones_spec = (_BOUNDARIES, "shapeID", "shapeName")
        else:
            plan.notes.append(f"no ADM{admin_level} boundary meets the area: no reporting zones")
    if zones_spec is not None:
        files["boundaries"] = folder / _BOUNDARIES
    return files, zones_spec


def _header(area: _Area, plan: _Plan, year: int, dataset: str) -> list[str]:
    lines = [
        f"Starter scenario written by `reach fetch` (reach {__version__}) for {area.name}.",
        f"Area (west,south,east,north): {area.bbox.text() if area.bbox else '?'}.",
        "Roads, ferries and facilities: © OpenStreetMap contributors (ODbL 1.0).",
        f"Population: WorldPop {dataset} {year} (CC BY 4.0, www.worldpop.org).",
    ]
    if area.zones is not None:
        lines.append(f"Zones: the boundary file {area.origin}.")
    elif plan.boundaries is not None:
        notes = plan.boundaries_notes
        licence = notes.get("boundaryLicense", "see geoBoundaries")
        source = notes.get("boundarySource", "")
        lines.append(
            f"Boundaries: geoBoundaries ({licence}{'; source: ' + source if source else ''})."
        )
    lines.append("fetch_manifest.json beside this file lists every URL and sha256.")
    lines += [f"Note: {note}" for note in plan.notes]
    lines.append("")
    return lines


def _check_clashes(staging: Path, folder: Path, names: list[str], *, overwrite: bool) -> None:
    """Refuse to replace files of ``folder`` that differ from the fetched ones, unless asked."""
    clashes = [
        n
        for n in names
        if n != MANIFEST_NAME
        and (folder / n).is_file()
        and not filecmp.cmp(staging / n, folder / n, shallow=False)
    ]
    if clashes and not overwrite:
        raise FetchError(
            f"the output folder already holds {', '.join(clashes)}, different from what was "
            "fetched",
            path=folder,
            fix="choose a new folder, or allow replacing them (overwrite=True / --overwrite)",
        )


def fetch_region(
    region: str | Path | Sequence[float],
    *,
    out_dir: str | Path,
    year: int = 2020,
    iso3: str | None = None,
    admin_level: int | None = 1,
    offline: bool = False,
    refresh: bool = False,
    base_urls: BaseUrls | Mapping[str, str] | None = None,
    pbf_url: str | None = None,
    worldpop_dataset: str = "wpgpunadj",
    checksums: Mapping[str, str] | None = None,
    margin_km: float = 0.0,
    policy: DownloadPolicy | None = None,
    cache_dir: str | Path | None = None,
    overwrite: bool = False,
    max_overpass_area_deg2: float = MAX_OVERPASS_AREA_DEG2,
    progress: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
) -> FetchResult:
    """Fetch roads, population and boundaries for an area, and write a starter scenario.

    Into ``out_dir`` go ``roads.osm`` (from the Overpass API; ``roads.osm.pbf`` when clipped
    from ``pbf_url``), ``population.tif`` (WorldPop, clipped to the area), ``boundaries.geojson``
    (geoBoundaries, cut to the area; or the boundary file given as the region),
    ``scenario.toml`` (health by motorbike and schools on foot, facilities from OSM) and
    ``fetch_manifest.json`` (every source URL and the sha256 of every file). Every download is
    cached (see :mod:`reach.fetch.cache`); nothing is written unless every step succeeds.

    Parameters
    ----------
    region
        A place name (geocoded), a box ``"west,south,east,north"`` (or 4 numbers), or a
        boundary file (GeoPackage, GeoJSON, shapefile) whose polygons become the zones.
    out_dir
        The folder to write to (created if needed).
    year
        The WorldPop year.
    iso3
        The country (ISO 3166 alpha-3); by default from the geocoder.
    admin_level
        geoBoundaries level of the zones (0 = country, 1 = regions, ...; the next coarser level
        is used when it does not exist); None for no zones.
    offline
        Use only the download cache; a missing answer stops the fetch with a list of them all.
    refresh
        Download again even what the cache holds.
    base_urls
        Base URLs of the sources (see :class:`reach.fetch.config.BaseUrls`), over
        ``$REACH_FETCH_BASE_URLS``.
    pbf_url
        An OSM extract in PBF covering the area (e.g. a Geofabrik country file) to clip locally
        instead of asking the Overpass API (needed for large areas).
    worldpop_dataset
        The WorldPop REST alias (``wpgpunadj``: 100 m, UN-adjusted; ``wpgp``: 100 m).
    checksums
        Known sha256 of files by URL; the download must match.
    margin_km
        Grow the area by this much on each side (facilities just outside it count).
    policy
        Retries, backoff, timeouts and size caps.
    cache_dir
        The cache folder (default ``$REACH_CACHE_DIR`` or the user cache folder).
    overwrite
        Replace files in ``out_dir`` that differ from the fetched ones (by default refused).
    max_overpass_area_deg2
        Largest area asked of the Overpass API.
    progress
        Download progress: ``progress(label, bytes_done, bytes_total_or_None)``.
    on_step
        Called with a short description as each step starts.

    Returns
    -------
    FetchResult
        The files, the starter scenario and the manifest.

    Raises
    ------
    FetchError
        A source failed (after retries), answered something unusable, or a file's checksum
        did not match; exit code 2.
    NotCachedError
        Offline, and the cache lacks answers (all of them are named).
    DownloadTooLargeError
        A download beyond the size cap or the free disk space; exit code 3.
    """
    code = _check_options(year, iso3, admin_level)
    urls = resolve_base_urls(base_urls)
    client = Client(
        Cache(cache_dir),
        policy=policy or DownloadPolicy(),
        offline=offline,
        refresh=refresh,
        progress=progress,
    )
    checksums = dict(checksums or {})
    # files reach fetched there and the user changed since are kept unless --overwrite (below)
    folder = check_output_target(out_dir, accept_changed=True)

    _step(on_step, f"locating {region!s}")
    area = _resolve_area(region, client, urls)
    if area.bbox is not None and margin_km > 0:
        area.bbox = area.bbox.padded(margin_km)
    if code is not None:
        area.iso3 = code
    if pbf_url is None and area.bbox is not None and area.bbox.area_deg2 > max_overpass_area_deg2:
        raise FetchError(
            f"the area is {area.bbox.area_deg2:.1f} square degrees, too large for the Overpass "
            f"API (at most {max_overpass_area_deg2:g})",
            path=area.origin,
            fix="give a country extract in PBF (pbf_url / --pbf-url, e.g. from Geofabrik), "
            "which is clipped to the area locally",
        )
    if area.bbox is not None and area.iso3 is None:
        _step(on_step, "finding the country")
    country = area.iso3 = _country(area, client, urls)

    plan = _Plan()
    _step(on_step, "OSM extract")
    _plan_osm(
        area,
        client,
        urls,
        plan,
        pbf_url=pbf_url,
        checksums=checksums,
    )
    _step(on_step, "WorldPop population")
    _plan_population(
        country, client, urls, plan, year=year, dataset=worldpop_dataset, checksums=checksums
    )
    if area.zones is None and admin_level is not None:
        _step(on_step, "geoBoundaries boundaries")
        _plan_boundaries(country, client, urls, plan, level=admin_level, checksums=checksums)
    client.raise_missing(plan.blocked)
    assert area.bbox is not None

    _step(on_step, "clipping to the area")
    # the folder is filled all at once, keeping what else a reach folder there holds
    with atomic_folder(folder, keep_existing=True, accept_changed=True, command="fetch") as staging:
        files, zones_spec = _build(plan, area, staging, admin_level=admin_level)
        counts = _facility_counts(files["osm"], area.bbox)
        for svc in SERVICES:
            if not counts.get(svc.name):
                plan.notes.append(
                    f"no {svc.kind} facility of service {svc.name!r} is tagged in OSM in the "
                    "area: the service is commented out in the scenario"
                )
        text = starter_scenario(
            name=area.name,
            description=f"Fetched by reach {__version__}: OSM, WorldPop {year}"
            + (", geoBoundaries" if zones_spec and area.zones is None else "")
            + (f" ({country})" if country else ""),
            population=files["population"].name,
            osm=files["osm"].name,
            boundaries=zones_spec,
            services=counts,
            header=_header(area, plan, year, worldpop_dataset),
        )
        (staging / SCENARIO_NAME).write_text(text, encoding="utf-8")
        names = [p.name for p in files.values()] + [SCENARIO_NAME]
        manifest = _manifest(
            region, area, plan, client, staging, names, year=year, dataset=worldpop_dataset
        )
        write_json(staging / MANIFEST_NAME, manifest)
        names.append(MANIFEST_NAME)
        _check_clashes(staging, folder, names, overwrite=overwrite)
    return FetchResult(
        folder=folder,
        scenario=folder / SCENARIO_NAME,
        manifest=folder / MANIFEST_NAME,
        files={role: folder / p.name for role, p in files.items()},
        name=area.name,
        bbox=area.bbox,
        iso3=country,
        from_cache=all(u.from_cache for u in client.used),
        notes=tuple(plan.notes),
    )


def _manifest(
    region: str | Path | Sequence[float],
    area: _Area,
    plan: _Plan,
    client: Client,
    staging: Path,
    names: list[str],
    *,
    year: int,
    dataset: str,
) -> dict[str, Any]:
    """The fetch manifest: the request, every source used and every file's sha256."""
    roles = {"osm": plan.osm, "population": plan.population, "boundaries": plan.boundaries}
    url_of = {role: v[0].full_url for role, v in roles.items() if v is not None}
    sources = [
        {
            "label": u.entry.label,
            "url": u.entry.url,
            "sha256": u.entry.sha256,
            "bytes": u.entry.size,
            "cache_key": u.entry.key,
            "cached_at": u.entry.created,
            "checked_against": u.entry.checked,
            "from_cache": u.from_cache,
        }
        for u in client.used
    ]
    file_roles = {
        "roads.osm": "osm",
        "roads.osm.pbf": "osm",
        _POPULATION: "population",
        _BOUNDARIES: "boundaries",
        SCENARIO_NAME: "scenario",
    }
    files: dict[str, dict[str, Any]] = {}
    for name in names:
        role = file_roles.get(name, "")
        entry: dict[str, Any] = {
            "role": role,
            "sha256": file_sha256(staging / name),
            "bytes": (staging / name).stat().st_size,
        }
        if role in url_of:
            entry["source"] = url_of[role]
        files[name] = entry
    return {
        "reach_version": __version__,
        "fetched_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()[:19] + "Z",
        "request": {
            "region": str(region) if isinstance(region, str | Path) else list(region),
            "name": area.name,
            "bbox": list(area.bbox) if area.bbox else None,
            "iso3": area.iso3,
            "year": year,
            "worldpop_dataset": dataset,
            "offline": client.offline,
        },
        "sources": sources,
        "files": files,
        "licences": {
            "osm": "© OpenStreetMap contributors, ODbL 1.0",
            "population": "WorldPop, CC BY 4.0",
            "boundaries": plan.boundaries_notes.get("boundaryLicense", ""),
        },
        "notes": plan.notes,
        "note": "reach run records the sha256 of every input in its own manifest.json too",
    }
