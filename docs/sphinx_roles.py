"""A Griffe extension for the API reference: Sphinx roles in docstrings as cross-references.

reach's docstrings name other objects the way Sphinx does (:func:`load_region`,
:class:`~reach.model.region.Region`); mkdocstrings would print those roles as they are. This
turns each into a link to the object's entry when the reference documents it, and into plain
code otherwise (a standard-library or numpy name, or a private helper), so that the strict build
never meets a dangling link. Loaded by ``mkdocs.yml``; not part of the package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

#: The modules the reference renders: the ``::: module`` lines of its pages.
_PAGES = Path(__file__).resolve().parent / "api"
_RENDERED = {
    line[4:].strip()
    for page in sorted(_PAGES.glob("*.md"))
    for line in page.read_text("utf-8").splitlines()
    if line.startswith("::: ")
}

_ROLE = re.compile(r":(?:py:)?(func|class|meth|mod|attr|data|exc|obj):`(~?)([^`<>]+?)(\(\))?`")


def _documented(collection: Any, path: str, *, module: bool) -> bool:
    """Whether the reference has an entry for ``path``: a public, documented function, class or
    module that its module exports (``__all__``)."""
    if any(part.startswith("_") for part in path.split(".")):
        return False
    try:
        found = collection.get_member(path)
        if module and not found.is_module:
            # a package re-exports a function under its module's name (reach.run.evaluate)
            found = collection.get_member(path.rsplit(".", 1)[0]).modules[path.rsplit(".", 1)[1]]
        if found.is_alias:
            found = found.final_target
    except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
        return False
    if found.kind.value not in ("function", "class", "module") or found.docstring is None:
        return False
    if found.is_module:
        return found.path in _RENDERED
    if found.module.path not in _RENDERED:
        return False
    owner = found.parent
    if owner is not None and owner.is_module:
        exports = owner.exports
        return exports is None or found.name in {str(e) for e in exports}
    return True


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Walk the loaded package and rewrite its docstrings.

        Parameters
        ----------
        pkg
            The package Griffe loaded.
        loader
            The loader, whose collection resolves the names.
        **kwargs
            Unused (forward compatibility).
        """
        del kwargs
        collection = loader.modules_collection
        seen: set[int] = set()

        def walk(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(
                    lambda m: self._link(m, obj, collection), obj.docstring.value
                )
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)  # type: ignore[arg-type]

        walk(pkg)

    @staticmethod
    def _link(match: re.Match[str], obj: griffe.Object, collection: Any) -> str:
        role, short = match.group(1), match.group(2) == "~"
        target, call = match.group(3).strip(), match.group(4) or ""
        text = (target.rsplit(".", 1)[-1] if short else target) + call
        scopes = [obj.path, *(p.path for p in _parents(obj))]
        for scope in ["", *scopes]:
            path = f"{scope}.{target}" if scope else target
            if path.startswith("reach") and _documented(collection, path, module=role == "mod"):
                return f"[`{text}`][{path}]"
        return f"`{text}`"


def _parents(obj: griffe.Object) -> list[griffe.Object]:
    out = []
    parent = obj.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out
