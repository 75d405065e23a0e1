"""The starter scenario a fetch writes beside its files, ready for ``reach run`` as it is."""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["SERVICES", "StarterService", "starter_scenario"]


@dataclass(frozen=True)
class StarterService:
    """A service of the starter scenario."""

    name: str
    kind: str
    mode: str
    comment: str


#: The services a starter scenario offers: health by motorbike, schools on foot.
SERVICES: tuple[StarterService, ...] = (
    StarterService(
        "health",
        "health",
        "motorbike",
        "hospitals, health centres, clinics and doctors tagged in OSM (pharmacies excluded); "
        "motorbike with the walk to the road",
    ),
    StarterService(
        "school",
        "education",
        "walk",
        "schools tagged in OSM (amenity=school), on foot; set target_share to the share of "
        "school-age people (e.g. 0.3) to weigh loads per pupil",
    ),
)


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> list[str]:
    """``text`` as comment lines of at most about 96 characters."""
    lines: list[str] = []
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > 96 and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    lines.append(line)
    return lines


def starter_scenario(
    *,
    name: str,
    description: str,
    population: str,
    osm: str,
    boundaries: tuple[str, str, str] | None,
    services: dict[str, int],
    header: list[str],
    thresholds_min: tuple[int, ...] = (30, 60, 120),
    outputs: str = "output",
) -> str:
    """The text of a starter scenario file.

    Parameters
    ----------
    name, description
        The ``[scenario]`` table.
    population, osm
        File names (relative to the scenario) of the population raster and the OSM extract.
    boundaries
        ``(file, id_column, name_column)`` of the reporting zones, or None.
    services
        Facilities found per service name of :data:`SERVICES`; a service with none is written
        commented out (a run would stop on it).
    header
        Comment lines for the top of the file (sources, licences, notes).
    thresholds_min
        Coverage thresholds of every service.
    outputs
        The output folder (relative to the scenario).

    Returns
    -------
    str
        TOML text that :func:`reach.spec.load_scenario` accepts.
    """
    out: list[str] = []
    for line in header:
        out += _comment(line)
    out += [
        "version = 1",
        "",
        "[scenario]",
        f"name = {_string(name[:200])}",
        f"description = {_string(description)}",
        "",
        "[region]",
        f"population = {_string(population)}",
        f"osm = {_string(osm)}",
    ]
    if boundaries is not None:
        path, id_column, name_column = boundaries
        out += [
            "",
            "[region.boundaries]",
            f"path = {_string(path)}",
            f"id_column = {_string(id_column)}",
            f"name_column = {_string(name_column)}",
        ]
    out += [
        "",
        "[grid]",
        "# 8 neighbours, and a 12-hour limit: beyond it people count as reached beyond the limit",
        "neighbours = 8",
        "max_travel_time_min = 720",
    ]
    thresholds = ", ".join(str(t) for t in thresholds_min)
    for svc in SERVICES:
        count = services.get(svc.name, 0)
        block = [
            "[[services]]",
            f"name = {_string(svc.name)}",
            f"kind = {_string(svc.kind)}",
            f"mode = {_string(svc.mode)}",
            f"thresholds_min = [{thresholds}]",
            "facilities = { from_osm = true }",
        ]
        out.append("")
        out += _comment(svc.comment)
        if count:
            out.append(f"# {count} {'facility' if count == 1 else 'facilities'} in the area")
            out += block
        else:
            out += _comment(
                "none found in the extract: give a facilities file (facilities = { path = "
                '"….csv", … }) and remove the # signs to add this service'
            )
            out += [f"# {line}" for line in block]
    out += ["", "[outputs]", f"folder = {_string(outputs)}", ""]
    return "\n".join(out)
