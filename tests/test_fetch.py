"""``reach fetch`` against a local web server: sources, cache, checksums, retries, offline use.

Every source (geocoder, Overpass, WorldPop, geoBoundaries) is a fake on 127.0.0.1 serving data
the tests generate; a guard fails any connection or name lookup for another host.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import osmium
import pandas as pd
import pytest
import rasterio
from affine import Affine

from reach.errors import (
    EXIT_BAD_INPUT,
    EXIT_RESOURCE,
    ChecksumMismatchError,
    DownloadTooLargeError,
    FetchError,
    NotCachedError,
)
from reach.fetch import (
    BASE_URLS_ENV,
    CACHE_ENV,
    MANIFEST_NAME,
    BBox,
    DownloadPolicy,
    cache_clear,
    cache_info,
    fetch_region,
)
from reach.fetch.config import BaseUrls, resolve_base_urls
from reach.ingest.osm import read_osm_facilities, read_osm_roads
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario

# --- the generated world ---------------------------------------------------------------------

WEST, SOUTH, EAST, NORTH = 120.0, -9.04, 120.04, -9.0
CELL = 0.001
RASTER_WEST, RASTER_NORTH, RASTER_SIZE = 119.98, -8.98, 80  # wider than the area
TIF = "/files/idn_ppp_2020_UNadj.tif"
GEOJSON = "/files/geoBoundaries-IDN-ADM1.geojson"
PBF = "/files/indonesia-latest.osm.pbf"
#: People in the area: 10 per cell, 500 in the village cell.
IN_AREA = 40 * 40 * 10 + 490
FAST = DownloadPolicy(retries=3, backoff_s=0.0, max_backoff_s=0.0, timeout_s=5.0)

OSM_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="reach-tests">
  <node id="1" lat="-9.0205" lon="120.0015"/>
  <node id="2" lat="-9.0205" lon="120.0200"/>
  <node id="3" lat="-9.0205" lon="120.0385"/>
  <node id="4" lat="-9.0050" lon="120.0200"/>
  <node id="5" lat="-9.0350" lon="120.0200"/>
  <node id="6" lat="-9.0300" lon="120.0100">
    <tag k="amenity" v="clinic"/><tag k="name" v="Pustu Barat"/>
  </node>
  <node id="7" lat="-9.0100" lon="120.0300">
    <tag k="amenity" v="school"/><tag k="name" v="SD Timur"/>
  </node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>
  <way id="11"><nd ref="4"/><nd ref="2"/><nd ref="5"/><tag k="highway" v="track"/></way>
</osm>
"""


def _population_tif() -> bytes:
    """A WorldPop-like raster (float32, nodata -99999) around the area, as GeoTIFF bytes."""
    people = np.full((RASTER_SIZE, RASTER_SIZE), 10.0, dtype=np.float32)
    people[40, 30] = 500.0
    people[:, -3:] = -99999.0
    with rasterio.MemoryFile() as mem:
        with mem.open(
            driver="GTiff", height=RASTER_SIZE, width=RASTER_SIZE, count=1, dtype="float32",
            crs="EPSG:4326", nodata=-99999.0,
            transform=Affine(CELL, 0, RASTER_WEST, 0, -CELL, RASTER_NORTH),
        ) as dst:  # fmt: skip
            dst.write(people, 1)
        return bytes(mem.read())


