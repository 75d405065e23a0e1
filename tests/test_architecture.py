"""The house plan, checked from the source: data flows one way, no cycles, no private names shared.

The import graph is built with :mod:`ast` from every module of ``src/reach`` (imports inside
functions and ``TYPE_CHECKING`` blocks count: they are dependencies all the same). Each module
belongs to a stage of ``docs/architecture.md``; a module may import only from its own package or
from stages to its left. The tests, benchmarks and example scripts may import anything public,
and nothing private (``_name``) of another module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

#: The stages, left to right: a module may import only from its own package and from stages to
#: its left. Keys are module names or package prefixes; the longest match wins.
STAGES: dict[str, int] = {
    # shared vocabulary, imported by all
    "reach": 0,  # the package itself: __version__ (and the lazy reach.Scenario, see FACADE)
    "reach.errors": 0,
    "reach.settings": 0,
    "reach.codes": 0,
    "reach.schema": 0,
    "reach.progress": 0,
    "reach.findings": 0,
    "reach.languages": 0,
    "reach.spec": 1,
    "reach.ingest": 2,
    "reach.model": 3,
    "reach.engine": 4,
    "reach.metrics": 5,
    "reach.scenarios": 6,
    "reach.results": 7,
    "reach.outputs": 8,
    "reach.run": 9,
    "reach.fetch": 9,
    "reach.partition": 10,
    "reach.demo": 10,
    "reach.api": 11,
    "reach.cli": 12,
}

#: The one import allowed to point right: ``reach.Scenario`` is loaded lazily by the package's
#: ``__getattr__`` so that ``import reach`` stays light; nothing imports it at module load.
FACADE = {("reach", "reach.api")}


@dataclass(frozen=True)
class Import:
    """One import found in a source file."""

    importer: str
    imported: str
    names: tuple[str, ...]
    line: int


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a source file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import statement of a module's source, at any depth, resolved to module names."""
    out: list[Import] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [Import(module, a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(a.name for a in node.names)
            out.append(Import(module, base, names, node.lineno))
    return out


def _stage(module: str) -> tuple[str, int] | None:
    best = None
    for prefix, rank in STAGES.items():
        inside = module == prefix or (prefix != "reach" and module.startswith(prefix + "."))
        if inside and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank)
    return best


def _target(imp: Import, modules: Iterable[str]) -> str:
    """The module an import loads: ``from reach import x`` loads ``reach.x`` when it is one."""
    known = set(modules)
    if imp.names and len(imp.names) == 1 and f"{imp.imported}.{imp.names[0]}" in known:
        return f"{imp.imported}.{imp.names[0]}"
    return imp.imported


def wrong_way(imports: Iterable[Import], modules: Iterable[str]) -> list[str]:
    """Imports of ``reach`` modules that point against the flow (or across sibling stages)."""
    modules = list(modules)
    bad = []
    for imp in imports:
        target = _target(imp, modules)
        if not target.startswith("reach") or (imp.importer, target) in FACADE:
            continue
        src, dst = _stage(imp.importer), _stage(target)
        if src is None or dst is None:
            bad.append(f"{imp.importer}:{imp.line} imports {target}: not in the stage map")
            continue
        if src[0] == dst[0] or dst[1] < src[1] or dst[1] == src[1] == 0:
            continue  # own package, a stage to the left, or the shared vocabulary
        bad.append(
            f"{imp.importer}:{imp.line} imports {target} "
            f"(stage {dst[1]} {dst[0]} from stage {src[1]} {src[0]})"
        )
    return bad


def cycles(imports: Iterable[Import], modules: Iterable[str]) -> list[list[str]]:
    """Strongly connected groups of two or more modules in the import graph (Tarjan)."""
    modules = list(modules)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        target = _target(imp, modules)
        if target in graph and target != imp.importer and (imp.importer, target) not in FACADE:
            graph[imp.importer].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return found


def private_imports(source: str, module: str) -> list[str]:
    """Private names (``_x``, not dunders) one module takes from another reach or test module."""
    tree = ast.parse(source)
    bad = []
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if not node.module.startswith(("reach", "tests", "benchmarks")):
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    bad.append(f"{module}:{node.lineno} imports {node.module}.{a.name}")
                if node.module == "reach" or a.name[:1].islower():
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("reach"):
                    aliases.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases and root.id != "self":
                bad.append(f"{module}:{node.lineno} uses {ast.unparse(node)}")
    return bad


def _sources() -> dict[str, tuple[str, bool]]:
    return {
        module_name(p, SRC): (p.read_text("utf-8"), p.name == "__init__.py")
        for p in sorted((SRC / "reach").rglob("*.py"))
    }


def _all_imports(sources: Mapping[str, tuple[str, bool]]) -> list[Import]:
    return [i for m, (s, pkg) in sources.items() for i in imports_in(s, m, is_package=pkg)]


def test_every_module_has_a_stage() -> None:
    missing = [m for m in _sources() if _stage(m) is None]
    assert not missing, f"modules outside the stage map of docs/architecture.md: {missing}"


def test_imports_follow_the_flow() -> None:
    sources = _sources()
    bad = wrong_way(_all_imports(sources), sources)
    assert not bad, "imports against the flow:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    sources = _sources()
    found = cycles(_all_imports(sources), sources)
    assert not found, f"import cycles: {found}"


@pytest.mark.parametrize("folder", ["src/reach", "tests", "benchmarks", "scenarios"])
def test_no_private_name_crosses_modules(folder: str) -> None:
    bad = []
    for path in sorted((REPO / folder).rglob("*.py")):
        bad += private_imports(path.read_text("utf-8"), str(path.relative_to(REPO)))
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


# the checks themselves, on small sources that break the plan


def test_a_wrong_way_import_is_caught() -> None:
    modules = ["reach.model.grid", "reach.engine.combined", "reach.run.session", "reach.codes"]
    imports = imports_in(
        "from reach.codes import CLOSED\n"
        "def f():\n"
        "    from reach.run.session import SearchSession\n",
        "reach.model.grid",
    )
    bad = wrong_way(imports, modules)
    assert len(bad) == 1
    assert "reach.model.grid:3 imports reach.run.session" in bad[0]


def test_sibling_stages_may_not_import_each_other() -> None:
    imports = imports_in("from reach.fetch.cache import Cache\n", "reach.run.region")
    assert wrong_way(imports, ["reach.run.region", "reach.fetch.cache"])


def test_a_cycle_is_caught() -> None:
    imports = imports_in("from reach.outputs.b import x\n", "reach.outputs.a") + imports_in(
        "def g():\n    from reach.outputs.a import y\n", "reach.outputs.b"
    )
    assert cycles(imports, ["reach.outputs.a", "reach.outputs.b"]) == [
        ["reach.outputs.a", "reach.outputs.b"]
    ]


def test_private_names_are_caught() -> None:
    source = (
        "from reach.run.session import _renumbered\n"
        "import reach.run.session as session\n"
        "from reach import run\n"
        "session._cache.clear()\n"
        "run.session._x\n"
        "self._fine = 1\n"
    )
    assert len(private_imports(source, "tests/test_x.py")) == 3
