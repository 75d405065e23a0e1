"""The demo region's ferries: across the strait of each island group, and between groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reach.demo.places import GroupPlan

__all__ = ["FERRY_KMH", "FERRY_NODE_SPACING_KM", "Ferry", "plan_ferries"]

#: Speed of a ferry, which sets the ``duration`` tag of its route.
FERRY_KMH = 20.0
#: Spacing of the nodes along a ferry route, in kilometres.
FERRY_NODE_SPACING_KM = 1.5


@dataclass(frozen=True)
class Ferry:
    """A ferry route between two coarse blocks (global row-major indices), and its name."""

    a: int
    b: int
    name: str


def plan_ferries(
    plans: Sequence[GroupPlan], inter: Sequence[tuple[int, int]], *, ccols: int
) -> list[Ferry]:
    """The ferries of a region: each group's port to its second island, then between groups.

    Parameters
    ----------
    plans
        The island groups.
    inter
        Port pairs between groups (:func:`reach.demo.places.inter_group_ports`).
    ccols
        Width of the coarse grid, in blocks.

    Returns
    -------
    list of Ferry
        The ferry routes.
    """
    ferries = []
    for plan in plans:
        port = next((p for p in plan.places if p.kind == "port"), None)
        other = next((p for p in plan.places if p.kind == "island_town"), None)
        if port is not None and other is not None:
            ferries.append(
                Ferry(
                    plan.global_node(port.node, ccols),
                    plan.global_node(other.node, ccols),
                    f"Feri {port.name} - {other.name}",
                )
            )
    owner = {}
    for plan in plans:
        for node in plan.ports:
            owner[plan.global_node(node, ccols)] = plan.main_name
    for a, b in inter:
        ferries.append(Ferry(a, b, f"Feri Pulau {owner[a]} - Pulau {owner[b]}"))
    return ferries