def _square(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def _boundaries_geojson() -> bytes:
    """geoBoundaries-style ADM1: two zones over the area (one reaching past it), one far away."""
    zones = [
        ("IDN-ADM1-1", "Barat", (119.9, -9.1, 120.02, -8.9)),
        ("IDN-ADM1-2", "Timur", (120.02, -9.1, 120.2, -8.9)),
        ("IDN-ADM1-3", "Jauh", (125.0, -9.1, 125.2, -8.9)),
    ]
    features = [
        {
            "type": "Feature",
            "properties": {
                "shapeName": name,
                "shapeISO": "",
                "shapeID": sid,
                "shapeGroup": "IDN",
                "shapeType": "ADM1",
            },
            "geometry": {"type": "Polygon", "coordinates": _square(*box)},
        }
        for sid, name, box in zones
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _pbf(path: Path) -> bytes:
    """A PBF extract: the area's roads and facilities, plus a road and a clinic far away."""
    with osmium.SimpleWriter(str(path)) as writer:
        nodes = [
            (1, 120.0015, -9.0205, {}), (2, 120.02, -9.0205, {}), (3, 120.0385, -9.0205, {}),
            (4, 120.02, -9.005, {}), (5, 120.02, -9.035, {}),
            (6, 120.01, -9.03, {"amenity": "clinic", "name": "Pustu Barat"}),
            (7, 120.03, -9.01, {"amenity": "school", "name": "SD Timur"}),
            (8, 121.0, -9.5, {}), (9, 121.1, -9.5, {}),
            (20, 121.05, -9.5, {"amenity": "hospital", "name": "RS Jauh"}),
            (30, 120.005, -9.001, {}), (31, 120.006, -9.001, {}), (32, 120.006, -9.002, {}),
            (33, 119.99, -9.039, {}), (34, 120.05, -9.039, {}),
        ]  # fmt: skip
        for nid, lon, lat, tags in nodes:
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags))
        ways = [
            (10, [1, 2, 3], {"highway": "secondary"}),
            (11, [4, 2, 5], {"highway": "track"}),
            (12, [8, 9], {"highway": "primary"}),
            (13, [30, 31, 32, 30], {}),
            (14, [33, 34], {"highway": "residential"}),  # crosses the area, no node in it
        ]
        for wid, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
        writer.add_relation(
            osmium.osm.mutable.Relation(
                id=40,
                members=[("w", 13, "outer")],
                tags={"type": "multipolygon", "amenity": "hospital", "name": "RSUD"},
            )
        )
    return path.read_bytes()


@dataclass
class Route:
    """A resource the fake server serves."""

    body: bytes
    content_type: str = "application/octet-stream"
    etag: str | None = '"v1"'


