"""The ``reach`` command. The only place that sets up logging, progress display and exit codes."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reach.errors import EXIT_INTERNAL, ReachError, ScenarioError
from reach.metrics.coverage import ALL_ZONES_ID
from reach.pipeline import RunResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="reach: who can reach a clinic or a school, how long it takes, and what would change.",
)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
_state = {"debug": False}
T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn errors into one line on stderr and the documented exit code."""
    try:
        return fn()
    except ReachError as exc:
        if _state["debug"]:
            traceback.print_exc()
        _err.print(f"error: {exc.one_line()}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err.print("interrupted; the output folder was left as it was", markup=False)
        raise typer.Exit(130) from None
    except Exception as exc:
        if _state["debug"]:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        _err.print(
            f"internal error: {type(exc).__name__}: {first} — please report it, "
            "and run again with --debug for the traceback",
            markup=False,
        )
        raise typer.Exit(EXIT_INTERNAL) from None


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    _state["debug"] = debug
    _state["quiet"] = quiet
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("reach").setLevel(logging.DEBUG if debug else logging.WARNING)


def _fmt(value: float, spec: str, suffix: str = "") -> str:
    return "–" if value != value else f"{value:{spec}}{suffix}"


def _coverage_tables(run: RunResult) -> None:
    thresholds = {s.name: sorted(s.thresholds_min) for s in run.scenario.services}
    for svc, part in run.coverage.groupby("service", sort=False):
        th = thresholds[str(svc)]
        table = Table(title=f"{svc}: people within reach — {run.scenario.scenario.name}")
        for col in ("zone", "population", *[f"≤{t:g} min" for t in th]):
            table.add_column(col, justify="left" if col == "zone" else "right")
        for col in ("median min", "p90 min", "unreachable"):
            table.add_column(col, justify="right")
        for _, row in part.iterrows():
            bold = "bold" if row["zone_id"] == ALL_ZONES_ID else ""
            table.add_row(
                Text(str(row["zone_name"]), style=bold),
                f"{row['population']:,.0f}",
                *[_fmt(row[f"pct_within_{t:g}min"], ".1f", " %") for t in th],
                _fmt(row["median_time_min"], ".0f"),
                _fmt(row["p90_time_min"], ".0f"),
                f"{row['unreachable_total']:,.0f}",
            )
        _out.print(table)


def _comparison_table(run: RunResult) -> None:
    if run.ranking is None or run.comparison is None:
        return
    cmp = run.comparison[run.comparison["zone_id"] == ALL_ZONES_ID]
    thresholds = {s.name: sorted(s.thresholds_min) for s in run.scenario.services}
    for svc, part in run.ranking.groupby("service", sort=False):
        th = thresholds[str(svc)]
        key = part.iloc[0]["threshold_min"]
        table = Table(title=f"{svc}: alternatives against the baseline (ranked at ≤{key:g} min)")
        table.add_column("rank", justify="right")
        table.add_column("alternative", justify="left", no_wrap=True)
        for col in (f"≤{t:g} min" for t in th):
            table.add_column(col, justify="right")
        for col in ("newly covered", "gaining", "losing", "Δ mean min", "cost", "per 1,000 cost"):
            table.add_column(col, justify="right")
        base = cmp[cmp["service"] == svc].iloc[0]
        table.add_row(
            "", Text("baseline", style="italic"),
            *[_fmt(base[f"pct_base_within_{t:g}min"], ".1f", " %") for t in th],
            "", "", "", "", "", "",
        )  # fmt: skip
        for _, r in part.iterrows():
            row = cmp[(cmp["service"] == svc) & (cmp["alternative"] == r["alternative"])].iloc[0]
            table.add_row(
                str(r["rank"]),
                Text(str(r["alternative"])),
                *[_fmt(row[f"pct_alt_within_{t:g}min"], ".1f", " %") for t in th],
                f"{r['net_newly_covered']:+,.0f}",
                f"{r['gaining']:,.0f}",
                f"{r['losing']:,.0f}",
                _fmt(r["delta_mean_time_min"], "+.1f"),
                _fmt(r["cost"], ",.0f"),
                _fmt(1000 * r["newly_covered_per_cost"], ".2f"),
            )
        _out.print(table)


def _summary(run: object) -> None:
    assert isinstance(run, RunResult)
    _coverage_tables(run)
    _comparison_table(run)
    if run.out_dir is not None:
        _out.print(f"outputs written to {run.out_dir}", markup=False)


def _run_with_progress(
    scenario_path: Path,
    out: Path | None,
    *,
    maps: bool = True,
    write: bool = True,
    parts: dict[str, Any] | None = None,
) -> object:
    from reach.pipeline import run_scenario
    from reach.scenario import load_scenario

    scn = load_scenario(scenario_path)

    def go(on_step: Callable[[str], None] | None) -> object:
        if not parts:
            return run_scenario(scn, out_dir=out, maps=maps, write=write, on_step=on_step)
        from reach.build import load_region
        from reach.partition import run_partitioned

        # alternatives need the region's friction, which a run read by the workers leaves out
        source = load_region(scn) if scn.alternatives else scn
        part = run_partitioned(source, on_step=on_step, **parts)
        return run_scenario(
            scn, out_dir=out, maps=maps, write=write, on_step=on_step, region=part.region,
            baseline=part.baseline,
        )  # fmt: skip

    if _state.get("quiet"):
        return go(None)
    with _err.status("starting", spinner="dots") as status:
        return go(lambda name: status.update(name))


WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Run the baseline as partitions on a local Dask cluster."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Run the baseline on a Dask cluster (tcp://host:port)."),
]
ByOpt = Annotated[
    str, typer.Option("--by", help="Partitions: auto, islands, tiles or zones (with --workers).")
]


