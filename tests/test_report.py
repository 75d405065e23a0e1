"""Regional reports: headline numbers traced to the coverage table, both languages, escaping of
names from the inputs, a PDF that fetches nothing from outside, and byte-identical HTML."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reach.errors import InputError, RefusedURLError
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.outputs import report as report_mod
from reach.outputs.i18n import REASON_EXPLANATIONS, get_locale, messages
from reach.outputs.report import (
    fetch_report_resource,
    licence_key,
    render_report_html,
    report_url_fetcher,
    write_report,
    write_report_pdf,
)
from reach.results import RunResult
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario

DATE = "2025-05-12"
SCRIPT_NAME = "<script>alert(1)</script> <b>x</b>"
IMG_NAME = '<img src="http://example.invalid/x.png"> <img src="file:///etc/passwd">'


def _weasyprint_or_skip() -> None:
    """Skip (with the reason) only when WeasyPrint cannot load its system libraries."""
    try:
        import weasyprint  # noqa: F401
    except OSError as exc:  # Pango / HarfBuzz missing
        pytest.skip(f"WeasyPrint cannot load its system libraries (install Pango): {exc}")


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return text.replace("\u00a0", " ")


def _worst_cell_lon_lat(run: RunResult, service: str) -> tuple[float, float]:
    """Longitude / latitude of the populated cell farthest from the service (or cut off)."""
    people = run.population.people.ravel()
    t = run.services[service].search.time_min
    score = np.where(np.isfinite(t), t, 1e9)
    score = np.where(people > 0, score, -1.0)
    cell = int(np.argmax(score))
    x, y = run.grid.cell_centres(np.array([cell]))
    return float(x[0]), float(y[0])


@pytest.fixture(scope="module")
def scenario_set(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The demo region with hostile zone names and three options, run and written."""
    from reach.demo import demo_scenario_toml, generate_demo

    root = tmp_path_factory.mktemp("report")
    files = generate_demo(root / "inputs", size_cells=40_000, seed=3)
    zones = json.loads(files.boundaries_geojson.read_text("utf-8"))
    zones["features"][0]["properties"]["name"] = SCRIPT_NAME
    zones["features"][1]["properties"]["name"] = IMG_NAME
    files.boundaries_geojson.write_text(json.dumps(zones), "utf-8")
    toml = demo_scenario_toml(files, relative_to=root / "inputs")
    path = root / "inputs" / "demo.toml"
    path.write_text(toml, "utf-8")
    lon, lat = _worst_cell_lon_lat(run_scenario(load_scenario(path), write=False), "health")
    new_post = (
        '{ op = "add_facility", service = "health", facility_id = "NEW1", '
        f'name = "Puskesmas Baru", lon = {lon}, lat = {lat}, tier = "health_centre", '
        "capacity = 20000 }"
    )
    path.write_text(
        toml
        + f"""
[[alternatives]]
name = "new_puskesmas"
description = "A puskesmas where access is worst <b>x</b>"
cost = 250000
operations = [{new_post}]

[[alternatives]]
name = "close_pustu"
operations = [{{ op = "close_facility", service = "health", facility_id = "H005" }}]

[[alternatives]]
name = "few_bikes"
operations = [{{ op = "vehicle_availability", service = "health", share = 0.4 }}]
""",
        "utf-8",
    )
    return run_scenario(load_scenario(path), out_dir=root / "results")


