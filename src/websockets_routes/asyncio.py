"""Handshake routing on websockets' asyncio API (:mod:`websockets.asyncio.server`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as websockets_serve

from ._path import RoutedPath
from ._serving import connection_handler, serve_arguments

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["RoutedConnection", "serve"]


class RoutedConnection(ServerConnection):
    """A :class:`~websockets.asyncio.server.ServerConnection` that keeps its route.

    :func:`serve` makes connections of this class, or of a subclass of both this
    class and the ``create_connection`` you pass.
    """

    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> Server:
    """Serve ``router`` with :func:`websockets.asyncio.server.serve`.

    See :meth:`Router.serve <websockets_routes.Router.serve>`.

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
    """
    router.check_handlers(asynchronous=True)
    arguments = serve_arguments(
        router, kwargs, RoutedConnection, ServerConnection, asynchronous=True
    )
    return websockets_serve(connection_handler(router), host, port, **arguments)
