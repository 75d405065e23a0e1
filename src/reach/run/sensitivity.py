"""Coverage as a range: the baseline rerun over a designed sample of the speed tables.

Travel speeds are estimates: a land cover's walking pace, a road class's motorbike speed. A
figure such as "84.7 % within 60 min" hides how much it depends on them. Here every speed the
baseline uses is a *factor*: each land-cover walking speed (or the default walking speed where
there is no land cover) and each road class's speed of each travel mode searched that the
region's roads use. A Latin-hypercube sample (``scipy.stats.qmc.LatinHypercube``, seeded) draws
each factor's multiplier in ``1 ± speed_range_pct / 100``, all independently; each sample's
friction is rebuilt from the land cover read once (:func:`reach.run.region.friction_inputs`),
each mode's network from its scaled profile, and each service searched and measured exactly as
the baseline. Each zone's figure is then reported as the baseline's value with the 5th–95th
percentile of the samples (the middle 90 %), and each factor's influence as the rank
correlation of its multiplier with the whole region's figure at the service's key threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy.stats import qmc, spearmanr

from reach.metrics.coverage import ALL_ZONES_ID
from reach.model.grid import build_friction
from reach.model.region import Region, mode_profile
from reach.model.speeds import ModeProfile
from reach.progress import Clock
from reach.results import Evaluation, SensitivityResult
from reach.run.evaluate import key_threshold
from reach.run.measure import service_coverage
from reach.run.region import friction_inputs
from reach.run.session import SearchSession
from reach.schema import pct_within_col
from reach.settings import thread_count

__all__ = [
    "INTERVAL",
    "latin_hypercube",
    "sample_coverage",
    "sensitivity_study",
    "speed_factors",
]

#: The share of the samples the range holds: the 5th to the 95th percentile.
INTERVAL = 0.9


def speed_factors(region: Region) -> pd.DataFrame:
    """The speeds a sample varies: land-cover walking speeds, and road classes per mode.

    Parameters
    ----------
    region
        The loaded region (its scenario's speeds, its roads' classes).

    Returns
    -------
    pandas.DataFrame
        One row per factor, in a fixed order: ``factor`` (its name, e.g. ``land cover: Tree``
        or ``motorbike: primary``), ``kind`` (``landcover``, ``default walk`` or ``road``),
        ``mode`` (empty for the walk off the roads), ``key`` (the class) and ``speed_kph``.
        Classes of speed 0 (water, closed) stay impassable and are not varied.
    """
    scn = region.scenario
    rows: list[dict[str, object]] = []
    lc = scn.region.landcover
    if lc is not None and lc.speeds_kph:
        for key, kph in lc.speeds_kph.items():
            if kph > 0:
                rows.append(_row(f"land cover: {key}", "landcover", "", key, kph))
    else:
        kph = scn.grid.default_walk_kph
        rows.append(_row("off-road walk", "default walk", "", "default", kph))
    classes = _road_classes(region)
    for mode in dict.fromkeys(s.mode for s in scn.services):
        profile = mode_profile(scn, mode)
        for key, kph in profile.highway_kph.items():
            if kph > 0 and key in classes:
                rows.append(_row(f"{mode}: {key}", "road", mode, key, kph))
    return pd.DataFrame(rows, columns=["factor", "kind", "mode", "key", "speed_kph"])


def _row(factor: str, kind: str, mode: str, key: str, kph: float) -> dict[str, object]:
    return {"factor": factor, "kind": kind, "mode": mode, "key": key, "speed_kph": float(kph)}


def _road_classes(region: Region) -> set[str]:
    """The road classes (``highway`` values, lower-cased) the region's ways carry."""
    tags = region.roads.tags
    if "highway" not in tags.columns or region.roads.n_ways == 0:
        return set()
    values = tags["highway"].dropna().astype(str).str.strip().str.lower()
    return set(values.unique())


def latin_hypercube(
    n_factors: int, *, samples: int, speed_range_pct: float, seed: int
) -> np.ndarray:
    """Multipliers of each factor in each sample, a Latin hypercube in ``1 ± range``.

    Parameters
    ----------
    n_factors
        Factors (columns).
    samples
        Samples (rows).
    speed_range_pct
        How far a multiplier may be from 1, in percent.
    seed
        The design's seed.

    Returns
    -------
    numpy.ndarray
        ``float64`` (samples, n_factors): each column holds one multiplier in each of
        ``samples`` equal slices of the range, in a random order.
    """
    if samples == 0 or n_factors == 0:
        return np.ones((samples, n_factors))
    unit = qmc.LatinHypercube(d=n_factors, seed=seed).random(samples)
    return np.asarray(1.0 + speed_range_pct / 100.0 * (2.0 * unit - 1.0), dtype=np.float64)


