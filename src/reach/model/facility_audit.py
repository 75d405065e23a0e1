"""The facility checks of the data-quality audit: where each facility stands, duplicates, names.

Pure functions on a service's facilities, the analysis grid and the walking friction; each
returns :class:`~reach.findings.Finding` records naming the facility by its ``facility_id``:

- :func:`location_findings`: a facility off the grid, on a no-data cell, in water or on a
  barrier, with the distance to the nearest passable cell and whether it was snapped there;
- :func:`merge_duplicates`: two records of one facility (an OSM node and an OSM building or
  area, or two records of one name and tier from another source) merged into one, and listed;
- :func:`name_findings`: facilities without a name;
- :func:`catchment_findings`: facilities that serve nobody after the search, and why.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from reach.codes import (
    SERVICE_TIERS,
    STATUS_BARRIER,
    STATUS_NO_DATA,
    STATUS_PASSABLE,
    STATUS_WATER,
)
from reach.findings import Finding
from reach.model.grid import AnalysisGrid, Friction
from reach.model.snap import SNAP_RADIUS_CELLS, connector_metres, snap_to_passable

__all__ = [
    "DUPLICATE_WITHIN_M",
    "catchment_findings",
    "location_findings",
    "merge_duplicates",
    "name_findings",
    "osm_elements",
]

#: Two facilities of one service closer than this (metres) may be one facility recorded twice.
DUPLICATE_WITHIN_M = 50.0

#: Mean Earth radius (metres), for distances between lon/lat points.
_EARTH_RADIUS_M = 6_371_008.8

_STATUS_CHECKS: dict[int, tuple[str, str]] = {
    STATUS_NO_DATA: ("facility_on_no_data", "on a cell without population data"),
    STATUS_WATER: ("facility_in_water", "in water"),
    STATUS_BARRIER: ("facility_on_barrier", "on a barrier"),
}


def _label(fid: str, name: object) -> str:
    return f"{fid} ({name})" if _has_name(name) else fid


def _has_name(name: object) -> bool:
    return isinstance(name, str) and name.strip() != ""


def _nearest_passable_m(
    x: float, y: float, cell: int, grid: AnalysisGrid, passable: np.ndarray
) -> float:
    """Metres from a point to the centre of the nearest passable cell (``inf`` if none)."""
    r0, c0 = divmod(int(cell), grid.cols)
    size = grid.min_cell_size_m
    radius = 2
    limit = max(grid.rows, grid.cols)
    while True:
        r_lo, r_hi = max(r0 - radius, 0), min(r0 + radius + 1, grid.rows)
        c_lo, c_hi = max(c0 - radius, 0), min(c0 + radius + 1, grid.cols)
        rr, cc = np.nonzero(passable[r_lo:r_hi, c_lo:c_hi])
        if len(rr):
            cand = (rr + r_lo) * grid.cols + (cc + c_lo)
            d = connector_metres(np.full(len(cand), x), np.full(len(cand), y), cand, grid)
            best = float(d.min())
            # every cell nearer than `best` lies inside a window this wide: done when it fits
            need = math.ceil(best / size) + 1
            if need <= radius or radius >= limit:
                return best
            radius = min(need, limit)
        elif radius >= limit:
            return math.inf
        else:
            radius = min(radius * 2, limit)


def location_findings(
    fac: gpd.GeoDataFrame,
    grid: AnalysisGrid,
    friction: Friction,
    *,
    service: str,
    snap_within_m: float | None = None,
) -> list[Finding]:
    """Where each facility stands: off the grid, on a no-data cell, in water or on a barrier.

    A facility in an impassable cell is snapped (as the search places it,
    :func:`~reach.model.snap.snap_to_passable`) to the nearest passable cell within
    ``snap_within_m`` (by default within :data:`~reach.model.snap.SNAP_RADIUS_CELLS` cells):
    then the finding is ``repaired`` and says how far it moved; otherwise it is a ``warning``
    that the facility serves nobody. A facility off the grid is a ``warning`` too.

    Parameters
    ----------
    fac
        The service's facilities (any CRS), with ``facility_id`` and ``name``; not modified.
    grid
        The analysis grid.
    friction
        The walking friction; its ``status`` says why a cell is impassable
        (``reach.codes.STATUS_*``).
    service
        The service's name, written into each finding.
    snap_within_m
        How far (metres) a facility may be moved to a passable cell; ``None``: within
        :data:`~reach.model.snap.SNAP_RADIUS_CELLS` cells, as the search does by default.

    Returns
    -------
    list of Finding
        One per facility not standing on a passable cell, in ``facility_id`` order; ``value``
        is the distance (``m``) from the facility to the centre of the nearest passable cell.
    """
    if fac.empty:
        return []
    pts = fac.to_crs(grid.crs).geometry
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    cells = grid.cell_of(x, y)
    passable = np.isfinite(friction.pace_min_per_m)
    snapped = snap_to_passable(x, y, grid, passable, max_distance_m=snap_within_m)
    moved_m = connector_metres(x, y, snapped, grid)
    status = friction.status.ravel()
    ids = fac["facility_id"].astype(str).to_numpy()
    names = fac["name"].to_numpy() if "name" in fac.columns else np.full(len(fac), None)
    within = f"{snap_within_m:g} m" if snap_within_m is not None else f"{SNAP_RADIUS_CELLS} cells"
    out: list[Finding] = []
    for i in np.argsort(ids, kind="stable"):
        label = _label(ids[i], names[i])
        if cells[i] < 0:
            out.append(
                Finding(
                    check="facility_off_grid",
                    severity="warning",
                    subject="facility",
                    subject_id=ids[i],
                    message=f"{label} lies outside the population grid and serves nobody; "
                    "check its coordinates",
                    service=service,
                )
            )
            continue
        code = int(status[cells[i]])
        if code == STATUS_PASSABLE and passable.ravel()[cells[i]]:
            continue
        check, where = _STATUS_CHECKS.get(code, ("facility_impassable", "on an impassable cell"))
        dist = _nearest_passable_m(float(x[i]), float(y[i]), int(cells[i]), grid, passable)
        if snapped[i] >= 0:
            out.append(
                Finding(
                    check=check,
                    severity="repaired",
                    subject="facility",
                    subject_id=ids[i],
                    message=f"{label} stands {where}, {dist:.0f} m from the nearest passable "
                    f"cell; snapped to a passable cell {moved_m[i]:.0f} m away",
                    service=service,
                    value=round(dist, 1),
                    unit="m",
                )
            )
        else:
            out.append(
                Finding(
                    check=check,
                    severity="warning",
                    subject="facility",
                    subject_id=ids[i],
                    message=f"{label} stands {where}, {dist:.0f} m from the nearest passable "
                    f"cell, beyond the snapping distance ({within}): it serves nobody; fix "
                    "its coordinates or set `snap_within_m`",
                    service=service,
                    value=None if math.isinf(dist) else round(dist, 1),
                    unit="m",
                )
            )
    return out


def osm_elements(facility_ids: pd.Series) -> np.ndarray:
    """The OSM element each facility id names: ``node``, ``way`` or ``relation``.

    OSM facilities are read with ids ``n<id>``, ``w<id>`` and ``r<id>``
    (:func:`reach.ingest.facilities.facilities_from_osm`).

    Parameters
    ----------
    facility_ids
        The facilities' ids.

    Returns
    -------
    numpy.ndarray
        ``object`` array of ``"node"``, ``"way"``, ``"relation"``, or ``""`` for an id of
        another form.
    """
    kinds = {"n": "node", "w": "way", "r": "relation"}
    out = []
    for fid in facility_ids.astype(str):
        kind = kinds.get(fid[:1], "")
        out.append(kind if kind and fid[1:].lstrip("-").isdigit() else "")
    return np.array(out, dtype=object)


def _distance_m(lon: np.ndarray, lat: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Great-circle metres between points ``i`` and ``j`` (haversine)."""
    p1, p2 = np.radians(lat[i]), np.radians(lat[j])
    dl = np.radians(lon[j] - lon[i])
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _name_key(name: object) -> str:
    return " ".join(name.casefold().split()) if isinstance(name, str) else ""


