"""Interactive coverage maps: one self-contained HTML page (folium / Leaflet) per service.

Each page shows, for one service of a run:

* the travel time to the nearest facility, in the service's minute bands;
* the people who cannot reach a facility, by reason;
* catchments, coloured so that neighbouring catchments differ;
* zones as a choropleth of the share of people within the middle threshold, and their outlines;
* facilities by tier, each with a popup (name, id, catchment population, load against capacity);
* for a scenario set, one layer group per alternative (its travel time, its unreachable people
  and its new facilities),
  the minutes each populated cell saves against the baseline ("who gains"), and, where
  telemedicine or online learning is on, the populated cells served only virtually or not at all.

Rasters go in as palette PNG images warped to Web Mercator with nearest-neighbour sampling, so
they line up with Leaflet's map exactly and stay small (never one polygon per cell). All user
text (facility, zone, tier, scenario and alternative names) is escaped with :func:`html.escape`
before it reaches the page, and every value handed to JavaScript is JSON with ``<``, ``>``,
``&`` and ``'`` escaped. Offline pages embed Leaflet (:mod:`reach.outputs.map_assets`) and make
no network request. Element ids are numbered in tree order, so a run gives byte-identical pages.
"""

from __future__ import annotations

import base64
import colorsys
import datetime as dt
import html
import io
import itertools
import json
import math
import os
from collections.abc import Sequence
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
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.metrics.virtual import NEITHER, VIRTUAL_ONLY, classify_access
from reach.outputs.map_assets import InlineLeaflet
from reach.outputs.write import write_text_atomic
from reach.schema import catchment_within_col, within_col

if TYPE_CHECKING:
    from reach.model.grid import AnalysisGrid
    from reach.results import RunResult, ServiceResult
    from reach.spec import ServiceSpec

__all__ = [
    "DEFAULT_MAX_IMAGE_PX",
    "FacilityMarkers",
    "HtmlControl",
    "catchment_colours",
    "gain_codes",
    "map_file_name",
    "render_map",
    "service_map",
    "write_maps",
]

#: Longest side, in pixels, of a raster layer's image; larger grids are sampled down.
DEFAULT_MAX_IMAGE_PX = 2048

_WEB_MERCATOR = "EPSG:3857"
_ZONES_PANE = "reach-zones"
_FACILITY_PANE = "markerPane"

# colours (RGB hex); code 0 of every image is transparent
_TIME_ANCHORS = ("#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c", "#7a0177")
_REASON_COLOURS = {
    1: "#6a3d9a",  # beyond the time limit
    2: "#e7298a",  # no route
    3: "#8c510a",  # on a barrier
    4: "#252525",  # water with no ferry
    5: "#969696",  # outside the data
}
_REASON_WORDS = {
    1: "beyond the time limit",
    2: "no route (no road, path or ferry out)",
    3: "on a barrier",
    4: "on water with no ferry",
    5: "outside the land-cover data",
}
_GAIN_BANDS_MIN = (0.5, 5.0, 15.0, 30.0, 60.0)
_GAIN_COLOURS = ("#a1dab4", "#41b6c4", "#2c7fb8", "#253494", "#081d58")
_NEWLY_REACHED = "#ffd700"
_SLOWER = "#fd8d3c"
_NO_LONGER_REACHED = "#bd0026"
_VIRTUAL_COLOURS = {VIRTUAL_ONLY: "#b2abd2", NEITHER: "#e31a1c"}
_CHOROPLETH_BINS_PCT = (20.0, 40.0, 60.0, 80.0)
_CHOROPLETH_ANCHORS = ("#fff5eb", "#2171b5")
_NO_PEOPLE = "#bdbdbd"
_TIER_COLOURS = ("#e41a1c", "#ff7f00", "#ffd92f", "#4daf4a", "#377eb8", "#984ea3", "#a65628")
_CATCHMENT_COLOURS = 9
_MODE_WORDS = {"walk": "on foot", "motorbike": "by motorbike", "car": "by car"}

