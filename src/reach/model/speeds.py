"""Travel modes, their speed tables, and the speed of every road or ferry way.

A :class:`ModeProfile` says how fast one mode travels on each road class and how surface,
tracktype and smoothness slow it down. :func:`way_speeds_kph`, :func:`way_oneway` and
:func:`way_fixed_time_min` turn the tags of a :class:`~reach.ingest.roads.RoadLines` into
per-way arrays for the network builder.

Speed of a way for a mode
    ``class speed × min(surface, tracktype, smoothness factors that are tagged)`` (1.0 when
    none is tagged or known), capped (never raised) by a plausible ``maxspeed`` when the mode
    uses it. The class is ``highway`` for OSM, ``road_class`` for line layers; ``*_link``
    classes take their base class's speed unless listed themselves. Class labels and tag
    values are compared trimmed and lower-cased, and for ``a;b`` values the first one counts.

Mixed trips
    On a way the mode cannot ride (class missing or 0 in the table, or a factor of 0 such as
    ``smoothness=impassable``) the traveller walks at ``walk_fallback_kph``; with a fallback of
    0 the way is unusable (NaN). Surface factors do not apply to the walking fallback, and
    neither does ``oneway`` (in OSM it binds vehicles, not pedestrians).

Ferries
    ``route=ferry`` ways move at ``ferry_kph`` in every mode (a foot passenger boards too), in
    both directions; a ``duration`` tag gives a fixed crossing time instead
    (:func:`way_fixed_time_min`).

The defaults are meant for rural eastern Indonesia (Sumba, Flores, Alor): motorbikes are the
common vehicle and ride village paths; cars need at least a track.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from reach.errors import ScenarioError

__all__ = [
    "MODES",
    "ModeProfile",
    "default_profile",
    "parse_duration_min",
    "parse_maxspeed",
    "profile_with_overrides",
    "way_fixed_time_min",
    "way_oneway",
    "way_speeds_kph",
]

#: The modes :func:`default_profile` knows.
MODES: tuple[str, ...] = ("walk", "motorbike", "car", "boat")

KPH_PER_MPH = 1.609344
KPH_PER_KNOT = 1.852
#: Highest speed (km/h) a profile may hold; anything above is a typo.
MAX_PROFILE_KPH = 300.0

_MAPPING_FIELDS = ("highway_kph", "surface_factor", "tracktype_factor", "smoothness_factor")
_SPEED_MAPPINGS = ("highway_kph",)


@dataclass(frozen=True)
class ModeProfile:
    """How one travel mode moves on roads and ferries.

    Construction validates every field and raises :class:`~reach.errors.ScenarioError` naming
    the bad one. Mapping keys are stored trimmed and lower-cased, in read-only mappings.

    Attributes
    ----------
    name
        Mode name: ``"walk"``, ``"motorbike"``, ``"car"``, ``"boat"`` (or a custom label).
    highway_kph
        Speed (km/h) by OSM ``highway`` class or line-layer class label; a class that is
        missing or 0 cannot be ridden in this mode (see ``walk_fallback_kph``).
    surface_factor
        Speed factor (0–1) by ``surface`` value, e.g. asphalt 1.0, gravel 0.7, mud 0.4.
    tracktype_factor
        Speed factor (0–1) by ``tracktype``, grade1 1.0 … grade5 0.4.
    smoothness_factor
        Speed factor (0–1) by ``smoothness``, excellent 1.0 … horrible 0.35, impassable 0.
    ferry_kph
        Crossing speed (km/h, > 0) on ferries without a ``duration`` tag.
    respects_oneway
        Whether ``oneway`` restrictions apply (vehicles yes, walking no).
    walk_fallback_kph
        Walking speed (km/h) on ways this mode cannot ride (a mixed trip); 0 makes them
        unusable.
    use_maxspeed
        Whether a plausible ``maxspeed`` tag caps the speed.
    """

    name: str
    highway_kph: Mapping[str, float]
    surface_factor: Mapping[str, float]
    tracktype_factor: Mapping[str, float]
    smoothness_factor: Mapping[str, float]
    ferry_kph: float
    respects_oneway: bool
    walk_fallback_kph: float
    use_maxspeed: bool

    def __post_init__(self) -> None:
        """Validate the fields and freeze the mappings."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise _bad("name", "must be a non-empty text")
        for fld in _MAPPING_FIELDS:
            upper = MAX_PROFILE_KPH if fld in _SPEED_MAPPINGS else 1.0
            frozen = _checked_mapping(fld, getattr(self, fld), upper)
            object.__setattr__(self, fld, MappingProxyType(frozen))
        ferry = _checked_number("ferry_kph", self.ferry_kph, 0.0, MAX_PROFILE_KPH)
        if ferry <= 0.0:
            raise _bad("ferry_kph", f"must be above 0 km/h, got {ferry:g}")
        object.__setattr__(self, "ferry_kph", ferry)
        walk = _checked_number("walk_fallback_kph", self.walk_fallback_kph, 0.0, MAX_PROFILE_KPH)
        object.__setattr__(self, "walk_fallback_kph", walk)
        for fld in ("respects_oneway", "use_maxspeed"):
            if not isinstance(getattr(self, fld), bool | np.bool_):
                raise _bad(fld, f"must be true or false, got {getattr(self, fld)!r}")
            object.__setattr__(self, fld, bool(getattr(self, fld)))

    def __hash__(self) -> int:
        """Hash by value (the mappings are hashed as sorted item tuples)."""
        return hash(
            (
                self.name,
                *(tuple(sorted(getattr(self, f).items())) for f in _MAPPING_FIELDS),
                self.ferry_kph,
                self.respects_oneway,
                self.walk_fallback_kph,
                self.use_maxspeed,
            )
        )


