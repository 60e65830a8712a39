"""Serving until told to stop: :meth:`Router.run` for scripts, and each CLI process.

A stop closes open connections (1001 by default, 1012 for a restart), waits up to a
graceful timeout for their handlers, cancels those still running, then runs the
router's shutdown. Forcing it (a second Ctrl-C) cancels what it waits for at that
moment: the handlers, or else the shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from websockets.frames import CloseCode

if TYPE_CHECKING:
    from ._router import Router
    from .asyncio import Server

__all__ = [
    "LOOPS",
    "Shutdown",
    "loop_factory",
    "run",
    "run_in_loop",
    "serve_until_stopped",
    "stop_server",
    "url_of",
]

T = TypeVar("T")

logger = logging.getLogger("websockets_routes")

#: How long handlers get to end once cancelled, before the stop goes on without them.
CANCEL_TIMEOUT = 5.0


#: The event loops to serve with: uvloop if installed, asyncio's, uvloop.
LOOPS = ("auto", "asyncio", "uvloop")


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop factory for ``loop``, one of :data:`LOOPS`; None for asyncio's.

    Raises:
        ValueError: If ``loop`` isn't one of :data:`LOOPS`.
        ImportError: If ``loop`` is ``"uvloop"`` and uvloop isn't installed.
    """
    if loop not in LOOPS:
        raise ValueError(f"the event loop is one of {', '.join(LOOPS)}, not {loop!r}")
    if loop == "asyncio":
        return None
    try:
        # Imported by name: uvloop is an optional extra.
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if loop == "auto":
            return None
        raise ImportError(
            "the uvloop event loop needs uvloop: pip install 'websockets-routes[uvloop]>=1.0'"
        ) from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_in_loop(main: Coroutine[Any, Any, T], loop: str = "asyncio") -> T:
    """Like :func:`asyncio.run`, in the event loop ``loop`` (see :func:`loop_factory`)."""
    try:
        factory = loop_factory(loop)
    except BaseException:
        main.close()  # Never awaited: no warning about it.
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


class Shutdown:
    """Requests to stop a server: the first stops it gracefully, a forced one cuts it short.

    Make it in the event loop that serves.
    """

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        #: Set by :meth:`request` to the close code and reason for open connections.
        self.requested: asyncio.Future[tuple[int, str]] = loop.create_future()
        #: Set by :meth:`force`.
        self.forced: asyncio.Future[None] = loop.create_future()

    def request(self, code: int = CloseCode.GOING_AWAY, reason: str = "") -> None:
        """Stop gracefully, closing open connections with ``code``; later requests do nothing."""
        if not self.requested.done():
            self.requested.set_result((code, reason))

    def force(self) -> None:
        """Stop sooner: cancel what the stop waits for now, the handlers or the shutdown."""
        self.request()
        if not self.forced.done():
            self.forced.set_result(None)

    def _rearm(self) -> None:
        # The handlers were cut short; the next force cuts the shutdown.
        if self.forced.done():
            self.forced = asyncio.get_running_loop().create_future()

    def escalate(self) -> None:
        """What a signal does: request the stop, or force it when already requested."""
        if self.requested.done():
            if not self.forced.done():
                logger.warning("second signal: stopping now")
            self.force()
        else:
            self.request()

    @contextlib.contextmanager
    def on_signals(
        self,
        action: Callable[[], None] | None = None,
        signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
    ) -> Iterator[None]:
        """Run ``action`` (:meth:`escalate` by default) on each signal while the block runs.

        The handlers of before are put back at the end.
        """
        loop = asyncio.get_running_loop()
        previous = {signum: signal.getsignal(signum) for signum in signals}
        for signum in previous:
            loop.add_signal_handler(signum, action or self.escalate)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                # asyncio resets to the default; put back what was there before.
                loop.remove_signal_handler(signum)
                signal.signal(signum, handler)


def _handler_tasks(server: Server) -> list[asyncio.Task[None]]:
    # websockets >= 15 keeps a set of tasks; 14 a dict of connection to task.
    tasks = getattr(server, "handler_tasks", None)
    if tasks is None:
        tasks = server.handlers.values()  # type: ignore[attr-defined]
    return [task for task in tasks if not task.done()]


