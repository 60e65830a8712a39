"""Broadcast within one process: by route and parameters, by group, past slow clients."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from websockets_routes import RoutedPath, Router
from websockets_routes.broadcast import (
    BroadcastBackend,
    BroadcastError,
    History,
    MemoryBackend,
    backend_from_url,
    deliver,
)
from websockets_routes.testing import serve_for_test

#: Bound for any one wait in these tests.
TIMEOUT = 5.0


def make_router() -> Router:
    """A router with a room route, a two-parameter route and a static route."""
    router = Router()

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        group = path.query.get("group")
        if group:
            router.join(ws, group)
        async for message in ws:
            if message == "leave":
                router.leave(ws, group or "")
                await ws.send("left")

    @router.route("/things/{kind}/{id:int}")
    async def thing(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    @router.route("/lobby")
    async def lobby(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    return router


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds, for at most TIMEOUT seconds."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.005)


def count(router: Router) -> int:
    """How many connections the router tracks, all routes together."""
    return len(router.connections)


@asynccontextmanager
async def serving(router: Router) -> AsyncIterator[str]:
    """Serve ``router`` on a free port of 127.0.0.1; yield its URL."""
    async with router.serve("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def clients(router: Router, url: str, *targets: str) -> list[ClientConnection]:
    """Connect to each target and wait until the router tracks them all."""
    before = count(router)
    connections = [await connect(url + target) for target in targets]
    await until(lambda: count(router) == before + len(targets))
    return connections


async def nothing_pending(ws: ClientConnection) -> bool:
    """Whether ``ws`` has no message waiting right now."""
    try:
        await asyncio.wait_for(ws.recv(), 0.05)
    except TimeoutError:
        return True
    return False


def run(coroutine: Any) -> None:
    """Run a test coroutine to completion, bounded."""

    async def bounded() -> None:
        async with asyncio.timeout(4 * TIMEOUT):
            await coroutine

    asyncio.run(bounded())


def test_broadcast_by_route_and_params() -> None:
    """A broadcast reaches the connections of that route and parameters only."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            a, b, other = await clients(router, url, "/rooms/a", "/rooms/a", "/rooms/b")
            await router.broadcast("room", "to a", room="a")
            assert await a.recv() == "to a"
            assert await b.recv() == "to a"
            await router.broadcast("room", b"to b", room="b")
            assert await other.recv() == b"to b"
            for ws in (a, b, other):
                assert await nothing_pending(ws)
                await ws.close()

    run(main())


def test_broadcast_without_params_reaches_the_whole_route() -> None:
    """A broadcast without parameters reaches every connection on the route."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            conns = await clients(router, url, "/rooms/a", "/rooms/b", "/lobby")
            await router.broadcast("room", "all rooms")
            assert [await ws.recv() for ws in conns[:2]] == ["all rooms"] * 2
            await router.broadcast("lobby", "lobby")
            assert await conns[2].recv() == "lobby"
            assert await nothing_pending(conns[2])
            for ws in conns:
                await ws.close()

    run(main())


def test_params_are_checked_by_their_converters() -> None:
    """Parameter values are typed as in path.params, and each converter checks its own."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            (ws,) = await clients(router, url, "/things/box/7")
            await router.broadcast("thing", "seven", kind="box", id=7)
            assert await ws.recv() == "seven"
            await router.broadcast("thing", "eight", kind="box", id=8)
            assert await nothing_pending(ws)
            with pytest.raises(BroadcastError, match="id='7' is refused by IntConverter"):
                await router.broadcast("thing", "seven", kind="box", id="7")
            await ws.close()

    run(main())


