"""Road line layers noded: ends near a line joined, crossings split unless they do not meet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from rasterio.crs import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from reach.ingest.lines import read_road_lines
from reach.ingest.roads import RoadLines
from reach.model.grid import AnalysisGrid
from reach.model.network import Network, build_network
from reach.model.noding import line_components, node_lines
from reach.model.speeds import default_profile
from reach.run.region import read_roads
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import write_tiny_region

X0, Y0 = 500_000.0, 9_000_000.0  # UTM 50S, metres


def write_lines(
    path: Path, lines: list[tuple[list[tuple[float, float]], dict[str, object]]], *, epsg: int
) -> Path:
    """A GeoJSON line layer with a ``label`` class column and the given properties."""
    features = [
        {
            "type": "Feature",
            "properties": {"label": "Main road", **props},
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
        }
        for coords, props in lines
    ]
    crs = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": features}))
    return path


def read(path: Path) -> RoadLines:
    return read_road_lines(path, class_column="label")


def utm(*points: tuple[float, float]) -> list[tuple[float, float]]:
    return [(X0 + x, Y0 + y) for x, y in points]


def network_parts(net: Network) -> int:
    """Connected parts of a network's nodes that have an edge."""
    used = np.unique(np.r_[net.src, net.dst])
    graph = coo_matrix((np.ones(net.n_edges), (net.src, net.dst)), shape=(net.n_nodes,) * 2)
    _, label = connected_components(graph, directed=False)
    return len(np.unique(label[used]))


def utm_network(lines: RoadLines) -> Network:
    grid = AnalysisGrid(
        rows=20, cols=20, transform=Affine(100.0, 0, X0 - 500, 0, -100.0, Y0 + 1500),
        crs=CRS.from_epsg(32750), dx_m=np.full(20, 100.0), dy_m=100.0,
    )  # fmt: skip
    profile = default_profile("car")
    return build_network(lines, grid, profile=profile, ferry_wait_min=0.0)


def way_shapes(lines: RoadLines) -> list[tuple[tuple[float, ...], ...]]:
    """Each way's coordinates and class, independent of the ways' order."""
    shapes = []
    for i in range(lines.n_ways):
        a, b = lines.offsets[i], lines.offsets[i + 1]
        pts = tuple(
            (round(float(x), 6), round(float(y), 6))
            for x, y in zip(lines.x[a:b], lines.y[a:b], strict=True)
        )
        shapes.append(pts)
    return sorted(shapes)


def test_end_3m_short_is_joined(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (1000, 0)), {}), (utm((400, 3), (400, 800)), {})],
        epsg=32750,
    )
    lines = read(path)
    assert line_components(lines) == 2
    noded, report = node_lines(lines, tolerance_m=5.0)
    assert report.ends_joined == 1 and report.crossings_split == 0
    assert report.components_before == 2 and report.components_after == 1
    assert report.max_end_distance_m == pytest.approx(3.0)
    assert network_parts(utm_network(lines)) == 2
    assert network_parts(utm_network(noded)) == 1
    (repair,) = report.repairs
    assert repair.kind == "end" and repair.distance_m == pytest.approx(3.0)
    assert (repair.way_id, repair.other_way_id) == (1000, 0)
    # the main road got a vertex at (400, 0), shared with the moved end
    main = noded.x[noded.offsets[0] : noded.offsets[1]] - X0
    assert list(np.round(main)) == [0.0, 400.0, 1000.0]


def test_end_20m_away_is_not_joined(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (1000, 0)), {}), (utm((400, 20), (400, 800)), {})],
        epsg=32750,
    )
    _, report = node_lines(read(path), tolerance_m=5.0)
    assert report.ends_joined == 0 and report.components_after == 2
    _, report = node_lines(read(path), tolerance_m=25.0)
    assert report.ends_joined == 1 and report.components_after == 1


def test_tolerance_zero_joins_no_end(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (1000, 0)), {}), (utm((400, 3), (400, 800)), {})],
        epsg=32750,
    )
    _, report = node_lines(read(path), tolerance_m=0.0)
    assert report.ends_joined == 0 and report.components_after == 2


