"""Road line layers (AccessMod / shapefile style) → RoadLines."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point, box

from reach.errors import InputError
from reach.ingest.lines import read_road_lines
from reach.ingest.roads import TAG_COLUMNS, RoadLines


def write(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_file(path)
    return path


def way_points(lines: RoadLines, i: int) -> list[tuple[float, float]]:
    a, b = lines.offsets[i], lines.offsets[i + 1]
    return list(zip(lines.x[a:b].tolist(), lines.y[a:b].tolist(), strict=True))


def way_nodes(lines: RoadLines, i: int) -> list[int]:
    return lines.node_id[lines.offsets[i] : lines.offsets[i + 1]].tolist()


@pytest.fixture
def network(tmp_path: Path) -> Path:
    """Three rows: a line, a two-part multiline touching it, and a ferry."""
    gdf = gpd.GeoDataFrame(
        {
            "label": ["Main road", "Secondary", "Boat"],
            "surface": ["paved", None, None],
            "extra": [1, 2, 3],
        },
        geometry=[
            LineString([(0, 0), (1000, 0), (2000, 0)]),
            MultiLineString([[(1000, 0), (1000, 1000)], [(2000, 0), (2000, -500), (2500, -500)]]),
            LineString([(2500, -500), (9000, -500)]),
        ],
        crs="EPSG:32636",
    )
    return write(gdf, tmp_path / "roads.gpkg")


def test_explode_and_way_ids(network: Path) -> None:
    lines = read_road_lines(network, class_column="label", ferry_classes=["Boat"])
    assert lines.way_id.dtype == np.int64
    assert lines.way_id.tolist() == [0, 1000, 1001, 2000]
    assert lines.offsets.tolist() == [0, 3, 5, 8, 10]
    assert way_points(lines, 2) == [(2000.0, 0.0), (2000.0, -500.0), (2500.0, -500.0)]
    assert lines.crs.to_epsg() == 32636
    assert lines.source == network


def test_shared_node_ids(network: Path) -> None:
    lines = read_road_lines(network, class_column="label")
    assert (lines.node_id < 0).all()
    main, side_a, side_b, ferry = (way_nodes(lines, i) for i in range(4))
    assert main[1] == side_a[0]  # (1000, 0)
    assert main[2] == side_b[0]  # (2000, 0)
    assert side_b[2] == ferry[0]  # (2500, -500)
    assert len(set(lines.node_id.tolist())) == 7
    # distinct coordinates never share an id
    pairs = {(x, y): n for x, y, n in zip(lines.x, lines.y, lines.node_id, strict=True)}
    assert len(set(pairs.values())) == len(pairs)


def test_tags(network: Path) -> None:
    lines = read_road_lines(network, class_column="label", ferry_classes=["Boat"])
    tags = lines.tags
    assert list(tags.columns) == list(TAG_COLUMNS)
    assert tags["road_class"].tolist() == ["Main road", "Secondary", "Secondary", "Boat"]
    assert tags["route"].tolist() == [None, None, None, "ferry"]
    assert tags["surface"].tolist() == ["paved", None, None, None]
    assert tags["highway"].tolist() == [None] * 4
    assert lines.is_ferry().tolist() == [False, False, False, True]
    assert tags.attrs["unclassified"] == 0


def test_geographic_rounding_joins_near_identical_points(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"highway": ["primary", "track"], "oneway": ["yes", None], "maxspeed": ["60", None]},
        geometry=[
            LineString([(120.0, -9.5), (120.1, -9.6)]),
            LineString([(120.1 + 1e-12, -9.6 - 1e-12), (120.2, -9.7)]),
        ],
        crs="EPSG:4326",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.geojson"), class_column="highway")
    assert way_nodes(lines, 0)[1] == way_nodes(lines, 1)[0]
    assert lines.tags["highway"].tolist() == ["primary", "track"]
    assert lines.tags["oneway"].tolist() == ["yes", None]
    assert lines.tags["maxspeed"].tolist() == ["60", None]


def test_points_a_micron_apart_stay_apart_in_degrees(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"highway": ["a", "b"]},
        geometry=[
            LineString([(120.0, -9.5), (120.1, -9.6)]),
            LineString([(120.1 + 1e-6, -9.6), (120.2, -9.7)]),
        ],
        crs="EPSG:4326",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="highway")
    assert way_nodes(lines, 0)[1] != way_nodes(lines, 1)[0]


def test_zero_length_parts_and_repeated_points_dropped(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"label": ["a", "b"]},
        geometry=[
            MultiLineString([[(0, 0), (0, 0)], [(0, 0), (5, 0), (5, 0), (10, 0)]]),
            LineString([(3, 3), (3, 3), (3, 3)]),
        ],
        crs="EPSG:32636",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="label")
    assert lines.way_id.tolist() == [1]
    assert way_points(lines, 0) == [(0.0, 0.0), (5.0, 0.0), (10.0, 0.0)]
    assert lines.tags["road_class"].tolist() == ["a"]


def test_null_geometries_skipped_and_row_numbers_kept(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"label": ["a", "b", "c"]},
        geometry=[None, LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 2)])],
        crs="EPSG:32636",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="label")
    assert lines.way_id.tolist() == [1000, 2000]


def test_lines_without_class_left_out(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"highway": ["primary", None]},
        geometry=[LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 2)])],
        crs="EPSG:32636",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="highway")
    assert lines.way_id.tolist() == [0]
    assert lines.tags.attrs["unclassified"] == 1


def test_numeric_class_becomes_text(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"class_n": [1, 3]},
        geometry=[LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 2)])],
        crs="EPSG:32636",
    )
    lines = read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="class_n")
    assert lines.tags["road_class"].tolist() == ["1", "3"]


def test_missing_class_column_lists_columns(network: Path) -> None:
    with pytest.raises(
        InputError, match=r"no class column 'highway' \(columns: label, surface, extra\)"
    ):
        read_road_lines(network, class_column="highway")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"label": ["a"]}, geometry=[LineString([(0, 0), (1, 1)])])
    with pytest.raises(InputError, match="no coordinate reference system"):
        read_road_lines(write(gdf, tmp_path / "r.shp"), class_column="label")


def test_no_lines_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"label": ["a"]}, geometry=[LineString([(1, 1), (1, 1)])], crs="EPSG:32636"
    )
    with pytest.raises(InputError, match="no lines with length"):
        read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="label")
    gdf = gpd.GeoDataFrame(
        {"label": [None]}, geometry=[LineString([(0, 0), (1, 1)])], crs="EPSG:32636"
    )
    with pytest.raises(InputError, match=r"no line .* has a class"):
        read_road_lines(write(gdf, tmp_path / "s.gpkg"), class_column="label")


def test_non_line_geometries_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"label": ["a", "b"]},
        geometry=[LineString([(0, 0), (1, 1)]), box(0, 0, 1, 1)],
        crs="EPSG:32636",
    )
    with pytest.raises(InputError, match=r"1 non-line geometries \(Polygon; row 2\)"):
        read_road_lines(write(gdf, tmp_path / "r.geojson"), class_column="label")
    gdf = gpd.GeoDataFrame({"label": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:32636")
    with pytest.raises(InputError, match="non-line"):
        read_road_lines(write(gdf, tmp_path / "p.gpkg"), class_column="label")


def test_too_many_parts_rejected(tmp_path: Path) -> None:
    parts = [[(i, 0), (i, 1)] for i in range(1001)]
    gdf = gpd.GeoDataFrame({"label": ["a"]}, geometry=[MultiLineString(parts)], crs="EPSG:32636")
    with pytest.raises(InputError, match="more than 999"):
        read_road_lines(write(gdf, tmp_path / "r.gpkg"), class_column="label")


# --- real data --------------------------------------------------------------------------------


def test_malawi_roads(malawi: Path) -> None:
    lines = read_road_lines(malawi / "roads.gpkg", class_column="label")
    rows = lines.way_id // 1000
    assert len(np.unique(rows)) == 63
    per_row = lines.tags.assign(row=rows).drop_duplicates("row")["road_class"].value_counts()
    assert per_row.to_dict() == {"Teriary": 42, "Main road": 11, "Secondary": 10}
    assert lines.crs.to_epsg() == 32636
    # touching roads share nodes: fewer distinct node ids than points
    assert len(np.unique(lines.node_id)) < len(lines.node_id)
    assert lines.offsets[-1] == len(lines.x) == len(lines.node_id)


def test_comoros_roads(comoros: Path) -> None:
    lines = read_road_lines(comoros / "roads_osm.gpkg", class_column="highway")
    assert lines.n_ways == 4378
    assert lines.tags["road_class"].equals(lines.tags["highway"])
    assert lines.tags["surface"].notna().any()
    assert lines.crs.to_epsg() == 4326


def test_maumere_shapefile(real_data: Path) -> None:
    path = real_data / "indonesia_ntt_admin" / "maumere_flores_osm_2012" / "roads_Maumere.shp"
    lines = read_road_lines(path, class_column="highway")
    # 156 lines; 4 have no highway tag (rivers, a taxiway) and are left out
    assert lines.n_ways == 152
    assert lines.tags.attrs["unclassified"] == 4
    assert lines.tags["road_class"].value_counts()["road"] == 67