_CSS = """
.reach-title, .reach-legend { background: rgba(255,255,255,0.92); padding: 6px 9px;
  border-radius: 5px; box-shadow: 0 1px 5px rgba(0,0,0,0.4); color: #222;
  font: 13px/1.35 system-ui, sans-serif; }
.reach-title { font-size: 15px; max-width: 60vw; }
.reach-title .reach-sub { font-size: 12px; color: #555; }
.reach-legend { max-height: 60vh; overflow-y: auto; max-width: 300px; }
.reach-legend summary { cursor: pointer; }
.reach-legend h4 { margin: 6px 0 2px; font-size: 12px; }
.reach-legend div { font-size: 12px; white-space: nowrap; }
.reach-legend i { display: inline-block; width: 14px; height: 11px; margin-right: 5px;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,0.25); }
.reach-legend i.reach-dot { border-radius: 50%; width: 11px; border: 1px solid #222; }
.reach-popup table { border-collapse: collapse; }
.reach-popup th { text-align: left; padding-right: 8px; font-weight: 600; }
"""


# --------------------------------------------------------------------------------------------
# small helpers


def _esc(value: object) -> str:
    """``html.escape`` of any value's text (quotes too)."""
    return html.escape(str(value), quote=True)


def _js(value: object) -> str:
    """JSON for a ``<script>`` element: ``<``, ``>``, ``&`` and ``'`` as ``\\uXXXX`` escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


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


def _catchment_palette(n: int) -> list[str]:
    """``n`` distinct colours: golden-ratio steps of hue at two lightness levels."""
    out = []
    for k in range(n):
        hue = (k * 0.618033988749895) % 1.0
        light = 0.55 if k % 2 == 0 else 0.42
        out.append(_hex([255 * v for v in colorsys.hls_to_rgb(hue, light, 0.65)]))
    return out


def _fmt_min(value: float) -> str:
    return f"{value:g}"


def _fmt_people(value: float) -> str:
    return f"{value:,.0f}" if np.isfinite(value) else "–"


def _today() -> str:
    """Today's date (UTC), or that of ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.datetime.now(tz=dt.UTC).date().isoformat()


def _middle_threshold(spec: ServiceSpec) -> float:
    """The middle of the service's thresholds (the one alternatives are ranked by)."""
    th = sorted(spec.thresholds_min)
    return float(th[len(th) // 2])


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
    show: bool = True,
    sparse: bool = False,
    control: bool = True,
) -> folium.raster_layers.ImageOverlay:
    image = _warp(codes, grid, frame, sparse=sparse)
    return folium.raster_layers.ImageOverlay(
        _png_data_uri(image, colours),
        bounds=frame.bounds,
        name=_esc(name),
        show=show,
        control=control,
        opacity=opacity,
        pixelated=True,
        interactive=False,
    )


def _time_codes(time_min: np.ndarray, thresholds_min: Sequence[float]) -> np.ndarray:
    """Band of each cell: 1 = within the first threshold … n+1 = beyond the last; 0 unreached."""
    t = np.asarray(time_min, dtype=np.float64)
    edges = np.asarray(sorted(thresholds_min), dtype=np.float64)
    band = np.searchsorted(edges, np.where(np.isfinite(t), t, 0.0), side="left") + 1
    return np.where(np.isfinite(t), band, 0).astype(np.uint8)


def _time_bands(thresholds_min: Sequence[float]) -> tuple[list[str], list[str]]:
    th = sorted(thresholds_min)
    labels = [f"≤ {_fmt_min(th[0])} min"]
    labels += [f"{_fmt_min(a)}–{_fmt_min(b)} min" for a, b in itertools.pairwise(th)]
    labels.append(f"> {_fmt_min(th[-1])} min")
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


def _gain_legend() -> tuple[list[str], list[str]]:
    e = _GAIN_BANDS_MIN
    labels = [f"{_fmt_min(a)}–{_fmt_min(b)} min faster" for a, b in itertools.pairwise(e)]
    labels.append(f"> {_fmt_min(e[-1])} min faster")
    labels += ["newly reached", "slower", "no longer reached"]
    return labels, [*_GAIN_COLOURS, _NEWLY_REACHED, _SLOWER, _NO_LONGER_REACHED]


def catchment_colours(label: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Colour number (0 … k-1) per facility so that touching catchments get different colours.

    Parameters
    ----------
    label
        ``int`` per cell (flat or ``shape``): the facility row of each cell, ``-1`` for none.
    shape
        ``(rows, cols)`` of the grid.

    Returns
    -------
    numpy.ndarray
        ``int64`` per facility (``max(label) + 1`` entries): a greedy colouring of the graph of
        catchments that share a cell edge, in facility order, so it is deterministic.
    """
    lab = np.asarray(label).reshape(shape)
    n = int(lab.max()) + 1 if lab.size else 0
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    pairs = []
    for left, right in ((lab[:, :-1], lab[:, 1:]), (lab[:-1, :], lab[1:, :])):
        touch = (left != right) & (left >= 0) & (right >= 0)
        pairs.append(np.stack([left[touch], right[touch]], axis=1))
    edges = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in edges.tolist():
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))
    colour = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        used = {int(colour[j]) for j in neighbours[i] if colour[j] >= 0}
        colour[i] = next(c for c in range(len(used) + 1) if c not in used)
    return colour


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
        self.rows_json = _js(rows)
        self.style_json = _js(style)


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
        self.html_json = _js(html_text)
        self.position_json = _js(position)
        self.css_class_json = _js(css_class)


class _PageStyle(MacroElement):
    """The page's own CSS (titles, legend, popups)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>{{ this.css }}</style>
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "PageStyle"
        self.css = _CSS


def _round_coords(geom: shapely.Geometry, decimals: int = 5) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def _zone_features(
    run: RunResult, result: ServiceResult, threshold_min: float
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
        if np.isfinite(pct):
            fill = colours[int(np.searchsorted(_CHOROPLETH_BINS_PCT, pct, side="right"))]
            pct_text = f"{pct:.1f} %"
        else:
            fill, pct_text = _NO_PEOPLE, "no people"
        tooltip = (
            f"<b>{_esc(name)}</b> ({_esc(zone_id)})<br>"
            f"{_fmt_people(people)} people<br>"
            f"{pct_text} within {_fmt_min(threshold_min)} min"
        )
        simple = _round_coords(geom.simplify(cell_deg / 2, preserve_topology=True))
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(simple)),
                "properties": {
                    "tooltip": tooltip,
                    "style": {
                        "color": "#333333",
                        "weight": 1,
                        "fillColor": fill,
                        "fillOpacity": 0.65,
                    },
                },
            }
        )
    return features, colours


