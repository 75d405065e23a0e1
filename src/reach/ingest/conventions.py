"""How offices write their tables: column names, kinds of facility, numbers and zone codes.

The vocabulary the table readers fall back on when a scenario names no column or gives no
``tier_map``: English and Indonesian column names (``lintang``/``bujur``, ``nama``, ``kode``,
``jenis``), the tiers Indonesian facility lists use (Rumah Sakit, Puskesmas, Pustu, Polindes; SD,
SMP, SMA, …), numbers written with a decimal comma (``122,2170``), and Kemendagri zone codes
written with or without their dots (``53.11`` or ``5311``). An explicit column or ``tier_map``
always wins over these defaults, so other countries' conventions stay configurable.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ID_ALIASES",
    "KIND_ALIASES",
    "LAT_ALIASES",
    "LON_ALIASES",
    "NAME_ALIASES",
    "education_tier_from_text",
    "fold_text",
    "health_tier_from_text",
    "parse_number",
    "tier_from_text",
    "zone_code_key",
]

#: Longitude columns, tried in order (lower case) when the scenario's column is absent.
LON_ALIASES: tuple[str, ...] = ("lon", "longitude", "lng", "long", "bujur", "x")
#: Latitude columns, tried in order (lower case).
LAT_ALIASES: tuple[str, ...] = ("lat", "latitude", "lintang", "y")
#: Name columns, tried in order when the scenario names none (or its default ``name`` is absent).
NAME_ALIASES: tuple[str, ...] = ("name", "nama", "nama_faskes", "nama_sekolah", "schoolname")
#: Id columns used when the scenario names none, if their values are present and unique.
ID_ALIASES: tuple[str, ...] = ("kode", "kode_faskes", "npsn")
#: Columns holding a facility's kind or tier, tried in order when no ``tier_column`` is given.
KIND_ALIASES: tuple[str, ...] = (
    "tier",
    "jenis",
    "tipe",
    "kategori",
    "jenis_faskes",
    "jenjang",
    "bentuk_pendidikan",
    "school_level",
)

# Health, on folded text, most specific first: a "Puskesmas Pembantu" is not a puskesmas.
_HEALTH_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("clinic", re.compile(r"\b(pustu|puskesmas pembantu|pusban)\b")),
    ("health_post", re.compile(r"\b(polindes|poskesdes|pondok bersalin desa)\b")),
    ("health_centre", re.compile(r"\b(puskesmas|pkm)\b")),
    (
        "hospital",
        re.compile(r"\b(rumah sakit|rs|rsu|rsud|rsup|rsia|rsab|rsk|rsb|hospital)\b"),
    ),
    ("clinic", re.compile(r"\b(klinik|clinic)\b")),
)

# Education, tried from the lowest tier up (a combined "SD-SMP" school counts as primary).
# Abbreviations are matched case-sensitively on the original text, words on the folded text.
_EDUCATION_WORDS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "primary",
        re.compile(r"\b(SD|SDN|SDI|SDK|MI|MIN|MIS|EP|EPP|EPPS)\b"),
        re.compile(r"\b(sekolah dasar|ecole primaire|ecol primaire|primaire|primary|elementary)\b"),
    ),
    (
        "lower_secondary",
        re.compile(r"\b(SMP|SMPN|SMPK|SLTP|MTs|MTS|MTsN|MTSN)\b"),
        re.compile(r"\b(college|junior high|middle school|sekolah menengah pertama)\b"),
    ),
    (
        "upper_secondary",
        re.compile(r"\b(SMA|SMAN|SMAK|SMAS|SMK|SMKN|SMKS|SLTA|MA|MAN|MAS)\b"),
        re.compile(
            r"\b(lycee|senior high|high school|sekolah menengah atas|sekolah menengah kejuruan)\b"
        ),
    ),
)
# A kind column holding just the abbreviation, in any case ("sma", "Mts").
_EDUCATION_KIND = {
    "sd": "primary",
    "mi": "primary",
    "smp": "lower_secondary",
    "mts": "lower_secondary",
    "sma": "upper_secondary",
    "smk": "upper_secondary",
    "ma": "upper_secondary",
}

_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_GROUPED_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_THOUSANDS_GROUP = re.compile(r"^[+-]?\d{1,3},\d{3}$")
_ZONE_CODE = re.compile(r"^\d+([.\-]\d+)*$")


def fold_text(value: Any) -> str:
    """Lower-case, accent-free, single-spaced text (``""`` for a missing value).

    Parameters
    ----------
    value
        Any cell value.

    Returns
    -------
    str
        The folded text; ``_`` counts as a space.
    """
    if value is None:
        return ""
    if isinstance(value, float) and not np.isfinite(value):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().replace("_", " ").split())


def health_tier_from_text(value: Any) -> str | None:
    """The health tier an Indonesian (or English) kind or name says, or ``None``.

    Parameters
    ----------
    value
        A kind (``"PUSKESMAS"``, ``"RUMAH SAKIT"``) or a name (``"RSUD Umbu Rara Meha"``).

    Returns
    -------
    str or None
        ``"hospital"`` (Rumah Sakit, RS, RSU, RSUD, …), ``"health_centre"`` (Puskesmas, with or
        without rawat inap), ``"clinic"`` (Pustu / Puskesmas Pembantu, Klinik) or
        ``"health_post"`` (Polindes, Poskesdes); ``None`` when it says none of these.
    """
    folded = fold_text(value)
    for tier, pattern in _HEALTH_WORDS:
        if pattern.search(folded):
            return tier
    return None


def education_tier_from_text(value: Any, *, kind: bool = False) -> str | None:
    """The education tier an Indonesian (or English, French) kind or name says, or ``None``.

    Parameters
    ----------
    value
        A kind (``"SMA"``) or a name (``"SMP Negeri 2 Waingapu"``).
    kind
        The value is a kind column's: a bare abbreviation matches in any case (``"Mts"``).

    Returns
    -------
    str or None
        ``"primary"`` (SD, MI), ``"lower_secondary"`` (SMP, MTs) or ``"upper_secondary"``
        (SMA, SMK, MA), the lowest tier a combined school names; ``None`` otherwise.
    """
    folded = fold_text(value)
    if not folded:
        return None
    if kind and folded in _EDUCATION_KIND:
        return _EDUCATION_KIND[folded]
    original = str(value)
    for tier, abbreviation, words in _EDUCATION_WORDS:
        if abbreviation.search(original) or words.search(folded):
            return tier
    return None


def tier_from_text(service: str, value: Any, *, kind: bool = False) -> str | None:
    """The tier of ``service`` a kind or a name says, or ``None``.

    Parameters
    ----------
    service
        ``"health"`` or ``"education"``; any other service has no vocabulary (``None``).
    value
        The kind or the name.
    kind
        The value is a kind column's (see :func:`education_tier_from_text`).

    Returns
    -------
    str or None
        The tier, or ``None``.
    """
    if service == "health":
        return health_tier_from_text(value)
    if service == "education":
        return education_tier_from_text(value, kind=kind)
    return None


def parse_number(text: str | None, *, decimal_comma: bool) -> float:
    """A number from a table cell, reading a decimal comma where it cannot mean anything else.

    Parameters
    ----------
    text
        The cell (``None`` for a blank one).
    decimal_comma
        The table's separator is not ``,`` (or it is a spreadsheet), so ``122,2170`` and
        ``1.234,5`` are decimal commas. When false, a comma is read as a decimal comma only if
        it cannot be a thousands separator (not exactly three digits after it, as in
        ``-9,65``).

    Returns
    -------
    float
        The number, or NaN when the cell is blank or not a number.
    """
    if text is None:
        return float("nan")
    value = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if "," in value:
        if decimal_comma and _GROUPED_DECIMAL_COMMA.match(value):
            value = value.replace(".", "").replace(",", ".")
        elif _DECIMAL_COMMA.match(value) and (decimal_comma or not _THOUSANDS_GROUP.match(value)):
            value = value.replace(",", ".")
    try:
        return float(value)
    except ValueError:
        return float("nan")


def zone_code_key(value: Any) -> str | None:
    """The digits of an administrative code, so ``53.11`` and ``5311`` name one zone.

    Kemendagri codes are written dotted (``53.11``, ``53.11.01.1001``) in the admin polygons and
    often without dots in office tables. BPS codes are different numbers for the same
    kabupaten (BPS 5302 is Kemendagri 53.11, Sumba Timur): they need a crosswalk, which this
    does not make.

    Parameters
    ----------
    value
        A zone id.

    Returns
    -------
    str or None
        The code's digits, or ``None`` when the id is not a numeric code.
    """
    text = "" if value is None else str(value).strip()
    if not _ZONE_CODE.match(text):
        return None
    return re.sub(r"\D", "", text)
