"""Exact zone shares: each cell belongs to each zone by the share of it inside the polygon."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import box

from reach.codes import REASON_REACHED
from reach.ingest.boundaries import read_zones
from reach.ingest.population import read_population
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID, coverage_table
from reach.model.grid import AnalysisGrid, grid_from_population
from reach.model.zones import ZoneShares, exact_zone_shares, zone_memberships, zone_shares
from reach.run.region import load_region
from reach.spec import load_scenario
from tests.helpers import write_tiny_region

CRS_M = CRS.from_epsg(32738)


def grid(rows: int, cols: int, *, cell: float = 100.0) -> AnalysisGrid:
    """A projected north-up grid of ``cell`` metre cells, its south-west corner at (0, 0)."""
    return AnalysisGrid(
        rows=rows,
        cols=cols,
        transform=Affine(cell, 0, 0, 0, -cell, rows * cell),
        crs=CRS_M,
        dx_m=np.full(rows, cell),
        dy_m=cell,
    )


def zones_of(*geoms: object, ids: list[str] | None = None) -> gpd.GeoDataFrame:
    ids = ids or [f"Z{k}" for k in range(len(geoms))]
    return gpd.GeoDataFrame({"zone_id": ids, "name": ids}, geometry=list(geoms), crs=CRS_M)


def table(shares: ZoneShares, people: np.ndarray, ids: list[str]) -> dict[str, float]:
    """Population per zone row (everybody reached in 1 minute)."""
    frame = coverage_table(
        people,
        shares,
        np.ones(people.size),
        np.full(people.size, REASON_REACHED, dtype=np.uint8),
        zone_ids=ids,
        zone_names=ids,
        service="s",
        thresholds_min=[30],
    )
    return dict(zip(frame["zone_id"], frame["population"], strict=True))


def test_cell_split_between_two_zones_halves_its_people() -> None:
    g = grid(1, 1)
    z = zones_of(box(0, 0, 50, 100), box(50, 0, 100, 100))
    shares = exact_zone_shares(z, g)
    rows = table(shares, np.array([[80.0]]), ["Z0", "Z1"])
    assert rows["Z0"] == pytest.approx(40.0)
    assert rows["Z1"] == pytest.approx(40.0)
    assert rows[OUTSIDE_ZONES_ID] == pytest.approx(0.0, abs=1e-9)
    assert rows[ALL_ZONES_ID] == pytest.approx(80.0)


def test_coastal_cell_puts_the_rest_outside() -> None:
    g = grid(2, 2)
    # zone covers the left column and half of the right column's top cell
    z = zones_of(box(0, 0, 100, 200).union(box(100, 100, 150, 200)))
    shares = exact_zone_shares(z, g)
    people = np.array([[10.0, 20.0], [30.0, 40.0]])
    rows = table(shares, people, ["Z0"])
    assert rows["Z0"] == pytest.approx(10 + 30 + 10)
    assert rows[OUTSIDE_ZONES_ID] == pytest.approx(10 + 40)
    assert rows[ALL_ZONES_ID] == pytest.approx(people.sum())
    # the cell is drawn outside when no zone holds more of it than the outside does
    assert shares.zone.tolist() == [[1, 1], [1, 0]]


def test_totals_conserved_on_a_random_grid() -> None:
    rng = np.random.default_rng(7)
    g = grid(30, 40)
    z = zones_of(
        box(130, 170, 1710, 2260),
        box(1710, 170, 3333, 2260).difference(box(2000, 500, 2400, 900)),
        box(2050, 550, 2350, 850),
    )
    people = rng.gamma(1.0, 20.0, size=g.shape)
    shares = exact_zone_shares(z, g)
    rows = table(shares, people, ["Z0", "Z1", "Z2"])
    inside = sum(rows[k] for k in ("Z0", "Z1", "Z2"))
    assert inside + rows[OUTSIDE_ZONES_ID] == pytest.approx(people.sum(), rel=1e-12)
    assert rows[ALL_ZONES_ID] == pytest.approx(people.sum(), rel=1e-12)
    # per cell the weights add up to 1
    m = zone_memberships(shares, 3)
    per_cell = np.bincount(m.item, weights=m.weight, minlength=g.n_cells)
    np.testing.assert_allclose(per_cell, 1.0, rtol=0, atol=1e-12)
    # the sparse table holds only the boundary cells
    assert 0 < shares.n_shared < g.n_cells // 4


def test_zone_smaller_than_a_cell_gets_its_share() -> None:
    g = grid(3, 3)
    tiny = box(120, 120, 140, 150)  # 20 m × 30 m inside the centre cell, away from its centre
    shares = exact_zone_shares(zones_of(tiny), g)
    people = np.full(g.shape, 100.0)
    rows = table(shares, people, ["Z0"])
    assert rows["Z0"] == pytest.approx(100.0 * 600 / 10_000)
    assert rows[OUTSIDE_ZONES_ID] == pytest.approx(900 - 6.0)
    # by centre the zone would get nobody
    centre = zone_shares(zones_of(tiny), g, membership="centre")
    assert table(centre, people, ["Z0"])["Z0"] == 0.0


def test_row_order_of_the_zone_file_does_not_change_results() -> None:
    g = grid(8, 8)
    geoms = [box(0, 0, 333, 800), box(333, 0, 800, 410), box(333, 410, 777, 800)]
    people = np.arange(64, dtype=np.float64).reshape(8, 8)
    ids = ["A", "B", "C"]
    forward = table(exact_zone_shares(zones_of(*geoms, ids=ids), g), people, ids)
    back_ids = ids[::-1]
    backward = table(exact_zone_shares(zones_of(*geoms[::-1], ids=back_ids), g), people, back_ids)
    for k in [*ids, OUTSIDE_ZONES_ID, ALL_ZONES_ID]:
        assert forward[k] == pytest.approx(backward[k], rel=1e-12, abs=1e-12)


def test_overlapping_zones_never_count_anybody_twice() -> None:
    g = grid(1, 2)
    z = zones_of(box(0, 0, 150, 100), box(50, 0, 200, 100))
    rows = table(exact_zone_shares(z, g), np.array([[100.0, 100.0]]), ["Z0", "Z1"])
    assert rows["Z0"] + rows["Z1"] + rows[OUTSIDE_ZONES_ID] == pytest.approx(200.0)
    assert rows[OUTSIDE_ZONES_ID] == pytest.approx(0.0, abs=1e-9)


def test_tiny_region_end_to_end(tmp_path: Path) -> None:
    """The tiny region's zones meet on a cell edge: exact shares equal the centre rule there,
    and the run's coverage still adds up to the raster total."""
    from reach.run.evaluate import evaluate

    scn = load_scenario(write_tiny_region(tmp_path / "tiny"))
    region = load_region(scn)
    assert region.zone_shares is not None
    base = evaluate(region)
    cov = base.services["health"].coverage
    total = float(cov.loc[cov["zone_id"] == ALL_ZONES_ID, "population"].iloc[0])
    assert total == pytest.approx(region.raster_total, rel=1e-9)
    by_zone = dict(zip(cov["zone_id"], cov["population"], strict=True))
    assert by_zone["W"] + by_zone["E"] + by_zone[OUTSIDE_ZONES_ID] == pytest.approx(total)
    # with the centre rule the same region gives the same rows up to the shared cells
    centre = zone_shares(region.zones, region.grid, membership="centre")
    people = region.population.people
    exact_rows = table(region.zone_shares, people, ["W", "E"])
    centre_rows = table(centre, people, ["W", "E"])
    for k in exact_rows:
        assert exact_rows[k] == pytest.approx(centre_rows[k], abs=1e-6 * total)


