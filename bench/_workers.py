"""The processes of the network sections: a WebSocket server and a load client.

The parent drives each process over a pipe (see :class:`Worker`). The server runs
one of three stacks and answers snapshots of its CPU time, handler count and RSS.
The client speaks raw WebSocket bytes over asyncio, so that it costs much less per
connection and per message than the server it measures. Everything talks to
127.0.0.1 only, and every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import resource
import sys
import time
import tracemalloc
from multiprocessing.connection import Connection
from typing import Any

from ._routes import patterns

__all__ = [
    "KINDS",
    "Worker",
    "client_main",
    "handshake_request",
    "raise_nofile",
    "rss_kib",
    "run_server",
    "server_main",
    "uvloop_kinds",
]

HOST = "127.0.0.1"

#: Server stacks: bare websockets, websockets-routes, websockets' werkzeug router.
KINDS = {
    "bare": "websockets serve (bare)",
    "routed": "websockets-routes router.serve",
    "werkzeug": "websockets.asyncio.router.route (werkzeug)",
    "baseline": "websockets-routes (baseline) router.serve",
    # On uvloop's event loop instead of asyncio's: when uvloop is installed.
    "bare-uvloop": "websockets serve (bare), uvloop",
    "routed-uvloop": "websockets-routes router.serve, uvloop",
}


def uvloop_kinds(*kinds: str) -> list[str]:
    """``kinds`` on uvloop, or nothing if uvloop isn't installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return []
    return [f"{kind}-uvloop" for kind in kinds]


def run_server(kind: str, main: Any) -> None:
    """Run ``main(kind)`` on the event loop that ``kind`` names: ``-uvloop`` or asyncio's."""
    kind, uv, _ = kind.partition("-uvloop")
    factory = None
    if uv:
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(kind))


