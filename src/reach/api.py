"""The Python API for scenario scripts: load a region once, try many alternatives.

>>> import reach
>>> base = reach.Scenario.load("scenarios/comoros.toml")          # doctest: +SKIP
>>> alt = base.add_facility("health", lon=43.7, lat=-12.3, tier="health_centre")  # doctest: +SKIP
>>> alt.compare(base)                                             # doctest: +SKIP

Each method returns a new :class:`Scenario` that shares the loaded region, so a loop over
hundreds of candidate sites reads the inputs once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from reach import spec
from reach.errors import ScenarioError
from reach.metrics import check_amount, check_count, check_minutes
from reach.model.region import Region
from reach.results import Evaluation, RunResult
from reach.run.evaluate import compare_evaluations, evaluate, key_threshold
from reach.run.region import load_region
from reach.run.scenario_set import run_scenario
from reach.scenarios.candidates import underserved_sites
from reach.scenarios.compare import rank_alternatives
from reach.spec import check_service, check_tier

__all__ = ["Scenario"]

#: At most this many candidate sites from :meth:`Scenario.underserved_sites`.
MAX_UNDERSERVED_SITES = 10_000


def _validated(model: type[Any], data: dict[str, Any], what: str) -> Any:
    """``model.model_validate(data)``, a pydantic error turned into one ScenarioError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(k) for k in err["loc"]) or "(top level)"
        raise ScenarioError(
            f"{what}: {where}: {err['msg']} (got {err.get('input')!r})"[:300],
            fix="see the scenario reference in README.md",
        ) from None


