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
        "health": (120_391.43, {30: 97.452, 60: 99.688, 120: 99.940}),
        "primary_school": (15_650.89, {30: 94.430, 60: 99.714, 120: 99.953}),
        "secondary_school": (12_039.14, {30: 95.295, 60: 99.418, 120: 99.863}),
    },
    "comoros": {
        "health": (775_358.83, {30: 44.050, 60: 69.954, 120: 94.904}),
        "health_walk": (775_358.83, {30: 11.580, 60: 24.748, 120: 49.660}),
        "school": (255_868.41, {30: 12.960, 60: 24.940, 120: 48.891}),
    },
    "malawi_accessmod": {
        "health": (4_140_429.43, {60: 26.087, 90: 35.600, 120: 45.020, 180: 59.909}),
    },
    "malawi_accessmod_compat": {
        "health": (
            4_140_429.43,
            {60: 31.643, 90: 42.706, 120: 52.044, 180: 65.008, 360: 85.898},
        ),
    },
    "sumba": {
        "health": (866_210.00, {30: 51.421, 60: 90.026, 120: 97.571}),
        "sma": (866_210.00, {30: 51.271, 60: 77.881, 120: 94.508}),
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
@pytest.mark.parametrize(
    "region", ["comoros", "malawi_accessmod", "malawi_accessmod_compat", "sumba"]
)
def test_the_real_regions_figures_are_pinned(region: str, real_data: Path) -> None:
    del real_data  # only its skip when the data are absent
    _check(_scenario(region)(), region)
