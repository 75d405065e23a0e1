"""Read land cover (a class raster or per-class cover fractions) and elevation (DEM) tiles.

Every reader takes a ``window`` (:class:`reach.ingest.rasters.RasterWindow`) to read only the
part of its files under it, with the same checks as a whole read, except the ones only a whole
file can answer (a layer with no valid cell at all): a window may well lie where a layer has
no data.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import overload

import numpy as np
from rasterio.warp import transform_bounds

from reach.errors import InputError
from reach.ingest.rasters import (
    RasterHeader,
    RasterLayer,
    RasterWindow,
    check_geographic_grid,
    check_geotiff_path,
    check_local_path,
    looks_like_vrt,
    open_geotiff,
    read_raster_band,
    read_raster_header,
)

__all__ = [
    "FRACTION_NODATA",
    "SRTM_VOID",
    "LandCover",
    "dem_header",
    "geotiff_header",
    "read_cover_fractions",
    "read_dem",
    "read_landcover_classes",
    "srtm_tile_bounds",
]

#: Nodata value of Copernicus cover-fraction rasters (taken as nodata even when undeclared).
FRACTION_NODATA = 255
#: Void value of SRTM tiles (taken as nodata in integer DEMs even when undeclared).
SRTM_VOID = -32768
#: Plausible elevations in metres; values outside mean a unit or nodata problem.
_ELEVATION_RANGE = (-500.0, 9000.0)
_SHOW = 10


@dataclass(frozen=True, eq=False)
class LandCover:
    """Land cover as either a class raster or cover fractions per class.

    Attributes
    ----------
    classes
        Integer class raster, or ``None`` when the cover is given as fractions.
    class_labels
        Class value to label, e.g. ``{1: "Built_area", 2: "Low_dense_vegetation"}``. For
        fractions, the labels numbered in the order given.
    fractions
        Label to raster of cover percent (0–100) on one shared grid, or ``None``.
    """

    classes: RasterLayer | None
    class_labels: dict[int, str]
    fractions: dict[str, RasterLayer] | None


def _present_values(layer: RasterLayer) -> np.ndarray:
    """Sorted distinct values of the valid cells."""
    values = layer.values[~layer.nodata_mask]
    if values.size == 0:
        return values
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        low = int(values.min())
        counts = np.bincount((values.astype(np.int64) - low).ravel())
        return np.flatnonzero(counts) + low
    return np.unique(values)


def geotiff_header(path: str | Path, *, what: str) -> RasterHeader:
    """The header of a GeoTIFF layer (land cover, cover fraction), checked, no cell read.

    Parameters
    ----------
    path
        The GeoTIFF.
    what
        What it is, for messages.

    Returns
    -------
    RasterHeader
        Size, north-up transform and CRS.
    """
    p = check_geotiff_path(path, what=what)
    header = read_raster_header(str(p), path=p, what=what, driver="GTiff")
    check_geographic_grid(header, what=what)
    return header


@overload
def read_landcover_classes(
    path: str | Path, *, labels: Mapping[int, str], window: None = None
) -> LandCover: ...


@overload
def read_landcover_classes(
    path: str | Path, *, labels: Mapping[int, str], window: RasterWindow
) -> LandCover | None: ...


def read_landcover_classes(
    path: str | Path, *, labels: Mapping[int, str], window: RasterWindow | None = None
) -> LandCover | None:
    """Read an integer land-cover class raster and check every class has a label.

    Parameters
    ----------
    path
        Local GeoTIFF of class values (band 1).
    labels
        Class value to label, e.g. ``{1: "Built_area", 2: "Low_dense_vegetation",
        3: "Dense_vegetation"}``.
    window
        Read only the part of the raster under this window (a window may hold no valid cell).

    Returns
    -------
    LandCover or None
        ``classes`` set, ``fractions`` ``None``; ``None`` only for a window that holds no pixel
        of the raster.

    Raises
    ------
    InputError
        If the raster cannot be read, is not integer-valued, has no valid cells (a whole read),
        or holds class values that are neither labelled nor nodata.
    """
    what = "land cover raster"
    if not labels:
        raise InputError(
            "no land cover class labels were given",
            path=path,
            fix="give a label for each class value, e.g. {1: 'Built_area'}",
        )
    clean: dict[int, str] = {}
    for key, label in labels.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise InputError(
                f"land cover class {key!r} is not a whole number",
                path=path,
                fix="key the labels by the raster's integer class values",
            )
        clean[int(key)] = str(label)
    layer = open_geotiff(path, what=what, window=window)
    if layer is None:
        return None
    check_geographic_grid(layer, what=what)
    values = layer.values
    if values.dtype.kind == "f":
        finite = values[~layer.nodata_mask]
        if not np.all(np.isfinite(finite)) or not np.all(finite == np.round(finite)):
            raise InputError(
                f"the {what} holds fractional values, not class numbers",
                path=layer.path,
                fix="give an integer class raster (or use cover fractions)",
            )
    elif values.dtype.kind not in "iu":
        raise InputError(
            f"the {what} has {values.dtype} cells, not class numbers",
            path=layer.path,
            fix="give an integer class raster",
        )
    present = _present_values(layer)
    if present.size == 0 and window is None:
        raise InputError(
            f"every cell of the {what} is nodata",
            path=layer.path,
            fix="check the file covers your region",
        )
    unknown = [int(v) for v in present if int(v) not in clean]
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:_SHOW])
        more = f" and {len(unknown) - _SHOW} more" if len(unknown) > _SHOW else ""
        raise InputError(
            f"the {what} has class values with no label: {shown}{more}",
            path=layer.path,
            fix="add labels for them, or declare the fill value as nodata (gdal_edit.py -a_nodata)",
        )
    return LandCover(classes=layer, class_labels=clean, fractions=None)


def _same_grid(a: RasterLayer, b: RasterLayer) -> bool:
    return (
        a.shape == b.shape
        and a.crs == b.crs
        and a.transform.almost_equals(b.transform, precision=1e-9 * max(abs(a.transform.a), 1e-12))
    )


@overload
def read_cover_fractions(paths: Mapping[str, str | Path], *, window: None = None) -> LandCover: ...


@overload
def read_cover_fractions(
    paths: Mapping[str, str | Path], *, window: RasterWindow
) -> LandCover | None: ...


def read_cover_fractions(
    paths: Mapping[str, str | Path], *, window: RasterWindow | None = None
) -> LandCover | None:
    """Read per-class cover fraction rasters (percent, 0–100) that share one grid.

    Parameters
    ----------
    paths
        Class label to GeoTIFF, e.g. ``{"Tree": "landcover_Tree.tif", …}`` (Copernicus CGLC).
    window
        Read only the part of each raster under this window (a raster holding no pixel of it
        is left out).

    Returns
    -------
    LandCover or None
        ``fractions`` set (255 cells are nodata), ``classes`` ``None`` and ``class_labels``
        numbering the labels read from 1 in the order given; ``None`` only for a window that
        holds no pixel of any raster.

    Raises
    ------
    InputError
        If no paths are given, a raster cannot be read, the rasters are not on the same grid,
        or a value lies outside 0–100.
    """
    if not paths:
        raise InputError(
            "no cover fraction rasters were given",
            fix="give one GeoTIFF per land cover class",
        )
    layers: dict[str, RasterLayer] = {}
    first: RasterLayer | None = None
    first_label = ""
    for label, path in paths.items():
        what = f"'{label}' cover fraction raster"
        layer = open_geotiff(path, what=what, window=window)
        if layer is None:
            continue
        check_geographic_grid(layer, what=what)
        values = layer.values
        if values.dtype.kind not in "iuf":
            raise InputError(
                f"the {what} has {values.dtype} cells, not percentages",
                path=layer.path,
                fix="give cover percent (0–100) as numbers",
            )
        mask = layer.nodata_mask | (values == FRACTION_NODATA)
        valid = values[~mask]
        bad = (valid < 0) | (valid > 100)
        if bad.any():
            outside = valid[bad]
            raise InputError(
                f"the {what} has {int(bad.sum())} cells outside 0–100 "
                f"(min {float(outside.min()):g}, max {float(outside.max()):g})",
                path=layer.path,
                fix="give cover percent 0–100 with 255 (or the declared nodata) for no data",
            )
        if first is None:
            first, first_label = layer, str(label)
        elif not _same_grid(first, layer):
            raise InputError(
                f"the {what} is not on the same grid as '{first_label}' "
                f"({layer.shape} vs {first.shape} cells, or a different origin, size or CRS)",
                path=layer.path,
                fix="resample all cover fractions to one grid (gdalwarp -tr … -te …)",
            )
        layers[str(label)] = replace(layer, nodata_mask=mask)
    if not layers:
        return None
    labels = {i + 1: label for i, label in enumerate(layers)}
    return LandCover(classes=None, class_labels=labels, fractions=layers)


def _srtm_member(path: Path) -> str:
    """Name of the one ``.hgt`` file inside an SRTM ``.hgt.zip``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".hgt")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            "the SRTM tile is not a readable zip file",
            path=path,
            fix="download the tile again",
        ) from exc
    expected = path.name.split(".")[0] + ".hgt"
    if expected in names:
        return expected
    if len(names) != 1:
        raise InputError(
            f"the SRTM zip holds {len(names)} .hgt files, expected one named {expected}",
            path=path,
            fix="give one SRTM tile per zip, as NASA distributes them",
        )
    return names[0]


