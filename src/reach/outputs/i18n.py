"""Report and map languages: messages from gettext catalogues, numbers and dates from CLDR.

Every message lives in a catalogue file, not in code: the English text in the template
``reach/locales/reach.pot`` and each other language in ``reach/locales/<code>.po`` (see
:mod:`reach.languages` for where they are found and how a translator adds one). Each message's
key is its ``msgctxt``; ``{name}`` fields are filled by :meth:`Locale.t`. A translation that is
empty, marked fuzzy, or whose ``{name}`` fields differ from the English falls back to the
English (and the last is logged), so a half-done catalogue never breaks a report.

Numbers, percentages and dates follow the language's CLDR locale through Babel:

======  ==============  ===============  ==============  ===============
lang    number          percentage       minutes         date
======  ==============  ===============  ==============  ===============
``en``  ``12,345.6``    ``84.7%``        ``8.7 min``     ``12 May 2025``
``id``  ``12.345,6``    ``84,7%``        ``8,7 menit``   ``12 Mei 2025``
``fr``  ``12 345,6``    ``84,7 %``       ``8,7 min``     ``12 mai 2025``
======  ==============  ===============  ==============  ===============

The space between a number and its unit is a no-break space (U+00A0), so a value never splits
across two lines.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reach.errors import InputError
from reach.languages import (
    LOCALE_DIR,
    LOCALES_ENV,
    SOURCE_LANGUAGE,
    TEMPLATE,
    Language,
    available_languages,
    language_list,
)

__all__ = [
    "HOURS_FROM_MIN",
    "NBSP",
    "REASON_EXPLANATIONS",
    "Locale",
    "get_locale",
    "messages",
]

_log = logging.getLogger("reach.outputs")

NBSP = "\u00a0"

#: Times from this many minutes on are written in hours and minutes.
HOURS_FROM_MIN = 120.0


def _read_catalogue(path: Path) -> dict[str, tuple[str, str]]:
    """Each message of a PO or POT file by key (``msgctxt``): its English and its translation.

    A fuzzy entry's translation is left out (gettext does not use it either).
    """
    from babel.messages.pofile import read_po

    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, abort_invalid=True)
    except Exception as exc:  # Babel raises several kinds on a bad file
        raise InputError(
            f"{path}: not a readable gettext catalogue ({exc})",
            fix="check the file in a PO editor (e.g. Poedit), or delete it",
        ) from exc
    found: dict[str, tuple[str, str]] = {}
    for message in catalog:
        if not message.id or not message.context or not isinstance(message.id, str):
            continue
        text = message.string if isinstance(message.string, str) else ""
        found[message.context] = (message.id, "" if message.fuzzy else text)
    return found


def _fields(text: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@functools.lru_cache(maxsize=16)
def _messages(path: Path | None, stamp: tuple[int, int]) -> Mapping[str, str]:
    """The messages of one catalogue (``None``: English), each falling back to English."""
    del stamp  # part of the cache key only: an edited catalogue is read again
    english = {key: en for key, (en, _) in _read_catalogue(LOCALE_DIR / TEMPLATE).items()}
    if path is None:
        return english
    merged = dict(english)
    for key, (_, text) in _read_catalogue(path).items():
        if key not in english or not text:
            continue
        if _fields(text) != _fields(english[key]):
            _log.warning(
                "%s: message %r has fields %s where the English has %s; the English is used",
                path, key, sorted(_fields(text)), sorted(_fields(english[key])),
            )  # fmt: skip
            continue
        merged[key] = text
    return merged


def _stamp(path: Path) -> tuple[int, int]:
    """A file's size and modification time, so an edited catalogue is read again."""
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def messages(lang: str) -> Mapping[str, str]:
    """Every message of a language by key, English where the catalogue has no translation.

    Parameters
    ----------
    lang
        A language code there is a catalogue for (see :func:`reach.languages.available_languages`).

    Returns
    -------
    Mapping of str to str
        Message templates by key.

    Raises
    ------
    InputError
        For a language there is no catalogue for, or a catalogue that cannot be read.
    """
    language = _language(lang)
    template = LOCALE_DIR / TEMPLATE
    stamp = _stamp(template) + (_stamp(language.path) if language.path else (0, 0))
    return _messages(language.path, stamp)


