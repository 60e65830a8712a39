"""Scaling out through Redis: what each process receives, and latency across processes.

Four server processes share one ``redis-server``; a client process holds one raw
connection in each of 1,000 rooms, room ``i`` on server ``i % 4``, so that each room
is hosted by one process. A publisher process (no connection of its own) broadcasts
to every room in turn, each message carrying the time it was sent. Two setups, in
the same run:

* per-room channels: what websockets-routes does, each process subscribed to the
  rooms it hosts;
* all-to-all: each process also subscribed to every other room's channel, as when
  every process heard one channel for the whole app (before per-room channels).

It reports the Redis messages each server received per broadcast (from its
backend's counter), and the latency from the publisher to the client (one machine,
one monotonic clock). Everything talks to 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from ._report import Table, ratio
from ._workers import Worker, handshake_request, raise_nofile
from .broadcast import _redis_server

__all__ = ["run"]

HOST = "127.0.0.1"
SERVERS = 4


def _router() -> Any:
    from websockets_routes import RoutedPath, Router

    router = Router()

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    return router


def server_main(redis_url: str, conn: Connection) -> None:
    """Serve rooms through Redis; answer ``subscribe_all``, ``stats`` and ``stop``."""
    raise_nofile(8192)
    asyncio.run(_server(redis_url, conn))


async def _server(redis_url: str, conn: Connection) -> None:
    from websockets_routes.broadcast import RedisBackend

    router = _router()
    backend = RedisBackend(redis_url, max_pending=1_000_000)
    router.use_broadcast(backend)
    await router.broadcaster.start()
    loop = asyncio.get_running_loop()
    async with router.serve(HOST, 0, ping_interval=None, backlog=2048) as server:
        conn.send(server.sockets[0].getsockname()[1])
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "hosted":
                conn.send(len(router.members("room")))
            elif command == "subscribe_all":
                (rooms,) = args
                channels = router.broadcaster._channels
                backend.subscribe(channels.room("room", [str(r)]) for r in range(rooms))
                conn.send(await router.broadcaster.wait_subscribed(30))
            elif command == "settle":
                conn.send(await router.broadcaster.wait_subscribed(30))
            elif command == "received":
                conn.send(backend.received)
            else:
                break
    await router.broadcaster.aclose()


def publisher_main(redis_url: str, conn: Connection) -> None:
    """Broadcast to every room in turn on ``publish``; answer with the count sent."""
    asyncio.run(_publisher(redis_url, conn))


async def _publisher(redis_url: str, conn: Connection) -> None:
    router = _router()
    loop = asyncio.get_running_loop()
    async with router.publisher(redis_url) as publisher:
        conn.send("ready")
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command != "publish":
                break
            rooms, count, rate = args
            started = time.monotonic()
            for index in range(count):
                # Paced, so that latency is the system's, not a queue's.
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                stamp = json.dumps({"t": time.monotonic_ns()})
                await publisher.broadcast("room", stamp, room=str(index % rooms), wait=False)
            conn.send(count)


def client_main(conn: Connection) -> None:
    """Hold one raw connection per room; answer ``open``, ``expect`` and ``stop``."""
    raise_nofile(8192)
    asyncio.run(_client(conn))


async def _client(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    latencies: list[int] = []
    expected = {"count": 0, "done": asyncio.Event()}
    writers: list[asyncio.StreamWriter] = []
    tasks: set[asyncio.Task[None]] = set()

    async def read(reader: asyncio.StreamReader) -> None:
        while True:
            head = await reader.readexactly(2)
            length = head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await reader.readexactly(2), "big")
            payload = await reader.readexactly(length)
            latencies.append(time.monotonic_ns() - json.loads(payload)["t"])
            if len(latencies) >= expected["count"]:
                expected["done"].set()  # type: ignore[attr-defined]

    async def open_one(port: int, room: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(handshake_request(port, f"/rooms/{room}"))
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
        tasks.add(loop.create_task(read(reader)))

    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            ports, rooms = args
            for start in range(0, rooms, 100):
                await asyncio.gather(
                    *(
                        open_one(ports[r % len(ports)], r)
                        for r in range(start, min(rooms, start + 100))
                    )
                )
            conn.send("opened")
        elif command == "expect":
            (count,) = args
            latencies.clear()
            expected["count"], expected["done"] = count, asyncio.Event()
            conn.send("ready")
            try:
                async with asyncio.timeout(120):
                    await expected["done"].wait()  # type: ignore[attr-defined]
                conn.send(sorted(latencies))
            except TimeoutError:
                conn.send(None)
        else:
            break
    for writer in writers:
        writer.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _percentile(values: list[int], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))] / 1e6


def run(*, quick: bool) -> None:
    """Print the scale-out table, or a note when redis-server isn't available."""
    rooms, broadcasts, rate = (40, 200, 2_000.0) if quick else (1_000, 5_000, 2_000.0)
    with _redis_server() as redis_url:
        if redis_url is None:
            print("### Scale-out through Redis\n\nSkipped: no redis-server or redis package.\n")
            return
        results: dict[str, tuple[list[float], list[int]]] = {}
        for mode in ("rooms", "all"):
            workers = [Worker(server_main, redis_url) for _ in range(SERVERS)]
            client = Worker(client_main)
            publisher = Worker(publisher_main, redis_url)
            try:
                ports = [worker.recv(60) for worker in workers]
                publisher.recv(60)
                client.call("open", ports, rooms, timeout=300)
                for worker in workers:
                    deadline = time.monotonic() + 60
                    while worker.call("hosted") != rooms // SERVERS:
                        if time.monotonic() > deadline:
                            raise RuntimeError("a server doesn't see its connections")
                        time.sleep(0.05)
                    command = "subscribe_all" if mode == "all" else "settle"
                    if not worker.call(command, rooms, timeout=60):
                        raise RuntimeError("a server couldn't subscribe")
                before = [worker.call("received") for worker in workers]
                client.call("expect", broadcasts)
                publisher.call("publish", rooms, broadcasts, rate, timeout=300)
                latencies = client.recv(150)
                if latencies is None:
                    raise RuntimeError(f"{mode}: not every message arrived")
                time.sleep(0.5)  # What all-to-all servers receive for others comes too.
                after = [worker.call("received") for worker in workers]
                per_broadcast = [(a - b) / broadcasts for a, b in zip(after, before, strict=True)]
                results[mode] = (per_broadcast, latencies)
            finally:
                for worker in (publisher, client, *workers):
                    worker.stop()

    table = Table(
        f"Scale-out through Redis: {SERVERS} server processes, {rooms:,} rooms each "
        "hosted by one process",
        [
            "setup",
            "Redis messages received per process per broadcast",
            "vs all-to-all",
            "latency p50",
            "latency p99",
        ],
        [
            f"{broadcasts:,} broadcasts from a publisher process, to every room in turn, at "
            f"{rate:,.0f}/s; received: each server's backend counter, mean (min-max) over "
            "servers; latency: publisher to client through Redis and a server, over every "
            "message.",
        ],
    )
    base = statistics.mean(results["all"][0])
    labels = {
        "rooms": "per-room channels (websockets-routes)",
        "all": "all-to-all (every process hears every room)",
    }
    for mode in ("rooms", "all"):
        per, latencies = results[mode]
        mean = statistics.mean(per)
        table.add(
            labels[mode],
            f"{mean:.3f} ({min(per):.3f}-{max(per):.3f})",
            ratio(mean / base),
            f"{_percentile(latencies, 0.5):.2f} ms",
            f"{_percentile(latencies, 0.99):.2f} ms",
        )
    table.print()
