"""Tests that the package exports what its __all__ says, and every module has __all__."""

from __future__ import annotations

import ast
import importlib
import pathlib
import types
import warnings

import pytest

import websockets_routes

PACKAGE_DIR = pathlib.Path(websockets_routes.__file__).parent
# Files of the package, subpackages included: "_router", "messages/__init__"...
MODULES = sorted(
    path.relative_to(PACKAGE_DIR).with_suffix("").as_posix() for path in PACKAGE_DIR.rglob("*.py")
)
# Modules of the sans-I/O core, importable without optional dependencies.
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


def declared_all(path: pathlib.Path) -> list[str] | None:
    """The literal value of a module-level __all__ in ``path``, or None."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                value = ast.literal_eval(node.value)
                assert isinstance(value, list | tuple)
                return list(value)
    return None


def test_core_modules_exist() -> None:
    """Every core module is a file of the package."""
    assert set(CORE) <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_all(module: str) -> None:
    """Every module of the package declares __all__ as a list of unique names."""
    names = declared_all(PACKAGE_DIR / f"{module}.py")
    assert names is not None, f"{module}.py has no __all__"
    assert len(names) == len(set(names))


@pytest.mark.parametrize("module", CORE)
def test_core_module_all_names_exist(module: str) -> None:
    """Every name in a core module's __all__ is defined there."""
    imported = importlib.import_module(f"websockets_routes.{module}")
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


def public_names(module: types.ModuleType) -> set[str]:
    """Names a user sees in ``module``: no private names, submodules or future flags."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations", "TYPE_CHECKING", "Any"}
    }


def test_package_exports_are_all() -> None:
    """The package's public names are exactly __all__, and each one resolves."""
    exported = set(websockets_routes.__all__)
    assert len(exported) == len(websockets_routes.__all__)
    assert public_names(websockets_routes) <= exported
    with warnings.catch_warnings():
        # A lazily loaded export may come from websockets' deprecated legacy API.
        warnings.simplefilter("ignore", DeprecationWarning)
        missing = [name for name in exported if getattr(websockets_routes, name, None) is None]
    assert missing == []


# Public names of the single module websockets_routes.messages was, kept outside __all__.
MESSAGES_KEPT = {
    "ERROR_TAG",
    "MAX_CLOSE_REASON",
    "MAX_DETAIL_LENGTH",
    "MAX_ID_LENGTH",
    "ErrorHookT",
    "HandlerT",
    "MiddlewareT",
    "UnknownHookT",
}


def test_messages_exports_are_all() -> None:
    """The public names of messages are __all__ and the kept ones; each resolves where it lives."""
    messages = pytest.importorskip("websockets_routes.messages")
    exported = set(messages.__all__)
    assert len(exported) == len(messages.__all__)
    assert public_names(messages) == exported | MESSAGES_KEPT
    namespace: dict[str, object] = {}
    exec("from websockets_routes.messages import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == exported
    for name in exported | MESSAGES_KEPT:
        value = getattr(messages, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("websockets_routes.messages."):
            # Classes and functions: the private module that defines them declares them.
            assert name in importlib.import_module(module).__all__, f"{name} not in {module}"


def test_star_import_is_all() -> None:
    """`from websockets_routes import *` brings in exactly __all__, without a warning."""
    namespace: dict[str, object] = {}
    exec("from websockets_routes import *", namespace)  # filterwarnings=error applies
    namespace.pop("__builtins__")
    assert set(namespace) == set(websockets_routes.__all__)
    assert "Protocol" not in namespace


def test_legacy_protocol_loads_on_first_use() -> None:
    """websockets_routes.Protocol is the legacy adapter's class, loaded when asked for."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets_routes.legacy import Protocol

        assert websockets_routes.Protocol is Protocol


def test_core_exports_reexported() -> None:
    """The public core classes are exported by the package from where they live."""
    for name in websockets_routes.__all__:
        if name == "__version__":
            continue
        value = getattr(websockets_routes, name)
        module = getattr(value, "__module__", None)
        if module is None or not module.startswith("websockets_routes."):
            continue  # type aliases
        defining = importlib.import_module(module)
        assert name in defining.__all__, f"{name} is not in {module}.__all__"
