"""Open GeoTIFF rasters safely: local files only, GeoTIFF only, no network, clear errors.

Every other raster reader in :mod:`reach.ingest` goes through :func:`open_geotiff` (or, for SRTM
``.hgt.zip`` tiles, through the internal opener used by :mod:`reach.ingest.landcover`), so the
rules live in one place:

- the path must be a plain local path: no ``/vsi…`` GDAL prefixes and no ``scheme://`` URLs;
- the file must be a GeoTIFF (checked by GDAL's driver, not by the file name), so a GDAL VRT
  renamed to ``.tif`` cannot make GDAL read other files or URLs;
- the path must name an existing regular file (never a folder, FIFO, socket or device: reading a
  FIFO could block forever), with no NUL byte and no over-long name (:func:`check_local_path`,
  which every reader in :mod:`reach.ingest` calls before it opens anything);
- GDAL runs with directory listing and remote (curl) access switched off, for rasters
  (:func:`gdal_sandbox`) and for vector files read through pyogrio (:func:`ogr_sandbox`);
- the header is checked before any cell is read: the size against the memory budget, and a
  geotransform that makes sense (finite, non-zero pixel sizes, no rotation); a south-up (or
  east-to-west) grid is flipped to north-up on read, its transform fixed;
- every failure is a :class:`reach.errors.InputError` naming the file, the problem and the fix.

A reader given a :class:`RasterWindow` reads only the pixels under it (plus a margin for the
resampling kernels), through the same code and checks: this is how each task of a partitioned
run reads the land cover and elevation under its own part of the grid.
"""

from __future__ import annotations

import ctypes
import math
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyproj
import rasterio
import rasterio.crs
import rasterio.errors
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.enums import MaskFlags
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from reach.errors import InputError, ReachError, ResourceLimitError

__all__ = [
    "BYTES_PER_LAYER_CELL",
    "MAX_NAME_BYTES",
    "MAX_PATH_BYTES",
    "NO_PROXY",
    "WINDOW_MARGIN_PX",
    "RasterHeader",
    "RasterLayer",
    "RasterWindow",
    "check_geographic_grid",
    "check_geotiff_path",
    "check_local_path",
    "check_transform",
    "gdal_sandbox",
    "layer_memory_check",
    "looks_like_vrt",
    "nodata_mask",
    "north_up",
    "north_up_transform",
    "ogr_sandbox",
    "open_geotiff",
    "pixel_window",
    "read_raster_band",
    "read_raster_header",
]

#: Longest file name (one path component) and whole path, in bytes, reach accepts (Linux limits).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

#: Bytes per cell a raster layer (land cover, fraction, DEM tile, signal) holds while it is read
#: and warped onto the grid: its values, its nodata mask and two float64 copies, rounded up.
BYTES_PER_LAYER_CELL = 24

#: Source pixels read around a window, for the resampling kernels (bilinear, average).
WINDOW_MARGIN_PX = 3

#: A proxy no request can go through: libcurl refuses the scheme before it opens any connection.
NO_PROXY = "reach-offline://0.0.0.0:1"

#: GDAL configuration that keeps every open local and cheap: no folder listing, no side-car
#: files, and no HTTP (``/vsicurl/`` allows only a file name that cannot exist, and any request
#: GDAL would send anyway goes to a proxy that cannot be reached).
_SANDBOX = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".none",
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/nonexistent/reach-allows-no-remote-file",
    "GDAL_HTTP_PROXY": NO_PROXY,
    "GDAL_HTTPS_PROXY": NO_PROXY,
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
    "GDAL_PAM_ENABLED": "NO",
}

#: The same for the GDAL that pyogrio bundles (vector files). Folder listing stays on: a
#: shapefile needs its .dbf / .prj siblings.
_OGR_SANDBOX = {k: v for k, v in _SANDBOX.items() if k != "GDAL_DISABLE_READDIR_ON_OPEN"}

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


