"""Broadcast fan-out on the server side: deliveries/s and the longest event-loop stall.

A server process holds N connections of one room, opened by a client process that
reads and discards what it gets (raw sockets). The server times, on the same
connections and in interleaved rounds, four ways to send one 32-byte text message
to all of them:

* websockets-routes: ``await router.broadcast(...)`` (send policy, sliced);
* websockets' own ``broadcast()`` (a frame built per connection, no slicing);
* one pre-built frame: the frame built once, written to each open connection's
  transport after the checks a correct broadcast needs (state, fragmentation);
* the write loop: ``transport.write(frame)`` on a ready list of transports, the
  floor of writing bytes.

Deliveries/s is connections x broadcasts / the time the calls took. The stall is
the longest time the event loop went without running a 0-second timer while one
broadcast ran. Everything talks to 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from ._report import Table, ratio, spread
from ._workers import Worker, raise_nofile

__all__ = ["run"]

HOST = "127.0.0.1"
PAYLOAD = "x" * 32
WAYS = {
    "router": "websockets-routes router.broadcast",
    "websockets": "websockets broadcast()",
    "prebuilt": "one pre-built frame, checked writes",
    "floor": "write loop (floor)",
}


def server_main(conn: Connection) -> None:
    """Serve one room; answer ``count``, ``measure`` and ``stop`` commands."""
    raise_nofile(65_536)
    asyncio.run(_server(conn))


async def _server(conn: Connection) -> None:
    from websockets.asyncio.server import broadcast
    from websockets.frames import Frame, Opcode
    from websockets.protocol import State

    from websockets_routes import RoutedPath, Router

    router = Router()

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    open_ = State.OPEN
    frame = Frame(Opcode.TEXT, PAYLOAD.encode()).serialize(mask=False)

    async def by_router(connections: list[Any]) -> None:
        await router.broadcast("room", PAYLOAD, room="bench")

    async def by_websockets(connections: list[Any]) -> None:
        broadcast(connections, PAYLOAD)

    async def prebuilt(connections: list[Any]) -> None:
        for ws in connections:
            if ws.protocol.state is open_ and ws.send_in_progress is None:
                ws.transport.write(frame)

    async def floor(transports: list[Any]) -> None:
        for transport in transports:
            transport.write(frame)

    ways = {"router": by_router, "websockets": by_websockets, "prebuilt": prebuilt, "floor": floor}
    loop = asyncio.get_running_loop()
    async with router.serve(HOST, 0, ping_interval=None, backlog=4096, close_timeout=0.5) as server:
        conn.send(server.sockets[0].getsockname()[1])
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "count":
                conn.send(len(router.members("room", room="bench")))
            elif command == "measure":
                rounds, broadcasts = args
                connections = [m.connection for m in router.members("room", room="bench")]
                transports = [ws.transport for ws in connections]
                seconds: dict[str, list[float]] = {way: [] for way in ways}
                stalls: dict[str, list[float]] = {way: [] for way in ways}
                for round in range(rounds + 1):  # Round 0 warms up.
                    order = list(ways)[round % 4 :] + list(ways)[: round % 4]
                    for way in order:
                        target = transports if way == "floor" else connections
                        elapsed, stall = await _time(ways[way], target, broadcasts)
                        if round:
                            seconds[way].append(elapsed)
                            stalls[way].append(stall)
                        # Let the transports drain before the next way.
                        await asyncio.sleep(0.2)
                conn.send((len(connections), seconds, stalls))
            else:
                break


async def _time(way: Any, target: list[Any], broadcasts: int) -> tuple[float, float]:
    """Seconds for ``broadcasts`` broadcasts, and the longest loop stall during one."""
    longest = 0.0
    running = True

    async def watch() -> None:
        nonlocal longest
        while running:
            started = time.perf_counter()
            await asyncio.sleep(0)
            longest = max(longest, time.perf_counter() - started)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)  # The watcher starts before the broadcasts.
    elapsed = 0.0
    for _ in range(broadcasts):
        started = time.perf_counter()
        await way(target)
        elapsed += time.perf_counter() - started
        await asyncio.sleep(0)
    running = False
    await watcher
    return elapsed, longest


def client_main(conn: Connection) -> None:
    """Open connections that read and discard; answer ``open`` and ``stop``."""
    raise_nofile(65_536)
    asyncio.run(_client(conn))


class _Discard(asyncio.Protocol):
    def __init__(self, request: bytes, upgraded: asyncio.Future[None]) -> None:
        self.request = request
        self.upgraded = upgraded
        self.head = b""

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.head += data
            if b"\r\n\r\n" in self.head:
                self.upgraded.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))


async def _client(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    transports: list[Any] = []
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            port, count = args
            request = (
                f"GET /rooms/bench HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()

            for start in range(0, count, 200):
                batch = min(200, count - start)
                await asyncio.gather(*(_open(port, request, transports) for _ in range(batch)))
            conn.send("opened")
        else:
            break
    for transport in transports:
        transport.abort()


async def _open(port: int, request: bytes, transports: list[Any]) -> None:
    loop = asyncio.get_running_loop()
    upgraded: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_connection(lambda: _Discard(request, upgraded), HOST, port)
    await asyncio.wait_for(upgraded, 30)
    transports.append(transport)


def run(*, quick: bool) -> None:
    """Print the fan-out table."""
    sizes, rounds, broadcasts = ((50,), 1, 5) if quick else ((1_000, 10_000), 5, 50)
    table = Table(
        "Broadcast fan-out, server side: one 32-byte text message to every connection",
        ["connections", "way", "deliveries/s", "vs websockets", "vs floor", "longest stall"],
        [
            f"{rounds} interleaved rounds of {broadcasts} broadcasts over the same "
            "connections (a client process reads and discards); medians (min-max). "
            "Deliveries/s: connections x broadcasts / the time the calls took. Longest "
            "stall: the longest the event loop went without running a 0-second timer "
            "while one broadcast ran (median over rounds).",
        ],
    )
    for count in sizes:
        with Worker(server_main) as server, Worker(client_main) as client:
            port = server.recv()
            client.call("open", port, count, timeout=300)
            deadline = time.monotonic() + 60
            while server.call("count") != count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server doesn't see {count} connections")
                time.sleep(0.05)
            seen, seconds, stalls = server.call("measure", rounds, broadcasts, timeout=600)
            rates = {way: [seen * broadcasts / s for s in seconds[way]] for way in WAYS}
            median = {way: statistics.median(rates[way]) for way in WAYS}
            for way, label in WAYS.items():
                table.add(
                    f"{count:,}",
                    label,
                    spread(rates[way], "/s", 0),
                    ratio(median[way] / median["websockets"]),
                    ratio(median["floor"] / median[way]),
                    f"{statistics.median(stalls[way]) * 1000:.1f} ms",
                )
    table.print()
