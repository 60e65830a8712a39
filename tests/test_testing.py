"""The test helpers of websockets_routes.testing, used the way docs/testing.md shows."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Coroutine
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from websockets_routes import RoutedPath, Router
from websockets_routes.testing import serve_for_test, serve_for_test_sync

T = TypeVar("T")
TIMEOUT = 10.0


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` in a fresh event loop, bounded by a timeout."""

    async def bounded() -> T:
        async with asyncio.timeout(TIMEOUT):
            return await coroutine

    return asyncio.run(bounded())


def make_router() -> Router:
    """The router of docs/testing.md: a detail route and a guarded route."""
    router = Router()

    @router.route("/thing/{id:int}")
    async def thing(ws: Any, path: RoutedPath) -> None:
        await ws.send(f"thing {path.params['id']}")
        async for message in ws:
            await ws.send(message)

    def token_required(path: RoutedPath, headers: Headers) -> Any:
        if path.query.get("token") != "open":
            return (403, [], "wrong token\n")
        return None

    @router.route("/secret", hooks=[token_required])
    async def secret(ws: Any, path: RoutedPath) -> None:
        await ws.send("welcome")

    return router


def assert_port_closed(port: int) -> None:
    """Nothing listens on 127.0.0.1:``port`` any more."""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()


def test_serve_for_test_connects_to_routes() -> None:
    """serve_for_test yields a client whose connect() reaches the router's routes."""

    async def scenario() -> None:
        async with serve_for_test(make_router()) as client, client.connect("/thing/1") as ws:
            assert await ws.recv() == "thing 1"
            await ws.send("ping")
            assert await ws.recv() == "ping"

    run(scenario())


def test_serve_for_test_client_knows_its_address() -> None:
    """The client gives its port and the ws:// URL of a path on 127.0.0.1."""

    async def scenario() -> None:
        async with serve_for_test(make_router()) as client:
            assert client.port > 0
            assert client.url("/thing/1?x=1") == f"ws://127.0.0.1:{client.port}/thing/1?x=1"
            assert client.server.sockets[0].getsockname()[1] == client.port
            with pytest.raises(ValueError, match="must start with '/'"):
                client.url("thing/1")

    run(scenario())


def test_serve_for_test_passes_connect_arguments_through() -> None:
    """Keyword arguments of client.connect() go to websockets' connect()."""

    async def scenario() -> None:
        async with (
            serve_for_test(make_router()) as client,
            client.connect("/thing/2", additional_headers={"X-Test": "yes"}) as ws,
        ):
            assert ws.request is not None
            assert ws.request.headers["X-Test"] == "yes"

    run(scenario())


def test_serve_for_test_passes_serve_arguments_through() -> None:
    """Keyword arguments of serve_for_test() go to router.serve()."""
    seen: list[str] = []

    def process_request(connection: Any, request: Any) -> None:
        seen.append(request.path)

    async def scenario() -> None:
        async with (
            serve_for_test(make_router(), process_request=process_request) as client,
            client.connect("/thing/3") as ws,
        ):
            await ws.recv()

    run(scenario())
    assert seen == ["/thing/3"]


def test_serve_for_test_refuses_an_address() -> None:
    """serve_for_test picks the address itself: host, port or sock are refused."""

    async def scenario() -> None:
        with pytest.raises(TypeError, match="don't pass port="):
            async with serve_for_test(make_router(), port=8765):
                pass

    run(scenario())


def test_expect_rejection_returns_the_response() -> None:
    """expect_rejection returns the refusal; with status= it checks the code."""

    async def scenario() -> None:
        async with serve_for_test(make_router()) as client:
            response = await client.expect_rejection("/nope")
            assert response.status_code == 404
            response = await client.expect_rejection("/secret", status=403)
            assert response.body == b"wrong token\n"
            async with client.connect("/secret?token=open") as ws:
                assert await ws.recv() == "welcome"

    run(scenario())


def test_expect_rejection_fails_on_accepted_handshake_or_other_status() -> None:
    """expect_rejection raises AssertionError if the handshake succeeds or the status differs."""

    async def scenario() -> None:
        async with serve_for_test(make_router()) as client:
            with pytest.raises(AssertionError, match="it was accepted"):
                await client.expect_rejection("/thing/1")
            with pytest.raises(AssertionError, match="with HTTP 400, got HTTP 404"):
                await client.expect_rejection("/nope", status=400)

    run(scenario())


