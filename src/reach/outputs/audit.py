"""The data-quality audit as output: ``audit.csv``, ``audit.json``, and its summary lines.

The findings come from ``reach.run.audit.audit_run``; this module only lays them out: the table
(columns :data:`reach.schema.AUDIT`), the counts per check and severity, the manifest's warning
lines and the few lines the terminal shows after a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reach.findings import SEVERITIES, Finding
from reach.outputs.write import write_json, write_table
from reach.schema import AUDIT

__all__ = [
    "MAX_MANIFEST_WARNINGS",
    "audit_counts",
    "audit_frame",
    "audit_summary_lines",
    "manifest_warning_lines",
    "write_audit",
]

#: Up to this many warning findings go into the manifest one line each; beyond it, one line per
#: check (its count and its first subject).
MAX_MANIFEST_WARNINGS = 20


def audit_frame(findings: Sequence[Finding]) -> pd.DataFrame:
    """The findings as the rows of ``audit.csv``, in the order given.

    Parameters
    ----------
    findings
        The audit's findings (sorted by :func:`reach.run.audit.audit_run`).

    Returns
    -------
    pandas.DataFrame
        One row per finding, columns :data:`reach.schema.AUDIT`.
    """
    columns = AUDIT.columns()
    return pd.DataFrame([f.record() for f in findings], columns=columns)


def audit_counts(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """How many findings each check made, by severity.

    Parameters
    ----------
    findings
        The audit's findings.

    Returns
    -------
    dict
        ``{check: {severity: count}}``, checks in name order, only severities that occur.
    """
    counts: Counter[tuple[str, str]] = Counter((f.check, f.severity) for f in findings)
    out: dict[str, dict[str, int]] = {}
    for check in sorted({c for c, _ in counts}):
        out[check] = {s: counts[(check, s)] for s in SEVERITIES if counts[(check, s)]}
    return out


def write_audit(findings: Sequence[Finding], folder: Path) -> list[Path]:
    """Write ``audit.csv`` and ``audit.json`` (counts and findings) into ``folder``.

    Parameters
    ----------
    findings
        The audit's findings.
    folder
        The folder being written (the temporary folder of the swap).

    Returns
    -------
    list of pathlib.Path
        The two files.
    """
    folder = Path(folder)
    written = write_table(audit_frame(findings), folder / "audit", parquet=False)
    by_severity: Counter[str] = Counter(f.severity for f in findings)
    data: dict[str, Any] = {
        "counts": audit_counts(findings),
        "severities": {s: by_severity[s] for s in SEVERITIES},
        "findings": [f.record() for f in findings],
    }
    write_json(folder / "audit.json", data)
    return [*written, folder / "audit.json"]


def manifest_warning_lines(
    findings: Sequence[Finding],
    *,
    known: Collection[str] = (),
    max_lines: int = MAX_MANIFEST_WARNINGS,
) -> list[str]:
    """The manifest's lines for the audit's warnings.

    One line per warning finding while there are at most ``max_lines`` of them; beyond, one
    line per check with its count, its first subject and a pointer to ``audit.csv``.

    Parameters
    ----------
    findings
        The audit's findings (only ``warning`` ones are used).
    known
        Lines the manifest has already (a finding whose message is one of them is left out).
    max_lines
        The most warnings listed one by one.

    Returns
    -------
    list of str
        The lines, in the findings' order.
    """
    warnings = [f for f in findings if f.severity == "warning" and f.message not in known]
    if len(warnings) <= max_lines:
        return [f"{f.check}: {f.message}" for f in warnings]
    by_check: dict[str, list[Finding]] = {}
    for f in warnings:
        by_check.setdefault(f.check, []).append(f)
    return [
        f"{check}: {len(items)} warnings (first: {items[0].message}); all in audit.csv"
        for check, items in by_check.items()
    ]


def audit_summary_lines(
    findings: Sequence[Finding], *, path: Path | str | None = None, max_warnings: int = 5
) -> list[str]:
    """The terminal's summary of the audit: counts per check, then the first few warnings.

    Parameters
    ----------
    findings
        The audit's findings.
    path
        Where ``audit.csv`` was written, named on the last line.
    max_warnings
        The most warnings shown.

    Returns
    -------
    list of str
        Plain-text lines (no markup).
    """
    counts = audit_counts(findings)
    if not counts:
        return ["data quality: nothing to report"]
    width = max(len(c) for c in counts)
    lines = [f"data quality: {len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    lines.append(f"  {'check':<{width}}  " + "  ".join(f"{s:>8}" for s in SEVERITIES))
    for check, by in counts.items():
        cells = "  ".join(f"{by.get(s, 0) or '':>8}" for s in SEVERITIES)
        lines.append(f"  {check:<{width}}  {cells}")
    warnings = [f for f in findings if f.severity == "warning"]
    for f in warnings[:max_warnings]:
        lines.append(f"  warning: {f.message}")
    if len(warnings) > max_warnings:
        lines.append(f"  … and {len(warnings) - max_warnings} more warnings")
    if path is not None:
        lines.append(f"  every finding: {path}")
    return lines
