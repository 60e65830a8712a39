"""Scaling out on Redis: rooms by channel, presence, publishing from scripts, catching up."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .helpers import ROOT, AppServer, app_server, redis_server

TIMEOUT = 5.0


def get(server: AppServer, path: str) -> Any:
    """GET ``path`` from ``server`` and decode its JSON answer."""
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())
    finally:
        connection.close()


def redis_command(port: int, *args: str) -> Any:
    """Run one Redis command with redis-py's sync client."""
    import redis

    client = redis.Redis(port=port, socket_timeout=TIMEOUT)
    try:
        return client.execute_command(*args)
    finally:
        client.close()


async def member(server: AppServer, target: str) -> ClientConnection:
    """Connect to ``target`` and return once the server relays our own hello: subscribed."""
    ws = await connect(server.url + target)
    hello = f"hello-{time.monotonic_ns()}"
    await ws.send(hello if target.startswith("/rooms") else json.dumps({"hello": hello}))
    async with asyncio.timeout(TIMEOUT):
        while hello not in str(await ws.recv()):
            pass
    return ws


async def until(condition: Any, timeout: float = TIMEOUT) -> None:
    """Poll ``condition()`` until it holds, for at most ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def test_processes_receive_only_rooms_they_host() -> None:
    """A room's broadcasts reach exactly its members, and no process without one."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            only_a = await member(a, "/rooms/kitchen")
            shared_a = await member(a, "/rooms/hall")
            shared_b = await member(b, "/rooms/hall")
            received_before = get(b, "/stats")["received"]
            for index in range(50):
                await only_a.send(f"kitchen-{index}")
            await shared_a.send("hall")
            assert await shared_b.recv() == "hall"
            # B got the hall message through Redis, and none of the kitchen's 50.
            assert get(b, "/stats")["received"] - received_before == 1
            kitchen = [await only_a.recv() for _ in range(50)]
            assert kitchen == [f"kitchen-{index}" for index in range(50)]
            for ws in (only_a, shared_a, shared_b):
                await ws.close()

        asyncio.run(main())


def test_join_storms_are_batched_and_the_last_leave_unsubscribes() -> None:
    """Many rooms joined at once cost a few SUBSCRIBE commands; empty rooms are dropped."""
    with redis_server() as redis, app_server(redis.url) as a:

        async def main() -> None:
            calls_before = _subscribe_calls(redis.port)
            clients = await asyncio.gather(
                *(connect(f"{a.url}/rooms/storm-{index}") for index in range(100))
            )
            await until(lambda: len(_room_channels(redis.port, "storm")) == 100)
            # A room channel and the route's channel per room, in a handful of commands.
            assert _subscribe_calls(redis.port) - calls_before <= 20
            for ws in clients:
                await ws.close()
            await until(lambda: _room_channels(redis.port, "storm") == [])

        asyncio.run(main())


def _room_channels(port: int, word: str) -> list[bytes]:
    channels = redis_command(port, "PUBSUB", "CHANNELS", "*")
    return [channel for channel in channels if word.encode() in channel]


def _subscribe_calls(port: int) -> int:
    info = redis_command(port, "INFO", "commandstats")
    return int(info.get("cmdstat_subscribe", {}).get("calls", 0))


def test_presence_spans_processes_and_forgets_the_dead() -> None:
    """Who is in a room counts every process, and a killed one's members go within the TTL."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            ann = await member(a, "/rooms/lobby?name=ann")
            bob = await member(b, "/rooms/lobby?name=bob")
            await until(lambda: get(a, "/presence/lobby") == ["ann", "bob"])
            assert get(b, "/presence/lobby") == ["ann", "bob"]
            # Events crossed too: A heard bob join, as a member of another process.
            assert ["join", "route 'room' (room='lobby')", "bob", False] in get(a, "/events")
            await bob.close()
            await until(lambda: get(a, "/presence/lobby") == ["ann"])
            assert ["leave", "route 'room' (room='lobby')", "bob", False] in get(a, "/events")
            cid = await member(b, "/rooms/lobby?name=cid")
            await until(lambda: get(a, "/presence/lobby") == ["ann", "cid"])
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(TIMEOUT)
            # presence_ttl is 1.5 s in the test app: gone within it, and a bit.
            started = time.monotonic()
            await until(lambda: get(a, "/presence/lobby") == ["ann"], timeout=4.0)
            assert time.monotonic() - started < 3.0
            await ann.close()
            await cid.close()

        asyncio.run(main())


PUBLISH_SCRIPT = """
import asyncio, sys
from tests.broadcast.app import router

