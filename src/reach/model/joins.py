"""Where travellers join a road: the nearest point of each road to each cell, in metres walked.

On a coarse grid a road crosses a cell somewhere, not through its centre, and passes close to
cells it never enters. Joining the road only at nodes inside a cell, through that cell's centre,
makes everyone near a road walk too far (to the centre of the road's cell first, then on to the
road): coverage then falls as cells grow. Here each cell instead walks **straight to the point
of each nearby road nearest its centre**, in its own area or a neighbour's (the 3×3 block
around it), across the cells that straight line crosses, each at its own pace:

* a **foot** is that point: for every cell and every way, the point of the way's pieces
  nearest the cell's centre that lies in the cell's block. It becomes a network node joined
  to the road by *spur* edges to the two ends of its piece, at the piece's speed and in its
  allowed directions, so a traveller goes along the road from the foot exactly as along the
  piece (no spur ever makes the road shorter: end → foot → end costs the piece's time);
* its **walk** is the straight line from the cell's centre to the foot, split where it crosses
  a cell edge (at most three cells, since the foot is within one cell of the centre in each
  axis): metres per crossed cell, which the search graph multiplies by each cell's pace. One
  impassable cell on the way makes the join impossible, so no one walks faster than the land
  allows, nor across water to a road.

The feet depend on the grid and the road geometry only; the paces (and so a season or a land
cover change) come in when the search graph is built. Pure functions on arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from reach.model.grid import AnalysisGrid

__all__ = [
    "FacilitySeeds",
    "PointJoins",
    "RoadFeet",
    "Seeds",
    "cell_joins",
    "fastest",
    "fractional_rc",
    "point_joins",
    "road_feet",
    "walk_minutes",
]

#: Cells a foot's walk may cross (its own, and at most one edge and one corner neighbour).
WALK_CELLS = 3


@dataclass(frozen=True, eq=False)
class RoadFeet:
    """Feet of the roads, one per (cell, way) pair, and the walks to them.

    Attributes
    ----------
    cell
        ``int64`` (n,): the cell whose centre walks to the foot.
    piece
        ``int64`` (n,): the road piece the foot lies on.
    frac
        ``float64`` (n,): where on the piece, from its start (0) to its end (1).
    x, y
        ``float64`` (n,): the foot in the grid CRS.
    walk_cells
        ``int64`` (n, 3): the cells the walk from the centre to the foot crosses, in order
        (``-1`` for unused slots); the first is always ``cell``.
    walk_m
        ``float64`` (n, 3): metres walked in each of them (0 for unused slots).
    """

    cell: np.ndarray
    piece: np.ndarray
    frac: np.ndarray
    x: np.ndarray
    y: np.ndarray
    walk_cells: np.ndarray
    walk_m: np.ndarray

    @property
    def n(self) -> int:
        """Number of feet."""
        return len(self.cell)

    @staticmethod
    def empty() -> RoadFeet:
        """No feet (a network with no roads, or joins at node cells only).

        Returns
        -------
        RoadFeet
            Zero feet.
        """
        f, i = np.empty(0, np.float64), np.empty(0, np.int64)
        return RoadFeet(
            cell=i, piece=i.copy(), frac=f, x=f.copy(), y=f.copy(),
            walk_cells=np.empty((0, WALK_CELLS), np.int64),
            walk_m=np.empty((0, WALK_CELLS), np.float64),
        )  # fmt: skip


@njit(cache=True)
def _candidates(
    ra: np.ndarray,
    ca: np.ndarray,
    rb: np.ndarray,
    cb: np.ndarray,
    rows: int,
    cols: int,
    dx_m: np.ndarray,
    dy_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each piece and each cell whose 3×3 block the piece may touch: the piece's point
    nearest the cell's centre, kept when it lies in that block.

    Coordinates are fractional (row, column) of the grid; distances are metres at the cell's
    row. Returns ``(cell, piece, frac, dist_m)``.
    """
    n = ra.shape[0]
    cap = 16 * n + 16
    out_cell = np.empty(cap, np.int64)
    out_piece = np.empty(cap, np.int64)
    out_frac = np.empty(cap, np.float64)
    out_d = np.empty(cap, np.float64)
    k = 0
    for p in range(n):
        r_lo = int(np.floor(min(ra[p], rb[p]))) - 1
        r_hi = int(np.floor(max(ra[p], rb[p]))) + 1
        c_lo = int(np.floor(min(ca[p], cb[p]))) - 1
        c_hi = int(np.floor(max(ca[p], cb[p]))) + 1
        for r in range(max(r_lo, 0), min(r_hi, rows - 1) + 1):
            wx = dx_m[r]
            for c in range(max(c_lo, 0), min(c_hi, cols - 1) + 1):
                # metres from the centre of (r, c)
                ax = (ca[p] - c - 0.5) * wx
                ay = (ra[p] - r - 0.5) * dy_m
                bx = (cb[p] - c - 0.5) * wx
                by = (rb[p] - r - 0.5) * dy_m
                vx = bx - ax
                vy = by - ay
                vv = vx * vx + vy * vy
                f = 0.0
                if vv > 0.0:
                    f = -(ax * vx + ay * vy) / vv
                    f = min(max(f, 0.0), 1.0)
                qr = ra[p] + f * (rb[p] - ra[p])
                qc = ca[p] + f * (cb[p] - ca[p])
                if not (r - 1.0 <= qr < r + 2.0 and c - 1.0 <= qc < c + 2.0):
                    continue
                if not (0.0 <= qr < rows and 0.0 <= qc < cols):
                    continue
                if k == cap:
                    cap *= 2
                    out_cell = _grow_i(out_cell, cap)
                    out_piece = _grow_i(out_piece, cap)
                    out_frac = _grow_f(out_frac, cap)
                    out_d = _grow_f(out_d, cap)
                qx = ax + f * vx
                qy = ay + f * vy
                out_cell[k] = r * cols + c
                out_piece[k] = p
                out_frac[k] = f
                out_d[k] = np.sqrt(qx * qx + qy * qy)
                k += 1
    return out_cell[:k], out_piece[:k], out_frac[:k], out_d[:k]


