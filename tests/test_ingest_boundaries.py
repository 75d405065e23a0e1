"""Reporting zones: ids and names, repair of invalid polygons, CRS and geometry checks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from reach.errors import InputError
from reach.ingest.boundaries import read_zones

BOWTIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs: object) -> Path:
    gdf.to_file(path, **kwargs)
    return path


def squares(n: int, **columns: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        dict(columns), geometry=[box(i, 0, i + 1, 1) for i in range(n)], crs="EPSG:4326"
    )


def test_explicit_columns(tmp_path: Path) -> None:
    gdf = squares(2, code=["A", "B"], label=["North", "South"])
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"), id_column="code", name_column="label")
    assert list(zones.columns) == ["zone_id", "name", "geometry"]
    assert zones["zone_id"].tolist() == ["A", "B"]
    assert zones["name"].tolist() == ["North", "South"]
    assert zones.crs.to_epsg() == 4326
    assert zones.attrs["repaired"] == 0


def test_default_columns_kode_nama(tmp_path: Path) -> None:
    gdf = squares(2, kode=["53.11.01", "53.11.02"], nama=["Lewa", "Nggaha"], other=[1, 2])
    zones = read_zones(write(gdf, tmp_path / "z.geojson"))
    assert zones["zone_id"].tolist() == ["53.11.01", "53.11.02"]
    assert zones["name"].tolist() == ["Lewa", "Nggaha"]


def test_default_column_priority(tmp_path: Path) -> None:
    gdf = squares(2, GID_1=["X.1", "X.2"], GID_2=["X.1.1", "X.2.1"], NAME_1=["a", "b"])
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert zones["zone_id"].tolist() == ["X.1.1", "X.2.1"]


def test_row_number_ids_and_id_names(tmp_path: Path) -> None:
    gdf = squares(3, value=[1, 2, 3])
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert zones["zone_id"].tolist() == ["Z001", "Z002", "Z003"]
    assert zones["name"].tolist() == ["Z001", "Z002", "Z003"]


def test_integer_ids_become_text(tmp_path: Path) -> None:
    gdf = squares(2, admin_code=[3, 1], admin_name=["SW", "NE"])
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert zones["zone_id"].tolist() == ["3", "1"]


def test_missing_named_column_lists_columns(tmp_path: Path) -> None:
    path = write(squares(1, code=["A"]), tmp_path / "z.gpkg")
    with pytest.raises(InputError, match=r"no column 'kode' \(columns: code\)"):
        read_zones(path, id_column="kode")
    with pytest.raises(InputError, match="no column 'nama'"):
        read_zones(path, name_column="nama")


def test_bowtie_repaired(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"zone_id": ["bow", "ok"]}, geometry=[BOWTIE, box(5, 5, 6, 6)], crs="EPSG:4326"
    )
    assert not gdf.is_valid.iloc[0]
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert zones.attrs["repaired"] == 1
    assert zones.is_valid.all()
    fixed = zones.geometry.iloc[0]
    assert isinstance(fixed, MultiPolygon)
    assert len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(2.0)


def test_repair_keeps_only_polygons(tmp_path: Path) -> None:
    # a polygon with a zero-width spike: make_valid returns polygon + line
    spiky = Polygon([(0, 0), (1, 0), (1, 1), (1, 2), (1, 1), (0, 1)])
    gdf = gpd.GeoDataFrame({"id": ["s"]}, geometry=[spiky], crs="EPSG:4326")
    zones = read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert zones.geom_type.iloc[0] in ("Polygon", "MultiPolygon")
    assert zones.geometry.iloc[0].area == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_rejected(tmp_path: Path) -> None:
    gdf = squares(1, id=["A"]).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no coordinate reference system"):
        read_zones(write(gdf, tmp_path / "z.shp"))
    with pytest.raises(InputError, match="no coordinate reference system"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_antimeridian_rejected(tmp_path: Path) -> None:
    fiji = Polygon([(177, -18), (-179, -18), (-179, -16), (177, -16)])
    gdf = gpd.GeoDataFrame({"id": ["fj"]}, geometry=[fiji], crs="EPSG:4326")
    with pytest.raises(InputError, match="antimeridian") as info:
        read_zones(write(gdf, tmp_path / "z.gpkg"))
    assert info.value.fix is not None and "split at the antimeridian" in info.value.fix


def test_antimeridian_allowed_when_projected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(-500, 0, 500, 10)], crs="EPSG:32760")
    assert len(read_zones(write(gdf, tmp_path / "z.gpkg"))) == 1


def test_off_globe_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["a"]}, geometry=[box(690000, -1750000, 700000, -1740000)], crs="EPSG:4326"
    )
    with pytest.raises(InputError, match="off the globe"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    gdf = squares(3, id=["A", "B", "A"])
    with pytest.raises(InputError, match=r"duplicate zone ids .*A \(2×\)"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_missing_id_rejected(tmp_path: Path) -> None:
    gdf = squares(2, id=["A", None])
    with pytest.raises(InputError, match=r"no id .*rows 2"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_point_layer_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(1, 1)], crs="EPSG:4326")
    with pytest.raises(InputError, match="non-polygon"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_mixed_layer_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "b"]},
        geometry=[box(0, 0, 1, 1), LineString([(0, 0), (1, 1)])],
        crs="EPSG:4326",
    )
    with pytest.raises(InputError, match=r"1 non-polygon .*zone b"):
        read_zones(write(gdf, tmp_path / "z.geojson"))


def test_empty_layer_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"id": []}, geometry=[], crs="EPSG:4326")
    path = write(gdf, tmp_path / "z.gpkg", geometry_type="Polygon")
    with pytest.raises(InputError, match="no zones"):
        read_zones(path)


def test_empty_geometry_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(0, 0, 1, 1), None], crs="EPSG:4326")
    with pytest.raises(InputError, match=r"zone b \(row 2\) has an empty geometry"):
        read_zones(write(gdf, tmp_path / "z.gpkg"))


def test_layer_selection(tmp_path: Path) -> None:
    path = tmp_path / "z.gpkg"
    write(squares(2, id=["a", "b"]), path, layer="kec")
    write(squares(3, id=["x", "y", "z"]), path, layer="desa")
    with pytest.raises(InputError, match="2 layers"):
        read_zones(path)
    assert len(read_zones(path, layer="desa")) == 3


def test_bad_paths_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_zones(tmp_path / "missing.gpkg")
    with pytest.raises(InputError, match="URL"):
        read_zones("/vsicurl/https://example.org/z.gpkg")
    vrt = tmp_path / "z.vrt"
    vrt.write_text("<OGRVRTDataSource/>")
    with pytest.raises(InputError, match="VRT"):
        read_zones(vrt)
    wrong = tmp_path / "z.gpkg"
    wrong.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError):
        read_zones(wrong)


# --- real data --------------------------------------------------------------------------------


def test_comoros_gadm(comoros: Path) -> None:
    zones = read_zones(comoros / "admin_gadm_adm1.gpkg")
    assert zones["zone_id"].tolist() == ["COM.1_1", "COM.2_1", "COM.3_1"]
    assert zones["name"].tolist() == ["Mwali", "Njazídja", "Nzwani"]
    assert zones.is_valid.all()


def test_malawi_zones(malawi: Path) -> None:
    zones = read_zones(malawi / "zones.gpkg")
    assert len(zones) == 4
    assert sorted(zones["zone_id"]) == ["1", "2", "3", "4"]
    assert set(zones["name"]) == {"South West", "North East", "South East", "North West"}
    assert zones.crs.to_epsg() == 32636


def test_ntt_kecamatan(real_data: Path) -> None:
    zones = read_zones(real_data / "indonesia_ntt_admin" / "ntt_kecamatan_adm3.geojson")
    assert len(zones) == 315
    assert zones.is_valid.all()
    assert zones["zone_id"].iloc[0] == "53.01.04"
    assert zones.attrs["repaired"] == 0


def test_sumba_desa(real_data: Path) -> None:
    zones = read_zones(real_data / "indonesia_ntt_admin" / "sumba_desa_adm4.geojson")
    assert len(zones) == 470
    assert zones.is_valid.all()
    assert zones["zone_id"].str.startswith("53.").all()
