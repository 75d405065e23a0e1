"""Open GeoTIFF rasters safely: local files only, GeoTIFF only, no network, clear errors.

Every other raster reader in :mod:`reach.ingest` goes through :func:`open_geotiff` (or, for SRTM
``.hgt.zip`` tiles, through the internal opener used by :mod:`reach.ingest.landcover`), so the
rules live in one place:

- the path must be a plain local path: no ``/vsi…`` GDAL prefixes and no ``scheme://`` URLs;
- the file must be a GeoTIFF (checked by GDAL's driver, not by the file name), so a GDAL VRT
  renamed to ``.tif`` cannot make GDAL read other files or URLs;
- GDAL runs with directory listing and remote (curl) access switched off;
- every failure is a :class:`reach.errors.InputError` naming the file, the problem and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import rasterio.crs
import rasterio.errors
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.enums import MaskFlags

from reach.errors import InputError, ReachError

__all__ = [
    "RasterLayer",
    "check_geographic_grid",
    "check_local_path",
    "gdal_sandbox",
    "looks_like_vrt",
    "nodata_mask",
    "open_geotiff",
    "read_raster_band",
]

#: GDAL configuration that keeps every open local and cheap.
_SANDBOX = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".none",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
    "GDAL_PAM_ENABLED": "NO",
}

#: First bytes of a file that is an XML GDAL / OGR virtual dataset.
_VRT_MARKERS = (b"<VRTDataset", b"<OGRVRTDataSource")

_RASTER_ERRORS: tuple[type[BaseException], ...] = (
    rasterio.errors.RasterioError,
    CPLE_BaseError,
    OSError,
    ValueError,
)


@dataclass(frozen=True, eq=False)
class RasterLayer:
    """One band of a georeferenced raster, read into memory.

    Attributes
    ----------
    values
        2-D array of the band as read (the file's dtype is kept).
    nodata_mask
        Boolean array, ``True`` where the cell is nodata: equal to the declared nodata value,
        NaN in a float band, or masked by the file's own mask band.
    transform
        Affine transform from (col, row) to coordinates in ``crs``.
    crs
        Coordinate reference system of the raster.
    path
        The file it was read from.
    nodata
        The declared nodata value, or ``None`` when the file declares none.
    """

    values: np.ndarray
    nodata_mask: np.ndarray
    transform: Affine
    crs: rasterio.crs.CRS
    path: Path
    nodata: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the grid."""
        rows, cols = self.values.shape
        return int(rows), int(cols)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of the grid in ``crs`` units."""
        rows, cols = self.shape
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (cols, rows)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def check_local_path(path: str | Path, *, what: str) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it is an existing local file.

    Parameters
    ----------
    path
        The path a user gave.
    what
        What the file is, for messages (e.g. ``"population raster"``).

    Returns
    -------
    Path
        The expanded path.

    Raises
    ------
    InputError
        If the path is a GDAL virtual path (``/vsi…``) or a URL, does not exist, or is a folder.
    """
    text = str(path)
    if text.lower().startswith("/vsi") or "://" in text:
        raise InputError(
            f"the {what} path is a URL or GDAL virtual path, not a local file",
            path=text,
            fix="download the file and give its path on this machine",
        )
    p = Path(text).expanduser()
    if not p.exists():
        raise InputError(
            f"{what} not found",
            path=p,
            fix="check the path (relative paths start at the run folder)",
        )
    if p.is_dir():
        raise InputError(f"the {what} path is a folder, not a file", path=p, fix="give the file")
    return p


def looks_like_vrt(path: Path) -> bool:
    """Return whether the file starts like a GDAL / OGR XML virtual dataset."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(_VRT_MARKERS)


@contextmanager
def gdal_sandbox() -> Iterator[None]:
    """Context in which rasterio's GDAL cannot list folders or reach the network."""
    with rasterio.Env(**_SANDBOX):
        yield


def open_geotiff(
    path: str | Path, *, what: str, max_cells: Callable[[int, int], None] | None = None
) -> RasterLayer:
    """Read band 1 of a local GeoTIFF.

    Parameters
    ----------
    path
        Path to a ``.tif`` / ``.tiff`` file on this machine.
    what
        What the raster is, used in messages (e.g. ``"population raster"``).
    max_cells
        Called with ``(rows, cols)`` from the header before any cell is read; it raises to
        refuse a raster too large for the run (see :func:`reach.build.check_memory`).

    Returns
    -------
    RasterLayer
        Band 1 with its nodata mask, transform and CRS. Extra bands are ignored.

    Raises
    ------
    InputError
        If the file is missing, is a URL or virtual path, is not a GeoTIFF (including a VRT
        renamed to ``.tif``), is corrupt, has no CRS or has a rotated grid.
    """
    p = check_local_path(path, what=what)
    if p.suffix.lower() == ".vrt" or looks_like_vrt(p):
        raise InputError(
            f"the {what} is a GDAL virtual dataset (VRT), not a GeoTIFF",
            path=p,
            fix=f"convert it to a GeoTIFF first (gdal_translate {p.name} out.tif)",
        )
    return read_raster_band(str(p), path=p, what=what, driver="GTiff", preflight=max_cells)


def read_raster_band(
    gdal_path: str,
    *,
    path: Path,
    what: str,
    driver: str,
    preflight: Callable[[int, int], None] | None = None,
) -> RasterLayer:
    """Open ``gdal_path`` with the GDAL ``driver`` only and read band 1 (internal helper).

    Parameters
    ----------
    gdal_path
        The name handed to GDAL (a local path, or a ``zip://`` path reach built itself).
    path
        The user's file, for messages.
    what
        What the raster is, for messages.
    driver
        The GDAL driver short name allowed to open it (``"GTiff"`` or ``"SRTMHGT"``).
    preflight
        Called with ``(rows, cols)`` before band 1 is read (it may raise to refuse the file).

    Returns
    -------
    RasterLayer
        Band 1, its nodata mask, transform and CRS.

    Raises
    ------
    InputError
        On any GDAL failure, another driver, no CRS, or a rotated grid.
    """
    kinds = {"GTiff": "GeoTIFF", "SRTMHGT": "SRTM .hgt tile"}.get(driver, driver)
    try:
        with gdal_sandbox(), rasterio.open(gdal_path, driver=driver) as ds:
            if ds.driver != driver:
                raise InputError(
                    f"the {what} is a {ds.driver} file, not a {kinds}",
                    path=path,
                    fix="convert it to a GeoTIFF (gdal_translate)",
                )
            if ds.count < 1:
                raise InputError(f"the {what} has no bands", path=path, fix="give a raster")
            crs = ds.crs
            transform = ds.transform
            nodata = ds.nodata
            if preflight is not None:
                preflight(ds.height, ds.width)
            values = ds.read(1)
            flags = ds.mask_flag_enums[0]
            file_mask = None
            if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
                file_mask = ds.read_masks(1) == 0
    except ReachError:  # InputError, or a refusal from the preflight
        raise
    except _RASTER_ERRORS as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(
            f"cannot read the {what} as a {kinds} ({detail})",
            path=path,
            fix=f"check the file is a complete, valid {kinds} (try gdalinfo on it)",
        ) from exc
    if crs is None or not crs.to_wkt():
        raise InputError(
            f"the {what} has no coordinate reference system",
            path=path,
            fix="assign one, e.g. gdal_edit.py -a_srs EPSG:4326 (use the right EPSG code)",
        )
    if transform.b != 0 or transform.d != 0:
        raise InputError(
            f"the {what} has a rotated or sheared grid",
            path=path,
            fix="warp it to a north-up grid with gdalwarp",
        )
    if transform.a == 0 or transform.e == 0 or transform == Affine.identity():
        raise InputError(
            f"the {what} has no georeferencing (identity transform)",
            path=path,
            fix="georeference it (gdal_edit.py -a_ullr …) or export it again as a GeoTIFF",
        )
    return RasterLayer(
        values=values,
        nodata_mask=nodata_mask(values, nodata, file_mask),
        transform=transform,
        crs=crs,
        path=path,
        nodata=None if nodata is None else float(nodata),
    )


#: Plausible cell sizes of a population or friction grid, in metres.
MIN_CELL_M = 1.0
MAX_CELL_M = 100_000.0


def nodata_mask(
    values: np.ndarray, nodata: float | None, file_mask: np.ndarray | None
) -> np.ndarray:
    """Cells that hold no data: the declared nodata value, NaN, or the file's own mask."""
    mask = np.zeros(values.shape, dtype=bool)
    if nodata is not None and not np.isnan(nodata):
        mask |= values == nodata
    if values.dtype.kind == "f":
        mask |= np.isnan(values)
    if file_mask is not None:
        mask |= file_mask
    return mask


def check_geographic_grid(layer: RasterLayer, *, what: str) -> None:
    """For a geographic CRS, check the axes are degrees and the grid lies on the globe.

    Parameters
    ----------
    layer
        The raster.
    what
        What it is, for messages.

    Raises
    ------
    InputError
        If the CRS is geographic but not in degrees, or the bounds are outside lon/lat range;
        or, for a projected CRS, if the cells are not 1 m to 100 km wide.
    """
    if not layer.crs.is_geographic:
        factor = pyproj.CRS.from_wkt(layer.crs.to_wkt()).axis_info[0].unit_conversion_factor
        size_m = min(abs(layer.transform.a), abs(layer.transform.e)) * (factor or 1.0)
        if not MIN_CELL_M <= size_m <= MAX_CELL_M:
            raise InputError(
                f"the {what}'s cells are {size_m:g} m wide in its projected CRS "
                f"({layer.crs.to_string()}); cells of a population grid are 10 m to 100 km",
                path=layer.path,
                fix="check the CRS: degree-sized cells mean the file is in lon/lat "
                "(gdal_edit.py -a_srs EPSG:4326)",
            )
        return
    units = {axis.unit_name.lower() for axis in pyproj.CRS.from_wkt(layer.crs.to_wkt()).axis_info}
    if not units <= {"degree", "degrees"}:
        raise InputError(
            f"the {what} has a geographic CRS in {', '.join(sorted(units))}, not degrees",
            path=layer.path,
            fix="reproject it to EPSG:4326 (lon/lat degrees) or to a projected CRS in metres",
        )
    left, bottom, right, top = layer.bounds
    tol_x = abs(layer.transform.a) + 1e-6
    tol_y = abs(layer.transform.e) + 1e-6
    if left < -180 - tol_x or right > 180 + tol_x or bottom < -90 - tol_y or top > 90 + tol_y:
        raise InputError(
            f"the {what} says it is in lon/lat degrees but its bounds "
            f"({left:g}, {bottom:g}, {right:g}, {top:g}) are off the globe",
            path=layer.path,
            fix="assign the CRS the numbers are really in (gdal_edit.py -a_srs EPSG:…)",
        )
