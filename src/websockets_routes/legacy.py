"""Handshake routing on websockets' legacy API (:mod:`websockets.legacy.server`).

websockets deprecates this API; importing this module imports it, with its
DeprecationWarning. ``import websockets_routes`` alone never does.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Sequence
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.legacy.server import (
    HTTPResponse,
    Serve,
    WebSocketServer,
    WebSocketServerProtocol,
)
from websockets.typing import Subprotocol

from ._handshake import choose_subprotocol, decide, offered_subprotocols
from ._path import RoutedPath
from ._router import Router
from ._serving import handle, routed_class, run_handler, run_hooks

__all__ = ["Protocol", "RoutedServe", "RoutedServer", "serve"]


class Protocol(WebSocketServerProtocol):
    """A legacy server protocol that routes during the handshake.

    Serve the router itself (or ``router.handle``) with it::

        from websockets.legacy.server import serve

        serve(router, "127.0.0.1", 8765, create_protocol=websockets_routes.Protocol)

    Unmatched paths get HTTP 404 and malformed ones HTTP 400 before any handler
    runs; hooks and a class view's ``process_request`` run in the handshake and
    per-route subprotocols are negotiated. A subclass that overrides
    :meth:`process_request` routes when it calls ``super().process_request()``.
    """

    #: The router, found from the handler passed to ``serve``.
    router: Router
    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None

    def __init__(self, ws_handler: Any, ws_server: Any, **kwargs: Any) -> None:
        super().__init__(ws_handler, ws_server, **kwargs)
        router = ws_handler if isinstance(ws_handler, Router) else None
        if router is None and isinstance(getattr(ws_handler, "__self__", None), Router):
            router = ws_handler.__self__
        if router is None:
            raise TypeError(
                f"{type(self).__name__} routes for a Router: pass the router (or "
                f"router.handle) as the handler to serve(), not {ws_handler!r}"
            )
        self.router = router
        router._served = True
        # The handler runs what the handshake routed to, without routing again.
        self.ws_handler = _run

    async def process_request(self, path: str, request_headers: Headers) -> HTTPResponse | None:
        """Route the handshake after websockets' own ``process_request`` let it through.

        Returns None to go on with the handshake, or ``(status, headers, body)``
        to answer it: 404, 400, or what a hook returned.
        """
        response = await super().process_request(path, request_headers)
        if response is not None:
            return response
        result = decide(self.router, path, request_headers)
        if isinstance(result, Response):
            return _http_response(result)
        self.routed_path = result
        result.client = self.remote_address
        if result.route.runs_user_code:
            refusal = await run_hooks(result, request_headers)
            if refusal is not None:
                return _http_response(refusal)
        return None

    def process_subprotocol(
        self, headers: Headers, available_subprotocols: Sequence[Subprotocol] | None
    ) -> Subprotocol | None:
        """Negotiate the route's subprotocols, or websockets' server-wide ones.

        Raises:
            NegotiationError: If the route requires a subprotocol that the client
                doesn't offer; websockets answers HTTP 400.
        """
        path = self.routed_path
        if path is None or path.route.subprotocols is None:
            return super().process_subprotocol(headers, available_subprotocols)
        return choose_subprotocol(path.route, offered_subprotocols(headers) or [])


async def _run(protocol: WebSocketServerProtocol) -> None:
    assert isinstance(protocol, Protocol)
    path = protocol.routed_path
    if path is None:
        # A process_request override completed the handshake without routing.
        await handle(protocol.router, protocol, protocol.path, protocol.request_headers)
    else:
        await run_handler(protocol, path)


def _http_response(response: Response) -> HTTPResponse:
    # The legacy API answers handshakes with (status, headers, body) tuples, and
    # sends only statuses that http.HTTPStatus names: another, such as 499, goes
    # out as the generic status of its class (400).
    code = response.status_code
    try:
        status = http.HTTPStatus(code)
    except ValueError:
        status = http.HTTPStatus(code // 100 * 100)
    return status, response.headers, bytes(response.body or b"")


class RoutedServer(WebSocketServer):
    """websockets' legacy ``WebSocketServer``, with the router's shutdown.

    :meth:`wait_closed` returns once every connection closed, every handler
    returned and the router's shutdown ran.
    """

    #: The router whose lifespan the server entered before it listened.
    router: Router
    # Waits for the handlers, then runs the shutdown; made by close().
    _stopping: asyncio.Task[None] | None = None

    def close(self, close_connections: bool = True) -> None:
        """Close the server as websockets does, then run the router's shutdown."""
        super().close(close_connections)
        if self._stopping is None:
            self._stopping = self.get_loop().create_task(self._stop())

    async def _stop(self) -> None:
        await super().wait_closed()
        await self.router.lifespan().__aexit__(None, None, None)

    async def wait_closed(self) -> None:
        """Wait until the server closed, its handlers returned and the shutdown ran."""
        await super().wait_closed()
        # websockets ends the wait above only after close(), which made the task.
        assert self._stopping is not None
        await asyncio.shield(self._stopping)


class RoutedServe(Serve):
    """What :func:`serve` returns: websockets' ``Serve``, with the router's startup first."""

    def __init__(self, router: Router, *args: Any, **kwargs: Any) -> None:
        super().__init__(router, *args, **kwargs)
        self.router = router
        # websockets made its server object already; nothing has used it yet.
        self.ws_server.__class__ = RoutedServer
        assert isinstance(self.ws_server, RoutedServer)
        self.ws_server.router = router

    async def __await_impl__(self) -> WebSocketServer:
        """Run the router's startup, then listen."""
        lifespan = self.router.lifespan()
        await lifespan.__aenter__()
        try:
            return await super().__await_impl__()
        except BaseException:
            await lifespan.__aexit__(None, None, None)
            raise


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> RoutedServe:
    """Serve ``router`` with :func:`websockets.legacy.server.serve` and :class:`Protocol`.

    Like ``serve(router, host, port, create_protocol=Protocol)``, but it checks
    the handlers when called, and runs the router's startup before listening and
    its shutdown once the server closed (:meth:`Router.lifespan
    <websockets_routes.Router.lifespan>`). Your own ``create_protocol`` keeps
    working: connections get a subclass of it and of :class:`Protocol`. Use it
    as ``server = await serve(...)`` or ``async with serve(...)``.

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
    """
    router.check_handlers(asynchronous=True)
    base = kwargs.pop("create_protocol", None) or Protocol
    if not isinstance(base, type):
        raise TypeError(f"create_protocol must be a class to route with, not {base!r}")
    create_protocol = routed_class(base, Protocol)
    return RoutedServe(router, host, port, create_protocol=create_protocol, **kwargs)
