"""Worked example: who is cut off in the wet season, and does paving the tracks help?

Runs ``comoros_wet_season.toml`` (the baseline, the wet season, and the wet season after paving
Nzwani's tracks) through the Python API and prints, per island, how many people lose access to
health care within 60 minutes in the wet months, how many of those paving would keep, and the
share of the year each island has access on average.

    python scenarios/wet_season.py
    python scenarios/wet_season.py --out results/wet_season.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import reach
from reach.errors import ReachError

HERE = Path(__file__).resolve().parent


def wet_season_table(base: reach.Scenario, *, service: str, threshold_min: float) -> pd.DataFrame:
    """Per zone: covered all year, in the wet season, with paved tracks, and the year share."""
    col = f"within_{threshold_min:g}min"
    wet = base.alternative("wet_season")
    paved = base.alternative("wet_season_paved_nzwani")
    lost = wet.compare(base)
    kept = paved.compare(wet)
    seasons = wet.evaluation().seasons
    assert seasons is not None, "the wet-season alternative has seasons"
    year = seasons[(seasons["season"] == "year (weighted)") & (seasons["service"] == service)]
    out = lost[lost["service"] == service][["zone_id", "zone_name", "population"]].copy()
    pick = lost["service"] == service
    out["covered_dry"] = lost.loc[pick, f"base_{col}"].to_numpy()
    out["covered_wet"] = lost.loc[pick, f"alt_{col}"].to_numpy()
    out["losing_in_wet_season"] = lost.loc[pick, f"losing_{threshold_min:g}min"].to_numpy()
    out["kept_by_paving"] = kept.loc[kept["service"] == service, f"gaining_{threshold_min:g}min"]
    out["kept_by_paving"] = out["kept_by_paving"].to_numpy()
    share = dict(zip(year["zone_id"], year[f"year_share_{col}"], strict=True))
    out["year_share_covered_pct"] = [100 * share.get(z, float("nan")) for z in out["zone_id"]]
    return out.round(1).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=HERE / "comoros_wet_season.toml")
    parser.add_argument("--service", default="health")
    parser.add_argument("--threshold-min", type=float, default=60.0)
    parser.add_argument("--out", type=Path, help="write the table to this CSV file")
    args = parser.parse_args(argv)
    try:
        base = reach.Scenario.load(args.scenario)
        table = wet_season_table(base, service=args.service, threshold_min=args.threshold_min)
    except ReachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.service} within {args.threshold_min:g} min, dry vs wet season:")
    print(table.to_string(index=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
