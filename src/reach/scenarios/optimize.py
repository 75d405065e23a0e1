"""Siting new facilities: the maximal covering location problem.

Choose new sites among candidates to cover the most people who are not covered today, existing
facilities kept: a person counts when the baseline leaves them beyond ``threshold_min`` (or
unreachable) and some chosen site is within ``threshold_min`` of them.

Steps:

1. **Candidates** — from lon/lat points (:func:`candidates_from_points`), a lattice of passable
   cells (:func:`candidates_from_grid`) or the underserved-site screen
   (:func:`candidates_from_underserved`): a table with ``candidate_id``, ``lon``, ``lat`` and
   ``cell``, optionally ``cost`` and ``capacity_people``.
2. **Coverage** — :func:`build_siting_problem` runs one bounded search per candidate
   (:func:`reach.metrics.capacity.catchment_times`, ``max_time_min = threshold_min``) and keeps
   only the people the baseline leaves uncovered, so its cost grows with the candidates'
   catchments, not the region. Cells covered by exactly the same candidates are merged into one
   demand group (the problem does not change; it gets much smaller).
3. **Solvers** — :func:`greedy_sites` and :func:`exact_sites` (a MILP solved by HiGHS through
   ``scipy.optimize.milp``); :func:`compare_solvers` runs both and gives the gap.

Options: at most ``n_sites`` sites, and/or a ``budget`` with a cost per site; a capacity per site
(a site covers at most that many people; the people it covers are then an assignment, the best
one for the chosen sites, found by a linear programme).

The chosen sites come back in order with their marginal and cumulative gains and turn into
scenario operations (:meth:`SitingSolution.operations`) or an ``[[alternatives]]`` TOML entry
(:meth:`SitingSolution.alternative_toml`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from reach.errors import ResourceLimitError, ScenarioError
from reach.metrics.capacity import catchment_times
from reach.model.assemble import SearchGraph
from reach.model.grid import AnalysisGrid
from reach.model.joins import FacilitySeeds
from reach.model.snap import snap_to_passable
from reach.scenarios.candidates import underserved_sites

__all__ = [
    "GREEDY_GUARANTEE",
    "GREEDY_GUARANTEE_BUDGET",
    "SitingProblem",
    "SitingSolution",
    "SolverComparison",
    "build_siting_problem",
    "candidates_from_grid",
    "candidates_from_points",
    "candidates_from_underserved",
    "compare_solvers",
    "covered_people",
    "exact_sites",
    "greedy_sites",
    "siting_problem",
]

#: Greedy covers at least this share of the optimum with a limit on the number of sites.
GREEDY_GUARANTEE = 1.0 - 1.0 / math.e
#: Cost-effectiveness greedy or the best single site, whichever is better, with a budget.
GREEDY_GUARANTEE_BUDGET = 0.5 * (1.0 - 1.0 / math.e)


# --- candidates -----------------------------------------------------------------------------------


def _lon_lat(grid: AnalysisGrid, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = grid.cell_centres(cells)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.round(np.asarray(lon, np.float64), 6), np.round(np.asarray(lat, np.float64), 6)


def candidates_from_points(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    *,
    grid: AnalysisGrid,
    passable: np.ndarray,
    candidate_id: Sequence[str] | None = None,
    cost: Sequence[float] | np.ndarray | None = None,
    capacity_people: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Candidate sites at given longitude / latitude points.

    Each point goes to its grid cell, or the nearest passable cell close by (as facilities do);
    a point with none keeps ``cell = -1`` and covers nobody.

    Parameters
    ----------
    lon, lat
        WGS 84 coordinates of the points.
    grid
        The analysis grid.
    passable
        ``bool`` (rows, cols): cells a facility can stand in.
    candidate_id
        Names of the candidates (default ``p1``, ``p2``, ...).
    cost
        Cost of opening each site (any currency).
    capacity_people
        People each site could serve (NaN = unlimited).

    Returns
    -------
    pandas.DataFrame
        ``candidate_id``, ``lon``, ``lat``, ``cell`` and, when given, ``cost`` and
        ``capacity_people``.
    """
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    if lon_a.shape != lat_a.shape:
        raise ScenarioError("lon and lat differ in length")
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon_a, lat_a)
    cells = snap_to_passable(
        np.asarray(x, np.float64), np.asarray(y, np.float64), grid, np.asarray(passable, bool)
    )
    ids = [f"p{i + 1}" for i in range(len(lon_a))] if candidate_id is None else candidate_id
    out = pd.DataFrame(
        {"candidate_id": [str(i) for i in ids], "lon": lon_a, "lat": lat_a, "cell": cells}
    )
    if cost is not None:
        out["cost"] = np.asarray(cost, dtype=np.float64)
    if capacity_people is not None:
        out["capacity_people"] = np.asarray(capacity_people, dtype=np.float64)
    return out


