"""The sources: what to ask each one, and how to read its answer.

- a Nominatim-style geocoder: a place name → its bounding box and country; a point → its
  country;
- the Overpass API: roads, ferry routes and health / education facilities in a bounding box;
- WorldPop's REST listing: the population raster of a country and year;
- the geoBoundaries API: administrative boundaries of a country at a level.

Request builders are pure; answer readers raise :class:`FetchError` naming the source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from reach.errors import FetchError
from reach.fetch.config import BaseUrls
from reach.fetch.countries import alpha3
from reach.fetch.request import Request
from reach.ingest.osm import FACILITY_AMENITIES

__all__ = [
    "BBox",
    "Place",
    "boundaries_listing",
    "boundaries_source",
    "check_overpass_answer",
    "country_of",
    "overpass_request",
    "parse_place",
    "place_search",
    "reverse_search",
    "worldpop_listing",
    "worldpop_source",
]

_NUMBER = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
_BBOX_TEXT = re.compile(rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$")
_KM_PER_DEG = 111.32


class BBox(NamedTuple):
    """A lon/lat box (EPSG:4326): west, south, east, north."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str) -> BBox | None:
        """A box from ``"west,south,east,north"``; None when the text is not four numbers.

        Parameters
        ----------
        text
            The box as the CLI takes it, e.g. ``"43.2,-12.5,44.6,-11.3"``.

        Returns
        -------
        BBox or None
            The box, checked; None when ``text`` is not four comma-separated numbers (a
            place name, say).

        Raises
        ------
        FetchError
            Four numbers that are not a box on the globe.
        """
        match = _BBOX_TEXT.match(text)
        if match is None:
            return None
        return cls(*(float(v) for v in match.groups())).checked(origin=text)

    def checked(self, *, origin: str | None = None) -> BBox:
        """This box, if it is one (finite, on the globe, west < east, south < north).

        Parameters
        ----------
        origin
            Where the box came from, for the message.

        Returns
        -------
        BBox
            This box, unchanged.

        Raises
        ------
        FetchError
            Otherwise.
        """
        w, s, e, n = self
        ok = all(math.isfinite(v) for v in self) and -180 <= w < e <= 180 and -90 <= s < n <= 90
        if not ok:
            raise FetchError(
                f"({w}, {s}, {e}, {n}) is not a box west,south,east,north in degrees",
                path=origin,
                fix="give west,south,east,north with west < east and south < north, e.g. "
                "43.2,-12.5,44.6,-11.3 (boxes across the antimeridian are not supported)",
            )
        return self

    def padded(self, km: float) -> BBox:
        """The box grown by ``km`` on every side (clamped to the globe).

        Parameters
        ----------
        km
            The margin in kilometres; 0 or less returns the box as it is.

        Returns
        -------
        BBox
            The grown box (east-west degrees widened for the box's middle latitude).
        """
        if km <= 0:
            return self
        dlat = km / _KM_PER_DEG
        mid = math.radians((self.south + self.north) / 2)
        dlon = km / (_KM_PER_DEG * max(math.cos(mid), 0.01))
        return BBox(
            max(-180.0, self.west - dlon),
            max(-90.0, self.south - dlat),
            min(180.0, self.east + dlon),
            min(90.0, self.north + dlat),
        )

    @property
    def area_deg2(self) -> float:
        """Area in square degrees."""
        return (self.east - self.west) * (self.north - self.south)

    @property
    def centre(self) -> tuple[float, float]:
        """Centre as (lon, lat)."""
        return (self.west + self.east) / 2, (self.south + self.north) / 2

    def text(self) -> str:
        """Write the box as the CLI takes it.

        Returns
        -------
        str
            ``"west,south,east,north"`` with 7 decimals (1 cm).
        """
        return ",".join(f"{v:.7f}" for v in self)


@dataclass(frozen=True)
class Place:
    """A geocoded place: what the geocoder calls it, its box, its country (ISO3, if known)."""

    name: str
    bbox: BBox
    iso3: str | None


# --- the geocoder -------------------------------------------------------------------------------


def place_search(urls: BaseUrls, name: str) -> Request:
    """The geocoder search for a place name (best match only).

    Parameters
    ----------
    urls
        The base URLs (the geocoder's is used).
    name
        The place, e.g. ``"Anjouan, Comoros"``.

    Returns
    -------
    Request
        The search request (a JSON answer, read by :func:`parse_place`).
    """
    return Request(
        url=f"{urls.geocoder}/search",
        params=(("q", name), ("format", "jsonv2"), ("limit", "1"), ("addressdetails", "1")),
        label=f"place search {name!r}",
        suffix=".json",
        kind="api",
    )


