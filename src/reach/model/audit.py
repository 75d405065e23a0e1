"""The region checks of the data-quality audit: pure functions on a region's inputs.

Each returns :class:`~reach.findings.Finding` s naming what they are about by its id: the parts
the road lines fall into (:func:`road_component_findings`), the people living more than a
kilometre from any road, per zone (:func:`far_from_road_findings`), or that the region has no
roads at all (:func:`no_roads_finding`), the repairs noding made
(:func:`noding_findings`), zones that lie outside the grid (:func:`zone_grid_findings`) and
people outside every zone (:func:`outside_zones_finding`). ``reach.run.audit`` collects them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from reach.findings import Finding
from reach.ingest.roads import RoadLines
from reach.model.grid import EARTH_RADIUS_M, AnalysisGrid
from reach.model.noding import NodingReport, road_way_components
from reach.model.zones import ZoneShares, zone_memberships

__all__ = [
    "FAR_FROM_ROAD_M",
    "MAX_LISTED_COMPONENTS",
    "far_from_road_findings",
    "no_roads_finding",
    "noding_findings",
    "outside_zones_finding",
    "road_component_findings",
    "zone_grid_findings",
]

#: People living farther than this from any road line are counted per zone.
FAR_FROM_ROAD_M = 1000.0

#: At most this many detached road parts are listed one by one (the rest are counted).
MAX_LISTED_COMPONENTS = 50

#: A zone with less than this share of its area on the grid is listed as partly outside it.
_ON_GRID_SHARE = 0.99


def _road_ways(lines: RoadLines) -> np.ndarray:
    """Indices of the ways that are roads (not ferries)."""
    route = lines.tags["route"].astype(object).to_numpy() if "route" in lines.tags else None
    if route is None:
        return np.arange(lines.n_ways)
    return np.flatnonzero(route != "ferry")


def road_component_findings(lines: RoadLines) -> list[Finding]:
    """The parts the road network falls into: one finding in all, one per detached part.

    Parameters
    ----------
    lines
        The region's road and ferry lines (as searched, after any noding).

    Returns
    -------
    list of Finding
        ``road_components`` (the count, subject ``region``), and ``road_part_detached`` for
        each part but the largest (up to :data:`MAX_LISTED_COMPONENTS`, the largest first),
        named by its smallest way id, with its number of ways and its length; all ``info``:
        islands have networks of their own.
    """
    comp = road_way_components(lines)
    if comp.size == 0:
        return []
    n = int(comp.max()) + 1
    out = [
        Finding(
            "road_components", "info", "region", "",
            f"the road and ferry lines form {n} connected part{'s' if n != 1 else ''}",
            value=float(n), unit="parts",
        )
    ]  # fmt: skip
    ids = np.asarray(lines.way_id, dtype=np.int64)
    length_m = _way_lengths_m(lines)
    for part in range(1, min(n, MAX_LISTED_COMPONENTS + 1)):
        ways = np.sort(ids[comp == part])
        shown = ", ".join(str(w) for w in ways[:5]) + (", …" if ways.size > 5 else "")
        km = float(length_m[comp == part].sum()) / 1000
        out.append(
            Finding(
                "road_part_detached", "info", "road", str(int(ways[0])),
                f"{ways.size} way{'s' if ways.size != 1 else ''} ({shown}), {km:,.1f} km, not "
                "joined to the main road network: check for a missing link or a ferry",
                value=round(km, 3), unit="km",
            )
        )  # fmt: skip
    return out


def _way_lengths_m(lines: RoadLines) -> np.ndarray:
    """Length of each way in metres (local metres per degree on geographic lines)."""
    x, y = np.asarray(lines.x, np.float64), np.asarray(lines.y, np.float64)
    dx, dy = np.diff(x), np.diff(y)
    if CRS.from_user_input(lines.crs).is_geographic:
        m = EARTH_RADIUS_M * np.pi / 180
        dx = dx * m * np.cos(np.radians((y[1:] + y[:-1]) / 2))
        dy = dy * m
    seg = np.hypot(dx, dy)
    way = np.repeat(np.arange(lines.n_ways), np.diff(lines.offsets))
    same = way[1:] == way[:-1]
    return np.bincount(way[1:][same], weights=seg[same], minlength=lines.n_ways)


def _metric_crs(grid: AnalysisGrid) -> CRS:
    """A CRS in metres for distances on the grid: its own, or one equidistant at its centre."""
    if not grid.geographic:
        return grid.crs
    left, bottom, right, top = grid.bounds
    lon, lat = (left + right) / 2, (bottom + top) / 2
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")


def no_roads_finding(lines: RoadLines) -> list[Finding]:
    """That the region has no roads at all (a walking-only study), once, as information.

    Parameters
    ----------
    lines
        The region's road and ferry lines.

    Returns
    -------
    list of Finding
        One ``no_roads`` finding (``info``, subject ``region``) when there are no lines and no
        road file (neither ``osm`` nor ``[region.roads]``); else none.
    """
    if lines.n_ways or lines.source is not None:
        return []
    return [
        Finding(
            "no_roads", "info", "region", "",
            "the region has no roads: every service walks over the grid (land cover, slope, "
            "barriers and water), whatever its mode",
        )
    ]  # fmt: skip


def _grid_distance_bounds(
    lines: RoadLines,
    keep: np.ndarray,
    way: np.ndarray,
    grid: AnalysisGrid,
    cells: np.ndarray,
    distance_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are surely within ``distance_m`` of a road, and which surely beyond it.

    The roads are burned into the grid (every cell a line touches) and the distance from each
    cell centre to the nearest burned centre measured on the grid (a Euclidean distance
    transform). That differs from the distance to the line itself by at most half a cell's
    diagonal, and from the metric CRS's distance by the grid's scale changes (the widest row
    against the narrowest, and the equidistant projection's 3 % at most across a country): a
    cell whose grid distance is clear of ``distance_m`` by more than both is decided here, and
    the rest are left to the exact measure. Near the grid's edge (where a road beyond it may
    be near) no cell is surely far.
    """
    from rasterio.features import rasterize
    from scipy.ndimage import distance_transform_edt

    to_grid = Transformer.from_crs(lines.crs, grid.crs, always_xy=True)
    gx, gy = to_grid.transform(np.asarray(lines.x)[keep], np.asarray(lines.y)[keep])
    _, index = np.unique(way[keep], return_inverse=True)
    on_grid = shapely.linestrings(np.column_stack([gx, gy]), indices=index)
    burned = rasterize(
        ((g, 1) for g in on_grid), out_shape=grid.shape, transform=grid.transform,
        all_touched=True, fill=0, dtype="uint8",
    )  # fmt: skip
    n_cells = grid.rows * grid.cols
    if not burned.any():  # every road is off the grid: leave them all to the exact measure
        unsure = np.zeros(cells.size, dtype=bool)
        return unsure, unsure
    dx = np.asarray(grid.dx_m, dtype=np.float64)
    dy = float(grid.dy_m)
    d_grid = distance_transform_edt(burned == 0, sampling=(dy, float(dx.min()))).ravel()
    stretch = float(dx.max() / dx.min())  # a distance measured with the narrowest row's width
    half_diagonal = 0.5 * float(np.hypot(dx.max(), dy))
    slack = half_diagonal + 0.03 * distance_m + 1.0
    d = d_grid[cells]
    # a road beyond the grid's edge is not burned: near the edge, nothing is sure far
    r, c = np.divmod(cells, grid.cols)
    to_edge = np.minimum(
        np.minimum(r + 0.5, grid.rows - r - 0.5) * dy,
        np.minimum(c + 0.5, grid.cols - c - 0.5) * float(dx.min()),
    )
    far = (d > distance_m + slack) & (to_edge > distance_m + slack)
    assert d_grid.size == n_cells
    return d * stretch <= distance_m - slack, far


