"""Package structure: every module imports, and no two modules import each other (directly or
through others), counting imports inside functions too (a lazy import is still a dependency)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import jaxrefine

PACKAGE = Path(jaxrefine.__file__).resolve().parent
# third-party packages of optional extras (pyproject's [project.optional-dependencies]): a
# module that needs one may fail to import where the extra is not installed
OPTIONAL = {"torch", "smplx", "body_models", "moderngl", "glcontext", "jaxopt", "anny", "skimage",
            "OpenEXR", "ai_edge_litert", "nbclient", "nbformat", "grain", "orbax",
            "tensorboardX"}  # fmt: skip


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _imports(name: str, path: Path) -> set[str]:
    """The jaxrefine modules ``name`` imports anywhere in its source (resolved to modules)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            }
    out = set()
    for dep in found:
        while dep not in MODULES and "." in dep:
            dep = dep.rpartition(".")[0]
        if dep in MODULES and dep != name and dep != "jaxrefine":
            out.add(dep)
    return out


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert "jaxrefine.keypoints" in graph["jaxrefine.body_model"]  # the walker sees imports
    cycles = sorted(
        f"{name} -> {dep} -> ... -> {name}"
        for name, deps in graph.items()
        for dep in sorted(deps)
        if name in _reachable(graph, dep) or dep == name
    )
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert "a" in _reachable(graph, "b")
    assert "d" not in _reachable(graph, "a")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in OPTIONAL:
            raise
        pytest.skip(f"{name} needs the optional package {exc.name!r}")
