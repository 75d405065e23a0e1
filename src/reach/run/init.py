"""``reach init``: a region folder and a scenario that runs, from the files an office holds.

No network: every input is a local file. The scenario names each input where it is (under the
real-data folder as ``${REACH_DATA}/…``, elsewhere relative to the scenario), so a national
raster or a province's boundary file is never copied; it is read at run time in the window of
the study area. Before anything is written, the scenario is loaded and every input read with
the readers ``reach run`` uses, so a file reach would refuse is refused here, in one line, and
the folder is left as it was.

The project folder rule: a scenario reads and writes only inside its project folder (the
nearest folder up with ``.git``, ``pyproject.toml`` or ``.reach-project``), the real-data
folder and the folders ``REACH_ALLOW_PATHS`` lists. When an input lies elsewhere — a data
folder beside the project — ``reach init`` writes a ``.reach-project`` file into the region
folder that lists that data folder, so the scenario runs as written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reach.errors import InputError, ScenarioError
from reach.ingest.boundaries import read_vector_file, text_values
from reach.ingest.rasters import check_local_path
from reach.model.region import RegionInputs
from reach.model.speeds import default_profile
from reach.outputs.scenario_file import TomlDraft, grid_table
from reach.outputs.write import write_text_atomic
from reach.run.region import read_region_inputs
from reach.settings import ALLOW_ENV, PROJECT_FILE, allowed_roots, data_dir
from reach.spec import parse_scenario

__all__ = [
    "INIT_MARK",
    "ROAD_CLASS_EQUIVALENTS",
    "CountsInput",
    "InitRequest",
    "InitResult",
    "ServiceInput",
    "ZonesInput",
    "init_region",
    "scenario_path_text",
]

#: The first line of every scenario ``reach init`` writes: it may replace only such a file.
INIT_MARK = "# Written by reach init."

#: The OSM class whose default speeds a road class of an official (Indonesian) list takes.
ROAD_CLASS_EQUIVALENTS: dict[str, str] = {
    "nasional": "primary",
    "jalan nasional": "primary",
    "provinsi": "secondary",
    "jalan provinsi": "secondary",
    "kabupaten": "tertiary",
    "jalan kabupaten": "tertiary",
    "kota": "tertiary",
    "desa": "unclassified",
    "jalan desa": "unclassified",
    "lingkungan": "residential",
    "setapak": "path",
    "jalan setapak": "path",
}


@dataclass(frozen=True)
class ZonesInput:
    """A polygon file, its columns and the rows kept.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    path
        The polygons.
    id_column, name_column, layer
        As ``[region.boundaries]`` takes them (``None``: found by reach).
    where
        Rows kept by column (``{"kode": ["53.11"]}``; ``"53.11.*"`` keeps every code it begins).
    """

    path: Path
    id_column: str | None = None
    name_column: str | None = None
    layer: str | None = None
    where: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CountsInput:
    """People per zone, and how to spread them over the grid.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    path
        The table (CSV, xlsx, or a vector file's attributes).
    zone_column, total_column
        Its zone id and people columns.
    zones
        The polygons the counts belong to (``None``: the boundaries).
    weights
        A settlement, building or land-cover layer (``None``: evenly over land).
    weight_column
        The weight attribute of a polygon or point layer.
    cell_size_m
        The grid's cell size.
    """

    path: Path
    zone_column: str
    total_column: str
    zones: ZonesInput | None = None
    weights: Path | None = None
    weight_column: str | None = None
    cell_size_m: float = 500.0


@dataclass(frozen=True)
class ServiceInput:
    """A service and its facility list.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    name, kind, mode
        As ``[[services]]`` takes them.
    path
        The facility list (CSV, xlsx, GeoJSON, GeoPackage, shapefile).
    sheet
        The sheet of a workbook, or the layer of a GeoPackage.
    tier_column
        The column with each facility's kind or tier (``None``: found by reach).
    thresholds_min
        The coverage thresholds.
    where
        Rows kept by column (e.g. one kabupaten's facilities out of a province list).
    label
        The service's display name in the reports and maps, in the first report language
        (English when none is asked for); ``None``: its name.
    """

    name: str
    kind: str
    mode: str
    path: Path
    sheet: str | None = None
    tier_column: str | None = None
    thresholds_min: tuple[float, ...] = (30.0, 60.0, 120.0)
    where: Mapping[str, Sequence[str]] = field(default_factory=dict)
    label: str | None = None


@dataclass(frozen=True)
class InitRequest:
    """What ``reach init`` is given.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    name
        The scenario's name.
    services
        The services (at least one).
    boundaries
        The reporting zones, or ``None`` (one zone: the whole grid).
    population
        A population raster (give it or ``counts``).
    counts
        People per zone (give it or ``population``).
    osm
        An OSM extract for the roads.
    roads, road_class_column
        A road line layer and its class column (instead of ``osm``); neither: walking only.
    levels
        More reporting zones by level name (e.g. ``{"desa": ZonesInput(…)}``).
    reports
        Report languages (``"en"``, ``"id"``).
    scenario_file
        The scenario's file name in the folder.
    output
        The output folder, relative to the scenario.
    currency
        The ISO 4217 code the alternatives' costs will be given in (``None``: none said).
    """

    name: str
    services: tuple[ServiceInput, ...]
    boundaries: ZonesInput | None = None
    population: Path | None = None
    counts: CountsInput | None = None
    osm: Path | None = None
    roads: Path | None = None
    road_class_column: str | None = None
    levels: Mapping[str, ZonesInput] = field(default_factory=dict)
    reports: tuple[str, ...] = ()
    scenario_file: str = "scenario.toml"
    output: str = "output"
    currency: str | None = None


@dataclass(frozen=True)
class InitResult:
    """What ``reach init`` wrote.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    scenario
        The scenario file.
    project_file
        The ``.reach-project`` written (``None``: none was needed).
    notes
        Lines for the user: what was found, and what to check.
    """

    scenario: Path
    project_file: Path | None
    notes: tuple[str, ...] = ()


def scenario_path_text(path: Path, folder: Path) -> str:
    """How a scenario in ``folder`` names an input: ``${REACH_DATA}/…`` or a relative path.

    Parameters
    ----------
    path
        The input, absolute.
    folder
        The scenario's folder, absolute.

    Returns
    -------
    str
        ``${REACH_DATA}/<path below it>`` for a file under the real-data folder, else the path
        relative to ``folder`` (``/`` separated).
    """
    data = data_dir()
    if path.is_relative_to(data):
        return "${REACH_DATA}/" + path.relative_to(data).as_posix()
    return Path(os.path.relpath(path, folder)).as_posix()


def _zones_table(d: TomlDraft, zones: ZonesInput, folder: Path) -> None:
    """The keys of a boundaries-like table."""
    d.key("path", scenario_path_text(zones.path, folder))
    for key in ("id_column", "name_column", "layer"):
        value = getattr(zones, key)
        if value is not None:
            d.key(key, value)
    if zones.where:
        d.key("where", {k: list(v) for k, v in zones.where.items()})


def _zones_inline(zones: ZonesInput, folder: Path) -> dict[str, object]:
    """A boundaries-like table as an inline table."""
    out: dict[str, object] = {"path": scenario_path_text(zones.path, folder)}
    for key in ("id_column", "name_column", "layer"):
        if getattr(zones, key) is not None:
            out[key] = getattr(zones, key)
    if zones.where:
        out["where"] = {k: list(v) for k, v in zones.where.items()}
    return out


def _road_classes(path: Path, column: str) -> list[str]:
    """The class values a road line layer holds, most common first."""
    frame = read_vector_file(path, what="road lines file")
    if column not in frame.columns:
        cols = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise InputError(
            f"the road lines file has no column {column!r} (columns: {cols})",
            path=path,
            fix="give --road-class-column one of the listed columns",
        )
    values = [v for v in text_values(frame[column]) if v is not None]
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts, key=lambda v: (-counts[v], v))


def _speeds(classes: Sequence[str], mode: str) -> tuple[dict[str, float], list[str]]:
    """Speeds of a mode by road class (official names by their OSM equivalent), and guesses."""
    table = default_profile(mode).highway_kph
    out: dict[str, float] = {}
    unknown: list[str] = []
    for cls in classes:
        key = cls.strip().lower()
        osm = key if key in table else ROAD_CLASS_EQUIVALENTS.get(key)
        if osm is None or osm not in table:
            osm = "unclassified" if "unclassified" in table else next(iter(table))
            unknown.append(cls)
        out[cls] = float(table[osm])
    return out, unknown


def _draft(
    req: InitRequest,
    folder: Path,
    *,
    facts: Mapping[str, str],
    road_classes: Sequence[str],
) -> str:
    """The scenario text, with comments (``facts``: what loading found, by topic)."""
    d = TomlDraft()
    d.lines.append(INIT_MARK)
    d.comment(
        "It runs as it is: `reach run` on this file. Every path is the input where it lies: "
        "${REACH_DATA} is the real-data folder (set REACH_DATA to move it), other paths are "
        "relative to this file. A scenario reads and writes only inside its project folder, "
        "${REACH_DATA} and the folders REACH_ALLOW_PATHS or a .reach-project file list."
    )
    d.key("version", 1)
    d.table("scenario")
    d.key("name", req.name[:200])
    d.key("description", _description(req))
    if req.currency is not None:
        d.key("currency", req.currency, comment="The currency of the alternatives' costs.")
    d.table("region", comment=facts.get("region", ""))
    if req.population is not None:
        d.key(
            "population",
            scenario_path_text(req.population, folder),
            comment="People per cell; its grid is the analysis grid. "
            + (
                "With the boundaries filtered, only the window of the zones kept is read."
                if req.boundaries is not None and req.boundaries.where
                else ""
            ),
        )
    if req.osm is not None:
        d.key("osm", scenario_path_text(req.osm, folder), comment="Roads and ferries from OSM.")
    if req.boundaries is not None:
        d.table(
            "region.boundaries",
            comment="The zones every table and map reports by. " + facts.get("boundaries", ""),
        )
        _zones_table(d, req.boundaries, folder)
    if req.counts is not None:
        c = req.counts
        d.table(
            "region.population_counts",
            comment="No population raster: people counted per zone, spread over a grid of "
            f"{c.cell_size_m:g} m cells that reach makes, every zone's count kept exactly. "
            + facts.get("counts", ""),
        )
        d.key("path", scenario_path_text(c.path, folder))
        d.key("zone_column", c.zone_column)
        d.key("total_column", c.total_column)
        d.key("cell_size_m", float(c.cell_size_m))
        if c.zones is not None:
            d.key(
                "zones",
                _zones_inline(c.zones, folder),
                comment="The polygons the counts belong to. Smaller reporting zones whose codes "
                "begin with theirs (53.11 → 53.11.01) report the people counted in them.",
            )
        if c.weights is not None:
            w: dict[str, object] = {"path": scenario_path_text(c.weights, folder)}
            if c.weight_column is not None:
                w["column"] = c.weight_column
            d.key(
                "weights",
                w,
                comment="Where people live inside each zone: in proportion to this layer (a "
                "zone it gives no weight is spread evenly, and the audit says so).",
            )
        else:
            d.comment("No weights: each zone's people are spread evenly over its land.")
    if req.roads is not None:
        d.table(
            "region.roads",
            comment="Road lines with a class column; each class's speed is in [modes.*] "
            "below. Lines are joined where their ends lie within 5 m and split where they "
            "cross. " + facts.get("roads", ""),
        )
        d.key("path", scenario_path_text(req.roads, folder))
        d.key("class_column", req.road_class_column or "highway")
    elif req.osm is None:
        d.comment(
            "No roads: everyone walks over the land (at [grid] default_walk_kph, or land-cover "
            "speeds with [region.landcover]), the classic AccessMod study."
        )
    for name, level in req.levels.items():
        d.table(
            "region.zone_levels",
            array=True,
            comment=f"Another reporting level: coverage_{name}.csv, one row per zone. "
            + facts.get(f"level:{name}", ""),
        )
        d.key("name", name)
        _zones_table(d, level, folder)
    grid_table(d)
    if req.roads is not None and road_classes:
        modes = sorted({s.mode for s in req.services} | {"walk"})
        for mode in modes:
            speeds, unknown = _speeds(road_classes, mode)
            note = (
                f"Speeds by road class (km/h), from reach's {mode} speeds for the OSM class "
                "each official class matches (nasional = primary, provinsi = secondary, "
                "kabupaten = tertiary, desa = unclassified)."
            )
            if unknown:
                note += f" Guessed as unclassified — check: {', '.join(unknown)}."
            d.table(f"modes.{mode}", comment=note)
            d.key("highway_kph", speeds)
    for svc in req.services:
        d.table("services", array=True, comment=facts.get(f"service:{svc.name}", ""))
        d.key("name", svc.name)
        if svc.label is not None:
            d.key("label", {(req.reports or ("en",))[0]: svc.label})
        d.key("kind", svc.kind)
        d.key("mode", svc.mode)
        d.key("thresholds_min", [float(t) for t in svc.thresholds_min])
        fac: dict[str, object] = {"path": scenario_path_text(svc.path, folder)}
        if svc.sheet is not None:
            fac["layer"] = svc.sheet
        if svc.tier_column is not None:
            fac["tier_column"] = svc.tier_column
        if svc.where:
            fac["where"] = {k: list(v) for k, v in svc.where.items()}
        d.key(
            "facilities",
            fac,
            comment="Tiers from the kinds Indonesian lists use (Puskesmas, RSUD, Pustu, SD, "
            "SMP, SMA, …) unless tier_column names a column of tiers.",
        )
    d.table("outputs", comment="Everything reach writes goes into this folder, replaced whole "
            "on each run (only a folder reach wrote itself is ever replaced).")  # fmt: skip
    d.key("folder", req.output)
    if req.reports:
        d.key("reports", list(req.reports))
    return d.text()


def _description(req: InitRequest) -> str:
    """The scenario's description: its sources in a line, in the report's language."""
    indonesian = bool(req.reports) and req.reports[0] == "id"
    people = req.population or (req.counts.path if req.counts else None)
    roads = req.osm or req.roads
    assert people is not None
    facilities = ", ".join(s.path.name for s in req.services)
    if indonesian:
        road_text = roads.name if roads else "tidak ada (hanya berjalan kaki)"
        how = "jumlah per wilayah" if req.counts else "raster"
        return (
            f"Dibuat dengan reach init. Penduduk: {people.name} ({how}); jalan: {road_text}; "
            f"fasilitas: {facilities}."
        )
    road_text = roads.name if roads else "none (walking only)"
    how = "counts per zone" if req.counts else "raster"
    return (
        f"Built with reach init. People: {people.name} ({how}); roads: {road_text}; "
        f"facilities: {facilities}."
    )


def _inputs(req: InitRequest) -> list[tuple[str, Path]]:
    """Every input file of a request, with what it is."""
    out: list[tuple[str, Path]] = []
    if req.population is not None:
        out.append(("population raster", req.population))
    if req.counts is not None:
        out.append(("population counts table", req.counts.path))
        if req.counts.zones is not None:
            out.append(("count zones file", req.counts.zones.path))
        if req.counts.weights is not None:
            out.append(("population weight layer", req.counts.weights))
    if req.boundaries is not None:
        out.append(("zones file", req.boundaries.path))
    if req.osm is not None:
        out.append(("OSM extract", req.osm))
    if req.roads is not None:
        out.append(("road lines file", req.roads))
    out += [(f"zone level {name!r} file", z.path) for name, z in req.levels.items()]
    out += [(f"{s.name} facilities file", s.path) for s in req.services]
    return out


@contextlib.contextmanager
def _allowing(folders: Sequence[Path]) -> Iterator[None]:
    """``REACH_ALLOW_PATHS`` widened by ``folders`` while the scenario is tried."""
    old = os.environ.get(ALLOW_ENV)
    extra = [str(f) for f in folders]
    os.environ[ALLOW_ENV] = os.pathsep.join(([old] if old else []) + extra)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ALLOW_ENV, None)
        else:
            os.environ[ALLOW_ENV] = old


def _check_request(req: InitRequest) -> None:
    """Refuse a request that cannot make a scenario, before any file is read."""
    if (req.population is None) == (req.counts is None):
        raise ScenarioError(
            "give the people either as a raster (--population) or as counts per zone "
            "(--counts), one of the two",
            fix="a district office without a raster: --counts TABLE with --count-zones",
        )
    if req.counts is not None and req.counts.zones is None and req.boundaries is None:
        raise ScenarioError(
            "counts per zone need the zones' polygons", fix="give --boundaries or --count-zones"
        )
    if req.osm is not None and req.roads is not None:
        raise ScenarioError("give roads from OSM or from a line layer, not both", fix="drop one")
    if req.roads is not None and not req.road_class_column:
        raise ScenarioError(
            "a road line layer needs its class column", fix="give --road-class-column COLUMN"
        )
    if not req.services:
        raise ScenarioError(
            "no service given", fix="give --health FILE and/or --school FILE (facility lists)"
        )


def _marker_text(folders: Sequence[str]) -> str:
    """The ``.reach-project`` file listing data folders."""
    d = TomlDraft()
    d.lines.append("# Written by reach init: this folder is a reach project.")
    d.comment(
        "Scenarios here may read inputs from the folders listed below (relative to this "
        "folder) as well as from this folder and ${REACH_DATA}; add a folder to read more."
    )
    d.key("data_folders", list(folders))
    return d.text()


def _written_by_init(path: Path) -> bool:
    """Whether ``path`` is a regular file whose first line says reach init wrote it."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if path.is_file() and not path.is_symlink():
            with path.open(encoding="utf-8") as fh:
                return fh.read(64).startswith("# Written by reach init")
    return False


def _write_new(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` at once; replace only a file reach init wrote, if asked."""
    if path.exists() or path.is_symlink():
        if not _written_by_init(path):
            raise InputError(
                "the file exists and reach init did not write it", path=path,
                fix="choose another folder or --scenario-file name; reach never replaces a "
                "file it did not make",
            )  # fmt: skip
        if not overwrite:
            raise InputError(
                "the file exists (written by an earlier reach init)", path=path,
                fix="add --overwrite to write it again",
            )  # fmt: skip
    write_text_atomic(path, text)


def init_region(folder: str | Path, request: InitRequest, *, overwrite: bool = False) -> InitResult:
    """Write a scenario (and, when needed, a ``.reach-project``) for local files.

    Parameters
    ----------
    folder
        The region folder (made when missing). The scenario goes here; its outputs go to
        ``output/`` inside it.
    request
        The inputs and services.
    overwrite
        Write again over a scenario an earlier ``reach init`` wrote (never over another file).

    Returns
    -------
    InitResult
        The scenario, the project file and notes for the user.

    Raises
    ------
    ScenarioError
        When the request cannot make a scenario (no people, no service, two road sources).
    InputError
        When an input is refused, exactly as ``reach run`` would refuse it, or the scenario
        file exists and reach init did not write it. Nothing is written then.
    """
    _check_request(request)
    for what, path in _inputs(request):
        check_local_path(path, what=what)
        if not Path(path).is_file():
            raise InputError(f"{what} not found", path=Path(path), fix="check the path")
    target = Path(folder).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise InputError("not a folder", path=target, fix="give a folder for the region")
    inputs = [(w, Path(p).expanduser().resolve()) for w, p in _inputs(request)]
    roots = allowed_roots(target)
    output = (target / request.output).resolve()
    places = [p.parent for _, p in inputs] + [output]
    outside = [f for f in places if not any(f.is_relative_to(r) for r in roots)]
    if outside:
        # the region folder becomes the project: list every folder it reads or writes beyond
        # itself (and beyond ${REACH_DATA}), not only those outside the old project folder
        data = data_dir()
        outside = sorted(
            {f for f in places if not f.is_relative_to(target) and not f.is_relative_to(data)}
        )
        marker_path = target / PROJECT_FILE
        if marker_path.exists() and not _written_by_init(marker_path):
            shown = ", ".join(Path(os.path.relpath(f, target)).as_posix() for f in outside)
            raise InputError(
                "the project file exists and does not list every input folder", path=marker_path,
                fix=f"add data_folders = [...] with {shown} to it, or list them in {ALLOW_ENV}",
            )  # fmt: skip
    classes = (
        _road_classes(request.roads, request.road_class_column or "")
        if request.roads is not None
        else []
    )
    text = _draft(request, target, facts={}, road_classes=classes)
    with _allowing(outside):
        scn = parse_scenario(text, path=target / request.scenario_file, base_dir=target)
        loaded = read_region_inputs(scn)
        scn.resolve(scn.outputs.folder)  # the output folder obeys the same rule
    facts, notes = _facts(request, loaded)
    text = _draft(request, target, facts=facts, road_classes=classes)
    parse_scenario(text, base_dir=target)  # the final text is as valid as the tried one
    made = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    marker: Path | None = None
    try:
        if outside:
            marker = target / PROJECT_FILE
            listed = [Path(os.path.relpath(f, target)).as_posix() for f in outside]
            _write_new(marker, _marker_text(listed), overwrite=True)
        _write_new(target / request.scenario_file, text, overwrite=overwrite)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                for child in target.iterdir():
                    child.unlink()
                target.rmdir()
        raise
    if marker is not None:
        notes.append(
            f"{marker} lists {', '.join(str(f) for f in outside)}: inputs outside the project "
            "folder are allowed from there"
        )
    return InitResult(scenario=target / request.scenario_file, project_file=marker,
                      notes=tuple(notes))  # fmt: skip


def _facts(req: InitRequest, loaded: RegionInputs) -> tuple[dict[str, str], list[str]]:
    """What loading the scenario found: comment texts by topic, and notes for the user."""
    grid = loaded.grid
    pop = loaded.population
    facts: dict[str, str] = {
        "region": (
            f"Found when this file was written: a grid of {grid.rows:,} × {grid.cols:,} cells, "
            f"{pop.total:,.0f} people."
        )
    }
    notes: list[str] = [f"{pop.total:,.0f} people on a {grid.rows:,} × {grid.cols:,}-cell grid"]
    if req.boundaries is not None:
        facts["boundaries"] = f"{len(loaded.zones)} zones."
        notes.append(f"{len(loaded.zones)} reporting zones")
    if loaded.population_counts is not None:
        t = loaded.population_counts.table
        even = int((t["spread"] == "even").sum())
        facts["counts"] = (
            f"{len(t)} zones, {t['count'].sum():,.0f} people"
            + (f"; {even} spread evenly for want of weight." if even and req.counts and
               req.counts.weights else ".")
        )  # fmt: skip
        ignored = t.attrs.get("ignored_rows", [])
        if ignored:
            notes.append(
                f"{len(ignored)} rows of the counts table name zones outside the area and "
                f"were left out ({', '.join(ignored[:6])}{', …' if len(ignored) > 6 else ''})"
            )
    for lv in loaded.zone_levels:
        facts[f"level:{lv.name}"] = f"{len(lv.zones)} zones."
    if loaded.roads is not None and req.roads is not None:
        facts["roads"] = f"{len(loaded.roads.way_id):,} line parts after joining and splitting."
    for svc in req.services:
        fac = loaded.facilities[svc.name]
        tiers = fac["tier"].value_counts()
        shown = ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
        facts[f"service:{svc.name}"] = (
            f"{svc.name}: {len(fac)} facilities ({shown}) from {svc.path.name}, "
            + ("on foot." if svc.mode == "walk" else f"by {svc.mode}.")
        )
        notes.append(f"{svc.name}: {len(fac)} facilities ({shown})")
    return facts, notes
