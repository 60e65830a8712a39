"""A raw-socket prober: hand-written handshakes, and everything the server answers.

websockets' clients refuse to send most of what these tests need (a target that
is not a path, a missing or repeated ``Host``), so requests are written here byte
by byte, and responses and close frames are read without any client library.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

from tests.adapters.helpers import TIMEOUT, Adapter, Running, conversation
from websockets_routes import Router

__all__ = [
    "DEFAULT_HOST",
    "Outcome",
    "Servers",
    "handshake_request",
    "probe",
    "read_outcome",
]

#: Stands for "a Host header naming the server", the header every client sends.
DEFAULT_HOST = object()


@dataclass
class Outcome:
    """What the server answered a handshake, as seen on the socket.

    Attributes:
        status: The response's status, or None if the server closed the connection
            (or reset it) without answering.
        headers: The response headers, in order.
        body: The response body (empty after a 101).
        messages: After a 101, the text messages received before the close frame.
        close_code: After a 101, the code of the server's close frame.
    """

    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    messages: list[str] = field(default_factory=list)
    close_code: int | None = None

    @property
    def short(self) -> tuple[int | None, int | None]:
        """``(status, close_code)``, as the tables of expected outcomes write it."""
        return self.status, self.close_code

    def header(self, name: str) -> list[str]:
        """Every value of the response header ``name``."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def handshake_request(
    port: int,
    target: str | bytes,
    *,
    host: object = DEFAULT_HOST,
    extra: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A WebSocket upgrade request for ``target``, written exactly as given.

    ``host`` is the Host header's value, None to leave the header out, or a list
    of values to send it several times.
    """
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    if host is DEFAULT_HOST:
        hosts: list[str] = [f"127.0.0.1:{port}"]
    elif host is None:
        hosts = []
    elif isinstance(host, str):
        hosts = [host]
    else:
        assert isinstance(host, list)
        hosts = host
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"Host: {value}" for value in hosts]
    lines += [
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in extra]
    head = "".join(f"{line}\r\n" for line in lines) + "\r\n"
    return b"GET " + raw_target + b" HTTP/1.1\r\n" + head.encode("latin-1")


def probe(
    port: int,
    target: str | bytes,
    *,
    host: object = DEFAULT_HOST,
    extra: Iterable[tuple[str, str]] = (),
) -> Outcome:
    """Send a hand-written handshake for ``target`` and read all the server answers."""
    request = handshake_request(port, target, host=host, extra=extra)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return read_outcome(sock)


def read_outcome(sock: socket.socket) -> Outcome:
    """Read a handshake response from ``sock``, then, after a 101, every frame up to close."""
    stream = sock.makefile("rb")
    try:
        status_line = stream.readline(65536)
    except ConnectionResetError:
        return Outcome(None)
    if not status_line:
        return Outcome(None)
    outcome = Outcome(int(status_line.split()[1]))
    # Bounded by the header count limit of every websockets implementation.
    for _ in range(256):
        line = stream.readline(65536)
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        outcome.headers.append((name.strip(), value.strip()))
    if outcome.status != 101:
        length = outcome.header("Content-Length")
        outcome.body = stream.read(int(length[0])) if length else stream.read()
        return outcome
    # Server frames are unmasked; tests send and receive short text messages only.
    for _ in range(1000):
        head = stream.read(2)
        if len(head) < 2:
            break
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(stream.read(2), "big")
        elif size == 127:
            size = int.from_bytes(stream.read(8), "big")
        payload = stream.read(size)
        opcode = head[0] & 0x0F
        if opcode == 0x1:
            outcome.messages.append(payload.decode())
        elif opcode == 0x8:
            outcome.close_code = int.from_bytes(payload[:2], "big") if payload else 1005
            break
    return outcome


class Servers:
    """Servers of one router factory, one per adapter and mode, started on first use.

    ``make_router(adapter, calls)`` builds the router; its handlers may record what
    they see in ``calls``. On exit, every server must still route ``check_target``
    to a handler answering ``check_message``, then stops.
    """

    def __init__(
        self,
        make_router: Callable[[Adapter, list[str]], Router],
        check_target: str,
        check_message: str,
    ) -> None:
        self._make_router = make_router
        self._check = check_target, check_message
        self._stack = contextlib.ExitStack()
        self._running: dict[tuple[str, bool], tuple[Running, list[str]]] = {}

    def get(self, adapter: Adapter, plain: bool) -> tuple[Running, list[str]]:
        """The running server for ``adapter`` and ``plain``, and its handlers' records."""
        key = (adapter.name, plain)
        if key not in self._running:
            calls: list[str] = []
            router = self._make_router(adapter, calls)
            running = self._stack.enter_context(adapter.serve(router, plain=plain))
            self._running[key] = running, calls
        return self._running[key]

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._stack:
            if exc_type is None:
                target, message = self._check
                for running, _ in self._running.values():
                    assert conversation(running.port, target) == ([message], 1000)
