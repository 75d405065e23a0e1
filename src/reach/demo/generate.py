"""The built-in demo region: a deterministic, fictitious remote island district.

:func:`generate_demo` writes a complete set of reach inputs for a made-up regency in open sea in
eastern Indonesia (around 123.5°E, 10.8°S, where there is no real land): a volcanic main island,
a smaller island across a strait with a ferry, a few islets and an inland lake. Everything is
generated from a seed with :func:`numpy.random.default_rng`; the same ``size_cells`` and ``seed``
give byte-identical files.

Files written (names inside the output folder):

``roads.osm``
    OSM XML with a road hierarchy (trunk to footpath, one one-way pair in the capital) routed on
    land by least-cost paths over a coarse slope grid, plus ``route=ferry`` ways between islands.
``population.tif``
    People per cell, float32, nodata ``-99999`` over the sea (like WorldPop), 3 arc-seconds.
``dem.tif``
    Elevation in metres (negative over the sea), float32, same grid.
``landcover.tif``
    Land-cover classes (:data:`LANDCOVER_CLASSES`), uint8, nodata 255, same grid.
``facilities.geojson``
    Health and education facilities with tiers and capacities.
``districts.geojson``
    District (kecamatan) polygons; the text equals :func:`demo_boundaries_geojson`.
``summary.json``
    Counts and lengths describing what was generated.

``size_cells`` scales the extent at a fixed 92 m resolution: one island group (main island,
second island, islets) per ~600,000 cells, the groups joined by ferries. Rasters are computed and
written in row strips: 1.6 x 10⁷ cells take ~7 s and 0.4 GB, 10⁸ cells ~35 s and 0.6 GB.

``reach demo --inputs-only --out OUT_DIR [--size N] [--seed S]`` writes the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reach.demo.districts import districts_geojson
from reach.demo.facilities import facilities_geojson
from reach.demo.ferries import plan_ferries
from reach.demo.layout import DEFAULT_SIZE_CELLS, RES_DEG
from reach.demo.osm_xml import write_osm
from reach.demo.places import inter_group_ports
from reach.demo.plan import make_plan
from reach.demo.population import pass_population
from reach.demo.roads import plan_roads

__all__ = ["DEMO_FILE_NAMES", "DemoFiles", "demo_boundaries_geojson", "generate_demo"]

#: The files of a demo region: :class:`DemoFiles` field, file name.
DEMO_FILE_NAMES = {
    "roads_osm": "roads.osm",
    "population_tif": "population.tif",
    "dem_tif": "dem.tif",
    "landcover_tif": "landcover.tif",
    "facilities_geojson": "facilities.geojson",
    "boundaries_geojson": "districts.geojson",
}
_SUMMARY_NAME = "summary.json"
_REGENCY = "Pulau Contoh district"


@dataclass(frozen=True)
class DemoFiles:
    """Paths and totals of a generated demo region.

    Attributes
    ----------
    folder
        The output folder.
    roads_osm
        OSM XML with highway ways and ``route=ferry`` ways.
    population_tif
        People per cell, float32, EPSG:4326, nodata ``-99999`` over the sea.
    dem_tif
        Elevation in metres, float32, same grid.
    landcover_tif
        Land-cover classes (:data:`LANDCOVER_CLASSES`), uint8, nodata 255, same grid.
    facilities_geojson
        Facility points with ``facility_id``, ``name``, ``service``, ``tier``, ``capacity``.
    boundaries_geojson
        District polygons with ``zone_id`` and ``name``.
    size_cells
        Rows times columns of the population grid.
    population_total
        Exact float64 sum of the population raster's valid cells.
    """

    folder: Path
    roads_osm: Path
    population_tif: Path
    dem_tif: Path
    landcover_tif: Path
    facilities_geojson: Path
    boundaries_geojson: Path
    size_cells: int
    population_total: float

    @classmethod
    def in_folder(cls, folder: Path, *, size_cells: int, population_total: float) -> DemoFiles:
        """The files of a demo region in ``folder`` (named as :data:`DEMO_FILE_NAMES`).

        Parameters
        ----------
        folder
            The folder holding the files.
        size_cells
            Rows times columns of the population grid.
        population_total
            Exact float64 sum of the population raster's valid cells.

        Returns
        -------
        DemoFiles
            The paths and totals.
        """
        paths = {key: folder / name for key, name in DEMO_FILE_NAMES.items()}
        return cls(folder=folder, size_cells=size_cells, population_total=population_total, **paths)


def demo_boundaries_geojson(*, size_cells: int = DEFAULT_SIZE_CELLS, seed: int = 7) -> str:
    """Return the district boundaries of a demo region as GeoJSON text.

    Parameters
    ----------
    size_cells
        Cells of the population grid (see :func:`generate_demo`).
    seed
        Random seed.

    Returns
    -------
    str
        The exact text :func:`generate_demo` writes to ``districts.geojson``: a
        FeatureCollection of MultiPolygons (EPSG:4326) with ``zone_id`` and ``name``.
    """
    plan = make_plan(size_cells, seed=seed, dem_path=None)
    return districts_geojson(plan.layout, plan.terrain, plan.groups)


def generate_demo(
    folder: Path | str, *, size_cells: int = DEFAULT_SIZE_CELLS, seed: int = 7
) -> DemoFiles:
    """Generate the demo region's input files into ``folder``.

    Parameters
    ----------
    folder
        Output folder, created if missing; existing demo files are overwritten.
    size_cells
        Approximate number of cells of the population grid (rows x columns at 3 arc-seconds,
        about 92 m). The default, 600,000, is one island group of about 5,000 km² with some
        1,000 km² of land; larger grids hold one island group per ~600,000 cells.
    seed
        Random seed; the same seed and size give byte-identical files.

    Returns
    -------
    DemoFiles
        Paths of the files written, the grid size and the exact population total.

    Raises
    ------
    InputError
        If ``size_cells`` is below :data:`MIN_SIZE_CELLS`.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in DEMO_FILE_NAMES.items()}
    plan = make_plan(size_cells, seed=seed, dem_path=paths["dem_tif"])
    layout = plan.layout
    boundaries = districts_geojson(layout, plan.terrain, plan.groups)
    paths["boundaries_geojson"].write_text(boundaries, encoding="utf-8", newline="\n")
    inter = inter_group_ports(layout, plan.groups)
    ways = [w for g in plan.groups for w in plan_roads(layout, g, seed=seed)]
    ferries = plan_ferries(plan.groups, inter, ccols=layout.coarse_cols)
    road_stats = write_osm(paths["roads_osm"], ways, ferries, layout=layout, seed=seed)
    facilities, tier_counts = facilities_geojson(plan.groups, layout=layout, seed=seed)
    paths["facilities_geojson"].write_text(facilities, encoding="utf-8", newline="\n")
    total, areas = pass_population(
        layout,
        plan.terrain,
        plan.groups,
        plan.noises.farms,
        population_path=paths["population_tif"],
        landcover_path=paths["landcover_tif"],
    )
    land_km2 = sum(v for k, v in areas.items() if k not in ("water", "sea"))
    places = [p for g in plan.groups for p in g.places]
    summary = {
        "name": _REGENCY,
        "seed": seed,
        "grid": {
            "rows": layout.rows,
            "cols": layout.cols,
            "size_cells": layout.rows * layout.cols,
            "resolution_deg": RES_DEG,
            "west_deg": round(layout.west_deg, 7),
            "north_deg": round(layout.north_deg, 7),
        },
        "island_groups": len(plan.groups),
        "land_km2": round(land_km2, 1),
        "landcover_km2": areas,
        "population_total": total,
        "people_per_land_km2": round(total / land_km2, 1) if land_km2 else 0.0,
        "towns": sum(p.is_town for p in places),
        "villages": sum(not p.is_town for p in places),
        "districts": boundaries.count('"zone_id"'),
        "facilities_by_tier": dict(sorted(tier_counts.items())),
        **road_stats,
    }
    (out / _SUMMARY_NAME).write_text(
        json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
        newline="\n",
    )
    return DemoFiles.in_folder(out, size_cells=layout.rows * layout.cols, population_total=total)