async def main():
    async with router.publisher(sys.argv[1]) as publisher:
        for index in range(100):
            await publisher.broadcast("room", f"news-{index}", room="lobby", wait=False)
        await publisher.broadcast_group("staff", "for staff")
    print("unsent", publisher.unsent)

asyncio.run(main())
"""

BROADCASTER_SCRIPT = """
import asyncio, sys
from tests.broadcast.app import router

async def main():
    router.use_broadcast(sys.argv[1])
    for index in range(100):
        await router.broadcast("room", f"late-{index}", room="lobby")
    print("unsent", await router.broadcaster.aclose())

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("script", "prefix", "group"),
    [(PUBLISH_SCRIPT, "news", True), (BROADCASTER_SCRIPT, "late", False)],
)
def test_a_script_that_publishes_then_exits_delivers_everything(
    script: str, prefix: str, group: bool
) -> None:
    """A script without a server delivers every message, even exiting right after."""
    with redis_server() as redis, app_server(redis.url) as a:

        async def main() -> None:
            reader = await member(a, "/rooms/lobby?group=staff")
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", script, redis.url],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.split() == ["unsent", "0"]
            got = [await asyncio.wait_for(reader.recv(), TIMEOUT) for _ in range(100 + group)]
            assert got[:100] == [f"{prefix}-{index}" for index in range(100)]
            if group:
                assert got[100] == "for staff"
            await reader.close()

        asyncio.run(main())


def test_publisher_reports_what_redis_never_took() -> None:
    """With Redis gone, a waiting broadcast raises and close reports the unsent ones."""
    with redis_server() as redis:
        from websockets_routes.broadcast import BroadcastError, RedisBackend

        from .app import router

        async def main() -> None:
            backend = RedisBackend(redis.url, connect_timeout=0.5, max_backoff=0.1)
            publisher = router.publisher(backend, close_timeout=0.5)
            async with publisher:
                with pytest.raises(BroadcastError, match="no WebSocket route named 'nope'"):
                    await publisher.broadcast("nope", "x")
                await publisher.broadcast("room", "fine", room="lobby")
                redis.kill()
                await until(lambda: not backend.connected)
                with pytest.raises(ConnectionError):
                    await publisher.broadcast("room", "lost", room="lobby")

        asyncio.run(main())


