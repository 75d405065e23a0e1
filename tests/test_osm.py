"""Tests of reach.ingest.osm: reading roads, ferries and facilities from OSM files."""

from __future__ import annotations

import bz2
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import osmium
import pytest
from pyproj import CRS

from reach.errors import InputError
from reach.ingest.osm import (
    FACILITY_COLUMNS,
    PLACE_COLUMNS,
    OsmReadReport,
    read_osm_facilities,
    read_osm_places,
    read_osm_roads,
    read_osm_roads_with_report,
)
from reach.ingest.roads import TAG_COLUMNS, RoadLines

# --- fixtures -------------------------------------------------------------------------------

NODES = {
    1: (120.0, -10.0),
    2: (120.01, -10.0),
    3: (120.02, -10.005),
    4: (120.03, -10.01),
    5: (120.5, -10.5),
    6: (120.51, -10.5),
    7: (120.52, -10.51),
    8: (120.0, -10.02),
    9: (120.001, -10.021),
}

# Ways deliberately out of id order; 100 refers to a node that is not in the file.
ROADS_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="reach-tests">
{nodes}
  <way id="30" version="1">
    <nd ref="4"/><nd ref="5"/>
    <tag k="route" v="ferry"/><tag k="duration" v="01:30"/><tag k="name" v="Kupang - Alor"/>
  </way>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="surface" v="asphalt"/><tag k="maxspeed" v="50"/>
    <tag k="oneway" v="yes"/><tag k="name" v="Jalan Eltari"/><tag k="ref" v="N1"/>
  </way>
  <way id="20" version="1">
    <nd ref="3"/><nd ref="100"/><nd ref="4"/>
    <tag k="highway" v="track"/><tag k="tracktype" v="grade4"/><tag k="smoothness" v="bad"/>
  </way>
  <way id="40" version="1">
    <nd ref="6"/><nd ref="7"/><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="junction" v="roundabout"/>
  </way>
  <way id="50" version="1">
    <nd ref="8"/><nd ref="9"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="60" version="1">
    <nd ref="100"/><nd ref="9"/>
    <tag k="highway" v="service"/>
  </way>
  <way id="70" version="1">
    <nd ref="1"/><nd ref="8"/>
    <tag k="highway" v="proposed"/>
  </way>
  <way id="80" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="8"/><nd ref="1"/>
    <tag k="highway" v="pedestrian"/><tag k="area" v="yes"/>
  </way>
  <way id="90" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="9"/><nd ref="1"/>
    <tag k="building" v="yes"/>
  </way>
</osm>
"""


def _node_xml(nodes: dict[int, tuple[float, float]], tags: dict[int, str] | None = None) -> str:
    lines = []
    for nid, (lon, lat) in nodes.items():
        inner = (tags or {}).get(nid, "")
        lines.append(
            f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}">{inner}</node>'
            if inner
            else f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>'
        )
    return "\n".join(lines)


def _to_pbf(xml_path: Path, pbf_path: Path) -> Path:
    """Convert an OSM XML file to PBF with pyosmium's writer."""
    with osmium.SimpleWriter(str(pbf_path)) as writer:
        for obj in osmium.FileProcessor(str(xml_path)):
            writer.add(obj)
    return pbf_path


def _write(tmp_path: Path, xml: str, fmt: str, stem: str = "roads") -> Path:
    """Write ``xml`` as ``stem.osm``, ``stem.osm.bz2`` or ``stem.osm.pbf``."""
    xml_path = tmp_path / f"{stem}.osm"
    xml_path.write_text(xml, encoding="utf-8")
    if fmt == "osm":
        return xml_path
    if fmt == "osm.bz2":
        out = tmp_path / f"{stem}.osm.bz2"
        out.write_bytes(bz2.compress(xml.encode("utf-8")))
        return out
    return _to_pbf(xml_path, tmp_path / f"{stem}.osm.pbf")