def merge_duplicates(
    fac: gpd.GeoDataFrame,
    *,
    service: str,
    kind: str,
    from_osm: bool,
    within_m: float = DUPLICATE_WITHIN_M,
    merge: bool = True,
) -> tuple[gpd.GeoDataFrame, list[Finding]]:
    """Two records of one facility within ``within_m``, merged into one and listed.

    A pair is a duplicate when the two lie within ``within_m`` metres and, for OSM
    facilities, one is an OSM node and the other a way or relation (a building or area); for
    other sources, when they have the same name (ignoring case and spacing) and the same tier.
    Of a pair the record kept is, in order, the one with a name, the higher tier (the service
    kind's tier order), the node, the lower ``facility_id``; it takes the other's name or
    capacity when it has none. Pairs are taken nearest first, so the result does not depend
    on row order.

    Parameters
    ----------
    fac
        One service's facilities (lon/lat), with ``facility_id``, ``name``, ``tier`` and
        ``capacity``; not modified.
    service
        The service's name, written into each finding.
    kind
        The service's kind (``"health"``, ``"education"``), whose tier order ranks tiers.
    from_osm
        The facilities come from OSM (``facility_id`` ``n…``, ``w…``, ``r…``).
    within_m
        The largest distance (metres) between two records of one facility.
    merge
        Merge the pairs (``repaired`` findings); ``False`` keeps both and lists each pair as
        an ``info`` finding.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities without the records merged away, in the input's order (the input
        itself when nothing is merged).
    list of Finding
        One ``duplicate_facility_merged`` (or ``duplicate_facility_kept``) per pair, naming
        both ids; ``value`` is their distance in metres.
    """
    if len(fac) < 2:
        return fac, []
    pts = fac.to_crs("EPSG:4326").geometry
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    ids = fac["facility_id"].astype(str).to_numpy()
    names = fac["name"].to_numpy()
    tiers = fac["tier"].astype(str).to_numpy()
    # candidate pairs by a local projection (a margin for its error), then measured exactly
    lat0 = np.radians(np.nanmean(lat))
    xy = np.column_stack(
        [np.radians(lon) * math.cos(lat0) * _EARTH_RADIUS_M, np.radians(lat) * _EARTH_RADIUS_M]
    )
    pairs = np.array(sorted(cKDTree(xy).query_pairs(within_m * 1.5 + 1.0)), dtype=np.int64)
    if len(pairs) == 0:
        return fac, []
    i, j = pairs[:, 0], pairs[:, 1]
    dist = _distance_m(lon, lat, i, j)
    ok = dist <= within_m
    if from_osm:
        element = osm_elements(fac["facility_id"])
        node_i, node_j = element[i] == "node", element[j] == "node"
        area_i, area_j = (
            np.isin(element[i], ["way", "relation"]),
            np.isin(element[j], ["way", "relation"]),
        )
        ok &= (node_i & area_j) | (area_i & node_j)
    else:
        element = np.full(len(fac), "", dtype=object)
        keys = np.array([_name_key(n) for n in names], dtype=object)
        ok &= (keys[i] != "") & (keys[i] == keys[j]) & (tiers[i] == tiers[j])
    i, j, dist = i[ok], j[ok], dist[ok]
    if len(i) == 0:
        return fac, []
    order = SERVICE_TIERS.get(kind, ())

    def rank(k: int) -> tuple[int, int, int, str]:
        tier_rank = order.index(tiers[k]) if tiers[k] in order else len(order)
        return (
            0 if _has_name(names[k]) else 1,
            tier_rank,
            0 if element[k] == "node" else 1,
            ids[k],
        )

    # nearest pairs first; ties by the ids, so the row order does not matter
    lo = np.where(ids[i] < ids[j], ids[i], ids[j])
    hi = np.where(ids[i] < ids[j], ids[j], ids[i])
    gone: set[int] = set()
    fills: dict[int, dict[str, object]] = {}
    findings: list[Finding] = []
    for p in np.lexsort((hi, lo, np.round(dist, 6))):
        a, b = int(i[p]), int(j[p])
        if a in gone or b in gone:
            continue
        keep, drop = (a, b) if rank(a) <= rank(b) else (b, a)
        d = float(dist[p])
        pair = f"{_label(ids[keep], names[keep])} and {_label(ids[drop], names[drop])}"
        if merge:
            gone.add(drop)
            fill = fills.setdefault(keep, {})
            if not _has_name(names[keep]) and _has_name(names[drop]) and "name" not in fill:
                fill["name"] = names[drop]
            cap = fac["capacity"].iloc
            if pd.isna(cap[keep]) and not pd.isna(cap[drop]) and "capacity" not in fill:
                fill["capacity"] = cap[drop]
            findings.append(
                Finding(
                    check="duplicate_facility_merged",
                    severity="repaired",
                    subject="facility",
                    subject_id=ids[keep],
                    message=f"{pair} lie {d:.0f} m apart and are taken as one facility: "
                    f"{ids[drop]} merged into {ids[keep]} (`merge_duplicates = false` keeps both)",
                    service=service,
                    value=round(d, 1),
                    unit="m",
                )
            )
        else:
            findings.append(
                Finding(
                    check="duplicate_facility_kept",
                    severity="info",
                    subject="facility",
                    subject_id=ids[keep],
                    message=f"{pair} lie {d:.0f} m apart and may be one facility; both kept "
                    "(`merge_duplicates = false`)",
                    service=service,
                    value=round(d, 1),
                    unit="m",
                )
            )
    if not gone:
        return fac, sorted(findings, key=lambda f: f.subject_id)
    out = fac.iloc[[k for k in range(len(fac)) if k not in gone]].copy()
    for k, fill in fills.items():
        for column, value in fill.items():
            out.loc[fac.index[k], column] = value
    return out, sorted(findings, key=lambda f: f.subject_id)