@dataclass
class Hit:
    """A request the fake server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeServer:
    """All sources on one local server, with failures injected per path."""

    routes: dict[str, Route] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def bases(self) -> dict[str, str]:
        return {
            "geocoder": self.url,
            "overpass": f"{self.url}/api",
            "worldpop": f"{self.url}/pop",
            "geoboundaries": f"{self.url}/gb",
        }

    def fail(self, path: str, *modes: str) -> None:
        self.failures.setdefault(path, []).extend(modes)

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _handler(fake: FakeServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            del args

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.hits.append(Hit(parts.path, parse_qs(parts.query), dict(self.headers.items())))
            queue = fake.failures.get(parts.path)
            mode = queue.pop(0) if queue else None
            route = fake.routes.get(parts.path)
            if mode == "503":
                self._send(503, b"busy", {"Retry-After": "0"})
                return
            if mode == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if mode == "slow":
                time.sleep(1.0)
            if mode and mode.startswith("redirect:"):
                self._send(302, b"", {"Location": mode.split(":", 1)[1]})
                return
            if route is None:
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            body = route.body
            if mode == "corrupt":
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            headers = {"Content-Type": route.content_type}
            if route.etag:
                headers["ETag"] = route.etag
            wanted = self.headers.get("Range", "")
            if (
                wanted.startswith("bytes=")
                and route.etag
                and self.headers.get("If-Range") == route.etag
            ):
                start = int(wanted[6:].split("-")[0])
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                self._send(206, body[start:], headers)
                return
            if mode == "drop":  # announce everything, send half, hang up
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(200, body, headers)

    return Handler


def _start(fake: FakeServer) -> FakeServer:
    fake.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.server.daemon_threads = True
    threading.Thread(target=fake.server.serve_forever, args=(0.02,), daemon=True).start()
    return fake


def _json(data: Any) -> Route:
    return Route(json.dumps(data).encode(), "application/json", etag=None)


def _world(fake: FakeServer, tmp: Path) -> None:
    """Fill the fake server with the generated sources."""
    url = fake.url
    tif = _population_tif()
    fake.routes.update(
        {
            "/search": _json(
                [
                    {
                        "boundingbox": [str(SOUTH), str(NORTH), str(WEST), str(EAST)],
                        "lat": "-9.02",
                        "lon": "120.02",
                        "display_name": "Pulau Kecil, Nusa Tenggara Timur, Indonesia",
                        "address": {"country": "Indonesia", "country_code": "id"},
                    }
                ]
            ),
            "/reverse": _json({"address": {"country": "Indonesia", "country_code": "id"}}),
            "/api/interpreter": Route(OSM_XML, "application/osm3s+xml", etag=None),
            "/pop/wpgpunadj": _json(
                {
                    "data": [
                        {"popyear": "2019", "files": [f"{url}/files/idn_ppp_2019_UNadj.tif"]},
                        {"popyear": "2020", "files": [f"{url}{TIF}"]},
                    ]
                }
            ),
            TIF: Route(tif, "image/tiff"),
            f"{TIF}.sha256": Route(
                f"{hashlib.sha256(tif).hexdigest()}  idn_ppp_2020_UNadj.tif\n".encode(),
                "text/plain",
            ),
            "/gb/IDN/ADM1/": _json(
                {
                    "boundaryISO": "IDN",
                    "boundaryType": "ADM1",
                    "boundaryLicense": "CC BY 4.0",
                    "boundarySource": "reach tests",
                    "gjDownloadURL": f"{url}{GEOJSON}",
                }
            ),
            GEOJSON: Route(_boundaries_geojson(), "application/geo+json"),
            PBF: Route(_pbf(tmp / "source.osm.pbf")),
        }
    )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any connection or name lookup that is not 127.0.0.1; no proxies; no user cache."""
    refused: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", b"127.0.0.1"):
            refused.append(f"lookup {host!r}")
            raise OSError(f"test guard: no lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            refused.append(f"connect {address!r}")
            raise OSError(f"test guard: no connection to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(BASE_URLS_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, "/nonexistent/reach-test-cache-must-not-be-used")
    yield refused
    assert refused == [], f"requests left 127.0.0.1: {refused}"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeServer]:
    server = _start(FakeServer())
    _world(server, tmp_path)
    yield server
    server.close()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _fetch(fake: FakeServer, cache: Path, out: Path, region: Any = "Pulau Kecil", **kw: Any) -> Any:
    kw.setdefault("policy", FAST)
    return fetch_region(region, out_dir=out, base_urls=fake.bases, cache_dir=cache, **kw)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(cache: Path) -> list[Path]:
    partial = cache / "partial"
    return sorted(partial.iterdir()) if partial.is_dir() else []


# --- end to end ---------------------------------------------------------------------------------


def test_fetch_writes_files_and_a_starter_scenario_that_runs(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "region"
    steps: list[str] = []
    seen: list[tuple[str, int, int | None]] = []
    result = _fetch(fake, cache, out, on_step=steps.append, progress=lambda *a: seen.append(a))

    assert result.iso3 == "IDN"
    assert result.bbox == BBox(WEST, SOUTH, EAST, NORTH)
    assert not result.from_cache
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        ".reach-output", "boundaries.geojson", "fetch_manifest.json", "manifest.json",
        "population.tif", "roads.osm", "scenario.toml",
    ]  # fmt: skip
    assert steps and any("WorldPop" in s for s in steps)
    assert any(label.startswith("WorldPop raster") and done == total for label, done, total in seen)

    # population: clipped to the area's 40 × 40 cells, values kept
    with rasterio.open(out / "population.tif") as ds:
        assert (ds.height, ds.width) == (40, 40)
        assert ds.bounds.left == pytest.approx(WEST) and ds.bounds.top == pytest.approx(NORTH)
        people = ds.read(1)
        assert ds.nodata == -99999.0
    assert people[people >= 0].sum() == pytest.approx(IN_AREA)
    # boundaries: the far zone dropped, the others cut to the area
    zones = json.loads((out / "boundaries.geojson").read_text())
    assert [f["properties"]["shapeID"] for f in zones["features"]] == ["IDN-ADM1-1", "IDN-ADM1-2"]
    # roads: the Overpass answer, with the query asking for the area
    assert (out / "roads.osm").read_bytes() == OSM_XML
    query = next(h for h in fake.hits if h.path == "/api/interpreter").query["data"][0]
    assert "[bbox:-9.0400000,120.0000000,-9.0000000,120.0400000]" in query
    assert 'way["highway"]' in query and '"route"="ferry"' in query and "healthcare" in query
    # every request carried reach's user agent
    assert all(h.headers.get("User-Agent", "").startswith("reach/") for h in fake.hits)

    manifest = json.loads((out / MANIFEST_NAME).read_text())
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == _sha(out / name), name
    assert manifest["files"]["population.tif"]["source"] == f"{fake.url}{TIF}"
    checked = {s["label"]: s["checked_against"] for s in manifest["sources"]}
    assert checked["WorldPop raster IDN 2020"] == f"{fake.url}{TIF}.sha256"

    # the starter scenario runs as it is
    scn = load_scenario(result.scenario)
    assert [(s.name, s.mode) for s in scn.services] == [("health", "motorbike"), ("school", "walk")]
    run = run_scenario(scn, maps=False)
    cov = pd.read_csv(out / "output" / "coverage.csv")
    total = cov[(cov["service"] == "health") & (cov["zone_id"] == "(all)")]["population"].item()
    assert total == pytest.approx(IN_AREA)
    assert set(cov["zone_id"]) >= {"IDN-ADM1-1", "IDN-ADM1-2"}
    assert run.out_dir is not None


def test_box_region_finds_the_country_at_its_centre(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    result = _fetch(fake, cache, tmp_path / "r", region=f"{WEST},{SOUTH},{EAST},{NORTH}")
    assert result.iso3 == "IDN"
    reverse = next(h for h in fake.hits if h.path == "/reverse")
    assert reverse.query["lat"] == ["-9.0200"] and reverse.query["lon"] == ["120.0200"]
    assert "/search" not in fake.paths()


def test_boundary_file_region_gives_the_zones(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    zones = tmp_path / "districts.geojson"
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"zone_id": "D1", "name": "Satu"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": _square(WEST, SOUTH, EAST, NORTH),
                        },
                    },
                ],
            }
        )
    )
    result = _fetch(fake, cache, tmp_path / "r", region=zones, iso3="idn")
    assert result.iso3 == "IDN" and result.bbox == BBox(WEST, SOUTH, EAST, NORTH)
    written = json.loads(result.files["boundaries"].read_text())
    assert [f["properties"] for f in written["features"]] == [{"zone_id": "D1", "name": "Satu"}]
    assert not any(p.startswith("/gb/") for p in fake.paths())
    assert load_scenario(result.scenario).region.boundaries is not None


