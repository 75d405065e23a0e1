"""The HTML coverage maps in a real browser (Debian's Chromium driven by Playwright).

Each page is opened from a file with every request routed: anything but ``file:`` and ``data:``
is blocked and recorded, so an offline page that tries to reach the network fails. The pages
carry hostile names (see ``test_maps.py``); ``alert``/``confirm``/``prompt`` are hooked, dialogs
are recorded, and the payloads' own flag (``window.__reachPwned``) must stay unset.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reach.outputs.maps import write_maps
from reach.results import RunResult
from tests.test_maps import (
    DATE,
    HOSTILE_ADDED,
    HOSTILE_FACILITIES,
    HOSTILE_PLACE,
    HOSTILE_SCENARIO,
    HOSTILE_ZONES,
    build_hostile_run,
    with_place_routes,
    with_places,
)

pytestmark = pytest.mark.browser

_HOOKS = """
window.__reachDialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = function (msg) { window.__reachDialogs.push(name + ":" + msg); };
}
"""
_MAP = "window[document.querySelector('.folium-map').id]"


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("REACH_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed: pip install playwright")
    exe = _chromium()
    if exe is None:
        pytest.skip(
            "Chromium is not installed: apt-get install -y chromium (or set REACH_CHROMIUM)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return build_hostile_run(tmp_path_factory.mktemp("hostile_browser"))


@pytest.fixture(scope="module")
def health_page(hostile: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The health map in English only, with hostile place names too."""
    folder = tmp_path_factory.mktemp("maps")
    paths = write_maps(with_places(hostile), folder, title_date=DATE, langs=["en"])
    return next(p for p in paths if p.name == "map_health.html")


@pytest.fixture(scope="module")
def routes_page(hostile: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The health map in English and French, with its (hostile) places' routes."""
    folder = tmp_path_factory.mktemp("maps_routes")
    paths = write_maps(with_place_routes(hostile), folder, title_date=DATE, langs=["en", "fr"])
    return next(p for p in paths if p.name == "map_health.html")


@pytest.fixture(scope="module")
def bilingual_page(hostile: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The health map in Indonesian and English (the first shown first)."""
    folder = tmp_path_factory.mktemp("maps_id_en")
    paths = write_maps(hostile, folder, title_date=DATE, langs=["id", "en"])
    return next(p for p in paths if p.name == "map_health.html")


@dataclass
class _Log:
    """What a page did that it should not have."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any, health_page: Path) -> Iterator[tuple[Any, _Log]]:
    """The health map, loaded and settled; on teardown, check that nothing bad happened."""
    yield from _open(browser, health_page, 1280, 900)


def _open(browser: Any, path: Path, width: int, height: int) -> Iterator[tuple[Any, _Log]]:
    """Open a page at a viewport size; afterwards, check that nothing bad happened."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(_HOOKS)
    log = _Log()

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            log.requests.append(url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: log.page_errors.append(str(e)))
    pg.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
    pg.goto(path.as_uri())
    pg.wait_for_selector(".reach-layers")
    _settle(pg)
    yield pg, log
    try:
        assert pg.evaluate("window.__reachPwned") is None
        assert pg.evaluate("window.__reachDialogs") == []
        assert log.dialogs == []
        assert log.requests == [], "the offline page tried the network"
        assert log.console_errors == []
        assert log.page_errors == []
    finally:
        context.close()


def _settle(pg: Any) -> None:
    """Wait until every image has loaded and no pan or zoom animation runs."""
    pg.wait_for_function("Array.from(document.images).every(i => i.complete)")
    pg.wait_for_function("!document.querySelector('.leaflet-pan-anim, .leaflet-zoom-anim')")


def _overlay_labels(pg: Any) -> list[str]:
    return [t.strip() for t in pg.locator(".reach-layers label").all_inner_texts()]


def _toggle(pg: Any, label: str, group: str | None = None) -> None:
    scope = pg.locator(".reach-layers")
    if group is not None:
        scope = pg.locator("details.reach-group", has=pg.locator("summary", has_text=group))
        if not scope.evaluate("d => d.open"):
            scope.locator("summary").first.click()
    scope.locator("label", has_text=label).first.locator("input").click()
    _settle(pg)


def _open_popup(pg: Any, selector: str) -> Any:
    """Click a marker (again, if a pan animation swallowed the click) until its popup opens."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    popup = pg.locator(".leaflet-popup-content")
    for _ in range(3):
        _settle(pg)
        pg.locator(selector).click()
        try:
            popup.wait_for(timeout=3000)
        except PlaywrightTimeoutError:
            continue
        pg.wait_for_function(
            "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
        )
        return popup
    raise AssertionError(f"clicking {selector} opened no popup")


def _popup_clear_of_controls(pg: Any) -> bool:
    """Whether the open popup lies inside the map and overlaps none of its controls."""
    return bool(
        pg.evaluate(
            """(() => {
            const r = document.querySelector('.leaflet-popup').getBoundingClientRect();
            const box = document.querySelector('.folium-map').getBoundingClientRect();
            if (r.left < box.left || r.right > box.right || r.top < box.top) { return false; }
            return Array.from(document.querySelectorAll('.leaflet-control')).every(c => {
                const b = c.getBoundingClientRect();
                return b.width === 0 || r.right <= b.left || b.right <= r.left
                    || r.bottom <= b.top || b.bottom <= r.top;
            });
        })()"""
        )
    )


def _assert_not_blank(png: bytes) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    assert pixels.std() > 20
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 30


def test_page_loads_offline_with_its_layers(page: tuple[Any, _Log], tmp_path: Path) -> None:
    pg, _ = page
    # the option groups start folded: their layers are not listed visibly
    visible = [t for t in _overlay_labels(pg) if t]
    assert visible == [
        "Travel time",
        "Unreachable people (by reason)",
        "Catchment boundaries",
        "Roads and ferries",
        "Zone boundaries",
        "Zones: share within 60\u00a0min",
        "Place names",
        "Hospital",
        "Health centre",
        "Clinic",
        "Facility names",
    ]
    assert pg.locator("details.reach-group:not([open]) > summary").all_inner_texts() == [
        "Option: new_post",
        "Option: telehealth",
    ]
    # the travel-time and unreachable images are on the map, the scale bar too
    assert pg.locator("img.leaflet-image-layer").count() == 2
    assert pg.locator(".leaflet-control-scale").count() == 1
    assert pg.locator("path.reach-facility").count() == 6
    title = pg.locator(".reach-title").inner_text()
    assert HOSTILE_SCENARIO in title and "6 May 2024" in title
    legend = pg.locator(".reach-legend").inner_text()
    assert ">\u00a0120\u00a0min" in legend and "Hospital" in legend
    # sections of layers that are off are hidden
    assert "Who gains" not in legend and "Catchment boundaries" not in legend
    # the page opens on the region: every facility is in view
    for box in (m.bounding_box() for m in pg.locator("path.reach-facility").all()):
        assert box is not None
        assert 0 <= box["x"] <= 1280 and 0 <= box["y"] <= 900
    shot = pg.screenshot(path=str(tmp_path / "map_health.png"))
    _assert_not_blank(shot)
    # the images are drawn: much of the map area (between the controls) is not bare background
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))[80:850, 260:980]
    background = (pixels == np.array([221, 221, 221])).all(axis=2)
    assert (~background).mean() > 0.05


