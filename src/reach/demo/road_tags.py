"""The OSM tags of a demo road: surface, smoothness, track grade, speed limit, one-way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reach.demo.roads import Way

__all__ = ["road_tags"]


def _pick(rng: np.random.Generator, options: Sequence[tuple[str | None, float]]) -> str | None:
    u = float(rng.random())
    acc = 0.0
    for value, p in options:
        acc += p
        if u < acc:
            return value
    return options[-1][0]


def road_tags(way: Way, rng: np.random.Generator) -> dict[str, str]:
    """Draw the OSM tags of one road, as a mapper of its class would have tagged it.

    Parameters
    ----------
    way
        The road.
    rng
        The region's tag stream (drawn in the order of the roads).

    Returns
    -------
    dict of str to str
        ``highway``, and ``name``, ``surface``, ``smoothness``, ``tracktype``, ``maxspeed``,
        ``oneway`` where they apply.
    """
    hw = way.highway
    tags: dict[str, str] = {"highway": hw}
    if way.name:
        tags["name"] = way.name
    surface: str | None
    smooth: str | None = None
    if hw in ("trunk", "primary", "secondary"):
        surface = "asphalt"
        smooth = _pick(rng, (("good", 0.3), ("intermediate", 0.3), (None, 0.4)))
        if hw != "secondary" and (way.in_capital or rng.random() < 0.15):
            tags["maxspeed"] = "40" if way.in_capital else "60"
    elif hw == "tertiary":
        surface = _pick(rng, (("asphalt", 0.5), ("paved", 0.2), ("concrete", 0.3)))
        smooth = _pick(rng, ((None, 0.4), ("intermediate", 0.3), ("bad", 0.3)))
        if way.oneway:
            tags["oneway"] = "yes"
            tags["maxspeed"] = "40"
    elif hw == "unclassified":
        surface = _pick(
            rng, (("asphalt", 0.3), ("concrete", 0.2), ("unpaved", 0.3), ("gravel", 0.2))
        )
        smooth = _pick(rng, ((None, 0.4), ("intermediate", 0.2), ("bad", 0.3), ("very_bad", 0.1)))
    elif hw == "residential":
        surface = _pick(rng, (("asphalt", 0.5), ("concrete", 0.3), ("unpaved", 0.2)))
        if way.in_capital and rng.random() < 0.2:
            tags["maxspeed"] = "30"
    elif hw == "track":
        grade = _pick(rng, (("grade2", 0.3), ("grade3", 0.4), ("grade4", 0.3))) or "grade3"
        tags["tracktype"] = grade
        surface = (
            "unpaved"
            if grade == "grade2"
            else _pick(rng, (("unpaved", 0.5), ("ground", 0.5)))
            if grade == "grade3"
            else "ground"
        )
        smooth = _pick(rng, (("bad", 0.4), ("very_bad", 0.4), ("horrible", 0.2)))
    else:
        surface = "ground"
    if surface:
        tags["surface"] = surface
    if smooth:
        tags["smoothness"] = smooth
    return tags
