"""The four websockets implementations behind one interface, and a client to probe them.

Every server runs in a thread of its own (an event loop, serve_forever() or
trio.run()), so that tests are plain functions that talk to it with websockets'
sync client and raw sockets, the same way for every adapter.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import queue
import socket
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import websockets.sync.server
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

import websockets_routes.sync
from websockets_routes import RoutedPath, Router

__all__ = [
    "ADAPTERS",
    "TIMEOUT",
    "Adapter",
    "Running",
    "Script",
    "client",
    "conversation",
    "error_records",
    "import_legacy",
    "import_trio",
    "legacy_protocol",
    "raw_handshake",
    "rejection",
]

#: Upper bound on every wait: server start and stop, connects, receives.
TIMEOUT = 10.0

ADAPTERS = ["asyncio", "legacy", "sync", "trio"]

#: What a test handler does: the messages to send for a path, then return.
Script = Callable[[RoutedPath], Iterable[str]]
#: A hook as tests write it, a plain function; adapters make it async where they can.
HookFunction = Callable[[RoutedPath, Headers], Any]


def import_legacy() -> Any:
    """Import websockets' legacy server, silencing only its deprecation warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="websockets.legacy is deprecated", category=DeprecationWarning
        )
        import websockets.legacy.server

        import websockets_routes.legacy  # noqa: F401 - imports websockets.legacy too
    return websockets.legacy.server


def import_trio() -> Any:
    """Import trio and websockets.trio, or skip naming the one that is missing."""
    pytest.importorskip(
        "trio", reason="trio is not installed (pip install 'websockets-routes[trio]')"
    )
    pytest.importorskip(
        "websockets.trio.server",
        reason="websockets.trio needs websockets >= 17.0 (pip install 'websockets-routes[trio]')",
    )
    import trio

    return trio


class Running:
    """A server running in a thread: its port, and how to shut it down."""

    def __init__(self, port: int, stop: Callable[[], None], thread: threading.Thread) -> None:
        self.port = port
        self._stop = stop
        self._thread = thread
        self._stopped = False

    def shutdown(self) -> None:
        """Shut the server down as its implementation does, closing open connections."""
        if not self._stopped:
            self._stopped = True
            self._stop()
            self._thread.join(TIMEOUT)
            assert not self._thread.is_alive(), "the server thread did not stop"


def _started(results: queue.Queue[Any]) -> Any:
    result = results.get(timeout=TIMEOUT)
    if isinstance(result, BaseException):
        raise result
    return result