def far_from_road_findings(
    people: np.ndarray,
    grid: AnalysisGrid,
    lines: RoadLines,
    membership: np.ndarray | ZoneShares,
    zones: gpd.GeoDataFrame,
    *,
    distance_m: float = FAR_FROM_ROAD_M,
) -> list[Finding]:
    """People living farther than ``distance_m`` from any road line, per zone.

    The distance is from each populated cell's centre to the nearest road line (ferries left
    out), measured in the grid's CRS when it is in metres, else in an azimuthal equidistant
    projection centred on the grid (exact to well under 1 % across a country).

    Parameters
    ----------
    people
        People per cell, ``(rows, cols)`` or flat.
    grid
        The analysis grid.
    lines
        The road and ferry lines.
    membership
        Zone number per cell, or the zone shares (people split by them, conserved).
    zones
        The zones (``zone_id``, ``name``), in the order of the zone numbers.
    distance_m
        The distance beyond which people count.

    Returns
    -------
    list of Finding
        ``people_far_from_road`` (``info``, subject ``zone``, value in people) per zone with
        anyone beyond the distance, and one for the people outside every zone
        (``subject_id`` ``""``) when there are any.
    """
    flat = np.asarray(people, dtype=np.float64).ravel()
    cells = np.flatnonzero(flat > 0)
    if cells.size == 0:
        return []
    roads = _road_ways(lines)
    far = np.ones(cells.size, dtype=bool)
    if roads.size:
        to_m = Transformer.from_crs(lines.crs, _metric_crs(grid), always_xy=True)
        x, y = to_m.transform(np.asarray(lines.x), np.asarray(lines.y))
        n_points = np.diff(lines.offsets)
        way = np.repeat(np.arange(lines.n_ways), n_points)
        keep = np.isin(way, roads[n_points[roads] >= 2])
        _, index = np.unique(way[keep], return_inverse=True)  # the indices must run 0..n-1
        geoms = shapely.linestrings(np.column_stack([x[keep], y[keep]]), indices=index)
        if geoms.size:
            # most cells are plainly near or plainly far on the grid; only the rest are measured
            sure_near, sure_far = _grid_distance_bounds(lines, keep, way, grid, cells, distance_m)
            far[sure_near] = False
            todo = np.flatnonzero(~sure_near & ~sure_far)
            if todo.size:
                cx, cy = grid.cell_centres(cells[todo])
                to_metric = Transformer.from_crs(grid.crs, _metric_crs(grid), always_xy=True)
                px, py = to_metric.transform(cx, cy)
                tree = shapely.STRtree(geoms)
                hit = tree.query(shapely.points(px, py), predicate="dwithin", distance=distance_m)
                far[todo[np.unique(hit[0])]] = False
    n_zones = len(zones)
    rows = zone_memberships(membership, n_zones, cells)
    per_zone = rows.sums(np.where(far, flat[cells], 0.0), n_zones + 1)
    ids = zones["zone_id"].astype(str).tolist()
    names = zones["name"].astype(str).tolist()
    km = distance_m / 1000
    out = []
    for k in range(n_zones + 1):
        value = float(per_zone[k])
        if value < 0.5:
            continue
        zid, where = (
            (ids[k], f"in zone {ids[k]} ({names[k]})")
            if k < n_zones
            else ("", "outside every zone")
        )
        out.append(
            Finding(
                "people_far_from_road", "info", "zone", zid,
                f"{value:,.0f} people {where} live more than {km:g} km from any road",
                value=round(value, 3), unit="people",
            )
        )  # fmt: skip
    return out


