"""The shape of each island group: a volcanic main island, a second island, islets, a lake.

An island group is a sum of bumps (Gaussians and cones) over a sea floor :data:`SEA_OFFSET_M`
below sea level, drawn from the group's own random stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from reach.demo.layout import FloatArray, GroupBox
from reach.demo.streams import STREAM_TEMPLATE, random_stream

__all__ = [
    "CONE",
    "GAUSS",
    "SEA_OFFSET_M",
    "Template",
    "bump_radius_px",
    "bump_values",
    "draw_template",
]

#: Depth of the sea floor, in metres below sea level.
SEA_OFFSET_M = 150.0
#: Kinds of bump: a Gaussian, a cone.
GAUSS, CONE = 0, 1


@dataclass(frozen=True)
class Template:
    """The shape of one island group.

    ``bumps`` rows are ``(row_px, col_px, sigma_along_px, sigma_across_px, angle_rad, height_m,
    kind)``; a Gaussian adds ``h exp(-q/2)``, a cone ``h exp(-sqrt(q))`` with ``q`` the scaled
    squared distance. ``lake`` is ``(row_px, col_px, radius_a_px, radius_b_px, angle_rad,
    level_m)`` or ``None``.
    """

    bumps: FloatArray
    lake: tuple[float, float, float, float, float, float] | None
    main_px: tuple[float, float]
    second_px: tuple[float, float]


def bump_values(
    bump: Sequence[float], dy: npt.NDArray[Any], dx: npt.NDArray[Any]
) -> npt.NDArray[Any]:
    """Height of one bump at offsets ``dy``, ``dx`` (cells) from its centre (broadcasting).

    Parameters
    ----------
    bump
        One row of :attr:`Template.bumps`.
    dy, dx
        Offsets from the bump's centre, in cells; they broadcast against each other.

    Returns
    -------
    numpy.ndarray
        The height in metres at each offset.
    """
    _, _, sa, sb, angle, height, kind = bump
    c, s = math.cos(angle), math.sin(angle)
    u = dx * c + dy * s
    v = dy * c - dx * s
    q = (u / sa) ** 2 + (v / sb) ** 2
    if int(kind) == GAUSS:
        return height * np.exp(-0.5 * q)
    return height * np.exp(-np.sqrt(q))


def bump_radius_px(bump: Sequence[float]) -> float:
    """The distance beyond which a bump adds nothing worth computing.

    Parameters
    ----------
    bump
        One row of :attr:`Template.bumps`.

    Returns
    -------
    float
        Four sigmas for a Gaussian, nine for a cone, in cells.
    """
    reach = 4.0 if int(bump[6]) == GAUSS else 9.0
    return reach * max(bump[2], bump[3])


def _smooth_elevation_at(bumps: FloatArray, row_px: float, col_px: float) -> float:
    """Elevation without noise at one point (metres)."""
    total = -SEA_OFFSET_M
    for bump in bumps.tolist():
        if abs(row_px - bump[0]) < bump_radius_px(bump) and abs(col_px - bump[1]) < (
            bump_radius_px(bump)
        ):
            total += float(
                bump_values(bump, np.array(row_px - bump[0]), np.array(col_px - bump[1]))
            )
    return total


def draw_template(box: GroupBox, *, seed: int) -> Template:
    """Draw the island group of one footprint: main island, second island, islets, lake.

    Parameters
    ----------
    box
        The group's footprint.
    seed
        The region's seed.

    Returns
    -------
    Template
        The group's bumps, lake and the points that find its two islands.
    """
    rng = random_stream(seed, STREAM_TEMPLATE, box.index)
    scale = box.scale_px
    flip_u = bool(rng.random() < 0.5)
    flip_v = bool(rng.random() < 0.5)
    # Groups after the first turn a little, for variety (the default region is group 0).
    turn = float(rng.uniform(-0.35, 0.35)) if box.index > 0 else 0.0
    cos_t, sin_t = math.cos(turn), math.sin(turn)

    def px(u: float, v: float) -> tuple[float, float]:
        u, v = (
            0.5 + (u - 0.5) * cos_t - (v - 0.5) * sin_t,
            0.5 + (u - 0.5) * sin_t + (v - 0.5) * cos_t,
        )
        u = 1.0 - u if flip_u else u
        v = 1.0 - v if flip_v else v
        return box.r0 + v * box.height_px, box.c0 + u * box.width_px

    def angle(theta: float) -> float:
        theta += turn
        if flip_u:
            theta = math.pi - theta
        if flip_v:
            theta = -theta
        return theta

    def jit(width: float) -> float:
        return float(rng.uniform(-width, width))

    bumps: list[list[float]] = []
    # Main island: Gaussians along a curved spine.
    a = np.array([0.25 + jit(0.02), 0.52 + jit(0.02)])
    b = np.array([0.63 + jit(0.02), 0.38 + jit(0.02)])
    tangent = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-tangent[1], tangent[0]])
    ctrl = (a + b) / 2 + normal * jit(0.05)

    def spine(t: float) -> tuple[npt.NDArray[np.float64], float]:
        point = (1 - t) ** 2 * a + 2 * t * (1 - t) * ctrl + t**2 * b
        d = 2 * (1 - t) * (ctrl - a) + 2 * t * (b - ctrl)
        return point, math.atan2(float(d[1]), float(d[0]))

    for t in np.clip(np.linspace(0.0, 1.0, 6) + rng.uniform(-0.03, 0.03, 6), 0.0, 1.0):
        (u, v), theta = spine(float(t))
        sigma = float(rng.uniform(0.072, 0.085)) * scale
        r, c = px(float(u), float(v))
        bumps.append([r, c, sigma * 1.25, sigma * 0.85, angle(theta), rng.uniform(380, 500), 0])
    # Ridges running off the spine.
    for _ in range(4):
        (u, v), theta = spine(float(rng.uniform(0.1, 0.9)))
        side = 1.0 if rng.random() < 0.5 else -1.0
        direction = theta + side * math.pi / 2 + jit(0.5)
        cu = float(u) + 0.07 * math.cos(direction)
        cv = float(v) + 0.07 * math.sin(direction)
        r, c = px(cu, cv)
        bumps.append(
            [r, c, 0.055 * scale, 0.018 * scale, angle(direction), rng.uniform(120, 220), 0]
        )
    # The volcano: a cone with a crater.
    (u, v), _ = spine(float(rng.uniform(0.22, 0.38)))
    r, c = px(float(u), float(v))
    cone = 0.030 * scale * float(rng.uniform(0.9, 1.1))
    # Summit at 1,750-1,950 m whatever the spine and ridges below it add up to.
    ground_m = _smooth_elevation_at(np.array(bumps, dtype=np.float64), r, c)
    summit_m = float(rng.uniform(1750, 1950))
    bumps.append([r, c, cone, cone, 0.0, max(summit_m - ground_m, 300.0), CONE])
    crater = 0.005 * scale
    bumps.append([r, c, crater, crater, 0.0, -rng.uniform(100, 160), GAUSS])
    main_px = px(*(float(x) for x in spine(0.5)[0]))
    # Second island across a strait.
    cu, cv = 0.81 + jit(0.02), 0.75 + jit(0.02)
    phi = float(rng.uniform(0, math.pi))
    for side in (-1.0, 1.0):
        r, c = px(cu + side * 0.025 * math.cos(phi), cv + side * 0.025 * math.sin(phi))
        sigma = float(rng.uniform(0.040, 0.048)) * scale
        bumps.append([r, c, sigma, sigma, 0.0, rng.uniform(280, 330), GAUSS])
    second_px = px(cu, cv)
    # Lake on the flank of the spine's far end.
    (u, v), theta = spine(float(rng.uniform(0.72, 0.88)))
    offset = jit(0.02)
    lake_r, lake_c = px(float(u + normal[0] * offset), float(v + normal[1] * offset))
    arr = np.array(bumps, dtype=np.float64)
    level = _smooth_elevation_at(arr, lake_r, lake_c) - 25.0
    radius_a = 0.013 * scale * float(rng.uniform(0.9, 1.3))
    radius_b = radius_a * float(rng.uniform(0.55, 0.8))
    lake_angle = float(rng.uniform(0, math.pi))
    lake = (lake_r, lake_c, radius_a, radius_b, lake_angle, level) if level > 150.0 else None
    # Islets in open water.
    islets: list[tuple[float, float]] = []
    n_islets = int(rng.integers(1, 4))
    for _ in range(40):
        if len(islets) >= n_islets:
            break
        iu, iv = float(rng.uniform(0.08, 0.92)), float(rng.uniform(0.08, 0.92))
        sigma = 0.011 * scale * float(rng.uniform(0.9, 1.3))
        height = float(rng.uniform(200, 260))
        r, c = px(iu, iv)
        if _smooth_elevation_at(arr, r, c) > -SEA_OFFSET_M + 20.0:
            continue
        if any(math.hypot(iu - ou, iv - ov) < 0.12 for ou, ov in islets):
            continue
        islets.append((iu, iv))
        bumps.append([r, c, sigma, sigma, 0.0, height, GAUSS])
    return Template(
        bumps=np.array(bumps, dtype=np.float64), lake=lake, main_px=main_px, second_px=second_px
    )
