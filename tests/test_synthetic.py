"""Tests of the demo-region generator, :mod:`reach.demo`, and of ``reach demo --inputs-only``."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import rasterio
from rasterio.features import rasterize
from scipy import ndimage
from typer.testing import CliRunner

from reach.cli import app
from reach.demo import (
    DEFAULT_SIZE_CELLS,
    LANDCOVER_CLASSES,
    LANDCOVER_NODATA,
    POPULATION_NODATA,
    DemoFiles,
    demo_boundaries_geojson,
    generate_demo,
)
from reach.errors import EXIT_BAD_INPUT, InputError
from reach.outputs.folders import OUTPUT_MARKER

REPO = Path(__file__).resolve().parents[1]
COMMITTED_BOUNDARIES = REPO / "data" / "boundaries" / "demo_districts.geojson"
SMALL_CELLS = 60_000
runner = CliRunner()


@dataclass
class _Osm:
    """What pyosmium reads from the roads file."""

    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: list[tuple[int, dict[str, str], list[int]]] = field(default_factory=list)


class _Reader(osmium.SimpleHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.osm = _Osm()

    def node(self, n: osmium.osm.Node) -> None:
        self.osm.nodes[n.id] = (n.location.lon, n.location.lat)

    def way(self, w: osmium.osm.Way) -> None:
        self.osm.ways.append((w.id, dict(w.tags), [nd.ref for nd in w.nodes]))


def _read_osm(path: Path) -> _Osm:
    reader = _Reader()
    reader.apply_file(str(path))
    return reader.osm


@dataclass
class _Grids:
    population: np.ndarray
    dem_m: np.ndarray
    landcover: np.ndarray
    transform: rasterio.Affine
    islands: np.ndarray  # labels of land (elevation > 0)


def _read_grids(demo: DemoFiles) -> _Grids:
    with rasterio.open(demo.population_tif) as ds:
        population = ds.read(1)
        transform = ds.transform
    with rasterio.open(demo.dem_tif) as ds:
        dem_m = ds.read(1)
    with rasterio.open(demo.landcover_tif) as ds:
        landcover = ds.read(1)
    islands, _ = ndimage.label(dem_m > 0)
    return _Grids(population, dem_m, landcover, transform, islands)


def _cells(grids: _Grids, lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = ~grids.transform @ (lonlat[:, 0], lonlat[:, 1])
    return np.floor(rows).astype(int), np.floor(cols).astype(int)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo_small"), size_cells=SMALL_CELLS)


@pytest.fixture(scope="module")
def grids(small: DemoFiles) -> _Grids:
    return _read_grids(small)


@pytest.fixture(scope="module")
def osm(small: DemoFiles) -> _Osm:
    return _read_osm(small.roads_osm)


def test_files_exist_and_share_one_grid(small: DemoFiles) -> None:
    for path in (
        small.roads_osm,
        small.population_tif,
        small.dem_tif,
        small.landcover_tif,
        small.facilities_geojson,
        small.boundaries_geojson,
    ):
        assert path.is_file() and path.parent == small.folder
    profiles = []
    for path, dtype, nodata in (
        (small.population_tif, "float32", POPULATION_NODATA),
        (small.dem_tif, "float32", None),
        (small.landcover_tif, "uint8", LANDCOVER_NODATA),
    ):
        with rasterio.open(path) as ds:
            assert ds.dtypes[0] == dtype
            assert ds.nodata == nodata
            assert ds.crs.to_epsg() == 4326
            assert ds.res == pytest.approx((1 / 1200, 1 / 1200))
            profiles.append((ds.width, ds.height, ds.transform))
            bounds = ds.bounds
    assert len(set(profiles)) == 1
    width, height, _ = profiles[0]
    assert small.size_cells == width * height
    assert abs(small.size_cells - SMALL_CELLS) < 1000
    # Fictitious open sea in eastern Indonesia.
    assert 121 < bounds.left < bounds.right < 126
    assert -13 < bounds.bottom < bounds.top < -8


def test_population_total_is_exact_and_nodata_only_over_sea(
    small: DemoFiles, grids: _Grids
) -> None:
    pop = grids.population
    valid = pop != POPULATION_NODATA
    assert np.sum(pop[valid], dtype=np.float64) == small.population_total
    sea = grids.landcover == 6
    np.testing.assert_array_equal(~valid, sea)
    np.testing.assert_array_equal(sea, grids.dem_m <= 0)
    assert pop[valid].min() >= 0
    assert pop[grids.landcover == 5].max(initial=0.0) == 0.0  # nobody lives on the lake
    land_km2 = valid.sum() * (0.0926 * 0.091)
    assert 80 < small.population_total / land_km2 < 160


def test_landcover_classes(grids: _Grids) -> None:
    assert set(LANDCOVER_CLASSES) == {1, 2, 3, 4, 5, 6}
    present = set(np.unique(grids.landcover).tolist())
    assert present == set(LANDCOVER_CLASSES)  # built-up, fields, shrub, forest, a lake, sea


def test_terrain_has_islands_a_volcano_and_a_lake(grids: _Grids) -> None:
    sizes = np.bincount(grids.islands.ravel())[1:]
    assert (sizes > 100).sum() >= 2
    assert 1000 < grids.dem_m.max() < 2200
    lakes, n_lakes = ndimage.label(grids.landcover == 5)
    assert n_lakes >= 1
    # Lakes are inland: no lake cell touches the sea.
    near_sea = ndimage.binary_dilation(grids.landcover == 6)
    assert not np.any(near_sea & (lakes > 0))


def test_osm_file_is_well_formed(small: DemoFiles, osm: _Osm) -> None:
    text = small.roads_osm.read_text(encoding="utf-8")
    assert '<osm version="0.6" generator="reach-synthetic">' in text
    assert text.rindex("<node ") < text.index("<way ")
    ids = [int(i) for i in re.findall(r'<node id="(\d+)"', text)]
    assert len(ids) == len(set(ids)) and min(ids) > 0
    way_ids = [w[0] for w in osm.ways]
    assert len(way_ids) == len(set(way_ids)) and min(way_ids) > 0
    refs = {r for _, _, nodes in osm.ways for r in nodes}
    assert refs <= set(osm.nodes)
    assert all(len(nodes) >= 2 for _, _, nodes in osm.ways)


def test_road_hierarchy_and_tags(osm: _Osm) -> None:
    highways = Counter(tags["highway"] for _, tags, _ in osm.ways if "highway" in tags)
    # Every class; a small second island may lack the primary road to its biggest village
    # (the default size has all of them, see test_default_size).
    wanted = {"trunk", "secondary", "tertiary", "unclassified", "residential", "track"}
    assert wanted <= set(highways)
    assert highways.keys() & {"path", "footway"}
    for _, tags, _ in osm.ways:
        if tags.get("highway") == "track":
            assert tags["tracktype"] in {"grade2", "grade3", "grade4"}
            assert tags["surface"] in {"unpaved", "ground"}
        if tags.get("highway") in {"trunk", "primary", "secondary"}:
            assert tags["name"].startswith("Jalan ")
    oneway = [tags for _, tags, _ in osm.ways if tags.get("oneway") == "yes"]
    assert len(oneway) == 2
    assert any("maxspeed" in tags for _, tags, _ in osm.ways)


def test_road_nodes_are_on_land_and_spaced(osm: _Osm, grids: _Grids) -> None:
    road_nodes = sorted({r for _, tags, nodes in osm.ways if "highway" in tags for r in nodes})
    lonlat = np.array([osm.nodes[r] for r in road_nodes])
    rows, cols = _cells(grids, lonlat)
    assert np.all(grids.population[rows, cols] != POPULATION_NODATA)
    assert np.all(grids.landcover[rows, cols] <= 4)
    # Consecutive nodes 50-150 m apart.
    steps = []
    for _, tags, nodes in osm.ways:
        if "highway" in tags:
            xy = np.array([osm.nodes[r] for r in nodes])
            d = np.diff(xy, axis=0) * [111_320 * np.cos(np.radians(10.8)), 110_600]
            steps.append(np.hypot(d[:, 0], d[:, 1]))
    spacing = np.concatenate(steps)
    assert spacing.min() > 50 and spacing.max() < 150


def test_roads_connect_at_shared_nodes(osm: _Osm) -> None:
    # Union-find over the road and ferry graph: nearly everything is one network.
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for _, _, nodes in osm.ways:
        for a, b in itertools.pairwise(nodes):
            parent[find(a)] = find(b)
    sizes = Counter(find(n) for n in parent)
    assert max(sizes.values()) > 0.9 * len(parent)


def test_ferry_joins_two_islands_at_road_nodes(osm: _Osm, grids: _Grids) -> None:
    ferries = [(tags, nodes) for _, tags, nodes in osm.ways if tags.get("route") == "ferry"]
    assert ferries
    road_nodes = {r for _, tags, nodes in osm.ways if "highway" in tags for r in nodes}
    for tags, nodes in ferries:
        assert re.fullmatch(r"\d\d:\d\d", tags["duration"])
        ends = [nodes[0], nodes[-1]]
        assert set(ends) <= road_nodes
        rows, cols = _cells(grids, np.array([osm.nodes[n] for n in ends]))
        labels = grids.islands[rows, cols]
        assert labels.min() > 0 and labels[0] != labels[1]
        # Duration matches the crossing at about 20 km/h.
        xy = np.array([osm.nodes[n] for n in nodes])
        d = np.diff(xy, axis=0) * [111_320 * np.cos(np.radians(10.8)), 110_600]
        km = np.hypot(d[:, 0], d[:, 1]).sum() / 1000
        hours, minutes = (int(x) for x in tags["duration"].split(":"))
        assert abs((hours * 60 + minutes) - km / 20 * 60) <= 10


def test_facilities(small: DemoFiles, grids: _Grids) -> None:
    facilities = gpd.read_file(small.facilities_geojson)
    assert facilities.crs.to_epsg() == 4326
    assert facilities["facility_id"].is_unique
    health = facilities[facilities["service"] == "health"]
    education = facilities[facilities["service"] == "education"]
    assert len(health) + len(education) == len(facilities)
    assert health["facility_id"].str.fullmatch(r"H\d{3,}").all()
    assert education["facility_id"].str.fullmatch(r"S\d{3,}").all()
    assert set(health["tier"]) == {"hospital", "health_centre", "clinic"}
    assert set(education["tier"]) == {"primary", "lower_secondary", "upper_secondary"}
    assert (health["tier"] == "hospital").sum() == 1
    assert (facilities["capacity"] > 0).all()
    assert health.loc[health["tier"] == "health_centre", "name"].str.startswith("Puskesmas").all()
    assert education.loc[education["tier"] == "primary", "name"].str.startswith("SD ").all()
    lonlat = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    rows, cols = _cells(grids, lonlat)
    assert np.all(grids.landcover[rows, cols] <= 4)
    # A health centre on an island other than the hospital's.
    islands = grids.islands[rows, cols]
    hospital_island = islands[(facilities["tier"] == "hospital").to_numpy()][0]
    centre_islands = set(islands[(facilities["tier"] == "health_centre").to_numpy()])
    assert centre_islands - {hospital_island}


def test_boundaries_cover_the_population(small: DemoFiles, grids: _Grids) -> None:
    districts = gpd.read_file(small.boundaries_geojson)
    assert 3 <= len(districts) <= 6
    assert districts["zone_id"].is_unique
    assert districts["zone_id"].str.fullmatch(r"K\d\d").all()
    assert districts["name"].str.startswith("Kecamatan ").all()
    assert districts.geometry.is_valid.all()
    assert not districts.geometry.is_empty.any()
    zones = rasterize(
        ((geom, k + 1) for k, geom in enumerate(districts.geometry)),
        out_shape=grids.population.shape,
        transform=grids.transform,
        fill=0,
        dtype="int32",
    )
    pop = np.where(grids.population == POPULATION_NODATA, 0.0, grids.population)
    assert pop[zones > 0].sum() >= 0.99 * pop.sum()
    # Districts do not overlap.
    utm = districts.to_crs(32751).geometry
    assert utm.union_all().area == pytest.approx(utm.area.sum(), rel=1e-6)


def test_boundaries_text_is_what_the_generator_writes(small: DemoFiles) -> None:
    text = small.boundaries_geojson.read_text(encoding="utf-8")
    assert text == demo_boundaries_geojson(size_cells=SMALL_CELLS)
    json.loads(text)


def test_generation_is_byte_identical(small: DemoFiles, tmp_path: Path) -> None:
    again = generate_demo(tmp_path, size_cells=SMALL_CELLS)
    assert again.population_total == small.population_total
    for first, second in zip(
        sorted(small.folder.iterdir()), sorted(tmp_path.iterdir()), strict=True
    ):
        assert first.name == second.name
        assert _sha256(first) == _sha256(second), first.name


def test_other_seed_gives_other_region(small: DemoFiles, tmp_path: Path) -> None:
    other = generate_demo(tmp_path, size_cells=SMALL_CELLS, seed=8)
    assert _sha256(other.dem_tif) != _sha256(small.dem_tif)


def test_committed_demo_boundaries_are_current() -> None:
    committed = COMMITTED_BOUNDARIES.read_text(encoding="utf-8")
    assert committed == demo_boundaries_geojson()
    assert len(committed.encode("utf-8")) < 200_000


def test_default_size(tmp_path: Path) -> None:
    demo = generate_demo(tmp_path)
    assert demo.size_cells == DEFAULT_SIZE_CELLS
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_total"] == demo.population_total
    assert 110 < summary["people_per_land_km2"] < 130
    assert 6 <= summary["land_km2"] / summary["villages"] <= 10
    assert 3 <= summary["districts"] <= 6
    assert set(summary["road_km_by_highway"]) == {
        "trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "track",
        "path", "footway",
    }  # fmt: skip
    osm = _read_osm(demo.roads_osm)
    test_road_hierarchy_and_tags(osm)
    assert demo.boundaries_geojson.read_text(encoding="utf-8") == demo_boundaries_geojson()


def test_larger_size_adds_island_groups_joined_by_ferries(tmp_path: Path) -> None:
    demo = generate_demo(tmp_path, size_cells=4 * DEFAULT_SIZE_CELLS)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["island_groups"] == 4
    assert summary["facilities_by_tier"]["hospital"] == 4
    assert len(summary["ferries"]) == 4 + 3  # one per group, plus a chain between groups
    osm = _read_osm(demo.roads_osm)
    test_roads_connect_at_shared_nodes(osm)


def test_rejects_a_grid_too_small(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="size_cells"):
        generate_demo(tmp_path, size_cells=1000)


def _demo(*args: str) -> tuple[int, str, str]:
    """``reach --quiet demo ARGS``: exit code, standard output, standard error."""
    result = runner.invoke(app, ["--quiet", "demo", *args])
    return result.exit_code, result.stdout, result.stderr


def test_command_line_inputs_only(small: DemoFiles, tmp_path: Path) -> None:
    out = tmp_path / "inputs"
    for _ in range(2):  # the second time replaces the folder the first wrote
        code, stdout, err = _demo("--out", str(out), "--size", str(SMALL_CELLS), "--inputs-only")
        assert code == 0, err
        assert "inputs written to" in stdout
    names = sorted(p.name for p in small.folder.iterdir())
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([*names, OUTPUT_MARKER, "manifest.json"])
    for name in names:
        assert _sha256(out / name) == _sha256(small.folder / name), name
    assert [p.name for p in tmp_path.iterdir()] == ["inputs"]  # no temporary folder left


def test_command_line_boundaries_only(tmp_path: Path) -> None:
    for _ in range(2):  # the second time replaces the districts file the first wrote
        code, stdout, err = _demo(
            "--out", str(tmp_path), "--size", str(SMALL_CELLS), "--boundaries-only"
        )
        assert code == 0, err
        assert "districts.geojson" in stdout
    text = (tmp_path / "districts.geojson").read_text(encoding="utf-8")
    assert text == demo_boundaries_geojson(size_cells=SMALL_CELLS)
    assert [p.name for p in tmp_path.iterdir()] == ["districts.geojson"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--size", "10", "--inputs-only"), "--size"),
        (("--size", "10", "--boundaries-only"), "--size"),
        (("--inputs-only", "--boundaries-only"), "exclude each other"),
    ],
)
def test_command_line_refuses_bad_options(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    code, _, err = _demo("--out", str(tmp_path / "out"), *args)
    assert code == EXIT_BAD_INPUT
    assert needle in err
    assert not list(tmp_path.iterdir())


def test_command_line_never_overwrites_a_users_files(tmp_path: Path) -> None:
    (tmp_path / "population.tif").write_text("a user's raster")
    (tmp_path / "districts.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    code, _, err = _demo("--out", str(tmp_path), "--size", str(SMALL_CELLS), "--inputs-only")
    assert code == EXIT_BAD_INPUT
    assert "did not write" in err
    code, _, err = _demo("--out", str(tmp_path), "--size", str(SMALL_CELLS), "--boundaries-only")
    assert code == EXIT_BAD_INPUT
    assert "not a districts file this generator wrote" in err
    code, _, err = _demo("--out", str(tmp_path), "--size", str(SMALL_CELLS))
    assert code == EXIT_BAD_INPUT
    assert "did not write" in err
    assert (tmp_path / "population.tif").read_text() == "a user's raster"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["districts.geojson", "population.tif"]
