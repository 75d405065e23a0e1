"""The starter scenario a fetch writes beside its files, ready for ``reach run`` as it is."""

from __future__ import annotations

from dataclasses import dataclass

from reach.outputs.scenario_file import TomlDraft, grid_table

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
    d = TomlDraft()
    for line in header:
        d.comment(line)
    d.key("version", 1)
    d.table("scenario")
    d.key("name", name[:200])
    d.key("description", description)
    d.table("region")
    d.key("population", population)
    d.key("osm", osm)
    if boundaries is not None:
        path, id_column, name_column = boundaries
        d.table("region.boundaries")
        d.key("path", path)
        d.key("id_column", id_column)
        d.key("name_column", name_column)
    grid_table(d)
    for svc in SERVICES:
        count = services.get(svc.name, 0)
        block = TomlDraft()
        block.lines.append("[[services]]")
        block.key("name", svc.name)
        block.key("kind", svc.kind)
        block.key("mode", svc.mode)
        block.key("thresholds_min", list(thresholds_min))
        block.key("facilities", {"from_osm": True})
        d.lines.append("")
        d.comment(svc.comment)
        if count:
            d.lines.append(f"# {count} {'facility' if count == 1 else 'facilities'} in the area")
            d.lines += block.lines
        else:
            d.comment(
                "none found in the extract: give a facilities file (facilities = { path = "
                '"….csv", … }) and remove the # signs to add this service'
            )
            d.lines += [f"# {line}" for line in block.lines]
    d.table("outputs")
    d.key("folder", outputs)
    return d.text()