def _bad(key: str, problem: str) -> ScenarioError:
    """The error for one bad profile setting."""
    return ScenarioError(
        f"mode profile setting '{key}' {problem}",
        fix="correct it in the scenario's mode overrides",
    )


def _checked_number(key: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a real number in ``[low, high]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise _bad(key, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < low or number > high:
        raise _bad(key, f"must be between {low:g} and {high:g}, got {value!r}")
    return number


def _checked_mapping(fld: str, value: object, high: float) -> dict[str, float]:
    """Return a validated copy of a class/value → number mapping with normalised keys."""
    if not isinstance(value, Mapping):
        raise _bad(fld, f"must be a table of values, got {type(value).__name__}")
    out: dict[str, float] = {}
    for key, number in value.items():
        if not isinstance(key, str) or not key.strip():
            raise _bad(fld, f"has a key that is not a non-empty text: {key!r}")
        out[key.strip().lower()] = _checked_number(f"{fld}.{key}", number, 0.0, high)
    return out


# --- default tables ---------------------------------------------------------------------------

_MOTORBIKE_KPH = {
    "trunk": 60.0,
    "primary": 55.0,
    "secondary": 45.0,
    "tertiary": 40.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 15.0,
    "service": 15.0,
    "road": 25.0,
    "track": 20.0,
    "path": 10.0,
    "bridleway": 8.0,
    "cycleway": 15.0,
}
_CAR_KPH = {
    "motorway": 90.0,
    "trunk": 70.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 20.0,
    "track": 15.0,
}
_WALK_KPH = {
    **{
        c: 5.0
        for c in (
            "motorway",
            "trunk",
            "primary",
            "secondary",
            "tertiary",
            "unclassified",
            "residential",
            "living_street",
            "service",
            "road",
            "pedestrian",
            "footway",
            "cycleway",
            "busway",
        )
    },
    "track": 4.5,
    "path": 4.5,
    "bridleway": 4.5,
    "steps": 2.5,
}
_MOTOR_SURFACE = {
    "paved": 1.0,
    "asphalt": 1.0,
    "chipseal": 1.0,
    "concrete": 1.0,
    "concrete:plates": 0.9,
    "concrete:lanes": 0.9,
    "paving_stones": 0.9,
    "metal": 0.9,
    "wood": 0.8,
    "sett": 0.8,
    "cobblestone": 0.7,
    "unhewn_cobblestone": 0.6,
    "compacted": 0.85,
    "fine_gravel": 0.8,
    "gravel": 0.7,
    "unpaved": 0.7,
    "grass_paver": 0.7,
    "pebblestone": 0.6,
    "dirt": 0.55,
    "ground": 0.55,
    "earth": 0.55,
    "soil": 0.55,
    "rock": 0.5,
    "grass": 0.5,
    "woodchips": 0.5,
    "mud": 0.4,
    "sand": 0.4,
}
_CAR_SURFACE = {
    **_MOTOR_SURFACE,
    "dirt": 0.5,
    "ground": 0.5,
    "earth": 0.5,
    "soil": 0.5,
    "rock": 0.4,
    "grass": 0.4,
    "mud": 0.3,
    "sand": 0.3,
}
_WALK_SURFACE = {
    "paved": 1.0,
    "asphalt": 1.0,
    "concrete": 1.0,
    "unpaved": 1.0,
    "gravel": 1.0,
    "dirt": 0.95,
    "ground": 0.95,
    "earth": 0.95,
    "grass": 0.9,
    "rock": 0.85,
    "sand": 0.75,
    "mud": 0.7,
}
_MOTORBIKE_TRACKTYPE = {
    "grade1": 1.0,
    "grade2": 0.85,
    "grade3": 0.7,
    "grade4": 0.55,
    "grade5": 0.4,
}
_CAR_TRACKTYPE = {"grade1": 1.0, "grade2": 0.8, "grade3": 0.65, "grade4": 0.5, "grade5": 0.4}
_WALK_TRACKTYPE = {"grade1": 1.0, "grade2": 1.0, "grade3": 1.0, "grade4": 0.95, "grade5": 0.9}
_MOTORBIKE_SMOOTHNESS = {
    "excellent": 1.0,
    "good": 1.0,
    "intermediate": 0.85,
    "bad": 0.7,
    "very_bad": 0.55,
    "horrible": 0.35,
    "very_horrible": 0.2,
    "impassable": 0.0,
}
_CAR_SMOOTHNESS = {
    **_MOTORBIKE_SMOOTHNESS,
    "intermediate": 0.8,
    "bad": 0.6,
    "very_bad": 0.45,
    "very_horrible": 0.15,
}
_FERRY_KPH = 20.0
_WALK_FALLBACK_KPH = 4.5


def default_profile(mode: str) -> ModeProfile:
    """Return the default profile of a travel mode.

    Parameters
    ----------
    mode
        ``"walk"``, ``"motorbike"``, ``"car"`` or ``"boat"`` (case-insensitive). ``boat`` walks
        on land like ``walk`` and crosses water at ``ferry_kph``.

    Returns
    -------
    ModeProfile
        A fresh profile (its tables are read-only; use :func:`profile_with_overrides`).

    Raises
    ------
    ScenarioError
        ``mode`` is not a known mode.
    """
    key = mode.strip().lower() if isinstance(mode, str) else None
    if key == "walk" or key == "boat":
        return ModeProfile(
            name=key,
            highway_kph=_WALK_KPH,
            surface_factor=_WALK_SURFACE,
            tracktype_factor=_WALK_TRACKTYPE,
            smoothness_factor={},
            ferry_kph=_FERRY_KPH,
            respects_oneway=False,
            walk_fallback_kph=_WALK_FALLBACK_KPH,
            use_maxspeed=False,
        )
    if key == "motorbike":
        return ModeProfile(
            name=key,
            highway_kph=_MOTORBIKE_KPH,
            surface_factor=_MOTOR_SURFACE,
            tracktype_factor=_MOTORBIKE_TRACKTYPE,
            smoothness_factor=_MOTORBIKE_SMOOTHNESS,
            ferry_kph=_FERRY_KPH,
            respects_oneway=True,
            walk_fallback_kph=_WALK_FALLBACK_KPH,
            use_maxspeed=True,
        )
    if key == "car":
        return ModeProfile(
            name=key,
            highway_kph=_CAR_KPH,
            surface_factor=_CAR_SURFACE,
            tracktype_factor=_CAR_TRACKTYPE,
            smoothness_factor=_CAR_SMOOTHNESS,
            ferry_kph=_FERRY_KPH,
            respects_oneway=True,
            walk_fallback_kph=_WALK_FALLBACK_KPH,
            use_maxspeed=True,
        )
    raise ScenarioError(f"unknown travel mode {mode!r}", fix=f"use one of {', '.join(MODES)}")


def profile_with_overrides(base: ModeProfile, overrides: Mapping[str, object]) -> ModeProfile:
    """Return ``base`` with some settings replaced.

    Parameters
    ----------
    base
        The profile to start from.
    overrides
        Field name → new value. Table fields (``highway_kph`` and the ``*_factor`` fields) are
        merged key by key into the base table (set a class to 0 to stop riding it); other
        fields are replaced.

    Returns
    -------
    ModeProfile
        The new profile (``base`` is unchanged).

    Raises
    ------
    ScenarioError
        An unknown setting, a value of the wrong type, a negative or non-finite speed, a factor
        outside 0–1, or a ferry speed of 0; the message names the setting.
    """
    if not isinstance(overrides, Mapping):
        raise ScenarioError(
            f"mode overrides must be a table, got {type(overrides).__name__}",
            fix="write them as `setting = value` pairs under the mode",
        )
    fields = [f.name for f in dataclasses.fields(ModeProfile)]
    changes: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ScenarioError(
                f"unknown mode profile setting {key!r}",
                fix=f"use one of {', '.join(fields)}",
            )
        if key in _MAPPING_FIELDS:
            if not isinstance(value, Mapping):
                raise _bad(key, f"must be a table of values, got {type(value).__name__}")
            merged = dict(getattr(base, key))
            merged.update(value)
            changes[key] = merged
        else:
            changes[key] = value
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# --- tag parsing ------------------------------------------------------------------------------

_MAXSPEED_RE = re.compile(
    r"([0-9]+(?:\.[0-9]+)?)\s*(km/h|kmh|kph|mph|knots?|kn)?", re.IGNORECASE | re.ASCII
)
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_CLOCK_RE = re.compile(r"([0-9]+):([0-5]?[0-9])(?::([0-5]?[0-9](?:\.[0-9]+)?))?", re.ASCII)
_MINUTES_RE = re.compile(_NUMBER, re.ASCII)
_ISO_RE = re.compile(
    rf"P(?:({_NUMBER})D)?(?:T(?:({_NUMBER})H)?(?:({_NUMBER})M)?(?:({_NUMBER})S)?)?",
    re.IGNORECASE | re.ASCII,
)


def parse_maxspeed(
    value: str | None, *, min_kph: float = 5.0, max_kph: float = 150.0
) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Parameters
    ----------
    value
        The tag value: ``"50"``, ``"50 km/h"``, ``"50kmh"``, ``"30 mph"``, ``"10 knots"``; for
        ``"50;60"`` the first value counts.
    min_kph, max_kph
        The plausible window; a speed outside it is ignored.

    Returns
    -------
    float or None
        The limit in km/h, or ``None`` when it is absent, not a number (``none``, ``signals``,
        ``variable``, ``walk``), a country zone code (``ID:urban``: not guessed), malformed
        (``1,000``) or implausible (outside ``[min_kph, max_kph]``). Never raises.
    """
    if not isinstance(value, str):
        return None
    match = _MAXSPEED_RE.fullmatch(value.split(";", 1)[0].strip())
    if match is None:
        return None
    unit = (match.group(2) or "").lower()
    factor = KPH_PER_MPH if unit == "mph" else KPH_PER_KNOT if unit.startswith("kn") else 1.0
    kph = float(match.group(1)) * factor
    if not math.isfinite(kph) or not min_kph <= kph <= max_kph:
        return None
    return kph


def parse_duration_min(value: str | None) -> float | None:
    """Parse an OSM ``duration`` value (ferries) into minutes.

    Parameters
    ----------
    value
        ``"HH:MM"``, ``"HH:MM:SS"``, a plain number of minutes (``"45"``), or ISO 8601
        (``"PT1H30M"``, ``"PT45M"``, ``"P1DT2H"``).

    Returns
    -------
    float or None
        Minutes (> 0), or ``None`` for absent, malformed, negative or zero durations. Never
        raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    minutes: float | None = None
    if match := _CLOCK_RE.fullmatch(text):
        hours, mins, secs = match.groups()
        minutes = int(hours) * 60.0 + int(mins) + (float(secs) / 60.0 if secs else 0.0)
    elif _MINUTES_RE.fullmatch(text):
        minutes = float(text)
    elif (match := _ISO_RE.fullmatch(text)) and any(match.groups()):
        if text.upper().endswith("T"):
            return None
        days, hours, mins, secs = (float(g) if g else 0.0 for g in match.groups())
        minutes = days * 1440.0 + hours * 60.0 + mins + secs / 60.0
    if minutes is None or not math.isfinite(minutes) or minutes <= 0.0:
        return None
    return minutes


# --- per-way arrays ---------------------------------------------------------------------------


def _column(tags: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as an object array (all None if the column is absent)."""
    if name in tags.columns:
        return np.asarray(tags[name].to_numpy(dtype=object), dtype=object)
    return np.full(len(tags), None, dtype=object)


def _normalise_one(value: object) -> str | None:
    """First ``;``-separated value of a tag, trimmed and lower-cased (None if not text)."""
    if not isinstance(value, str):
        return None
    text = value.split(";", 1)[0].strip().lower()
    return text or None


def _lookup(values: np.ndarray, func: Callable[[Any], float | None]) -> np.ndarray:
    """``func`` of every value, computed once per distinct value (NaN for ``None``).

    Missing values (``None``/NaN) give NaN without calling ``func``.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [func(u) for u in uniques]
    table = np.array([np.nan if r is None else r for r in results] + [np.nan], dtype=np.float64)
    return table[codes]  # code -1 (missing) picks the trailing NaN


def _tag_lookup(tags: pd.DataFrame, name: str, func: Callable[[str], float | None]) -> np.ndarray:
    """``func`` of the normalised tag ``name`` per way (NaN where untagged)."""

    def on_raw(value: object) -> float | None:
        text = _normalise_one(value)
        return None if text is None else func(text)

    return _lookup(_column(tags, name), on_raw)


def _class_lookup(tags: pd.DataFrame, func: Callable[[str], float | None]) -> np.ndarray:
    """``func`` of each way's class: ``highway``, else ``road_class`` (line layers)."""
    has_highway = ~np.isnan(_tag_lookup(tags, "highway", lambda _: 1.0))
    from_highway = _tag_lookup(tags, "highway", func)
    from_class = _tag_lookup(tags, "road_class", func)
    return np.where(has_highway, from_highway, from_class)


def _is_ferry(tags: pd.DataFrame) -> np.ndarray:
    """Ferry mask, the same rule as ``RoadLines.is_ferry``."""
    return np.asarray(_column(tags, "route") == "ferry", dtype=bool)


def _ridden_kph(tags: pd.DataFrame, profile: ModeProfile) -> np.ndarray:
    """Riding speed per way (NaN or 0 where the mode cannot ride; ferries not special)."""
    table = profile.highway_kph

    def class_speed(cls: str) -> float | None:
        speed = table.get(cls)
        if speed is None and cls.endswith("_link"):
            speed = table.get(cls[: -len("_link")])
        return speed

    base = _class_lookup(tags, class_speed)
    factors = [
        _tag_lookup(tags, col, mapping.get)
        for col, mapping in (
            ("surface", profile.surface_factor),
            ("tracktype", profile.tracktype_factor),
            ("smoothness", profile.smoothness_factor),
        )
    ]
    factor = np.fmin(np.fmin(factors[0], factors[1]), factors[2])  # NaN = untagged/unknown
    speed = base * np.where(np.isnan(factor), 1.0, factor)
    if profile.use_maxspeed:
        cap = _lookup(_column(tags, "maxspeed"), parse_maxspeed)
        speed = np.where(np.isnan(cap), speed, np.minimum(speed, cap))
    return np.asarray(speed, dtype=np.float64)


def way_speeds_kph(tags: pd.DataFrame, profile: ModeProfile) -> np.ndarray:
    """Speed of each way for one mode.

    Parameters
    ----------
    tags
        ``RoadLines.tags`` (columns :data:`~reach.ingest.roads.TAG_COLUMNS`; missing columns
        count as untagged).
    profile
        The travel mode.

    Returns
    -------
    numpy.ndarray
        ``float64`` (n_ways,): km/h; ``walk_fallback_kph`` where the mode cannot ride;
        ``profile.ferry_kph`` on ferries; NaN where the way is unusable (not ridable and no
        walking fallback).
    """
    ridden = _ridden_kph(tags, profile)
    fallback = profile.walk_fallback_kph if profile.walk_fallback_kph > 0 else np.nan
    speed = np.where(ridden > 0, ridden, fallback)
    speed[_is_ferry(tags)] = profile.ferry_kph
    return np.asarray(speed, dtype=np.float64)


_ONEWAY_VALUES = {
    "yes": 1.0,
    "true": 1.0,
    "1": 1.0,
    "-1": -1.0,
    "reverse": -1.0,
    "no": 0.0,
    "false": 0.0,
    "0": 0.0,
}


def way_oneway(tags: pd.DataFrame, profile: ModeProfile) -> np.ndarray:
    """Travel direction allowed on each way for one mode.

    ``oneway`` yes/true/1 → 1, -1/reverse → -1, no/false/0 → 0; otherwise
    ``junction=roundabout`` or ``circular`` and ``highway=motorway`` imply 1. Other values
    (``reversible``, ``alternating``) → 0. Ferries, ways the mode walks (mixed-trip fallback)
    and every way of a profile with ``respects_oneway=False`` → 0.

    Parameters
    ----------
    tags
        ``RoadLines.tags``.
    profile
        The travel mode.

    Returns
    -------
    numpy.ndarray
        ``int8`` (n_ways,): 1 along the way's node order only, -1 against it only, 0 both.
    """
    n = len(tags)
    if not profile.respects_oneway:
        return np.zeros(n, dtype=np.int8)
    explicit = _tag_lookup(tags, "oneway", _ONEWAY_VALUES.get)
    junction = _tag_lookup(tags, "junction", {"roundabout": 1.0, "circular": 1.0}.get)
    motorway = _class_lookup(tags, {"motorway": 1.0}.get)
    implied = np.where(np.isnan(junction) & np.isnan(motorway), 0.0, 1.0)
    direction = np.where(np.isnan(explicit), implied, explicit)
    direction[~(_ridden_kph(tags, profile) > 0) | _is_ferry(tags)] = 0.0
    return direction.astype(np.int8)


def way_fixed_time_min(tags: pd.DataFrame) -> np.ndarray:
    """Fixed crossing time of each ferry from its ``duration`` tag.

    Parameters
    ----------
    tags
        ``RoadLines.tags``.

    Returns
    -------
    numpy.ndarray
        ``float64`` (n_ways,): minutes on ferries whose ``duration`` parses
        (:func:`parse_duration_min`), NaN elsewhere.
    """
    minutes = _lookup(_column(tags, "duration"), parse_duration_min)
    minutes[~_is_ferry(tags)] = np.nan
    return minutes
