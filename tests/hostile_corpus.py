"""The hostile corpus: every ``reach`` command tried as a hostile or careless user would.

Each case builds its own small world in a temporary folder and runs one command in it:

``<case>/proj/``
    a project (``.reach-project``) with the tiny region in ``inputs/region/``, its scenario in
    ``scenarios/tiny.toml`` (a scenario set ``tiny_set.toml`` beside it), and user files that
    must survive: notes, a ``manifest.json`` the user wrote, ``old_results/`` (a user folder
    holding a ``manifest.json``), ``fake_out/`` (a fake ``.reach-output`` marker), ``report.txt``
    and ``link_out`` (a symlink to the victim folder).
``<case>/victim/``, ``<case>/somewhere/``
    folders outside the project with files (copies of the region among them, so a path that
    escapes the project would really be read).
``<case>/home/``, ``<case>/data/``
    ``$HOME`` and ``$REACH_DATA`` for the command (never the real ones).

Before a case every file under the case folder is hashed; after it, every one must be intact
(``files lost`` counts the cases where one changed or vanished). The command runs in a forked
child of a process that imported reach once: typer's ``CliRunner`` on ``reach.cli.app`` (or a
fresh interpreter for the terminal cases). In the child an audit hook makes everything outside
the case folder read-only and offline: a delete, rename or overwrite there is refused and counted
as files lost, a new file there is refused (as for a user who cannot write there), a connection
to another host is refused and reported. The same hook injects faults (a read-only folder, a
full disk) and kills the command at the n-th step of its output-folder swap.

Outcomes: ``refused clearly`` (exit 2 or 3 and one ``error:`` line on stderr), ``run and
conserved`` (exit 0, and every ``coverage.csv`` it wrote adds up), ``internal errors`` (exit 1,
"internal error", a traceback, a crash, a hang past the timeout) and ``other`` (an unclear
refusal, a dangerous request accepted, a valid one refused, coverage that does not add up,
control characters on the terminal). ``litter``: a refused case that left anything behind, or
any case that left temporary or parked folders (``.out.tmp-*``, ``.out.old-*``, a swap journal).

``python tests/hostile_corpus.py`` prints the counts per class and every bad case;
``-k TEXT`` runs the cases whose class or name holds TEXT, ``--keep`` keeps the case folders.
"""

# ruff: noqa: E501, PTH109, PTH115, PTH117, PTH118, PTH119, PTH120

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import hashlib
import json
import os
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Seconds a command may take before it counts as a hang.
CASE_TIMEOUT = 60.0
#: For the cases that open a FIFO or a device: a check at the door answers at once.
DEVICE_TIMEOUT = 15.0
#: Address space of a command (a runaway read of /dev/zero fails instead of eating the host).
MEMORY_LIMIT = 8 * 2**30

REFUSE, RUN, ANY = "refuse", "run", "any"
TINY = "tiny"  # Case.total: the tiny region's population total
_TOTALS: dict[str, float] = {}

CLASSES = {
    "a": "a outputs",
    "b": "b input paths",
    "c": "c scenario values",
    "d": "d options",
    "e": "e environment+faults",
    "f": "f terminal",
    "g": "g kill mid-swap",
}

#: Names of temporary and parked folders (``.out.tmp-*``, ``.out.old-*``, ``.out.reach-tmp-*``,
#: a swap journal ``.out.reach-swap``): none may outlive a command.
LITTER = re.compile(r"^\..*(tmp|old)[-.]|^\..*swap|^\..*\.part$")
#: Parts of a case folder that are not the user's and not output (caches, temp files).
UNWATCHED = ("tmp/", "cache/", "home/.cache/", "home/.config/", "home/.local/", "home/.dask/")


# --- the world of one case -------------------------------------------------------------------


SCENARIO = Template("""${top}version = 1
[scenario]
name = ${name}
[region]
population = ${population}
osm = ${osm}
${region_extra}
[region.boundaries]
path = ${zones}
id_column = "zone_id"
name_column = "name"
[grid]
${grid}
[ferries]
${ferries}
${modes}
[[services]]
name = "health"
kind = "health"
mode = "motorbike"
thresholds_min = ${thresholds}
${service_extra}
facilities = { path = ${facilities}, id_column = "facility_id", tier_column = "tier" }
[outputs]
folder = ${folder}
${outputs_extra}
${tail}
""")

SCENARIO_DEFAULTS = {
    "top": "",
    "name": '"Tiny"',
    "population": '"../inputs/region/population.tif"',
    "osm": '"../inputs/region/roads.osm"',
    "region_extra": "",
    "zones": '"../inputs/region/zones.geojson"',
    "grid": "",
    "ferries": "",
    "modes": "",
    "thresholds": "[5, 15, 30]",
    "service_extra": "",
    "facilities": '"../inputs/region/clinics.csv"',
    "folder": '"../results"',
    "outputs_extra": "",
    "tail": "",
}

ALT_ADD = """[[alternatives]]
name = "new_post"
operations = [{ op = "add_facility", service = "health", facility_id = "N1", lon = 120.02, lat = -9.035, tier = "clinic" }]
"""

REGION_FILES = ("population.tif", "roads.osm", "clinics.csv", "zones.geojson")


def scenario_text(**kw: str) -> str:
    """The tiny scenario (in ``proj/scenarios/``) with some of its TOML snippets replaced."""
    unknown = set(kw) - set(SCENARIO_DEFAULTS)
    assert not unknown, unknown
    return SCENARIO.substitute({**SCENARIO_DEFAULTS, **kw})


@dataclass(frozen=True)
class World:
    """The folders of one case."""

    root: Path

    @property
    def proj(self) -> Path:
        return self.root / "proj"

    @property
    def scn_dir(self) -> Path:
        return self.proj / "scenarios"

    @property
    def scn(self) -> Path:
        return self.scn_dir / "tiny.toml"

    @property
    def region(self) -> Path:
        return self.proj / "inputs" / "region"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def subs(self) -> dict[str, str]:
        r = self.root
        return {
            "root": str(r), "proj": str(self.proj), "scn_dir": str(self.scn_dir),
            "scn": str(self.scn), "set": str(self.scn_dir / "tiny_set.toml"),
            "inputs": str(self.proj / "inputs"), "region": str(self.region),
            "victim": str(r / "victim"), "home": str(self.home), "data": str(r / "data"),
            "somewhere": str(r / "somewhere"), "tmp": str(r / "tmp"), "cache": str(r / "cache"),
        }  # fmt: skip

    def fill(self, text: str) -> str:
        """Replace ``{proj}``, ``{scn}``… (and nothing else: ``{z}`` stays)."""
        for key, value in self.subs().items():
            text = text.replace("{" + key + "}", value)
        return text

    def write_scenario(self, filename: str = "tiny.toml", **kw: str) -> Path:
        path = self.scn_dir / filename
        path.write_text(self.fill(scenario_text(**kw)), "utf-8")
        return path


def build_template(root: Path) -> None:
    """Write the world every case starts from."""
    from tests.helpers import tiny_people, write_tiny_region

    people = tiny_people()
    _TOTALS[TINY] = float(people[people >= 0].sum())
    region = root / "proj" / "inputs" / "region"
    write_tiny_region(region)  # its tiny.toml stays: the user's own old scenario
    proj = root / "proj"
    (proj / ".reach-project").write_text("")
    (proj / "notes.md").write_text("# field notes\nThe ferry runs on Tuesdays.\n")
    (proj / "manifest.json").write_text('{"owner": "the user", "what": "my own manifest"}\n')
    (proj / "report.txt").write_text("the district report draft\n")
    (proj / "inputs" / "README.txt").write_text("inputs collected in 2024\n")
    (proj / "old_results").mkdir()
    (proj / "old_results" / "manifest.json").write_text('{"survey": 2019}\n')
    (proj / "old_results" / "analysis.csv").write_text("zone,people\nW,100\n")
    (proj / "fake_out").mkdir()
    (proj / "fake_out" / ".reach-output").write_text("written by reach\n")
    (proj / "fake_out" / "thesis.docx").write_bytes(b"PK\x03\x04 my thesis")
    (proj / "link_out").symlink_to("../victim")
    w = World(root)
    w.scn_dir.mkdir()
    (w.scn_dir / "README.txt").write_text("scenarios of the district office\n")
    w.write_scenario()
    (w.scn_dir / "tiny_set.toml").write_text('extends = "tiny.toml"\n' + ALT_ADD)
    victim = root / "victim"
    (victim / "photos").mkdir(parents=True)
    (victim / "precious.txt").write_text("do not delete\n")
    (victim / "photos" / "cat.jpg").write_bytes(bytes(range(256)) * 8)
    for name in REGION_FILES:
        shutil.copy2(region / name, victim / name)
    (victim / "base.toml").write_text((region / "tiny.toml").read_text())
    (root / "somewhere").mkdir()
    (root / "somewhere" / "important.txt").write_text("someone else's data\n")
    (root / "data").mkdir()
    (root / "data" / "shared.csv").write_text("a,b\n1,2\n")
    home = root / "home"
    (home / "Documents").mkdir(parents=True)
    (home / ".profile").write_text("export PATH=$PATH\n")
    (home / "Documents" / "thesis.txt").write_text("chapter 1\n")
    (root / "tmp").mkdir()


