"""Leaflet's JavaScript and CSS for offline maps, read from an installed package.

The files come from the ``XStatic-Leaflet`` package (Leaflet packaged for pip; Leaflet is under
the BSD 2-clause licence, whose notice stays at the top of the embedded script). Nothing is
copied into this repository: the page embeds whatever version is installed. The stylesheet's
images (layer-control icons) are inlined as ``data:`` URIs so the page loads no file at all.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from branca.element import MacroElement
from folium.template import Template

from reach.errors import ReachError

__all__ = [
    "LEAFLET_PACKAGE",
    "InlineLeaflet",
    "leaflet_css",
    "leaflet_js",
    "leaflet_notice",
    "leaflet_version",
]

#: The Python package that ships Leaflet's ``leaflet.js`` and ``leaflet.css``.
LEAFLET_PACKAGE = "xstatic.pkg.leaflet"

_MISSING_FIX = "pip install xstatic-leaflet (a dependency of reach), or write the maps online"


def _data_dir() -> Traversable:
    try:
        return resources.files(LEAFLET_PACKAGE) / "data"
    except ModuleNotFoundError as exc:
        raise ReachError(
            "offline maps need Leaflet from the XStatic-Leaflet package, which is not installed",
            fix=_MISSING_FIX,
        ) from exc


def leaflet_version() -> str:
    """Version of the installed Leaflet (e.g. ``"1.9.3"``).

    Returns
    -------
    str
        The version named in the script's header, or ``"unknown"``.
    """
    match = re.search(r"Leaflet (\d+\.\d+\.\d+)", leaflet_js()[:400])
    return match.group(1) if match else "unknown"


@cache
def leaflet_js() -> str:
    """Leaflet's minified script, safe to place inside a ``<script>`` element.

    The source-map comment is dropped (a browser would fetch the map when its tools are open) and
    any ``</script`` or ``<!--`` is broken up so the HTML parser cannot end the element early.

    Returns
    -------
    str
        The script, ending in one newline.
    """
    text = (_data_dir() / "leaflet.js").read_text("utf-8")
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
    return text.replace("<!--", "<\\!--").rstrip() + "\n"


@cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with its relative image URLs replaced by ``data:`` URIs.

    Returns
    -------
    str
        The stylesheet, self-contained (an image that is missing becomes an empty URI).
    """
    data = _data_dir()
    text = (data / "leaflet.css").read_text("utf-8")

    def inline(match: re.Match[str]) -> str:
        image = data / "images" / match.group(1)
        if not image.is_file():
            return "url(data:,)"
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{encoded})"

    text = re.sub(r"url\(\s*['\"]?images/([A-Za-z0-9_.\-]+)['\"]?\s*\)", inline, text)
    return text.replace("</", "<\\/")


_BSD_2_CLAUSE = """\
Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials
   provided with the distribution.
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS
OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE
GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND
ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF
THE POSSIBILITY OF SUCH DAMAGE."""


def leaflet_notice() -> str:
    """Leaflet's copyright lines (from the script's own header) and its BSD 2-clause terms.

    Returns
    -------
    str
        The notice, safe inside an HTML comment (no ``--``).
    """
    header = re.search(r"/\*(.*?)\*/", leaflet_js()[:600], re.DOTALL)
    lines = [] if header is None else [ln.strip(" *") for ln in header.group(1).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("@")]
    text = "\n".join([*lines, "Licence: BSD 2-clause.", _BSD_2_CLAUSE])
    return text.replace("--", "- -")


class InlineLeaflet(MacroElement):
    """Puts Leaflet's CSS and script inline into the page header (instead of links)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <!--
{{ this.notice }}
        -->
        <style>{{ this.css }}</style>
        <script>{{ this.js }}</script>
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "InlineLeaflet"
        self.notice = leaflet_notice()
        self.css = leaflet_css()
        self.js = leaflet_js()
