"""The data-quality audit of a run: what loading noticed, the region checks, the facilities'.

:func:`audit_run` collects every :class:`~reach.findings.Finding` of a region and one of its
evaluations, sorted the same way every time; ``reach.run.write`` writes them (``audit.csv``,
``audit.json``, the manifest's warnings, the report's "Data quality" section).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from reach.findings import SEVERITIES, Finding
from reach.model.audit import (
    far_from_road_findings,
    no_roads_finding,
    noding_findings,
    outside_zones_finding,
    road_component_findings,
    zone_grid_findings,
)
from reach.model.region import Region
from reach.results import Evaluation

__all__ = ["audit_run", "finding_order", "region_checks"]


def region_checks(region: Region) -> list[Finding]:
    """The region's own checks: roads, people far from them, zones and the grid.

    Parameters
    ----------
    region
        The loaded region.

    Returns
    -------
    list of Finding
        The repairs noding made, the road network's parts, the people more than 1 km from any
        road per zone (for a region without roads, one ``no_roads`` finding instead), and,
        when the scenario has reporting zones, the zones outside the grid and the people
        outside every zone.
    """
    out = noding_findings(region.roads_noding)
    people = region.population.people
    no_roads = no_roads_finding(region.roads)
    if no_roads:
        out += no_roads
    else:
        out += road_component_findings(region.roads)
        out += far_from_road_findings(
            people, region.grid, region.roads, region.membership, region.zones
        )
    if region.scenario.region.boundaries is not None:
        out += zone_grid_findings(region.zones, region.grid, region.membership)
        out += outside_zones_finding(people, region.membership, len(region.zones))
    return out


def _catchment_checker() -> Callable[[Any], list[Finding]] | None:
    """``reach.model.facility_audit.catchment_findings``, when that module has it."""
    try:
        module = importlib.import_module("reach.model.facility_audit")
    except ImportError:
        return None
    found = getattr(module, "catchment_findings", None)
    return found if callable(found) else None


def finding_order(finding: Finding) -> tuple[int, str, str, str, str, str]:
    """The audit's sort key: severity (warnings first), check, subject, id, service, message.

    Parameters
    ----------
    finding
        A finding.

    Returns
    -------
    tuple
        The key.
    """
    return (
        SEVERITIES.index(finding.severity),
        finding.check,
        finding.subject,
        finding.subject_id,
        finding.service or "",
        finding.message,
    )


def audit_run(region: Region, evaluation: Evaluation | None = None) -> list[Finding]:
    """Every finding of the audit of one evaluation of a region, sorted deterministically.

    The region checks are made once per region (kept by :meth:`Region.cached`).

    Parameters
    ----------
    region
        The loaded region (its :attr:`~reach.model.region.Region.findings` are included).
    evaluation
        The evaluation whose facility tables are checked (the baseline of a run); ``None``:
        the region's findings and checks only.

    Returns
    -------
    list of Finding
        Sorted by :func:`finding_order`; the same inputs give the same list.
    """
    found = list(region.findings)
    found += region.cached("audit.region_checks", lambda: region_checks(region))
    check = _catchment_checker()
    if check is not None and evaluation is not None:
        for name, result in evaluation.services.items():
            for f in check(result.facility_table):
                found.append(f if f.service else dataclasses.replace(f, service=name))
    return sorted(set(found), key=finding_order)
