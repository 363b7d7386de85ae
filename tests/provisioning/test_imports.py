"""Provisioning's modules import each other in one direction: no circle, and no import tucked inside a
function to dodge one (AppConfig.ready is Django's own place for late imports)."""
import ast
from pathlib import Path

import provisioning

PACKAGE = Path(provisioning.__file__).parent
# Late on purpose, not to dodge a circle: moto is slow to import and only the dev stack serves the local cloud.
LATE_ON_PURPOSE = {"provisioning.local_cloud.serve"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts or "management" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    # `from . import x` may name a submodule.
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        edges = set()
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(name, node, path.name == "__init__.py")
            edges |= {target for target in targets if target in modules and target != name}
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_edges_to_check():
    graph = _graph()
    assert "provisioning.services.requests" in graph["provisioning.outcomes"]
    assert "provisioning.outcomes" in graph["provisioning.runner"]


def test_no_import_circle_among_provisioning_modules():
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_inside_a_function():
    late = []
    for name, path in _modules().items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (name == "provisioning.apps" and function.name == "ready") or f"{name}.{function.name}" in LATE_ON_PURPOSE:
                continue
            late += [f"{name}.{function.name}" for node in ast.walk(function) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert not late, f"imports inside functions: {late}"
