"""Delivery on every adapter: broadcast, exclusion, sending to one, presence, slow consumers.

The handlers run the same commands on the asyncio, legacy, threaded and trio
servers; on threads, router.broadcast() and router.send() deliver before they
return, elsewhere they are awaited.
"""

from __future__ import annotations

import base64
import os
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from websockets_routes import RoutedPath, Router
from websockets_routes.broadcast import Member, SendPolicy, Topic

from .helpers import TIMEOUT, Adapter, Running, client

KIB = 1024


def commands(router: Router, ws: Any, path: RoutedPath, message: str) -> list[Any]:
    """Run one command of a room member; what it returns is awaited on async servers."""
    command, _, rest = message.partition(" ")
    room = path.params["room"]
    if command == "say":
        return [router.broadcast("room", rest, room=room, exclude=ws)]
    if command == "all":
        return [router.broadcast("room", rest, room=room)]
    if command == "who":
        names = sorted(member.meta["name"] for member in router.members("room", room=room))
        return [ws.send(",".join(names))]
    if command == "dm":
        name, _, text = rest.partition(" ")
        (member,) = [m for m in router.members("room", room=room) if m.meta["name"] == name]
        return [router.send(member.connection, text)]
    if command == "join":
        router.join(ws, rest)
        return [ws.send("joined")]
    if command == "leave":
        router.leave(ws, rest)
        return [ws.send("left")]
    if command == "group":
        group, _, text = rest.partition(" ")
        return [router.broadcast_group(group, text, exclude=ws)]
    raise ValueError(f"unknown command {command!r}")


def room_router(adapter: Adapter, **options: Any) -> Router:
    """A router with one route, ``/rooms/{room}?name=...``, running :func:`commands`."""
    router = Router(**options)
    floods = {"count": 0, "size": 0}

    def name(path: RoutedPath, headers: Any) -> None:
        # In the handshake, so that join events see it too.
        path.meta["name"] = path.query.get("name", "")

    router.hook(adapter.hook(name))

    def flood(ws: Any, path: RoutedPath) -> Iterator[Any]:
        for index in range(floods["count"]):
            text = f"{index:06d}" + "x" * (floods["size"] - 6)
            yield router.broadcast("room", text, room=path.params["room"], exclude=ws)

    if adapter.asynchronous:
        pause = _pause(adapter)

        async def room(ws: Any, path: RoutedPath) -> None:
            async for message in ws:
                if message.startswith("flood"):
                    _, count, size = message.split()
                    floods.update(count=int(count), size=int(size))
                    for broadcast in flood(ws, path):
                        await broadcast
                        await pause()  # As a server broadcasting what arrives would.
                    await ws.send("flooded")
                    continue
                for result in commands(router, ws, path, message):
                    if result is not None:
                        await result

    else:

        def room(ws: Any, path: RoutedPath) -> None:  # type: ignore[misc]
            for message in ws:
                if message.startswith("flood"):
                    _, count, size = message.split()
                    floods.update(count=int(count), size=int(size))
                    for _ in flood(ws, path):
                        time.sleep(0.001)  # As a server broadcasting what arrives would.
                    ws.send("flooded")
                    continue
                commands(router, ws, path, message)

    router.route("/rooms/{room}", name="room")(room)
    return router


def _pause(adapter: Adapter) -> Callable[[], Awaitable[None]]:
    if adapter.name == "trio":
        import trio

        return lambda: trio.sleep(0.001)
    import asyncio

    return lambda: asyncio.sleep(0.001)


