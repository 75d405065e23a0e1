"""Codes shared by every stage: what a cell's number means and which tiers a service has.

The friction model marks each cell with a ``STATUS_*`` code, the search gives each cell a
``REASON_*`` code (written as ``reason_<service>.tif``), and a started search marks closed
facilities ``CLOSED``. The tier vocabularies name the levels of the services reach knows. Plain
constants, imported by everything and importing nothing of reach.
"""

from __future__ import annotations

__all__ = [
    "CLOSED",
    "EDUCATION_TIERS",
    "HEALTH_TIERS",
    "REASON_BARRIER",
    "REASON_BEYOND_LIMIT",
    "REASON_LABELS",
    "REASON_NO_DATA",
    "REASON_NO_ROUTE",
    "REASON_REACHED",
    "REASON_WATER",
    "SERVICE_TIERS",
    "STATUS_BARRIER",
    "STATUS_NO_DATA",
    "STATUS_PASSABLE",
    "STATUS_WATER",
]

#: Catchment id that marks, in a ``start`` search, a facility now closed.
CLOSED = -2

#: Cell status codes of the friction model (why a cell is impassable on foot).
STATUS_PASSABLE = 0
STATUS_BARRIER = 1
STATUS_WATER = 2
STATUS_NO_DATA = 3

#: Reason codes per cell of a search result.
REASON_REACHED = 0
REASON_BEYOND_LIMIT = 1
REASON_NO_ROUTE = 2
REASON_BARRIER = 3
REASON_WATER = 4
REASON_NO_DATA = 5
REASON_LABELS: dict[int, str] = {
    REASON_REACHED: "reached",
    REASON_BEYOND_LIMIT: "beyond_time_limit",
    REASON_NO_ROUTE: "no_network_link",
    REASON_BARRIER: "on_barrier",
    REASON_WATER: "water_no_ferry",
    REASON_NO_DATA: "outside_data",
}

#: Tiers of the health service, from the top of the referral chain down.
HEALTH_TIERS: tuple[str, ...] = ("hospital", "health_centre", "clinic", "health_post")
#: Tiers of the education service.
EDUCATION_TIERS: tuple[str, ...] = ("primary", "lower_secondary", "upper_secondary")
#: Tiers by service kind (``ServiceSpec.kind``); a kind not listed here accepts any tier.
SERVICE_TIERS: dict[str, tuple[str, ...]] = {"health": HEALTH_TIERS, "education": EDUCATION_TIERS}