@pytest.fixture(params=["osm", "osm.bz2", "osm.pbf"])
def roads_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The hand-written road file in each supported format."""
    return _write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), request.param)


# --- roads ----------------------------------------------------------------------------------


def test_roads_exact_content(roads_file: Path) -> None:
    lines, report = read_osm_roads_with_report(roads_file)

    assert isinstance(lines, RoadLines)
    assert lines.way_id.dtype == np.int64
    assert lines.way_id.tolist() == [10, 20, 30, 40, 50]
    assert lines.offsets.dtype == np.int64
    assert lines.offsets.tolist() == [0, 3, 5, 7, 11, 13]
    assert lines.node_id.dtype == np.int64
    assert lines.node_id.tolist() == [1, 2, 3, 3, 4, 4, 5, 6, 7, 5, 6, 8, 9]
    assert lines.x.dtype == np.float64
    assert lines.y.dtype == np.float64
    expected = np.array([NODES[n] for n in lines.node_id.tolist()])
    np.testing.assert_allclose(lines.x, expected[:, 0], rtol=0, atol=1e-7)
    np.testing.assert_allclose(lines.y, expected[:, 1], rtol=0, atol=1e-7)
    assert lines.crs == CRS.from_epsg(4326)
    assert lines.source == roads_file

    tags = lines.tags
    assert tuple(tags.columns) == TAG_COLUMNS
    assert len(tags) == 5
    assert all(tags[c].dtype == object for c in TAG_COLUMNS)
    assert tags["highway"].tolist() == ["primary", "track", None, "residential", "footway"]
    assert tags.loc[0, "surface"] == "asphalt"
    assert tags.loc[0, "maxspeed"] == "50"
    assert tags.loc[0, "oneway"] == "yes"
    assert tags.loc[0, "name"] == "Jalan Eltari"
    assert tags.loc[1, "tracktype"] == "grade4"
    assert tags.loc[1, "smoothness"] == "bad"
    assert tags.loc[2, "route"] == "ferry"
    assert tags.loc[2, "duration"] == "01:30"
    assert tags.loc[3, "junction"] == "roundabout"
    assert tags["road_class"].isna().all()
    assert tags.loc[4].drop("highway").isna().all()
    assert lines.is_ferry().tolist() == [False, False, True, False, False]

    assert report == OsmReadReport(
        ways_read=5,
        ways_dropped_missing_nodes=1,
        ferries=1,
        nodes_missing=2,
        ways_skipped_not_road=2,
    )


def test_roads_formats_agree(tmp_path: Path) -> None:
    xml = ROADS_XML.format(nodes=_node_xml(NODES))
    results = [read_osm_roads(_write(tmp_path, xml, fmt)) for fmt in ("osm", "osm.bz2", "osm.pbf")]
    first = results[0]
    for other in results[1:]:
        np.testing.assert_array_equal(first.way_id, other.way_id)
        np.testing.assert_array_equal(first.offsets, other.offsets)
        np.testing.assert_array_equal(first.node_id, other.node_id)
        np.testing.assert_array_equal(first.x, other.x)
        np.testing.assert_array_equal(first.y, other.y)
        assert first.tags.equals(other.tags)


def test_roads_accepts_str_path_and_upper_case_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), "osm.pbf")
    upper = path.with_name("ROADS.OSM.PBF")
    path.rename(upper)
    lines = read_osm_roads(str(upper))
    assert lines.n_ways == 5


def test_missing_node_way_dropped_and_counted(tmp_path: Path) -> None:
    xml = """<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"/>
  <node id="2" lat="-8.0" lon="117.1"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="tertiary"/></way>
  <way id="2"><nd ref="7"/><nd ref="1"/><nd ref="8"/><tag k="highway" v="tertiary"/></way>
  <way id="3"><nd ref="7"/><nd ref="8"/><tag k="route" v="ferry"/></way>
</osm>"""
    lines, report = read_osm_roads_with_report(_write(tmp_path, xml, "osm"))
    assert lines.way_id.tolist() == [1]
    assert report.ways_dropped_missing_nodes == 2
    assert report.nodes_missing == 4
    assert report.ferries == 0
    assert report.ways_read == 1


def test_all_ways_missing_nodes_is_no_roads(tmp_path: Path) -> None:
    xml = """<osm version="0.6">
  <way id="2"><nd ref="7"/><nd ref="8"/><tag k="highway" v="primary"/></way>