@pytest.fixture(scope="module")
def baseline_only(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The plain demo: no options."""
    from reach.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo") / "demo", size_cells=40_000, seed=3)


@pytest.fixture(scope="module")
def english(scenario_set: RunResult, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    _weasyprint_or_skip()
    return write_report(scenario_set, tmp_path_factory.mktemp("en"), lang="en", title_date=DATE)


@pytest.fixture(scope="module")
def indonesian(scenario_set: RunResult, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    _weasyprint_or_skip()
    return write_report(scenario_set, tmp_path_factory.mktemp("id"), lang="id", title_date=DATE)


#: The only elements a report contains.
_REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "p", "h1", "h2", "h3", "section",
    "table", "caption", "thead", "tbody", "tr", "th", "td", "ul", "li", "div", "figure", "img",
    "figcaption", "span", "dl", "dt", "dd",
}  # fmt: skip


def _tags(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every start tag of ``html`` with its attributes (as a browser would parse them)."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, [(k, v or "") for k, v in attrs]))

    Collector().feed(html)
    return found


def _all_row(run: RunResult, service: str) -> pd.Series:
    cov = run.coverage
    return cov[(cov["service"] == service) & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]


# --------------------------------------------------------------------------------------------
# content


def test_english_pdf_carries_the_headline_numbers_of_the_coverage_table(
    scenario_set: RunResult, english: list[Path]
) -> None:
    _, pdf_path = english
    assert [p.name for p in english] == ["report_en.html", "report_en.pdf"]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf_path)
    for svc in scenario_set.services:
        row = _all_row(scenario_set, svc)
        for th in (30, 60, 120):
            assert f"{row[f'pct_within_{th}min']:.1f}%" in text, (svc, th)
        assert f"{row['population']:,.0f}" in text
        left = row["reached_beyond_120min"] + row["unreachable_total"]
        assert f"{left:,.0f} ({100 * left / row['population']:.1f}%)" in text
        assert f"{svc}: {row['pct_within_60min']:.1f}% of the target population" in text
    # the best option per service is rank 1 of the ranking table, with its net gain
    ranking = scenario_set.ranking
    assert ranking is not None
    best = ranking[(ranking["service"] == "health") & (ranking["rank"] == 1)].iloc[0]
    if best["net_newly_covered"] > 0 and abs(best["pct_points"]) >= 0.1:
        assert (
            f"health: {best['alternative']} brings {best['net_newly_covered']:,.0f} more people "
            "within 60 min" in text
        )
    elif best["net_newly_covered"] > 0:  # a handful of people: not a headline
        assert (
            f"the best, {best['alternative']}, adds {best['net_newly_covered']:,.0f})"
            in " ".join(text.split())
        )
    assert "primary_school: no option brings more people within 60 min." in text
    for title in ("Summary", "Coverage curves", "Comparing the options", "Zones", "Data sources"):
        assert title in text
    assert "Unreachable people by reason" in text and "No route" in text
    assert "12 May 2025" in text
    assert "OpenStreetMap contributors, ODbL" in text  # roads.osm
    assert "unknown — check the source" in text  # the generated demo files


def test_indonesian_report_uses_indonesian_labels_and_number_formats(
    scenario_set: RunResult, indonesian: list[Path]
) -> None:
    html_path, pdf_path = indonesian
    assert html_path.name == "report_id.html"
    html = html_path.read_text("utf-8")
    assert '<html lang="id">' in html
    text = _pdf_text(pdf_path)
    for label in (
        "Ringkasan", "Cakupan", "Penduduk sasaran", "Belum terjangkau", "Kurva cakupan",
        "Perbandingan opsi", "Wilayah", "tidak terjangkau", "Sumber data", "Metode",
        "Kondisi saat ini", "12 Mei 2025", "menit", "puskesmas",
    ):  # fmt: skip
        assert label in text, label
    for english_label in ("Summary", "Coverage curves", "Left behind", "Data sources"):
        assert english_label not in text
    row = _all_row(scenario_set, "health")
    for th in (30, 60, 120):
        assert f"{row[f'pct_within_{th}min']:.1f}".replace(".", ",") + "%" in text
    people = f"{row['population']:,.0f}".replace(",", ".")
    assert "." in people and people in text  # thousands separator is a dot
    assert re.search(r"\d,\d%", text)
    assert not re.search(r"\d\.\d%", text)


def test_names_from_the_inputs_are_text_never_markup(
    scenario_set: RunResult, english: list[Path]
) -> None:
    html_path, pdf_path = english
    html = html_path.read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;x&lt;/b&gt;" in html
    assert "<script" not in html and "<b>" not in html
    tags = _tags(html)
    assert {name for name, _ in tags} <= _REPORT_TAGS
    addresses = [v for _, attrs in tags for k, v in attrs if k in {"src", "href"}]
    assert addresses and all(v.startswith("data:image/png;base64,") for v in addresses)
    text = _pdf_text(pdf_path)  # literal text in the PDF
    assert SCRIPT_NAME in text
    assert '<img src="http://example.invalid/x.png">' in text
    assert "A puskesmas where access is worst <b>x</b>" in text


def test_the_pdf_fetches_only_its_own_data_uris(
    scenario_set: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _weasyprint_or_skip()
    asked: list[str] = []
    real = report_mod.fetch_report_resource

    def recording(url: str, *, roots: Any) -> tuple[bytes, str]:
        asked.append(url)
        return real(url, roots=roots)

    monkeypatch.setattr(report_mod, "fetch_report_resource", recording)
    write_report(scenario_set, tmp_path, lang="en", title_date=DATE)
    assert asked, "the charts and maps are fetched through the report's fetcher"
    assert all(url.startswith("data:image/png;base64,") for url in asked)


def test_an_outside_reference_in_the_html_is_refused_not_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _weasyprint_or_skip()
    asked: list[str] = []
    refused: list[str] = []
    real = report_mod.fetch_report_resource

    def recording(url: str, *, roots: Any) -> tuple[bytes, str]:
        asked.append(url)
        try:
            return real(url, roots=roots)
        except RefusedURLError:
            refused.append(url)
            raise

    monkeypatch.setattr(report_mod, "fetch_report_resource", recording)
    html = (
        '<html><head><link rel="stylesheet" href="https://example.invalid/s.css"></head><body>'
        '<img src="http://example.invalid/x.png"><img src="file:///etc/passwd">'
        '<img src="../outside.png"><p>text</p></body></html>'
    )
    (tmp_path / "outside.png").write_bytes(b"not used")
    folder = tmp_path / "report"
    folder.mkdir()
    pdf = write_report_pdf(html, folder / "x.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert set(asked) == set(refused)
    assert len(refused) == 4


def test_url_fetcher_serves_only_data_uris_and_files_of_the_report(tmp_path: Path) -> None:
    _weasyprint_or_skip()
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "chart.png").write_bytes(b"\x89PNG fake")
    (folder / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "secret.txt").write_text("secret")
    fetcher = report_url_fetcher(folder)
    for url in (
        "http://example.invalid/x.png",
        "https://example.invalid/x.png",
        "ftp://example.invalid/x.png",
        "file:///etc/passwd",
        f"{tmp_path.as_uri()}/secret.txt",
        f"{folder.as_uri()}/../secret.txt",
        f"{folder.as_uri()}/link.txt",
        f"{folder.as_uri()}/missing.png",
        "file://otherhost/etc/passwd",
        "javascript:alert(1)",
        "data:image/png;base64,@@@",
    ):
        with pytest.raises(RefusedURLError):
            fetcher(url)
    png = base64.b64encode(b"\x89PNG data").decode()
    assert fetch_report_resource(f"data:image/png;base64,{png}", roots=[folder]) == (
        b"\x89PNG data",
        "image/png",
    )
    data, mime = fetch_report_resource(f"{folder.as_uri()}/chart.png", roots=[folder])
    assert data == b"\x89PNG fake" and mime == "image/png"
    response = fetcher(f"{folder.as_uri()}/chart.png")
    body = response["string"] if isinstance(response, dict) else response.read()
    assert body == b"\x89PNG fake"


def test_html_is_byte_identical_for_the_same_run(scenario_set: RunResult, tmp_path: Path) -> None:
    a = write_report(scenario_set, tmp_path / "a", lang="id", pdf=False, title_date=DATE)
    b = write_report(scenario_set, tmp_path / "b", lang="id", pdf=False, title_date=DATE)
    assert [p.name for p in a] == ["report_id.html"]
    assert a[0].read_bytes() == b[0].read_bytes()
    # written atomically: no temporary file is left beside the report
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["report_id.html"]


def test_images_are_small_embedded_pngs(scenario_set: RunResult) -> None:
    html = render_report_html(scenario_set, lang="en", title_date=DATE)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # a coverage curve and a map of the whole region per service, whatever the zones
    assert len(images) == 2 * len(scenario_set.services)
    for b64 in images:
        data = base64.b64decode(b64)
        assert data.startswith(b"\x89PNG")
        assert len(data) < 150_000
        assert b"tEXt" not in data and b"iTXt" not in data  # no metadata chunks
    no_maps = render_report_html(scenario_set, lang="en", title_date=DATE, zone_maps=False)
    assert len(re.findall(r"data:image/png", no_maps)) == len(scenario_set.services)


def test_report_of_a_run_without_options(baseline_only: RunResult, tmp_path: Path) -> None:
    _weasyprint_or_skip()
    html_path, pdf_path = write_report(baseline_only, tmp_path, lang="en", title_date=DATE)
    html = html_path.read_text("utf-8")
    assert 'id="comparison"' not in html
    text = _pdf_text(pdf_path)
    assert "This run has no options" in text
    row = _all_row(baseline_only, "primary_school")
    assert f"{row['pct_within_30min']:.1f}%" in text


def test_coverage_curve_meets_the_coverage_table_at_each_threshold(
    scenario_set: RunResult,
) -> None:
    people = scenario_set.population.people.ravel()
    keep = np.flatnonzero(people > 0)
    for svc, res in scenario_set.services.items():
        minutes = np.array([30.0, 60.0, 120.0])
        curve = report_mod.coverage_curve(res.access, keep, people[keep], minutes)
        row = _all_row(scenario_set, svc)
        expected = [row[f"pct_within_{t:g}min"] for t in minutes]
        np.testing.assert_allclose(curve, expected, rtol=1e-9)


def test_unknown_language_is_a_one_line_input_error(scenario_set: RunResult) -> None:
    with pytest.raises(InputError) as info:
        render_report_html(scenario_set, lang="de")
    message = str(info.value)
    assert "'de'" in message and "en (English)" in message and "fr (Français)" in message
    assert "\n" not in message


# --------------------------------------------------------------------------------------------
# formats, messages, licences


def test_number_formats_per_language() -> None:
    en, ind = get_locale("en"), get_locale("id")
    assert en.number(12345.64, 1) == "12,345.6"
    assert ind.number(12345.64, 1) == "12.345,6"
    assert en.pct(84.66) == "84.7%"
    assert ind.pct(84.66) == "84,7%"  # CLDR's Indonesian percent: no space
    assert en.minutes(502.7, 1) == "8\u00a0h\u00a023\u00a0min"
    assert ind.minutes(502.7, 1) == "8\u00a0jam\u00a023\u00a0menit"
    assert ind.minutes(119.4, 1) == "119,4\u00a0menit"
    assert en.number(-1234.4, 0) == "-1,234" and ind.number(-1234.4, 0) == "-1.234"
    assert en.number(0.4, 1, signed=True) == "+0.4" and en.number(-0.04, 1) == "0.0"
    assert en.number(float("nan")) == "–" and ind.pct(None) == "–"
    assert en.minutes(30) == "30\u00a0min" and ind.minutes(7.5, 1) == "7,5\u00a0menit"
    assert ind.threshold(7.5) == "7,5\u00a0menit"
    assert ind.date("2025-08-17") == "17 Agustus 2025" and en.date("not a date") == "not a date"
    assert ind.join(["a", "b", "c"]) == "a, b dan c"


def test_every_message_exists_in_both_languages() -> None:
    eng, ind = messages("en"), messages("id")
    assert eng.keys() == ind.keys()
    for key, text in ind.items():
        assert text.strip(), key
        assert set(re.findall(r"{(\w+)}", eng[key])) == set(re.findall(r"{(\w+)}", text)), key
    for label in REASON_EXPLANATIONS:
        assert ind[f"explain.{label}"]
        assert ind[f"reason.{label}"]
    assert ind["unreachable"] == "Tidak terjangkau"
    assert ind["tier.health_centre"] == "puskesmas"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("comoros/com_ppp_2020_UNadj.tif", "worldpop"),
        ("comoros/comores-latest.osm.pbf", "osm"),
        ("comoros/roads_osm.gpkg", "osm"),
        ("comoros/health_points_from_osm.geojson", "osm"),
        ("comoros/srtm/S12E043.SRTMGL1.hgt.zip", "srtm"),
        ("comoros/landcover_cglc/landcover_Tree.tif", "copernicus"),
        ("comoros/admin_gadm_adm1.gpkg", "gadm"),
        ("malawi/population.tif", "unknown"),
        ("x/cosmos.tif", "unknown"),
    ],
)
def test_licence_is_detected_from_the_file_name(name: str, key: str) -> None:
    assert licence_key(Path("/data") / name) == key


def test_a_negligible_best_option_is_not_a_headline(scenario_set: RunResult) -> None:
    """An option worth a handful of people is said to change nothing, with its figure."""
    import dataclasses

    assert scenario_set.ranking is not None
    tiny = scenario_set.ranking.copy()
    tiny["pct_points"] = 0.01
    html = render_report_html(
        dataclasses.replace(scenario_set, ranking=tiny), lang="en", title_date=DATE,
        zone_maps=False,
    )  # fmt: skip
    assert "by as much as 0.1 percentage points" in html
    big = scenario_set.ranking.copy()
    big["pct_points"] = 5.0
    normal = render_report_html(
        dataclasses.replace(scenario_set, ranking=big), lang="en", title_date=DATE,
        zone_maps=False,
    )  # fmt: skip
    assert "by as much as 0.1 percentage points" not in normal
    assert "+5.0 percentage points" in normal
    assert "poin persentase" in get_locale("id").t("pp", value="+1,0")


def test_one_site_added_to_two_services_is_one_new_facility() -> None:
    from reach.outputs.report import change_counts
    from reach.spec import Alternative

    alt = Alternative.model_validate(
        {
            "name": "hc",
            "operations": [
                {"op": "add_facility", "service": s, "facility_id": f"HC-{s}", "lon": 44.4,
                 "lat": -12.2, "tier": "health_centre"}
                for s in ("health", "health_walk")
            ]
            + [{"op": "add_facility", "service": "health", "facility_id": "P2", "lon": 44.5,
                "lat": -12.3, "tier": "health_post"}],
        }
    )  # fmt: skip
    assert change_counts(alt.operations) == {"add_facility": 2}


def test_display_names_in_each_language_replace_the_code_names(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reach.cli import app
    from tests.helpers import write_tiny_region

    scenario = write_tiny_region(tmp_path)
    text = scenario.read_text().replace(
        'name = "health"\n',
        'name = "health"\nlabel = { en = "Health care by motorbike", id = "Layanan kesehatan" }\n',
        1,
    )
    scenario.write_text(text)
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        app, ["--quiet", "report", str(scenario), "--lang", "en", "--lang", "id", "--no-pdf",
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    english = (out / "report_en.html").read_text()
    indonesian = (out / "report_id.html").read_text()
    assert "Health care by motorbike" in english and "Layanan kesehatan" not in english
    assert "Layanan kesehatan" in indonesian


# --------------------------------------------------------------------------------------------
# compact zone tables, investments apart from stress tests, costs in a currency (issue 20)


def _section(html: str, section_id: str) -> str:
    """The HTML of one ``<section id=…>`` of the report (empty when it has none)."""
    match = re.search(rf'<section id="{section_id}">(.*?)\n</section>', html, re.DOTALL)
    return match.group(1) if match else ""


def _left_behind(run: RunResult, service: str) -> pd.Series:
    cov = run.coverage
    rows = cov[(cov["service"] == service) & ~cov["zone_id"].isin([ALL_ZONES_ID, OUTSIDE_ZONES_ID])]
    return (rows["reached_beyond_120min"] + rows["unreachable_total"]).set_axis(rows["zone_name"])


def test_zones_are_rows_worst_first_with_every_zone_in_the_annex(
    scenario_set: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_mod, "WORST_ZONES", 2)
    html = render_report_html(scenario_set, lang="en", title_date=DATE, zone_maps=False)
    zones, annex = _section(html, "zones"), _section(html, "annex")
    left = _left_behind(scenario_set, "health")
    assert len(left) > 2
    worst = left.sort_values(ascending=False, kind="stable")
    # the health table lists the two zones with the most people left behind, most first
    health = zones.split("health: the zones with the most people left behind")[1]
    health = health.split("</table>")[0]
    names = re.findall(r'<td class="num">\d+</td>\s*<td>(.*?)</td>', health)
    assert len(names) == 2
    assert names == [html_escape(n) for n in worst.index[:2]]
    assert f"The 2 of {len(scenario_set.zones)} zones with the most people left behind" in zones
    assert "Every zone is in the annex and in coverage.csv." in zones
    # the annex: every zone once per service, header rows repeated on every page
    assert "Annex: every zone" in annex
    for name in left.index:
        assert annex.count(f"<td>{html_escape(name)}</td>") == len(scenario_set.services), name
    assert "thead { display: table-header-group; }" in html
    # with few zones the section lists them all and there is no annex
    monkeypatch.undo()
    assert 'id="annex"' not in render_report_html(scenario_set, lang="en", zone_maps=False)


def html_escape(text: str) -> str:
    """``text`` as the template writes it (Jinja2's autoescaping)."""
    import markupsafe

    return str(markupsafe.escape(text))


def test_stress_tests_are_shown_apart_as_losses_never_as_best_option(
    scenario_set: RunResult,
) -> None:
    import dataclasses

    kinds = {a.name: a.resolved_kind for a in scenario_set.scenario.alternatives}
    assert kinds == {"new_puskesmas": "investment", "close_pustu": "stress_test",
                     "few_bikes": "stress_test"}  # fmt: skip
    assert scenario_set.ranking is not None
    # even a stress test that would top the ranking (here made to) is never the best option
    rigged = scenario_set.ranking.copy()
    stress = rigged["alternative"] == "few_bikes"
    rigged.loc[stress, "net_newly_covered"] = 1e9
    rigged.loc[stress, "rank"] = 1
    html = render_report_html(
        dataclasses.replace(scenario_set, ranking=rigged), lang="en", title_date=DATE,
        zone_maps=False,
    )  # fmt: skip
    summary = _section(html, "summary")
    best = summary.split("Best option per service")[1].split("How robust is access")[0]
    assert "few_bikes" not in best and "close_pustu" not in best
    html = render_report_html(scenario_set, lang="en", title_date=DATE, zone_maps=False)
    comparison, robust = _section(html, "comparison"), _section(html, "robustness")
    assert "new_puskesmas" in comparison
    assert "few_bikes" not in comparison and "close_pustu" not in comparison
    assert "few_bikes" in robust and "close_pustu" in robust and "new_puskesmas" not in robust
    # each stress test's loss is the ranking's net change, with the sign turned
    ranking = scenario_set.ranking
    row = ranking[(ranking["service"] == "health") & (ranking["alternative"] == "few_bikes")]
    loss = -float(row["net_newly_covered"].iloc[0])
    assert loss > 0
    assert f'<td class="num strong">{loss:,.0f}</td>' in robust
    assert "health: few_bikes would leave" in summary or "health: close_pustu would leave" in (
        summary
    )
    assert "How robust is access" in summary


@pytest.mark.parametrize(
    ("value", "currency", "lang", "text"),
    [
        (1_500_000_000, "IDR", "id", "Rp\u00a01.500.000.000"),
        (1_500_000_000, "IDR", "en", "IDR\u00a01,500,000,000"),
        (400_000, "USD", "en", "$400,000"),
        (400_000, "USD", "id", "US$400.000"),
        (1234.6, "KMF", "en", "KMF\u00a01,235"),
        (None, "IDR", "id", "–"),
    ],
)
def test_money_is_a_whole_amount_in_the_languages_currency_format(
    value: float | None, currency: str, lang: str, text: str
) -> None:
    from reach.outputs.report import format_money

    assert format_money(value, currency, lang=lang) == text


def test_gain_per_cost_counts_per_a_power_of_a_thousand_near_the_costs() -> None:
    from reach.outputs.report import cost_unit

    assert cost_unit([150_000, 6_000_000]) == 1000
    assert cost_unit([1.5e9, 4e9]) == 1_000_000
    assert cost_unit([50]) == 1 and cost_unit([]) == 1000 and cost_unit([0]) == 1000


def test_costs_carry_the_scenarios_currency_or_say_there_is_none(
    scenario_set: RunResult,
) -> None:
    import dataclasses

    plain = render_report_html(scenario_set, lang="en", title_date=DATE, zone_maps=False)
    comparison = _section(plain, "comparison")
    assert "Cost (no currency given)" in comparison and "250,000" in comparison
    assert "Newly covered per 1,000 of cost" in comparison
    scn = scenario_set.scenario
    rupiah = scn.model_copy(
        update={"scenario": scn.scenario.model_copy(update={"currency": "IDR"})}
    )
    run = dataclasses.replace(scenario_set, scenario=rupiah)
    indonesian = _section(render_report_html(run, lang="id", zone_maps=False), "comparison")
    assert "Rp\u00a0250.000" in indonesian and "(tanpa mata uang)" not in indonesian
    assert "Tambahan terjangkau per Rp\u00a01.000" in indonesian
    assert "Biaya dalam Rupiah Indonesia (IDR)" in indonesian
    english = _section(render_report_html(run, lang="en", zone_maps=False), "comparison")
    assert "IDR\u00a0250,000" in english and "Newly covered per IDR\u00a01,000" in english


def test_indonesian_wording_is_consistent() -> None:
    ind, eng = messages("id"), messages("en")
    # "reached only beyond the threshold" is not "newly reached"
    assert "baru terjangkau" not in ind["method_counted"]
    assert "hanya terjangkau dengan waktu melebihi ambang" in ind["method_counted"]
    for key, text in ind.items():
        assert "tertinggal" not in text.lower(), key  # the official "underdeveloped" label
        if "percentage point" in eng[key]:
            assert "poin persentase" in text, key
        if "left behind" in eng[key].lower():
            assert "belum terjangkau" in text.lower(), key


def test_coverage_curves_name_the_options_by_their_display_names(tmp_path: Path) -> None:
    """The curves' legend and their "not drawn" note name options as the tables do."""
    from tests.helpers import write_tiny_set

    scenario = write_tiny_set(tmp_path)
    scenario.write_text(
        scenario.read_text().replace(
            'name = "tele"\n', 'name = "tele"\nlabel = { en = "Telehealth pilot" }\n', 1
        )
    )
    run = run_scenario(load_scenario(scenario), write=False)
    curves = _section(render_report_html(run, lang="en", zone_maps=False), "curves")
    assert "Telehealth pilot" in curves  # telemedicine moves no physical travel time
    assert not re.search(r"[:,] tele\b", curves)


def test_zones_furthest_behind_say_how_people_travel_from_there(
    scenario_set: RunResult, tmp_path: Path
) -> None:
    from reach.outputs.report import render_report_html
    from reach.schema import ZONE_ORIGIN_PREFIX

    routes = scenario_set.routes
    assert routes is not None
    cov = scenario_set.coverage.set_index(["service", "zone_id"])
    zone_ids = [
        z
        for z in scenario_set.zones["zone_id"].astype(str)
        if float(cov.loc[("health", z), "population"]) > 0
    ]
    assert {ZONE_ORIGIN_PREFIX + z for z in zone_ids} <= set(routes.origins["origin_id"])
    # the representative cell's time is the zone's people-weighted median time
    health = routes.origins[routes.origins["service"] == "health"].set_index("origin_id")
    for zone_id in zone_ids:
        median = float(cov.loc[("health", zone_id), "median_time_min"])
        got = float(health.loc[ZONE_ORIGIN_PREFIX + zone_id, "travel_time_min"])
        assert abs(got - median) <= max(2.0, 0.1 * median)
    for lang, words in (
        ("en", ("How people travel from here", "walk", "in all")),
        ("id", ("Cara orang bepergian dari sini", "jalan kaki", "seluruhnya")),
        ("fr", ("Comment on se déplace depuis ici", "à pied", "au total")),
    ):
        text = render_report_html(scenario_set, lang=lang, title_date=DATE, zone_maps=False)
        assert all(w in text for w in words), lang
        assert "tertinggal" not in text
        lines = re.findall(r'<ul class="travel-lines">(.*?)</ul>', text, re.S)
        assert lines and all("<li>1. " in block for block in lines)
        # zone names stay text in the lines too
        assert "<script>" not in text.split('class="travel-lines"', 1)[1]
