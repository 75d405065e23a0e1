"""The demo region's health and education facilities, with tiers and capacities."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from reach.demo.layout import BLOCK, Layout
from reach.demo.places import GroupPlan
from reach.demo.streams import STREAM_FACILITIES, random_stream

__all__ = ["facilities_geojson"]

_CAPACITY = {
    "hospital": 60000,
    "health_centre": 15000,
    "clinic": 3000,
    "primary": 300,
    "lower_secondary": 500,
    "upper_secondary": 700,
}


def _facility_specs(
    plan: GroupPlan, rng: np.random.Generator
) -> list[list[tuple[str, str, str, int]]]:
    """Per place (same order as ``plan.places``): (service, tier, name, capacity) tuples."""
    places = plan.places
    nx = plan.land.shape[1]
    towns = [p for p in places if p.is_town]
    villages = [p for p in places if not p.is_town]
    by_pop = sorted(villages, key=lambda p: -p.population)
    # Health centres: every town, plus big villages spread out, ~1 per 8 places.
    centres = {p.node for p in towns}
    n_centres = max(len(towns), round(len(places) / 8))
    for spacing in (10, 6, 0):
        for village in by_pop:
            if len(centres) >= n_centres:
                break
            if village.node in centres:
                continue
            r, c = village.node // nx, village.node % nx
            if all(max(abs(r - o // nx), abs(c - o % nx)) >= spacing for o in centres):
                centres.add(village.node)
    clinics = {p.node for p in villages if p.node not in centres and rng.random() < 0.45}
    if not clinics:
        rest = [p for p in by_pop if p.node not in centres]
        if rest:
            clinics.add(rest[0].node)
    n = len(by_pop)
    rank = {p.node: i / max(n, 1) for i, p in enumerate(by_pop)}
    median = by_pop[n // 2].population if n else 0.0
    specs: list[list[tuple[str, str, str, int]]] = []
    for place in places:
        s: list[tuple[str, str, str, int]] = []
        name, pop = place.name, place.population
        if place.kind == "capital":
            s.append(("health", "hospital", f"RSUD {name}", _CAPACITY["hospital"]))
        if place.node in centres:
            cap = 20000 if place.is_town else _CAPACITY["health_centre"]
            s.append(("health", "health_centre", f"Puskesmas {name}", cap))
        elif place.node in clinics:
            s.append(("health", "clinic", f"Pustu {name}", _CAPACITY["clinic"]))
        if place.is_town:
            n_sd = max(2, math.ceil(pop / 1500))
            n_smp = max(1, math.ceil(pop / 5000))
            n_sma = max(1, math.ceil(pop / 9000))
            s += [
                ("education", "primary", f"SD Negeri {k} {name}", 480) for k in range(1, n_sd + 1)
            ]
            s += [
                ("education", "lower_secondary", f"SMP Negeri {k} {name}", 720)
                for k in range(1, n_smp + 1)
            ]
            cap_sma = 960 if place.kind == "capital" else _CAPACITY["upper_secondary"]
            s += [
                ("education", "upper_secondary", f"SMA Negeri {k} {name}", cap_sma)
                for k in range(1, n_sma + 1)
            ]
            if place.kind == "capital":
                s.append(("education", "upper_secondary", f"SMK Negeri 1 {name}", 700))
        else:
            if pop >= median or rng.random() < 0.8:
                n_sd = max(1, round(pop / 1200))
                cap = _CAPACITY["primary"] if pop >= 400 else 180
                s += [
                    ("education", "primary", f"SD Negeri {k} {name}", cap)
                    for k in range(1, n_sd + 1)
                ]
            if rank[place.node] < 0.3:
                s.append(("education", "lower_secondary", f"SMP Negeri 1 {name}", 500))
            if rank[place.node] < 0.05:
                s.append(("education", "upper_secondary", f"SMA Negeri 1 {name}", 700))
        specs.append(s)
    return specs


def facilities_geojson(
    plans: Sequence[GroupPlan], *, layout: Layout, seed: int
) -> tuple[str, dict[str, int]]:
    """The facilities of a region as GeoJSON text, and their number by tier.

    Every town has a health centre, the capital a hospital, big villages spread out a health
    centre, others a clinic or nothing; towns have schools of every level, villages primary
    schools and the biggest ones secondary schools.

    Parameters
    ----------
    plans
        The island groups, with the populations of their places.
    layout
        The region's grid.
    seed
        The region's seed.

    Returns
    -------
    tuple of str and dict
        A FeatureCollection of points with ``facility_id`` (``H…`` health, ``S…`` schools),
        ``name``, ``service``, ``tier`` and ``capacity``, one feature a line; and the count
        of each tier.
    """
    health: list[dict[str, Any]] = []
    education: list[dict[str, Any]] = []
    for plan in plans:
        rng = random_stream(seed, STREAM_FACILITIES, plan.box.index)
        ny, nx = plan.land.shape
        for place, specs in zip(plan.places, _facility_specs(plan, rng), strict=True):
            if not specs:
                continue
            radius = 2 if place.is_town else 0
            r, c = place.node // nx, place.node % nx
            cells: list[tuple[int, int]] = []
            for rr in range(max(0, r - radius), min(ny, r + radius + 1)):
                for cc in range(max(0, c - radius), min(nx, c + radius + 1)):
                    if plan.land[rr, cc]:
                        row0 = (plan.box.cr0 + rr) * BLOCK
                        col0 = (plan.box.cc0 + cc) * BLOCK
                        cells += [(row0 + i, col0 + j) for i in range(BLOCK) for j in range(BLOCK)]
            pick = rng.choice(len(cells), size=len(specs), replace=len(specs) > len(cells))
            for (service, tier, name, capacity), k in zip(specs, pick.tolist(), strict=True):
                row, col = cells[k]
                feature = {
                    "type": "Feature",
                    "properties": {
                        "name": name,
                        "service": service,
                        "tier": tier,
                        "capacity": capacity,
                    },
                    "geometry": {
                        "type": "Point",
                        "coordinates": [
                            round(float(layout.lon(col + 0.5)), 6),
                            round(float(layout.lat(row + 0.5)), 6),
                        ],
                    },
                }
                (health if service == "health" else education).append(feature)
    width = max(3, len(str(max(len(health), len(education)))))
    counts: dict[str, int] = {}
    lines = []
    for prefix, feats in (("H", health), ("S", education)):
        for k, feat in enumerate(feats, start=1):
            feat["properties"]["facility_id"] = f"{prefix}{k:0{width}d}"
            tier = feat["properties"]["tier"]
            counts[tier] = counts.get(tier, 0) + 1
            lines.append(
                json.dumps(feat, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            )
    head = '{"type":"FeatureCollection","name":"demo_facilities","features":[\n'
    return head + ",\n".join(lines) + "\n]}\n", counts