class Adapter:
    """One websockets implementation: handlers in its style, and servers on port 0."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asynchronous = name != "sync"

    def __repr__(self) -> str:
        return self.name

    # Handlers, views and hooks in this implementation's style.

    def handler(self, script: Script) -> Callable[..., Any]:
        """A handler that sends what ``script`` gives for its path, then returns."""
        if self.asynchronous:

            async def async_handler(ws: Any, path: RoutedPath) -> None:
                for message in script(path):
                    await ws.send(message)

            return async_handler

        def sync_handler(ws: Any, path: RoutedPath) -> None:
            for message in script(path):
                ws.send(message)

        return sync_handler

    def echo(self) -> Callable[..., Any]:
        """A handler that echoes every message until the connection closes."""
        if self.asynchronous:

            async def async_echo(ws: Any, path: RoutedPath) -> None:
                async for message in ws:
                    await ws.send(message)

            return async_echo

        def sync_echo(ws: Any, path: RoutedPath) -> None:
            for message in ws:
                ws.send(message)

        return sync_echo

    def hook(self, function: HookFunction) -> HookFunction:
        """``function`` as a hook: a coroutine function on async servers."""
        if not self.asynchronous:
            return function

        async def async_hook(path: RoutedPath, headers: Headers) -> Any:
            return function(path, headers)

        return async_hook

    def view(self, script: Script, process_request: HookFunction | None = None) -> type:
        """A class view whose ``handle`` runs ``script`` and whose hook is ``process_request``."""
        namespace: dict[str, Any] = {}
        if self.asynchronous:

            async def async_handle(view: Any, ws: Any, path: RoutedPath) -> None:
                for message in script(path):
                    await ws.send(message)

            namespace["handle"] = async_handle
            if process_request is not None:

                async def async_process_request(
                    view: Any, path: RoutedPath, headers: Headers
                ) -> Any:
                    return process_request(path, headers)

                namespace["process_request"] = async_process_request
        else:

            def sync_handle(view: Any, ws: Any, path: RoutedPath) -> None:
                for message in script(path):
                    ws.send(message)

            namespace["handle"] = sync_handle
            if process_request is not None:

                def sync_process_request(view: Any, path: RoutedPath, headers: Headers) -> Any:
                    return process_request(path, headers)

                namespace["process_request"] = sync_process_request
        return type("View", (), namespace)

    def refuse(self, target: str, status: int) -> dict[str, Any]:
        """The user's own ``process_request`` argument, answering ``status`` on ``target``."""
        if self.name == "legacy":

            async def legacy_process_request(path: str, headers: Headers) -> Any:
                return (status, [], b"refused by the user\n") if path == target else None

            return {"process_request": legacy_process_request}

        def process_request(connection: Any, request: Any) -> Any:
            if request.path == target:
                return connection.respond(status, "refused by the user\n")
            return None

        return {"process_request": process_request}

    # Servers.

    def start(self, router: Router) -> None:
        """Call this adapter's serve function here, for what it checks before serving."""
        if self.name == "asyncio":
            router.serve("127.0.0.1", 0)
        elif self.name == "legacy":
            import_legacy()
            from websockets_routes.legacy import serve as legacy_serve

            legacy_serve(router, "127.0.0.1", 0)
        elif self.name == "sync":
            websockets_routes.sync.serve(router, "127.0.0.1", 0).shutdown()
        else:
            trio = import_trio()
            from websockets_routes.trio import serve as trio_serve

            trio.run(trio_serve, router, 0)

    @contextlib.contextmanager
    def serve(self, router: Router, *, plain: bool = False, **kwargs: Any) -> Iterator[Running]:
        """Serve ``router`` on 127.0.0.1, port 0, in a thread; stop it on exit.

        With ``plain``, the router is served as a plain connection handler rather
        than routing in the handshake.
        """
        running = getattr(self, f"_serve_{self.name}")(router, plain, kwargs)
        try:
            yield running
        finally:
            running.shutdown()

    def _serve_asyncio(self, router: Router, plain: bool, kwargs: dict[str, Any]) -> Running:
        import websockets.asyncio.server

        def start() -> Any:
            if plain:
                return websockets.asyncio.server.serve(router, "127.0.0.1", 0, **kwargs)
            return router.serve("127.0.0.1", 0, **kwargs)

        return _serve_on_loop(start)

    def _serve_legacy(self, router: Router, plain: bool, kwargs: dict[str, Any]) -> Running:
        # 0.2's form by default: websockets' serve with a Protocol subclass;
        # helper=True goes through websockets_routes.legacy.serve instead.
        legacy = import_legacy()
        helper = kwargs.pop("helper", False)

        def start() -> Any:
            if plain:
                return legacy.serve(router.handle, "127.0.0.1", 0, **kwargs)
            if helper:
                from websockets_routes.legacy import serve

                return serve(router, "127.0.0.1", 0, **kwargs)
            kwargs.setdefault("create_protocol", legacy_protocol())
            return legacy.serve(router, "127.0.0.1", 0, **kwargs)

        return _serve_on_loop(start)

    def _serve_sync(self, router: Router, plain: bool, kwargs: dict[str, Any]) -> Running:
        if plain:
            handler = websockets_routes.sync.handler(router)
            server = websockets.sync.server.serve(handler, "127.0.0.1", 0, **kwargs)
        else:
            server = websockets_routes.sync.serve(router, "127.0.0.1", 0, **kwargs)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        return Running(server.socket.getsockname()[1], server.shutdown, thread)

    def _serve_trio(self, router: Router, plain: bool, kwargs: dict[str, Any]) -> Running:
        trio = import_trio()
        import websockets.trio.server

        import websockets_routes.trio

        results: queue.Queue[Any] = queue.Queue()

        async def main() -> None:
            if plain:
                serve = functools.partial(websockets.trio.server.serve, router, 0)
            else:
                serve = functools.partial(websockets_routes.trio.serve, router, 0)
            try:
                async with trio.open_nursery() as nursery:
                    server = await nursery.start(
                        functools.partial(serve, host="127.0.0.1", **kwargs)
                    )
                    results.put((server, trio.lowlevel.current_trio_token()))
            except BaseException as exc:
                results.put(exc)
                raise

        thread = threading.Thread(target=trio.run, args=(main,))
        thread.start()
        server, token = _started(results)

        def stop() -> None:
            trio.from_thread.run(server.aclose, trio_token=token)

        return Running(server.listeners[0].socket.getsockname()[1], stop, thread)


