"""The HTML coverage maps in a real browser (Debian's Chromium driven by Playwright).

Each page is opened from a file with every request routed: anything but ``file:`` and ``data:``
is blocked and recorded, so an offline page that tries to reach the network fails. The pages
carry hostile names (see ``test_maps.py``); ``alert``/``confirm``/``prompt`` are hooked, dialogs
are recorded, and the payloads' own flag (``window.__reachPwned``) must stay unset.
"""

from __future__ import annotations

import io
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
    HOSTILE_SCENARIO,
    HOSTILE_ZONES,
    build_hostile_run,
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
    paths = write_maps(hostile, tmp_path_factory.mktemp("maps"), title_date=DATE)
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
    context = browser.new_context(viewport={"width": 1280, "height": 900})
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
    pg.goto(health_page.as_uri())
    pg.wait_for_selector(".leaflet-control-layers")
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
    return [
        t.strip() for t in pg.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    ]


def _toggle(pg: Any, label: str) -> None:
    pg.locator(".leaflet-control-layers-overlays label", has_text=label).locator("input").click()
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


def _assert_not_blank(png: bytes) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    assert pixels.std() > 20
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 30


def test_page_loads_offline_with_its_layers(page: tuple[Any, _Log], tmp_path: Path) -> None:
    pg, _ = page
    assert _overlay_labels(pg) == [
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
    # the travel-time and unreachable images are on the map, the scale bar too
    assert pg.locator("img.leaflet-image-layer").count() == 2
    assert pg.locator(".leaflet-control-scale").count() == 1
    assert pg.locator("path.reach-facility").count() == 6
    title = pg.locator(".reach-title").inner_text()
    assert HOSTILE_SCENARIO in title and DATE in title
    assert "> 120 min" in pg.locator(".reach-legend").inner_text()
    # the page opens on the region: every facility is in view
    for box in (m.bounding_box() for m in pg.locator("path.reach-facility").all()):
        assert box is not None
        assert 0 <= box["x"] <= 1280 and 0 <= box["y"] <= 900
    shot = pg.screenshot(path=str(tmp_path / "map_health.png"))
    _assert_not_blank(shot)
    # the images are drawn: much of the map area (left of the controls) is not bare background
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))[80:850, 60:960]
    background = (pixels == np.array([221, 221, 221])).all(axis=2)
    assert (~background).mean() > 0.05


def test_facility_popups_show_hostile_names_as_text(page: tuple[Any, _Log]) -> None:
    pg, _ = page
    for row, fid in enumerate(sorted(HOSTILE_FACILITIES)):
        popup = _open_popup(pg, f"path.reach-facility-{row}")
        text = popup.inner_text()
        assert HOSTILE_FACILITIES[fid] in text
        assert fid in text and "Load / capacity" in text
        assert popup.locator("img, script, svg, [onerror], [onload]").count() == 0
        pg.locator(".leaflet-popup-close-button").click()
        pg.wait_for_function("document.querySelectorAll('.leaflet-popup').length === 0")
    pg.locator("path.reach-facility-0").hover()
    assert HOSTILE_FACILITIES["H001"] in pg.locator(".leaflet-tooltip").inner_text()


def test_zone_tooltips_show_hostile_names_as_text(
    page: tuple[Any, _Log], hostile: RunResult
) -> None:
    pg, _ = page
    _toggle(pg, "Zones: % within")
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
        assert "% within 60 min" in tooltip.inner_text()
        assert tooltip.locator("img, script, svg").count() == 0
        pg.mouse.move(5, 450)


def test_alternative_layers_switch_on(
    page: tuple[Any, _Log], hostile: RunResult, tmp_path: Path
) -> None:
    pg, _ = page
    _toggle(pg, "Travel time (baseline)")
    _toggle(pg, "Alternative: new_post")
    _toggle(pg, "Who gains: minutes saved (new_post)")
    _toggle(pg, "Virtual-only / neither at 60 min (telehealth)")
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
        pg.wait_for_selector(".leaflet-control-layers")
        _settle(pg)
        labels = _overlay_labels(pg)
        assert labels[0] == "Travel time (baseline)" and "Zones: % within 60 min" in labels
        assert pg.locator("path.reach-facility").count() >= 37  # 45 records, 8 duplicates merged
        popup = _open_popup(pg, "path.reach-facility >> nth=-1")  # drawn last, on top
        assert "Catchment" in popup.inner_text() or "catchment" in popup.inner_text()
        _assert_not_blank(pg.screenshot(path=str(tmp_path / "comoros_health.png")))
        assert log.requests == [] and log.console_errors == [] and log.page_errors == []
    finally:
        context.close()
