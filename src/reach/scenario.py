"""The scenario file (TOML, version 1): what region, which services, which modes, which outputs.

Read with :mod:`tomllib`, validated with pydantic; unknown keys are rejected with the key and the
line it stands on. Paths are relative to the scenario file; ``${REACH_DATA}`` expands to the real
data folder (:func:`reach.settings.data_dir`). URLs and GDAL virtual file systems are refused.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from reach.errors import ScenarioError
from reach.settings import ALLOW_ENV, DATA_ENV, allowed_roots, data_dir

__all__ = [
    "BoundariesSpec",
    "FacilitiesSpec",
    "GridSpec",
    "LandCoverSpec",
    "LayerSpec",
    "OutputsSpec",
    "RegionSpec",
    "RoadLinesSpec",
    "Scenario",
    "ServiceSpec",
    "load_scenario",
    "parse_scenario",
]


_FORBIDDEN = re.compile(r"^(/vsi|[a-z][a-z0-9+.\-]*:/)", re.IGNORECASE)


def _local_path(value: object) -> object:
    """Refuse URLs and GDAL virtual file system paths before they become ``Path`` objects."""
    if isinstance(value, str) and (_FORBIDDEN.match(value) or "/vsi" in value.lower()):
        raise ValueError(
            f"{value!r} is a URL or a GDAL virtual file system path; give a local file"
        )
    return value


#: A path in a scenario file: local files only.
LocalPath = Annotated[Path, BeforeValidator(_local_path)]


#: Bounds on what a scenario file may ask for (each far above any real study).
MAX_SCENARIO_BYTES = 4 * 2**20
MAX_EXTENDS_DEPTH = 16
MAX_THRESHOLDS = 24
MAX_SERVICES = 32
MAX_ALTERNATIVES = 500
MAX_OPERATIONS = 1000
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_characters(value: object) -> object:
    """Refuse control characters (terminal escape sequences) in any text of the file."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, list | tuple):
        texts = [v for v in value if isinstance(v, str)]
    elif isinstance(value, dict):
        texts = [v for kv in value.items() for v in kv if isinstance(v, str)]
    for text in texts:
        if _CONTROL.search(text):
            raise ValueError(f"{text[:40]!r} holds a control character; use plain text")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, str_max_length=10_000
    )

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        return _no_control_characters(value)


class LayerSpec(_Strict):
    """A vector layer burnt into the grid (barriers, water)."""

    path: LocalPath
    layer: str | None = None
    all_touched: bool = False


class RoadLinesSpec(_Strict):
    """Non-OSM road lines with a class column (AccessMod style)."""

    path: LocalPath
    class_column: str
    layer: str | None = None
    ferry_classes: list[str] = Field(default_factory=list)


class BoundariesSpec(_Strict):
    """Reporting zones."""

    path: LocalPath
    id_column: str | None = None
    name_column: str | None = None
    layer: str | None = None
    #: Names to use instead of the file's, by zone id (e.g. to correct a mislabelled polygon).
    rename: dict[str, str] = Field(default_factory=dict)


class LandCoverSpec(_Strict):
    """Land cover: a class raster with labels, or cover-fraction rasters; walking speeds."""

    path: LocalPath | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    fractions: dict[str, LocalPath] = Field(default_factory=dict)
    speeds_kph: dict[str, float]
    water_classes: list[str] = Field(default_factory=lambda: ["PermanentWater"])

    @model_validator(mode="after")
    def _one_kind(self) -> LandCoverSpec:
        if (self.path is None) == (not self.fractions):
            raise ValueError("give either `path` (+ `labels`) or `fractions`, not both or neither")
        if self.path is not None and not self.labels:
            raise ValueError("a class raster needs `labels` (class value = label)")
        for label, kph in self.speeds_kph.items():
            if not math.isfinite(kph) or kph < 0:
                raise ValueError(f"speed of {label!r} must be a finite number ≥ 0")
        return self


class RegionSpec(_Strict):
    """The region's input files."""

    population: LocalPath
    osm: LocalPath | None = None
    roads: RoadLinesSpec | None = None
    boundaries: BoundariesSpec | None = None
    landcover: LandCoverSpec | None = None
    dem: list[LocalPath] = Field(default_factory=list)
    barriers: list[LayerSpec] = Field(default_factory=list)
    water: list[LayerSpec] = Field(default_factory=list)


