"""Read a plain table (CSV, TSV, semicolon- or pipe-separated, or an Excel xlsx sheet) as text
columns, refusing it in one line when it cannot be read.

Every table a planner hands reach — a facility list, a census of people per zone — comes through
here, so each is read the same way: UTF-8 (with or without a byte-order mark), the separator
taken from the header line, every value kept as text for the reader to check, blank cells as
missing, column names stripped. An Excel workbook is read from its first sheet (or a named one)
through ``openpyxl``, every cell as text too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reach.errors import InputError

__all__ = [
    "EXCEL_SUFFIXES",
    "decimal_comma_table",
    "detect_separator",
    "read_csv_text",
    "read_excel_text",
    "read_table_text",
]

#: Spreadsheet suffixes read with :func:`read_excel_text`.
EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")

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


def read_excel_text(path: Path, *, what: str, sheet: str | None = None) -> pd.DataFrame:
    """A workbook sheet's rows as text columns (blank cells missing, column names stripped).

    Parameters
    ----------
    path
        The ``.xlsx`` workbook.
    what
        What the file is, for the refusal (``"facilities file"``).
    sheet
        The sheet's name; the first sheet when not given.

    Returns
    -------
    pandas.DataFrame
        Every column as ``str`` (``NaN`` where a cell is blank).

    Raises
    ------
    InputError
        When the file is not a readable xlsx workbook, has no such sheet, or the sheet is empty.
    """
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = [str(n) for n in book.sheet_names]
            if sheet is not None and sheet not in names:
                raise InputError(
                    f"the {what} has no sheet {sheet!r} (sheets: {', '.join(names)})",
                    path=path,
                    fix="set the sheet (`layer`) to one of the listed sheets",
                )
            table = pd.read_excel(book, sheet_name=sheet if sheet is not None else 0, dtype=str)
    except InputError:
        raise
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise InputError(
            f"cannot read the {what}: openpyxl is not installed",
            path=path,
            fix="pip install openpyxl, or save the sheet as CSV UTF-8",
        ) from exc
    except Exception as exc:  # openpyxl raises many kinds on a damaged or foreign file
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(
            f"cannot read the {what} as an xlsx workbook ({detail})",
            path=path,
            fix="open it in a spreadsheet and save it again as .xlsx, or as CSV UTF-8",
        ) from exc
    table = table.dropna(how="all").reset_index(drop=True)
    if table.columns.empty:
        raise InputError(
            f"the {what} sheet is empty",
            path=path,
            fix="put one header row and one row per record on the first sheet",
        )
    table.columns = [str(c).strip() for c in table.columns]
    return table


def read_table_text(path: Path, *, what: str, sheet: str | None = None) -> pd.DataFrame:
    """A CSV table or an xlsx sheet as text columns, by the file's suffix.

    Parameters
    ----------
    path
        The table: ``.xlsx`` / ``.xlsm`` is read as a workbook, anything else as delimited text.
    what
        What the file is, for the refusal (``"facilities file"``).
    sheet
        The sheet of a workbook (the first when not given); ignored for a CSV.

    Returns
    -------
    pandas.DataFrame
        Every column as ``str`` (``NaN`` where a cell is blank).

    Raises
    ------
    InputError
        When the file cannot be read as a table (see :func:`read_csv_text`,
        :func:`read_excel_text`).
    """
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return read_excel_text(path, what=what, sheet=sheet)
    return read_csv_text(path, what=what)


def decimal_comma_table(path: Path, *, what: str) -> bool:
    """Whether a table's numbers may be written with a decimal comma (``122,2170``).

    True for a workbook and for a CSV whose separator is not ``,`` (as Excel writes it where
    the comma is the decimal mark); in a comma-separated file a comma inside a number is
    ambiguous, and only an unambiguous one is read as decimal
    (:func:`reach.ingest.conventions.parse_number`).

    Parameters
    ----------
    path
        The table.
    what
        What the file is, for the refusal.

    Returns
    -------
    bool
        Whether a comma in a number is its decimal mark.

    Raises
    ------
    InputError
        When the file cannot be opened.
    """
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return True
    return detect_separator(path, what=what) != ","
