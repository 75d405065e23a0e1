"""Candidate sites for a new facility: where the most people beyond a time threshold live.

A quick screen for scenario scripts: each cell is scored by the people within ``radius_m`` of it
whose travel time is above the threshold (or who cannot reach a facility at all); the best cells
are taken greedily, each at least ``2 × radius_m`` from those already taken. Passable cells
only, so a site is somewhere a facility can stand. The scripts then evaluate each site in full.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import ndimage

from reach.model.grid import AnalysisGrid

__all__ = ["underserved_sites"]


def underserved_sites(
    people: np.ndarray,
    time_min: np.ndarray,
    grid: AnalysisGrid,
    *,
    beyond_min: float,
    n_sites: int = 10,
    radius_m: float = 2500.0,
    allowed: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank cells by the underserved people around them.

    Parameters
    ----------
    people
        People per cell, grid-shaped.
    time_min
        Travel time per cell (flat or grid-shaped), ``inf`` where not reached.
    grid
        The analysis grid.
    beyond_min
        People with a time above this (or none) are underserved.
    n_sites
        How many sites to return at most.
    radius_m
        Radius of the catchment a site is scored on (at least one cell); sites are
        ``2 × radius_m`` apart at least.
    allowed
        Boolean grid: cells where a site may go (e.g. one island, passable cells).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``lon``, ``lat``, ``cell`` and ``underserved_people`` (within ``radius_m``),
        best first; fewer rows when fewer cells have underserved people around them.
    """
    shape = grid.shape
    pop = np.asarray(people, dtype=np.float64).reshape(shape)
    t = np.asarray(time_min, dtype=np.float64).reshape(shape)
    far = np.where(~(t <= beyond_min), pop, 0.0)
    # the scoring disk in cells (an ellipse on a longitude/latitude grid)
    dx_m = float(np.median(grid.dx_m))
    dy_m = float(grid.dy_m)
    ry = max(1, int(radius_m // dy_m))
    rx = max(1, int(radius_m // dx_m))
    yy, xx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    disk = (xx * dx_m) ** 2 + (yy * dy_m) ** 2 <= max(radius_m, dx_m, dy_m) ** 2
    score = ndimage.correlate(far, disk.astype(np.float64), mode="constant", cval=0.0)
    ok = np.ones(shape, dtype=bool) if allowed is None else np.asarray(allowed, bool).reshape(shape)
    score = np.where(ok, score, 0.0).ravel()
    # best score first; among equals, the cell with most underserved people of its own
    order = np.lexsort((-far.ravel(), -score))
    chosen: list[int] = []
    min_sep_m2 = (2 * radius_m) ** 2
    for cell in order:
        if score[cell] <= 0 or len(chosen) >= n_sites:
            break
        r, c = divmod(int(cell), grid.cols)
        if any(
            ((r - rr) * dy_m) ** 2 + ((c - cc) * dx_m) ** 2 < min_sep_m2
            for rr, cc in (divmod(k, grid.cols) for k in chosen)
        ):
            continue
        chosen.append(int(cell))
    cells = np.asarray(chosen, dtype=np.int64)
    x, y = grid.cell_centres(cells)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(cells) + 1),
            "lon": np.round(np.asarray(lon, dtype=np.float64), 6),
            "lat": np.round(np.asarray(lat, dtype=np.float64), 6),
            "cell": cells,
            "underserved_people": score[cells],
        }
    )