class GridSpec(_Strict):
    """The analysis grid and the off-network walk."""

    neighbours: Literal[8, 16] = 8
    #: Minutes; ``inf`` means no limit (NaN is refused by ``gt``).
    max_travel_time_min: float = Field(default=720.0, gt=0, allow_inf_nan=True)
    aggregate_factor: int = Field(default=1, ge=1, le=100)
    default_walk_kph: float = Field(default=4.0, gt=0, le=20)
    slope: bool = True


class FerrySpec(_Strict):
    """Ferry timetable assumptions."""

    headway_min: float = Field(default=120.0, ge=0)


class FacilitiesSpec(_Strict):
    """Where a service's facilities come from and how to read them."""

    path: LocalPath | None = None
    from_osm: bool = False
    from_osm_tags: bool = False
    layer: str | None = None
    id_column: str | None = None
    name_column: str | None = "name"
    tier_column: str | None = None
    tier_map: dict[str, str] = Field(default_factory=dict)
    default_tier: str | None = None
    capacity_column: str | None = None
    lon_column: str = "lon"
    lat_column: str = "lat"
    where: dict[str, list[str]] = Field(default_factory=dict)
    tiers: list[str] = Field(default_factory=list)
    #: Capacity (people served) by tier, for facilities whose file gives none.
    capacity_by_tier: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _source(self) -> FacilitiesSpec:
        if (self.path is None) == (not self.from_osm):
            raise ValueError("give either `path` or `from_osm = true`")
        return self


class ServiceSpec(_Strict):
    """One service (e.g. health by motorbike, primary schools on foot)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
    kind: Literal["health", "education"]
    mode: Literal["walk", "motorbike", "car"] = "walk"
    thresholds_min: list[float] = Field(
        default_factory=lambda: [30.0, 60.0, 120.0], max_length=MAX_THRESHOLDS
    )
    target_share: float = Field(default=1.0, gt=0, le=1)
    facilities: FacilitiesSpec

    @field_validator("thresholds_min")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one threshold")
        if any(not math.isfinite(v) or v <= 0 for v in value):
            raise ValueError("thresholds must be positive finite minutes")
        return sorted(set(value))


class OutputsSpec(_Strict):
    """What to write and where."""

    folder: LocalPath = Path("maps/run")
    rasters: bool = True
    parquet: bool = True
    #: Interactive HTML maps, one per service.
    maps: bool = True
    #: Maps that open with no internet (Leaflet embedded, no basemap unless ``basemap_url``).
    maps_offline: bool = True
    #: A tile URL template for a basemap (e.g. an OpenStreetMap tile server), used online.
    basemap_url: str | None = Field(default=None, pattern=r"^https://[^\s'\"<>]+$")
    #: Regional reports (HTML and PDF) to write, by language: ``["en", "id"]``.
    reports: list[Literal["en", "id"]] = Field(default_factory=list)
    #: Also write each report as a PDF.
    report_pdf: bool = True


class ScenarioMeta(_Strict):
    """Name and description."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""


# --- operations: what an alternative changes ---------------------------------------------------

LonLat = tuple[float, float]


def _check_lon_lat(point: LonLat) -> LonLat:
    lon, lat = point
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"({lon}, {lat}) is not a longitude, latitude pair")
    return point


class AddFacility(_Strict):
    """Open a new facility."""

    op: Literal["add_facility"]
    service: str
    facility_id: str = Field(min_length=1, max_length=64)
    name: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    tier: str
    capacity: float | None = Field(default=None, ge=0)


class CloseFacility(_Strict):
    """Close an existing facility."""

    op: Literal["close_facility"]
    service: str
    facility_id: str


class UpgradeFacility(_Strict):
    """Change a facility's tier and/or capacity."""

    op: Literal["upgrade_facility"]
    service: str
    facility_id: str
    tier: str | None = None
    capacity: float | None = Field(default=None, ge=0)


