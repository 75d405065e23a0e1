"""Small, reproducible PNG charts for the report: travel-time maps and coverage curves.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot state, whatever backend is
configured) and encoded by Pillow as palette PNGs with no metadata chunks, so the same run gives
the same bytes on every call and each image stays small (tens of kilobytes).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image

__all__ = [
    "BEYOND_COLOUR",
    "UNREACHED_COLOUR",
    "CurveLine",
    "MapPanel",
    "band_colours",
    "coverage_curve_png",
    "encode_png",
    "region_map_png",
]

# matplotlib's rcParams are one global of the process: rc_context sets and restores them, so
# two figures drawn at once on two threads would each see the other's settings come and go
_RC_LOCK = threading.Lock()

#: Colour of people reached only beyond the largest threshold.
BEYOND_COLOUR = "#7a0177"
#: Colour of populated cells with no route to any facility.
UNREACHED_COLOUR = "#3a3a3a"
_BAND_ANCHORS = ("#1a9641", "#a6d96a", "#fee08b", "#f46d43")
_BACKGROUND = "#e6edf2"  # sea and cells with no travel time
_OUTSIDE_FADE = 0.7  # how far land outside the zone is blended towards white
_LINE_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
_RC: Any = {  # matplotlib settings for every chart
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.titlesize": 8.0,
    "axes.labelsize": 7.5,
    "legend.fontsize": 7.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "axes.linewidth": 0.6,
    "path.simplify": True,
}
_MM_PER_INCH = 25.4


def _rgb(colour: str) -> np.ndarray:
    c = colour.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def band_colours(n_thresholds: int) -> list[str]:
    """Colours of the ``n`` time bands (within the 1st, 2nd, … threshold): green to orange.

    Parameters
    ----------
    n_thresholds
        The number of thresholds, one band each.

    Returns
    -------
    list of str
        ``n_thresholds`` ``#rrggbb`` colours, spread evenly along the ramp (one threshold gets
        its green; none, an empty list).
    """
    anchors = [_rgb(a) for a in _BAND_ANCHORS]
    if n_thresholds <= 1:
        return [_BAND_ANCHORS[0]][:n_thresholds]
    out = []
    for i in range(n_thresholds):
        pos = i / (n_thresholds - 1) * (len(anchors) - 1)
        k = min(int(pos), len(anchors) - 2)
        rgb = anchors[k] * (1 - (pos - k)) + anchors[k + 1] * (pos - k)
        out.append("#" + "".join(f"{round(v):02x}" for v in rgb))
    return out


def encode_png(fig: Figure, *, dpi: float, colours: int = 96) -> bytes:
    """Render ``fig`` and return palette-PNG bytes (no metadata: identical for identical input).

    Parameters
    ----------
    fig
        A figure attached to an Agg canvas.
    dpi
        Resolution in dots per inch.
    colours
        Palette size (2–256): fewer colours, smaller files.

    Returns
    -------
    bytes
        The PNG file's bytes.
    """
    fig.set_dpi(dpi)
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    image = Image.fromarray(rgb).quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _new_figure(width_mm: float, height_mm: float) -> Figure:
    fig = Figure(figsize=(width_mm / _MM_PER_INCH, height_mm / _MM_PER_INCH))
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


@dataclass(frozen=True, eq=False)
class MapPanel:
    """One service's travel times and facilities, for a map.

    Attributes
    ----------
    title
        Panel title (already translated).
    time_min
        ``(rows, cols)`` minutes to the nearest facility on the whole grid (``inf``/NaN where
        unreachable).
    thresholds_min
        The service's thresholds, ascending.
    facility_x, facility_y
        Facility coordinates in the grid's CRS.
    """

    title: str
    time_min: np.ndarray
    thresholds_min: Sequence[float]
    facility_x: np.ndarray
    facility_y: np.ndarray


def _nice_length_km(width_km: float) -> float:
    """A round scale-bar length near a quarter of the map's width."""
    target = width_km / 4
    if target <= 0 or not math.isfinite(target):
        return 1.0
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return step * power
    return power


def _draw_outline(
    ax: Any, geom: shapely.Geometry, *, colour: str = "#111111", width: float = 0.8
) -> None:
    for part in shapely.get_parts(shapely.boundary(geom)):
        for line in shapely.get_parts(part):
            xy = shapely.get_coordinates(line)
            if len(xy) >= 2:
                ax.plot(xy[:, 0], xy[:, 1], color=colour, linewidth=width, solid_joinstyle="round")


def _time_rgb(
    time_min: np.ndarray,
    thresholds_min: Sequence[float],
    colours: Sequence[str],
    populated: np.ndarray,
) -> np.ndarray:
    """``(rows, cols, 3)`` colours: time bands, beyond, unreachable with people, sea."""
    t = np.asarray(time_min, dtype=np.float64)
    th = sorted(float(v) for v in thresholds_min)
    rgb = np.empty((*t.shape, 3))
    rgb[:] = _rgb(_BACKGROUND)
    finite = np.isfinite(t)
    lower = -np.inf
    for k, limit in enumerate(th):
        rgb[finite & (t > lower) & (t <= limit)] = _rgb(colours[k])
        lower = limit
    rgb[finite & (t > th[-1])] = _rgb(BEYOND_COLOUR)
    rgb[~finite & populated] = _rgb(UNREACHED_COLOUR)
    return rgb