def test_two_free_ends_join_once(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (500, 0)), {}), (utm((502, 1), (1000, 0)), {})],
        epsg=32750,
    )
    noded, report = node_lines(read(path), tolerance_m=5.0)
    assert report.ends_joined == 2 and len(report.repairs) == 1
    assert report.repairs[0].to_free_end
    assert report.components_after == 1
    assert len(noded.x) == len(read(path).x)  # moved onto the other end: no vertex inserted


def test_overshoot_is_left_alone(tmp_path: Path) -> None:
    # the side road meets the main road at a shared vertex and runs on 3 m past it, then bends
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (400, 0), (1000, 0)), {}), (utm((400, 800), (400, 0), (402, -2)), {})],
        epsg=32750,
    )
    _, report = node_lines(read(path), tolerance_m=5.0)
    assert report.ends_joined == 0 and report.components_after == 1


def test_crossing_without_vertex_is_split_and_routable(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (1000, 0)), {}), (utm((400, -500), (400, 500)), {})],
        epsg=32750,
    )
    lines = read(path)
    noded, report = node_lines(lines, tolerance_m=5.0)
    assert report.crossings_split == 1 and report.ends_joined == 0
    assert report.components_before == 2 and report.components_after == 1
    net = utm_network(noded)
    assert network_parts(utm_network(lines)) == 2 and network_parts(net) == 1
    # one node at the crossing, shared by both ways
    at = (np.abs(noded.x - (X0 + 400)) < 1e-6) & (np.abs(noded.y - Y0) < 1e-6)
    assert at.sum() == 2 and len(np.unique(noded.node_id[at])) == 1
    _, kept = node_lines(lines, tolerance_m=5.0, split_crossings=False)
    assert kept.crossings_split == 0 and kept.components_after == 2


@pytest.mark.parametrize(
    "props",
    [{"bridge": "yes"}, {"tunnel": "yes"}, {"layer": "1"}],
    ids=["bridge", "tunnel", "layer"],
)
def test_bridge_crossing_is_not_split(tmp_path: Path, props: dict[str, object]) -> None:
    other = {k: ("no" if k != "layer" else "0") for k in props}
    path = write_lines(
        tmp_path / "t.geojson",
        [(utm((0, 0), (1000, 0)), other), (utm((400, -500), (400, 500)), props)],
        epsg=32750,
    )
    noded, report = node_lines(read(path), tolerance_m=5.0)
    assert report.crossings_split == 0 and report.crossings_kept == 1
    assert report.components_after == 2
    assert report.repairs[0].kind == "crossing_kept"
    assert len(noded.x) == len(read(path).x)


def test_geographic_distances_are_metres(tmp_path: Path) -> None:
    # at 60° S a degree of longitude is half a degree of latitude: 4 m east is inside 5 m,
    # 4 m north is too; 7 m is not, whichever way
    lat = -60.0
    m_lat = 6_371_008.8 * np.pi / 180
    m_lon = m_lat * np.cos(np.radians(lat))
    main = [(10.0, lat), (10.0, lat + 0.02)]
    near = [(10.0 - 4 / m_lon, lat + 0.01), (10.0 - 0.01, lat + 0.01)]
    far = [(10.0 + 7 / m_lon, lat + 0.005), (10.0 + 0.01, lat + 0.005)]
    path = write_lines(tmp_path / "g.geojson", [(main, {}), (near, {}), (far, {})], epsg=4326)
    _, report = node_lines(read(path), tolerance_m=5.0)
    assert report.ends_joined == 1
    assert report.repairs[0].distance_m == pytest.approx(4.0, abs=0.01)
    assert report.components_after == 2


