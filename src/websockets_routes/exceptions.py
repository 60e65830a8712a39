"""Errors raised by websockets-routes."""

from __future__ import annotations

__all__ = ["BadRequest", "RouteError", "URLBuildError"]


class RouteError(ValueError):
    """A route, pattern or converter is misconfigured.

    Raised when the route is declared, never while serving. The message names the
    route and says how to fix it.
    """


class BadRequest(ValueError):
    """A request target breaks the path decoding rules.

    :meth:`Router.match <websockets_routes.Router.match>` raises it; servers answer
    HTTP 400 during the handshake, or close the connection with code 4000 when the
    router is used as a plain handler. The message is short and never echoes the
    target, so it is safe to send back to the client.
    """


class URLBuildError(ValueError):
    """:meth:`Router.url_for <websockets_routes.Router.url_for>` cannot build a path.

    The route name is unknown, a parameter is missing or unexpected, or a value is
    refused by its converter.
    """
