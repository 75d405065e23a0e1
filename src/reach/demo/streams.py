"""Random streams of the demo generator: one generator per purpose and island group.

So that computing the boundaries alone draws exactly the numbers the full generation draws.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "STREAM_FACILITIES",
    "STREAM_NAMES",
    "STREAM_NOISE",
    "STREAM_ROADS",
    "STREAM_TAGS",
    "STREAM_TEMPLATE",
    "STREAM_VILLAGES",
    "random_stream",
]

#: The shapes of an island group.
STREAM_TEMPLATE = 1
#: The value noises of terrain, moisture and farms.
STREAM_NOISE = 2
#: Place names.
STREAM_NAMES = 3
#: Village sites and sizes of an island group.
STREAM_VILLAGES = 4
#: Facility sites of an island group.
STREAM_FACILITIES = 5
#: Road surfaces, smoothness and speed limits.
STREAM_TAGS = 6
#: Road names and street grids of an island group.
STREAM_ROADS = 7


def random_stream(seed: int, stream: int, group: int = 0) -> np.random.Generator:
    """The random generator of one purpose (and island group) of a seeded demo region.

    Parameters
    ----------
    seed
        The region's seed.
    stream
        The purpose, one of the ``STREAM_*`` numbers.
    group
        The island group, for purposes drawn per group.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with ``[seed, stream, group]``.
    """
    return np.random.default_rng([seed, stream, group])