class UpgradeRoad(_Strict):
    """Improve roads chosen by OSM way id, or by class inside a polygon (lon/lat ring)."""

    op: Literal["upgrade_road"]
    way_ids: list[int] = Field(default_factory=list)
    polygon: list[LonLat] = Field(default_factory=list)
    highway_classes: list[str] = Field(default_factory=list)
    set_highway: str | None = None
    set_surface: str | None = None
    set_tracktype: str | None = None
    set_smoothness: str | None = None

    @model_validator(mode="after")
    def _target(self) -> UpgradeRoad:
        if not self.way_ids and len(self.polygon) < 3:
            raise ValueError("choose roads with `way_ids` or a `polygon` of 3 or more points")
        for point in self.polygon:
            _check_lon_lat(point)
        if not any((self.set_highway, self.set_surface, self.set_tracktype, self.set_smoothness)):
            raise ValueError(
                "say what changes: set_highway, set_surface, set_tracktype or set_smoothness"
            )
        return self


class AddRoad(_Strict):
    """Build a new road segment between two points (lon/lat)."""

    op: Literal["add_road"]
    start: LonLat
    end: LonLat
    highway: str = "tertiary"
    surface: str = "asphalt"
    name: str = ""

    @model_validator(mode="after")
    def _points(self) -> AddRoad:
        _check_lon_lat(self.start)
        _check_lon_lat(self.end)
        return self


class CloseRoad(_Strict):
    """Close roads or bridges (by OSM way id)."""

    op: Literal["close_road"]
    way_ids: list[int] = Field(min_length=1)


class AddFerry(_Strict):
    """Start a ferry route between two points (lon/lat)."""

    op: Literal["add_ferry"]
    start: LonLat
    end: LonLat
    headway_min: float = Field(gt=0)
    speed_kph: float | None = Field(default=None, gt=0, le=100)
    duration_min: float | None = Field(default=None, gt=0)
    name: str = ""

    @model_validator(mode="after")
    def _points(self) -> AddFerry:
        _check_lon_lat(self.start)
        _check_lon_lat(self.end)
        return self


class ChangeFerry(_Strict):
    """Change the headway or speed of ferries (by way id, or all of them)."""

    op: Literal["change_ferry"]
    way_ids: list[int] = Field(default_factory=list)
    all: bool = False
    headway_min: float | None = Field(default=None, gt=0)
    speed_kph: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _target(self) -> ChangeFerry:
        if not self.way_ids and not self.all:
            raise ValueError("choose ferries with `way_ids` or `all = true`")
        if self.headway_min is None and self.speed_kph is None:
            raise ValueError("say what changes: headway_min or speed_kph")
        return self


class SuspendFerry(_Strict):
    """Suspend ferries (by way id, or all of them)."""

    op: Literal["suspend_ferry"]
    way_ids: list[int] = Field(default_factory=list)
    all: bool = False

    @model_validator(mode="after")
    def _target(self) -> SuspendFerry:
        if not self.way_ids and not self.all:
            raise ValueError("choose ferries with `way_ids` or `all = true`")
        return self


class Season(_Strict):
    """A season: speed multipliers on unpaved roads, closed fords, a share of the year."""

    op: Literal["season"]
    name: str = Field(min_length=1, max_length=64)
    share_of_year: float = Field(gt=0, le=1)
    surface_multipliers: dict[str, float] = Field(default_factory=dict)
    tracktype_multipliers: dict[str, float] = Field(default_factory=dict)
    walk_multiplier: float = Field(default=1.0, gt=0, le=1)
    close_fords: bool = False

    @model_validator(mode="after")
    def _factors(self) -> Season:
        for key, value in {**self.surface_multipliers, **self.tracktype_multipliers}.items():
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"multiplier of {key!r} must be between 0 and 1")
        return self


class VehicleAvailability(_Strict):
    """Only a share of people has the service's vehicle; the rest walk."""

    op: Literal["vehicle_availability"]
    service: str
    share: float = Field(ge=0, le=1)


class ConnectivitySpec(_Strict):
    """Where mobile data works: polygons, a raster (cells > threshold), or towers with a range."""

    kind: Literal["polygons", "raster", "towers"]
    path: LocalPath
    layer: str | None = None
    range_m: float | None = Field(default=None, gt=0, le=100_000)
    threshold: float = 0.0

    @model_validator(mode="after")
    def _range(self) -> ConnectivitySpec:
        if self.kind == "towers" and self.range_m is None:
            raise ValueError("tower points need `range_m`")
        return self


