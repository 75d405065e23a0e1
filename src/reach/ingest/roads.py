"""The common container for road and ferry lines, whatever file they came from.

``ingest.osm`` (OSM XML / PBF) and ``ingest.lines`` (GeoPackage / shapefile line layers) both
return a :class:`RoadLines`; ``model.network`` turns it into a routable graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

__all__ = ["TAG_COLUMNS", "RoadLines"]

#: Tag columns every ``RoadLines.tags`` frame carries (missing values are ``None``).
TAG_COLUMNS: tuple[str, ...] = (
    "highway",
    "surface",
    "tracktype",
    "smoothness",
    "maxspeed",
    "oneway",
    "junction",
    "route",
    "duration",
    "name",
    "road_class",
    "ford",
    "bridge",
    "tunnel",
    "layer",
)


@dataclass(frozen=True, eq=False)
class RoadLines:
    """Polylines of roads and ferries with their tags.

    Attributes
    ----------
    way_id
        ``int64`` (n_ways,): OSM way id, or the row number for line layers.
    offsets
        ``int64`` (n_ways + 1,): way ``i`` has points ``offsets[i]:offsets[i+1]``.
    x, y
        ``float64`` (n_points,): coordinates in ``crs`` (lon/lat for OSM).
    node_id
        ``int64`` (n_points,): OSM node ids, so shared nodes join ways; for line layers a
        negative id shared by points with identical coordinates.
    tags
        One row per way, columns :data:`TAG_COLUMNS` (object dtype, ``None`` where absent).
        ``road_class`` holds the class label of line layers (``None`` for OSM, which uses
        ``highway``); ``route == "ferry"`` marks ferries.
    crs
        Coordinate reference system of ``x`` / ``y``.
    source
        The file it was read from.
    speed_factor
        ``float64`` (n_ways,) or ``None``: a multiplier on every mode's speed (seasons, works).
    closed
        ``bool`` (n_ways,) or ``None``: ways closed to all traffic.
    headway_min
        ``float64`` (n_ways,) or ``None``: ferry headway overriding the scenario's (NaN = keep).
    ferry_kph
        ``float64`` (n_ways,) or ``None``: ferry crossing speed overriding the mode's (NaN = keep).

    Readers leave the last four ``None``; scenario operations set them (``scenarios.apply``).
    """

    way_id: np.ndarray
    offsets: np.ndarray
    x: np.ndarray
    y: np.ndarray
    node_id: np.ndarray
    tags: pd.DataFrame
    crs: CRS
    source: Path | None = field(default=None)
    speed_factor: np.ndarray | None = field(default=None)
    closed: np.ndarray | None = field(default=None)
    headway_min: np.ndarray | None = field(default=None)
    ferry_kph: np.ndarray | None = field(default=None)

    @classmethod
    def empty(cls, crs: CRS | str = "EPSG:4326") -> RoadLines:
        """No roads at all: the lines of a walking-only region (no ``osm``, no ``[region.roads]``).

        Parameters
        ----------
        crs
            Coordinate reference system the (absent) coordinates are in.

        Returns
        -------
        RoadLines
            Zero ways and zero points, the :data:`TAG_COLUMNS` present, ``source`` ``None``.
        """
        return cls(
            way_id=np.empty(0, np.int64),
            offsets=np.zeros(1, np.int64),
            x=np.empty(0, np.float64),
            y=np.empty(0, np.float64),
            node_id=np.empty(0, np.int64),
            tags=pd.DataFrame({c: pd.Series([], dtype=object) for c in TAG_COLUMNS}),
            crs=CRS.from_user_input(crs),
        )

    @property
    def n_ways(self) -> int:
        """Number of ways (lines)."""
        return len(self.way_id)

    def is_ferry(self) -> np.ndarray:
        """Boolean mask of ways that are ferry routes.

        Returns
        -------
        numpy.ndarray
            ``bool`` (n_ways,): True where the way's ``route`` tag is ``"ferry"``.
        """
        return np.asarray(self.tags["route"].to_numpy() == "ferry", dtype=bool)