def _language(lang: str) -> Language:
    """The language ``lang``, or an InputError naming the languages there are."""
    languages = available_languages()
    if lang not in languages:
        raise InputError(
            f"no report language {lang!r}",
            fix=f"use one of: {language_list()}; or add a catalogue {lang}.po (a copy of "
            f"{TEMPLATE}, translated) to the folder ${LOCALES_ENV} names",
        )
    return languages[lang]


#: Plain-language meaning of each unreachable reason, in English, written into the manifest.
REASON_EXPLANATIONS: dict[str, str] = {
    key.split(".", 1)[1]: text
    for key, text in messages(SOURCE_LANGUAGE).items()
    if key.startswith("explain.")
}


@dataclass(frozen=True)
class Locale:
    """Labels and number formats of one report language.

    Attributes
    ----------
    lang
        Language code (``"en"``, ``"id"``, ``"fr"``).
    name
        The language's own name (``"Bahasa Indonesia"``), for a language switch.
    messages
        Message templates by key.
    decimal, group
        Decimal and thousands separators.
    percent_space
        Text between a number and ``%`` (``""`` in English and Indonesian, a no-break space
        in French).
    number_locale
        The CLDR locale of its numbers and dates.
    """

    lang: str
    name: str
    messages: Mapping[str, str]
    decimal: str
    group: str
    percent_space: str
    number_locale: str

    def t(self, key: str, **fields: object) -> str:
        """The message ``key`` with ``{name}`` fields filled in.

        Parameters
        ----------
        key
            The message's key (its ``msgctxt`` in the catalogues).
        **fields
            Values of the message's ``{name}`` fields.

        Returns
        -------
        str
            The message in this language.

        Raises
        ------
        KeyError
            For an unknown key (a bug in reach, caught by the tests).
        """
        text = self.messages[key]
        return text.format(**fields) if fields else text

    def number(self, value: float | None, digits: int = 0, *, signed: bool = False) -> str:
        """Write ``value`` with ``digits`` decimals and thousands separators.

        Parameters
        ----------
        value
            The number; None or not finite is missing.
        digits
            Decimals to show.
        signed
            Put ``+`` before a positive number.

        Returns
        -------
        str
            The number in this language's separators (never ``-0``); ``–`` when missing.
        """
        if value is None or not math.isfinite(float(value)):
            return "–"
        v = float(value)
        if round(v, digits) == 0:
            v = 0.0  # never "-0"
        text = f"{abs(v):,.{digits}f}"
        if (self.group, self.decimal) != (",", "."):
            text = text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)
        if v < 0:
            return "-" + text
        return ("+" + text) if signed and v > 0 else text

    def pct(self, value: float | None, digits: int = 1, *, signed: bool = False) -> str:
        """A percentage: ``84.7%`` (en) or ``84,7%`` (id), as CLDR writes them.

        Parameters
        ----------
        value
            The percentage (0–100); None or not finite is missing.
        digits
            Decimals to show.
        signed
            Put ``+`` before a positive number.

        Returns
        -------
        str
            The percentage, or ``–`` when missing.
        """
        text = self.number(value, digits, signed=signed)
        return text if text == "–" else f"{text}{self.percent_space}%"

    def minutes(self, value: float | None, digits: int = 0, *, signed: bool = False) -> str:
        """Minutes: ``30 min`` (en) or ``30 menit`` (id).

        Parameters
        ----------
        value
            The minutes; None or not finite is missing.
        digits
            Decimals to show.
        signed
            Put ``+`` before a positive number.

        Returns
        -------
        str
            The minutes with their unit, or ``–`` when missing.
        """
        text = self.number(value, digits, signed=signed)
        if text == "–":
            return text
        if value is not None and abs(value) >= HOURS_FROM_MIN:
            # long times read better in hours: "8 h 23 min", not "502.7 min"
            whole = round(abs(float(value)))
            hours, rest = divmod(whole, 60)
            sign = "-" if value < 0 else ("+" if signed else "")
            return sign + self.t("hours_minutes", hours=self.number(hours, 0), minutes=rest)
        return self.t("minutes", value=text)

    def threshold(self, value: float) -> str:
        """A threshold in minutes, with only the decimals it has (``30 min``, ``7,5 menit``).

        Parameters
        ----------
        value
            The threshold in minutes.

        Returns
        -------
        str
            The threshold with its unit.
        """
        digits = 0 if float(value).is_integer() else len(f"{value:g}".split(".")[-1])
        # thresholds stay in minutes as the scenario names them ("120 min"), however long
        return self.t("minutes", value=self.number(value, digits))

    def join(self, items: list[str]) -> str:
        """Join words as a list in prose: ``a, b and c`` (en) / ``a, b dan c`` (id).

        Parameters
        ----------
        items
            The words, in order.

        Returns
        -------
        str
            The list (empty for no item, the item itself for one).
        """
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + f" {self.t('and')} " + items[-1]

    def date(self, text: str) -> str:
        """An ISO date (``2025-05-12``) written out (``12 May 2025`` / ``12 Mei 2025``), by CLDR.

        Anything that is not an ISO date is returned as given.

        Parameters
        ----------
        text
            The date, ``YYYY-MM-DD``.

        Returns
        -------
        str
            Day, month name in this language, year.
        """
        try:
            day = dt.date.fromisoformat(text.strip())
        except ValueError:
            return text
        from babel.dates import format_date

        return str(format_date(day, "d MMMM y", locale=self.number_locale))

    def maybe(self, key: str, default: str, **fields: object) -> str:
        """The message ``key`` if there is one, else ``default``.

        Parameters
        ----------
        key
            The message's key.
        default
            The text when this language has no such message.
        **fields
            Values of the message's ``{name}`` fields.

        Returns
        -------
        str
            The message, or ``default`` as given.
        """
        return self.t(key, **fields) if key in self.messages else default