def test_serve_for_test_closes_everything_when_the_test_fails() -> None:
    """An exception in the block propagates; the server is closed and open connections get 1001."""

    async def scenario() -> tuple[int, int | None]:
        with pytest.raises(RuntimeError, match="the test failed"):  # noqa: PT012
            async with serve_for_test(make_router()) as client:
                port = client.port
                ws = await client.connect("/thing/1")
                await ws.recv()
                raise RuntimeError("the test failed")
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        return port, caught.value.rcvd.code if caught.value.rcvd is not None else None

    port, code = run(scenario())
    assert code == 1001
    assert_port_closed(port)


def test_serve_for_test_sync_connects_to_routes() -> None:
    """serve_for_test_sync serves in a thread; its client connects with the sync API."""
    with serve_for_test_sync(make_router()) as client:
        with client.connect("/thing/7") as ws:
            assert ws.recv(timeout=TIMEOUT) == "thing 7"
            ws.send("ping")
            assert ws.recv(timeout=TIMEOUT) == "ping"
        assert client.url("/x") == f"ws://127.0.0.1:{client.port}/x"
        assert client.expect_rejection("/secret", status=403).body == b"wrong token\n"
        with pytest.raises(AssertionError, match="it was accepted"):
            client.expect_rejection("/thing/1")


def tenant_router() -> Router:
    """A route on ``{tenant}.example.com`` that says which tenant and host it saw."""
    router = Router()

    @router.route("/rooms/{room}", host="{tenant}.example.com")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.send(f"{path.params['tenant']} {path.host}")

    return router


def test_connect_with_host() -> None:
    """client.connect(host=...) sends that Host to the server under test, without DNS."""

    async def scenario() -> None:
        async with serve_for_test(tenant_router()) as client:
            async with client.connect("/rooms/a", host="acme.example.com") as ws:
                assert await ws.recv() == "acme acme.example.com"
            async with client.connect("/rooms/a", host="globex.example.com:8443") as ws:
                assert await ws.recv() == "globex globex.example.com"
            await client.expect_rejection("/rooms/a", status=404)
            await client.expect_rejection("/rooms/a", host="example.com", status=404)
            with pytest.raises(TypeError, match="pass host= or sock=, not both"):
                client.connect("/rooms/a", host="acme.example.com", sock=object())

    run(scenario())


def test_sync_connect_with_host() -> None:
    """The sync client's connect(host=...) sends that Host too."""
    with serve_for_test_sync(tenant_router()) as client:
        with client.connect("/rooms/a", host="acme.example.com") as ws:
            assert ws.recv(timeout=TIMEOUT) == "acme acme.example.com"
        assert client.expect_rejection("/rooms/a", host="x.example.org").status_code == 404


def test_serve_for_test_sync_closes_everything_when_the_test_fails() -> None:
    """An exception in the sync block propagates after the server closed; open clients get 1001."""
    port = 0
    with ExitStack() as connections:
        with (  # noqa: PT012
            pytest.raises(RuntimeError, match="the test failed"),
            serve_for_test_sync(make_router()) as client,
        ):
            port = client.port
            ws = connections.enter_context(client.connect("/thing/1"))
            ws.recv(timeout=TIMEOUT)
            raise RuntimeError("the test failed")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=TIMEOUT)
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1001
    assert_port_closed(port)


def test_serve_for_test_sync_reports_startup_errors() -> None:
    """A router the server refuses raises in the test's thread, and no thread is left behind."""
    router = Router()

    @router.route("/sync")
    def not_async(ws: Any, path: RoutedPath) -> None:
        pass

    with pytest.raises(TypeError, match="coroutine function"), serve_for_test_sync(router):
        pass  # pragma: no cover


def test_docs_examples_run() -> None:
    """Every test in docs/testing.md passes as written."""
    docs = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
    namespace: dict[str, Any] = {}
    for block in re.findall(r"```python\n(.*?)```", docs.read_text(), re.DOTALL):
        exec(block, namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 4
    for test in tests:
        test()