def region_map_png(
    panel: MapPanel,
    *,
    transform: Any,
    geographic: bool,
    zone_grid: np.ndarray,
    people: np.ndarray,
    outlines: Sequence[shapely.Geometry | None],
    marks: Sequence[tuple[float, float, str]],
    band_labels: Sequence[str],
    extra_labels: tuple[str, str, str],
    width_mm: float = 170.0,
    max_height_mm: float = 95.0,
    max_cells: int = 900,
    dpi: float = 130.0,
) -> tuple[bytes, float]:
    """One service's travel time over the whole region, the zones outlined and some numbered.

    Parameters
    ----------
    panel
        The service's times, thresholds and facilities (its ``title`` heads the map).
    transform
        The grid's affine transform.
    geographic
        True when the grid is in longitude / latitude (the x axis is then scaled by the cosine of
        the latitude).
    zone_grid
        ``(rows, cols)`` zone number of each cell (0 outside every zone: faded).
    people
        ``(rows, cols)`` people per cell (populated unreachable cells are drawn dark).
    outlines
        Every zone's geometry in the grid's CRS (``None`` for a zone without one), drawn thin.
    marks
        ``(x, y, text)`` labels in the grid's CRS, e.g. the rank of a zone in a table.
    band_labels
        Legend labels of the time bands: one per threshold, then the band beyond the largest.
    extra_labels
        Legend labels of: unreachable populated cells, facilities, the zone boundaries.
    width_mm
        Largest width of the image.
    max_height_mm
        Largest height of the map itself (a tall region gets a narrower image).
    max_cells
        Longest side of the raster in cells; larger grids are sampled down.
    dpi
        Resolution.

    Returns
    -------
    tuple
        The PNG bytes and the image's width in millimetres (to print it at its drawn size).
    """
    shape = zone_grid.shape
    rows, cols = shape
    a, e = transform.a, transform.e
    x0, y0 = transform.c, transform.f
    x1, y1 = x0 + cols * a, y0 + rows * e
    xlim, ylim = (min(x0, x1), max(x0, x1)), (min(y0, y1), max(y0, y1))
    x_scale = math.cos(math.radians((ylim[0] + ylim[1]) / 2)) if geographic else 1.0
    ratio = (ylim[1] - ylim[0]) / max((xlim[1] - xlim[0]) * x_scale, 1e-12)
    map_w = min(width_mm, max_height_mm / max(ratio, 1e-6))
    map_h = map_w * ratio
    img_w = max(map_w, min(width_mm, 120.0))  # room for the legend
    ncol = 4 if img_w >= 110 else 2  # a narrow map stacks its legend in more rows
    title_mm, legend_mm = 5.0, 9.0 if ncol == 4 else 18.0
    img_h = title_mm + map_h + legend_mm
    step = max(1, math.ceil(max(rows, cols) / max_cells))
    populated = np.asarray(people)[::step, ::step] > 0
    with _RC_LOCK, mpl.rc_context(_RC):
        fig = _new_figure(img_w, img_h)
        colours = band_colours(len(panel.thresholds_min))
        ax = fig.add_axes(
            ((img_w - map_w) / 2 / img_w, legend_mm / img_h, map_w / img_w, map_h / img_h)
        )
        ax.set_facecolor(_BACKGROUND)
        t = np.asarray(panel.time_min)[::step, ::step]
        rgb = _time_rgb(t, panel.thresholds_min, colours, populated)
        fade = (np.isfinite(t) | populated) & (np.asarray(zone_grid)[::step, ::step] == 0)
        rgb[fade] = rgb[fade] * (1 - _OUTSIDE_FADE) + 255.0 * _OUTSIDE_FADE
        extent = (x0, x0 + rgb.shape[1] * step * a, y0 + rgb.shape[0] * step * e, y0)
        ax.imshow(rgb.astype(np.uint8), extent=extent, interpolation="nearest", origin="upper")
        for geom in outlines:
            if geom is not None and not geom.is_empty:
                _draw_outline(ax, geom, colour="#333333", width=0.35)
        ax.scatter(
            np.asarray(panel.facility_x), np.asarray(panel.facility_y), s=9, marker="^",
            c="#000000", edgecolors="white", linewidths=0.4, zorder=3,
        )  # fmt: skip
        halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        for x, y, text in marks:
            ax.text(
                x, y, text, ha="center", va="center", fontsize=6.8, fontweight="bold",
                color="#0b2f40", path_effects=halo, zorder=4,
            )  # fmt: skip
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect(1 / x_scale, adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.text(0, 1 - 1.0 / img_h, panel.title, ha="left", va="top", fontsize=8.0)
        _scale_bar(ax, *xlim, *ylim, x_scale=x_scale, geographic=geographic)
        _legend(fig, colours, band_labels, extra_labels, outline_width=0.35, ncol=ncol)
        return encode_png(fig, dpi=dpi), img_w


def _legend(
    fig: Figure,
    colours: Sequence[str],
    band_labels: Sequence[str],
    extra_labels: tuple[str, str, str],
    *,
    outline_width: float,
    ncol: int = 4,
) -> None:
    """The legend along the bottom of ``fig``: bands, beyond, unreachable, facility, outline."""
    handles: list[Any] = [
        Patch(facecolor=colours[k], edgecolor="none", label=band_labels[k])
        for k in range(min(len(colours), len(band_labels) - 1))
    ]
    handles.append(Patch(facecolor=BEYOND_COLOUR, edgecolor="none", label=band_labels[-1]))
    handles.append(Patch(facecolor=UNREACHED_COLOUR, edgecolor="none", label=extra_labels[0]))
    handles.append(
        Line2D(
            [], [], marker="^", linestyle="none", markerfacecolor="#000000",
            markeredgecolor="white", markersize=5, label=extra_labels[1],
        )
    )  # fmt: skip
    handles.append(Line2D([], [], color="#111111", linewidth=outline_width, label=extra_labels[2]))
    fig.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0, 0), ncol=ncol, frameon=False,
        handlelength=1.2, columnspacing=1.2, borderaxespad=0.1,
    )  # fmt: skip