def _parts(workers: int | None, scheduler: str | None, by: str) -> dict[str, Any] | None:
    if workers is None and scheduler is None:
        return None
    return {"workers": workers, "scheduler": scheduler, "by": by}


NoMaps = Annotated[bool, typer.Option("--no-maps", help="Do not write the HTML maps.")]


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: the scenario's).")
    ] = None,
    no_maps: NoMaps = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    by: ByOpt = "auto",
) -> None:
    """Run a scenario: travel times, coverage tables, rasters, maps and a manifest."""
    parts = _parts(workers, scheduler, by)
    result = _guard(lambda: _run_with_progress(scenario, out, maps=not no_maps, parts=parts))
    _summary(result)


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML) with alternatives.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: the scenario's).")
    ] = None,
    no_maps: NoMaps = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    by: ByOpt = "auto",
) -> None:
    """Run a scenario set and print the alternatives against the baseline, ranked."""
    parts = _parts(workers, scheduler, by)
    result = _guard(lambda: _run_with_progress(scenario, out, maps=not no_maps, parts=parts))
    assert isinstance(result, RunResult)
    if not result.alternatives:
        _err.print(
            f"error: {scenario}: the scenario has no [[alternatives]] to compare — fix: add some",
            markup=False,
        )
        raise typer.Exit(2)
    _comparison_table(result)
    _out.print(f"comparison.csv, ranking.csv and delta rasters written to {result.out_dir}")


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    by: ByOpt = "auto",
    tile_cells: Annotated[
        int | None, typer.Option("--tile-cells", help="Cells per tile (default 4,000,000).")
    ] = None,
    workers: WorkersOpt = None,
) -> None:
    """Print the partitions a run on Dask would use: cells, halos, memory per task."""
    from reach.partition import plan_partitions
    from reach.scenario import load_scenario

    def go() -> str:
        scn = load_scenario(scenario)
        return plan_partitions(scn, by=by, tile_cells=tile_cells, workers=workers).describe()  # type: ignore[arg-type]

    _out.print(_guard(go), markup=False)


@app.command("map")
def map_(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the maps (default: the scenario's output folder)."),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Link Leaflet from the web and add a basemap.")
    ] = False,
    basemap: Annotated[
        str | None, typer.Option("--basemap", help="Tile URL template for a basemap (https).")
    ] = None,
) -> None:
    """Run a scenario in memory and write only its HTML maps, one per service."""
    from reach.outputs.maps import write_maps

    def go() -> list[Path]:
        result = _run_with_progress(scenario, None, write=False)
        assert isinstance(result, RunResult)
        scn = result.scenario
        folder = out if out is not None else scn.resolve(scn.outputs.folder)
        if basemap is not None and not basemap.startswith("https://"):
            raise ScenarioError(
                f"--basemap {basemap!r} is not an https tile URL", fix="give https://…/{z}/{x}/{y}"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return write_maps(
            result,
            folder,
            offline=not online and scn.outputs.maps_offline,
            basemap_url=basemap or scn.outputs.basemap_url,
        )

    written = _guard(go)
    assert isinstance(written, list)
    for path in written:
        _out.print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)", markup=False)


