"""Zone membership by the exact share of each cell inside each zone polygon.

A cell wholly inside one zone belongs to it; a cell a zone boundary crosses (a coastal cell, a
cell split between two zones, a zone smaller than a cell) is shared: it belongs to each zone by
the fraction of its area inside that zone, and the rest of it lies outside every zone. The
fractions are measured by ``exactextract`` (exact polygon–cell intersection areas). To keep
memory small on large grids, :class:`ZoneShares` holds an ``int32`` zone number per cell and a
sparse table of only the shared cells.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource

from reach.errors import InputError
from reach.model.grid import AnalysisGrid, rasterize_zones

__all__ = [
    "Membership",
    "ZoneMemberships",
    "ZoneShares",
    "centre_shares",
    "exact_zone_shares",
    "stacked",
    "zone_memberships",
    "zone_numbers",
    "zone_shares",
]

#: How cells join zones: by the exact share of the cell inside each zone, or by its centre.
Membership = Literal["exact", "centre"]

#: A covered fraction within this of 1 counts as the whole cell, and one below it as none of it
#: (rounding of the areas where a boundary runs along cell edges).
_WHOLE_TOL = 1e-9

#: A cell whose zones together cover all but this share of it is covered whole: exactextract's
#: coverage fractions are single precision, so a cell split by the shared boundary of two zones
#: that tile the land adds up to 1 only within about 1e-7 (which, summed over a region, would
#: put a fraction of a person "outside zones" where nobody is).
_FULL_TOL = 1e-5


@dataclass(frozen=True, eq=False)
class ZoneShares:
    """Each cell's share of each zone: whole cells by number, shared cells in a sparse table.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    zone
        ``int32`` (rows, cols): ``k+1`` for row ``k`` of the zones. For a cell wholly inside a
        zone, that zone; for a shared cell, the zone holding its largest share (0 when more of it
        lies outside every zone than in any one zone) — the zone a map or a partition draws it
        in; 0 for a cell outside every zone.
    cells
        ``int64`` flat cell indices of the shared cells, ascending, once per zone they touch.
    zones
        ``int32`` zone number (``k+1``) of each entry of ``cells``.
    fractions
        Share of the cell inside that zone, in ``(0, 1]``; per cell they add up to at most 1,
        the rest of the cell lying outside every zone.
    """

    zone: np.ndarray
    cells: np.ndarray
    zones: np.ndarray
    fractions: np.ndarray

    @property
    def n_shared(self) -> int:
        """Number of cells shared between zones or with the outside."""
        return int(np.unique(self.cells).size)


@dataclass(frozen=True, eq=False)
class ZoneMemberships:
    """Rows of (item, group, weight): how each selected cell's people split into zone groups.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    item
        ``int64`` index into the selected cells, ascending (cell order).
    group
        ``int64`` group: ``0 .. n_zones-1`` for the zones, ``n_zones`` for outside every zone.
    weight
        Share of the item's people in that group; per item the weights add up to 1.
    """

    item: np.ndarray
    group: np.ndarray
    weight: np.ndarray

    def sums(self, values: np.ndarray, n_groups: int) -> np.ndarray:
        """Sum a value of the selected cells by group, each row's share of it.

        Parameters
        ----------
        values
            One value per selected cell (people, or people served, ...).
        n_groups
            Number of groups (the zones and the outside).

        Returns
        -------
        numpy.ndarray
            ``(n_groups,)`` sums, in the order of a ``np.bincount`` over the rows.
        """
        weights = np.asarray(values, dtype=np.float64)[self.item] * self.weight
        return np.bincount(self.group, weights=weights, minlength=n_groups)


def centre_shares(zone: np.ndarray) -> ZoneShares:
    """Zone shares of cells assigned whole, by a zone number per cell.

    Parameters
    ----------
    zone
        ``int`` (rows, cols): ``k+1`` for zone ``k``, 0 outside every zone.

    Returns
    -------
    ZoneShares
        ``zone`` itself and an empty table of shared cells.
    """
    return ZoneShares(
        zone=np.asarray(zone, dtype=np.int32),
        cells=np.empty(0, dtype=np.int64),
        zones=np.empty(0, dtype=np.int32),
        fractions=np.empty(0, dtype=np.float64),
    )


def exact_zone_shares(zones: gpd.GeoDataFrame, grid: AnalysisGrid) -> ZoneShares:
    """Measure the share of each cell inside each zone polygon exactly (``exactextract``).

    Where zones overlap, a cell's fractions would add up to more than 1; they are then scaled
    down to add up to 1, so that nobody is counted twice.

    Parameters
    ----------
    zones
        The zone polygons (missing and empty geometries are skipped but keep their number).
    grid
        The analysis grid (north-up).

    Returns
    -------
    ZoneShares
        Whole cells by zone number, shared cells in the sparse table.

    Raises
    ------
    InputError
        When the grid is rotated (exact shares need a north-up grid).
    """
    t = grid.transform
    if t.b != 0 or t.d != 0:
        raise InputError(
            "exact zone shares need a north-up grid (the population raster is rotated)",
            fix='set [region.boundaries] membership = "centre"',
        )
    rows, cols = grid.shape
    n_cells = rows * cols
    geoms = zones.to_crs(grid.crs).geometry
    keep = [k for k, g in enumerate(geoms) if g is not None and not g.is_empty]
    zone = np.zeros(n_cells, dtype=np.int32)
    empty = centre_shares(zone.reshape(grid.shape))
    if not keep or n_cells == 0:
        return empty
    x0, y0 = t.c, t.f
    x1, y1 = t.c + t.a * cols, t.f + t.e * rows
    # the values are never read (only the coverage fractions): a zero-stride view costs nothing
    values = np.broadcast_to(np.zeros(1, dtype=np.float32), (rows, cols))
    source = NumPyRasterSource(
        values, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), srs_wkt=grid.crs.to_wkt()
    )
    vec = gpd.GeoDataFrame({"k": np.asarray(keep, dtype=np.int64)}, geometry=geoms.iloc[keep])
    vec = vec.set_crs(grid.crs, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exactextract warns about CRS spellings it cannot compare
        found = exact_extract(source, vec, ["cell_id", "coverage"], output="pandas")
    parts_cell: list[np.ndarray] = []
    parts_zone: list[np.ndarray] = []
    parts_frac: list[np.ndarray] = []
    for k, cell_ids, cover in zip(keep, found["cell_id"], found["coverage"], strict=True):
        c = np.asarray(cell_ids, dtype=np.int64)
        f = np.asarray(cover, dtype=np.float64)
        c = _flip_cells(c, rows, cols, flip_x=t.a < 0, flip_y=t.e > 0)
        pos = f > _WHOLE_TOL  # slivers of rounding where a boundary runs along a cell edge
        parts_cell.append(c[pos])
        parts_zone.append(np.full(int(pos.sum()), k + 1, dtype=np.int32))
        parts_frac.append(f[pos])
    cells = np.concatenate(parts_cell)
    znum = np.concatenate(parts_zone)
    frac = np.minimum(np.concatenate(parts_frac), 1.0)
    order = np.lexsort((znum, cells))
    cells, znum, frac = cells[order], znum[order], frac[order]
    if cells.size == 0:
        return empty
    uniq, start, count = np.unique(cells, return_index=True, return_counts=True)
    total = np.add.reduceat(frac, start)
    over = total > 1.0
    if over.any():  # overlapping zones: scale the cell's shares down to add up to 1
        scale = np.where(over, 1.0 / np.where(over, total, 1.0), 1.0)
        frac = frac * np.repeat(scale, count)
        total = np.where(over, 1.0, total)
    full = (total < 1.0) & (total >= 1.0 - _FULL_TOL)
    if full.any():  # zones that tile the cell: rounding of the fractions, not land outside
        frac = frac * np.repeat(np.where(full, 1.0 / total, 1.0), count)
        total = np.where(full, 1.0, total)
    whole = (count == 1) & (total >= 1.0 - _WHOLE_TOL)
    zone[uniq[whole]] = znum[start[whole]]
    shared_entry = np.repeat(~whole, count)
    cells, znum, frac = cells[shared_entry], znum[shared_entry], frac[shared_entry]
    if cells.size:
        # the zone drawn for a shared cell: its largest share, unless more of it is outside
        su, ss = np.unique(cells, return_index=True)
        best = np.maximum.reduceat(frac, ss)
        outside = 1.0 - np.add.reduceat(frac, ss)
        is_best = frac == np.repeat(best, np.diff(np.append(ss, cells.size)))
        first_best = np.unique(cells[is_best], return_index=True)[1]
        best_zone = znum[is_best][first_best]
        zone[su] = np.where(best >= outside, best_zone, 0)
    return ZoneShares(zone=zone.reshape(grid.shape), cells=cells, zones=znum, fractions=frac)


def _flip_cells(
    cells: np.ndarray, rows: int, cols: int, *, flip_x: bool, flip_y: bool
) -> np.ndarray:
    """Cell ids of a north-up, west-to-east raster mapped to a grid stored the other way."""
    if not (flip_x or flip_y):
        return cells
    r, c = np.divmod(cells, cols)
    if flip_y:
        r = rows - 1 - r
    if flip_x:
        c = cols - 1 - c
    return np.asarray(r * cols + c, dtype=np.int64)


def zone_shares(
    zones: gpd.GeoDataFrame, grid: AnalysisGrid, *, membership: Membership = "exact"
) -> ZoneShares:
    """A region's zone membership, exact shares or by cell centre.

    Parameters
    ----------
    zones
        The zone polygons.
    grid
        The analysis grid.
    membership
        ``"exact"``: by the share of each cell inside each zone; ``"centre"``: each cell whole to
        the zone its centre lies in (where zones overlap, the later row wins).

    Returns
    -------
    ZoneShares
        The membership of every cell.
    """
    if membership == "centre":
        return centre_shares(rasterize_zones(zones, grid))
    return exact_zone_shares(zones, grid)


def zone_memberships(
    zone: np.ndarray | ZoneShares, n_zones: int, cells: np.ndarray | None = None
) -> ZoneMemberships:
    """How the people of each selected cell split into zone groups.

    A whole cell gives one row of weight 1; a shared cell one row per zone it touches (its
    fraction) and one for the outside (the rest, when any). Summing ``people[item] * weight``
    by ``group`` gives the people per zone, conserved: per item the weights add up to 1.

    Parameters
    ----------
    zone
        ``int`` per cell (``k+1`` for zone ``k``, 0 outside every zone), or :class:`ZoneShares`.
    n_zones
        Number of zones; group ``n_zones`` is outside every zone.
    cells
        Flat indices of the cells wanted (e.g. those with people); all cells by default.

    Returns
    -------
    ZoneMemberships
        Rows in cell order; ``item`` indexes ``cells`` (or the flat grid).
    """
    shares = zone if isinstance(zone, ZoneShares) else None
    z = np.asarray(shares.zone if shares is not None else zone).ravel()
    sel = np.arange(z.size, dtype=np.int64) if cells is None else np.asarray(cells, np.int64)
    zsel = z[sel].astype(np.int64)
    group = np.where(zsel > 0, zsel - 1, n_zones)
    items = np.arange(sel.size, dtype=np.int64)
    if shares is None or shares.cells.size == 0 or sel.size == 0:
        return ZoneMemberships(item=items, group=group, weight=np.ones(sel.size))
    uniq, start, count = np.unique(shares.cells, return_index=True, return_counts=True)
    pos = np.minimum(np.searchsorted(uniq, sel), uniq.size - 1)
    is_shared = uniq[pos] == sel
    plain = ~is_shared
    s_item = items[is_shared]
    s_pos = pos[is_shared]
    n_each = count[s_pos]
    entry = np.repeat(start[s_pos], n_each) + _ranges(n_each)
    e_item = np.repeat(s_item, n_each)
    e_group = shares.zones[entry].astype(np.int64) - 1
    e_weight = shares.fractions[entry]
    inside = np.add.reduceat(e_weight, np.cumsum(n_each) - n_each) if s_item.size else e_weight
    rest = 1.0 - inside
    has_rest = rest > _WHOLE_TOL  # float rounding of shares that add up to 1 is not a rest
    item = np.concatenate([items[plain], e_item, s_item[has_rest]])
    grp = np.concatenate([group[plain], e_group, np.full(int(has_rest.sum()), n_zones)])
    weight = np.concatenate([np.ones(int(plain.sum())), e_weight, rest[has_rest]])
    order = np.argsort(item, kind="stable")
    return ZoneMemberships(item=item[order], group=grp[order], weight=weight[order])


def _ranges(n_each: np.ndarray) -> np.ndarray:
    """``0 .. n-1`` for each ``n`` of ``n_each``, concatenated."""
    total = int(n_each.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(n_each)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - n_each, n_each)


def zone_numbers(zone: np.ndarray | ZoneShares) -> np.ndarray:
    """The zone number per cell, flat: of an ``int`` array, or the one a :class:`ZoneShares`
    draws each cell in.

    Parameters
    ----------
    zone
        ``int`` per cell, or :class:`ZoneShares`.

    Returns
    -------
    numpy.ndarray
        ``int64`` flat zone numbers (``k+1``, 0 outside every zone).
    """
    z = zone.zone if isinstance(zone, ZoneShares) else zone
    return np.asarray(z).ravel().astype(np.int64)


def stacked(zone: np.ndarray | ZoneShares, copies: int) -> np.ndarray | ZoneShares:
    """The membership of ``copies`` grids laid end to end (e.g. riders, then walkers).

    Parameters
    ----------
    zone
        ``int`` per cell, or :class:`ZoneShares`, of one grid.
    copies
        How many times the grid is repeated.

    Returns
    -------
    numpy.ndarray or ZoneShares
        Flat zone numbers, or shares, of the ``copies × n_cells`` cells.
    """
    flat = zone_numbers(zone).astype(np.int32)
    if not isinstance(zone, ZoneShares):
        return np.tile(flat, copies)
    n = flat.size
    return ZoneShares(
        zone=np.tile(flat, copies),
        cells=np.concatenate([zone.cells + k * n for k in range(copies)]),
        zones=np.tile(zone.zones, copies),
        fractions=np.tile(zone.fractions, copies),
    )