def test_closed_connections_are_forgotten() -> None:
    """A connection leaves the registry when its handler ends; nothing is kept."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            conns = await clients(router, url, "/rooms/a", "/rooms/a?group=g", "/things/x/1")
            for ws in conns:
                await ws.close()
            await until(lambda: count(router) == 0)
            assert len(router.connections) == 0
            assert router.connections.groups == {}
            await router.broadcast("room", "nobody", room="a")

    run(main())


def test_groups() -> None:
    """A group broadcast reaches the connections that joined it, until they leave."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            admin, user, other_admin = await clients(
                router, url, "/rooms/a?group=admins", "/rooms/a", "/rooms/b?group=admins"
            )
            await router.broadcast_group("admins", "hello admins")
            assert await admin.recv() == "hello admins"
            assert await other_admin.recv() == "hello admins"
            assert await nothing_pending(user)
            await admin.send("leave")
            assert await admin.recv() == "left"
            await router.broadcast_group("admins", "again")
            assert await other_admin.recv() == "again"
            assert await nothing_pending(admin)
            await router.broadcast_group("nobody", "lost")
            for ws in (admin, user, other_admin):
                await ws.close()

    run(main())


async def silent_client(url: str, target: str) -> tuple[asyncio.StreamReader, Any]:
    """Complete a WebSocket handshake on a raw socket, then never read again."""
    host, _, port = url.removeprefix("ws://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def test_slow_and_dead_connections_do_not_stall_others() -> None:
    """A client that stops reading, or vanishes, never holds up the others."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            before = count(router)
            _, silent = await silent_client(url, "/rooms/a")
            await until(lambda: count(router) == before + 1)
            (fast, gone) = await clients(router, url, "/rooms/a", "/rooms/a")
            gone.transport.abort()
            payload = b"x" * 100_000
            started = time.monotonic()
            for _ in range(100):
                await router.broadcast("room", payload, room="a")
            # 10 MB broadcast without waiting for the silent client to read.
            assert time.monotonic() - started < TIMEOUT / 2
            for _ in range(100):
                assert await fast.recv() == payload
            await fast.close()
            silent.transport.abort()
            await until(lambda: count(router) == 0)

    run(main())


def test_deliver_skips_connections_that_are_not_open(caplog: pytest.LogCaptureFixture) -> None:
    """deliver() skips closed connections quietly and still reaches the open ones."""

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            gone, staying = await clients(router, url, "/rooms/a", "/rooms/a")
            members = router.connections.members(router.get("room"), "a")
            server_sides = [member.connection for member in members]
            await gone.close()
            await until(lambda: count(router) == 1)
            (open_side,) = [
                m.connection for m in router.connections.members(router.get("room"), "a")
            ]
            (closed_side,) = [ws for ws in server_sides if ws is not open_side]
            with caplog.at_level(logging.DEBUG):
                deliver([closed_side, open_side], "late")
            assert await asyncio.wait_for(staying.recv(), TIMEOUT) == "late"
            assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    run(main())


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "no WebSocket route named 'nope'; known names: lobby, room, thing"),
        ("room", {"rom": "a"}, "takes all of its parameters \\(room\\) or none, not rom"),
        ("thing", {"kind": "a"}, "takes all of its parameters \\(kind, id\\) or none"),
        ("thing", {"kind": "a", "id": "x"}, "id='x' is refused by IntConverter"),
    ],
)
def test_broadcast_errors(name: str, params: dict[str, Any], message: str) -> None:
    """A broadcast to an unknown route or with wrong parameters raises BroadcastError."""
    router = make_router()
    with pytest.raises(BroadcastError, match=message):
        asyncio.run(router.broadcast(name, "m", **params))


def test_in_process_is_the_default() -> None:
    """Without set-up, and for memory:// or None, the backend is in-process."""
    assert isinstance(make_router().broadcaster.backend, MemoryBackend)
    assert isinstance(backend_from_url("memory://"), MemoryBackend)
    assert isinstance(backend_from_url(None), MemoryBackend)
    with pytest.raises(ValueError, match="unknown broadcast URL 'kafka://x'"):
        backend_from_url("kafka://x")


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Redis URL without the redis package raises ImportError naming the extra."""
    for module in list(sys.modules):
        if module == "redis" or module.startswith("redis.") or module.endswith(".backends.redis"):
            monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"pip install 'websockets-routes\[redis\]>=1\.0'"):
        backend_from_url("redis://127.0.0.1:6379/0")


def test_use_broadcast_after_start_is_refused() -> None:
    """Changing the backend once it started raises instead of splitting rooms."""

    async def main() -> None:
        router = make_router()
        router.use_broadcast("memory://")
        await router.broadcaster.start()
        with pytest.raises(RuntimeError, match="before serving"):
            router.use_broadcast("memory://")
        await router.broadcaster.aclose()

    run(main())


def test_unreachable_redis_keeps_local_delivery(caplog: pytest.LogCaptureFixture) -> None:
    """With Redis unreachable from the start, broadcasts still reach local connections."""
    pytest.importorskip("redis")
    from websockets_routes.broadcast import RedisBackend

    from .helpers import free_port

    async def main() -> None:
        router = make_router()
        port = free_port()
        router.use_broadcast(RedisBackend(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5))
        await router.broadcaster.start()
        async with serving(router) as url:
            a, b = await clients(router, url, "/rooms/a", "/rooms/a")
            await router.broadcast("room", "local", room="a")
            assert [await a.recv(), await b.recv()] == ["local", "local"]
            await a.close()
            await b.close()
        await router.broadcaster.aclose()

    with caplog.at_level(logging.INFO, logger="websockets_routes"):
        run(main())
    lost = [r for r in caplog.records if "lost Redis broadcast" in r.getMessage()]
    assert lost
    assert lost[0].levelname == "WARNING"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_frames_from_other_processes_are_delivered_or_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """receive() delivers route, whole-route and group frames, and drops unreadable ones."""
    from websockets_routes.broadcast._broadcaster import _encode
    from websockets_routes.broadcast._fanout import payload_of

    def encode(kind: bytes, target: Any, message: str | bytes) -> bytes:
        return _encode(kind, target, *payload_of(message))

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            room_a, thing, admin = await clients(
                router, url, "/rooms/a", "/things/box/7", "/rooms/b?group=admins"
            )
            receive = router.broadcaster.receive
            receive(encode(b"R", ["room", ["a"], None], "to a"))
            assert await room_a.recv() == "to a"
            receive(encode(b"R", ["thing", ["box", "7"], None], b"seven"))
            assert await thing.recv() == b"seven"
            receive(encode(b"R", ["room", None, None], "every room"))
            assert [await room_a.recv(), await admin.recv()] == ["every room"] * 2
            receive(encode(b"G", "admins", "admins"))
            assert await admin.recv() == "admins"
            with caplog.at_level(logging.WARNING, logger="websockets_routes"):
                for frame in (b"garbage", encode(b"R", ["nope", None, None], "x"), b"X" + b"t1\n"):
                    receive(frame)
            assert len(caplog.records) == 3
            for ws in (room_a, thing, admin):
                assert await nothing_pending(ws)
                await ws.close()

    run(main())


def test_deliver_handles_mixed_and_unsupported_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """deliver() sends to asyncio connections and warns once about types it can't reach."""

    class Unknown:
        pass

    async def main() -> None:
        router = make_router()
        async with serving(router) as url:
            (ws,) = await clients(router, url, "/rooms/a")
            (member,) = router.connections.members(router.get("room"), "a")
            server_side = member.connection
            with caplog.at_level(logging.WARNING, logger="websockets_routes"):
                deliver([Unknown(), server_side, Unknown()], "mixed")
                deliver([Unknown()], "unknown")
            assert await ws.recv() == "mixed"
            assert [r.getMessage() for r in caplog.records] == [
                "broadcast skips Unknown connections: only those of websockets' asyncio, "
                "legacy, threading and trio implementations"
            ]
            await ws.close()

    run(main())


def test_unhashable_params_are_tracked_by_repr() -> None:
    """Parameters that convert to unhashable values are still tracked and reachable."""
    from websockets_routes import Converter

    class ListConverter(Converter[list[str]]):
        def to_python(self, value: str) -> list[str]:
            return value.split(",")

        def to_url(self, value: list[str]) -> str:
            return ",".join(value)

    async def main() -> None:
        router = Router(converters={"list": ListConverter})

        @router.route("/tags/{tags:list}")
        async def tags(ws: Any, path: RoutedPath) -> None:
            await ws.wait_closed()

        async with serving(router) as url:
            (ws,) = await clients(router, url, "/tags/a,b")
            await router.broadcast("tags", "tagged", tags=["a", "b"])
            assert await ws.recv() == "tagged"
            await ws.close()
            await until(lambda: count(router) == 0)

    run(main())


class RecordingBackend(BroadcastBackend):
    """A remote backend that records what it is asked to publish."""

    def __init__(self, *, fail_start: bool = False) -> None:
        self.published: list[bytes] = []
        self.fail_start = fail_start

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Start, or fail to if asked to."""
        if self.fail_start:
            raise RuntimeError("cannot start")

    def publish(self, channel: str, frame: bytes) -> None:
        """Record ``frame``."""
        self.published.append(frame)

    async def aclose(self, timeout: float = 5.0) -> int:
        """Nothing to close, nothing unsent."""
        return 0


def test_broadcasts_after_aclose_stay_local() -> None:
    """After the broadcaster is closed, broadcasts reach local connections and publish nothing."""

    async def main() -> None:
        router = make_router()
        backend = RecordingBackend()
        router.use_broadcast(backend)
        async with serving(router) as url:
            (ws,) = await clients(router, url, "/rooms/a")
            await router.broadcast("room", "before", room="a")
            await router.broadcaster.aclose()
            await router.broadcast("room", "after", room="a")
            await router.broadcast_group("g", "after")
            assert [await ws.recv(), await ws.recv()] == ["before", "after"]
            assert len(backend.published) == 1
            await ws.close()

    run(main())


def test_backend_that_fails_to_start_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A backend whose start fails logs an ERROR and broadcasts stay local from then on."""

    async def main() -> None:
        router = make_router()
        backend = RecordingBackend(fail_start=True)
        router.use_broadcast(backend)
        await router.broadcast("lobby", "first")
        await until(lambda: any("failed to start" in r.getMessage() for r in caplog.records))
        await router.broadcast("lobby", "second")
        assert len(backend.published) == 1

    with caplog.at_level(logging.INFO, logger="websockets_routes"):
        run(main())
    (failed,) = [r for r in caplog.records if "failed to start" in r.getMessage()]
    assert failed.levelname == "ERROR"
    assert failed.exc_info is not None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:notaport/0", "'redis://127.0.0.1:notaport/0': Port could not"),
        ("redis://u:s3cret@127.0.0.1:99999/0", "'redis://u:***@127.0.0.1:99999/0': Port out"),
        ("redis://u:s3/cret@127.0.0.1/0", "'redis://u:***@127.0.0.1/0': its password"),
        ("redis://u:s3cret@[::1:6379/0", "'redis://u:***@[::1:6379/0': Invalid IPv6"),
    ],
)
def test_malformed_redis_url_is_refused_at_configuration(url: str, shown: str) -> None:
    """A malformed Redis URL raises ValueError from use_broadcast(), without its password."""
    pytest.importorskip("redis")
    router = make_router()
    with pytest.raises(ValueError, match=r"^invalid Redis URL ") as raised:
        router.use_broadcast(url)
    assert shown in str(raised.value)
    assert "s3" not in str(raised.value)


