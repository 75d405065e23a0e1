"""Population correction: the raster's people rescaled per zone to a table of totals.

The AccessMod "population correction". A population raster distributes people well within a
zone but may put the wrong number in it (the Comoros WorldPop raster swaps two islands' totals);
a census table gives the right number. Each zone's people are multiplied by one factor so that
the zone holds its target: the table's total (``"totals"``), or the table's share of the people
the raster puts inside the zones (``"shares"``, for a raster of a later year than the census).

Where cells are shared between zones (exact zone shares, :mod:`reach.model.zones`), a cell's
factor is the mean of its zones' factors weighted by its shares of them, and the part of a
coastal cell outside every zone is scaled with the rest of the cell (its people live on the
island the cell touches). The factors are solved for together, so that every zone's corrected
total equals its target exactly (to float rounding), shared cells included. People in cells
wholly outside every zone are left as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from reach.findings import Finding
from reach.model.zones import ZoneShares, zone_memberships

__all__ = ["CORRECTION_COLUMNS", "CorrectionMode", "PopulationCorrection", "correct_population"]

#: ``"totals"``: rescale to the table's totals; ``"shares"``: keep the raster's total inside
#: the zones and share it out by the table.
CorrectionMode = Literal["totals", "shares"]

#: Columns of :attr:`PopulationCorrection.table` (``population_correction.csv``).
CORRECTION_COLUMNS = (
    "zone_id", "zone_name", "raster_people", "given_total", "target_people", "factor",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class PopulationCorrection:
    """A corrected population grid and how each zone was rescaled.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    people
        ``float64`` (rows, cols) people per cell after the correction.
    table
        One row per zone: ``zone_id``, ``zone_name``, ``raster_people`` (the raster's people in the
        zone), ``given_total`` (the table's), ``target_people`` (what the zone holds after),
        ``factor`` (its people were multiplied by).
    mode
        ``"totals"`` or ``"shares"``.
    warn_share
        The share of difference above which a zone was warned about.
    outside_people
        People the raster puts outside every zone (those of cells wholly outside are left as
        they are; the outside part of a shared cell is scaled with the cell).
    total_before, total_after
        The grid's people before and after.
    findings
        A ``population_total_differs`` warning per zone whose raster people differ from its
        target by more than ``warn_share``, and a ``population_total_unplaced`` warning per
        zone with a target but no people in the raster to scale.
    """

    people: np.ndarray
    table: pd.DataFrame
    mode: str
    warn_share: float
    outside_people: float
    total_before: float
    total_after: float
    findings: tuple[Finding, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The correction for the manifest: mode, totals and the factor of each zone.

        Returns
        -------
        dict
            ``mode``, ``warn_share``, ``outside_zones_people`` (before and ``_after``: the
            parts of coastal cells outside every zone are scaled with their cell),
            ``total_before``, ``total_after`` and ``zones`` (the table's rows).
        """
        inside_after = float(self.table["target_people"].sum())
        return {
            "mode": self.mode,
            "warn_share": self.warn_share,
            "outside_zones_people": self.outside_people,
            "outside_zones_people_after": self.total_after - inside_after,
            "total_before": self.total_before,
            "total_after": self.total_after,
            "zones": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in self.table.to_dict(orient="records")
            ],
        }