def _boxes(pg: Any) -> dict[str, dict[str, float]]:
    out = {}
    for name, selector in (
        ("title", ".reach-title"),
        ("legend", ".reach-legend"),
        ("layers", ".reach-layers"),
        ("zoom", ".leaflet-control-zoom"),
        ("scale", ".leaflet-control-scale"),
    ):
        box = pg.locator(selector).bounding_box()
        assert box is not None, name
        out[name] = box
    return out


def _assert_laid_out(pg: Any, width: int, height: int) -> None:
    """Every control inside the viewport, and no two overlapping."""
    boxes = _boxes(pg)
    for name, b in boxes.items():
        assert b["x"] >= 0 and b["y"] >= 0, name
        assert b["x"] + b["width"] <= width and b["y"] + b["height"] <= height, name
    for (na, a), (nb, b) in itertools.combinations(boxes.items(), 2):
        apart = (
            a["x"] + a["width"] <= b["x"]
            or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"]
            or b["y"] + b["height"] <= a["y"]
        )
        assert apart, (na, nb, a, b)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1400, 1000)])
def test_controls_fit_and_never_overlap(
    browser: Any, health_page: Path, width: int, height: int, tmp_path: Path
) -> None:
    for pg, _ in _open(browser, health_page, width, height):
        _assert_laid_out(pg, width, height)
        legend = pg.locator(".reach-legend")
        # the legend, open, shows all its content (no scrolling needed) as the page opens
        assert legend.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
        # worst case: every group unfolded, every layer on (every legend section shown)
        folded = pg.locator("details.reach-group:not([open]) > summary")
        while folded.count():
            folded.first.click()
        unticked = pg.locator(".reach-layers input[type=checkbox]:not(:checked)")
        while unticked.count():
            unticked.first.click()
        _settle(pg)
        assert pg.locator(".reach-legend section:not([hidden])").count() >= 8
        _assert_laid_out(pg, width, height)
        pg.screenshot(path=str(tmp_path / f"all_layers_{width}x{height}.png"))


def test_small_screens_start_folded(browser: Any, health_page: Path) -> None:
    for pg, _ in _open(browser, health_page, 480, 520):
        assert pg.locator(".reach-layers details[open], .reach-legend details[open]").count() == 0
        _assert_laid_out(pg, 480, 520)
        pg.locator(".reach-legend summary").click()
        assert "Travel time" in pg.locator(".reach-legend").inner_text()