_DEM_WHAT = "elevation (DEM) raster"


def _dem_source(path: str | Path) -> tuple[Path, str, str]:
    """The checked path of a DEM tile, the name to hand GDAL, and the GDAL driver for it."""
    p = check_local_path(path, what=_DEM_WHAT)
    name = p.name.lower()
    if name.endswith(".hgt.zip"):
        if "!" in str(p):
            raise InputError(
                "the SRTM tile path contains '!', which GDAL cannot open inside a zip",
                path=p,
                fix="rename the folder or file without '!'",
            )
        member = _srtm_member(p)
        if "/" in member or "\\" in member or ".." in member:
            raise InputError(
                f"the SRTM zip holds an unexpected member path {member!r}",
                path=p,
                fix="give the tile as NASA distributes it",
            )
        return p, f"zip://{p.resolve()}!{member}", "SRTMHGT"
    if name.endswith(".hgt"):
        return p, str(p), "SRTMHGT"
    if p.suffix.lower() == ".vrt" or looks_like_vrt(p):
        raise InputError(
            f"the {_DEM_WHAT} is a GDAL virtual dataset (VRT), not a GeoTIFF",
            path=p,
            fix=f"convert it to a GeoTIFF first (gdal_translate {p.name} out.tif)",
        )
    return p, str(p), "GTiff"