@dataclass(frozen=True)
class RasterWindow:
    """The part of a raster to read: the pixels under ``bounds``, and a margin around them.

    Attributes
    ----------
    bounds
        ``(left, bottom, right, top)`` in ``crs`` units (e.g. a part of the analysis grid).
    crs
        The CRS of ``bounds``; a raster in another CRS is read under the bounds transformed to
        its own.
    margin_px
        Source pixels read beyond the bounds on every side, so that a resampling kernel near
        the edge sees the pixels it would see in a whole read.
    """

    bounds: tuple[float, float, float, float]
    crs: rasterio.crs.CRS
    margin_px: int = WINDOW_MARGIN_PX


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _shown(text: str) -> str:
    """A path safe to print on one line: NUL bytes visible, very long names shortened."""
    text = text.replace("\x00", "\\0")
    return text if len(text) <= 200 else f"{text[:120]}…{text[-60:]} ({len(text)} characters)"


def check_local_path(path: str | Path, *, what: str) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it is a readable regular file.

    Every reader in :mod:`reach.ingest` calls this before it opens a file, so nothing is ever
    opened that could block (a FIFO), never end (``/dev/zero``) or reach the network.

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
        If the path is a GDAL virtual path (``/vsi…``) or a URL, holds a NUL byte, has a name
        longer than :data:`MAX_NAME_BYTES` or is longer than :data:`MAX_PATH_BYTES`, does not
        exist, is a folder, is not a regular file (a FIFO, socket or device), or cannot be read.
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise InputError(
            f"the {what} path contains a NUL byte",
            path=_shown(text),
            fix="give the file's real path (a NUL byte cannot be part of a file name)",
        )
    if not text:
        raise InputError(f"the {what} path is empty", fix=f"give the path of the {what}")
    if text.lower().startswith("/vsi") or "://" in text:
        raise InputError(
            f"the {what} path is a URL or GDAL virtual path, not a local file",
            path=_shown(text),
            fix="download the file and give its path on this machine",
        )
    try:
        p = Path(text).expanduser()
    except RuntimeError:  # "~nosuchuser/…": no home folder to expand
        p = Path(text)
    raw = os.fsencode(p)
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > MAX_NAME_BYTES or len(raw) > MAX_PATH_BYTES:
        limit = (
            f"a name of {longest} bytes (at most {MAX_NAME_BYTES})"
            if longest > MAX_NAME_BYTES
            else f"{len(raw)} bytes (at most {MAX_PATH_BYTES})"
        )
        raise InputError(
            f"the {what} path is too long: {limit}",
            path=_shown(str(p)),
            fix="rename the file or folder to a shorter name",
        )
    try:
        info = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"cannot look at the {what} ({reason})",
            path=_shown(str(p)),
            fix="check the path and its permissions",
        ) from exc
    if info is None:
        raise InputError(
            f"{what} not found",
            path=_shown(str(p)),
            fix="check the path (relative paths start at the run folder)",
        )
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"the {what} path is a folder, not a file", path=p, fix="give the file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        raise InputError(
            f"the {what} is {kind}, not a regular file",
            path=p,
            fix="give a file saved on disk (copy the data into a file first)",
        )
    if not os.access(p, os.R_OK):
        raise InputError(
            f"the {what} cannot be read (permission denied)",
            path=p,
            fix="check the file's permissions",
        )
    return p


def looks_like_vrt(path: Path) -> bool:
    """Return whether the file is a GDAL / OGR XML virtual dataset.

    It is one if its first 64 KiB name a VRT root element (after an XML declaration, comments
    or padding, all of which GDAL skips).

    Parameters
    ----------
    path
        The file to look into; only its first 64 KiB are read.

    Returns
    -------
    bool
        True if those bytes hold ``<VRTDataset`` or ``<OGRVRTDataSource``; False otherwise,
        and also when the file cannot be read.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return any(marker in head for marker in _VRT_MARKERS)


@contextmanager
def gdal_sandbox() -> Iterator[None]:
    """Context in which rasterio's GDAL cannot list folders or reach the network."""
    with rasterio.Env(**_SANDBOX):
        yield


# --- the same for pyogrio's GDAL --------------------------------------------------------------

_ogr_lock = threading.Lock()
_ogr_users = 0
_ogr_saved: dict[str, Any] = {}


