"""Handshake routing on websockets' threading API (:mod:`websockets.sync.server`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.sync.server import Server, ServerConnection
from websockets.sync.server import serve as websockets_serve
from websockets.typing import Subprotocol

from ._dispatch import (
    begin,
    choose_subprotocol,
    handle_sync,
    routed_class,
    run_handler_sync,
    run_hooks_sync,
)
from ._path import RoutedPath

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


ProcessRequest = Callable[[ServerConnection, Request], Response | None]


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> Server:
    """Serve ``router`` with :func:`websockets.sync.server.serve`, one thread per connection.

    Handlers, class views' ``handle`` and ``process_request``, and hooks are
    plain functions (``def``, not ``async def``). Unmatched paths get HTTP 404
    during the handshake and no handler runs. Every keyword argument of
    ``websockets.sync.server.serve`` passes through; your own
    ``process_request``, ``select_subprotocol`` and ``create_connection`` keep
    working (routing runs after your ``process_request`` lets the request
    through). Run the server with ``serve_forever()``; ``shutdown()`` from
    another thread stops it::

        with websockets_routes.sync.serve(router, "127.0.0.1", 8765) as server:
            server.serve_forever()

    Raises:
        TypeError: If a handler, view method or hook is a coroutine function.
    """
    router.check_handlers(asynchronous=False)
    user_process_request: ProcessRequest | None = kwargs.pop("process_request", None)
    user_select_subprotocol = kwargs.pop("select_subprotocol", None)
    connection_class = routed_class(
        kwargs.pop("create_connection", None) or ServerConnection, RoutedConnection
    )

    def route_request(connection: ServerConnection, request: Request) -> Response | None:
        result = begin(router, request.path)
        if isinstance(result, Response):
            return result
        cast(RoutedConnection, connection).routed_path = result
        if result.route.has_hooks:
            return run_hooks_sync(result, request.headers)
        return None

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        # The user's process_request runs first; routing runs if it lets the
        # request through.
        assert user_process_request is not None
        response = user_process_request(connection, request)
        if response is not None:
            return response
        return route_request(connection, request)

    def select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        path = cast(RoutedConnection, connection).routed_path
        if path is not None and path.route.subprotocols is not None:
            return choose_subprotocol(path.route, offered)
        if user_select_subprotocol is not None:
            return cast(Subprotocol | None, user_select_subprotocol(connection, offered))
        return ServerProtocol.select_subprotocol(connection.protocol, offered)

    def routed_handler(connection: ServerConnection) -> None:
        path = cast(RoutedConnection, connection).routed_path
        if path is None:
            # The user's process_request completed the handshake by itself.
            assert connection.request is not None
            handle_sync(router, connection, connection.request.path, connection.request.headers)
        else:
            run_handler_sync(connection, path)

    return websockets_serve(
        routed_handler,
        host,
        port,
        process_request=route_request if user_process_request is None else process_request,
        select_subprotocol=select_subprotocol,
        create_connection=connection_class,
        **kwargs,
    )


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
