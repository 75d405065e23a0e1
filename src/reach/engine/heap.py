"""A binary min-heap on parallel arrays, for numba kernels.

Lazy deletion: a node may be pushed several times; the search skips stale entries when the
popped key is larger than the node's settled time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["heap_new", "heap_pop", "heap_push"]


@njit(cache=True)
def heap_new(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Return empty key and item arrays with room for ``capacity`` entries."""
    cap = max(capacity, 16)
    return np.empty(cap, dtype=np.float64), np.empty(cap, dtype=np.int64)


@njit(cache=True)
def heap_push(
    keys: np.ndarray, items: np.ndarray, size: int, key: float, item: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Push ``(key, item)``; grow the arrays when full. Return the arrays and the new size."""
    if size == keys.shape[0]:
        new_keys = np.empty(keys.shape[0] * 2, dtype=np.float64)
        new_items = np.empty(items.shape[0] * 2, dtype=np.int64)
        new_keys[:size] = keys[:size]
        new_items[:size] = items[:size]
        keys = new_keys
        items = new_items
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        items[i] = items[parent]
        i = parent
    keys[i] = key
    items[i] = item
    return keys, items, size + 1


@njit(cache=True)
def heap_pop(keys: np.ndarray, items: np.ndarray, size: int) -> tuple[float, int, int]:
    """Remove the smallest entry. Return ``(key, item, new_size)``; ``size`` must be > 0."""
    top_key = keys[0]
    top_item = items[0]
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
            if keys[child] >= key:
                break
            keys[i] = keys[child]
            items[i] = items[child]
            i = child
        keys[i] = key
        items[i] = item
    return top_key, top_item, size
