"""Indonesian office files read out of the box: `;` CSV with decimal commas, xlsx, `lintang` /
`bujur`, kinds and tiers from Indonesian names, Kemendagri codes with or without dots (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reach.errors import InputError
from reach.ingest.conventions import (
    education_tier_from_text,
    health_tier_from_text,
    parse_number,
    zone_code_key,
)
from reach.ingest.facilities import read_facilities
from reach.ingest.zone_totals import match_zone_codes, read_zone_totals

# As Excel writes a CSV where the comma is the decimal mark (Indonesian locale).
SEMICOLON_CSV = """nama;jenis;bujur;lintang;kapasitas
Kawangu;PUSKESMAS;120,356514;-9,722137;1.250,5
RSUD Umbu Rara Meha;RUMAH SAKIT;120,2582;-9,6523;120
Pustu Kambajawa;PUSTU;120,2475;-9,6655;
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    fac = read_facilities(
        write(tmp_path / "faskes.csv", SEMICOLON_CSV),
        service="health",
        capacity_column="kapasitas",
    )
    assert fac["name"].tolist() == ["Kawangu", "RSUD Umbu Rara Meha", "Pustu Kambajawa"]
    assert fac.geometry.x.tolist() == pytest.approx([120.356514, 120.2582, 120.2475])
    assert fac.geometry.y.tolist() == pytest.approx([-9.722137, -9.6523, -9.6655])
    assert fac["capacity"].tolist()[:2] == [1250.5, 120.0]
    assert fac["tier"].tolist() == ["health_centre", "hospital", "clinic"]


def test_comma_csv_keeps_thousands_ambiguity_out() -> None:
    assert parse_number("122,2170", decimal_comma=True) == pytest.approx(122.217)
    assert parse_number("-9,65", decimal_comma=False) == pytest.approx(-9.65)
    # in a comma-separated file "1,250" may be a thousands group: not read as 1.25
    assert parse_number("1,250", decimal_comma=False) != pytest.approx(1.25)
    assert parse_number("1.250,5", decimal_comma=True) == pytest.approx(1250.5)
    assert parse_number(".8476", decimal_comma=False) == pytest.approx(0.8476)


