"""Routing features on every adapter: converter arguments, `path` in the middle, slashes,
handler names, host routing, and HTTP endpoints beside WebSocket routes.

Each test runs on the asyncio API, the legacy API, threads and trio; those about the
handshake alone (HTTP endpoints, methods) run with routing in the handshake, the
others with the router as a plain handler too.
"""

from __future__ import annotations

import functools
import inspect
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import websockets.http11

from tests.robustness.probe import Outcome, Servers, probe, read_outcome
from websockets_routes import RoutedPath, Router

from .helpers import TIMEOUT, Adapter, conversation

#: websockets 17.0 passes requests of every method to process_request; earlier
#: releases, and the legacy API, refuse other methods than GET in their parser.
PASSES_METHODS = "method" in inspect.signature(websockets.http11.Request).parameters


def facts(path: RoutedPath) -> list[str]:
    """The route's name and the parameters, as JSON: what a handler saw."""
    return [json.dumps([path.route.name, path.params, path.host], default=str)]


def greeting(adapter: Adapter) -> Any:
    """A handler taking a third argument, to be bound with functools.partial."""
    if adapter.asynchronous:

        async def greet(ws: Any, path: RoutedPath, word: str) -> None:
            await ws.send(word)

        return greet

    def greet_sync(ws: Any, path: RoutedPath, word: str) -> None:
        ws.send(word)

    return greet_sync


def callable_object(adapter: Adapter) -> Any:
    """A callable object handler, named after its class."""
    if adapter.asynchronous:

        class Greeter:
            async def __call__(self, ws: Any, path: RoutedPath) -> None:
                await ws.send("object")

        return Greeter()

    class SyncGreeter:
        def __call__(self, ws: Any, path: RoutedPath) -> None:
            ws.send("object")

    return SyncGreeter()


def features_router(adapter: Adapter, calls: list[str]) -> Router:
    """Routes with converter arguments, a `path` in the middle, hosts, and HTTP endpoints."""
    router = Router(strict_slashes=False)
    say = adapter.handler(facts)
    router.route("/known", name="known")(adapter.handler(lambda path: ["ok"]))
    router.route("/pages/{page:int(min=1, max=500)}", name="page")(say)
    router.route("/codes/{code:str(length=4)}", name="code")(say)
    router.route("/lang/{lang:any('en', 'fr')}", name="lang")(say)
    router.route("/files/{p:path}/raw", name="raw")(say)
    router.route("/files/{p:path}", name="browse")(say)
    router.route("/rooms/{room}", name="tenant_room", host="{tenant}.example.com")(say)
    router.route("/rooms/{room}", name="admin_room", host="admin.example.com")(say)
    router.route("/rooms/{room}", name="any_room")(say)
    router.route("/partial")(functools.partial(greeting(adapter), word="partial"))
    router.route("/object")(callable_object(adapter))
    api = Router()
    api.route("/status", name="status")(say)
    router.include(api, "/api", namespace="api", host="{region}.api.example.com")
    hook = adapter.hook(lambda path, headers: None)

    @router.http("/chat", hooks=[hook])
    def chat_page(path: RoutedPath, headers: Any) -> str:
        return f"page {path.method}\n"

    router.route("/chat", name="chat_socket")(adapter.handler(lambda path: ["socket"]))

    @router.http("/form", methods=["GET", "POST"])
    def form(path: RoutedPath, headers: Any) -> str:
        return f"form {path.method}\n"

    return router


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """Servers of :func:`features_router`, shared by this module's tests."""
    with Servers(features_router, "/known", "ok") as shared:
        yield shared


def routed(outcome: Outcome) -> tuple[str, dict[str, Any], str | None]:
    """The route name, parameters and host a handler reported, after a 101 and close 1000."""
    assert outcome.short == (101, 1000), outcome
    [message] = outcome.messages
    name, params, host = json.loads(message)
    return name, params, host


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/pages/1", ("page", {"page": 1})),
        ("/pages/500", ("page", {"page": 500})),
        ("/pages/0", None),
        ("/pages/501", None),
        ("/codes/AB12", ("code", {"code": "AB12"})),
        ("/codes/AB1", None),
        ("/lang/fr", ("lang", {"lang": "fr"})),
        ("/lang/de", None),
        ("/files/a/b/raw", ("raw", {"p": "a/b"})),
        ("/files/a/raw/raw", ("raw", {"p": "a/raw"})),
        ("/files/a/b", ("browse", {"p": "a/b"})),
        ("/files/raw", ("browse", {"p": "raw"})),
        # strict_slashes=False: a path missing only by its trailing slash matches.
        ("/pages/7/", ("page", {"page": 7})),
        ("/files/a/raw/", ("raw", {"p": "a"})),
    ],
)
def test_patterns_on_every_adapter(
    adapter: Adapter, plain: bool, servers: Servers, target: str, expected: Any
) -> None:
    """Converter arguments, `path` in the middle and non-strict slashes route the same on
    every server; a value out of bounds is not found."""
    running, _ = servers.get(adapter, plain)
    outcome = probe(running.port, target)
    if expected is None:
        assert outcome.short == ((101, 4040) if plain else (404, None))
    else:
        assert routed(outcome)[:2] == (*expected,)


@pytest.mark.parametrize(("target", "message"), [("/partial", "partial"), ("/object", "object")])
def test_partial_and_callable_object_handlers(
    adapter: Adapter, plain: bool, servers: Servers, target: str, message: str
) -> None:
    """A functools.partial and a callable object are handlers, named without name=."""
    running, _ = servers.get(adapter, plain)
    assert conversation(running.port, target) == ([message], 1000)


