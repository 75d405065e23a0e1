"""Facility operations of a scenario: open, close and upgrade facilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from reach.errors import ScenarioError
from reach.spec import AddFacility, CloseFacility, UpgradeFacility

__all__ = ["apply_facility_operations"]


def _find(fac: gpd.GeoDataFrame, facility_id: str, op: str, service: str) -> int:
    hits = np.flatnonzero(fac["facility_id"].astype(str).to_numpy() == facility_id)
    if len(hits) == 0:
        raise ScenarioError(
            f"{op}: service {service!r} has no facility {facility_id!r}",
            fix="use an id from facilities.csv of the baseline run",
        )
    return int(hits[0])


def apply_facility_operations(
    facilities: Mapping[str, gpd.GeoDataFrame], ops: Sequence[object]
) -> dict[str, gpd.GeoDataFrame]:
    """Return new facility tables with the facility operations applied in order.

    Parameters
    ----------
    facilities
        Facilities per service name (lon/lat), as loaded for the baseline.
    ops
        Operations of an alternative; those that are not facility operations are ignored.

    Returns
    -------
    dict
        New tables (the inputs are not modified), sorted by ``facility_id``.
    """
    out = {name: fac.copy() for name, fac in facilities.items()}
    for op in ops:
        if isinstance(op, AddFacility):
            fac = out[op.service]
            if (fac["facility_id"].astype(str) == op.facility_id).any():
                raise ScenarioError(
                    f"add_facility: {op.service!r} already has a facility {op.facility_id!r}",
                    fix="give the new facility an id of its own",
                )
            row = gpd.GeoDataFrame(
                {
                    "facility_id": [op.facility_id],
                    "name": [op.name or op.facility_id],
                    "service": [op.service],
                    "tier": [op.tier],
                    "capacity": [np.nan if op.capacity is None else float(op.capacity)],
                },
                geometry=[Point(op.lon, op.lat)],
                crs="EPSG:4326",
            )
            out[op.service] = gpd.GeoDataFrame(
                pd.concat([fac, row[fac.columns.intersection(row.columns)]], ignore_index=True),
                crs=fac.crs,
            )
        elif isinstance(op, CloseFacility):
            fac = out[op.service]
            i = _find(fac, op.facility_id, "close_facility", op.service)
            fac = fac.drop(index=fac.index[i])
            if fac.empty:
                raise ScenarioError(
                    f"close_facility: closing {op.facility_id!r} leaves {op.service!r} with none",
                    fix="keep at least one facility per service",
                )
            out[op.service] = fac
        elif isinstance(op, UpgradeFacility):
            fac = out[op.service]
            i = _find(fac, op.facility_id, "upgrade_facility", op.service)
            if op.tier is not None:
                fac.loc[fac.index[i], "tier"] = op.tier
            if op.capacity is not None:
                fac.loc[fac.index[i], "capacity"] = float(op.capacity)
    return {
        name: fac.sort_values("facility_id", kind="stable").reset_index(drop=True)
        for name, fac in out.items()
    }