def noding_findings(report: NodingReport | None) -> list[Finding]:
    """The repairs noding made to a road line layer, one finding each, naming both ways.

    Parameters
    ----------
    report
        What noding did (``None``: OSM roads, nothing noded).

    Returns
    -------
    list of Finding
        ``road_end_joined`` and ``road_crossing_split`` (``repaired``), ``road_crossing_kept``
        (``info``: a bridge, tunnel or layer keeps the lines apart), subject ``road``, the id of
        the first way, the distance moved in metres.
    """
    if report is None:
        return []
    out = []
    for r in report.repairs:
        a, b = int(r.way_id), int(r.other_way_id)
        at = f"at ({r.x:.6f}, {r.y:.6f})"
        if r.kind == "end":
            to = "a free end of" if r.to_free_end else "the line of"
            out.append(
                Finding(
                    "road_end_joined", "repaired", "road", str(a),
                    f"an end of way {a} was moved {r.distance_m:.1f} m to join {to} way {b} {at}",
                    value=round(float(r.distance_m), 3), unit="m",
                )
            )  # fmt: skip
        elif r.kind == "crossing":
            out.append(
                Finding(
                    "road_crossing_split", "repaired", "road", str(a),
                    f"ways {a} and {b} cross without a shared point: joined {at}",
                    value=0.0, unit="m",
                )
            )  # fmt: skip
        else:
            out.append(
                Finding(
                    "road_crossing_kept", "info", "road", str(a),
                    f"ways {a} and {b} cross {at} but a bridge, tunnel or layer keeps them apart",
                    value=0.0, unit="m",
                )
            )  # fmt: skip
    return out