class Telemedicine(_Strict):
    """Remote consultations for a health service where there is connectivity."""

    op: Literal["telemedicine"]
    service: str
    remote_share: float = Field(gt=0, le=1)
    connectivity: ConnectivitySpec
    hub_and_spoke: bool = False
    referral_tier: str = "hospital"
    referral_share: float = Field(default=0.1, ge=0, le=1)
    #: Visits a person makes to primary care a year (for the referral counts).
    visits_per_person_year: float = Field(default=1.0, gt=0, le=50)


class DigitalLearning(_Strict):
    """Online learning for a school service where there is connectivity."""

    op: Literal["digital_learning"]
    service: str
    remote_share: float = Field(gt=0, le=1)
    connectivity: ConnectivitySpec


Operation = Annotated[
    AddFacility
    | CloseFacility
    | UpgradeFacility
    | UpgradeRoad
    | AddRoad
    | CloseRoad
    | AddFerry
    | ChangeFerry
    | SuspendFerry
    | Season
    | VehicleAvailability
    | Telemedicine
    | DigitalLearning,
    Field(discriminator="op"),
]


class Alternative(_Strict):
    """A named alternative: the baseline plus operations."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")
    description: str = ""
    cost: float | None = Field(default=None, ge=0)
    operations: list[Operation] = Field(default_factory=list, max_length=MAX_OPERATIONS)


class Scenario(_Strict):
    """A whole scenario file, version 1."""

    version: Literal[1] = 1
    scenario: ScenarioMeta
    region: RegionSpec
    grid: GridSpec = GridSpec()
    ferries: FerrySpec = FerrySpec()
    modes: dict[Literal["walk", "motorbike", "car"], dict[str, Any]] = Field(default_factory=dict)
    services: list[ServiceSpec] = Field(max_length=MAX_SERVICES)
    outputs: OutputsSpec = OutputsSpec()
    alternatives: list[Alternative] = Field(default_factory=list, max_length=MAX_ALTERNATIVES)
    #: Folder that relative paths are resolved against (the scenario file's folder).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    #: The file it was read from, for messages.
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _checks(self) -> Scenario:
        if not self.services:
            raise ValueError("give at least one [[services]] entry")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique: {names}")
        if self.region.osm is None and self.region.roads is None:
            raise ValueError("the region needs roads: `osm = ...` or a [region.roads] table")
        for svc in self.services:
            if svc.facilities.from_osm and self.region.osm is None:
                raise ValueError(f"service {svc.name!r} reads facilities from OSM but no `osm`")
        alt_names = [a.name for a in self.alternatives]
        if "baseline" in alt_names or len(set(alt_names)) != len(alt_names):
            raise ValueError(f"alternative names must be unique and not 'baseline': {alt_names}")
        for alt in self.alternatives:
            for op in alt.operations:
                check_operation(op, self.services, where=f"alternative {alt.name!r}")
        return self

    def input_paths(self) -> list[Path]:
        """Every input file the scenario names, resolved (operations' layers included)."""
        r = self.region
        files = [r.population]
        files += [r.osm] if r.osm else []
        files += [r.roads.path] if r.roads else []
        files += [r.boundaries.path] if r.boundaries else []
        if r.landcover:
            files += (
                [r.landcover.path] if r.landcover.path else list(r.landcover.fractions.values())
            )
        files += list(r.dem) + [b.path for b in r.barriers] + [w.path for w in r.water]
        files += [s.facilities.path for s in self.services if s.facilities.path]
        for alt in self.alternatives:
            files += [
                op.connectivity.path
                for op in alt.operations
                if isinstance(op, Telemedicine | DigitalLearning)
            ]
        return sorted({self.resolve(f) for f in files})

    def protected_paths(self) -> list[Path]:
        """Folders an output folder of this scenario may never be, nor contain.

        The project folder, the scenario's folder and the folder of every input file.
        """
        from reach.settings import project_root

        folders = {project_root(self._base_dir), self._base_dir}
        if self._source is not None:
            folders.add(Path(self._source).resolve().parent)
        inputs = self.input_paths()
        folders |= {p.parent for p in inputs} | {p for p in inputs if p.is_dir()}
        return sorted(folders)

    def resolve(self, path: Path) -> Path:
        """Resolve a path of this file against its folder (``${REACH_DATA}`` expanded).

        Raises
        ------
        ScenarioError
            When the path leaves the project folder (see :func:`reach.settings.allowed_roots`).
        """
        resolved = resolve_path(path, self._base_dir)
        roots = allowed_roots(self._base_dir)
        if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
            raise ScenarioError(
                f"path {str(path)!r} points outside the project folder {roots[0]}",
                path=self._source or self._base_dir,
                fix=f"keep inputs and outputs inside the project folder or ${{{DATA_ENV}}}, "
                f"or list the folder in {ALLOW_ENV}",
            )
        return resolved

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self._base_dir

    def with_base_dir(self, folder: Path) -> Scenario:
        """Return a copy whose relative paths resolve against ``folder``."""
        copy = self.model_copy()
        copy._base_dir = folder.resolve()
        return copy


def resolve_path(path: Path | str, base_dir: Path) -> Path:
    """Expand ``${REACH_DATA}``, make ``path`` absolute against ``base_dir`` and resolve it.

    ``..`` is collapsed and every symlink followed, so the project-folder check that follows
    sees where the path really leads.

    Raises
    ------
    ScenarioError
        For URLs, GDAL virtual file system paths, NUL bytes and over-long names.
    """
    text = str(path)
    if _FORBIDDEN.match(text) or "/vsi" in text.lower() or "://" in text:
        raise ScenarioError(
            f"path {text[:200]!r} is a URL or a GDAL virtual file system path",
            fix="give a local file path",
        )
    check_path_text(text)
    text = text.replace("${" + DATA_ENV + "}", str(data_dir())).replace(
        "$" + DATA_ENV, str(data_dir())
    )
    p = Path(text).expanduser()
    return Path(os.path.realpath(p if p.is_absolute() else base_dir / p))


def check_path_text(text: str) -> None:
    """Refuse a path holding a NUL or control character, or with over-long names.

    Raises
    ------
    ScenarioError
        Naming the problem.
    """
    if "\x00" in text or _CONTROL.search(text):
        raise ScenarioError(
            f"path {text[:80]!r} holds a NUL or control character", fix="give a plain path"
        )
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in raw.split(b"/")):
        raise ScenarioError(
            f"path {text[:60]!r}… is too long (over {MAX_PATH_BYTES} bytes, or a name over "
            f"{MAX_NAME_BYTES})",
            fix="give a shorter path",
        )


