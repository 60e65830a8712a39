"""The lifespan on the asyncio API: counted across servers, entered by hand, failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets.asyncio.server
from websockets.asyncio.client import connect

from websockets_routes import RoutedPath, Router, StartupError
from websockets_routes.testing import serve_for_test


def counting_router(events: list[str]) -> Router:
    """A router with a ``/hello`` route whose startup and shutdown append to ``events``."""
    router = Router()

    @router.on_startup
    async def startup() -> None:
        await asyncio.sleep(0)
        events.append("startup")

    @router.on_shutdown
    async def shutdown() -> None:
        await asyncio.sleep(0)
        events.append("shutdown")

    @router.route("/hello")
    async def hello(ws: Any, path: RoutedPath) -> None:
        await ws.send("hello")

    return router


async def test_two_servers_share_one_startup_and_one_shutdown() -> None:
    """Two servers of one router start it once; it stops when the second one closed."""
    events: list[str] = []
    router = counting_router(events)
    first = await router.serve("127.0.0.1", 0)
    second = await router.serve("127.0.0.1", 0)
    assert events == ["startup"]
    first.close()
    await first.wait_closed()
    assert events == ["startup"]
    assert router.lifespan().running
    second.close()
    await second.wait_closed()
    assert events == ["startup", "shutdown"]
    assert not router.lifespan().running


async def test_awaiting_serve_twice_gives_the_same_server() -> None:
    """Awaiting what router.serve() returned again starts nothing more."""
    events: list[str] = []
    router = counting_router(events)
    serving = router.serve("127.0.0.1", 0)
    server = await serving
    assert await serving is server
    assert events == ["startup"]
    server.close()
    await server.wait_closed()
    assert events == ["startup", "shutdown"]


async def test_wait_closed_returns_after_the_shutdown_ran() -> None:
    """server.wait_closed() returns only once the shutdown hooks finished."""
    finished = asyncio.Event()
    router = Router()

    @router.on_shutdown
    async def slow_shutdown() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    server = await router.serve("127.0.0.1", 0)
    server.close()
    await server.wait_closed()
    assert finished.is_set()


async def test_a_failing_shutdown_hook_is_logged_and_the_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A shutdown hook that raises is logged with its name; later hooks and the lifespan end."""
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(router: Router) -> AsyncIterator[None]:
        yield
        events.append("lifespan exited")

    router = Router(lifespan=lifespan)

    @router.on_shutdown
    def close_pool() -> None:
        raise OSError("pool already closed")

    router.on_shutdown(lambda: events.append("second hook"))
    async with router.serve("127.0.0.1", 0):
        pass
    assert events == ["second hook", "lifespan exited"]
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "shutdown hook" in record.getMessage()
    assert "close_pool" in record.getMessage()
    assert record.exc_info is not None


async def test_a_failing_lifespan_exit_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An error raised when the lifespan context is left is logged, not raised to the server."""

    @contextlib.asynccontextmanager
    async def lifespan(router: Router) -> AsyncIterator[None]:
        yield
        raise RuntimeError("could not flush")

    router = Router(lifespan=lifespan)
    async with router.serve("127.0.0.1", 0):
        pass
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "failed to shut down" in record.getMessage()


async def test_a_lifespan_that_fails_to_start_names_itself() -> None:
    """A lifespan whose entry raises gives StartupError naming it, and the router isn't running."""

    @contextlib.asynccontextmanager
    async def open_resources(router: Router) -> AsyncIterator[None]:
        raise KeyError("DATABASE_URL")
        yield

    router = Router(lifespan=open_resources)
    with pytest.raises(StartupError, match=r"open_resources: KeyError: 'DATABASE_URL'"):
        await router.serve("127.0.0.1", 0)
    assert not router.lifespan().running


async def test_a_lifespan_must_return_a_context_manager() -> None:
    """A lifespan function that returns something else fails with a TypeError saying so."""

    async def lifespan(router: Router) -> None:
        """Forgot @asynccontextmanager."""

    router = Router(lifespan=lifespan)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must return a context manager .*asynccontextmanager"):
        await router.serve("127.0.0.1", 0)
    assert not router.lifespan().running


def test_lifespan_and_hooks_must_be_callable() -> None:
    """A lifespan or hook that can't be called fails when declared."""
    with pytest.raises(TypeError, match="lifespan must be a function"):
        Router(lifespan="app:lifespan")  # type: ignore[arg-type]
    router = Router()
    with pytest.raises(TypeError, match="startup hook must be callable"):
        router.on_startup(None)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="shutdown hook must be callable"):
        router.on_shutdown(42)  # type: ignore[type-var]


async def test_a_plain_handler_enters_the_lifespan_by_hand() -> None:
    """With the router as websockets' plain handler, ``async with router.lifespan()`` runs it."""
    events: list[str] = []
    router = counting_router(events)
    async with router.lifespan():
        assert events == ["startup"]
        async with websockets.asyncio.server.serve(router, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/hello") as ws:
                assert await ws.recv() == "hello"
    assert events == ["startup", "shutdown"]


async def test_serve_for_test_runs_the_lifespan() -> None:
    """The test helper starts the router as a server would, and stops it at the end."""
    events: list[str] = []
    router = counting_router(events)
    async with serve_for_test(router) as client:
        assert events == ["startup"]
        async with client.connect("/hello") as ws:
            assert await ws.recv() == "hello"
    assert events == ["startup", "shutdown"]


def test_plain_function_lifespan_on_threads() -> None:
    """``with router.lifespan()`` runs plain hooks and refuses coroutine ones, naming them."""
    events: list[str] = []
    router = Router()
    router.on_startup(lambda: events.append("startup"))
    router.on_shutdown(lambda: events.append("shutdown"))
    with router.lifespan():
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]

    @router.on_startup
    async def warm_cache() -> None:
        """Can't run without an event loop."""

    with pytest.raises(TypeError, match="warm_cache"), router.lifespan():
        pass


async def test_serving_stops_the_server_when_the_caller_fails() -> None:
    """If what runs once the server is ready raises, the server closes and the shutdown runs."""
    from websockets_routes._running import Shutdown, serve_until_stopped

    events: list[str] = []
    router = counting_router(events)

    def on_ready(server: Any) -> None:
        raise LookupError("no place to announce the port")

    with pytest.raises(LookupError):
        await serve_until_stopped(
            router, "127.0.0.1", 0, shutdown=Shutdown(), graceful_timeout=1.0, on_ready=on_ready
        )
    assert events == ["startup", "shutdown"]


async def test_more_signals_change_nothing_once_forced() -> None:
    """After a request and a force, further escalations leave both as they were."""
    from websockets_routes._running import Shutdown

    shutdown = Shutdown()
    shutdown.escalate()
    assert shutdown.requested.result() == (1001, "")
    assert not shutdown.forced.done()
    shutdown.escalate()
    assert shutdown.forced.done()
    shutdown.escalate()
    shutdown.request(1012, "service restart")
    assert shutdown.requested.result() == (1001, "")