@app.command()
def report(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    lang: Annotated[
        list[str], typer.Option("--lang", help="Language: en (English) or id (Bahasa Indonesia).")
    ] = ["en"],  # noqa: B006 - typer reads the default
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the reports (default: the scenario's output)."),
    ] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Write the HTML report only.")] = False,
) -> None:
    """Run a scenario (or set) in memory and write its regional report, HTML and PDF."""
    from reach.outputs.i18n import LANGUAGES
    from reach.outputs.report import write_report

    def go() -> list[Path]:
        unknown = [x for x in lang if x not in LANGUAGES]
        if unknown:
            raise ScenarioError(
                f"no report language {unknown[0]!r}", fix=f"use one of {', '.join(LANGUAGES)}"
            )
        result = _run_with_progress(scenario, None, write=False)
        assert isinstance(result, RunResult)
        scn = result.scenario
        folder = out if out is not None else scn.resolve(scn.outputs.folder)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for code in lang:
            written += write_report(result, folder, lang=code, pdf=not no_pdf)
        return written

    for path in _guard(go):
        _out.print(f"{path}  ({path.stat().st_size / 1e3:,.0f} KB)", markup=False)


def _frame_table(frame: pd.DataFrame, title: str, columns: dict[str, str]) -> None:
    """Print chosen columns of a table (``{column: header}``); numbers get separators."""
    table = Table(title=title)
    for header in columns.values():
        table.add_column(header, justify="right")
    for _, row in frame.iterrows():
        cells = []
        for col in columns:
            value = row[col]
            if isinstance(value, float | np.floating):
                number = float(value)
                spec = ".2f" if abs(number) < 10 else ",.1f" if abs(number) < 1000 else ",.0f"
                spec = ".5f" if col in ("lon", "lat") else spec
                cells.append(_fmt(number, spec))
            else:
                cells.append("" if pd.isna(value) else str(value))
        table.add_row(*cells)
    _out.print(table)


def _study_setup(scenario: Path) -> tuple[Any, Any]:
    from reach.build import load_region
    from reach.pipeline import evaluate
    from reach.scenario import load_scenario

    scn = load_scenario(scenario)
    if _state.get("quiet"):
        region = load_region(scn)
        return region, evaluate(region)
    with _err.status("loading the region", spinner="dots") as status:
        region = load_region(scn, clock=None)
        status.update("baseline travel times")
        return region, evaluate(region)


def _study_out(region: Any, out: Path | None, name: str) -> Path:
    scn = region.scenario
    if out is not None:
        return out
    base = scn.resolve(scn.outputs.folder)
    return base.parent / f"{base.name}_{name}"


