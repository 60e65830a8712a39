"""Handshake routing on websockets' threading API (:mod:`websockets.sync.server`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.sync import server as websockets_server
from websockets.sync.server import ServerConnection

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


class _Handlers:
    """Counts the handlers running, to run something once the last one returned."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.then: Callable[[], None] | None = None

    def wrap(
        self, handler: Callable[[ServerConnection], None]
    ) -> Callable[[ServerConnection], None]:
        def counted(connection: ServerConnection) -> None:
            with self.lock:
                self.running += 1
            try:
                handler(connection)
            finally:
                with self.lock:
                    self.running -= 1
                    then = self.then if self.running == 0 else None
                    if then is not None:
                        self.then = None
                if then is not None:
                    then()

        return counted

    def when_idle(self, then: Callable[[], None]) -> None:
        """Run ``then()`` now if no handler runs, else in the thread of the last one."""
        with self.lock:
            if self.running:
                self.then = then
                return
        then()


class _Server(websockets_server.Server):
    """websockets' threaded ``Server``, with the router's shutdown after its last handler.

    The router's shutdown runs once the server shut down and its last handler
    returned: in :meth:`shutdown` when websockets waits for the handlers (it
    does from 15.0 on), else in the thread of the last handler.
    """

    #: The router whose lifespan the server entered before it listened.
    router: Router
    _handlers: _Handlers
    _stopped = False

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        """Shut down as websockets does, then run the router's shutdown once."""
        super().shutdown(*args, **kwargs)
        with self._handlers.lock:
            if self._stopped:
                return
            self._stopped = True
        self._handlers.when_idle(lambda: self.router.lifespan().__exit__(None, None, None))


def serve(
    router: Router, host: str | None = None, port: int | None = None, **kwargs: Any
) -> websockets_server.Server:
    """Serve ``router`` with :func:`websockets.sync.server.serve`, one thread per connection.

    Handlers, class views' ``handle`` and ``process_request``, hooks and startup
    and shutdown hooks are plain functions (``def``, not ``async def``).
    Otherwise it is :meth:`Router.serve <websockets_routes.Router.serve>` for
    threads: the router's startup runs here, before listening, and its
    shutdown once ``shutdown()`` returned and the last handler with it (with
    websockets < 15, whose ``shutdown()`` leaves connections open, when the
    last handler returns). Run the server with
    ``serve_forever()``; ``shutdown()`` from another thread stops it::

        with websockets_routes.sync.serve(router, "127.0.0.1", 8765) as server:
            server.serve_forever()

    Raises:
        TypeError: If a handler, view method or hook is a coroutine function.
        StartupError: If the router's startup failed; nothing listens then.
    """
    router.check_handlers(asynchronous=False)
    arguments = serve_arguments(
        router, kwargs, RoutedConnection, ServerConnection, asynchronous=False
    )
    handlers = _Handlers()
    lifespan = router.lifespan()
    lifespan.__enter__()
    try:
        server = websockets_server.serve(
            handlers.wrap(connection_handler_sync(router)), host, port, **arguments
        )
    except BaseException:
        lifespan.__exit__(None, None, None)
        raise
    # websockets makes the server; make it ours before anyone can shut it down.
    server.__class__ = _Server
    assert isinstance(server, _Server)
    server.router = router
    server._handlers = handlers
    return server


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
