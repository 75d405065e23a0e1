"""What a scenario file controls is bounded and checked at the door, with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reach.errors import ScenarioError
from reach.settings import available_memory_bytes
from reach.spec import (
    MAX_ALTERNATIVES,
    MAX_EXTENDS_DEPTH,
    MAX_THRESHOLDS,
    load_scenario,
    parse_scenario,
)
from tests.helpers import SCENARIO, write_tiny_region

ADD = (
    '{{ op = "add_facility", service = "health", facility_id = "N{i}", lon = 120.01, '
    'lat = -9.02, tier = "{tier}" }}'
)


def _alternatives(n: int, *, tier: str = "clinic") -> str:
    return "".join(
        f'\n[[alternatives]]\nname = "a{i}"\noperations = [{ADD.format(i=i, tier=tier)}]\n'
        for i in range(n)
    )


def _refused(text: str, match: str, tmp_path: Path) -> str:
    with pytest.raises(ScenarioError, match=match) as info:
        parse_scenario(text, path=tmp_path / "s.toml")
    line = info.value.one_line()
    assert "\n" not in line and "fix:" in line
    return line


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ("thresholds_min = [5, 15, 30]", "finite"),
        ("thresholds_min = [5, 15, nan]", "finite"),
        ("thresholds_min = [5, 15, -1]", "positive"),
        ("thresholds_min = [5, 15, 0]", "positive"),
        ('thresholds_min = [5, 15, "soon"]', "thresholds_min"),
    ],
)
def test_bad_thresholds(tmp_path: Path, edit: str, match: str) -> None:
    bad = edit.replace("[5, 15, 30]", "[5, 15, inf]")
    _refused(SCENARIO.replace("thresholds_min = [5, 15, 30]", bad), match, tmp_path)


def test_a_thousand_thresholds_are_refused(tmp_path: Path) -> None:
    many = ", ".join(str(i) for i in range(1, 1001))
    text = SCENARIO.replace("[5, 15, 30]", f"[{many}]")
    _refused(text, f"at most {MAX_THRESHOLDS}", tmp_path)


def test_alternatives_are_bounded(tmp_path: Path) -> None:
    _refused(SCENARIO + _alternatives(MAX_ALTERNATIVES + 1), "at most", tmp_path)
    ok = parse_scenario(SCENARIO + _alternatives(3), path=tmp_path / "s.toml")
    assert len(ok.alternatives) == 3


def test_an_operation_tier_the_files_would_refuse(tmp_path: Path) -> None:
    _refused(SCENARIO + _alternatives(1, tier="castle"), "tier 'castle'", tmp_path)


def test_an_operation_on_a_service_that_does_not_exist(tmp_path: Path) -> None:
    text = SCENARIO + _alternatives(1).replace('service = "health"', 'service = "helth"')
    _refused(text, "'helth'", tmp_path)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_infinite_or_nan_numbers_anywhere(tmp_path: Path, value: str) -> None:
    ferry = (
        '\n[[alternatives]]\nname = "f"\noperations = [{ op = "add_ferry", start = [120.0, -9.0],'
        f" end = [120.03, -9.03], headway_min = 60, duration_min = {value} }}]\n"
    )
    _refused(SCENARIO + ferry, "finite|greater", tmp_path)
    grid = SCENARIO.replace("[outputs]", f"[grid]\nmax_travel_time_min = {value}\n[outputs]")
    if value == "inf":  # no time limit: allowed
        assert parse_scenario(grid).grid.max_travel_time_min == float("inf")
    else:
        _refused(grid, "finite|greater", tmp_path)


def test_deeply_nested_toml_is_refused(tmp_path: Path) -> None:
    text = SCENARIO + "x = " + "[" * 5000 + "]" * 5000 + "\n"
    _refused(text, "nested too deeply", tmp_path)


def test_an_extends_chain_is_bounded(tmp_path: Path) -> None:
    write_tiny_region(tmp_path)
    (tmp_path / "s0.toml").write_text(SCENARIO)
    for i in range(1, MAX_EXTENDS_DEPTH + 3):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i - 1}.toml"\n')
    assert load_scenario(tmp_path / "s3.toml").services[0].name == "health"
    with pytest.raises(ScenarioError, match="extends chains more than"):
        load_scenario(tmp_path / f"s{MAX_EXTENDS_DEPTH + 2}.toml")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Tiny\x1b[31m red", "control character"),
        ("x" * 5000, "at most 200"),
    ],
)
def test_names_with_escapes_or_too_long(tmp_path: Path, name: str, match: str) -> None:
    escaped = name.replace("\x1b", "\\u001b")
    _refused(SCENARIO.replace('name = "Tiny"', f'name = "{escaped}"'), match, tmp_path)


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("pop\\u0000.tif", "NUL or control"),
        ("p" * 5000 + ".tif", "too long"),
        ("/vsicurl/http://127.0.0.1/x.tif", "URL"),
    ],
)
def test_bad_path_texts(tmp_path: Path, path: str, match: str) -> None:
    text = SCENARIO.replace('population = "population.tif"', f'population = "{path}"')
    with pytest.raises(ScenarioError, match=match):
        scn = parse_scenario(text, path=tmp_path / "s.toml")
        scn.resolve(scn.region.population)


def test_a_scenario_that_is_not_a_regular_file(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(tmp_path)


@pytest.mark.parametrize("value", ["abc", "inf", "nan", "-1", "0"])
def test_memory_setting_is_checked(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("REACH_MEMORY_GB", value)
    with pytest.raises(ScenarioError, match="REACH_MEMORY_GB"):
        available_memory_bytes()
    monkeypatch.setenv("REACH_MEMORY_GB", "1.5")
    assert available_memory_bytes() == int(1.5 * 2**30)


def test_threads_stay_bounded_whatever_the_alternatives(tmp_path: Path) -> None:
    import os
    import threading
    import time

    from reach.run.scenario_set import run_scenario

    scenario = write_tiny_region(tmp_path)
    scenario.write_text(SCENARIO + _alternatives(30))
    before = threading.active_count()
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], threading.active_count())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run = run_scenario(load_scenario(scenario), write=False)
    finally:
        done.set()
        watcher.join()
    assert len(run.alternatives) == 30
    cores = os.cpu_count() or 1
    assert peak[0] - before - 1 <= 2 * cores + 2, peak[0]
