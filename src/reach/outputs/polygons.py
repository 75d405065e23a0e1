"""The polygons and lines a GIS user expects beside the rasters of a run.

- ``catchments.gpkg``: a layer per service, one (multi)polygon per facility — the cells whose
  nearest facility it is, dissolved — with its people, people within each threshold and mean
  travel time.
- ``isochrones.gpkg``: a layer per service, one (multi)polygon per threshold — the cells reached
  within it. Cumulative, not bands: the 60-minute polygon holds the 30-minute one. Rows come
  largest threshold first, so a GIS drawing them in order puts the smallest on top and the
  layer reads as bands.
- ``friction_<mode>.tif``: the speed (km/h) each mode's search crosses each cell at, on flat
  ground, with a QGIS colour ramp beside it (``.qml``).
- ``network.gpkg``: a layer per mode, its routable roads and ferries as lines with class, name,
  speed, minutes, length, one-way and ferry flags and the ferry wait.

Polygons follow the cell edges exactly (rasterio's polygonising of the search's own arrays, 4-
connected, nothing simplified: the cells' corners are the only vertices), so rasterising a
polygon on the grid gives back exactly its cells. Every layer is in WGS 84 (EPSG:4326), like
``facilities.gpkg`` and ``zones.gpkg``; rows are sorted, so a rerun writes the same bytes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.errors
import rasterio.features
import shapely
from pyproj import CRS, Transformer

from reach.ingest.roads import RoadLines
from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.accessmod import burned_friction
from reach.model.grid import AnalysisGrid, Friction
from reach.model.network import Network
from reach.model.region import Region, mode_profile
from reach.outputs.write import write_geotiff, write_gpkg, write_text_atomic
from reach.results import Evaluation, RunResult, ServiceResult
from reach.schema import (
    CATCHMENTS_LAYER,
    ISOCHRONES_LAYER,
    NETWORK_LAYER,
    catchment_within_col,
    pct_within_col,
    within_col,
)

__all__ = [
    "WGS84",
    "RoadModel",
    "catchment_layer",
    "cell_polygons",
    "isochrone_layer",
    "mode_speed_kph",
    "network_layer",
    "speed_style",
    "write_evaluation_polygons",
    "write_polygons",
]

#: The CRS of every layer written here.
WGS84 = "EPSG:4326"

# rasterio wraps the mask of ``shapes`` in a dataset without a transform and warns that it has
# none, though the shapes get the grid's transform: a warning about nothing, from any thread
warnings.filterwarnings(
    "ignore", category=rasterio.errors.NotGeoreferencedWarning, module="rasterio.features"
)


class RoadModel(Protocol):
    """What the polygons need of a search session: its roads, friction and networks.

    :class:`reach.run.session.SearchSession` is one.

    Attributes
    ----------
    roads
        The road and ferry lines searched on.
    friction
        The walking friction searched on.
    """

    roads: RoadLines
    friction: Friction

    def network(self, mode: str) -> Network:
        """The mode's routable network (built once).

        Parameters
        ----------
        mode
            The travel mode.

        Returns
        -------
        Network
            Its roads and ferries as directed edges.
        """
        ...  # pragma: no cover


def cell_polygons(labels: np.ndarray, grid: AnalysisGrid) -> dict[int, shapely.MultiPolygon]:
    """The cells of each label dissolved into one valid multipolygon, in the grid's CRS.

    Parameters
    ----------
    labels
        ``int`` per cell (flat or rows × columns): the label of the cell, negative for none.
    grid
        The analysis grid.

    Returns
    -------
    dict of int to shapely.MultiPolygon
        By label, ascending, only labels that have cells: every 4-connected patch of the
        label's cells is one polygon (holes kept; patches touching at a corner stay apart),
        vertices at cell corners only.
    """
    lab = np.ascontiguousarray(np.asarray(labels).reshape(grid.shape), dtype=np.int32)
    mask = lab >= 0
    if not mask.any():
        return {}
    parts = [
        (int(value), shapely.geometry.shape(geom))
        for geom, value in rasterio.features.shapes(
            lab, mask=mask, connectivity=4, transform=grid.transform
        )
    ]
    values = np.array([v for v, _ in parts], dtype=np.int64)
    order = np.argsort(values, kind="stable")  # GDAL's order within a label: deterministic
    values = values[order]
    polys = np.array([parts[i][1] for i in order], dtype=object)
    keys = np.unique(values)
    merged = shapely.multipolygons(polys, indices=np.searchsorted(keys, values))
    bad = ~shapely.is_valid(merged)
    if bad.any():  # not seen in practice: 4-connected patches meet at corners only
        merged[bad] = [_polygonal(g) for g in shapely.make_valid(merged[bad])]
    return {int(k): g for k, g in zip(keys, merged, strict=True)}


def _polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygons of a repaired geometry, as one multipolygon."""
    polys = [
        p
        for g in shapely.get_parts(geom)
        for p in shapely.get_parts(g)
        if isinstance(p, shapely.Polygon)
    ]
    return shapely.MultiPolygon(polys)


