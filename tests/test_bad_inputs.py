"""The bad-input corpus: broken and hostile files, each run through ``reach run``.

Every case starts from the tiny region (written by the test), spoils one input, runs the command
line in-process and checks the contract: the documented exit code; for a refusal exactly one line
on stderr naming the file and the problem, no traceback, and no output folder (nor a temporary
one) left behind; for inputs reach should cope with (odd ``maxspeed`` values, one-way traps,
islands), a run that conserves the population. ``test_corpus_counts`` prints the totals.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from reach.cli import app
from reach.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_RESOURCE
from tests.conftest import Canary
from tests.helpers import OSM, SIZE, tiny_people, write_population, write_tiny_region

Mutation = Callable[[Path], None]

#: The localhost canary server's address (set per test): hostile inputs point at it.
CANARY = ["http://127.0.0.1:9"]


@dataclass(frozen=True)
class Case:
    """One corpus case: how to spoil the tiny region and what ``reach run`` must answer."""

    name: str
    mutate: Mutation
    exit_code: int
    needles: tuple[str, ...] = ()


CASES: list[Case] = []


def case(
    name: str, exit_code: int = EXIT_BAD_INPUT, *needles: str
) -> Callable[[Mutation], Mutation]:
    def register(fn: Mutation) -> Mutation:
        CASES.append(Case(name, fn, exit_code, needles))
        return fn

    return register


def _scn(folder: Path, old: str, new: str) -> None:
    path = folder / "tiny.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _osm(folder: Path, body: str) -> None:
    (folder / "roads.osm").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n' + body + "\n</osm>\n"
    )


NODES = (
    '<node id="1" lat="-9.0205" lon="120.0015"/><node id="2" lat="-9.0205" lon="120.0200"/>'
    '<node id="3" lat="-9.0205" lon="120.0385"/>'
)


def _way(tags: str, refs: str = "1 2 3", way_id: int = 10) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs.split())
    return f'<way id="{way_id}">{nds}<tag k="highway" v="secondary"/>{tags}</way>'


def _csv(folder: Path, text: str) -> None:
    (folder / "clinics.csv").write_text(text)


def _zones(folder: Path, features: list[dict[str, object]], *, crs: bool = True) -> None:
    doc: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    (folder / "zones.geojson").write_text(json.dumps(doc))


def _zone(zone_id: str, ring: list[list[float]], geom_type: str = "Polygon") -> dict[str, object]:
    coords: object = [ring] if geom_type == "Polygon" else ring[0]
    return {
        "type": "Feature",
        "properties": {"zone_id": zone_id, "name": zone_id},
        "geometry": {"type": geom_type, "coordinates": coords},
    }


BOX = [[120.0, -9.0], [120.04, -9.0], [120.04, -9.04], [120.0, -9.04], [120.0, -9.0]]


def _raster(folder: Path, data: np.ndarray, **kw: object) -> None:
    profile: dict[str, object] = {
        "driver": "GTiff", "height": data.shape[-2], "width": data.shape[-1],
        "count": 1 if data.ndim == 2 else data.shape[0], "dtype": str(data.dtype),
        "crs": "EPSG:4326", "transform": Affine(0.001, 0, 120.0, 0, -0.001, -9.0),
    }  # fmt: skip
    profile.update(kw)
    with rasterio.open(folder / "population.tif", "w", **profile) as dst:
        dst.write(data if data.ndim == 3 else data[None])


# --- OSM -------------------------------------------------------------------------------------


@case("osm empty file", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").write_bytes(b"")


@case("osm truncated", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").write_text(OSM[: len(OSM) // 2])


@case("osm no roads", EXIT_BAD_INPUT, "roads.osm", "no highway")
def _(f: Path) -> None:
    _osm(f, NODES)


@case("osm only footways far away", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, '<node id="1" lat="-9.0" lon="120.0"/><node id="2" lat="-9.001" lon="120.001"/>'
         '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>')  # fmt: skip


@case("osm way references missing nodes", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    _osm(f, _way("", refs="7 8 9"))


@case("osm way with one missing node", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, NODES + _way("", refs="1 2 99 3"))


for _speed in ["0", "999999", "30 knots", "1,000", "50 mph", "-40", "NaN", "fast", "60;80",
               "none", "walk", "signals"]:  # fmt: skip

    def _maxspeed(f: Path, value: str = _speed) -> None:
        _osm(f, NODES + _way(f'<tag k="maxspeed" v="{value}"/>'))

    CASES.append(Case(f"osm maxspeed {_speed!r}", _maxspeed, EXIT_OK))


@case("osm one-way trap (a dead-end one-way street)", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, NODES + _way('<tag k="oneway" v="yes"/>') + _way('<tag k="oneway" v="-1"/>',
         refs="3 2", way_id=11))  # fmt: skip


@case("osm disconnected island road", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, NODES + _way("") + '<node id="5" lat="-9.035" lon="120.005"/>'
         '<node id="6" lat="-9.035" lon="120.010"/>' + _way("", refs="5 6", way_id=12))  # fmt: skip


@case("osm ferry without duration", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, NODES + _way("") + '<node id="5" lat="-9.035" lon="120.005"/>'
         '<way id="20"><nd ref="2"/><nd ref="5"/><tag k="route" v="ferry"/></way>')  # fmt: skip


@case("osm ferry with broken duration", EXIT_OK)
def _(f: Path) -> None:
    _osm(f, NODES + _way("") + '<node id="5" lat="-9.035" lon="120.005"/>'
         '<way id="20"><nd ref="2"/><nd ref="5"/><tag k="route" v="ferry"/>'
         '<tag k="duration" v="soon"/></way>')  # fmt: skip


@case("osm unparsable coordinates", EXIT_BAD_INPUT, "roads.osm", "cannot read")
def _(f: Path) -> None:
    _osm(f, NODES + '<node id="9" lat="95" lon="500"/>' + _way("", refs="1 2 3 9"))


@case("osm billion laughs entity expansion", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    lol = "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(9)
    )
    (f / "roads.osm").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE osm [{lol}]>\n<osm version="0.6">{NODES}'
        f'<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="&l8;"/></way></osm>\n'
    )


@case("osm external entity", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE osm [<!ENTITY x SYSTEM "{CANARY[0]}/xxe">]>\n'
        f'<osm version="0.6">{NODES}<way id="10"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="secondary"/><tag k="name" v="&x;"/></way></osm>\n'
    )


@case("osm binary garbage", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").write_bytes(bytes(range(256)) * 40)


@case("osm pbf that is really xml", EXIT_BAD_INPUT, "roads.osm.pbf")
def _(f: Path) -> None:
    (f / "roads.osm.pbf").write_text(OSM)
    _scn(f, 'osm = "roads.osm"', 'osm = "roads.osm.pbf"')


@case("osm gzip with wrong name", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").write_bytes(gzip.compress(OSM.encode()))


@case("osm path is a folder", EXIT_BAD_INPUT, "roads.osm")
def _(f: Path) -> None:
    (f / "roads.osm").unlink()
    (f / "roads.osm").mkdir()


@case("osm file missing", EXIT_BAD_INPUT, "roads.osm", "not found")
def _(f: Path) -> None:
    (f / "roads.osm").unlink()


# --- population ------------------------------------------------------------------------------


@case("population -99999 without nodata (taken as nodata)", EXIT_OK)
def _(f: Path) -> None:
    write_population(f / "population.tif", tiny_people(), nodata=None)


@case("population NaN cells", EXIT_OK)
def _(f: Path) -> None:
    people = tiny_people()
    people[:5, :5] = np.nan
    write_population(f / "population.tif", people, nodata=None)


@case("population negative values", EXIT_BAD_INPUT, "population.tif", "negative")
def _(f: Path) -> None:
    people = tiny_people()
    people[3, 3] = -5.0
    write_population(f / "population.tif", people)


@case("population infinite values", EXIT_BAD_INPUT, "population.tif")
def _(f: Path) -> None:
    people = tiny_people()
    people[3, 3] = np.inf
    write_population(f / "population.tif", people)


@case("population all nodata", EXIT_BAD_INPUT, "population.tif")
def _(f: Path) -> None:
    write_population(f / "population.tif", np.full((SIZE, SIZE), -99999.0))


@case("population all zero", EXIT_BAD_INPUT, "population.tif", "sums to 0")
def _(f: Path) -> None:
    write_population(f / "population.tif", np.zeros((SIZE, SIZE)))


@case("population without CRS", EXIT_BAD_INPUT, "population.tif", "coordinate reference")
def _(f: Path) -> None:
    _raster(f, tiny_people().astype(np.float32), crs=None, nodata=-99999.0)


@case("population in another place (no overlap)", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _raster(f, tiny_people().astype(np.float32), nodata=-99999.0,
            transform=Affine(0.001, 0, 10.0, 0, -0.001, 50.0))  # fmt: skip


@case("population projected CRS with degree-sized cells", EXIT_BAD_INPUT, "population.tif")
def _(f: Path) -> None:
    _raster(f, tiny_people().astype(np.float32), nodata=-99999.0, crs="EPSG:32750")


@case("population VRT disguised as .tif", EXIT_BAD_INPUT, "population.tif", "GeoTIFF")
def _(f: Path) -> None:
    (f / "population.tif").write_text(
        '<VRTDataset rasterXSize="40" rasterYSize="40"><VRTRasterBand dataType="Float32" band="1">'
        f"<SimpleSource><SourceFilename>/vsicurl/{CANARY[0]}/vrt.tif</SourceFilename>"
        "</SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )


@case("population empty file", EXIT_BAD_INPUT, "population.tif")
def _(f: Path) -> None:
    (f / "population.tif").write_bytes(b"")


@case("population text file", EXIT_BAD_INPUT, "population.tif")
def _(f: Path) -> None:
    (f / "population.tif").write_text("people per cell\n1 2 3\n")


@case("population PNG renamed .tif", EXIT_BAD_INPUT, "population.tif", "GeoTIFF")
def _(f: Path) -> None:
    with rasterio.open(f / "p.png", "w", driver="PNG", height=4, width=4, count=1,
                       dtype="uint8") as dst:  # fmt: skip
        dst.write(np.ones((1, 4, 4), dtype=np.uint8))
    (f / "p.png").rename(f / "population.tif")


@case("population two bands", EXIT_OK)
def _(f: Path) -> None:
    people = tiny_people().astype(np.float32)
    _raster(f, np.stack([people, people]), nodata=-99999.0)


@case("population rotated grid", EXIT_BAD_INPUT, "population.tif", "rotat")
def _(f: Path) -> None:
    _raster(f, tiny_people().astype(np.float32), nodata=-99999.0,
            transform=Affine(0.001, 0.0002, 120.0, 0.0002, -0.001, -9.0))  # fmt: skip


@case("population missing", EXIT_BAD_INPUT, "population.tif", "not found")
def _(f: Path) -> None:
    (f / "population.tif").unlink()


# --- facilities ------------------------------------------------------------------------------


@case("facilities lon/lat swapped", EXIT_BAD_INPUT, "clinics.csv", "swapped")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,-9.0205,120.0025\n")


@case("facilities projected metres in lon/lat", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,500123.5,9001234.0\n")


@case("facilities duplicate ids", EXIT_BAD_INPUT, "clinics.csv", "more than once")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,120.0025,-9.0205\n"
         "C1,B,clinic,120.0375,-9.0305\n")  # fmt: skip


@case("facilities all outside the region", EXIT_BAD_INPUT, "clinics.csv", "none of its")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,121.5,-8.0\n")


@case("facilities one outside the region", EXIT_OK)
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,120.0025,-9.0205\nC9,Far,clinic,121.5,-8\n")


@case("facilities far from any road", EXIT_OK)
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,120.005,-9.038\n")


@case("facilities missing lat column", EXIT_BAD_INPUT, "clinics.csv", "lat")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon\nC1,A,clinic,120.0025\n")


@case("facilities non-numeric coordinate", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,120.0025,south\n")


@case("facilities NaN coordinate", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\nC1,A,clinic,120.0025,\n")


@case("facilities header only", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _csv(f, "facility_id,name,tier,lon,lat\n")


@case("facilities empty file", EXIT_BAD_INPUT, "clinics.csv")
def _(f: Path) -> None:
    _csv(f, "")


@case("facilities semicolon-separated", EXIT_OK)
def _(f: Path) -> None:
    _csv(f, "facility_id;name;tier;lon;lat\nC1;A;clinic;120.0025;-9.0205\n")


@case("facilities latin-1 bytes", EXIT_BAD_INPUT, "clinics.csv", "UTF-8")
def _(f: Path) -> None:
    (f / "clinics.csv").write_bytes(
        "facility_id,name,tier,lon,lat\nC1,Puskesmas Süd,clinic,120.0025,-9.0205\n".encode(
            "latin-1"
        )
    )


@case("facilities hostile names", EXIT_OK)
def _(f: Path) -> None:
    _csv(f, 'facility_id,name,tier,lon,lat\nC1,"<script>alert(1)</script>",clinic,120.0025,-9.0205\n'
         f'C2,"<img src={CANARY[0]}/img.png>",clinic,120.0375,-9.0305\n')  # fmt: skip


@case("facilities file missing", EXIT_BAD_INPUT, "clinics.csv", "not found")
def _(f: Path) -> None:
    (f / "clinics.csv").unlink()


# --- boundaries ------------------------------------------------------------------------------


@case("boundaries without CRS (shapefile without .prj)", EXIT_BAD_INPUT, "zones.shp", "CRS")
def _(f: Path) -> None:
    import geopandas as gpd

    gpd.read_file(f / "zones.geojson").to_file(f / "zones.shp")
    (f / "zones.prj").unlink()
    _scn(f, "zones.geojson", "zones.shp")


@case("boundaries self-intersecting bow-tie", EXIT_OK)
def _(f: Path) -> None:
    bow = [[120.0, -9.0], [120.04, -9.04], [120.04, -9.0], [120.0, -9.04], [120.0, -9.0]]
    _zones(f, [_zone("W", bow)])


@case("boundaries unclosed ring", EXIT_BAD_INPUT, "zones.geojson")
def _(f: Path) -> None:
    _zones(f, [_zone("W", BOX[:-1][:3])])


@case("boundaries crossing the antimeridian", EXIT_BAD_INPUT, "zones.geojson", "antimeridian")
def _(f: Path) -> None:
    _zones(f, [_zone("W", BOX), _zone("X", [[179.5, -9.0], [-179.5, -9.0], [-179.5, -9.04],
                                            [179.5, -9.04], [179.5, -9.0]])])  # fmt: skip


@case("boundaries not JSON", EXIT_BAD_INPUT, "zones.geojson")
def _(f: Path) -> None:
    (f / "zones.geojson").write_text("{ this is not json")


@case("boundaries empty collection", EXIT_BAD_INPUT, "zones.geojson")
def _(f: Path) -> None:
    _zones(f, [])


@case("boundaries missing id column", EXIT_BAD_INPUT, "zones.geojson", "zone_id")
def _(f: Path) -> None:
    _scn(f, 'id_column = "zone_id"', 'id_column = "code"')


@case("boundaries duplicate ids", EXIT_BAD_INPUT, "zones.geojson", "duplicate")
def _(f: Path) -> None:
    _zones(f, [_zone("W", BOX), _zone("W", BOX)])


@case("boundaries elsewhere in the world", EXIT_BAD_INPUT, "zones.geojson", "does not overlap")
def _(f: Path) -> None:
    far = [[10.0, 50.0], [10.1, 50.0], [10.1, 49.9], [10.0, 49.9], [10.0, 50.0]]
    _zones(f, [_zone("W", far)])


@case("boundaries are points", EXIT_BAD_INPUT, "zones.geojson", "polygon")
def _(f: Path) -> None:
    _zones(f, [_zone("W", [[120.01, -9.01]], geom_type="Point")])


# --- scenario --------------------------------------------------------------------------------


@case("scenario unknown key", EXIT_BAD_INPUT, "tiny.toml:", "osmm")
def _(f: Path) -> None:
    _scn(f, 'osm = "roads.osm"', 'osm = "roads.osm"\nosmm = 1')


@case("scenario wrong type", EXIT_BAD_INPUT, "tiny.toml", "thresholds_min")
def _(f: Path) -> None:
    _scn(f, "thresholds_min = [5, 15, 30]", 'thresholds_min = "soon"')


@case("scenario NaN threshold", EXIT_BAD_INPUT, "tiny.toml", "thresholds_min")
def _(f: Path) -> None:
    _scn(f, "thresholds_min = [5, 15, 30]", "thresholds_min = [5, nan]")


@case("scenario infinite time limit (no limit)", EXIT_OK)
def _(f: Path) -> None:
    _scn(f, "[[services]]", "[grid]\nmax_travel_time_min = inf\n[[services]]")


@case("scenario negative threshold", EXIT_BAD_INPUT, "tiny.toml", "thresholds_min")
def _(f: Path) -> None:
    _scn(f, "thresholds_min = [5, 15, 30]", "thresholds_min = [-5, 15]")


@case("scenario duplicate keys", EXIT_BAD_INPUT, "tiny.toml", "TOML")
def _(f: Path) -> None:
    _scn(f, 'osm = "roads.osm"', 'osm = "roads.osm"\nosm = "other.osm"')


@case("scenario parent path leaving the project", EXIT_BAD_INPUT, "tiny.toml", "outside")
def _(f: Path) -> None:
    _scn(f, 'osm = "roads.osm"', 'osm = "../../../../etc/roads.osm"')


@case("scenario absolute path outside the project", EXIT_BAD_INPUT, "tiny.toml", "outside")
def _(f: Path) -> None:
    _scn(f, 'population = "population.tif"', 'population = "/etc/population.tif"')


@case("scenario output folder outside the project", EXIT_BAD_INPUT, "tiny.toml", "outside")
def _(f: Path) -> None:
    _scn(f, 'folder = "out"', 'folder = "../../../tmp/reach-out-elsewhere"')


@case("scenario URL path", EXIT_BAD_INPUT, "tiny.toml", "URL")
def _(f: Path) -> None:
    _scn(f, 'osm = "roads.osm"', f'osm = "{CANARY[0]}/roads.osm"')


@case("scenario GDAL /vsicurl path", EXIT_BAD_INPUT, "tiny.toml", "virtual")
def _(f: Path) -> None:
    _scn(f, 'population = "population.tif"', f'population = "/vsicurl/{CANARY[0]}/p.tif"')


@case("scenario GDAL /vsizip path", EXIT_BAD_INPUT, "tiny.toml", "virtual")
def _(f: Path) -> None:
    _scn(f, 'population = "population.tif"', 'population = "/vsizip/pop.zip/population.tif"')


@case("scenario empty file", EXIT_BAD_INPUT, "tiny.toml", "missing")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text("")


@case("scenario version 2", EXIT_BAD_INPUT, "tiny.toml", "version")
def _(f: Path) -> None:
    _scn(f, "version = 1", "version = 2")


@case("scenario no services", EXIT_BAD_INPUT, "tiny.toml")
def _(f: Path) -> None:
    text = (f / "tiny.toml").read_text()
    (f / "tiny.toml").write_text(text[: text.index("[[services]]")] + '[outputs]\nfolder = "out"\n')


@case("scenario unknown mode", EXIT_BAD_INPUT, "tiny.toml", "mode")
def _(f: Path) -> None:
    _scn(f, 'mode = "motorbike"', 'mode = "helicopter"')


@case("scenario zero time limit", EXIT_BAD_INPUT, "tiny.toml", "max_travel_time_min")
def _(f: Path) -> None:
    _scn(f, "[[services]]", "[grid]\nmax_travel_time_min = 0\n[[services]]")


@case("scenario latin-1 bytes", EXIT_BAD_INPUT, "tiny.toml", "UTF-8")
def _(f: Path) -> None:
    text = (f / "tiny.toml").read_text().replace('name = "Tiny"', 'name = "Région"')
    (f / "tiny.toml").write_bytes(text.encode("latin-1"))


@case("scenario closes an unknown facility", EXIT_BAD_INPUT, "C7")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "close_facility", service = "health", facility_id = "C7" }]\n')  # fmt: skip


@case("scenario operation on an unknown service", EXIT_BAD_INPUT, "tiny.toml", "dental")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "close_facility", service = "dental", facility_id = "C1" }]\n')  # fmt: skip


@case("scenario duplicate alternative names", EXIT_BAD_INPUT, "tiny.toml", "unique")
def _(f: Path) -> None:
    alt = '[[alternatives]]\nname = "a"\n'
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + alt + alt)


@case("scenario upgrade of a road that is not there", EXIT_BAD_INPUT, "4242")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "upgrade_road", way_ids = [4242], set_surface = "asphalt" }]\n')  # fmt: skip


@case("scenario seasons longer than a year", EXIT_BAD_INPUT, "share_of_year")
def _(f: Path) -> None:
    season = '{ op = "season", name = "%s", share_of_year = 0.7 }'
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        f"operations = [{season % 'wet'}, {season % 'dry'}]\n")  # fmt: skip


@case("scenario towers file missing", EXIT_BAD_INPUT, "towers.geojson")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "telemedicine", service = "health", remote_share = 0.3, '
        'connectivity = { kind = "towers", path = "towers.geojson", range_m = 1000 } }]\n')  # fmt: skip


@case("scenario connectivity raster that is not a GeoTIFF", EXIT_BAD_INPUT, "signal.tif")
def _(f: Path) -> None:
    (f / "signal.tif").write_text("not a raster")
    (f / "tiny.toml").write_text((f / "tiny.toml").read_text() + '[[alternatives]]\nname = "a"\n'
        'operations = [{ op = "telemedicine", service = "health", remote_share = 0.3, '
        'connectivity = { kind = "raster", path = "signal.tif" } }]\n')  # fmt: skip


@case("scenario output folder is a file", EXIT_BAD_INPUT, "out")
def _(f: Path) -> None:
    (f / "out").write_text("I am a file")


@case("scenario extends itself", EXIT_BAD_INPUT, "loops")
def _(f: Path) -> None:
    (f / "tiny.toml").write_text('extends = "tiny.toml"\n' + (f / "tiny.toml").read_text())


@case("scenario huge grid refused before the run", EXIT_RESOURCE, "memory")
def _(f: Path) -> None:
    # a 200,000 × 200,000 header over a tiny file: the preflight refuses it before reading
    with rasterio.open(f / "population.tif", "w", driver="GTiff", height=200_000, width=200_000,
                       count=1, dtype="float32", crs="EPSG:4326", nodata=-99999.0,
                       transform=Affine(0.0001, 0, 120.0, 0, -0.0001, -9.0), tiled=True,
                       sparse_ok=True) as dst:  # fmt: skip
        dst.write(np.ones((1, 256, 256), np.float32), window=((0, 256), (0, 256)))


runner = CliRunner()
OUTCOMES: dict[str, str] = {}


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_bad_input(c: Case, tmp_path: Path, canary: Canary) -> None:
    CANARY[0] = canary.url
    folder = tmp_path / "project"
    scenario = write_tiny_region(folder)
    c.mutate(folder)
    result = runner.invoke(app, ["--quiet", "run", str(scenario)])
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout, err
    assert result.exit_code == c.exit_code, (result.exit_code, err, result.stdout)
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".out")]
    assert not leftovers, leftovers
    if c.exit_code == EXIT_OK:
        cov = pd.read_csv(folder / "out" / "coverage.csv")
        everyone = cov[cov["zone_id"] == "(all)"].iloc[0]
        with rasterio.open(folder / "population.tif") as src:
            raw = src.read(1).astype(np.float64)
            fill = src.nodata
        ok = np.isfinite(raw) & (raw > -9999) & ((raw != fill) if fill is not None else True)
        total = float(raw[ok].sum())
        assert everyone["population"] == pytest.approx(total, rel=1e-6)
        OUTCOMES[c.name] = "ran"
        return
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in c.needles:
        assert needle.lower() in err.lower(), (needle, err)
    out = folder / "out"
    assert not out.is_dir() or c.name == "scenario output folder is a file"
    OUTCOMES[c.name] = "refused"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 70
    assert len({c.name for c in CASES}) == len(CASES)


def test_the_canary_would_notice_a_request() -> None:
    import urllib.error
    import urllib.request

    from tests.conftest import Canary

    server = Canary()
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/probe", timeout=5)
    finally:
        server.close()
    assert server.hits == ["/probe"]