def raise_nofile(wanted: int) -> int:
    """Raise the soft limit on open files to ``wanted`` if the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def rss_kib() -> int:
    """This process's resident set size in KiB, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class Worker:
    """A child process (spawned, so it inherits no heap) and its command pipe."""

    def __init__(self, target: Any, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(*args, child), daemon=True)
        self.process.start()
        child.close()

    def recv(self, timeout: float = 60.0) -> Any:
        """The next message from the child; TimeoutError after ``timeout`` seconds."""
        if not self.conn.poll(timeout):
            raise TimeoutError(f"no answer from process {self.process.pid} in {timeout}s")
        return self.conn.recv()

    def call(self, *command: Any, timeout: float = 30.0) -> Any:
        """Send a command and return the answer."""
        self.conn.send(command)
        return self.recv(timeout)

    def stop(self) -> None:
        """Ask the child to exit, then terminate and kill it by PID if it doesn't."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# The server process.


def server_main(kind: str, mode: str, routes: int, conn: Connection) -> None:
    """Serve on 127.0.0.1 with ``kind`` until told to stop.

    ``mode`` is what each handler does: ``"handshake"`` (return at once),
    ``"echo"`` (send every message back) or ``"idle"`` (wait for the close).
    """
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    raise_nofile(65_536)
    if kind == "baseline":
        # The other checkout's package, in place of this one: --baseline-src.
        from ._baseline import baseline_src

        sys.path.insert(0, baseline_src() or "")
        kind = "routed"
    run_server(kind, lambda kind: _server(kind, mode, routes, conn))


async def _server(kind: str, mode: str, routes: int, conn: Connection) -> None:
    stats = {"handled": 0, "active": 0}

    async def body(ws: Any) -> None:
        stats["active"] += 1
        try:
            if mode == "echo":
                async for message in ws:
                    await ws.send(message)
            elif mode == "idle":
                await ws.wait_closed()
        finally:
            stats["active"] -= 1
            stats["handled"] += 1

    server = await _start(kind, body, routes)
    conn.send(("ready", server.sockets[0].getsockname()[1]))

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def readable() -> None:
        try:
            commands.put_nowait(conn.recv())
        except (EOFError, OSError):  # The parent is gone.
            loop.remove_reader(conn.fileno())
            commands.put_nowait(("stop",))

    loop.add_reader(conn.fileno(), readable)
    try:
        while True:
            command, *args = await commands.get()
            if command == "snapshot":
                # Wait until `expected` handlers are running, for at most `seconds`:
                # connections that are closing finish, those being opened start.
                expected, seconds = args
                for _ in range(int(seconds * 100)):
                    if stats["active"] == expected:
                        break
                    await asyncio.sleep(0.01)
                conn.send((time.process_time(), stats["handled"], stats["active"]))
            elif command == "rss":
                gc.collect()
                conn.send(rss_kib())
            elif command == "trace":
                tracemalloc.start()
                conn.send(None)
            elif command == "traced":
                gc.collect()
                conn.send(tracemalloc.get_traced_memory()[0])
            elif command == "stop":
                break
    finally:
        loop.remove_reader(conn.fileno())
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)


async def _start(kind: str, body: Any, routes: int) -> Any:
    if kind == "bare":
        from websockets.asyncio.server import serve

        async def handler(ws: Any) -> None:
            await body(ws)

        return await serve(handler, HOST, 0)

    if kind == "routed":
        from websockets_routes import Router

        async def routed(ws: Any, path: Any) -> None:
            await body(ws)

        router = Router()
        for name, pattern in patterns(routes, "braces"):
            router.route(pattern, name=name)(routed)
        return await router.serve(HOST, 0)

    if kind == "werkzeug":
        from websockets.asyncio.router import route
        from werkzeug.routing import Map, Rule

        async def endpoint(ws: Any, **params: Any) -> None:
            await body(ws)

        url_map = Map(
            [Rule(pattern, endpoint=endpoint) for _, pattern in patterns(routes, "angle")]
        )
        return await route(url_map, HOST, 0)

    raise ValueError(f"unknown server kind {kind!r}")


# The client process.

_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
_MASK = b"\x12\x34\x56\x78"
_PAYLOAD = b"hello, websocket"  # 16 bytes of text: a small message.


def _masked(opcode: int, payload: bytes) -> bytes:
    # A final client frame: masked, with a payload under 126 bytes.
    masked = bytes(b ^ _MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + _MASK + masked


_CLOSE = _masked(0x8, b"\x03\xe8")  # Close, code 1000.
_TEXT = _masked(0x1, _PAYLOAD)
_ECHOED = 2 + len(_PAYLOAD)  # The server's frame: 2 bytes of header, unmasked.


#: What a browser offers: compression, which websockets' servers accept by default.
_DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def handshake_request(port: int, path: str, deflate: bool = False) -> bytes:
    """The bytes of a raw client's handshake request for ``path``."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {_KEY.decode()}\r\n"
        f"{_DEFLATE if deflate else ''}Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class _Connection(asyncio.Protocol):
    """A raw client connection: sends ``first``, then ``then`` once upgraded.

    It counts the bytes it receives after the handshake response.
    """

    def __init__(self, first: bytes, then: bytes = b"") -> None:
        self.first = first
        self.then = then
        self.head = b""
        self.received = 0
        self.expected = 0
        self.upgraded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.batch: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.first)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            upgraded = self.head.startswith(b"HTTP/1.1 101")
            self.upgraded.set_result(upgraded)
            if upgraded and self.then and self.transport is not None:
                self.transport.write(self.then)
            data = self.head[end + 4 :]
        self.received += len(data)
        if self.batch is not None and self.received >= self.expected:
            self.batch.set_result(None)
            self.batch = None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_result(False)
        if not self.closed.done():
            self.closed.set_result(None)
        if self.batch is not None:
            self.batch.set_result(None)


