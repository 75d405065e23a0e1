"""Candidate sites: ranked by underserved people around them, spaced apart, inside the mask."""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import CRS

from reach.model.grid import AnalysisGrid
from reach.scenarios.candidates import underserved_sites


def _grid(rows: int = 60, cols: int = 60) -> AnalysisGrid:
    return AnalysisGrid(
        rows=rows, cols=cols, transform=Affine(100.0, 0, 500_000, 0, -100.0, 9_000_000),
        crs=CRS.from_epsg(32750), dx_m=np.full(rows, 100.0), dy_m=100.0,
    )  # fmt: skip


def test_sites_go_where_underserved_people_cluster() -> None:
    grid = _grid()
    people = np.zeros(grid.shape)
    people[10, 10] = 900.0  # a big village far away
    people[40, 45] = 500.0  # a smaller one, also far
    people[30, 30] = 5000.0  # a town next to the clinic: served
    time = np.full(grid.shape, 90.0)
    time[30, 30] = 5.0
    sites = underserved_sites(people, time, grid, beyond_min=60, n_sites=5, radius_m=500)
    assert sites["cell"].tolist()[:2] == [10 * 60 + 10, 40 * 60 + 45]
    assert sites["underserved_people"].tolist()[:2] == [900.0, 500.0]
    assert len(sites) == 2  # nothing else has underserved people around it
    assert sites["lon"].between(100, 130).all() and sites["lat"].between(-10, 0).all()


def test_unreached_people_count_and_sites_respect_mask_and_spacing() -> None:
    grid = _grid()
    people = np.zeros(grid.shape)
    people[20, 10:14] = 100.0
    time = np.full(grid.shape, np.inf)
    allowed = np.ones(grid.shape, dtype=bool)
    allowed[:, :12] = False
    sites = underserved_sites(
        people, time, grid, beyond_min=60, n_sites=3, radius_m=300, allowed=allowed
    )
    cells = sites["cell"].to_numpy()
    rows, cols = np.divmod(cells, grid.cols)
    assert (cols >= 12).all()
    # no two sites closer than twice the radius (3 cells each way = 6 cells)
    for i in range(len(cells)):
        for j in range(i):
            assert (rows[i] - rows[j]) ** 2 + (cols[i] - cols[j]) ** 2 >= 36
