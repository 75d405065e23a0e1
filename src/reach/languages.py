"""The languages reports and maps are written in: one gettext catalogue file per language.

English is the source language: its messages are the ``msgid`` of the template
``reach/locales/reach.pot``, each under its key as ``msgctxt``. Every other language is a
``<code>.po`` file beside it (``id.po``, ``fr.po``), or in the folder ``$REACH_LOCALES`` names,
which a translator fills in with any PO editor (Poedit, Weblate, a text editor). A new
language is a file, not code::

    cp src/reach/locales/reach.pot fr.po      # or: pybabel init -i reach.pot -l fr -o fr.po
    # translate each msgstr, then
    REACH_LOCALES=/path/to/folder reach report scenario.toml --lang fr

Two optional header fields of a ``.po`` file say what CLDR cannot: ``X-Language-Name`` (the
language's own name, as menus show it; default its code) and ``X-Number-Locale`` (the CLDR locale
whose number formats it writes, for a language CLDR lacks, e.g. ``pt_TL`` for Tetum; default the
language's code).

This module only finds the files (it is read when a scenario file is checked); reading them is
:mod:`reach.outputs.i18n`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reach.settings import LOCALES_ENV, extra_locales_dir

__all__ = [
    "LOCALES_ENV",
    "LOCALE_DIR",
    "SOURCE_LANGUAGE",
    "TEMPLATE",
    "Language",
    "available_languages",
    "language_list",
]

#: The folder of the catalogues shipped with reach.
LOCALE_DIR = Path(__file__).parent / "locales"

#: The template: every message's key (``msgctxt``) and English text (``msgid``).
TEMPLATE = "reach.pot"

#: The language the messages are written in (the template's ``msgid``).
SOURCE_LANGUAGE = "en"

#: A language code as CLDR and gettext write them: ``id``, ``fr``, ``pt_BR``, ``tet``.
_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
#: A header field of a PO file, inside the header entry's quoted lines.
_HEADER = re.compile(r'^"(?P<field>[A-Za-z-]+):\s*(?P<value>[^"\\]*?)\s*(\\n)?"$', re.MULTILINE)


@dataclass(frozen=True)
class Language:
    """One language reports and maps can be written in.

    Attributes
    ----------
    code
        Its code (``"id"``).
    name
        Its own name (``"Bahasa Indonesia"``).
    number_locale
        The CLDR locale its numbers, percentages and dates are written in.
    path
        Its catalogue (``None`` for English, the template's own language).
    """

    code: str
    name: str
    number_locale: str
    path: Path | None


def _headers(path: Path) -> dict[str, str]:
    """The header fields of a PO file (the first entry, ``msgid ""``), by name."""
    head = path.read_text("utf-8", errors="replace").split("\n\n", 1)[0]
    return {m["field"]: m["value"] for m in _HEADER.finditer(head)}


def _folders() -> list[Path]:
    """Where catalogues are looked for: reach's own, then ``$REACH_LOCALES`` (which wins)."""
    extra = extra_locales_dir()
    return [LOCALE_DIR] if extra is None else [LOCALE_DIR, extra]


def available_languages() -> dict[str, Language]:
    """Every language there is a catalogue for, English first, then by code.

    A catalogue in ``$REACH_LOCALES`` replaces reach's own of the same language. Files whose
    name is not a language code (``notes.po``) are ignored.

    Returns
    -------
    dict of str to Language
        The languages by code.
    """
    found: dict[str, Path] = {}
    for folder in _folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.po")):
            if _CODE.match(path.stem) and path.stem != SOURCE_LANGUAGE and path.is_file():
                found[path.stem] = path
    languages = {SOURCE_LANGUAGE: Language(SOURCE_LANGUAGE, "English", SOURCE_LANGUAGE, None)}
    for code in sorted(found):
        fields = _headers(found[code])
        name = fields.get("X-Language-Name") or code
        number_locale = fields.get("X-Number-Locale") or code
        languages[code] = Language(code, name, number_locale, found[code])
    return languages


def language_list() -> str:
    """The languages as a message lists them: ``en (English), id (Bahasa Indonesia)``.

    Returns
    -------
    str
        Each code with its own name, comma-separated.
    """
    return ", ".join(f"{k} ({v.name})" for k, v in available_languages().items())
