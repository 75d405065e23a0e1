"""What reach noticed about its inputs: the findings of the data-quality audit.

Every stage that notices something a planner should know — a facility in the sea, two records of
one hospital, a road end joined to its neighbour, a zone outside the grid, people far from any
road — says so as a :class:`Finding` naming the thing by its id. The run collects them into the
audit (``audit.csv`` and ``audit.json`` in the output folder, a section of the report, warnings
in the manifest and on the terminal). Plain data, shared by every stage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["CHECKS", "SEVERITIES", "SUBJECTS", "Finding", "Severity", "Subject"]

#: How much a finding matters: ``warning`` (a figure may be wrong because of it), ``repaired``
#: (reach changed the input, e.g. joined a road end; the change is listed), ``info`` (worth
#: knowing, no figure affected).
Severity = Literal["warning", "repaired", "info"]
SEVERITIES: tuple[str, ...] = ("warning", "repaired", "info")

#: What a finding is about; its ``subject_id`` is that thing's id in the input.
Subject = Literal["facility", "zone", "road", "layer", "population", "region"]
SUBJECTS: tuple[str, ...] = ("facility", "zone", "road", "layer", "population", "region")

#: Every check the audit makes, by its stable name. Each has a display name in every report
#: language (``check.<name>`` in the message catalogues); a finding of any other check is refused.
CHECKS: tuple[str, ...] = (
    "duplicate_facility_kept",
    "duplicate_facility_merged",
    "facility_impassable",
    "facility_in_water",
    "facility_off_grid",
    "facility_on_barrier",
    "facility_on_no_data",
    "facility_without_name",
    "facility_zero_catchment",
    "layer_partial_cover",
    "no_roads",
    "people_far_from_road",
    "population_outside_zones",
    "population_spread_even",
    "population_total_differs",
    "population_total_unplaced",
    "population_zone_empty",
    "road_components",
    "road_crossing_kept",
    "road_crossing_split",
    "road_end_joined",
    "road_part_detached",
    "zone_outside_grid",
    "zone_partly_outside_grid",
)


@dataclass(frozen=True)
class Finding:
    """One thing the audit noticed, named by the id of what it is about.

    Parameters
    ----------
    check
        The check that found it, a stable snake_case name (``facility_in_water``,
        ``duplicate_facility_merged``, ``road_end_joined``, ``zone_outside_grid``, ...).
    severity
        ``warning``, ``repaired`` or ``info`` (see :data:`Severity`).
    subject
        What it is about: ``facility``, ``zone``, ``road``, ``layer``, ``population`` or
        ``region``.
    subject_id
        The id of that thing in the input (a facility id, zone id, way id, file path), or ``""``
        for the region as a whole.
    message
        One line in plain language, naming the thing and what to do about it.
    service
        The service the finding belongs to, if any.
    value
        The finding's measure, if it has one (a distance, a number of people, a factor).
    unit
        The unit of ``value`` (``m``, ``people``, ``ratio``, ...).
    """

    check: str
    severity: Severity
    subject: Subject
    subject_id: str
    message: str
    service: str | None = None
    value: float | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"check {self.check!r} is not one of reach.findings.CHECKS")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if self.subject not in SUBJECTS:
            raise ValueError(f"subject {self.subject!r} is not one of {SUBJECTS}")

    def record(self) -> dict[str, Any]:
        """The finding as a flat record (a row of ``audit.csv``, an item of ``audit.json``).

        Returns
        -------
        dict
            The fields by name.
        """
        return asdict(self)