# --- cases -----------------------------------------------------------------------------------

Setup = Callable[[World], None]


@dataclass(frozen=True)
class Case:
    """One command to try, in a fresh world, and what it should do.

    ``argv`` is the command line after ``reach`` (``{scn}``, ``{proj}``… are filled in);
    ``expect`` is ``refuse``, ``run`` or ``any``; ``prep`` are commands run first (their outputs
    are reach's, not the user's); ``kill`` = (signal, n) kills the command at the n-th step of
    the swap of ``proj/results``; ``faults`` = ``readonly`` (folders), ``enospc`` (file names)
    or ``fsize`` (bytes).
    """

    cls: str
    name: str
    argv: tuple[str, ...]
    expect: str = REFUSE
    setup: Setup | None = None
    env: Mapping[str, str | None] = field(default_factory=dict)
    mode: str = "cli"  # cli: CliRunner in a forked child; proc: a fresh interpreter
    stdout: str = "capture"  # capture, devfull, closed (read one byte, then close the pipe)
    timeout: float = CASE_TIMEOUT
    prep: tuple[tuple[str, ...], ...] = ()
    kill: tuple[int, int] | None = None
    faults: Mapping[str, Any] = field(default_factory=dict)
    total: float | str | None = TINY
    check: Callable[[dict[str, Any]], str | None] | None = None
    cwd: str = "proj"

    @property
    def label(self) -> str:
        return f"[{self.cls[0]}] {self.name}"

    def command(self) -> str:
        return " ".join(["reach", *(_show(a) for a in self.argv)])


def _show(arg: str) -> str:
    text = arg if len(arg) <= 40 else f"{arg[:18]}…({len(arg)} chars)"
    text = text.encode("unicode_escape").decode("ascii")
    return text if re.fullmatch(r"[\w{}./:,@%+=-]+", text) else repr(text)


def _scn(**kw: str) -> Setup:
    def setup(w: World) -> None:
        w.write_scenario(**kw)

    return setup


def _setups(*fns: Setup | None) -> Setup:
    def setup(w: World) -> None:
        for fn in fns:
            if fn is not None:
                fn(w)

    return setup


def _no_control(result: dict[str, Any]) -> str | None:
    text = result.get("out", "") + result.get("err", "")
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f\x9b]", text):
        return "raw control characters reach the terminal"
    return None


