"""Errors raised by websockets-routes."""

from __future__ import annotations

__all__ = ["BadRequest", "RouteError", "StartupError", "URLBuildError"]


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


class StartupError(RuntimeError):
    """A router's startup failed: a startup hook or its lifespan raised.

    :meth:`Router.serve <websockets_routes.Router.serve>`, the adapters and
    :meth:`Router.lifespan <websockets_routes.Router.lifespan>` raise it before
    any socket listens, so no handshake is ever accepted. The message names the
    hook; the error it raised is the ``__cause__``.
    """