class _HTTPResult(ctypes.Structure):
    """GDAL's ``CPLHTTPResult`` (cpl_http.h)."""

    _fields_ = [
        ("nStatus", ctypes.c_int),
        ("pszContentType", ctypes.c_void_p),
        ("pszErrBuf", ctypes.c_void_p),
        ("nDataLen", ctypes.c_int),
        ("nDataAlloc", ctypes.c_int),
        ("pabyData", ctypes.c_void_p),
        ("papszHeaders", ctypes.c_void_p),
        ("nMimePartCount", ctypes.c_int),
        ("pasMimePart", ctypes.c_void_p),
    ]


_FETCH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_void_p, *([ctypes.c_char_p] + [ctypes.c_void_p] * 6)
)  # CPLHTTPFetchCallbackFunc
#: URLs pyogrio's GDAL asked for inside the sandbox (each refused, none sent): for tests.
REFUSED_URLS: list[str] = []


def _refuse_fetch(url: bytes | None, *_: object) -> int | None:
    """A CPLHTTPFetch that never connects: it returns a failed result (curl "couldn't connect")."""
    try:
        REFUSED_URLS.append((url or b"").decode("utf-8", "replace"))
        lib = _ogr_lib()
        assert lib is not None
        address = lib.VSICalloc(1, ctypes.sizeof(_HTTPResult))
        if not address:
            return None
        result = _HTTPResult.from_address(address)
        result.nStatus = 7  # CURLE_COULDNT_CONNECT
        result.pszErrBuf = lib.CPLStrdup(b"reach does not allow network access while reading")
        return int(address)
    except Exception:  # a callback must not raise; the proxy still blocks the request
        return None


_refuse_fetch_c = _FETCH_CALLBACK(_refuse_fetch)
_ogr_lib_cache: list[Any] = []


def _ogr_lib() -> Any:
    """pyogrio's own GDAL library (bundled in its wheel), or None if it cannot be found."""
    if _ogr_lib_cache:
        return _ogr_lib_cache[0]
    lib = None
    try:
        import pyogrio

        here = Path(pyogrio.__file__).resolve().parent
        candidates = sorted((here.parent / "pyogrio.libs").glob("libgdal*"))
        candidates += sorted((here / ".dylibs").glob("libgdal*"))
        for candidate in candidates:
            lib = ctypes.CDLL(str(candidate))
            lib.VSICalloc.restype = ctypes.c_void_p
            lib.VSICalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
            lib.CPLStrdup.restype = ctypes.c_void_p
            lib.CPLStrdup.argtypes = [ctypes.c_char_p]
            lib.CPLHTTPPushFetchCallback.restype = ctypes.c_int
            lib.CPLHTTPPushFetchCallback.argtypes = [_FETCH_CALLBACK, ctypes.c_void_p]
            lib.CPLHTTPPopFetchCallback.restype = ctypes.c_int
            lib.CPLHTTPPopFetchCallback.argtypes = []
            break
    except (OSError, AttributeError, ImportError):
        lib = None
    _ogr_lib_cache.append(lib)
    return lib


@contextmanager
def ogr_sandbox() -> Iterator[None]:
    """Context in which pyogrio's GDAL cannot list remote files or reach the network.

    pyogrio bundles its own GDAL, which :func:`gdal_sandbox` (rasterio's) does not reach. Its
    configuration is process-wide, so the options are set when the first thread enters and
    restored when the last one leaves. On top of them, GDAL's HTTP layer is replaced, in this
    thread, by one that refuses every request (a GeoJSON ``"crs"`` of type ``link`` names a URL
    GDAL would otherwise fetch, whatever the proxy settings and ``no_proxy`` say).
    """
    import pyogrio

    global _ogr_users
    with _ogr_lock:
        if _ogr_users == 0:
            _ogr_saved.clear()
            _ogr_saved.update({k: pyogrio.get_gdal_config_option(k) for k in _OGR_SANDBOX})
            pyogrio.set_gdal_config_options(dict(_OGR_SANDBOX))
        _ogr_users += 1
    lib = _ogr_lib()
    pushed = bool(lib is not None and lib.CPLHTTPPushFetchCallback(_refuse_fetch_c, None))
    try:
        yield
    finally:
        if pushed:
            lib.CPLHTTPPopFetchCallback()
        with _ogr_lock:
            _ogr_users -= 1
            if _ogr_users == 0:
                pyogrio.set_gdal_config_options(dict(_ogr_saved))


