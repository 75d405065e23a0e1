"""HTML coverage maps: layers, alignment, escaping, determinism, offline pages (no browser).

The runs are real: the generated demo region, and a scenario set on the demo inputs whose
scenario, facility and zone names are hostile (HTML, script and template-literal payloads).
The browser tests (``test_maps_browser.py``) load the same pages in Chromium.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import folium
import numpy as np
import pytest
from folium.map import Layer
from PIL import Image
from pyproj import Transformer

from reach.codes import REASON_REACHED
from reach.demo import demo_scenario_toml, generate_demo
from reach.outputs.map_assets import leaflet_css, leaflet_js, leaflet_version
from reach.outputs.maps import (
    FacilityMarkers,
    HtmlControl,
    catchment_colours,
    gain_codes,
    map_file_name,
    render_map,
    service_map,
    write_maps,
)
from reach.results import RunResult
from reach.run.scenario_set import run_scenario
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


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return build_hostile_run(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def hostile_health(hostile: RunResult) -> folium.Map:
    return service_map(hostile, "health", title_date=DATE)


@pytest.fixture(scope="module")
def hostile_page(hostile_health: folium.Map) -> str:
    return render_map(hostile_health)


# --- helpers ---------------------------------------------------------------------------------


def _layers(m: folium.Map) -> dict[str, Layer]:
    """The map's layers in the layer control, by (unescaped) name."""
    return {
        html.unescape(c.layer_name): c
        for c in m._children.values()
        if isinstance(c, Layer) and c.control
    }


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
    with_tiles = render_map(service_map(hostile, "health", basemap_url=url, title_date=DATE))
    assert "L.tileLayer" in with_tiles and json.dumps(url) in with_tiles
    assert not re.search(r"<script[^>]*\bsrc\s*=", with_tiles)
    online = render_map(service_map(hostile, "health", offline=False, title_date=DATE))
    assert re.search(r'<script src="[^"]*leaflet[^"]*\.js"', online)
    assert re.search(r'<link[^>]*href="[^"]*leaflet[^"]*\.css"', online)
    assert "L.tileLayer" in online
    assert leaflet_js()[-200:].strip() not in online


def test_layers_of_a_scenario_set(hostile_health: folium.Map) -> None:
    layers = _layers(hostile_health)
    assert list(layers) == [
        "Travel time (baseline)",
        "Catchments (nearest facility)",
        "Unreachable people (by reason)",
        "Alternative: new_post",
        "Alternative: telehealth",
        "Who gains: minutes saved (new_post)",
        "Who gains: minutes saved (telehealth)",
        "Virtual-only / neither at 60 min (telehealth)",
        "Zones: % within 60 min",
        "Zone boundaries",
        "Facilities: hospital",
        "Facilities: health_centre",
        "Facilities: clinic",
    ]
    shown = [name for name, layer in layers.items() if layer.show]
    assert shown == [
        "Travel time (baseline)",
        "Unreachable people (by reason)",
        "Zone boundaries",
        "Facilities: hospital",
        "Facilities: health_centre",
        "Facilities: clinic",
    ]
    assert hostile_health.control_scale
    assert any(type(c).__name__ == "LayerControl" for c in hostile_health._children.values())


def test_layers_of_a_baseline_only_run(hostile: RunResult) -> None:
    """A school service (no alternative touches it) still gets the alternatives' groups."""
    layers = _layers(service_map(hostile, "primary_school", title_date=DATE))
    assert "Facilities: primary" in layers
    assert "Alternative: new_post" in layers and "Who gains: minutes saved (new_post)" in layers
    assert not any(name.startswith("Virtual") for name in layers)


