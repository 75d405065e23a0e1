"""GIS files a QGIS user opens as they are: category overviews, colours, names, units."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from affine import Affine
from rasterio.crs import CRS
from typer.testing import CliRunner

from reach.cli import app
from reach.outputs.write import Category, write_geotiff
from tests.helpers import write_tiny_region

runner = CliRunner()


def _overview_values(path: Path, factor: int) -> set[int]:
    with rasterio.open(path) as ds:
        data = ds.read(1, out_shape=(ds.height // factor, ds.width // factor))
    return set(np.unique(data).tolist())


def test_category_overviews_hold_only_values_that_occur(tmp_path: Path) -> None:
    """A checkerboard of codes 0 and 5: averaged (or cubic) overviews invent codes 1-4."""
    board = np.where((np.indices((1024, 1024)).sum(axis=0) // 3) % 2 == 0, 0, 5).astype(np.uint8)
    kw = {"transform": Affine(100, 0, 0, 0, -100, 102400), "crs": CRS.from_epsg(32750)}
    cats = {0: Category("reached", "#009e73"), 5: Category("outside_data", "#bbbbbb")}
    path = tmp_path / "reason.tif"
    write_geotiff(path, board, nodata=None, categories=cats, **kw)
    with rasterio.open(path) as ds:
        assert ds.overviews(1)  # zoomed-out views come from overviews
        assert ds.colormap(1)[5][:3] == (0xBB, 0xBB, 0xBB)
    for factor in (2, 4, 8):
        assert _overview_values(path, factor) <= {0, 5}
    qml = (tmp_path / "reason.qml").read_text()
    assert 'value="5" color="#bbbbbb"' in qml and 'label="outside_data"' in qml
    times = tmp_path / "time.tif"
    write_geotiff(times, board.astype(np.float32), nodata=float("nan"), units="min", **kw)
    with rasterio.open(times) as ds:
        assert ds.units == ("min",)
    assert not (tmp_path / "time.qml").exists()


def test_a_run_writes_named_category_rasters_readable_by_colleagues(tmp_path: Path) -> None:
    scenario = write_tiny_region(tmp_path)
    old = os.umask(0o022)
    try:
        result = runner.invoke(app, ["--quiet", "run", str(scenario), "--no-maps"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "coverage.csv").stat().st_mode) == 0o644
    for name in ("reason_health", "catchment_health"):
        with rasterio.open(out / f"{name}.tif") as ds:
            full = set(np.unique(ds.read(1)).tolist())
        assert _overview_values(out / f"{name}.tif", 2) <= full
    facilities = pd.read_csv(out / "facilities.csv")
    qml = (out / "catchment_health.qml").read_text()
    for fid in facilities["facility_id"].astype(str):
        assert f'label="{fid} ' in qml
    with rasterio.open(out / "travel_time_health.tif") as ds:
        assert ds.units == ("min",)
    # a spreadsheet shows people to a thousandth, not a millionth; Parquet keeps every digit
    import re

    text = (out / "coverage.csv").read_text()
    assert not re.search(r"\.\d{4,}", text)
    exact = pd.read_parquet(out / "coverage.parquet")
    shown = pd.read_csv(out / "coverage.csv")
    assert (exact["population"] - shown["population"]).abs().max() <= 0.0005
    # coordinates keep 6 decimals (about 0.1 m)
    fac_exact = pd.read_parquet(out / "facilities.parquet")
    fac_shown = pd.read_csv(out / "facilities.csv")
    assert (fac_exact["lon"] - fac_shown["lon"]).abs().max() <= 5e-7


def test_version_is_printed_without_loading_the_pipeline() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("reach ")


def test_shell_completion_completes_commands_and_options() -> None:
    """``reach --show-completion bash`` gives the script; the script's callback completes."""
    import os
    import subprocess
    import sys

    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="reach")
    assert result.exit_code == 0 and "_reach_completion" in result.stdout

    def complete(words: str) -> list[str]:
        env = {
            **os.environ, "_REACH_COMPLETE": "complete_bash", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }  # fmt: skip
        code = "import sys; sys.argv[0] = 'reach'; from reach.cli import main; main()"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        return done.stdout.split()

    assert "sensitivity" in complete("reach sen")
    assert "--no-maps" in complete("reach run --no")


def test_tables_written_to_a_file_are_never_cut(tmp_path: Path) -> None:
    """Piped to a file, the comparison table keeps every column whole (no "…", no split
    numbers), however wide it is."""
    from tests.helpers import ALTERNATIVES, TOWERS

    scenario = write_tiny_region(tmp_path)
    (tmp_path / "towers.geojson").write_text(TOWERS)
    long_name = "a_long_alternative_name_for_the_new_health_post_in_the_southwest"
    scenario.write_text(
        scenario.read_text() + ALTERNATIVES.replace('name = "new_post"', f'name = "{long_name}"')
    )
    result = runner.invoke(app, ["--quiet", "compare", str(scenario), "--no-maps"])
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    assert long_name in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 120
