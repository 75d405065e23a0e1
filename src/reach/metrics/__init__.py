"""metrics stage of reach (see DESIGN.md).

Also the argument checks the studies, the API and the command line share: a number a user gave
(minutes, a count, an amount of money) is checked at the door with one clear
:class:`~reach.errors.ScenarioError` naming the argument, never deep inside the work.
"""

from __future__ import annotations

import math
import numbers

from reach.errors import ScenarioError

__all__ = [
    "MAX_CANDIDATES",
    "MAX_MINUTES",
    "MAX_SITES",
    "check_amount",
    "check_count",
    "check_minutes",
]

#: The longest time in minutes any threshold or bound may ask for: one week.
MAX_MINUTES = 7 * 24 * 60
#: At most this many new sites in one siting study.
MAX_SITES = 1000
#: At most this many candidate sites (each needs a bounded search; the MILP grows with them).
MAX_CANDIDATES = 10_000


def _number(name: str, value: object, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ScenarioError(f"{name} must be a number, not {value!r}", fix=fix)
    number = float(value)
    if not math.isfinite(number):
        raise ScenarioError(f"{name} must be a finite number, not {value!r}", fix=fix)
    return number


def check_minutes(
    name: str, value: object, *, allow_zero: bool = False, upper: float = MAX_MINUTES
) -> float:
    """Minutes a user gave: finite, above 0 (or ≥ 0 with ``allow_zero``), at most ``upper``.

    Parameters
    ----------
    name
        The argument's name as the user knows it (e.g. ``"--threshold"``), for messages.
    value
        What the user gave; a real number (not a bool).
    allow_zero
        Accept 0 minutes too.
    upper
        The most minutes accepted; by default :data:`MAX_MINUTES` (one week).

    Returns
    -------
    float
        The minutes.

    Raises
    ------
    ScenarioError
        Naming ``name``, the value and a fix.
    """
    least = "0 or more" if allow_zero else "above 0"
    fix = f"give minutes {least} and at most {upper:g}, e.g. {name} 30"
    number = _number(name, value, fix)
    if number < 0 or (number == 0 and not allow_zero):
        raise ScenarioError(f"{name} must be {least} minutes, not {value!r}", fix=fix)
    if number > upper:
        raise ScenarioError(f"{name} {value!r} is more than {upper:g} minutes", fix=fix)
    return number


def check_count(name: str, value: object, *, lower: int = 1, upper: int) -> int:
    """A whole number a user gave, from ``lower`` to ``upper``.

    Parameters
    ----------
    name
        The argument's name as the user knows it, for messages.
    value
        What the user gave: an integer, or a finite real number with no fractional part
        (``3.0``); not a bool.
    lower, upper
        The smallest and largest counts accepted, both included.

    Returns
    -------
    int
        The count.

    Raises
    ------
    ScenarioError
        Naming ``name``, the value and a fix.
    """
    fix = f"give a whole number from {lower:,} to {upper:,}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        count = int(value)
    elif (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value).is_integer()
    ):
        count = int(float(value))
    else:
        raise ScenarioError(f"{name} must be a whole number, not {value!r}", fix=fix)
    if not lower <= count <= upper:
        raise ScenarioError(f"{name} must lie from {lower:,} to {upper:,}, not {count}", fix=fix)
    return count


def check_amount(name: str, value: object, *, allow_zero: bool = False) -> float:
    """An amount (a budget, a cost, a radius) a user gave: finite and above 0 (or ≥ 0).

    Parameters
    ----------
    name
        The argument's name as the user knows it, for messages.
    value
        What the user gave; a real number (not a bool), in whatever unit the argument has.
    allow_zero
        Accept 0 too.

    Returns
    -------
    float
        The amount.

    Raises
    ------
    ScenarioError
        Naming ``name``, the value and a fix.
    """
    fix = f"give a finite number {'≥ 0' if allow_zero else 'above 0'}"
    number = _number(name, value, fix)
    if number < 0 or (number == 0 and not allow_zero):
        raise ScenarioError(
            f"{name} must be {'≥ 0' if allow_zero else 'above 0'}, not {value!r}", fix=fix
        )
    return number