def zone_grid_findings(
    zones: gpd.GeoDataFrame, grid: AnalysisGrid, membership: np.ndarray | ZoneShares
) -> list[Finding]:
    """Zones that lie wholly or partly outside the grid (their people cannot be counted).

    Parameters
    ----------
    zones
        The zones (``zone_id``, ``name``, ``geometry``); a zone without geometry is skipped.
    grid
        The analysis grid.
    membership
        Zone number per cell, or the zone shares.

    Returns
    -------
    list of Finding
        ``zone_outside_grid`` (``warning``) for a zone holding no cell, and
        ``zone_partly_outside_grid`` (``warning``, value the share of its area on the grid)
        for one with less than 99 % of its area on it.
    """
    if len(zones) == 0 or zones.geometry.isna().all():
        return []
    z = membership.zone if isinstance(membership, ZoneShares) else np.asarray(membership)
    has_cell = np.bincount(np.asarray(z).ravel().astype(np.int64), minlength=len(zones) + 1) > 0
    if isinstance(membership, ZoneShares) and membership.zones.size:
        has_cell[np.unique(membership.zones.astype(np.int64))] = True
    box = shapely.box(*grid.bounds)
    on_grid = zones.to_crs(grid.crs).geometry
    out = []
    for k, (zid, name) in enumerate(
        zip(zones["zone_id"].astype(str), zones["name"].astype(str), strict=True)
    ):
        geom = on_grid.iloc[k]
        if geom is None or geom.is_empty:
            continue
        if not has_cell[k + 1]:
            out.append(
                Finding(
                    "zone_outside_grid", "warning", "zone", zid,
                    f"zone {zid} ({name}) lies outside the population grid: it holds no cell, "
                    "so its figures are empty; clip the zones file to the study area",
                    value=0.0, unit="share",
                )
            )  # fmt: skip
            continue
        area = float(geom.area)
        share = float(geom.intersection(box).area) / area if area > 0 else 1.0
        if share < _ON_GRID_SHARE:
            out.append(
                Finding(
                    "zone_partly_outside_grid", "warning", "zone", zid,
                    f"only {share:.0%} of zone {zid} ({name}) lies on the population grid: "
                    "people in the rest are not counted",
                    value=round(share, 4), unit="share",
                )
            )  # fmt: skip
    return out


def outside_zones_finding(
    people: np.ndarray, membership: np.ndarray | ZoneShares, n_zones: int
) -> list[Finding]:
    """The people on the grid outside every zone (they count in the "(outside zones)" row).

    Parameters
    ----------
    people
        People per cell.
    membership
        Zone number per cell, or the zone shares.
    n_zones
        Number of zones.

    Returns
    -------
    list of Finding
        One ``population_outside_zones`` (``warning``, subject ``population``, value in
        people) when at least one person lives outside every zone; else empty.
    """
    flat = np.asarray(people, dtype=np.float64).ravel()
    cells = np.flatnonzero(flat > 0)
    rows = zone_memberships(membership, n_zones, cells)
    outside = float(rows.sums(flat[cells], n_zones + 1)[n_zones])
    total = float(flat[cells].sum())
    if outside < 1.0:
        return []
    share = outside / total if total > 0 else 0.0
    return [
        Finding(
            "population_outside_zones", "warning", "population", "(outside zones)",
            f"{outside:,.0f} people ({share:.1%} of the grid's) live outside every zone: check "
            "that the zones file covers the study area",
            value=round(outside, 3), unit="people",
        )
    ]  # fmt: skip