def test_centre_switch_in_the_scenario(tmp_path: Path) -> None:
    path = write_tiny_region(tmp_path / "tiny")
    text = path.read_text()
    path.write_text(
        text.replace('name_column = "name"\n', 'name_column = "name"\nmembership = "centre"\n')
    )
    region = load_region(load_scenario(path))
    assert region.zone_shares is not None and region.zone_shares.cells.size == 0


# --- real data --------------------------------------------------------------------------------


@pytest.mark.realdata
def test_comoros_outside_zones_drops(comoros: Path) -> None:
    """By centre 24,196 people fall outside the islands' polygons; by exact share 24,083.

    Few of them are in cells wholly outside (about 700): most live in coastal cells that GADM's
    generalised coastline leaves partly in the sea, and the sea part of such a cell is outside.
    """
    pop = read_population(comoros / "com_ppp_2020_UNadj.tif")
    g = grid_from_population(pop)
    zones = read_zones(comoros / "admin_gadm_adm1.gpkg", id_column="GID_1", name_column="NAME_1")
    people = np.asarray(pop.people, dtype=np.float64).ravel()
    keep = np.flatnonzero(people > 0)

    def outside(shares: ZoneShares) -> float:
        m = zone_memberships(shares, len(zones), keep)
        return float(m.sums(people[keep], len(zones) + 1)[-1])

    by_centre = outside(zone_shares(zones, g, membership="centre"))
    exact = outside(zone_shares(zones, g))
    assert by_centre == pytest.approx(24_195.94, abs=1.0)
    assert exact == pytest.approx(EXACT_COMOROS_OUTSIDE, abs=1.0)


#: People outside the Comoros GADM polygons by exact cell shares (WorldPop 2020, UN-adjusted).
EXACT_COMOROS_OUTSIDE = 24_083.29