@functools.cache
def legacy_protocol() -> type:
    """The user's ``create_protocol`` as 0.2 documented it: a subclass of ``Protocol``."""
    import_legacy()
    import websockets_routes

    class MyProtocol(websockets_routes.Protocol):
        pass

    return MyProtocol


def _serve_on_loop(start: Callable[[], Any]) -> Running:
    """Run an asyncio-based server (asyncio or legacy API) on a loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()

    async def started() -> Any:
        return await start()

    try:
        server = asyncio.run_coroutine_threadsafe(started(), loop).result(TIMEOUT)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()
        raise

    async def close() -> None:
        server.close()
        await server.wait_closed()

    def stop() -> None:
        try:
            asyncio.run_coroutine_threadsafe(close(), loop).result(TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(TIMEOUT)
            loop.close()

    return Running(next(iter(server.sockets)).getsockname()[1], stop, thread)


# The client side.


def client(port: int, target: str, **kwargs: Any) -> ClientConnection:
    """Open a WebSocket connection to ``target`` on 127.0.0.1:``port``."""
    return connect(
        f"ws://127.0.0.1:{port}{target}", open_timeout=TIMEOUT, close_timeout=TIMEOUT, **kwargs
    )


def rejection(port: int, target: str, **kwargs: Any) -> tuple[int, bytes]:
    """The status and body of the HTTP response that rejects a handshake."""
    with pytest.raises(InvalidStatus) as caught, client(port, target, **kwargs):
        pass
    response = caught.value.response
    return response.status_code, response.body


def conversation(port: int, target: str) -> tuple[list[str], int]:
    """Every message the server sends on ``target``, then its close code.

    websockets' own clients before 15.0 drop messages still buffered when the
    close frame arrives, so this one drives the sans-I/O client over a socket.
    """
    protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{target}"))
    protocol.send_request(protocol.connect())
    messages: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        # Bounded: the server closes the TCP connection after the close frame.
        for _ in range(1000):
            sock.sendall(b"".join(protocol.data_to_send()))
            data = sock.recv(65536)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            for event in protocol.events_received():
                if isinstance(event, Response):
                    assert event.status_code == 101, f"rejected: {event.status_code}"
                elif event.opcode is Opcode.TEXT:
                    messages.append(event.data.decode())
            if not data:
                break
        else:
            pytest.fail(f"the server sent {messages!r} and did not close")
    assert protocol.close_rcvd is not None, "the server closed without a close frame"
    return messages, protocol.close_rcvd.code


def raw_handshake(port: int, target: str) -> tuple[int, int | None]:
    """Send a handshake for ``target`` exactly as written.

    Returns the response's status and, after a 101, the code of the close frame
    that follows.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request.encode("ascii"))
        stream = sock.makefile("rb")
        status = int(stream.readline().split()[1])
        # Bounded by the header count limit of every websockets implementation.
        for _ in range(256):
            if stream.readline() in (b"\r\n", b""):
                break
        if status != 101:
            return status, None
        head = stream.read(2)
        # Server frames are unmasked; a close frame's payload is at most 125 bytes.
        assert head[0] == 0x88, f"expected a close frame, got {head!r}"
        payload = stream.read(head[1] & 0x7F)
        return status, int.from_bytes(payload[:2], "big")


def error_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """Records at ERROR or above, from any logger."""
    return [record for record in caplog.records if record.levelno >= 40]
