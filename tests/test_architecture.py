"""The shape of the package: no import cycle, small modules and functions, documented public functions.

Walks every ``import`` / ``from ... import`` of ``cvm_kit/**/*.py`` with
:mod:`ast` (function-local and ``TYPE_CHECKING`` ones included), resolves
relative imports (``from . import x`` imports the submodule ``x`` when it is
one), builds the module graph and fails on any cycle, naming it. Modules over
600 lines, functions over 120 lines and public functions without a docstring
fail too.

Each check has a baseline of today's offenders (modules being split by other
work). A baseline only shrinks: a new offender fails, so does one that grows
past its recorded size, and so does an entry that no longer offends (delete
it; lowering a recorded size as it shrinks is welcome). Print the current
offenders with ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cvm_kit"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 120

# ---------------------------------------------------------------------------
# baselines (only ever shrink; see the module docstring)

#: Import cycles known today, each as the set of modules of one strongly connected component.
KNOWN_CYCLES: list[frozenset[str]] = [
]

#: Modules over MAX_MODULE_LINES today: path -> lines (may only go down).
LONG_MODULES: dict[str, int] = {
}

#: Functions over MAX_FUNCTION_LINES today: "path:qualname" -> lines (may only go down).
LONG_FUNCTIONS: dict[str, int] = {
}

#: Public functions and methods without a docstring today: "path:qualname".
UNDOCUMENTED: set[str] = set()


# ---------------------------------------------------------------------------
# reading the package


def _module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (the bundled copies excluded)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "_bundled" in rel.parts or "__pycache__" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(name: str, path: Path, modules: set[str]) -> Iterator[str]:
    """The package modules ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:  # `from . import x`, `from .study import model`: the submodule
                    yield sub
                else:
                    yield from _known(target, modules)