class Scenario:
    """A baseline region plus operations, evaluated on demand.

    Each method that adds operations returns a new scenario on the same loaded region; the
    evaluation is made once, when first asked for.

    Parameters
    ----------
    config
        The validated scenario file.
    region
        The loaded region (loaded from ``config`` when omitted).
    operations
        Operations on top of the baseline, as :mod:`reach.spec` operation models, applied in
        order.
    name
        Name of this alternative (``"baseline"`` without operations).
    cost
        Cost of the operations (in one unit for every alternative), for gain-per-cost
        figures.
    root
        The baseline scenario this one derives from, whose evaluation alternatives build on;
        ``None`` makes this scenario its own root. The methods set it.
    """

    def __init__(
        self,
        config: spec.ScenarioSpec,
        *,
        region: Region | None = None,
        operations: Sequence[Any] = (),
        name: str = "baseline",
        cost: float | None = None,
        root: Scenario | None = None,
    ) -> None:
        self.config = config
        self.region = region or load_region(config)
        self.operations = tuple(operations)
        self.name = name
        self.cost = cost
        self._evaluation: Evaluation | None = None
        # the baseline every alternative derives from: evaluated once, and alternatives that
        # only add facilities are searched from it onward
        self._root: Scenario = root if root is not None else self

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Load a scenario file and its region, as the baseline.

        The file's ``[[alternatives]]`` are not evaluated; take one with :meth:`alternative`.

        Parameters
        ----------
        path
            The scenario TOML file.

        Returns
        -------
        Scenario
            The baseline, with the region loaded.

        Raises
        ------
        ScenarioError
            When the file is not a valid scenario.
        InputError
            When an input file is refused.
        """
        return cls(spec.load_scenario(path))

    def alternative(self, name: str) -> Scenario:
        """The named ``[[alternatives]]`` entry of the scenario file, on this region.

        Parameters
        ----------
        name
            The alternative's ``name`` in the file.

        Returns
        -------
        Scenario
            This scenario plus the alternative's operations, named and costed as in the file.

        Raises
        ------
        ScenarioError
            When the file has no alternative of that name, listing those it has.
        """
        for alt in self.config.alternatives:
            if alt.name == name:
                return self._with(list(alt.operations), name=alt.name, cost=alt.cost)
        names = [a.name for a in self.config.alternatives]
        raise ScenarioError(
            f"no alternative {name!r} in the scenario file",
            fix=f"use one of {', '.join(names)}" if names else "add [[alternatives]] to the file",
        )

    def _check_operations(self, ops: Sequence[Any]) -> None:
        """Refuse operations on a service the scenario lacks, or of a tier it would refuse."""
        for op in ops:
            service = getattr(op, "service", None)
            if service is None:
                continue
            what = getattr(op, "op", "operation")
            check_service(self.config, service, option=f"{what}: service", default_first=False)
            tier = getattr(op, "tier", None)
            if tier is not None:
                check_tier(self.config, service, tier, option=f"{what}: tier")
            try:  # and whatever else the scenario file's own check refuses
                spec.check_operation(op, self.config.services, where=self.name)
            except ValueError as exc:
                if isinstance(exc, ScenarioError):
                    raise
                raise ScenarioError(str(exc), fix="see the scenario reference") from None

    def _with(
        self, ops: Sequence[Any], *, name: str | None = None, cost: float | None = None
    ) -> Scenario:
        """A new scenario on this region: these operations after ours, checked first."""
        self._check_operations(ops)
        return Scenario(
            self.config,
            region=self.region,
            operations=[*self.operations, *ops],
            name=name or (self.name if self.operations else "alternative"),
            cost=cost if cost is not None else self.cost,
            root=self._root,
        )

    def named(self, name: str, *, cost: float | None = None) -> Scenario:
        """A copy with another name (and cost), with the same operations.

        Parameters
        ----------
        name
            The new name, as comparisons and rankings show it.
        cost
            The new cost; the current one when not given.

        Returns
        -------
        Scenario
            The renamed copy (evaluated anew when asked).
        """
        return Scenario(
            self.config,
            region=self.region,
            operations=self.operations,
            name=name,
            cost=cost if cost is not None else self.cost,
            root=self._root,
        )

    def add_facility(
        self,
        service: str,
        *,
        lon: float,
        lat: float,
        tier: str,
        facility_id: str | None = None,
        name: str = "",
        capacity: float | None = None,
    ) -> Scenario:
        """Open a facility of ``service`` at (lon, lat).

        Parameters
        ----------
        service
            The service's name.
        lon, lat
            Where the facility stands, in decimal degrees (WGS 84).
        tier
            Its tier, one the service may have (:func:`~reach.spec.service_tiers`).
        facility_id
            Its id; default ``new-<n>``, with ``n`` one more than the operations so far.
        name
            Its name; default its id.
        capacity
            People it can serve (≥ 0); default unlimited.

        Returns
        -------
        Scenario
            This scenario plus the new facility.

        Raises
        ------
        ScenarioError
            For an unknown service or tier, a bad coordinate or capacity.
        """
        check_service(self.config, service, option="add_facility: service", default_first=False)
        check_tier(self.config, service, tier, option="add_facility: tier")
        fid = facility_id or f"new-{len(self.operations) + 1}"
        if capacity is not None:
            capacity = check_amount("add_facility: capacity", capacity, allow_zero=True)
        op = _validated(spec.AddFacility, {
            "op": "add_facility", "service": service, "facility_id": fid, "name": name,
            "lon": lon, "lat": lat, "tier": tier, "capacity": capacity,
        }, "add_facility")  # fmt: skip
        return self._with([op])

    def close_facility(self, service: str, facility_id: str) -> Scenario:
        """Close a facility.

        Parameters
        ----------
        service
            The service's name.
        facility_id
            The facility's id, as in the baseline's ``facilities.csv``.

        Returns
        -------
        Scenario
            This scenario minus the facility (an unknown id is refused when evaluated).

        Raises
        ------
        ScenarioError
            For an unknown service.
        """
        check_service(self.config, service, option="close_facility: service", default_first=False)
        op = _validated(
            spec.CloseFacility,
            {"op": "close_facility", "service": service, "facility_id": facility_id},
            "close_facility",
        )
        return self._with([op])

    def upgrade_facility(
        self,
        service: str,
        facility_id: str,
        *,
        tier: str | None = None,
        capacity: float | None = None,
    ) -> Scenario:
        """Change a facility's tier and/or capacity.

        Parameters
        ----------
        service
            The service's name.
        facility_id
            The facility's id, as in the baseline's ``facilities.csv``.
        tier
            Its new tier; unchanged when not given.
        capacity
            People it can serve (≥ 0); unchanged when not given.

        Returns
        -------
        Scenario
            This scenario with the facility changed (an unknown id is refused when evaluated).

        Raises
        ------
        ScenarioError
            For an unknown service or tier, or a bad capacity.
        """
        check_service(self.config, service, option="upgrade_facility: service", default_first=False)
        if tier is not None:
            check_tier(self.config, service, tier, option="upgrade_facility: tier")
        if capacity is not None:
            capacity = check_amount("upgrade_facility: capacity", capacity, allow_zero=True)
        op = _validated(spec.UpgradeFacility, {
            "op": "upgrade_facility", "service": service, "facility_id": facility_id,
            "tier": tier, "capacity": capacity,
        }, "upgrade_facility")  # fmt: skip
        return self._with([op])

    def with_operations(self, *operations: dict[str, Any]) -> Scenario:
        """Add operations written as in the scenario file (``{"op": "add_road", ...}``).

        Parameters
        ----------
        *operations
            Each operation as a mapping with its ``op`` and the keys the scenario file takes.

        Returns
        -------
        Scenario
            This scenario plus the operations, in order.

        Raises
        ------
        ScenarioError
            For the first operation the scenario file would refuse.
        """
        alt = _validated(
            spec.Alternative, {"name": "x", "operations": list(operations)}, "with_operations"
        )
        return self._with(list(alt.operations))

    def evaluation(self) -> Evaluation:
        """Evaluate (once) and return per-service results.

        An alternative is searched from its baseline's evaluation onward where it can be
        (see :func:`reach.run.evaluate.evaluate`); the baseline is evaluated first if needed.

        Returns
        -------
        Evaluation
            The per-service results, kept for later calls.

        Raises
        ------
        ScenarioError
            When an operation cannot be applied to the region (e.g. an unknown facility id).
        """
        if self._evaluation is None:
            alt = (
                spec.Alternative(name="x", cost=self.cost, operations=list(self.operations))
                if self.operations
                else None
            )
            base = self._root.evaluation() if alt is not None and self._root is not self else None
            self._evaluation = evaluate(self.region, name=self.name, alternative=alt, baseline=base)
        return self._evaluation

    def run(self) -> pd.DataFrame:
        """The coverage table of this scenario (every service, every zone).

        Returns
        -------
        pandas.DataFrame
            People within each threshold per service and zone, then the outside-zones and
            all rows.
        """
        return self.evaluation().coverage

    def compare(self, baseline: Scenario) -> pd.DataFrame:
        """Per zone and service: covered before and after, gains, losses, cost.

        Parameters
        ----------
        baseline
            The scenario to compare with, on the same region (usually the baseline).

        Returns
        -------
        pandas.DataFrame
            The comparison rows of this scenario against ``baseline`` (see
            :func:`reach.scenarios.compare.compare_access`).
        """
        return compare_evaluations(self.region, baseline.evaluation(), self.evaluation())

    def rank(self, *alternatives: Scenario) -> pd.DataFrame:
        """Rank alternatives against this (baseline) scenario.

        Parameters
        ----------
        *alternatives
            The scenarios to rank, on the same region.

        Returns
        -------
        pandas.DataFrame
            One row per service and alternative: net people newly covered within the
            service's middle threshold, people gaining and losing, cost, gain per cost and
            rank (1 = best).
        """
        rows = pd.concat(
            [
                compare_evaluations(self.region, self.evaluation(), a.evaluation())
                for a in alternatives
            ],
            ignore_index=True,
        )
        return rank_alternatives(
            rows, key_thresholds={s.name: key_threshold(s) for s in self.config.services}
        )

    def underserved_sites(
        self,
        service: str,
        *,
        beyond_min: float,
        n_sites: int = 10,
        radius_m: float = 2500.0,
        zone: str | None = None,
    ) -> pd.DataFrame:
        """Candidate sites where most people beyond ``beyond_min`` live (see ``candidates``).

        Parameters
        ----------
        service
            The service whose travel times count.
        beyond_min
            Threshold in minutes (≥ 0): people beyond it, or not reached, are underserved.
        n_sites
            How many sites at most (1 to :data:`MAX_UNDERSERVED_SITES`).
        radius_m
            Radius in metres each site is scored on; sites are at least twice that apart.
        zone
            Keep to one reporting zone (its id or its name).

        Returns
        -------
        pandas.DataFrame
            ``rank``, ``lon``, ``lat``, ``cell`` and ``underserved_people`` (within
            ``radius_m``), best first, on passable cells only.

        Raises
        ------
        ScenarioError
            For an unknown service or zone, or an argument out of range.
        """
        service = check_service(
            self.config, service, option="underserved_sites: service", default_first=False
        )
        beyond_min = check_minutes("beyond_min", beyond_min, allow_zero=True)
        n_sites = check_count("n_sites", n_sites, upper=MAX_UNDERSERVED_SITES)
        radius_m = check_amount("radius_m", radius_m)
        if zone is not None and not isinstance(zone, str):
            raise ScenarioError(f"zone must be a zone id or name, not {zone!r}", fix="give text")
        ev = self.evaluation()
        region = self.region
        res = ev.services[service]
        allowed = np.isfinite(region.friction.pace_min_per_m).reshape(region.grid.shape)
        if zone is not None:
            ids = region.zones["zone_id"].astype(str).tolist()
            names = region.zones["name"].astype(str).tolist()
            if zone in ids:
                k = ids.index(zone)
            elif zone in names:
                k = names.index(zone)
            else:
                raise ScenarioError(
                    f"no zone {zone!r} in the region",
                    fix=f"use a zone id or name, e.g. {', '.join(names[:10])}",
                )
            allowed &= region.zone == k + 1
        return underserved_sites(
            region.population.people, res.search.time_min, region.grid,
            beyond_min=beyond_min, n_sites=n_sites, radius_m=radius_m, allowed=allowed,
        )  # fmt: skip

    def run_file(self, *, out_dir: Path | None = None) -> RunResult:
        """Run the scenario file itself (baseline and all its alternatives) and write outputs.

        This scenario's own operations are not part of the run; its loaded region is reused.

        Parameters
        ----------
        out_dir
            Output folder; default the scenario's ``outputs.folder``.

        Returns
        -------
        RunResult
            Baseline, alternatives, comparison and ranking (see
            :func:`reach.run.scenario_set.run_scenario`).

        Raises
        ------
        InputError
            When the output folder may not be replaced.
        """
        return run_scenario(self.config, out_dir=out_dir, region=self.region)
