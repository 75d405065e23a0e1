"""The words on a coverage map, in one or several languages, and the in-page language switch.

Every text on a map (title, legend, layer names, popups, tooltips) is built by a function of a
:class:`~reach.outputs.i18n.Locale`, once per map language, and escaped here. With one language
the page holds plain escaped text. With several, each text is written once per language as
``<span lang="<code>">…</span>``, and a stylesheet shows only the spans
of the language named by the ``data-reach-lang`` attribute of the page's ``<html>`` element
(the first language until a button of the switch sets another). Switching is therefore a change
of one attribute: no text is rebuilt, nothing is fetched, and popups opened later follow it too.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from reach.outputs.i18n import Locale, get_locale

__all__ = ["MapText", "route_parts", "tier_word"]

#: Legs shorter than this (minutes) are left out of a route's words (their minutes still count).
_SHORT_LEG_MIN = 0.5


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def tier_word(loc: Locale, tier: str) -> str:
    """A facility tier as a word, capitalised: ``health_centre`` → "Health centre" / "Puskesmas".

    Parameters
    ----------
    loc
        The language.
    tier
        The tier code (as in the facility table).

    Returns
    -------
    str
        The tier's message (``tier.<code>``), or the code with spaces for a tier that has none.
    """
    text = loc.maybe(f"tier.{tier}", tier.replace("_", " "))
    return text[:1].upper() + text[1:]


def route_parts(
    loc: Locale, kinds: Sequence[str], modes: Sequence[str], minutes: Sequence[float]
) -> list[str]:
    """A route's legs in words: "45 min walk to the road", "25 min by motorbike", ….

    Legs under half a minute are left out of the words; then consecutive legs on foot (off
    road and along roads) are told as one walk, and consecutive rides, waits or crossings of
    one kind as one. When the legs left out add up to half a minute or more, a last phrase
    says so ("2 min in short stretches"), so the phrases add up to the route's time.

    Parameters
    ----------
    loc
        The language.
    kinds, modes, minutes
        Each leg's ``kind`` (``walk``, ``road``, ``ferry_wait``, ``ferry``, ``to_door``), ``mode``
        and minutes, in the order of the route (:data:`reach.schema.ROUTE_LEGS`).

    Returns
    -------
    list of str
        One phrase per group of legs, in order (times of two hours or more in hours).
    """
    # (group key, minutes in all, minutes of it along roads)
    groups: list[tuple[str, float, float]] = []
    short = 0.0
    for kind, mode, value in zip(kinds, modes, minutes, strict=True):
        v = float(value)
        if not v >= _SHORT_LEG_MIN:
            short += v if v > 0 else 0.0
            continue
        on_foot = kind == "walk" or (kind == "road" and mode == "walk")
        key = "foot" if on_foot else f"{kind}/{mode}"
        road = v if on_foot and kind == "road" else 0.0
        if groups and groups[-1][0] == key:
            groups[-1] = (key, groups[-1][1] + v, groups[-1][2] + road)
        else:
            groups.append((key, v, road))
    parts = []
    for k, (key, total, road) in enumerate(groups):
        text = loc.minutes(total)
        kind, _, mode = key.partition("/")
        if kind == "foot":
            rides = any(g[0].startswith("road/") for g in groups[k + 1 :])
            if road == 0.0:
                name = "route.walk_to_road" if k == 0 and rides else "route.walk"
                parts.append(loc.t(name, minutes=text))
            elif road >= total - 1e-9:
                parts.append(loc.t("route.road_walk", minutes=text))
            else:
                parts.append(loc.t("route.foot_mixed", minutes=text, road=loc.minutes(road)))
        elif kind == "road":
            how = loc.maybe(f"mode.{mode}", mode.replace("_", " "))
            parts.append(loc.t("route.ride", minutes=text, mode=how))
        elif kind in ("ferry_wait", "ferry", "to_door"):
            parts.append(loc.t(f"route.{kind}", minutes=text))
        else:
            parts.append(text)
    if short >= _SHORT_LEG_MIN:
        parts.append(loc.t("route.short_legs", minutes=loc.minutes(short)))
    return parts


class MapText:
    """The languages of one map, and its texts as escaped HTML in each of them.

    Parameters
    ----------
    langs
        The map's languages, first the one the page opens in (e.g. a scenario's
        ``outputs.reports``); at least one. Repeats are dropped.

    Raises
    ------
    InputError
        For a language reach has no messages for.
    """

    def __init__(self, langs: Sequence[str]) -> None:
        codes = list(dict.fromkeys(langs)) or ["en"]
        self.locales: list[Locale] = [get_locale(code) for code in codes]

    @property
    def first(self) -> Locale:
        """The language the page opens in."""
        return self.locales[0]

    @property
    def several(self) -> bool:
        """Whether the page has more than one language (and so a switch)."""
        return len(self.locales) > 1

    def html(self, make: Callable[..., str]) -> str:
        """The text ``make(loc)`` in every language, escaped, as HTML.

        Parameters
        ----------
        make
            Builds the plain (unescaped) text from one language's
            :class:`~reach.outputs.i18n.Locale` (its only positional argument).

        Returns
        -------
        str
            The escaped text when every language gives the same text (names, numbers without
            separators); otherwise one ``<span lang="…">`` per language.
        """
        texts = [make(loc) for loc in self.locales]
        if len(set(texts)) == 1:
            return _esc(texts[0])
        return "".join(
            f'<span lang="{loc.lang}">{_esc(text)}</span>'
            for loc, text in zip(self.locales, texts, strict=True)
        )

    def plain(self, make: Callable[[Locale], str]) -> str:
        """The text in the first language, unescaped (e.g. for the page's ``<title>``).

        Parameters
        ----------
        make
            Builds the text in one language.

        Returns
        -------
        str
            ``make`` of the first language.
        """
        return make(self.first)

    def by_lang(self, make: Callable[[Locale], str]) -> dict[str, str]:
        """The text in each language, unescaped, by language code.

        Parameters
        ----------
        make
            Builds the text in one language.

        Returns
        -------
        dict of str to str
            Language code → text, in the map's order.
        """
        return {loc.lang: make(loc) for loc in self.locales}

    def switch_html(self) -> str:
        """The language switch: one button per language, the first pressed (empty for one).

        Returns
        -------
        str
            HTML of a ``reach-langs`` group of buttons, each with ``data-reach-set-lang``.
        """
        if not self.several:
            return ""
        buttons = "".join(
            f'<button type="button" data-reach-set-lang="{loc.lang}" lang="{loc.lang}" '
            f'aria-pressed="{"true" if k == 0 else "false"}">{_esc(loc.t("map.language_name"))}'
            "</button>"
            for k, loc in enumerate(self.locales)
        )
        label = self.html(lambda loc: loc.t("map.language"))
        return f'<div class="reach-langs" role="group">{label}: {buttons}</div>'

    def css(self) -> str:
        """The stylesheet that shows only the spans of the page's current language.

        Returns
        -------
        str
            CSS rules (empty for one language).
        """
        if not self.several:
            return ""
        first = self.first.lang
        rules = [f'span[lang]:not([lang="{first}"]) {{ display: none; }}']
        for loc in self.locales[1:]:
            sel = f'html[data-reach-lang="{loc.lang}"]'
            rules.append(f'{sel} span[lang="{first}"] {{ display: none; }}')
            rules.append(f'{sel} span[lang="{loc.lang}"] {{ display: inline; }}')
        return "\n".join(rules) + "\n"
