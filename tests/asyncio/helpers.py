"""Serve routers on free ports, and talk to them with raw HTTP when needed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers

from websockets_routes import Router

LOGGER = "websockets_routes"


def url_of(server: Server) -> str:
    """The ``ws://`` URL of a server listening on one port of 127.0.0.1."""
    host, port = server.sockets[0].getsockname()[:2]
    return f"ws://{host}:{port}"


@contextlib.asynccontextmanager
async def routed(router: Router, **kwargs: Any) -> AsyncIterator[str]:
    """Serve ``router`` with handshake routing on a free port; yield its URL."""
    async with router.serve("127.0.0.1", 0, **kwargs) as server:
        yield url_of(server)


@contextlib.asynccontextmanager
async def plain(
    handler: Callable[[ServerConnection], Awaitable[None]], **kwargs: Any
) -> AsyncIterator[str]:
    """Serve ``handler`` (the router as a plain handler) on a free port; yield its URL."""
    async with serve(handler, "127.0.0.1", 0, **kwargs) as server:
        yield url_of(server)


@dataclass
class RawResponse:
    """An HTTP response read off a raw socket, and the stream that follows it."""

    status: int
    headers: Headers
    body: bytes = b""
    reader: asyncio.StreamReader | None = field(default=None, repr=False)

    async def close_frame(self) -> tuple[int, str]:
        """Read the server's close frame after a 101: its code and reason."""
        assert self.reader is not None
        head = await self.reader.readexactly(2)
        # Server frames are unmasked; a close frame's payload is at most 125 bytes.
        assert head[0] == 0x88, f"expected a close frame, got {head!r}"
        payload = await self.reader.readexactly(head[1] & 0x7F)
        return int.from_bytes(payload[:2], "big"), payload[2:].decode()


def upgrade_headers() -> list[tuple[str, str]]:
    """The headers of a valid WebSocket upgrade request."""
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
        ("Sec-WebSocket-Version", "13"),
    ]


@contextlib.asynccontextmanager
async def raw_request(
    url: str, target: str, headers: Iterable[tuple[str, str]] = ()
) -> AsyncIterator[RawResponse]:
    """Send ``GET target`` exactly as written and read the response.

    A ``Host`` header is added unless ``headers`` has one. The body is read by
    its Content-Length; after a 101 the stream stays open in
    :attr:`RawResponse.reader` until the context exits.
    """
    host, _, port = url.removeprefix("ws://").partition(":")
    headers = list(headers)
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", f"{host}:{port}"))
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [f"GET {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")[:-2]
        response = RawResponse(int(status_line.split()[1]), Headers())
        for line in header_lines:
            name, _, value = line.partition(":")
            response.headers[name] = value.strip()
        if response.status == 101:
            response.reader = reader
        else:
            length = int(response.headers.get("Content-Length", "0"))
            response.body = await reader.readexactly(length)
        yield response
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def reply(ws: ServerConnection, *messages: str) -> None:
    """Send ``messages`` from a handler, then wait for the client to close.

    A handler that returns closes the connection, and websockets 14.0's client
    drops messages it has not read yet once the connection is closed; waiting
    keeps tests deterministic there.
    """
    for message in messages:
        await ws.send(message)
    await ws.wait_closed()


def route_errors(records: Iterable[Any]) -> list[Any]:
    """The ERROR records our library logged, among ``caplog.records``."""
    return [r for r in records if r.name == LOGGER and r.levelname == "ERROR"]
