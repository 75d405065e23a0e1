"""The facility checks of the audit: where each facility stands, duplicates, names, catchments."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from reach.model.facility_audit import (
    catchment_findings,
    location_findings,
    merge_duplicates,
    name_findings,
    osm_elements,
)
from reach.run.evaluate import evaluate
from reach.run.region import load_region
from reach.spec import load_scenario
from tests.helpers import SIZE, tiny_people, write_population, write_tiny_region

#: metres per degree of latitude, near enough for the 6 m and 60 m offsets below
M_PER_DEG = 110_600.0


def _facilities(rows: list[tuple[str, object, str, float, float]]) -> gpd.GeoDataFrame:
    ids, names, tiers, lon, lat = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            "facility_id": list(ids),
            "name": list(names),
            "service": "health",
            "tier": list(tiers),
            "capacity": np.nan,
        },
        geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)],
        crs="EPSG:4326",
    )


def _sea_region(folder: Path, clinics: str) -> Path:
    """The tiny region with a sea (no-data) over its 8 eastern columns, and these clinics."""
    scenario = write_tiny_region(folder)
    people = tiny_people()
    people[:, -8:] = -99999.0
    write_population(folder / "population.tif", people)
    (folder / "clinics.csv").write_text("facility_id,name,tier,lon,lat\n" + clinics)
    return scenario


CLINICS = (
    "C1,Pustu Barat,clinic,120.0025,-9.0205\n"
    "SEA,Puskesmas Laut,clinic,120.0395,-9.0305\n"  # column 39: 8 cells into the sea
    "SHORE,,clinic,120.0325,-9.0305\n"  # column 32: one cell into the sea
    "OFF,Pustu Jauh,clinic,120.0600,-9.0305\n"  # east of the grid
)


def test_facility_in_the_sea_is_found_with_its_distance(tmp_path: Path) -> None:
    region = load_region(load_scenario(_sea_region(tmp_path, CLINICS)))
    found = {f.subject_id: f for f in region.findings if f.subject == "facility"}
    sea = found["SEA"]
    assert sea.check == "facility_on_no_data" and sea.severity == "warning"
    assert sea.unit == "m" and sea.service == "health"
    # 8 cells of ~110 m west to the first passable cell (column 31)
    assert sea.value == pytest.approx(8 * 0.001 * 111_320 * np.cos(np.radians(9.0305)), rel=0.01)
    assert "serves nobody" in sea.message
    shore = found["SHORE"]
    assert shore.severity == "repaired" and "snapped" in shore.message
    assert shore.value == pytest.approx(110, rel=0.05)
    assert found["OFF"].check == "facility_off_grid" and found["OFF"].severity == "warning"
    assert "C1" not in {f.subject_id for f in region.findings if f.check != "facility_without_name"}
    assert [f.subject_id for f in region.findings if f.check == "facility_without_name"] == [
        "SHORE"
    ]
    # the search agrees: the unsnapped facility serves nobody, and the audit says why
    ev = evaluate(region)
    table = ev.services["health"].facility_table
    zero = {f.subject_id: f for f in catchment_findings(table)}
    assert {"SEA", "OFF"} <= set(zero)
    assert zero["SEA"].check == "facility_zero_catchment" and zero["SEA"].value == 0.0


def test_snap_within_m_moves_the_facility_in_the_sea(tmp_path: Path) -> None:
    path = _sea_region(tmp_path, CLINICS)
    path.write_text(
        path.read_text().replace(
            'tier_column = "tier" }', 'tier_column = "tier", snap_within_m = 1000 }'
        )
    )
    region = load_region(load_scenario(path))
    sea = next(f for f in region.findings if f.subject_id == "SEA")
    assert sea.severity == "repaired" and "snapped" in sea.message
    table = evaluate(region).services["health"].facility_table
    row = table[table["facility_id"] == "SEA"].iloc[0]
    assert row["catchment_population"] > 0


def test_location_findings_do_not_modify_and_ignore_row_order(tmp_path: Path) -> None:
    region = load_region(load_scenario(_sea_region(tmp_path, CLINICS)))
    fac = region.facilities["health"]
    before = fac.copy()
    a = location_findings(fac, region.grid, region.friction, service="health")
    b = location_findings(fac.iloc[::-1], region.grid, region.friction, service="health")
    assert a == b
    pd.testing.assert_frame_equal(fac, before)


def test_node_and_building_6_m_apart_are_merged_keeping_the_name() -> None:
    lat = -9.0205
    fac = _facilities(
        [
            ("n100", None, "hospital", 120.0100, lat),
            ("w200", "RSUD Kota", "hospital", 120.0100, lat + 6 / M_PER_DEG),
            ("n300", "Pustu", "clinic", 120.0200, lat),
        ]
    )
    before = fac.copy()
    out, found = merge_duplicates(fac, service="health", kind="health", from_osm=True)
    pd.testing.assert_frame_equal(fac, before)
    assert sorted(out["facility_id"]) == ["n300", "w200"]
    kept = out[out["facility_id"] == "w200"].iloc[0]
    assert kept["name"] == "RSUD Kota"
    (f,) = found
    assert f.check == "duplicate_facility_merged" and f.severity == "repaired"
    assert f.subject_id == "w200" and "n100" in f.message and "w200" in f.message
    assert f.value == pytest.approx(6, abs=0.2) and f.unit == "m"
    # both named: the node is kept, and the result does not depend on the row order
    fac.loc[0, "name"] = "RSUD Kota"
    out1, f1 = merge_duplicates(fac, service="health", kind="health", from_osm=True)
    out2, f2 = merge_duplicates(fac.iloc[::-1], service="health", kind="health", from_osm=True)
    assert sorted(out1["facility_id"]) == sorted(out2["facility_id"]) == ["n100", "n300"]
    assert f1 == f2
    # kept both when asked, and listed
    out3, f3 = merge_duplicates(fac, service="health", kind="health", from_osm=True, merge=False)
    assert len(out3) == 3 and f3[0].check == "duplicate_facility_kept"


def test_two_facilities_60_m_apart_are_both_kept() -> None:
    lat = -9.0205
    fac = _facilities(
        [
            ("n100", "A", "hospital", 120.0100, lat),
            ("w200", "A", "hospital", 120.0100, lat + 60 / M_PER_DEG),
            ("n300", "B", "clinic", 120.0100, lat - 10 / M_PER_DEG),  # two nodes: not a pair
        ]
    )
    out, found = merge_duplicates(fac, service="health", kind="health", from_osm=True)
    assert out is fac and found == []


def test_other_sources_merge_same_name_and_tier_only() -> None:
    lat = -9.0205
    fac = _facilities(
        [
            ("A1", "Puskesmas Oesao", "health_centre", 120.0100, lat),
            ("A2", "puskesmas  oesao", "health_centre", 120.0100, lat + 20 / M_PER_DEG),
            ("A3", "Puskesmas Oesao", "clinic", 120.0101, lat),
            ("A4", None, "clinic", 120.0102, lat),
            ("A5", None, "clinic", 120.0102, lat + 1 / M_PER_DEG),
        ]
    )
    out, found = merge_duplicates(fac, service="health", kind="health", from_osm=False)
    assert sorted(out["facility_id"]) == ["A1", "A3", "A4", "A5"]
    assert [f.subject_id for f in found] == ["A1"]


def test_no_name_and_osm_elements() -> None:
    fac = _facilities(
        [
            ("n1", "  ", "clinic", 120.0, -9.0),
            ("w2", None, "clinic", 120.0, -9.0),
            ("r3", "X", "clinic", 120.0, -9.0),
        ]
    )
    assert [f.subject_id for f in name_findings(fac, service="health")] == ["n1", "w2"]
    assert list(osm_elements(pd.Series(["n1", "w2", "r3", "C1", "nx"]))) == [
        "node",
        "way",
        "relation",
        "",
        "",
    ]


def test_zero_catchment_findings() -> None:
    table = pd.DataFrame(
        {
            "service": "health",
            "facility_id": ["B", "A", "C"],
            "name": ["Near", None, "Off"],
            "catchment_population": [120.0, 0.0, 0.0],
            "on_grid": [True, True, False],
        }
    )
    found = catchment_findings(table)
    assert [f.subject_id for f in found] == ["A", "C"]
    assert "nearer" in found[0].message and "not on the grid" in found[1].message
    assert all(f.severity == "warning" and f.service == "health" for f in found)


def test_osm_free_scenario_is_unchanged(tmp_path: Path) -> None:
    region = load_region(load_scenario(write_tiny_region(tmp_path)))
    assert [f for f in region.findings if f.subject == "facility"] == []
    assert list(region.facilities["health"]["facility_id"]) == ["C1", "C2"]
    assert region.grid.cols == SIZE


@pytest.mark.realdata
def test_comoros_duplicated_hospital_is_merged(comoros: Path) -> None:
    if not comoros.exists():
        pytest.skip("no Comoros data")
    scn = load_scenario(Path(__file__).parents[1] / "scenarios" / "comoros.toml")
    region = load_region(scn)
    merged = [
        f
        for f in region.findings
        if f.check == "duplicate_facility_merged" and f.service == "health"
    ]
    pairs = {f.subject_id: f.message for f in merged}
    # the Iranian Red Crescent polyclinic: a point and its building 6 m apart
    assert "n2716272375" in pairs and "w549124680" in pairs["n2716272375"]
    assert len(merged) == 8
    ids = set(region.facilities["health"]["facility_id"])
    assert "n2716272375" in ids and "w549124680" not in ids
    assert len(ids) == 45 - 8
    unnamed = [f for f in region.findings if f.check == "facility_without_name"]
    assert sum(f.service == "health" for f in unnamed) < 23
