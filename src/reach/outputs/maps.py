"""Interactive coverage maps: one self-contained HTML page (folium / Leaflet) per service.

Each page shows, for one service of a run:

* the travel time to the nearest facility, in the service's minute bands;
* the people who cannot reach a facility, by reason;
* catchment boundaries (a dark and a light line, visible on every band);
* zones as a choropleth of the share of people within the middle threshold, and their outlines;
* place context drawn from the region's own inputs: its roads and ferries, settlement names
  (the OSM extract's named places, else the zones' names) and facility names, each label shown
  from the zoom level where it has room (:mod:`reach.outputs.map_context`);
* facilities by tier (black, grey and white markers, a hue family no band uses), each with a
  popup (name, id, catchment population, load against capacity);
* the region's places (the run's ``routes``, at most
  :data:`~reach.run.scenario_set.MAX_ROUTED_PLACES`, the legend says when some are left out)
  as small white dots ringed in pink: a click opens the place's time to its nearest facility
  and its legs in words ("45 min walk to the road · 25 min by motorbike · …") and draws its
  route, simplified to the grid's cell size, until the popup closes. A click anywhere else on
  the travel-time layer tells the band of the clicked cell itself (read from the layer's own
  pixel) and the ``reach explain --at LON,LAT`` command that gives that spot's route: a route
  is drawn only for a place the run traced it from, never borrowed from a neighbour;
* for a scenario set, a group per option (its travel time with its unreachable people and new
  facilities; the minutes each populated cell saves against the baseline, "who gains"), and,
  where telemedicine or online learning is on, the cells served only virtually or not at all.

Layers are in collapsible groups (:class:`~reach.outputs.map_layers.LayerPanel`, top right);
the legend (bottom left) shows only the sections of the layers that are on. Every word is in
the scenario's report languages (``outputs.reports``; English when empty), numbers in their
formats; with several languages a switch in the title swaps them in the page
(:mod:`reach.outputs.map_text`). The colours are checked for readers with deuteranopia,
protanopia and tritanopia (``tests/test_maps.py``).

Rasters go in as palette PNG images warped to Web Mercator with nearest-neighbour sampling, so
they line up with Leaflet's map exactly and stay small (never one polygon per cell). All user
text (facility, zone, place, scenario and option names) is escaped with :func:`html.escape`
before it reaches the page, and every value handed to JavaScript is JSON with ``<``, ``>``,
``&`` and ``'`` escaped. Offline pages embed Leaflet (:mod:`reach.outputs.map_assets`) and make
no network request. Element ids are numbered in tree order, so a run gives byte-identical pages.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from branca.element import Element, Figure, MacroElement
from folium.map import CustomPane, FitBounds, Layer
from folium.template import Template
from folium.utilities import JsCode
from PIL import Image
from pyproj import Transformer
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, reproject, transform_bounds

from reach.codes import EDUCATION_TIERS, HEALTH_TIERS, REASON_LABELS, REASON_REACHED
from reach.ingest.osm import PLACE_KINDS
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.metrics.virtual import NEITHER, VIRTUAL_ONLY, classify_access
from reach.outputs.i18n import Locale
from reach.outputs.map_assets import InlineLeaflet
from reach.outputs.map_context import (
    encode_lines,
    label_min_zooms,
    label_width_px,
    road_class_lines,
)
from reach.outputs.map_layers import (
    LayerPanel,
    MapLabels,
    PanelEntry,
    PanelGroup,
    Polylines,
    RouteMarkers,
    script_json,
)
from reach.outputs.map_text import MapText, route_parts, tier_word
from reach.outputs.write import today_iso, write_text_atomic
from reach.schema import PLACE_ORIGIN_PREFIX, catchment_within_col, within_col

if TYPE_CHECKING:
    from reach.model.grid import AnalysisGrid
    from reach.results import RunResult, ServiceResult
    from reach.spec import ServiceSpec

__all__ = [
    "DEFAULT_MAX_IMAGE_PX",
    "REASON_COLOURS",
    "FacilityMarkers",
    "HtmlControl",
    "gain_codes",
    "map_file_name",
    "map_languages",
    "render_map",
    "service_map",
    "write_maps",
]

#: Longest side, in pixels, of a raster layer's image; larger grids are sampled down.
DEFAULT_MAX_IMAGE_PX = 2048

_WEB_MERCATOR = "EPSG:3857"
_ZONES_PANE = "reach-zones"
_ROADS_PANE = "reach-roads"
_LINES_PANE = "reach-lines"
_LABELS_PANE = "reach-labels"
_FACILITY_PANE = "markerPane"
_ROUTE_PANE = "reach-route"
# a place's route: per leg kind the strokes (a white casing under each); the places' circles
_ROUTE_COLOURS = {"walk": "#3d2b1f", "road": "#d81b60", "ferry": "#1e5aa8", "to_door": "#3d2b1f"}
_ROUTE_DASH = {"walk": "5 5", "road": None, "ferry": "8 6", "to_door": "2 4"}
_ROUTE_KINDS = ("walk", "road", "ferry", "to_door")
# a place is a white dot ringed in the road-leg colour, apart from the clinics' black rings
_ROUTE_MARKER = {
    "radius": 4, "color": _ROUTE_COLOURS["road"], "weight": 2.0, "fillColor": "#ffffff",
    "fillOpacity": 1.0,
    "opacity": 1.0, "pane": _FACILITY_PANE, "className": "reach-route-place",
    "bubblingMouseEvents": False,
}  # fmt: skip

# Colours (RGB hex); code 0 of every image is transparent. Checked for colour-blind readers by
# tests/test_maps.py (CAM02-UCS distances under simulated deuteranopia, protanopia, tritanopia).
# Travel time: viridis, light (near) to dark (far): its lightness rises steadily, so every
# band differs in lightness whatever the reader's colour vision (a green-to-red ramp does not).
_TIME_ANCHORS = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
_TIME_OPACITY = 0.75
# Unreachable people: apart from every time band and from each other, in every colour vision;
# "beyond the time limit" is black, past the darkest band.
#: Colour of each unreachable reason code (``reach.codes.REASON_*``) on the maps.
REASON_COLOURS: dict[int, str] = {
    1: "#111111",  # beyond the time limit
    2: "#ff00ff",  # no route
    3: "#a6611a",  # on a barrier
    4: "#00ffff",  # water with no ferry
    5: "#666666",  # outside the data
}
_REASON_OPACITY = 0.95
_GAIN_BANDS_MIN = (0.5, 5.0, 15.0, 30.0, 60.0)
_GAIN_COLOURS = ("#a1dab4", "#41b6c4", "#2c7fb8", "#253494", "#081d58")
_NEWLY_REACHED = "#ffd700"
_SLOWER = "#fd8d3c"
_NO_LONGER_REACHED = "#bd0026"
_GAIN_OPACITY = 0.9
_VIRTUAL_COLOURS = {VIRTUAL_ONLY: "#b2abd2", NEITHER: "#e31a1c"}
_CHOROPLETH_BINS_PCT = (20.0, 40.0, 60.0, 80.0)
_CHOROPLETH_ANCHORS = ("#fff5eb", "#08306b")
_CHOROPLETH_OPACITY = 0.65
# catchment boundaries: a dark line on one side of each boundary and a light one on the other
_CATCHMENT_LINE = ("#111111", "#ffffff")
# facility markers by tier rank (fill, outline, outline weight, radius): black, grey and white,
# a family no band, reason or gain colour uses, with the outline of the opposite lightness
_TIER_STYLES = (
    ("#111111", "#ffffff", 2.0, 8.0),
    ("#666666", "#ffffff", 2.0, 7.0),
    ("#ffffff", "#111111", 2.0, 6.0),
    ("#ffffff", "#111111", 1.5, 4.5),
)
_NEW_FACILITY_OUTLINE = "#e41a1c"
# roads: (class, [strokes]) drawn bottom to top; a light core in a dark casing shows on any band
_ROAD_STYLES: dict[str, list[dict[str, object]]] = {
    "track": [{"color": "#4d4d4d", "weight": 1.0, "opacity": 0.8, "dashArray": "3 3"}],
    "other": [
        {"color": "#4d4d4d", "weight": 2.6, "opacity": 0.85},
        {"color": "#ffffff", "weight": 1.0, "opacity": 0.95},
    ],
    "main": [
        {"color": "#262626", "weight": 4.6, "opacity": 0.9},
        {"color": "#fff3c4", "weight": 2.4, "opacity": 1.0},
    ],
    "ferry": [{"color": "#08306b", "weight": 2.0, "opacity": 0.9, "dashArray": "7 5"}],
}
_ROAD_WORDS = {
    "main": "map.road_main",
    "other": "map.road_other",
    "track": "map.road_track",
    "ferry": "map.ferry",
}
# label ranks (lower first): place kinds and facility tier ranks
_PLACE_RANK = {"zone": 0.0, "city": 0.0, "town": 1.0, "village": 3.0, "hamlet": 5.0}
_LABEL_MIN_ZOOM = 7
# longest label (characters) of a legend section drawn in two columns
_TWO_COLUMN_CHARS = 16
_LABEL_MAX_ZOOM = 17

_CSS = """
.reach-title, .reach-legend, .reach-layers { background: rgba(255,255,255,0.94);
  padding: 5px 8px; border-radius: 5px; box-shadow: 0 1px 5px rgba(0,0,0,0.4); color: #222;
  font: 12px/1.3 system-ui, sans-serif; }