def test_language_switch_swaps_every_text_in_the_page(browser: Any, bilingual_page: Path) -> None:
    for pg, log in _open(browser, bilingual_page, 1366, 768):
        legend = pg.locator(".reach-legend")
        assert "Waktu tempuh ke fasilitas terdekat" in legend.inner_text()
        assert "Travel time" not in legend.inner_text()
        assert pg.evaluate("document.documentElement.lang") == "id"
        assert "Kondisi saat ini" in pg.locator(".reach-layers").inner_text()
        popup = _open_popup(pg, "path.reach-facility-0")
        assert "Jenis" in popup.inner_text() and "Type" not in popup.inner_text()
        pg.locator(".leaflet-popup-close-button").click()
        pg.locator("button[data-reach-set-lang=en]").click()
        assert "Travel time to the nearest facility" in legend.inner_text()
        assert "Waktu tempuh" not in legend.inner_text()
        assert "Baseline" in pg.locator(".reach-layers").inner_text()
        assert pg.evaluate("document.documentElement.lang") == "en"
        assert pg.locator("button[data-reach-set-lang=en]").get_attribute("aria-pressed") == "true"
        assert "Health" in pg.title() or "health" in pg.title()
        popup = _open_popup(pg, "path.reach-facility-0")
        assert "Type" in popup.inner_text() and "Jenis" not in popup.inner_text()
        assert log.requests == []


def test_labels_show_names_as_text_by_zoom(page: tuple[Any, _Log]) -> None:
    pg, _ = page
    start = pg.locator(".reach-facility-label").count()
    assert pg.locator(".reach-place-town", has_text=HOSTILE_PLACE).count() == 1
    pg.evaluate(f"{_MAP}.setZoom(17, {{animate: false}})")
    _settle(pg)
    labels = pg.locator(".reach-label")
    # deeper in, more of the labels in view (every label exists from zoom 17 on)
    assert pg.locator(".reach-facility-label").count() >= start
    assert labels.locator("img, script, svg, [onerror]").count() == 0
    pg.evaluate(f"{_MAP}.setZoom(5, {{animate: false}})")
    _settle(pg)
    assert pg.locator(".reach-label").count() == 0
    pg.evaluate(f"{_MAP}.setZoom(17, {{animate: false}})")
    _settle(pg)
    texts = "".join(pg.locator(".reach-facility-label").all_inner_texts())
    assert any(name in texts for name in HOSTILE_FACILITIES.values()) or texts