def _write_study(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    from reach.outputs.write import atomic_folder, write_table

    with atomic_folder(folder) as tmp:
        for stem, frame in tables.items():
            write_table(frame, tmp / stem)
    _out.print(f"written to {folder}", markup=False)


ServiceOpt = Annotated[str, typer.Option("--service", help="Service name (default: the first).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder.")]
ThresholdOpt = Annotated[
    float | None, typer.Option("--threshold", help="Minutes (default: the middle threshold).")
]


def _svc(region: Any, service: str) -> str:
    names = [s.name for s in region.scenario.services]
    if not service:
        return names[0]
    if service not in names:
        raise ScenarioError(f"no service {service!r}", fix=f"use one of {', '.join(names)}")
    return service


@app.command()
def capacity(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    service: ServiceOpt = "",
    threshold: ThresholdOpt = None,
    out: OutOpt = None,
) -> None:
    """Capacity-limited coverage: served, within reach but over capacity, beyond reach."""
    from reach.studies import capacity_study

    def go() -> None:
        region, base = _study_setup(scenario)
        name = _svc(region, service)
        result = capacity_study(region, base, name, threshold_min=threshold)
        _frame_table(
            result.zones,
            f"{name}: capacity-limited coverage within {result.threshold_min:g} min",
            {"zone_name": "zone", "population": "population", "pct_served": "% served",
             "pct_in_reach_over_capacity": "% in reach, over capacity",
             "pct_beyond_reach": "% beyond reach"},
        )  # fmt: skip
        _write_study(
            _study_out(region, out, f"capacity_{name}"),
            {"capacity_zones": result.zones, "capacity_facilities": result.facilities},
        )

    _guard(go)


@app.command()
def equity(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out: OutOpt = None,
) -> None:
    """Equity of travel times per zone: beyond the threshold, mean, p90, Gini, Palma."""
    from reach.pipeline import key_threshold
    from reach.studies import equity_study

    def go() -> None:
        region, base = _study_setup(scenario)
        table = equity_study(region, base)
        for name, part in table.groupby("service", sort=False):
            spec = next(s for s in region.scenario.services if s.name == name)
            mid = f"pct_beyond_{key_threshold(spec):g}min"
            _frame_table(
                part,
                f"{name}: equity of travel time, worst zones first",
                {"rank_worst_first": "rank", "zone_name": "zone", "population": "population",
                 mid: f"% beyond {key_threshold(spec):g} min",
                 "mean_time_min_reached": "mean min", "p90_time_min_reached": "p90 min",
                 "gini_reached": "Gini", "palma_reached": "Palma",
                 "pct_unreachable": "% unreachable"},
            )  # fmt: skip
        _write_study(_study_out(region, out, "equity"), {"equity": table})

    _guard(go)


@app.command("access")
def access_scores(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    service: ServiceOpt = "",
    out: OutOpt = None,
) -> None:
    """Accessibility scores (enhanced two-step floating catchment): supply per 1,000 people."""
    from reach.studies import accessibility_study

    def go() -> None:
        region, base = _study_setup(scenario)
        name = _svc(region, service)
        result = accessibility_study(region, base, name)
        _frame_table(
            result.zones,
            f"{name}: {result.method} supply per 1,000 people",
            {"zone_name": "zone", "population": "population",
             "mean_supply_per_1000_people": "mean per 1,000",
             "median_supply_per_1000_people": "median per 1,000",
             "pct_with_access": "% with access"},
        )  # fmt: skip
        _write_study(
            _study_out(region, out, f"access_{name}"),
            {"access_zones": result.zones, "access_facilities": result.facilities},
        )

    _guard(go)


@app.command()
def referral(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    service: ServiceOpt = "",
    tier: Annotated[str, typer.Option("--tier", help="Referral tier.")] = "hospital",
    out: OutOpt = None,
) -> None:
    """Referral: each facility's time to the nearest hospital, and end-to-end coverage."""
    from reach.studies import referral_study

    def go() -> None:
        region, base = _study_setup(scenario)
        name = _svc(region, service)
        result = referral_study(region, base, name, referral_tier=tier)
        spec = next(s for s in region.scenario.services if s.name == name)
        cols = {"zone_name": "zone", "population": "population"}
        cols |= {f"pct_end_to_end_within_{t:g}min": f"% ≤{t:g} min" for t in spec.thresholds_min}
        cols |= {"mean_end_to_end_min": "mean min", "pct_primary_unreachable": "% unreachable"}
        _frame_table(result.zones, f"{name}: end to end, facility then {tier}", cols)
        _write_study(
            _study_out(region, out, f"referral_{name}"),
            {"referral_zones": result.zones, "referral_facilities": result.facilities},
        )

    _guard(go)


@app.command()
def optimize(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    service: ServiceOpt = "",
    sites: Annotated[int, typer.Option("--sites", help="How many new sites.")] = 5,
    threshold: ThresholdOpt = None,
    candidates: Annotated[
        int, typer.Option("--candidates", help="Underserved candidate cells to choose from.")
    ] = 200,
    grid_step: Annotated[
        int, typer.Option("--grid-step", help="Use every N-th passable cell as a candidate.")
    ] = 0,
    budget: Annotated[float | None, typer.Option("--budget", help="Total budget.")] = None,
    cost: Annotated[float | None, typer.Option("--cost", help="Cost per site.")] = None,
    tier: Annotated[str, typer.Option("--tier", help="Tier of the new sites.")] = "health_centre",
    out: OutOpt = None,
) -> None:
    """Choose new sites that bring most people within the threshold (greedy and exact)."""
    from reach.studies import siting_study

    def go() -> None:
        if budget is not None and cost is None:
            raise ScenarioError("--budget needs --cost (the cost of a site)", fix="add --cost")
        region, base = _study_setup(scenario)
        name = _svc(region, service)
        study = siting_study(
            region, base, name, n_sites=sites, threshold_min=threshold,
            n_candidates=candidates, grid_step_cells=grid_step or None, budget=budget,
            cost_per_site=cost,
        )  # fmt: skip
        cmp = study.comparison
        for sol in (cmp.greedy, cmp.exact):
            optimal = " (proven optimal)" if sol.proven_optimal else ""
            _frame_table(
                sol.sites,
                f"{name}: {sol.solver} — {sol.covered_people:,.0f} people newly within "
                f"{study.threshold_min:g} min{optimal}",
                {"order": "#", "candidate_id": "candidate", "lon": "lon", "lat": "lat",
                 "marginal_gain_people": "gain", "cumulative_gain_people": "cumulative"},
            )  # fmt: skip
        _out.print(
            f"gap greedy vs exact: {cmp.gap_people:,.0f} people ({cmp.gap_pct:.2f} %) "
            f"from {len(study.candidates)} candidates",
            markup=False,
        )
        folder = _study_out(region, out, f"optimize_{name}")
        _write_study(
            folder,
            {"sites_greedy": cmp.greedy.sites, "sites_exact": cmp.exact.sites,
             "candidates": study.candidates},
        )  # fmt: skip
        toml = cmp.exact.alternative_toml(name=f"optimal_{name}_sites", service=name, tier=tier)
        (folder / "alternative.toml").write_text(toml, "utf-8")

    _guard(go)


@app.command()
def fetch(
    region: Annotated[
        str, typer.Argument(help="A place name, a 'west,south,east,north' box or a boundary file.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the data and scenario.")],
    year: Annotated[int, typer.Option("--year", help="WorldPop year.")] = 2020,
    iso3: Annotated[str | None, typer.Option("--iso3", help="Country code (ISO 3166-1).")] = None,
    admin_level: Annotated[
        int, typer.Option("--admin-level", help="geoBoundaries level for zones (0 = none).")
    ] = 1,
    pbf_url: Annotated[
        str | None, typer.Option("--pbf-url", help="An .osm.pbf extract to clip, for big areas.")
    ] = None,
    margin_km: Annotated[float, typer.Option("--margin-km", help="Widen the area.")] = 0.0,
    offline: Annotated[bool, typer.Option("--offline", help="Use only the cache.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Download again.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files in --out.")] = False,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")] = None,
) -> None:
    """Download (or take from the cache) roads, population and zones, and write a scenario."""
    from reach.fetch import FetchResult, fetch_region

    def go() -> FetchResult:
        kwargs: dict[str, Any] = {
            "out_dir": out, "year": year, "iso3": iso3,
            "admin_level": admin_level or None, "offline": offline, "refresh": refresh,
            "pbf_url": pbf_url, "margin_km": margin_km, "overwrite": overwrite,
            "cache_dir": cache_dir,
        }  # fmt: skip
        if _state.get("quiet"):
            return fetch_region(region, **kwargs)
        with _err.status("fetching", spinner="dots") as status:

            def progress(label: str, done: int, total: int | None) -> None:
                size = f"{done / 1e6:,.1f} MB" + (f" of {total / 1e6:,.1f} MB" if total else "")
                status.update(f"{label}: {size}")

            return fetch_region(
                region, progress=progress, on_step=lambda t: status.update(t), **kwargs
            )

    result = _guard(go)
    _out.print(f"scenario written: {result.scenario}", markup=False)
    for note in result.notes:
        _out.print(f"note: {note}", markup=False)
    _out.print(f"next: reach run {result.scenario}", markup=False)


@app.command("cache")
def cache_cmd(
    action: Annotated[str, typer.Argument(help="info or clear.")] = "info",
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")] = None,
) -> None:
    """Show or clear the download cache of `reach fetch`."""
    from reach.fetch import cache_clear, cache_info

    def go() -> None:
        if action == "info":
            info = cache_info(cache_dir=cache_dir)
            table = Table(title=f"reach cache: {info.folder}")
            for col in ("what", "size", "fetched", "sha256"):
                table.add_column(col)
            for e in info.entries:
                table.add_row(e.label, f"{e.size / 1e6:,.1f} MB", str(e.created), e.sha256[:12])
            _out.print(table)
            _out.print(
                f"{len(info.entries)} entries, {info.total_bytes / 1e6:,.1f} MB", markup=False
            )
        elif action == "clear":
            cleared = cache_clear(cache_dir=cache_dir)
            _out.print(
                f"removed {cleared.entries} entries ({cleared.bytes / 1e6:,.1f} MB)", markup=False
            )
        else:
            raise ScenarioError(f"no cache action {action!r}", fix="use `info` or `clear`")

    _guard(go)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("maps/demo"),
    size: Annotated[int, typer.Option("--size", help="Grid cells of the generated region.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the generator.")] = 7,
) -> None:
    """Generate the built-in island district and run it (no network needed)."""
    from reach.demo import run_demo

    def go() -> object:
        if _state.get("quiet"):
            return run_demo(out, size_cells=size or None, seed=seed)
        with _err.status("generating the demo region", spinner="dots") as status:
            return run_demo(
                out, size_cells=size or None, seed=seed, on_step=lambda n: status.update(n)
            )

    _summary(_guard(go))


def main() -> None:
    """Console entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
