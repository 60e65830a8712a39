"""Faults and load: slow hooks, vanishing clients, shutdown, many concurrent connections.

Servers run on 127.0.0.1 with every adapter; the outcomes that belong to
websockets rather than to the router (what a timed-out or shut-down handshake
gets) are asserted as each websockets implementation behaves, and documented in
each test's docstring.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import websockets.sync.server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.adapters.helpers import TIMEOUT, Adapter, client, conversation, import_legacy
from websockets_routes import RoutedPath, Router

from .probe import handshake_request, read_outcome

#: How long a slow hook holds a handshake: longer than OPEN_TIMEOUT, far below TIMEOUT.
SLOW = 1.0
OPEN_TIMEOUT = 0.3


def sleep_function(adapter: Adapter) -> Callable[[float], Any]:
    """The sleep of this adapter's hooks and handlers: asyncio's, trio's or time's."""
    if adapter.name == "sync":
        return time.sleep
    if adapter.name == "trio":
        import trio

        return trio.sleep
    return asyncio.sleep


def slow_hook(adapter: Adapter, seconds: float, entered: threading.Event) -> Any:
    """A hook that sets ``entered``, then holds the handshake for ``seconds``."""
    sleep = sleep_function(adapter)
    if adapter.asynchronous:

        async def async_hook(path: RoutedPath, headers: Any) -> None:
            entered.set()
            await sleep(seconds)

        return async_hook

    def sync_hook(path: RoutedPath, headers: Any) -> None:
        entered.set()
        sleep(seconds)

    return sync_hook


def recording(handled: list[str], message: str) -> Callable[[RoutedPath], list[str]]:
    """A handler script that records its path in ``handled``, then sends ``message``."""

    def script(path: RoutedPath) -> list[str]:
        handled.append(str(path))
        return [message]

    return script


def our_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """ERROR records of the websockets_routes logger."""
    return [r for r in caplog.records if r.name == "websockets_routes" and r.levelno >= 40]


def open_raw(port: int, target: str) -> socket.socket:
    """A socket that has sent the handshake for ``target`` and awaits the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(handshake_request(port, target))
    return sock


def test_hook_slower_than_open_timeout(adapter: Adapter, caplog: pytest.LogCaptureFixture) -> None:
    """A hook slower than open_timeout gets the connection closed; other handshakes go on.

    Observed: asyncio, legacy and trio cancel the hook at ``open_timeout`` and
    close the connection without a response. The sync server cannot interrupt a
    hook running in its thread: the handshake completes (101) when the hook
    returns, late, and the handler runs.
    """
    entered = threading.Event()
    handled: list[str] = []
    router = Router()
    router.route("/slow", name="slow", hooks=[slow_hook(adapter, SLOW, entered)])(
        adapter.handler(recording(handled, "slow"))
    )
    router.route("/fast", name="fast")(adapter.handler(lambda path: ["fast"]))
    with (
        caplog.at_level(logging.ERROR),
        adapter.serve(router, open_timeout=OPEN_TIMEOUT) as running,
        open_raw(running.port, "/slow") as sock,
    ):
        assert entered.wait(TIMEOUT)
        # Held in the hook, one handshake doesn't stall the others.
        assert conversation(running.port, "/fast") == (["fast"], 1000)
        outcome = read_outcome(sock)
        if adapter.name == "sync":
            assert (outcome.short, outcome.messages) == ((101, 1000), ["slow"])
            assert handled == ["/slow"]
        else:
            assert outcome.short == (None, None)
            assert handled == []
        assert conversation(running.port, "/fast") == (["fast"], 1000)
    assert our_errors(caplog) == []


