"""The package's layering: nothing imports the CLI, and the import graph has no circle.

Every `import`/`from ... import` of a thrifty module counts, at module level or inside a function (a lazy
import is still a dependency); only `if TYPE_CHECKING:` blocks are left out, since they never run.
"""

import ast
from collections import defaultdict
from pathlib import Path

import thrifty

ROOT = Path(thrifty.__file__).parent


def module_files() -> dict[str, Path]:
    found = {}
    for file in ROOT.rglob("*.py"):
        parts = list(file.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = file
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imported_names(file: Path) -> set[str]:
    """Dotted names of the thrifty modules (or their attributes) that `file` imports."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("thrifty"):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("thrifty"))
    return names


def import_graph() -> dict[str, set[str]]:
    files = module_files()

    def owner(name: str) -> str:  # `thrifty.methods.register` -> the module `thrifty.methods`
        while name not in files:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for module, file in files.items():
        graph[module] = {owner(n) for n in imported_names(file)} - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_nothing_imports_the_cli():
    importers = sorted(m for m, deps in import_graph().items() if "thrifty.cli" in deps)
    assert importers == ["thrifty.__main__"]


def test_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_cycle_finder_sees_a_circle():
    # The check itself can fail: a circle of three is found, a chain is not.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_graph_sees_lazy_imports():
    # Imports inside functions count: the CLI loads every verb's module lazily.
    assert "thrifty.train.run" in import_graph()["thrifty.train.cli"]


def test_subpackage_graph_has_no_cycle():
    # One level up too: `train` may use `eval`, or the reverse, not both; shared pieces live below both.
    packages: dict[str, set[str]] = defaultdict(set)
    for module, deps in import_graph().items():
        top = ".".join(module.split(".")[:2])
        packages[top] |= {".".join(d.split(".")[:2]) for d in deps} - {top}
    cycle = find_cycle(packages)
    assert cycle is None, "subpackage circle: " + " -> ".join(cycle)