async def _handshakes(
    port: int, path: str, count: int, concurrency: int, seconds: float
) -> tuple[int, int, float]:
    """Open and close ``count`` connections, ``concurrency`` at a time.

    Each connection sends its request, reads the handshake response, sends a
    close frame and waits for the server to close the TCP connection.
    """
    loop = asyncio.get_running_loop()
    first = handshake_request(port, path)
    deadline = time.monotonic() + seconds
    counts = {"started": 0, "ok": 0, "failed": 0}

    async def one_at_a_time() -> None:
        while counts["started"] < count and time.monotonic() < deadline:
            counts["started"] += 1
            try:
                _, protocol = await loop.create_connection(
                    lambda: _Connection(first, _CLOSE), HOST, port
                )
                ok = await protocol.upgraded
                await protocol.closed
            except OSError:
                ok = False
            counts["ok" if ok else "failed"] += 1

    start = time.perf_counter()
    try:
        async with asyncio.timeout(seconds + 10):
            await asyncio.gather(*(one_at_a_time() for _ in range(concurrency)))
    except TimeoutError:
        pass
    return counts["ok"], counts["failed"], time.perf_counter() - start


async def _echo(port: int, path: str, count: int, window: int, seconds: float) -> tuple[int, float]:
    """Send ``count`` small text messages in batches of ``window``; count the echoes."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: _Connection(handshake_request(port, path)), HOST, port
    )
    assert protocol.transport is not None
    if not await asyncio.wait_for(protocol.upgraded, 10):
        raise RuntimeError(f"the server refused the handshake for {path}")
    sent = 0
    deadline = time.monotonic() + seconds
    start = time.perf_counter()
    async with asyncio.timeout(seconds + 10):
        while sent < count and time.monotonic() < deadline and not protocol.closed.done():
            batch = min(window, count - sent)
            protocol.batch = loop.create_future()
            protocol.expected += batch * _ECHOED
            protocol.transport.write(_TEXT * batch)
            sent += batch
            await protocol.batch
    elapsed = time.perf_counter() - start
    echoed = protocol.received // _ECHOED
    protocol.transport.write(_CLOSE)
    try:
        await asyncio.wait_for(protocol.closed, 5)
    finally:
        protocol.transport.abort()
    return echoed, elapsed


async def _hold(
    conn: Connection,
    port: int,
    path: str,
    count: int,
    concurrency: int,
    seconds: float,
    deflate: bool = False,
) -> str:
    """Open ``count`` connections and keep them open until the parent says release.

    With ``deflate``, they offer permessage-deflate, as browsers do.
    """
    loop = asyncio.get_running_loop()
    first = handshake_request(port, path, deflate)
    held: list[_Connection] = []
    deadline = time.monotonic() + seconds
    failed = started = 0

    async def opener() -> None:
        nonlocal failed, started
        while started < count and time.monotonic() < deadline:
            started += 1
            try:
                _, protocol = await loop.create_connection(lambda: _Connection(first), HOST, port)
                held.append(protocol)
                if not await protocol.upgraded:
                    failed += 1
            except OSError:
                failed += 1

    try:
        async with asyncio.timeout(seconds + 10):
            await asyncio.gather(*(opener() for _ in range(concurrency)))
        conn.send(("held", len(held) - failed, failed))
        # Wait for "release" without blocking the loop, for at most two minutes.
        released = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: released.done() or released.set_result(None))
        try:
            await asyncio.wait_for(released, 120)
            conn.recv()
        finally:
            loop.remove_reader(conn.fileno())
    finally:
        for protocol in held:
            if protocol.transport is not None:
                protocol.transport.write(_CLOSE)
        closing = [p.closed for p in held]
        if closing:
            await asyncio.wait(closing, timeout=10)
        for protocol in held:
            if protocol.transport is not None:
                protocol.transport.abort()
    return "released"


def client_main(conn: Connection) -> None:
    """Run the parent's commands until it says stop or goes away."""
    raise_nofile(65_536)
    commands: dict[str, Any] = {"handshake": _handshakes, "echo": _echo}
    while True:
        try:
            command, *args = conn.recv()
        except (EOFError, OSError):
            return
        if command == "stop":
            return
        if command == "hold":
            result = asyncio.run(_hold(conn, *args))
        else:
            result = asyncio.run(commands[command](*args))
        conn.send(result)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(f"run the benchmarks with: python -m bench (not {os.path.basename(__file__)})")