def vanish(sock: socket.socket, reset: bool) -> None:
    """Close ``sock`` as a client that goes away: with a FIN, or with a RST."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_client_vanishes_during_hook(
    adapter: Adapter, reset: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A client gone during a slow hook gets no handler, logs no error, leaves no thread.

    Observed: no adapter runs the handler, except websockets 14.0's sync server after
    a FIN, as a half-closed socket still takes the 101 (the handler then runs and
    ends quietly). websockets 14.0's asyncio server logs its own ERROR ("opening
    handshake failed") for the lost connection, with or without the router; the
    router's logger stays silent everywhere.
    """
    entered, left = threading.Event(), threading.Event()
    sleep = sleep_function(adapter)
    handled: list[str] = []

    async def async_hook(path: RoutedPath, headers: Any) -> None:
        entered.set()
        try:
            await sleep(0.2)
        finally:
            left.set()

    def sync_hook(path: RoutedPath, headers: Any) -> None:
        entered.set()
        try:
            sleep(0.2)
        finally:
            left.set()

    router = Router()
    router.route("/slow", name="slow", hooks=[async_hook if adapter.asynchronous else sync_hook])(
        adapter.handler(recording(handled, "slow"))
    )
    router.route("/fast", name="fast")(adapter.handler(lambda path: ["fast"]))
    threads = set(threading.enumerate())
    with caplog.at_level(logging.ERROR), adapter.serve(router) as running:
        sock = open_raw(running.port, "/slow")
        assert entered.wait(TIMEOUT)
        vanish(sock, reset)
        assert left.wait(TIMEOUT)
        assert conversation(running.port, "/fast") == (["fast"], 1000)
    assert our_errors(caplog) == []
    assert handled == [] or (adapter.name == "sync" and not reset and handled == ["/slow"])
    # Server and connection threads are gone once the server stopped.
    for thread in set(threading.enumerate()) - threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), f"{thread!r} outlived the server"


