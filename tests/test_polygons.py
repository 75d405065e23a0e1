"""The polygons and lines of a run a GIS user opens: catchments, isochrones, each mode's
friction raster and routable network — each checked against the arrays the search used."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS

from reach import schema
from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.grid import AnalysisGrid
from reach.outputs.polygons import cell_polygons
from reach.results import Evaluation, RunResult
from reach.run.scenario_set import run_scenario
from reach.run.session import region_session
from reach.spec import load_scenario
from tests.helpers import output_hashes, write_tiny_set

#: The tiny region's road, a named one-way street joined to it, and a ferry off its east end.
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="reach-tests">
  <node id="1" lat="-9.0205" lon="120.0015"/>
  <node id="2" lat="-9.0205" lon="120.0200"/>
  <node id="3" lat="-9.0205" lon="120.0385"/>
  <node id="4" lat="-9.0305" lon="120.0015"/>
  <node id="5" lat="-9.0305" lon="120.0200"/>
  <node id="6" lat="-9.0355" lon="120.0385"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="secondary"/></way>
  <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="yes"/><tag k="name" v="Jalan Satu"/></way>
  <way id="12"><nd ref="2"/><nd ref="5"/><tag k="highway" v="tertiary"/></way>
  <way id="13"><nd ref="3"/><nd ref="6"/><tag k="route" v="ferry"/></way>
</osm>
"""

#: A second service on foot, for the children: another mode and a target share.
WALK_SERVICE = """
[[services]]
name = "health_walk"
kind = "health"
mode = "walk"
thresholds_min = [10, 20]
target_share = 0.4
facilities = { path = "clinics.csv", id_column = "facility_id", tier_column = "tier" }
"""

LAYER_FILES = ("catchments.gpkg", "isochrones.gpkg", "network.gpkg")


def _scenario(folder: Path) -> Path:
    scenario = write_tiny_set(folder)
    (folder / "roads.osm").write_text(OSM)
    text = scenario.read_text().replace("[outputs]", WALK_SERVICE + "\n[outputs]")
    scenario.write_text(text.replace('folder = "out"', 'folder = "out"\nmaps = false'))
    return scenario


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """The tiny set with a one-way street, a ferry and a walking service, run and written."""
    folder = tmp_path_factory.mktemp("polygons")
    scn = load_scenario(_scenario(folder))
    run = run_scenario(scn)
    return run, scn.resolve(scn.outputs.folder)


