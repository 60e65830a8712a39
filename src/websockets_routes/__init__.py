"""Routing for websockets: decorators, typed parameters, handshake hooks, reverse URLs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._path import QueryParams, RoutedPath, URLPath
from ._responses import HTTPResult
from ._route import Hook, Route
from ._router import Router
from .converters import (
    AnyConverter,
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    RegexConverter,
    StrConverter,
    UUIDConverter,
)
from .exceptions import BadRequest, RouteError, StartupError, URLBuildError

if TYPE_CHECKING:
    from .legacy import Protocol as Protocol

__version__ = "1.0.0.dev0"

__all__ = [
    "AnyConverter",
    "BadRequest",
    "Converter",
    "FloatConverter",
    "HTTPResult",
    "Hook",
    "IntConverter",
    "PathConverter",
    "QueryParams",
    "RegexConverter",
    "Route",
    "RouteError",
    "RoutedPath",
    "Router",
    "StartupError",
    "StrConverter",
    "URLBuildError",
    "URLPath",
    "UUIDConverter",
    "__version__",
]


def __getattr__(name: str) -> object:
    # Protocol is for websockets' legacy API, which warns when imported: load it
    # on first use only, so that users of the current API never see the warning.
    # For the same reason it stays out of __all__: a star import mustn't load it.
    if name == "Protocol":
        from .legacy import Protocol

        return Protocol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