</osm>"""
    with pytest.raises(InputError, match=r"no highway ways or ferry routes.*1 dropped"):
        read_osm_roads(_write(tmp_path, xml, "osm"))


def test_duplicate_way_ids_keep_last(tmp_path: Path) -> None:
    xml = """<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"/>
  <node id="2" lat="-8.0" lon="117.1"/>
  <way id="5" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="track"/></way>
  <way id="5" version="2"><nd ref="2"/><nd ref="1"/><tag k="highway" v="tertiary"/></way>
</osm>"""
    lines = read_osm_roads(_write(tmp_path, xml, "osm"))
    assert lines.way_id.tolist() == [5]
    assert lines.node_id.tolist() == [2, 1]
    assert lines.tags["highway"].tolist() == ["tertiary"]


# --- errors ---------------------------------------------------------------------------------


def _assert_one_line(err: InputError) -> None:
    text = str(err)
    assert "\n" not in text
    assert "fix:" in text
    assert err.one_line() == text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        read_osm_roads(tmp_path / "nowhere.osm.pbf")
    _assert_one_line(info.value)
    assert info.value.path == str(tmp_path / "nowhere.osm.pbf")


@pytest.mark.parametrize("name", ["roads.geojson", "roads.pbf", "roads.osm.gz", "roads.txt"])
def test_wrong_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x")
    with pytest.raises(InputError, match="unsupported OSM file type") as info:
        read_osm_roads(path)
    _assert_one_line(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "folder.osm"
    path.mkdir()
    with pytest.raises(InputError, match="not a file"):
        read_osm_roads(path)


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2", ".osm.pbf"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty") as info:
        read_osm_roads(path)
    _assert_one_line(info.value)
    with pytest.raises(InputError, match="empty"):
        read_osm_facilities(path)


def test_file_without_roads(tmp_path: Path) -> None:
    xml = """<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"><tag k="amenity" v="school"/></node>
  <node id="2" lat="-8.0" lon="117.1"/>
  <node id="3" lat="-8.1" lon="117.1"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>
    <tag k="building" v="yes"/></way>
  <way id="2"><nd ref="1"/><nd ref="2"/><tag k="highway" v="construction"/></way>
</osm>"""
    for fmt in ("osm", "osm.pbf"):
        with pytest.raises(InputError, match="contains no highway ways or ferry routes") as info:
            read_osm_roads(_write(tmp_path, xml, fmt))
        _assert_one_line(info.value)


def test_empty_osm_document_has_no_roads(tmp_path: Path) -> None:
    path = _write(tmp_path, '<osm version="0.6"></osm>', "osm")
    with pytest.raises(InputError, match="contains no highway ways"):
        read_osm_roads(path)
    assert len(read_osm_facilities(path)) == 0


def test_truncated_pbf(tmp_path: Path) -> None:
    path = _write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), "osm.pbf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read OSM file") as info:
        read_osm_roads(path)
    _assert_one_line(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(InputError, match="cannot read OSM file"):
        read_osm_facilities(path)


@pytest.mark.parametrize("cut", [1, 7, 20, 60, 100, 150, -40, -1])
def test_cut_pbf_never_leaks_osmium_errors(tmp_path: Path, cut: int) -> None:
    path = _write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), "osm.pbf")
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(InputError):
        read_osm_roads(path)


def test_garbage_pbf(tmp_path: Path) -> None:
    path = tmp_path / "noise.osm.pbf"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="cannot read OSM file"):
        read_osm_roads(path)


@pytest.mark.parametrize(
    "content",
    [b"<osm version='0.6'><node id='1' lat='1' lon='2'", b"not xml at all", b"\x00\xff\x10"],
)
def test_corrupt_xml(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(InputError, match="cannot read OSM file") as info:
        read_osm_roads(path)
    _assert_one_line(info.value)


def test_corrupt_bz2(tmp_path: Path) -> None:
    path = tmp_path / "bad.osm.bz2"
    path.write_bytes(b"this is not bzip2")
    with pytest.raises(InputError, match="cannot read OSM file"):
        read_osm_roads(path)
    good = bz2.compress(ROADS_XML.format(nodes=_node_xml(NODES)).encode())
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="cannot read OSM file"):
        read_osm_roads(path)


# --- XML safety -----------------------------------------------------------------------------


def test_entity_expansion_refused(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE osm [<!ENTITY l0 "lol">{laughs}]>
<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"/><node id="2" lat="-8.0" lon="117.1"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>
    <tag k="name" v="&l9;"/></way>
</osm>"""
    path = _write(tmp_path, xml, "osm")
    start = time.perf_counter()
    with pytest.raises(InputError, match="entities"):
        read_osm_roads(path)
    with pytest.raises(InputError, match="entities"):
        read_osm_facilities(path)
    assert time.perf_counter() - start < 5


