"""The friction cache: a rerun reads the friction back exactly, any change of what it depends on
is a miss, a damaged entry is built again, and a folder reach did not make is never touched."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from reach.run.cache import CACHE_TAG, cache_dir, friction_key
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.spec import load_scenario
from tests.helpers import CELL_DEG, NORTH, SIZE, WEST, write_tiny_region

LANDCOVER = """[region.landcover]
path = "landcover.tif"
labels = { "1" = "Built_area", "2" = "Forest" }
speeds_kph = { Built_area = 4.0, Forest = 2.0 }
"""


def _write_landcover(path: Path, seed: int = 0) -> None:
    classes = np.random.default_rng(seed).integers(1, 3, (SIZE, SIZE)).astype(np.uint8)
    with rasterio.open(
        path, "w", driver="GTiff", height=SIZE, width=SIZE, count=1, dtype="uint8",
        crs="EPSG:4326", nodata=0, transform=Affine(CELL_DEG, 0, WEST, 0, -CELL_DEG, NORTH),
    ) as dst:  # fmt: skip
        dst.write(classes, 1)


def _scenario(folder: Path) -> Path:
    path = write_tiny_region(folder)
    _write_landcover(folder / "landcover.tif")
    text = path.read_text()
    path.write_text(text.replace("[[services]]", LANDCOVER + "[[services]]", 1))
    return path


CACHE = "model-cache"


@pytest.fixture(autouse=True)
def _a_cache_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACH_CACHE", str(tmp_path / CACHE))
    monkeypatch.delenv("REACH_CACHE_MB", raising=False)


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / CACHE).glob("friction-*.npz"))


def test_a_rerun_reads_the_friction_back_and_writes_the_same_files(tmp_path: Path) -> None:
    scn = load_scenario(_scenario(tmp_path))
    first = load_region(scn)
    assert "build friction" in first.timings_s
    (entry,) = _entries(tmp_path)
    assert (tmp_path / CACHE / "CACHEDIR.TAG").read_text() == CACHE_TAG
    again = load_region(scn)
    assert "read friction from the cache" in again.timings_s
    assert "build friction" not in again.timings_s
    for name in ("pace_min_per_m", "status"):
        a, b = getattr(first.friction, name), getattr(again.friction, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert again.friction.populated_water_cells == first.friction.populated_water_cells
    # whole runs: the same bytes with and without the cache
    run_scenario(scn, out_dir=tmp_path / "a", maps=False)
    cached = os.environ["REACH_CACHE"]
    os.environ["REACH_CACHE"] = "off"
    try:
        run_scenario(scn, out_dir=tmp_path / "b", maps=False)
    finally:
        os.environ["REACH_CACHE"] = cached
    for name in ("coverage.csv", "travel_time_health.tif", "catchments.gpkg", "facilities.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert _entries(tmp_path) == [entry]


def test_the_key_changes_with_every_input_and_setting_of_the_friction(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    scn = load_scenario(path)
    region = load_region(scn)
    key = friction_key(scn, region.grid, region.population)
    assert key == friction_key(load_scenario(path), region.grid, region.population)
    # a speed of the land cover
    faster = load_scenario(path)
    assert faster.region.landcover is not None
    faster.region.landcover.speeds_kph["Forest"] = 3.0
    assert friction_key(faster, region.grid, region.population) != key
    # the land cover's bytes (same name, same size)
    _write_landcover(tmp_path / "landcover.tif", seed=1)
    assert friction_key(load_scenario(path), region.grid, region.population) != key
    # the population's validity: a cell of nodata more
    pop = region.population
    valid = pop.valid.copy()
    valid[0, 0] = False
    other = type(pop)(**{**pop.__dict__, "valid": valid})
    _write_landcover(tmp_path / "landcover.tif", seed=0)
    assert friction_key(load_scenario(path), region.grid, other) != key
    # and back to the first inputs: the first key
    assert friction_key(load_scenario(path), region.grid, region.population) == key


def test_a_damaged_entry_is_built_again(tmp_path: Path) -> None:
    scn = load_scenario(_scenario(tmp_path))
    first = load_region(scn)
    (entry,) = _entries(tmp_path)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])  # as a disk that lost its tail would leave it
    again = load_region(scn)
    assert "build friction" in again.timings_s
    assert np.array_equal(again.friction.pace_min_per_m, first.friction.pace_min_per_m)
    assert entry.read_bytes() == data  # written whole again
    # an entry whose arrays were changed without its checksum is not trusted either
    with np.load(entry) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["pace_min_per_m"] = arrays["pace_min_per_m"] * 2
    with entry.open("wb") as fh:
        np.savez(fh, **arrays)
    third = load_region(scn)
    assert "build friction" in third.timings_s
    assert np.array_equal(third.friction.pace_min_per_m, first.friction.pace_min_per_m)


def test_a_folder_reach_did_not_make_is_left_alone(tmp_path: Path) -> None:
    scn = load_scenario(_scenario(tmp_path))
    theirs = tmp_path / CACHE
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    region = load_region(scn)
    assert "build friction" in region.timings_s
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    # nor is an empty folder, nor a file of that name
    (theirs / "notes.txt").unlink()
    assert "build friction" in load_region(scn).timings_s
    assert list(theirs.iterdir()) == []
    theirs.rmdir()
    theirs.write_text("not a folder")
    assert "build friction" in load_region(scn).timings_s
    assert theirs.read_text() == "not a folder"


def test_reach_cache_off_and_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scn = load_scenario(_scenario(tmp_path))
    monkeypatch.setenv("REACH_CACHE", "off")
    assert cache_dir() is None
    load_region(scn)
    assert not (tmp_path / CACHE).exists()
    # by default, the user's cache folder (XDG on Linux), never the project
    monkeypatch.delenv("REACH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "reach-model"
    before = sorted(p.name for p in tmp_path.iterdir())
    load_region(scn)
    assert "read friction from the cache" in load_region(scn).timings_s
    assert len(list((tmp_path / "xdg" / "reach-model").glob("friction-*.npz"))) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*before, "xdg"})


def test_the_oldest_entries_go_past_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _scenario(tmp_path)
    load_region(load_scenario(path))
    (first,) = _entries(tmp_path)
    os.utime(first, ns=(1, 1))  # long unused
    monkeypatch.setenv("REACH_CACHE_MB", str(first.stat().st_size * 1.5 / 1e6))
    _write_landcover(tmp_path / "landcover.tif", seed=5)
    load_region(load_scenario(path))
    (second,) = _entries(tmp_path)
    assert second != first


def test_a_modes_network_is_read_back_exactly_and_keyed_by_its_lines(tmp_path: Path) -> None:
    import dataclasses

    from reach.model.region import mode_profile
    from reach.run.cache import network_key
    from reach.run.session import SearchSession

    scn = load_scenario(_scenario(tmp_path))
    region = load_region(scn)
    built = SearchSession(region, region.roads, region.friction).network("motorbike")
    assert len(list((tmp_path / CACHE).glob("network-*.npz"))) == 1
    again = SearchSession(region, region.roads, region.friction).network("motorbike")
    assert again is not built
    for f in dataclasses.fields(built):
        a, b = getattr(built, f.name), getattr(again, f.name)
        if f.name == "feet":
            for g in dataclasses.fields(a):
                x, y = getattr(a, g.name), getattr(b, g.name)
                assert x.dtype == y.dtype and np.array_equal(x, y), g.name
        elif f.name == "mode":
            assert a == b
        else:
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), f.name
    profile = mode_profile(scn, "motorbike")
    key = network_key(region.roads, region.grid, profile=profile, ferry_wait_min=15.0)
    # another mode, another ferry wait, one road's class changed: each its own network
    walk = mode_profile(scn, "walk")
    assert network_key(region.roads, region.grid, profile=walk, ferry_wait_min=15.0) != key
    assert network_key(region.roads, region.grid, profile=profile, ferry_wait_min=20.0) != key
    tags = region.roads.tags.copy()
    tags.loc[0, "highway"] = "primary" if tags.loc[0, "highway"] != "primary" else "track"
    paved = dataclasses.replace(region.roads, tags=tags)
    assert network_key(paved, region.grid, profile=profile, ferry_wait_min=15.0) != key
    SearchSession(region, paved, region.friction).network("motorbike")
    assert len(list((tmp_path / CACHE).glob("network-*.npz"))) == 2


def test_a_tag_of_reach_in_other_words_still_counts(tmp_path: Path) -> None:
    scn = load_scenario(_scenario(tmp_path))
    folder = tmp_path / CACHE
    folder.mkdir()
    (folder / "CACHEDIR.TAG").write_text(
        "Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This folder is a cache made by reach (an older version's words).\n"
    )
    load_region(scn)
    assert "read friction from the cache" in load_region(scn).timings_s