def _profiles(
    region: Region, factors: pd.DataFrame, multipliers: np.ndarray
) -> dict[str, ModeProfile]:
    scn = region.scenario
    out: dict[str, ModeProfile] = {}
    roads = factors["kind"] == "road"
    for mode in dict.fromkeys(s.mode for s in scn.services):
        profile = mode_profile(scn, mode)
        mine = np.flatnonzero(roads & (factors["mode"] == mode))
        kph = dict(profile.highway_kph)
        for i in mine:
            kph[str(factors["key"].iloc[i])] = float(factors["speed_kph"].iloc[i] * multipliers[i])
        out[mode] = dataclasses.replace(profile, highway_kph=kph)
    return out


def sample_coverage(
    region: Region,
    inputs: dict[str, object],
    factors: pd.DataFrame,
    multipliers: np.ndarray,
    sample: int,
) -> list[pd.DataFrame]:
    """Every service's coverage per zone with the speeds of one sample.

    Parameters
    ----------
    region
        The loaded region.
    inputs
        The friction's layers, read once (:func:`reach.run.region.friction_inputs`).
    factors
        The speeds varied (:func:`speed_factors`).
    multipliers
        Each factor's multiplier in this sample (all 1: the scenario's own speeds, which give
        the baseline's figures).
    sample
        The sample's number, for the rows.

    Returns
    -------
    list of pandas.DataFrame
        Long rows per service and threshold: ``sample``, ``service``, ``zone_id``,
        ``threshold_min``, ``pct_within``.
    """
    scn = region.scenario
    kinds = factors["kind"].to_numpy()
    lc_rows = np.flatnonzero(kinds == "landcover")
    options = dict(inputs)
    if len(lc_rows):
        kph = dict(scn.region.landcover.speeds_kph) if scn.region.landcover else {}
        for i in lc_rows:
            kph[str(factors["key"].iloc[i])] = float(factors["speed_kph"].iloc[i] * multipliers[i])
        options["landcover_kph"] = kph
    default = np.flatnonzero(kinds == "default walk")
    if len(default):
        options["default_walk_kph"] = float(scn.grid.default_walk_kph * multipliers[default[0]])
    friction = build_friction(region.grid, **options)  # type: ignore[arg-type]
    session = SearchSession(
        region, region.roads, friction, profiles=_profiles(region, factors, multipliers)
    )
    parts = []
    for svc in scn.services:
        fac = session.snap(region.facilities[svc.name], within_m=svc.facilities.snap_within_m)
        result = session.search(fac, svc.mode)
        cov = service_coverage(region, svc, result, None, 1.0)
        for t in svc.thresholds_min:
            parts.append(
                pd.DataFrame(
                    {
                        "sample": sample,
                        "service": svc.name,
                        "zone_id": cov["zone_id"].astype(str).to_numpy(),
                        "threshold_min": float(t),
                        "pct_within": cov[pct_within_col(t)].to_numpy(dtype=np.float64),
                    }
                )
            )
    return parts


