"""Regional reports: one HTML page and one A4 PDF per language (English, Bahasa Indonesia).

A report tells a district office, in plain language, who can reach each service and who cannot:

* a summary: the share of people within each threshold per service, the people left behind
  (beyond the largest threshold or unreachable) by zone, and the best option per service;
* coverage curves (share of people against minutes, one line per scenario);
* the comparison of the options (from ``run.comparison`` and ``run.ranking``);
* per zone, a table and a small travel-time map;
* unreachable people by reason, the data sources with dates and licences, and the method and
  its caveats.

Every number is taken from the run's tables and formatted for the language by
:mod:`reach.outputs.i18n`; the tables themselves (``coverage.csv``, ``comparison.csv``,
``ranking.csv``) hold the exact values. The HTML is rendered by Jinja2 with autoescaping on, so
names from the inputs (zones, facilities, options) are always text, never markup. Images are
embedded as ``data:`` URIs. WeasyPrint turns the same HTML into the PDF with a URL fetcher that
serves only ``data:`` URIs and files inside the report folder or the package's templates: it
refuses every other address, so a report never reads the network or other local files.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import mimetypes
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

import jinja2
import numpy as np
import pandas as pd
import shapely

from reach import __version__
from reach.errors import ReachError, RefusedURLError
from reach.findings import SEVERITIES, Finding
from reach.ingest.dates import data_date
from reach.metrics.coverage import ALL_ZONES_ID, OUTSIDE_ZONES_ID
from reach.outputs.i18n import Locale, get_locale
from reach.outputs.report_charts import CurveLine, MapPanel, coverage_curve_png, zone_map_png
from reach.outputs.write import atomic_file, file_sha256
from reach.schema import (
    delta_within_col,
    pct_alt_within_col,
    pct_base_within_col,
    pct_within_col,
    reached_beyond_col,
    within_col,
)

if TYPE_CHECKING:
    from reach.results import RunResult
    from reach.scenarios.compare import CellAccess
    from reach.spec import ScenarioSpec, ServiceSpec

__all__ = [
    "TEMPLATE_DIR",
    "change_counts",
    "coverage_curve",
    "fetch_report_resource",
    "licence_key",
    "render_report_html",
    "report_file_name",
    "report_url_fetcher",
    "write_report",
    "write_report_pdf",
]

#: The folder of the report's Jinja2 template and stylesheet.
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: Zones beyond this many get a table but no map (one small PNG per zone).
DEFAULT_MAX_ZONE_MAPS = 100
#: Zones listed on the summary page before the list is cut to the worst ones.
_SUMMARY_ZONES = 12
#: Options per column group in the wide comparison tables.
_OPTIONS_PER_TABLE = 4
#: A best option moving coverage by less than this (percentage points) is not a headline.
NEGLIGIBLE_PCT_POINTS = 0.1

#: Points along the x axis of a coverage curve.
_CURVE_POINTS = 181


# --------------------------------------------------------------------------------------------
# small helpers


def report_file_name(lang: str, suffix: str = "html") -> str:
    """``report_<lang>.<suffix>``.

    Parameters
    ----------
    lang
        The report's language code (``"en"`` or ``"id"``), used as it is.
    suffix
        The file type, without its dot: ``"html"`` or ``"pdf"``.

    Returns
    -------
    str
        The report's file name (without a folder).
    """
    return f"report_{lang}.{suffix}"


def _today() -> str:
    """Today's date (UTC), or that of ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.datetime.now(tz=dt.UTC).date().isoformat()


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _middle(thresholds: Sequence[float]) -> float:
    th = sorted(float(v) for v in thresholds)
    return th[len(th) // 2]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


#: A table row as a plain dict (column → value).
Row = dict[str, Any]


def _records(frame: pd.DataFrame) -> list[Row]:
    """The rows of ``frame`` as dicts, in order."""
    return [{str(k): v for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def _pick(rows: Sequence[Row], **match: object) -> list[Row]:
    """The rows whose columns equal every ``column=value`` given."""
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


@dataclass(frozen=True)
class _Cell:
    """A table cell: its text and whether it is a number (right-aligned)."""

    text: str
    num: bool = True
    strong: bool = False


@dataclass
class _Table:
    """A table for the template: header cells and rows of cells."""

    header: list[str]
    rows: list[list[_Cell]]
    caption: str = ""
    note: str = ""
    total_rows: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------------------------
# view model: everything the template shows, already formatted


class _View:
    """Builds the template's context from a run, for one language."""

    def __init__(self, run: RunResult, loc: Locale, *, max_zone_maps: int) -> None:
        self.run = run
        self.loc = loc
        self.max_zone_maps = max_zone_maps
        self.scn: ScenarioSpec = run.scenario
        self.specs: dict[str, ServiceSpec] = {s.spec.name: s.spec for s in run.services.values()}
        self.cov = run.baseline.coverage
        self.cov_rows = _records(self.cov)
        self.services = list(run.baseline.services)
        self.thresholds = sorted({float(v) for s in self.specs.values() for v in s.thresholds_min})
        self.reason_cols = [
            c for c in self.cov.columns if c.startswith("unreachable_") and c != "unreachable_total"
        ]
        self.ranges: dict[tuple[str, str, float], tuple[float, float]] = {}
        if run.sensitivity is not None:
            r = run.sensitivity.ranges
            for svc, zid, th, lo, hi in zip(
                r["service"], r["zone_id"], r["threshold_min"], r["pct_low"], r["pct_high"],
                strict=True,
            ):  # fmt: skip
                self.ranges[(str(svc), str(zid), float(th))] = (float(lo), float(hi))

    # -- labels ---------------------------------------------------------------------------

    def zone_label(self, zone_id: str, name: str) -> str:
        if zone_id == ALL_ZONES_ID:
            return self.loc.t("all_zones")
        if zone_id == OUTSIDE_ZONES_ID:
            return self.loc.t("outside_zones")
        return name

    def label(self, svc: str) -> str:
        """A service's display name in the report's language (``label`` in the scenario)."""
        spec = self.specs.get(svc)
        labels = spec.label if spec is not None else {}
        return labels.get(self.loc.lang) or labels.get("en") or svc

    def alt_label(self, name: str) -> str:
        """An alternative's display name in the report's language (its ``label``)."""
        for alt in self.scn.alternatives:
            if alt.name == name:
                return alt.label.get(self.loc.lang) or alt.label.get("en") or name
        return name

    def mode(self, svc: str) -> str:
        mode = self.specs[svc].mode
        return self.loc.maybe(f"mode.{mode}", mode)

    def kind(self, svc: str) -> str:
        kind = self.specs[svc].kind
        return self.loc.maybe(f"kind.{kind}", kind)

    def reason(self, col: str) -> str:
        label = col.removeprefix("unreachable_")
        return self.loc.maybe(f"reason.{label}", label.replace("_", " "))

    def explanation(self, label: str) -> str:
        from reach.outputs.i18n import REASON_EXPLANATIONS

        english = REASON_EXPLANATIONS.get(label, label.replace("_", " "))
        if self.loc.lang == "en":
            return english
        return self.loc.maybe(f"explain.{label}", english)

    def people(self, value: float) -> str:
        return self.loc.number(value, 0)

    def pct_within(self, row: Row, svc: str, threshold: float) -> str:
        """A row's share within a threshold, with the sensitivity range when there is one:
        ``84.7% (81.0–88.0%)``."""
        text = self.loc.pct(row[pct_within_col(threshold)])
        span = self.ranges.get((svc, str(row["zone_id"]), float(threshold)))
        if span is None or not all(np.isfinite(span)):
            return text
        return f"{text} ({self.loc.number(span[0], 1)}–{self.loc.pct(span[1])})"

    def all_row(self, svc: str) -> Row:
        """The service's ``(all)`` coverage row."""
        return _pick(self.cov_rows, service=svc, zone_id=ALL_ZONES_ID)[0]

    def zone_rows(self, svc: str) -> list[Row]:
        """The service's coverage rows of the zones and the outside row."""
        return [r for r in _pick(self.cov_rows, service=svc) if r["zone_id"] != ALL_ZONES_ID]

    def left_behind(self, row: Row, svc: str) -> float:
        top = max(self.specs[svc].thresholds_min)
        return float(row[reached_beyond_col(top)] + row["unreachable_total"])

    def people_pct(self, people: float, total: float) -> str:
        pct = 100.0 * people / total if total > 0 else float("nan")
        return f"{self.people(people)} ({self.loc.pct(pct)})"

    # -- summary --------------------------------------------------------------------------

    def headline(self) -> dict[str, Any]:
        loc = self.loc
        header = [loc.t("service"), loc.t("mode"), loc.t("target_population")]
        header += [loc.t("within", minutes=loc.threshold(th)) for th in self.thresholds]
        header.append(loc.t("left_behind"))
        rows: list[list[_Cell]] = []
        sentences = []
        for svc in self.services:
            row = self.all_row(svc)
            own = {float(v) for v in self.specs[svc].thresholds_min}
            cells = [
                _Cell(self.label(svc), num=False, strong=True),
                _Cell(self.mode(svc), num=False),
            ]
            cells.append(_Cell(self.people(row["population"])))
            for th in self.thresholds:
                text = self.pct_within(row, svc, th) if th in own else "–"
                cells.append(_Cell(text))
            cells.append(_Cell(self.people_pct(self.left_behind(row, svc), row["population"])))
            rows.append(cells)
            mid = _middle(self.specs[svc].thresholds_min)
            sentences.append(
                loc.t(
                    "headline_sentence",
                    service=self.label(svc),
                    pct=self.pct_within(row, svc, mid),
                    people=self.people(row[within_col(mid)]),
                    minutes=loc.threshold(mid),
                    mode=self.mode(svc),
                )
            )
        return {"table": _Table(header=header, rows=rows), "sentences": sentences}

    def left_behind_by_zone(self) -> _Table:
        loc = self.loc
        per_service = {svc: self.zone_rows(svc) for svc in self.services}
        first = per_service[self.services[0]]
        keep = [
            i
            for i, row in enumerate(first)
            if row["zone_id"] != OUTSIDE_ZONES_ID
            or any(float(rows[i]["population"]) > 0 for rows in per_service.values())
        ]
        note = ""
        n_zones = sum(1 for i in keep if first[i]["zone_id"] != OUTSIDE_ZONES_ID)
        if len(keep) > _SUMMARY_ZONES:
            svc0 = self.services[0]
            worst = sorted(keep, key=lambda i: (-self.left_behind(first[i], svc0), i))
            keep = sorted(worst[:_SUMMARY_ZONES])
            note = loc.t(
                "left_behind_top", shown=len(keep), total=n_zones, service=self.label(svc0)
            )
        header = [loc.t("zone"), *(self.label(s) for s in self.services)]
        rows = []
        for i in keep:
            cells = [
                _Cell(
                    self.zone_label(str(first[i]["zone_id"]), str(first[i]["zone_name"])), num=False
                )
            ]
            for svc in self.services:
                r = per_service[svc][i]
                cells.append(_Cell(self.people_pct(self.left_behind(r, svc), r["population"])))
            rows.append(cells)
        total = [_Cell(loc.t("all_zones"), num=False, strong=True)]
        for svc in self.services:
            r = self.all_row(svc)
            text = self.people_pct(self.left_behind(r, svc), r["population"])
            total.append(_Cell(text, strong=True))
        rows.append(total)
        return _Table(header=header, rows=rows, note=note, total_rows={len(rows) - 1})

    def best_options(self) -> list[str] | None:
        ranking = self.run.ranking
        if ranking is None or ranking.empty:
            return None
        loc = self.loc
        out = []
        ranked = _records(ranking)
        for svc in self.services:
            part = _pick(ranked, service=svc)
            if not part:
                continue
            mid = float(part[0]["threshold_min"])
            best = [r for r in part if int(r["rank"]) == 1]
            gain = float(best[0]["net_newly_covered"])
            if not gain > 0:
                out.append(loc.t("best_none", service=self.label(svc), minutes=loc.threshold(mid)))
                continue
            if abs(float(best[0]["pct_points"])) < NEGLIGIBLE_PCT_POINTS:
                # "+1 person" is not a headline: say that nothing moves the figure
                out.append(
                    loc.t(
                        "best_negligible", service=self.label(svc), minutes=loc.threshold(mid),
                        option=loc.join([self.alt_label(str(r["alternative"])) for r in best]),
                        people=self.people(gain),
                    )
                )  # fmt: skip
                continue
            out.append(
                loc.t(
                    "best_sentence",
                    service=self.label(svc),
                    option=loc.join([self.alt_label(str(r["alternative"])) for r in best]),
                    people=self.people(gain),
                    minutes=loc.threshold(mid),
                    pp=loc.t("pp", value=loc.number(best[0]["pct_points"], 1, signed=True)),
                )
            )
        return out

    # -- coverage curves ------------------------------------------------------------------

    def curves(self) -> list[dict[str, Any]]:
        loc = self.loc
        people = np.asarray(self.run.population.people, dtype=np.float64).ravel()
        keep = np.flatnonzero(people > 0)
        weights = people[keep]
        out = []
        evaluations = [(loc.t("baseline"), self.run.baseline)]
        evaluations += [(name, ev) for name, ev in self.run.alternatives.items()]
        for svc in self.services:
            spec = self.specs[svc]
            top = max(float(v) for v in spec.thresholds_min)
            minutes = np.linspace(0.0, 1.5 * top, _CURVE_POINTS)
            lines: list[CurveLine] = []
            same: list[str] = []
            base_share: np.ndarray | None = None
            computed: dict[int, np.ndarray] = {}  # an unchanged service shares its result
            for slot, (label, ev) in enumerate(evaluations, start=-1):
                access = ev.services[svc].access
                if id(access) not in computed:
                    computed[id(access)] = coverage_curve(access, keep, weights, minutes)
                share = computed[id(access)]
                if base_share is None:
                    base_share = share
                elif np.array_equal(share, base_share):
                    same.append(label)
                    continue
                lines.append(CurveLine(label=label, share_pct=share, slot=slot))
            png = coverage_curve_png(
                minutes,
                lines,
                thresholds_min=spec.thresholds_min,
                title=f"{self.label(svc)} ({self.mode(svc)})",
                x_label=loc.t("axis_minutes"),
                y_label=loc.t("axis_share"),
                tick_format=lambda v: loc.number(v, 0),
            )
            note = loc.t("not_drawn", options=", ".join(same)) if same else ""
            out.append({"service": self.label(svc), "png": _png_uri(png), "note": note})
        return out

    # -- comparison -----------------------------------------------------------------------

    def options_table(self) -> _Table:
        loc = self.loc
        rows = []
        for alt in self.scn.alternatives:
            ops = change_counts(alt.operations)
            changes = ", ".join(
                loc.maybe(f"op.{name}", name) + (f" × {n}" if n > 1 else "")
                for name, n in ops.items()
            )
            seasons = sorted(
                {
                    str(r.season)
                    for r in self.run.alternatives[alt.name].services.values()
                    if r.season is not None
                }
            )
            if seasons:
                changes += f" ({loc.t('worst_season', season=', '.join(seasons))})"
            cost = loc.number(alt.cost, 0) if alt.cost is not None else "–"
            rows.append(
                [
                    _Cell(self.alt_label(alt.name), num=False, strong=True),
                    _Cell(alt.description, num=False),
                    _Cell(changes, num=False),
                    _Cell(cost),
                ]
            )
        header = [loc.t("option"), loc.t("description"), loc.t("changes"), loc.t("cost")]
        return _Table(header=header, rows=rows)

    def comparison(self) -> dict[str, Any] | None:
        run = self.run
        if not run.alternatives or run.comparison is None or run.ranking is None:
            return None
        loc = self.loc
        comp, ranked = _records(run.comparison), _records(run.ranking)
        services = []
        for svc in self.services:
            spec = self.specs[svc]
            part = _pick(ranked, service=svc)
            if not part:
                continue
            mid = float(part[0]["threshold_min"])
            header = [
                loc.t("rank"), loc.t("option"), loc.t("net_gain"), loc.t("gaining"),
                loc.t("losing"), loc.t("pct_points"), loc.t("delta_mean"), loc.t("cost"),
                loc.t("per_cost"),
            ]  # fmt: skip
            rows = []
            for r in part:
                first = int(r["rank"]) == 1
                rows.append(
                    [
                        _Cell(str(r["rank"])),
                        _Cell(self.alt_label(str(r["alternative"])), num=False, strong=first),
                        _Cell(loc.number(r["net_newly_covered"], 0, signed=True), strong=first),
                        _Cell(self.people(r["gaining"])),
                        _Cell(self.people(r["losing"])),
                        _Cell(loc.number(r["pct_points"], 1, signed=True)),
                        _Cell(loc.minutes(r["delta_mean_time_min"], 1, signed=True)),
                        _Cell(loc.number(r["cost"], 0)),
                        _Cell(loc.number(float(r["newly_covered_per_cost"]) * 1000.0, 1)),
                    ]
                )
            ranking_table = _Table(
                header=header,
                rows=rows,
                caption=loc.t("ranking_title", service=self.label(svc), minutes=loc.threshold(mid)),
            )
            # share within each threshold, per option
            th = sorted(float(v) for v in spec.thresholds_min)
            header2 = [loc.t("option")] + [loc.t("within", minutes=loc.threshold(v)) for v in th]
            base = self.all_row(svc)
            rows2 = [
                [_Cell(loc.t("baseline"), num=False, strong=True)]
                + [_Cell(loc.pct(base[pct_within_col(v)]), strong=True) for v in th]
            ]
            order = [str(r["alternative"]) for r in part]
            for alt in order:
                r = _pick(comp, service=svc, zone_id=ALL_ZONES_ID, alternative=alt)[0]
                cells = [_Cell(self.alt_label(alt), num=False)]
                for v in th:
                    after = float(r[pct_alt_within_col(v)])
                    delta = after - float(r[pct_base_within_col(v)])
                    cells.append(_Cell(f"{loc.pct(after)} ({loc.number(delta, 1, signed=True)})"))
                rows2.append(cells)
            by_option = _Table(
                header=header2,
                rows=rows2,
                caption=loc.t("coverage_by_option", service=self.label(svc)),
                total_rows={0},
            )
            # net gain by zone at the key threshold
            zone_tables = []
            zones = _pick(comp, service=svc, alternative=order[0])
            for group in _chunks(order, _OPTIONS_PER_TABLE):
                rows3 = []
                for z in zones:
                    same_zone = _pick(comp, service=svc, zone_id=z["zone_id"])
                    if z["zone_id"] == OUTSIDE_ZONES_ID and not float(z["population"]) > 0:
                        continue
                    cells = [
                        _Cell(self.zone_label(str(z["zone_id"]), str(z["zone_name"])), num=False)
                    ]
                    for alt in group:
                        v = _pick(same_zone, alternative=alt)[0][delta_within_col(mid)]
                        cells.append(_Cell(loc.number(v, 0, signed=True)))
                    rows3.append(cells)
                zone_tables.append(
                    _Table(
                        header=[loc.t("zone"), *(self.alt_label(a) for a in group)],
                        rows=rows3,
                        caption=loc.t(
                            "gain_by_zone", service=self.label(svc), minutes=loc.threshold(mid)
                        ),
                        total_rows={len(rows3) - 1},
                    )
                )
            services.append(
                {"service": self.label(svc), "ranking": ranking_table, "by_option": by_option,
                 "by_zone": zone_tables}
            )  # fmt: skip
        return {"options": self.options_table(), "services": services}

    # -- zones ----------------------------------------------------------------------------

    def zones(self, *, maps: bool) -> list[dict[str, Any]]:
        loc = self.loc
        run = self.run
        grid = run.grid
        zones_gdf = run.zones.to_crs(grid.crs)
        zone_grid = np.asarray(run.zone).reshape(grid.shape)
        people = np.asarray(run.population.people, dtype=np.float64).reshape(grid.shape)
        facility_xy: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        facility_zone: dict[str, np.ndarray] = {}
        for svc, res in run.services.items():
            pts = res.facilities.to_crs(grid.crs).geometry
            x, y = pts.x.to_numpy(), pts.y.to_numpy()
            facility_xy[svc] = (x, y)
            cell = grid.cell_of(x, y)
            facility_zone[svc] = np.where(cell >= 0, zone_grid.ravel()[np.maximum(cell, 0)], 0)
        n_bands = max(len(s.thresholds_min) for s in self.specs.values())
        shared = {tuple(sorted(float(v) for v in s.thresholds_min)) for s in self.specs.values()}
        if len(shared) == 1:
            th = next(iter(shared))
            # each colour is a band: "≤ 30 min", then "30–60 min", not "≤ 60 min" again
            band_labels = [loc.t("within", minutes=loc.threshold(th[0]))] + [
                loc.t("band", low=loc.number(lo, 0 if float(lo).is_integer() else 1),
                      high=loc.threshold(hi))
                for lo, hi in itertools.pairwise(th)
            ]  # fmt: skip
            band_labels.append(loc.t("beyond", minutes=loc.threshold(th[-1])))
        else:
            band_labels = [loc.t("map_band_n", n=k + 1) for k in range(n_bands)]
            band_labels.append(loc.t("map_beyond_last"))
        extra = (loc.t("map_unreachable"), loc.t("facility"), loc.t("map_outline"))
        panels = {
            svc: MapPanel(
                title=f"{self.label(svc)} ({self.mode(svc)})",
                time_min=np.asarray(res.search.time_min).reshape(grid.shape),
                thresholds_min=sorted(float(v) for v in self.specs[svc].thresholds_min),
                facility_x=facility_xy[svc][0],
                facility_y=facility_xy[svc][1],
            )
            for svc, res in run.services.items()
        }
        th_cols = self.thresholds
        header = [loc.t("service"), loc.t("target_population")]
        header += [loc.t("within", minutes=loc.threshold(v)) for v in th_cols]
        header += [
            loc.t("left_behind"),
            loc.t("mean_time"),
            loc.t("median_time"),
            loc.t("p90_time"),
        ]
        out = []
        ids = run.zones["zone_id"].astype(str).tolist()
        names = run.zones["name"].astype(str).tolist()
        for k, (zid, name) in enumerate(zip(ids, names, strict=True)):
            rows = []
            for svc in self.services:
                r = _pick(self.cov_rows, service=svc, zone_id=zid)[0]
                own = {float(v) for v in self.specs[svc].thresholds_min}
                cells = [
                    _Cell(self.label(svc), num=False, strong=True),
                    _Cell(self.people(r["population"])),
                ]
                cells += [_Cell(self.pct_within(r, svc, v) if v in own else "–") for v in th_cols]
                cells += [
                    _Cell(self.people_pct(self.left_behind(r, svc), r["population"])),
                    _Cell(loc.minutes(r["mean_time_min"], 1)),
                    _Cell(loc.minutes(r["median_time_min"], 1)),
                    _Cell(loc.minutes(r["p90_time_min"], 1)),
                ]
                rows.append(cells)
            fac_parts = []
            for svc in self.services:
                table = run.services[svc].facilities
                tiers = Counter(table["tier"].astype(str).to_numpy()[facility_zone[svc] == k + 1])
                listed = ", ".join(
                    f"{loc.maybe(f'tier.{tier}', tier.replace('_', ' '))} {n}"
                    for tier, n in sorted(tiers.items())
                )
                fac_parts.append(f"{self.label(svc)}: {listed or loc.t('none')}")
            png = None
            width_mm = 0.0
            off_grid = False
            if maps and k < self.max_zone_maps:
                geom = zones_gdf.geometry.iloc[k]
                # a zone outside the grid has no cell to draw: it gets a note, not a map
                off_grid = geom is not None and not geom.intersects(shapely.box(*grid.bounds))
                if geom is not None and not geom.is_empty and not off_grid:
                    data, width_mm = zone_map_png(
                        [panels[svc] for svc in self.services],
                        transform=grid.transform,
                        geographic=grid.geographic,
                        zone_grid=zone_grid,
                        zone_number=k + 1,
                        people=people,
                        outline=geom,
                        band_labels=band_labels,
                        extra_labels=extra,
                    )
                    png = _png_uri(data)
            out.append(
                {
                    "id": zid,
                    "name": name,
                    "table": _Table(header=header, rows=rows),
                    "facilities": "; ".join(fac_parts),
                    "map": png,
                    "map_width_mm": f"{width_mm:.1f}",
                    "no_map": loc.t("zone_no_map", n=self.max_zone_maps)
                    if maps and k >= self.max_zone_maps
                    else (loc.t("zone_off_grid") if off_grid else None),
                }
            )
        return out

    # -- unreachable ----------------------------------------------------------------------

    def unreachable(self) -> dict[str, Any]:
        loc = self.loc
        cols = [c for c in self.reason_cols if float(self.cov[c].sum()) > 0] or self.reason_cols
        tables = []
        nobody = []
        for svc in self.services:
            if not float(self.all_row(svc)["unreachable_total"]) > 0:
                nobody.append(loc.t("unreachable_nobody", service=self.label(svc)))
                continue
            rows = []
            for r in _pick(self.cov_rows, service=svc):
                is_all = r["zone_id"] == ALL_ZONES_ID
                if not is_all and not float(r["unreachable_total"]) > 0:
                    continue
                cells = [_Cell(self.zone_label(str(r["zone_id"]), str(r["zone_name"])), num=False)]
                cells += [_Cell(self.people(r[c]), strong=is_all) for c in cols]
                cells.append(_Cell(self.people(r["unreachable_total"]), strong=True))
                rows.append(cells)
            tables.append(
                _Table(
                    header=[loc.t("zone"), *[self.reason(c) for c in cols], loc.t("unreachable")],
                    rows=rows,
                    caption=f"{self.label(svc)} ({self.mode(svc)})",
                    total_rows={len(rows) - 1},
                )
            )
        reasons = [
            (self.reason(c), self.explanation(c.removeprefix("unreachable_")))
            for c in self.reason_cols
        ]
        return {"tables": tables, "nobody": nobody, "reasons": reasons}

    # -- data quality ---------------------------------------------------------------------

    def audit(self, findings: Sequence[Finding] | None, *, max_warnings: int = 40) -> Any:
        """The counts per check and severity, and the first warnings, naming their subject."""
        if findings is None:
            return None
        loc = self.loc
        counts: dict[str, Counter[str]] = {}
        for f in findings:
            counts.setdefault(f.check, Counter())[f.severity] += 1
        rows = [
            [_Cell(check, num=False), *[_Cell(str(by[s]) if by[s] else "") for s in SEVERITIES]]
            for check, by in sorted(counts.items())
        ]
        header = [loc.t("audit_check"), *[loc.t(f"severity.{s}") for s in SEVERITIES]]
        warnings = [f for f in findings if f.severity == "warning"]
        shown = warnings[:max_warnings]
        caption = (
            loc.t("audit_warnings")
            if len(shown) == len(warnings)
            else loc.t("audit_warnings_shown", n=len(shown), total=len(warnings))
        )
        warn_rows = [
            [
                _Cell(
                    f"{loc.t(f'subject.{f.subject}')} {f.subject_id}".strip()
                    + (f" ({f.service})" if f.service else ""),
                    num=False,
                ),
                _Cell(f.message, num=False),
            ]
            for f in shown
        ]
        return {
            "counts": _Table(header=header, rows=rows),
            "warnings": _Table(
                header=[loc.t("audit_subject"), loc.t("audit_message")],
                rows=warn_rows,
                caption=caption,
            ),
        }

    # -- data sources, method -------------------------------------------------------------

    def sources(self) -> _Table:
        loc = self.loc
        rows = []
        for path, roles in _input_roles(self.scn, self.run.inputs):
            sha = self.run.inputs.get(str(path))
            when = data_date(path)
            if when is not None:
                modified = loc.t(f"date_{when.source}", date=when.date)
                sha = sha or file_sha256(path)
            else:
                modified = loc.t("missing_file")
            role_text = "; ".join(
                loc.t(key, **{_ROLE_FIELD[key]: ", ".join(names)})
                if key in _ROLE_FIELD
                else loc.t(key)
                for key, names in roles.items()
            )
            rows.append(
                [
                    _Cell(role_text, num=False),
                    _Cell(path.name, num=False),
                    _Cell(modified, num=False),
                    _Cell((sha or "–")[:12], num=False),
                    _Cell(loc.t(f"licence.{licence_key(path)}"), num=False),
                ]
            )
        header = [
            loc.t("role"),
            loc.t("file"),
            loc.t("modified"),
            loc.t("checksum"),
            loc.t("licence"),
        ]
        return _Table(header=header, rows=rows)

    def method(self) -> dict[str, Any]:
        loc = self.loc
        scn, grid = self.scn, self.run.grid
        cell_m = float((float(np.mean(grid.dx_m)) + float(grid.dy_m)) / 2)
        cell = (
            loc.t("cell_km", value=loc.number(cell_m / 1000, 1))
            if cell_m >= 1000
            else loc.t("cell_m", value=loc.number(cell_m, 0))
        )
        slope = loc.t("method_slope") if scn.region.dem and scn.grid.slope else ""
        paragraphs = [
            loc.t(
                "method_grid",
                cell=cell,
                rows=loc.number(grid.rows, 0),
                cols=loc.number(grid.cols, 0),
                slope=slope,
            ),
            loc.t(
                "method_trips",
                wait=loc.minutes(scn.ferries.headway_min / 2, 0),
                limit=loc.minutes(scn.grid.max_travel_time_min, 0),
            ),
        ]
        services = []
        for svc in self.services:
            spec = self.specs[svc]
            share = 100 * spec.target_share
            services.append(
                loc.t(
                    "method_service",
                    service=self.label(svc),
                    kind=self.kind(svc),
                    mode=self.mode(svc),
                    thresholds=loc.join([loc.threshold(v) for v in sorted(spec.thresholds_min)]),
                    share=loc.pct(share, 0 if float(share).is_integer() else 1),
                )
            )
        after = [
            loc.t(
                "method_counted",
                total=self.people(self.run.region.population_total),
                source=loc.t("source_counts" if scn.region.population_counts else "source_raster"),
            ),
            loc.t("method_times"),
        ]
        counts = scn.region.population_counts
        caveats = [
            loc.t(
                "caveat_population_counts",
                n=loc.number(len(self.run.region.population_counts.table), 0),
                how=self._counts_how(),
            )
            if counts is not None and self.run.region.population_counts is not None
            else loc.t("caveat_population"),
            loc.t("caveat_facilities"),
            loc.t("caveat_speeds"),
            loc.t("caveat_share"),
            loc.t("caveat_rounding"),
        ]
        after.append(loc.t("method_accessmod" if scn.grid.model == "accessmod" else "method_joins"))
        return {
            "before": paragraphs,
            "services": services,
            "after": after,
            "caveats": caveats,
            "correction": self.population_correction(),
            "counts": self.population_counts(),
            "sensitivity": self.sensitivity(),
        }

    def sensitivity(self) -> dict[str, Any] | None:
        """How the ranges were made, and the speeds that matter most (``None``: no sample)."""
        sens = self.run.sensitivity
        if sens is None:
            return None
        loc = self.loc
        svc = self.services[0]
        mid = _middle(self.specs[svc].thresholds_min)
        example = loc.t(
            "sensitivity_example",
            pct=self.pct_within(self.all_row(svc), svc, mid),
            minutes=loc.threshold(mid),
            service=self.label(svc),
        )
        sentence = loc.t(
            "sensitivity_sentence",
            range=loc.pct(sens.speed_range_pct, 0),
            n=loc.number(sens.n_samples, 0),
            seed=sens.seed,
            example=example,
        )
        speeds = dict(zip(sens.factors["factor"], sens.factors["speed_kph"], strict=True))
        rows = []
        for name in self.services:
            top = sens.influence[sens.influence["service"] == name].head(3)
            for factor, rho in zip(top["factor"], top["spearman_rho"], strict=True):
                rows.append(
                    [
                        _Cell(name, num=False, strong=True),
                        _Cell(str(factor), num=False),
                        _Cell(loc.number(speeds[factor], 1)),
                        _Cell(loc.number(rho, 2, signed=True)),
                    ]
                )
        header = [loc.t("service"), loc.t("factor"), loc.t("speed_kph"), loc.t("rank_correlation")]
        return {
            "sentence": sentence,
            "influence": loc.t("sensitivity_influence"),
            "table": _Table(header=header, rows=rows),
        }

    def _counts_how(self) -> str:
        """How the counts were spread, as a phrase."""
        spec = self.scn.region.population_counts
        if spec is not None and spec.weights is not None:
            return self.loc.t("counts_how_weights", file=Path(spec.weights.path).name)
        return self.loc.t("counts_how_even")

    def population_counts(self) -> dict[str, Any] | None:
        """The sentence and table of the spread counts (``None``: the people are a raster)."""
        spread = self.run.region.population_counts
        spec = self.scn.region.population_counts
        if spread is None or spec is None:
            return None
        loc = self.loc
        sentence = loc.t(
            "counts_sentence", file=Path(spec.path).name, total=self.people(spread.total),
            n=loc.number(len(spread.table), 0), how=self._counts_how(),
        )  # fmt: skip
        rows = [
            [
                _Cell(str(r["zone_name"]), num=False),
                _Cell(self.people(float(r["count"]))),
                _Cell(loc.number(float(r["cells"]), 0)),
                _Cell(loc.t(f"spread.{r['spread']}"), num=False),
            ]
            for r in _records(spread.table)
        ]
        header = [loc.t("zone"), loc.t("counts_count"), loc.t("counts_cells"),
                  loc.t("counts_spread")]  # fmt: skip
        return {"sentence": sentence, "table": _Table(header=header, rows=rows)}

    def population_correction(self) -> dict[str, Any] | None:
        """The sentence and table of the population correction (``None``: none was made)."""
        corr = self.run.region.population_correction
        spec = self.scn.region.population_correction
        if corr is None or spec is None:
            return None
        loc = self.loc
        sentence = loc.t(
            f"correction_{corr.mode}",
            file=Path(spec.path).name,
            before=self.people(corr.total_before),
            after=self.people(corr.total_after),
        )
        rows = [
            [
                _Cell(str(r["zone_name"]), num=False),
                _Cell(self.people(float(r["raster_people"]))),
                _Cell(self.people(float(r["given_total"]))),
                _Cell(self.people(float(r["target_people"]))),
                _Cell(loc.number(float(r["factor"]), 3)),
            ]
            for r in _records(corr.table)
        ]
        header = [
            loc.t("zone"),
            loc.t("correction_raster"),
            loc.t("correction_given"),
            loc.t("correction_target"),
            loc.t("correction_factor"),
        ]
        return {"sentence": sentence, "table": _Table(header=header, rows=rows)}


def change_counts(operations: Sequence[Any]) -> Counter[str]:
    """How many changes of each kind an alternative makes: sites and roads, not operations.

    A health centre added to two services is one new facility (the same point), and so is a
    facility closed for two services (the same id).

    Parameters
    ----------
    operations
        The alternative's operations (``op`` names their kind).

    Returns
    -------
    collections.Counter
        Changes by kind, in the order the kinds first appear.
    """
    seen: dict[str, set[object]] = {}
    for k, op in enumerate(operations):
        if op.op == "add_facility":
            key: object = (round(float(op.lon), 6), round(float(op.lat), 6))
        elif op.op in ("close_facility", "upgrade_facility"):
            key = str(op.facility_id)
        else:
            key = k
        seen.setdefault(op.op, set()).add(key)
    return Counter({name: len(keys) for name, keys in seen.items()})


def coverage_curve(
    access: CellAccess, keep: np.ndarray, weights: np.ndarray, minutes: np.ndarray
) -> np.ndarray:
    """Percent of people (physical travel) within each of ``minutes``: the coverage curve.

    Parameters
    ----------
    access
        A service's per-cell access (times, and the walking times of those without the
        vehicle when only a share has it).
    keep
        Which cells count (e.g. the populated cells of one zone).
    weights
        People per kept cell.
    minutes
        The travel times at which to read the curve.

    Returns
    -------
    numpy.ndarray
        Percent of the kept people within each of ``minutes`` (NaN when they are nobody).
    """
    t = np.asarray(access.time_min, dtype=np.float64)[keep]
    w = weights
    if access.walk_time_min is not None:
        s = access.vehicle_share
        walk = np.asarray(access.walk_time_min, dtype=np.float64)[keep]
        t = np.concatenate([t, walk])
        w = np.concatenate([weights * s, weights * (1 - s)])
    t = np.where(np.isfinite(t), t, np.inf)
    order = np.argsort(t, kind="stable")
    t_sorted = t[order]
    cum = np.r_[0.0, np.cumsum(w[order])]
    total = float(cum[-1])
    if total <= 0:
        return np.full(len(minutes), np.nan)
    idx = np.searchsorted(t_sorted, minutes, side="right")
    return 100.0 * cum[idx] / total


# --------------------------------------------------------------------------------------------
# data sources


_LICENCE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gadm", re.compile(r"gadm")),
    ("worldpop", re.compile(r"worldpop|_ppp_|^ppp_|unadj|_pop_\d{4}|constrained")),
    ("srtm", re.compile(r"srtm|\.hgt\b")),
    ("copernicus", re.compile(r"copernicus|cglc|cgls|c3s|lc100|esa.?cci")),
    ("osm", re.compile(r"(^|[^a-z])osm([^a-z]|$)|openstreetmap|\.pbf$")),
)


def licence_key(path: Path) -> str:
    """The known source a file name points to: ``osm``, ``worldpop``, ``srtm``, ``copernicus``,
    ``gadm``, or ``unknown``.

    Looks at the file's name and its folder's name (lower case), e.g. ``com_ppp_2020_UNadj.tif``
    (WorldPop), ``landcover_cglc/landcover_Tree.tif`` (Copernicus), ``roads_osm.gpkg`` (OSM).

    Parameters
    ----------
    path
        An input file; only its name and its folder's name are looked at (nothing is read).

    Returns
    -------
    str
        The first of ``gadm``, ``worldpop``, ``srtm``, ``copernicus`` and ``osm`` (tried in
        that order) whose pattern either name matches; ``unknown`` if none does.
    """
    names = (path.name.lower(), path.parent.name.lower())
    for key, pattern in _LICENCE_PATTERNS:
        if any(pattern.search(n) for n in names):
            return key
    return "unknown"


#: The field each role's message fills in, for the roles that name something.
_ROLE_FIELD = {"role.facilities": "service", "role.connectivity": "option"}


def _input_roles(
    scn: ScenarioSpec, inputs: dict[str, str]
) -> list[tuple[Path, dict[str, list[str]]]]:
    """Every input file of the scenario, once, with its roles (message key → names), in order."""
    r = scn.region
    found: dict[Path, dict[str, list[str]]] = {}

    def add(key: str, path: Path | None, name: str | None = None) -> None:
        if path is None:
            return
        roles = found.setdefault(scn.resolve(path), {})
        names = roles.setdefault(key, [])
        if name is not None and name not in names:
            names.append(name)

    add("role.population", r.population)
    add("role.osm", r.osm)
    add("role.roads", r.roads.path if r.roads else None)
    add("role.boundaries", r.boundaries.path if r.boundaries else None)
    add("role.zone_totals", r.population_correction.path if r.population_correction else None)
    if r.population_counts:
        c = r.population_counts
        add("role.population_counts", c.path)
        add("role.count_zones", c.zones.path if c.zones else None)
        add("role.population_weights", c.weights.path if c.weights else None)
    for level in r.zone_levels:
        add("role.zone_levels", level.path, level.name)
    if r.landcover:
        add("role.landcover", r.landcover.path)
        for name in sorted(r.landcover.fractions):
            add("role.landcover", r.landcover.fractions[name])
    for p in r.dem:
        add("role.dem", p)
    for layer in r.barriers:
        add("role.barriers", layer.path)
    for layer in r.water:
        add("role.water", layer.path)
    for svc in scn.services:
        source = svc.facilities.path or (r.osm if svc.facilities.from_osm else None)
        add("role.facilities", source, svc.name)
    for alt in scn.alternatives:
        for op in alt.operations:
            spec = getattr(op, "connectivity", None)
            if spec is not None:
                add("role.connectivity", spec.path, alt.name)
    for extra in sorted(inputs):
        if Path(extra) not in found:
            add("role.other", Path(extra))
    return list(found.items())


# --------------------------------------------------------------------------------------------
# rendering


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report_html(
    run: RunResult,
    *,
    lang: str = "en",
    title_date: str | None = None,
    zone_maps: bool = True,
    max_zone_maps: int = DEFAULT_MAX_ZONE_MAPS,
    findings: Sequence[Finding] | None = None,
) -> str:
    """Render the report of a run as one self-contained HTML page.

    Parameters
    ----------
    run
        A finished run (baseline only, or a scenario set with comparison and ranking).
    lang
        ``"en"`` (English) or ``"id"`` (Bahasa Indonesia).
    title_date
        The date shown on the title page (an ISO date is written out in the language); default
        today (UTC, or ``SOURCE_DATE_EPOCH``).
    zone_maps
        Draw a travel-time map per zone.
    max_zone_maps
        Draw maps for the first this many zones only (the rest get their table).
    findings
        The data-quality audit's findings, shown in a "Data quality" section (``None``: no
        section).

    Returns
    -------
    str
        The HTML text; the same run and options give the same text.

    Raises
    ------
    InputError
        For a language the report is not written in.
    """
    loc = get_locale(lang)
    view = _View(run, loc, max_zone_maps=max_zone_maps)
    scn = run.scenario
    context = {
        "lang": lang,
        "t": loc.t,
        "title": loc.t("report_title"),
        "region": scn.scenario.name,
        "description": scn.scenario.description,
        "date": loc.date(title_date if title_date is not None else _today()),
        "generated_by": loc.t("generated_by", version=__version__),
        "headline": view.headline(),
        "left_behind": view.left_behind_by_zone(),
        "best": view.best_options(),
        "curves": view.curves(),
        "comparison": view.comparison(),
        "zones": view.zones(maps=zone_maps),
        "unreachable": view.unreachable(),
        "audit": view.audit(findings),
        "sources": view.sources(),
        "method": view.method(),
    }
    return _environment().get_template("report.html.j2").render(context)


# --------------------------------------------------------------------------------------------
# PDF: WeasyPrint with a fetcher that serves only the report's own files


def fetch_report_resource(url: str, *, roots: Sequence[Path]) -> tuple[bytes, str]:
    """The bytes and MIME type of a ``data:`` URI or a ``file:`` URL inside ``roots``.

    Parameters
    ----------
    url
        The address WeasyPrint asks for.
    roots
        Folders whose files may be read (resolved; symbolic links are followed first, so a link
        pointing outside is refused).

    Returns
    -------
    tuple of (bytes, str)
        The resource's bytes and its MIME type: for a ``data:`` URI the one it declares
        (``text/plain`` if none), for a file the one its name suggests
        (``application/octet-stream`` if none).

    Raises
    ------
    RefusedURLError
        For any other scheme (``http``, ``https``, ``ftp``, …), a ``file:`` URL with a host, a
        file outside ``roots``, a missing file, or a malformed ``data:`` URI.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        header, comma, payload = url[5:].partition(",")
        if not comma:
            raise RefusedURLError(f"malformed data: URI {url[:60]!r}")
        mime = header.split(";")[0] or "text/plain"
        try:
            if header.lower().endswith(";base64"):
                return base64.b64decode(payload, validate=True), mime
            return unquote_to_bytes(payload), mime
        except ValueError as exc:
            raise RefusedURLError(f"malformed data: URI {url[:60]!r}") from exc
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise RefusedURLError(f"refused {url!r}: a file on another host")
        path = Path(url2pathname(parts.path)).resolve()
        allowed = [Path(r).resolve() for r in roots]
        if not any(path.is_relative_to(root) for root in allowed) or not path.is_file():
            raise RefusedURLError(f"refused {url!r}: not a file of the report")
        return path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    raise RefusedURLError(f"refused {url!r}: a report fetches nothing from outside")


def report_url_fetcher(folder: Path) -> Callable[[str], Any]:
    """A WeasyPrint URL fetcher serving only ``data:`` URIs and files in ``folder`` or the
    package's template folder; anything else raises :class:`RefusedURLError`.

    Returns a subclass instance of WeasyPrint's ``URLFetcher`` where WeasyPrint has that class
    (tested with WeasyPrint 70), else a plain function returning the dict older versions expect;
    either is callable with a URL.

    Parameters
    ----------
    folder
        The report's folder: its files (and those of :data:`TEMPLATE_DIR`) may be fetched.

    Returns
    -------
    callable
        The fetcher to hand to WeasyPrint; it serves each URL through
        :func:`fetch_report_resource`.

    Raises
    ------
    ReachError
        When WeasyPrint cannot be imported (or cannot load its system libraries).
    """
    roots = (Path(folder).resolve(), TEMPLATE_DIR)
    weasy_urls = _weasyprint().urls
    fetcher_cls: Any = getattr(weasy_urls, "URLFetcher", None)
    response_cls: Any = getattr(weasy_urls, "URLFetcherResponse", None)
    if fetcher_cls is None or response_cls is None:

        def fetch(url: str) -> dict[str, Any]:
            data, mime = fetch_report_resource(url, roots=roots)
            return {"string": data, "mime_type": mime, "redirected_url": url}

        return fetch

    class _ReportFetcher(fetcher_cls):
        def fetch(self, url: str, headers: Any = None) -> Any:
            data, mime = fetch_report_resource(url, roots=roots)
            return response_cls(url, data, {"Content-Type": mime})

    fetcher: Callable[[str], Any] = _ReportFetcher(allowed_protocols=("data", "file"))
    return fetcher


def pdf_unavailable() -> str | None:
    """Why PDF reports cannot be made on this machine, or ``None`` when they can."""
    try:
        _weasyprint()
    except ReachError as exc:
        return exc.one_line()
    return None


def _weasyprint() -> Any:
    """Import WeasyPrint, or explain which system libraries it needs."""
    try:
        import weasyprint
        import weasyprint.urls
    except (ImportError, OSError) as exc:
        raise ReachError(
            f"cannot make the PDF report: WeasyPrint is not usable ({exc})",
            fix="pip install weasyprint and install Pango (Debian: apt-get install "
            "libpango-1.0-0 libpangoft2-1.0-0), or write the HTML report only (pdf=False)",
        ) from exc
    return weasyprint


def write_report_pdf(html: str, path: Path, *, folder: Path | None = None) -> Path:
    """Write ``html`` as an A4 PDF at ``path`` (atomically).

    Parameters
    ----------
    html
        The report's HTML (:func:`render_report_html`).
    path
        The PDF file.
    folder
        The only folder (besides the templates) whose files the PDF may include; default the
        PDF's folder. Relative URLs in ``html`` are resolved against it.

    Returns
    -------
    pathlib.Path
        ``path``, once the PDF is in place.

    Raises
    ------
    ReachError
        When WeasyPrint cannot be imported (or cannot load its system libraries).
    """
    path = Path(path)
    folder = Path(folder) if folder is not None else path.parent
    weasyprint = _weasyprint()
    fetcher = report_url_fetcher(folder)
    document = weasyprint.HTML(
        string=html, base_url=folder.resolve().as_uri() + "/", url_fetcher=fetcher
    )
    with atomic_file(path) as tmp, _fixed_font_timestamps():
        document.write_pdf(str(tmp))
    return path


@contextlib.contextmanager
def _fixed_font_timestamps() -> Iterator[None]:
    """Font subsets stamped with ``SOURCE_DATE_EPOCH`` (0 when unset), not the clock.

    fontTools stamps each embedded font subset's ``head.modified`` with the time it is made
    unless ``SOURCE_DATE_EPOCH`` is set, which would make two PDFs of the same report differ.
    """
    old = os.environ.get("SOURCE_DATE_EPOCH")
    if old is None:
        os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


def write_report(
    run: RunResult,
    folder: Path,
    *,
    lang: str = "en",
    pdf: bool = True,
    title_date: str | None = None,
    zone_maps: bool = True,
    max_zone_maps: int = DEFAULT_MAX_ZONE_MAPS,
    findings: Sequence[Finding] | None = None,
) -> list[Path]:
    """Write ``report_<lang>.html`` (and ``report_<lang>.pdf``) into ``folder``.

    Each file is written under a temporary name beside it and renamed into place, so a reader
    never sees half a report. The HTML is written first: if the PDF then fails, the HTML stays.

    Parameters
    ----------
    run
        A finished run.
    folder
        Output folder (created if missing).
    lang
        ``"en"`` or ``"id"``.
    pdf
        Also write the PDF (needs WeasyPrint and Pango).
    title_date
        The date on the title page; default today.
    zone_maps, max_zone_maps, findings
        See :func:`render_report_html`.

    Returns
    -------
    list of pathlib.Path
        The files written: the HTML, then the PDF.

    Raises
    ------
    InputError
        For a language the report is not written in.
    ReachError
        When the PDF is asked for and WeasyPrint cannot load its system libraries.
    """
    folder = Path(folder)
    html = render_report_html(
        run, lang=lang, title_date=title_date, zone_maps=zone_maps, max_zone_maps=max_zone_maps,
        findings=findings,
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / report_file_name(lang, "html")
    with atomic_file(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    written = [html_path]
    if pdf:
        written.append(
            write_report_pdf(html, folder / report_file_name(lang, "pdf"), folder=folder)
        )
    return written
