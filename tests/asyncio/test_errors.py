"""Failures in handlers, hooks and views: what the client sees, what is logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from websockets_routes import Router

from .helpers import reply, route_errors, routed


def all_errors(records):
    """Every ERROR record, whichever logger (ours or websockets') emitted it."""
    return [r for r in records if r.levelno >= logging.ERROR]


GENERIC_500 = b"Failed to open a WebSocket connection.\nSee server log for more information.\n"


def failing_router(started: asyncio.Event | None = None) -> Router:
    """Routes that fail in each place a route can fail, and one that works."""
    router = Router()

    @router.route("/boom")
    async def boom(ws, path):
        await ws.send("about to fail")
        raise RuntimeError("secret detail")

    def broken_hook(path, headers):
        raise RuntimeError("secret detail")

    @router.route("/hooked", hooks=[broken_hook])
    async def hooked(ws, path):
        raise AssertionError("unreachable")

    def junk_hook(path, headers):
        return 42

    @router.route("/junk", hooks=[junk_hook])
    async def junk(ws, path):
        raise AssertionError("unreachable")

    @router.route("/view")
    class BrokenView:
        async def process_request(self, path, headers):
            raise RuntimeError("secret detail")

        async def handle(self, ws, path):
            raise AssertionError("unreachable")

    @router.route("/init")
    class BrokenInit:
        def __init__(self):
            raise RuntimeError("secret detail")

        async def handle(self, ws, path):
            raise AssertionError("unreachable")

    @router.http("/health")
    def health(path, headers):
        raise RuntimeError("secret detail")

    @router.route("/done")
    async def done(ws, path):
        pass

    @router.route("/ok")
    async def ok(ws, path):
        await reply(ws, "ok")

    @router.route("/wait")
    async def wait(ws, path):
        if started is not None:
            started.set()
        await ws.recv()

    return router


async def assert_serving(url: str) -> None:
    """The server still routes a new connection."""
    async with connect(url + "/ok") as ws:
        assert await ws.recv() == "ok"


async def test_handler_raises(caplog):
    """A failing handler closes with 1011, logs one error naming the route; serving goes on."""
    async with routed(failing_router()) as url:
        async with connect(url + "/boom") as ws:
            assert await ws.recv() == "about to fail"
            with pytest.raises(ConnectionClosed) as exc_info:
                await ws.recv()
        assert exc_info.value.rcvd is not None
        assert exc_info.value.rcvd.code == 1011
        assert "secret detail" not in exc_info.value.rcvd.reason
        await assert_serving(url)
    (record,) = route_errors(caplog.records)
    assert all_errors(caplog.records) == [record]
    assert "'boom'" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.parametrize(
    ("target", "route", "error"),
    [
        ("/hooked", "'hooked'", RuntimeError),
        ("/junk", "'junk'", TypeError),
        ("/view", "'BrokenView'", RuntimeError),
        ("/init", "'BrokenInit'", RuntimeError),
        ("/health", "'health'", RuntimeError),
    ],
)
async def test_handshake_step_raises(caplog, target, route, error):
    """A failing hook, view or endpoint answers a generic 500, logs once, and the server goes on."""
    async with routed(failing_router()) as url:
        with pytest.raises(InvalidStatus) as exc_info:
            async with connect(url + target):
                pass
        response = exc_info.value.response
        assert response.status_code == 500
        assert response.body == GENERIC_500
        await assert_serving(url)
    (record,) = route_errors(caplog.records)
    assert all_errors(caplog.records) == [record]
    assert route in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], error)


async def test_handler_returns_closes_1000(caplog):
    """A handler that returns closes with 1000, and nothing is logged."""
    async with routed(failing_router()) as url:
        async with connect(url + "/done") as ws:
            with pytest.raises(ConnectionClosed) as exc_info:
                await ws.recv()
        assert exc_info.value.rcvd is not None
        assert exc_info.value.rcvd.code == 1000
    assert all_errors(caplog.records) == []


async def test_client_going_away_is_not_an_error(caplog):
    """A client that disconnects while the handler waits ends it quietly."""
    started = asyncio.Event()
    async with routed(failing_router(started)) as url:
        async with connect(url + "/wait"):
            await started.wait()
        await assert_serving(url)
    assert all_errors(caplog.records) == []


async def test_shutdown_closes_1001():
    """Closing the server closes open connections with websockets' own 1001."""
    started = asyncio.Event()
    server = await failing_router(started).serve("127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/wait") as ws:
            await started.wait()
            server.close()
            with pytest.raises(ConnectionClosed) as exc_info:
                await ws.recv()
        assert exc_info.value.rcvd is not None
        assert exc_info.value.rcvd.code == 1001
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("view", [False, True], ids=["function", "view"])
def test_sync_handler_refused_at_serve_time(view):
    """``router.serve`` refuses a plain-function handler at once, naming the route."""
    router = Router()

    if view:

        @router.route("/sync")
        class SyncView:
            def handle(self, ws, path):
                pass

        name = "'SyncView'"
    else:

        @router.route("/sync")
        def sync_handler(ws, path):
            pass

        name = "'sync_handler'"

    with pytest.raises(TypeError, match=name) as exc_info:
        router.serve("127.0.0.1", 0)
    assert "/sync" in str(exc_info.value)
    assert "async def" in str(exc_info.value)
