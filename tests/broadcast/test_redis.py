"""Broadcast across processes through a real redis-server, including its crash and restart."""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from .helpers import AppServer, app_server, redis_server

#: Bound for one message to arrive, and for Redis to be back after a restart.
TIMEOUT = 5.0
RECONNECT_TIMEOUT = 20.0
_ids = itertools.count()


async def join(url: str) -> ClientConnection:
    """Connect to the lobby and return once the server relays our own hello."""
    ws = await connect(url + "/rooms/lobby")
    hello = f"hello-{next(_ids)}"
    await ws.send(hello)
    async with asyncio.timeout(TIMEOUT):
        while await ws.recv() != hello:
            pass
    return ws


async def collect(ws: ClientConnection, done: Any, into: collections.Counter[str]) -> None:
    """Count the test messages ``ws`` receives until ``done(into)`` holds."""
    async with asyncio.timeout(TIMEOUT):
        while not done(into):
            message = await ws.recv()
            assert isinstance(message, str)
            if not message.startswith("hello-"):
                into[message] += 1


async def arrives(sender: ClientConnection, receiver: ClientConnection, timeout: float) -> bool:
    """Whether a fresh message from ``sender`` reaches ``receiver`` within ``timeout``."""
    probe = f"probe-{next(_ids)}"
    await sender.send(probe)
    try:
        async with asyncio.timeout(timeout):
            while await receiver.recv() != probe:
                pass
    except TimeoutError:
        return False
    return True


async def until_arrives(sender: ClientConnection, receiver: ClientConnection) -> float:
    """Probe until a message crosses from ``sender`` to ``receiver``; the time it took."""
    started = time.monotonic()
    while not await arrives(sender, receiver, 0.5):
        assert time.monotonic() - started < RECONNECT_TIMEOUT, "delivery didn't resume"
    return time.monotonic() - started


def no_handler_errors(server: AppServer) -> None:
    """The server logged no ERROR and no traceback."""
    log = server.log_text()
    assert not re.search(r"^ERROR|^CRITICAL|Traceback", log, re.MULTILINE), log


def test_two_processes_share_a_room_exactly_once() -> None:
    """Every client of either server receives every message of the room exactly once."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            clients = [await join(server.url) for server in (a, b, a, b, a)]
            # Each client sends one message; all five reach all five clients.
            sent = [f"m-{i}" for i in range(len(clients))]
            for ws, message in zip(clients, sent, strict=True):
                await ws.send(message)
            counts = [collections.Counter[str]() for _ in clients]
            await asyncio.gather(
                *(
                    collect(ws, lambda c: set(sent) <= set(c), into)
                    for ws, into in zip(clients, counts, strict=True)
                )
            )
            # An end mark from each server: Redis keeps order, so a duplicate of
            # anything sent before would arrive before both marks.
            await clients[0].send("end-a")
            await clients[1].send("end-b")
            await asyncio.gather(
                *(
                    collect(ws, lambda c: {"end-a", "end-b"} <= set(c), into)
                    for ws, into in zip(clients, counts, strict=True)
                )
            )
            for into in counts:
                assert into == dict.fromkeys([*sent, "end-a", "end-b"], 1)
            for ws in clients:
                await ws.close()

        asyncio.run(main())
        no_handler_errors(a)
        no_handler_errors(b)


def test_groups_cross_processes() -> None:
    """A group broadcast reaches group members on both servers, and nobody else."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            admin_a = await connect(a.url + "/rooms/x?group=admins")
            admin_b = await connect(b.url + "/rooms/z?group=admins")
            user_b = await connect(b.url + "/rooms/y")
            # Joined once they relay their own room message back.
            for ws in (admin_a, admin_b, user_b):
                assert await arrives(ws, ws, TIMEOUT)
            await user_b.send("group:admins:for admins")
            async with asyncio.timeout(TIMEOUT):
                assert await admin_a.recv() == "for admins"
                assert await admin_b.recv() == "for admins"
            # user_b isn't in the group: the next message it gets is its own.
            await user_b.send("after")
            async with asyncio.timeout(TIMEOUT):
                assert await user_b.recv() == "after"
            for ws in (admin_a, admin_b, user_b):
                await ws.close()

        asyncio.run(main())


