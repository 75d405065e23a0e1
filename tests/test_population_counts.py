"""People counted per zone spread over a grid reach makes: every zone's count kept exactly."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from reach.errors import InputError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.model.counts import grid_over, nested_shares, spread_counts, utm_crs
from reach.model.zones import zone_memberships, zone_shares
from reach.run.region import load_region, read_region_inputs
from reach.schema import POPULATION_COUNTS
from reach.spec import load_scenario
from tests.helpers import (
    CENSUS_KAB,
    CENSUS_TABLE,
    LAT0,
    LON0,
    write_census_region,
)

UTM = "EPSG:32750"  # Sumba's UTM zone; every polygon below is in metres


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x1, y1)


def _zones(ids: list[str], boxes: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"zone_id": ids, "name": [f"zone {i}" for i in ids]}, geometry=boxes, crs=UTM
    )


def _per_zone(shares: object, people: np.ndarray, n: int) -> np.ndarray:
    rows = zone_memberships(shares, n)  # type: ignore[arg-type]
    return rows.sums(people.ravel(), n + 1)


def test_every_zone_holds_its_count_and_the_grid_the_total() -> None:
    # two kabupaten that do not line up with the 500 m cells, and a third along the coast
    zones = _zones(
        ["53.11", "53.12", "53.17"],
        [_box(500_130, 8_950_070, 503_420, 8_953_310), _box(503_420, 8_950_070, 505_960, 8_952_180),
         _box(505_960, 8_950_070, 506_240, 8_950_410)],
    )  # fmt: skip
    grid = grid_over(zones, cell_size_m=500)
    assert grid.crs.to_epsg() == 32750
    shares = zone_shares(zones, grid)
    counts = [277_290.0, 141_760.0, 92_138.0]
    spread = spread_counts(
        shares, counts, zone_ids=zones["zone_id"].tolist(), zone_names=zones["name"].tolist()
    )
    assert spread.total == pytest.approx(sum(counts), rel=1e-12)
    assert spread.table["people_placed"].tolist() == pytest.approx(counts, rel=1e-12)
    # reported by the same zones through the cells' origin: exact, nobody outside
    got = _per_zone(spread.origin, spread.people, 3)
    assert got[:3] == pytest.approx(counts, rel=1e-12)
    assert got[3] == pytest.approx(0.0, abs=1e-6)
    # evenly over land: the people per square metre are the same in every whole cell of a zone
    inside = shares.zone.ravel() == 1
    inside[shares.cells] = False  # cells a boundary crosses hold a part of a cell
    whole = spread.people.ravel()[inside]
    assert whole.size > 10
    assert whole.max() == pytest.approx(whole.min(), rel=1e-9)


def test_weights_place_people_where_the_weight_layer_says() -> None:
    zones = _zones(["A", "B"], [_box(0, 0, 4000, 2000), _box(4000, 0, 8000, 2000)])
    zones = zones.set_crs(UTM, allow_override=True)
    grid = grid_over(zones, cell_size_m=1000, crs=UTM)
    weights = np.zeros(grid.shape)
    row, col = 2, 2  # one settled cell in A (the grid has an empty cell around the zones)
    weights[row, col] = 5.0
    spread = spread_counts(
        zone_shares(zones, grid), [1000.0, 300.0], zone_ids=["A", "B"], zone_names=["A", "B"],
        weights=weights, weight_name="the settlement layer",
    )  # fmt: skip
    assert spread.people[row, col] == pytest.approx(1000.0)
    # B has no weight at all: spread evenly, and the audit says so
    assert spread.table.set_index("zone_id").loc["B", "spread"] == "even"
    (finding,) = spread.findings
    assert finding.check == "population_spread_even" and finding.subject_id == "B"
    assert "the settlement layer" in finding.message
    assert spread.total == pytest.approx(1300.0)


def test_a_zone_smaller_than_its_share_of_any_cell_goes_to_its_cell() -> None:
    zones = _zones(["big", "dot"], [_box(0, 0, 3000, 3000), _box(1200, 1200, 1200.0001, 1200.0001)])
    grid = grid_over(zones, cell_size_m=1000)
    shares = zone_shares(zones, grid)
    point = zones.to_crs(grid.crs).geometry.representative_point()
    fallback = grid.cell_of(point.x.to_numpy(), point.y.to_numpy())
    spread = spread_counts(
        shares, [900.0, 15.0], zone_ids=["big", "dot"], zone_names=["big", "dot"],
        fallback_cells=fallback,
    )  # fmt: skip
    assert spread.total == pytest.approx(915.0)
    assert spread.table["people_placed"].tolist() == pytest.approx([900.0, 15.0])


def test_smaller_zones_nested_by_code_report_the_people_counted_in_them() -> None:
    # a kabupaten counted, its two kecamatan reported; the kecamatan polygons stop short of the
    # kabupaten's coast (simplified differently), which must not put people "outside"
    kab = _zones(["53.11"], [_box(0, 0, 4000, 2000)])
    kec = _zones(["53.11.01", "53.11.02"], [_box(0, 0, 2000, 1800), _box(2000, 0, 3900, 1800)])
    grid = grid_over(kab, cell_size_m=500)
    spread = spread_counts(
        zone_shares(kab, grid), [10_000.0], zone_ids=["53.11"], zone_names=["Sumba Timur"]
    )
    geometric = zone_shares(kec, grid)
    plain = _per_zone(geometric, spread.people, 2)
    assert plain[2] > 500  # by area alone, the coastal strip's people fall outside the kecamatan
    nested = nested_shares(
        spread.origin, spread.people, origin_ids=["53.11"], level=geometric,
        level_ids=["53.11.01", "53.11.02"],
    )  # fmt: skip
    assert nested is not None
    got = _per_zone(nested, spread.people, 2)
    assert got[:2].sum() == pytest.approx(10_000.0, rel=1e-12)
    assert got[2] == pytest.approx(0.0, abs=1e-6)
    # the split follows the kabupaten's land: the second kecamatan takes the coastal strip
    # beside it, so both hold 2000 m of the evenly settled kabupaten
    assert got[0] / got[1] == pytest.approx(1.0, rel=1e-3)  # single-precision shares
    # a strip of the kabupaten no kecamatan covers at all goes to the nearest kecamatan of it
    short = _zones(["53.11.01", "53.11.02"], [_box(0, 0, 2000, 2000), _box(2000, 0, 3000, 2000)])
    short_shares = zone_shares(short, grid)
    kept = nested_shares(
        spread.origin, spread.people, origin_ids=["53.11"], level=short_shares,
        level_ids=["53.11.01", "53.11.02"],
    )  # fmt: skip
    assert kept is not None and _per_zone(kept, spread.people, 2)[2] > 2000  # no polygons given
    near = nested_shares(
        spread.origin, spread.people, origin_ids=["53.11"], level=short_shares,
        level_ids=["53.11.01", "53.11.02"], geometry=short.geometry, grid=grid,
    )  # fmt: skip
    assert near is not None
    got = _per_zone(near, spread.people, 2)
    assert got[2] == pytest.approx(0.0, abs=1e-6)
    assert got[1] == pytest.approx(5000.0, rel=1e-3)  # its 1000 m and the 1000 m strip beyond
    # zones whose codes do not begin with a counted code do not nest
    other = nested_shares(
        spread.origin, spread.people, origin_ids=["53.11"], level=geometric,
        level_ids=["A", "B"],
    )  # fmt: skip
    assert other is None


def test_utm_zone_of_a_point() -> None:
    assert utm_crs(120.0, -9.6).to_epsg() == 32751
    assert utm_crs(119.9, -9.6).to_epsg() == 32750
    assert utm_crs(43.3, -11.7).to_epsg() == 32738


# --- a whole scenario from a census table ----------------------------------------------------


def test_a_census_table_with_thousands_dots_runs_and_every_total_is_kept(tmp_path: Path) -> None:
    scn = load_scenario(write_census_region(tmp_path / "r", table=CENSUS_TABLE))
    region = load_region(scn)
    assert region.population_total == pytest.approx(277_290 + 141_760)
    counts = region.population_counts
    assert counts is not None
    assert counts.table.attrs["ignored_rows"] == ["53", "53.07"]  # the province and Sikka
    from reach.run.evaluate import evaluate

    ev = evaluate(region)
    cov = ev.coverage.set_index("zone_id")
    assert cov.loc["53.11.01", "population"] + cov.loc["53.11.02", "population"] == pytest.approx(
        277_290, rel=1e-9
    )
    assert cov.loc["53.12.01", "population"] + cov.loc["53.12.02", "population"] == pytest.approx(
        141_760, rel=1e-9
    )
    assert cov.loc[OUTSIDE_ZONES_ID, "population"] == pytest.approx(0.0, abs=1e-6)
    assert cov.loc[ALL_ZONES_ID, "population"] == pytest.approx(419_050, rel=1e-12)


def test_weights_from_points_and_from_a_raster(tmp_path: Path) -> None:
    folder = tmp_path / "pts"
    scenario = write_census_region(
        folder, table=CENSUS_TABLE, weights='weights = { path = "rumah.geojson" }'
    )
    points = [[119.93, -9.62], [120.02, -9.62]]
    houses = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": p}}
            for p in points
        ],
    }
    (folder / "rumah.geojson").write_text(json.dumps(houses))
    inputs = read_region_inputs(load_scenario(scenario))
    people = inputs.population.people
    assert np.count_nonzero(people) == 2  # each kabupaten's people in its one house cell
    assert sorted(people[people > 0].tolist()) == pytest.approx([141_760, 277_290])
    # the kecamatan the houses miss hold nobody: an artefact of the weights, said as such
    empty = [f for f in inputs.findings if f.check == "population_zone_empty"]
    assert sorted(f.subject_id for f in empty) == ["53.11.02", "53.12.02"]
    assert "weight layer that puts nobody there" in empty[0].message

    folder = tmp_path / "ras"
    scenario = write_census_region(
        folder, table=CENSUS_TABLE,
        weights='weights = { path = "landcover.tif", class_weights = { "50" = 1.0 } }',
    )  # fmt: skip
    classes = np.full((20, 60), 10, dtype=np.uint8)
    classes[5:8, 5:8] = 50  # built-up in Sumba Timur only
    with rasterio.open(
        folder / "landcover.tif", "w", driver="GTiff", height=20, width=60, count=1,
        dtype="uint8", crs="EPSG:4326", transform=Affine(0.005, 0, LON0, 0, -0.005, LAT0),
    ) as dst:  # fmt: skip
        dst.write(classes, 1)
    inputs = read_region_inputs(load_scenario(scenario))
    spread = inputs.population_counts
    assert spread is not None
    how = spread.table.set_index("zone_id")["spread"]
    assert how["53.11"] == "weights" and how["53.12"] == "even"
    assert [f.check for f in spread.findings] == ["population_spread_even"]
    assert inputs.population.total == pytest.approx(419_050)


def test_a_counts_table_missing_a_zone_is_refused_in_one_line(tmp_path: Path) -> None:
    scenario = write_census_region(tmp_path / "r", table="kode;jumlah\n53.11;277.290\n")
    with pytest.raises(InputError) as err:
        read_region_inputs(load_scenario(scenario))
    text = str(err.value)
    assert "no total for zone '53.12'" in text and "penduduk.csv" in text


def test_a_boundaries_filter_keeps_one_kabupaten_by_name_or_code(tmp_path: Path) -> None:
    scenario = write_census_region(tmp_path / "r", table=CENSUS_TABLE)
    text = scenario.read_text()
    by_name = text.replace(
        'name_column = "nama"\n[region.population_counts]',
        'name_column = "nama"\nwhere = { kode = ["53.11.*"] }\n[region.population_counts]',
    )
    scenario.write_text(by_name)
    inputs = read_region_inputs(load_scenario(scenario))
    assert inputs.zones["zone_id"].tolist() == ["53.11.01", "53.11.02"]
    scenario.write_text(
        text.replace(f"where = {{ kode = {CENSUS_KAB} }}", 'where = { nama = ["Sumba Timor"] }')
    )
    with pytest.raises(InputError) as err:
        read_region_inputs(load_scenario(scenario))
    assert "keeps none of the 3 zones" in str(err.value)
    assert "Sumba Timur" in str(err.value)  # the values the column holds, to pick from


def test_a_national_raster_is_read_only_in_the_window_of_the_kabupaten(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    write_census_region(folder, table=CENSUS_TABLE)
    # a "national" raster 4° wide; the study area is a 0.2° piece of it
    people = np.full((400, 400), 2.0, dtype=np.float32)
    with rasterio.open(
        folder / "national.tif", "w", driver="GTiff", height=400, width=400, count=1,
        dtype="float32", crs="EPSG:4326", nodata=-99999,
        transform=Affine(0.01, 0, LON0 - 2, 0, -0.01, LAT0 + 2),
    ) as dst:  # fmt: skip
        dst.write(people, 1)
    (folder / "national.toml").write_text(
        """version = 1
