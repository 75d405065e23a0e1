"""Settings read from the environment, in one place."""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = [
    "ALLOW_ENV",
    "DATA_ENV",
    "LOCALES_ENV",
    "MEMORY_ENV",
    "PROJECT_FILE",
    "PROJECT_MARKERS",
    "THREADS_ENV",
    "allowed_roots",
    "available_memory_bytes",
    "data_dir",
    "extra_locales_dir",
    "project_root",
    "thread_count",
]

#: Environment variable: worker threads for services and alternatives (default: the cores).
THREADS_ENV = "REACH_THREADS"

#: Environment variable naming the folder of real data (default ``../shared/data``).
DATA_ENV = "REACH_DATA"


def data_dir() -> Path:
    """Return the real-data folder: ``$REACH_DATA`` or ``../shared/data`` from the working dir.

    Returns
    -------
    Path
        The folder, resolved (it need not exist).
    """
    return Path(os.environ.get(DATA_ENV, "../shared/data")).expanduser().resolve()


#: Environment variable naming one more folder of ``<code>.po`` catalogues (a translator's).
LOCALES_ENV = "REACH_LOCALES"


def extra_locales_dir() -> Path | None:
    """The folder ``$REACH_LOCALES`` names, with more report languages; ``None`` when unset.

    Returns
    -------
    Path or None
        The folder (it need not exist).
    """
    text = os.environ.get(LOCALES_ENV, "").strip()
    return Path(text).expanduser() if text else None


#: Environment variable listing more folders (``os.pathsep``-separated) scenario paths may use.
ALLOW_ENV = "REACH_ALLOW_PATHS"

#: The file that makes a folder a reach project; it may list data folders (``data_folders``).
PROJECT_FILE = ".reach-project"

#: Files or folders that mark a project's root folder.
PROJECT_MARKERS = (".git", "pyproject.toml", PROJECT_FILE)


def project_root(folder: Path) -> Path:
    """The project a scenario folder belongs to: the nearest ancestor with a project marker.

    Without any marker up the tree, the folder itself.

    Parameters
    ----------
    folder
        The scenario file's folder.

    Returns
    -------
    Path
        The project folder, resolved: ``folder`` or the nearest ancestor holding one of
        :data:`PROJECT_MARKERS`.
    """
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def allowed_roots(folder: Path) -> list[Path]:
    """Folders a scenario in ``folder`` may read from and write to.

    Its project folder, the real-data folder, any folder listed in ``$REACH_ALLOW_PATHS``,
    and the ``data_folders`` a ``.reach-project`` file in the project folder lists (TOML, paths
    relative to it: ``data_folders = ["../data"]``). An unreadable project file lists none.

    Parameters
    ----------
    folder
        The scenario file's folder.

    Returns
    -------
    list of Path
        The folders, resolved, in that order.
    """
    root = project_root(folder)
    roots = [root, data_dir()]
    extra = os.environ.get(ALLOW_ENV, "")
    roots += [Path(p).expanduser().resolve() for p in extra.split(os.pathsep) if p.strip()]
    roots += [(root / p).resolve() for p in _project_data_folders(root / PROJECT_FILE)]
    return roots


def _project_data_folders(path: Path) -> list[str]:
    """The ``data_folders`` a project file lists (none when it is absent or unreadable)."""
    import tomllib

    try:
        if not path.is_file() or path.stat().st_size > 65536:
            return []
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    folders = raw.get("data_folders", [])
    if not isinstance(folders, list):
        return []
    return [f for f in folders if isinstance(f, str) and f.strip() and "\x00" not in f]


#: Environment variable capping the memory a run may plan for, in GiB (default: what is free).
MEMORY_ENV = "REACH_MEMORY_GB"


def available_memory_bytes() -> int:
    """Memory a run may use: ``$REACH_MEMORY_GB`` if set, else the system's available memory.

    Returns
    -------
    int
        Bytes (8 GiB when the system does not say).

    Raises
    ------
    ScenarioError
        When ``$REACH_MEMORY_GB`` is set to anything but a positive number of GiB.
    """
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            gib = float(text)
        except ValueError:
            gib = math.nan
        if not (math.isfinite(gib) and 0 < gib <= 2**20):
            from reach.errors import ScenarioError

            raise ScenarioError(
                f"${MEMORY_ENV} = {text[:40]!r} is not a number of GiB",
                fix=f"set it to the memory a run may use, e.g. {MEMORY_ENV}=8, or unset it",
            )
        return int(gib * 2**30)
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE")) if pages else 8 * 2**30


def thread_count() -> int:
    """Worker threads for services and alternatives: ``$REACH_THREADS``, else the cores.

    Returns
    -------
    int
        From 1 to four times the number of cores.

    Raises
    ------
    ScenarioError
        When ``$REACH_THREADS`` is set to anything else.
    """
    cores = os.cpu_count() or 1
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return cores
    if not value.isdigit() or not 1 <= int(value) <= 4 * cores:
        from reach.errors import ScenarioError

        raise ScenarioError(
            f"$REACH_THREADS = {value[:20]!r} is not a thread count from 1 to {4 * cores}",
            fix="set it to the number of cores to use, or unset it",
        )
    return int(value)
