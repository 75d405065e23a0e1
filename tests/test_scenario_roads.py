"""Road and ferry operations of a scenario: selection, tags, snapping, ferries, seasons."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio.crs
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from reach.errors import ScenarioError
from reach.ingest.roads import TAG_COLUMNS, RoadLines
from reach.model.grid import AnalysisGrid
from reach.model.network import Network, build_network
from reach.model.speeds import default_profile
from reach.scenarios.roads import (
    add_ferry,
    add_road,
    apply_road_operations,
    apply_season,
    change_ferry,
    close_road,
    suspend_ferry,
    upgrade_road,
)
from reach.spec import (
    AddFacility,
    AddFerry,
    AddRoad,
    ChangeFerry,
    CloseRoad,
    Season,
    SuspendFerry,
    UpgradeRoad,
)

UTM50S = CRS.from_epsg(32750)
WGS84 = CRS.from_epsg(4326)
#: A UTM 50S origin on Sumba (about 120.2 E, 9.6 S), so coordinates are real places.
X0, Y0 = 850_000.0, 8_940_000.0

Way = tuple[list[tuple[float, float]], list[int], dict[str, str]]


def _lines(ways: list[Way], *, crs: CRS = UTM50S, way_ids: list[int] | None = None) -> RoadLines:
    """RoadLines from point lists, node ids and tags (way ids 1..n unless given)."""
    x, y, nid, offsets, rows = [], [], [], [0], []
    for pts, ids, tags in ways:
        x += [p[0] for p in pts]
        y += [p[1] for p in pts]
        nid += ids
        offsets.append(len(x))
        rows.append({c: tags.get(c) for c in TAG_COLUMNS})
    ids = way_ids if way_ids is not None else list(range(1, len(ways) + 1))
    return RoadLines(
        way_id=np.array(ids, np.int64), offsets=np.array(offsets, np.int64),
        x=np.array(x, float), y=np.array(y, float), node_id=np.array(nid, np.int64),
        tags=pd.DataFrame(rows, columns=list(TAG_COLUMNS), dtype=object), crs=crs,
    )  # fmt: skip


def _grid(*, crs: CRS = UTM50S, cell_m: float = 100.0) -> AnalysisGrid:
    """A grid for ``build_network`` (only its CRS and cell size matter there)."""
    if crs.is_geographic:
        deg = cell_m / 111_000.0
        transform = Affine(deg, 0, -180, 0, -deg, 90)
    else:
        transform = Affine(cell_m, 0, 0, 0, -cell_m, 10_000_000)
    return AnalysisGrid(
        rows=1, cols=1, transform=transform, crs=rasterio.crs.CRS.from_wkt(crs.to_wkt()),
        dx_m=np.array([cell_m]), dy_m=cell_m,
    )  # fmt: skip


def _snapshot(lines: RoadLines) -> dict[str, object]:
    """Deep copies of every field, to prove an operation left its input alone."""
    return {
        name: copy.deepcopy(getattr(lines, name))
        for name in ("way_id", "offsets", "x", "y", "node_id", "tags", "speed_factor",
                     "closed", "headway_min", "ferry_kph")
    }  # fmt: skip


def _assert_unchanged(lines: RoadLines, before: dict[str, object]) -> None:
    for name, value in before.items():
        now = getattr(lines, name)
        if value is None:
            assert now is None, name
        elif isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(now, value)
        else:
            np.testing.assert_array_equal(now, value, err_msg=name)


def _network(lines: RoadLines, *, mode: str = "motorbike", wait: float = 0.0) -> Network:
    grid = _grid(crs=CRS.from_user_input(lines.crs))
    return build_network(lines, grid, profile=default_profile(mode), ferry_wait_min=wait)


def _node_index(net_lines: RoadLines, node_id: int) -> int:
    """Network node index of an OSM node id (build_network numbers them by sorted id)."""
    return int(np.searchsorted(np.unique(net_lines.node_id), node_id))


def _times_to(net: Network, target: int) -> np.ndarray:
    """Shortest time from every node to ``target`` (Dijkstra on the reversed graph)."""
    graph = csr_matrix((net.time_min, (net.dst, net.src)), shape=(net.n_nodes, net.n_nodes))
    return np.asarray(dijkstra(graph, directed=True, indices=target))


def _components(net: Network) -> int:
    graph = csr_matrix((net.time_min, (net.src, net.dst)), shape=(net.n_nodes, net.n_nodes))
    n, _ = connected_components(graph, directed=False)
    return int(n)


def _ferry_times(net: Network) -> np.ndarray:
    return np.sort(net.time_min[net.is_ferry])


def _town() -> RoadLines:
    """Three roads in a row, a separate road to the north, and a ferry to an island."""
    return _lines(
        [
            ([(X0, Y0), (X0 + 1000, Y0)], [1, 2], {"highway": "track", "surface": "dirt"}),
            ([(X0 + 1000, Y0), (X0 + 2000, Y0)], [2, 3],
             {"highway": "residential", "tracktype": "grade3"}),
            ([(X0 + 2000, Y0), (X0 + 3000, Y0)], [3, 4], {"highway": "primary"}),
            ([(X0, Y0 + 2000), (X0 + 1000, Y0 + 2000)], [10, 11],
             {"highway": "track", "ford": "yes"}),
            ([(X0 + 3000, Y0), (X0 + 9000, Y0)], [4, 20], {"route": "ferry", "duration": "00:30"}),
            ([(X0 + 9000, Y0), (X0 + 9000, Y0 + 1000)], [20, 21], {"highway": "unclassified"}),
        ],
        way_ids=[101, 102, 103, 104, 105, 106],
    )  # fmt: skip


def _lon_lat_of(x: float, y: float) -> tuple[float, float]:
    lon, lat = Transformer.from_crs(UTM50S, WGS84, always_xy=True).transform(x, y)
    return float(lon), float(lat)


# --- upgrade_road -----------------------------------------------------------------------------


def test_upgrade_road_by_ids_sets_tags_and_leaves_the_input_alone() -> None:
    lines = _town()
    before = _snapshot(lines)
    op = UpgradeRoad(op="upgrade_road", way_ids=[101, 102], set_surface="asphalt",
                     set_highway="tertiary", set_tracktype="grade1")  # fmt: skip
    out = upgrade_road(lines, op)
    _assert_unchanged(lines, before)
    assert out.tags["surface"].tolist()[:3] == ["asphalt", "asphalt", None]
    assert out.tags["highway"].tolist()[:3] == ["tertiary", "tertiary", "primary"]
    assert out.tags["tracktype"].tolist()[:3] == ["grade1", "grade1", None]
    assert out.tags["smoothness"].isna().all()  # not asked for
    pd.testing.assert_frame_equal(out.tags.iloc[2:], lines.tags.iloc[2:])
    # faster: the dirt track becomes a tertiary asphalt road
    assert _network(out).time_min.sum() < _network(lines).time_min.sum()


def test_upgrade_road_sets_road_class_on_line_layers() -> None:
    lines = _lines(
        [
            ([(X0, Y0), (X0 + 500, Y0)], [-1, -2], {"road_class": "Track"}),
            ([(X0 + 500, Y0), (X0 + 900, Y0)], [-2, -3], {"highway": "track"}),
        ]
    )
    out = upgrade_road(lines, UpgradeRoad(op="upgrade_road", way_ids=[1, 2], set_highway="primary"))
    assert out.tags["highway"].tolist() == ["primary", "primary"]
    assert out.tags["road_class"].tolist() == ["primary", None]


def test_upgrade_road_unknown_ids_are_named() -> None:
    op = UpgradeRoad(op="upgrade_road", way_ids=[101, 999, 998], set_surface="asphalt")
    with pytest.raises(ScenarioError, match=r"upgrade_road: no way with id 998, 999"):
        upgrade_road(_town(), op)


def test_upgrade_road_refuses_a_ferry() -> None:
    op = UpgradeRoad(op="upgrade_road", way_ids=[105], set_surface="asphalt")
    with pytest.raises(ScenarioError, match=r"way 105 is a ferry.*change_ferry"):
        upgrade_road(_town(), op)


def test_upgrade_road_polygon_in_lon_lat() -> None:
    # ways around 120.0-120.1 E; the polygon covers the first two and touches none of the rest
    lines = _lines(
        [
            ([(120.00, -9.60), (120.01, -9.60)], [1, 2], {"highway": "track"}),
            ([(120.01, -9.60), (120.05, -9.60)], [2, 3], {"highway": "residential"}),
            ([(120.05, -9.60), (120.09, -9.60)], [3, 4], {"highway": "track"}),
            ([(120.00, -9.70), (120.01, -9.70)], [5, 6], {"highway": "track"}),
        ],
        crs=WGS84,
    )
    ring = [(119.99, -9.59), (120.02, -9.59), (120.02, -9.61), (119.99, -9.61)]
    out = upgrade_road(lines, UpgradeRoad(op="upgrade_road", polygon=ring, set_surface="paved"))
    assert out.tags["surface"].tolist() == ["paved", "paved", None, None]
    # restricted to a class (case and spaces do not matter)
    only_tracks = UpgradeRoad(
        op="upgrade_road", polygon=ring, highway_classes=[" Track"], set_surface="paved"
    )
    assert upgrade_road(lines, only_tracks).tags["surface"].tolist() == ["paved", None, None, None]


def test_upgrade_road_polygon_is_projected_to_the_lines_crs() -> None:
    lines = _town()  # UTM 50S metres
    # a lon/lat ring around the 2nd and 3rd roads' shared node (X0 + 2000, Y0), only
    corners = [(X0 + 1900, Y0 - 100), (X0 + 2100, Y0 - 100), (X0 + 2100, Y0 + 100),
               (X0 + 1900, Y0 + 100)]  # fmt: skip
    ring = [_lon_lat_of(x, y) for x, y in corners]
    assert 119 < ring[0][0] < 121 and -10 < ring[0][1] < -9
    out = upgrade_road(lines, UpgradeRoad(op="upgrade_road", polygon=ring, set_surface="asphalt"))
    assert out.way_id[out.tags["surface"].to_numpy() == "asphalt"].tolist() == [102, 103]
    assert out.tags["surface"].iloc[0] == "dirt"


def test_upgrade_road_polygon_plus_ids_and_class_filter() -> None:
    lines = _town()
    ring = [_lon_lat_of(x, y) for x, y in [(X0 - 50, Y0 - 50), (X0 + 50, Y0 - 50),
                                            (X0 + 50, Y0 + 50), (X0 - 50, Y0 + 50)]]  # fmt: skip
    op = UpgradeRoad(op="upgrade_road", polygon=ring, way_ids=[103, 106],
                     highway_classes=["track", "unclassified"], set_smoothness="good")  # fmt: skip
    out = upgrade_road(lines, op)
    # 101 (track, in the polygon) and 106 (unclassified, by id); 103 is primary: filtered out
    assert out.way_id[out.tags["smoothness"].to_numpy() == "good"].tolist() == [101, 106]


def test_upgrade_road_selecting_nothing_is_an_error() -> None:
    ring = [(0.0, 0.0), (0.1, 0.0), (0.1, 0.1)]  # off the coast of Africa, nowhere near Sumba
    with pytest.raises(ScenarioError, match=r"upgrade_road selects no way.*0 roads with a point"):
        upgrade_road(_town(), UpgradeRoad(op="upgrade_road", polygon=ring, set_surface="asphalt"))
    op = UpgradeRoad(op="upgrade_road", way_ids=[103], highway_classes=["track"],
                     set_surface="asphalt")  # fmt: skip
    with pytest.raises(ScenarioError, match=r"selects no way: no road of class track"):
        upgrade_road(_town(), op)


# --- add_road ---------------------------------------------------------------------------------


def test_add_road_snaps_and_joins_the_network() -> None:
    lines = _town()
    before = _snapshot(lines)
    assert _components(_network(lines)) == 2  # the northern track is cut off
    # from 120 m beside node 1 to 150 m beside node 10
    start = _lon_lat_of(X0 + 120, Y0)
    end = _lon_lat_of(X0 - 100, Y0 + 2000 - 110)
    out = add_road(lines, AddRoad(op="add_road", start=start, end=end, name="Jalan Baru"))
    _assert_unchanged(lines, before)
    assert out.n_ways == lines.n_ways + 1
    assert out.way_id[-1] == -1
    assert out.node_id[-2:].tolist() == [1, 10]
    assert (out.x[-2], out.y[-2]) == (X0, Y0)  # the exact coordinates of the joined points
    assert (out.x[-1], out.y[-1]) == (X0, Y0 + 2000)
    new = out.tags.iloc[-1]
    assert (new["highway"], new["surface"], new["name"]) == ("tertiary", "asphalt", "Jalan Baru")
    assert new["road_class"] is None  # an OSM layer
    assert _components(_network(out)) == 1
    # too far to snap: a fresh node each end, so a third piece
    far = add_road(lines, AddRoad(op="add_road", start=start, end=end), snap_m=50.0)
    assert far.node_id[-2:].tolist() == [-1, -2]
    assert _components(_network(far)) == 3


def test_add_road_snaps_in_lon_lat_with_the_latitude_scale() -> None:
    # at 60° N a degree of longitude is half a degree of latitude: 0.003° lon ≈ 167 m
    lines = _lines([([(10.0, 60.0), (10.01, 60.0)], [7, 8], {"highway": "track"})], crs=WGS84)
    east = add_road(lines, AddRoad(op="add_road", start=(9.997, 60.0), end=(9.99, 60.05)))
    assert east.node_id[-2] == 7
    # 0.0025° of latitude ≈ 278 m: not snapped
    north = add_road(lines, AddRoad(op="add_road", start=(10.0, 60.0025), end=(9.99, 60.05)))
    assert north.node_id[-2] < 0 and north.node_id[-2] not in lines.node_id


def test_add_road_extends_per_way_arrays_and_line_layer_class() -> None:
    lines = _lines([([(X0, Y0), (X0 + 500, Y0)], [-1, -2], {"road_class": "Track"})], way_ids=[-5])
    lines = close_road(lines, CloseRoad(op="close_road", way_ids=[-5]))
    lines = apply_season(
        lines, Season(op="season", name="wet", share_of_year=0.5, tracktype_multipliers={})
    )
    lines = dataclasses.replace(lines, headway_min=np.array([np.nan]))
    start = _lon_lat_of(X0 + 5000, Y0)
    end = _lon_lat_of(X0 + 6000, Y0)
    out = add_road(lines, AddRoad(op="add_road", start=start, end=end, highway="secondary"))
    assert out.way_id.tolist() == [-5, -6]
    assert out.node_id.tolist() == [-1, -2, -3, -4]
    assert out.tags["road_class"].tolist() == ["Track", "secondary"]
    assert out.closed is not None and out.closed.tolist() == [True, False]
    assert out.speed_factor is not None and out.speed_factor.tolist() == [1.0, 1.0]
    assert out.headway_min is not None and np.isnan(out.headway_min).all()
    assert out.ferry_kph is None
    np.testing.assert_allclose([out.x[-1], out.y[-1]], [X0 + 6000, Y0], atol=1e-6)


def test_add_road_onto_one_point_is_an_error() -> None:
    lines = _town()
    a = _lon_lat_of(X0 + 10, Y0)
    b = _lon_lat_of(X0 - 10, Y0 + 5)
    with pytest.raises(ScenarioError, match=r"add_road: start .* same point"):
        add_road(lines, AddRoad(op="add_road", start=a, end=b))


# --- close_road -------------------------------------------------------------------------------


def test_close_road() -> None:
    lines = _town()
    before = _snapshot(lines)
    out = close_road(lines, CloseRoad(op="close_road", way_ids=[102]))
    _assert_unchanged(lines, before)
    assert out.closed is not None and out.closed.tolist() == [False, True] + [False] * 4
    # the road is cut: node 1 no longer reaches node 4
    t_before = _times_to(_network(lines), _node_index(lines, 4))
    t_after = _times_to(_network(out), _node_index(out, 4))
    assert np.isfinite(t_before[_node_index(lines, 1)])
    assert np.isinf(t_after[_node_index(out, 1)])
    again = close_road(out, CloseRoad(op="close_road", way_ids=[101]))
    assert again.closed is not None and again.closed[:2].tolist() == [True, True]
    assert out.closed.tolist()[0] is False  # the earlier result is not touched either
    with pytest.raises(ScenarioError, match=r"close_road: no way with id 7"):
        close_road(lines, CloseRoad(op="close_road", way_ids=[7, 101]))


# --- ferries ----------------------------------------------------------------------------------


def test_add_ferry_wait_is_half_the_headway_and_duration_is_kept() -> None:
    lines = _town()
    before = _snapshot(lines)
    # ports 1.5 km off node 11 and node 21 (within the 2 km default)
    start = _lon_lat_of(X0 + 1000, Y0 + 3500)
    end = _lon_lat_of(X0 + 10500, Y0 + 1000)
    op = AddFerry(op="add_ferry", start=start, end=end, headway_min=40, duration_min=45,
                  name="Kapal")  # fmt: skip
    out = add_ferry(lines, op)
    _assert_unchanged(lines, before)
    assert out.node_id[-2:].tolist() == [11, 21]
    new = out.tags.iloc[-1]
    assert (new["route"], new["duration"], new["name"]) == ("ferry", "00:45", "Kapal")
    assert out.is_ferry().sum() == 2
    assert out.headway_min is not None
    assert np.isnan(out.headway_min[:-1]).all() and out.headway_min[-1] == 40
    assert out.ferry_kph is None
    net = _network(out, wait=60.0)
    # old ferry: 30 min + the scenario's 60 min wait; new: 45 min + 40 / 2
    np.testing.assert_allclose(_ferry_times(net), [65, 65, 90, 90])
    assert _components(net) == 1


def test_add_ferry_speed_and_formats() -> None:
    lines = _town()
    start = _lon_lat_of(X0, Y0 - 20_000)
    end = _lon_lat_of(X0, Y0 - 8_000)  # 12 km, nothing within 2 km: fresh ports
    fast = add_ferry(lines, AddFerry(op="add_ferry", start=start, end=end, headway_min=30,
                                     speed_kph=24))  # fmt: skip
    assert fast.node_id[-2:].tolist() == [-1, -2]
    assert fast.tags["duration"].iloc[-1] is None
    assert fast.ferry_kph is not None and fast.ferry_kph[-1] == 24
    assert np.isnan(fast.ferry_kph[:-1]).all()
    net = _network(fast, wait=0.0)
    crossing = net.time_min[net.is_ferry & (net.length_m > 11_000)]
    np.testing.assert_allclose(crossing, [12 / 24 * 60 + 15] * 2, rtol=1e-3)
    # a duration wins over a speed; fractions of a minute keep their seconds
    both = add_ferry(lines, AddFerry(op="add_ferry", start=start, end=end, headway_min=30,
                                     speed_kph=24, duration_min=90.5))  # fmt: skip
    assert both.tags["duration"].iloc[-1] == "01:30:30"
    assert both.ferry_kph is None
    net = _network(both, wait=0.0)
    np.testing.assert_allclose(net.time_min[net.is_ferry & (net.length_m > 11_000)], [105.5] * 2)


def test_change_ferry() -> None:
    lines = add_ferry(
        _town(),
        AddFerry(op="add_ferry", start=_lon_lat_of(X0, Y0 - 20_000),
                 end=_lon_lat_of(X0, Y0 - 8_000), headway_min=30, speed_kph=24),
    )  # fmt: skip
    before = _snapshot(lines)
    op = ChangeFerry(op="change_ferry", way_ids=[105], headway_min=10, speed_kph=18)
    out = change_ferry(lines, op)
    _assert_unchanged(lines, before)
    assert out.headway_min is not None and out.ferry_kph is not None
    np.testing.assert_array_equal(out.headway_min[[4, 6]], [10, 30])
    np.testing.assert_array_equal(out.ferry_kph[[4, 6]], [18, 24])
    net = _network(out, wait=100.0)
    # 6 km at 18 km/h (the speed overrides the 30 min duration tag) + 5 min wait
    np.testing.assert_allclose(net.time_min[net.is_ferry & (net.length_m < 7_000)], [25, 25])
    every = change_ferry(lines, ChangeFerry(op="change_ferry", all=True, headway_min=60))
    assert every.headway_min is not None
    np.testing.assert_array_equal(every.headway_min[every.is_ferry()], [60, 60])
    assert every.ferry_kph is lines.ferry_kph  # untouched array shared, not modified
    with pytest.raises(ScenarioError, match=r"change_ferry: way 101 is not a ferry route"):
        change_ferry(lines, ChangeFerry(op="change_ferry", way_ids=[101, 105], headway_min=5))
    with pytest.raises(ScenarioError, match=r"no way with id 5"):
        change_ferry(lines, ChangeFerry(op="change_ferry", way_ids=[5], headway_min=5))
    no_ferry = _lines([([(X0, Y0), (X0 + 10, Y0)], [1, 2], {"highway": "path"})])
    with pytest.raises(ScenarioError, match=r"change_ferry: the network has no ferry"):
        change_ferry(no_ferry, ChangeFerry(op="change_ferry", all=True, speed_kph=5))


def test_suspend_ferry() -> None:
    lines = _town()
    before = _snapshot(lines)
    out = suspend_ferry(lines, SuspendFerry(op="suspend_ferry", all=True))
    _assert_unchanged(lines, before)
    assert out.closed is not None and out.way_id[out.closed].tolist() == [105]
    by_id = suspend_ferry(lines, SuspendFerry(op="suspend_ferry", way_ids=[105]))
    assert by_id.closed is not None and by_id.closed.tolist() == out.closed.tolist()
    with pytest.raises(ScenarioError, match=r"suspend_ferry: way 103 is not a ferry"):
        suspend_ferry(lines, SuspendFerry(op="suspend_ferry", way_ids=[103]))
    no_ferry = _lines([([(X0, Y0), (X0 + 10, Y0)], [1, 2], {"highway": "path"})])
    with pytest.raises(ScenarioError, match=r"suspend_ferry: the network has no ferry"):
        suspend_ferry(no_ferry, SuspendFerry(op="suspend_ferry", all=True))


def test_suspended_ferry_gives_no_network_edge() -> None:
    lines = _town()  # ferry 105 has duration=00:30
    assert _network(lines).is_ferry.sum() == 2
    out = suspend_ferry(lines, SuspendFerry(op="suspend_ferry", all=True))
    assert _network(out).is_ferry.sum() == 0
    assert _components(_network(out)) == 3  # the island is cut off
    fast = change_ferry(lines, ChangeFerry(op="change_ferry", all=True, speed_kph=30))
    fast = suspend_ferry(fast, SuspendFerry(op="suspend_ferry", way_ids=[105]))
    assert _network(fast).is_ferry.sum() == 0


def test_all_roads_closed_gives_an_empty_network() -> None:
    lines = _town()
    out = close_road(lines, CloseRoad(op="close_road", way_ids=[101, 102, 103, 104, 106]))
    net = _network(out)
    assert not np.any(~net.is_ferry)


# --- seasons ----------------------------------------------------------------------------------


def _season_lines() -> RoadLines:
    return _lines(
        [
            ([(X0, Y0), (X0 + 100, Y0)], [1, 2], {"highway": "track", "surface": "dirt",
                                                   "tracktype": "grade3"}),
            ([(X0 + 100, Y0), (X0 + 200, Y0)], [2, 3], {"highway": "residential",
                                                         "surface": "Asphalt",
                                                         "tracktype": "grade3"}),
            ([(X0 + 200, Y0), (X0 + 300, Y0)], [3, 4], {"highway": "track"}),
            ([(X0 + 300, Y0), (X0 + 400, Y0)], [4, 5], {"highway": "residential"}),
            ([(X0 + 400, Y0), (X0 + 500, Y0)], [5, 6], {"highway": "path", "surface": "mud"}),
            ([(X0 + 500, Y0), (X0 + 600, Y0)], [6, 7], {"highway": "primary", "ford": "yes"}),
            ([(X0 + 600, Y0), (X0 + 700, Y0)], [7, 8], {"highway": "primary", "ford": "no"}),
            ([(X0 + 700, Y0), (X0 + 900, Y0)], [8, 9], {"route": "ferry", "surface": "dirt"}),
        ]
    )  # fmt: skip


def test_season_takes_the_smaller_multiplier_and_zero_closes() -> None:
    lines = _season_lines()
    before = _snapshot(lines)
    wet = Season(op="season", name="wet", share_of_year=0.4,
                 surface_multipliers={"dirt": 0.5, "asphalt": 0.9, "unpaved": 0.6, "mud": 0.0},
                 tracktype_multipliers={"grade3": 0.7}, walk_multiplier=0.8)  # fmt: skip
    out = apply_season(lines, wet)
    _assert_unchanged(lines, before)
    assert out.speed_factor is not None and out.closed is not None
    # dirt+grade3 → min(0.5, 0.7); asphalt+grade3 → min(0.9, 0.7); untagged track → unpaved;
    # untagged residential → untouched; mud → closed (factor kept); fords not closed; ferry kept
    np.testing.assert_allclose(out.speed_factor, [0.5, 0.7, 0.6, 1, 1, 1, 1, 1])
    assert out.closed.tolist() == [False, False, False, False, True, False, False, False]
    # the factor reaches the network: the dirt track is twice as slow
    base = _network(lines)
    slow = _network(out)
    first = _node_index(lines, 1), _node_index(lines, 2)
    t0 = _times_to(base, first[1])[first[0]]
    t1 = _times_to(slow, first[1])[first[0]]
    np.testing.assert_allclose(t1, 2 * t0)
    # a second season multiplies on top
    twice = apply_season(out, wet)
    assert twice.speed_factor is not None
    np.testing.assert_allclose(twice.speed_factor[:3], [0.25, 0.49, 0.36])


def test_season_unpaved_rule_needs_the_unpaved_key_and_fords_close() -> None:
    lines = _season_lines()
    dry = Season(op="season", name="dry", share_of_year=0.6, surface_multipliers={"dirt": 0.8},
                 close_fords=True)  # fmt: skip
    out = apply_season(lines, dry)
    assert out.speed_factor is not None and out.closed is not None
    np.testing.assert_allclose(out.speed_factor, [0.8, 1, 1, 1, 1, 1, 1, 1])
    assert out.way_id[out.closed].tolist() == [6]  # ford=yes; ford=no stays open
    assert _network(out).n_edges < _network(lines).n_edges


# --- a whole list -----------------------------------------------------------------------------


def test_apply_road_operations_in_order_and_ignores_other_ops() -> None:
    lines = _town()
    ops: list[object] = [
        AddFacility(op="add_facility", service="health", facility_id="new", lon=120.0,
                    lat=-9.6, tier="clinic"),
        UpgradeRoad(op="upgrade_road", way_ids=[101], set_surface="asphalt"),
        Season(op="season", name="wet", share_of_year=0.5, surface_multipliers={"asphalt": 0.9,
                                                                              "unpaved": 0.5}),
        CloseRoad(op="close_road", way_ids=[104]),
        ChangeFerry(op="change_ferry", all=True, headway_min=20),
        AddRoad(op="add_road", start=_lon_lat_of(X0, Y0 - 3000), end=_lon_lat_of(X0, Y0)),
        SuspendFerry(op="suspend_ferry", way_ids=[105]),
    ]  # fmt: skip
    out = apply_road_operations(lines, ops)
    assert out.n_ways == 7 and out.way_id[-1] == -1 and out.node_id[-1] == 1
    assert out.tags["surface"].iloc[0] == "asphalt"
    assert out.speed_factor is not None
    # 101 was upgraded before the season (asphalt 0.9); 104 is an untagged track (unpaved);
    # the new road came after the season (1.0)
    np.testing.assert_allclose(out.speed_factor, [0.9, 1, 1, 0.5, 1, 0.5, 1])
    assert out.closed is not None and out.way_id[out.closed].tolist() == [104, 105]
    assert out.headway_min is not None and out.headway_min[4] == 20
    assert apply_road_operations(lines, ops[:1]) is lines


# --- properties -------------------------------------------------------------------------------

_CLASSES = ["primary", "tertiary", "residential", "track", "path", "footway", "unclassified"]
_SURFACES = [None, "asphalt", "gravel", "dirt", "mud", "sand", "paved", "unknown_value"]
_TRACKTYPES = [None, "grade1", "grade3", "grade5"]
_ONEWAY = [None, None, "yes", "-1"]


@st.composite
def _road_grid(draw: st.DrawFn) -> tuple[RoadLines, list[int], int]:
    """A random grid of roads (some missing), random tags, a random subset of ways."""
    rows = draw(st.integers(2, 4))
    cols = draw(st.integers(2, 4))
    spacing = 300.0

    def node(r: int, c: int) -> int:
        return 1 + r * cols + c

    ways: list[Way] = []
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr >= rows or c + dc >= cols:
                    continue
                if ways and draw(st.integers(0, 3)) == 0:  # drop about a quarter, never all
                    continue
                tags = {
                    "highway": draw(st.sampled_from(_CLASSES)),
                    "surface": draw(st.sampled_from(_SURFACES)),
                    "tracktype": draw(st.sampled_from(_TRACKTYPES)),
                    "oneway": draw(st.sampled_from(_ONEWAY)),
                }
                pts = [(X0 + c * spacing, Y0 + r * spacing),
                       (X0 + (c + dc) * spacing, Y0 + (r + dr) * spacing)]  # fmt: skip
                ways.append((pts, [node(r, c), node(r + dr, c + dc)],
                             {k: v for k, v in tags.items() if v is not None}))  # fmt: skip
    lines = _lines(ways)
    chosen = draw(st.lists(st.sampled_from(lines.way_id.tolist()), min_size=1, unique=True))
    target = draw(st.sampled_from(sorted(set(lines.node_id.tolist()))))
    return lines, chosen, target


def _base_node_times(lines: RoadLines, target: int, mode: str) -> np.ndarray:
    """Time from each OSM node (not the densified ones) to ``target``."""
    net = _network(lines, mode=mode)
    n_base = len(np.unique(lines.node_id))
    return _times_to(net, _node_index(lines, target))[:n_base]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_road_grid(), mode=st.sampled_from(["motorbike", "car", "walk"]))
def test_better_surface_never_slows_and_closing_never_speeds(
    case: tuple[RoadLines, list[int], int], mode: str
) -> None:
    lines, chosen, target = case
    base = _base_node_times(lines, target, mode)
    paved = upgrade_road(lines, UpgradeRoad(op="upgrade_road", way_ids=chosen,
                                            set_surface="asphalt"))  # fmt: skip
    faster = _base_node_times(paved, target, mode)
    assert np.all(faster <= base * (1 + 1e-9) + 1e-9)
    assert faster[_node_index(lines, target)] == 0.0
    # keep one way open: a network with every road closed is test_all_roads_closed_...
    shut = chosen if len(chosen) < lines.n_ways else chosen[1:]
    if shut:
        closed = close_road(lines, CloseRoad(op="close_road", way_ids=shut))
        slower = _base_node_times(closed, target, mode)
        assert np.all(slower >= base * (1 - 1e-9) - 1e-9)


# --- real data --------------------------------------------------------------------------------


@pytest.mark.realdata
def test_comoros_wet_season_and_no_ferries(comoros: Path) -> None:
    from reach.ingest.osm import read_osm_roads

    pbf = comoros / "comores-latest.osm.pbf"
    if not pbf.is_file():
        pytest.skip(f"{pbf} not found")
    lines = read_osm_roads(pbf)
    wet = Season(op="season", name="wet", share_of_year=0.4,
                 surface_multipliers={"unpaved": 0.5},
                 tracktype_multipliers={"grade3": 0.5, "grade4": 0.5, "grade5": 0.5},
                 close_fords=True)  # fmt: skip
    out = apply_season(lines, wet)
    assert out.speed_factor is not None and out.closed is not None
    assert out.closed.sum() == 1  # the one ford=yes way (nothing has a multiplier of 0)
    slowed = int((out.speed_factor < 1).sum())
    share = slowed / lines.n_ways
    # 4381 ways: 93 tagged unpaved, untagged tracks / paths / unclassified roads, grade3-5
    # tracks; mostly untagged residential streets are left alone
    print(f"Comoros wet season: {slowed} of {lines.n_ways} ways slowed ({share:.1%})")
    assert 0.05 < share < 0.25
    assert np.all(out.speed_factor[out.tags["surface"].to_numpy() == "asphalt"] == 1.0)
    assert np.all(out.speed_factor[out.tags["surface"].to_numpy() == "unpaved"] == 0.5)
    assert np.all(out.speed_factor[lines.is_ferry()] == 1.0)

    ferries = lines.is_ferry()
    assert ferries.sum() == 3
    no_boats = suspend_ferry(lines, SuspendFerry(op="suspend_ferry", all=True))
    assert no_boats.closed is not None
    np.testing.assert_array_equal(no_boats.closed, ferries)
    grid = _grid(crs=WGS84, cell_m=500.0)
    walk = default_profile("walk")
    before = build_network(lines, grid, profile=walk, ferry_wait_min=60)
    after = build_network(no_boats, grid, profile=walk, ferry_wait_min=60)
    assert before.is_ferry.sum() > 0
    assert after.is_ferry.sum() == 0
