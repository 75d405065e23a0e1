"""Output folders reach may replace, and the swap that replaces them.

Every folder reach writes (a run's outputs, a study, the maps and reports, a fetched region, the
demo) carries a marker file, :data:`OUTPUT_MARKER`: a JSON record with a random run id and the
size and modification time of every file reach wrote there. Its ``manifest.json`` repeats the
run id. A folder is replaced only when reach can prove it wrote every file in it:

- the marker is there and is reach's, and the manifest repeats its run id;
- every file in the folder is one the marker lists, unchanged (same size and modification
  time), or lies in a sub-folder that proves itself the same way (a run inside the demo);
- the folder is not the project folder, the scenario's folder, an input's folder, the working
  folder, the home folder, ``/`` or a parent of any of them.

The swap survives being killed at any instant. The new folder is written beside the destination
as ``.<name>.reach-tmp-<run id>``, held by a lock while it is written. To swap, reach takes a
lock on the parent folder, writes a journal ``.<name>.reach-swap``, parks the old folder as
``.<name>.reach-old-<run id>``, renames the new one into place, removes the old one and then the
journal. A later writer of the same destination, finding a journal, rolls the interrupted swap
back (or finishes it, when the new folder was already in place), and sweeps temporary folders
whose writer is gone — only folders named and marked as reach's own.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reach.errors import InputError, ReachError, resource_error

__all__ = [
    "MANIFEST_NAME",
    "OUTPUT_MARKER",
    "atomic_folder",
    "check_output_target",
    "folder_run_id",
    "recover_folder",
]

#: The marker file in every folder reach writes.
OUTPUT_MARKER = ".reach-output"
#: The manifest that repeats the marker's run id.
MANIFEST_NAME = "manifest.json"
#: The marker's format.
_MARKER_FORMAT = "reach-output/2"
#: The text of the marker of reach 0.1 (no run id): such folders are not replaced any more.
_LEGACY_MARKER_TEXT = "written by reach"
#: Longest destination name (bytes): the temporary names add about 45 bytes to it.
_MAX_NAME_BYTES = 200
#: Audit event raised at every step of the swap (``sys.addaudithook`` can stop the process there).
AUDIT_EVENT = "reach.output.swap"

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_LOCAL = threading.local()


# --- what may be replaced ----------------------------------------------------------------------


def _real(path: Path | str) -> Path:
    """``path`` made absolute with ``..`` collapsed and every symlink followed."""
    text = os.fspath(path)
    if "\x00" in text:
        raise InputError(
            "the output path holds a NUL byte", path=repr(text)[:200], fix="give a plain path"
        )
    return Path(os.path.realpath(Path(text).expanduser()))


def _always_protected() -> list[Path]:
    """Folders no output may ever replace: ``/``, the home folder, the working folder."""
    out = [Path("/")]
    with contextlib.suppress(RuntimeError, KeyError, OSError):
        out.append(_real(Path.home()))
    with contextlib.suppress(OSError):
        out.append(_real(Path.cwd()))
    return out


def _check_not_protected(dest: Path, protect: Iterable[Path]) -> None:
    for raw in (*_always_protected(), *protect):
        guarded = _real(raw)
        if guarded == dest or guarded.is_relative_to(dest):
            what = "is" if guarded == dest else "contains"
            raise InputError(
                f"the output folder {what} {guarded}, which holds the project, the scenario, an "
                "input, the working folder or the home folder; a run replaces its output folder "
                "whole, so it will never write there",
                path=dest,
                fix='choose a folder of its own for the outputs, e.g. folder = "maps/<name>"',
            )


def _read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of ``folder`` if it is a valid reach marker, else None."""
    try:
        data = json.loads((folder / OUTPUT_MARKER).read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != _MARKER_FORMAT:
        return None
    if not isinstance(data.get("run_id"), str) or not _RUN_ID.match(data["run_id"]):
        return None
    if not isinstance(data.get("files"), dict):
        return None
    return data


def _stamp(path: Path) -> list[int]:
    st = path.lstat()
    return [st.st_size, st.st_mtime_ns]


def _not_owned(folder: Path, why: str) -> InputError:
    return InputError(
        f"the output folder {why}; reach replaces only a folder it can prove it wrote, so it "
        "will not use this one",
        path=folder,
        fix="choose a new or empty output folder (or move that folder away yourself)",
    )


def _prove_owned(folder: Path, *, top: Path, accept_changed: bool = False) -> None:
    """Raise unless reach wrote every file in ``folder`` (see the module's rules).

    With ``accept_changed``, a file reach wrote that was changed since counts as reach's.
    """
    marker = _read_marker(folder)
    rel_name = folder.relative_to(top).as_posix() if folder != top else "."
    if marker is None:
        if (folder / OUTPUT_MARKER).exists():
            raise _not_owned(
                top,
                f"holds a {OUTPUT_MARKER} file reach cannot vouch for"
                + (f" (in {rel_name})" if folder != top else "")
                + " (written by hand, or by reach 0.1, which recorded no run id)",
            )
        where = f" (in {rel_name})" if folder != top else ""
        if (folder / MANIFEST_NAME).exists():
            raise _not_owned(top, f"holds a {MANIFEST_NAME} but no reach marker{where}")
        raise _not_owned(top, f"holds files that reach did not write{where}")
    manifest = folder / MANIFEST_NAME
    try:
        recorded = json.loads(manifest.read_text("utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        recorded = None
    if recorded != marker["run_id"]:
        raise _not_owned(
            top, f"has a {MANIFEST_NAME} that does not repeat its marker's run id ({rel_name})"
        )
    files: dict[str, Any] = marker["files"]
    proven: set[Path] = set()
    for entry in sorted(folder.rglob("*")):
        rel = entry.relative_to(folder).as_posix()
        if entry.name == OUTPUT_MARKER and entry.parent == folder:
            continue
        if entry.is_dir() and not entry.is_symlink():
            continue
        if files.get(rel) == _stamp(entry) or (accept_changed and rel in files):
            continue
        sub = _nearest_marked_subfolder(entry, folder)
        if sub is not None:
            if sub not in proven:
                _prove_owned(sub, top=top, accept_changed=accept_changed)
                proven.add(sub)
            continue
        shown = entry.relative_to(top).as_posix()
        changed = "changed since reach wrote it" if rel in files else "which reach did not write"
        raise _not_owned(top, f"holds {shown!r}, {changed}")


def _nearest_marked_subfolder(entry: Path, folder: Path) -> Path | None:
    """The innermost folder between ``entry`` and ``folder`` that has a marker of its own."""
    for parent in entry.parents:
        if parent == folder:
            return None
        if (parent / OUTPUT_MARKER).is_file():
            return parent
    return None


def check_output_target(
    destination: Path | str, *, protect: Iterable[Path] = (), accept_changed: bool = False
) -> Path:
    """Refuse an output folder reach may not replace, before any work starts.

    Parameters
    ----------
    destination
        The output folder (need not exist).
    protect
        Paths the folder may not be, nor contain: the project folder, the scenario's folder,
        every input's folder (see :meth:`reach.spec.ScenarioSpec.protected_paths`). ``/``, the
        home folder and the working folder are always protected.
    accept_changed
        Count files reach wrote there and someone changed since as reach's (to replace them on
        the user's word, e.g. ``reach fetch --overwrite``).

    Returns
    -------
    Path
        The destination, absolute, with symlinks followed.

    Raises
    ------
    InputError
        For a protected folder or a parent of one, a file, a folder reach cannot prove it
        wrote, or a name too long to write beside.
    """
    dest = _real(destination)
    if dest == dest.parent:
        raise InputError(
            "the output folder is the file system's root", path=dest, fix="choose a folder"
        )
    if len(dest.name.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
        raise InputError(
            f"the output folder's name is over {_MAX_NAME_BYTES} bytes long",
            path=str(dest)[:120] + "…",
            fix="choose a shorter name",
        )
    _check_not_protected(dest, protect)
    if dest.parent.is_dir():
        try:
            recover_folder(dest)
        except OSError as exc:
            raise (resource_error(exc) or exc) from exc
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise InputError(
            "the output folder is an existing file",
            path=dest,
            fix="choose another output folder, or move the file away",
        )
    if dest.is_dir() and any(dest.iterdir()):
        _prove_owned(dest, top=dest, accept_changed=accept_changed)
    return dest


# --- the swap, and its recovery ------------------------------------------------------------------


def _names(dest: Path, run_id: str) -> tuple[Path, Path, Path]:
    parent, name = dest.parent, dest.name
    return (
        parent / f".{name}.reach-tmp-{run_id}",
        parent / f".{name}.reach-old-{run_id}",
        parent / f".{name}.reach-swap",
    )


def _audit(step: str, dest: Path) -> None:
    sys.audit(AUDIT_EVENT, step, str(dest))


def _flock(fd: int, *, blocking: bool) -> bool:
    """``flock`` a descriptor exclusively; False when another holder has it (non-blocking).

    Where locks are not supported (some network file systems) it returns True without one.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    return True


@contextmanager
def _parent_lock(folder: Path) -> Iterator[None]:
    """Hold the lock that serialises swaps (and their recovery) in ``folder``."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _flock(fd, blocking=True)
        yield
    finally:
        os.close(fd)


def _writer_alive(marker: Path) -> bool:
    """Whether a process still holds the lock on a temporary folder's marker."""
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _flock(fd, blocking=False)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path)


def _is_own_temporary(path: Path, name: str) -> bool:
    """Whether ``path`` is a temporary folder of reach's for destination ``name``."""
    m = re.fullmatch(rf"\.{re.escape(name)}\.reach-tmp-([0-9a-f]{{32}})", path.name)
    if m is None or path.is_symlink() or not path.is_dir():
        return False
    try:
        text = (path / OUTPUT_MARKER).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return m.group(1) in text  # the marker may have been cut short by a kill while rewritten


def _is_legacy_temporary(path: Path, name: str) -> bool:
    """A folder left by reach 0.1 (``.<name>.tmp-*`` / ``.old-<pid>`` with its text marker)."""
    if not re.fullmatch(rf"\.{re.escape(name)}\.(tmp-[A-Za-z0-9_]+|old-\d+)", path.name):
        return False
    try:
        text = (path / OUTPUT_MARKER).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return text.startswith(_LEGACY_MARKER_TEXT) and not path.is_symlink()


def recover_folder(destination: Path) -> None:
    """Finish or roll back an interrupted swap into ``destination``; sweep stale temporaries.

    Safe to call at any time: it takes the parent folder's lock, and removes only folders named
    and marked as reach's own whose writer is gone.

    Parameters
    ----------
    destination
        The output folder (it need not exist; nothing happens when its parent does not).
    """
    dest = _real(destination)
    parent = dest.parent
    if not parent.is_dir():
        return
    with _parent_lock(parent):
        _recover_locked(dest)


def _recover_locked(dest: Path) -> None:
    parent, name = dest.parent, dest.name
    journal_path = parent / f".{name}.reach-swap"
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text("utf-8"))
            run_id = str(journal["run_id"])
            if not _RUN_ID.match(run_id):
                raise ValueError(run_id)
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            journal = None
        if journal is not None:
            _, old, _ = _names(dest, run_id)
            if not dest.exists() and old.is_dir():
                old.rename(dest)  # parked, the new one not in place yet: roll back
            elif old.exists():
                _remove_tree(old)  # the new folder is in place: finish
            # a new folder not yet renamed into place is a stale temporary: swept below
        journal_path.unlink(missing_ok=True)
        _fsync_dir(parent)
    part = parent / f".{name}.reach-swap.part"
    if part.is_file():
        part.unlink()
    legacy_old = sorted(p for p in parent.glob(f".{name}.old-*") if _is_legacy_temporary(p, name))
    if not dest.exists() and legacy_old:
        legacy_old[-1].rename(dest)  # reach 0.1 was killed between its two renames
    for candidate in sorted(parent.glob(f".{name}.*")):
        if _is_own_temporary(candidate, name) and not _writer_alive(candidate / OUTPUT_MARKER):
            _remove_tree(candidate)
        elif _is_legacy_temporary(candidate, name):
            with contextlib.suppress(OSError):
                if time.time() - candidate.stat().st_mtime > 24 * 3600:
                    _remove_tree(candidate)


def folder_run_id(folder: Path) -> str:
    """The run id of a folder being written by :func:`atomic_folder` (for its manifest).

    Parameters
    ----------
    folder
        The temporary folder :func:`atomic_folder` gave.

    Returns
    -------
    str
        The run id its marker records.
    """
    data = json.loads((Path(folder) / OUTPUT_MARKER).read_text("utf-8"))
    return str(data["run_id"])


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text("ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _copy_existing(dest: Path, tmp: Path) -> dict[str, Any] | None:
    """Copy a reach-owned ``dest`` into ``tmp`` (times kept); return its manifest, if any."""
    for entry in sorted(dest.rglob("*")):
        rel = entry.relative_to(dest)
        if rel.as_posix() in (OUTPUT_MARKER, MANIFEST_NAME):
            continue
        target = tmp / rel
        if entry.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(entry, target)
    try:
        data = json.loads((dest / MANIFEST_NAME).read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(fd: int, tmp: Path, run_id: str, command: str, *, state: str) -> None:
    """Write the marker through ``fd`` (whose lock says the writer is alive)."""
    from reach import __version__

    files = {}
    if state == "complete":
        for entry in sorted(tmp.rglob("*")):
            rel = entry.relative_to(tmp).as_posix()
            if rel != OUTPUT_MARKER and (entry.is_file() or entry.is_symlink()):
                files[rel] = _stamp(entry)
    record = {
        "format": _MARKER_FORMAT,
        "written_by": f"reach {__version__}",
        "command": command,
        "run_id": run_id,
        "state": state,
        "files": files,
        "note": "reach replaces this folder on its next run only while every file listed here "
        "is unchanged; do not keep your own files in it",
    }
    data = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8")
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _finish_manifest(tmp: Path, run_id: str, command: str, previous: dict[str, Any] | None) -> None:
    """Make sure ``tmp/manifest.json`` repeats the run id (writing a small one if needed)."""
    from reach import __version__

    path = tmp / MANIFEST_NAME
    data: dict[str, Any] | None = None
    if path.is_file():
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            loaded = json.loads(path.read_text("utf-8"))
            data = loaded if isinstance(loaded, dict) else None
        if data is not None and data.get("run_id") == run_id:
            return
    if data is None and previous is not None:
        data = dict(previous)
        updates = list(data.get("updates", []))
        updates.append({"command": command, "reach_version": __version__})
        data["updates"] = updates
    if data is None:
        data = {"command": command, "reach_version": __version__}
    data["run_id"] = run_id
    data["outputs"] = sorted(
        p.relative_to(tmp).as_posix()
        for p in tmp.rglob("*")
        if p.is_file() and p.name not in (OUTPUT_MARKER, MANIFEST_NAME)
    )
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a few renames (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _swap(
    tmp: Path, dest: Path, run_id: str, protect: tuple[Path, ...], *, accept_changed: bool
) -> None:
    parent = dest.parent
    _, old, journal = _names(dest, run_id)
    with _parent_lock(parent), _signals_held():
        _recover_locked(dest)
        # the destination may have changed while the run was working: check it again
        _check_not_protected(dest, protect)
        had_old = dest.exists() or dest.is_symlink()
        if had_old:
            if dest.is_symlink() or not dest.is_dir():
                raise InputError(
                    "the output folder became a file while reach was working",
                    path=dest,
                    fix="choose another output folder",
                )
            if any(dest.iterdir()):
                _prove_owned(dest, top=dest, accept_changed=accept_changed)
        part = journal.with_name(journal.name + ".part")
        part.write_text(
            json.dumps({"run_id": run_id, "had_old": had_old, "destination": dest.name}) + "\n",
            "utf-8",
        )
        with part.open("rb+") as fh:
            os.fsync(fh.fileno())
        part.replace(journal)
        _fsync_dir(parent)
        _audit("journal-written", dest)
        try:
            if had_old:
                dest.rename(old)
                _audit("old-parked", dest)
                # a file written into it after the check above would be lost: check again,
                # now that the folder is out of its users' way
                try:
                    _prove_owned(old, top=old, accept_changed=accept_changed)
                except InputError:
                    raise _not_owned(dest, "received a file while reach was replacing it") from None
            tmp.rename(dest)
            _fsync_dir(parent)
            _audit("new-in-place", dest)
        except BaseException:
            _recover_locked(dest)  # puts the parked folder back
            raise
        if had_old:
            _remove_tree(old)
            _audit("old-removed", dest)
        journal.unlink()
        _fsync_dir(parent)
        _audit("journal-removed", dest)


@contextmanager
def atomic_folder(
    destination: Path | str,
    *,
    protect: Iterable[Path] = (),
    keep_existing: bool = False,
    accept_changed: bool = False,
    command: str = "run",
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``destination`` when the block succeeds.

    On an exception (or a signal) the temporary folder is removed and ``destination`` is
    untouched; killed outright, the next writer of ``destination`` cleans up (see the module).

    Parameters
    ----------
    destination
        The output folder; it may be replaced only if reach proves it wrote it.
    protect
        Paths the folder may not be, nor contain (see :func:`check_output_target`).
    keep_existing
        Start from a copy of the existing folder's files (for commands that add maps or
        reports to a run's outputs).
    accept_changed
        See :func:`check_output_target`.
    command
        The command writing, recorded in the marker and the manifest.

    Raises
    ------
    InputError
        When ``destination`` may not be replaced (see :func:`check_output_target`).
    ResourceLimitError
        When the disk is full, read-only or not writable, or a file-size limit is hit.
    """
    protect = tuple(protect)
    dest = check_output_target(destination, protect=protect, accept_changed=accept_changed)
    run_id = secrets.token_hex(16)
    tmp, _, _ = _names(dest, run_id)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(mode=0o700)
    except OSError as exc:
        raise (resource_error(exc) or exc) from exc
    fd = -1
    try:
        tmp.chmod(0o777 & ~_umask())
        fd = os.open(tmp / OUTPUT_MARKER, os.O_RDWR | os.O_CREAT, 0o666)
        _flock(fd, blocking=True)
        _write_marker(fd, tmp, run_id, command, state="writing")
        _audit("tmp-created", dest)
        previous = _copy_existing(dest, tmp) if keep_existing and dest.is_dir() else None
        yield tmp
        _finish_manifest(tmp, run_id, command, previous)
        _write_marker(fd, tmp, run_id, command, state="complete")
        _audit("tmp-written", dest)
        _swap(tmp, dest, run_id, protect, accept_changed=accept_changed)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
            fd = -1
        with contextlib.suppress(OSError):
            _remove_tree(tmp)
        mapped = resource_error(exc) if not isinstance(exc, ReachError) else None
        if mapped is not None:
            raise mapped from exc
        raise
    finally:
        if fd >= 0:
            os.close(fd)
