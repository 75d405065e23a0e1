"""Regional reports: one HTML page and one A4 PDF per language (English, Bahasa Indonesia).

A report tells a district office, in plain language, who can reach each service and who cannot:

* a summary: the share of people within each threshold per service, the people left behind
  (beyond the largest threshold or unreachable) by zone, the best investment per service and
  the hardest stress test;
* coverage curves (share of people against minutes, one line per scenario);
* the investments, ranked among themselves (from ``run.comparison`` and ``run.ranking``), and
  apart from them the stress tests ("How robust is access"), as losses against the baseline
  and never as a best option (an alternative's kind: :attr:`reach.spec.Alternative.resolved_kind`);
* the zones furthest behind: per service a travel-time map of the whole region with those
  zones numbered, and a compact table of the :data:`WORST_ZONES` zones with the most people
  left behind (one row per zone), the same for every finer ``[[region.zone_levels]]`` entry;
* unreachable people by reason, the data sources with dates and licences, and the method and
  its caveats;
* an annex listing every zone (one row each, header rows repeated on every page), the rows of
  ``coverage.csv``.

Costs are written in the scenario's currency (``[scenario] currency``) by Babel's
:func:`babel.numbers.format_currency`, as whole amounts, in the report's language
(:func:`format_money`).

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
from reach.outputs.map_text import route_parts
from reach.outputs.report_charts import CurveLine, MapPanel, coverage_curve_png, region_map_png
from reach.outputs.write import atomic_file, file_sha256, today_iso
from reach.schema import (
    ZONE_ORIGIN_PREFIX,
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
    "cost_unit",
    "coverage_curve",
    "fetch_report_resource",
    "format_money",
    "licence_key",
    "render_report_html",
    "report_file_name",
    "report_url_fetcher",
    "write_report",
    "write_report_pdf",
]

#: The folder of the report's Jinja2 template and stylesheet.
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: Zones listed per service in the zone section (the rest are in the annex and the tables).
WORST_ZONES = 15
#: Zones listed on the summary page before the list is cut to the worst ones.
_SUMMARY_ZONES = 12
#: Options per column group in the wide comparison tables.
_OPTIONS_PER_TABLE = 4
#: Up to this many zones (with the outside and the total), a by-zone table has a column per zone.
_ZONES_AS_COLUMNS = 6
#: A best option moving coverage by less than this (percentage points) is not a headline.
NEGLIGIBLE_PCT_POINTS = 0.1

#: Points along the x axis of a coverage curve.
_CURVE_POINTS = 181

_NBSP = "\u00a0"


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


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _middle(thresholds: Sequence[float]) -> float:
    th = sorted(float(v) for v in thresholds)
    return th[len(th) // 2]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


def _spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing (root locale): a no-break space between a symbol whose letter
    touches the digits and those digits (``IDR1,500`` → ``IDR 1,500``, ``Rp1.500`` →
    ``Rp 1.500``); none after a sign (``$400``, ``US$400``)."""
    import unicodedata

    def letter(ch: str) -> bool:
        return unicodedata.category(ch)[0] not in "SZ"

    if text.startswith(symbol) and text[len(symbol) : len(symbol) + 1].isdigit():
        if letter(symbol[-1]):
            return symbol + _NBSP + text[len(symbol) :]
    elif text.endswith(symbol) and text[: -len(symbol)][-1:].isdigit() and letter(symbol[0]):
        return text[: -len(symbol)] + _NBSP + symbol
    return text


def format_money(value: float | None, currency: str, *, lang: str) -> str:
    """An amount of money as a whole number in its currency, written for the language.

    Babel's :func:`~babel.numbers.format_currency` with the language's CLDR currency pattern
    and no decimals (costs are planning figures), and CLDR's currency spacing, which Babel
    leaves out: ``Rp 1.500.000.000`` (id), ``IDR 1,500,000,000`` and ``$400,000`` (en),
    ``US$400.000`` (id).

    Parameters
    ----------
    value
        The amount; None or not finite is missing.
    currency
        Its ISO 4217 code (``"IDR"``).
    lang
        The report's language (``"en"``, ``"id"``).

    Returns
    -------
    str
        The amount with its currency symbol, or ``–`` when missing.
    """
    from babel import Locale as BabelLocale
    from babel.numbers import format_currency, get_currency_symbol

    if value is None or not np.isfinite(float(value)):
        return "–"
    pattern = BabelLocale.parse(lang).currency_formats["standard"].pattern.split(";")[0]
    whole = re.sub(r"\.0+", "", pattern)
    text = format_currency(
        round(float(value)), currency, locale=lang, format=whole, currency_digits=False
    )
    return _spaced(text, get_currency_symbol(currency, locale=lang))


