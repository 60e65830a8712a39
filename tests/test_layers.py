"""Tests that the layers of the package stay apart: the core imports nothing above it,
and no module imports one that imports it back."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

import websockets_routes

PACKAGE_DIR = pathlib.Path(websockets_routes.__file__).parent
# The sans-I/O core: it decides, never does I/O, and imports nothing above it.
CORE = [
    "_handshake",
    "_matcher",
    "_path",
    "_patterns",
    "_responses",
    "_route",
    "_routes",
    "converters",
    "exceptions",
]
# What the core must not load, even indirectly: servers, adapters, delivery, messages.
ABOVE = (
    "websockets.asyncio",
    "websockets.sync",
    "websockets.trio",
    "websockets.legacy",
    "websockets_routes._router",
    "websockets_routes._serving",
    "websockets_routes.asyncio",
    "websockets_routes.sync",
    "websockets_routes.trio",
    "websockets_routes.legacy",
    "websockets_routes.broadcast",
    "websockets_routes.messages",
    "websockets_routes.cli",
    "websockets_routes.testing",
    "trio",
    "msgspec",
    "redis",
)

# Load one module of the package without running the package's __init__, which is the
# public façade and imports the layers above on purpose; then list what got loaded.
LOAD_ALONE = """
import importlib, json, sys, types
package = types.ModuleType("websockets_routes")
package.__path__ = [{directory!r}]
sys.modules["websockets_routes"] = package
importlib.import_module("websockets_routes." + {module!r})
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_nothing_above_it(module: str) -> None:
    """Importing a core module in a fresh interpreter loads no server, adapter or delivery."""
    code = LOAD_ALONE.format(directory=str(PACKAGE_DIR), module=module)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    above = [name for name in loaded if name.startswith(ABOVE)]
    assert above == [], f"websockets_routes.{module} loads {', '.join(above)}"


def test_importing_the_package_loads_no_server() -> None:
    """`import websockets_routes` loads the router, but no server, trio, msgspec or redis."""
    code = "import json, sys, websockets_routes; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    heavy = ("websockets.asyncio", "websockets.sync", "websockets.legacy", "trio")
    heavy += ("msgspec", "redis", "websockets_routes.messages")
    assert [name for name in loaded if name.startswith(heavy)] == []


def module_name(path: pathlib.Path) -> str:
    """``websockets_routes.a.b`` for ``src/websockets_routes/a/b.py`` (or its __init__)."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: pathlib.Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, at any depth, outside TYPE_CHECKING."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from . import x` imports the module x when there is one.
                targets = [f"{base}.{alias.name}" for alias in child.names] + [base]
            else:
                continue
            found.update(target for target in targets if target in modules)
    found.discard(name)
    return found


def test_no_import_cycles() -> None:
    """No module of the package imports, even through others, a module that imports it."""
    paths = sorted(PACKAGE_DIR.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph = {module_name(path): imported_modules(path, modules) for path in paths}
    # A package's modules run its __init__ first; that edge is Python's, not a cycle.
    for name, targets in graph.items():
        targets -= {m for m in targets if name.startswith(m + ".")}

    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_sees_cycles(tmp_path: pathlib.Path) -> None:
    """The import walk finds relative, absolute and function-level imports alike."""
    package = tmp_path / "websockets_routes"
    package.mkdir()
    (package / "a.py").write_text("def f():\n    from .b import g\n")
    (package / "b.py").write_text("import websockets_routes.a\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    modules = {"websockets_routes.a", "websockets_routes.b", "websockets_routes.c"}
    global PACKAGE_DIR
    saved, PACKAGE_DIR = PACKAGE_DIR, package
    try:
        assert imported_modules(package / "a.py", modules) == {"websockets_routes.b"}
        assert imported_modules(package / "b.py", modules) == {"websockets_routes.a"}
        assert imported_modules(package / "c.py", modules) == set()
    finally:
        PACKAGE_DIR = saved
