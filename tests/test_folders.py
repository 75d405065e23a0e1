"""Output folders: reach replaces only what it can prove it wrote, and survives any kill."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reach.errors import EXIT_RESOURCE, InputError, ReachError, ScenarioError
from reach.outputs.folders import (
    MANIFEST_NAME,
    OUTPUT_MARKER,
    atomic_folder,
    check_output_target,
    recover_folder,
)
from reach.spec import load_scenario
from tests.helpers import write_tiny_region

SWAP_STEPS = (
    "tmp-created",
    "tmp-written",
    "journal-written",
    "old-parked",
    "new-in-place",
    "old-removed",
    "journal-removed",
)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its sha256 (what must survive)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _write(dest: Path, content: str, **kwargs: object) -> None:
    with atomic_folder(dest, **kwargs) as tmp:  # type: ignore[arg-type]
        (tmp / "result.csv").write_text(content)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "more.txt").write_text(content * 2)


def _litter(parent: Path) -> list[str]:
    return sorted(
        p.name
        for p in parent.iterdir()
        if ".reach-tmp" in p.name or ".reach-old" in p.name or ".reach-swap" in p.name
    )


# --- ownership ---------------------------------------------------------------------------------


def test_first_write_then_replace_then_failure_keeps_the_last(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    _write(dest, "one")
    marker = json.loads((dest / OUTPUT_MARKER).read_text())
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert marker["run_id"] == manifest["run_id"] and len(marker["run_id"]) == 32
    assert set(marker["files"]) == {"result.csv", "sub/more.txt", MANIFEST_NAME}
    _write(dest, "two")
    assert (dest / "result.csv").read_text() == "two"
    with pytest.raises(RuntimeError), atomic_folder(dest) as tmp:
        (tmp / "result.csv").write_text("half")
        raise RuntimeError("boom")
    assert (dest / "result.csv").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_folders_are_readable_by_colleagues(tmp_path: Path) -> None:
    _write(tmp_path / "out", "x")
    assert (tmp_path / "out").stat().st_mode & 0o055 == 0o055


@pytest.mark.parametrize(
    "setup",
    [
        "a file",
        "a user's folder",
        "a user's manifest.json",
        "a marker written by hand",
        "reach 0.1's marker",
        "a user's file added to a reach folder",
        "a reach file edited by the user",
        "a manifest that does not repeat the run id",
        "a symlink to a user's folder",
    ],
)
def test_never_replaces_what_reach_did_not_write(tmp_path: Path, setup: str) -> None:
    dest = tmp_path / "out"
    if setup == "a file":
        dest.write_text("a user's file")
    elif setup == "a symlink to a user's folder":
        (tmp_path / "thesis").mkdir()
        (tmp_path / "thesis" / "chapter1.docx").write_text("years of work")
        dest.symlink_to(tmp_path / "thesis")
    elif setup in ("a user's folder", "a user's manifest.json"):
        dest.mkdir()
        (dest / ("manifest.json" if "manifest" in setup else "thesis.docx")).write_text("{}")
    elif setup == "a marker written by hand":
        dest.mkdir()
        (dest / OUTPUT_MARKER).write_text('{"format": "reach-output/2", "run_id": "x"}')
        (dest / "data.csv").write_text("mine")
    elif setup == "reach 0.1's marker":
        dest.mkdir()
        (dest / OUTPUT_MARKER).write_text("written by reach; this folder is replaced on each run\n")
        (dest / "coverage.csv").write_text("mine")
    else:
        _write(dest, "reach's")
        if setup == "a user's file added to a reach folder":
            (dest / "sub" / "my_notes.txt").write_text("mine")
        elif setup == "a reach file edited by the user":
            (dest / "result.csv").write_text("edited by hand, longer than before")
        else:
            (dest / MANIFEST_NAME).write_text(json.dumps({"run_id": "0" * 32}))
    before = _snapshot(tmp_path)
    with pytest.raises(InputError) as info, atomic_folder(dest) as tmp:
        (tmp / "new.txt").write_text("new")
    assert "fix:" in info.value.one_line()
    assert _snapshot(tmp_path) == before
    assert _litter(tmp_path) == []


def test_nested_run_folders_prove_themselves(tmp_path: Path) -> None:
    """A run re-written inside the demo's folder does not make the demo's folder foreign."""
    outer = tmp_path / "demo"
    with atomic_folder(outer, command="demo") as tmp:
        (tmp / "inputs").mkdir()
        (tmp / "inputs" / "demo.toml").write_text("x")
        _write(tmp / "results", "first")
    _write(outer / "results", "second")  # `reach run demo/inputs/demo.toml`
    check_output_target(outer)
    (outer / "results" / "mine.txt").write_text("a user's file")
    with pytest.raises(InputError, match=r"results/mine\.txt"):
        check_output_target(outer)


def test_keep_existing_adds_files_to_a_run(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    _write(dest, "run")
    with atomic_folder(dest, keep_existing=True, command="map") as tmp:
        (tmp / "map.html").write_text("<html></html>")
    assert (dest / "result.csv").read_text() == "run"
    assert (dest / "map.html").is_file()
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest["updates"][-1]["command"] == "map"
    _write(dest, "again")  # still provably reach's


@pytest.mark.parametrize("which", ["project", "scenario folder", "input folder", "cwd", "home"])
def test_protected_folders_and_their_parents(
    tmp_path: Path, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / ".reach-project").write_text("")
    (project / "data").mkdir()
    (project / "data" / "pop.tif").write_text("x")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    protect = [project, project / "scenarios", project / "data"]
    target = {
        "project": project,
        "scenario folder": project / "scenarios",
        "input folder": project / "data",
        "cwd": Path.cwd(),
        "home": home,
    }[which]
    for dest in (target, target.parent):
        with pytest.raises(InputError, match="will never write there"):
            check_output_target(dest, protect=protect)
    with pytest.raises(InputError):
        check_output_target("/")


# --- the data-loss cases of the issue, through the real run ------------------------------------


def test_folder_dot_in_a_project_with_a_manifest_is_refused(tmp_path: Path) -> None:
    from reach.run.scenario_set import run_scenario

    project = tmp_path / "project"
    scenario = write_tiny_region(project)
    (project / "manifest.json").write_text('{"mine": true}')
    (project / ".reach-project").write_text("")
    scenario.write_text(scenario.read_text().replace('folder = "out"', 'folder = "."'))
    before = _snapshot(project)
    with pytest.raises(InputError, match="will never write there"):
        run_scenario(load_scenario(scenario))
    assert _snapshot(project) == before
    assert _litter(tmp_path) == [] and _litter(project) == []


@pytest.mark.parametrize(
    "folder", ["../victim", "<project>/../victim", "${REACH_DATA}/../victim", "link/inner"]
)
def test_output_paths_leaving_the_project_are_refused(
    tmp_path: Path, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    scenario = write_tiny_region(project)
    (project / ".reach-project").write_text("")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("mine")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("REACH_DATA", str(data))
    (project / "link").symlink_to(victim)
    text = scenario.read_text().replace('folder = "out"', f'folder = "{folder}"')
    scenario.write_text(text.replace("<project>", str(project)))
    scn = load_scenario(scenario)
    with pytest.raises(ScenarioError, match="outside the project folder"):
        scn.resolve(scn.outputs.folder)
    assert (victim / "precious.txt").read_text() == "mine"


def test_an_input_symlinked_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    scenario = write_tiny_region(project)
    (project / ".reach-project").write_text("")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / "clinics.csv").rename(outside / "clinics.csv")
    (project / "clinics.csv").symlink_to(outside / "clinics.csv")
    scn = load_scenario(scenario)
    assert scn.services[0].facilities.path is not None
    with pytest.raises(ScenarioError, match="outside the project folder"):
        scn.resolve(scn.services[0].facilities.path)


def test_extends_through_a_symlink_outside_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    scenario = write_tiny_region(project)
    (project / ".reach-project").write_text("")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "base.toml").write_text(scenario.read_text())
    (project / "base.toml").symlink_to(outside / "base.toml")
    child = project / "child.toml"
    child.write_text('extends = "base.toml"\n')
    with pytest.raises(ScenarioError, match="outside the project folder"):
        load_scenario(child)


def test_cache_clear_refuses_a_folder_that_is_not_a_cache(tmp_path: Path) -> None:
    from reach.errors import FetchError
    from reach.fetch import cache_clear, cache_info

    folder = tmp_path / "documents"
    for sub in ("files", "partial", "locks"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "work.txt").write_text("mine")
    before = _snapshot(folder)
    with pytest.raises(FetchError, match="not a reach download cache"):
        cache_clear(cache_dir=folder)
    with pytest.raises(FetchError, match="not a reach download cache"):
        cache_info(cache_dir=folder)
    assert _snapshot(folder) == before


# --- kills at every step of the swap ----------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from reach.outputs.folders import AUDIT_EVENT, atomic_folder

    dest, step, content = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def hook(event, args):
        if event == AUDIT_EVENT and args[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    with atomic_folder(dest) as tmp:
        (tmp / "result.csv").write_text(content)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "more.txt").write_text(content * 2)
        if step == "while-writing":
            os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _child(dest: Path, step: str, content: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(dest), step, content],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("first", [True, False], ids=["new folder", "replacing"])
@pytest.mark.parametrize("step", ["while-writing", *SWAP_STEPS])
def test_a_kill_at_any_step_leaves_a_whole_folder(tmp_path: Path, step: str, first: bool) -> None:
    dest = tmp_path / "out"
    if not first:
        _write(dest, "old")
    done = _child(dest, step, "new")
    no_such_step = first and step in ("old-parked", "old-removed")  # nothing to park
    assert done.returncode == (0 if no_such_step else -signal.SIGKILL), done.stderr
    recover_folder(dest)  # what the next writer does first
    if first and step in ("while-writing", "tmp-created", "tmp-written", "journal-written"):
        assert not dest.exists()
    else:
        content = (dest / "result.csv").read_text()
        expected = {"old", "new"} if not first else {"new"}
        assert content in expected, content
        assert (dest / "sub" / "more.txt").read_text() == content * 2
        check_output_target(dest)  # still provably reach's
    assert _litter(tmp_path) == []
    _write(dest, "after")
    assert (dest / "result.csv").read_text() == "after"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sigterm_while_writing_cleans_up(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    _write(dest, "old")
    child = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from reach.outputs.folders import atomic_folder

        def stop(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)
        with atomic_folder(Path(sys.argv[1])) as tmp:
            (tmp / "result.csv").write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child, str(dest)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert (dest / "result.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_reach_01_killed_between_its_renames_is_recovered(tmp_path: Path) -> None:
    parked = tmp_path / ".out.old-4242"
    parked.mkdir()
    (parked / OUTPUT_MARKER).write_text("written by reach; this folder is replaced on each run\n")
    (parked / "coverage.csv").write_text("the previous run")
    recover_folder(tmp_path / "out")
    assert (tmp_path / "out" / "coverage.csv").read_text() == "the previous run"


def test_racing_writers_all_succeed_and_leave_no_litter(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    child = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from reach.outputs.folders import atomic_folder

        for i in range(8):
            with atomic_folder(Path(sys.argv[1])) as tmp:
                (tmp / "result.csv").write_text(sys.argv[2] * 1000)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", child, str(dest), tag],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in "ab"
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert (dest / "result.csv").read_text() in ("a" * 1000, "b" * 1000)
    check_output_target(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_stale_temporary_of_a_live_writer_is_never_swept(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with atomic_folder(dest) as tmp:
        (tmp / "x.txt").write_text("x")
        recover_folder(dest)  # another writer's sweep, while this one writes
        assert tmp.is_dir()
    assert (dest / "x.txt").is_file()


# --- the machine's limits: one line, exit code 3 -------------------------------------------------


def test_a_file_size_limit_is_a_resource_error(tmp_path: Path) -> None:
    child = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from reach.errors import ReachError
        from reach.outputs.folders import atomic_folder

        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            with atomic_folder(Path(sys.argv[1])) as tmp:
                (tmp / "big.bin").write_bytes(b"x" * 1_000_000)
        except ReachError as exc:
            print(exc.exit_code, exc.one_line())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    code, _, line = done.stdout.partition(" ")
    assert int(code) == EXIT_RESOURCE, done.stderr
    assert "file-size limit" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.fixture
def small_mount(tmp_path: Path) -> object:
    mount = tmp_path / "mnt"
    mount.mkdir()
    ok = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if ok.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_a_resource_error(small_mount: Path) -> None:
    with pytest.raises(ReachError) as info, atomic_folder(small_mount / "out") as tmp:
        (tmp / "big.bin").write_bytes(b"x" * 1_000_000)
    assert info.value.exit_code == EXIT_RESOURCE
    assert "no space left" in info.value.one_line()
    assert list(small_mount.iterdir()) == []


def test_a_read_only_disk_is_a_resource_error(small_mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    with pytest.raises(ReachError) as info, atomic_folder(small_mount / "out") as tmp:
        (tmp / "x").write_text("x")
    assert info.value.exit_code == EXIT_RESOURCE
    assert "read-only" in info.value.one_line()


def test_os_errors_outside_writing_stay_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_folder(tmp_path / "out"):
        (tmp_path / "missing" / "x").read_text()
    assert list(tmp_path.iterdir()) == []
