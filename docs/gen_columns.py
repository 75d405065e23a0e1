"""Write ``docs/columns.md``, the page describing every output column, from ``reach.schema``.

Run it after changing the schema: ``python docs/gen_columns.py``. ``tests/test_schema.py`` fails
while the page and the schema differ.
"""

from __future__ import annotations

from pathlib import Path

from reach.schema import columns_markdown

#: The page written, beside this script.
PAGE = Path(__file__).with_name("columns.md")


def main() -> None:
    """Write the page."""
    PAGE.write_text(columns_markdown(), encoding="utf-8", newline="\n")


if __name__ == "__main__":
    main()
