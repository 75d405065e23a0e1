"""Read a plain table (CSV, TSV, semicolon- or pipe-separated) as text columns, refusing it in one
line when it cannot be read.

Every table a planner hands reach — a facility list, a census of people per zone — comes through
here, so each is read the same way: UTF-8 (with or without a byte-order mark), the separator
taken from the header line, every value kept as text for the reader to check, blank cells as
missing, column names stripped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reach.errors import InputError

__all__ = ["detect_separator", "read_csv_text"]

#: The separators a header line is searched for.
_SEPARATORS = (",", ";", "\t", "|")


def detect_separator(path: Path, *, what: str) -> str:
    """The separator of a table: the one its header line holds most often (``,`` if none).

    Parameters
    ----------
    path
        The table.
    what
        What the file is, for the refusal (``"facilities file"``).

    Returns
    -------
    str
        One of ``,``, ``;``, a tab or ``|``.

    Raises
    ------
    InputError
        When the file cannot be opened.
    """
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError as exc:
        raise InputError(
            f"cannot read the {what} ({exc.strerror})",
            path=path,
            fix="check the file permissions",
        ) from exc
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_csv_text(path: Path, *, what: str) -> pd.DataFrame:
    """A table's rows as text columns (blank cells missing, column names stripped).

    Parameters
    ----------
    path
        The table.
    what
        What the file is, for the refusal (``"facilities file"``).

    Returns
    -------
    pandas.DataFrame
        Every column as ``str`` (``NaN`` where a cell is blank).

    Raises
    ------
    InputError
        When the file is not UTF-8 text or cannot be parsed as a table.
    """
    sep = detect_separator(path, what=what)
    try:
        table = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            skipinitialspace=True,
        )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {what} is not UTF-8 text", path=path, fix="save it as CSV UTF-8"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise InputError(
            f"cannot read the {what} as CSV ({detail})",
            path=path,
            fix="save it as a plain comma-separated CSV with one header row",
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table