def _cell_area_km2(grid: AnalysisGrid) -> np.ndarray:
    """Each cell's area in km² (flat): its row's width times the cell height."""
    row_km2 = np.asarray(grid.dx_m, dtype=np.float64) * float(grid.dy_m) / 1e6
    return np.repeat(row_km2, grid.cols)


def _to_wgs84(geoms: Sequence[shapely.Geometry], grid: AnalysisGrid) -> gpd.GeoSeries:
    """Geometries in the grid's CRS brought to WGS 84."""
    series = gpd.GeoSeries(list(geoms), crs=grid.crs.to_wkt())
    if CRS.from_user_input(grid.crs.to_wkt()) == CRS.from_user_input(WGS84):
        return series.set_crs(WGS84, allow_override=True)
    return series.to_crs(WGS84)


def catchment_layer(res: ServiceResult, grid: AnalysisGrid, people: np.ndarray) -> gpd.GeoDataFrame:
    """One service's catchments as polygons, one row per facility with a catchment.

    Parameters
    ----------
    res
        The service's result (its search and facility table).
    grid
        The analysis grid.
    people
        People per cell (any shape; 0 where nodata), before the service's target share.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :data:`reach.schema.CATCHMENTS_LAYER` for the service's thresholds, in
        WGS 84, by facility row; facilities whose catchment has no cell (closed, off the grid,
        or nearer to none) are left out — they are in ``facilities.gpkg`` with 0 people.
    """
    svc = res.spec
    table = res.facility_table.reset_index(drop=True)
    n = len(table)
    lab = np.asarray(res.search.facility).ravel()
    shapes = cell_polygons(lab, grid)
    rows = np.array(sorted(shapes), dtype=np.int64)
    reached = lab >= 0
    cells = np.bincount(lab[reached], minlength=n)[:n]
    area = np.bincount(lab[reached], weights=_cell_area_km2(grid)[reached], minlength=n)[:n]
    # people as the facility table counts them: cells with people, in cell order
    with_people = np.flatnonzero(np.asarray(people).ravel())
    plab = lab[with_people]
    ptime = np.asarray(res.search.time_min).ravel()[with_people]
    pop = np.asarray(people).ravel()[with_people] * svc.target_share
    data: dict[str, object] = {
        "service": svc.name,
        "facility": rows,
        "facility_id": table["facility_id"].astype(str).to_numpy()[rows],
        "name": table["name"].astype(str).to_numpy()[rows],
        "tier": table["tier"].astype(str).to_numpy()[rows],
        "cells": cells[rows],
        "area_km2": area[rows],
        "catchment_population": table["catchment_population"].to_numpy(float)[rows],
    }
    for th in sorted(svc.thresholds_min):
        within = (plab >= 0) & (ptime <= th)
        data[catchment_within_col(th)] = np.bincount(
            plab[within], weights=pop[within], minlength=n
        )[:n][rows]
    data["catchment_mean_time_min"] = table["catchment_mean_time_min"].to_numpy(float)[rows]
    frame = pd.DataFrame(data)
    out = gpd.GeoDataFrame(frame, geometry=_to_wgs84([shapes[int(r)] for r in rows], grid))
    return out[CATCHMENTS_LAYER.columns(svc.thresholds_min)]


