"""The land-cover classes of the demo region's ``landcover.tif``."""

from __future__ import annotations

__all__ = [
    "BUILT",
    "CROP",
    "FOREST",
    "GRASS",
    "LANDCOVER_CLASSES",
    "LANDCOVER_NODATA",
    "SEA",
    "WATER",
]

#: Land-cover class codes of ``landcover.tif``.
LANDCOVER_CLASSES: dict[int, str] = {
    1: "built-up",
    2: "cropland",
    3: "grass/shrub",
    4: "forest",
    5: "water",
    6: "sea",
}
#: Nodata of ``landcover.tif``.
LANDCOVER_NODATA = 255

#: The codes of :data:`LANDCOVER_CLASSES` by name; the land classes are ``BUILT`` to ``FOREST``.
BUILT, CROP, GRASS, FOREST, WATER, SEA = 1, 2, 3, 4, 5, 6
