"""The built-in demo region: a generated, fictitious island district, and ``reach demo``.

The generator is a pipeline of small modules, each named for its job:

``layout``
    the grid and its island groups; ``streams``: one random stream per purpose.
``islands``, ``noise``, ``terrain``
    the shape of each island group, value noise, and pass 1 (elevation, natural land cover).
``names``, ``places``, ``plan``
    place names; towns, ports and villages; everything decided before files are written.
``districts``
    the district polygons.
``routing``, ``roads``, ``ferries``, ``road_tags``, ``osm_xml``
    least-cost paths, the road network, ferries, OSM tags, and ``roads.osm``.
``facilities``
    health and education facilities.
``population``
    the people of each place, and pass 2 (``population.tif``, built-up land).
``generate``
    :func:`generate_demo`: all the input files of a region.
``project``
    what ``reach demo`` writes: the demo project and its run, or the inputs alone.
"""

from __future__ import annotations

from reach.demo.generate import DEMO_FILE_NAMES, DemoFiles, demo_boundaries_geojson, generate_demo
from reach.demo.landcover import LANDCOVER_CLASSES, LANDCOVER_NODATA
from reach.demo.layout import DEFAULT_SIZE_CELLS, MIN_SIZE_CELLS
from reach.demo.population import POPULATION_NODATA
from reach.demo.project import (
    demo_scenario_toml,
    run_demo,
    write_demo_boundaries,
    write_demo_inputs,
)

__all__ = [
    "DEFAULT_SIZE_CELLS",
    "DEMO_FILE_NAMES",
    "LANDCOVER_CLASSES",
    "LANDCOVER_NODATA",
    "MIN_SIZE_CELLS",
    "POPULATION_NODATA",
    "DemoFiles",
    "demo_boundaries_geojson",
    "demo_scenario_toml",
    "generate_demo",
    "run_demo",
    "write_demo_boundaries",
    "write_demo_inputs",
]
