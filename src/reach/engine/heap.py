"""An indexed binary min-heap on parallel arrays, for numba kernels.

Each item is in the heap once at most, with its position kept in an array, so lowering its key
moves it up in place (decrease-key) instead of pushing a second copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "iheap_grow",
    "iheap_new",
    "iheap_pop",
    "iheap_push",
]


@njit(cache=True)
def iheap_new(capacity: int, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An indexed heap: keys, items, and each item's position (``-1`` when not in the heap).

    Each item is in the heap at most once; pushing it again with a smaller key moves it up
    (decrease-key), so a search pops every vertex once instead of skipping stale copies. The
    functions return scalars only (no arrays): the caller grows the arrays with
    :func:`iheap_grow` when ``size`` reaches their length, which keeps numba's reference
    counting out of the search loop.
    """
    cap = max(capacity, 16)
    return (
        np.empty(cap, dtype=np.float64),
        np.empty(cap, dtype=np.int64),
        np.full(n_items, -1, dtype=np.int32),
    )


@njit(cache=True)
def iheap_grow(keys: np.ndarray, items: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of twice the length holding the first ``size`` entries."""
    new_keys = np.empty(keys.shape[0] * 2, dtype=np.float64)
    new_items = np.empty(items.shape[0] * 2, dtype=np.int64)
    new_keys[:size] = keys[:size]
    new_items[:size] = items[:size]
    return new_keys, new_items


@njit(cache=True, inline="always")
def iheap_push(
    keys: np.ndarray, items: np.ndarray, pos: np.ndarray, size: int, key: float, item: int
) -> int:
    """Insert ``item`` with ``key`` or lower its key; return the new size.

    When ``item`` is not in the heap yet, ``size`` must be below the arrays' length.
    """
    i = pos[item]
    if i < 0:
        i = size
        size += 1
    while i > 0:
        parent = (i - 1) >> 1
        pk = keys[parent]
        if pk <= key:
            break
        keys[i] = pk
        moved = items[parent]
        items[i] = moved
        pos[moved] = i
        i = parent
    keys[i] = key
    items[i] = item
    pos[item] = i
    return size


@njit(cache=True, inline="always")
def iheap_pop(
    keys: np.ndarray, items: np.ndarray, pos: np.ndarray, size: int
) -> tuple[float, int, int]:
    """Remove the smallest entry. Return ``(key, item, new_size)``; ``size`` must be > 0."""
    top_key = keys[0]
    top_item = items[0]
    pos[top_item] = -1
    size -= 1
    if size > 0:
        key = keys[size]
        item = items[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            if child + 1 < size and keys[child + 1] < keys[child]:
                child += 1
            ck = keys[child]
            if ck >= key:
                break
            keys[i] = ck
            moved = items[child]
            items[i] = moved
            pos[moved] = i
            i = child
        keys[i] = key
        items[i] = item
        pos[item] = i
    return top_key, top_item, size
