"""The send policy on asyncio: clients that stop reading can't grow the server's memory."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from websockets_routes import RoutedPath, Router
from websockets_routes.broadcast import SendPolicy

from . import slow_server
from .test_local import TIMEOUT, run, until

KIB = 1024
MIB = 1024 * KIB


def room_router(policy: SendPolicy) -> Router:
    """A router whose room members only listen, and an echo route beside it."""
    router = Router(send_policy=policy)

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    @router.route("/echo")
    async def echo(ws: Any, path: RoutedPath) -> None:
        async for message in ws:
            await ws.send(message)

    return router


class Stalled:
    """A raw client that completes the handshake, then never reads again."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, target: str, receive_buffer: int | None = 4096) -> Stalled:
        sock = socket.socket()
        if receive_buffer is not None:
            # A small receive window, so that the server's writes back up quickly.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.transport.pause_reading()  # type: ignore[attr-defined]
        return cls(reader, writer)

    async def ended(self) -> bool:
        """Whether the server ended the connection: read everything left, bounded."""
        self.writer.transport.resume_reading()  # type: ignore[attr-defined]
        try:
            async with asyncio.timeout(TIMEOUT):
                while await self.reader.read(1 << 20):
                    pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.writer.transport.abort()


@contextlib.asynccontextmanager
async def serving(router: Router) -> AsyncIterator[int]:
    """Serve ``router`` on a free port of 127.0.0.1; yield the port."""
    async with router.serve("127.0.0.1", 0, ping_interval=None, close_timeout=1) as server:
        yield server.sockets[0].getsockname()[1]


async def reader(ws: ClientConnection, count: int) -> list[str]:
    """The first ``count`` messages ``ws`` receives."""
    return [await ws.recv() for _ in range(count)]  # type: ignore[misc]


@pytest.mark.parametrize("on_slow", ["close", "drop"])
def test_stalled_clients_cost_at_most_the_bound(on_slow: str) -> None:
    """Server memory stays within the bound per stalled client; fast readers get everything."""
    stalled_count, fast_count, broadcasts, size = 20, 5, 200, 16 * KIB
    bound = 256 * KIB

    async def main(server: Worker) -> None:
        port = server.recv()
        stalled = [await Stalled.open(port, "/rooms/a") for _ in range(stalled_count)]
        fast = [await connect(f"ws://127.0.0.1:{port}/rooms/a") for _ in range(fast_count)]
        await until_members(server, stalled_count + fast_count)
        readers = [asyncio.create_task(reader(ws, broadcasts)) for ws in fast]
        before, peak, closed, dropped = await server.ask("broadcast", broadcasts, size)
        # Every fast reader got every message, in order.
        expected = [f"{index:08d}" for index in range(broadcasts)]
        for task in readers:
            received = await asyncio.wait_for(task, TIMEOUT)
            assert [message[:8] for message in received] == expected
        # Without a bound it would be every message for every stalled client: 62.5 MiB.
        # With it: the bound and a frame each, plus room for the allocator's slack.
        assert peak - before < stalled_count * (bound + size) + 4 * MIB, (
            f"grew by {(peak - before) / MIB:.1f} MiB"
        )
        if on_slow == "close":
            assert (closed, dropped) == (stalled_count, 0)
            # Aborted after the grace period: their handlers ended.
            await until_members(server, fast_count)
            for client in stalled:
                assert await client.ended()
        else:
            assert closed == 0
            assert dropped > 0
            assert await server.ask("members") == stalled_count + fast_count
        for client in stalled:
            client.close()
        for ws in fast:
            await ws.close()

    with Worker(slow_server.main, on_slow, bound) as server:
        run(main(server))


class Worker:
    """The server process, spawned so that it shares no memory with the test."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=target, args=(*args, theirs), daemon=True)
        self.process.start()
        theirs.close()

    def recv(self) -> Any:
        """The process's next answer, waiting at most a minute."""
        if not self.conn.poll(60):
            raise TimeoutError("the server process didn't answer")
        return self.conn.recv()

    async def ask(self, *command: Any) -> Any:
        """Send a command and await the answer without blocking the event loop."""
        self.conn.send(command)
        return await asyncio.get_running_loop().run_in_executor(None, self.recv)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self.process.join(TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(TIMEOUT)
        self.conn.close()


async def until_members(server: Worker, count: int) -> None:
    """Wait, bounded, until the server's room has ``count`` members."""
    async with asyncio.timeout(TIMEOUT):
        while await server.ask("members") != count:
            await asyncio.sleep(0.02)


def test_slow_consumer_is_closed_with_1008() -> None:
    """A client that reads again after falling behind finds the close code 1008."""

    async def main() -> None:
        router = room_router(SendPolicy(max_buffer=64 * KIB, close_grace=5))
        async with serving(router) as port:
            slow = await Stalled.open(port, "/rooms/a")
            await until(lambda: len(router.members("room", room="a")) == 1)
            # Enough to fill the kernel's socket buffers, then the bound.
            for _ in range(400):
                await router.broadcast("room", "x" * 16 * KIB, room="a")
                if router.delivery_stats.closed:
                    break
            assert router.delivery_stats.closed == 1
            # Reading now drains what was buffered, then the close frame.
            slow.writer.transport.resume_reading()  # type: ignore[attr-defined]
            close_frame = b"\x88\x0f\x03\xf0slow consumer"
            data = b""
            async with asyncio.timeout(TIMEOUT):
                while close_frame not in data[-(1 << 20) :]:
                    chunk = await slow.reader.read(1 << 20)
                    assert chunk, "the connection ended without a close frame"
                    data += chunk
            slow.close()

    run(main())


def test_round_trips_stay_fast_during_a_large_broadcast() -> None:
    """A big broadcast yields to the event loop: another route keeps answering meanwhile."""
    count, broadcasts = 1_000, 100

    async def main() -> None:
        router = room_router(SendPolicy())
        async with serving(router) as port:
            # Listeners that read nothing: what they get fits in the kernel's buffers,
            # so that the event loop does the server's work only.
            listeners = await asyncio.gather(
                *(Stalled.open(port, "/rooms/big", receive_buffer=None) for _ in range(count))
            )
            await until(lambda: len(router.members("room", room="big")) == count)
            echo = await connect(f"ws://127.0.0.1:{port}/echo")
            durations: list[float] = []
            round_trips: list[float] = []

            async def broadcast() -> None:
                for _ in range(broadcasts):
                    started = time.perf_counter()
                    await router.broadcast("room", "y" * 512, room="big")
                    durations.append(time.perf_counter() - started)

            async def ping() -> None:
                while not sender.done():
                    started = time.perf_counter()
                    await echo.send("ping")
                    await echo.recv()
                    round_trips.append(time.perf_counter() - started)

            sender = asyncio.create_task(broadcast())
            await asyncio.wait_for(asyncio.gather(sender, ping()), 60)
            await echo.close()
            assert router.delivery_stats.closed == 0
            for listener in listeners:
                listener.close()
            # Without slicing, a round trip waits until every broadcast is done.
            total = sum(durations)
            assert len(round_trips) >= 10, f"{len(round_trips)} round trips in {total:.3f} s"
            assert max(round_trips) < total / 4, (
                f"round trips up to {max(round_trips) * 1000:.1f} ms while broadcasting "
                f"for {total * 1000:.0f} ms"
            )

    run(main())