def sensitivity_study(
    region: Region,
    baseline: Evaluation,
    *,
    samples: int,
    speed_range_pct: float,
    seed: int = 0,
    clock: Clock | None = None,
) -> SensitivityResult:
    """Rerun the baseline over a Latin-hypercube sample of the speeds; ranges per zone.

    Parameters
    ----------
    region
        The loaded region.
    baseline
        Its baseline evaluation: the central figures.
    samples
        How many samples (at least 2).
    speed_range_pct
        How far each speed may be off, in percent either way (0–100, exclusive).
    seed
        The design's seed (the same seed, the same ranges).
    clock
        Times the step.

    Returns
    -------
    SensitivityResult
        The factors, the design, every sample's figures, the ranges and each factor's
        influence.

    Raises
    ------
    ValueError
        With fewer than 2 samples or a range outside (0, 100).
    """
    if samples < 2:
        raise ValueError("a sensitivity study needs at least 2 samples")
    if not 0 < speed_range_pct < 100:
        raise ValueError("speed_range_pct must lie between 0 and 100")
    clock = clock or Clock()
    factors = speed_factors(region)
    design = latin_hypercube(
        len(factors), samples=samples, speed_range_pct=speed_range_pct, seed=seed
    )
    with clock.step(f"sensitivity: {samples} samples"):
        inputs = friction_inputs(region.scenario, pop=region.population)
        workers = max(1, min(thread_count(), samples))
        tally = clock.tally("sensitivity samples", samples)

        def one(k: int) -> list[pd.DataFrame]:
            parts = sample_coverage(region, inputs, factors, design[k], k)
            tally.add()
            return parts

        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(one, range(samples)))
    rows = pd.concat([p for parts in done for p in parts], ignore_index=True)
    design_table = pd.DataFrame(
        {
            "sample": np.repeat(np.arange(samples), len(factors)),
            **{c: np.tile(factors[c].to_numpy(), samples) for c in factors.columns},
            "multiplier": design.ravel(),
        }
    )
    design_table["sampled_kph"] = design_table["speed_kph"] * design_table["multiplier"]
    return SensitivityResult(
        factors=factors,
        design=design_table,
        samples=rows,
        ranges=_ranges(region, baseline, rows),
        influence=_influence(region, factors, design, rows),
        speed_range_pct=float(speed_range_pct),
        seed=int(seed),
        n_samples=int(samples),
    )


def _ranges(region: Region, baseline: Evaluation, rows: pd.DataFrame) -> pd.DataFrame:
    """The baseline's figure, the samples' median and the middle 90 %, per zone."""
    lo_q, hi_q = (1 - INTERVAL) / 2, 1 - (1 - INTERVAL) / 2
    stats = (
        rows.groupby(["service", "zone_id", "threshold_min"], sort=False)["pct_within"]
        .agg(
            pct_median="median",
            pct_low=lambda s: s.quantile(lo_q),
            pct_high=lambda s: s.quantile(hi_q),
            samples="count",
        )
        .reset_index()
    )
    central = []
    for svc in region.scenario.services:
        cov = baseline.services[svc.name].coverage
        for t in svc.thresholds_min:
            central.append(
                pd.DataFrame(
                    {
                        "service": svc.name,
                        "zone_id": cov["zone_id"].astype(str).to_numpy(),
                        "zone_name": cov["zone_name"].astype(str).to_numpy(),
                        "threshold_min": float(t),
                        "pct_within": cov[pct_within_col(t)].to_numpy(dtype=np.float64),
                    }
                )
            )
    out = pd.concat(central, ignore_index=True).merge(
        stats, on=["service", "zone_id", "threshold_min"], how="left", validate="one_to_one"
    )
    return out[
        ["service", "zone_id", "zone_name", "threshold_min", "pct_within", "pct_low",
         "pct_high", "pct_median", "samples"]
    ]  # fmt: skip


def _influence(
    region: Region, factors: pd.DataFrame, design: np.ndarray, rows: pd.DataFrame
) -> pd.DataFrame:
    """Spearman's rank correlation of each factor that applies to a service (the walk off the
    roads, its own mode's roads) with the whole region's figure at its key threshold."""
    out = []
    for svc in region.scenario.services:
        key = float(key_threshold(svc))
        mine = rows[
            (rows["service"] == svc.name)
            & (rows["zone_id"] == ALL_ZONES_ID)
            & (rows["threshold_min"] == key)
        ].sort_values("sample")
        figure = mine["pct_within"].to_numpy(dtype=np.float64)
        # the walk off the roads and the service's own mode's roads
        applies = (factors["kind"] != "road") | (factors["mode"] == svc.mode)
        for i in np.flatnonzero(applies.to_numpy()):
            name = factors["factor"].iloc[i]
            rho = _spearman(design[:, i], figure)
            out.append(
                {"service": svc.name, "threshold_min": key, "factor": name, "spearman_rho": rho}
            )
    table = pd.DataFrame(out, columns=["service", "threshold_min", "factor", "spearman_rho"])
    order = table["spearman_rho"].abs().fillna(-1.0)
    return (
        table.assign(_order=order)
        .sort_values(["service", "_order"], ascending=[True, False], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def _spearman(x: Sequence[float] | np.ndarray, y: np.ndarray) -> float:
    """Rank correlation, NaN when either side does not vary."""
    if len(y) < 3 or np.ptp(np.asarray(x)) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)
