"""Handshake routing on websockets' asyncio API (:mod:`websockets.asyncio.server`)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import NegotiationError
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ._dispatch import begin, handle, run_handler, run_hooks
from ._path import RoutedPath

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


_connection_classes: dict[type[ServerConnection], type[RoutedConnection]] = {}


def _connection_class(base: type[ServerConnection]) -> type[RoutedConnection]:
    if issubclass(base, RoutedConnection):
        return base
    if base is ServerConnection:
        return RoutedConnection
    cls = _connection_classes.get(base)
    if cls is None:
        cls = type(base.__name__, (base, RoutedConnection), {"__module__": base.__module__})
        _connection_classes[base] = cls
    return cls


ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None] | Response | None]


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> Server:
    """Serve ``router`` with :func:`websockets.asyncio.server.serve`.

    See :meth:`Router.serve <websockets_routes.Router.serve>`.
    """
    router.check_handlers(asynchronous=True)
    user_process_request: ProcessRequest | None = kwargs.pop("process_request", None)
    user_select_subprotocol = kwargs.pop("select_subprotocol", None)
    connection_class = _connection_class(kwargs.pop("create_connection", None) or ServerConnection)

    def route_request(
        connection: ServerConnection, request: Request
    ) -> Awaitable[Response | None] | Response | None:
        result = begin(router, request.path)
        if isinstance(result, Response):
            return result
        cast(RoutedConnection, connection).routed_path = result
        # Without hooks the handshake is routed without creating a coroutine.
        if result.route.has_hooks:
            return run_hooks(result, request.headers)
        return None

    async def route_after(
        response: Awaitable[Response | None],
        connection: ServerConnection,
        request: Request,
    ) -> Response | None:
        result = await response
        if result is not None:
            return result
        routed = route_request(connection, request)
        if inspect.isawaitable(routed):
            return await routed
        return routed

    def process_request(
        connection: ServerConnection, request: Request
    ) -> Awaitable[Response | None] | Response | None:
        # The user's process_request runs first; routing runs if it lets the
        # request through.
        assert user_process_request is not None
        response = user_process_request(connection, request)
        if inspect.isawaitable(response):
            return route_after(response, connection, request)
        if response is not None:
            return response
        return route_request(connection, request)

    def select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        path = cast(RoutedConnection, connection).routed_path
        if path is not None and path.route.subprotocols is not None:
            for subprotocol in path.route.subprotocols:
                if subprotocol in offered:
                    return Subprotocol(subprotocol)
            raise NegotiationError(
                f"no subprotocol in common; route {path.route.pattern} supports "
                + ", ".join(path.route.subprotocols)
            )
        if user_select_subprotocol is not None:
            return cast(Subprotocol | None, user_select_subprotocol(connection, offered))
        return ServerProtocol.select_subprotocol(connection.protocol, offered)

    async def handler(connection: ServerConnection) -> None:
        path = cast(RoutedConnection, connection).routed_path
        if path is None:
            # The user's process_request completed the handshake by itself.
            assert connection.request is not None
            await handle(router, connection, connection.request.path, connection.request.headers)
        else:
            await run_handler(connection, path)

    return websockets_serve(
        handler,
        host,
        port,
        process_request=route_request if user_process_request is None else process_request,
        select_subprotocol=select_subprotocol,
        create_connection=connection_class,
        **kwargs,
    )
