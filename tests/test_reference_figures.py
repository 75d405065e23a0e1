"""The headline figures of the demo, Comoros, Malawi and Sumba, pinned.

A change of model that moves any of them fails here on purpose. Update the figure only together
with a line in ``CHANGELOG.md`` that says which figure moved, by how much, and why (reach's
Malawi figure once fell from 42.7 % to 22.5 % within 60 minutes between two versions and no test
noticed). Figures are the ``(all)`` row of ``coverage.csv``: the population, and the percent
within each threshold.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from reach.metrics.coverage import ALL_ZONES_ID
from reach.results import RunResult

REPO = Path(__file__).resolve().parents[1]

#: Percentage points a pinned coverage figure may move (float rounding across platforms only).
PCT_TOL = 0.005

#: region → service → (population, {threshold minutes: percent within}).
PINNED: dict[str, dict[str, tuple[float, dict[int, float]]]] = {
    "demo": {
        "health": (120_391.43, {30: 97.336, 60: 99.680, 120: 99.939}),
        "primary_school": (15_650.89, {30: 94.310, 60: 99.711, 120: 99.952}),
        "secondary_school": (12_039.14, {30: 95.141, 60: 99.407, 120: 99.861}),
    },
    "comoros": {
        "health": (775_358.83, {30: 43.028, 60: 69.118, 120: 94.523}),
        "health_walk": (775_358.83, {30: 11.148, 60: 24.185, 120: 49.165}),
        "school": (255_868.41, {30: 12.631, 60: 24.361, 120: 47.908}),
    },
    "malawi_accessmod": {
        "health": (4_140_429.43, {60: 23.006, 90: 32.700, 120: 42.240, 180: 57.714}),
    },
    "sumba": {
        "health": (866_210.00, {30: 46.379, 60: 88.866, 120: 97.454}),
        "sma": (866_210.00, {30: 50.434, 60: 77.635, 120: 94.398}),
    },
}


def _demo() -> RunResult:
    from reach.demo import run_demo

    with tempfile.TemporaryDirectory() as folder:
        return run_demo(Path(folder) / "demo")


def _scenario(name: str) -> Callable[[], RunResult]:
    def run() -> RunResult:
        from reach.run.scenario_set import run_scenario
        from reach.spec import load_scenario

        return run_scenario(
            load_scenario(REPO / "scenarios" / f"{name}.toml"), write=False, maps=False
        )

    return run


def _check(run: RunResult, region: str) -> None:
    cov = run.coverage
    assert sorted(set(cov["service"])) == sorted(PINNED[region])
    for service, (population, within) in PINNED[region].items():
        row = cov[(cov["service"] == service) & (cov["zone_id"] == ALL_ZONES_ID)].iloc[0]
        assert row["population"] == pytest.approx(population, abs=0.01), (region, service)
        for minutes, pct in within.items():
            got = float(row[f"pct_within_{minutes}min"])
            assert got == pytest.approx(pct, abs=PCT_TOL), (
                f"{region} {service} within {minutes} min moved from {pct} to {got:.3f} %: if the "
                "model changed on purpose, update PINNED and say so in CHANGELOG.md"
            )


def test_the_demo_figures_are_pinned() -> None:
    _check(_demo(), "demo")


@pytest.mark.realdata
@pytest.mark.parametrize("region", ["comoros", "malawi_accessmod", "sumba"])
def test_the_real_regions_figures_are_pinned(region: str, real_data: Path) -> None:
    del real_data  # only its skip when the data are absent
    _check(_scenario(region)(), region)
