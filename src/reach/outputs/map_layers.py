"""Leaflet elements of the coverage maps that folium does not have.

* :class:`LayerPanel`: the layer switcher, with its layers in collapsible groups (baseline,
  each option, place context, facilities); it also shows, in the legend, only the sections of
  the layers that are on.
* :class:`MapLabels`: permanent text labels (facility and place names), each shown from its
  own zoom level on, so that they do not pile up when the map is zoomed out.
* :class:`Polylines`: many lines (roads, ferries) with delta-encoded integer coordinates, so a
  region's road network stays a small part of the page.
* :class:`RouteMarkers`: clickable places whose popup tells their route to the nearest
  facility, leg by leg, and whose route is drawn (delta-encoded too) while the popup is open.

Nothing here escapes HTML: callers hand in HTML they escaped. Every value goes into the page
as JSON from :func:`script_json`, so no text can close the script element.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

__all__ = [
    "LayerPanel",
    "MapLabels",
    "PanelEntry",
    "PanelGroup",
    "Polylines",
    "RouteMarkers",
    "script_json",
]


def script_json(value: object) -> str:
    """JSON for a ``<script>`` element: ``<``, ``>``, ``&`` and ``'`` as ``\\uXXXX`` escapes.

    Parameters
    ----------
    value
        Any JSON-serialisable value, without NaN or infinity.

    Returns
    -------
    str
        Compact JSON that cannot end the script element or open a comment.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@dataclass(frozen=True, eq=False)
class PanelEntry:
    """One layer of the :class:`LayerPanel`.

    Attributes
    ----------
    layer
        The folium layer the check box adds to and removes from the map.
    label_html
        Its name in the panel, as escaped HTML.
    legend
        The keys (``data-reach-legend`` of legend sections) shown while the layer is on.
    """

    layer: Element
    label_html: str
    legend: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class PanelGroup:
    """A collapsible group of the :class:`LayerPanel`.

    Attributes
    ----------
    title_html
        The group's heading, as escaped HTML.
    entries
        Its layers, in the order listed.
    open
        Whether the group is unfolded when the page opens (on a large enough screen).
    """

    title_html: str
    entries: tuple[PanelEntry, ...]
    open: bool = False


