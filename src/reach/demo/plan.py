"""Everything decided about a demo region before its roads, facilities and people are written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reach.demo.islands import Template, draw_template
from reach.demo.layout import Layout, grid_layout
from reach.demo.names import Namer
from reach.demo.noise import Noises, make_noises
from reach.demo.places import GroupPlan, plan_group
from reach.demo.population import set_populations
from reach.demo.streams import STREAM_NAMES, random_stream
from reach.demo.terrain import Terrain, pass_terrain

__all__ = ["Plan", "make_plan"]


@dataclass(frozen=True)
class Plan:
    """The grid, terrain, noises and island groups (with their places) of a demo region."""

    layout: Layout
    terrain: Terrain
    templates: tuple[Template, ...]
    noises: Noises
    groups: tuple[GroupPlan, ...]


def make_plan(size_cells: int, *, seed: int, dem_path: Path | None) -> Plan:
    """Lay out a demo region, compute its terrain and plan its island groups.

    Parameters
    ----------
    size_cells
        Approximate cells of the grid (see :func:`reach.demo.layout.grid_layout`).
    seed
        The region's seed.
    dem_path
        Where to write ``dem.tif`` on the way, or ``None``.

    Returns
    -------
    Plan
        The region, its places with their populations.
    """
    layout = grid_layout(size_cells)
    templates = tuple(draw_template(box, seed=seed) for box in layout.groups)
    noises = make_noises(layout, seed=seed)
    terrain = pass_terrain(layout, templates, noises, dem_path=dem_path)
    namer = Namer(random_stream(seed, STREAM_NAMES))
    groups = tuple(
        plan_group(layout, terrain, t, box, namer, seed=seed)
        for t, box in zip(templates, layout.groups, strict=True)
    )
    set_populations(groups, terrain)
    return Plan(layout=layout, terrain=terrain, templates=templates, noises=noises, groups=groups)
