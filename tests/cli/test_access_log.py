"""The access log and graceful stop, in process: what ``serve`` runs in each worker."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from websockets_routes.cli import Shutdown, serve_until_stopped

from .app import router

TIMEOUT = 10.0


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The access log records among those captured."""
    return [r for r in caplog.records if r.name == "websockets_routes.access"]


def test_serve_until_stopped_logs_and_closes_with_1001(caplog: pytest.LogCaptureFixture) -> None:
    """Serving logs one access record per connection and closes open ones with 1001 on stop."""
    caplog.set_level(logging.INFO, "websockets_routes.access")

    async def scenario() -> int | None:
        loop = asyncio.get_running_loop()
        shutdown = Shutdown()
        port: asyncio.Future[int] = loop.create_future()
        server = asyncio.create_task(
            serve_until_stopped(router, "127.0.0.1", 0, on_ready=port.set_result, shutdown=shutdown)
        )
        base = f"ws://127.0.0.1:{await port}"
        async with connect(f"{base}/echo") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
        with pytest.raises(InvalidStatus):
            async with connect(f"{base}/nope"):
                pass
        async with connect(f"{base}/secure", subprotocols=["chat.v1"]) as ws:
            assert await ws.recv() == "chat.v1"
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        ws = await connect(f"{base}/pid")
        await ws.recv()
        shutdown.request()
        await server
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        return caught.value.rcvd.code if caught.value.rcvd is not None else None

    async def bounded() -> int | None:
        async with asyncio.timeout(TIMEOUT):
            return await scenario()

    assert asyncio.run(bounded()) == 1001
    records = access_lines(caplog)
    fields = [(r.route, r.path, r.status, r.close_code) for r in records]  # type: ignore[attr-defined]
    assert fields == [
        ("echo", "/echo", 101, 1000),
        ("-", "/nope", 404, None),
        ("Secure", "/secure", 101, 1000),
        ("pid", "/pid", 101, 1001),
    ]
    assert all(r.duration_ms >= 0 for r in records)  # type: ignore[attr-defined]
    assert records[0].getMessage().startswith("127.0.0.1:")