def _known(dotted: str, modules: set[str]) -> Iterator[str]:
    """``dotted`` itself if it is a package module, else its nearest package module parent (if any)."""
    parts = dotted.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            yield cand
            return
        parts.pop()


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    files = _module_files()
    mods = set(files)
    return {m: {t for t in _imports(m, p, mods) if t != m} for m, p in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module, as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        # iterative Tarjan: (node, iterator over its successors)
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.add(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    comps.append(comp)
    return [_path_in(comp, graph) for comp in comps]


def _path_in(comp: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component (breadth-first)."""
    start = min(comp)
    prev: dict[str, str] = {}
    todo = [start]
    while todo:
        nxt = []
        for m in todo:
            for t in sorted(graph[m] & comp):
                if t == start:
                    path = [m]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if t not in prev:
                    prev[t] = m
                    nxt.append(t)
        todo = nxt
    return sorted(comp)  # pragma: no cover - a component always has a cycle


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """(qualified name, node, public) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{prefix}{node.name}"
            public = not any(part.startswith("_") for part in qual.split("."))
            yield qual, node, public and "<locals>" not in prefix
            yield from _functions(node, f"{qual}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def long_modules() -> dict[str, int]:
    """Modules over the line limit: path -> lines."""
    out = {}
    for path in _module_files().values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            out[_rel(path)] = n
    return out


def long_functions() -> dict[str, int]:
    """Functions over the line limit: "path:qualname" -> lines (decorators excluded, docstring included)."""
    out = {}
    for path in _module_files().values():
        for qual, node, _ in _functions(_tree(path)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out[f"{_rel(path)}:{qual}"] = n
    return out


def _is_overload_or_property_setter(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in node.decorator_list:
        text = ast.unparse(d)
        if text in ("overload", "typing.overload") or text.endswith((".setter", ".deleter")):
            return True
    return False


def undocumented() -> set[str]:
    """Public functions and methods (not nested in a function) without a docstring: "path:qualname"."""
    out = set()
    for path in _module_files().values():
        for qual, node, public in _functions(_tree(path)):
            if public and not _is_overload_or_property_setter(node) and ast.get_docstring(node) is None:
                out.add(f"{_rel(path)}:{qual}")
    return out


# ---------------------------------------------------------------------------
# the tests


def test_the_graph_sees_relative_and_function_local_imports():
    """The walker resolves ``from . import x``, ``from ..values import y`` and imports inside functions."""
    graph = import_graph()
    assert "cvm_kit.study.model" in graph["cvm_kit.study"]
    assert "cvm_kit.study.model" in graph["cvm_kit.study.checks"]
    assert {"cvm_kit.values", "cvm_kit.study.checks"} <= graph["cvm_kit.study.load"]
    # a function-local import (cvm_kit.__init__ imports .errors inside example_path)
    assert "cvm_kit.errors" in graph["cvm_kit"]
    toy = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(toy) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_study_model_imports_nothing_above_it():
    """The model needs only the word equations (and errors); every stage imports it, never the reverse."""
    graph = import_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for t in graph.get(todo.pop(), ()):
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return seen

    below = reach("cvm_kit.study.model")
    equations = {m for m in graph if m == "cvm_kit.equations" or m.startswith("cvm_kit.equations.")}
    assert below <= equations | {"cvm_kit.errors"}, below
    assert "cvm_kit.study.model" not in below
    assert "cvm_kit.values" not in reach("cvm_kit.study")  # the package loads only the model eagerly
    for m in ("cvm_kit.study.read", "cvm_kit.study.checks", "cvm_kit.study.schema", "cvm_kit.study.write"):
        assert not any(t == "cvm_kit.values" or t.startswith("cvm_kit.values.") for t in reach(m)), m


def test_no_import_cycle_inside_cvm_kit():
    found = cycles(import_graph())
    new = [c for c in found if not any(set(c) <= known for known in KNOWN_CYCLES)]
    assert not new, "import cycle(s): " + "; ".join(" -> ".join(c) for c in new)


def test_known_cycles_baseline_only_shrinks():
    found = [set(c) for c in cycles(import_graph())]
    stale = [sorted(k) for k in KNOWN_CYCLES if not any(c <= k for c in found)]
    assert not stale, f"these known cycles are gone: remove them from KNOWN_CYCLES: {stale}"


def test_no_module_over_600_lines():
    now = long_modules()
    bad = {p: n for p, n in now.items() if n > LONG_MODULES.get(p, MAX_MODULE_LINES)}
    assert not bad, (f"modules over {MAX_MODULE_LINES} lines (or grown past their baseline "
                     f"{ {p: LONG_MODULES[p] for p in bad if p in LONG_MODULES} }): {bad}")
    stale = sorted(p for p in LONG_MODULES if p not in now)
    assert not stale, f"now within {MAX_MODULE_LINES} lines (or gone): delete their LONG_MODULES entries: {stale}"


def test_no_function_over_120_lines():
    now = long_functions()
    bad = {f: n for f, n in now.items() if n > LONG_FUNCTIONS.get(f, MAX_FUNCTION_LINES)}
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines (or grown past their baseline): {bad}"
    stale = sorted(f for f in LONG_FUNCTIONS if f not in now)
    assert not stale, (f"now within {MAX_FUNCTION_LINES} lines (or renamed, moved): "
                       f"delete their LONG_FUNCTIONS entries: {stale}")


def test_public_functions_have_docstrings():
    now = undocumented()
    assert not now - UNDOCUMENTED, f"public functions without a docstring: {sorted(now - UNDOCUMENTED)}"
    stale = UNDOCUMENTED - now
    assert not stale, f"documented, renamed or gone: delete them from UNDOCUMENTED: {sorted(stale)}"


def _print_baselines() -> None:  # pragma: no cover - a maintenance aid
    print("KNOWN_CYCLES = [")
    for c in cycles(import_graph()):
        print(f"    frozenset({sorted(set(c))!r}),  # {' -> '.join(c)}")
    print("]\n\nLONG_MODULES = {")
    for p, n in sorted(long_modules().items()):
        print(f"    {p!r}: {n},")
    print("}\n\nLONG_FUNCTIONS = {")
    for f, n in sorted(long_functions().items()):
        print(f"    {f!r}: {n},")
    print("}\n\nUNDOCUMENTED = {")
    for f in sorted(undocumented()):
        print(f"    {f!r},")
    print("}" if undocumented() else "}  # empty: write set()")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_print_baselines())