def check_operation(op: Any, services: list[ServiceSpec], *, where: str) -> None:
    """Check an operation's names against the scenario's services and their tiers.

    Used by the scenario file and by the session API alike.

    Raises
    ------
    ValueError
        For an unknown service, or a tier the service's ``tiers`` list refuses.
    """
    names = [s.name for s in services]
    svc_name = getattr(op, "service", None)
    if svc_name is None:
        return
    if svc_name not in names:
        raise ValueError(
            f"{where}: {op.op} names service {svc_name!r}, which is not one of {names}"
        )
    spec = services[names.index(svc_name)]
    tier = getattr(op, "tier", None)
    if tier is None:
        return
    from reach.ingest.facilities import SERVICE_TIERS

    allowed = list(spec.facilities.tiers) or list(SERVICE_TIERS.get(spec.kind, ()))
    if allowed and tier not in allowed:
        raise ValueError(
            f"{where}: {op.op} gives tier {tier!r}, which service {svc_name!r} does not have "
            f"(its tiers: {allowed})"
        )


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best guess at the line of ``loc`` (a pydantic error location) in the TOML text."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    last = re.escape(keys[-1])
    patterns = [
        rf'^\s*"?{last}"?\s*=',
        rf"^\s*\[+\s*[\w.\-\"]*\b{last}\b[\w.\-\"]*\s*\]+",
        rf'[{{,]\s*"?{last}"?\s*=',
    ]
    lines = text.splitlines()
    for pat in patterns:
        for i, line in enumerate(lines, start=1):
            if re.search(pat, line):
                return i
    return None


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    check_path_text(str(path))
    try:
        st = path.stat()
    except OSError:
        raise ScenarioError("scenario file not found", path=path, fix="check the path") from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(
            "the scenario is not a regular file (a folder, a pipe or a device)",
            path=path,
            fix="give the .toml file",
        )
    if st.st_size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"the scenario file is {st.st_size / 2**20:,.1f} MiB, over the "
            f"{MAX_SCENARIO_BYTES // 2**20} MiB a scenario may have",
            path=path,
            fix="check it is the right file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", path=path, fix="save it as UTF-8 text") from exc
    return text, _parse_toml(text, path)


