"""People counted per zone spread over a grid: every zone's count conserved exactly.

For a region with no population raster, only a table of people per zone (a census or a civil
register per desa, kecamatan or kabupaten). reach makes a grid over the zones and places each
zone's people in its cells: in proportion to a weight (settlement cover, buildings, a land-cover
class) times the share of the cell inside the zone, or — where the zone has no weight at all —
evenly over its area. A cell a zone boundary crosses takes people from each zone it touches, in
proportion to its weighted share of each, so that every zone's people add up to its count and
the grid's total is the table's total.

Because each person placed comes from one zone, the cells also record where their people came
from (:attr:`SpreadCounts.origin`): reported by the same zones, every zone holds exactly its
count, shared and coastal cells included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.crs import CRS

from reach.findings import Finding
from reach.model.grid import AnalysisGrid
from reach.model.zones import ZoneShares, zone_memberships, zone_shares

__all__ = [
    "SPREAD_COLUMNS",
    "SpreadCounts",
    "empty_zone_findings",
    "grid_over",
    "nested_shares",
    "point_weights",
    "polygon_weights",
    "spread_counts",
    "utm_crs",
]

#: Columns of :attr:`SpreadCounts.table` (``population_counts.csv``).
SPREAD_COLUMNS = ("zone_id", "zone_name", "count", "people_placed", "cells", "spread")

#: Most cells a grid made over count zones may have (a 2,000 × 2,000 grid).
MAX_COUNT_CELLS = 4_000_000


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone holding a point.

    Parameters
    ----------
    lon, lat
        The point, in degrees.

    Returns
    -------
    rasterio.crs.CRS
        EPSG 326xx north of the equator, 327xx south of it.
    """
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def grid_over(
    zones: gpd.GeoDataFrame, *, cell_size_m: float, crs: CRS | str | None = None
) -> AnalysisGrid:
    """A north-up grid of square cells covering the zones, with one empty cell around them.

    The cell edges are whole multiples of the cell size, so the same zones and cell size always
    give the same grid.

    Parameters
    ----------
    zones
        The zone polygons (any CRS).
    cell_size_m
        Cell side in metres.
    crs
        The grid's projected CRS; default the UTM zone of the zones' centre.

    Returns
    -------
    AnalysisGrid
        The grid (``dx_m`` = ``dy_m`` = the cell size).

    Raises
    ------
    ValueError
        When the CRS is geographic, or the grid would exceed :data:`MAX_COUNT_CELLS`.
    """
    if crs is None:
        lon0, lat0, lon1, lat1 = zones.to_crs(4326).total_bounds
        target = utm_crs((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0)
    else:
        target = CRS.from_user_input(crs)
    if target.is_geographic:
        raise ValueError(f"the grid's CRS {target.to_string()} is not projected (metres)")
    unit = target.linear_units_factor[1] if target.linear_units_factor else 1.0
    size = cell_size_m / unit
    left, bottom, right, top = zones.to_crs(target).total_bounds
    x0 = (math.floor(left / size) - 1) * size
    y1 = (math.ceil(top / size) + 1) * size
    cols = int(math.ceil(right / size) + 1 - math.floor(left / size) + 1)
    rows = int(math.ceil(top / size) + 1 - math.floor(bottom / size) + 1)
    if rows * cols > MAX_COUNT_CELLS:
        raise ValueError(
            f"a {rows:,} × {cols:,} grid of {cell_size_m:g} m cells is more than "
            f"{MAX_COUNT_CELLS:,} cells"
        )
    return AnalysisGrid(
        rows=rows,
        cols=cols,
        transform=Affine(size, 0.0, x0, 0.0, -size, y1),
        crs=target,
        dx_m=np.full(rows, float(cell_size_m)),
        dy_m=float(cell_size_m),
    )


def polygon_weights(
    polygons: gpd.GeoDataFrame, values: Sequence[float] | np.ndarray, grid: AnalysisGrid
) -> np.ndarray:
    """Weights per cell from polygons of a weight per unit of area (e.g. settlement cover).

    Parameters
    ----------
    polygons
        The polygons (any CRS).
    values
        Each polygon's weight per unit of area (≥ 0).
    grid
        The grid.

    Returns
    -------
    numpy.ndarray
        ``float64`` (rows, cols): the sum over polygons of value × share of the cell inside it.
    """
    vals = np.asarray(values, dtype=np.float64)
    if len(polygons) == 0:
        return np.zeros(grid.shape)
    shares = zone_shares(polygons.reset_index(drop=True), grid, membership="exact")
    rows = zone_memberships(shares, len(polygons))
    inside = rows.group < len(polygons)
    out = np.bincount(
        rows.item[inside],
        weights=vals[rows.group[inside]] * rows.weight[inside],
        minlength=grid.rows * grid.cols,
    )
    return out.reshape(grid.shape)


def point_weights(
    x: np.ndarray, y: np.ndarray, values: np.ndarray | None, grid: AnalysisGrid
) -> np.ndarray:
    """Weights per cell from points (buildings, households): the sum of their values.

    Parameters
    ----------
    x, y
        The points, in the grid's CRS.
    values
        Each point's weight (default 1 each).
    grid
        The grid.

    Returns
    -------
    numpy.ndarray
        ``float64`` (rows, cols); points off the grid are left out.
    """
    cells = grid.cell_of(np.asarray(x), np.asarray(y))
    on = cells >= 0
    w = np.ones(cells.size) if values is None else np.asarray(values, dtype=np.float64)
    out = np.bincount(cells[on], weights=w[on], minlength=grid.rows * grid.cols)
    return out.reshape(grid.shape)


@dataclass(frozen=True, eq=False)
class SpreadCounts:
    """People placed on a grid from counts per zone.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    people
        ``float64`` (rows, cols) people per cell; they add up to the counts' total.
    origin
        Each populated cell's people by the zone they were placed from (fractions that add up
        to 1); cells with nobody keep their zone by area.
    table
        One row per zone (:data:`SPREAD_COLUMNS`): its count, the people placed (equal to it),
        the cells it placed them in, and how: ``"weights"``, ``"even"`` (its cells weigh
        nothing) or ``"one cell"`` (it covers no cell's centre area: all in the cell holding it).
    findings
        A ``population_spread_even`` warning per zone spread evenly for want of weight.
    """

    people: np.ndarray
    origin: ZoneShares
    table: pd.DataFrame
    findings: tuple[Finding, ...] = ()

    @property
    def total(self) -> float:
        """The people placed."""
        return float(self.people.sum())


def spread_counts(
    shares: ZoneShares,
    counts: Sequence[float] | np.ndarray,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    weights: np.ndarray | None = None,
    fallback_cells: Sequence[int] | np.ndarray | None = None,
    weight_name: str = "the weight layer",
) -> SpreadCounts:
    """Place each zone's people in its cells, conserving every zone's count.

    A zone's people go to its cells in proportion to weight × the cell's share of the zone;
    a zone whose cells all weigh 0 is spread evenly over its area (and reported); a zone on no
    cell at all (a sliver) puts its people in its ``fallback_cells`` cell.

    Parameters
    ----------
    shares
        The zones' exact membership on the grid.
    counts
        People per zone, in zone order (≥ 0).
    zone_ids, zone_names
        Id and name of each zone, for the table and the findings.
    weights
        ``float`` (rows, cols) ≥ 0, or None to spread evenly.
    fallback_cells
        Flat cell of each zone's representative point (``-1`` for none), for zones on no cell.
    weight_name
        How the findings name the weights.

    Returns
    -------
    SpreadCounts
        The people per cell, their origin, the table and the findings.

    Raises
    ------
    ValueError
        When a zone with people lies on no cell of the grid.
    """
    n = len(zone_ids)
    count = np.asarray(counts, dtype=np.float64)
    rows_, cols_ = shares.zone.shape
    n_cells = rows_ * cols_
    members = zone_memberships(shares, n)
    inside = members.group < n
    cell = members.item[inside]
    group = members.group[inside]
    area = members.weight[inside]
    w = np.ones(n_cells) if weights is None else np.asarray(weights, np.float64).ravel()
    amount = np.where(np.isfinite(w[cell]) & (w[cell] > 0), w[cell], 0.0) * area
    weight_sum = np.bincount(group, weights=amount, minlength=n)
    area_sum = np.bincount(group, weights=area, minlength=n)
    how = np.array(["weights" if weights is not None else "even"] * n, dtype=object)
    findings: list[Finding] = []
    even = (weight_sum <= 0) & (area_sum > 0) & (count > 0)
    if even.any():
        amount = np.where(even[group], area, amount)
        weight_sum = np.where(even, area_sum, weight_sum)
        for k in np.flatnonzero(even).tolist():
            how[k] = "even"
            if weights is not None:
                findings.append(
                    Finding(
                        check="population_spread_even",
                        severity="warning",
                        subject="zone",
                        subject_id=str(zone_ids[k]),
                        message=(
                            f"zone {zone_names[k]!r} ({zone_ids[k]}): {weight_name} gives it no "
                            f"weight, so its {count[k]:,.0f} people were spread evenly over it"
                        ),
                        value=float(count[k]),
                        unit="people",
                    )
                )
    placed_cell = [cell]
    placed_group = [group]
    placed_amount = [
        np.where(weight_sum[group] > 0, count[group] * amount / np.where(weight_sum[group] > 0,
                 weight_sum[group], 1.0), 0.0)
    ]  # fmt: skip
    nowhere = np.flatnonzero((area_sum <= 0) & (count > 0))
    fb = np.full(n, -1) if fallback_cells is None else np.asarray(fallback_cells, np.int64)
    for k in nowhere.tolist():
        if fb[k] < 0:
            raise ValueError(
                f"zone {zone_names[k]!r} ({zone_ids[k]}) holds {count[k]:,.0f} people but lies on "
                "no cell of the grid"
            )
        how[k] = "one cell"
        placed_cell.append(np.array([fb[k]], dtype=np.int64))
        placed_group.append(np.array([k], dtype=np.int64))
        placed_amount.append(np.array([count[k]]))
    c = np.concatenate(placed_cell)
    g = np.concatenate(placed_group)
    a = np.concatenate(placed_amount)
    people = np.bincount(c, weights=a, minlength=n_cells)
    per_zone = np.bincount(g, weights=a, minlength=n)
    cells_used = np.bincount(g[a > 0], minlength=n)
    origin = _origin(shares, c, g, a, people)
    table = pd.DataFrame(
        {
            "zone_id": [str(z) for z in zone_ids],
            "zone_name": [str(x) for x in zone_names],
            "count": count,
            "people_placed": per_zone,
            "cells": cells_used.astype(np.int64),
            "spread": [str(h) for h in how],
        },
        columns=list(SPREAD_COLUMNS),
    )
    return SpreadCounts(
        people=people.reshape(shares.zone.shape),
        origin=origin,
        table=table,
        findings=tuple(findings),
    )


def _origin(
    shares: ZoneShares, cell: np.ndarray, group: np.ndarray, amount: np.ndarray, people: np.ndarray
) -> ZoneShares:
    """Each populated cell's people by the zone they came from, as zone shares."""
    return _shares_from_rows(shares.zone, cell, group, amount, people)


def nested_shares(
    origin: ZoneShares,
    people: np.ndarray,
    *,
    origin_ids: Sequence[str],
    level: ZoneShares,
    level_ids: Sequence[str],
    geometry: gpd.GeoSeries | None = None,
    grid: AnalysisGrid | None = None,
) -> ZoneShares | None:
    """The people of each cell by the smaller zones nested in the zones they came from.

    Counts per kabupaten reported per kecamatan or desa: a cell's people placed from kabupaten
    ``z`` are shared among the cell's zones whose code begins with ``z``'s code (``53.11`` →
    ``53.11.01``), by their shares of the cell. A coastal cell's people then stay in the zones
    of the kabupaten they were counted in, instead of partly "outside" where the smaller zones'
    polygons end a little short of the coast. A cell with none of ``z``'s smaller zones keeps
    its people from ``z`` in the nearest of ``z``'s smaller zones (given ``geometry``).

    Parameters
    ----------
    origin
        The cells' people by count zone (:attr:`SpreadCounts.origin`).
    people
        People per cell.
    origin_ids
        The count zones' ids, in zone order.
    level
        The smaller zones' exact membership on the grid.
    level_ids
        Their ids, in zone order.
    geometry, grid
        The smaller zones' polygons and the grid: people of a counted zone in a cell none of
        its smaller zones covers (a sliver of coast the smaller zones' polygons leave out) go to
        the nearest of them. Without them those people stay outside every zone.

    Returns
    -------
    ZoneShares or None
        The membership to report the smaller zones by; ``None`` when some smaller zone's id
        does not begin with a count zone's code (then the zones do not nest by code).
    """
    parent = _parents(level_ids, origin_ids)
    if parent is None:
        return None
    flat = np.asarray(people, dtype=np.float64).ravel()
    cells = np.flatnonzero(flat > 0)
    n_o, n_l = len(origin_ids), len(level_ids)
    o = zone_memberships(origin, n_o, cells)
    lv = zone_memberships(level, n_l, cells)
    keep = lv.group < n_l
    frame = pd.DataFrame({"item": lv.item[keep], "k": lv.group[keep], "frac": lv.weight[keep]})
    frame["z"] = parent[frame["k"].to_numpy()]
    norm = frame.groupby(["item", "z"], sort=False)["frac"].transform("sum")
    frame["frac"] = frame["frac"] / norm
    src = pd.DataFrame({"item": o.item, "z": o.group, "w": o.weight})
    src = src[src["z"] < n_o]
    joined = src.merge(frame, on=["item", "z"], how="left")
    placed = joined["k"].notna().to_numpy()
    item = joined["item"].to_numpy()[placed]
    k = joined["k"].to_numpy()[placed].astype(np.int64)
    amount = (joined["w"] * joined["frac"]).to_numpy()[placed] * flat[cells[item]]
    if geometry is not None and grid is not None and not placed.all():
        # a sliver of the counted zone no smaller zone covers: its people go to the nearest of
        # the counted zone's smaller zones (the polygons of two files end at different coasts)
        rest = joined.loc[~placed, ["item", "z", "w"]]
        near = _nearest_child(
            cells[rest["item"].to_numpy()], rest["z"].to_numpy(), parent, geometry, grid
        )
        found = near >= 0
        item = np.concatenate([item, rest["item"].to_numpy()[found]])
        k = np.concatenate([k, near[found]])
        extra = rest["w"].to_numpy()[found] * flat[cells[rest["item"].to_numpy()[found]]]
        amount = np.concatenate([amount, extra])
    return _shares_from_rows(level.zone, cells[item], k, amount, flat)


def _nearest_child(
    cells: np.ndarray,
    parents: np.ndarray,
    parent: np.ndarray,
    geometry: gpd.GeoSeries,
    grid: AnalysisGrid,
) -> np.ndarray:
    """For each cell, the nearest smaller zone (by its centre) of the cell's counted zone."""
    x, y = grid.cell_centres(cells)
    points = shapely.points(x, y)
    geoms = np.asarray(geometry.to_crs(grid.crs).to_numpy(), dtype=object)
    out = np.full(cells.size, -1, dtype=np.int64)
    for z in np.unique(parents).tolist():
        children = np.flatnonzero(parent == z)
        rows = np.flatnonzero(parents == z)
        if children.size == 0 or rows.size == 0:
            continue
        dist = shapely.distance(points[rows][:, None], geoms[children][None, :])
        out[rows] = children[np.argmin(dist, axis=1)]
    return out


def _parents(level_ids: Sequence[str], origin_ids: Sequence[str]) -> np.ndarray | None:
    """The count zone each smaller zone's code begins with, or None when one has none."""
    index = {str(z): i for i, z in enumerate(origin_ids)}
    out = np.empty(len(level_ids), dtype=np.int64)
    for j, lid in enumerate(level_ids):
        text = str(lid)
        found = index.get(text)
        while found is None and "." in text:
            text = text.rsplit(".", 1)[0]
            found = index.get(text)
        if found is None:
            return None
        out[j] = found
    return out


def _shares_from_rows(
    base_zone: np.ndarray,
    cell: np.ndarray,
    group: np.ndarray,
    amount: np.ndarray,
    people: np.ndarray,
) -> ZoneShares:
    """Zone shares from people per (cell, zone); unpopulated cells keep ``base_zone``.

    A populated cell's fractions are its people from each zone over its people; where they add
    up to less than 1, the rest lies outside every zone.
    """
    keep = amount > 0
    cell, group, amount = cell[keep], group[keep], amount[keep]
    zone = base_zone.ravel().astype(np.int32).copy()
    zone[people > 0] = 0
    shape = base_zone.shape
    if cell.size == 0:
        empty = np.empty(0)
        return ZoneShares(zone=zone.reshape(shape), cells=empty.astype(np.int64),
                          zones=empty.astype(np.int32), fractions=empty)  # fmt: skip
    order = np.lexsort((group, cell))
    cell, group, amount = cell[order], group[order], amount[order]
    # one entry per (cell, zone)
    key_start = np.flatnonzero(np.r_[True, (np.diff(cell) != 0) | (np.diff(group) != 0)])
    cell, group = cell[key_start], group[key_start]
    amount = np.add.reduceat(amount, key_start)
    frac = np.minimum(amount / people[cell], 1.0)
    uniq, start, n_each = np.unique(cell, return_index=True, return_counts=True)
    total = np.add.reduceat(frac, start)
    whole = (n_each == 1) & (total >= 1.0 - 1e-9)
    zone[uniq[whole]] = group[start[whole]] + 1
    shared = np.repeat(~whole, n_each)
    s_cell, s_group, s_frac = cell[shared], group[shared], frac[shared]
    if s_cell.size:
        su, ss = np.unique(s_cell, return_index=True)
        best = np.maximum.reduceat(s_frac, ss)
        outside = 1.0 - np.add.reduceat(s_frac, ss)
        is_best = s_frac == np.repeat(best, np.diff(np.append(ss, s_cell.size)))
        first = np.unique(s_cell[is_best], return_index=True)[1]
        zone[su] = np.where(best >= outside, s_group[is_best][first] + 1, 0)
    return ZoneShares(
        zone=zone.reshape(shape),
        cells=s_cell.astype(np.int64),
        zones=(s_group + 1).astype(np.int32),
        fractions=s_frac.astype(np.float64),
    )


def empty_zone_findings(
    people: np.ndarray,
    membership: ZoneShares,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    level: str,
    one_each: int = 12,
) -> tuple[Finding, ...]:
    """Warnings for reporting zones the spread counts left without anybody.

    A zone of people spread from larger zones' counts holds nobody when the weight layer puts
    nobody there; its zeros are an artefact of the weights, not a finding about the zone.

    Parameters
    ----------
    people
        People per cell, spread from counts.
    membership
        The reporting zones' membership.
    zone_ids, zone_names
        The reporting zones.
    level
        What the zones are called (``"zone"``, ``"desa"``), for the messages.
    one_each
        Up to this many empty zones get a finding each; more get one finding together.

    Returns
    -------
    tuple of Finding
        ``population_zone_empty`` warnings.
    """
    n = len(zone_ids)
    per_zone = zone_memberships(membership, n).sums(np.asarray(people).ravel(), n + 1)[:n]
    empty = np.flatnonzero(per_zone < 0.5)
    if empty.size == 0:
        return ()
    why = (
        "the counts were spread by a weight layer that puts nobody there, so its coverage "
        "figures say nothing; give counts for smaller zones or a finer weight layer"
    )
    if empty.size <= one_each:
        return tuple(
            Finding(
                check="population_zone_empty",
                severity="warning",
                subject="zone",
                subject_id=str(zone_ids[k]),
                message=f"{level} {zone_names[k]!r} ({zone_ids[k]}) holds nobody: {why}",
                value=float(per_zone[k]),
                unit="people",
            )
            for k in empty.tolist()
        )
    shown = ", ".join(str(zone_names[k]) for k in empty[:5].tolist())
    return (
        Finding(
            check="population_zone_empty", severity="warning", subject="zone", subject_id="",
            message=(
                f"{empty.size} of {n} {'zones' if level == 'zone' else level} hold nobody "
                f"({shown}, …): {why}"
            ),
            value=float(empty.size), unit="zones",
        ),
    )  # fmt: skip
