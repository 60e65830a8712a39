"""Handshake routing on websockets' threading API (:mod:`websockets.sync.server`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.sync.server import Server, ServerConnection
from websockets.sync.server import serve as websockets_serve

from ._path import RoutedPath
from ._serving import connection_handler_sync, handle_sync, serve_arguments

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["RoutedConnection", "handler", "serve"]


class RoutedConnection(ServerConnection):
    """A :class:`~websockets.sync.server.ServerConnection` that keeps its route.

    :func:`serve` makes connections of this class, or of a subclass of both this
    class and the ``create_connection`` you pass.
    """

    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> Server:
    """Serve ``router`` with :func:`websockets.sync.server.serve`, one thread per connection.

    Handlers, class views' ``handle`` and ``process_request``, and hooks are
    plain functions (``def``, not ``async def``). Otherwise it is
    :meth:`Router.serve <websockets_routes.Router.serve>` for threads. Run the
    server with ``serve_forever()``; ``shutdown()`` from another thread stops it::

        with websockets_routes.sync.serve(router, "127.0.0.1", 8765) as server:
            server.serve_forever()

    Raises:
        TypeError: If a handler, view method or hook is a coroutine function.
    """
    router.check_handlers(asynchronous=False)
    arguments = serve_arguments(
        router, kwargs, RoutedConnection, ServerConnection, asynchronous=False
    )
    return websockets_serve(connection_handler_sync(router), host, port, **arguments)


def handler(router: Router) -> Callable[[ServerConnection], None]:
    """The router as a plain connection handler for :func:`websockets.sync.server.serve`.

    ``serve(handler(router), ...)`` accepts every handshake, then closes with
    code 4040 when no route matches and 4000 when the path is malformed. Prefer
    :func:`serve`, which rejects during the handshake.

    Raises:
        TypeError: If a handler, view method or hook is a coroutine function.
    """
    router.check_handlers(asynchronous=False)

    def handle_connection(connection: ServerConnection) -> None:
        assert connection.request is not None
        handle_sync(router, connection, connection.request.path, connection.request.headers)

    return handle_connection