def candidates_from_grid(
    grid: AnalysisGrid,
    passable: np.ndarray,
    *,
    step_cells: int,
    allowed: np.ndarray | None = None,
) -> pd.DataFrame:
    """Candidate sites on a lattice: every ``step_cells``-th row and column, passable cells only.

    Parameters
    ----------
    grid
        The analysis grid.
    passable
        ``bool`` (rows, cols): cells a facility can stand in.
    step_cells
        Spacing of the lattice in cells (the first point is half a step in).
    allowed
        ``bool`` (rows, cols): where sites may go (default everywhere passable).

    Returns
    -------
    pandas.DataFrame
        ``candidate_id`` (``g<cell>``), ``lon``, ``lat``, ``cell``, in cell order.
    """
    if step_cells < 1:
        raise ScenarioError("step_cells must be ≥ 1")
    ok = np.asarray(passable, dtype=bool).reshape(grid.shape)
    if allowed is not None:
        ok = ok & np.asarray(allowed, dtype=bool).reshape(grid.shape)
    lattice = np.zeros(grid.shape, dtype=bool)
    half = step_cells // 2
    lattice[half::step_cells, half::step_cells] = True
    cells = np.flatnonzero(lattice & ok)
    lon, lat = _lon_lat(grid, cells)
    return pd.DataFrame(
        {"candidate_id": [f"g{c}" for c in cells], "lon": lon, "lat": lat, "cell": cells}
    )


def candidates_from_underserved(
    people: np.ndarray,
    time_min: np.ndarray,
    grid: AnalysisGrid,
    *,
    threshold_min: float,
    n_sites: int,
    radius_m: float = 2500.0,
    allowed: np.ndarray | None = None,
) -> pd.DataFrame:
    """Candidate sites from :func:`reach.scenarios.candidates.underserved_sites`.

    Parameters
    ----------
    people, time_min, grid, radius_m, allowed
        As for ``underserved_sites``.
    threshold_min
        People beyond this are underserved.
    n_sites
        How many candidates at most.

    Returns
    -------
    pandas.DataFrame
        ``candidate_id`` (``u<rank>``), ``lon``, ``lat``, ``cell``, ``underserved_people``.
    """
    sites = underserved_sites(
        people,
        time_min,
        grid,
        beyond_min=threshold_min,
        n_sites=n_sites,
        radius_m=radius_m,
        allowed=allowed,
    )
    out = sites[["lon", "lat", "cell", "underserved_people"]].copy()
    out.insert(0, "candidate_id", [f"u{r}" for r in sites["rank"]])
    return out.reset_index(drop=True)


# --- the problem ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitingProblem:
    """A maximal covering problem, demand merged into groups.

    Attributes
    ----------
    cover
        ``scipy.sparse.csr_array`` candidate × demand group: 1 where the candidate covers the
        group.
    demand_people
        People in each demand group (uncovered today).
    candidates
        One row per candidate (``candidate_id``, ``lon``, ``lat``, ``cell`` when known).
    cost
        Cost per candidate, or ``None``.
    capacity_people
        People each candidate can serve (NaN = unlimited), or ``None`` (all unlimited).
    threshold_min
        The coverage threshold (NaN when built from a coverage matrix directly).
    demand_cells, demand_group
        Each demand cell (or column of the original matrix) and its group.
    """

    cover: sparse.csr_array
    demand_people: np.ndarray
    candidates: pd.DataFrame
    cost: np.ndarray | None
    capacity_people: np.ndarray | None
    threshold_min: float
    demand_cells: np.ndarray
    demand_group: np.ndarray

    @property
    def n_candidates(self) -> int:
        """Number of candidates."""
        return int(self.cover.shape[0])

    @property
    def capacitated(self) -> bool:
        """Whether some candidate has a finite capacity."""
        return self.capacity_people is not None and bool(np.isfinite(self.capacity_people).any())

    @property
    def total_demand_people(self) -> float:
        """People any candidate could cover."""
        return float(self.demand_people.sum())


