"""The public API documents itself: numpydoc Parameters and Returns on every public function.

Every module of ``reach`` is imported; its public API is what its ``__all__`` names (a module
without one, like ``cli.py``, whose interface is the command line, publishes nothing). Each
public function, and each public method of a public class, is checked with
:func:`numpydoc.validate.validate` for four things only:

- ``GL08``: it has a docstring;
- ``PR01``: its Parameters section documents every parameter;
- ``PR02``: and nothing that is not one;
- ``RT01``: it has a Returns section when it returns something (a generator's Yields section
  stands in for it: numpydoc asks for Returns only of a ``return value``).

Properties and dunder methods are skipped, and so is a class's ``__init__`` when the class
docstring documents its parameters (as the API reference shows them). A constructor that a
dataclass, pydantic or a base class writes is not checked: the class docstring's Attributes
say what the fields are. A method that overrides a documented one of a base class inherits its
docstring. Numba functions are checked through the Python function they compile.

The API reference (``docs/api/*.md``, built by mkdocs) is checked to name every module with an
``__all__``, and nothing that is not a module.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable, Iterator
from functools import cache, cached_property
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import pytest
from numpydoc.docscrape import get_doc_object
from numpydoc.validate import Validator, validate

import reach

REPO = Path(__file__).resolve().parents[1]

#: The numpydoc checks this test makes (see the module docstring).
CODES = ("GL08", "PR01", "PR02", "RT01")

# --- what is public ------------------------------------------------------------------------------


@cache
def modules() -> dict[str, ModuleType]:
    """Every module of the ``reach`` package, imported, by dotted name.

    Returns
    -------
    dict of str to module
        Sorted by name; ``reach`` itself included.
    """
    found = {"reach": reach}
    for info in pkgutil.walk_packages(reach.__path__, prefix="reach."):
        if info.name.rpartition(".")[2].startswith("_"):
            continue
        found[info.name] = importlib.import_module(info.name)
    return dict(sorted(found.items()))


def _home(obj: Any) -> str | None:
    """The ``reach`` module an object is defined in, or None for anything else."""
    home = getattr(obj, "__module__", None)
    return home if isinstance(home, str) and home.split(".")[0] == "reach" else None


def _function(obj: Any) -> FunctionType | None:
    """The plain Python function behind a function, a decorated one or a Numba dispatcher."""
    obj = getattr(obj, "py_func", obj)  # numba
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    if not callable(obj) or inspect.isclass(obj):
        return None
    if not inspect.isfunction(obj):
        obj = inspect.unwrap(obj)  # functools.cache and the like wrap without being functions
    return obj if inspect.isfunction(obj) else None


@cache
def public_objects() -> dict[str, Any]:
    """The public functions and classes of reach, by the module that defines them.

    An object that several modules export (a package re-exporting a module's API) is checked
    once, under the module that defines it.

    Returns
    -------
    dict of str to object
        Keyed by ``module.qualname``.
    """
    found: dict[str, Any] = {}
    for module in modules().values():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or _function(obj) is not None):
                continue  # constants, type aliases
            home = _home(obj)
            if home is not None:
                found.setdefault(f"{home}.{obj.__qualname__}", obj)
    return found


def _overrides_a_documented_method(cls: type, name: str) -> bool:
    for base in cls.__mro__[1:]:
        if name in vars(base):
            return bool(inspect.getdoc(getattr(base, name)))
    return False


def checked_callables() -> Iterator[tuple[str, str, Callable[..., Any] | type]]:
    """Everything the test validates: (module, qualified name, object).

    Yields
    ------
    tuple of (str, str, callable)
        Public functions, public classes (for their docstring and constructor) and the public
        methods a class defines itself.
    """
    for qualname, obj in sorted(public_objects().items()):
        home = _home(obj)
        assert home is not None
        if not inspect.isclass(obj):
            func = _function(obj)
            assert func is not None
            yield home, qualname, func
            continue
        yield home, qualname, obj
        for name, raw in vars(obj).items():
            if name.startswith("_") or isinstance(raw, property | cached_property):
                continue
            func = _function(raw)
            if func is None or _overrides_a_documented_method(obj, name):
                continue
            yield home, f"{qualname}.{name}", func


# --- the checks ----------------------------------------------------------------------------------


def _validate(obj: Any) -> list[tuple[str, str]]:
    """numpydoc's findings for one object, restricted to :data:`CODES`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc warns about sections it does not know
        result = validate(get_doc_object(obj))
    return [(code, message) for code, message in result["errors"] if code in CODES]


def _class_failures(cls: type) -> list[tuple[str, str]]:
    """A class has a docstring, and its own ``__init__`` has its parameters documented."""
    if not (cls.__doc__ or "").strip():
        return [("GL08", "The object does not have a docstring")]
    init = vars(cls).get("__init__")
    if not inspect.isfunction(init) or inspect.getsourcefile(init) != inspect.getsourcefile(cls):
        return []  # inherited, or written by dataclasses / pydantic: the fields are attributes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        class_doc = Validator(get_doc_object(cls))
        in_class = [e for e in class_doc.parameter_mismatches if e[0] in ("PR01", "PR02")]
    if not in_class:
        return []
    if (init.__doc__ or "").strip():
        return [(code, f"__init__: {message}") for code, message in _validate(init)]
    return [(code, f"__init__ (and the class docstring): {message}") for code, message in in_class]


@cache
def failures() -> dict[str, list[str]]:
    """Every failure, by module: ``"qualified.name CODE message"``.

    Returns
    -------
    dict of str to list of str
        One entry per module of :func:`modules`, empty when it passes.
    """
    out: dict[str, list[str]] = {name: [] for name in modules()}
    for module, qualname, obj in checked_callables():
        found = _class_failures(obj) if inspect.isclass(obj) else _validate(obj)
        out[module] += [f"{qualname} {code} {message}" for code, message in found]
    return out


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(modules()))
def test_public_docstrings(module: str) -> None:
    """Each public function and method of ``module`` passes :data:`CODES`."""
    found = failures()[module]
    assert not found, f"{len(found)} docstring failures in {module}:\n" + "\n".join(found)