def isochrone_layer(res: ServiceResult, grid: AnalysisGrid) -> gpd.GeoDataFrame:
    """One service's isochrones: the cells reached within each threshold, as polygons.

    Parameters
    ----------
    res
        The service's result (its search and coverage).
    grid
        The analysis grid.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :data:`reach.schema.ISOCHRONES_LAYER`, in WGS 84, one row per
        threshold, largest first; a threshold no cell is reached within is left out. The
        area is where the service's mode gets there in time; the people are coverage.csv's
        ``(all)`` row — with a walking share (``vehicle_availability``), the walkers count
        only where they make it on foot too.
    """
    svc = res.spec
    time_min = np.asarray(res.search.time_min, dtype=np.float64).ravel()
    area_km2 = _cell_area_km2(grid)
    total = res.coverage.loc[res.coverage["zone_id"] == ALL_ZONES_ID].iloc[0]
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    for th in sorted(svc.thresholds_min, reverse=True):
        inside = np.isfinite(time_min) & (time_min <= th)
        shapes = cell_polygons(np.where(inside, 0, -1), grid)
        if not shapes:
            continue
        geoms.append(shapes[0])
        rows.append(
            {
                "service": svc.name,
                "threshold_min": float(th),
                "population_within": float(total[within_col(th)]),
                "pct_population_within": float(total[pct_within_col(th)]),
                "cells": int(inside.sum()),
                "area_km2": float(area_km2[inside].sum()),
            }
        )
    frame = pd.DataFrame(rows, columns=ISOCHRONES_LAYER.columns()[:-1])
    out = gpd.GeoDataFrame(frame, geometry=_to_wgs84(geoms, grid))
    return out[ISOCHRONES_LAYER.columns()]


def mode_speed_kph(region: Region, model: RoadModel, mode: str) -> np.ndarray:
    """The speed a mode's search crosses each cell at, on flat ground.

    Parameters
    ----------
    region
        The loaded region (grid, scenario).
    model
        The search session searched with (its friction and roads).
    mode
        The travel mode.

    Returns
    -------
    numpy.ndarray
        ``float32`` (rows, cols) km/h, ``60 / (pace × 1000)`` of the pace in min/m; NaN where
        impassable. reach's own model walks every cell at the land cover's pace whatever the
        mode (the roads are the network); ``[grid] model = "accessmod"`` burns the mode's
        roads into the cells they cross, at the road's speed. Slopes (Tobler) act on each move
        and are not in it.
    """
    friction = model.friction
    if region.scenario.grid.model == "accessmod":
        profile = mode_profile(region.scenario, mode)
        friction = burned_friction(friction, model.roads, region.grid, profile)
    pace = np.asarray(friction.pace_min_per_m, dtype=np.float64).reshape(region.grid.shape)
    ok = np.isfinite(pace) & (pace > 0)
    kph = np.full(pace.shape, np.nan)
    kph[ok] = 60.0 / (pace[ok] * 1000.0)
    return kph.astype(np.float32)


#: Colour stops of the friction rasters' style: km/h and colour (viridis, slow dark).
_SPEED_STOPS: tuple[tuple[float, str], ...] = (
    (0.5, "#440154"), (1.0, "#46327e"), (2.0, "#365c8d"), (3.0, "#277f8e"), (4.0, "#1fa187"),
    (5.0, "#4ac16d"), (6.0, "#a0da39"), (20.0, "#d8e219"), (80.0, "#fde725"),
)  # fmt: skip