def test_pbf_extract_is_clipped_to_the_area(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    result = _fetch(fake, cache, tmp_path / "r", pbf_url=f"{fake.url}{PBF}", iso3="IDN")
    osm = result.files["osm"]
    assert osm.name == "roads.osm.pbf"
    assert "/api/interpreter" not in fake.paths()
    roads = read_osm_roads(osm)
    assert sorted(roads.way_id.tolist()) == [10, 11, 14]
    facilities = read_osm_facilities(osm)
    assert set(facilities["name"]) == {"Pustu Barat", "SD Timur", "RSUD"}
    # the PBF had no checksum file: both sidecars were asked for
    assert f"{PBF}.sha256" in fake.paths() and f"{PBF}.md5" in fake.paths()
    again = _fetch(fake, cache, tmp_path / "again", pbf_url=f"{fake.url}{PBF}", iso3="IDN",
                   offline=True)  # fmt: skip
    assert again.files["osm"].read_bytes() == osm.read_bytes()


# --- failures and retries -------------------------------------------------------------------------


def test_retries_after_server_errors_and_dropped_connections(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail("/api/interpreter", "503", "reset")
    fake.fail("/search", "503")
    result = _fetch(fake, cache, tmp_path / "r")
    assert fake.paths().count("/api/interpreter") == 3
    assert fake.paths().count("/search") == 2
    assert (result.folder / "roads.osm").read_bytes() == OSM_XML


def test_interrupted_download_resumes_with_a_range_request(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail(TIF, "drop")
    _fetch(fake, cache, tmp_path / "r")
    tries = [h for h in fake.hits if h.path == TIF]
    assert len(tries) == 2
    size = len(fake.routes[TIF].body)
    assert tries[1].headers.get("Range") == f"bytes={size // 2}-"
    assert tries[1].headers.get("If-Range") == '"v1"'
    entry = next(e for e in cache_info(cache_dir=cache).entries if e.label.startswith("WorldPop r"))
    assert entry.sha256 == hashlib.sha256(fake.routes[TIF].body).hexdigest()
    assert _leftovers(cache) == []


def test_a_later_run_resumes_an_abandoned_download(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail(TIF, "drop")
    with pytest.raises(FetchError, match="the next run resumes"):
        _fetch(fake, cache, tmp_path / "r", policy=DownloadPolicy(retries=0))
    size = len(fake.routes[TIF].body)
    kept = [p for p in _leftovers(cache) if p.name.endswith(".tif.part")]
    assert len(kept) == 1 and kept[0].stat().st_size == size // 2
    assert not (tmp_path / "r").exists()
    result = _fetch(fake, cache, tmp_path / "r")
    assert [h for h in fake.hits if h.path == TIF][-1].headers["Range"] == f"bytes={size // 2}-"
    assert result.files["population"].is_file()
    assert _leftovers(cache) == []


def test_retries_are_bounded_and_the_error_is_one_line(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail("/api/interpreter", *["503"] * 10)
    policy = DownloadPolicy(retries=2, backoff_s=0.0, max_backoff_s=0.0)
    with pytest.raises(FetchError) as info:
        _fetch(fake, cache, tmp_path / "r", policy=policy)
    assert fake.paths().count("/api/interpreter") == 3
    message = str(info.value)
    assert "gave up after 3 attempts" in message and "HTTP 503" in message
    assert "\n" not in message and "fix:" in message
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "r").exists()


def test_timeout_is_retried(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    fake.fail("/search", "slow")
    policy = DownloadPolicy(retries=1, backoff_s=0.0, timeout_s=0.3)
    started = time.monotonic()
    _fetch(fake, cache, tmp_path / "r", policy=policy)
    assert fake.paths().count("/search") == 2
    assert time.monotonic() - started < 10


def test_backoff_doubles_up_to_the_cap(
    fake: FakeServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr("reach.fetch.download.time.sleep", waits.append)
    fake.fail("/search", "503", "503", "503", "503")
    policy = DownloadPolicy(retries=4, backoff_s=1.0, max_backoff_s=3.0)
    _fetch(fake, cache, tmp_path / "r", policy=policy)
    assert waits == [1.0, 2.0, 3.0, 3.0]


def test_corrupt_download_is_refused_and_leaves_nothing(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail(TIF, "corrupt")
    with pytest.raises(ChecksumMismatchError) as info:
        _fetch(fake, cache, tmp_path / "r")
    message = str(info.value)
    assert "corrupt" in message and f"{TIF}.sha256" in message and "\n" not in message
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]
    assert _leftovers(cache) == []
    assert not list((cache / "files").glob("*.tif"))
    assert not any(
        e.label.startswith("WorldPop raster") for e in cache_info(cache_dir=cache).entries
    )
    # the next try downloads a good copy
    result = _fetch(fake, cache, tmp_path / "r")
    assert result.files["population"].is_file()


def test_a_known_checksum_must_match(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(ChecksumMismatchError, match="sha256 given"):
        _fetch(fake, cache, tmp_path / "r", checksums={f"{fake.url}{TIF}": "0" * 64})
    good = hashlib.sha256(fake.routes[TIF].body).hexdigest()
    _fetch(fake, cache, tmp_path / "r", checksums={f"{fake.url}{TIF}": good})


def test_download_cap(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    policy = DownloadPolicy(retries=0, max_bytes=2000)
    with pytest.raises(DownloadTooLargeError) as info:
        _fetch(fake, cache, tmp_path / "r", policy=policy)
    assert info.value.exit_code == EXIT_RESOURCE
    assert "2,000-byte" in str(info.value)
    assert _leftovers(cache) == []
    assert not (tmp_path / "r").exists()


def test_redirect_to_a_file_url_is_refused(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    fake.fail("/search", "redirect:file:///etc/passwd")
    with pytest.raises(FetchError, match="not an http"):
        _fetch(fake, cache, tmp_path / "r")


def test_redirects_between_http_urls_are_followed(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.fail(GEOJSON, f"redirect:{fake.url}/mirror.geojson")
    fake.routes["/mirror.geojson"] = fake.routes[GEOJSON]
    result = _fetch(fake, cache, tmp_path / "r")
    assert "/mirror.geojson" in fake.paths()
    assert "boundaries" in result.files


def test_overpass_error_report_is_not_cached(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    fake.routes["/api/interpreter"] = Route(
        b'<?xml version="1.0"?>\n<osm version="0.6">\n<remark> runtime error: Query timed out '
        b'in "query" at line 3 after 180 seconds. </remark>\n</osm>\n'
    )
    with pytest.raises(FetchError, match="Overpass stopped the query"):
        _fetch(fake, cache, tmp_path / "r")
    assert not any("Overpass" in e.label for e in cache_info(cache_dir=cache).entries)
    assert _leftovers(cache) == []


def test_unknown_place_and_missing_year(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    fake.routes["/search"] = _json([])
    with pytest.raises(FetchError, match="no place called 'Atlantis'"):
        _fetch(fake, cache, tmp_path / "r", region="Atlantis")
    with pytest.raises(
        FetchError, match=r"no wpgpunadj raster of IDN for 2031 \(years: 2019, 2020"
    ):
        _fetch(fake, cache, tmp_path / "r", region=f"{WEST},{SOUTH},{EAST},{NORTH}", year=2031)


def test_missing_admin_level_falls_back(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    result = _fetch(fake, cache, tmp_path / "a", admin_level=2)
    assert "/gb/IDN/ADM2/" in fake.paths()
    assert any("used ADM1" in n for n in result.notes)
    assert "boundaries" in result.files
    # offline, the level that was found is used again
    again = _fetch(fake, cache, tmp_path / "b", admin_level=2, offline=True)
    assert "boundaries" in again.files


def test_bad_arguments(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not a box"):
        _fetch(fake, cache, tmp_path / "r", region="120.1,-9,120.0,-8.9")
    with pytest.raises(FetchError, match="ISO 3166"):
        _fetch(fake, cache, tmp_path / "r", iso3="Indonesia")
    with pytest.raises(FetchError, match="not an http"):
        fetch_region("x", out_dir=tmp_path / "r", base_urls={"geocoder": "file:///etc"})
    with pytest.raises(FetchError, match="too large for the Overpass API"):
        _fetch(fake, cache, tmp_path / "r", region="100,-10,110,0")
    assert fake.hits == []


def test_base_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URLS_ENV, '{"overpass": "http://127.0.0.1:9/api/"}')
    urls = resolve_base_urls({"geocoder": "https://geo.example/nominatim"})
    assert urls.overpass == "http://127.0.0.1:9/api"
    assert urls.geocoder == "https://geo.example/nominatim"
    assert urls.worldpop == BaseUrls().worldpop
    monkeypatch.setenv(BASE_URLS_ENV, "overpass=http://a.test/api, worldpop=http://b.test/pop")
    assert resolve_base_urls().worldpop == "http://b.test/pop"
    monkeypatch.setenv(BASE_URLS_ENV, "overpas=http://a.test/api")
    with pytest.raises(FetchError, match="unknown source 'overpas'"):
        resolve_base_urls()


def test_fetch_reads_base_urls_from_the_environment(
    fake: FakeServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URLS_ENV, json.dumps(fake.bases))
    monkeypatch.setenv(CACHE_ENV, str(cache))
    result = fetch_region("Pulau Kecil", out_dir=tmp_path / "r", policy=FAST)
    assert result.scenario.is_file()
    assert cache_info().folder == cache.resolve()


# --- the cache and offline use -------------------------------------------------------------


def test_offline_fetch_from_the_cache_gives_the_same_files(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    first = _fetch(fake, cache, tmp_path / "online")
    bases = fake.bases
    fake.close()
    second = fetch_region(
        "Pulau Kecil", out_dir=tmp_path / "offline", base_urls=bases, cache_dir=cache,
        offline=True, policy=FAST,
    )  # fmt: skip
    assert second.from_cache
    for role, path in first.files.items():
        assert second.files[role].read_bytes() == path.read_bytes(), role
    assert second.scenario.read_bytes() == first.scenario.read_bytes()
    manifest = json.loads(second.manifest.read_text())
    assert manifest["request"]["offline"] is True
    assert all(s["from_cache"] for s in manifest["sources"])
    # online again: everything comes from the cache, nothing is asked of the (closed) server
    third = fetch_region(
        "Pulau Kecil", out_dir=tmp_path / "online", base_urls=bases, cache_dir=cache, policy=FAST
    )
    assert third.from_cache


def test_offline_with_an_empty_cache_names_what_is_missing(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotCachedError) as info:
        _fetch(fake, cache, tmp_path / "r", offline=True)
    message = str(info.value)
    assert "offline" in message and "place search 'Pulau Kecil'" in message
    assert "/search?q=Pulau+Kecil" in message
    assert "the OSM extract" in message and "the WorldPop raster" in message
    assert info.value.exit_code == EXIT_BAD_INPUT and "\n" not in message
    assert "reach init" in info.value.fix  # offline with no cache: local files still work

    with pytest.raises(NotCachedError) as info:
        _fetch(fake, cache, tmp_path / "r", region=f"{WEST},{SOUTH},{EAST},{NORTH}",
               iso3="IDN", offline=True)  # fmt: skip
    message = str(info.value)
    for needle in (
        "OSM extract (Overpass)",
        "WorldPop listing wpgpunadj IDN",
        "geoBoundaries IDN ADM1",
    ):
        assert needle in message
    assert "place search" not in message
    assert fake.hits == []
    assert not (tmp_path / "r").exists()


def test_a_changed_cache_file_is_not_trusted(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    _fetch(fake, cache, tmp_path / "a")
    entry = next(e for e in cache_info(cache_dir=cache).entries if e.label.startswith("WorldPop r"))
    entry.path.write_bytes(b"tampered")
    with pytest.raises(NotCachedError, match="WorldPop raster IDN 2020"):
        _fetch(fake, cache, tmp_path / "b", offline=True)
    before = fake.paths().count(TIF)
    _fetch(fake, cache, tmp_path / "b")
    assert fake.paths().count(TIF) == before + 1


def test_refresh_downloads_again(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    _fetch(fake, cache, tmp_path / "a")
    n = len(fake.hits)
    _fetch(fake, cache, tmp_path / "a")
    assert len(fake.hits) == n
    _fetch(fake, cache, tmp_path / "a", refresh=True)
    assert fake.paths()[n:].count("/api/interpreter") == 1


def test_cache_info_and_clear(fake: FakeServer, cache: Path, tmp_path: Path) -> None:
    assert cache_info(cache_dir=cache).entries == ()
    _fetch(fake, cache, tmp_path / "r")
    info = cache_info(cache_dir=cache)
    labels = [e.label for e in info.entries]
    assert len(labels) == 6, labels
    assert {
        "place search 'Pulau Kecil'",
        "OSM extract (Overpass)",
        "WorldPop raster IDN 2020",
    } <= set(labels)
    for e in info.entries:
        assert e.path.is_file() and e.path.parent == cache.resolve() / "files"
        assert e.size == e.path.stat().st_size and e.sha256 == _sha(e.path)
        assert e.created.endswith("Z") and e.created[:4].isdigit()
        assert e.url.startswith(fake.url)
    assert info.total_bytes == sum(e.size for e in info.entries)
    index = json.loads((cache / "index.json").read_text())
    assert set(index["entries"]) == {e.key for e in info.entries}

    foreign = cache / "notes.txt"
    foreign.write_text("mine")
    cleared = cache_clear(cache_dir=cache)
    assert cleared.entries == 6 and cleared.bytes == info.total_bytes
    assert cache_info(cache_dir=cache).entries == ()
    assert foreign.read_text() == "mine"
    assert sorted(p.name for p in cache.iterdir()) == ["CACHEDIR.TAG", "notes.txt"]


def test_existing_different_files_are_kept_unless_overwrite(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r"
    _fetch(fake, cache, out)
    _fetch(fake, cache, out)  # the same files again: fine
    (out / "scenario.toml").write_text("# my edits\n")
    with pytest.raises(FetchError, match=r"already holds scenario\.toml"):
        _fetch(fake, cache, out)
    assert (out / "scenario.toml").read_text() == "# my edits\n"
    _fetch(fake, cache, out, overwrite=True)
    assert "[[services]]" in (out / "scenario.toml").read_text()


def test_a_service_without_facilities_is_commented_out(
    fake: FakeServer, cache: Path, tmp_path: Path
) -> None:
    fake.routes["/api/interpreter"] = Route(OSM_XML.replace(b'v="school"', b'v="cafe"'))
    result = _fetch(fake, cache, tmp_path / "r")
    assert any("'school'" in n for n in result.notes)
    scn = load_scenario(result.scenario)
    assert [s.name for s in scn.services] == ["health"]
    assert "# [[services]]" in result.scenario.read_text()


# --- no request leaves this machine ------------------------------------------------------------


def test_the_guard_refuses_other_hosts(only_localhost: list[str]) -> None:
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with pytest.raises(OSError, match="test guard"):
        socket.getaddrinfo("example.org", 443)
    only_localhost.clear()


def test_every_request_went_to_the_local_server(
    fake: FakeServer, cache: Path, tmp_path: Path, only_localhost: list[str]
) -> None:
    calls: list[str] = []
    real: Callable[..., Any] = socket.socket.connect

    def record(self: socket.socket, address: Any) -> Any:
        calls.append(str(address[0]))
        return real(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", record)
        _fetch(fake, cache, tmp_path / "r")
    assert calls and set(calls) == {"127.0.0.1"}
    assert only_localhost == []
    assert len(fake.hits) == len(calls)  # one connection per request, all answered here


def test_fetch_command_then_run_then_cache_info(
    fake: FakeServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from reach.cli import app

    monkeypatch.setenv(BASE_URLS_ENV, json.dumps(fake.bases))
    runner = CliRunner()
    out = tmp_path / "region"
    args = ["--quiet", "fetch", "Pulau Kecil", "--out", str(out), "--cache-dir", str(cache)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "reach run" in result.stdout and (out / "scenario.toml").is_file()
    ran = runner.invoke(app, ["--quiet", "run", "--no-maps", str(out / "scenario.toml")])
    assert ran.exit_code == 0, ran.stderr
    info = runner.invoke(app, ["--quiet", "cache", "info", "--cache-dir", str(cache)])
    assert info.exit_code == 0 and "entries" in info.stdout
    fake.close()  # offline from here: the same command works from the cache alone
    again = runner.invoke(app, [*args[:-2], "--cache-dir", str(cache), "--offline", "--overwrite"])
    assert again.exit_code == 0, again.stderr
    empty = runner.invoke(
        app, ["--quiet", "fetch", "Pulau Kecil", "--out", str(tmp_path / "x"), "--offline",
              "--cache-dir", str(tmp_path / "empty")]
    )  # fmt: skip
    assert empty.exit_code == 2 and "Traceback" not in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