Preflight = Callable[[int, int], None]


def layer_memory_check(what: str, path: Path) -> Preflight:
    """A preflight that refuses a raster layer whose cells would not fit in memory.

    Parameters
    ----------
    what
        What the raster is, for messages.
    path
        The file, for messages.

    Returns
    -------
    Callable
        Called with the header's ``(rows, cols)``; raises :class:`ResourceLimitError` when
        ``rows × cols ×`` :data:`BYTES_PER_LAYER_CELL` exceeds the memory a run may use
        (``$REACH_MEMORY_GB`` or the machine's available memory).
    """

    def check(rows: int, cols: int) -> None:
        from reach.settings import MEMORY_ENV, available_memory_bytes

        need = int(rows) * int(cols) * BYTES_PER_LAYER_CELL
        have = available_memory_bytes()
        if need > have:
            gib = 2**30
            raise ResourceLimitError(
                f"the {what} is {rows:,} × {cols:,} cells: reading it needs about "
                f"{need / gib:,.1f} GiB of memory; {have / gib:,.1f} GiB is available",
                path=path,
                fix="clip it to the study area (gdalwarp -te …) or resample it coarser "
                f"(gdalwarp -tr …); {MEMORY_ENV} sets the budget",
            )

    return check


def check_transform(transform: Affine, *, what: str, path: Path) -> None:
    """Refuse a geotransform reach cannot use.

    Parameters
    ----------
    transform
        The raster's affine transform.
    what, path
        For messages.

    Raises
    ------
    InputError
        If a coefficient is NaN or infinite, the grid is rotated or sheared, a pixel size is 0,
        or the transform is the identity (no georeferencing).
    """
    coefficients = (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f)
    if not all(math.isfinite(v) for v in coefficients):
        raise InputError(
            f"the {what} has a geotransform with NaN or infinite numbers "
            f"(pixel size {transform.a:g} × {transform.e:g}, origin {transform.c:g}, "
            f"{transform.f:g})",
            path=path,
            fix="georeference it again (gdal_edit.py -a_ullr …) or export it again as a GeoTIFF",
        )
    if transform.b != 0 or transform.d != 0:
        raise InputError(
            f"the {what} has a rotated or sheared grid",
            path=path,
            fix="warp it to a north-up grid with gdalwarp",
        )
    if transform.a == 0 or transform.e == 0 or transform == Affine.identity():
        raise InputError(
            f"the {what} has no georeferencing (identity transform or a pixel size of 0)",
            path=path,
            fix="georeference it (gdal_edit.py -a_ullr …) or export it again as a GeoTIFF",
        )


def north_up_transform(transform: Affine, rows: int, cols: int) -> Affine:
    """The transform of a ``rows`` × ``cols`` grid once flipped to north-up, west-to-east.

    Parameters
    ----------
    transform
        The file's transform (not rotated).
    rows, cols
        The grid's size.

    Returns
    -------
    Affine
        ``a > 0`` and ``e < 0``, covering the same area.
    """
    t = transform
    if t.e > 0:
        t = Affine(t.a, 0.0, t.c, 0.0, -t.e, t.f + t.e * rows)
    if t.a < 0:
        t = Affine(-t.a, 0.0, t.c + t.a * cols, 0.0, t.e, t.f)
    return t