def speed_style(max_kph: float) -> str:
    """A QGIS style (QML) colouring a speed raster from slow (dark) to fast (yellow).

    Parameters
    ----------
    max_kph
        The raster's largest speed: above the walking speeds (6 km/h), the ramp goes on to the
        first stop (20 or 80 km/h) at or beyond it.

    Returns
    -------
    str
        The QML text of a pseudocolour ramp in km/h; QGIS applies ``<raster>.qml`` when it
        opens ``<raster>.tif``.
    """
    walking = [(v, c) for v, c in _SPEED_STOPS if v <= 6.0]
    faster = [(v, c) for v, c in _SPEED_STOPS if v > 6.0]
    # the faster stops up to the first at or above the raster's largest speed
    reached = [i for i, (v, _) in enumerate(faster) if v >= max_kph]
    stops = (
        walking + (faster[: reached[0] + 1] if reached else faster) if max_kph > 6.0 else walking
    )
    lo, hi = stops[0][0], stops[-1][0]
    items = "\n".join(
        f'          <item value="{v:g}" color="{c}" alpha="255" label="{v:g} km/h"/>'
        for v, c in stops
    )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28" styleCategories="Symbology">\n'
        "  <pipe>\n"
        '    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" '
        f'alphaBand="-1" classificationMin="{lo:g}" classificationMax="{hi:g}">\n'
        "      <rastershader>\n"
        '        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" '
        f'clip="0" minimumValue="{lo:g}" maximumValue="{hi:g}">\n'
        f"{items}\n"
        "        </colorrampshader>\n"
        "      </rastershader>\n"
        "    </rasterrenderer>\n"
        "  </pipe>\n"
        "</qgis>\n"
    )