class LayerPanel(MacroElement):
    """The map's layer switcher: check boxes in collapsible groups (``<details>``).

    Add it to the map after every layer and after the legend. A box is ticked when its layer
    is on the map. Legend sections (elements with ``data-reach-legend``) are shown only while a
    layer that names their key is on. On a screen narrower than 700 or lower than 560 pixels,
    every group and the legend start folded.

    Parameters
    ----------
    groups
        The groups, in the order listed.
    title_html
        The panel's heading (escaped HTML).
    position
        The Leaflet control position.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, layers, legends, html, position) {
            var control = L.control({position: position});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "reach-layers");
                div.innerHTML = html;
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                var boxes = Array.prototype.slice.call(
                    div.querySelectorAll("input[data-reach-layer]"));
                function sync() {
                    var on = {};
                    boxes.forEach(function (box) {
                        var k = +box.getAttribute("data-reach-layer");
                        box.checked = map.hasLayer(layers[k]);
                        if (box.checked) {
                            legends[k].forEach(function (key) { on[key] = true; });
                        }
                    });
                    document.querySelectorAll("[data-reach-legend]").forEach(function (el) {
                        el.hidden = !on[el.getAttribute("data-reach-legend")];
                    });
                }
                boxes.forEach(function (box) {
                    box.addEventListener("change", function () {
                        var layer = layers[+box.getAttribute("data-reach-layer")];
                        if (box.checked) { map.addLayer(layer); } else { map.removeLayer(layer); }
                        sync();
                    });
                });
                if (window.innerWidth < 700 || window.innerHeight < 560) {
                    document.querySelectorAll(".reach-layers details, .reach-legend details")
                        .forEach(function (d) { d.open = false; });
                    div.querySelectorAll("details").forEach(function (d) { d.open = false; });
                }
                sync();
                return div;
            };
            control.addTo(map);
        })({{ this._parent.get_name() }}, [{{ this.layer_names() }}],
           {{ this.legends_json }}, {{ this.html_json }}, {{ this.position_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self, groups: Sequence[PanelGroup], *, title_html: str, position: str = "topright"
    ) -> None:
        super().__init__()
        self._name = "LayerPanel"
        self.groups = list(groups)
        entries = [e for g in self.groups for e in g.entries]
        self._layers = [e.layer for e in entries]
        self.legends_json = script_json([list(e.legend) for e in entries])
        parts = [f"<details open><summary><b>{title_html}</b></summary>"]
        k = 0
        for group in self.groups:
            if not group.entries:
                continue
            parts.append(
                f'<details class="reach-group"{" open" if group.open else ""}>'
                f"<summary>{group.title_html}</summary>"
            )
            for entry in group.entries:
                parts.append(
                    f'<label><input type="checkbox" data-reach-layer="{k}"> '
                    f"<span>{entry.label_html}</span></label>"
                )
                k += 1
            parts.append("</details>")
        parts.append("</details>")
        self.html_json = script_json("".join(parts))
        self.position_json = script_json(position)

    def layer_names(self) -> str:
        """The JavaScript variable names of the panel's layers, comma-separated.

        Returns
        -------
        str
            Names in the panel's order (valid once the map's element ids are final).
        """
        return ", ".join(layer.get_name() for layer in self._layers)


class MapLabels(Layer):
    """Permanent text labels on the map, each shown from its own zoom level on.

    Parameters
    ----------
    rows
        One list per label: ``[lat, lon, html, min_zoom, css_class]``: its anchor in degrees,
        its content as escaped HTML, the first zoom level it shows at, and the class(es) of its
        element.
    name
        The layer's name (escaped HTML; the :class:`LayerPanel` lists it).
    pane
        The map pane the labels are drawn in.
    show
        Whether the layer is on when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        (function (group, rows, pane) {
            var map = null;
            var labels = rows.map(function (row) {
                var icon = L.divIcon({className: "reach-label " + row[4], html: row[2],
                                      iconSize: null});
                return [row[3], L.marker([row[0], row[1]], {icon: icon, interactive: false,
                                         keyboard: false, pane: pane})];
            });
            function update() {
                if (map === null) { return; }
                var z = map.getZoom();
                labels.forEach(function (label) {
                    if (label[0] <= z) { group.addLayer(label[1]); }
                    else { group.removeLayer(label[1]); }
                });
            }
            group.on("add", function () { map = group._map; map.on("zoomend", update); update(); });
            group.on("remove", function () {
                if (map !== null) { map.off("zoomend", update); } map = null;
            });
        })({{ this.get_name() }}, {{ this.rows_json }}, {{ this.pane_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self, rows: list[list[object]], *, name: str, pane: str, show: bool = True
    ) -> None:
        super().__init__(name=name, overlay=True, control=False, show=show)
        self._name = "MapLabels"
        self.rows_json = script_json(rows)
        self.pane_json = script_json(pane)


#: The script that decodes a delta-encoded line: from item ``k0`` of ``l``, ``x0, y0, dx1, dy1,
#: …`` in degrees times ``scale``, to Leaflet's ``[lat, lon]`` points.
_POINTS_JS = """
            function points(l, k0, scale) {
                var x = l[k0], y = l[k0 + 1], pts = [[y / scale, x / scale]];
                for (var k = k0 + 2; k < l.length; k += 2) {
                    x += l[k]; y += l[k + 1]; pts.push([y / scale, x / scale]);
                }
                return pts;
            }"""


class Polylines(Layer):
    """Lines in classes, each class drawn with one or more strokes (e.g. a casing and a core).

    Parameters
    ----------
    classes
        One dict per class, drawn in order: ``{"lines": [[x0, y0, dx1, dy1, …], …],
        "styles": [leaflet polyline options, …]}``, the coordinates longitude and latitude
        times ``scale``, rounded to integers, each point after the first as the difference
        from the one before.
    scale
        What the integer coordinates are divided by to give degrees (e.g. ``10_000``).
    name
        The layer's name (escaped HTML).
    pane
        The map pane the lines are drawn in.
    show
        Whether the layer is on when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function (group, classes, scale, pane) {
"""
        + _POINTS_JS
        + """
            classes.forEach(function (c) {
                var lines = c.lines.map(function (l) { return points(l, 0, scale); });
                c.styles.forEach(function (s) {
                    L.polyline(lines, Object.assign({interactive: false, pane: pane}, s))
                        .addTo(group);
                });
            });
        })({{ this.get_name() }}, {{ this.classes_json }}, {{ this.scale }}, {{ this.pane_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        classes: list[dict[str, object]],
        *,
        scale: int,
        name: str,
        pane: str,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=False, show=show)
        self._name = "Polylines"
        self.classes_json = script_json(classes)
        self.scale = int(scale)
        self.pane_json = script_json(pane)


class RouteMarkers(Layer):
    """Places as small circles; a click opens the place's popup and draws its route.

    Only one route is drawn at a time: the one whose popup is open (closing it removes it).

    Parameters
    ----------
    rows
        One list per place: ``[lat, lon, popup_html, tooltip_html, legs]``, ``legs`` a list of
        ``[style, x0, y0, dx1, dy1, …]``: the index of the leg's strokes in ``styles`` and its
        points as in :class:`Polylines`. The HTML is escaped by the caller.
    styles
        Per leg style, the strokes drawn (leaflet polyline options, e.g. a casing and a core).
    marker
        Leaflet ``circleMarker`` options of the places.
    scale
        What the integer coordinates are divided by to give degrees.
    name
        The layer's name (escaped HTML).
    route_pane
        The map pane the routes are drawn in.
    show
        Whether the layer is on when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function (group, rows, styles, marker, scale, pane) {
"""
        + _POINTS_JS
        + """
            var route = L.layerGroup();
            function draw(legs, map) {
                route.clearLayers();
                legs.forEach(function (l) {
                    var pts = points(l, 1, scale);
                    styles[l[0]].forEach(function (s) {
                        L.polyline(pts, Object.assign({interactive: false, pane: pane}, s))
                            .addTo(route);
                    });
                });
                route.addTo(map);
            }
            rows.forEach(function (row) {
                var m = L.circleMarker([row[0], row[1]], marker)
                    .bindPopup(row[2], {maxWidth: 340})
                    .bindTooltip(row[3]);
                m.on("popupopen", function () { draw(row[4], group._map); });
                m.on("popupclose", function () { route.clearLayers(); route.remove(); });
                m.addTo(group);
            });
            group.on("remove", function () { route.clearLayers(); route.remove(); });
        })({{ this.get_name() }}, {{ this.rows_json }}, {{ this.styles_json }},
           {{ this.marker_json }}, {{ this.scale }}, {{ this.pane_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        rows: list[list[object]],
        styles: list[list[dict[str, object]]],
        marker: dict[str, object],
        *,
        scale: int,
        name: str,
        route_pane: str,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=False, show=show)
        self._name = "RouteMarkers"
        self.rows_json = script_json(rows)
        self.styles_json = script_json(styles)
        self.marker_json = script_json(marker)
        self.scale = int(scale)
        self.pane_json = script_json(route_pane)