def test_api_reference_names_every_public_module() -> None:
    """Each module with an ``__all__`` has a place in ``docs/api/``, and each place is a module.

    ``mkdocs build --strict`` (CI, after the tests) fails on a page naming a module that is gone;
    this says so at once, and also catches a new module left out of the reference.
    """
    pages = sorted((REPO / "docs" / "api").glob("*.md"))
    named = {
        line.removeprefix(":::").strip(): page.name
        for page in pages
        for line in page.read_text("utf-8").splitlines()
        if line.startswith(":::")
    }
    public = {name for name, module in modules().items() if getattr(module, "__all__", None)}
    missing = sorted(public - set(named))
    assert not missing, f"public modules missing from docs/api/*.md: {missing}"
    gone = {name: page for name, page in named.items() if name not in modules()}
    assert not gone, f"docs/api/ names modules that do not exist: {gone}"


def test_the_checks_catch_what_they_should() -> None:
    """A function without its Parameters or Returns fails; one documented fully passes."""

    def bare(x: int) -> int:
        """Add one."""
        return x + 1

    def documented(x: int) -> int:
        """Add one.

        Parameters
        ----------
        x
            A number.

        Returns
        -------
        int
            ``x + 1``.
        """
        return x + 1

    def wrong(y: int) -> None:
        """Do nothing.

        Parameters
        ----------
        x
            Not a parameter.
        """

    assert {code for code, _ in _validate(bare)} == {"PR01", "RT01"}
    assert _validate(documented) == []
    assert {code for code, _ in _validate(wrong)} == {"PR01", "PR02"}


if __name__ == "__main__":  # python -m tests.test_docstrings: every failure, by module
    for name, found in failures().items():
        if found:
            print(f"{name}: {len(found)}", *found, sep="\n    ")
    print(sum(map(len, failures().values())), "failures")