def _tag(tags: pd.DataFrame, column: str, ways: np.ndarray) -> np.ndarray:
    """One tag of some ways, ``None`` where absent."""
    if column not in tags.columns or len(ways) == 0:
        return np.full(len(ways), None, dtype=object)
    values = tags[column].to_numpy(dtype=object)[ways]
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def network_layer(network: Network, roads: RoadLines, grid: AnalysisGrid) -> gpd.GeoDataFrame:
    """A mode's routable network as lines: a row per way, or two where part of it is one-way.

    Each road edge runs between two nodes of a way (roads are cut into pieces of at most half
    a cell); the pieces of a way ridden both ways form one row, those ridden only one way
    another (``oneway``), each merged into lines. A ferry is one edge from terminal to
    terminal drawn along its line. The spurs that join cells to the roads (nodes from
    ``network.first_foot`` on) are not roads and are left out. Where two ways run through the
    same two nodes the network keeps the faster edge each way, so the slower way's row may be
    one-way there, or missing.

    Parameters
    ----------
    network
        The mode's network.
    roads
        The road and ferry lines it was built from (its ``way`` indexes them).
    grid
        The analysis grid (the network's CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :data:`reach.schema.NETWORK_LAYER`, MultiLineStrings in WGS 84, sorted
        by way and then two-way before one-way.
    """
    columns = NETWORK_LAYER.columns()
    road = (network.src < network.first_foot) & (network.dst < network.first_foot)
    src, dst = network.src[road], network.dst[road]
    way = network.way[road]
    time, length = network.time_min[road], network.length_m[road]
    wait, ferry = network.wait_min[road], network.is_ferry[road]
    if len(src) == 0:
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns[:-1]})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=WGS84))
    # an edge is two-way when the reverse edge is of the same way
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    order = np.lexsort((dst, src, b, a, way))
    src, dst, way, time, length, wait, ferry, a, b = (
        x[order] for x in (src, dst, way, time, length, wait, ferry, a, b)
    )
    same = (way[1:] == way[:-1]) & (a[1:] == a[:-1]) & (b[1:] == b[:-1])
    paired = np.zeros(len(src), bool)
    paired[1:] |= same
    paired[:-1] |= same
    # a pair is drawn once (from its lower node), each of its edges counting in `edges`
    drawn = ~paired | (src == a)
    oneway = ~paired
    # rows: (way, one-way?) in order
    key_way, key_one = way[drawn], oneway[drawn]
    row_order = np.lexsort((key_one, key_way))
    e_idx = np.flatnonzero(drawn)[row_order]
    k_way, k_one = key_way[row_order], key_one[row_order]
    first = np.r_[True, (k_way[1:] != k_way[:-1]) | (k_one[1:] != k_one[:-1])]
    row = np.cumsum(first) - 1
    n_rows = int(row[-1]) + 1
    r_way, r_one = k_way[first], k_one[first]
    r_ferry = np.bincount(row, weights=ferry[e_idx], minlength=n_rows) > 0
    r_time = np.bincount(row, weights=time[e_idx], minlength=n_rows)
    r_wait = np.bincount(row, weights=wait[e_idx], minlength=n_rows)
    r_len = np.bincount(row, weights=length[e_idx], minlength=n_rows)
    r_edges = np.bincount(row, weights=np.where(paired[e_idx], 2, 1), minlength=n_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        ride_h = (r_time - r_wait) / 60.0
        r_kph = np.where(ride_h > 0, r_len / 1000.0 / ride_h, np.nan)
    # node coordinates in WGS 84
    x, y = np.asarray(network.x, np.float64), np.asarray(network.y, np.float64)
    grid_crs = CRS.from_user_input(grid.crs.to_wkt())
    if grid_crs != CRS.from_user_input(WGS84):
        x, y = Transformer.from_crs(grid_crs, WGS84, always_xy=True).transform(x, y)
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    es, ed = src[e_idx], dst[e_idx]
    coords = np.stack(
        [np.column_stack([x[es], y[es]]), np.column_stack([x[ed], y[ed]])], axis=1
    ).reshape(-1, 2)
    pieces = shapely.linestrings(coords, indices=np.repeat(np.arange(len(e_idx)), 2))
    multi = shapely.multilinestrings(pieces, indices=row)
    merged = np.empty(n_rows, dtype=object)
    merged[r_one] = shapely.line_merge(multi[r_one], directed=True)
    merged[~r_one] = shapely.line_merge(multi[~r_one])
    if r_ferry.any():  # a ferry along its own line, not the straight terminal-to-terminal edge
        merged[r_ferry] = _way_lines(roads, r_way[r_ferry])
    # the pieces' interior nodes lie on the way's straight segments: drop those within
    # 1e-9 degrees (0.1 mm) of them, keeping every bend of the way
    geometry = [_multiline(g) for g in shapely.simplify(merged, 1e-9)]
    road_class = _tag(roads.tags, "highway", r_way)
    line_class = _tag(roads.tags, "road_class", r_way)
    road_class = np.where(pd.isna(road_class), line_class, road_class)
    road_class = np.where(r_ferry, "ferry", road_class)
    frame = pd.DataFrame(
        {
            "way_id": roads.way_id[r_way].astype(str),
            "road_class": road_class,
            "road_name": _tag(roads.tags, "name", r_way),
            "ferry": r_ferry,
            "oneway": r_one,
            "speed_kph": r_kph,
            "time_min": r_time,
            "ferry_wait_min": r_wait,
            "length_m": r_len,
            "edges": r_edges.astype(np.int64),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84))[columns]


def _multiline(geom: shapely.Geometry) -> shapely.MultiLineString:
    """A line or lines as one multilinestring (every row of a layer the same type)."""
    if isinstance(geom, shapely.MultiLineString):
        return geom
    return shapely.MultiLineString([geom])


def _way_lines(roads: RoadLines, ways: np.ndarray) -> list[shapely.LineString]:
    """Some ways' own lines, in WGS 84."""
    lines = [
        np.column_stack([roads.x[a:b], roads.y[a:b]]).astype(np.float64)
        for a, b in zip(roads.offsets[ways], roads.offsets[ways + 1], strict=True)
    ]
    crs = CRS.from_user_input(roads.crs)
    if crs != CRS.from_user_input(WGS84):
        to_wgs84 = Transformer.from_crs(crs, WGS84, always_xy=True)
        lines = [np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])) for xy in lines]
    return [shapely.LineString(xy) for xy in lines]


