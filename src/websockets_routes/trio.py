"""Handshake routing on websockets' trio API (:mod:`websockets.trio.server`).

It needs trio and websockets >= 17.0: ``pip install 'websockets-routes[trio]'``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

try:
    from websockets.trio.server import ServerConnection
    from websockets.trio.server import serve as websockets_serve
except ImportError as exc:  # trio, or websockets.trio (websockets < 17.0), is missing.
    raise ImportError(
        f"websockets_routes.trio needs trio and websockets >= 17.0 ({exc}); "
        f"install them with: pip install 'websockets-routes[trio]'"
    ) from exc
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ._dispatch import begin, choose_subprotocol, handle, routed_class, run_handler, run_hooks
from ._path import RoutedPath

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["RoutedConnection", "serve"]


class RoutedConnection(ServerConnection):
    """A :class:`~websockets.trio.server.ServerConnection` that keeps its route.

    :func:`serve` makes connections of this class, or of a subclass of both this
    class and the ``create_connection`` you pass.
    """

    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None


ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None] | Response | None]


async def serve(router: Router, port: int | None = None, **kwargs: Any) -> None:
    """Serve ``router`` with :func:`websockets.trio.server.serve`.

    It takes the same arguments, with the router in place of the handler; start
    it in a nursery to get the :class:`~websockets.trio.server.Server`::

        async with trio.open_nursery() as nursery:
            serve = functools.partial(websockets_routes.trio.serve, router, 8765)
            server = await nursery.start(serve)

    Unmatched paths get HTTP 404 during the handshake and no handler runs. Your
    own ``process_request``, ``select_subprotocol`` and ``create_connection``
    keep working (routing runs after your ``process_request`` lets the request
    through).

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
    """
    router.check_handlers(asynchronous=True)
    user_process_request: ProcessRequest | None = kwargs.pop("process_request", None)
    user_select_subprotocol = kwargs.pop("select_subprotocol", None)
    connection_class = routed_class(
        kwargs.pop("create_connection", None) or ServerConnection, RoutedConnection
    )

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

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        # The user's process_request runs first; routing runs if it lets the
        # request through.
        assert user_process_request is not None
        response = user_process_request(connection, request)
        if inspect.isawaitable(response):
            response = await response
        if response is not None:
            return response
        routed = route_request(connection, request)
        if inspect.isawaitable(routed):
            return await routed
        return routed

    def select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        path = cast(RoutedConnection, connection).routed_path
        if path is not None and path.route.subprotocols is not None:
            return choose_subprotocol(path.route, offered)
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

    await websockets_serve(
        handler,
        port,
        process_request=route_request if user_process_request is None else process_request,
        select_subprotocol=select_subprotocol,
        create_connection=connection_class,
        **kwargs,
    )
