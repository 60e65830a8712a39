"""Serve a router on a free port for a test, and talk to it.

::

    from websockets_routes.testing import serve_for_test

    async with serve_for_test(router) as client:
        async with client.connect("/thing/1") as ws:
            assert await ws.recv() == "1"
        response = await client.expect_rejection("/nope")
        assert response.status_code == 404

:func:`serve_for_test_sync` does the same for synchronous tests: the server runs
in a thread with its own event loop. Both close everything when the block ends,
also when the test fails inside it. No pytest plugin is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from typing import Any

from websockets.asyncio.client import connect as async_connect
from websockets.asyncio.server import Server
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as sync_connect

from ._router import Router

__all__ = ["Client", "SyncClient", "serve_for_test", "serve_for_test_sync"]

HOST = "127.0.0.1"
#: Seconds :func:`serve_for_test_sync` waits for its server to start or stop.
THREAD_TIMEOUT = 10.0


class _Base:
    """What both clients share: where the server is."""

    def __init__(self, server: Server) -> None:
        #: The websockets :class:`~websockets.asyncio.server.Server` under test.
        self.server = server
        #: The port the server listens on, on 127.0.0.1.
        self.port: int = server.sockets[0].getsockname()[1]
        #: ``ws://127.0.0.1:<port>``.
        self.base_url = f"ws://{HOST}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The ``ws://`` URL of ``path`` on the server under test.

        ``path`` is sent as written, so a test can send any request target:
        ``client.url("/files/a%2Fb?x=1")``.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        return self.base_url + path

    def _target(self, path: str, host: str | None, kwargs: dict[str, Any]) -> str:
        """The URI to connect to; with ``host``, on a socket to the server under test.

        websockets sends ``Host`` from the URI, so a URI naming ``host`` over a
        socket opened here reaches this server as ``host``, without DNS.
        """
        url = self.url(path)
        if host is None:
            return url
        if "sock" in kwargs:
            raise TypeError("pass host= or sock=, not both")
        kwargs["sock"] = socket.create_connection((HOST, self.port), timeout=THREAD_TIMEOUT)
        return f"ws://{host}{path}"

    @staticmethod
    def _check(path: str, response: Response, status: int | None) -> Response:
        if status is not None and response.status_code != status:
            raise AssertionError(
                f"expected the handshake of {path} to be rejected with HTTP {status}, "
                f"got HTTP {response.status_code}"
            )
        return response

    @staticmethod
    def _accepted(path: str) -> AssertionError:
        return AssertionError(f"expected the handshake of {path} to be rejected; it was accepted")


class Client(_Base):
    """A client bound to the server that :func:`serve_for_test` started."""

    def connect(self, path: str = "/", *, host: str | None = None, **kwargs: Any) -> async_connect:
        """Open a connection to ``path``, with :func:`websockets.asyncio.client.connect`.

        Use it as ``async with client.connect("/rooms/1") as ws:`` or
        ``ws = await client.connect(...)``. Keyword arguments (``subprotocols``,
        ``additional_headers``...) pass through. ``host`` is the ``Host`` header
        to send, for routes with host patterns: ``host="acme.example.com"``.
        """
        target = self._target(path, host, kwargs)
        return async_connect(target, **kwargs)

    async def expect_rejection(
        self, path: str, *, status: int | None = None, **kwargs: Any
    ) -> Response:
        """Check that the handshake of ``path`` is refused; return the server's response.

        With ``status``, also check the status code::

            response = await client.expect_rejection("/secret", status=403)
            assert response.body == b"wrong token\\n"

        Raises:
            AssertionError: If the handshake succeeds, or ``status`` differs.
        """
        try:
            async with self.connect(path, **kwargs):
                pass
        except InvalidStatus as exc:
            return self._check(path, exc.response, status)
        raise self._accepted(path)


class SyncClient(_Base):
    """A client bound to the server that :func:`serve_for_test_sync` started."""

    def connect(
        self, path: str = "/", *, host: str | None = None, **kwargs: Any
    ) -> ClientConnection:
        """Open a connection to ``path``, with :func:`websockets.sync.client.connect`.

        Use it as ``with client.connect("/rooms/1") as ws:``. Keyword arguments
        pass through; ``host`` is as for :meth:`Client.connect`.
        """
        target = self._target(path, host, kwargs)
        connection: ClientConnection = sync_connect(target, **kwargs)
        return connection

    def expect_rejection(self, path: str, *, status: int | None = None, **kwargs: Any) -> Response:
        """Check that the handshake of ``path`` is refused; return the server's response.

        Raises:
            AssertionError: If the handshake succeeds, or ``status`` differs.
        """
        try:
            with self.connect(path, **kwargs):
                pass
        except InvalidStatus as exc:
            return self._check(path, exc.response, status)
        raise self._accepted(path)


def _check_kwargs(serve_kwargs: dict[str, Any]) -> None:
    for name in ("host", "port", "sock"):
        if name in serve_kwargs:
            raise TypeError(f"serve_for_test chooses the address; don't pass {name}=")


@contextlib.asynccontextmanager
async def serve_for_test(router: Router, **serve_kwargs: Any) -> AsyncIterator[Client]:
    """Serve ``router`` on 127.0.0.1 and a free port; yield a :class:`Client` bound to it.

    Keyword arguments go to :meth:`Router.serve <websockets_routes.Router.serve>`
    (``process_request``, ``max_size``...). When the block ends, however it ends,
    the server closes: open connections get close code 1001 and the port is
    released before the block's exception, if any, propagates.
    """
    _check_kwargs(serve_kwargs)
    server = await router.serve(HOST, 0, **serve_kwargs)
    try:
        yield Client(server)
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def serve_for_test_sync(router: Router, **serve_kwargs: Any) -> Iterator[SyncClient]:
    """Like :func:`serve_for_test`, for synchronous tests; yield a :class:`SyncClient`.

    The router is served by websockets' asyncio server (handlers stay
    ``async def``) in a background thread with its own event loop; the client
    uses :func:`websockets.sync.client.connect`. When the block ends, the server
    closes and the thread ends before the block's exception, if any, propagates.

    Raises:
        TimeoutError: If the server doesn't start or stop within 10 seconds.
    """
    _check_kwargs(serve_kwargs)
    started: Future[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], Server]] = Future()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()
        try:
            server = await router.serve(HOST, 0, **serve_kwargs)
        except BaseException as exc:
            started.set_exception(exc)
            return
        try:
            started.set_result((loop, stop, server))
            await stop
        finally:
            server.close()
            await server.wait_closed()

    thread = threading.Thread(
        target=asyncio.run, args=(run(),), name="serve_for_test_sync", daemon=True
    )
    thread.start()
    try:
        loop, stop, server = started.result(THREAD_TIMEOUT)
        yield SyncClient(server)
    finally:
        if started.done() and started.exception() is None:
            loop, stop, _ = started.result()
            loop.call_soon_threadsafe(_set_done, stop)
        thread.join(THREAD_TIMEOUT)
        if thread.is_alive():
            raise TimeoutError(f"the server didn't stop within {THREAD_TIMEOUT} seconds")


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
