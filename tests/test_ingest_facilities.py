"""Facilities: CSV / vector reading, validation, tiers, OSM tag classification."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon

from reach.codes import EDUCATION_TIERS, HEALTH_TIERS
from reach.errors import InputError
from reach.ingest.facilities import (
    FACILITY_COLUMNS,
    classify_osm_health,
    classify_osm_school,
    facilities_from_osm,
    read_facilities,
)

COLUMNS = [*FACILITY_COLUMNS, "geometry"]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CLINICS_CSV = """name,lon,lat,type,beds
Puskesmas Waingapu,120.26,-9.65,puskesmas,20
RSUD Umbu Rara Meha,120.25,-9.66,rsud,120
Pustu Kambajawa,120.24,-9.66,pustu,
"""


# --- CSV --------------------------------------------------------------------------------------


def test_csv_basic_shape_and_generated_ids(tmp_path: Path) -> None:
    fac = read_facilities(write_csv(tmp_path / "clinics.csv", CLINICS_CSV), service="health")
    assert list(fac.columns) == COLUMNS
    assert fac.crs.to_epsg() == 4326
    assert fac["facility_id"].tolist() == ["clinics-0001", "clinics-0002", "clinics-0003"]
    assert fac["name"].tolist()[0] == "Puskesmas Waingapu"
    assert set(fac["service"]) == {"health"}
    # without tier_column or tier_map the tier is read from the name (issue 18)
    assert fac["tier"].tolist() == ["health_centre", "hospital", "clinic"]
    assert fac["capacity"].dtype == np.float64 and fac["capacity"].isna().all()
    assert fac.geometry.iloc[0].equals(Point(120.26, -9.65))


def test_csv_tiers_and_capacity(tmp_path: Path) -> None:
    fac = read_facilities(
        write_csv(tmp_path / "clinics.csv", CLINICS_CSV),
        service="health",
        tier_column="type",
        tier_map={"puskesmas": "health_centre", "rsud": "hospital", "pustu": "clinic"},
        capacity_column="beds",
    )
    assert fac["tier"].tolist() == ["health_centre", "hospital", "clinic"]
    caps = fac["capacity"].tolist()
    assert caps[:2] == [20.0, 120.0] and math.isnan(caps[2])


def test_unmapped_tiers_listed_without_default(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "clinics.csv", CLINICS_CSV)
    with pytest.raises(InputError, match=r"'pustu'.*'rsud'|'rsud'.*'pustu'") as info:
        read_facilities(
            path, service="health", tier_column="type", tier_map={"puskesmas": "health_centre"}
        )
    assert "default_tier" in str(info.value)


def test_unmapped_tiers_get_default(tmp_path: Path) -> None:
    fac = read_facilities(
        write_csv(tmp_path / "clinics.csv", CLINICS_CSV),
        service="health",
        tier_column="type",
        tier_map={"rsud": "hospital"},
        default_tier="clinic",
    )
    assert fac["tier"].tolist() == ["clinic", "hospital", "clinic"]


def test_tier_map_target_must_be_a_service_tier(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a health tier"):
        read_facilities(
            write_csv(tmp_path / "clinics.csv", CLINICS_CSV),
            service="health",
            tier_column="type",
            tier_map={"rsud": "big_hospital"},
        )


def test_tier_values_already_tiers_pass_without_map(tmp_path: Path) -> None:
    csv = "id,lon,lat,level\na,1,1,primary\nb,1,2,upper_secondary\n"
    fac = read_facilities(
        write_csv(tmp_path / "s.csv", csv), service="education", id_column="id", tier_column="level"
    )
    assert fac["tier"].tolist() == ["primary", "upper_secondary"]
    assert fac["facility_id"].tolist() == ["a", "b"]


def test_swapped_lon_lat_rejected(tmp_path: Path) -> None:
    csv = "name,lon,lat\nA,-9.65,120.26\n"
    with pytest.raises(InputError, match="lon and lat look swapped"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health")


def test_projected_coordinates_rejected(tmp_path: Path) -> None:
    csv = "name,lon,lat\nA,696436.1,-1751447.0\n"
    with pytest.raises(InputError, match="projected"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health")


def test_nan_coordinates_rejected_naming_row(tmp_path: Path) -> None:
    csv = "name,lon,lat\nA,1,1\nB,,2\nC,3,abc\n"
    with pytest.raises(InputError, match=r"2 facilities have no usable coordinates \(row 2, 3"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health")


def test_missing_coordinate_column_lists_columns(tmp_path: Path) -> None:
    csv = "name,east,north\nA,1,1\n"  # x / y are found since issue 18; east / north are not
    with pytest.raises(
        InputError, match=r"no longitude column 'lon' \(columns: name, east, north\)"
    ):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health")


def test_longitude_latitude_aliases_and_semicolons(tmp_path: Path) -> None:
    csv = "nom;Longitude;Latitude\nA;43.25;-11.7\n"
    fac = read_facilities(write_csv(tmp_path / "f.csv", csv), service="health", name_column=None)
    assert fac.geometry.iloc[0].equals(Point(43.25, -11.7))
    assert fac["name"].tolist() == [""]


def test_explicit_coordinate_columns(tmp_path: Path) -> None:
    csv = "name,X,Y\nA,43.25,-11.7\n"
    fac = read_facilities(
        write_csv(tmp_path / "f.csv", csv), service="health", lon_column="X", lat_column="Y"
    )
    assert fac.geometry.iloc[0].equals(Point(43.25, -11.7))


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    csv = "code,lon,lat\nA1,1,1\nA1,1,2\nB2,1,3\nB2,1,4\nC3,1,5\n"
    with pytest.raises(InputError, match=r"2 facility ids .* A1 \(2×\), B2 \(2×\)"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health", id_column="code")


def test_missing_ids_rejected(tmp_path: Path) -> None:
    csv = "code,lon,lat\nA1,1,1\n,1,2\n"
    with pytest.raises(InputError, match="no id in column 'code'"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health", id_column="code")


def test_ids_keep_leading_zeros(tmp_path: Path) -> None:
    csv = "code,lon,lat\n007,1,1\n"
    fac = read_facilities(write_csv(tmp_path / "f.csv", csv), service="health", id_column="code")
    assert fac["facility_id"].tolist() == ["007"]


def test_bad_capacity_rejected(tmp_path: Path) -> None:
    csv = "name,lon,lat,cap\nA,1,1,lots\n"
    with pytest.raises(InputError, match="not numbers"):
        read_facilities(write_csv(tmp_path / "f.csv", csv), service="health", capacity_column="cap")
    csv = "name,lon,lat,cap\nA,1,1,-3\n"
    with pytest.raises(InputError, match="negative"):
        read_facilities(write_csv(tmp_path / "g.csv", csv), service="health", capacity_column="cap")


def test_missing_optional_column_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no capacity column 'beds_total'"):
        read_facilities(
            write_csv(tmp_path / "f.csv", CLINICS_CSV),
            service="health",
            capacity_column="beds_total",
        )


def test_where_filter_any_column_and_stable_ids(tmp_path: Path) -> None:
    csv = (
        "amenity,healthcare,lon,lat\npharmacy,pharmacy,1,1\nhospital,,1,2\n,yes,1,3\nclinic,,1,4\n"
    )
    fac = read_facilities(
        write_csv(tmp_path / "h.csv", csv),
        service="health",
        where={"amenity": ["hospital", "clinic"], "healthcare": ["yes"]},
        default_tier="clinic",
    )
    # row numbers are those of the file, not of the filtered table
    assert fac["facility_id"].tolist() == ["h-0002", "h-0003", "h-0004"]


def test_where_removing_everything_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no health facilities"):
        read_facilities(
            write_csv(tmp_path / "f.csv", CLINICS_CSV), service="health", where={"type": ["x"]}
        )


def test_where_unknown_column_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no column 'amenity' to filter on"):
        read_facilities(
            write_csv(tmp_path / "f.csv", CLINICS_CSV), service="health", where={"amenity": ["x"]}
        )


def test_where_filters_before_coordinate_checks(tmp_path: Path) -> None:
    csv = "kind,lon,lat\nschool,1,1\nother,,\n"
    fac = read_facilities(
        write_csv(tmp_path / "f.csv", csv), service="education", where={"kind": ["school"]}
    )
    assert len(fac) == 1


def test_not_utf8_rejected(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("name,lon,lat\nSanté,1,1\n".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        read_facilities(path, service="health")


def test_empty_csv_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_facilities(write_csv(tmp_path / "f.csv", ""), service="health")


# --- vector files -----------------------------------------------------------------------------


def test_geojson_polygons_become_points_inside(tmp_path: Path) -> None:
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    ring = Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], holes=[[(1, 1), (2, 1), (2, 2), (1, 2)]])
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"], "id": [10, 20]}, geometry=[square, ring], crs="EPSG:4326"
    )
    path = tmp_path / "f.geojson"
    gdf.to_file(path)
    fac = read_facilities(path, service="education", id_column="id")
    assert fac["facility_id"].tolist() == ["10", "20"]
    assert (fac.geom_type == "Point").all()
    assert fac.geometry.iloc[0].within(square)
    assert fac.geometry.iloc[1].within(ring)


def test_vector_keeps_file_crs(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(696436, -1751447)], crs="EPSG:32636")
    path = tmp_path / "f.gpkg"
    gdf.to_file(path)
    fac = read_facilities(path, service="health")
    assert fac.crs.to_epsg() == 32636


def test_empty_geometry_rejected_naming_row(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[Point(1, 1), shapely.Point()], crs="EPSG:4326"
    )
    path = tmp_path / "f.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match=r"empty geometry \(row 2\)"):
        read_facilities(path, service="health")


def test_missing_geometry_rejected_naming_row(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[None, Point(1, 1)], crs="EPSG:4326")
    path = tmp_path / "f.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match=r"row 1\)"):
        read_facilities(path, service="health")


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_vector_without_crs_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(1, 1)], crs=None)
    path = tmp_path / "f.shp"
    gdf.to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(InputError, match="no coordinate reference system"):
        read_facilities(path, service="health")


def test_geographic_vector_off_globe_rejected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(696436, -1751447)], crs="EPSG:4326")
    path = tmp_path / "f.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputError, match="off the globe"):
        read_facilities(path, service="health")


def test_multilayer_gpkg_needs_layer(tmp_path: Path) -> None:
    path = tmp_path / "f.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(1, 1)], crs="EPSG:4326").to_file(
        path, layer="health"
    )
    gpd.GeoDataFrame(
        {"name": ["b", "c"]}, geometry=[Point(2, 2), Point(3, 3)], crs="EPSG:4326"
    ).to_file(path, layer="schools")
    with pytest.raises(InputError, match=r"2 layers \(health, schools\)"):
        read_facilities(path, service="health")
    assert len(read_facilities(path, service="education", layer="schools")) == 2
    with pytest.raises(InputError, match="no layer 'clinics'"):
        read_facilities(path, service="health", layer="clinics")


def test_unsupported_and_remote_files_rejected(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported"):
        read_facilities(path, service="health")
    with pytest.raises(InputError, match="URL"):
        read_facilities("https://example.org/f.geojson", service="health")
    vrt = tmp_path / "f.geojson"
    vrt.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"/></OGRVRTDataSource>')
    with pytest.raises(InputError, match="VRT"):
        read_facilities(vrt, service="health")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_corrupt_gpkg_rejected(tmp_path: Path) -> None:
    path = tmp_path / "f.gpkg"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(InputError, match="cannot"):
        read_facilities(path, service="health")


# --- OSM tags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amenity", "healthcare", "name", "tier"),
    [
        ("hospital", None, "Hôpital El Maarouf", "hospital"),
        (None, "hospital", None, "hospital"),
        ("hospital", None, "Centre de santé de Mitsoudjé", "hospital"),
        ("clinic", None, "Centre de Santé du Karthala", "health_centre"),
        ("clinic", None, "Puskesmas Waingapu", "health_centre"),
        ("doctors", None, "PUSKESMAS Kambera", "health_centre"),
        ("clinic", None, "Centro de Saúde", "health_centre"),
        (None, "centre", None, "health_centre"),
        ("clinic", None, "Clinique Ascobef", "clinic"),
        ("clinic", None, None, "clinic"),
        ("doctors", None, "Centre de Traitement Traditionnel", "clinic"),
        ("doctors", None, "Cabinet médical", "clinic"),
        (None, "yes", None, "clinic"),
        (None, "doctor", None, "clinic"),
        (None, "clinic", "Pustu Kambajawa", "clinic"),
        ("pharmacy", None, "Pharmacie des Iles", None),
        ("pharmacy", "pharmacy", "Tea Pharma", None),
        (None, "pharmacy", None, None),
        ("school", None, None, None),
        (None, None, "Maternité", None),
        (float("nan"), float("nan"), float("nan"), None),
        ("dentist", None, None, None),
        ("clinic;pharmacy", None, None, "clinic"),
        ("pharmacy", "yes", "Pharmacie Mangali", None),
    ],
)
def test_osm_health_classification(
    amenity: object, healthcare: object, name: object, tier: str | None
) -> None:
    assert classify_osm_health(amenity, healthcare, name) == tier


@pytest.mark.parametrize(
    ("amenity", "isced", "school", "name", "tier"),
    [
        ("school", "1", None, None, "primary"),
        ("school", "2", None, "Lycée X", "lower_secondary"),
        ("school", "3", None, None, "upper_secondary"),
        ("school", "1;2", None, None, "primary"),
        ("school", "2;3", None, None, "lower_secondary"),
        ("school", "0", None, None, None),
        ("school", None, "secondary", None, "lower_secondary"),
        ("school", None, "primary", "SMA 1", "primary"),
        ("school", None, None, "SD Negeri 1 Waingapu", "primary"),
        ("school", None, None, "SDN Inpres Kambaniru", "primary"),
        ("school", None, None, "SMP Negeri 2 Waingapu", "lower_secondary"),
        ("school", None, None, "MTs Al-Hidayah", "lower_secondary"),
        ("school", None, None, "SMA Negeri 1 Waingapu", "upper_secondary"),
        ("school", None, None, "SMK Kristen", "upper_secondary"),
        ("school", None, None, "École Primaire de Missiri", "primary"),
        ("school", None, None, "Ecol primaire d iconi mutuel", "primary"),
        ("school", None, None, "Collège de Chézani", "lower_secondary"),
        ("school", None, None, "Lycée privé Kibala", "upper_secondary"),
        ("school", None, None, "Ecole Coranique", "primary"),
        ("school", None, None, None, "primary"),
        ("school", None, None, "sd card shop", "primary"),
        ("kindergarten", None, None, "TK Pertiwi", None),
        ("college", None, None, "Politeknik", None),
        ("university", None, None, "Universitas Nusa Cendana", None),
        (None, None, None, "SD Negeri 1", None),
        ("hospital", None, None, None, None),
    ],
)
def test_osm_school_classification(
    amenity: object, isced: object, school: object, name: object, tier: str | None
) -> None:
    assert classify_osm_school(amenity, isced, school, name) == tier


def test_tier_tuples() -> None:
    assert HEALTH_TIERS == ("hospital", "health_centre", "clinic", "health_post")
    assert EDUCATION_TIERS == ("primary", "lower_secondary", "upper_secondary")


def osm_features() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "osm_type": ["node", "way", "node", "relation", "node"],
            "osm_id": [2716272375, 144754191, 11, 12, 13],
            "amenity": ["hospital", "clinic", "pharmacy", "school", None],
            "healthcare": [None, None, "pharmacy", None, "yes"],
            "name": ["A", "Puskesmas B", "C", "SMP 1", None],
            "isced_level": [None, None, None, None, None],
            "capacity": ["100", "abc", None, "350", None],
        },
        geometry=[
            Point(1, 1),
            Polygon([(0, 0), (1, 0), (1, 1), (0, 1)]),
            Point(2, 2),
            Point(3, 3),
            Point(4, 4),
        ],
        crs="EPSG:4326",
    )


def test_facilities_from_osm_health(tmp_path: Path) -> None:
    fac = facilities_from_osm(osm_features(), service="health", source=tmp_path / "x.osm.pbf")
    assert list(fac.columns) == COLUMNS
    assert fac["facility_id"].tolist() == ["n2716272375", "w144754191", "n13"]
    assert fac["tier"].tolist() == ["hospital", "health_centre", "clinic"]
    caps = fac["capacity"].tolist()
    assert caps[0] == 100.0 and math.isnan(caps[1]) and math.isnan(caps[2])
    assert (fac.geom_type == "Point").all()
    assert fac["name"].tolist() == ["A", "Puskesmas B", ""]


def test_facilities_from_osm_education(tmp_path: Path) -> None:
    fac = facilities_from_osm(osm_features(), service="education", source=tmp_path / "x.pbf")
    assert fac["facility_id"].tolist() == ["r12"]
    assert fac["tier"].tolist() == ["lower_secondary"]
    assert fac["capacity"].tolist() == [350.0]


def test_facilities_from_osm_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="service 'water'"):
        facilities_from_osm(osm_features(), service="water", source=tmp_path / "x.pbf")
    only_pharmacy = osm_features().iloc[[2]]
    with pytest.raises(InputError, match="no health facilities"):
        facilities_from_osm(only_pharmacy, service="health", source=tmp_path / "x.pbf")
    no_tags = osm_features()[["name", "geometry"]]
    with pytest.raises(InputError, match="no OSM tag column"):
        facilities_from_osm(no_tags, service="health", source=tmp_path / "x.pbf")
    no_crs = osm_features().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no coordinate reference system"):
        facilities_from_osm(no_crs, service="health", source=tmp_path / "x.pbf")


def test_read_facilities_from_osm_tags_csv(tmp_path: Path) -> None:
    csv = "amenity,healthcare,name,lon,lat\npharmacy,,P,1,1\nclinic,,Centre de santé,1,2\n"
    fac = read_facilities(write_csv(tmp_path / "h.csv", csv), service="health", from_osm_tags=True)
    assert fac["facility_id"].tolist() == ["h-0002"]
    assert fac["tier"].tolist() == ["health_centre"]


# --- real data --------------------------------------------------------------------------------


def test_comoros_health_points_from_osm(comoros: Path) -> None:
    fac = read_facilities(
        comoros / "health_points_from_osm.geojson", service="health", from_osm_tags=True
    )
    assert len(fac) == 45
    assert fac["facility_id"].is_unique
    assert fac["facility_id"].iloc[0] == "n2716272375"
    assert fac["facility_id"].str.match(r"^[nw]\d+$").all()
    assert fac["tier"].value_counts().to_dict() == {
        "hospital": 29,
        "clinic": 15,
        "health_centre": 1,
    }
    assert not fac["name"].str.contains("Pharm", case=False).any()


def test_comoros_health_gpkg_where(comoros: Path) -> None:
    path = comoros / "health_facilities_osm.gpkg"
    fac = read_facilities(
        path,
        service="health",
        where={
            "amenity": ["hospital", "clinic", "doctors"],
            "healthcare": ["hospital", "clinic", "doctor", "centre", "yes"],
        },
        default_tier="clinic",
    )
    # 70 points: 24 amenity=pharmacy and one untagged row dropped
    assert len(fac) == 45
    assert fac["facility_id"].str.startswith("health_facilities_osm-").all()
    tagged = read_facilities(path, service="health", from_osm_tags=True)
    assert len(tagged) == 45
    assert tagged["tier"].value_counts().to_dict() == {
        "hospital": 29,
        "clinic": 15,
        "health_centre": 1,
    }


def test_comoros_schools(comoros: Path) -> None:
    fac = read_facilities(
        comoros / "school_points_from_osm.geojson", service="education", from_osm_tags=True
    )
    assert len(fac) == 82
    assert fac["tier"].value_counts().to_dict() == {
        "primary": 75,
        "upper_secondary": 4,
        "lower_secondary": 3,
    }


def test_malawi_facilities(malawi: Path) -> None:
    fac = read_facilities(
        malawi / "facilities.gpkg",
        service="health",
        id_column="cat",
        tier_column="hf_type",
        tier_map={"Health Centre": "health_centre"},
        default_tier="hospital",
        capacity_column="capacity",
    )
    assert len(fac) == 10
    assert fac.crs.to_epsg() == 32636
    assert fac["facility_id"].tolist() == [str(i) for i in range(1, 11)]
    assert (fac["capacity"] > 0).all()
    assert "Queen Elizabeth Centre Hospital" in set(fac["name"])
    assert isinstance(fac, gpd.GeoDataFrame) and isinstance(fac["capacity"], pd.Series)