def test_a_clicked_place_tells_its_route_and_draws_it(
    browser: Any, routes_page: Path, hostile: RunResult, tmp_path: Path
) -> None:
    for pg, _ in _open(browser, routes_page, 1280, 900):
        assert pg.locator("path.reach-route-place").count() == 2
        assert pg.locator("path.reach-route").count() == 0  # no route until a place is clicked
        popup = _open_popup(pg, "path.reach-route-place >> nth=0")
        text = popup.inner_text()
        assert HOSTILE_PLACE in text  # the name as text, not markup
        assert "\u00a0min to " in text and ("walk" in text or "motorbike" in text)
        assert popup.locator("img, script, svg, [onerror]").count() == 0
        # its route is drawn: a casing and a core per leg
        pg.wait_for_function("document.querySelectorAll('path.reach-route').length > 0")
        assert pg.locator("path.reach-route").count() >= 1
        _assert_not_blank(pg.screenshot(path=str(tmp_path / "map_health_route.png")))
        # in French, the same popup's words
        pg.locator("[data-reach-set-lang=fr]").click()
        assert " à pied" in popup.inner_text() or " en moto" in popup.inner_text()
        pg.locator(".leaflet-popup-close-button").click()
        pg.wait_for_function("document.querySelectorAll('path.reach-route').length === 0")
        # a click away from the places: that spot's own time band, no route
        pg.locator("[data-reach-set-lang=en]").click()
        zones = hostile.zones.to_crs("EPSG:4326")
        point = zones.geometry.iloc[len(zones) // 2].representative_point()
        x, y = pg.evaluate(
            f"(() => {{ const p = {_MAP}.latLngToContainerPoint([{point.y}, {point.x}]);"
            " return [p.x, p.y]; })()"
        )
        pg.mouse.click(x, y)
        cell = pg.locator(".leaflet-popup-content", has_text="Travel time here")
        cell.wait_for()
        assert "min" in cell.inner_text() and "Click a place" in cell.inner_text()
        # with the command that gives this spot's own route, at the clicked spot
        command = cell.locator("code.reach-at").first.inner_text()
        lon, lat = (float(v) for v in command.rsplit("--at ", 1)[1].split(","))
        assert command.startswith("reach explain ")
        assert abs(lon - point.x) < 1e-3 and abs(lat - point.y) < 1e-3
        assert pg.locator("path.reach-route").count() == 0


def test_facility_popups_show_hostile_names_as_text(page: tuple[Any, _Log]) -> None:
    pg, _ = page
    for row, fid in enumerate(sorted(HOSTILE_FACILITIES)):
        popup = _open_popup(pg, f"path.reach-facility-{row}")
        text = popup.inner_text()
        assert HOSTILE_FACILITIES[fid] in text
        assert fid in text and "Load / capacity" in text and "Type" in text
        assert popup.locator("img, script, svg, [onerror], [onload]").count() == 0
        _settle(pg)
        assert _popup_clear_of_controls(pg), f"the popup of {fid} opens under a control"
        pg.locator(".leaflet-popup-close-button").click()
        pg.wait_for_function("document.querySelectorAll('.leaflet-popup').length === 0")
    pg.locator("path.reach-facility-0").hover()
    assert HOSTILE_FACILITIES["H001"] in pg.locator(".leaflet-tooltip").inner_text()


def test_zone_tooltips_show_hostile_names_as_text(
    page: tuple[Any, _Log], hostile: RunResult
) -> None:
    pg, _ = page
    _toggle(pg, "Zones: share within")
    zones = hostile.zones.to_crs("EPSG:4326").set_index("zone_id")
    for zone_id, name in HOSTILE_ZONES.items():
        point = zones.loc[zone_id, "geometry"].representative_point()
        x, y = pg.evaluate(
            f"(() => {{ const p = {_MAP}.latLngToContainerPoint([{point.y}, {point.x}]);"
            " return [p.x, p.y]; })()"
        )
        pg.mouse.move(x, y)
        tooltip = pg.locator(".leaflet-tooltip", has_text=name)
        tooltip.wait_for()
        assert "within 60\u00a0min" in tooltip.inner_text()
        assert tooltip.locator("img, script, svg").count() == 0
        pg.mouse.move(5, 450)


def test_alternative_layers_switch_on(
    page: tuple[Any, _Log], hostile: RunResult, tmp_path: Path
) -> None:
    pg, _ = page
    _toggle(pg, "Travel time", group="Baseline")
    _toggle(pg, "Travel time and new facilities", group="Option: new_post")
    _toggle(pg, "Who gains", group="Option: new_post")
    _toggle(pg, "Served remotely only", group="Option: telehealth")
    legend = pg.locator(".reach-legend").inner_text()
    assert "Who gains" in legend and "New facility" in legend
    # baseline unreachable + the alternative's time and unreachable + who gains + virtual
    assert pg.locator("img.leaflet-image-layer").count() == 5
    table = hostile.alternatives["new_post"].services["health"].facility_table
    row = int(np.flatnonzero(table["facility_id"].to_numpy() == "X900")[0])
    marker = pg.locator(f"path.reach-alt-new_post-{row}")
    assert marker.count() == 1
    marker.click()
    popup = pg.locator(".leaflet-popup-content")
    popup.wait_for()
    assert HOSTILE_ADDED in popup.inner_text()
    assert popup.locator("[onmouseover]").count() == 0
    pg.wait_for_function(
        "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    _settle(pg)
    _assert_not_blank(pg.screenshot(path=str(tmp_path / "map_health_alternative.png")))


@pytest.mark.realdata
@pytest.mark.slow
def test_comoros_map_renders_offline(browser: Any, comoros: Path, tmp_path: Path) -> None:
    from reach.run.scenario_set import run_scenario
    from reach.spec import load_scenario

    repo = Path(__file__).resolve().parents[1]
    run = run_scenario(load_scenario(repo / "scenarios" / "comoros.toml"), write=False)
    page_path = next(
        p for p in write_maps(run, tmp_path, title_date=DATE) if p.name == "map_health.html"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(_HOOKS)
    log = _Log()

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            log.requests.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: log.page_errors.append(str(e)))
    try:
        pg.goto(page_path.as_uri())
        pg.wait_for_selector(".reach-layers")
        _settle(pg)
        labels = _overlay_labels(pg)
        assert labels[0] == "Travel time" and "Zones: share within 60\u00a0min" in labels
        assert pg.locator(".reach-place-city").count() >= 1  # Moroni, from the OSM extract
        assert pg.locator("path.reach-facility").count() >= 37  # 45 records, 8 duplicates merged
        popup = _open_popup(pg, "path.reach-facility >> nth=-1")  # drawn last, on top
        assert "Catchment" in popup.inner_text() or "catchment" in popup.inner_text()
        _assert_not_blank(pg.screenshot(path=str(tmp_path / "comoros_health.png")))
        assert log.requests == [] and log.console_errors == [] and log.page_errors == []
    finally:
        context.close()