def test_a_client_catches_up_on_another_worker() -> None:
    """With its last offset, a client reconnecting elsewhere gets exactly what it missed."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            sender = await member(a, "/history/room1")
            reader = await member(a, "/history/room1")

            async def send(text: str) -> None:
                await sender.send(json.dumps({"text": text}))

            async def next_of(ws: ClientConnection) -> dict[str, Any]:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    if "hello" not in message:
                        return message

            await send("one")
            first = await next_of(reader)
            assert first["text"] == "one"
            assert isinstance(first["offset"], str)
            await reader.close()
            for text in ("two", "three", "four"):
                await send(text)
            # Reconnect to the other worker with the last offset seen.
            back = await connect(f"{b.url}/history/room1?offset={first['offset']}")
            missed = [await next_of(back) for _ in range(3)]
            assert [m["text"] for m in missed] == ["two", "three", "four"]
            offsets = [m["offset"] for m in missed]
            assert offsets == sorted(offsets, key=lambda o: tuple(map(int, o.split("-"))))
            # Then live messages, once each.
            await send("five")
            assert (await next_of(back))["text"] == "five"
            # An offset older than what is kept (20 messages) is said to be too old.
            for index in range(25):
                await send(f"filler-{index}")
            # The sender is in the room too: once it got the last, all were kept.
            while (await next_of(sender))["text"] != "filler-24":
                pass
            late = await connect(f"{b.url}/history/room1?offset={first['offset']}")
            assert await next_of(late) == {"type": "history.expired"}
            for ws in (sender, back, late):
                await ws.close()

        asyncio.run(main())


def test_a_room_with_history_still_gets_messages_while_redis_is_down() -> None:
    """Without Redis, a history room's messages reach its members here, without offsets."""
    with redis_server() as redis, app_server(redis.url) as a:

        async def main() -> None:
            sender = await member(a, "/history/down")
            reader = await member(a, "/history/down")

            async def next_of(ws: ClientConnection) -> dict[str, Any]:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    if "hello" not in message:
                        return message

            await sender.send(json.dumps({"text": "kept"}))
            assert "offset" in await next_of(reader)
            redis.kill()
            for text in ("one", "two", "three"):
                await sender.send(json.dumps({"text": text}))
            assert [await next_of(reader) for _ in range(3)] == [
                {"text": "one"},
                {"text": "two"},
                {"text": "three"},
            ]
            for ws in (sender, reader):
                await ws.close()

        asyncio.run(main())
        assert a.log_text().count("delivering without history until it is back") == 1


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("redis://:p@ss/word@127.0.0.1:6379/0", "the password holds '@', '/' or ':'"),
        ("redis://127.0.0.1:6379/zero", "the database must be a number, not 'zero'"),
        ("redis+cluster://127.0.0.1:7000/3", "a Redis Cluster has database 0 only"),
        ("redis://127.0.0.1:notaport/0", "invalid Redis URL"),
    ],
)
def test_redis_urls_are_checked_once(url: str, error: str) -> None:
    """A URL redis-py would read differently from how it looks is refused, password hidden."""
    pytest.importorskip("redis")
    from websockets_routes.broadcast import RedisBackend

    with pytest.raises(ValueError, match=error) as caught:
        RedisBackend(url)
    assert "p@ss" not in str(caught.value)


def test_logs_name_the_host_connected_to() -> None:
    """The backend shows the host redis-py connects to, with the password percent-decoded away."""
    pytest.importorskip("redis")
    from websockets_routes.broadcast import RedisBackend

    backend = RedisBackend("redis://:p%40ss%2Fword@redis.internal:6380/2")
    assert backend.where == "redis://redis.internal:6380/2"
    assert "p%40ss" not in repr(backend)


def test_redis_cluster_rooms_survive_a_master_killed_mid_run() -> None:
    """On a Redis Cluster, rooms cross processes on their shards, and a killed master fails over."""
    from .helpers import redis_cluster

    with redis_cluster() as cluster, app_server(cluster.url) as a, app_server(cluster.url) as b:
        rooms = [f"r{index}" for index in range(8)]

        async def main() -> None:
            senders = {room: await member(a, f"/rooms/{room}?name=s") for room in rooms}
            readers = {room: await member(b, f"/rooms/{room}?name=r") for room in rooms}

            async def crosses(room: str, timeout: float) -> bool:
                probe = f"probe-{time.monotonic_ns()}"
                await senders[room].send(probe)
                try:
                    async with asyncio.timeout(timeout):
                        while await readers[room].recv() != probe:
                            pass
                except TimeoutError:
                    return False
                return True

            for room in rooms:
                assert await crosses(room, TIMEOUT), room
            # Presence lives on the room's shard too.
            await until(lambda: get(a, f"/presence/{rooms[1]}") == ["r", "s"])
            # Rooms spread over the shards: kill the master of the first one.
            masters = {room: cluster.master_of(f'r:room:["{room}"]') for room in rooms}
            assert len(set(masters.values())) > 1
            victim = masters[rooms[0]]
            cluster.kill(victim)
            elsewhere = [room for room in rooms if masters[room] != victim]
            for room in elsewhere:
                assert await crosses(room, TIMEOUT), f"{room} broke with another shard"
            # Its replica takes over; redis-py follows, and delivery resumes.
            for room in rooms:
                deadline = time.monotonic() + 30
                while not await crosses(room, 1.0):
                    assert time.monotonic() < deadline, f"{room} didn't come back"
            for ws in [*senders.values(), *readers.values()]:
                await ws.close()

        asyncio.run(main())