def _parse_toml(text: str, where: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=where, fix="correct the syntax") from exc
    except RecursionError:
        raise ScenarioError(
            "the TOML is nested too deeply to read", path=where, fix="flatten its tables and arrays"
        ) from None


def _with_extends(
    raw: dict[str, Any], path: Path | None, texts: list[tuple[str, str]], seen: tuple[Path, ...]
) -> dict[str, Any]:
    """Resolve ``extends = "other.toml"``: the other file's tables, overridden by this one's.

    The other file must sit in the same folder, so relative paths mean the same in both.
    """
    name = raw.pop("extends", None)
    if name is None:
        return raw
    where = str(path) if path else "<scenario>"
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".toml"):
        raise ScenarioError(
            f"extends = {name!r} must name a .toml file in the same folder",
            path=where,
            fix='write e.g. extends = "comoros.toml" and keep both files side by side',
        )
    if path is None:
        raise ScenarioError(
            "`extends` needs the scenario to be read from a file", path=where, fix="load a file"
        )
    base_path = Path(os.path.realpath(path.parent / name))
    if base_path in seen:
        raise ScenarioError(
            f"extends {name!r} loops back to itself", path=where, fix="break the cycle"
        )
    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            f"extends chains more than {MAX_EXTENDS_DEPTH} files",
            path=where,
            fix="start from a file nearer the base",
        )
    roots = allowed_roots(path.parent)
    if not any(base_path == r or base_path.is_relative_to(r) for r in roots):
        raise ScenarioError(
            f"extends {name!r} leads outside the project folder {roots[0]} (a symlink?)",
            path=where,
            fix=f"keep the scenario files inside the project folder, or list the folder in "
            f"{ALLOW_ENV}",
        )
    text, base_raw = _read_toml(base_path)
    texts.append((str(base_path), text))
    base_raw = _with_extends(base_raw, base_path, texts, (*seen, base_path))
    return _merged(base_raw, raw)


def parse_scenario(
    text: str, *, path: Path | None = None, base_dir: Path | None = None
) -> Scenario:
    """Parse and validate scenario TOML text.

    A file may start from another with ``extends = "other.toml"`` (same folder): its tables are
    laid over the other file's, key by key; arrays such as ``[[alternatives]]`` replace them.

    Raises
    ------
    ScenarioError
        With the file, the line and the key for the first problem.
    """
    where = str(path) if path else "<scenario>"
    if len(text) > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"the scenario text is over {MAX_SCENARIO_BYTES // 2**20} MiB",
            path=where,
            fix="check it",
        )
    raw = _parse_toml(text, where)
    texts = [(where, text)]
    resolved = Path(os.path.realpath(path)) if path else None
    raw = _with_extends(raw, resolved, texts, (resolved,) if resolved else ())
    folder = base_dir if base_dir is not None else (path.parent if path else Path.cwd())
    try:
        scn = Scenario.model_validate(raw).with_base_dir(folder)
        scn._source = path
        return scn
    except RecursionError:
        raise ScenarioError(
            "the scenario is nested too deeply to check", path=where, fix="flatten it"
        ) from None
    except ValidationError as exc:
        # a misspelt key shows up as unknown + missing: name the unknown one first
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(k) for k in loc) or "(top level)"
        place = where
        for file, file_text in texts:
            line = _line_of(file_text, loc)
            if line:
                place = f"{file}:{line}"
                break
        if err["type"] == "extra_forbidden":
            raise ScenarioError(
                f"unknown key {dotted!r}", path=place, fix="remove it or correct its spelling"
            ) from exc
        if err["type"] == "missing":
            raise ScenarioError(f"missing key {dotted!r}", path=place, fix="add it") from exc
        raise ScenarioError(
            f"{dotted}: {err['msg']} (got {err.get('input')!r})"[:300],
            path=place,
            fix="see the scenario reference in README.md",
        ) from exc


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (and the file it ``extends``, if any)."""
    p = Path(path)
    text, _ = _read_toml(p)
    return parse_scenario(text, path=p)