# fmt: off
def _outputs_a(cases: list[Case]) -> None:
    """(a) Output folders: each dangerous target via ``--out`` and via ``[outputs] folder``."""
    cls = CLASSES["a"]
    # (name, --out value (cwd = project root), TOML value (relative to proj/scenarios), expect)
    targets = [
        (".", ".", '"."', REFUSE),
        ("project root", "{proj}", '".."', REFUSE),
        ("scenario folder", "{scn_dir}", '"."', REFUSE),
        ("input folder", "{region}", '"../inputs/region"', REFUSE),
        ("parent of input folder", "{inputs}", '"../inputs"', REFUSE),
        ("parent of project", "{root}", '"../.."', REFUSE),
        ("/", "/", '"/"', REFUSE),
        ("HOME", "{home}", '"{home}"', REFUSE),
        ("~ (literal)", "~", '"~"', ANY),  # --out: a folder named ~; in TOML: HOME
        ("<project>/../victim", "{proj}/../victim", '"{proj}/../victim"', REFUSE),
        ("${REACH_DATA}/../somewhere", "{data}/../somewhere", '"${REACH_DATA}/../somewhere"', REFUSE),
        ("${REACH_DATA}", "{data}", '"${REACH_DATA}"', REFUSE),
        ("symlink to outside", "link_out", '"../link_out"', REFUSE),
        ("existing file", "report.txt", '"../report.txt"', REFUSE),
        ("folder with user manifest.json", "old_results", '"../old_results"', REFUSE),
        ("folder with fake .reach-output", "fake_out", '"../fake_out"', REFUSE),
        ("new folder (control)", "new_out", '"../new_out"', RUN),
    ]
    for name, out, toml, expect in targets:
        cases.append(Case(cls, f"run --out {name}", ("run", "{scn}", "--no-maps", "--out", out), expect))
        cases.append(Case(cls, f"run folder={name}", ("run", "{scn}", "--no-maps"), expect, setup=_scn(folder=toml)))
    commands = {
        "compare": ("compare", "{set}", "--no-maps"),
        "map": ("map", "{scn}"),
        "report": ("report", "{scn}", "--no-pdf"),
        "capacity": ("capacity", "{scn}"),
        "equity": ("equity", "{scn}"),
        "access": ("access", "{scn}"),
        "referral": ("referral", "{scn}", "--tier", "clinic"),
        "optimize": ("optimize", "{scn}", "--sites", "1", "--candidates", "20"),
    }
    few = [t for t in targets if t[0] in (".", "HOME", "<project>/../victim", "folder with user manifest.json")]
    for cmd, argv in commands.items():
        for name, out, _, expect in few:
            cases.append(Case(cls, f"{cmd} --out {name}", (*argv, "--out", out), expect))
        if cmd in ("compare", "map", "report"):
            setup = _scn(folder='"../old_results"')
            if cmd == "compare":
                setup = _setups(setup, lambda w: (w.scn_dir / "tiny_set.toml").write_text('extends = "tiny.toml"\n' + ALT_ADD))
            cases.append(Case(cls, f"{cmd} folder=folder with user manifest.json", argv, REFUSE, setup=setup))
        else:  # the analyses write <folder>_<analysis>: outside the project here
            cases.append(Case(cls, f"{cmd} folder=<project>/../victim", argv, REFUSE, setup=_scn(folder='"{proj}/../victim"')))
    five = [t for t in targets if t[0] in (".", "HOME", "/", "symlink to outside", "folder with user manifest.json")]
    for name, out, _, expect in five:
        cases.append(Case(cls, f"demo --out {name}", ("demo", "--size", "40000", "--out", out), expect, total=None))
        cases.append(Case(cls, f"fetch --offline --out {name}", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--admin-level", "0", "--out", out), expect))


def _fifo(rel: str) -> Setup:
    def setup(w: World) -> None:
        os.mkfifo(w.proj / rel)

    return setup


def _link(rel: str, target: str) -> Setup:
    def setup(w: World) -> None:
        (w.proj / rel).symlink_to(w.fill(target))

    return setup


def _copy_to_somewhere(name: str) -> Setup:
    def setup(w: World) -> None:
        shutil.copy2(w.region / name, w.root / "somewhere" / name)

    return setup


def _inputs_b(cases: list[Case]) -> None:
    """(b) Input paths: escapes, links, devices, FIFOs, NULs, long names, URLs."""
    cls = CLASSES["b"]
    keys = {"population": "population.tif", "facilities": "clinics.csv", "osm": "roads.osm", "zones": "zones.geojson"}
    for key, fname in keys.items():
        ext = fname.rsplit(".", 1)[1]
        variants: list[tuple[str, str, Setup | None, float]] = [
            ("../ escape", f'"../../victim/{fname}"', None, CASE_TIMEOUT),
            ("symlink to outside", f'"../inputs/region/link.{ext}"', _link(f"inputs/region/link.{ext}", f"{{victim}}/{fname}"), CASE_TIMEOUT),
            ("/dev/zero", '"/dev/zero"', None, DEVICE_TIMEOUT),
        ]
        if key != "zones":
            variants.append(("FIFO", f'"../inputs/region/pipe.{ext}"', _fifo(f"inputs/region/pipe.{ext}"), DEVICE_TIMEOUT))
        if key in ("population", "facilities"):
            variants += [
                ("NUL byte", f'"../inputs/region/a\\u0000.{ext}"', None, CASE_TIMEOUT),
                ("/vsicurl/", f'"/vsicurl/http://127.0.0.1:9/{fname}"', None, CASE_TIMEOUT),
                ("absolute outside", f'"{{victim}}/{fname}"', None, CASE_TIMEOUT),
                ("a folder", '"../inputs"', None, CASE_TIMEOUT),
                ("5000-char name", f'"../inputs/region/{"n" * 5000}.{ext}"', None, CASE_TIMEOUT),
                ("URL", f'"http://127.0.0.1:9/{fname}"', None, CASE_TIMEOUT),
                ("${REACH_DATA}/../somewhere", f'"${{REACH_DATA}}/../somewhere/{fname}"', _copy_to_somewhere(fname), CASE_TIMEOUT),
            ]
        for vname, value, extra, timeout in variants:
            setup = _setups(extra, _scn(**{key: value}))
            cases.append(Case(cls, f"{key} = {vname}", ("run", "{scn}", "--no-maps"), REFUSE, setup=setup, timeout=timeout))
    cases.append(Case(cls, "dem = /dev/zero", ("run", "{scn}", "--no-maps"), REFUSE, setup=_scn(region_extra='dem = ["/dev/zero"]'), timeout=DEVICE_TIMEOUT))
    cases.append(Case(cls, "dem = ../ escape", ("run", "{scn}", "--no-maps"), REFUSE, setup=_scn(region_extra='dem = ["../../victim/population.tif"]')))
    cases.append(Case(cls, "barriers = ../ escape", ("run", "{scn}", "--no-maps"), REFUSE, setup=_scn(tail='[[region.barriers]]\npath = "../../victim/zones.geojson"')))
    # extends that leave the folder
    for vname, value, extra in [
        ("../ escape", "../../victim/base.toml", None),
        ("absolute outside", "{victim}/base.toml", None),
        ("symlink to outside", "linked.toml", _link("scenarios/linked.toml", "{victim}/base.toml")),
    ]:
        def write(w: World, value: str = value) -> None:
            (w.scn_dir / "ext.toml").write_text(w.fill(f'extends = "{value}"\n'))

        cases.append(Case(cls, f"extends = {vname}", ("run", "{scn_dir}/ext.toml", "--no-maps"), REFUSE, setup=_setups(extra, write)))
    # the scenario argument itself
    scenario_args: list[tuple[str, str, Setup | None, float]] = [
        ("FIFO", "{scn_dir}/pipe.toml", _fifo("scenarios/pipe.toml"), DEVICE_TIMEOUT),
        ("/dev/zero", "/dev/zero", None, DEVICE_TIMEOUT),
        ("a folder", "{scn_dir}", None, CASE_TIMEOUT),
        ("NUL byte", "{scn_dir}/ti\x00ny.toml", None, CASE_TIMEOUT),
        ("5000-char name", "{scn_dir}/" + "s" * 5000 + ".toml", None, CASE_TIMEOUT),
        ("missing file", "{scn_dir}/missing.toml", None, CASE_TIMEOUT),
        ("URL", "http://127.0.0.1:9/tiny.toml", None, CASE_TIMEOUT),
        ("/vsicurl/", "/vsicurl/http://127.0.0.1:9/tiny.toml", None, CASE_TIMEOUT),
        ("a GeoTIFF", "{region}/population.tif", None, CASE_TIMEOUT),
    ]
    for vname, arg, extra, timeout in scenario_args:
        cases.append(Case(cls, f"scenario argument = {vname}", ("run", arg, "--no-maps"), REFUSE, setup=extra, timeout=timeout))


def _chain(depth: int) -> Setup:
    def setup(w: World) -> None:
        for i in range(depth):
            (w.scn_dir / f"e{i:03d}.toml").write_text(f'extends = "e{i + 1:03d}.toml"\n')
        w.write_scenario(f"e{depth:03d}.toml")

    return setup


def _loop(w: World) -> None:
    (w.scn_dir / "la.toml").write_text('extends = "lb.toml"\n')
    (w.scn_dir / "lb.toml").write_text('extends = "la.toml"\n')


def _alternatives(n: int) -> str:
    return "\n".join(
        f'[[alternatives]]\nname = "a{i}"\noperations = [{{ op = "close_facility", service = "health", facility_id = "C1" }}]'
        for i in range(n)
    )


def _zone_name(name: str) -> Setup:
    def setup(w: World) -> None:
        path = w.region / "zones.geojson"
        path.write_text(path.read_text().replace('"name": "West"', f'"name": {json.dumps(name)}'))

    return setup


def _values_c(cases: list[Case]) -> None:
    """(c) Scenario values: numbers at and past their bounds, wrong types, deep files, names."""
    cls = CLASSES["c"]
    run = ("run", "{scn}", "--no-maps")
    table: list[tuple[str, dict[str, str], str]] = [
        ("thresholds [-5]", {"thresholds": "[-5]"}, REFUSE),
        ("thresholds [0]", {"thresholds": "[0]"}, REFUSE),
        ("thresholds [nan]", {"thresholds": "[nan]"}, REFUSE),
        ("thresholds [inf]", {"thresholds": "[inf]"}, REFUSE),
        ("thresholds 1000 of them", {"thresholds": str(list(range(1, 1001)))}, REFUSE),
        ('thresholds ["30"]', {"thresholds": '["30"]'}, REFUSE),
        ("thresholds []", {"thresholds": "[]"}, REFUSE),
        ('thresholds "30"', {"thresholds": '"30"'}, REFUSE),
        ("thresholds [true]", {"thresholds": "[true]"}, REFUSE),
        ("thresholds [30, 30]", {"thresholds": "[30, 30]"}, RUN),
        ("max_travel_time_min -1", {"grid": "max_travel_time_min = -1"}, REFUSE),
        ("max_travel_time_min 0", {"grid": "max_travel_time_min = 0"}, REFUSE),
        ("max_travel_time_min nan", {"grid": "max_travel_time_min = nan"}, REFUSE),
        ("max_travel_time_min inf", {"grid": "max_travel_time_min = inf"}, ANY),
        ('max_travel_time_min "60"', {"grid": 'max_travel_time_min = "60"'}, REFUSE),
        ("max_travel_time_min 1", {"grid": "max_travel_time_min = 1"}, ANY),
        ("aggregate_factor 0", {"grid": "aggregate_factor = 0"}, REFUSE),
        ("aggregate_factor -1", {"grid": "aggregate_factor = -1"}, REFUSE),
        ("aggregate_factor 1.5", {"grid": "aggregate_factor = 1.5"}, REFUSE),
        ("aggregate_factor 41", {"grid": "aggregate_factor = 41"}, ANY),
        ("aggregate_factor true", {"grid": "aggregate_factor = true"}, REFUSE),
        ("aggregate_factor 3", {"grid": "aggregate_factor = 3"}, RUN),
        ("neighbours 4", {"grid": "neighbours = 4"}, REFUSE),
        ("neighbours 16", {"grid": "neighbours = 16"}, RUN),
        ('neighbours "8"', {"grid": 'neighbours = "8"'}, REFUSE),
        ("default_walk_kph -1", {"grid": "default_walk_kph = -1"}, REFUSE),
        ("default_walk_kph nan", {"grid": "default_walk_kph = nan"}, REFUSE),
        ("default_walk_kph inf", {"grid": "default_walk_kph = inf"}, REFUSE),
        ("ferries headway_min inf", {"ferries": "headway_min = inf"}, REFUSE),
        ("ferries headway_min nan", {"ferries": "headway_min = nan"}, REFUSE),
        ("motorbike secondary -5 kph", {"modes": "[modes.motorbike]\nhighway_kph = { secondary = -5 }"}, REFUSE),
        ("motorbike secondary inf kph", {"modes": "[modes.motorbike]\nhighway_kph = { secondary = inf }"}, REFUSE),
        ('motorbike secondary "fast"', {"modes": '[modes.motorbike]\nhighway_kph = { secondary = "fast" }'}, REFUSE),
        ("target_share 0", {"service_extra": "target_share = 0"}, REFUSE),
        ("deep TOML: 5000 nested arrays", {"top": "deep = " + "[" * 5000 + "]" * 5000 + "\n"}, REFUSE),
        ("deep TOML: 5000 nested tables", {"top": "deep = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n"}, REFUSE),
        ("5 MB scenario file", {"top": ("# padding " + "x" * 90 + "\n") * 52000}, REFUSE),
        ("3000 alternatives", {"tail": _alternatives(3000)}, REFUSE),
        ("name with ANSI escapes", {"name": '"\\u001b[31mRED\\u001b[0m\\u0007"'}, ANY),
        ("name 5000 chars", {"name": '"' + "N" * 5000 + '"'}, ANY),
        ("alternative name ../../victim", {"tail": '[[alternatives]]\nname = "../../victim"\noperations = []'}, REFUSE),
        ("alternative name 5000 chars", {"tail": f'[[alternatives]]\nname = "{"A" * 5000}"\noperations = []'}, REFUSE),
        ("alternative name with ANSI", {"tail": '[[alternatives]]\nname = "\\u001b[2Jx"\noperations = []'}, REFUSE),
    ]
    for name, kw, expect in table:
        check = _no_control if "ANSI" in name else None
        cases.append(Case(cls, name, run, expect, setup=_scn(**kw), check=check))
    cases.append(Case(cls, "version 2", run, REFUSE, setup=lambda w: w.scn.write_text(w.scn.read_text().replace("version = 1", "version = 2"))))
    cases.append(Case(cls, "extends chain 200 deep", ("run", "{scn_dir}/e000.toml", "--no-maps"), REFUSE, setup=_chain(200)))
    cases.append(Case(cls, "extends chain 3 deep", ("run", "{scn_dir}/e000.toml", "--no-maps"), RUN, setup=_chain(3)))
    cases.append(Case(cls, "extends loop a->b->a", ("run", "{scn_dir}/la.toml", "--no-maps"), REFUSE, setup=_loop))
    cases.append(Case(cls, "extends itself", ("run", "{scn_dir}/self.toml", "--no-maps"), REFUSE, setup=lambda w: (w.scn_dir / "self.toml").write_text('extends = "self.toml"\n')))
    cases.append(Case(cls, "zone name with ANSI escapes", run, RUN, setup=_zone_name("\x1b[31mWest\x1b[0m\x07"), check=_no_control))
    ops = [
        ("add_facility unknown service", '{ op = "add_facility", service = "nosuch", facility_id = "N1", lon = 120.02, lat = -9.03, tier = "clinic" }', REFUSE),
        ("add_facility unknown tier", '{ op = "add_facility", service = "health", facility_id = "N1", lon = 120.02, lat = -9.03, tier = "nosuch_tier" }', REFUSE),
        ("add_facility lon 200", '{ op = "add_facility", service = "health", facility_id = "N1", lon = 200, lat = -9.03, tier = "clinic" }', REFUSE),
        ("add_facility lat nan", '{ op = "add_facility", service = "health", facility_id = "N1", lon = 120.02, lat = nan, tier = "clinic" }', REFUSE),
        ("add_facility far outside the region", '{ op = "add_facility", service = "health", facility_id = "N1", lon = 10, lat = 10, tier = "clinic" }', ANY),
        ("upgrade_facility unknown tier", '{ op = "upgrade_facility", service = "health", facility_id = "C1", tier = "nosuch_tier" }', REFUSE),
        ("vehicle_availability unknown service", '{ op = "vehicle_availability", service = "nosuch", share = 0.5 }', REFUSE),
        ("add_ferry duration inf", '{ op = "add_ferry", start = [120.001, -9.001], end = [120.03, -9.03], headway_min = 60, duration_min = inf }', REFUSE),
        ("add_ferry duration nan", '{ op = "add_ferry", start = [120.001, -9.001], end = [120.03, -9.03], headway_min = 60, duration_min = nan }', REFUSE),
        ("change_ferry headway -1", '{ op = "change_ferry", all = true, headway_min = -1 }', REFUSE),
        ("season share_of_year 2", '{ op = "season", name = "wet", share_of_year = 2 }', REFUSE),
        ("unknown op", '{ op = "teleport", service = "health" }', REFUSE),
    ]
    for name, op, expect in ops:
        tail = f'[[alternatives]]\nname = "alt"\noperations = [{op}]'
        cases.append(Case(cls, f"operation: {name}", run, expect, setup=_scn(tail=tail)))


def _not_a_cache(rel: str) -> Setup:
    """A folder that looks like a cache (files/, partial/, locks/) but is the user's."""

    def setup(w: World) -> None:
        folder = w.root / rel
        for sub in ("files", "partial", "locks"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / f"{sub}-of-the-user.dat").write_text("mine\n")
        (folder / "index.json").write_text('{"the user": true}\n')
        (folder / "diary.txt").write_text("dear diary\n")

    return setup


def _options_d(cases: list[Case]) -> None:
    """(d) Each command's options: boundary values and wrong types."""
    cls = CLASSES["d"]
    opt = ("optimize", "{scn}", "--candidates", "20")
    rows: list[tuple[str, tuple[str, ...], str]] = [
        ("optimize --sites 1 (control)", (*opt, "--sites", "1"), RUN),
        ("optimize --sites -1", (*opt, "--sites", "-1"), REFUSE),
        ("optimize --sites 0", (*opt, "--sites", "0"), REFUSE),
        ("optimize --sites 1000000", (*opt, "--sites", "1000000"), ANY),
        ("optimize --sites abc", (*opt, "--sites", "abc"), REFUSE),
        ("optimize --candidates -1", ("optimize", "{scn}", "--sites", "1", "--candidates", "-1"), REFUSE),
        ("optimize --candidates 0", ("optimize", "{scn}", "--sites", "1", "--candidates", "0"), REFUSE),
        ("optimize --budget -1 --cost 1", (*opt, "--budget", "-1", "--cost", "1"), REFUSE),
        ("optimize --budget nan --cost 1", (*opt, "--budget", "nan", "--cost", "1"), REFUSE),
        ("optimize --budget 10 (no --cost)", (*opt, "--budget", "10"), REFUSE),
        ("optimize --budget 10 --cost 0", (*opt, "--budget", "10", "--cost", "0"), REFUSE),
        ("optimize --budget 10 --cost -1", (*opt, "--budget", "10", "--cost", "-1"), REFUSE),
        ("optimize --budget 10 --cost 3 (control)", (*opt, "--sites", "2", "--budget", "10", "--cost", "3"), RUN),
        ("optimize --grid-step -1", (*opt, "--grid-step", "-1"), REFUSE),
        ("optimize --grid-step 1000000", (*opt, "--grid-step", "1000000"), ANY),
        ("optimize --threshold -5", (*opt, "--threshold", "-5"), REFUSE),
        ("optimize --threshold nan", (*opt, "--threshold", "nan"), REFUSE),
        ("optimize --threshold inf", (*opt, "--threshold", "inf"), REFUSE),
        ("optimize --tier ''", (*opt, "--tier", ""), REFUSE),
        ("optimize --service nosuch", (*opt, "--service", "nosuch"), REFUSE),
        ("capacity (control)", ("capacity", "{scn}"), RUN),
        ("capacity --threshold -5", ("capacity", "{scn}", "--threshold", "-5"), REFUSE),
        ("capacity --threshold nan", ("capacity", "{scn}", "--threshold", "nan"), REFUSE),
        ("capacity --threshold inf", ("capacity", "{scn}", "--threshold", "inf"), REFUSE),
        ("capacity --service nosuch", ("capacity", "{scn}", "--service", "nosuch"), REFUSE),
        ("equity (control)", ("equity", "{scn}"), RUN),
        ("access (control)", ("access", "{scn}"), RUN),
        ("access --service ANSI", ("access", "{scn}", "--service", "\x1b[31mx"), REFUSE),
        ("referral --tier clinic (control)", ("referral", "{scn}", "--tier", "clinic"), RUN),
        ("referral --tier hospital (region has none)", ("referral", "{scn}", "--tier", "hospital"), REFUSE),
        ("referral --tier ''", ("referral", "{scn}", "--tier", ""), REFUSE),
        ("report --lang id (control)", ("report", "{scn}", "--no-pdf", "--lang", "id"), RUN),
        ("report --lang xx", ("report", "{scn}", "--lang", "xx"), REFUSE),
        ("map (control)", ("map", "{scn}"), RUN),
        ("map --basemap http://", ("map", "{scn}", "--online", "--basemap", "http://t.example/{z}/{x}/{y}.png"), REFUSE),
        ("map --basemap javascript:", ("map", "{scn}", "--online", "--basemap", "javascript:alert(1)"), REFUSE),
        ("map --basemap https:// (control)", ("map", "{scn}", "--online", "--basemap", "https://t.example/{z}/{x}/{y}.png"), RUN),
        ("plan --by tiles (control)", ("plan", "{scn}", "--by", "tiles"), RUN),
        ("plan --tile-cells -1", ("plan", "{scn}", "--by", "tiles", "--tile-cells", "-1"), REFUSE),
        ("plan --tile-cells 0", ("plan", "{scn}", "--by", "tiles", "--tile-cells", "0"), REFUSE),
        ("plan --tile-cells 10**12", ("plan", "{scn}", "--by", "tiles", "--tile-cells", "1000000000000"), ANY),
        ("plan --by bogus", ("plan", "{scn}", "--by", "bogus"), REFUSE),
        ("plan --workers -1", ("plan", "{scn}", "--workers", "-1"), REFUSE),
        ("run --workers 0", ("run", "{scn}", "--no-maps", "--workers", "0"), REFUSE),
        ("run --workers abc", ("run", "{scn}", "--no-maps", "--workers", "abc"), REFUSE),
        ("run --workers 1 --by bogus", ("run", "{scn}", "--no-maps", "--workers", "1", "--by", "bogus"), REFUSE),
        ("run --scheduler closed local port", ("run", "{scn}", "--no-maps", "--scheduler", "tcp://127.0.0.1:9"), REFUSE),
        ("run --scheduler garbage", ("run", "{scn}", "--no-maps", "--scheduler", "not a scheduler"), REFUSE),
        ("demo --size -1", ("demo", "--out", "demo", "--size", "-1"), REFUSE),
        ("demo --size abc", ("demo", "--out", "demo", "--size", "abc"), REFUSE),
        ("demo --size 10**12", ("demo", "--out", "demo", "--size", "1000000000000"), REFUSE),
        ("demo --seed abc", ("demo", "--out", "demo", "--seed", "abc"), REFUSE),
        ("fetch --year -1", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--out", "f", "--year", "-1"), REFUSE),
        ("fetch --admin-level -1", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--out", "f", "--admin-level", "-1"), REFUSE),
        ("fetch --margin-km nan", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--out", "f", "--margin-km", "nan"), REFUSE),
        ("fetch box 200,0,210,10", ("fetch", "200,0,210,10", "--offline", "--out", "f"), REFUSE),
        ("fetch box 1,2,3", ("fetch", "1,2,3", "--offline", "--out", "f"), REFUSE),
        ("fetch --pbf-url file:///etc/passwd", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--out", "f", "--pbf-url", "file:///etc/passwd"), REFUSE),
        ("cache bogus", ("cache", "bogus"), REFUSE),
        ("cache info --cache-dir fresh (control)", ("cache", "info", "--cache-dir", "{root}/fresh-cache"), RUN),
        ("cache info --cache-dir existing file", ("cache", "info", "--cache-dir", "report.txt"), REFUSE),
    ]
    for name, argv, expect in rows:
        check = _no_control if "ANSI" in name else None
        cases.append(Case(cls, name, argv, expect, check=check))
    not_cache = _not_a_cache("proj/mycache")
    for action in ("clear", "info"):
        cases.append(Case(cls, f"cache {action} --cache-dir non-cache folder", ("cache", action, "--cache-dir", "mycache"), REFUSE, setup=not_cache))
    cases.append(Case(cls, "cache clear --cache-dir HOME", ("cache", "clear", "--cache-dir", "{home}"), REFUSE, setup=_not_a_cache("home")))
    cases.append(Case(cls, "cache clear --cache-dir symlink to outside", ("cache", "clear", "--cache-dir", "link_out"), REFUSE, setup=_not_a_cache("victim")))
    cases.append(Case(cls, "cache clear: $REACH_CACHE_DIR non-cache", ("cache", "clear"), REFUSE, setup=not_cache, env={"REACH_CACHE_DIR": "{proj}/mycache"}))
    cases.append(Case(cls, "cache clear: default ~/.cache/reach non-cache", ("cache", "clear"), REFUSE, setup=_not_a_cache("home/.cache/reach"), env={"REACH_CACHE_DIR": None}))
    cases.append(Case(cls, "fetch --cache-dir non-cache folder", ("fetch", "120.0,-9.04,120.04,-9.0", "--offline", "--out", "f", "--cache-dir", "mycache"), REFUSE, setup=not_cache))


def _environment_e(cases: list[Case]) -> None:
    """(e) Environment variables, and faults: read-only folders, a full disk, a size limit."""
    cls = CLASSES["e"]
    run = ("run", "{scn}", "--no-maps")
    for value, expect in [("abc", REFUSE), ("inf", REFUSE), ("nan", REFUSE), ("-1", REFUSE), ("0", REFUSE), ("1e-9", REFUSE), ("1000", RUN)]:
        cases.append(Case(cls, f"REACH_MEMORY_GB={value}", run, expect, env={"REACH_MEMORY_GB": value}))
    for value in ("0", "abc", "-1", "100000"):
        cases.append(Case(cls, f"REACH_THREADS={value}", run, ANY, env={"REACH_THREADS": value}))
    cases.append(Case(cls, "REACH_DATA nowhere, unused", run, RUN, env={"REACH_DATA": "{root}/nowhere"}))
    cases.append(Case(cls, "REACH_DATA nowhere, used", run, REFUSE, env={"REACH_DATA": "{root}/nowhere"}, setup=_scn(population='"${REACH_DATA}/population.tif"')))
    cases.append(Case(cls, "REACH_CACHE_DIR is a file", ("cache", "info"), REFUSE, env={"REACH_CACHE_DIR": "{proj}/report.txt"}))
    cases.append(Case(cls, "SOURCE_DATE_EPOCH=abc (map)", ("map", "{scn}"), ANY, env={"SOURCE_DATE_EPOCH": "abc"}))
    cases.append(Case(cls, "HOME unset", run, RUN, env={"HOME": None}))
    cases.append(Case(cls, "read-only output parent", ("run", "{scn}", "--no-maps", "--out", "ro/out"), REFUSE, setup=lambda w: (w.proj / "ro").mkdir(), faults={"readonly": ["{proj}/ro"]}))
    cases.append(Case(cls, "disk full writing coverage.csv, previous run kept", run, REFUSE, prep=(run,), faults={"enospc": ["coverage.csv"]}, check=_previous_kept))
    cases.append(Case(cls, "disk full writing manifest.json", run, REFUSE, faults={"enospc": ["manifest.json"]}))
    cases.append(Case(cls, "file-size limit 20 kB", ("run", "{scn}"), REFUSE, faults={"fsize": 20000}))


def _previous_kept(result: dict[str, Any]) -> str | None:
    path = Path(result["world"]) / "proj" / "results" / "coverage.csv"
    if not path.is_file():
        return "a failed run did not keep the previous outputs"
    return None


def _ansi_facility(w: World) -> None:
    (w.region / "clinics.csv").write_text(
        "facility_id,name,tier,lon,lat\n"
        "C1,\x1b[31mBarat\x1b]0;pwned\x07,clinic,120.0025,-9.0205\n"
        "C2,Timur,clinic,120.0375,-9.0305\n"
    )


def _terminal_f(cases: list[Case]) -> None:
    """(f) The terminal: a full or closed standard output, an ASCII-only terminal."""
    cls = CLASSES["f"]
    run = ("run", "{scn}", "--no-maps")
    accents = _scn(name='"Pulau Ñusa — ≤ zone"')
    cases += [
        Case(cls, "run, stdout /dev/full", run, ANY, mode="proc", stdout="devfull"),
        Case(cls, "plan, stdout /dev/full", ("plan", "{scn}"), ANY, mode="proc", stdout="devfull"),
        Case(cls, "cache info, stdout /dev/full", ("cache", "info"), ANY, mode="proc", stdout="devfull"),
        Case(cls, "bad scenario, stdout /dev/full", ("run", "{scn_dir}/missing.toml"), REFUSE, mode="proc", stdout="devfull"),
        Case(cls, "run, stdout closed (| head -c1)", run, ANY, mode="proc", stdout="closed"),
        Case(cls, "equity, stdout closed (| head -c1)", ("equity", "{scn}"), ANY, mode="proc", stdout="closed"),
        Case(cls, "run, PYTHONIOENCODING=ascii, non-ASCII names", run, RUN, mode="proc", env={"PYTHONIOENCODING": "ascii"}, setup=accents),
        Case(cls, "bad non-ASCII path, PYTHONIOENCODING=ascii", ("run", "{scn_dir}/café.toml"), REFUSE, mode="proc", env={"PYTHONIOENCODING": "ascii"}),
        Case(cls, "facility name with ANSI escapes (capacity)", ("capacity", "{scn}"), RUN, check=_no_control, setup=_ansi_facility),
    ]


def _kill_g(cases: list[Case]) -> None:
    """(g) A run killed at each step of its output-folder swap; the next run must recover."""
    cls = CLASSES["g"]
    run = ("run", "{scn}", "--no-maps")
    for sig in (signal.SIGKILL, signal.SIGTERM):
        for n in range(1, 7):
            cases.append(Case(cls, f"{sig.name} at swap step {n}, then rerun", run, RUN, prep=(run,), kill=(int(sig), n)))


# fmt: on
def build_cases() -> list[Case]:
    """The whole corpus, in a fixed order."""
    cases: list[Case] = []
    for part in (
        _outputs_a,
        _inputs_b,
        _values_c,
        _options_d,
        _environment_e,
        _terminal_f,
        _kill_g,
    ):
        part(cases)
    names = [c.label for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, dupes
    return cases


# --- the sandbox in the child ----------------------------------------------------------------

_VIOLATIONS: list[dict[str, str]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost", "0.0.0.0", ""}


def _install_sandbox(cfg: Mapping[str, Any]) -> None:
    """Make everything outside ``cfg['root']`` read-only and the network local-only.

    Also injects the case's faults and its kill. Python-level operations only (an audit hook).
    """
    root = cfg["root"]
    readonly = [str(p) for p in cfg.get("readonly", ())]
    enospc = set(cfg.get("enospc", ()))
    kill = cfg.get("kill")  # [signal, n, parent folder, name]
    state = {"busy": False, "steps": 0}

    def under(p: str, folder: str) -> bool:
        return p == folder or p.startswith(folder.rstrip("/") + "/")

    def where(path: Any, dir_fd: Any = None, *, follow: bool = True) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        if "\x00" in text:
            return None
        fd_dir = isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(text)
        base = os.readlink(f"/proc/self/fd/{dir_fd}") if fd_dir else os.getcwd()
        full = os.path.join(base, text)
        if follow:
            return os.path.realpath(full)
        head, tail = os.path.split(os.path.normpath(full))
        return os.path.join(os.path.realpath(head), tail)

    def allowed(p: str) -> bool:
        return under(p, root) or p.startswith(("/dev/", "/proc/")) or "__pycache__" in p.split("/")

    def refuse(event: str, p: str, kind: str) -> None:
        _VIOLATIONS.append({"kind": kind, "event": event, "path": p})
        raise PermissionError(errno.EACCES, f"[hostile-corpus sandbox] {event} outside {root}", p)

    def guard(event: str, p: str | None, destructive: bool) -> None:
        if p is None:
            return
        if any(under(p, ro) for ro in readonly):
            raise PermissionError(errno.EACCES, "Permission denied (read-only, injected)", p)
        if not allowed(p):
            refuse(event, p, "lost" if destructive else "outside")

    def swap_step(event: str, *paths: str | None) -> None:
        if not kill:
            return
        sig, n, parent, name = kill
        if not any(
            p and os.path.dirname(p) == parent and name in os.path.basename(p) for p in paths
        ):
            return
        state["steps"] += 1
        if state["steps"] == n:
            Path(root, "tmp", ".hostile-killed").write_text(f"{event} {paths}\n")
            os.kill(os.getpid(), sig)

    def check(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if not writing:
                return
            p = where(path)
            if p is None:
                return
            if enospc and os.path.basename(p) in enospc:
                raise OSError(errno.ENOSPC, "No space left on device (injected)", p)
            guard(event, p, os.path.lexists(p))
        elif event in ("os.remove", "os.rmdir", "shutil.rmtree"):
            p = where(args[0], args[1] if len(args) > 1 else None, follow=False)
            guard(event, p, True)
            swap_step(event, p)
        elif event == "os.rename":
            src = where(args[0], args[2], follow=False)
            dst = where(args[1], args[3], follow=False)
            guard(event, src, True)
            guard(event, dst, dst is not None and os.path.lexists(dst))
            swap_step(event, src, dst)
        elif event == "os.mkdir":
            p = where(args[0], args[2], follow=False)
            guard(event, p, False)
            swap_step(event, p)
        elif event in ("os.symlink", "os.link"):
            guard(event, where(args[1], follow=False), False)
        elif event == "os.truncate":
            guard(event, where(args[0]), True)
        elif event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and str(address[0]) not in _LOCAL_HOSTS:
                _VIOLATIONS.append({"kind": "network", "event": event, "path": str(address)})
                raise OSError(errno.ENETUNREACH, "network is off in the hostile corpus")
        elif event == "socket.getaddrinfo":
            host = args[0]
            host = host.decode() if isinstance(host, bytes) else host
            if host is not None and str(host) not in _LOCAL_HOSTS:
                _VIOLATIONS.append({"kind": "network", "event": event, "path": str(host)})
                raise OSError(errno.ENETUNREACH, "network is off in the hostile corpus")

    watched = {
        "open", "os.remove", "os.rmdir", "shutil.rmtree", "os.rename", "os.mkdir", "os.symlink",
        "os.link", "os.truncate", "socket.connect", "socket.getaddrinfo",
    }  # fmt: skip

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched or state["busy"]:
            return
        state["busy"] = True
        try:
            check(event, args)
        finally:
            state["busy"] = False

    sys.addaudithook(hook)


def _child_env(case: Case, w: World) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REACH_", "XDG_"))}
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        env.pop(k, None)
    env.update({
        "HOME": str(w.home), "TMPDIR": str(w.root / "tmp"), "REACH_DATA": str(w.root / "data"),
        "REACH_CACHE_DIR": str(w.root / "cache"), "SOURCE_DATE_EPOCH": "1700000000",
        "MPLCONFIGDIR": str(w.home / ".config" / "matplotlib"), "PYTHONHASHSEED": "0",
        "COLUMNS": "120", "TERM": "dumb", "NO_COLOR": "1",
    })  # fmt: skip
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = w.fill(value)
    return env


def _sandbox_cfg(
    case: Case, w: World, kill: tuple[int, int] | None, *, faults: bool = True
) -> dict[str, Any]:
    chosen = case.faults if faults else {}
    cfg: dict[str, Any] = {
        "root": str(w.root),
        "readonly": [w.fill(p) for p in chosen.get("readonly", ())],
        "enospc": list(chosen.get("enospc", ())),
    }
    if kill:
        cfg["kill"] = [kill[0], kill[1], str(w.proj), "results"]
    return cfg


def _limits(case: Case, *, faults: bool = True) -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    if faults and "fsize" in case.faults:
        size = int(case.faults["fsize"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _trim(text: str, keep: int = 10000) -> str:
    return text if len(text) <= 2 * keep else text[:keep] + "\n…\n" + text[-keep:]


def _invoke_cli(
    case: Case, w: World, argv: list[str], kill: tuple[int, int] | None, *, faults: bool = True
) -> dict[str, Any]:
    """Run ``argv`` through ``CliRunner`` in a forked child; wait at most the case's timeout."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_fd)
            os.setpgrp()
            os.environ.clear()
            os.environ.update(_child_env(case, w))
            tempfile.tempdir = str(w.root / "tmp")
            os.chdir(w.root / case.cwd)
            _limits(case, faults=faults)
            _install_sandbox(_sandbox_cfg(case, w, kill, faults=faults))
            from typer.testing import CliRunner

            from reach.cli import app

            result = CliRunner().invoke(app, ["--quiet", *argv])
            err = result.stderr
            exc = result.exception
            if exc is not None and not isinstance(exc, SystemExit):
                err += "\nTraceback (escaped the command):\n" + "".join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__)
                )
            payload = {"code": result.exit_code, "out": result.stdout, "err": err}
        except BaseException as exc:  # reported, whatever it is
            payload = {"code": None, "out": "", "err": "Traceback (harness child):\n" + repr(exc)}
            code = 1
        payload["violations"] = _VIOLATIONS
        payload = {k: _trim(v) if isinstance(v, str) else v for k, v in payload.items()}
        data = json.dumps(payload).encode()
        with contextlib.suppress(BaseException):
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view) :]
        os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + case.timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    status = None
    grace = time.monotonic() + (0 if timed_out else 10)
    while status is None and time.monotonic() < grace:
        done, st = os.waitpid(pid, os.WNOHANG)
        status = st if done else None
        if status is None:
            time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # the child's own group: a hang, or stray workers
    if status is None:
        _, status = os.waitpid(pid, 0)
    result: dict[str, Any] = {"code": None, "out": "", "err": "", "violations": []}
    payload = None
    with contextlib.suppress(ValueError):
        payload = json.loads(b"".join(chunks))
    if isinstance(payload, dict):
        result.update(payload)
    result["timed_out"] = timed_out
    died = os.WIFSIGNALED(status) and payload is None and not timed_out
    result["signal"] = os.WTERMSIG(status) if died else None
    return result


_BOOT = (
    "import sys; sys.path.insert(0, {repo!r}); "
    "from tests.hostile_corpus import sandboxed_main; sandboxed_main()"
)


def sandboxed_main() -> None:
    """Entry point of a fresh interpreter (terminal cases): the sandbox, then ``reach``."""
    cfg = json.loads(os.environ.pop("HOSTILE_SANDBOX"))
    _install_sandbox(cfg)
    report = Path(cfg["root"], "tmp", ".hostile-violations.json")
    sys.argv = ["reach", "--quiet", *sys.argv[1:]]
    from reach.cli import main

    try:
        main()
    finally:
        report.write_text(json.dumps(_VIOLATIONS))


def _invoke_proc(case: Case, w: World, argv: list[str]) -> dict[str, Any]:
    """Run ``argv`` in a fresh interpreter (real terminal streams)."""
    env = _child_env(case, w)
    env["HOSTILE_SANDBOX"] = json.dumps(_sandbox_cfg(case, w, None))
    cmd = [sys.executable, "-c", _BOOT.format(repo=str(REPO)), *argv]
    out_target: Any = subprocess.PIPE
    devfull = None
    if case.stdout == "devfull":
        devfull = Path("/dev/full").open("w")  # noqa: SIM115 - closed below
        out_target = devfull
    proc = subprocess.Popen(
        cmd, cwd=w.root / case.cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_target,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    if devfull is not None:
        devfull.close()
    timed_out = False
    out = b""
    try:
        if case.stdout == "closed":
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], case.timeout)
            out = proc.stdout.read(1) if ready else b""
            proc.stdout.close()
            proc.stdout = None
        out2, err = proc.communicate(timeout=case.timeout)
        out += out2 or b""
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out2, err = proc.communicate()
        out += out2 or b""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    report = w.root / "tmp" / ".hostile-violations.json"
    violations = json.loads(report.read_text()) if report.is_file() else []
    code = proc.returncode
    return {
        "code": code if code is not None and code >= 0 else None,
        "signal": -code if code is not None and code < 0 and not timed_out else None,
        "out": _trim(out.decode("utf-8", "replace")), "err": _trim(err.decode("utf-8", "replace")),
        "timed_out": timed_out, "violations": violations,
    }  # fmt: skip


# --- snapshots and checks --------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (but the unwatched folders): path → kind and content hash."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        for name in [*dirnames, *filenames]:
            rel = rel_dir + name
            if rel.startswith(UNWATCHED) or "__pycache__" in rel:
                continue
            path = Path(dirpath, name)
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                found[rel] = "link:" + os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = "dir"
            elif stat.S_ISREG(st.st_mode):
                try:
                    found[rel] = "file:" + _sha256(path)
                except OSError as exc:
                    found[rel] = f"unreadable:{exc.errno}"
            else:
                found[rel] = f"special:{stat.S_IFMT(st.st_mode)}"
        dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
    return found


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 + 1e-6 * max(abs(a), abs(b))


def check_coverage(path: Path, total: float | None) -> str | None:
    """The README's sums on one ``coverage.csv``; ``None`` when they hold."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return f"{path.name} is empty"
    beyond = [c for c in rows[0] if re.fullmatch(r"reached_beyond_.+min", c)]
    if len(beyond) != 1:
        return f"{path.name}: no single reached_beyond_<T>min column"
    tmax = beyond[0][len("reached_beyond_") : -len("min")]
    within = f"within_{tmax}min"
    by_service: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_service.setdefault(row.get("service", ""), []).append(row)
    for svc, part in by_service.items():
        for row in part:
            pop = _float(row.get("population"))
            parts = (
                _float(row.get(within))
                + _float(row.get(beyond[0]))
                + _float(row.get("unreachable_total"))
            )
            if not _close(parts, pop):
                return f"{path.name} {svc}/{row.get('zone_id')}: {within} + beyond + unreachable = {parts} != population {pop}"
        alls = [r for r in part if r.get("zone_id") == "(all)"]
        if len(alls) != 1:
            return f"{path.name} {svc}: no single (all) row"
        everyone = _float(alls[0].get("population"))
        zones = sum(_float(r.get("population")) for r in part if r.get("zone_id") != "(all)")
        if not _close(zones, everyone):
            return f"{path.name} {svc}: zone rows + (outside zones) = {zones} != (all) {everyone}"
        if total is not None and not _close(everyone, total):
            return f"{path.name} {svc}: (all) population {everyone} != the raster's {total}"
    return None


def _is_litter(rel: str) -> bool:
    return any(LITTER.search(part) for part in rel.split("/"))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith(("Usage:", "Try '")):
            return line.strip().strip("│╭╰─ ").strip()[:200]
    return ""


def _error_lines(err: str) -> list[str]:
    return [
        line for line in err.splitlines()
        if line.strip() and not re.match(r"(?i)^(warning\b|\S+warning:)", line.strip())
    ]  # fmt: skip


# --- one case --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one case did."""

    case: Case
    kind: str  # refused, run, other, internal
    reasons: list[str]
    lost: list[str]
    litter: list[str]
    code: int | None
    first_line: str
    seconds: float = 0.0

    @property
    def bad(self) -> bool:
        return self.kind in ("internal", "other") or bool(self.lost) or bool(self.litter)


def _prepare(case: Case, base: Path, template: Path) -> World:
    root = Path(
        tempfile.mkdtemp(prefix=f"{re.sub(r'[^a-z0-9]+', '-', case.name.lower())[:40]}-", dir=base)
    )
    shutil.copytree(template, root, symlinks=True, dirs_exist_ok=True)
    w = World(root)
    if case.setup is not None:
        case.setup(w)
    return w


def _argv(case: Case, w: World) -> list[str]:
    return [w.fill(a) for a in case.argv]


def run_case(case: Case, base: Path, template: Path, *, keep: bool = False) -> Outcome:
    """Build the case's world, run it, and judge what it did."""
    start = time.monotonic()
    w = _prepare(case, base, template)
    user_files = snapshot(w.root)
    reasons: list[str] = []
    for prep in case.prep:
        res = _invoke_cli(case, w, [w.fill(a) for a in prep], None, faults=False)
        if res.get("code") != 0:
            reasons.append(
                f"preparation `{' '.join(prep)}` failed: {_first_line(res.get('err', ''))}"
            )
    before = snapshot(w.root)
    if case.mode == "proc":
        result = _invoke_proc(case, w, _argv(case, w))
    else:
        result = _invoke_cli(case, w, _argv(case, w), case.kill)
    killed = case.kill is not None and (w.root / "tmp" / ".hostile-killed").is_file()
    kill_note = ""
    if case.kill is not None:
        if not killed:
            kill_note = " (the swap has fewer steps: no kill)"
        after_kill = (w.proj / "results" / "coverage.csv").is_file()
        first = result
        result = _invoke_cli(case, w, _argv(case, w), None)  # the next run must recover
        result["violations"] = first.get("violations", []) + result.get("violations", [])
        if killed and not after_kill and result.get("code") != 0:
            reasons.append("the kill left no output folder and the next run did not recover")
    result["world"] = str(w.root)
    after = snapshot(w.root)
    outcome = judge(case, result, user_files, before, after, w, reasons)
    outcome.reasons = [r + kill_note for r in outcome.reasons] if kill_note else outcome.reasons
    outcome.seconds = time.monotonic() - start
    if not keep:
        with contextlib.suppress(OSError):
            _make_removable(w.root)
            shutil.rmtree(w.root)
    return outcome


def _make_removable(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            if not p.is_symlink():
                with contextlib.suppress(OSError):
                    p.chmod(0o755)


def judge(
    case: Case,
    result: dict[str, Any],
    user_files: Mapping[str, str],
    before: Mapping[str, str],
    after: Mapping[str, str],
    w: World,
    reasons: list[str],
) -> Outcome:
    """Classify one result (see the module docstring)."""
    code = result.get("code")
    out, err = result.get("out", "") or "", result.get("err", "") or ""
    text = out + "\n" + err
    lost = [p for p, v in user_files.items() if after.get(p) != v]
    violations = result.get("violations", [])
    lost += [
        f"(outside the sandbox) {v['event']} {v['path']}" for v in violations if v["kind"] == "lost"
    ]
    new = [
        p
        for p in after
        if p not in before
        and not p.startswith(UNWATCHED)
        and not Path(p).name.startswith(".hostile-")
    ]
    litter = [p for p in new if _is_litter(p)]
    if case.kill is not None:
        litter = sorted({*litter, *(p for p in after if _is_litter(p))})
    litter += [
        f"(outside the sandbox) {v['event']} {v['path']}"
        for v in violations
        if v["kind"] == "outside"
    ]
    reasons += [f"network: {v['event']} {v['path']}" for v in violations if v["kind"] == "network"]
    first = f"stderr: {_first_line(err)}" if _first_line(err) else f"stdout: {_first_line(out)}"
    sig = result.get("signal")
    # a closed pipe may end the command as it ends `head`: SIGPIPE, or exit 141 (128 + 13)
    ok_sig = case.stdout == "closed" and (sig == signal.SIGPIPE or code == 141)
    if result.get("timed_out"):
        kind = "internal"
        reasons.insert(0, f"hang: no answer in {case.timeout:g} s")
    elif sig and not ok_sig:
        kind = "internal"
        reasons.insert(0, f"crash: killed by signal {sig}")
    elif code == 1 or "internal error" in text.lower() or "Traceback" in text:
        kind = "internal"
    elif code in (2, 3):
        lines = _error_lines(err)
        if len(lines) != 1 or not lines[0].startswith("error:"):
            kind = "other"
            reasons.append(f"refusal is not one `error:` line ({len(lines)} lines)")
        elif case.expect == RUN:
            kind = "other"
            reasons.append("a valid case was refused")
        else:
            kind = "refused"
        # a refusal leaves nothing behind (but a complete run whose printing failed may stay)
        if (
            (kind == "refused" or case.expect != RUN)
            and case.kill is None
            and case.stdout == "capture"
        ):
            litter += [p for p in new if p not in litter]
    elif code == 0 or ok_sig:
        kind = "run"
        if case.expect == REFUSE:
            kind = "other"
            reasons.append("accepted (exit 0) where a refusal belongs")
        total = _TOTALS.get(case.total, 0.0) if isinstance(case.total, str) else case.total
        for rel in sorted(
            p for p in after if Path(p).name == "coverage.csv" and after[p] != before.get(p)
        ):
            problem = check_coverage(w.root / rel, total if isinstance(total, float) else None)
            if problem:
                kind = "other"
                reasons.append(f"coverage does not add up: {problem}")
    else:
        kind = "other"
        reasons.append(f"exit code {code}")
    if case.check is not None and kind in ("run", "refused", "other"):
        problem = case.check({**result, "out": out, "err": err})
        if problem:
            if kind != "other":
                kind = "other"
            reasons.append(problem)
    if reasons and kind in ("run", "refused"):
        kind = "other"

    def plain(text: str) -> str:  # the same words on every run: no temporary folder names
        return text.replace(str(w.root), "<case>").replace(str(w.root.parent), "<corpus>")

    return Outcome(
        case,
        kind,
        [plain(r) for r in reasons],
        sorted(plain(p) for p in lost),
        sorted({plain(p) for p in litter}),
        code,
        plain(first),
    )


# --- the whole corpus ------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _worker(index: int) -> dict[str, Any]:
    case = _STATE["cases"][index]
    try:
        o = run_case(case, _STATE["base"], _STATE["template"], keep=_STATE["keep"])
    except Exception as exc:  # a bug of the corpus itself: reported, the others still run
        reason = f"harness error: {type(exc).__name__}: {str(exc)[:200]}"
        o = Outcome(case, "other", [reason], [], [], None, "")
    return {k: v for k, v in vars(o).items() if k != "case"}


def _warm_up(template: Path, base: Path) -> None:
    """Import reach and run the tiny region once, so every forked child starts warm."""
    import importlib

    for mod in (
        "typer.testing", "reach.cli", "reach.run", "reach.spec", "reach.run.region",
        "reach.run.analyses", "reach.outputs.maps", "reach.outputs.report", "reach.fetch",
        "reach.demo", "reach.partition", "weasyprint",
    ):  # fmt: skip
        with contextlib.suppress(Exception):
            importlib.import_module(mod)
    from typer.testing import CliRunner

    from reach.cli import app

    folder = Path(tempfile.mkdtemp(prefix="warm-", dir=base))
    shutil.copytree(template, folder, symlinks=True, dirs_exist_ok=True)
    cwd = Path.cwd()
    saved = dict(os.environ)
    try:
        os.environ["REACH_DATA"] = str(folder / "data")
        os.environ["REACH_CACHE_DIR"] = str(folder / "cache")
        os.chdir(folder / "proj")
        scn = str(World(folder).scn)
        for argv in (["run", scn], ["capacity", scn], ["report", scn, "--no-pdf"]):
            CliRunner().invoke(app, ["--quiet", *argv])
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Report:
    """The outcomes of a corpus run, in case order."""

    outcomes: list[Outcome]
    seconds: float

    @property
    def internal(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == "internal"]

    @property
    def lost(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.lost]


def run_corpus(
    *, jobs: int = 2, select_text: str = "", keep: bool = False, base: Path | None = None
) -> Report:
    """Run the corpus (``jobs`` cases at a time) and return the outcomes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    start = time.monotonic()
    cases = [c for c in build_cases() if select_text.lower() in (c.cls + " " + c.name).lower()]
    base = Path(tempfile.mkdtemp(prefix="reach-hostile-", dir=base)).resolve()
    template = base / "template"
    build_template(template)
    _warm_up(template, base)
    _STATE.update(cases=cases, base=base, template=template, keep=keep)
    try:
        if jobs <= 1:
            raw = [_worker(i) for i in range(len(cases))]
        else:
            with ProcessPoolExecutor(jobs, mp_context=get_context("fork")) as pool:
                raw = list(pool.map(_worker, range(len(cases))))
        outcomes = [Outcome(case=c, **r) for c, r in zip(cases, raw, strict=True)]
    finally:
        if not keep:
            _make_removable(base)
            shutil.rmtree(base, ignore_errors=True)
    return Report(outcomes, time.monotonic() - start)


COLUMNS = (
    "tried",
    "refused clearly",
    "run and conserved",
    "other",
    "internal errors",
    "files lost",
    "litter",
)


def counts(report: Report) -> dict[str, dict[str, int]]:
    """Per class (and in all): the table's counts."""
    table: dict[str, dict[str, int]] = {}
    for o in report.outcomes:
        for key in (o.case.cls, "all"):
            row = table.setdefault(key, dict.fromkeys(COLUMNS, 0))
            row["tried"] += 1
            row[
                {
                    "refused": "refused clearly",
                    "run": "run and conserved",
                    "other": "other",
                    "internal": "internal errors",
                }[o.kind]
            ] += 1
            row["files lost"] += bool(o.lost)
            row["litter"] += bool(o.litter)
    return {k: table[k] for k in [*sorted(k for k in table if k != "all"), "all"] if k in table}


def format_report(report: Report, *, timing: bool = False) -> str:
    """The counts table, then every bad case: internal errors and files lost first."""
    width = max(len(c) for c in ("class", *CLASSES.values(), "all"))
    lines = ["class".ljust(width) + " | " + " | ".join(COLUMNS)]
    lines.append("-" * len(lines[0]))
    for cls, row in counts(report).items():
        cells = [str(row[c]).rjust(len(c)) for c in COLUMNS]
        lines.append(cls.ljust(width) + " | " + " | ".join(cells))

    def describe(o: Outcome) -> str:
        tags = []
        if o.kind in ("internal", "other"):
            tags.append(o.kind)
        if o.lost:
            tags.append(f"LOST {', '.join(o.lost[:3])}{' …' if len(o.lost) > 3 else ''}")
        if o.litter:
            tags.append(f"litter {', '.join(o.litter[:2])}{' …' if len(o.litter) > 2 else ''}")
        why = "; ".join(o.reasons)
        return (
            f"{o.case.label}: {o.case.command()}\n    exit {o.code} [{' | '.join(tags)}]"
            f"{' ' + why if why else ''}\n    {o.first_line}"
        )

    worst = [o for o in report.outcomes if o.kind == "internal" or o.lost]
    rest = [o for o in report.outcomes if o.bad and o not in worst]
    lines.append("")
    lines.append(f"internal errors or files lost ({len(worst)}):")
    lines += [describe(o) for o in worst] or ["  none"]
    lines.append("")
    lines.append(f"other findings: unclear refusals, accepted, litter ({len(rest)}):")
    lines += [describe(o) for o in rest] or ["  none"]
    if timing:
        slow = sorted(report.outcomes, key=lambda o: -o.seconds)[:15]
        lines.append("\nslowest: " + ", ".join(f"{o.case.label} {o.seconds:.1f}s" for o in slow))
        lines.append(f"{len(report.outcomes)} cases in {report.seconds:.0f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-k", default="", help="only the cases whose class or name holds this")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the case folders")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--time", action="store_true", help="print the wall time at the end")
    args = parser.parse_args(argv)
    if args.list:
        for c in build_cases():
            if args.k.lower() in (c.cls + " " + c.name).lower():
                print(f"{c.label}: {c.command()}  (expect {c.expect})")
        return 0
    report = run_corpus(jobs=args.jobs, select_text=args.k, keep=args.keep)
    print(format_report(report, timing=args.time))
    return 1 if report.internal or report.lost else 0


if __name__ == "__main__":
    sys.exit(main())
