"""Fuzzing the two readers that take files from strangers: the OSM reader and the scenario loader.

Hypothesis mutates valid files (truncation, flipped bytes, spliced tokens) and builds odd but
well-formed ones; whatever comes in, the reader must return a result or raise a ``ReachError``
(one line for the user), never another exception. The budget is bounded by ``max_examples``
so CI runs it in seconds; findings become cases in ``test_bad_inputs.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reach.errors import ReachError
from reach.ingest.osm import read_osm_facilities, read_osm_roads_with_report
from reach.spec import parse_scenario
from tests.helpers import OSM, SCENARIO

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

TOKENS = [
    "<", ">", "/>", '"', "'", "&", "&amp;", "&#0;", "&#x10FFFF;", "<![CDATA[", "]]>", "<!--",
    "-->", "<!DOCTYPE osm [<!ENTITY a 'b'>]>", "&a;", '<node id="-1" lat="1e309" lon="nan"/>',
    '<nd ref="99999999999999999999"/>', '<tag k="highway" v="motorway"/>', '<tag k="oneway"/>',
    '<tag k="maxspeed" v="1e400"/>', '<way id="0">', "</way>", '<relation id="1">', "\x00",
    "\udcff", "é", "\u202e", "9" * 40,
]  # fmt: skip


def _mutate(data: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    out = bytearray(data)
    for kind, pos, token in edits:
        i = pos % (len(out) + 1)
        if kind == 0:  # splice a token in
            out[i:i] = token.encode("utf-8", "surrogatepass")
        elif kind == 1:  # flip a byte
            if out:
                out[i % len(out)] ^= 0xFF
        elif kind == 2:  # cut here
            del out[i:]
        else:  # drop a stretch
            del out[i : i + 1 + pos % 17]
    return bytes(out)


edits = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.sampled_from(TOKENS)), max_size=6
)


def _read_osm(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        for reader in (read_osm_roads_with_report, read_osm_facilities):
            try:
                reader(path)
            except ReachError as exc:
                assert exc.one_line().count("\n") == 0
                assert str(path) in exc.one_line()


@FUZZ
@given(edits=edits)
def test_osm_reader_survives_mutated_xml(edits: list[tuple[int, int, str]]) -> None:
    _read_osm(_mutate(OSM.encode(), edits), ".osm")


@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".osm", ".osm.pbf", ".osm.bz2"]))
def test_osm_reader_survives_random_bytes(data: bytes, suffix: str) -> None:
    _read_osm(data, suffix)


@st.composite
def osm_documents(draw: st.DrawFn) -> str:
    """Well-formed OSM XML with odd content: ids, coordinates and tags anywhere in range."""
    n = draw(st.integers(0, 8))
    coord = st.floats(allow_nan=True, allow_infinity=False, width=32) | st.sampled_from(
        [0.0, 90.0, -90.0, 180.0, -180.0, 179.9999999]
    )
    nodes = "".join(
        f'<node id="{i}" lat="{draw(coord):.7f}" lon="{draw(coord):.7f}"/>' for i in range(1, n + 1)
    )
    text = st.text(st.characters(codec="utf-8", exclude_characters='<&"\x00'), max_size=12)
    ways = ""
    for w in range(draw(st.integers(0, 4))):
        refs = draw(st.lists(st.integers(-2, n + 2), max_size=6))
        tags = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            "highway",
                            "route",
                            "maxspeed",
                            "oneway",
                            "duration",
                            "surface",
                            "tracktype",
                            "ford",
                            "amenity",
                            "healthcare",
                            "name",
                            "junction",
                        ]
                    ),
                    text,
                ),
                max_size=5,
            )
        )
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag_xml = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags)
        ways += f'<way id="{w + 1}">{nds}{tag_xml}</way>'
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">{nodes}{ways}</osm>\n'


@FUZZ
@given(doc=osm_documents())
def test_osm_reader_survives_odd_but_wellformed_documents(doc: str) -> None:
    _read_osm(doc.encode("utf-8", "surrogatepass"), ".osm")


def _parse(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            parse_scenario(text, path=Path(tmp) / "fuzz.toml")
        except ReachError as exc:
            assert exc.one_line().count("\n") == 0


@FUZZ
@given(edits=edits)
def test_scenario_loader_survives_mutated_files(edits: list[tuple[int, int, str]]) -> None:
    _parse(_mutate(SCENARIO.encode(), edits).decode("utf-8", "replace"))


VALUES = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text(max_size=30),
    st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
    max_size=2),
)  # fmt: skip


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return (
            "nan"
            if v != v
            else ("inf" if v == float("inf") else "-inf" if v == -float("inf") else repr(v))
        )
    if isinstance(v, str):
        return '"' + v.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


@FUZZ
@given(
    line=st.integers(0, 40),
    key=st.sampled_from(
        [
            "version",
            "name",
            "population",
            "osm",
            "id_column",
            "mode",
            "thresholds_min",
            "facilities",
            "folder",
            "kind",
            "target_share",
            "max_travel_time_min",
            "neighbours",
            "aggregate_factor",
            "headway_min",
            "maps",
            "basemap_url",
            "rasters",
            "extends",
        ]
    ),
    value=VALUES,
)
def test_scenario_loader_survives_odd_values(line: int, key: str, value: object) -> None:
    lines = SCENARIO.splitlines()
    lines.insert(min(line, len(lines)), f"{key} = {_toml_value(value)}")
    _parse("\n".join(lines) + "\n")