def test_time_overlay_lines_up_with_the_grid(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    """Every interior cell of a band shows that band at its centre's pixel on the map."""
    overlay = _layers(hostile_health)["Travel time (baseline)"]
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
    overlay = _layers(hostile_health)["Unreachable people (by reason)"]
    codes = _png_codes(overlay)  # type: ignore[arg-type]
    res = hostile.services["health"].search
    populated = hostile.population.people.ravel() > 0
    expected = set(np.unique(res.reason[populated & (res.reason != REASON_REACHED)]).tolist())
    assert expected  # the demo's islets without a ferry
    assert set(np.unique(codes).tolist()) - {0} == expected
    legend = _controls(hostile_health)[1]
    assert "no route" in legend


def test_catchment_colours_differ_where_catchments_touch(hostile: RunResult) -> None:
    grid = hostile.grid
    label = hostile.services["health"].search.facility.reshape(grid.shape)
    colour = catchment_colours(label, grid.shape)
    assert len(colour) == label.max() + 1
    for a, b in ((label[:, :-1], label[:, 1:]), (label[:-1, :], label[1:, :])):
        touch = (a != b) & (a >= 0) & (b >= 0)
        assert touch.any()
        assert (colour[a[touch]] != colour[b[touch]]).all()
    np.testing.assert_array_equal(catchment_colours(np.array([[0, 0, 1, 1, 2]]), (1, 5)), [0, 1, 0])
    assert len(catchment_colours(np.full((2, 2), -1), (2, 2))) == 0


def test_who_gains_codes_by_hand() -> None:
    inf = np.inf
    base = np.array([10.0, 10.0, 40.0, 100.0, inf, 10.0, 10.0, 50.0, 10.0])
    alt = np.array([9.8, 7.0, 20.0, 10.0, 30.0, inf, 20.0, 1.0, inf])
    populated = np.array([True] * 8 + [False])
    got = gain_codes(base, alt, populated)
    # unchanged, 3 min faster, 20 faster, 90 faster, newly reached, no longer reached, slower,
    # 49 faster, unpopulated
    np.testing.assert_array_equal(got, [0, 1, 3, 5, 6, 8, 7, 4, 0])


def test_alternative_layers_and_who_gains(hostile: RunResult, hostile_health: folium.Map) -> None:
    layers = _layers(hostile_health)
    group = layers["Alternative: new_post"]
    inner = list(group._children.values())
    overlays = [c for c in inner if isinstance(c, folium.raster_layers.ImageOverlay)]
    markers = [c for c in inner if isinstance(c, FacilityMarkers)]
    assert len(overlays) == 2 and not any(o.control for o in overlays)
    assert len(markers) == 1
    (row,) = json.loads(markers[0].rows_json)
    assert html.escape(HOSTILE_ADDED) in row[2]
    assert "reach-alt-new_post-" in row[4]
    gains = _png_codes(layers["Who gains: minutes saved (new_post)"])  # type: ignore[arg-type]
    assert (gains >= 1).sum() > 0
    # telemedicine changes no travel time: nobody gains minutes
    tele = _png_codes(layers["Who gains: minutes saved (telehealth)"])  # type: ignore[arg-type]
    assert (tele == 0).all()


def test_virtual_layer_where_telemedicine_is_on(
    hostile: RunResult, hostile_health: folium.Map
) -> None:
    overlay = _layers(hostile_health)["Virtual-only / neither at 60 min (telehealth)"]
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
    layer = _layers(hostile_health)["Zones: % within 60 min"]
    features = layer.data["features"]  # type: ignore[attr-defined]
    cov = hostile.services["health"].coverage.set_index("zone_id")
    zones = hostile.zones.set_index(hostile.zones["zone_id"].astype(str))
    assert len(features) == len(zones)
    for feature, zone_id in zip(features, zones.index, strict=True):
        tooltip = feature["properties"]["tooltip"]
        pct = 100 * cov.loc[zone_id, "within_60min"] / cov.loc[zone_id, "population"]
        assert f"{pct:.1f} % within 60 min" in tooltip
        assert html.escape(str(zones.loc[zone_id, "name"])) in tooltip
        assert feature["properties"]["style"]["fillColor"].startswith("#")
    # geometry is rounded to 5 decimals and simplified (no more vertices than the input)
    coords = json.dumps(features[0]["geometry"])
    assert not re.search(r"\d\.\d{6,}", coords)


def test_hostile_names_never_reach_the_page_raw(hostile: RunResult, hostile_page: str) -> None:
    page = hostile_page
    for text in [*ALL_HOSTILE, HOSTILE_ADDED]:
        for raw in re.findall(r"<[^>]*>", text):
            if raw not in ("<script>", "</script>"):  # counted below
                assert raw not in page, raw
    # exactly the page's own script elements: Leaflet, the switches, and folium's one script
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
    rows = [
        row
        for c in hostile_health._children.values()
        if isinstance(c, FacilityMarkers)
        for row in json.loads(c.rows_json)
    ]
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
    assert f"({pct:.{0 if pct >= 10 else 1}f} %)" in popup
    title, legend = _controls(hostile_health)
    assert html.escape(HOSTILE_SCENARIO) in title and DATE in title
    assert "<script" not in title
    assert "≤ 30 min" in html.unescape(legend) and "&gt; 120 min" in legend
    assert "Who gains" in legend and "virtual only" in legend


def test_demo_page_stays_small(hostile: RunResult, tmp_path: Path) -> None:
    for path in write_maps(hostile, tmp_path, title_date=DATE):
        assert path.stat().st_size < 1_000_000, path.name


def test_large_grids_are_sampled_down(hostile: RunResult) -> None:
    m = service_map(hostile, "health", title_date=DATE, max_image_px=64)
    codes = _png_codes(_layers(m)["Travel time (baseline)"])  # type: ignore[arg-type]
    assert max(codes.shape) == 64
    unreachable = _png_codes(_layers(m)["Unreachable people (by reason)"])  # type: ignore[arg-type]
    assert (unreachable > 0).any()  # scattered cells survive sampling down


@pytest.mark.realdata
def test_comoros_maps_stay_a_few_megabytes(comoros: Path, tmp_path: Path) -> None:
    run = run_scenario(load_scenario(REPO / "scenarios" / "comoros.toml"), write=False)
    paths = write_maps(run, tmp_path, title_date=DATE)
    assert [p.name for p in paths] == [map_file_name(s.name) for s in run.scenario.services]
    for path in paths:
        assert path.stat().st_size < 3_000_000, path.name