.reach-title { font-size: 14px; max-width: min(440px, 40vw); max-height: 110px; overflow: auto; }
.reach-title .reach-sub { font-size: 12px; color: #444; }
.reach-langs { margin-top: 4px; font-size: 12px; }
.reach-langs button { font: inherit; padding: 1px 6px; margin-left: 2px; cursor: pointer;
  border: 1px solid #888; border-radius: 3px; background: #fff; }
.reach-langs button[aria-pressed="true"] { background: #222; color: #fff; border-color: #222; }
.reach-legend { max-height: calc(100vh - 170px); overflow-y: auto; max-width: 250px; }
.reach-layers { max-height: calc(100vh - 110px); overflow-y: auto; max-width: 290px; }
.reach-legend summary, .reach-layers summary { cursor: pointer; }
.reach-layers details.reach-group { margin: 3px 0 0 2px; }
.reach-layers details.reach-group > summary { font-weight: 600; }
.reach-layers label { display: block; margin-left: 12px; white-space: nowrap; cursor: pointer; }
.reach-legend h4 { margin: 5px 0 1px; font-size: 12px; }
.reach-legend .reach-items { display: grid; grid-template-columns: auto auto; column-gap: 8px; }
.reach-legend .reach-items.reach-one { grid-template-columns: auto; }
.reach-legend .reach-items div { font-size: 11.5px; white-space: nowrap; }
.reach-legend i { display: inline-block; width: 13px; height: 10px; margin-right: 4px;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,0.3); }
.reach-legend i.reach-dot { border-radius: 50%; width: 9px; height: 9px; border-width: 2px; }
.reach-legend i.reach-line { height: 0; border: 0; width: 16px; vertical-align: 3px; }
.reach-legend i.reach-none { background: transparent; border: 1px dashed #333; }
.reach-popup table { border-collapse: collapse; }
.reach-popup .reach-route-legs { margin-top: 3px; }
.reach-legend .reach-note { white-space: normal; display: inline-block; max-width: 230px;
  color: #444; }
.reach-popup th { text-align: left; padding-right: 8px; font-weight: 600; }
.reach-label { white-space: nowrap; font: 11px/1 system-ui, sans-serif; color: #111;
  margin: -6px 0 0 7px; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
.reach-label.reach-facility-label { font-weight: 600; }
.reach-label.reach-place-city, .reach-label.reach-place-town,
.reach-label.reach-place-zone { font-size: 12.5px; font-weight: 700; }
.reach-label.reach-place-village, .reach-label.reach-place-hamlet { font-style: italic;
  color: #333; }
"""


# --------------------------------------------------------------------------------------------
# small helpers


def _esc(value: object) -> str:
    """``html.escape`` of any value's text (quotes too)."""
    return html.escape(str(value), quote=True)


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _hex(rgb: Sequence[float] | np.ndarray) -> str:
    return "#" + "".join(f"{round(min(255.0, max(0.0, v))):02x}" for v in rgb)


def _ramp(anchors: Sequence[str], n: int) -> list[str]:
    """``n`` colours spread evenly along the piecewise-linear ramp through ``anchors``."""
    if n <= 1:
        return [anchors[0]][:n]
    points = [np.array(_rgb(a), dtype=float) for a in anchors]
    out = []
    for i in range(n):
        pos = i / (n - 1) * (len(points) - 1)
        k = min(int(pos), len(points) - 2)
        frac = pos - k
        out.append(_hex(points[k] * (1 - frac) + points[k + 1] * frac))
    return out


def _middle_threshold(spec: ServiceSpec) -> float:
    """The middle of the service's thresholds (the one alternatives are ranked by)."""
    th = sorted(spec.thresholds_min)
    return float(th[len(th) // 2])


def _display_name(labels: dict[str, str], name: str, loc: Locale) -> str:
    """A display name in the language (a scenario ``label``), else English, else ``name``."""
    return labels.get(loc.lang) or labels.get("en") or name


def map_file_name(service: str) -> str:
    """File name of a service's map: ``map_<service>.html``.

    Parameters
    ----------
    service
        The service's name, used as it is.

    Returns
    -------
    str
        ``map_<service>.html`` (a file name, without a folder).
    """
    return f"map_{service}.html"


def map_languages(run: RunResult) -> list[str]:
    """The languages of a run's maps: the scenario's report languages, else English.

    Parameters
    ----------
    run
        A finished run.

    Returns
    -------
    list of str
        Language codes, the first the one the pages open in.
    """
    return list(run.scenario.outputs.reports) or ["en"]


# --------------------------------------------------------------------------------------------
# rasters → images


@dataclass(frozen=True)
class _Frame:
    """Where a grid's images go: a north-up Web Mercator pixel grid and its lat/lon bounds."""

    transform: Affine
    width: int
    height: int
    bounds: list[list[float]]  # [[south, west], [north, east]]


def _frame(grid: AnalysisGrid, *, max_image_px: int) -> _Frame:
    """The grid's extent in Web Mercator, with pixels no larger than the grid's cells.

    Pixel sizes come from the grid's row and column edges (through its centre) in Web
    Mercator, so each cell holds at least one pixel centre; the longest side is capped at
    ``max_image_px``.
    """
    left, bottom, right, top = array_bounds(grid.rows, grid.cols, grid.transform)
    x0, y0, x1, y1 = transform_bounds(
        grid.crs, _WEB_MERCATOR, left, bottom, right, top, densify_pts=21
    )
    to_merc = Transformer.from_crs(grid.crs, _WEB_MERCATOR, always_xy=True)
    t = grid.transform
    mid_x = t.c + t.a * grid.cols / 2
    mid_y = t.f + t.e * grid.rows / 2
    col_x = t.c + t.a * np.arange(grid.cols + 1)
    row_y = t.f + t.e * np.arange(grid.rows + 1)
    mx, _ = to_merc.transform(col_x, np.full(col_x.shape, mid_y))
    _, my = to_merc.transform(np.full(row_y.shape, mid_x), row_y)
    px_w = float(np.min(np.abs(np.diff(mx))))
    px_h = float(np.min(np.abs(np.diff(my))))
    width = math.ceil((x1 - x0) / px_w - 1e-6)
    height = math.ceil((y1 - y0) / px_h - 1e-6)
    scale = max(width, height) / max(1, max_image_px)
    if scale > 1:
        width, height = math.ceil(width / scale), math.ceil(height / scale)
    width, height = max(1, width), max(1, height)
    transform = Affine((x1 - x0) / width, 0.0, x0, 0.0, -(y1 - y0) / height, y1)
    to_lonlat = Transformer.from_crs(_WEB_MERCATOR, "EPSG:4326", always_xy=True)
    (west, east), (south, north) = to_lonlat.transform([x0, x1], [y0, y1])
    return _Frame(transform, width, height, [[south, west], [north, east]])


def _warp(codes: np.ndarray, grid: AnalysisGrid, frame: _Frame, *, sparse: bool) -> np.ndarray:
    """Warp a ``uint8`` class grid (0 = empty) onto the frame.

    Nearest neighbour when the frame is as fine as the grid. When it is coarser, the most
    common class (``sparse=False``) or the highest code (``sparse=True``, so that scattered
    cells, ranked by importance, stay visible).
    """
    src_px = grid.rows * grid.cols
    coarser = frame.width * frame.height < 0.5 * src_px
    method = Resampling.nearest
    if coarser:
        method = Resampling.max if sparse else Resampling.mode
    out = np.zeros((frame.height, frame.width), dtype=np.uint8)
    reproject(
        source=np.ascontiguousarray(codes.reshape(grid.shape), dtype=np.uint8),
        destination=out,
        src_transform=grid.transform,
        src_crs=grid.crs,
        src_nodata=0,
        dst_transform=frame.transform,
        dst_crs=_WEB_MERCATOR,
        dst_nodata=0,
        resampling=method,
        num_threads=1,
    )
    return out


def _png_data_uri(image: np.ndarray, colours: Sequence[str]) -> str:
    """A palette PNG (code 0 transparent, code ``k`` = ``colours[k-1]``) as a ``data:`` URI."""
    palette: list[int] = [0, 0, 0, 0]
    for colour in colours:
        palette += [*_rgb(colour), 255]
    img = Image.frombytes("P", (image.shape[1], image.shape[0]), image.astype(np.uint8).tobytes())
    img.putpalette(palette, rawmode="RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=9)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _overlay(
    codes: np.ndarray,
    colours: Sequence[str],
    grid: AnalysisGrid,
    frame: _Frame,
    *,
    name: str,
    opacity: float,
    z_index: int,
    show: bool = True,
    sparse: bool = False,
    pane: str = "overlayPane",
) -> folium.raster_layers.ImageOverlay:
    image = _warp(codes, grid, frame, sparse=sparse)
    return folium.raster_layers.ImageOverlay(
        _png_data_uri(image, colours),
        bounds=frame.bounds,
        name=_esc(name),
        show=show,
        control=False,
        opacity=opacity,
        pixelated=True,
        interactive=False,
        z_index=z_index,
        pane=pane,
    )


def _time_codes(time_min: np.ndarray, thresholds_min: Sequence[float]) -> np.ndarray:
    """Band of each cell: 1 = within the first threshold … n+1 = beyond the last; 0 unreached."""
    t = np.asarray(time_min, dtype=np.float64)
    edges = np.asarray(sorted(thresholds_min), dtype=np.float64)
    band = np.searchsorted(edges, np.where(np.isfinite(t), t, 0.0), side="left") + 1
    return np.where(np.isfinite(t), band, 0).astype(np.uint8)


def _band_words(thresholds_min: Sequence[float]) -> list[Callable[[Locale], str]]:
    """Each travel-time band's label (as :func:`_time_codes`), as a function of the language."""
    th = sorted(thresholds_min)
    words: list[Callable[[Locale], str]] = [
        lambda loc: loc.t("within", minutes=loc.threshold(th[0]))
    ]

    def band(a: float, b: float) -> Callable[[Locale], str]:
        return lambda loc: loc.t(
            "band", low=loc.number(a, 0 if float(a).is_integer() else 1), high=loc.threshold(b)
        )

    words += [band(a, b) for a, b in itertools.pairwise(th)]
    words.append(lambda loc: loc.t("beyond", minutes=loc.threshold(th[-1])))
    return words


def _time_bands(thresholds_min: Sequence[float], text: MapText) -> tuple[list[str], list[str]]:
    """Escaped HTML label and colour of each travel-time band (as :func:`_time_codes`)."""
    labels = [text.html(word) for word in _band_words(thresholds_min)]
    return labels, _ramp(_TIME_ANCHORS, len(labels))


def _unreachable_codes(result: ServiceResult, populated: np.ndarray) -> np.ndarray:
    """Reason code of each populated cell that reaches no facility; 0 elsewhere."""
    reason = np.asarray(result.search.reason)
    return np.where(populated & (reason != REASON_REACHED), reason, 0).astype(np.uint8)


def gain_codes(base_min: np.ndarray, alt_min: np.ndarray, populated: np.ndarray) -> np.ndarray:
    """Minutes saved per populated cell, as the who-gains layer's band codes.

    Parameters
    ----------
    base_min, alt_min
        Minutes to the nearest facility per cell, in the baseline and in the alternative
        (``inf`` or NaN where unreachable).
    populated
        Whether each cell has people; only those get a code.

    Returns
    -------
    numpy.ndarray
        ``uint8`` code per cell: 0 for no change worth a band or no people; 1 to ``k`` for the
        ``k`` bands of minutes saved; ``k + 1`` newly reached; ``k + 2`` slower by at least the
        first band; ``k + 3`` no longer reached (the who-gains layer's legend names each).
    """
    fb, fa = np.isfinite(base_min), np.isfinite(alt_min)
    both = fb & fa
    saved = np.where(both, np.where(fb, base_min, 0.0) - np.where(fa, alt_min, 0.0), 0.0)
    codes = np.zeros(base_min.shape, dtype=np.uint8)
    edges = np.asarray(_GAIN_BANDS_MIN)
    gained = both & (saved >= edges[0])
    codes[gained] = np.searchsorted(edges, saved[gained], side="right")
    codes[both & (saved <= -edges[0])] = len(edges) + 2
    codes[~fb & fa] = len(edges) + 1
    codes[fb & ~fa] = len(edges) + 3
    codes[~populated] = 0
    return codes


def _gain_legend(text: MapText) -> tuple[list[str], list[str]]:
    e = _GAIN_BANDS_MIN

    def faster(a: float, b: float) -> Callable[[Locale], str]:
        return lambda loc: loc.t(
            "map.faster", low=loc.number(a, 0 if a.is_integer() else 1), high=loc.threshold(b)
        )

    labels = [text.html(faster(a, b)) for a, b in itertools.pairwise(e)]
    labels.append(text.html(lambda loc: loc.t("map.faster_more", minutes=loc.threshold(e[-1]))))
    labels += [
        text.html(lambda loc, key=key: loc.t(key))
        for key in ("map.newly_reached", "map.slower", "map.no_longer_reached")
    ]
    return labels, [*_GAIN_COLOURS, _NEWLY_REACHED, _SLOWER, _NO_LONGER_REACHED]


def _catchment_line_codes(label: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Catchment boundaries as codes: 1 (dark) on one side of each boundary, 2 (light) on the
    other, 0 elsewhere, so the line shows on light and dark bands alike."""
    lab = np.asarray(label).reshape(shape)
    codes = np.zeros(shape, dtype=np.uint8)
    right = lab[:, :-1] != lab[:, 1:]
    down = lab[:-1, :] != lab[1:, :]
    light = np.zeros(shape, dtype=bool)
    light[:, 1:] |= right
    light[1:, :] |= down
    dark = np.zeros(shape, dtype=bool)
    dark[:, :-1] |= right
    dark[:-1, :] |= down
    codes[light] = 2
    codes[dark] = 1
    codes[lab < 0] = 0
    return codes.ravel()


# --------------------------------------------------------------------------------------------
# vector layers and controls


class FacilityMarkers(Layer):
    """Circle markers with popups and tooltips built in Python from escaped text.

    Nothing here escapes HTML: the caller hands in HTML it has escaped already. The rows and
    the style go into the page as JSON with ``<``, ``>``, ``&`` and ``'`` escaped, so they
    cannot close the script.

    Parameters
    ----------
    rows
        One list per marker: ``[lat, lon, popup_html, tooltip_html, css_class, dashed]`` —
        its position in degrees, the HTML of its popup and of its tooltip, the class name(s) of
        its circle, and whether its outline is dashed. JSON-serialisable, without NaN.
    style
        Leaflet ``circleMarker`` options shared by every marker (radius, colours, pane, …).
    name
        The layer's name in the layer control, as HTML (escaped by the caller).
    show
        Whether the layer is on when the page opens.
    control
        Whether the layer is listed in the layer control.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function (group, style, rows) {
            rows.forEach(function (row) {
                var options = Object.assign({}, style, {className: row[4]});
                if (row[5]) { options.dashArray = "3 3"; }
                L.circleMarker([row[0], row[1]], options)
                    .bindPopup(row[2], {maxWidth: 340})
                    .bindTooltip(row[3])
                    .addTo(group);
            });
        })({{ this.get_name() }}, {{ this.style_json }}, {{ this.rows_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        rows: list[list[object]],
        style: dict[str, object],
        *,
        name: str,
        show: bool = True,
        control: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "FacilityMarkers"
        self.rows_json = script_json(rows)
        self.style_json = script_json(style)


class HtmlControl(MacroElement):
    """A Leaflet control whose content is HTML built (and escaped) in Python.

    Clicks and scrolling on the control do not reach the map beneath.

    Parameters
    ----------
    html_text
        The control's content, set as the HTML of its ``div``: escaped by the caller, as it is
        not escaped here (it goes into the page as JSON, so it cannot close the script).
    position
        The Leaflet control position: ``"topleft"``, ``"topright"``, ``"bottomleft"`` or
        ``"bottomright"``.
    css_class
        The class name(s) of the control's ``div``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position_json }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("div", {{ this.css_class_json }});
            div.innerHTML = {{ this.html_json }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html_json = script_json(html_text)
        self.position_json = script_json(position)
        self.css_class_json = script_json(css_class)


class _PageStyle(MacroElement):
    """The page's own CSS (titles, legend, layers, labels, popups, languages)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        {% endmacro %}
        """
    )

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "PageStyle"
        self.css = css


class _PopupsClearOfControls(MacroElement):
    """Every popup opens inside the map and clear of the title, legend and layer panel.

    Leaflet's own ``autoPan`` keeps a popup inside the map but may leave it under a control
    (its close button then cannot be clicked); it is turned off for every popup of the page
    and, when a popup opens, the map pans once by the least that shows it whole beside the
    controls (to the nearest side where it fits; a popup taller than the map keeps its top).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.Popup.mergeOptions({autoPan: false});
        (function (map) {
            var pad = 10;
            function shifted(r, dx, dy) {
                return {left: r.left + dx, right: r.right + dx, top: r.top + dy,
                        bottom: r.bottom + dy};
            }
            function overlaps(a, b) {
                return a.left < b.right && b.left < a.right && a.top < b.bottom
                    && b.top < a.bottom;
            }
            map.on("popupopen", function (e) {
                var el = e.popup.getElement();
                if (!el) { return; }
                var box = map.getContainer().getBoundingClientRect();
                var r = el.getBoundingClientRect();
                var dx = 0, dy = 0;
                if (r.right + pad > box.right) { dx = box.right - pad - r.right; }
                if (r.left + dx - pad < box.left) { dx = box.left + pad - r.left; }
                if (r.bottom + pad > box.bottom) { dy = box.bottom - pad - r.bottom; }
                if (r.top + dy - pad < box.top) { dy = box.top + pad - r.top; }
                var controls = map.getContainer().querySelectorAll(".leaflet-control");
                for (var pass = 0; pass < 3; pass++) {
                    var moved = false;
                    controls.forEach(function (c) {
                        var b = c.getBoundingClientRect();
                        var now = shifted(r, dx, dy);
                        if (b.width === 0 || b.height === 0 || !overlaps(now, b)) { return; }
                        var options = [
                            [b.left - pad - now.right, 0], [b.right + pad - now.left, 0],
                            [0, b.top - pad - now.bottom], [0, b.bottom + pad - now.top]
                        ].filter(function (o) {
                            var s = shifted(now, o[0], o[1]);
                            return s.left >= box.left && s.right <= box.right
                                && s.top >= box.top && s.bottom <= box.bottom;
                        });
                        if (!options.length) { return; }
                        options.sort(function (a, b2) {
                            return Math.abs(a[0]) + Math.abs(a[1])
                                - Math.abs(b2[0]) - Math.abs(b2[1]);
                        });
                        dx += options[0][0]; dy += options[0][1]; moved = true;
                    });
                    if (!moved) { break; }
                }
                if (dx || dy) { map.panBy([-Math.round(dx), -Math.round(dy)]); }
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "PopupsClearOfControls"


#: In a cell popup's text, where the clicked spot goes (``LON,LAT``).
CELL_AT = "@@lonlat@@"


class _CellBand(MacroElement):
    """A click on the map away from any marker: a popup with the clicked spot's time band.

    The band is read from the pixel of the baseline travel-time image under the click (the
    clicked cell's own time, as the map shows it), only while that layer is on. Each text's
    :data:`CELL_AT` is replaced by the clicked spot as ``LON,LAT`` (five decimals, about a
    metre), for the ``reach explain --at`` command that gives its route.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, layer, colours, texts, AT) {
            var canvas = null, ctx = null;
            function ready() {
                var img = layer.getElement();
                if (!img || !img.complete || !img.naturalWidth) { return false; }
                if (canvas === null) {
                    canvas = document.createElement("canvas");
                    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                    ctx = canvas.getContext("2d", {willReadFrequently: true});
                    ctx.drawImage(img, 0, 0);
                }
                return true;
            }
            map.on("click", function (e) {
                var target = e.originalEvent && e.originalEvent.target;
                if (target && target.closest && target.closest(".leaflet-interactive")) { return; }
                if (!map.hasLayer(layer) || !ready()) { return; }
                var b = layer.getBounds(), crs = map.options.crs;
                var p = crs.project(e.latlng), nw = crs.project(b.getNorthWest()),
                    se = crs.project(b.getSouthEast());
                var fx = (p.x - nw.x) / (se.x - nw.x), fy = (nw.y - p.y) / (nw.y - se.y);
                if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1)) { return; }
                var px = ctx.getImageData(Math.floor(fx * canvas.width),
                                          Math.floor(fy * canvas.height), 1, 1).data;
                if (px[3] === 0) { return; }
                var best = -1, dist = 30;
                colours.forEach(function (c, k) {
                    var d = Math.abs(c[0] - px[0]) + Math.abs(c[1] - px[1])
                        + Math.abs(c[2] - px[2]);
                    if (d < dist) { best = k; dist = d; }
                });
                if (best < 0) { return; }
                var at = e.latlng.lng.toFixed(5) + "," + e.latlng.lat.toFixed(5);
                L.popup({maxWidth: 300}).setLatLng(e.latlng)
                    .setContent(texts[best].split(AT).join(at)).openOn(map);
            });
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }}, {{ this.colours_json }},
           {{ this.texts_json }}, {{ this.at_json }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: Layer, colours: Sequence[str], texts: Sequence[str]) -> None:
        super().__init__()
        self._name = "CellBand"
        self.layer = layer
        self.colours_json = script_json([list(_rgb(c)) for c in colours])
        self.texts_json = script_json(list(texts))
        self.at_json = script_json(CELL_AT)


class _LanguageSwitch(MacroElement):
    """The script behind the language buttons: sets ``data-reach-lang`` and the page title."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (titles, first) {
            var root = document.documentElement;
            function set(lang) {
                root.setAttribute("data-reach-lang", lang);
                root.lang = lang;
                document.title = titles[lang];
                document.querySelectorAll("[data-reach-set-lang]").forEach(function (b) {
                    var on = b.getAttribute("data-reach-set-lang") === lang;
                    b.setAttribute("aria-pressed", on ? "true" : "false");
                });
            }
            document.addEventListener("click", function (event) {
                var button = event.target.closest && event.target.closest("[data-reach-set-lang]");
                if (button) { set(button.getAttribute("data-reach-set-lang")); }
            }, true);
            set(first);
        })({{ this.titles_json }}, {{ this.first_json }});
        {% endmacro %}
        """
    )

    def __init__(self, titles: dict[str, str]) -> None:
        super().__init__()
        self._name = "LanguageSwitch"
        self.titles_json = script_json(titles)
        self.first_json = script_json(next(iter(titles)))


def _round_coords(geom: shapely.Geometry, decimals: int = 5) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def _zone_features(
    run: RunResult, result: ServiceResult, threshold_min: float, text: MapText
) -> tuple[list[dict[str, Any]], list[str]]:
    """GeoJSON features of the zones with their choropleth style and escaped tooltip."""
    zones = run.region.zones
    if zones is None or len(zones) == 0:
        return [], []
    zones = zones.to_crs("EPSG:4326") if zones.crs is not None else zones
    grid = run.region.grid
    cell_deg = float(min(grid.dx_m.min(), grid.dy_m)) / 111_320.0
    cov = result.coverage
    cov = cov[~cov["zone_id"].isin([ALL_ZONES_ID, OUTSIDE_ZONES_ID])]
    by_zone = cov.set_index(cov["zone_id"].astype(str))
    col = within_col(threshold_min)
    colours = _ramp(_CHOROPLETH_ANCHORS, len(_CHOROPLETH_BINS_PCT) + 1)
    features = []
    for zone_id, name, geom in zip(
        zones["zone_id"].astype(str), zones["name"].astype(str), zones.geometry, strict=True
    ):
        if geom is None or geom.is_empty:
            continue
        people = pct = float("nan")
        if zone_id in by_zone.index:
            row = by_zone.loc[zone_id]
            people = float(row["population"])
            if people > 0 and col in row.index:
                pct = 100.0 * float(row[col]) / people
        style: dict[str, object] = {"color": "#333333", "weight": 1}
        if np.isfinite(pct):
            fill = colours[int(np.searchsorted(_CHOROPLETH_BINS_PCT, pct, side="right"))]
            style |= {"fillColor": fill, "fillOpacity": _CHOROPLETH_OPACITY}
            share = text.html(
                lambda loc, pct=pct: loc.t(
                    "map.share_within", pct=loc.pct(pct, 1), minutes=loc.threshold(threshold_min)
                )
            )
        else:
            style |= {"fillOpacity": 0.0, "dashArray": "4 3"}
            share = text.html(lambda loc: loc.t("map.no_people"))
        people_html = text.html(lambda loc, p=people: loc.t("map.people", people=loc.number(p)))
        tooltip = f"<b>{_esc(name)}</b> ({_esc(zone_id)})<br>{people_html}<br>{share}"
        simple = _round_coords(geom.simplify(cell_deg / 2, preserve_topology=True))
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(simple)),
                "properties": {"tooltip": tooltip, "style": style},
            }
        )
    return features, colours


def _zone_layers(
    run: RunResult, result: ServiceResult, threshold_min: float, text: MapText
) -> tuple[Layer | None, Layer | None, list[str]]:
    """The zone choropleth, the zone outlines and the choropleth's colours (or Nones)."""
    features, colours = _zone_features(run, result, threshold_min, text)
    if not features:
        return None, None, []
    choropleth = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="zones",
        show=False,
        control=False,
        on_each_feature=JsCode(
            "function (feature, layer) {"
            " layer.bindTooltip(feature.properties.tooltip, {sticky: true}); }"
        ),
        pane=_ZONES_PANE,
    )
    outline_features = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {"style": {"color": "#222222", "weight": 1.5, "fill": False}},
        }
        for f in features
    ]
    outlines = folium.GeoJson(
        {"type": "FeatureCollection", "features": outline_features},
        name="zone boundaries",
        show=True,
        control=False,
        pane=_ZONES_PANE,
        interactive=False,
    )
    return choropleth, outlines, colours


def _tier_order(tables: Sequence[pd.DataFrame]) -> list[str]:
    """Tiers present, highest first for the known ones (hospital … clinic), then by name."""
    tiers: set[str] = set()
    for table in tables:
        tiers.update(table["tier"].astype(str))
    known = [t for t in (*HEALTH_TIERS, *EDUCATION_TIERS[::-1]) if t in tiers]
    return known + sorted(tiers - set(known))


def _tier_style(tier: str, tiers: Sequence[str]) -> tuple[str, str, float, float]:
    """(fill, outline, outline weight, radius) of a tier's markers, by its rank."""
    return _TIER_STYLES[min(tiers.index(tier), len(_TIER_STYLES) - 1)]


def _facility_popup(row: pd.Series, spec: ServiceSpec, text: MapText) -> str:
    top = max(spec.thresholds_min)
    catch = float(row["catchment_population"])
    col = catchment_within_col(top)
    within = float(row[col]) if col in row.index else float("nan")
    mean_t = float(row["catchment_mean_time_min"])
    capacity = float(row["capacity"])
    tier = str(row["tier"])
    share = spec.target_share

    def whom(loc: Locale) -> str:
        if share == 1:
            return loc.t("map.people", people=loc.number(catch))
        return loc.t("map.people_share", people=loc.number(catch), share=loc.pct(100 * share, 0))

    def load(loc: Locale) -> str:
        if np.isfinite(capacity) and capacity > 0:
            pct = 100.0 * catch / capacity
            return (
                f"{loc.number(catch)} / {loc.number(capacity)} "
                f"({loc.pct(pct, 0 if pct >= 10 else 1)})"
            )
        return loc.t("map.no_capacity", people=loc.number(catch))

    rows = [
        ("ID", _esc(row["facility_id"])),
        (text.html(lambda loc: loc.t("map.tier")), text.html(lambda loc: tier_word(loc, tier))),
        (text.html(lambda loc: loc.t("map.catchment")), text.html(whom)),
        (
            text.html(lambda loc: loc.t("map.within", minutes=loc.threshold(top))),
            text.html(lambda loc: loc.number(within)),
        ),
        (text.html(lambda loc: loc.t("mean_time")), text.html(lambda loc: loc.minutes(mean_t))),
        (text.html(lambda loc: loc.t("map.load")), text.html(load)),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    note = ""
    if not bool(row["on_grid"]):
        note = f"<br><i>{text.html(lambda loc: loc.t('map.off_grid'))}</i>"
    return f'<div class="reach-popup"><b>{_esc(row["name"])}</b><table>{body}</table>{note}</div>'


def _facility_rows(
    table: pd.DataFrame, spec: ServiceSpec, css_prefix: str, text: MapText
) -> list[list[object]]:
    rows: list[list[object]] = []
    for i, (_, row) in enumerate(table.iterrows()):
        lat, lon = float(row["lat"]), float(row["lon"])
        if not (np.isfinite(lat) and np.isfinite(lon)):
            continue
        tier = str(row["tier"])
        tier_html = text.html(lambda loc, tier=tier: tier_word(loc, tier))
        rows.append(
            [
                round(lat, 6),
                round(lon, 6),
                _facility_popup(row, spec, text),
                f"{_esc(row['name'])} ({tier_html})",
                f"reach-facility {css_prefix}{int(row.get('_row', i))}",
                not bool(row["on_grid"]),
            ]
        )
    return rows


def _marker_style(tier: str, tiers: Sequence[str], *, new: bool) -> dict[str, object]:
    fill, outline, weight, radius = _tier_style(tier, tiers)
    return {
        "radius": radius + (2 if new else 0),
        "color": _NEW_FACILITY_OUTLINE if new else outline,
        "weight": 3 if new else weight,
        "fillColor": fill,
        "fillOpacity": 1.0,
        "opacity": 1.0,
        "pane": _FACILITY_PANE,
        "bubblingMouseEvents": False,
    }


@dataclass(frozen=True)
class _Section:
    """One legend section: its key (shown while a layer naming it is on), heading, items.

    ``items`` are ``(kind, colour, label_html)`` with kind ``box``, ``dot``, ``line`` or
    ``none``; ``colour`` is ``fill`` or ``fill/outline`` for dots.
    """

    key: str
    heading_html: str
    items: tuple[tuple[str, str, str], ...]
    opacity: float = 1.0


def _swatch(kind: str, colour: str, opacity: float) -> str:
    data = f'data-reach-colour="{colour}" data-reach-opacity="{opacity:g}"'
    if kind == "dot":
        fill, outline = colour.split("/")
        return f'<i class="reach-dot" {data} style="background:{fill};border-color:{outline}"></i>'
    if kind == "line":
        return f'<i class="reach-line" {data} style="border-top:3px solid {colour}"></i>'
    if kind == "none":
        return f'<i class="reach-none" {data}></i>'
    if kind == "note":
        return ""
    return f'<i {data} style="background:{colour};opacity:{opacity:g}"></i>'


def _label_texts(label_html: str) -> list[str]:
    """The text of a label in each of its languages (escaped)."""
    spans = re.findall(r'<span lang="[^"]*">([^<]*)</span>', label_html)
    return spans or [re.sub(r"<[^>]*>", "", label_html)]


def _legend_html(title_html: str, sections: Sequence[_Section]) -> str:
    """The legend: a collapsible list of sections, each hidden until a layer of it is on."""
    parts = [f"<details open><summary><b>{title_html}</b></summary>"]
    for sec in sections:
        # two columns for long lists of short labels (in every language), else one
        longest = max(
            (len(html.unescape(t)) for _, _, lab in sec.items for t in _label_texts(lab)),
            default=0,
        )
        two = len(sec.items) > 4 and longest <= _TWO_COLUMN_CHARS
        cls = "reach-items" if two else "reach-items reach-one"
        items = "".join(
            f"<div>{_swatch(kind, colour, sec.opacity)}{label}</div>"
            for kind, colour, label in sec.items
        )
        parts.append(
            f'<section data-reach-legend="{sec.key}" hidden><h4>{sec.heading_html}</h4>'
            f'<div class="{cls}">{items}</div></section>'
        )
    return "".join(parts) + "</details>"


# --------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True, eq=False)
class _Context:
    """What every layer of one service's map needs."""

    grid: AnalysisGrid
    frame: _Frame
    spec: ServiceSpec
    text: MapText
    populated: np.ndarray
    middle_min: float
    tiers: list[str]
    band_labels: list[str]
    band_colours: list[str]
    reason_colours: list[str]

    def overlay(self, codes: np.ndarray, colours: Sequence[str], **kw: Any) -> Layer:
        """An image layer of ``codes`` on this map's frame."""
        return _overlay(codes, colours, self.grid, self.frame, **kw)

    def time_overlay(self, result: ServiceResult, **kw: Any) -> Layer:
        codes = _time_codes(result.search.time_min, self.spec.thresholds_min)
        return self.overlay(
            codes, self.band_colours, name="travel time", opacity=_TIME_OPACITY, **kw
        )

    def unreachable_overlay(self, result: ServiceResult, **kw: Any) -> tuple[Layer, set[int]]:
        codes = _unreachable_codes(result, self.populated)
        layer = self.overlay(
            codes, self.reason_colours, name="unreachable people", opacity=_REASON_OPACITY,
            sparse=True, **kw,
        )  # fmt: skip
        return layer, set(np.unique(codes).tolist()) - {0}

    def facility_layers(
        self, table: pd.DataFrame, *, css_prefix: str, new: bool
    ) -> list[tuple[str, Layer]]:
        """(tier, marker layer) per tier (``_row`` = the row in the service's facility table)."""
        layers: list[tuple[str, Layer]] = []
        for tier in self.tiers:
            part = table[table["tier"].astype(str) == tier]
            if len(part):
                layers.append(
                    (
                        tier,
                        FacilityMarkers(
                            _facility_rows(part, self.spec, css_prefix, self.text),
                            _marker_style(tier, self.tiers, new=new),
                            name=_esc(f"facilities: {tier}"),
                        ),
                    )
                )
        return layers


def _new_map(
    frame: _Frame,
    *,
    offline: bool,
    basemap_url: str | None,
    basemap_attribution: str | None,
    page_title: str,
    css: str,
) -> tuple[folium.Map, Layer | None]:
    """An empty map: Leaflet inline (offline) or linked, the page style, an optional basemap."""
    m = folium.Map(
        location=[
            (frame.bounds[0][0] + frame.bounds[1][0]) / 2,
            (frame.bounds[0][1] + frame.bounds[1][1]) / 2,
        ],
        zoom_start=9,
        tiles=None,
        control_scale=True,
        zoom_control="bottomright",
        prefer_canvas=False,
    )
    m.options["max_zoom"] = 18
    m.options["zoom_snap"] = 0.25
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.title = _esc(page_title)
    if offline:
        m.default_js = []
        m.default_css = []
        m.add_child(InlineLeaflet())
    else:
        m.default_js = [(k, v) for k, v in folium.Map.default_js if k == "leaflet"]
        m.default_css = [(k, v) for k, v in folium.Map.default_css if k == "leaflet_css"]
    m.add_child(_PageStyle(css))
    m.add_child(_PopupsClearOfControls())
    basemap: Layer | None = None
    if basemap_url:
        attribution = _esc(basemap_attribution or basemap_url)
        basemap = folium.TileLayer(
            tiles=basemap_url, attr=attribution, name="basemap", overlay=True, control=False
        )
    elif not offline:
        basemap = folium.TileLayer("OpenStreetMap", name="basemap", overlay=True, control=False)
    if basemap is not None:
        m.add_child(basemap)
    m.add_child(CustomPane(_ZONES_PANE, z_index=450, pointer_events=True))
    m.add_child(CustomPane(_ROADS_PANE, z_index=455, pointer_events=False))
    m.add_child(CustomPane(_LINES_PANE, z_index=460, pointer_events=False))
    m.add_child(CustomPane(_ROUTE_PANE, z_index=470, pointer_events=False))
    m.add_child(CustomPane(_LABELS_PANE, z_index=640, pointer_events=False))
    return m, basemap


def _catchment_overlay(result: ServiceResult, ctx: _Context) -> Layer:
    codes = _catchment_line_codes(np.asarray(result.search.facility), ctx.grid.shape)
    return ctx.overlay(
        codes, _CATCHMENT_LINE, name="catchment boundaries", show=False, opacity=0.9,
        sparse=True, z_index=50, pane=_LINES_PANE,
    )  # fmt: skip


def _virtual_entry(result: ServiceResult, ctx: _Context, m: folium.Map) -> PanelEntry | None:
    """The virtual-access layer, added to ``m``, as a panel entry (``None``: no telemedicine)."""
    if result.access.connected is None or result.virtual is None:
        return None
    layer = _virtual_overlay(result, ctx)
    m.add_child(layer)
    return PanelEntry(layer, ctx.text.html(lambda loc: loc.t("map.virtual_layer")), ("virtual",))


def _virtual_overlay(result: ServiceResult, ctx: _Context) -> Layer:
    """Populated cells served only virtually, or not at all, at the middle threshold."""
    assert result.access.connected is not None
    classes = classify_access(
        result.search.time_min,
        np.asarray(result.access.connected).ravel(),
        threshold_min=ctx.middle_min,
    )
    codes = np.zeros(classes.shape, dtype=np.uint8)
    codes[(classes == VIRTUAL_ONLY) & ctx.populated] = 1
    codes[(classes == NEITHER) & ctx.populated] = 2
    return ctx.overlay(
        codes, [_VIRTUAL_COLOURS[VIRTUAL_ONLY], _VIRTUAL_COLOURS[NEITHER]],
        name="virtual access", show=False, opacity=_GAIN_OPACITY, sparse=True, z_index=40,
    )  # fmt: skip


def _road_layer(run: RunResult, ctx: _Context) -> tuple[Layer | None, list[str]]:
    """The roads and ferries layer (shown), and the classes it has."""
    cell_m = float(min(ctx.grid.dx_m.min(), ctx.grid.dy_m))
    (south, west), (north, east) = ctx.frame.bounds
    lines = road_class_lines(
        run.region.roads, tolerance_m=cell_m / 2, bounds=(west, south, east, north)
    )
    if not lines:
        return None, []
    # integer units per degree: steps no larger than a quarter of the tolerance
    decimals = min(6, max(3, math.ceil(math.log10(4 * 111_320.0 / max(cell_m / 2, 1e-3)))))
    scale = 10**decimals
    classes = [
        {"lines": encode_lines(geom, scale=scale), "styles": _ROAD_STYLES[name]}
        for name, geom in lines.items()
    ]
    layer = Polylines(classes, scale=scale, name="roads", pane=_ROADS_PANE, show=True)
    return layer, list(lines)


def _label_items(
    run: RunResult, table: pd.DataFrame, ctx: _Context
) -> tuple[list[list[object]], list[list[object]]]:
    """Rows of the facility-name and place-name label layers, placed by rank together."""
    (south, west), (north, east) = ctx.frame.bounds
    # (rank, -people, name, lon, lat, css class, is_facility)
    items: list[tuple[float, float, str, float, float, str, bool]] = []
    places = run.region.places
    if places is not None and len(places):
        pts = places.geometry
        for name, kind, people, x, y in zip(
            places["name"].astype(str), places["place"].astype(str), places["population"],
            pts.x, pts.y, strict=True,
        ):  # fmt: skip
            if kind in PLACE_KINDS and west <= x <= east and south <= y <= north:
                pop = float(people) if np.isfinite(people) else 0.0
                items.append((_PLACE_RANK[kind], -pop, name, x, y, f"reach-place-{kind}", False))
    if not any(not item[6] for item in items):
        zones = run.region.zones
        if zones is not None and len(zones):
            zones = zones.to_crs("EPSG:4326") if zones.crs is not None else zones
            for name, geom in zip(zones["name"].astype(str), zones.geometry, strict=True):
                if geom is not None and not geom.is_empty:
                    pt = geom.representative_point()
                    items.append((0.0, 0.0, name, pt.x, pt.y, "reach-place-zone", False))
    for tier, lat, lon, name, fid, people in zip(
        table["tier"].astype(str), table["lat"], table["lon"], table["name"],
        table["facility_id"].astype(str), table["catchment_population"], strict=True,
    ):  # fmt: skip
        if np.isfinite(lat) and np.isfinite(lon):
            rank = 2.0 if ctx.tiers.index(tier) < 2 else 4.0
            pop = float(people) if np.isfinite(people) else 0.0
            label = str(name).strip()
            if not label or label == fid:
                continue  # no name of its own (readers name such facilities by their id)
            items.append((rank, -pop, label, float(lon), float(lat), "reach-facility-label", True))
    items.sort(key=lambda it: (it[0], it[1], it[2], it[3], it[4]))
    zooms = label_min_zooms(
        [it[3] for it in items], [it[4] for it in items], [label_width_px(it[2]) for it in items],
        min_zoom=_LABEL_MIN_ZOOM, max_zoom=_LABEL_MAX_ZOOM,
    )  # fmt: skip
    facility_rows: list[list[object]] = []
    place_rows: list[list[object]] = []
    for it, z in zip(items, zooms.tolist(), strict=True):
        row: list[object] = [round(it[4], 6), round(it[3], 6), _esc(it[2]), int(z), it[5]]
        (facility_rows if it[6] else place_rows).append(row)
    return facility_rows, place_rows


def _route_styles() -> list[list[dict[str, object]]]:
    """The strokes of each leg kind of :data:`_ROUTE_KINDS`: a white casing, then the colour."""
    styles = []
    for kind in _ROUTE_KINDS:
        core: dict[str, object] = {"color": _ROUTE_COLOURS[kind], "weight": 3.5, "opacity": 1.0,
                                   "className": f"reach-route reach-route-{kind}"}  # fmt: skip
        if _ROUTE_DASH[kind]:
            core["dashArray"] = _ROUTE_DASH[kind]
        styles.append([{"color": "#ffffff", "weight": 6.5, "opacity": 0.9}, core])
    return styles


def _route_popup(name: str, row: pd.Series, legs: pd.DataFrame, text: MapText) -> str:
    """A place's popup: its name, its time to the nearest facility, its legs in words."""
    time = float(row["travel_time_min"])
    facility = row["facility_name"]
    if facility is None or pd.isna(facility) or not str(facility).strip():
        facility = row["facility_id"]
    if np.isfinite(time):
        head = text.html(
            lambda loc: loc.t("route.total", minutes=loc.minutes(time), facility=str(facility))
        )
        kinds = legs["kind"].astype(str).tolist()
        modes = legs["mode"].astype(str).tolist()
        minutes = legs["time_min"].astype(float).tolist()
        body = text.html(lambda loc: " · ".join(route_parts(loc, kinds, modes, minutes)))
    else:
        reason = str(row["reason"])
        head = text.html(
            lambda loc: loc.t("route.none", reason=loc.maybe(f"reason.{reason}", reason))
        )
        body = ""
    legs_html = f'<div class="reach-route-legs">{body}</div>' if body else ""
    title = f"<b>{_esc(name)}</b><br>{head}"
    return f'<div class="reach-popup reach-route-popup">{title}{legs_html}</div>'


def _route_layer(run: RunResult, service: str, ctx: _Context) -> tuple[Layer | None, int, int]:
    """The places with their routes (``None``: no route kept), how many, of how many places."""
    routes, places = run.routes, run.region.places
    if places is None or not len(places):
        return None, 0, 0
    pts = places.to_crs("EPSG:4326").geometry if places.crs is not None else places.geometry
    (south, west), (north, east) = ctx.frame.bounds
    columns = (places["osm_id"], places["name"], places["place"].astype(str), pts.x, pts.y)
    shown = [
        (PLACE_ORIGIN_PREFIX + str(oid), str(name), float(x), float(y))
        for oid, name, kind, x, y in zip(*columns, strict=True)
        if kind in PLACE_KINDS and west <= x <= east and south <= y <= north
    ]
    if routes is None:
        return None, 0, len(shown)
    table = routes.origins[routes.origins["service"] == service].set_index("origin_id")
    legs = routes.legs[routes.legs["service"] == service]
    by_origin = {str(k): g.sort_values("leg") for k, g in legs.groupby("origin_id", sort=False)}
    cell_m = float(min(ctx.grid.dx_m.min(), ctx.grid.dy_m))
    tolerance = cell_m / 111_320.0
    decimals = min(6, max(3, math.ceil(math.log10(4 * 111_320.0 / max(cell_m / 2, 1e-3)))))
    scale = 10**decimals
    rows: list[list[object]] = []
    for oid, name, x, y in shown:
        if oid not in table.index:
            continue
        row = table.loc[oid]
        assert isinstance(row, pd.Series)  # one row per origin and service
        mine = by_origin.get(oid, legs.iloc[:0])
        lines: list[list[object]] = []
        for kind, geom in zip(mine["kind"].astype(str), mine.geometry, strict=True):
            if kind not in _ROUTE_KINDS or geom is None or geom.is_empty:
                continue
            simple = shapely.simplify(geom, tolerance, preserve_topology=False)
            for line in encode_lines(simple, scale=scale):
                if len(line) >= 4:
                    lines.append([_ROUTE_KINDS.index(kind), *line])
        popup = _route_popup(name, row, mine, ctx.text)
        rows.append([round(y, 6), round(x, 6), popup, _esc(name), lines])
    if not rows:
        return None, 0, len(shown)
    layer = RouteMarkers(
        rows, _route_styles(), _ROUTE_MARKER, scale=scale, name="place routes",
        route_pane=_ROUTE_PANE, show=True,
    )  # fmt: skip
    return layer, len(rows), len(shown)


def _title_html(
    scenario_name: str,
    service_label: Callable[[Locale], str],
    *,
    mode: str | None,
    date: str,
    text: MapText,
) -> str:
    """The title: the scenario's name, the service, its mode (unless its label names it)."""
    sub = text.html(
        lambda loc: loc.t(
            "map.subtitle", service=service_label(loc), mode=loc.maybe(f"mode.{mode}", mode),
            date=loc.date(date),
        )
        if mode is not None
        else loc.t("map.subtitle_label", service=service_label(loc), date=loc.date(date))
    )  # fmt: skip
    return (
        f'<b>{_esc(scenario_name)}</b><br><span class="reach-sub">{sub}</span>{text.switch_html()}'
    )


def service_map(
    run: RunResult,
    service: str,
    *,
    offline: bool = True,
    basemap_url: str | None = None,
    basemap_attribution: str | None = None,
    title_date: str | None = None,
    max_image_px: int = DEFAULT_MAX_IMAGE_PX,
    langs: Sequence[str] | None = None,
) -> folium.Map:
    """Build the coverage map of one service.

    Parameters
    ----------
    run
        A finished run (baseline, and alternatives for a scenario set).
    service
        The service's name.
    offline
        Embed Leaflet in the page and add no basemap unless ``basemap_url`` is given, so the
        page works with no network. With False, Leaflet is linked from folium's usual location
        and, without ``basemap_url``, OpenStreetMap tiles are the basemap.
    basemap_url
        A tile URL template (``…/{z}/{x}/{y}.png``) for a basemap layer.
    basemap_attribution
        The basemap's attribution text (escaped); default: the URL template.
    title_date
        The date shown in the title (ISO); default today (UTC, or ``SOURCE_DATE_EPOCH``).
    max_image_px
        Longest side of each raster image, in pixels; finer grids are sampled down.
    langs
        The page's languages, the first shown when it opens; default
        :func:`map_languages` (the scenario's report languages, else English). With more than
        one, a switch in the title changes every text in the page.

    Returns
    -------
    folium.Map
        The map, with its element ids numbered in tree order (see :func:`render_map`).

    Raises
    ------
    KeyError
        If the run has no such service.
    InputError
        For a language reach has no messages for.
    """
    base = run.baseline.services[service]
    spec = base.spec
    grid = run.region.grid
    text = MapText(list(langs) if langs is not None else map_languages(run))
    band_labels, band_colours = _time_bands(spec.thresholds_min, text)
    alternatives = {name: ev.services[service] for name, ev in run.alternatives.items()}
    ctx = _Context(
        grid=grid,
        frame=_frame(grid, max_image_px=max_image_px),
        spec=spec,
        text=text,
        populated=np.asarray(run.region.population.people).ravel() > 0,
        middle_min=_middle_threshold(spec),
        tiers=_tier_order(
            [base.facility_table] + [r.facility_table for r in alternatives.values()]
        ),
        band_labels=band_labels,
        band_colours=band_colours,
        reason_colours=[REASON_COLOURS.get(k, "#000000") for k in range(1, max(REASON_LABELS) + 1)],
    )
    alt_labels = {a.name: a.label for a in run.scenario.alternatives}
    stress_tests = {a.name for a in run.scenario.alternatives if a.resolved_kind == "stress_test"}
    scenario_name = run.scenario.scenario.name
    date = title_date if title_date is not None else today_iso()

    def service_label(loc: Locale) -> str:
        return _display_name(spec.label, service, loc)

    titles = text.by_lang(lambda loc: f"{scenario_name} — {service_label(loc)} — {date}")
    m, basemap = _new_map(
        ctx.frame,
        offline=offline,
        basemap_url=basemap_url,
        basemap_attribution=basemap_attribution,
        page_title=titles[text.first.lang],
        css=_CSS + text.css(),
    )
    t = text.html
    groups: list[PanelGroup] = []
    if basemap is not None:
        entry = PanelEntry(basemap, t(lambda loc: loc.t("map.basemap")))
        groups.append(PanelGroup(t(lambda loc: loc.t("map.basemap")), (entry,), open=True))

    # the baseline: travel time, unreachable people, catchments, virtual access
    base_time = ctx.time_overlay(base, show=True, z_index=10)
    base_unreachable, reasons = ctx.unreachable_overlay(base, show=True, z_index=60)
    catchments = _catchment_overlay(base, ctx)
    for layer in (base_time, catchments, base_unreachable):
        m.add_child(layer)
    baseline_entries = [
        PanelEntry(base_time, t(lambda loc: loc.t("map.travel_time")), ("time",)),
        PanelEntry(base_unreachable, t(lambda loc: loc.t("map.unreachable")), ("unreachable",)),
        PanelEntry(catchments, t(lambda loc: loc.t("map.catchments")), ("catchments",)),
    ]
    virtual_any = False
    virtual = _virtual_entry(base, ctx, m)
    if virtual is not None:
        baseline_entries.append(virtual)
        virtual_any = True
    groups.append(PanelGroup(t(lambda loc: loc.t("baseline")), tuple(baseline_entries), open=True))

    # options: a group each (time with unreachable people and new facilities; who gains)
    base_ids = set(base.facility_table["facility_id"].astype(str))
    for alt_name, res in alternatives.items():
        labels = alt_labels.get(alt_name, {})
        group = folium.FeatureGroup(name=_esc(f"option: {alt_name}"), show=False, control=False)
        group.add_child(ctx.time_overlay(res, z_index=11))
        unreachable, alt_reasons = ctx.unreachable_overlay(res, z_index=61)
        group.add_child(unreachable)
        reasons |= alt_reasons
        table = res.facility_table.assign(_row=np.arange(len(res.facility_table)))
        new = table[~table["facility_id"].astype(str).isin(base_ids)]
        prefix = f"reach-alt-{_css_ident(alt_name)}-"
        for _tier, layer in ctx.facility_layers(new, css_prefix=prefix, new=True):
            group.add_child(layer)
        m.add_child(group)
        gains = ctx.overlay(
            gain_codes(base.search.time_min, res.search.time_min, ctx.populated),
            (*_GAIN_COLOURS, _NEWLY_REACHED, _SLOWER, _NO_LONGER_REACHED),
            name="who gains", show=False, opacity=_GAIN_OPACITY, sparse=True, z_index=30,
        )  # fmt: skip
        m.add_child(gains)
        entries = [
            PanelEntry(
                group, t(lambda loc: loc.t("map.option_time")),
                ("time", "unreachable", "new_facilities"),
            ),
            PanelEntry(gains, t(lambda loc: loc.t("map.gains")), ("gains",)),
        ]  # fmt: skip
        virtual = _virtual_entry(res, ctx, m)
        if virtual is not None:
            entries.append(virtual)
            virtual_any = True
        heading = t(
            lambda loc, labels=labels, alt_name=alt_name: loc.t(
                "map.stress_test" if alt_name in stress_tests else "map.option",
                name=_display_name(labels, alt_name, loc),
            )
        )
        groups.append(PanelGroup(heading, tuple(entries)))

    # place context: roads, zones, place names; then facilities and their names on top
    context_entries: list[PanelEntry] = []
    roads, road_classes = _road_layer(run, ctx)
    if roads is not None:
        m.add_child(roads)
        context_entries.append(PanelEntry(roads, t(lambda loc: loc.t("map.roads")), ("roads",)))
    choropleth, outlines, choropleth_colours = _zone_layers(run, base, ctx.middle_min, text)
    if choropleth is not None and outlines is not None:
        m.add_child(choropleth)
        m.add_child(outlines)
        context_entries += [
            PanelEntry(outlines, t(lambda loc: loc.t("map.zone_boundaries")), ("boundaries",)),
            PanelEntry(
                choropleth,
                t(lambda loc: loc.t("map.zones_layer", minutes=loc.threshold(ctx.middle_min))),
                ("zones",),
            ),
        ]
    table = base.facility_table.assign(_row=np.arange(len(base.facility_table)))
    facility_label_rows, place_rows = _label_items(run, table, ctx)
    if place_rows:
        places = MapLabels(place_rows, name="place names", pane=_LABELS_PANE, show=True)
        m.add_child(places)
        context_entries.append(PanelEntry(places, t(lambda loc: loc.t("map.places"))))
    route_layer, routed, n_places = _route_layer(run, service, ctx)
    if route_layer is not None:
        m.add_child(route_layer)
        context_entries.append(
            PanelEntry(route_layer, t(lambda loc: loc.t("map.routes_layer")), ("routes",))
        )
    groups.append(PanelGroup(t(lambda loc: loc.t("map.context")), tuple(context_entries), True))
    facility_entries = []
    for tier, layer in ctx.facility_layers(table, css_prefix="reach-facility-", new=False):
        m.add_child(layer)
        facility_entries.append(
            PanelEntry(layer, t(lambda loc, tier=tier: tier_word(loc, tier)), ("facilities",))
        )
    if facility_label_rows:
        names = MapLabels(facility_label_rows, name="facility names", pane=_LABELS_PANE)
        m.add_child(names)
        facility_entries.append(PanelEntry(names, t(lambda loc: loc.t("map.facility_names"))))
    groups.append(PanelGroup(t(lambda loc: loc.t("map.facilities")), tuple(facility_entries), True))

    # title, legend, the layer panel (last: it ticks the layers that are on), the first view
    # a service's own display name usually says how people travel ("… by motorbike")
    mode = None if spec.label else spec.mode
    title = _title_html(scenario_name, service_label, mode=mode, date=date, text=text)
    m.add_child(HtmlControl(title, position="topleft", css_class="reach-title"))
    sections = _legend_sections(
        ctx, reasons=reasons, choropleth_colours=choropleth_colours,
        alternatives=bool(alternatives), virtual=virtual_any, road_classes=road_classes,
        routes=(routed, n_places) if route_layer is not None else None,
    )  # fmt: skip
    legend = _legend_html(t(lambda loc: loc.t("map.legend")), sections)
    m.add_child(HtmlControl(legend, position="bottomleft", css_class="reach-legend"))
    m.add_child(LayerPanel(groups, title_html=t(lambda loc: loc.t("map.layers"))))
    hint = "map.cell_band_hint" if route_layer is not None else "map.cell_band_note"
    explain = f'<code class="reach-at">reach explain SCENARIO --at {CELL_AT}</code>'
    cell_texts = [
        '<div class="reach-popup reach-cell-popup"><b>'
        + t(lambda loc, w=word: loc.t("map.cell_band", band=w(loc)))
        + "</b><br>"
        + t(lambda loc: loc.t(hint))
        + "<br>"
        + t(lambda loc: loc.t("map.cell_explain", command="@@command@@")).replace(
            "@@command@@", explain
        )
        + "</div>"
        for word in _band_words(spec.thresholds_min)
    ]
    m.add_child(_CellBand(base_time, ctx.band_colours, cell_texts))
    if text.several:
        m.add_child(_LanguageSwitch(titles))
    # open on the populated cells, leaving room for the title and legend (left), layers (right)
    fit = FitBounds(
        _populated_bounds(grid, ctx.populated) or ctx.frame.bounds,
        padding_top_left=(250, 20),
        padding_bottom_right=(250, 10),
    )
    fit.options["animate"] = False
    m.add_child(fit)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    _number_elements(figure)
    return m


def _legend_sections(
    ctx: _Context,
    *,
    reasons: set[int],
    choropleth_colours: Sequence[str],
    alternatives: bool,
    virtual: bool,
    road_classes: Sequence[str],
    routes: tuple[int, int] | None = None,
) -> list[_Section]:
    """The legend's sections, in the order shown (``routes``: places routed, of how many)."""
    t = ctx.text.html
    mid = ctx.middle_min
    sections = [
        _Section(
            "time",
            t(lambda loc: loc.t("map.time_heading")),
            tuple(
                ("box", c, lab) for c, lab in zip(ctx.band_colours, ctx.band_labels, strict=True)
            ),
            _TIME_OPACITY,
        ),
        _Section(
            "unreachable",
            t(lambda loc: loc.t("map.unreachable_heading")),
            tuple(
                ("box", REASON_COLOURS[k], t(lambda loc, k=k: loc.t(f"reason.{REASON_LABELS[k]}")))
                for k in sorted(reasons)
            )
            or (("none", "#ffffff", t(lambda loc: loc.t("none"))),),
            _REASON_OPACITY,
        ),
        _Section(
            "catchments",
            t(lambda loc: loc.t("map.catchments")),
            (("line", _CATCHMENT_LINE[0], t(lambda loc: loc.t("map.catchment_line"))),),
        ),
    ]
    if choropleth_colours:
        bins = (0.0, *_CHOROPLETH_BINS_PCT, 100.0)
        items = [
            ("box", c, t(lambda loc, a=a, b=b: f"{loc.number(a)}–{loc.pct(b, 0)}"))
            for c, (a, b) in zip(choropleth_colours, itertools.pairwise(bins), strict=True)
        ]
        items.append(("none", "#ffffff", t(lambda loc: loc.t("map.no_people"))))
        heading = t(lambda loc: loc.t("map.zones_heading", minutes=loc.threshold(mid)))
        sections.append(_Section("zones", heading, tuple(items), _CHOROPLETH_OPACITY))
    sections.append(
        _Section(
            "boundaries",
            t(lambda loc: loc.t("map.zone_boundaries")),
            (("line", "#222222", t(lambda loc: loc.t("map_outline"))),),
        )
    )
    if alternatives:
        labels, colours = _gain_legend(ctx.text)
        items_g = tuple(("box", c, lab) for c, lab in zip(colours, labels, strict=True))
        heading = t(lambda loc: loc.t("map.gains_heading"))
        sections.append(_Section("gains", heading, items_g, _GAIN_OPACITY))
    if virtual:
        heading = t(lambda loc: loc.t("map.virtual_heading", minutes=loc.threshold(mid)))
        items_v = (
            ("box", _VIRTUAL_COLOURS[VIRTUAL_ONLY], t(lambda loc: loc.t("map.virtual_only"))),
            ("box", _VIRTUAL_COLOURS[NEITHER], t(lambda loc: loc.t("map.neither"))),
        )
        sections.append(_Section("virtual", heading, items_v, _GAIN_OPACITY))
    if road_classes:
        items_r = tuple(
            (
                "line",
                str(_ROAD_STYLES[name][0]["color"]),
                t(lambda loc, n=name: loc.t(_ROAD_WORDS[n])),
            )
            for name in ("main", "other", "track", "ferry")
            if name in road_classes
        )
        sections.append(_Section("roads", t(lambda loc: loc.t("map.roads")), items_r))
    if routes is not None:
        routed, n_places = routes
        items_p: list[tuple[str, str, str]] = [
            ("dot", f"#ffffff/{_ROUTE_COLOURS['road']}", t(lambda loc: loc.t("map.route_place"))),
            ("line", _ROUTE_COLOURS["walk"], t(lambda loc: loc.t("map.route_walk"))),
            ("line", _ROUTE_COLOURS["road"], t(lambda loc: loc.t("map.route_road"))),
            ("line", _ROUTE_COLOURS["ferry"], t(lambda loc: loc.t("map.route_ferry"))),
        ]
        if routed < n_places:
            note = t(
                lambda loc: loc.t(
                    "map.routes_capped", shown=loc.number(routed), total=loc.number(n_places)
                )
            )
            items_p.append(("note", "", f'<span class="reach-note">{note}</span>'))
        heading = t(lambda loc: loc.t("map.routes_heading"))
        sections.append(_Section("routes", heading, tuple(items_p)))
    tiers = tuple(
        (
            "dot",
            "/".join(_tier_style(tier, ctx.tiers)[:2]),
            t(lambda loc, tier=tier: tier_word(loc, tier)),
        )
        for tier in ctx.tiers
    )
    sections.append(
        _Section(
            "facilities",
            t(lambda loc: loc.t("map.facilities")),
            tiers or (("none", "#ffffff", t(lambda loc: loc.t("none"))),),
        )
    )
    sections.append(
        _Section(
            "new_facilities",
            t(lambda loc: loc.t("map.new_facilities")),
            (
                (
                    "dot",
                    f"#ffffff/{_NEW_FACILITY_OUTLINE}",
                    t(lambda loc: loc.t("map.new_facilities")),
                ),
            ),
        )
    )
    return sections


def _css_ident(text: str) -> str:
    """A CSS-class-safe version of an identifier (letters, digits, ``_`` and ``-`` only)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "_" for ch in text)


def _populated_bounds(grid: AnalysisGrid, populated: np.ndarray) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of the populated cells (where the map should look)."""
    rows, cols = np.nonzero(populated.reshape(grid.shape))
    if len(rows) == 0:
        return None
    t = grid.transform
    xs = t.c + t.a * np.array([cols.min(), cols.max() + 1, cols.min(), cols.max() + 1])
    ys = t.f + t.e * np.array([rows.min(), rows.min(), rows.max() + 1, rows.max() + 1])
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return [[float(np.min(lat)), float(np.min(lon))], [float(np.max(lat)), float(np.max(lon))]]


def _number_elements(root: Element) -> None:
    """Replace folium's random element ids by numbers in tree order (deterministic pages)."""
    counter = 0

    def visit(element: Element) -> None:
        nonlocal counter
        counter += 1
        element._id = f"{counter:04d}"
        children = list(element._children.items())
        element._children.clear()
        for key, child in children:
            old = child.get_name()
            visit(child)
            element._children[child.get_name() if key == old else key] = child

    visit(root)


def render_map(m: folium.Map) -> str:
    """The map's complete HTML page (deterministic for a map built by :func:`service_map`).

    Parameters
    ----------
    m
        The map to render.

    Returns
    -------
    str
        The HTML of the page the map belongs to (its root figure), as :func:`write_maps` writes
        it.
    """
    figure = m.get_root()
    assert isinstance(figure, Figure)
    return str(figure.render())


def write_maps(
    run: RunResult,
    folder: Path,
    *,
    offline: bool = True,
    basemap_url: str | None = None,
    title_date: str | None = None,
    langs: Sequence[str] | None = None,
) -> list[Path]:
    """Write one HTML coverage map per service into ``folder``.

    Parameters
    ----------
    run
        A finished run.
    folder
        Output folder (created if missing). Each map is written to a temporary file beside its
        final name and renamed into place, so a reader never sees half a page.
    offline
        Embed Leaflet and use no basemap unless ``basemap_url`` is given (see
        :func:`service_map`).
    basemap_url
        A tile URL template for a basemap layer.
    title_date
        The date shown in the titles; default today.
    langs
        The pages' languages (see :func:`service_map`); default the scenario's report
        languages, else English.

    Returns
    -------
    list of pathlib.Path
        ``folder / map_<service>.html`` for each service, in the scenario's order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    date = title_date if title_date is not None else today_iso()
    written = []
    for service in run.baseline.services:
        m = service_map(
            run, service, offline=offline, basemap_url=basemap_url, title_date=date, langs=langs
        )
        path = folder / map_file_name(service)
        write_text_atomic(path, render_map(m))
        written.append(path)
    return written
