"""Broadcast fan-out: messages/s to 1,000 connections, in-process vs Redis, in one run.

``python -m bench.broadcast [--quick]``. A server process holds the connections of
one room; a client process (raw sockets, so that it costs much less than the
server) opens them and counts bytes. Three ways a broadcast reaches the room:

* in-process: the server broadcasts with the default backend;
* Redis, same process: the server broadcasts with the Redis backend (local
  delivery plus one PUBLISH per message);
* Redis, other process: a second server, holding no connection, broadcasts;
  the messages reach the room through ``redis-server``.

Rounds are interleaved. Everything listens on 127.0.0.1 only; every wait is bounded.
The Redis rows need ``redis-server`` on the PATH and the ``redis`` package.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from ._report import Table, ratio, spread
from ._workers import Worker, handshake_request, raise_nofile

__all__ = ["run"]

HOST = "127.0.0.1"
PAYLOAD = "x" * 32
# A server frame: 2 header bytes and the unmasked payload.
FRAME = 2 + len(PAYLOAD)
MODES = {
    "memory": "in-process (default backend)",
    "redis-local": "Redis, broadcast from the same process",
    "redis-remote": "Redis, broadcast from another process",
}


# The server process: one room, and commands over a pipe.


def server_main(redis_url: str | None, conn: Connection) -> None:
    """Serve a room; answer ``count``, ``broadcast`` and ``stop`` commands."""
    raise_nofile(8192)
    asyncio.run(_server(redis_url, conn))


async def _server(redis_url: str | None, conn: Connection) -> None:
    from websockets_routes import RoutedPath, Router

    router = Router()

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    if redis_url is not None:
        from websockets_routes.broadcast import RedisBackend

        router.use_broadcast(RedisBackend(redis_url, max_pending=1_000_000))
        await router.broadcaster.start()
    loop = asyncio.get_running_loop()
    # The client holds raw sockets that never answer a close frame: stop fast.
    async with router.serve(HOST, 0, ping_interval=None, backlog=2048, close_timeout=0.5) as server:
        conn.send(server.sockets[0].getsockname()[1])
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "count":
                conn.send(len(router.connections.members(router.get("room"), every=True)))
            elif command == "broadcast":
                (count,) = args
                started = time.monotonic()
                for i in range(count):
                    await router.broadcast("room", PAYLOAD, room="bench")
                    if i % 64 == 63:
                        await asyncio.sleep(0)  # Let the transports and Redis run.
                conn.send(started)
            else:
                break
    await router.broadcaster.aclose()


# The client process: raw WebSocket connections that count what they receive.


def client_main(conn: Connection) -> None:
    """Open connections; answer ``open`` and ``expect`` commands."""
    raise_nofile(8192)
    asyncio.run(_client(conn))


async def _client(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"remaining": 0, "done": asyncio.Event(), "at": 0.0}
    writers: list[asyncio.StreamWriter] = []

    async def read(reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            state["remaining"] -= len(data)
            if state["remaining"] <= 0 and not state["done"].is_set():
                state["at"] = time.monotonic()
                state["done"].set()

    async def open_one(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(handshake_request(port, "/rooms/bench"))
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
        tasks.add(loop.create_task(read(reader)))

    tasks: set[asyncio.Task[None]] = set()
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            port, count = args
            for start in range(0, count, 100):
                await asyncio.gather(*(open_one(port) for _ in range(min(100, count - start))))
            conn.send("opened")
        elif command == "expect":
            (total,) = args
            state["remaining"], state["done"] = total, asyncio.Event()
            conn.send("ready")
            try:
                async with asyncio.timeout(120):
                    await state["done"].wait()
                conn.send(state["at"])
            except TimeoutError:
                conn.send(None)
        else:
            break
    for writer in writers:
        writer.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def _redis_server() -> Iterator[str | None]:
    """A redis-server on a free port of 127.0.0.1, or None if it isn't available."""
    try:
        import redis  # noqa: F401
    except ImportError:
        yield None
        return
    if shutil.which("redis-server") is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server didn't start")
                time.sleep(0.02)
            yield f"redis://{HOST}:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def run(*, quick: bool, connections: int = 1_000) -> None:
    """Print the fan-out table."""
    count, messages, rounds = (50, 50, 1) if quick else (connections, 1_000, 5)
    rates: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(_redis_server())
        modes = list(MODES) if redis_url is not None else ["memory"]
        rates = {mode: [] for mode in modes}
        client = Worker(client_main)
        stack.callback(client.stop)
        ports: dict[str, tuple[Worker, Worker]] = {}
        for mode in modes:
            if mode == "redis-remote":
                # The publisher is a second server holding no connection.
                publisher = Worker(server_main, redis_url)
                stack.callback(publisher.stop)
                publisher.recv()
                ports[mode] = (ports["redis-local"][0], publisher)
                continue
            server = Worker(server_main, None if mode == "memory" else redis_url)
            stack.callback(server.stop)
            port = server.recv()
            client.call("open", port, count, timeout=120)
            deadline = time.monotonic() + 30
            while server.call("count") != count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{mode}: the server doesn't see {count} connections")
                time.sleep(0.01)
            ports[mode] = (server, server)
        for round in range(rounds + 1):  # Round 0 warms up.
            for mode in modes[round % len(modes) :] + modes[: round % len(modes)]:
                _, sender = ports[mode]
                client.call("expect", count * messages * FRAME)
                started = sender.call("broadcast", messages, timeout=120)
                finished = client.recv(150)
                if finished is None:
                    raise RuntimeError(f"{mode}: not every connection got every message")
                if round:
                    rates[mode].append(messages / (finished - started))

    table = Table(
        f"Broadcast fan-out: {count:,} connections in one room, {len(PAYLOAD)}-byte text",
        ["backend", "messages/s", "deliveries/s", "vs in-process"],
        [
            f"{rounds} interleaved rounds of {messages:,} broadcasts; time from the first "
            "broadcast until every connection of the client process (raw sockets) has "
            "received every message; medians (min-max)."
            + ("" if redis_url else " Redis rows skipped: no redis-server or redis package.")
        ],
    )
    base = sorted(rates["memory"])[len(rates["memory"]) // 2]
    for mode in modes:
        values = rates[mode]
        table.add(
            MODES[mode],
            spread(values, "/s", 0),
            spread([v * count for v in values], "/s", 0),
            ratio(sorted(values)[len(values) // 2] / base, 2),
        )
    table.print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks it runs")
    parser.add_argument("--connections", type=int, default=1_000)
    arguments = parser.parse_args()
    run(quick=arguments.quick, connections=arguments.connections)