def test_partial_and_callable_object_names() -> None:
    """The partial is named after its function, the object after its class."""
    router = features_router(Adapter("asyncio"), [])
    assert router.get("greet") is not None
    assert router.get("Greeter") is not None


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [
        ("/rooms/a", "acme.example.com", ("tenant_room", {"tenant": "acme", "room": "a"})),
        ("/rooms/a", "ACME.example.com:8765", ("tenant_room", {"tenant": "acme", "room": "a"})),
        ("/rooms/a", "admin.example.com", ("admin_room", {"room": "a"})),
        ("/rooms/a", "localhost", ("any_room", {"room": "a"})),
        ("/api/status", "eu.api.example.com", ("api:status", {"region": "eu"})),
        ("/api/status", "example.com", 404),
        ("/rooms/a", None, 400),
        ("/rooms/a", ["acme.example.com", "acme.example.com"], 400),
        ("/rooms/a", ["acme.example.com", "evil.example.com"], 400),
        ("/rooms/a", "", 400),
        ("/rooms/a", "acme.example.com/x", 400),
        ("/rooms/a", "acme.example.com:http", 400),
        ("/rooms/a", "acme..example.com", 400),
        ("/known", "a b", 400),
    ],
)
def test_host_routing(
    adapter: Adapter, plain: bool, servers: Servers, target: str, host: Any, expected: Any
) -> None:
    """Routes by host on every server: host parameters in path.params; a missing, repeated
    or malformed Host gets 400 (close 4000 from a plain handler), never a match."""
    running, _ = servers.get(adapter, plain)
    outcome = probe(running.port, target, host=host)
    if expected == 400:
        assert outcome.short == ((101, 4000) if plain else (400, None))
        assert b"Host header" in outcome.body or plain
    elif expected == 404:
        assert outcome.short == ((101, 4040) if plain else (404, None))
    else:
        name, params, routed_host = routed(outcome)
        assert (name, params) == expected
        assert routed_host == host.lower().partition(":")[0]


# HTTP endpoints: with routing in the handshake only.


def http_request(port: int, method: str, target: str, upgrade: bool = False) -> Outcome:
    """Send a plain HTTP request (or, with ``upgrade``, a WebSocket handshake) and read
    the answer."""
    if upgrade:
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n"
        )
    else:
        request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request.encode())
        return read_outcome(sock)


def test_http_endpoint_beside_websocket_route(adapter: Adapter, servers: Servers) -> None:
    """On one path, a plain GET gets the HTTP endpoint, a WebSocket handshake the route."""
    running, _ = servers.get(adapter, False)
    page = http_request(running.port, "GET", "/chat")
    assert (page.status, page.body) == (200, b"page GET\n")
    socket_ = http_request(running.port, "GET", "/chat", upgrade=True)
    assert (socket_.short, socket_.messages) == ((101, 1000), ["socket"])
    assert conversation(running.port, "/chat") == (["socket"], 1000)


@pytest.mark.parametrize(
    ("method", "target", "status", "allow", "body"),
    [
        ("POST", "/form", 200, None, b"form POST\n"),
        ("PUT", "/form", 405, "GET, HEAD, POST", b"Method Not Allowed\n"),
        ("DELETE", "/chat", 405, "GET, HEAD", b"Method Not Allowed\n"),
        ("POST", "/known", 405, "GET", b"Method Not Allowed\n"),
        ("HEAD", "/form", 200, None, b""),
        ("HEAD", "/chat", 200, None, b""),
        ("HEAD", "/nowhere", 404, None, b""),
    ],
)
def test_http_methods(
    adapter: Adapter,
    servers: Servers,
    method: str,
    target: str,
    status: int,
    allow: str | None,
    body: bytes,
) -> None:
    """Endpoints answer the methods they declare, HEAD without a body, others 405 with Allow,
    where websockets lets other methods than GET through: 17.0 and later, current API. Before,
    and on the legacy API, websockets refuses them in its HTTP parser, before routing."""
    running, _ = servers.get(adapter, False)
    outcome = http_request(running.port, method, target)
    if adapter.name == "legacy":
        # The legacy parser answers 400 with its own reason.
        assert outcome.status == 400
        assert b"unsupported HTTP method" in outcome.body
    elif not PASSES_METHODS:
        # websockets < 17.0 closes the connection without an answer.
        assert outcome.status is None
    else:
        assert (outcome.status, outcome.body) == (status, body)
        assert (outcome.header("Allow") or [None]) == [allow]
        if method == "HEAD" and status == 200:
            # The headers of the response the endpoint gave, which knew it was HEAD.
            length = len(b"page HEAD\n" if target == "/chat" else b"form HEAD\n")
            assert outcome.header("Content-Length") == [str(length)]
    # Whatever the answer, the server goes on.
    assert http_request(running.port, "GET", "/form").body == b"form GET\n"


def test_request_body_is_refused_by_websockets(adapter: Adapter, servers: Servers) -> None:
    """websockets' parser refuses a request with a body before routing: a POST endpoint
    gets only bodiless requests (the legacy parser refuses the method already)."""
    running, _ = servers.get(adapter, False)
    request = b"POST /form HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nab"
    with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        outcome = read_outcome(sock)
    assert outcome.status == (400 if adapter.name == "legacy" else None)
    assert http_request(running.port, "GET", "/form").body == b"form GET\n"
