"""A scenario file as text: TOML written line by line, with comments that explain each choice.

``reach fetch`` and ``reach init`` write the scenarios they assemble through :class:`TomlDraft`,
so both say the same things the same way and always write TOML that
:func:`reach.spec.parse_scenario` reads back.
"""

from __future__ import annotations

import json
import re

__all__ = ["TomlDraft", "comment_lines", "grid_table", "toml_value"]


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def comment_lines(text: str) -> list[str]:
    """``text`` as TOML comment lines of at most about 96 characters.

    Parameters
    ----------
    text
        One paragraph.

    Returns
    -------
    list of str
        Lines beginning with ``#``.
    """
    lines: list[str] = []
    line = "#"
    for word in text.split():
        if len(line) + 1 + len(word) > 96 and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    lines.append(line)
    return lines


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: object) -> str:
    """A value as TOML: strings quoted, lists and tables inline.

    Parameters
    ----------
    value
        ``str``, ``bool``, ``int``, ``float``, a list of these, or a dict (an inline table).

    Returns
    -------
    str
        Its TOML text.

    Raises
    ------
    TypeError
        For any other type.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() or abs(value) >= 1e-4 else repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [
            f"{k if _BARE_KEY.match(str(k)) else _string(str(k))} = {toml_value(v)}"
            for k, v in value.items()
        ]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


class TomlDraft:
    """A scenario file written line by line, with comments that say what each choice means.

    Examples
    --------
    >>> d = TomlDraft()
    >>> d.table("region", comment="the inputs")
    >>> d.key("population", "people.tif")
    >>> print(d.text())
    <BLANKLINE>
    # the inputs
    [region]
    population = "people.tif"
    <BLANKLINE>
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, text: str) -> None:
        """Add ``text`` as wrapped comment lines.

        Parameters
        ----------
        text
            The comment (one paragraph).
        """
        self.lines += comment_lines(text)

    def table(self, name: str, *, comment: str | None = None, array: bool = False) -> None:
        """Start a table (``[name]``, or ``[[name]]`` with ``array``), after a blank line.

        Parameters
        ----------
        name
            The table's dotted name.
        comment
            Said above it.
        array
            An array of tables entry.
        """
        self.lines.append("")
        if comment:
            self.comment(comment)
        self.lines.append(f"[[{name}]]" if array else f"[{name}]")

    def key(self, key: str, value: object, *, comment: str | None = None) -> None:
        """Add ``key = value``.

        Parameters
        ----------
        key
            The key.
        value
            Its value (see :func:`toml_value`).
        comment
            Said above it.
        """
        if comment:
            self.comment(comment)
        self.lines.append(f"{key} = {toml_value(value)}")

    def text(self) -> str:
        """The file's text.

        Returns
        -------
        str
            The lines, ending with a newline.
        """
        return "\n".join(self.lines) + "\n"


def grid_table(d: TomlDraft) -> None:
    """The ``[grid]`` table every assembled scenario starts with, and what it means.

    Parameters
    ----------
    d
        The draft to add it to.
    """
    d.table(
        "grid",
        comment="8 neighbours, and a 12-hour limit: beyond it people count as reached beyond "
        "the limit, never dropped.",
    )
    d.key("neighbours", 8)
    d.key("max_travel_time_min", 720)
