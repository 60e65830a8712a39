"""Handshake routing on websockets' asyncio API (:mod:`websockets.asyncio.server`)."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from websockets.asyncio import server as websockets_server
from websockets.asyncio.server import ServerConnection

from ._lifespan import Lifespan
from ._path import RoutedPath
from ._serving import connection_handler, serve_arguments

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["RoutedConnection", "Serve", "Server", "serve"]


class RoutedConnection(ServerConnection):
    """A :class:`~websockets.asyncio.server.ServerConnection` that keeps its route.

    :func:`serve` makes connections of this class, or of a subclass of both this
    class and the ``create_connection`` you pass.
    """

    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None


class Server(websockets_server.Server):
    """websockets' :class:`~websockets.asyncio.server.Server`, with the router's shutdown.

    :meth:`wait_closed` returns once every connection closed, every handler
    returned and the router's shutdown ran (see
    :meth:`Router.lifespan <websockets_routes.Router.lifespan>`).
    """

    #: The router's startup and shutdown, entered before the server listened.
    lifespan: Lifespan
    # Waits for the handlers, then runs the shutdown; made by close().
    _stopping: asyncio.Task[None] | None = None

    def close(self, close_connections: bool = True, *args: Any, **kwargs: Any) -> None:
        """Close the server as websockets does, then run the router's shutdown."""
        super().close(close_connections, *args, **kwargs)
        if self._stopping is None:
            self._stopping = self.get_loop().create_task(self._stop())

    async def _stop(self) -> None:
        await self._wait_handlers()
        await self.lifespan.__aexit__(None, None, None)

    async def _wait_handlers(self) -> None:
        """Wait until connections are closed and handlers returned, before the shutdown."""
        await super().wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the server closed, its handlers returned and the shutdown ran."""
        await self._wait_handlers()
        # websockets ends the wait above only after close(), which made the task.
        assert self._stopping is not None
        await asyncio.shield(self._stopping)


class Serve:
    """What :meth:`Router.serve <websockets_routes.Router.serve>` returns.

    ``await`` it for the :class:`Server`, or use it as ``async with``. Making it
    needs no event loop: ``start_server = router.serve(...)`` may come before
    ``loop.run_until_complete(start_server)``. Awaiting it runs the router's
    startup, then listens; awaiting it again gives the same server.

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
    """

    def __init__(
        self, router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
    ) -> None:
        router.check_handlers(asynchronous=True)
        self.router = router
        self._handler = connection_handler(router)
        self._address = host, port
        self._arguments = serve_arguments(
            router, kwargs, RoutedConnection, ServerConnection, asynchronous=True
        )
        self._server: Server | None = None

    async def _start(self) -> Server:
        if self._server is not None:
            return self._server
        lifespan = self.router.lifespan()
        await lifespan.__aenter__()
        try:
            host, port = self._address
            server = await websockets_server.serve(self._handler, host, port, **self._arguments)
        except BaseException:
            await lifespan.__aexit__(None, None, None)
            raise
        # websockets makes the server; make it ours before anyone can close it.
        server.__class__ = Server
        assert isinstance(server, Server)
        server.lifespan = lifespan
        self._server = server
        return server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._start().__await__()

    async def __aenter__(self) -> Server:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def serve(router: Router, host: str | None = None, port: int | None = None, **kwargs: Any) -> Serve:
    """Serve ``router`` with :func:`websockets.asyncio.server.serve`.

    See :meth:`Router.serve <websockets_routes.Router.serve>`.

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
    """
    return Serve(router, host, port, **kwargs)