def test_external_entity_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE osm [<!ENTITY x SYSTEM "file://{secret}">]>
<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"/><node id="2" lat="-8.0" lon="117.1"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>
    <tag k="name" v="&x;"/></way>
</osm>"""
    with pytest.raises(InputError) as info:
        read_osm_roads(_write(tmp_path, xml, "osm"))
    assert "TOPSECRET" not in str(info.value)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP socket that records whether anything connects to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    yield server
    server.close()


def _connected(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize("reader", [read_osm_roads, read_osm_facilities])
def test_external_dtd_not_fetched(
    tmp_path: Path, listener: socket.socket, reader: Callable[[Path], object]
) -> None:
    port = listener.getsockname()[1]
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE osm SYSTEM "http://127.0.0.1:{port}/osm.dtd">
<osm version="0.6">
  <node id="1" lat="-8.0" lon="117.0"><tag k="amenity" v="clinic"/></node>
  <node id="2" lat="-8.0" lon="117.1"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>
</osm>"""
    reader(_write(tmp_path, xml, "osm"))
    assert not _connected(listener)


# --- facilities -----------------------------------------------------------------------------

FAC_NODES = {
    1: (123.0, -9.0),
    2: (123.1, -9.1),
    3: (123.2, -9.2),
    4: (123.3, -9.3),
    5: (123.4, -9.4),
    # a square school outline, and two ways of a university multipolygon
    11: (124.0, -8.0),
    12: (124.2, -8.0),
    13: (124.2, -8.2),
    14: (124.0, -8.2),
    21: (125.0, -7.0),
    22: (125.4, -7.0),
    23: (125.4, -7.4),
    24: (125.0, -7.4),
    31: (126.0, -6.0),
    32: (126.1, -6.0),
}
FAC_NODE_TAGS = {
    1: '<tag k="amenity" v="hospital"/><tag k="name" v="RSUD Waingapu"/>'
    '<tag k="beds" v="120"/><tag k="operator" v="Pemkab"/><tag k="healthcare" v="hospital"/>',
    2: '<tag k="amenity" v="pharmacy"/><tag k="name" v="Apotek"/>',
    3: '<tag k="amenity" v="school"/><tag k="isced:level" v="1"/><tag k="school" v="primary"/>'
    '<tag k="capacity" v="300"/>',
    4: '<tag k="healthcare" v="centre"/><tag k="name" v="Puskesmas"/>',
    5: '<tag k="amenity" v="cafe"/><tag k="name" v="Warung"/>',
}
FAC_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
{nodes}
  <way id="7" version="1">
    <nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/>
    <tag k="amenity" v="school"/><tag k="name" v="SMP 1"/><tag k="isced:level" v="2"/>
  </way>
  <way id="8" version="1"><nd ref="21"/><nd ref="22"/><nd ref="23"/></way>
  <way id="9" version="1"><nd ref="23"/><nd ref="24"/><nd ref="21"/></way>
  <way id="6" version="1">
    <nd ref="31"/><nd ref="32"/><nd ref="999"/>
    <tag k="amenity" v="clinic"/>
  </way>
  <way id="5" version="1">
    <nd ref="998"/><nd ref="997"/><tag k="amenity" v="doctors"/>
  </way>
  <way id="4" version="1">
    <nd ref="11"/><nd ref="12"/><tag k="highway" v="primary"/>
  </way>
  <relation id="3" version="1">
    <member type="way" ref="8" role="outer"/><member type="way" ref="9" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="amenity" v="university"/>
  </relation>
  <relation id="2" version="1">
    <member type="way" ref="12345" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="amenity" v="hospital"/>
  </relation>