[scenario]
name = "Window"
[region]
population = "national.tif"
[region.boundaries]
path = "kabupaten.geojson"
id_column = "kode"
where = { kode = ["53.11"] }
[[services]]
name = "health"
kind = "health"
facilities = { path = "puskesmas.csv", name_column = "nama" }
"""
    )
    inputs = read_region_inputs(load_scenario(folder / "national.toml"))
    rows, cols = inputs.population.people.shape
    assert rows * cols < 400  # a window of the 160,000 cells (plus the resampling margin)
    assert inputs.zones["zone_id"].tolist() == ["53.11"]


def test_population_counts_need_polygons_and_exclude_a_raster(tmp_path: Path) -> None:
    from reach.errors import ScenarioError
    from reach.spec import parse_scenario

    base = """version = 1
[scenario]
name = "x"
[region]
{region}
[[services]]
name = "health"
kind = "health"
facilities = {{ path = "f.csv" }}
"""
    with pytest.raises(ScenarioError, match="missing key `population`"):
        parse_scenario(base.format(region=""), base_dir=tmp_path)
    counts = '[region.population_counts]\npath = "t.csv"\nzone_column = "k"\ntotal_column = "n"'
    both = 'population = "p.tif"\n' + counts
    with pytest.raises(ScenarioError, match="not both"):
        parse_scenario(base.format(region=both), base_dir=tmp_path)
    with pytest.raises(ScenarioError, match="needs `zones`"):
        parse_scenario(base.format(region=counts), base_dir=tmp_path)


def test_the_spread_table_is_written_beside_the_coverage(tmp_path: Path) -> None:
    from reach.run.scenario_set import run_scenario

    scenario = write_census_region(tmp_path / "r", table=CENSUS_TABLE)
    run_scenario(load_scenario(scenario), maps=False)
    out = tmp_path / "r" / "out"
    table = pd.read_csv(out / "population_counts.csv", dtype={"zone_id": str})
    assert list(table.columns) == POPULATION_COUNTS.columns()
    assert table["zone_id"].tolist() == ["53.11", "53.12"]
    assert table["people_placed"].tolist() == pytest.approx([277_290, 141_760])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["population"]["counts"]["rows_left_out"] == ["53", "53.07"]


def test_the_report_says_the_people_are_spread_counts(tmp_path: Path) -> None:
    from reach.run.scenario_set import run_scenario

    scenario = write_census_region(tmp_path / "r", table=CENSUS_TABLE)
    text = scenario.read_text().replace(
        'folder = "out"', 'folder = "out"\nreports = ["en"]\nreport_pdf = false'
    )
    scenario.write_text(text)
    run_scenario(load_scenario(scenario))
    html = (tmp_path / "r" / "out" / "report_en.html").read_text()
    assert "There is no population raster: the people of penduduk.csv" in html
    assert "evenly over each zone&#39;s land" in html or "evenly over each zone's land" in html
    assert "Population comes from counts for 2 zones" in html
    assert "modelled raster" not in html  # the raster caveat is not the one that applies
    assert "the population counts&#39; total" in html or "the population counts' total" in html