def north_up(
    values: np.ndarray, transform: Affine, *masks: np.ndarray | None
) -> tuple[np.ndarray, Affine, list[np.ndarray | None]]:
    """Flip a south-up (positive y pixel size) or east-to-west grid to north-up, west-to-east.

    Parameters
    ----------
    values
        The 2-D band.
    transform
        Its transform (not rotated).
    *masks
        Arrays of the same shape flipped alike (``None`` passes through).

    Returns
    -------
    tuple
        The values, the transform of the flipped grid (``a > 0``, ``e < 0``: the same cells in
        the same places) and the masks.
    """
    rows, cols = values.shape
    flipped = list(masks)
    if transform.e > 0:
        values = values[::-1, :]
        flipped = [None if m is None else m[::-1, :] for m in flipped]
    if transform.a < 0:
        values = values[:, ::-1]
        flipped = [None if m is None else m[:, ::-1] for m in flipped]
    contiguous = [None if m is None else np.ascontiguousarray(m) for m in flipped]
    return (
        np.ascontiguousarray(values),
        north_up_transform(transform, rows, cols),
        contiguous,
    )


def check_geotiff_path(path: str | Path, *, what: str) -> Path:
    """:func:`check_local_path`, and refuse a GDAL virtual dataset (VRT) named or made as one.

    Parameters
    ----------
    path
        The path a user gave.
    what
        What the file is, for messages (e.g. ``"land cover raster"``).

    Returns
    -------
    Path
        The expanded path, as :func:`check_local_path` returns it.

    Raises
    ------
    InputError
        As :func:`check_local_path`, or for a VRT.
    """
    p = check_local_path(path, what=what)
    _refuse_vrt(p, what)
    return p


def _refuse_vrt(p: Path, what: str) -> None:
    if p.suffix.lower() == ".vrt" or looks_like_vrt(p):
        raise InputError(
            f"the {what} is a GDAL virtual dataset (VRT), not a GeoTIFF",
            path=p,
            fix=f"convert it to a GeoTIFF first (gdal_translate {p.name} out.tif)",
        )


@overload
def open_geotiff(
    path: str | Path, *, what: str, max_cells: Preflight | None = None, window: None = None
) -> RasterLayer: ...


@overload
def open_geotiff(
    path: str | Path, *, what: str, max_cells: Preflight | None = None, window: RasterWindow
) -> RasterLayer | None: ...


def open_geotiff(
    path: str | Path,
    *,
    what: str,
    max_cells: Preflight | None = None,
    window: RasterWindow | None = None,
) -> RasterLayer | None:
    """Read band 1 of a local GeoTIFF, whole or under a window.

    Parameters
    ----------
    path
        Path to a ``.tif`` / ``.tiff`` file on this machine.
    what
        What the raster is, used in messages (e.g. ``"population raster"``).
    max_cells
        Called with ``(rows, cols)`` from the header before any cell is read; it raises to
        refuse a raster too large for the run (see :func:`reach.run.checks.check_memory`). By
        default :func:`layer_memory_check`. With a window, it is called with the window's size.
    window
        Read only the pixels under this window (see :func:`read_raster_band`).

    Returns
    -------
    RasterLayer or None
        Band 1 with its nodata mask, transform and CRS, north-up (a south-up file is flipped).
        Extra bands are ignored. ``None`` only for a window that holds no pixel of the file.

    Raises
    ------
    InputError
        If the file is missing or not a regular file, is a URL or virtual path, is not a
        GeoTIFF (including a VRT renamed to ``.tif``), is corrupt, has no CRS, or has a
        rotated, NaN or zero-sized grid.
    ResourceLimitError
        If the preflight refuses its size.
    """
    p = check_local_path(path, what=what)
    _refuse_vrt(p, what)
    return read_raster_band(
        str(p), path=p, what=what, driver="GTiff", preflight=max_cells, window=window
    )


_KIND_NAMES = {"GTiff": "GeoTIFF", "SRTMHGT": "SRTM .hgt tile"}


@dataclass(frozen=True)
class RasterHeader:
    """What a raster's header says, read without reading any cell.

    Attributes
    ----------
    rows, cols
        Its size.
    transform
        North-up transform (as :func:`read_raster_band` would return it).
    crs
        Its CRS.
    path
        The user's file.
    """

    rows: int
    cols: int
    transform: Affine
    crs: rasterio.crs.CRS
    path: Path

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in ``crs`` units."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.cols, self.rows)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _check_header(ds: Any, *, path: Path, what: str, driver: str, georef: bool = True) -> None:
    """Check the driver and bands; with ``georef``, the CRS and the geotransform too."""
    kinds = _KIND_NAMES.get(driver, driver)
    if ds.driver != driver:
        raise InputError(
            f"the {what} is a {ds.driver} file, not a {kinds}",
            path=path,
            fix="convert it to a GeoTIFF (gdal_translate)",
        )
    if ds.count < 1:
        raise InputError(f"the {what} has no bands", path=path, fix="give a raster")
    if georef:
        _check_georef(ds.crs, ds.transform, path=path, what=what)