def test_redis_crash_and_restart() -> None:
    """With Redis killed, both servers keep serving locally; after a restart, delivery resumes."""
    with redis_server() as redis, app_server(redis.url) as a, app_server(redis.url) as b:

        async def main() -> None:
            a1, b1 = await join(a.url), await join(b.url)
            assert await arrives(a1, b1, TIMEOUT)
            assert await arrives(b1, a1, TIMEOUT)

            redis.kill()
            # New connections work and local delivery goes on while Redis is away.
            a2, b2 = await join(a.url), await join(b.url)
            assert await arrives(a1, a2, TIMEOUT)
            assert await arrives(b2, b1, TIMEOUT)

            redis.start()
            await until_arrives(a1, b1)
            await until_arrives(b2, a2)
            # Connections opened before the outage are still open and served.
            assert await arrives(b1, a1, TIMEOUT)
            for ws in (a1, a2, b1, b2):
                await ws.close()

        asyncio.run(main())
        for server in (a, b):
            log = server.log_text()
            assert re.search(r"^WARNING \S+ lost Redis broadcast", log, re.MULTILINE), log
            assert re.search(r"^INFO \S+ Redis broadcast .* is back after", log, re.MULTILINE), log
            no_handler_errors(server)


def test_two_routers_in_one_loop_through_redis() -> None:
    """Two routers with their own Redis backends exchange messages, each delivered once."""
    from websockets_routes import RoutedPath, Router
    from websockets_routes.broadcast import RedisBackend

    def make() -> Router:
        router = Router()

        @router.route("/rooms/{room}")
        async def room(ws: Any, path: RoutedPath) -> None:
            await router.broadcaster.wait_subscribed()
            async for message in ws:
                await router.broadcast("room", message, room=path.params["room"])

        return router

    with redis_server() as redis:

        async def main() -> None:
            a, b = make(), make()
            for router in (a, b):
                router.use_broadcast(RedisBackend(redis.url, channel="pair"))
                await router.broadcaster.start()
            async with a.serve("127.0.0.1", 0) as sa, b.serve("127.0.0.1", 0) as sb:
                urls = [f"ws://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in (sa, sb)]
                wa, wb = await join(urls[0]), await join(urls[1])
                await router_broadcasts(a, wa, wb)
                await wa.close()
                await wb.close()
            for router in (a, b):
                await router.broadcaster.aclose()

        async def router_broadcasts(a: Any, wa: ClientConnection, wb: ClientConnection) -> None:
            await a.broadcast("room", "one", room="lobby")
            await a.broadcast_group("nobody", "none")
            await wa.send("two")
            counts = [collections.Counter[str](), collections.Counter[str]()]
            await asyncio.gather(
                collect(wa, lambda c: {"one", "two"} <= set(c), counts[0]),
                collect(wb, lambda c: {"one", "two"} <= set(c), counts[1]),
            )
            await wb.send("end")
            await asyncio.gather(
                collect(wa, lambda c: "end" in c, counts[0]),
                collect(wb, lambda c: "end" in c, counts[1]),
            )
            assert counts == [{"one": 1, "two": 1, "end": 1}] * 2

        asyncio.run(main())


# Regressions around a reconnect, a hung Redis and forked workers: RedisBackends
# in one loop stand for processes (each has its own tag and connections).


async def wait_for(condition: Any, timeout: float = TIMEOUT) -> None:
    """Poll ``condition()`` until it holds, for at most ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


#: The channel the backend-level tests publish on and subscribe to.
CHANNEL = "test"


async def started(backend: Any, received: list[bytes] | None = None) -> Any:
    """Start ``backend``, subscribed to CHANNEL if it records what it receives."""
    await backend.start(received.append if received is not None else lambda frame: None)
    if received is not None:
        backend.subscribe([CHANNEL])
        assert await backend.wait_subscribed(TIMEOUT)
    return backend


async def crosses(sender: Any, received: list[bytes], frame: bytes) -> bool:
    """Whether ``frame``, published once by ``sender``, lands in ``received`` in time."""
    sender.publish(CHANNEL, frame)
    try:
        await wait_for(lambda: frame in received)
    except TimeoutError:
        return False
    return True


def test_first_broadcast_after_redis_restart_crosses_processes() -> None:
    """Once the backend says Redis is back, the very first broadcast reaches the other process."""
    from websockets_routes.broadcast import RedisBackend

    with redis_server() as redis:

        async def main() -> None:
            received: list[bytes] = []
            a = RedisBackend(redis.url, max_backoff=0.2, connect_timeout=1.0)
            b = RedisBackend(redis.url, max_backoff=0.2, connect_timeout=1.0)
            await started(a)
            await started(b, received)
            try:
                # The publishing connection exists before the outage.
                assert await crosses(a, received, b"before")
                redis.kill()
                await wait_for(lambda: not a.connected and not b.connected)
                redis.start()
                await wait_for(lambda: a.connected and b.connected)
                assert await crosses(a, received, b"first after")
                assert a.dropped == 0
            finally:
                await a.aclose()
                await b.aclose()

        asyncio.run(main())


def test_hung_redis_is_detected_and_recovered(caplog: Any) -> None:
    """A hung Redis (SIGSTOP) is lost within two ping intervals, and found again after SIGCONT."""
    import logging
    import os
    import signal

    from websockets_routes.broadcast import RedisBackend

    with redis_server() as redis:
        assert redis.proc is not None
        pid = redis.proc.pid

        async def main() -> None:
            received: list[bytes] = []
            a, b = (
                RedisBackend(redis.url, max_backoff=0.2, connect_timeout=0.5, ping_interval=0.2)
                for _ in range(2)
            )
            await started(a)
            await started(b, received)
            stopped = False
            try:
                assert await crosses(a, received, b"before")
                os.kill(pid, signal.SIGSTOP)
                stopped = True
                await wait_for(lambda: not a.connected and not b.connected, 3.0)
                a.publish(CHANNEL, b"during")
                assert a.dropped == 1
                os.kill(pid, signal.SIGCONT)
                stopped = False
                await wait_for(lambda: a.connected and b.connected)
                assert await crosses(a, received, b"after")
                assert b"during" not in received
            finally:
                if stopped:
                    os.kill(pid, signal.SIGCONT)
                await a.aclose()
                await b.aclose()

        with caplog.at_level(logging.INFO, logger="websockets_routes"):
            asyncio.run(main())
    lost = [r for r in caplog.records if "lost Redis broadcast" in r.getMessage()]
    assert len(lost) == 2
    assert all(r.levelname == "WARNING" and "PING" in r.getMessage() for r in lost)
    assert len([r for r in caplog.records if "is back after" in r.getMessage()]) == 2


def test_failed_publication_is_a_loss_and_recovers(caplog: Any) -> None:
    """A publication that can't reach Redis marks it lost; delivery resumes by itself."""
    import logging
    import socket

    from websockets_routes.broadcast import RedisBackend

    with redis_server() as redis:

        async def main() -> None:
            received: list[bytes] = []
            a = RedisBackend(redis.url, max_backoff=0.2, ping_interval=0.2)
            b = RedisBackend(redis.url, max_backoff=0.2, ping_interval=0.2)
            await started(a)
            await started(b, received)
            try:
                assert await crosses(a, received, b"before")
                # Break the publishing connections only, not the subscriptions.
                with socket.create_connection(("127.0.0.1", redis.port), timeout=1.0) as sock:
                    sock.sendall(b"CLIENT KILL TYPE normal\r\n")
                    assert sock.recv(16).startswith(b":")
                a.publish(CHANNEL, b"lost")
                await wait_for(lambda: not a.connected)
                await wait_for(lambda: a.connected)
                assert await crosses(a, received, b"after")
            finally:
                await a.aclose()
                await b.aclose()

        with caplog.at_level(logging.INFO, logger="websockets_routes"):
            asyncio.run(main())
    lost = [r for r in caplog.records if "lost Redis broadcast" in r.getMessage()]
    assert [r.levelname for r in lost] == ["WARNING"]


def _publish_from_fork(backend: Any) -> None:
    """In a forked worker: start the inherited backend and publish until stopped."""

    async def main() -> None:
        await backend.start(lambda frame: None)
        while True:
            backend.publish(CHANNEL, b"from the child")
            await asyncio.sleep(0.05)

    asyncio.run(main())


def test_forked_workers_receive_each_others_messages() -> None:
    """Workers forked after the backend was created tag their messages apart."""
    import multiprocessing

    from websockets_routes.broadcast import RedisBackend

    with redis_server() as redis:
        # As with use_broadcast() at import time and workers forked afterwards.
        backend = RedisBackend(redis.url, connect_timeout=1.0)
        child = multiprocessing.get_context("fork").Process(
            target=_publish_from_fork, args=(backend,)
        )
        child.start()
        try:

            async def main() -> None:
                received: list[bytes] = []
                await started(backend, received)
                try:
                    await wait_for(lambda: b"from the child" in received)
                finally:
                    await backend.aclose()

            asyncio.run(main())
        finally:
            assert child.pid is not None
            child.kill()
            child.join(TIMEOUT)
