"""Network building: one-way streets, densified nodes, ferries with a boarding wait."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio.crs
from affine import Affine
from pyproj import CRS

from reach.errors import InputError
from reach.ingest.roads import TAG_COLUMNS, RoadLines
from reach.model.grid import AnalysisGrid
from reach.model.network import build_network
from reach.model.speeds import default_profile


def _grid(cell_m: float = 100.0, n: int = 50) -> AnalysisGrid:
    return AnalysisGrid(
        rows=n, cols=n, transform=Affine(cell_m, 0, 0, 0, -cell_m, n * cell_m),
        crs=rasterio.crs.CRS.from_epsg(32750), dx_m=np.full(n, cell_m), dy_m=cell_m,
    )  # fmt: skip


def _lines(ways: list[tuple[list[tuple[float, float]], list[int], dict[str, str]]]) -> RoadLines:
    x, y, nid, offsets, rows = [], [], [], [0], []
    for pts, ids, tags in ways:
        x += [p[0] for p in pts]
        y += [p[1] for p in pts]
        nid += ids
        offsets.append(len(x))
        rows.append({c: tags.get(c) for c in TAG_COLUMNS})
    return RoadLines(
        way_id=np.arange(1, len(ways) + 1, dtype=np.int64), offsets=np.array(offsets, np.int64),
        x=np.array(x, float), y=np.array(y, float), node_id=np.array(nid, np.int64),
        tags=pd.DataFrame(rows, columns=list(TAG_COLUMNS), dtype=object), crs=CRS.from_epsg(32750),
    )  # fmt: skip


def test_oneway_and_densify() -> None:
    lines = _lines(
        [
            ([(0, 0), (1000, 0)], [1, 2], {"highway": "primary", "oneway": "yes"}),
            ([(1000, 0), (1000, 1000)], [2, 3], {"highway": "primary"}),
        ]
    )
    net = build_network(
        lines, _grid(), profile=default_profile("motorbike"), ferry_wait_min=0, road_joins=False
    )
    # 1 km cut into pieces of at most 50 m: 20 pieces one way + 20 pieces both ways
    assert net.n_edges == 20 + 40
    assert net.length_m.max() <= 50.0 + 1e-9
    speed = default_profile("motorbike").highway_kph["primary"]
    np.testing.assert_allclose(net.time_min.sum(), 3 * 1.0 / speed * 60)
    # the one-way street has no edge leaving node 2 (index 1) towards node 1
    assert not np.any((net.src == 1) & (net.x[net.dst] < 1000) & (net.y[net.dst] == 0))
    walk = build_network(
        lines, _grid(), profile=default_profile("walk"), ferry_wait_min=0, road_joins=False
    )
    assert walk.n_edges == 80


def test_ferry_is_one_edge_with_wait() -> None:
    lines = _lines(
        [
            ([(0, 0), (2500, 0), (5000, 0)], [1, 9, 2], {"route": "ferry", "duration": "01:00"}),
            ([(0, 100), (0, 0)], [5, 1], {"highway": "track"}),
        ]
    )
    net = build_network(lines, _grid(), profile=default_profile("walk"), ferry_wait_min=30)
    ferry = net.time_min[net.is_ferry]
    assert len(ferry) == 2
    np.testing.assert_allclose(ferry, [90.0, 90.0])
    np.testing.assert_allclose(net.length_m[net.is_ferry], [5000, 5000])


def test_reversed_csr_is_consistent() -> None:
    lines = _lines([([(0, 0), (300, 0), (300, 300)], [1, 2, 3], {"highway": "residential"})])
    net = build_network(lines, _grid(), profile=default_profile("car"), ferry_wait_min=0)
    assert net.rev_indptr[-1] == net.n_edges
    for j in range(net.n_nodes):
        assert (net.dst[net.rev_indptr[j] : net.rev_indptr[j + 1]] == j).all()


def test_empty_network_is_an_input_error() -> None:
    """A road file that gives no lines is refused; no road input at all is a walking region."""
    lines = dataclasses.replace(_lines([]), source=Path("roads.gpkg"))
    with pytest.raises(InputError, match="empty"):
        build_network(lines, _grid(), profile=default_profile("walk"), ferry_wait_min=0)
    walking = build_network(
        RoadLines.empty(CRS.from_epsg(32750)), _grid(),
        profile=default_profile("motorbike"), ferry_wait_min=0,
    )  # fmt: skip
    assert walking.n_nodes == 0