def reverse_search(urls: BaseUrls, lon: float, lat: float) -> Request:
    """The geocoder lookup of the country a point lies in.

    Parameters
    ----------
    urls
        The base URLs (the geocoder's is used).
    lon, lat
        The point (degrees).

    Returns
    -------
    Request
        The lookup request (a JSON answer, read by :func:`country_of`).
    """
    return Request(
        url=f"{urls.geocoder}/reverse",
        params=(
            ("lat", f"{lat:.4f}"),
            ("lon", f"{lon:.4f}"),
            ("format", "jsonv2"),
            ("zoom", "3"),
            ("addressdetails", "1"),
        ),
        label=f"country lookup at {lon:.4f},{lat:.4f}",
        suffix=".json",
        kind="api",
    )


def _iso3_of(result: dict[str, Any]) -> str | None:
    address = result.get("address")
    code = address.get("country_code") if isinstance(address, dict) else None
    return alpha3(code) if isinstance(code, str) else None


def parse_place(data: Any, request: Request, name: str) -> Place:
    """Read a geocoder search answer (a list of places; ``boundingbox`` is S, N, W, E).

    Parameters
    ----------
    data
        The parsed JSON answer.
    request
        The search it answers, for messages.
    name
        The place name searched for.

    Returns
    -------
    Place
        The best match: its name, its box (checked) and its country, if the answer has one.

    Raises
    ------
    FetchError
        No place found, or an answer without a usable box.
    """
    if not isinstance(data, list) or not data:
        raise FetchError(
            f"the geocoder found no place called {name!r}",
            path=request.full_url,
            fix="check the spelling, add the country (e.g. 'Anjouan, Comoros'), or give a box "
            "west,south,east,north",
        )
    first = data[0] if isinstance(data[0], dict) else {}
    try:
        south, north, west, east = (float(v) for v in first["boundingbox"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FetchError(
            f"the geocoder's answer for {name!r} has no bounding box",
            path=request.full_url,
            fix="check the geocoder base URL (a Nominatim-style search API is needed)",
        ) from exc
    bbox = BBox(west, south, east, north).checked(origin=request.full_url)
    label = str(first.get("display_name") or name)
    return Place(name=label, bbox=bbox, iso3=_iso3_of(first))


def country_of(data: Any) -> str | None:
    """The ISO3 code in a reverse-geocoder answer, or None (e.g. a point at sea).

    Parameters
    ----------
    data
        The parsed JSON answer of :func:`reverse_search`.

    Returns
    -------
    str or None
        The country's ISO 3166-1 alpha-3 code, or None when the answer names no country.
    """
    return _iso3_of(data) if isinstance(data, dict) else None


# --- Overpass ------------------------------------------------------------------------------------


def overpass_query(bbox: BBox, *, timeout_s: int = 180) -> str:
    """Overpass QL for roads, ferry routes and health / education facilities in ``bbox``.

    Ways come with all their nodes (also those outside the box) and facility relations with
    their member ways, as :func:`reach.ingest.osm.read_osm_roads` and
    :func:`reach.ingest.osm.read_osm_facilities` expect.

    Parameters
    ----------
    bbox
        The area.
    timeout_s
        The server-side time limit of the query, in seconds.

    Returns
    -------
    str
        The query.
    """
    amenities = "|".join(sorted(FACILITY_AMENITIES))
    box = f"{bbox.south:.7f},{bbox.west:.7f},{bbox.north:.7f},{bbox.east:.7f}"
    return (
        f"[out:xml][timeout:{timeout_s}][bbox:{box}];\n"
        "(\n"
        '  way["highway"];\n'
        '  way["route"="ferry"];\n'
        f'  nwr["amenity"~"^({amenities})$"];\n'
        '  nwr["healthcare"];\n'
        ");\n"
        "(._;>;);\n"
        "out body;\n"
    )


def overpass_request(urls: BaseUrls, bbox: BBox, *, timeout_s: int = 180) -> Request:
    """The Overpass request for the area's extract (OSM XML).

    Parameters
    ----------
    urls
        The base URLs (Overpass's is used).
    bbox
        The area.
    timeout_s
        The server-side time limit of the query, in seconds; the download waits a minute
        longer.

    Returns
    -------
    Request
        The request; check its answer with :func:`check_overpass_answer`.
    """
    return Request(
        url=f"{urls.overpass}/interpreter",
        params=(("data", overpass_query(bbox, timeout_s=timeout_s)),),
        label="OSM extract (Overpass)",
        suffix=".osm",
        kind="data",
        timeout_s=timeout_s + 60,
    )


def check_overpass_answer(request: Request) -> Callable[[Path], None]:
    """A check that an Overpass answer is OSM XML and not an error report.

    Overpass reports a query that ran out of time or memory inside an HTTP 200 answer, as a
    ``<remark>`` element; such an answer must not be cached as if it were the extract.

    Parameters
    ----------
    request
        The Overpass request, for messages.

    Returns
    -------
    callable
        Takes the downloaded file and raises :class:`FetchError` when it is not OSM XML or
        ends in an error remark.
    """

    def check(path: Path) -> None:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
            fh.seek(max(0, size - 16384))
            tail = fh.read()
        if b"<osm" not in head:
            raise FetchError(
                f"{request.name}: the answer is not OSM XML",
                path=request.full_url,
                fix="check the Overpass base URL, or try again later",
            )
        found = re.search(rb"<remark>(.*?)</remark>", tail, re.DOTALL)
        if found and b"error" in found.group(1).lower():
            remark = " ".join(found.group(1).decode("utf-8", "replace").split())[:200]
            raise FetchError(
                f"{request.name}: Overpass stopped the query: {remark}",
                path=request.full_url,
                fix="try again later, choose a smaller area, or give a PBF extract (pbf_url)",
            )

    return check


# --- WorldPop -----------------------------------------------------------------------------------


def worldpop_listing(urls: BaseUrls, dataset: str, iso3: str) -> Request:
    """WorldPop's listing of a dataset's rasters for a country (all years).

    Parameters
    ----------
    urls
        The base URLs (WorldPop's is used).
    dataset
        The WorldPop dataset, e.g. ``"wpgpunadj"``.
    iso3
        The country's ISO 3166-1 alpha-3 code.

    Returns
    -------
    Request
        The listing request (a JSON answer, read by :func:`worldpop_source`).
    """
    return Request(
        url=f"{urls.worldpop}/{dataset}",
        params=(("iso3", iso3),),
        label=f"WorldPop listing {dataset} {iso3}",
        suffix=".json",
        kind="api",
    )


def worldpop_source(data: Any, request: Request, *, iso3: str, year: int, dataset: str) -> str:
    """The raster URL for ``year`` in a WorldPop listing answer.

    Parameters
    ----------
    data
        The parsed JSON answer of :func:`worldpop_listing`.
    request
        The listing request, for messages.
    iso3
        The country's ISO 3166-1 alpha-3 code, for the message.
    year
        The year whose raster is wanted.
    dataset
        The WorldPop dataset, for the message.

    Returns
    -------
    str
        The URL of the year's GeoTIFF.

    Raises
    ------
    FetchError
        No raster of that year (the message lists the years there are).
    """
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise FetchError(
            f"{request.name}: the answer has no 'data' list",
            path=request.full_url,
            fix="check the WorldPop base URL (the REST listing of population datasets)",
        )
    years = sorted({str(it.get("popyear")) for it in items if isinstance(it, dict)})
    for item in items:
        if not isinstance(item, dict) or str(item.get("popyear")) != str(year):
            continue
        files = item.get("files") or []
        for url in files if isinstance(files, list) else []:
            if isinstance(url, str) and url.lower().split("?", 1)[0].endswith((".tif", ".tiff")):
                return url
    raise FetchError(
        f"WorldPop has no {dataset} raster of {iso3} for {year}"
        + (f" (years: {', '.join(years)})" if years else " (no years at all)"),
        path=request.full_url,
        fix="choose one of those years, another dataset, or check the ISO3 code",
    )


# --- geoBoundaries ----------------------------------------------------------------------------


def boundaries_listing(urls: BaseUrls, iso3: str, level: int) -> Request:
    """The geoBoundaries metadata of a country's boundaries at ``level`` (ADM0 = country).

    Parameters
    ----------
    urls
        The base URLs (geoBoundaries' is used).
    iso3
        The country's ISO 3166-1 alpha-3 code.
    level
        The administrative level, 0 (the country) to 5.

    Returns
    -------
    Request
        The metadata request (a JSON answer, read by :func:`boundaries_source`).
    """
    return Request(
        url=f"{urls.geoboundaries}/{iso3}/ADM{level}/",
        label=f"geoBoundaries {iso3} ADM{level}",
        suffix=".json",
        kind="api",
    )


def boundaries_source(data: Any, request: Request) -> tuple[str, dict[str, str]]:
    """The GeoJSON URL in a geoBoundaries answer, and its licence and source notes.

    Parameters
    ----------
    data
        The parsed JSON answer of :func:`boundaries_listing`.
    request
        The metadata request, for messages.

    Returns
    -------
    tuple of (str, dict of str to str)
        The URL, and the answer's ``boundaryName``, ``boundaryLicense``, ``boundarySource``
        and ``boundaryYearRepresented`` where present.

    Raises
    ------
    FetchError
        An answer without ``gjDownloadURL``.
    """
    item = data[0] if isinstance(data, list) and data else data
    url = item.get("gjDownloadURL") if isinstance(item, dict) else None
    if not isinstance(url, str) or not url:
        raise FetchError(
            f"{request.name}: the answer has no gjDownloadURL",
            path=request.full_url,
            fix="check the geoBoundaries base URL, or choose another admin level",
        )
    assert isinstance(item, dict)
    notes = {
        key: str(item[key])
        for key in ("boundaryName", "boundaryLicense", "boundarySource", "boundaryYearRepresented")
        if item.get(key)
    }
    return url, notes