def dem_header(path: str | Path) -> RasterHeader:
    """The header of one elevation tile (size, north-up transform, CRS), no cell read.

    Parameters
    ----------
    path
        A GeoTIFF or an SRTM ``.hgt`` / ``.hgt.zip`` tile.

    Returns
    -------
    RasterHeader
        What the tile's header says, checked as :func:`read_dem` checks it.
    """
    p, gdal_path, driver = _dem_source(path)
    header = read_raster_header(gdal_path, path=p, what=_DEM_WHAT, driver=driver)
    check_geographic_grid(header, what=_DEM_WHAT)
    return header


def _read_dem_tile(path: str | Path, *, window: RasterWindow | None = None) -> RasterLayer | None:
    what = _DEM_WHAT
    p, gdal_path, driver = _dem_source(path)
    layer = read_raster_band(gdal_path, path=p, what=what, driver=driver, window=window)
    if layer is None:
        return None
    check_geographic_grid(layer, what=what)
    raw = layer.values
    if raw.dtype.kind not in "iuf":
        raise InputError(
            f"the {what} has {raw.dtype} cells, not elevations",
            path=p,
            fix="give elevation in metres as numbers",
        )
    mask = layer.nodata_mask.copy()
    if raw.dtype.kind == "i":
        mask |= raw == SRTM_VOID
    elevation = raw.astype(np.float64)
    elevation[mask] = np.nan
    valid = elevation[~mask]
    if valid.size == 0:
        if window is not None:
            return replace(layer, values=elevation, nodata_mask=mask)
        raise InputError(f"every cell of the {what} is nodata", path=p, fix="check the tile")
    low, high = float(valid.min()), float(valid.max())
    if low < _ELEVATION_RANGE[0] or high > _ELEVATION_RANGE[1]:
        raise InputError(
            f"the {what} has elevations from {low:g} to {high:g}, outside "
            f"{_ELEVATION_RANGE[0]:g}–{_ELEVATION_RANGE[1]:g} m",
            path=p,
            fix="give elevation in metres, and declare the fill value as nodata "
            "(gdal_edit.py -a_nodata VALUE)",
        )
    return replace(layer, values=elevation, nodata_mask=mask)


