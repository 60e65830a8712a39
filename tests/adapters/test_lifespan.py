"""Startup and shutdown on every adapter: before the first handshake, after the last connection."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server as WebSocketsSyncServer

import websockets_routes.sync
from websockets_routes import RoutedPath, Router, StartupError

from .helpers import TIMEOUT, Adapter, client, import_legacy, import_trio

#: Whether the threaded server closes open connections when it shuts down (from
#: websockets 15.0 on); before, a handler runs until its client leaves.
SYNC_SHUTDOWN_CLOSES = (
    "close_connections" in inspect.signature(WebSocketsSyncServer.shutdown).parameters
)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recording_router(adapter: Adapter, events: list[str]) -> Router:
    """A router whose lifespan, hooks and ``/echo`` handler append to ``events``."""
    if adapter.asynchronous:

        @contextlib.asynccontextmanager
        async def lifespan(router: Router) -> AsyncIterator[None]:
            events.append("enter")
            yield
            events.append("exit")

    else:

        @contextlib.contextmanager  # type: ignore[no-redef]
        def lifespan(router: Router) -> Iterator[None]:
            events.append("enter")
            yield
            events.append("exit")

    router = Router(lifespan=lifespan)
    router.on_startup(lambda: events.append("startup"))
    router.on_shutdown(lambda: events.append("shutdown"))

    def script(path: RoutedPath) -> list[str]:
        events.append("handler")
        return ["hello"]

    router.route("/hello", name="hello")(adapter.handler(script))
    echo = adapter.echo()
    if adapter.asynchronous:

        async def async_echo(ws: Any, path: RoutedPath) -> None:
            try:
                await echo(ws, path)
            finally:
                events.append("echo ended")

        router.route("/echo", name="echo")(async_echo)
    else:

        def sync_echo(ws: Any, path: RoutedPath) -> None:
            try:
                echo(ws, path)
            finally:
                events.append("echo ended")

        router.route("/echo", name="echo")(sync_echo)
    return router


def serve_kwargs(adapter: Adapter) -> dict[str, Any]:
    """Serve through the adapter's own serve() (legacy: websockets_routes.legacy.serve)."""
    return {"helper": True} if adapter.name == "legacy" else {}


def test_startup_runs_before_the_first_handshake_and_shutdown_after_the_last_close(
    adapter: Adapter,
) -> None:
    """The lifespan and startup hooks run once before serving; shutdown once every handler ended."""
    events: list[str] = []
    router = recording_router(adapter, events)
    with adapter.serve(router, **serve_kwargs(adapter)) as running:
        assert events == ["enter", "startup"]
        with client(running.port, "/hello") as ws:
            assert ws.recv(timeout=TIMEOUT) == "hello"
        with client(running.port, "/echo") as ws:
            ws.send("ping")
            assert ws.recv(timeout=TIMEOUT) == "ping"
            client_closes = adapter.name == "sync" and not SYNC_SHUTDOWN_CLOSES
            if client_closes:
                ws.close()
            running.shutdown()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == (1000 if client_closes else 1001)
    assert events == ["enter", "startup", "handler", "echo ended", "shutdown", "exit"]


def start(adapter: Adapter, router: Router, port: int) -> None:
    """Start ``router`` on ``port`` with the adapter's serve() and stop it again at once."""
    if adapter.name == "sync":
        with websockets_routes.sync.serve(router, "127.0.0.1", port) as server:
            # websockets >= 15 shuts down only a server that served.
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
        thread.join(TIMEOUT)
    elif adapter.name == "trio":
        trio = import_trio()
        from websockets_routes.trio import serve as trio_serve

        async def once() -> None:
            async with trio.open_nursery() as nursery:
                serve = functools.partial(trio_serve, router, port, host="127.0.0.1")
                server = await nursery.start(serve)
                await server.aclose()

        try:
            trio.run(once)
        except BaseExceptionGroup as group:
            # A nursery wraps what failed in it; the error is the one inside.
            [error] = group.exceptions
            raise error from error.__cause__
    else:
        if adapter.name == "legacy":
            import_legacy()
            from websockets_routes.legacy import serve
        else:
            from websockets_routes.asyncio import serve

        async def once() -> None:
            async with serve(router, "127.0.0.1", port):
                pass

        asyncio.run(once())


