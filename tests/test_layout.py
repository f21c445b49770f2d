"""The package's shape: no import cycles, small modules that say what they own."""
from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "derive"
MAX_LINES = 500


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles():
    graph = grimp.build_graph("derive")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}}

    class Fake:
        modules = frozenset(edges)

        @staticmethod
        def find_modules_directly_imported_by(m):
            return edges[m]
    assert _cycles(Fake) == [["a", "b"]]


def test_modules_are_small_and_say_what_they_own():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= MAX_LINES, f"{rel} has more than {MAX_LINES} lines"
        if path.name == "__main__.py":
            continue
        doc = ast.get_docstring(ast.parse(text))
        assert doc, f"{rel} has no module docstring"


def test_no_folder_holds_more_than_fifteen_modules():
    for folder in sorted(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        modules = list(folder.glob("*.py"))
        assert len(modules) <= 15, f"{folder.relative_to(PACKAGE.parent)} holds {len(modules)} modules (at most 15)"
