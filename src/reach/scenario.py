"""The scenario file (TOML, version 1): what region, which services, which modes, which outputs.

Read with :mod:`tomllib`, validated with pydantic; unknown keys are rejected with the key and the
line it stands on. Paths are relative to the scenario file; ``${REACH_DATA}`` expands to the real
data folder (:func:`reach.settings.data_dir`). URLs and GDAL virtual file systems are refused.
"""

from __future__ import annotations

import math
import re
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
from reach.settings import DATA_ENV, data_dir

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    max_travel_time_min: float = Field(default=720.0, gt=0)
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
    thresholds_min: list[float] = Field(default_factory=lambda: [30.0, 60.0, 120.0])
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


class ScenarioMeta(_Strict):
    """Name and description."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class Scenario(_Strict):
    """A whole scenario file, version 1."""

    version: Literal[1] = 1
    scenario: ScenarioMeta
    region: RegionSpec
    grid: GridSpec = GridSpec()
    ferries: FerrySpec = FerrySpec()
    modes: dict[Literal["walk", "motorbike", "car"], dict[str, Any]] = Field(default_factory=dict)
    services: list[ServiceSpec]
    outputs: OutputsSpec = OutputsSpec()
    #: Folder that relative paths are resolved against (the scenario file's folder).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

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
        return self

    def resolve(self, path: Path) -> Path:
        """Resolve a path of this file against its folder (``${REACH_DATA}`` expanded)."""
        return resolve_path(path, self._base_dir)

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
    """Expand ``${REACH_DATA}`` and make ``path`` absolute against ``base_dir``.

    Raises
    ------
    ScenarioError
        For URLs and GDAL virtual file system paths.
    """
    text = str(path)
    if _FORBIDDEN.match(text) or "/vsi" in text.lower() or "://" in text:
        raise ScenarioError(
            f"path {text!r} is a URL or a GDAL virtual file system path",
            fix="give a local file path",
        )
    text = text.replace("${" + DATA_ENV + "}", str(data_dir())).replace(
        "$" + DATA_ENV, str(data_dir())
    )
    p = Path(text).expanduser()
    return p if p.is_absolute() else (base_dir / p).resolve()


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


def parse_scenario(
    text: str, *, path: Path | None = None, base_dir: Path | None = None
) -> Scenario:
    """Parse and validate scenario TOML text.

    Raises
    ------
    ScenarioError
        With the file, the line and the key for the first problem.
    """
    where = str(path) if path else "<scenario>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", path=where, fix="correct the syntax") from exc
    folder = base_dir if base_dir is not None else (path.parent if path else Path.cwd())
    try:
        return Scenario.model_validate(raw).with_base_dir(folder)
    except ValidationError as exc:
        # a misspelt key shows up as unknown + missing: name the unknown one first
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(k) for k in loc) or "(top level)"
        line = _line_of(text, loc)
        place = f"{where}:{line}" if line else where
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
    """Read and validate a scenario file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError("scenario file not found", path=p, fix="check the path")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", path=p, fix="save it as UTF-8 text") from exc
    return parse_scenario(text, path=p)