@njit(cache=True)
def _grow_i(a: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty(cap, np.int64)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _grow_f(a: np.ndarray, cap: int) -> np.ndarray:
    out = np.empty(cap, np.float64)
    out[: a.shape[0]] = a
    return out


def _walks(
    cell: np.ndarray,
    qr: np.ndarray,
    qc: np.ndarray,
    dist_m: np.ndarray,
    cols: int,
    *,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cells a straight walk to ``(qr, qc)`` crosses, and the metres in each.

    The walk starts at each cell's centre, or at ``start`` (fractional row and column inside
    the cell). It leaves its cell at most once across a row edge and once across a column
    edge (the end is within one cell in each axis), so it crosses at most three cells; each
    part's cell is the one holding the part's midpoint.
    """
    r0, c0 = np.divmod(cell, cols)
    sr0, sc0 = (r0 + 0.5, c0 + 0.5) if start is None else start
    dr = qr - sr0
    dc = qc - sc0
    with np.errstate(divide="ignore", invalid="ignore"):
        edge_r = np.where(dr < 0, r0, r0 + 1).astype(np.float64)
        edge_c = np.where(dc < 0, c0, c0 + 1).astype(np.float64)
        s_r = np.where(dr != 0, (edge_r - sr0) / dr, np.inf)
        s_c = np.where(dc != 0, (edge_c - sc0) / dc, np.inf)
    s_r = np.where((s_r > 0) & (s_r < 1), s_r, 1.0)
    s_c = np.where((s_c > 0) & (s_c < 1), s_c, 1.0)
    n = len(cell)
    bounds = np.column_stack([np.zeros(n), np.minimum(s_r, s_c), np.maximum(s_r, s_c), np.ones(n)])
    cells = np.full((n, WALK_CELLS), -1, dtype=np.int64)
    metres = np.zeros((n, WALK_CELLS))
    for k in range(WALK_CELLS):
        length = bounds[:, k + 1] - bounds[:, k]
        mid = 0.5 * (bounds[:, k + 1] + bounds[:, k])
        mr = np.floor(sr0 + mid * dr).astype(np.int64)
        mc = np.floor(sc0 + mid * dc).astype(np.int64)
        used = length > 0
        cells[:, k] = np.where(used, mr * cols + mc, -1)
        metres[:, k] = np.where(used, length * dist_m, 0.0)
    cells[:, 0] = cell  # the first part starts in the cell itself
    return cells, metres


def fractional_rc(grid: AnalysisGrid, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Fractional (row, column) of points on the grid: cell ``(r, c)`` spans ``[r, r + 1)``.

    Parameters
    ----------
    grid
        The analysis grid.
    x, y
        Points in the grid CRS.

    Returns
    -------
    tuple of numpy.ndarray
        ``float64`` rows and columns.
    """
    t = grid.transform
    return (np.asarray(y, np.float64) - t.f) / t.e, (np.asarray(x, np.float64) - t.c) / t.a


def _standing(
    x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: AnalysisGrid
) -> tuple[np.ndarray, ...]:
    """Where points on the grid stand: the points with a cell, its row and column, and the
    fractional row and column of the point, or of the cell's centre when the point was moved
    off an impassable cell into it."""
    cell = np.asarray(cell, np.int64)
    ok = np.flatnonzero(cell >= 0)
    prow, pcol = np.divmod(cell[ok], grid.cols)
    pr, pc = fractional_rc(grid, np.asarray(x)[ok], np.asarray(y)[ok])
    moved = (np.floor(pr) != prow) | (np.floor(pc) != pcol) | ~np.isfinite(pr + pc)
    return ok, prow, pcol, np.where(moved, prow + 0.5, pr), np.where(moved, pcol + 0.5, pc)


def road_feet(
    x_a: np.ndarray,
    y_a: np.ndarray,
    x_b: np.ndarray,
    y_b: np.ndarray,
    way: np.ndarray,
    grid: AnalysisGrid,
) -> RoadFeet:
    """The feet of the road pieces: for each cell and way, its nearest point within the block.

    Parameters
    ----------
    x_a, y_a, x_b, y_b
        Start and end of each straight road piece, in the grid CRS.
    way
        ``int64`` the way each piece belongs to: a cell gets one foot per way near it (the
        nearest point of that way), so a fast road a little further off is joined as well as
        the track next to the cell.
    grid
        The analysis grid.

    Returns
    -------
    RoadFeet
        Sorted by cell, then way; ties go to the lowest piece, so the same inputs give the
        same feet.
    """
    if len(x_a) == 0:
        return RoadFeet.empty()
    ra, ca = fractional_rc(grid, x_a, y_a)
    rb, cb = fractional_rc(grid, x_b, y_b)
    ok = np.isfinite(ra) & np.isfinite(ca) & np.isfinite(rb) & np.isfinite(cb)
    idx = np.flatnonzero(ok)
    cell, piece, frac, dist = _candidates(
        ra[idx], ca[idx], rb[idx], cb[idx], grid.rows, grid.cols,
        np.asarray(grid.dx_m, np.float64), float(grid.dy_m),
    )  # fmt: skip
    if len(cell) == 0:
        return RoadFeet.empty()
    piece = idx[piece]
    pway = np.asarray(way, np.int64)[piece]
    order = np.lexsort((frac, piece, dist, pway, cell))
    cell, piece, frac, dist, pway = (a[order] for a in (cell, piece, frac, dist, pway))
    first = np.r_[True, (cell[1:] != cell[:-1]) | (pway[1:] != pway[:-1])]
    cell, piece, frac, dist = cell[first], piece[first], frac[first], dist[first]
    qr = ra[piece] + frac * (rb[piece] - ra[piece])
    qc = ca[piece] + frac * (cb[piece] - ca[piece])
    walk_cells, walk_m = _walks(cell, qr, qc, dist, grid.cols)
    xa, ya = np.asarray(x_a, np.float64), np.asarray(y_a, np.float64)
    xb, yb = np.asarray(x_b, np.float64), np.asarray(y_b, np.float64)
    return RoadFeet(
        cell=cell,
        piece=piece,
        frac=frac,
        x=xa[piece] + frac * (xb[piece] - xa[piece]),
        y=ya[piece] + frac * (yb[piece] - ya[piece]),
        walk_cells=walk_cells,
        walk_m=walk_m,
    )


def walk_minutes(
    walk_cells: np.ndarray, walk_m: np.ndarray, pace_min_per_m: np.ndarray
) -> np.ndarray:
    """Minutes of each foot's walk: the metres in each crossed cell times that cell's pace.

    Parameters
    ----------
    walk_cells
        ``int64`` (n, 3) cells in ``pace_min_per_m`` (``-1`` unused, or, in a partition's
        window, ``-2`` for a cell outside it: the walk is then not possible there).
    walk_m
        ``float64`` (n, 3) metres in each.
    pace_min_per_m
        ``float64`` flat walking pace; ``inf`` where impassable.

    Returns
    -------
    numpy.ndarray
        ``float64`` (n,) minutes; ``inf`` where the walk crosses an impassable cell.
    """
    if len(walk_cells) == 0:
        return np.empty(0, np.float64)
    used = walk_cells != -1
    pace = np.full(walk_cells.shape, np.inf)
    inside = walk_cells >= 0
    pace[inside] = pace_min_per_m[walk_cells[inside]]
    blocked = (used & ~(pace < np.inf)).any(axis=1)
    minutes = np.where(used & ~blocked[:, None], walk_m * np.where(pace < np.inf, pace, 0.0), 0.0)
    out = np.asarray(minutes.sum(axis=1), dtype=np.float64)
    out[blocked] = np.inf
    return out


@dataclass(frozen=True, eq=False)
class PointJoins:
    """How points (facilities) join the roads near them: a start time at each edge's tail.

    Attributes
    ----------
    point
        ``int64`` (n,): the point.
    node
        ``int64`` (n,): the node at the tail of an edge passing near the point.
    walk_cells, walk_m
        ``(n, 3)``: the straight walk from the point to the edge's nearest point, as in
        :class:`RoadFeet`.
    along_min
        ``float64`` (n,): minutes along the edge from ``node`` to that nearest point.
    """

    point: np.ndarray
    node: np.ndarray
    walk_cells: np.ndarray
    walk_m: np.ndarray
    along_min: np.ndarray


@njit(cache=True)
def _point_candidates(
    pr: np.ndarray,
    pc: np.ndarray,
    prow: np.ndarray,
    pcol: np.ndarray,
    e_row: np.ndarray,
    e_col: np.ndarray,
    order: np.ndarray,
    key_sorted: np.ndarray,
    er0: np.ndarray,
    ec0: np.ndarray,
    er1: np.ndarray,
    ec1: np.ndarray,
    rows: int,
    cols: int,
    dx_m: np.ndarray,
    dy_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges whose tail lies within two cells of each point, and the nearest point of each
    that lies within the point's cell's 3×3 block. Returns ``(point, edge, frac, dist_m)``."""
    out_p = []
    out_e = []
    out_f = []
    out_d = []
    for i in range(pr.shape[0]):
        wx = dx_m[prow[i]]
        for dr in range(-2, 3):
            r = prow[i] + dr
            if r < 0 or r >= rows:
                continue
            for dc in range(-2, 3):
                c = pcol[i] + dc
                if c < 0 or c >= cols:
                    continue
                key = r * cols + c
                lo = np.searchsorted(key_sorted, key)
                hi = np.searchsorted(key_sorted, key, side="right")
                for j in range(lo, hi):
                    e = order[j]
                    ax = (ec0[e] - pc[i]) * wx
                    ay = (er0[e] - pr[i]) * dy_m
                    vx = (ec1[e] - ec0[e]) * wx
                    vy = (er1[e] - er0[e]) * dy_m
                    vv = vx * vx + vy * vy
                    f = 0.0
                    if vv > 0.0:
                        f = min(max(-(ax * vx + ay * vy) / vv, 0.0), 1.0)
                    qr = er0[e] + f * (er1[e] - er0[e])
                    qc = ec0[e] + f * (ec1[e] - ec0[e])
                    if not (prow[i] - 1.0 <= qr < prow[i] + 2.0):
                        continue
                    if not (pcol[i] - 1.0 <= qc < pcol[i] + 2.0):
                        continue
                    if not (0.0 <= qr < rows and 0.0 <= qc < cols):
                        continue
                    qx = ax + f * vx
                    qy = ay + f * vy
                    out_p.append(i)
                    out_e.append(e)
                    out_f.append(f)
                    out_d.append(np.sqrt(qx * qx + qy * qy))
    return np.array(out_p), np.array(out_e), np.array(out_f), np.array(out_d)


def point_joins(
    x: np.ndarray,
    y: np.ndarray,
    cell: np.ndarray,
    *,
    node_x: np.ndarray,
    node_y: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    time_min: np.ndarray,
    is_ferry: np.ndarray,
    grid: AnalysisGrid,
) -> PointJoins:
    """Where each point joins the roads: the nearest point of every road edge near it.

    A facility on a coarse grid stands somewhere in its cell, not at its centre: travellers
    arriving by road leave the road where it passes nearest the facility itself and walk
    straight to it. For each point and each directed road edge (ferries excepted) whose nearest
    point to it lies in the 3×3 block of the point's cell, this gives the walk from the point
    to that nearest point and the minutes along the edge from its tail to it.

    Parameters
    ----------
    x, y
        The points in the grid CRS.
    cell
        ``int64`` each point's cell (``-1``: off the grid, no joins). A point whose cell is not
        the one it stands in (moved off an impassable cell) walks from that cell's centre.
    node_x, node_y, src, dst, time_min, is_ferry
        The network: node coordinates, and each edge's tail, head, minutes and ferry flag.
    grid
        The analysis grid.

    Returns
    -------
    PointJoins
        One row per (point, edge) join, sorted by point then edge.
    """
    ok, prow, pcol, pr, pc = _standing(x, y, cell, grid)
    none = PointJoins(
        point=np.empty(0, np.int64), node=np.empty(0, np.int64),
        walk_cells=np.empty((0, WALK_CELLS), np.int64), walk_m=np.empty((0, WALK_CELLS)),
        along_min=np.empty(0),
    )  # fmt: skip
    road = np.flatnonzero(~np.asarray(is_ferry, bool))
    if len(ok) == 0 or len(road) == 0:
        return none
    nr, nc = fractional_rc(grid, node_x, node_y)
    er0, ec0 = nr[src[road]], nc[src[road]]
    er1, ec1 = nr[dst[road]], nc[dst[road]]
    e_row = np.clip(np.floor(er0), -1, grid.rows).astype(np.int64)
    e_col = np.clip(np.floor(ec0), -1, grid.cols).astype(np.int64)
    inside = (e_row >= 0) & (e_row < grid.rows) & (e_col >= 0) & (e_col < grid.cols)
    key = np.where(inside, e_row * grid.cols + e_col, -1)
    order = np.argsort(key, kind="stable").astype(np.int64)
    p, e, f, d = _point_candidates(
        pr, pc, prow, pcol, e_row, e_col, order, key[order],
        er0, ec0, er1, ec1, grid.rows, grid.cols, np.asarray(grid.dx_m, np.float64),
        float(grid.dy_m),
    )  # fmt: skip
    if len(p) == 0:
        return none
    p = np.asarray(p, np.int64)
    e = np.asarray(e, np.int64)
    srt = np.lexsort((e, p))
    p, e, f, d = p[srt], e[srt], np.asarray(f)[srt], np.asarray(d)[srt]
    qr = er0[e] + f * (er1[e] - er0[e])
    qc = ec0[e] + f * (ec1[e] - ec0[e])
    walk_cells, walk_m = _walks(
        np.asarray(cell, np.int64)[ok][p], qr, qc, d, grid.cols, start=(pr[p], pc[p])
    )
    edge = road[e]
    return PointJoins(
        point=ok[p],
        node=np.asarray(src, np.int64)[edge],
        walk_cells=walk_cells,
        walk_m=walk_m,
        along_min=f * np.asarray(time_min, np.float64)[edge],
    )


@dataclass(frozen=True, eq=False)
class Seeds:
    """Vertices (cells or network nodes) a search from points starts at, and their times.

    Attributes
    ----------
    point
        ``int64`` (n,): the point (a facility's row) each seed is for, ascending.
    vertex
        ``int64`` (n,): the cell or node.
    time_min
        ``float64`` (n,): minutes from the vertex to the point.
    """

    point: np.ndarray
    vertex: np.ndarray
    time_min: np.ndarray

    @property
    def n(self) -> int:
        """Number of seeds."""
        return len(self.vertex)

    @staticmethod
    def empty() -> Seeds:
        """No seeds.

        Returns
        -------
        Seeds
            Zero seeds.
        """
        return Seeds(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    def of(self, points: np.ndarray) -> Seeds:
        """The seeds of some points only.

        Parameters
        ----------
        points
            Point numbers to keep.

        Returns
        -------
        Seeds
            Their seeds, in the same order.
        """
        keep = np.isin(self.point, np.asarray(points, np.int64))
        return Seeds(self.point[keep], self.vertex[keep], self.time_min[keep])

    def as_engine(
        self, label: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(vertices, time_min, catchment)``, as ``combined_search`` takes them.

        Parameters
        ----------
        label
            The catchment id of each point (default: the point number).

        Returns
        -------
        tuple of numpy.ndarray
            Vertices, times and ``int32`` catchments.
        """
        lab = self.point if label is None else np.asarray(label)[self.point]
        return self.vertex, self.time_min, lab.astype(np.int32)


@dataclass(frozen=True, eq=False)
class FacilitySeeds:
    """Where a search from facilities starts: cells around each, and the roads near it.

    Attributes
    ----------
    cells
        The cells of each facility's 3×3 block, at the straight walk from their centres to it.
    nodes
        The tails of the road edges passing near it, at the walk plus the minutes along.
    """

    cells: Seeds
    nodes: Seeds

    def of(self, points: np.ndarray) -> FacilitySeeds:
        """The seeds of some facilities only.

        Parameters
        ----------
        points
            Facility rows to keep.

        Returns
        -------
        FacilitySeeds
            Their seeds.
        """
        return FacilitySeeds(self.cells.of(points), self.nodes.of(points))


def fastest(point: np.ndarray, vertex: np.ndarray, minutes: np.ndarray) -> Seeds:
    """Seeds from joins: the possible ones, the fastest kept per (point, vertex), sorted.

    Parameters
    ----------
    point, vertex, minutes
        One join each (``inf`` minutes: not possible).

    Returns
    -------
    Seeds
        Sorted by point, then vertex.
    """
    ok = np.isfinite(minutes)
    point, vertex, minutes = point[ok], vertex[ok], minutes[ok]
    order = np.lexsort((minutes, vertex, point))
    point, vertex, minutes = point[order], vertex[order], minutes[order]
    first = np.ones(len(point), dtype=bool)
    first[1:] = (point[1:] != point[:-1]) | (vertex[1:] != vertex[:-1])
    return Seeds(point=point[first], vertex=vertex[first], time_min=minutes[first])


def cell_joins(
    x: np.ndarray, y: np.ndarray, cell: np.ndarray, grid: AnalysisGrid
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The straight walks from the centres of each point's 3×3 block of cells to the point.

    A facility stands somewhere in its cell: the people of its cell, and of the cells around,
    walk straight to it, not to its cell's centre (which would put a facility at the edge of a
    1 km cell up to 700 m closer to some of them than it is).

    Parameters
    ----------
    x, y
        The points in the grid CRS.
    cell
        ``int64`` each point's (snapped) cell, ``-1`` off the grid. A point moved off an
        impassable cell stands at the centre of the cell it was moved to.
    grid
        The analysis grid.

    Returns
    -------
    tuple of numpy.ndarray
        ``(point, cell, walk_cells, walk_m)``: one row per (point, block cell), the walk as in
        :class:`RoadFeet`.
    """
    ok, prow, pcol, pr, pc = _standing(x, y, cell, grid)
    dr, dc = np.divmod(np.arange(9), 3)
    r = (prow[:, None] + dr[None, :] - 1).ravel()
    c = (pcol[:, None] + dc[None, :] - 1).ravel()
    point = np.repeat(ok, 9)
    end_r, end_c = np.repeat(pr, 9), np.repeat(pc, 9)
    inside = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
    point, r, c, end_r, end_c = point[inside], r[inside], c[inside], end_r[inside], end_c[inside]
    dist = np.hypot((end_c - c - 0.5) * np.asarray(grid.dx_m)[r], (end_r - r - 0.5) * grid.dy_m)
    walk_cells, walk_m = _walks(r * grid.cols + c, end_r, end_c, dist, grid.cols)
    return point, r * grid.cols + c, walk_cells, walk_m