def test_failing_startup_listens_on_nothing(adapter: Adapter) -> None:
    """A startup hook that raises stops serve() with StartupError before anything listens."""
    events: list[str] = []
    router = recording_router(adapter, events)

    def connect_database() -> None:
        raise ConnectionRefusedError("no database on port 5432")

    router.on_startup(connect_database)
    port = free_port()
    with pytest.raises(StartupError) as caught:
        start(adapter, router, port)
    message = str(caught.value)
    assert "connect_database" in message
    assert "ConnectionRefusedError: no database on port 5432" in message
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    # The lifespan entered before the hook is left; shutdown hooks don't run.
    assert events == ["enter", "startup", "exit"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    # Nothing is left half-started: the next start runs everything again.
    router._lifespan.startup.remove(connect_database)
    events.clear()
    start(adapter, router, 0)
    assert events == ["enter", "startup", "shutdown", "exit"]


def test_included_routers_start_after_and_stop_before_their_includer(adapter: Adapter) -> None:
    """Hooks of included routers run too, outermost first at startup and last at shutdown."""
    events: list[str] = []
    outer, inner = Router(), Router()
    for name, router in (("outer", outer), ("inner", inner)):
        router.on_startup(functools.partial(events.append, f"{name} startup"))
        router.on_shutdown(functools.partial(events.append, f"{name} shutdown"))
    inner.route("/hello", name="hello")(adapter.handler(lambda path: ["hello"]))
    outer.include(inner, "/inner")
    start(adapter, outer, 0)
    assert events == ["outer startup", "inner startup", "inner shutdown", "outer shutdown"]


def test_threaded_servers_refuse_coroutine_hooks() -> None:
    """A coroutine startup hook fails the threaded serve() at once, naming the hook."""
    router = Router()

    @router.on_startup
    async def open_pool() -> None:
        """Never runs."""

    with pytest.raises(TypeError, match=r"startup hook .*open_pool .* must be a plain function"):
        websockets_routes.sync.serve(router, "127.0.0.1", 0)


def test_threaded_servers_refuse_async_lifespans() -> None:
    """An async lifespan on a threaded server fails with a TypeError saying what to use."""

    @contextlib.asynccontextmanager
    async def lifespan(router: Router) -> AsyncIterator[None]:
        yield

    router = Router(lifespan=lifespan)
    with pytest.raises(TypeError, match=r"needs a plain context manager"):
        websockets_routes.sync.serve(router, "127.0.0.1", 0)
    # Nothing started: a later start begins afresh.
    assert not router.lifespan().running


def test_a_port_in_use_undoes_the_startup(adapter: Adapter) -> None:
    """When the server can't listen after the startup ran, the shutdown runs before the error."""
    events: list[str] = []
    router = recording_router(adapter, events)
    with socket.create_server(("127.0.0.1", 0)) as busy, pytest.raises(OSError):
        start(adapter, router, busy.getsockname()[1])
    assert events == ["enter", "startup", "shutdown", "exit"]
    assert not router.lifespan().running


def test_threaded_shutdown_waits_for_the_last_handler() -> None:
    """Where websockets doesn't wait for handlers, the shutdown runs when the last one returns."""
    handlers = websockets_routes.sync._Handlers()
    release = threading.Event()
    done: list[str] = []
    handler = handlers.wrap(lambda connection: release.wait(TIMEOUT))
    thread = threading.Thread(target=handler, args=(None,))
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not handlers.running:  # Bounded: the thread starts at once.
        assert time.monotonic() < deadline
        time.sleep(0.01)
    handlers.when_idle(lambda: done.append(threading.current_thread().name))
    assert done == []
    release.set()
    thread.join(TIMEOUT)
    assert done == [thread.name]
    handlers.when_idle(lambda: done.append("now"))
    assert done == [thread.name, "now"]