@contextmanager
def members(running: Running, room: str, *names: str) -> Iterator[list[ClientConnection]]:
    """Connect one client per name to ``room``; close them on the way out."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(client(running.port, f"/rooms/{room}?name={name}"))
            for name in names
        ]


def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds, for at most TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_broadcast_exclude_and_send(adapter: Adapter) -> None:
    """A room broadcast skips the sender and other rooms; send() reaches one member."""
    router = room_router(adapter)
    with (
        adapter.serve(router) as running,
        members(running, "a", "ann", "bob", "cid") as (
            ann,
            bob,
            cid,
        ),
        members(running, "b", "dee") as (dee,),
    ):
        until(lambda: len(router.members("room")) == 4)
        ann.send("say hello")
        assert bob.recv(TIMEOUT) == "hello"
        assert cid.recv(TIMEOUT) == "hello"
        # What comes next on ann's and dee's connections shows they got nothing.
        ann.send("who")
        assert ann.recv(TIMEOUT) == "ann,bob,cid"
        dee.send("who")
        assert dee.recv(TIMEOUT) == "dee"
        bob.send("dm cid psst")
        assert cid.recv(TIMEOUT) == "psst"
        ann.send("all everyone")
        assert [ws.recv(TIMEOUT) for ws in (ann, bob, cid)] == ["everyone"] * 3


def test_groups_and_presence(adapter: Adapter) -> None:
    """Groups reach their members only; members() and events follow joins and leaves."""
    router = room_router(adapter)
    events: list[tuple[str, str, str]] = []

    @router.on_join
    def joined(member: Member, topic: Topic) -> None:
        events.append(("join", str(topic), member.meta["name"]))

    @router.on_leave
    def left(member: Member, topic: Topic) -> None:
        events.append(("leave", str(topic), member.meta["name"]))

    with adapter.serve(router) as running:
        with members(running, "a", "ann", "bob") as (ann, bob):
            until(lambda: len(router.members("room", room="a")) == 2)
            ann.send("join staff")
            assert ann.recv(TIMEOUT) == "joined"
            assert [m.meta["name"] for m in router.group_members("staff")] == ["ann"]
            bob.send("group staff for staff")
            assert ann.recv(TIMEOUT) == "for staff"
            ann.send("leave staff")
            assert ann.recv(TIMEOUT) == "left"
            assert router.group_members("staff") == []
            ann.send("join staff")
            assert ann.recv(TIMEOUT) == "joined"
        # Closing leaves every room: groups first, then the route's.
        until(lambda: len(router.members("room")) == 0)
        assert router.group_members("staff") == []
    room = "route 'room' (room='a')"
    # Threads may start the two handlers in either order.
    assert sorted(events[:2]) == [("join", room, "ann"), ("join", room, "bob")]
    assert events[2:5] == [
        ("join", "group 'staff'", "ann"),
        ("leave", "group 'staff'", "ann"),
        ("join", "group 'staff'", "ann"),
    ]
    assert sorted(events[5:]) == sorted(
        [("leave", "group 'staff'", "ann"), ("leave", room, "ann"), ("leave", room, "bob")]
    )
    assert events.index(("leave", "group 'staff'", "ann")) < events.index(("leave", room, "ann"))


def test_listeners_added_while_connections_are_open(adapter: Adapter) -> None:
    """A join listener added later hears of later joins only; leaves it hears of all."""
    router = room_router(adapter)
    events: list[tuple[str, str]] = []
    with adapter.serve(router) as running:
        with members(running, "a", "ann"):
            # Until someone asks, the registry hasn't indexed ann: asking finds her.
            until(lambda: len(router.members("room", room="a")) == 1)
            with members(running, "b", "bob"):
                until(lambda: len(router.connections) == 2)

                @router.on_join
                def joined(member: Member, topic: Topic) -> None:
                    events.append(("join", member.meta["name"]))

                @router.on_leave
                def left(member: Member, topic: Topic) -> None:
                    events.append(("leave", member.meta["name"]))

                assert [m.meta["name"] for m in router.members("room", room="b")] == ["bob"]
                with members(running, "a", "cyd"):
                    until(lambda: len(router.members("room", room="a")) == 2)
                    assert events == [("join", "cyd")]
        until(lambda: len(router.connections) == 0)
    assert sorted(events[1:]) == [("leave", "ann"), ("leave", "bob"), ("leave", "cyd")]


class Stalled:
    """A raw client in a room that completes the handshake, then never reads."""

    def __init__(self, port: int, target: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def ended(self) -> bool:
        """Whether the server ended the connection, reading what's left (bounded)."""
        try:
            while self.sock.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


def read_all(ws: ClientConnection, count: int, into: list[str]) -> threading.Thread:
    """A thread reading ``count`` messages of ``ws`` into ``into``."""

    def run() -> None:
        for _ in range(count):
            into.append(str(ws.recv(TIMEOUT)))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("on_slow", ["close", "drop"])
def test_slow_consumer(adapter: Adapter, on_slow: str) -> None:
    """A client that stops reading is closed (or misses messages); readers get everything."""
    policy = SendPolicy(max_buffer=256 * KIB, on_slow=on_slow, close_grace=0.5)  # type: ignore[arg-type]
    router = room_router(adapter, send_policy=policy)
    count, size = 200, 32 * KIB
    with adapter.serve(router) as running, members(running, "a", "ann", "bob") as (ann, bob):
        slow = Stalled(running.port, "/rooms/a?name=slow")
        try:
            until(lambda: len(router.members("room", room="a")) == 3)
            received: list[str] = []
            reader = read_all(ann, count, received)
            bob.send(f"flood {count} {size}")
            assert bob.recv(TIMEOUT) == "flooded"
            reader.join(TIMEOUT)
            assert [message[:6] for message in received] == [f"{i:06d}" for i in range(count)]
            stats = router.delivery_stats
            if on_slow == "close":
                assert (stats.closed, stats.dropped) == (1, 0)
                # Aborted within the grace period, it left the room.
                until(lambda: len(router.members("room", room="a")) == 2)
                assert slow.ended()
            else:
                assert stats.closed == 0
                assert stats.dropped > 0
                assert len(router.members("room", room="a")) == 3
        finally:
            slow.close()


def test_threads_join_and_leave_without_races() -> None:
    """Many handler threads joining and leaving groups at once lose no membership."""
    adapter = Adapter("sync")
    router = Router()
    groups = [f"g{index}" for index in range(8)]

    @router.route("/race/{seed:int}")
    def race(ws: Any, path: RoutedPath) -> None:
        rng = random.Random(path.params["seed"])
        mine: set[str] = set()
        for _ in range(3_000):
            group = rng.choice(groups)
            if group in mine:
                router.leave(ws, group)
                mine.discard(group)
            else:
                router.join(ws, group)
                mine.add(group)
        member = router.connections.member(ws)
        assert member is not None
        seen = {group for group in groups if member in router.connections.groups.get(group, ())}
        ws.send("ok" if member.groups == mine == seen else f"lost {mine ^ seen}")
        # Until the client closes: websockets 14's client can't read a message that
        # came before a close it hasn't read yet.
        for _ in ws:
            pass

    with adapter.serve(router) as running:
        with ExitStack() as stack:
            clients = [
                stack.enter_context(client(running.port, f"/race/{seed}")) for seed in range(32)
            ]
            replies = []
            for ws in clients:
                try:
                    replies.append(ws.recv(TIMEOUT))
                except ConnectionClosed as closed:  # A handler that failed closes 1011.
                    replies.append(f"closed {closed.rcvd}")
        assert replies == ["ok"] * 32
        until(lambda: len(router.connections) == 0)
        assert router.connections.groups == {}