def _scale_bar(
    ax: Any, x0: float, x1: float, y0: float, y1: float, *, x_scale: float, geographic: bool
) -> None:
    """A scale bar in the lower-right corner of ``ax``."""
    metres_per_unit = 111_320.0 * x_scale if geographic else 1.0
    width_km = abs(x1 - x0) * metres_per_unit / 1000
    length_km = _nice_length_km(width_km)
    length_units = length_km * 1000 / metres_per_unit
    right = max(x0, x1) - abs(x1 - x0) * 0.04
    base = min(y0, y1) + abs(y1 - y0) * 0.05
    halo = [patheffects.withStroke(linewidth=3.0, foreground="white")]
    ax.plot(
        [right - length_units, right], [base, base], color="black", linewidth=1.6,
        path_effects=halo, solid_capstyle="butt",
    )  # fmt: skip
    ax.text(
        right - length_units / 2, base + abs(y1 - y0) * 0.025, f"{length_km:g} km",
        ha="center", va="bottom", fontsize=6.5, path_effects=halo,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class CurveLine:
    """One scenario's coverage curve.

    Attributes
    ----------
    label
        Legend text.
    share_pct
        Percent of people within each x value.
    slot
        Colour slot: ``-1`` for the baseline (thick black), else the option's position among all
        options, so an option keeps its colour in every chart.
    """

    label: str
    share_pct: np.ndarray
    slot: int


def coverage_curve_png(
    minutes: np.ndarray,
    lines: Sequence[CurveLine],
    *,
    thresholds_min: Sequence[float],
    title: str,
    x_label: str,
    y_label: str,
    tick_format: Callable[[float], str],
    width_mm: float = 84.0,
    height_mm: float = 62.0,
    dpi: float = 150.0,
) -> bytes:
    """Population share within each number of minutes, one line per scenario, as PNG bytes.

    Parameters
    ----------
    minutes
        The x values.
    lines
        The curves to draw, the baseline first.
    thresholds_min
        Drawn as dotted vertical lines.
    title, x_label, y_label
        Texts (already translated).
    tick_format
        Formats tick values for the locale.
    width_mm, height_mm, dpi
        Size in millimetres and resolution in dots per inch.

    Returns
    -------
    bytes
        The chart as a palette PNG (see :func:`encode_png`), the x axis running from the first
        to the last of ``minutes`` and the y axis from 0 to 100 %.
    """
    with _RC_LOCK, mpl.rc_context(_RC):
        fig = _new_figure(width_mm, height_mm)
        ax = fig.add_axes((0.15, 0.17, 0.79, 0.73))
        for th in thresholds_min:
            ax.axvline(float(th), color="#9a9a9a", linewidth=0.6, linestyle=":", zorder=1)
        for line in lines:
            if line.slot < 0:
                ax.plot(
                    minutes, line.share_pct, color="black", linewidth=1.6, label=line.label,
                    zorder=3,
                )  # fmt: skip
                continue
            colour = _LINE_COLOURS[line.slot % len(_LINE_COLOURS)]
            style = "-" if line.slot < len(_LINE_COLOURS) else "--"
            ax.plot(
                minutes, line.share_pct, color=colour, linewidth=0.9, linestyle=style,
                label=line.label, zorder=2,
            )  # fmt: skip
        ax.set_xlim(float(minutes[0]), float(minutes[-1]))
        ax.set_ylim(0, 100.5)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color="#e4e4e4", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.xaxis.set_major_formatter(lambda v, _pos: tick_format(v))
        ax.yaxis.set_major_formatter(lambda v, _pos: tick_format(v))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if len(lines) > 1:
            ax.legend(loc="lower right", frameon=True, framealpha=0.9, edgecolor="#cccccc")
        return encode_png(fig, dpi=dpi, colours=128)