def _cldr_formats(lang: str, *, catalogue: Path | None) -> tuple[str, str, str]:
    """Decimal sign, thousands separator and the space before ``%`` from CLDR (Babel).

    English writes ``12,345.6`` and ``84.7%``; Indonesian ``12.345,6`` and ``84,7%`` (CLDR's
    ``#,##0%``, no space); a language whose pattern puts a space before the sign keeps it (as a
    no-break space: French ``84,7 %``).
    """
    from babel import Locale as BabelLocale
    from babel import UnknownLocaleError
    from babel.numbers import get_decimal_symbol, get_group_symbol

    try:
        cldr = BabelLocale.parse(lang)
    except (UnknownLocaleError, ValueError) as exc:
        raise InputError(
            f"{catalogue}: CLDR has no locale {lang!r} for its numbers and dates",
            fix="name one it has in the catalogue's header, e.g. "
            '"X-Number-Locale: pt_TL\\n" for Tetum',
        ) from exc
    pattern = cldr.percent_formats[None].pattern
    before = pattern.split(";")[0].rstrip("%")
    space = NBSP if before[-1:].isspace() else ""  # a no-break space is a space too
    return get_decimal_symbol(lang), get_group_symbol(lang), space


def get_locale(lang: str) -> Locale:
    """The :class:`Locale` of a report language.

    Parameters
    ----------
    lang
        A language there is a catalogue for (``"en"``, ``"id"``, ``"fr"``, or one in
        ``$REACH_LOCALES``).

    Returns
    -------
    Locale
        Its messages and number formats.

    Raises
    ------
    InputError
        For a language there is no catalogue for, a catalogue that cannot be read, or one whose
        number locale CLDR does not have.
    """
    language = _language(lang)
    decimal, group, percent_space = _cldr_formats(language.number_locale, catalogue=language.path)
    return Locale(
        lang=lang,
        name=language.name,
        messages=messages(lang),
        decimal=decimal,
        group=group,
        percent_space=percent_space,
        number_locale=language.number_locale,
    )