def _connections(server: Server) -> list[Any]:
    connections = getattr(server, "all_connections", None)
    if connections is None:
        connections = server.handlers.keys()  # type: ignore[attr-defined]
    return list(connections)


async def stop_server(
    server: Server,
    shutdown: Shutdown,
    *,
    graceful_timeout: float | None,
    code: int = CloseCode.GOING_AWAY,
    reason: str = "",
) -> None:
    """Close ``server``: connections, then handlers within the timeout, then the shutdown."""
    # Before server.close(), which sends 1001 to the connections still open;
    # websockets 14 can't be told another code.
    closing = [
        asyncio.create_task(connection.close(code, reason))
        for connection in (server.connections if code != CloseCode.GOING_AWAY else ())
    ]
    server.close()
    handlers = asyncio.ensure_future(server._wait_handlers())
    await asyncio.wait(
        {handlers, shutdown.forced}, timeout=graceful_timeout, return_when=asyncio.FIRST_COMPLETED
    )
    del closing  # Kept until here so that the tasks aren't collected while they run.
    if not handlers.done():
        tasks = _handler_tasks(server)
        why = "on a second signal" if shutdown.forced.done() else f"after {graceful_timeout:g}s"
        logger.warning(
            "stopping %s: cancelling %d handler(s) still running, dropping their connections",
            why,
            len(tasks),
        )
        for connection in _connections(server):
            connection.transport.abort()
        for task in tasks:
            task.cancel()
        await asyncio.wait({handlers}, timeout=CANCEL_TIMEOUT)
        shutdown._rearm()
    closed = asyncio.ensure_future(server.wait_closed())
    await asyncio.wait({closed, shutdown.forced}, return_when=asyncio.FIRST_COMPLETED)
    if not closed.done():
        logger.warning("stopping now: the router's shutdown is cut short")
        assert server._stopping is not None
        server._stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closed


async def serve_until_stopped(
    router: Router,
    host: str | None,
    port: int | None,
    *,
    shutdown: Shutdown,
    graceful_timeout: float | None,
    on_ready: Callable[[Server], None],
    **kwargs: Any,
) -> None:
    """Serve ``router`` until ``shutdown`` is requested, then stop it (:func:`stop_server`)."""
    server = await router.serve(host, port, **kwargs)
    try:
        on_ready(server)
        code, reason = await shutdown.requested
    except BaseException:
        # Whatever happened, the server closes and the router's shutdown runs.
        await stop_server(server, shutdown, graceful_timeout=graceful_timeout)
        raise
    await stop_server(server, shutdown, graceful_timeout=graceful_timeout, code=code, reason=reason)


def url_of(server: Server, *, tls: bool = False) -> str:
    """The ``ws://`` (or with ``tls``, ``wss://``) URL of the first socket of ``server``."""
    host, port = server.sockets[0].getsockname()[:2]
    scheme = "wss" if tls else "ws"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def run(
    router: Router,
    host: str | None,
    port: int | None,
    *,
    graceful_timeout: float | None,
    loop: str = "asyncio",
    **kwargs: Any,
) -> None:
    """:meth:`Router.run`: serve in a new event loop until SIGINT or SIGTERM.

    Raises:
        RuntimeError: If called from another thread than the main one, which
            signals reach, or inside a running event loop.
        ValueError: If ``loop`` isn't one of :data:`LOOPS`.
        ImportError: If ``loop`` is ``"uvloop"`` and uvloop isn't installed.
    """
    # Before anything else: a wrong loop is a configuration error.
    factory = loop_factory(loop)
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "router.run() stops on SIGINT and SIGTERM, which only the main thread "
            "receives; in another thread, serve with `await router.serve(...)`"
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "router.run() starts an event loop of its own; in a coroutine, "
            "serve with `await router.serve(...)`"
        )
    tls = kwargs.get("ssl") is not None

    def announce(server: Server) -> None:
        print(
            f"websockets-routes: serving on {url_of(server, tls=tls)} (Ctrl-C to stop)", flush=True
        )

    async def main() -> None:
        shutdown = Shutdown()
        with shutdown.on_signals():
            await serve_until_stopped(
                router,
                host,
                port,
                shutdown=shutdown,
                graceful_timeout=graceful_timeout,
                on_ready=announce,
                **kwargs,
            )

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
