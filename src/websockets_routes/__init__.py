"""Routing for websockets: decorators, typed parameters, handshake hooks, reverse URLs."""

from __future__ import annotations

from ._path import QueryParams, RoutedPath
from ._responses import HTTPResult
from ._router import Hook, Route, Router
from .converters import (
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    RegexConverter,
    StrConverter,
    UUIDConverter,
)
from .exceptions import BadRequest, RouteError, URLBuildError

__version__ = "1.0.0.dev0"

__all__ = [
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
    "StrConverter",
    "URLBuildError",
    "UUIDConverter",
    "__version__",
]
