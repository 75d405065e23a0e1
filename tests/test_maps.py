"""HTML coverage maps: layers, alignment, escaping, languages, colours, determinism (no browser).

The runs are real: the generated demo region, and a scenario set on the demo inputs whose
scenario, facility and zone names are hostile (HTML, script and template-literal payloads).
The browser tests (``test_maps_browser.py``) load the same pages in Chromium.

The colour check simulates dichromats' vision with the Machado et al. (2009) model at full
severity (colorspacious) and measures differences in CAM02-UCS, whose units are about one
just-noticeable difference for large patches side by side. A map's classes are small patches
seen through semi-transparent overlays, so the test asks for ten times that (``MIN_DELTA_E``):
the distance ColorBrewer-style map palettes keep between neighbouring classes.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import itertools
import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from colorspacious import cspace_convert, deltaE
from PIL import Image
from pyproj import Transformer

from reach.codes import REASON_REACHED
from reach.demo import demo_scenario_toml, generate_demo
from reach.outputs.i18n import get_locale
from reach.outputs.map_assets import leaflet_css, leaflet_js, leaflet_version
from reach.outputs.map_context import encode_lines, label_min_zooms, road_class_lines
from reach.outputs.map_layers import LayerPanel, MapLabels, Polylines
from reach.outputs.map_text import route_parts
from reach.outputs.maps import (
    REASON_COLOURS,
    FacilityMarkers,
    HtmlControl,
    gain_codes,
    map_file_name,
    render_map,
    service_map,
    write_maps,
)
from reach.results import RunResult
from reach.run.scenario_set import baseline_routes, run_scenario
from reach.spec import load_scenario

REPO = Path(__file__).resolve().parents[1]
SIZE_CELLS = 40_000
DATE = "2024-05-06"

#: Payloads: HTML injection, breaking out of a script element, JS template literals, quotes.
HOSTILE_SCENARIO = "</script><script>window.__reachPwned=1</script> ${alert(1)} `x` \"q\" 's'"
HOSTILE_FACILITIES = {
    "H001": "<img src=x onerror=alert(1)>",
    "H002": "</script><script>alert(1)</script>",
    "H003": "${alert(1)} `${alert(2)}` \"dq\" 'sq' &amp;",
}
HOSTILE_ZONES = {
    "K01": '<img src=x onerror="window.__reachPwned=1">',
    "K02": "</script><svg onload=alert(1)>",
}
HOSTILE_ADDED = "<b onmouseover=alert(1)>New post</b> `${alert(3)}`"
HOSTILE_PLACE = '<img src=x onerror="window.__reachPwned=1"> Desa `${alert(4)}`'
ALL_HOSTILE = [HOSTILE_SCENARIO, *HOSTILE_FACILITIES.values(), *HOSTILE_ZONES.values()]


def _toml_str(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text)


def build_hostile_run(folder: Path) -> RunResult:
    """A scenario set on the demo inputs with hostile names and two alternatives.

    ``new_post`` adds a clinic (hostile name) at the populated cell farthest from health care;
    ``telehealth`` turns telemedicine on where a signal polygon (the western half) has coverage.
    """
    inputs = folder / "inputs"
    files = generate_demo(inputs, size_cells=SIZE_CELLS, seed=7)
    fac = json.loads(files.facilities_geojson.read_text("utf-8"))
    for feature in fac["features"]:
        props = feature["properties"]
        props["name"] = HOSTILE_FACILITIES.get(props["facility_id"], props["name"])
    files.facilities_geojson.write_text(json.dumps(fac), "utf-8")
    zones = json.loads(files.boundaries_geojson.read_text("utf-8"))
    for feature in zones["features"]:
        props = feature["properties"]
        props["name"] = HOSTILE_ZONES.get(props["zone_id"], props["name"])
    files.boundaries_geojson.write_text(json.dumps(zones), "utf-8")
    toml = demo_scenario_toml(files, relative_to=inputs)
    toml = re.sub(
        r'(?m)^name = "Demo island district"$', f"name = {_toml_str(HOSTILE_SCENARIO)}", toml
    )
    scenario = inputs / "hostile.toml"
    scenario.write_text(toml, "utf-8")
    base = run_scenario(load_scenario(scenario), write=False)

    grid = base.grid
    t = base.services["health"].search.time_min
    people = base.population.people.ravel()
    far = int(np.argmax(np.where((people > 0) & np.isfinite(t), t, -1.0)))
    x, y = grid.cell_centres(np.array([far]))
    left, top = grid.transform.c, grid.transform.f
    right = left + grid.cols * grid.transform.a
    bottom = top + grid.rows * grid.transform.e
    mid = (left + right) / 2
    signal = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[left, bottom], [mid, bottom], [mid, top], [left, top], [left, bottom]]
                    ],
                },
            }
        ],
    }
    (inputs / "signal.geojson").write_text(json.dumps(signal), "utf-8")
    toml += f"""
[[alternatives]]
name = "new_post"