def test_xlsx_facility_list_first_sheet_and_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "sekolah.xlsx"
    schools = pd.DataFrame(
        {
            "npsn": ["50303811", "69947784", "50300001"],
            "nama": ["SMA Katolik Anda Luri", "MTs Negeri Waingapu", "SD Inpres Hambala"],
            "lintang": [-9.652848, -9.6751, -9.6519],
            "bujur": ["120,2676", "119,1145", "120,2540"],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        pd.DataFrame({"catatan": ["lembar kosong"]}).to_excel(book, sheet_name="info", index=False)
        schools.to_excel(book, sheet_name="SMA", index=False)
        schools.head(1).to_excel(book, sheet_name="first_only", index=False)
    with pytest.raises(InputError, match="no longitude column"):
        read_facilities(path, service="education")  # the first sheet is the notes
    fac = read_facilities(path, service="education", layer="SMA")
    assert fac["facility_id"].tolist() == ["50303811", "69947784", "50300001"]  # npsn
    assert fac["tier"].tolist() == ["upper_secondary", "lower_secondary", "primary"]
    assert fac.geometry.x.tolist() == pytest.approx([120.2676, 119.1145, 120.254])
    assert fac.geometry.y.tolist() == pytest.approx([-9.652848, -9.6751, -9.6519])


def test_lintang_bujur_and_x_y_found(tmp_path: Path) -> None:
    fac = read_facilities(
        write(tmp_path / "a.csv", "nama,lintang,bujur\nPuskesmas A,-9.6,120.2\n"),
        service="health",
    )
    assert (fac.geometry.x.iloc[0], fac.geometry.y.iloc[0]) == (120.2, -9.6)
    assert fac["name"].iloc[0] == "Puskesmas A"
    fac = read_facilities(write(tmp_path / "b.csv", "name,x,y\nA,120.2,-9.6\n"), service="health")
    assert (fac.geometry.x.iloc[0], fac.geometry.y.iloc[0]) == (120.2, -9.6)


@pytest.mark.parametrize(
    ("name", "tier"),
    [
        ("Puskesmas Kawangu", "health_centre"),
        ("PUSKESMAS RAWAT INAP LEWA", "health_centre"),
        ("RSUD Umbu Rara Meha", "hospital"),
        ("RS Karitas Weetabula", "hospital"),
        ("Rumah Sakit Kristen Lindimara", "hospital"),
        ("Pustu Kambajawa", "clinic"),
        ("Puskesmas Pembantu Hambala", "clinic"),
        ("Klinik Pratama Sumba", "clinic"),
        ("Polindes Matawai", "health_post"),
        ("Poskesdes Prailiu", "health_post"),
        ("Toko Obat", None),
    ],
)
def test_health_tiers_from_names(name: str, tier: str | None) -> None:
    assert health_tier_from_text(name) == tier


@pytest.mark.parametrize(
    ("name", "tier"),
    [
        ("SD Inpres Hambala", "primary"),
        ("MI Nurul Huda", "primary"),
        ("SMP Negeri 1 Waingapu", "lower_secondary"),
        ("MTs Negeri Waingapu", "lower_secondary"),
        ("SMK Negeri 1 Waingapu", "upper_secondary"),
        ("SMAS Seminari Sinar Buana", "upper_secondary"),
        ("MA Al-Ikhlas", "upper_secondary"),
        ("Sekolah Tinggi Teologi", None),
    ],
)
def test_education_tiers_from_names(name: str, tier: str | None) -> None:
    assert education_tier_from_text(name) == tier


def test_tiers_without_a_tier_map_from_kind_column_then_name(tmp_path: Path) -> None:
    csv = (
        "kode_faskes,jenis_faskes,nama_faskes,lat,lon\n"
        "P5302060201,PUSKESMAS,KAWANGU,-9.72,120.35\n"
        "R5302001,RUMAH SAKIT,UMBU RARA MEHA,-9.65,120.26\n"
        "X1,,Polindes Matawai,-9.66,120.26\n"
    )
    fac = read_facilities(write(tmp_path / "faskes.csv", csv), service="health")
    assert fac["tier"].tolist() == ["health_centre", "hospital", "health_post"]
    assert fac["facility_id"].tolist() == ["P5302060201", "R5302001", "X1"]
    assert fac["name"].tolist() == ["KAWANGU", "UMBU RARA MEHA", "Polindes Matawai"]
    schools = "nama,jenjang,lat,lon\nSDN 1,SD,-9.6,120.2\nMTs 2,mts,-9.6,120.3\nX,SMK,-9.6,120.4\n"
    fac = read_facilities(write(tmp_path / "s.csv", schools), service="education")
    assert fac["tier"].tolist() == ["primary", "lower_secondary", "upper_secondary"]


def test_explicit_tier_column_reads_indonesian_kinds(tmp_path: Path) -> None:
    csv = "nama,tipe,lat,lon\nA,Puskesmas,-9.6,120.2\nB,RSUD,-9.6,120.3\n"
    fac = read_facilities(write(tmp_path / "f.csv", csv), service="health", tier_column="tipe")
    assert fac["tier"].tolist() == ["health_centre", "hospital"]


def test_explicit_tier_map_wins(tmp_path: Path) -> None:
    csv = "nama,tipe,lat,lon\nPuskesmas A,Puskesmas,-9.6,120.2\nRSUD B,RSUD,-9.6,120.3\n"
    path = write(tmp_path / "f.csv", csv)
    fac = read_facilities(
        path,
        service="health",
        tier_column="tipe",
        tier_map={"Puskesmas": "clinic", "RSUD": "health_centre"},
    )
    assert fac["tier"].tolist() == ["clinic", "health_centre"]
    # without tier_column, the map applies to the kind column before the vocabulary
    fac = read_facilities(path, service="health", tier_map={"Puskesmas": "clinic"})
    assert fac["tier"].tolist() == ["clinic", "hospital"]
    # with a map and a tier column, an unmapped value is refused, not guessed
    with pytest.raises(InputError, match="have no tier: 'RSUD'"):
        read_facilities(
            path, service="health", tier_column="tipe", tier_map={"Puskesmas": "clinic"}
        )


def test_bad_xlsx_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "faskes.xlsx"
    path.write_bytes(b"this is not a workbook\n")
    with pytest.raises(InputError) as err:
        read_facilities(path, service="health")
    text = str(err.value)
    assert "\n" not in text
    assert "faskes.xlsx" in text and "xlsx workbook" in text and "save it again" in text


def test_missing_sheet_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "faskes.xlsx"
    pd.DataFrame({"nama": ["A"], "lat": [-9.6], "lon": [120.2]}).to_excel(path, index=False)
    with pytest.raises(InputError, match=r"no sheet 'Puskesmas' \(sheets: Sheet1\)") as err:
        read_facilities(path, service="health", layer="Puskesmas")
    assert "\n" not in str(err.value)


def test_zone_codes_with_or_without_dots(tmp_path: Path) -> None:
    assert zone_code_key("53.11") == zone_code_key("5311") == "5311"
    assert zone_code_key("Sumba Timur") is None
    zones = ["53.11", "53.12", "53.17"]
    assert match_zone_codes(["5311", "53.12", "x"], zones) == ["53.11", "53.12", "x"]
    table = write(tmp_path / "penduduk.csv", "kode;jumlah\n5311;277290\n5312;141760\n5317;92138\n")
    totals = read_zone_totals(table, zone_column="kode", total_column="jumlah", zone_ids=zones)
    assert totals == {"53.11": 277290.0, "53.12": 141760.0, "53.17": 92138.0}