</osm>
"""


@pytest.fixture(params=["osm", "osm.bz2", "osm.pbf"])
def facilities_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    xml = FAC_XML.format(nodes=_node_xml(FAC_NODES, FAC_NODE_TAGS))
    return _write(tmp_path, xml, request.param, stem="facilities")


def test_facilities_exact_content(facilities_file: Path) -> None:
    gdf = read_osm_facilities(facilities_file)

    assert list(gdf.columns) == [*FACILITY_COLUMNS, "geometry"]
    assert gdf.crs == CRS.from_epsg(4326)
    assert gdf["osm_id"].dtype == np.int64
    assert list(zip(gdf["osm_type"], gdf["osm_id"], strict=True)) == [
        ("node", 1),
        ("node", 2),
        ("node", 3),
        ("node", 4),
        ("way", 6),
        ("way", 7),
        ("relation", 3),
    ]
    assert gdf["amenity"].tolist() == [
        "hospital",
        "pharmacy",
        "school",
        None,
        "clinic",
        "school",
        "university",
    ]
    assert gdf["healthcare"].tolist() == ["hospital", None, None, "centre", None, None, None]
    assert gdf["name"].tolist() == [
        "RSUD Waingapu",
        "Apotek",
        None,
        "Puskesmas",
        None,
        "SMP 1",
        None,
    ]
    assert gdf["school"].tolist() == [None, None, "primary", None, None, None, None]
    assert gdf["isced_level"].tolist() == [None, None, "1", None, None, "2", None]
    assert gdf["operator"].tolist() == ["Pemkab", None, None, None, None, None, None]
    assert gdf["capacity"].tolist() == ["120", None, "300", None, None, None, None]
    assert (gdf.geometry.geom_type == "Point").all()
    expected = [
        (123.0, -9.0),
        (123.1, -9.1),
        (123.2, -9.2),
        (123.3, -9.3),
        (126.05, -6.0),  # unclosed way, its missing node ignored
        (124.1, -8.1),  # closed square: closing node counted once
        (125.2, -7.2),  # relation: distinct nodes of both member ways
    ]
    np.testing.assert_allclose(gdf.geometry.x, [p[0] for p in expected], atol=1e-7)
    np.testing.assert_allclose(gdf.geometry.y, [p[1] for p in expected], atol=1e-7)


def test_facilities_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_osm_facilities(tmp_path / "none.osm")


def test_facilities_none_found(tmp_path: Path) -> None:
    gdf = read_osm_facilities(_write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), "osm"))
    assert len(gdf) == 0
    assert list(gdf.columns) == [*FACILITY_COLUMNS, "geometry"]
    assert gdf.crs == CRS.from_epsg(4326)


# --- places ----------------------------------------------------------------------------------

PLACES_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="reach-tests">
  <node id="7" lat="-10.1" lon="120.3"><tag k="place" v="village"/><tag k="name" v=" Lewa "/></node>
  <node id="3" lat="-10.0" lon="120.2"><tag k="place" v="town"/><tag k="name" v="Waingapu"/>
    <tag k="population" v="12 345"/></node>
  <node id="5" lat="-10.2" lon="120.4"><tag k="place" v="hamlet"/>
    <tag k="name" v="&lt;img src=x onerror=alert(1)&gt;"/><tag k="population" v="many"/></node>
  <node id="6" lat="-10.3" lon="120.5"><tag k="place" v="village"/></node>
  <node id="8" lat="-10.3" lon="120.5"><tag k="place" v="village"/><tag k="name" v="  "/></node>
  <node id="9" lat="-10.4" lon="120.6"><tag k="place" v="neighbourhood"/>
    <tag k="name" v="RT 1"/></node>
  <node id="10" lat="-10.4" lon="120.6"><tag k="amenity" v="school"/><tag k="name" v="SD 1"/></node>
  <way id="11"><nd ref="3"/><nd ref="7"/><tag k="place" v="island"/><tag k="name" v="Sumba"/></way>
</osm>
"""