def name_findings(fac: pd.DataFrame, *, service: str) -> list[Finding]:
    """Facilities without a name (``info``): a planner cannot tell them apart on the ground.

    Parameters
    ----------
    fac
        The service's facilities, with ``facility_id`` and ``name``; not modified.
    service
        The service's name, written into each finding.

    Returns
    -------
    list of Finding
        One ``facility_without_name`` per facility whose name is missing or blank, in
        ``facility_id`` order.
    """
    out = []
    for fid, name in sorted(zip(fac["facility_id"].astype(str), fac["name"], strict=True)):
        if not _has_name(name):
            out.append(
                Finding(
                    check="facility_without_name",
                    severity="info",
                    subject="facility",
                    subject_id=fid,
                    message=f"{fid} has no name; add one in the source so it can be found",
                    service=service,
                )
            )
    return out


def catchment_findings(facility_table: pd.DataFrame) -> list[Finding]:
    """Facilities that serve nobody after the search, and why.

    A facility with a zero catchment either is not searched from (off the grid, or in an
    impassable cell with nothing to snap to: ``on_grid`` false) or has another facility nearer
    for every person (its own cell is someone else's catchment, or nobody lives near it).

    Parameters
    ----------
    facility_table
        One service's facilities table of an evaluation (``facilities.csv`` rows): columns
        ``facility_id``, ``catchment_population``, ``name``, and ``service`` and ``on_grid``
        when present; not modified.

    Returns
    -------
    list of Finding
        One ``facility_zero_catchment`` (``warning``) per facility whose catchment is zero,
        in ``facility_id`` order; ``value`` 0 ``people``.
    """
    out = []
    has_grid = "on_grid" in facility_table.columns
    for _, row in facility_table.sort_values("facility_id", kind="stable").iterrows():
        people = row["catchment_population"]
        if pd.isna(people) or float(people) > 0:
            continue
        fid = str(row["facility_id"])
        label = _label(fid, row.get("name"))
        if has_grid and not bool(row["on_grid"]):
            why = "it is not on the grid or the walkable network, so it is not searched from"
        else:
            why = (
                "another facility is nearer for everyone around it (or nobody lives near "
                "it); check whether it is a second record of a neighbour"
            )
        service = row.get("service")
        out.append(
            Finding(
                check="facility_zero_catchment",
                severity="warning",
                subject="facility",
                subject_id=fid,
                message=f"{label} serves nobody: {why}",
                service=None if service is None or pd.isna(service) else str(service),
                value=0.0,
                unit="people",
            )
        )
    return out