def test_deterministic_under_row_order_and_input_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    rows: list[tuple[list[tuple[float, float]], dict[str, object]]] = [
        (utm((0, 0), (1000, 0)), {}),
        (utm((0, 300), (1000, 300)), {}),
        (utm((200, -400), (200, 700)), {}),  # crosses both
        (utm((600, 2), (600, 297)), {}),  # both ends short of a line
        (utm((800, 301.5), (800, 600)), {}),
        (utm((1002, 1), (1500, 0)), {}),  # a free end beside a free end
        (utm((900, -200), (900, 200)), {"bridge": "yes"}),
    ]
    reports, shapes = [], []
    for _ in range(4):
        order = rng.permutation(len(rows))
        path = write_lines(tmp_path / "s.geojson", [rows[i] for i in order], epsg=32750)
        lines = read(path)
        before = (lines.x.copy(), lines.y.copy(), lines.node_id.copy(), lines.offsets.copy())
        tags_before = lines.tags.copy()
        noded, report = node_lines(lines, tolerance_m=5.0)
        for a, b in zip(before, (lines.x, lines.y, lines.node_id, lines.offsets), strict=True):
            np.testing.assert_array_equal(a, b)
        pd.testing.assert_frame_equal(tags_before, lines.tags)
        reports.append(
            (report.summary(), [(r.kind, r.x, r.y, r.distance_m) for r in report.repairs])
        )
        shapes.append(way_shapes(noded))
    assert all(r == reports[0] for r in reports)
    assert all(s == shapes[0] for s in shapes)
    summary = reports[0][0]
    assert summary["crossings_split"] == 2 and summary["crossings_kept"] == 1
    assert summary["ends_joined"] == 5
    assert summary["components_after"] == 2  # the bridge stays apart


def test_osm_roads_are_not_noded(tmp_path: Path) -> None:
    roads, report = read_roads(load_scenario(write_tiny_region(tmp_path)))
    assert report is None and roads.n_ways == 1


LINE_ROADS = [
    # the west road from the west clinic, 3 m short of the north-south road
    ([(120.0015, -9.0205), (120.02 - 3 / 109_930, -9.0205)], {"label": "Main road"}),
    ([(120.02, -9.002), (120.02, -9.038)], {"label": "Main road"}),
]


def test_run_with_line_layer_covers_more(tmp_path: Path) -> None:
    def run(tolerance: float) -> tuple[pd.DataFrame, dict[str, object]]:
        folder = tmp_path / f"tol{tolerance:g}"
        scenario = write_tiny_region(folder)
        write_lines(folder / "roads.geojson", LINE_ROADS, epsg=4326)
        text = scenario.read_text().replace(
            'osm = "roads.osm"\n',
            "[region.roads]\n"
            'path = "roads.geojson"\nclass_column = "label"\n'
            f"node_tolerance_m = {tolerance}\n",
        )
        text = text.replace('mode = "motorbike"', 'mode = "car"')
        text += '[modes.car]\nhighway_kph = { "Main road" = 60.0 }\n'
        scenario.write_text(text)
        run_scenario(load_scenario(scenario), out_dir=folder / "out", maps=False)
        manifest = json.loads((folder / "out" / "manifest.json").read_text())
        return pd.read_csv(folder / "out" / "coverage.csv"), manifest

    before, m_before = run(0.0)
    after, m_after = run(5.0)
    assert m_before["roads_noding"]["ends_joined"] == 0
    assert m_after["roads_noding"]["ends_joined"] == 1
    assert m_after["roads_noding"]["components_before"] == 2
    assert m_after["roads_noding"]["components_after"] == 1
    pct = [c for c in before.columns if c.startswith("pct_within_")]
    b = before.set_index(["service", "zone_id"])[pct].fillna(0.0)
    a = after.set_index(["service", "zone_id"])[pct].fillna(0.0)
    assert (a >= b - 1e-9).all().all()
    assert (a > b + 1e-6).any().any()


@pytest.mark.realdata
def test_malawi_roads_are_noded(malawi: Path) -> None:
    lines = read_road_lines(malawi / "roads.gpkg", class_column="label")
    _, at_5m = node_lines(lines, tolerance_m=5.0)
    # 14 line ends lie 0-6.8 m from another line; two of them (7.3 m and 3.0 m dangles) only
    # overshoot a line they already meet, two lie 6.4-6.5 m apart (joined from 7 m on)
    assert (at_5m.ends_joined, at_5m.crossings_split) == (10, 0)
    assert (at_5m.components_before, at_5m.components_after) == (4, 2)
    noded, at_10m = node_lines(lines, tolerance_m=10.0)
    assert (at_10m.ends_joined, at_10m.crossings_split, at_10m.crossings_kept) == (12, 0, 0)
    assert (at_10m.components_before, at_10m.components_after) == (4, 1)
    assert at_10m.max_end_distance_m == pytest.approx(6.51, abs=0.01)
    assert line_components(noded) == 1