def write_evaluation_polygons(ev: Evaluation, folder: Path, region: Region) -> list[Path]:
    """``catchments.gpkg`` and ``isochrones.gpkg`` of one evaluation, a layer per service.

    Parameters
    ----------
    ev
        The baseline or an alternative.
    folder
        The (temporary) folder its other files are written in.
    region
        The loaded region (grid, people).

    Returns
    -------
    list of Path
        The GeoPackages written.
    """
    grid, people = region.grid, region.population.people
    catchments = {n: catchment_layer(r, grid, people) for n, r in ev.services.items()}
    isochrones = {n: isochrone_layer(r, grid) for n, r in ev.services.items()}
    return [
        write_gpkg(catchments, folder / "catchments.gpkg"),
        write_gpkg(isochrones, folder / "isochrones.gpkg"),
    ]


def _modes(services: Mapping[str, ServiceResult]) -> list[str]:
    """The travel modes of the services, each once, in service order."""
    return list(dict.fromkeys(r.spec.mode for r in services.values()))


def write_polygons(run: RunResult, folder: Path, model: RoadModel) -> list[Path]:
    """Every polygon, network and friction file of a run, as ``[outputs]`` asks.

    With ``polygons``: ``catchments.gpkg`` and ``isochrones.gpkg`` in ``folder`` and in each
    ``alternatives/<name>/`` (which must exist). With ``rasters``: ``friction_<mode>.tif`` and
    its ``.qml`` per travel mode of the services. With ``network_layer`` (and reach's own
    model): ``network.gpkg``, a layer per mode. The friction and the network are the
    baseline's (``model``: the search session of the region's own roads and friction). A
    partitioned run from a scenario file never builds the whole friction (each worker builds
    its window's), so it writes no friction raster.

    Parameters
    ----------
    run
        The run.
    folder
        The (temporary) output folder.
    model
        The baseline's search session.

    Returns
    -------
    list of Path
        The files written (a ``.qml`` beside each friction raster not listed).
    """
    region, outputs = run.region, run.scenario.outputs
    written: list[Path] = []
    if outputs.polygons:
        written += write_evaluation_polygons(run.baseline, folder, region)
        for name, ev in run.alternatives.items():
            written += write_evaluation_polygons(ev, folder / "alternatives" / name, region)
    modes = _modes(run.baseline.services)
    grid = region.grid
    whole_friction = np.asarray(model.friction.pace_min_per_m).size == grid.rows * grid.cols
    if outputs.rasters and whole_friction:
        for mode in modes:
            kph = mode_speed_kph(region, model, mode)
            path = folder / f"friction_{mode}.tif"
            where = (
                "its roads burned in at their speed"
                if region.scenario.grid.model == "accessmod"
                else "walking off the roads, whatever the mode; its roads are in network.gpkg"
            )
            write_geotiff(
                path, kph, transform=grid.transform, crs=grid.crs, nodata=float("nan"),
                units="km/h",
                description=f"km/h the {mode} search crosses the cell at on flat ground: "
                f"{where}; NaN where impassable",
            )  # fmt: skip
            top = float(np.nanmax(kph)) if np.isfinite(kph).any() else 0.0
            write_text_atomic(path.with_suffix(".qml"), speed_style(top))
            written.append(path)
    if outputs.network_layer and region.scenario.grid.model != "accessmod":
        layers = {m: network_layer(model.network(m), model.roads, grid) for m in modes}
        layers = {m: frame for m, frame in layers.items() if len(frame)}
        if layers:
            written.append(write_gpkg(layers, folder / "network.gpkg"))
    return written