def _check_georef(crs: Any, transform: Affine, *, path: Path, what: str) -> None:
    if crs is None or not crs.to_wkt():
        raise InputError(
            f"the {what} has no coordinate reference system",
            path=path,
            fix="assign one, e.g. gdal_edit.py -a_srs EPSG:4326 (use the right EPSG code)",
        )
    check_transform(transform, what=what, path=path)


def _gdal_failure(exc: BaseException, *, path: Path, what: str, driver: str) -> InputError:
    kinds = _KIND_NAMES.get(driver, driver)
    detail = " ".join(str(exc).split())[:200]
    return InputError(
        f"cannot read the {what} as a {kinds} ({detail})",
        path=path,
        fix=f"check the file is a complete, valid {kinds} (try gdalinfo on it)",
    )


def read_raster_header(
    gdal_path: str, *, path: Path, what: str, driver: str = "GTiff"
) -> RasterHeader:
    """Open a raster with the GDAL ``driver`` only and check its header; read no cell.

    Parameters
    ----------
    gdal_path
        The name handed to GDAL (a local path checked by :func:`check_local_path`, or a
        ``zip://`` path reach built itself).
    path
        The user's file, for messages.
    what
        What the raster is, for messages.
    driver
        The GDAL driver allowed to open it.

    Returns
    -------
    RasterHeader
        Size, north-up transform and CRS.

    Raises
    ------
    InputError
        As :func:`read_raster_band`, for everything the header can show.
    """
    try:
        with gdal_sandbox(), rasterio.open(gdal_path, driver=driver) as ds:
            _check_header(ds, path=path, what=what, driver=driver)
            rows, cols, transform, crs = ds.height, ds.width, ds.transform, ds.crs
    except ReachError:
        raise
    except _RASTER_ERRORS as exc:
        raise _gdal_failure(exc, path=path, what=what, driver=driver) from exc
    t = north_up_transform(transform, rows, cols)
    return RasterHeader(rows=int(rows), cols=int(cols), transform=t, crs=crs, path=path)


@overload
def read_raster_band(
    gdal_path: str,
    *,
    path: Path,
    what: str,
    driver: str,
    preflight: Preflight | None = None,
    window: None = None,
) -> RasterLayer: ...


@overload
def read_raster_band(
    gdal_path: str,
    *,
    path: Path,
    what: str,
    driver: str,
    preflight: Preflight | None = None,
    window: RasterWindow,
) -> RasterLayer | None: ...