def _zone_layers(
    run: RunResult, result: ServiceResult, threshold_min: float
) -> tuple[list[Layer], list[str]]:
    features, colours = _zone_features(run, result, threshold_min)
    if not features:
        return [], []
    choropleth = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=_esc(f"Zones: % within {_fmt_min(threshold_min)} min"),
        show=False,
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
        name="Zone boundaries",
        show=True,
        pane=_ZONES_PANE,
        interactive=False,
    )
    return [choropleth, outlines], colours


def _tier_order(tables: Sequence[pd.DataFrame]) -> list[str]:
    """Tiers present, highest first for the known ones (hospital … clinic), then by name."""
    tiers: set[str] = set()
    for table in tables:
        tiers.update(table["tier"].astype(str))
    known = [t for t in (*HEALTH_TIERS, *EDUCATION_TIERS[::-1]) if t in tiers]
    return known + sorted(tiers - set(known))


def _tier_colour(tier: str, tiers: Sequence[str]) -> str:
    return _TIER_COLOURS[tiers.index(tier) % len(_TIER_COLOURS)]


def _facility_popup(row: pd.Series, spec: ServiceSpec) -> str:
    top = max(spec.thresholds_min)
    catch = float(row["catchment_population"])
    col = catchment_within_col(top)
    within = float(row[col]) if col in row.index else float("nan")
    mean_t = float(row["catchment_mean_time_min"])
    capacity = float(row["capacity"])
    if np.isfinite(capacity) and capacity > 0:
        pct = 100.0 * catch / capacity
        load = f"{_fmt_people(catch)} / {_fmt_people(capacity)} ({pct:.{0 if pct >= 10 else 1}f} %)"
    else:
        load = f"{_fmt_people(catch)} (no capacity given)"
    whom = "people" if spec.target_share == 1 else f"people ({spec.target_share:.0%} target share)"
    rows = [
        ("ID", _esc(row["facility_id"])),
        ("Tier", _esc(row["tier"])),
        ("Catchment", f"{_fmt_people(catch)} {whom}"),
        (f"within {_fmt_min(top)} min", _fmt_people(within)),
        ("Mean time", f"{mean_t:.0f} min" if np.isfinite(mean_t) else "–"),
        ("Load / capacity", load),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    note = "" if bool(row["on_grid"]) else "<br><i>outside the analysis grid: not used</i>"
    return f'<div class="reach-popup"><b>{_esc(row["name"])}</b><table>{body}</table>{note}</div>'


def _facility_rows(table: pd.DataFrame, spec: ServiceSpec, css_prefix: str) -> list[list[object]]:
    rows: list[list[object]] = []
    for i, (_, row) in enumerate(table.iterrows()):
        lat, lon = float(row["lat"]), float(row["lon"])
        if not (np.isfinite(lat) and np.isfinite(lon)):
            continue
        rows.append(
            [
                round(lat, 6),
                round(lon, 6),
                _facility_popup(row, spec),
                f"{_esc(row['name'])} ({_esc(row['tier'])})",
                f"reach-facility {css_prefix}{int(row.get('_row', i))}",
                not bool(row["on_grid"]),
            ]
        )
    return rows


def _marker_style(colour: str, *, rank: int, new: bool) -> dict[str, object]:
    return {
        "radius": max(5, 8 - rank) + (2 if new else 0),
        "color": colour if new else "#222222",
        "weight": 3 if new else 1.2,
        "fillColor": "#ffffff" if new else colour,
        "fillOpacity": 0.95,
        "pane": _FACILITY_PANE,
    }


def _legend_html(sections: Sequence[tuple[str, Sequence[tuple[str, str]], bool]]) -> str:
    """Legend from (escaped heading, [(colour, escaped label)], dots) sections."""
    parts = ["<details open><summary><b>Legend</b></summary>"]
    for heading, items, dots in sections:
        parts.append(f"<h4>{heading}</h4>")
        cls = ' class="reach-dot"' if dots else ""
        parts += [f'<div><i{cls} style="background:{c}"></i>{label}</div>' for c, label in items]
    return "".join(parts) + "</details>"


# --------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True, eq=False)
class _Context:
    """What every layer of one service's map needs."""

    grid: AnalysisGrid
    frame: _Frame
    spec: ServiceSpec
    populated: np.ndarray
    middle_min: float
    tiers: list[str]
    band_labels: list[str]
    band_colours: list[str]
    reason_colours: list[str]

    def overlay(self, codes: np.ndarray, colours: Sequence[str], **kw: Any) -> Layer:
        """An image layer of ``codes`` on this map's frame."""
        return _overlay(codes, colours, self.grid, self.frame, **kw)

    def time_overlay(self, result: ServiceResult, name: str, **kw: Any) -> Layer:
        codes = _time_codes(result.search.time_min, self.spec.thresholds_min)
        return self.overlay(codes, self.band_colours, name=name, opacity=0.75, **kw)

    def facility_layers(
        self, table: pd.DataFrame, *, css_prefix: str, label: str, new: bool
    ) -> list[Layer]:
        """One marker layer per tier (``_row`` = the row in the service's facility table)."""
        layers: list[Layer] = []
        for rank, tier in enumerate(self.tiers):
            part = table[table["tier"].astype(str) == tier]
            if len(part):
                layers.append(
                    FacilityMarkers(
                        _facility_rows(part, self.spec, css_prefix),
                        _marker_style(_tier_colour(tier, self.tiers), rank=rank, new=new),
                        name=_esc(f"{label}: {tier}"),
                        control=not new,
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
) -> folium.Map:
    """An empty map: Leaflet inline (offline) or linked, the page style, an optional basemap."""
    m = folium.Map(
        location=[
            (frame.bounds[0][0] + frame.bounds[1][0]) / 2,
            (frame.bounds[0][1] + frame.bounds[1][1]) / 2,
        ],
        zoom_start=9,
        tiles=None,
        control_scale=True,
        zoom_control="bottomleft",
        prefer_canvas=False,
    )
    m.options["max_zoom"] = 18
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
    m.add_child(_PageStyle())
    if basemap_url:
        attribution = _esc(basemap_attribution or basemap_url)
        m.add_child(
            folium.TileLayer(tiles=basemap_url, attr=attribution, name="Basemap", overlay=True)
        )
    elif not offline:
        m.add_child(folium.TileLayer("OpenStreetMap", name="Basemap", overlay=True))
    m.add_child(CustomPane(_ZONES_PANE, z_index=450, pointer_events=True))
    return m


def _catchment_overlay(result: ServiceResult, ctx: _Context) -> Layer:
    label = np.asarray(result.search.facility)
    colour_of = catchment_colours(label, ctx.grid.shape)
    n_colours = int(colour_of.max()) + 1 if colour_of.size else 0
    palette = _catchment_palette(max(n_colours, _CATCHMENT_COLOURS))[:255]
    codes = np.zeros(label.shape, dtype=np.uint8)
    if colour_of.size:
        reached = label >= 0
        codes[reached] = np.minimum(colour_of[label[reached]] + 1, 255)
    return ctx.overlay(
        codes, palette, name="Catchments (nearest facility)", show=False, opacity=0.6
    )


def _alternative_group(
    alt_name: str, result: ServiceResult, base_ids: set[str], ctx: _Context
) -> tuple[Layer, set[int]]:
    """One alternative's layer group (travel time, unreachable people, new facilities)."""
    group = folium.FeatureGroup(name=_esc(f"Alternative: {alt_name}"), show=False)
    group.add_child(ctx.time_overlay(result, f"Travel time ({alt_name})", control=False))
    unreachable = _unreachable_codes(result, ctx.populated)
    group.add_child(
        ctx.overlay(
            unreachable, ctx.reason_colours, name=f"Unreachable people ({alt_name})",
            opacity=0.95, sparse=True, control=False,
        )
    )  # fmt: skip
    table = result.facility_table.assign(_row=np.arange(len(result.facility_table)))
    new = table[~table["facility_id"].astype(str).isin(base_ids)]
    prefix = f"reach-alt-{_css_ident(alt_name)}-"
    for layer in ctx.facility_layers(new, css_prefix=prefix, label="New facilities", new=True):
        group.add_child(layer)
    return group, set(np.unique(unreachable).tolist()) - {0}


def _virtual_overlay(name: str, result: ServiceResult, ctx: _Context) -> Layer:
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
        name=f"Virtual-only / neither at {_fmt_min(ctx.middle_min)} min ({name})",
        show=False, opacity=0.9, sparse=True,
    )  # fmt: skip


def _legend_sections(
    ctx: _Context,
    service: str,
    *,
    reasons: set[int],
    choropleth_colours: Sequence[str],
    alternatives: bool,
    virtual: bool,
) -> list[tuple[str, Sequence[tuple[str, str]], bool]]:
    """The legend's sections: escaped heading, (colour, escaped label) items, round swatches."""
    sections: list[tuple[str, Sequence[tuple[str, str]], bool]] = [
        (
            _esc(f"Travel time to the nearest {service} facility"),
            list(zip(ctx.band_colours, map(_esc, ctx.band_labels), strict=True)),
            False,
        ),
        (
            "People who cannot reach one",
            [(_REASON_COLOURS[k], _esc(_REASON_WORDS[k])) for k in sorted(reasons)]
            or [("#ffffff", "none")],
            False,
        ),
    ]
    if choropleth_colours:
        bins = (0.0, *_CHOROPLETH_BINS_PCT, 100.0)
        items = [
            (c, f"{a:g}–{b:g} %")
            for c, (a, b) in zip(choropleth_colours, itertools.pairwise(bins), strict=True)
        ]
        heading = _esc(f"Zones: % of people within {_fmt_min(ctx.middle_min)} min")
        sections.append((heading, [*items, (_NO_PEOPLE, "no people")], False))
    if alternatives:
        labels, colours = _gain_legend()
        items = list(zip(colours, map(_esc, labels), strict=True))
        sections.append(("Who gains (alternative vs baseline)", items, False))
    if virtual:
        heading = _esc(f"Remote service beyond {_fmt_min(ctx.middle_min)} min")
        items = [
            (_VIRTUAL_COLOURS[VIRTUAL_ONLY], "virtual only"),
            (_VIRTUAL_COLOURS[NEITHER], "neither"),
        ]
        sections.append((heading, items, False))
    tiers = [(_tier_colour(t, ctx.tiers), _esc(t)) for t in ctx.tiers]
    sections.append(("Facilities", tiers or [("#ffffff", "none")], True))
    return sections


def service_map(
    run: RunResult,
    service: str,
    *,
    offline: bool = True,
    basemap_url: str | None = None,
    basemap_attribution: str | None = None,
    title_date: str | None = None,
    max_image_px: int = DEFAULT_MAX_IMAGE_PX,
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
        The date shown in the title; default today (UTC, or ``SOURCE_DATE_EPOCH``).
    max_image_px
        Longest side of each raster image, in pixels; finer grids are sampled down.

    Returns
    -------
    folium.Map
        The map, with its element ids numbered in tree order (see :func:`render_map`).

    Raises
    ------
    KeyError
        If the run has no such service.
    """
    base = run.baseline.services[service]
    spec = base.spec
    grid = run.region.grid
    band_labels, band_colours = _time_bands(spec.thresholds_min)
    alternatives = {name: ev.services[service] for name, ev in run.alternatives.items()}
    ctx = _Context(
        grid=grid,
        frame=_frame(grid, max_image_px=max_image_px),
        spec=spec,
        populated=np.asarray(run.region.population.people).ravel() > 0,
        middle_min=_middle_threshold(spec),
        tiers=_tier_order(
            [base.facility_table] + [r.facility_table for r in alternatives.values()]
        ),
        band_labels=band_labels,
        band_colours=band_colours,
        reason_colours=[
            _REASON_COLOURS.get(k, "#000000") for k in range(1, max(REASON_LABELS) + 1)
        ],
    )
    scenario_name = run.scenario.scenario.name
    date = title_date if title_date is not None else _today()
    m = _new_map(
        ctx.frame,
        offline=offline,
        basemap_url=basemap_url,
        basemap_attribution=basemap_attribution,
        page_title=f"{scenario_name} — {service} — {date}",
    )

    # the baseline: travel time, catchments, unreachable people (drawn in this order)
    m.add_child(ctx.time_overlay(base, "Travel time (baseline)", show=True))
    m.add_child(_catchment_overlay(base, ctx))
    unreachable = _unreachable_codes(base, ctx.populated)
    m.add_child(
        ctx.overlay(
            unreachable, ctx.reason_colours, name="Unreachable people (by reason)", show=True,
            opacity=0.95, sparse=True,
        )
    )  # fmt: skip
    reasons = set(np.unique(unreachable).tolist()) - {0}

    # alternatives: a group each, then who gains, then virtual access
    base_ids = set(base.facility_table["facility_id"].astype(str))
    for alt_name, res in alternatives.items():
        group, alt_reasons = _alternative_group(alt_name, res, base_ids, ctx)
        m.add_child(group)
        reasons |= alt_reasons
    for alt_name, res in alternatives.items():
        gains = gain_codes(base.search.time_min, res.search.time_min, ctx.populated)
        m.add_child(
            ctx.overlay(
                gains, _gain_legend()[1], name=f"Who gains: minutes saved ({alt_name})",
                show=False, opacity=0.9, sparse=True,
            )
        )  # fmt: skip
    virtual = [
        (name, res)
        for name, res in [("baseline", base), *alternatives.items()]
        if res.access.connected is not None and res.virtual is not None
    ]
    for name, res in virtual:
        m.add_child(_virtual_overlay(name, res, ctx))

    # zones, then facilities on top
    zone_layers, choropleth_colours = _zone_layers(run, base, ctx.middle_min)
    for layer in zone_layers:
        m.add_child(layer)
    table = base.facility_table.assign(_row=np.arange(len(base.facility_table)))
    for layer in ctx.facility_layers(
        table, css_prefix="reach-facility-", label="Facilities", new=False
    ):
        m.add_child(layer)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)

    # title, legend, and the first view
    mode = _MODE_WORDS.get(spec.mode, spec.mode)
    title = (
        f"<b>{_esc(scenario_name)}</b><br>"
        f'<span class="reach-sub">{_esc(service)}: travel time {_esc(mode)} · {_esc(date)}</span>'
    )
    m.add_child(HtmlControl(title, position="topleft", css_class="reach-title"))
    sections = _legend_sections(
        ctx, service, reasons=reasons, choropleth_colours=choropleth_colours,
        alternatives=bool(alternatives), virtual=bool(virtual),
    )  # fmt: skip
    m.add_child(
        HtmlControl(_legend_html(sections), position="bottomright", css_class="reach-legend")
    )
    # open on the populated cells, leaving room for the title (top), layers and legend (right)
    fit = FitBounds(
        _populated_bounds(grid, ctx.populated) or ctx.frame.bounds,
        padding_top_left=(10, 60),
        padding_bottom_right=(300, 10),
    )
    fit.options["animate"] = False
    m.add_child(fit)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    _number_elements(figure)
    return m


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

    Returns
    -------
    list of pathlib.Path
        ``folder / map_<service>.html`` for each service, in the scenario's order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    date = title_date if title_date is not None else _today()
    written = []
    for service in run.baseline.services:
        m = service_map(run, service, offline=offline, basemap_url=basemap_url, title_date=date)
        path = folder / map_file_name(service)
        write_text_atomic(path, render_map(m))
        written.append(path)
    return written