def siting_problem(
    cover: Any,
    demand_people: np.ndarray,
    *,
    cost: np.ndarray | None = None,
    capacity_people: np.ndarray | None = None,
    candidates: pd.DataFrame | None = None,
    threshold_min: float = math.nan,
) -> SitingProblem:
    """A siting problem from a candidate × demand-point coverage matrix.

    Parameters
    ----------
    cover
        Candidate × demand point, dense or sparse: a stored / non-zero entry means covered (a
        stored 0 counts too, as in :func:`~reach.metrics.capacity.catchment_times`).
    demand_people
        People at each demand point (uncovered today).
    cost
        Cost of each candidate (finite, ≥ 0); default the ``cost`` column of ``candidates``
        when it has one.
    capacity_people
        People each candidate can serve (≥ 0; NaN = unlimited); default the
        ``capacity_people`` column of ``candidates`` when it has one.
    candidates
        One row per candidate (kept for the result); default just ``candidate_id`` = ``c<i>``.
    threshold_min
        The coverage threshold, for the record.

    Returns
    -------
    SitingProblem
        With demand points covered by the same candidates merged into groups.
    """
    m = sparse.csr_array(cover) if sparse.issparse(cover) else sparse.csr_array(np.asarray(cover))
    if not sparse.issparse(cover):
        m.eliminate_zeros()  # a dense 0 means "not covered"
    n_cand, n_points = m.shape
    pop = np.asarray(demand_people, dtype=np.float64).ravel()
    if pop.shape != (n_points,):
        raise ScenarioError(f"demand_people has {pop.size} values for {n_points} demand points")
    if not np.isfinite(pop).all() or (pop < 0).any():
        raise ScenarioError("demand_people must be finite and ≥ 0")
    if candidates is not None:
        if cost is None and "cost" in candidates.columns:
            cost = candidates["cost"].to_numpy(np.float64)
        if capacity_people is None and "capacity_people" in candidates.columns:
            capacity_people = candidates["capacity_people"].to_numpy(np.float64)
    c = None if cost is None else np.asarray(cost, dtype=np.float64).ravel()
    if c is not None and (c.shape != (n_cand,) or not np.isfinite(c).all() or (c < 0).any()):
        raise ScenarioError(f"cost needs {n_cand} finite values ≥ 0")
    cap = None if capacity_people is None else np.asarray(capacity_people, np.float64).ravel()
    if cap is not None and (cap.shape != (n_cand,) or (cap < 0).any() or np.isinf(cap).any()):
        raise ScenarioError(f"capacity_people needs {n_cand} values ≥ 0 (NaN = unlimited)")
    if candidates is None:
        candidates = pd.DataFrame({"candidate_id": [f"c{i}" for i in range(n_cand)]})
    if len(candidates) != n_cand:
        raise ScenarioError(f"candidates has {len(candidates)} rows for {n_cand} candidates")

    coo = m.tocoo()
    keep = pop[coo.col] > 0  # demand points with nobody in them change nothing
    rows = coo.row[keep].astype(np.int64)
    cols = coo.col[keep].astype(np.int64)
    points, inv = np.unique(cols, return_inverse=True)
    width = max(1, (n_cand + 7) // 8)
    packed = np.zeros((len(points), width), dtype=np.uint8)
    np.bitwise_or.at(packed, (inv, rows // 8), (1 << (rows % 8)).astype(np.uint8))
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()
    _, group = np.unique(keys, return_inverse=True)
    group = group.ravel().astype(np.int64)
    n_groups = int(group.max()) + 1 if len(group) else 0
    pairs = np.unique(rows * max(n_groups, 1) + group[inv])
    pr, pg = np.divmod(pairs, max(n_groups, 1))
    cover_g = sparse.csr_array((np.ones(len(pairs)), (pr, pg)), shape=(n_cand, n_groups))
    demand = np.bincount(group, weights=pop[points], minlength=n_groups)
    return SitingProblem(
        cover=cover_g,
        demand_people=demand,
        candidates=candidates.reset_index(drop=True),
        cost=c,
        capacity_people=cap,
        threshold_min=float(threshold_min),
        demand_cells=points,
        demand_group=group,
    )


def build_siting_problem(
    graph: SearchGraph,
    candidates: pd.DataFrame,
    *,
    people: np.ndarray,
    baseline_time_min: np.ndarray,
    threshold_min: float,
    target_share: float = 1.0,
    seeds: FacilitySeeds | None = None,
) -> SitingProblem:
    """Search each candidate's catchment and set up the covering problem.

    Parameters
    ----------
    graph
        The search graph of the service's mode (as the pipeline builds it).
    candidates
        One row per candidate with a ``cell`` column (``-1`` = covers nobody); optional ``cost``
        and ``capacity_people`` columns are used.
    people
        People per cell.
    baseline_time_min
        Today's minutes to the nearest facility per cell (``inf`` / NaN where unreachable):
        people within ``threshold_min`` already are covered and do not count.
    threshold_min
        Coverage threshold in minutes.
    target_share
        Share of the population the service targets, in (0, 1].
    seeds
        Where each candidate's search starts, numbered by candidate row
        (:func:`reach.model.assemble.facility_seeds`); ``None``: from its cell alone.

    Returns
    -------
    SitingProblem
        The problem over the people the baseline leaves uncovered.
    """
    if not (0.0 < float(target_share) <= 1.0):
        raise ScenarioError(f"target_share must lie in (0, 1] (got {target_share})")
    pop = np.asarray(people, dtype=np.float64).ravel() * float(target_share)
    base = np.asarray(baseline_time_min, dtype=np.float64).ravel()
    if pop.shape != base.shape:
        raise ScenarioError("people and baseline_time_min differ in size")
    if "cell" not in candidates.columns:
        raise ScenarioError("candidates need a `cell` column")
    uncovered = np.where(base <= threshold_min, 0.0, pop)  # NaN compares False: uncovered
    times = catchment_times(
        graph,
        candidates["cell"].to_numpy(np.int64),
        people=uncovered,
        max_time_min=threshold_min,
        seeds=seeds,
    )
    return siting_problem(times, uncovered, candidates=candidates, threshold_min=threshold_min)


# --- evaluating a set of sites --------------------------------------------------------------------


def covered_people(problem: SitingProblem, sites: Sequence[int] | np.ndarray) -> float:
    """People the sites cover together (the objective).

    Without capacities: the people of every group some site covers. With capacities: the
    largest assignment of people to sites within reach and capacity (a linear programme).

    Parameters
    ----------
    problem
        The covering problem.
    sites
        Rows of ``problem.candidates`` chosen (repeats count once).

    Returns
    -------
    float
        People covered (0 for no site).
    """
    chosen = np.unique(np.asarray(sites, dtype=np.int64))
    if chosen.size == 0:
        return 0.0
    sub = problem.cover[chosen]
    if not problem.capacitated:
        hit = np.zeros(len(problem.demand_people), dtype=bool)
        hit[sub.indices] = True
        return float(problem.demand_people[hit].sum())
    assert problem.capacity_people is not None
    coo = sub.tocoo()
    site, grp = coo.row.astype(np.int64), coo.col.astype(np.int64)
    n_e = len(site)
    if n_e == 0:
        return 0.0
    groups, g_idx = np.unique(grp, return_inverse=True)
    a_group = sparse.csr_array((np.ones(n_e), (g_idx, np.arange(n_e))), shape=(len(groups), n_e))
    cap = problem.capacity_people[chosen]
    finite = np.flatnonzero(np.isfinite(cap))
    pos = np.full(len(chosen), -1)
    pos[finite] = np.arange(len(finite))
    on_finite = pos[site] >= 0
    a_site = sparse.csr_array(
        (np.ones(int(on_finite.sum())), (pos[site][on_finite], np.flatnonzero(on_finite))),
        shape=(len(finite), n_e),
    )
    a_ub = sparse.vstack([a_group, a_site]).tocsr()
    b_ub = np.r_[problem.demand_people[groups], cap[finite]]
    res = linprog(
        -np.ones(n_e),
        A_ub=a_ub,
        b_ub=b_ub,
        bounds=np.c_[np.zeros(n_e), problem.demand_people[grp]],
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"the assignment LP failed: {res.message}")
    return float(min(-res.fun, problem.demand_people[groups].sum()))


def _gains(problem: SitingProblem, remaining: np.ndarray) -> np.ndarray:
    """What each candidate would add: uncovered people it reaches, at most its capacity."""
    g = problem.cover @ remaining
    if problem.capacity_people is not None:
        g = np.where(np.isnan(problem.capacity_people), g, np.minimum(g, problem.capacity_people))
    return np.asarray(g, dtype=np.float64)


def _claim(problem: SitingProblem, remaining: np.ndarray, j: int) -> None:
    """Site ``j`` takes its people: all it reaches, or a proportional share up to capacity."""
    lo, hi = problem.cover.indptr[j], problem.cover.indptr[j + 1]
    groups = problem.cover.indices[lo:hi]
    avail = float(remaining[groups].sum())
    cap = math.nan if problem.capacity_people is None else float(problem.capacity_people[j])
    if math.isnan(cap) or avail <= cap:
        remaining[groups] = 0.0
    elif avail > 0:
        remaining[groups] *= 1.0 - cap / avail


def _pick(score: np.ndarray, gain: np.ndarray, ok: np.ndarray) -> int:
    """Best candidate by score, then gain, then lowest index; -1 when none is allowed."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return -1
    best = np.lexsort((idx, -gain[idx], -score[idx]))[0]
    return int(idx[best])


def _limits(problem: SitingProblem, n_sites: int | None, budget: float | None) -> tuple[int, float]:
    if n_sites is None and budget is None:
        raise ScenarioError("give n_sites, a budget, or both")
    if problem.n_candidates == 0:
        raise ScenarioError(
            "the siting problem has no candidate sites", fix="give at least one candidate"
        )
    if n_sites is not None and (
        isinstance(n_sites, bool) or not isinstance(n_sites, int | np.integer)
    ):
        raise ScenarioError(f"n_sites must be a whole number, not {n_sites!r}")
    k = problem.n_candidates if n_sites is None else int(n_sites)
    if k < 0:
        raise ScenarioError("n_sites must be ≥ 0")
    b = math.inf if budget is None else float(budget)
    if budget is not None:
        if problem.cost is None:
            raise ScenarioError("a budget needs a cost per candidate")
        if math.isnan(b) or b < 0:
            raise ScenarioError("budget must be ≥ 0")
    return k, b


def _greedy_run(
    problem: SitingProblem, k: int, budget: float, *, by_ratio: bool
) -> tuple[list[int], np.ndarray]:
    remaining = problem.demand_people.copy()
    cost = np.zeros(problem.n_candidates) if problem.cost is None else problem.cost
    chosen: list[int] = []
    taken = np.zeros(problem.n_candidates, dtype=bool)
    spent = 0.0
    tol = 1e-9 * max(1.0, budget if math.isfinite(budget) else 1.0)
    while len(chosen) < k:
        gain = _gains(problem, remaining)
        ok = ~taken & (gain > 0) & (cost <= budget - spent + tol)
        if by_ratio:
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(cost > 0, gain / np.where(cost > 0, cost, 1.0), np.inf)
        else:
            score = gain
        j = _pick(score, gain, ok)
        if j < 0:
            break
        chosen.append(j)
        taken[j] = True
        spent += float(cost[j])
        _claim(problem, remaining, j)
    return chosen, remaining


@dataclass(frozen=True, eq=False)
class SitingSolution:
    """Chosen sites, in order.

    Attributes
    ----------
    solver
        ``greedy`` or ``milp``.
    sites
        One row per chosen site, in the order they add most: ``order`` (1, 2, ...),
        ``candidate`` (row of the candidates table) and its ``candidate_id``, ``lon``, ``lat``,
        ``cell`` when known, ``marginal_gain_people`` (newly covered people it adds to the
        sites before it), ``cumulative_gain_people``; with costs ``cost`` and
        ``cumulative_cost``; with capacities ``capacity_people``.
    covered_people
        Newly covered people of all the sites together.
    total_cost
        Their cost (NaN without costs).
    proven_optimal
        True when the MILP proved the optimum (within its gap tolerance).
    upper_bound_people
        No choice within the limits covers more than this: the MILP's bound, or for the
        greedy without capacities the bound from its last marginal gains
        (``f(S) + the best gains that fit``); NaN when unknown.
    """

    solver: str
    sites: pd.DataFrame
    covered_people: float
    total_cost: float
    proven_optimal: bool
    upper_bound_people: float

    def operations(
        self,
        *,
        service: str,
        tier: str,
        id_prefix: str = "new-",
        name_prefix: str = "New site ",
    ) -> list[dict[str, Any]]:
        """The sites as ``add_facility`` scenario operations, in order.

        Each gets ``facility_id`` ``<id_prefix><order>`` and name ``<name_prefix><order>``; a
        candidate's capacity becomes the facility's ``capacity``.

        Parameters
        ----------
        service
            The service the facilities offer.
        tier
            Their tier.
        id_prefix
            The start of each ``facility_id``.
        name_prefix
            The start of each name.

        Returns
        -------
        list of dict
            One ``add_facility`` operation per site, in the order chosen.

        Raises
        ------
        ScenarioError
            When the candidates have no ``lon`` / ``lat``.
        """
        if not {"lon", "lat"} <= set(self.sites.columns):
            raise ScenarioError("the candidates have no lon / lat: give them to place facilities")
        ops: list[dict[str, Any]] = []
        orders = self.sites["order"].to_numpy(np.int64)
        lon = self.sites["lon"].to_numpy(np.float64)
        lat = self.sites["lat"].to_numpy(np.float64)
        caps = (
            self.sites["capacity_people"].to_numpy(np.float64)
            if "capacity_people" in self.sites.columns
            else np.full(len(orders), np.nan)
        )
        for i, order in enumerate(orders):
            op: dict[str, Any] = {
                "op": "add_facility",
                "service": service,
                "facility_id": f"{id_prefix}{order}",
                "name": f"{name_prefix}{order}",
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "tier": tier,
            }
            if math.isfinite(caps[i]):
                op["capacity"] = float(caps[i])
            ops.append(op)
        return ops

    def alternative_toml(
        self,
        *,
        name: str,
        service: str,
        tier: str,
        description: str | None = None,
        id_prefix: str = "new-",
        name_prefix: str = "New site ",
    ) -> str:
        """An ``[[alternatives]]`` entry adding the sites, as TOML text for a scenario file.

        Parameters
        ----------
        name
            The alternative's name.
        service, tier, id_prefix, name_prefix
            As for :meth:`operations`.
        description
            Its description; by default how many sites, the solver and the people they
            cover.

        Returns
        -------
        str
            The entry, ending in a newline (with ``cost`` when the sites' cost is known).
        """
        ops = self.operations(
            service=service, tier=tier, id_prefix=id_prefix, name_prefix=name_prefix
        )
        desc = description or (
            f"{len(ops)} new {service} sites chosen by {self.solver}: "
            f"{self.covered_people:.0f} people newly within {self._threshold_text()}"
        )
        lines = ["[[alternatives]]", f"name = {_toml_value(name)}"]
        lines.append(f"description = {_toml_value(desc)}")
        if math.isfinite(self.total_cost):
            lines.append(f"cost = {_toml_value(self.total_cost)}")
        lines.append("operations = [")
        for op in ops:
            body = ", ".join(f"{k} = {_toml_value(v)}" for k, v in op.items())
            lines.append(f"  {{ {body} }},")
        lines.append("]")
        return "\n".join(lines) + "\n"

    def _threshold_text(self) -> str:
        th = self.sites.attrs.get("threshold_min", math.nan)
        return f"{th:g} min" if math.isfinite(th) else "the threshold"


def _toml_value(v: object) -> str:
    """A TOML scalar: JSON's string escapes are valid TOML basic-string escapes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            raise ScenarioError("TOML cannot hold a non-finite number here")
        return repr(f)
    return json.dumps(str(v), ensure_ascii=True)


def _order_sites(problem: SitingProblem, sites: Sequence[int]) -> list[int]:
    """Order a set of sites greedily: each next one adds the most (ties: lowest index)."""
    todo = sorted(int(s) for s in sites)
    remaining = problem.demand_people.copy()
    out: list[int] = []
    while todo:
        gain = _gains(problem, remaining)
        j = min(todo, key=lambda s: (-gain[s], s))
        out.append(j)
        todo.remove(j)
        _claim(problem, remaining, j)
    return out


def _solution(
    problem: SitingProblem,
    order: Sequence[int],
    *,
    solver: str,
    proven_optimal: bool,
    upper_bound: float,
) -> SitingSolution:
    cum = [covered_people(problem, order[: i + 1]) for i in range(len(order))]
    marginal = np.diff(np.r_[0.0, cum])
    idx = np.asarray(order, dtype=np.int64)
    cand = problem.candidates.iloc[idx].reset_index(drop=True)
    sites = pd.DataFrame({"order": np.arange(1, len(idx) + 1), "candidate": idx})
    for col in ("candidate_id", "lon", "lat", "cell"):
        if col in cand.columns:
            sites[col] = cand[col].to_numpy()
    sites["marginal_gain_people"] = marginal
    sites["cumulative_gain_people"] = np.asarray(cum, dtype=np.float64)
    total_cost = math.nan
    if problem.cost is not None:
        sites["cost"] = problem.cost[idx]
        sites["cumulative_cost"] = np.cumsum(problem.cost[idx])
        total_cost = float(problem.cost[idx].sum())
    if problem.capacity_people is not None:
        sites["capacity_people"] = problem.capacity_people[idx]
    sites.attrs["threshold_min"] = problem.threshold_min
    return SitingSolution(
        solver=solver,
        sites=sites,
        covered_people=float(cum[-1]) if cum else 0.0,
        total_cost=total_cost,
        proven_optimal=proven_optimal,
        upper_bound_people=upper_bound,
    )


def _greedy_bound(
    problem: SitingProblem, remaining: np.ndarray, covered: float, k: int, budget: float
) -> float:
    """``f(S) + Σ`` of the best marginal gains that fit: no solution within the limits beats it.

    Valid for coverage without capacities (a monotone submodular objective): for an optimal set
    ``O``, ``f(O) ≤ f(S) + Σ_{j ∈ O} gain_j(S)``; the sum is bounded by the ``k`` largest gains
    and by the fractional knapsack of the gains within the budget.
    """
    if problem.capacitated:
        return math.nan
    gain = np.sort(_gains(problem, remaining))[::-1]
    bound = covered + float(gain[: min(k, len(gain))].sum())
    if math.isfinite(budget) and problem.cost is not None:
        g = _gains(problem, remaining)
        c = problem.cost
        free = c <= 0
        extra = float(g[free].sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(free, 0.0, g / np.where(free, 1.0, c))
        left = budget
        for j in np.argsort(-ratio, kind="stable"):
            if free[j] or g[j] <= 0 or left <= 0:
                continue
            take = min(1.0, left / c[j])
            extra += take * float(g[j])
            left -= take * float(c[j])
        bound = min(bound, covered + extra)
    return bound


def greedy_sites(
    problem: SitingProblem, *, n_sites: int | None = None, budget: float | None = None
) -> SitingSolution:
    """Choose sites greedily: each step adds the candidate covering the most new people.

    With a limit of ``n_sites`` and no capacities, the greedy choice covers at least
    ``1 − 1/e ≈ 63.2 %`` of the best possible (:data:`GREEDY_GUARANTEE`): coverage is monotone
    and submodular (Nemhauser, Wolsey and Fisher, 1978).

    With a ``budget`` (and a cost per candidate), each step takes the affordable candidate with
    the most new people per unit cost (zero-cost sites first); the result is that or the best
    single affordable site, whichever covers more, which is at least ``½ (1 − 1/e) ≈ 31.6 %``
    of the optimum (:data:`GREEDY_GUARANTEE_BUDGET`; Khuller, Moss and Naor, 1999). Both limits
    may be given together (no guarantee is claimed then).

    With capacities, each chosen site takes a proportional share of the uncovered people it
    reaches, up to its capacity; the reported coverage is the best assignment of people to the
    chosen sites. No guarantee is claimed.

    Ties go to the lower candidate index; sites that add nobody are never chosen.

    Parameters
    ----------
    problem
        The covering problem.
    n_sites
        At most this many sites.
    budget
        At most this total cost (needs ``problem.cost``).

    Returns
    -------
    SitingSolution
        The sites in the order chosen.
    """
    k, b = _limits(problem, n_sites, budget)
    by_ratio = math.isfinite(b)
    chosen, remaining = _greedy_run(problem, k, b, by_ratio=by_ratio)
    if by_ratio and k >= 1 and problem.cost is not None:
        gain0 = _gains(problem, problem.demand_people)
        ok = (problem.cost <= b * (1 + 1e-12)) & (gain0 > 0)
        single = _pick(gain0, gain0, ok)
        if single >= 0 and covered_people(problem, [single]) > covered_people(problem, chosen):
            chosen = [single]
            remaining = problem.demand_people.copy()
            _claim(problem, remaining, single)
    covered = covered_people(problem, chosen)
    bound = _greedy_bound(problem, remaining, covered, k, b)
    return _solution(problem, chosen, solver="greedy", proven_optimal=False, upper_bound=bound)


def exact_sites(
    problem: SitingProblem,
    *,
    n_sites: int | None = None,
    budget: float | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
) -> SitingSolution:
    """Choose the sites that cover the most people, as a mixed-integer linear programme.

    Variables: ``y_j`` ∈ {0, 1} per candidate. Without capacities, ``z_g`` ∈ [0, 1] per demand
    group with ``z_g ≤ Σ_{j covers g} y_j``, maximising ``Σ_g people_g z_g``; with capacities,
    an assignment ``x_jg ≥ 0`` with ``Σ_j x_jg ≤ people_g``, ``Σ_g x_jg ≤ capacity_j y_j`` and
    ``x_jg ≤ people_g y_j``, maximising ``Σ x_jg``. Plus ``Σ y_j ≤ n_sites`` and
    ``Σ cost_j y_j ≤ budget``. Solved by HiGHS (``scipy.optimize.milp``); fine for small and
    medium problems (hundreds of candidates, thousands of demand groups).

    Parameters
    ----------
    problem
        The covering problem.
    n_sites
        At most this many sites.
    budget
        At most this total cost (needs ``problem.cost``).
    time_limit_s
        Stop the solver after this long; the best solution found is returned with
        ``proven_optimal = False`` and the solver's bound.
    mip_rel_gap
        Relative optimality gap at which HiGHS may stop (0 = prove the optimum).

    Returns
    -------
    SitingSolution
        The chosen sites, ordered by what each adds to those before it.

    Raises
    ------
    ResourceLimitError
        If the solver finds no solution within the time limit.
    """
    k, b = _limits(problem, n_sites, budget)
    n_c = problem.n_candidates
    cover = problem.cover
    pop = problem.demand_people
    limits_rows: list[np.ndarray] = []
    limits_ub: list[float] = []
    if k < n_c:
        limits_rows.append(np.ones(n_c))
        limits_ub.append(float(k))
    if math.isfinite(b):
        assert problem.cost is not None
        limits_rows.append(problem.cost)
        limits_ub.append(b)
    if not problem.capacitated:
        n_g = len(pop)
        c = np.r_[np.zeros(n_c), -pop]
        # z_g - Σ_j cover[j, g] y_j ≤ 0
        a_cov = sparse.hstack([-cover.T, sparse.identity(n_g, format="csr")]).tocsr()
        constraints = [LinearConstraint(a_cov, -np.inf, np.zeros(n_g))]
        n_x = n_g
        upper_x = np.ones(n_g)
    else:
        assert problem.capacity_people is not None
        coo = cover.tocoo()
        site, grp = coo.row.astype(np.int64), coo.col.astype(np.int64)
        n_e = len(site)
        n_x = n_e
        upper_x = pop[grp]
        c = np.r_[np.zeros(n_c), -np.ones(n_e)]
        e = np.arange(n_e)
        # Σ_j x_jg ≤ people_g
        a_grp = sparse.csr_array((np.ones(n_e), (grp, n_c + e)), shape=(len(pop), n_c + n_e))
        cap = problem.capacity_people
        fin = np.flatnonzero(np.isfinite(cap))
        on_fin = np.isin(site, fin)
        # Σ_g x_jg - capacity_j y_j ≤ 0 (finite capacities)
        a_cap = sparse.csr_array(
            (
                np.r_[np.ones(int(on_fin.sum())), -cap[fin]],
                (np.r_[site[on_fin], fin], np.r_[n_c + e[on_fin], fin]),
            ),
            shape=(n_c, n_c + n_e),
        )[fin]
        # x_jg - people_g y_j ≤ 0
        a_link = sparse.csr_array(
            (np.r_[np.ones(n_e), -pop[grp]], (np.r_[e, e], np.r_[n_c + e, site])),
            shape=(n_e, n_c + n_e),
        )
        constraints = [
            LinearConstraint(a_grp, -np.inf, pop),
            LinearConstraint(a_cap, -np.inf, np.zeros(len(fin))),
            LinearConstraint(a_link, -np.inf, np.zeros(n_e)),
        ]
    if limits_rows:
        a_lim = sparse.hstack(
            [sparse.csr_array(np.vstack(limits_rows)), sparse.csr_array((len(limits_rows), n_x))]
        ).tocsr()
        constraints.append(LinearConstraint(a_lim, -np.inf, np.asarray(limits_ub)))
    upper = np.r_[np.ones(n_c), upper_x]
    res = milp(
        c,
        integrality=np.r_[np.ones(n_c), np.zeros(n_x)],
        bounds=Bounds(np.zeros(n_c + n_x), upper),
        constraints=constraints,
        options={"time_limit": float(time_limit_s), "mip_rel_gap": float(mip_rel_gap)},
    )
    if res.x is None:
        raise ResourceLimitError(
            f"the siting MILP found no solution ({res.message})",
            fix="raise time_limit_s, use fewer candidates, or use the greedy solver",
        )
    order = _order_sites(problem, np.flatnonzero(res.x[:n_c] > 0.5).tolist())
    bound = -float(res.mip_dual_bound) if res.mip_dual_bound is not None else math.nan
    return _solution(
        problem,
        _without_idle(problem, order),
        solver="milp",
        proven_optimal=res.status == 0,
        upper_bound=bound,
    )


def _without_idle(problem: SitingProblem, order: Sequence[int]) -> list[int]:
    """Drop the sites that add nobody to those before them (the solver may open spare ones).

    Coverage, with or without capacities, is submodular: a site that adds nobody to a set adds
    nobody to any larger set either, so dropping it changes no later gain.
    """
    keep: list[int] = []
    covered = 0.0
    tol = 1e-9 * max(1.0, problem.total_demand_people)
    for j in order:
        value = covered_people(problem, [*keep, j])
        if value > covered + tol:
            keep.append(j)
            covered = value
    return keep


@dataclass(frozen=True, eq=False)
class SolverComparison:
    """Greedy and exact solutions of one problem.

    Attributes
    ----------
    greedy, exact
        The two solutions.
    gap_people
        ``exact.covered_people − greedy.covered_people`` (≥ 0 when the MILP proved the optimum).
    gap_pct
        The gap as a percentage of the exact solution's coverage (NaN when it covers nobody).
    """

    greedy: SitingSolution
    exact: SitingSolution
    gap_people: float
    gap_pct: float


def compare_solvers(
    problem: SitingProblem,
    *,
    n_sites: int | None = None,
    budget: float | None = None,
    time_limit_s: float = 60.0,
) -> SolverComparison:
    """Solve by greedy and by MILP and report the gap between them.

    Parameters
    ----------
    problem
        The covering problem.
    n_sites, budget
        The limits, as for :func:`greedy_sites`.
    time_limit_s
        Time limit of the MILP.

    Returns
    -------
    SolverComparison
        Both solutions and the gap.
    """
    g = greedy_sites(problem, n_sites=n_sites, budget=budget)
    e = exact_sites(problem, n_sites=n_sites, budget=budget, time_limit_s=time_limit_s)
    gap = e.covered_people - g.covered_people
    pct = 100.0 * gap / e.covered_people if e.covered_people > 0 else math.nan
    return SolverComparison(greedy=g, exact=e, gap_people=gap, gap_pct=pct)