def test_threaded_handlers_leave_their_groups() -> None:
    """Groups joined by a handler of the threaded server are left when the handler ends."""
    import threading

    from websockets.exceptions import ConnectionClosedOK
    from websockets.sync.client import connect as sync_connect

    from websockets_routes.sync import serve

    router = Router()

    @router.route("/r")
    def r(ws: Any, path: RoutedPath) -> None:
        router.join(ws, "g")
        ws.send("joined")

    with serve(router, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            for _ in range(2):
                with sync_connect(f"ws://127.0.0.1:{port}/r") as ws:
                    assert ws.recv(TIMEOUT) == "joined"
                    # The server closes once the handler returned.
                    with pytest.raises(ConnectionClosedOK):
                        ws.recv(TIMEOUT)
                assert router.connections.groups == {}
                assert len(router.connections) == 0
        finally:
            server.shutdown()
            thread.join(TIMEOUT)


def test_groups_joined_on_an_included_router_are_left() -> None:
    """A handler that joins a group of the router it was included from leaves it at the end."""
    chat = Router()

    @chat.route("/room")
    async def room(ws: Any, path: RoutedPath) -> None:
        chat.join(ws, "g")
        await chat.broadcast_group("g", "via chat")

    app = Router()
    app.include(chat, prefix="/chat")

    async def main() -> None:
        async with serving(app) as url:
            for _ in range(2):
                ws = await connect(url + "/chat/room")
                assert await ws.recv() == "via chat"
                # The server closes once the handler returned.
                await ws.wait_closed()
                assert chat.connections.groups == {}
                assert len(chat.connections) == 0

    run(main())


def test_broadcast_to_a_route_with_a_host_pattern() -> None:
    """A broadcast to a route with a host pattern takes its host parameters too."""

    async def main() -> None:
        router = Router()

        @router.route("/rooms/{room}", host="{tenant}.example.com")
        async def tenant_room(ws: Any, path: RoutedPath) -> None:
            await ws.wait_closed()

        async with serve_for_test(router) as client:
            acme = await client.connect("/rooms/a", host="acme.example.com")
            globex = await client.connect("/rooms/a", host="globex.example.com")
            await until(lambda: count(router) == 2)
            await router.broadcast("tenant_room", "to acme", tenant="acme", room="a")
            assert await acme.recv() == "to acme"
            assert await nothing_pending(globex)
            await router.broadcast("tenant_room", "to all")
            assert [await acme.recv(), await globex.recv()] == ["to all", "to all"]
            with pytest.raises(
                BroadcastError, match=r"takes all of its parameters \(tenant, room\)"
            ):
                await router.broadcast("tenant_room", "x", room="a")
            for ws in (acme, globex):
                await ws.close()

    run(main())


def test_history_in_process_catches_up_and_refuses_what_it_cannot_mark() -> None:
    """In one process, a history room numbers its messages, replays them, and refuses clashes."""

    async def main() -> None:
        router = Router()

        @router.route("/log/{room}", history=History(size=3))
        async def log(ws: Any, path: RoutedPath) -> None:
            await ws.wait_closed()

        async with serve_for_test(router) as client:
            first = await client.connect("/log/a")
            await until(lambda: count(router) == 1)
            await router.broadcast("log", '{"n":1}', room="a")
            assert await first.recv() == '{"offset":"1","n":1}'
            await first.close()
            for n in (2, 3):
                await router.broadcast("log", f'{{"n":{n}}}', room="a")
            again = await client.connect("/log/a?offset=1")
            assert [await again.recv() for _ in range(2)] == [
                '{"offset":"2","n":2}',
                '{"offset":"3","n":3}',
            ]
            # A value that reads "offset" is fine; a key named so would clash.
            await router.broadcast("log", '{"text":"offset"}', room="a")
            assert await again.recv() == '{"offset":"4","text":"offset"}'
            with pytest.raises(TypeError, match="in the field 'offset', which this message"):
                await router.broadcast("log", '{"offset":"mine"}', room="a")
            with pytest.raises(TypeError, match="must be JSON objects"):
                await router.broadcast("log", "plain text", room="a")
            await again.close()

    run(main())