_SRTM_NAME = re.compile(r"^([NS])(\d{2})([EW])(\d{3})", re.IGNORECASE)


def srtm_tile_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of an SRTM tile from its name (``S12E043…``), with a pixel's slack.

    Parameters
    ----------
    path
        The tile (only its name is looked at).

    Returns
    -------
    tuple of float or None
        ``(west, south, east, north)`` widened by 3″ on every side, or ``None`` when the name
        does not place the tile.
    """
    m = _SRTM_NAME.match(Path(path).name)
    if not m:
        return None
    lat = int(m.group(2)) * (1 if m.group(1).upper() == "N" else -1)
    lon = int(m.group(4)) * (1 if m.group(3).upper() == "E" else -1)
    pad = 1.0 / 1200.0
    return lon - pad, lat - pad, lon + 1 + pad, lat + 1 + pad


def _intersects(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _lonlat(window: RasterWindow) -> tuple[float, float, float, float]:
    if window.crs.is_geographic:
        return window.bounds
    left, bottom, right, top = transform_bounds(
        window.crs, "EPSG:4326", *window.bounds, densify_pts=21
    )
    return left, bottom, right, top


def read_dem(
    paths: Sequence[str | Path], *, window: RasterWindow | None = None
) -> list[RasterLayer]:
    """Read elevation tiles: GeoTIFFs or NASA SRTM ``.hgt.zip`` / ``.hgt`` files.

    Parameters
    ----------
    paths
        One path per tile.
    window
        Read only the part of each GeoTIFF tile under this window. SRTM tiles are small and
        read whole, when their name places them under the window (or does not place them).

    Returns
    -------
    list of RasterLayer
        One per tile (with a window, per tile under it), in the order given, with ``float64``
        elevation in metres and NaN plus ``nodata_mask`` where the tile has no data (declared
        nodata, or the SRTM void -32768).

    Raises
    ------
    InputError
        If no tile is given, a tile cannot be read, has no CRS, or has implausible elevations.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise InputError("no elevation tiles were given", fix="give at least one DEM file")
    tiles: list[RasterLayer] = []
    for path in paths:
        if window is not None and Path(path).name.lower().endswith((".hgt", ".hgt.zip")):
            box = srtm_tile_bounds(path)
            if box is not None and not _intersects(box, _lonlat(window)):
                continue
            tile = _read_dem_tile(path)
        else:
            tile = _read_dem_tile(path, window=window)
        if tile is not None:
            tiles.append(tile)
    return tiles
