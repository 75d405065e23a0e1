"""Who owns each cell and node of a partitioned run.

Every passable cell of an island with a facility gets one owner, a partition. ``by="auto"``
keeps each island whole, grouping small islands by the tile their centre falls in and cutting
an island larger than ``tile_cells`` into tiles; ``"islands"``, ``"tiles"`` and ``"zones"``
(reporting zones, cut into tiles when large) are the other ways. A network node belongs to the
owner of its cell (a node with no cell, to a linked node's). The coordinator walks the grid in
strips of rows (:func:`row_strips`), so that its temporaries stay small.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from reach.partition.inputs import CoordinatorInputs
from reach.partition.survey import Links, ModeNetwork, Survey

__all__ = [
    "CHUNK_CELLS",
    "PartitionBy",
    "cell_owners",
    "node_owners",
    "partition_islands",
    "row_strips",
]

#: Ways to partition a region (see the module docstring).
PartitionBy = Literal["auto", "islands", "tiles", "zones"]
#: Cells per slice when the coordinator walks the whole grid.
CHUNK_CELLS = 8_000_000


def _component_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """``int64`` (n + 1, 4): row0, row1, col0, col1 of each component (row 0 unused)."""
    boxes = np.zeros((n + 1, 4), dtype=np.int64)
    for k, sl in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        if sl is not None:
            boxes[k] = (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
    return boxes


def _island_boxes(boxes: np.ndarray, island: np.ndarray, n_islands: int) -> np.ndarray:
    out = np.empty((n_islands, 4), dtype=np.int64)
    out[:, 0] = out[:, 2] = np.iinfo(np.int64).max
    out[:, 1] = out[:, 3] = -1
    k = np.flatnonzero(island >= 0)
    isl = island[k]
    np.minimum.at(out[:, 0], isl, boxes[k, 0])
    np.maximum.at(out[:, 1], isl, boxes[k, 1])
    np.minimum.at(out[:, 2], isl, boxes[k, 2])
    np.maximum.at(out[:, 3], isl, boxes[k, 3])
    return out


def row_strips(rows: int, cols: int, cells: int = CHUNK_CELLS) -> Iterable[tuple[int, int]]:
    """Row ranges ``(r0, r1)`` of about ``cells`` cells each, covering a grid.

    Parameters
    ----------
    rows, cols
        The grid's size.
    cells
        Cells per strip (at least one row).

    Returns
    -------
    Iterable of tuple
        ``(r0, r1)``, ends exclusive, in order.
    """
    step = max(1, cells // max(cols, 1))
    for r in range(0, rows, step):
        yield r, min(r + step, rows)


def cell_owners(
    inputs: CoordinatorInputs,
    survey: Survey,
    links: Links,
    active: np.ndarray,
    *,
    by: PartitionBy,
    side: int,
    tile_cells: int,
) -> tuple[np.ndarray, list[str]]:
    """The owner of every cell (``-1`` none) and each partition's kind.

    Parameters
    ----------
    inputs
        The coordinator's inputs (the grid and the zones).
    survey, links
        The components and islands.
    active
        ``bool`` per island: it holds a facility of some service (only those are searched).
    by, side, tile_cells
        How to partition, the tile side in cells and the cells per tile.

    Returns
    -------
    tuple
        ``int32`` (rows, cols) owner per cell, and the kind of each partition.
    """
    grid = inputs.grid
    rows, cols = grid.shape
    n_tile_cols = -(-cols // side)
    n_tiles = -(-rows // side) * n_tile_cols
    comp_island = links.island_of_component
    boxes = _island_boxes(
        _component_boxes(survey.labels, survey.n_components), comp_island, links.n_islands
    )
    area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])
    centre_tile = ((boxes[:, 0] + boxes[:, 1]) // 2 // side) * n_tile_cols + (
        (boxes[:, 2] + boxes[:, 3]) // 2 // side
    )
    big = area > tile_cells
    n_keys: int
    zone_big = np.zeros(1, dtype=bool)
    if by == "islands":
        n_keys = links.n_islands
    elif by == "zones":
        n_zones = len(inputs.zones)
        zb = np.zeros((n_zones + 1, 4), dtype=np.int64)
        for k, sl in enumerate(ndimage.find_objects(inputs.zone, max_label=n_zones), start=1):
            if sl is not None:
                zb[k] = (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
        zone_big = (zb[:, 1] - zb[:, 0]) * (zb[:, 3] - zb[:, 2]) > tile_cells
        zone_big[0] = True  # cells outside every zone: by tile
        n_keys = (n_zones + 1) * n_tiles
    else:
        n_keys = n_tiles
    counts = np.zeros(n_keys, dtype=np.int64)
    opened = np.zeros(n_keys, dtype=bool)  # keys holding cells of a cut island

    def keys_of(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lab = survey.labels[r0:r1]
        isl = comp_island[lab]
        act = (lab > 0) & active[np.maximum(isl, 0)]
        rr, cc = np.nonzero(act)
        isl = isl[rr, cc]
        tile = ((rr + r0) // side) * n_tile_cols + cc // side
        if by == "islands":
            key = isl
        elif by == "tiles":
            key = tile
        elif by == "zones":
            z = inputs.zone[r0:r1][rr, cc].astype(np.int64)
            key = z * n_tiles + np.where(zone_big[z], tile, 0)
        else:
            key = np.where(big[isl], tile, centre_tile[isl])
        flat = (rr + r0) * cols + cc
        return flat, key, isl

    for r0, r1 in row_strips(rows, cols):
        _, key, isl = keys_of(r0, r1)
        counts += np.bincount(key, minlength=n_keys)
        if by == "auto":
            opened[key[big[isl]]] = True
    used = np.flatnonzero(counts)
    ids = np.full(n_keys, -1, dtype=np.int32)
    ids[used] = np.arange(len(used), dtype=np.int32)
    owner = np.full(rows * cols, -1, dtype=np.int32)
    for r0, r1 in row_strips(rows, cols):
        flat, key, _ = keys_of(r0, r1)
        owner[flat] = ids[key]
    fixed = {"islands": "island", "tiles": "tile", "zones": "zone"}.get(by)
    kinds = [fixed or ("tile" if opened[k] else "islands") for k in used]
    return owner.reshape(rows, cols), kinds


def node_owners(owner_flat: np.ndarray, mn: ModeNetwork) -> np.ndarray:
    """The partition of each node: its cell's, or for a node with none, a linked node's.

    Parameters
    ----------
    owner_flat
        The owner of every cell, flat.
    mn
        A mode's placed network.

    Returns
    -------
    numpy.ndarray
        ``int64`` owner per node, ``-1`` for none.
    """
    net = mn.network
    own = np.full(net.n_nodes, -1, dtype=np.int64)
    has = mn.node_cell >= 0
    own[has] = owner_flat[mn.node_cell[has]]
    cellless = ~has
    if not cellless.any() or net.n_edges == 0:
        return own
    e = cellless[net.src] | cellless[net.dst]
    a, b = net.src[e], net.dst[e]
    ends = np.concatenate([a, b])
    seeds = np.unique(ends[~cellless[ends]])
    seeds = seeds[own[seeds] >= 0]
    if seeds.size == 0:
        return own
    n = net.n_nodes
    graph = sparse.csr_matrix(
        (
            np.ones(2 * len(a) + len(seeds), dtype=np.int8),
            (np.concatenate([a, b, np.full(len(seeds), n)]), np.concatenate([b, a, seeds])),
        ),
        shape=(n + 1, n + 1),
    )
    order, pred = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=True)
    for v in order[1:]:
        if own[v] < 0:
            own[v] = own[pred[v]]
    return own


def partition_islands(
    owner: np.ndarray, labels: np.ndarray, comp_island: np.ndarray, n: int, n_islands: int
) -> tuple[list[Any], list[np.ndarray]]:
    """Each partition's bounding box, and the islands among its cells.

    Parameters
    ----------
    owner
        The owner of every cell.
    labels, comp_island
        The component of every cell and the island of every component.
    n, n_islands
        Numbers of partitions and of islands.

    Returns
    -------
    tuple
        Per partition, its bounding box (a pair of slices, ``None`` if empty) and its islands.
    """
    slices = ndimage.find_objects(owner + 1, max_label=n)
    present: list[np.ndarray] = []
    for k, sl in enumerate(slices):
        if sl is None:
            present.append(np.empty(0, np.int64))
            continue
        core = owner[sl] == k
        isl = comp_island[labels[sl][core]]
        present.append(np.flatnonzero(np.bincount(isl, minlength=n_islands)))
    return slices, present