[[alternatives.operations]]
op = "add_facility"
service = "health"
facility_id = "X900"
name = {_toml_str(HOSTILE_ADDED)}
lon = {float(x[0])}
lat = {float(y[0])}
tier = "clinic"
capacity = 5000

[[alternatives]]
name = "telehealth"

[[alternatives.operations]]
op = "telemedicine"
service = "health"
remote_share = 0.5
connectivity = {{ kind = "polygons", path = "signal.geojson" }}
"""
    scenario.write_text(toml, "utf-8")
    return run_scenario(load_scenario(scenario), write=False)


def with_places(run: RunResult) -> RunResult:
    """The run with OSM-style places: a hostile town name at the first zone, and a village."""
    zones = run.zones.to_crs("EPSG:4326")
    a = zones.geometry.iloc[0].representative_point()
    b = zones.geometry.iloc[-1].representative_point()
    places = gpd.GeoDataFrame(
        {
            "osm_id": np.array([1, 2], dtype=np.int64),
            "name": [HOSTILE_PLACE, "Desa Biasa"],
            "place": ["town", "village"],
            "population": [5000.0, np.nan],
        },
        geometry=[a, b],
        crs="EPSG:4326",
    )
    region = dataclasses.replace(run.region, places=places)
    return dataclasses.replace(run, region=region)


def with_place_routes(run: RunResult) -> RunResult:
    """:func:`with_places`, with the routes of those places (and of the zones) as a run keeps."""
    placed = with_places(run)
    return dataclasses.replace(placed, routes=baseline_routes(placed.region, placed.baseline))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return build_hostile_run(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def hostile_health(hostile: RunResult) -> folium.Map:
    return service_map(hostile, "health", title_date=DATE, langs=["en"])


@pytest.fixture(scope="module")
def hostile_page(hostile_health: folium.Map) -> str:
    return render_map(hostile_health)


# --- helpers ---------------------------------------------------------------------------------


def _panel(m: folium.Map) -> LayerPanel:
    (panel,) = [c for c in m._children.values() if isinstance(c, LayerPanel)]
    return panel


def _groups(m: folium.Map) -> dict[str, list[str]]:
    """The layer panel's groups and their layers' names (unescaped; one-language maps)."""
    return {
        html.unescape(g.title_html): [html.unescape(e.label_html) for e in g.entries]
        for g in _panel(m).groups
    }


def _layer(m: folium.Map, group: str, name: str) -> folium.map.Layer:
    for g in _panel(m).groups:
        if html.unescape(g.title_html) == group:
            for e in g.entries:
                if html.unescape(e.label_html) == name:
                    return e.layer  # type: ignore[return-value]
    raise KeyError((group, name))


def _png_codes(overlay: folium.raster_layers.ImageOverlay) -> np.ndarray:
    """Palette indices of an overlay's embedded PNG."""
    prefix = "data:image/png;base64,"
    assert overlay.url.startswith(prefix)
    img = Image.open(io.BytesIO(base64.b64decode(overlay.url[len(prefix) :])))
    assert img.mode == "P"
    return np.asarray(img)


def _png_rgba(overlay: folium.raster_layers.ImageOverlay) -> np.ndarray:
    prefix = "data:image/png;base64,"
    img = Image.open(io.BytesIO(base64.b64decode(overlay.url[len(prefix) :])))
    return np.asarray(img.convert("RGBA"))


def _controls(m: folium.Map) -> list[str]:
    """Decoded HTML of the title and legend controls."""
    return [json.loads(c.html_json) for c in m._children.values() if isinstance(c, HtmlControl)]


def _labels(m: folium.Map, name: str) -> list[list[object]]:
    (layer,) = [
        c for c in m._children.values() if isinstance(c, MapLabels) and c.layer_name == name
    ]
    return json.loads(layer.rows_json)  # type: ignore[no-any-return]


def _markers(m: folium.Map) -> list[list[object]]:
    return [
        row
        for c in m._children.values()
        if isinstance(c, FacilityMarkers)
        for row in json.loads(c.rows_json)
    ]


# --- pages -----------------------------------------------------------------------------------