def cost_unit(costs: Sequence[float]) -> float:
    """The amount that "newly covered per …" counts per: a power of 1,000 near the costs.

    The largest power of 1,000 not above a hundredth of the smallest cost, at least 1: per
    1,000 for costs of hundreds of thousands (dollars), per 1,000,000 for billions (rupiah), so
    the figures are neither all zeros nor millions.

    Parameters
    ----------
    costs
        The alternatives' costs (missing, zero and negative ones are left out).

    Returns
    -------
    float
        The unit (1,000 when no cost is given).
    """
    given = [float(c) for c in costs if c is not None and np.isfinite(float(c)) and c > 0]
    if not given:
        return 1000.0
    return float(1000 ** max(0, int(np.floor(np.log10(min(given) / 100) / 3))))


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
    """A table cell: its text, whether it is a number (right-aligned), and a smaller note
    after the text (a zone's code)."""

    text: str
    num: bool = True
    strong: bool = False
    sub: str = ""


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

    def __init__(self, run: RunResult, loc: Locale) -> None:
        self.run = run
        self.loc = loc
        self.scn: ScenarioSpec = run.scenario
        self.kinds = {alt.name: alt.resolved_kind for alt in self.scn.alternatives}
        comparison = run.comparison
        self.comp_rows = _records(comparison) if comparison is not None else []
        self.currency = self.scn.scenario.currency
        self.unit = cost_unit([a.cost for a in self.scn.alternatives if a.cost is not None])
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

    def money(self, value: float | None) -> str:
        """A cost in the scenario's currency, or a plain number without one."""
        if self.currency is None:
            return self.loc.number(value, 0)
        return format_money(value, self.currency, lang=self.loc.lang)

    def cost_header(self) -> str:
        return self.loc.t("cost") if self.currency else self.loc.t("cost_no_currency")

    def per_cost_header(self) -> str:
        if self.currency is None:
            return self.loc.t("per_cost_plain", amount=self.loc.number(self.unit, 0))
        return self.loc.t("per_cost_currency", amount=self.money(self.unit))

    def cost_note(self) -> str:
        from babel.numbers import get_currency_name

        if self.currency is None:
            return self.loc.t("costs_note_none")
        name = get_currency_name(self.currency, locale=self.loc.lang)
        return self.loc.t("costs_note_currency", currency=self.currency, name=name)

    def kind_rows(self, rows: Sequence[Row], kind: str) -> list[Row]:
        """The ranking rows of the alternatives of one kind, ranked among themselves.

        Investments keep the ranking's order with their rank among investments (ties share the
        better rank); stress tests come largest loss first.
        """
        part = [dict(r) for r in rows if self.kinds.get(str(r["alternative"])) == kind]

        def net(r: Row) -> float:
            v = float(r["net_newly_covered"])
            return v if np.isfinite(v) else -np.inf

        for r in part:
            r["rank"] = 1 + sum(1 for o in part if net(o) > net(r))
        if kind == "stress_test":
            part.sort(key=lambda r: (net(r), str(r["alternative"])))
        else:
            part.sort(key=lambda r: (int(r["rank"]), str(r["alternative"])))
        return part

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
            keep = worst[:_SUMMARY_ZONES]  # worst first
            note = loc.t(
                "left_behind_top_annex", shown=len(keep), total=n_zones, service=self.label(svc0)
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
        """One sentence per service on its best investment (stress tests are never "best")."""
        ranking = self.run.ranking
        if ranking is None or ranking.empty:
            return None
        loc = self.loc
        out = []
        ranked = _records(ranking)
        if not any(k == "investment" for k in self.kinds.values()):
            return [loc.t("best_no_investments")]
        for svc in self.services:
            part = self.kind_rows(_pick(ranked, service=svc), "investment")
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

    def robustness(self) -> list[str] | None:
        """One sentence per service on the stress test that loses most (``None``: none)."""
        ranking = self.run.ranking
        if ranking is None or ranking.empty or "stress_test" not in self.kinds.values():
            return None
        loc = self.loc
        out = []
        ranked = _records(ranking)
        for svc in self.services:
            part = self.kind_rows(_pick(ranked, service=svc), "stress_test")
            if not part:
                continue
            mid = float(part[0]["threshold_min"])
            worst = part[0]
            loss = -float(worst["net_newly_covered"])
            names = [self.alt_label(str(r["alternative"])) for r in part
                     if float(r["net_newly_covered"]) == -loss]  # fmt: skip
            fields = {"service": self.label(svc), "minutes": loc.threshold(mid),
                      "option": loc.join(names), "people": self.people(loss)}  # fmt: skip
            if not loss > 0:
                out.append(loc.t("robust_none", service=self.label(svc), minutes=fields["minutes"]))
            elif abs(float(worst["pct_points"])) < NEGLIGIBLE_PCT_POINTS:
                out.append(loc.t("robust_negligible", **fields))
            else:
                pp = loc.t("pp", value=loc.number(worst["pct_points"], 1, signed=True))
                out.append(loc.t("robust_sentence", pp=pp, **fields))
        return out

    # -- coverage curves ------------------------------------------------------------------

    def curves(self) -> list[dict[str, Any]]:
        loc = self.loc
        people = np.asarray(self.run.population.people, dtype=np.float64).ravel()
        keep = np.flatnonzero(people > 0)
        weights = people[keep]
        out = []
        evaluations = [(loc.t("baseline"), self.run.baseline)]
        evaluations += [(self.alt_label(name), ev) for name, ev in self.run.alternatives.items()]
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
            note = loc.t("not_drawn", options=loc.join(same)) if same else ""
            out.append({"service": self.label(svc), "png": _png_uri(png), "note": note})
        return out

    # -- comparison -----------------------------------------------------------------------

    def options_table(self, kind: str) -> _Table:
        """The alternatives of one kind: name, description, changes (and cost, for investments)."""
        loc = self.loc
        with_cost = kind == "investment"
        rows = []
        for alt in self.scn.alternatives:
            if alt.resolved_kind != kind:
                continue
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
            row = [
                _Cell(self.alt_label(alt.name), num=False, strong=True),
                _Cell(alt.description, num=False),
                _Cell(changes, num=False),
            ]
            if with_cost:
                row.append(_Cell(self.money(alt.cost) if alt.cost is not None else "–"))
            rows.append(row)
        first = loc.t("option") if with_cost else loc.t("stress_test")
        header = [first, loc.t("description"), loc.t("changes")]
        if with_cost:
            header.append(self.cost_header())
        return _Table(header=header, rows=rows, note=self.cost_note() if with_cost else "")

    def _ranking_table(self, part: list[Row], svc: str, mid: float) -> _Table:
        """Investments of one service: rank, gains, cost and gain per cost."""
        loc = self.loc
        with_cost = any(np.isfinite(float(r["cost"])) for r in part)
        header = [
            loc.t("rank"), loc.t("option"), loc.t("net_gain"), loc.t("gaining"),
            loc.t("losing"), loc.t("pct_points"), loc.t("delta_mean"),
        ]  # fmt: skip
        if with_cost:
            header += [self.cost_header(), self.per_cost_header()]
        rows = []
        for r in part:
            first = int(r["rank"]) == 1
            cells = [
                _Cell(str(r["rank"])),
                _Cell(self.alt_label(str(r["alternative"])), num=False, strong=first),
                _Cell(loc.number(r["net_newly_covered"], 0, signed=True), strong=first),
                _Cell(self.people(r["gaining"])),
                _Cell(self.people(r["losing"])),
                _Cell(loc.number(r["pct_points"], 1, signed=True)),
                _Cell(loc.minutes(r["delta_mean_time_min"], 1, signed=True)),
            ]
            if with_cost:
                per = float(r["newly_covered_per_cost"]) * self.unit
                cells += [_Cell(self.money(r["cost"])), _Cell(loc.number(per, 1))]
            rows.append(cells)
        caption = loc.t("ranking_title", service=self.label(svc), minutes=loc.threshold(mid))
        return _Table(header=header, rows=rows, caption=caption)

    def _loss_table(self, part: list[Row], svc: str, mid: float) -> _Table:
        """Stress tests of one service: the people they take out of reach, largest loss first."""
        loc = self.loc
        header = [
            loc.t("stress_test"), loc.t("net_loss"), loc.t("losing"), loc.t("gaining"),
            loc.t("pct_points"), loc.t("delta_mean"),
        ]  # fmt: skip
        rows = [
            [
                _Cell(self.alt_label(str(r["alternative"])), num=False, strong=True),
                _Cell(self.people(-float(r["net_newly_covered"])), strong=True),
                _Cell(self.people(r["losing"])),
                _Cell(self.people(r["gaining"])),
                _Cell(loc.number(r["pct_points"], 1, signed=True)),
                _Cell(loc.minutes(r["delta_mean_time_min"], 1, signed=True)),
            ]
            for r in part
        ]
        caption = loc.t("loss_title", service=self.label(svc), minutes=loc.threshold(mid))
        return _Table(header=header, rows=rows, caption=caption)

    def _by_option(self, order: list[str], svc: str) -> _Table:
        """Share within each threshold: the baseline, then each alternative with its change."""
        loc = self.loc
        comp = self.comp_rows
        th = sorted(float(v) for v in self.specs[svc].thresholds_min)
        header = [loc.t("option")] + [loc.t("within", minutes=loc.threshold(v)) for v in th]
        base = self.all_row(svc)
        rows = [
            [_Cell(loc.t("baseline"), num=False, strong=True)]
            + [_Cell(loc.pct(base[pct_within_col(v)]), strong=True) for v in th]
        ]
        for alt in order:
            r = _pick(comp, service=svc, zone_id=ALL_ZONES_ID, alternative=alt)[0]
            cells = [_Cell(self.alt_label(alt), num=False)]
            for v in th:
                after = float(r[pct_alt_within_col(v)])
                delta = after - float(r[pct_base_within_col(v)])
                cells.append(_Cell(f"{loc.pct(after)} ({loc.number(delta, 1, signed=True)})"))
            rows.append(cells)
        caption = loc.t("coverage_by_option", service=self.label(svc))
        return _Table(header=header, rows=rows, caption=caption, total_rows={0})

    def _by_zone(self, order: list[str], svc: str, mid: float) -> list[_Table]:
        """Net newly covered within ``mid`` by zone.

        With few zones (up to :data:`_ZONES_AS_COLUMNS`, with the outside and the total) one
        table has a row per alternative and a column per zone; otherwise a row per zone and a
        few alternatives per table, the alternatives spread evenly over the tables.
        """
        loc = self.loc
        comp = self.comp_rows
        zones = [
            z for z in _pick(comp, service=svc, alternative=order[0])
            if z["zone_id"] != OUTSIDE_ZONES_ID or float(z["population"]) > 0
        ]  # fmt: skip
        names = [self.zone_label(str(z["zone_id"]), str(z["zone_name"])) for z in zones]
        caption = loc.t("gain_by_zone", service=self.label(svc), minutes=loc.threshold(mid))

        def gain(zone_id: object, alt: str) -> str:
            row = _pick(comp, service=svc, zone_id=zone_id, alternative=alt)[0]
            return loc.number(row[delta_within_col(mid)], 0, signed=True)

        if len(zones) <= _ZONES_AS_COLUMNS:
            rows = [
                [_Cell(self.alt_label(alt), num=False)]
                + [_Cell(gain(z["zone_id"], alt), strong=z["zone_id"] == ALL_ZONES_ID)
                   for z in zones]
                for alt in order
            ]  # fmt: skip
            return [_Table(header=[loc.t("option"), *names], rows=rows, caption=caption)]
        n_tables = -(-len(order) // _OPTIONS_PER_TABLE)
        size = -(-len(order) // n_tables)
        tables = []
        for group in _chunks(order, size):
            rows = [
                [_Cell(name, num=False)] + [_Cell(gain(z["zone_id"], alt)) for alt in group]
                for z, name in zip(zones, names, strict=True)
            ]
            tables.append(
                _Table(
                    header=[loc.t("zone"), *(self.alt_label(a) for a in group)],
                    rows=rows,
                    caption=caption,
                    total_rows={len(rows) - 1},
                )
            )
        return tables

    def comparison(self) -> dict[str, Any] | None:
        """The investments and the stress tests, each per service (``None``: no option).

        By-zone tables stay beside their service when there are at most :data:`WORST_ZONES`
        zones, and go to the annex (``annex``) when there are more.
        """
        run = self.run
        if not run.alternatives or run.comparison is None or run.ranking is None:
            return None
        ranked = _records(run.ranking)
        few_zones = len(run.zones) <= WORST_ZONES
        out: dict[str, Any] = {"annex": []}
        for kind in ("investment", "stress_test"):
            if kind not in self.kinds.values():
                out[kind] = None
                continue
            services = []
            for svc in self.services:
                part = self.kind_rows(_pick(ranked, service=svc), kind)
                if not part:
                    continue
                mid = float(part[0]["threshold_min"])
                order = [str(r["alternative"]) for r in part]
                by_zone = self._by_zone(order, svc, mid)
                if not few_zones:
                    out["annex"] += by_zone
                services.append(
                    {
                        "service": self.label(svc),
                        "ranking": (self._ranking_table if kind == "investment"
                                    else self._loss_table)(part, svc, mid),
                        "by_option": self._by_option(order, svc),
                        "by_zone": by_zone if few_zones else [],
                        "by_zone_note": "" if few_zones else self.loc.t(
                            "gain_by_zone_annex", n=self.loc.number(len(run.zones), 0)
                        ),
                    }
                )  # fmt: skip
            out[kind] = {"options": self.options_table(kind), "services": services}
        return out

    # -- zones ----------------------------------------------------------------------------

    def facility_counts(self, zones: Any) -> dict[str, dict[str, int]]:
        """Per service, how many of its facilities lie in each zone (zone id → count).

        A facility on a shared boundary counts in the first zone that holds it.
        """
        geoms = zones.geometry.to_numpy()
        tree = shapely.STRtree(geoms)
        ids = zones["zone_id"].astype(str).tolist()
        out: dict[str, dict[str, int]] = {}
        for svc, res in self.run.services.items():
            fac = res.facilities
            if fac.crs is not None and zones.crs is not None:
                fac = fac.to_crs(zones.crs)
            point, zone = tree.query(fac.geometry.to_numpy(), predicate="intersects")
            _, first = np.unique(point, return_index=True)
            counts = np.bincount(zone[first], minlength=len(ids))
            out[svc] = {zid: int(n) for zid, n in zip(ids, counts, strict=True)}
        return out

    def worst_first(self, rows: Sequence[Row], svc: str) -> list[Row]:
        """Zones by people left behind (most first), then by the share within the middle
        threshold (lowest first), then by id."""
        mid = _middle(self.specs[svc].thresholds_min)

        def key(r: Row) -> tuple[float, float, str]:
            pct = float(r[pct_within_col(mid)])
            return (-self.left_behind(r, svc), pct if np.isfinite(pct) else np.inf,
                    str(r["zone_id"]))  # fmt: skip

        return sorted(rows, key=key)

    def zone_table(
        self,
        rows: Sequence[Row],
        svc: str,
        *,
        facilities: dict[str, int] | None,
        numbered: bool,
        codes: bool = True,
        caption: str = "",
        note: str = "",
        total: Row | None = None,
    ) -> _Table:
        """One row per zone: its facilities, people, shares, people left behind, median time.

        Numbered rows (worst first) show each zone's code under its name when ``codes``;
        the annex's rows start with the code.
        """
        loc = self.loc
        th = sorted(float(v) for v in self.specs[svc].thresholds_min)
        header = [loc.t("no") if numbered else loc.t("zone_code"), loc.t("zone")]
        if facilities is not None:
            header.append(loc.t("facilities_short"))
        header += [loc.t("target_population")]
        header += [loc.t("within", minutes=loc.threshold(v)) for v in th]
        header += [loc.t("left_behind"), loc.t("median_time")]  # the 90th percentile: in the CSV

        def cells(r: Row, first: _Cell, name: _Cell, strong: bool = False) -> list[_Cell]:
            out = [first, name]
            if facilities is not None:
                n = facilities.get(str(r["zone_id"]))
                if n is None and str(r["zone_id"]) == ALL_ZONES_ID:
                    n = sum(facilities.values())
                out.append(_Cell(self.loc.number(n, 0) if n is not None else "–", strong=strong))
            out.append(_Cell(self.people(r["population"]), strong=strong))
            out += [_Cell(self.pct_within(r, svc, v), strong=strong) for v in th]
            out += [
                _Cell(self.people_pct(self.left_behind(r, svc), r["population"]), strong=True),
                _Cell(loc.minutes(r["median_time_min"], 1), strong=strong),
            ]
            return out

        body = []
        for k, r in enumerate(rows, start=1):
            zid, name = str(r["zone_id"]), self.zone_label(str(r["zone_id"]), str(r["zone_name"]))
            special = zid in (ALL_ZONES_ID, OUTSIDE_ZONES_ID)
            if numbered:
                first, label = _Cell(str(k)), _Cell(name, num=False, sub=zid if codes else "")
            else:
                first, label = _Cell("" if special else zid, num=False), _Cell(name, num=False)
            body.append(cells(r, first, label))
        totals = set()
        if total is not None:
            totals.add(len(body))
            body.append(
                cells(total, _Cell("", num=False), _Cell(loc.t("all_zones"), num=False), True)
            )
        return _Table(header=header, rows=body, caption=caption, note=note, total_rows=totals)

    def travel_lines(self, rows: Sequence[Row], svc: str) -> list[str]:
        """Per listed zone (numbered as in its table), how people travel from its typical place:
        the legs of the route of its representative origin (empty when the run kept none)."""
        routes, loc = self.run.routes, self.loc
        if routes is None:
            return []
        table = routes.origins[routes.origins["service"] == svc].set_index("origin_id")
        legs = routes.legs[routes.legs["service"] == svc]
        lines = []
        for k, r in enumerate(rows, start=1):
            oid = ZONE_ORIGIN_PREFIX + str(r["zone_id"])
            zone = self.zone_label(str(r["zone_id"]), str(r["zone_name"]))
            if oid not in table.index:
                continue
            row = table.loc[oid]
            assert isinstance(row, pd.Series)  # one row per origin and service
            time = float(row["travel_time_min"])
            if not np.isfinite(time):
                reason = str(row["reason"])
                why = loc.maybe(f"reason.{reason}", reason)
                lines.append(loc.t("zones_travel_none", n=k, zone=zone, reason=why))
                continue
            mine = legs[legs["origin_id"] == oid].sort_values("leg")
            parts = route_parts(
                loc, mine["kind"].astype(str).tolist(), mine["mode"].astype(str).tolist(),
                mine["time_min"].astype(float).tolist(),
            )  # fmt: skip
            lines.append(
                loc.t(
                    "zones_travel_line", n=k, zone=zone, minutes=loc.minutes(time),
                    legs=", ".join(parts) if parts else loc.minutes(time),
                )
            )  # fmt: skip
        return lines

    def _band_labels(self) -> list[str]:
        loc = self.loc
        shared = {tuple(sorted(float(v) for v in s.thresholds_min)) for s in self.specs.values()}
        if len(shared) != 1:
            n_bands = max(len(s.thresholds_min) for s in self.specs.values())
            return [loc.t("map_band_n", n=k + 1) for k in range(n_bands)] + [
                loc.t("map_beyond_last")
            ]
        th = next(iter(shared))
        # each colour is a band: "≤ 30 min", then "30–60 min", not "≤ 60 min" again
        labels = [loc.t("within", minutes=loc.threshold(th[0]))] + [
            loc.t("band", low=loc.number(lo, 0 if float(lo).is_integer() else 1),
                  high=loc.threshold(hi))
            for lo, hi in itertools.pairwise(th)
        ]  # fmt: skip
        return [*labels, loc.t("beyond", minutes=loc.threshold(th[-1]))]

    def _region_map(
        self, svc: str, marks: list[tuple[float, float, str]], *, width_mm: float
    ) -> tuple[str, float]:
        """The service's travel-time map of the whole region, as a data URI and its width."""
        run, loc = self.run, self.loc
        grid = run.grid
        res = run.services[svc]
        pts = res.facilities.to_crs(grid.crs).geometry
        name = f"{self.label(svc)} ({self.mode(svc)})"  # a narrow map's title: no more
        panel = MapPanel(
            title=loc.t("map_title", service=name) if width_mm > 120 else name,
            time_min=np.asarray(res.search.time_min).reshape(grid.shape),
            thresholds_min=sorted(float(v) for v in self.specs[svc].thresholds_min),
            facility_x=pts.x.to_numpy(),
            facility_y=pts.y.to_numpy(),
        )
        data, drawn_mm = region_map_png(
            panel,
            transform=grid.transform,
            geographic=grid.geographic,
            zone_grid=np.asarray(run.zone).reshape(grid.shape),
            people=np.asarray(run.population.people, dtype=np.float64).reshape(grid.shape),
            outlines=list(run.zones.to_crs(grid.crs).geometry),
            marks=marks,
            band_labels=self._band_labels(),
            extra_labels=(loc.t("map_unreachable"), loc.t("facility"), loc.t("map_outline")),
            width_mm=width_mm,
        )
        return _png_uri(data), drawn_mm

    def zones(self, *, maps: bool) -> dict[str, Any]:
        """Per service the zones furthest behind (map and table), the same for every finer
        level, and the annex's full zone tables."""
        loc, run = self.loc, self.run
        grid = run.grid
        geoms = dict(
            zip(run.zones["zone_id"].astype(str), run.zones.to_crs(grid.crs).geometry, strict=True)
        )
        box = shapely.box(*grid.bounds)
        counts = self.facility_counts(run.zones)
        n_zones = len(run.zones)
        # a tall region's maps sit two by two, then the tables; a wide one's each over its table
        minx, miny, maxx, maxy = grid.bounds
        x_scale = np.cos(np.radians((miny + maxy) / 2)) if grid.geographic else 1.0
        side_by_side = len(self.services) > 1 and (maxy - miny) > 0.75 * (maxx - minx) * x_scale
        map_mm = 84.0 if side_by_side else 170.0
        services, annex = [], []
        for svc in self.services:
            zone_rows = [r for r in self.zone_rows(svc) if r["zone_id"] != OUTSIDE_ZONES_ID]
            worst = self.worst_first(zone_rows, svc)[:WORST_ZONES]
            top = max(float(v) for v in self.specs[svc].thresholds_min)
            fields = {
                "shown": loc.number(len(worst), 0), "total": loc.number(n_zones, 0),
                "minutes": loc.threshold(top),
                "middle": loc.threshold(_middle(self.specs[svc].thresholds_min)),
                "file": "coverage.csv",
            }  # fmt: skip
            note = loc.t("zones_worst_note" if n_zones > len(worst) else "zones_all_note", **fields)
            table = self.zone_table(
                worst, svc, facilities=counts[svc], numbered=True, codes=False, note=note,
                caption=loc.t("zones_worst_title", service=self.label(svc)),
                total=self.all_row(svc),
            )  # fmt: skip
            png, width = None, 0.0
            if maps:
                marks = []
                for k, r in enumerate(worst, start=1):
                    geom = geoms.get(str(r["zone_id"]))
                    if geom is not None and not geom.is_empty and geom.intersects(box):
                        point = geom.representative_point()
                        marks.append((float(point.x), float(point.y), str(k)))
                png, width = self._region_map(svc, marks, width_mm=map_mm)
            services.append(
                {
                    "map": png, "map_width_mm": f"{width:.1f}", "table": table,
                    "travel": self.travel_lines(worst, svc),
                    "travel_title": loc.t("zones_travel_title", service=self.label(svc)),
                }
            )  # fmt: skip
            if n_zones > len(worst):
                everyone = sorted(zone_rows, key=lambda r: str(r["zone_id"]))
                everyone += [
                    r
                    for r in self.zone_rows(svc)
                    if r["zone_id"] == OUTSIDE_ZONES_ID and float(r["population"]) > 0
                ]
                annex.append(
                    self.zone_table(
                        everyone, svc, facilities=counts[svc], numbered=False,
                        caption=f"{self.label(svc)} ({self.mode(svc)})", total=self.all_row(svc),
                    )
                )  # fmt: skip
        levels = []
        for level in run.region.zone_levels:
            rows = _records(run.baseline.level_coverage(level.name))
            level_counts = self.facility_counts(level.zones)
            tables = []
            for svc in self.services:
                zone_rows = [r for r in _pick(rows, service=svc)
                             if r["zone_id"] not in (ALL_ZONES_ID, OUTSIDE_ZONES_ID)]  # fmt: skip
                if not zone_rows:
                    continue
                worst = self.worst_first(zone_rows, svc)[:WORST_ZONES]
                top = max(float(v) for v in self.specs[svc].thresholds_min)
                note = loc.t(
                    "level_worst_note", shown=loc.number(len(worst), 0),
                    total=loc.number(len(zone_rows), 0), level=level.name,
                    minutes=loc.threshold(top),
                    middle=loc.threshold(_middle(self.specs[svc].thresholds_min)),
                    file=f"coverage_{level.name}.csv",
                )  # fmt: skip
                caption = loc.t("level_worst_title", service=self.label(svc), level=level.name)
                tables.append(
                    self.zone_table(worst, svc, facilities=level_counts[svc], numbered=True,
                                    caption=caption, note=note)
                )  # fmt: skip
            if tables:
                levels.append({"title": loc.t("level_title", level=level.name), "tables": tables})
        return {"services": services, "levels": levels, "annex": annex,
                "side_by_side": side_by_side}  # fmt: skip

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
            some = [r for r in self.zone_rows(svc) if float(r["unreachable_total"]) > 0]
            note = ""
            if len(some) > WORST_ZONES:  # the zones with the most people unreachable, most first
                note = loc.t("unreachable_top", shown=loc.number(WORST_ZONES, 0),
                             total=loc.number(len(some), 0), file="coverage.csv")  # fmt: skip
                some = sorted(some, key=lambda r: (-float(r["unreachable_total"]),
                                                   str(r["zone_id"])))[:WORST_ZONES]  # fmt: skip
            rows = []
            for r in [*some, self.all_row(svc)]:
                is_all = r["zone_id"] == ALL_ZONES_ID
                name = self.zone_label(str(r["zone_id"]), str(r["zone_name"]))
                cells = [_Cell(name, num=False)]
                cells += [_Cell(self.people(r[c]), strong=is_all) for c in cols]
                cells.append(_Cell(self.people(r["unreachable_total"]), strong=True))
                rows.append(cells)
            tables.append(
                _Table(
                    header=[loc.t("zone"), *[self.reason(c) for c in cols], loc.t("unreachable")],
                    rows=rows,
                    caption=f"{self.label(svc)} ({self.mode(svc)})",
                    note=note,
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
            [
                _Cell(loc.t(f"check.{check}"), num=False),
                *[_Cell(str(by[s]) if by[s] else "") for s in SEVERITIES],
            ]
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
                    + (f" ({self.label(f.service)})" if f.service else ""),
                    num=False,
                ),
                _Cell(f.message, num=False),
            ]
            for f in shown
        ]
        return {
            "counts": _Table(header=header, rows=rows),
            "in_english": loc.lang != "en" and bool(warn_rows),
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
        if self.run.routes is not None:
            after.append(loc.t("method_routes"))
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
        Draw each service's travel-time map of the region, the zones furthest behind numbered.
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
    view = _View(run, loc)
    scn = run.scenario
    zones = view.zones(maps=zone_maps)
    comparison = view.comparison()
    annex = {"zones": zones["annex"], "by_zone": comparison["annex"] if comparison else []}
    context = {
        "lang": lang,
        "t": loc.t,
        "title": loc.t("report_title"),
        "region": scn.scenario.name,
        "description": scn.scenario.description,
        "date": loc.date(title_date if title_date is not None else today_iso()),
        "generated_by": loc.t("generated_by", version=__version__),
        "headline": view.headline(),
        "left_behind": view.left_behind_by_zone(),
        "best": view.best_options(),
        "robust": view.robustness(),
        "curves": view.curves(),
        "comparison": comparison,
        "zones": zones,
        "annex": annex,
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
    zone_maps, findings
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
        run, lang=lang, title_date=title_date, zone_maps=zone_maps, findings=findings
    )
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
