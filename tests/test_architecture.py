"""The house's shape (docs/architecture.md): import direction, no import circle, rooms of about a dozen modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crypto", "store", "gateway", "hub", "tui")
# What each package may import of the project (DESIGN.md, "Packages"); hub.cli and hub.tools may import tui.
ALLOWED = {"crypto": set(), "store": set(), "gateway": {"crypto", "store"},
           "hub": {"crypto", "store", "gateway"}, "tui": {"store", "hub"}}
MAX_MODULES = 14  # per folder, __init__ not counted: "about a dozen" (issue 14)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of the imports under `if TYPE_CHECKING:` (annotations only, never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return lines


def _graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports, at module level or inside functions (both are edges)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skipped = _type_checking_only(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skipped:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.module == "__future__":
                    continue
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle():
    """No module of the project imports, directly or through others, a module that imports it back."""
    assert _cycles(_graph()) == []


def test_imports_run_one_way():
    """crypto and store import nothing of the project; gateway neither hub nor tui; only hub's CLI and tools import tui."""
    wrong = []
    for name, edges in _graph().items():
        package = name.split(".")[0]
        for target in edges:
            other = target.split(".")[0]
            if other == package:
                continue
            allowed = other in ALLOWED[package]
            if other == "tui" and package == "hub":
                allowed = name.startswith(("hub.cli.", "hub.tools."))
            if other == "hub" and package == "tui":
                allowed = not target.startswith(("hub.cli", "hub.tools"))
            if not allowed:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_rooms_hold_about_a_dozen_modules():
    """No folder of the product holds more than about a dozen modules."""
    counts: dict[str, int] = {}
    for path in _modules().values():
        if path.name != "__init__.py":
            folder = str(path.parent.relative_to(ROOT))
            counts[folder] = counts.get(folder, 0) + 1
    assert {folder: n for folder, n in counts.items() if n > MAX_MODULES} == {}
