"""Place names of the demo region, in an eastern-Indonesian style."""

from __future__ import annotations

import numpy as np

__all__ = ["Namer"]

_SYLLABLES = (
    "la", "ma", "ba", "wa", "ta", "na", "ra", "ka", "lo", "bo", "to", "ne", "le", "me", "ri",
    "ni", "ngo", "nga", "sa", "so", "du", "lu", "ku", "mbu", "we", "ke", "pe", "de", "ti", "ru",
    "wai", "lai", "ole", "mau", "kou", "nda", "mba", "rea", "ende", "oka",
)  # fmt: skip
_PREFIXES = ("Wae", "Oe", "Nanga", "Watu", "Lewo", "Tana", "Ile", "Ai", "Kampung", "Desa")


class Namer:
    """Unique place names in an eastern-Indonesian style.

    Parameters
    ----------
    rng
        Random generator the names are drawn from.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def take(self, name: str) -> str:
        """Reserve a given name; return it.

        Parameters
        ----------
        name
            A name chosen by hand, which :meth:`new` will not give afterwards.

        Returns
        -------
        str
            ``name``.
        """
        self._used.add(name)
        return name

    def new(self, *, prefix_ok: bool = True) -> str:
        """A name not given before (with a prefix such as "Wae" one time in five if allowed).

        Two or three syllables are drawn and joined, capitalized, until the word is 4 to 10
        letters long (before any prefix) and neither given by :meth:`new` nor reserved by
        :meth:`take` before; the name is then reserved.

        Parameters
        ----------
        prefix_ok
            Whether the name may start with a prefix word such as "Wae" or "Nanga" (island
            names are drawn without).

        Returns
        -------
        str
            The new name.
        """
        for _ in range(1000):
            n = int(self._rng.integers(2, 4))
            parts = [_SYLLABLES[int(i)] for i in self._rng.integers(0, len(_SYLLABLES), n)]
            word = "".join(parts)
            if len(word) < 4 or len(word) > 10:
                continue
            word = word.capitalize()
            if prefix_ok and self._rng.random() < 0.2:
                prefix = _PREFIXES[int(self._rng.integers(0, len(_PREFIXES)))]
                word = f"{prefix} {word}"
            if word not in self._used:
                self._used.add(word)
                return word
        raise RuntimeError("ran out of names")  # pragma: no cover