def read_raster_band(
    gdal_path: str,
    *,
    path: Path,
    what: str,
    driver: str,
    preflight: Preflight | None = None,
    window: RasterWindow | None = None,
) -> RasterLayer | None:
    """Open ``gdal_path`` with the GDAL ``driver`` only and read band 1, whole or under a window.

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
        Called with ``(rows, cols)`` of what is about to be read (the file, or the window's
        pixels) before band 1 is read (it may raise to refuse the file); by default
        :func:`layer_memory_check`, so no raster is read that cannot fit in memory.
    window
        Read only the pixels under ``window.bounds``, plus ``window.margin_px`` pixels around
        them (clipped to the file). The window is found on the north-up grid, so a south-up
        file gives the same pixels, flipped, as its north-up copy.

    Returns
    -------
    RasterLayer or None
        Band 1 (or its part under the window), its nodata mask, transform and CRS; north-up and
        west-to-east (a south-up or east-to-west grid is flipped and its transform fixed, so the
        cells stay where they are). ``None`` when the window holds no pixel of the file.

    Raises
    ------
    InputError
        On any GDAL failure, another driver, no CRS, or a rotated, NaN or zero-sized grid.
    """
    check = preflight if preflight is not None else layer_memory_check(what, path)
    try:
        with gdal_sandbox(), rasterio.open(gdal_path, driver=driver) as ds:
            # a window is found through the geotransform, so it is checked first then
            _check_header(ds, path=path, what=what, driver=driver, georef=window is not None)
            crs = ds.crs
            transform = ds.transform
            nodata = ds.nodata
            pixels = None if window is None else pixel_window(ds, window)
            if pixels is None:
                check(ds.height, ds.width)
            else:
                if pixels.width <= 0 or pixels.height <= 0:
                    return None
                check(pixels.height, pixels.width)
                transform = transform @ Affine.translation(pixels.col_off, pixels.row_off)
            values = ds.read(1, window=pixels)
            flags = ds.mask_flag_enums[0]
            file_mask = None
            if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
                file_mask = ds.read_masks(1, window=pixels) == 0
    except ReachError:  # InputError, or a refusal from the preflight
        raise
    except _RASTER_ERRORS as exc:
        raise _gdal_failure(exc, path=path, what=what, driver=driver) from exc
    if window is None:
        # after the read, so a truncated file is reported as such rather than as lacking a CRS
        _check_georef(crs, transform, path=path, what=what)
    values, transform, (file_mask,) = north_up(values, transform, file_mask)
    return RasterLayer(
        values=values,
        nodata_mask=nodata_mask(values, nodata, file_mask),
        transform=transform,
        crs=crs,
        path=path,
        nodata=None if nodata is None else float(nodata),
    )


def pixel_window(ds: Any, window: RasterWindow) -> Window:
    """The pixels of an open raster under a window, plus its margin, in the file's own order.

    Parameters
    ----------
    ds
        An open rasterio dataset (its geotransform checked).
    window
        The part to read.

    Returns
    -------
    rasterio.windows.Window
        Whole pixel offsets and sizes, clipped to the file; a width or height of 0 or less when
        the window holds no pixel of it.
    """
    t = ds.transform
    # the window is found on the north-up grid (a south-up file is flipped on read)
    up = north_up_transform(t, ds.height, ds.width)
    b = (
        window.bounds
        if ds.crs == window.crs
        else transform_bounds(window.crs, ds.crs, *window.bounds, densify_pts=21)
    )
    win = from_bounds(*b, transform=up)
    margin = window.margin_px
    col0 = max(math.floor(win.col_off) - margin, 0)
    row0 = max(math.floor(win.row_off) - margin, 0)
    col1 = min(math.ceil(win.col_off + win.width) + margin, ds.width)
    row1 = min(math.ceil(win.row_off + win.height) + margin, ds.height)
    if col1 <= col0 or row1 <= row0:
        return Window(0, 0, 0, 0)
    file_row0 = row0 if t.e < 0 else ds.height - row1
    file_col0 = col0 if t.a > 0 else ds.width - col1
    return Window(file_col0, file_row0, col1 - col0, row1 - row0)


#: Plausible cell sizes of a population or friction grid, in metres.
MIN_CELL_M = 1.0
MAX_CELL_M = 100_000.0


def nodata_mask(
    values: np.ndarray, nodata: float | None, file_mask: np.ndarray | None
) -> np.ndarray:
    """Cells that hold no data: the declared nodata value, NaN, or the file's own mask.

    Parameters
    ----------
    values
        The band's values.
    nodata
        The band's declared nodata value, or None if it declares none (a NaN nodata value is
        covered by the NaN test).
    file_mask
        True where the file's own mask marks a cell invalid, of the same shape as ``values``;
        or None.

    Returns
    -------
    numpy.ndarray
        Boolean, of the shape of ``values``: True where the cell equals ``nodata``, is NaN (for
        a floating-point band) or is masked by ``file_mask``.
    """
    mask = np.zeros(values.shape, dtype=bool)
    if nodata is not None and not np.isnan(nodata):
        mask |= values == nodata
    if values.dtype.kind == "f":
        mask |= np.isnan(values)
    if file_mask is not None:
        mask |= file_mask
    return mask


def check_geographic_grid(layer: RasterLayer | RasterHeader, *, what: str) -> None:
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