def correct_population(
    people: np.ndarray,
    membership: np.ndarray | ZoneShares,
    *,
    zone_ids: Sequence[str],
    zone_names: Sequence[str],
    totals: Mapping[str, float],
    mode: CorrectionMode = "totals",
    warn_share: float = 0.1,
) -> PopulationCorrection:
    """Rescale the people of each zone to its target.

    Parameters
    ----------
    people
        People per cell (rows, cols), 0 where the raster has no data.
    membership
        The zone number per cell (``k+1`` for zone ``k``, 0 outside), or the exact
        :class:`~reach.model.zones.ZoneShares` (:attr:`reach.model.region.Region.membership`).
    zone_ids, zone_names
        Id and name of each zone, in zone order.
    totals
        The given people of every zone, by zone id (e.g. a census).
    mode
        ``"totals"``: each zone's target is its given total. ``"shares"``: the people the
        raster puts inside the zones are shared out in proportion to the given totals (zones
        without people in the raster left out of the shares).
    warn_share
        A zone whose raster people differ from its target by more than this share of the
        target gets a warning finding (value: raster people ÷ target).

    Returns
    -------
    PopulationCorrection
        The corrected people (their zone totals equal the targets, to float rounding; the
        people outside every zone unchanged), the table of factors and the findings.
    """
    n = len(zone_ids)
    flat = np.asarray(people, dtype=np.float64).ravel()
    cells = np.flatnonzero(flat != 0)
    rows = zone_memberships(membership, n, cells)
    p = flat[cells]
    w = sparse.csr_matrix(
        (rows.weight, (rows.item, rows.group)), shape=(cells.size, n + 1), dtype=np.float64
    )
    raster = rows.sums(p, n + 1)
    # a cell's factor: the mean of its zones' factors weighted by its shares of them (the part
    # of a coastal cell outside every zone goes with the cell); cells outside every zone keep 1
    wz = w[:, :n].tocsr()
    inside = np.asarray(wz.sum(axis=1)).ravel()
    in_any = inside > 0
    v = sparse.diags(np.where(in_any, 1.0 / np.where(in_any, inside, 1.0), 0.0)) @ wz
    # r[z, k]: people zone z gains per unit of zone k's factor
    r = (wz.T @ sparse.diags(p) @ v).toarray()
    given = np.array([float(totals[str(z)]) for z in zone_ids], dtype=np.float64)
    active = raster[:n] > 0
    if mode == "shares":
        base = given[active].sum()
        within = raster[:n].sum()
        target = np.where(active, within * given / base, 0.0) if base > 0 else raster[:n].copy()
    else:
        target = given.copy()
    factor = np.ones(n)
    a = np.flatnonzero(active)
    if a.size:
        try:
            solved = np.linalg.solve(r[np.ix_(a, a)], target[a])
        except np.linalg.LinAlgError:
            solved = np.full(a.size, np.nan)
        if not np.all(np.isfinite(solved)) or np.any(solved < 0):
            # a pathological overlap of zones: each zone's own ratio, close but not exact
            solved = target[a] / raster[a]
        factor[a] = solved
    corrected = flat.copy()
    corrected[cells] = np.where(in_any, p * (v @ factor), p)
    after = rows.sums(corrected[cells], n + 1)
    table = pd.DataFrame(
        {
            "zone_id": [str(z) for z in zone_ids],
            "zone_name": [str(x) for x in zone_names],
            "raster_people": raster[:n],
            "given_total": given,
            "target_people": after[:n],
            "factor": factor,
        },
        columns=list(CORRECTION_COLUMNS),
    )
    findings = _findings(table, target, warn_share=warn_share, mode=mode)
    return PopulationCorrection(
        people=corrected.reshape(np.shape(people)),
        table=table,
        mode=mode,
        warn_share=float(warn_share),
        outside_people=float(raster[n]),
        total_before=float(flat.sum()),
        total_after=float(corrected.sum()),
        findings=findings,
    )


def _findings(
    table: pd.DataFrame, target: np.ndarray, *, warn_share: float, mode: str
) -> tuple[Finding, ...]:
    """A warning per zone whose raster people differ from its target by over ``warn_share``."""
    out: list[Finding] = []
    for k, tgt in enumerate(target.tolist()):
        zone_id, name = str(table["zone_id"].iloc[k]), str(table["zone_name"].iloc[k])
        raster = float(table["raster_people"].iloc[k])
        given_total = float(table["given_total"].iloc[k])
        factor = float(table["factor"].iloc[k])
        label = f"zone {name!r} ({zone_id})"
        if raster <= 0 and tgt > 0:
            out.append(
                Finding(
                    check="population_total_unplaced",
                    severity="warning",
                    subject="zone",
                    subject_id=zone_id,
                    message=(
                        f"{label}: the population table gives {given_total:,.0f} people but "
                        "the raster has none there to rescale; the zone keeps 0 — check the "
                        "zone lies on the population raster"
                    ),
                    value=0.0,
                    unit="people",
                )
            )
            continue
        if tgt <= 0 and raster <= 0:
            continue
        ratio = raster / tgt if tgt > 0 else float("inf")
        if abs(raster - tgt) > warn_share * tgt:
            given = f"{given_total:,.0f}"
            what = given if mode == "totals" else f"{tgt:,.0f} (its share of {given})"
            out.append(
                Finding(
                    check="population_total_differs",
                    severity="warning",
                    subject="zone",
                    subject_id=zone_id,
                    message=(
                        f"{label}: the population raster holds {raster:,.0f} people, the "
                        f"population table {what}; its people were multiplied by "
                        f"{factor:.3f}"
                    ),
                    value=ratio if np.isfinite(ratio) else None,
                    unit="ratio",
                )
            )
    return tuple(out)