@pytest.mark.parametrize("fmt", ["osm", "osm.pbf"])
def test_places_exact_content(tmp_path: Path, fmt: str) -> None:
    gdf = read_osm_places(_write(tmp_path, PLACES_XML, fmt, stem="places"))
    assert list(gdf.columns) == [*PLACE_COLUMNS, "geometry"]
    assert gdf.crs == CRS.from_epsg(4326)
    # named city/town/village/hamlet nodes only, by id; names stripped, kept as text
    assert gdf["osm_id"].tolist() == [3, 5, 7]
    assert gdf["name"].tolist() == ["Waingapu", "<img src=x onerror=alert(1)>", "Lewa"]
    assert gdf["place"].tolist() == ["town", "hamlet", "village"]
    pop = gdf["population"].to_numpy()
    assert pop[0] == 12345 and np.isnan(pop[1]) and np.isnan(pop[2])
    np.testing.assert_allclose(gdf.geometry.x, [120.2, 120.4, 120.3])
    np.testing.assert_allclose(gdf.geometry.y, [-10.0, -10.2, -10.1])


def test_places_none_found(tmp_path: Path) -> None:
    gdf = read_osm_places(_write(tmp_path, ROADS_XML.format(nodes=_node_xml(NODES)), "osm"))
    assert len(gdf) == 0 and list(gdf.columns) == [*PLACE_COLUMNS, "geometry"]
    with pytest.raises(InputError):
        read_osm_places(tmp_path / "nowhere.osm")


# --- the real Comoros extract ---------------------------------------------------------------


@pytest.fixture(scope="module")
def comoros_pbf(comoros: Path) -> Path:
    path = comoros / "comores-latest.osm.pbf"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.realdata
def test_comoros_roads(comoros_pbf: Path) -> None:
    lines, report = read_osm_roads_with_report(comoros_pbf)
    counts = lines.tags["highway"].value_counts().to_dict()
    # Highway tag counts documented in SOURCE.md.
    assert counts["residential"] == 3084
    assert counts["track"] == 254
    assert counts["tertiary"] == 251
    assert counts["service"] == 222
    assert counts["unclassified"] == 164
    assert counts["secondary"] == 126
    assert counts["path"] == 115
    assert counts["footway"] == 92
    assert counts["primary"] == 49
    assert report.ferries == 3
    assert lines.is_ferry().sum() == 3
    assert report.ways_read == lines.n_ways == 4381
    assert np.all(np.diff(lines.way_id) > 0)
    assert np.all(np.diff(lines.offsets) >= 2)
    # Header bbox 42.750,-12.969 - 45.597,-10.742.
    assert lines.x.min() >= 42.75 and lines.x.max() <= 45.597
    assert lines.y.min() >= -12.969 and lines.y.max() <= -10.742


@pytest.mark.realdata
def test_comoros_facilities(comoros_pbf: Path) -> None:
    gdf = read_osm_facilities(comoros_pbf)
    counts = gdf.groupby(["amenity", "osm_type"]).size().to_dict()
    assert counts[("hospital", "node")] == 11
    assert counts[("hospital", "way")] == 17
    assert counts[("clinic", "node")] == 7
    assert counts[("clinic", "way")] == 1
    assert counts[("doctors", "node")] == 3
    assert counts[("school", "node")] == 21
    assert counts[("school", "way")] == 61
    assert counts[("pharmacy", "node")] == 19
    assert gdf["osm_id"].is_unique or gdf[["osm_type", "osm_id"]].duplicated().sum() == 0
    assert gdf.geometry.x.between(42.75, 45.597).all()
    assert gdf.geometry.y.between(-12.969, -10.742).all()


@pytest.mark.realdata
def test_comoros_truncated_copy(comoros_pbf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm.pbf"
    with comoros_pbf.open("rb") as src:
        cut.write_bytes(src.read(1_000_000))
    with pytest.raises(InputError, match="cannot read OSM file") as info:
        read_osm_roads(cut)
    _assert_one_line(info.value)


@pytest.mark.realdata
def test_comoros_places(comoros_pbf: Path) -> None:
    gdf = read_osm_places(comoros_pbf)
    # 136 named city, town, village and hamlet nodes (of 181 place nodes)
    assert len(gdf) == 136
    assert gdf["place"].value_counts().to_dict() == {
        "village": 108,
        "town": 22,
        "city": 3,
        "hamlet": 3,
    }
    moroni = gdf[gdf["name"].str.startswith("Moroni")].iloc[0]
    assert moroni["place"] == "city" and moroni["population"] > 100_000
