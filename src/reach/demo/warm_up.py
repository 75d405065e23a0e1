"""``reach warm-up``: compile reach's search kernels once, ahead of the first real run.

reach's searches are numba functions, compiled to machine code on first use and then kept in
numba's cache beside the installed package (``__pycache__``). Without a warm-up the first run
after an install pays that compilation: about 14 s more than later runs of the Comoros scenario
on a 2-core machine. :func:`warm_up` runs a small generated demo region (the demo generator at
its smallest size, with its alternatives, seasons and telemedicine), in memory, then its
origin–destination table: every kernel a run, ``reach explain`` and ``reach od`` use is
compiled with the argument types real regions give them. Nothing is written outside a
temporary folder, which is removed (its friction cache with it).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from reach.demo.generate import generate_demo
from reach.demo.layout import MIN_SIZE_CELLS
from reach.demo.project import demo_scenario_toml
from reach.settings import PROJECT_MARKERS

__all__ = ["warm_up"]


def _alternatives(facilities: Path) -> str:
    """Alternatives that take the incremental searches' paths: a site added, one closed, a
    road added, a season."""
    features = json.loads(facilities.read_text("utf-8"))["features"]
    health = [f for f in features if f["properties"]["service"] == "health"]
    other = [f for f in features if f["properties"]["service"] != "health"]
    (x0, y0), (x1, y1) = other[0]["geometry"]["coordinates"], other[-1]["geometry"]["coordinates"]
    closed = health[-1]["properties"]["facility_id"]
    return f"""
[[alternatives]]
name = "new_post"
operations = [{{ op = "add_facility", service = "health", facility_id = "W1", name = "W", lon = {x0!r}, lat = {y0!r}, tier = "health_post" }}]

[[alternatives]]
name = "closed"
operations = [{{ op = "close_facility", service = "health", facility_id = "{closed}" }}]

[[alternatives]]
name = "road"
operations = [{{ op = "add_road", start = [{x0!r}, {y0!r}], end = [{x1!r}, {y1!r}], highway = "secondary" }}]

[[alternatives]]
name = "wet"
operations = [{{ op = "season", name = "wet", share_of_year = 0.4, surface_multipliers = {{ unpaved = 0.5 }}, walk_multiplier = 0.5 }}]
"""  # noqa: E501


def warm_up(*, size_cells: int = MIN_SIZE_CELLS) -> float:
    """Compile (or load from numba's cache) every kernel a run uses, on a small demo region.

    Parameters
    ----------
    size_cells
        Cells of the generated region (at least :data:`reach.demo.layout.MIN_SIZE_CELLS`).

    Returns
    -------
    float
        Seconds it took (a few seconds once compiled: the cache is read, not rebuilt).
    """
    from reach.run.od import od_table, zone_origins
    from reach.run.scenario_set import run_scenario
    from reach.spec import load_scenario

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reach-warm-up-") as tmp:
        # a project of its own, as the demo is: its scenario writes beside its inputs
        (Path(tmp) / PROJECT_MARKERS[-1]).write_text("reach warm-up project\n", "utf-8")
        inputs = Path(tmp) / "inputs"
        files = generate_demo(inputs, size_cells=size_cells, seed=7)
        path = inputs / "demo.toml"
        text = demo_scenario_toml(files, relative_to=inputs) + _alternatives(
            files.facilities_geojson
        )
        path.write_text(text, "utf-8")
        run = run_scenario(load_scenario(path), write=False)
        od_table(run.region, run.baseline, zone_origins(run.region), k=3)
    return time.perf_counter() - t0