def _rasterized(geom: shapely.Geometry, grid: AnalysisGrid) -> np.ndarray:
    return rasterio.features.rasterize(
        [(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8"
    ).astype(bool)


def _evaluations(run: RunResult, out: Path) -> list[tuple[Path, Evaluation]]:
    return [(out, run.baseline)] + [
        (out / "alternatives" / name, ev) for name, ev in run.alternatives.items()
    ]


def test_the_layers_are_there_with_the_schemas_columns(ran: tuple[RunResult, Path]) -> None:
    run, out = ran
    services = list(run.baseline.services)
    for path, _ in _evaluations(run, out):
        for name, table in (
            ("catchments.gpkg", schema.CATCHMENTS_LAYER),
            ("isochrones.gpkg", schema.ISOCHRONES_LAYER),
        ):
            assert [str(x) for x, _ in pyogrio.list_layers(path / name)] == services
            for svc in services:
                info = pyogrio.read_info(path / name, layer=svc)
                assert CRS.from_user_input(info["crs"]) == CRS.from_epsg(4326)
                assert info["geometry_type"] == "MultiPolygon"
                th = run.scenario.services[services.index(svc)].thresholds_min
                assert [*info["fields"], "geometry"] == table.columns(th), (path, name)
    layers = pyogrio.list_layers(out / "network.gpkg")
    assert [str(x) for x, _ in layers] == ["motorbike", "walk"]
    for mode in ("motorbike", "walk"):
        info = pyogrio.read_info(out / "network.gpkg", layer=mode)
        assert info["geometry_type"] == "MultiLineString"
        assert [*info["fields"], "geometry"] == schema.NETWORK_LAYER.columns()
    # the friction and the network are the baseline's only
    assert not (out / "alternatives" / "pave" / "network.gpkg").exists()
    assert {p.name for p in out.glob("friction_*")} == {
        f"friction_{mode}.{ext}" for mode in ("motorbike", "walk") for ext in ("tif", "qml")
    }


def test_catchments_cover_exactly_their_cells_and_conserve_people(
    ran: tuple[RunResult, Path],
) -> None:
    run, out = ran
    grid, people = run.region.grid, run.region.population.people.ravel()
    checked = 0
    for path, ev in _evaluations(run, out):
        for name, res in ev.services.items():
            layer = gpd.read_file(path / "catchments.gpkg", layer=name)
            lab = res.search.facility
            assert shapely.is_valid(layer.geometry.values).all()
            assert layer["facility"].is_monotonic_increasing
            assert set(layer["facility"]) == set(np.unique(lab[lab >= 0]).tolist())
            for k, geom in zip(layer["facility"], layer.geometry, strict=True):
                assert np.array_equal(_rasterized(geom, grid).ravel(), lab == k), (path, name, k)
            reached = people[lab >= 0].sum() * res.spec.target_share
            assert layer["catchment_population"].sum() == pytest.approx(reached, rel=1e-12)
            table = res.facility_table.iloc[layer["facility"]]
            for col in ("facility_id", "name", "tier"):
                assert layer[col].tolist() == table[col].astype(str).tolist()
            top = max(res.spec.thresholds_min)
            within = schema.catchment_within_col(top)
            assert np.allclose(layer[within], table[within], rtol=1e-12)
            assert np.array_equal(layer["cells"], np.bincount(lab[lab >= 0])[layer["facility"]])
            if res.access.walk_time_min is None:  # everyone rides: coverage's own people
                cov = res.coverage.set_index("zone_id").loc[ALL_ZONES_ID]
                for th in res.spec.thresholds_min:
                    got = layer[schema.catchment_within_col(th)].sum()
                    assert got == pytest.approx(cov[schema.within_col(th)], rel=1e-9)
            checked += 1
    assert checked == len(run.baseline.services) * (1 + len(run.alternatives))


def test_isochrones_are_the_cells_within_and_hold_coverages_people(
    ran: tuple[RunResult, Path],
) -> None:
    run, out = ran
    grid, people = run.region.grid, run.region.population.people.ravel()
    for path, ev in _evaluations(run, out):
        coverage = pd.read_csv(path / "coverage.csv", dtype={"zone_id": str})
        for name, res in ev.services.items():
            layer = gpd.read_file(path / "isochrones.gpkg", layer=name)
            assert layer["threshold_min"].tolist() == sorted(res.spec.thresholds_min, reverse=True)
            assert shapely.is_valid(layer.geometry.values).all()
            row = coverage[(coverage["service"] == name) & (coverage["zone_id"] == ALL_ZONES_ID)]
            for th, got, geom in zip(
                layer["threshold_min"], layer["population_within"], layer.geometry, strict=True
            ):
                # coverage.csv rounds to 3 decimals
                assert got == pytest.approx(row[schema.within_col(th)].iloc[0], abs=1e-3)
                inside = _rasterized(geom, grid).ravel()
                assert np.array_equal(inside, res.search.time_min <= th), (path, name, th)
                if res.access.walk_time_min is None:
                    pop = people[inside].sum() * res.spec.target_share
                    assert got == pytest.approx(pop, rel=1e-9)
    # the few bikes: walkers count only where they make it on foot, inside the same area
    few = run.alternatives["few_bikes"].services["health"]
    assert few.access.walk_time_min is not None
    layer = gpd.read_file(out / "alternatives" / "few_bikes" / "isochrones.gpkg", layer="health")
    rode = gpd.read_file(out / "isochrones.gpkg", layer="health")
    assert (layer["population_within"] < rode["population_within"]).all()


def test_each_modes_friction_raster_is_the_searchs_pace_in_kph(
    ran: tuple[RunResult, Path],
) -> None:
    run, out = ran
    pace = run.region.friction.pace_min_per_m
    finite = np.isfinite(pace)
    for mode in ("motorbike", "walk"):
        with rasterio.open(out / f"friction_{mode}.tif") as ds:
            kph = ds.read(1)
            assert ds.units == ("km/h",)
            assert ds.crs == run.region.grid.crs and ds.transform == run.region.grid.transform
            assert ds.driver == "GTiff" and ds.profile["compress"] == "deflate"
        assert np.isnan(kph[~finite]).all()
        expected = (60.0 / (pace[finite] * 1000.0)).astype(np.float32)
        assert np.array_equal(kph[finite], expected)
        style = ET.fromstring((out / f"friction_{mode}.qml").read_text())
        items = style.findall(".//colorrampshader/item")
        assert items and all(i.get("label", "").endswith("km/h") for i in items)


def test_the_network_layer_is_the_networks_roads_without_the_spurs(
    ran: tuple[RunResult, Path],
) -> None:
    run, out = ran
    session = region_session(run.region)
    for mode in ("motorbike", "walk"):
        net = session.network(mode)
        road = (net.src < net.first_foot) & (net.dst < net.first_foot)
        assert (~road).any()  # the tiny region's cells join the roads by spurs
        layer = gpd.read_file(out / "network.gpkg", layer=mode)
        assert shapely.is_valid(layer.geometry.values).all()
        ways = 1 + (~layer["oneway"]).to_numpy()  # a two-way row stands for both directions
        assert int(layer["edges"].sum()) == int(road.sum())
        assert (layer["time_min"] * ways).sum() == pytest.approx(net.time_min[road].sum())
        assert (layer["length_m"] * ways).sum() == pytest.approx(net.length_m[road].sum())
        assert (layer["ferry_wait_min"] * ways).sum() == pytest.approx(net.wait_min[road].sum())
        by_way = layer.set_index("way_id")
        assert sorted(by_way.index) == ["10", "11", "12", "13"]
        ferry = by_way.loc["13"]
        assert bool(ferry["ferry"]) and ferry["road_class"] == "ferry"
        assert ferry["ferry_wait_min"] == run.scenario.ferries.headway_min / 2
        assert int(ferry["edges"]) == 2 and not ferry["oneway"]
        street = by_way.loc["11"]
        assert street["road_name"] == "Jalan Satu" and street["road_class"] == "residential"
        # motorbikes keep to the one-way street's direction, walkers go both ways
        assert bool(street["oneway"]) == (mode == "motorbike")
        if mode == "motorbike":
            (line,) = shapely.get_parts(street.geometry)
            start, end = shapely.get_coordinates(line)[[0, -1]]
            assert start[0] < end[0]  # west to east, the way's own direction
        assert by_way.loc["10", "speed_kph"] == pytest.approx(
            by_way.loc["10", "length_m"] / 1000 / (by_way.loc["10", "time_min"] / 60)
        )
        total_m = shapely.length(layer.to_crs(32750).geometry.values).sum()
        assert total_m == pytest.approx(layer["length_m"].sum(), rel=0.01)


def test_a_rerun_writes_the_same_bytes(ran: tuple[RunResult, Path], tmp_path: Path) -> None:
    run, out = ran
    again = tmp_path / "again"
    run_scenario(run.scenario, out_dir=again)
    first, second = output_hashes(out), output_hashes(again)
    new = [k for k in first if Path(k).name.startswith(("catchments", "isochrones", "network"))]
    new += [k for k in first if Path(k).name.startswith("friction_")]
    assert len(new) == 2 * (1 + len(run.alternatives)) + 1 + 4
    assert first == second


def test_the_switches_leave_them_out(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    text = scenario.read_text().replace(
        "maps = false", "maps = false\npolygons = false\nnetwork_layer = false\nrasters = false"
    )
    scenario.write_text(text)
    scn = load_scenario(scenario)
    run_scenario(scn)
    out = scn.resolve(scn.outputs.folder)
    names = {p.name for p in out.rglob("*")}
    assert not names & {*LAYER_FILES, "friction_walk.tif", "friction_motorbike.tif"}


def test_cell_polygons_keep_holes_and_corner_touching_patches_valid() -> None:
    """Patches meeting at a corner, a hole, a hole meeting the outside at a corner: each
    label one valid multipolygon, rasterising back to exactly its cells, on a UTM grid."""
    labels = np.full((8, 9), -1, dtype=np.int32)
    labels[0, 0] = labels[1, 1] = labels[0, 2] = 0  # three cells touching at corners
    labels[3:7, 1:5] = 1
    labels[4, 2] = -1  # a hole
    labels[2:6, 6:9] = 2
    labels[3, 7] = 3  # an island in a hole of label 2
    labels[5, 8] = -1  # a notch at the edge
    labels[6, 5] = 2  # a cell meeting label 2's patch at a corner only
    cell = 100.0
    grid = AnalysisGrid(
        rows=8, cols=9, transform=Affine(cell, 0, 500_000, 0, -cell, 9_000_000),
        crs=rasterio.crs.CRS.from_epsg(32750), dx_m=np.full(8, cell), dy_m=cell,
    )  # fmt: skip
    shapes = cell_polygons(labels, grid)
    assert sorted(shapes) == [0, 1, 2, 3]
    for k, geom in shapes.items():
        assert geom.is_valid and isinstance(geom, shapely.MultiPolygon)
        assert np.array_equal(_rasterized(geom, grid), labels == k), k
        assert geom.area == pytest.approx((labels == k).sum() * cell * cell)
    assert len(shapes[0].geoms) == 3
    assert len(shapes[1].geoms[0].interiors) == 1
    assert len(shapes[2].geoms) == 2 and len(shapes[3].geoms) == 1
    assert cell_polygons(np.full((8, 9), -1), grid) == {}