async def vanish_on_asyncio(name: str, reset: bool) -> tuple[set[asyncio.Task[Any]], list[str]]:
    """Run the vanishing client against an asyncio-based server in this loop.

    Returns the tasks other than this one left once the server closed, and the
    paths the handler saw.
    """
    entered, gone, left = asyncio.Event(), asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def hook(path: RoutedPath, headers: Any) -> None:
        entered.set()
        try:
            await gone.wait()
            # Time for the server to see the connection go, while the hook still runs.
            await asyncio.sleep(0.05)
        finally:
            left.set()

    async def handler(ws: Any, path: RoutedPath) -> None:
        handled.append(path)
        await ws.recv()

    router = Router()
    router.route("/slow", name="slow", hooks=[hook])(handler)
    if name == "asyncio":
        server: Any = await router.serve("127.0.0.1", 0)
    else:
        import_legacy()
        from websockets_routes.legacy import serve

        server = await serve(router, "127.0.0.1", 0)
    async with asyncio.timeout(TIMEOUT):
        port = next(iter(server.sockets)).getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(handshake_request(port, "/slow"))
        await entered.wait()
        if reset:
            writer.transport.abort()
        else:
            writer.close()
            await writer.wait_closed()
        gone.set()
        await left.wait()
        server.close()
        await server.wait_closed()
    return asyncio.all_tasks() - {asyncio.current_task()}, handled


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
@pytest.mark.parametrize("name", ["asyncio", "legacy"])
def test_client_vanishes_leaves_no_task(
    name: str, reset: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """On asyncio servers, a client gone during an async hook leaves no task once closed."""
    with caplog.at_level(logging.ERROR):
        tasks, handled = asyncio.run(vanish_on_asyncio(name, reset))
    assert tasks == set()
    assert our_errors(caplog) == []
    if name == "asyncio":
        assert handled == []


def closes_connections_on_shutdown(adapter: Adapter) -> bool:
    """Whether shutdown closes open connections (1001) and refuses handshakes (503).

    websockets' sync server does since its shutdown() grew close_connections; before
    that (14.0) it only stops accepting connections, and open ones carry on.
    """
    if adapter.name != "sync":
        return True
    shutdown = websockets.sync.server.Server.shutdown
    return "close_connections" in inspect.signature(shutdown).parameters


def test_shutdown(adapter: Adapter, caplog: pytest.LogCaptureFixture) -> None:
    """Shutdown closes every open connection with 1001 and answers 503 to a held handshake.

    Observed: every adapter, as websockets does; on websockets 14.0's sync server,
    shutdown leaves open connections open and the held handshake completes (101).
    """
    entered = threading.Event()
    router = Router()
    router.route("/slow", name="slow", hooks=[slow_hook(adapter, 0.5, entered)])(
        adapter.handler(lambda path: ["slow"])
    )
    router.route("/echo", name="echo")(adapter.echo())
    with (
        caplog.at_level(logging.ERROR),
        adapter.serve(router) as running,
        contextlib.ExitStack() as stack,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        clients = [stack.enter_context(client(running.port, "/echo")) for _ in range(5)]
        for index, ws in enumerate(clients):
            ws.send(f"ping {index}")
            assert ws.recv(timeout=TIMEOUT) == f"ping {index}"
        sock = stack.enter_context(open_raw(running.port, "/slow"))
        assert entered.wait(TIMEOUT)
        # Shut down while the handshake is held in the hook, reading its answer meanwhile.
        stopped = pool.submit(running.shutdown)
        outcome = read_outcome(sock)
        sock.close()
        stopped.result(TIMEOUT)
        if closes_connections_on_shutdown(adapter):
            assert outcome.short == (503, None)
            for ws in clients:
                with pytest.raises(ConnectionClosed) as caught:
                    ws.recv(timeout=TIMEOUT)
                assert caught.value.rcvd is not None
                assert caught.value.rcvd.code == 1001
        else:
            assert (outcome.short, outcome.messages) == ((101, 1000), ["slow"])
            for ws in clients:
                ws.send("still here")
                assert ws.recv(timeout=TIMEOUT) == "still here"
    assert our_errors(caplog) == []


CONNECTIONS = 200


def room_delay(room: str) -> float:
    """A short delay, 0 to 9 ms, that differs between neighbouring rooms."""
    return int(room.removeprefix("r")) * 7 % 10 / 1000


def room_router(adapter: Adapter) -> Router:
    """``/rooms/{room}``: a hook and the handler each wait a room-dependent delay."""
    sleep = sleep_function(adapter)
    router = Router()

    def report(path: RoutedPath) -> str:
        return json.dumps([path.params, path.context, str(path)])

    if adapter.asynchronous:

        async def async_hook(path: RoutedPath, headers: Any) -> None:
            await sleep(room_delay(path.params["room"]))
            path.context["room"] = path.params["room"]

        async def async_handler(ws: Any, path: RoutedPath) -> None:
            await sleep(room_delay(path.params["room"]))
            await ws.send(report(path))
            # Stay open until the client leaves, so that every connection overlaps.
            async for _ in ws:
                pass

        router.route("/rooms/{room}", name="room", hooks=[async_hook])(async_handler)
    else:

        def sync_hook(path: RoutedPath, headers: Any) -> None:
            sleep(room_delay(path.params["room"]))
            path.context["room"] = path.params["room"]

        def sync_handler(ws: Any, path: RoutedPath) -> None:
            sleep(room_delay(path.params["room"]))
            ws.send(report(path))
            for _ in ws:
                pass

        router.route("/rooms/{room}", name="room", hooks=[sync_hook])(sync_handler)
    return router


async def join_every_room(port: int) -> dict[int, Any]:
    """Open CONNECTIONS connections to distinct rooms, all at once; what each received."""
    received: dict[int, Any] = {}
    everyone_in = asyncio.Event()
    # Handshakes in batches below the listen backlog; the connections all stay open.
    handshakes = asyncio.Semaphore(50)

    async def join(index: int) -> None:
        async with handshakes:
            ws = await connect(f"ws://127.0.0.1:{port}/rooms/r{index}", open_timeout=TIMEOUT)
        async with ws:
            received[index] = json.loads(await ws.recv())
            if len(received) == CONNECTIONS:
                everyone_in.set()
            await everyone_in.wait()

    async with asyncio.timeout(3 * TIMEOUT):
        await asyncio.gather(*(join(index) for index in range(CONNECTIONS)))
    return received


def test_parameters_never_leak(adapter: Adapter, plain: bool) -> None:
    """200 concurrent connections to distinct rooms each get their own params and context."""
    with adapter.serve(room_router(adapter), plain=plain) as running:
        received = asyncio.run(join_every_room(running.port))
    assert len(received) == CONNECTIONS
    for index, (params, context, target) in received.items():
        room = f"r{index}"
        assert (params, context, target) == ({"room": room}, {"room": room}, f"/rooms/{room}")