def test_write_maps_one_page_per_service_and_nothing_else(
    hostile: RunResult, tmp_path: Path
) -> None:
    out = tmp_path / "maps"
    paths = write_maps(hostile, out, title_date=DATE)
    assert paths == [
        out / map_file_name(s) for s in ("health", "primary_school", "secondary_school")
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    for path in paths:
        text = path.read_text("utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert "\r" not in text
    # writing again replaces the pages in place, leaving no temporary file
    again = write_maps(hostile, out, title_date=DATE)
    assert again == paths
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)


def test_same_run_gives_byte_identical_pages(hostile: RunResult, tmp_path: Path) -> None:
    first = write_maps(hostile, tmp_path / "a", title_date=DATE)
    second = write_maps(hostile, tmp_path / "b", title_date=DATE)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # ids are numbers in tree order, not folium's random hex ids
    text = first[0].read_text("utf-8")
    assert not re.search(r"_[0-9a-f]{32}\b", text)
    assert re.search(r'id="map_\d{4}"', text)


def test_offline_page_embeds_leaflet_and_links_nothing(hostile_page: str) -> None:
    page = hostile_page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert "L.tileLayer" not in page
    assert f"Leaflet {leaflet_version()}" in page  # the licence notice stays
    assert leaflet_js().strip()[-200:] in page
    assert "sourceMappingURL" not in page
    assert "url(images/" not in leaflet_css()
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()
    # images are embedded, never cell polygons
    assert page.count("data:image/png;base64,") >= 5


def test_basemap_and_online_options(hostile: RunResult) -> None:
    url = "tiles.invalid/{z}/{x}/{y}.png"
    with_tiles = service_map(hostile, "health", basemap_url=url, title_date=DATE, langs=["en"])
    assert "Basemap" in _groups(with_tiles)
    page = render_map(with_tiles)
    assert "L.tileLayer" in page and json.dumps(url) in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    online = render_map(service_map(hostile, "health", offline=False, title_date=DATE))
    assert re.search(r'<script src="[^"]*leaflet[^"]*\.js"', online)
    assert re.search(r'<link[^>]*href="[^"]*leaflet[^"]*\.css"', online)
    assert "L.tileLayer" in online
    assert leaflet_js()[-200:].strip() not in online


def test_layers_of_a_scenario_set_are_grouped(hostile_health: folium.Map) -> None:
    assert _groups(hostile_health) == {
        "Baseline": ["Travel time", "Unreachable people (by reason)", "Catchment boundaries"],
        "Option: new_post": ["Travel time and new facilities", "Who gains: minutes saved"],
        "Option: telehealth": [
            "Travel time and new facilities",
            "Who gains: minutes saved",
            "Served remotely only, or not at all",
        ],
        "Place context": [
            "Roads and ferries",
            "Zone boundaries",
            "Zones: share within 60\u00a0min",
            "Place names",
        ],
        "Facilities": ["Hospital", "Health centre", "Clinic", "Facility names"],
    }
    shown = [
        html.unescape(e.label_html)
        for g in _panel(hostile_health).groups
        for e in g.entries
        if e.layer.show  # type: ignore[attr-defined]
    ]
    assert shown == [
        "Travel time",
        "Unreachable people (by reason)",
        "Roads and ferries",
        "Zone boundaries",
        "Place names",
        "Hospital",
        "Health centre",
        "Clinic",
        "Facility names",
    ]
    # the baseline and context groups open; the options folded
    assert [g.open for g in _panel(hostile_health).groups] == [True, False, False, True, True]
    assert hostile_health.control_scale
    assert not any(type(c).__name__ == "LayerControl" for c in hostile_health._children.values())


def test_layers_of_a_baseline_only_run(hostile: RunResult) -> None:
    """A school service (no alternative touches it) still gets the alternatives' groups."""
    groups = _groups(service_map(hostile, "primary_school", title_date=DATE, langs=["en"]))
    assert groups["Facilities"] == ["Primary school", "Facility names"]
    assert groups["Option: new_post"] == [
        "Travel time and new facilities",
        "Who gains: minutes saved",
    ]
    assert not any("remotely" in name for names in groups.values() for name in names)


def test_time_overlay_lines_up_with_the_grid(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    """Every interior cell of a band shows that band at its centre's pixel on the map."""
    overlay = _layer(hostile_health, "Baseline", "Travel time")
    codes = _png_codes(overlay)  # type: ignore[arg-type]
    (south, west), (north, east) = overlay.bounds  # type: ignore[attr-defined]
    grid = hostile.grid
    t = grid.transform
    assert west == pytest.approx(t.c, abs=1e-9)
    assert east == pytest.approx(t.c + grid.cols * t.a, abs=1e-9)
    assert north == pytest.approx(t.f, abs=1e-9)
    assert south == pytest.approx(t.f + grid.rows * t.e, abs=1e-9)

    time_min = hostile.services["health"].search.time_min.reshape(grid.shape)
    th = sorted(hostile.scenario.services[0].thresholds_min)
    band = np.where(np.isfinite(time_min), np.searchsorted(th, time_min) + 1, 0)
    # cells whose 3×3 neighbourhood is all one band, so nearest sampling cannot differ
    same = np.ones_like(band, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            same &= band == np.roll(np.roll(band, dr, 0), dc, 1)
    same[[0, -1], :] = False
    same[:, [0, -1]] = False
    rows, cols = np.nonzero(same & (band > 0))
    assert len(rows) > 1000
    xs, ys = grid.cell_centres(rows * grid.cols + cols)
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    mx, my = to_merc.transform(xs, ys)
    (mw, ms), (me, mn) = (to_merc.transform(west, south), to_merc.transform(east, north))
    h, w = codes.shape
    px = np.floor((mx - mw) / (me - mw) * w).astype(int)
    py = np.floor((mn - my) / (mn - ms) * h).astype(int)
    np.testing.assert_array_equal(codes[py, px], band[rows, cols])
    # code 0 is transparent, every band opaque, each band its own colour
    rgba = _png_rgba(overlay)  # type: ignore[arg-type]
    assert (rgba[codes == 0, 3] == 0).all()
    assert (rgba[codes > 0, 3] == 255).all()
    colours = {tuple(rgba[codes == k][0]) for k in range(1, len(th) + 2) if (codes == k).any()}
    assert len(colours) == len(set(np.unique(codes).tolist()) - {0})


def test_unreachable_layer_shows_populated_unreached_cells_by_reason(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    overlay = _layer(hostile_health, "Baseline", "Unreachable people (by reason)")
    codes = _png_codes(overlay)  # type: ignore[arg-type]
    res = hostile.services["health"].search
    populated = hostile.population.people.ravel() > 0
    expected = set(np.unique(res.reason[populated & (res.reason != REASON_REACHED)]).tolist())
    assert expected  # the demo's islets without a ferry
    assert set(np.unique(codes).tolist()) - {0} == expected
    legend = _controls(hostile_health)[1]
    assert "No route" in legend


def test_catchment_boundaries_are_two_tone_lines(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    overlay = _layer(hostile_health, "Baseline", "Catchment boundaries")
    codes = _png_codes(overlay)  # type: ignore[arg-type]
    assert set(np.unique(codes).tolist()) == {0, 1, 2}
    # lines, not fills: a small share of the reached cells
    label = hostile.services["health"].search.facility
    assert 0 < (codes > 0).sum() < 0.2 * (label >= 0).sum()
    rgba = _png_rgba(overlay)  # type: ignore[arg-type]
    dark, light = rgba[codes == 1][0], rgba[codes == 2][0]
    assert dark[:3].max() < 40 and light[:3].min() > 215


def test_who_gains_codes_by_hand() -> None:
    inf = np.inf
    base = np.array([10.0, 10.0, 40.0, 100.0, inf, 10.0, 10.0, 50.0, 10.0])
    alt = np.array([9.8, 7.0, 20.0, 10.0, 30.0, inf, 20.0, 1.0, inf])
    populated = np.array([True] * 8 + [False])
    got = gain_codes(base, alt, populated)
    # unchanged, 3 min faster, 20 faster, 90 faster, newly reached, no longer reached, slower,
    # 49 faster, unpopulated
    np.testing.assert_array_equal(got, [0, 1, 3, 5, 6, 8, 7, 4, 0])


def test_alternative_layers_and_who_gains(hostile_health: folium.Map) -> None:
    group = _layer(hostile_health, "Option: new_post", "Travel time and new facilities")
    inner = list(group._children.values())
    overlays = [c for c in inner if isinstance(c, folium.raster_layers.ImageOverlay)]
    markers = [c for c in inner if isinstance(c, FacilityMarkers)]
    assert len(overlays) == 2
    assert len(markers) == 1
    (row,) = json.loads(markers[0].rows_json)
    assert html.escape(HOSTILE_ADDED) in row[2]
    assert "reach-alt-new_post-" in row[4]
    gains = _png_codes(_layer(hostile_health, "Option: new_post", "Who gains: minutes saved"))  # type: ignore[arg-type]
    assert (gains >= 1).sum() > 0
    # telemedicine changes no travel time: nobody gains minutes
    tele = _png_codes(_layer(hostile_health, "Option: telehealth", "Who gains: minutes saved"))  # type: ignore[arg-type]
    assert (tele == 0).all()


def test_virtual_layer_where_telemedicine_is_on(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    overlay = _layer(hostile_health, "Option: telehealth", "Served remotely only, or not at all")
    codes = _png_codes(overlay)  # type: ignore[arg-type]
    assert set(np.unique(codes).tolist()) >= {1}
    # the signal covers the western half: virtual-only cells lie there and nowhere east
    w = codes.shape[1]
    xs = np.nonzero(codes == 1)[1]
    assert len(xs) > 0 and xs.max() < w // 2 + 2
    res = hostile.alternatives["telehealth"].services["health"]
    assert res.access.connected is not None and res.virtual is not None


def test_zone_choropleth_matches_the_coverage_table(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    layer = _layer(hostile_health, "Place context", "Zones: share within 60\u00a0min")
    features = layer.data["features"]  # type: ignore[attr-defined]
    cov = hostile.services["health"].coverage.set_index("zone_id")
    zones = hostile.zones.set_index(hostile.zones["zone_id"].astype(str))
    loc = get_locale("en")
    assert len(features) == len(zones)
    for feature, zone_id in zip(features, zones.index, strict=True):
        tooltip = feature["properties"]["tooltip"]
        pct = 100 * cov.loc[zone_id, "within_60min"] / cov.loc[zone_id, "population"]
        assert f"{loc.pct(pct, 1)} within 60\u00a0min" in tooltip
        assert html.escape(str(zones.loc[zone_id, "name"])) in tooltip
        assert feature["properties"]["style"]["fillColor"].startswith("#")
    # geometry is rounded to 5 decimals and simplified (no more vertices than the input)
    coords = json.dumps(features[0]["geometry"])
    assert not re.search(r"\d\.\d{6,}", coords)


# --- place context: roads, settlements, labels ----------------------------------------------


def _decode(line: list[int], scale: int) -> np.ndarray:
    return np.cumsum(np.asarray(line).reshape(-1, 2), axis=0) / scale


def test_encode_lines_round_trips_and_drops_repeats() -> None:
    geom = shapely.MultiLineString(
        [[(120.1, -9.5), (120.10001, -9.5), (120.2, -9.4)], [(121.0, -9.0), (121.0, -9.0)]]
    )
    (line,) = encode_lines(geom, scale=10_000)  # the second line is one point once rounded
    assert line[:2] == [1_201_000, -95_000]
    np.testing.assert_allclose(_decode(line, 10_000), [[120.1, -9.5], [120.2, -9.4]])


def test_roads_layer_follows_the_region_roads(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    layer = _layer(hostile_health, "Place context", "Roads and ferries")
    assert isinstance(layer, Polylines)
    classes = json.loads(layer.classes_json)
    styles = [c["styles"] for c in classes]
    # main roads are drawn last and thickest, ferries dashed
    widths = [max(s["weight"] for s in st) for st in styles]
    assert widths.index(max(widths)) == len(widths) - 1 - ("dashArray" in styles[-1][0])
    points = np.vstack([_decode(line, layer.scale) for c in classes for line in c["lines"]])
    roads = hostile.region.roads
    lines = shapely.multilinestrings(
        shapely.linestrings(
            np.column_stack([roads.x, roads.y]),
            indices=np.repeat(np.arange(roads.n_ways), np.diff(roads.offsets)),
        )
    )
    # every drawn point within the simplification tolerance (half a cell) of a road
    cell_deg = float(min(hostile.grid.dx_m.min(), hostile.grid.dy_m)) / 111_320
    far = shapely.distance(shapely.points(points), lines)
    assert far.max() <= cell_deg  # half a cell of simplification, plus rounding
    # simplified: fewer points than the input lines
    assert len(points) < len(roads.x)
    by_class = road_class_lines(roads, tolerance_m=1.0, bounds=(-180, -90, 180, 90))
    assert set(by_class) >= {"main", "ferry"}


def test_label_zooms_by_hand() -> None:
    # two labels on one spot: the second shows only where they separate, or at the deepest zoom
    z = label_min_zooms([120.0, 120.0, 121.0], [-9.0, -9.0, -9.0], [60, 60, 60], max_zoom=17)
    assert z.tolist() == [7, 17, 7]
    # 0.01° apart vertically (about 1.1 km): 14 px apart from zoom 11 on
    z = label_min_zooms([120.0, 120.0], [-9.0, -9.01], [60, 60])
    assert z.tolist() == [7, 11]


def test_zone_names_stand_in_for_places_and_are_escaped(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    rows = _labels(hostile_health, "place names")
    names = {html.unescape(str(r[2])) for r in rows}
    assert names == set(hostile.zones["name"].astype(str))
    for row in rows:
        assert "<" not in str(row[2]) and row[4] == "reach-place-zone"
        assert 7 <= int(row[3]) <= 17  # type: ignore[call-overload]
    facility_rows = _labels(hostile_health, "facility names")
    table = hostile.services["health"].facility_table
    assert {html.unescape(str(r[2])) for r in facility_rows} == set(table["name"])
    assert {r[2] for r in facility_rows} >= {html.escape(n) for n in HOSTILE_FACILITIES.values()}
    assert all(7 <= int(r[3]) <= 17 for r in facility_rows)  # type: ignore[call-overload]


def test_osm_places_replace_zone_names_and_are_escaped(hostile: RunResult) -> None:
    m = service_map(with_places(hostile), "health", title_date=DATE, langs=["en"])
    rows = _labels(m, "place names")
    assert [(html.unescape(str(r[2])), r[4]) for r in rows] == [
        (HOSTILE_PLACE, "reach-place-town"),
        ("Desa Biasa", "reach-place-village"),
    ]
    page = render_map(m)
    assert "<img src=x" not in page and "\\u0026lt;img src=x onerror" in page


def _route_rows(m: folium.Map) -> list[list[object]]:
    for child in m._children.values():
        if type(child).__name__ == "RouteMarkers":
            return json.loads(child.rows_json)  # type: ignore[attr-defined, no-any-return]
    return []


def test_places_carry_their_route_in_words_and_lines(hostile: RunResult) -> None:
    run = with_place_routes(hostile)
    assert run.routes is not None
    m = service_map(run, "health", title_date=DATE, langs=["en", "id", "fr"])
    rows = _route_rows(m)
    assert len(rows) == 2  # both places, in the order the labels are
    town = rows[0]
    popup = str(town[2])
    assert html.escape(HOSTILE_PLACE) in popup and "<img" not in popup
    # the popup's time is the place's cell's, in every language
    origins = run.routes.origins
    row = origins[(origins["origin_id"] == "place:1") & (origins["service"] == "health")].iloc[0]
    for lang in ("en", "id", "fr"):
        minutes = get_locale(lang).minutes(float(row["travel_time_min"]))
        assert html.escape(minutes) in popup
    assert '<span lang="id">' in popup and "jalan kaki" in popup and "à pied" in popup
    # its route: legs as delta-encoded lines, each starting with its style
    legs = town[4]
    assert isinstance(legs, list) and legs
    assert all(isinstance(leg, list) and len(leg) >= 5 for leg in legs)
    page = render_map(m)
    assert "<img src=x" not in page
    assert "Routes from places (click a place)" in page


def test_a_capped_set_of_routes_says_so_in_the_legend(hostile: RunResult) -> None:
    run = with_place_routes(hostile)
    assert run.routes is not None
    keep = run.routes.origins["origin_id"] != "place:2"
    legs = run.routes.legs[run.routes.legs["origin_id"] != "place:2"]
    capped = dataclasses.replace(
        run, routes=dataclasses.replace(run.routes, origins=run.routes.origins[keep], legs=legs)
    )
    m = service_map(capped, "health", title_date=DATE, langs=["en"])
    assert len(_route_rows(m)) == 1
    assert "Routes of the 1 largest places of 2 only." in render_map(m)
    full = render_map(service_map(run, "health", title_date=DATE, langs=["en"]))
    assert "largest places of" not in full


def test_route_words_merge_legs_and_write_long_times_in_hours() -> None:
    kinds = ["walk", "road", "road", "ferry_wait", "ferry", "walk", "to_door"]
    modes = ["walk", "motorbike", "motorbike", "ferry", "ferry", "walk", "walk"]
    minutes = [45.0, 15.0, 10.0, 190.0, 40.0, 0.2, 3.0]
    assert route_parts(get_locale("en"), kinds, modes, minutes) == [
        "45\u00a0min walk to the road", "25\u00a0min by motorbike",
        "3\u00a0h\u00a010\u00a0min waiting for the ferry", "40\u00a0min on the ferry",
        "3\u00a0min to the door",
    ]  # fmt: skip
    ind = route_parts(get_locale("id"), kinds, modes, minutes)
    assert ind[0].endswith("jalan kaki ke jalan") and "naik sepeda motor" in ind[1]
    assert "jam" in ind[2] and "menunggu kapal feri" in ind[2]
    fr = route_parts(get_locale("fr"), kinds, modes, minutes)
    assert fr[0].endswith("à pied jusqu'à la route") and fr[1].endswith("en moto")
    # on foot, off road and along roads, is one walk
    walking = route_parts(
        get_locale("en"), ["walk", "road", "walk", "road"], ["walk"] * 4, [10.0, 20.0, 5.0, 100.0]
    )
    nb = "\u00a0"
    assert walking == [f"2{nb}h{nb}15{nb}min on foot (2{nb}h{nb}0{nb}min of it along roads)"]
    # legs too short to tell are told together, so the phrases add up to the route's time
    short = route_parts(
        get_locale("en"),
        ["walk", "road", "walk", "road", "to_door"],
        ["walk", "motorbike", "walk", "motorbike", "walk"],
        [0.4, 10.0, 0.45, 4.0, 0.4],
    )
    assert short == [f"14{nb}min by motorbike", f"1{nb}min in short stretches"]
    assert route_parts(get_locale("en"), ["walk", "road"], ["walk", "car"], [0.2, 9.0]) == [
        f"9{nb}min by car"
    ]


# --- escaping --------------------------------------------------------------------------------


def test_hostile_names_never_reach_the_page_raw(hostile_page: str) -> None:
    page = hostile_page
    for text in [*ALL_HOSTILE, HOSTILE_ADDED]:
        for raw in re.findall(r"<[^>]*>", text):
            if raw not in ("<script>", "</script>"):  # counted below
                assert raw not in page, raw
    # exactly the page's own script elements: folium's switches, Leaflet, the map's script
    assert page.lower().count("<script") == 3
    assert page.count("</script>") == 3
    # the names are there, escaped, inside JSON strings
    name = HOSTILE_FACILITIES["H001"]
    assert (
        json.dumps(html.escape(name)).replace("&", "\\u0026").replace("<", "\\u003c")[1:-1] in page
    )
    # the page title is escaped too
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title is not None and html.unescape(title.group(1)).startswith(HOSTILE_SCENARIO)


def test_popups_tooltips_and_title_are_escaped_text(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    rows = _markers(hostile_health)
    table = hostile.services["health"].facility_table
    assert len(rows) == len(table)
    by_class = {r[4].split()[-1]: r for r in rows}
    for i, (fid, name) in enumerate(zip(table["facility_id"], table["name"], strict=True)):
        row = by_class[f"reach-facility-{i}"]
        assert row[2].count(f"<b>{html.escape(name)}</b>") == 1
        assert f"<td>{html.escape(fid)}</td>" in row[2]
        assert row[3].startswith(html.escape(name))
        if fid in HOSTILE_FACILITIES:
            assert name == HOSTILE_FACILITIES[fid]
            assert "<img" not in row[2] and "<script" not in row[2]
    first = table.iloc[0]
    popup = by_class["reach-facility-0"][2]
    assert f"{first['catchment_population']:,.0f}" in popup
    pct = 100 * first["catchment_population"] / first["capacity"]
    assert f"({pct:.{0 if pct >= 10 else 1}f}%)" in popup
    # tier words, not codes
    assert "<td>Health centre</td>" in "".join(r[2] for r in rows)
    assert "health_centre" not in "".join(r[2] + r[3] for r in rows)
    title, legend = _controls(hostile_health)
    assert html.escape(HOSTILE_SCENARIO) in title and "6 May 2024" in title
    assert "<script" not in title
    assert "≤\u00a030\u00a0min" in html.unescape(legend) and "&gt;\u00a0120\u00a0min" in legend
    assert "Who gains" in legend and "remote only" in legend


# --- languages -------------------------------------------------------------------------------


def test_map_in_indonesian(hostile: RunResult) -> None:
    m = service_map(hostile, "health", title_date=DATE, langs=["id"])
    groups = _groups(m)
    assert list(groups) == [
        "Kondisi saat ini", "Opsi: new_post", "Opsi: telehealth", "Konteks wilayah", "Fasilitas",
    ]  # fmt: skip
    assert groups["Fasilitas"] == ["Rumah sakit", "Puskesmas", "Klinik / pustu", "Nama fasilitas"]
    title, legend = _controls(m)
    assert "6 Mei 2024" in title and "waktu tempuh dengan sepeda motor" in title
    text = html.unescape(legend)
    assert "Waktu tempuh ke fasilitas terdekat" in text and "30–60\u00a0menit" in text
    for english in ("Travel time", "<b>Legend<", "People who", "faster", "Facilities", " min"):
        assert english not in text, english
    table = hostile.services["health"].facility_table
    popup = next(r[2] for r in _markers(m) if r[4].endswith("reach-facility-0"))
    people = table.iloc[0]["catchment_population"]
    assert f"{people:,.0f}".replace(",", ".") in popup and "Jenis" in popup
    assert "Load" not in popup and "people" not in popup
    page = render_map(m)
    assert "<html" in page and "Waktu tempuh" in page


def test_two_languages_one_page_with_a_switch(hostile: RunResult) -> None:
    m = service_map(hostile, "health", title_date=DATE, langs=["id", "en"])
    page = render_map(m)
    title, legend = _controls(m)
    # every text in both languages, Indonesian first; the buttons name each language
    assert '<span lang="id">Waktu tempuh ke fasilitas terdekat</span>' in legend
    assert '<span lang="en">Travel time to the nearest facility</span>' in legend
    assert 'data-reach-set-lang="id"' in title and 'data-reach-set-lang="en"' in title
    assert 'aria-pressed="true">Bahasa Indonesia' in title
    assert 'span[lang]:not([lang="id"]) { display: none; }' in page
    assert "data-reach-lang" in page and "document.title" in page
    panel = _panel(m)
    assert '<span lang="id">Kondisi saat ini</span>' in panel.groups[0].title_html
    # names are the same in both languages: written once
    row = next(r for r in _markers(m) if r[4].endswith("reach-facility-0"))
    assert (
        row[2].count(html.escape(str(hostile.services["health"].facility_table.iloc[0]["name"])))
        == 1
    )
    # the scenario's own languages by default: the demo asks for English and Indonesian
    default = service_map(hostile, "health", title_date=DATE)
    assert "data-reach-set-lang" in _controls(default)[0]


# --- colours ---------------------------------------------------------------------------------

#: Smallest CAM02-UCS distance between colours a reader must tell apart (see the module doc).
MIN_DELTA_E = 10.0
_MAP_BACKGROUND = "#dddddd"  # Leaflet's own, where there is no basemap
_VISIONS = ("normal", "deuteranomaly", "protanomaly", "tritanomaly")


def _seen(colour: str, opacity: float, vision: str) -> np.ndarray:
    """The colour as drawn over the map background, as a reader with ``vision`` sees it."""
    rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)], dtype=float)
    bg = np.array([int(_MAP_BACKGROUND[k : k + 2], 16) for k in (1, 3, 5)], dtype=float)
    drawn = opacity * rgb + (1 - opacity) * bg
    if vision == "normal":
        return drawn
    cvd = {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}
    return np.clip(cspace_convert(drawn / 255, cvd, "sRGB1"), 0, 1) * 255


def _worst(a: tuple[str, float], b: tuple[str, float]) -> float:
    """The smallest distance between two drawn colours over the four kinds of vision."""
    return min(
        float(deltaE(_seen(*a, v), _seen(*b, v), input_space="sRGB255", uniform_space="CAM02-UCS"))
        for v in _VISIONS
    )


def _legend_colours(legend: str) -> dict[str, list[tuple[str, float]]]:
    """Each legend section's swatches: (colour, opacity), for box swatches only."""
    out: dict[str, list[tuple[str, float]]] = {}
    for key, body in re.findall(r'<section data-reach-legend="(\w+)"[^>]*>(.*?)</section>', legend):
        out[key] = [
            (c, float(o))
            for c, o in re.findall(
                r'<i data-reach-colour="(#[0-9a-f]{6})" data-reach-opacity="([\d.]+)"', body
            )
        ]
    return out


def test_colour_check_catches_the_old_palette() -> None:
    """The check fails the colours this map used to have, so it can fail."""
    assert _worst(("#7a0177", 0.75), ("#6a3d9a", 0.95)) < MIN_DELTA_E  # > 120 / beyond limit
    assert _worst(("#1a9641", 0.75), ("#f07c4a", 0.75)) < MIN_DELTA_E  # ≤ 30 / 60–120 (protan)


def test_colours_stay_apart_for_colour_blind_readers(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    legend = _controls(hostile_health)[1]
    sections = _legend_colours(legend)
    assert {"time", "zones", "gains", "virtual"} <= set(sections)
    for key, colours in sections.items():
        for a, b in itertools.combinations(colours, 2):
            assert _worst(a, b) >= MIN_DELTA_E, (key, a, b)
    # unreachable people sit beside the far bands: every reason apart from every band
    reasons = [(c, 0.95) for c in REASON_COLOURS.values()]
    assert len(reasons) == 5
    for a, b in itertools.combinations(reasons, 2):
        assert _worst(a, b) >= MIN_DELTA_E, (a, b)
    for band in sections["time"]:
        for reason in reasons:
            assert _worst(band, reason) >= MIN_DELTA_E, (band, reason)
    # facility markers: fills of no band's colour, and fill or outline far from every band
    for row in {
        json.dumps(c.style_json)
        for c in hostile_health._children.values()
        if isinstance(c, FacilityMarkers)
    }:
        style = json.loads(json.loads(row))
        for band in sections["time"]:
            fill = _worst((style["fillColor"], 1.0), band)
            outline = _worst((style["color"], 1.0), band)
            assert fill >= MIN_DELTA_E and max(fill, outline) >= 2 * MIN_DELTA_E, (style, band)


def test_time_bands_stay_apart_with_five_thresholds(hostile: RunResult) -> None:
    spec = hostile.scenario.services[0].model_copy(update={"thresholds_min": [15, 30, 60, 90, 120]})
    base = hostile.baseline.services["health"]
    services = dict(hostile.baseline.services)
    services["health"] = dataclasses.replace(base, spec=spec)
    run = dataclasses.replace(
        hostile, baseline=dataclasses.replace(hostile.baseline, services=services)
    )
    legend = _controls(service_map(run, "health", title_date=DATE, langs=["en"]))[1]
    bands = _legend_colours(legend)["time"]
    assert len(bands) == 6
    for a, b in itertools.combinations(bands, 2):
        assert _worst(a, b) >= MIN_DELTA_E, (a, b)


# --- size ------------------------------------------------------------------------------------


def test_demo_page_stays_small(hostile: RunResult, tmp_path: Path) -> None:
    for path in write_maps(hostile, tmp_path, title_date=DATE):
        assert path.stat().st_size < 1_000_000, path.name


def test_large_grids_are_sampled_down(hostile: RunResult) -> None:
    m = service_map(hostile, "health", title_date=DATE, max_image_px=64, langs=["en"])
    codes = _png_codes(_layer(m, "Baseline", "Travel time"))  # type: ignore[arg-type]
    assert max(codes.shape) == 64
    unreachable = _png_codes(_layer(m, "Baseline", "Unreachable people (by reason)"))  # type: ignore[arg-type]
    assert (unreachable > 0).any()  # scattered cells survive sampling down


@pytest.mark.realdata
def test_comoros_maps_stay_a_few_megabytes(comoros: Path, tmp_path: Path) -> None:
    run = run_scenario(load_scenario(REPO / "scenarios" / "comoros.toml"), write=False)
    assert run.region.places is not None and len(run.region.places) > 100
    paths = write_maps(run, tmp_path, title_date=DATE)
    assert [p.name for p in paths] == [map_file_name(s.name) for s in run.scenario.services]
    for path in paths:
        assert path.stat().st_size < 3_000_000, path.name
    text = paths[0].read_text("utf-8")
    assert "Moroni" in text and "reach-place-city" in text


def test_stress_tests_are_headed_as_such(tmp_path: Path) -> None:
    """An option that only closes, suspends or slows things is a stress test on the map too,
    in each language, and keeps its display name."""
    from tests.helpers import write_tiny_set

    run = run_scenario(load_scenario(write_tiny_set(tmp_path)), write=False)
    heads = set(_groups(service_map(run, "health", title_date=DATE, langs=["en"])))
    assert {"Stress test: wet", "Stress test: close_east", "Stress test: few_bikes"} <= heads
    assert {"Option: new_post", "Option: pave", "Option: tele"} <= heads
    page = render_map(service_map(run, "health", title_date=DATE, langs=["id", "en"]))
    assert "Uji ketahanan: wet" in page and "Opsi: new_post" in page
