"""Tests for the one handshake decision: a request in, a RoutedPath or a response out."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Response

from websockets_routes import RoutedPath, Router
from websockets_routes._handshake import decide

NO_HEADERS = Headers()


async def handler(ws: Any, path: RoutedPath) -> None:
    """A handler that does nothing; decide() never runs it."""


def make_router() -> Router:
    """A router with a plain route, a class view, an HTTP endpoint and a subprotocol route."""
    router = Router(redirect_slashes=True)
    router.route("/things/{id:int}", name="thing")(handler)
    router.route("/chat", subprotocols=["chat.v2", "chat.v1"])(handler)
    router.http("/healthz")(lambda path, headers: "ok")

    @router.route("/view")
    class View:
        created = 0

        def __init__(self) -> None:
            View.created += 1

        async def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    @router.route("/broken")
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("no database")

        async def handle(self, ws: Any, path: RoutedPath) -> None:
            pass

    return router


def status(result: RoutedPath | Response) -> int:
    """The response's status, failing the test if routing went on instead."""
    assert isinstance(result, Response), f"expected a response, got {result!r}"
    return result.status_code


@pytest.mark.parametrize(
    ("target", "headers", "expected"),
    [
        ("/nope", [], 404),
        ("/things/x", [], 404),
        ("/things/1/", [], 308),
        ("/things/%zz", [], 400),
        ("//evil", [], 400),
        ("/chat", [("Sec-WebSocket-Protocol", "other")], 400),
        ("/broken", [], 500),
    ],
)
def test_refusals(target: str, headers: list[tuple[str, str]], expected: int) -> None:
    """Every refusal is a response: 400, 404, a 308 redirect, 500 for a broken view."""
    assert status(decide(make_router(), target, Headers(headers))) == expected


def test_routed_path() -> None:
    """A match gives the RoutedPath: route, typed params, and the router being served."""
    router = make_router()
    result = decide(router, "/things/7?x=1", NO_HEADERS)
    assert isinstance(result, RoutedPath)
    assert result == "/things/7?x=1"
    assert result.route is router.get("thing")
    assert result.params == {"id": 7}
    assert result.router is router


def test_view_is_created_once_per_decision() -> None:
    """A class view's instance is made during the decision, one per request."""
    router = make_router()
    first = decide(router, "/view", NO_HEADERS)
    second = decide(router, "/view", NO_HEADERS)
    assert isinstance(first, RoutedPath)
    assert isinstance(second, RoutedPath)
    view_class = router.get("View")
    assert view_class is not None
    assert type(first.view) is view_class.endpoint
    assert first.view is not second.view


def test_broken_view_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A view that can't be created answers 500 and logs the route, not the client."""
    with caplog.at_level(logging.ERROR, "websockets_routes"):
        response = decide(make_router(), "/broken", NO_HEADERS)
    assert status(response) == 500
    assert isinstance(response, Response)
    assert b"no database" not in (response.body or b"")
    [record] = caplog.records
    assert "'Broken'" in record.getMessage()


@pytest.mark.parametrize(
    ("offered", "routed"),
    [
        ([("Sec-WebSocket-Protocol", "chat.v1")], True),
        ([("Sec-WebSocket-Protocol", "x, chat.v2")], True),
        ([("Sec-WebSocket-Protocol", "x"), ("Sec-WebSocket-Protocol", "chat.v1")], True),
        ([], False),
        # A malformed header is websockets' to refuse, with its own 400.
        ([("Sec-WebSocket-Protocol", "a b")], True),
    ],
)
def test_subprotocols(offered: list[tuple[str, str]], routed: bool) -> None:
    """A route that requires subprotocols is refused when the client offers none of them."""
    result = decide(make_router(), "/chat", Headers(offered))
    assert isinstance(result, RoutedPath) is routed
    if not routed:
        assert isinstance(result, Response)
        assert b"chat.v2, chat.v1" in (result.body or b"")


def test_after_the_handshake() -> None:
    """As a plain handler: no redirect, no subprotocol check, HTTP endpoints not found."""
    router = make_router()
    assert status(decide(router, "/things/1/", NO_HEADERS, handshake=False)) == 404
    assert status(decide(router, "/healthz", NO_HEADERS, handshake=False)) == 404
    assert isinstance(decide(router, "/chat", NO_HEADERS, handshake=False), RoutedPath)
    assert isinstance(decide(router, "/healthz", NO_HEADERS), RoutedPath)


def test_included_routes_are_decided_by_the_served_router() -> None:
    """A route declared on an included router routes with the including router as router."""
    child = Router()
    child.route("/room", name="room")(handler)
    app = Router()
    app.include(child, "/chat", namespace="chat")
    result = decide(app, "/chat/room", NO_HEADERS)
    assert isinstance(result, RoutedPath)
    assert result.router is app
    assert result.route is app.get("chat:room")


# HTTP methods, and an HTTP endpoint beside a WebSocket route.

UPGRADE = [("Upgrade", "websocket"), ("Connection", "Upgrade")]


def methods_router() -> Router:
    """A page and a socket on /chat, a GET+POST endpoint, and a socket alone on /ws."""
    router = Router()
    router.route("/chat", name="chat_socket")(handler)
    router.http("/chat", name="chat_page")(lambda path, headers: "page")
    router.http("/form", name="form", methods=["GET", "POST"])(lambda path, headers: "form")
    router.route("/ws", name="ws")(handler)
    return router


@pytest.mark.parametrize(
    ("target", "method", "headers", "expected"),
    [
        ("/chat", "GET", UPGRADE, "chat_socket"),
        ("/chat", "GET", [("Upgrade", "WebSocket")], "chat_socket"),
        ("/chat", "GET", [("Upgrade", "h2c, websocket")], "chat_socket"),
        ("/chat", "GET", [], "chat_page"),
        ("/chat", "GET", [("Upgrade", "h2c")], "chat_page"),
        ("/chat", "HEAD", [], "chat_page"),
        ("/chat", "POST", [], (405, "GET, HEAD")),
        ("/chat", "POST", UPGRADE, (405, "GET, HEAD")),
        ("/chat", "HEAD", UPGRADE, (405, "GET, HEAD")),
        ("/form", "POST", [], "form"),
        ("/form", "GET", [], "form"),
        ("/form", "HEAD", [], "form"),
        ("/form", "PUT", [], (405, "GET, HEAD, POST")),
        ("/form", "DELETE", UPGRADE, (405, "GET, HEAD, POST")),
        ("/ws", "GET", UPGRADE, "ws"),
        ("/ws", "GET", [], "ws"),  # websockets answers 426 Upgrade Required itself
        ("/ws", "POST", UPGRADE, (405, "GET")),
        ("/ws", "OPTIONS", [], (405, "GET")),
        ("/nope", "POST", [], (404, None)),
    ],
)
def test_methods_and_upgrade(
    target: str, method: str, headers: list[tuple[str, str]], expected: Any
) -> None:
    """Upgrade picks the WebSocket route or the endpoint; other methods get 405 with Allow."""
    result = decide(methods_router(), target, Headers(headers), method=method)
    if isinstance(expected, str):
        assert isinstance(result, RoutedPath)
        assert result.route.name == expected
        assert result.method == method
    else:
        assert isinstance(result, Response)
        assert (result.status_code, result.headers.get("Allow")) == expected


@pytest.mark.parametrize(("target", "status_code"), [("/nope", 404), ("/ws", 405), ("//x", 400)])
def test_head_refusals_have_no_body(target: str, status_code: int) -> None:
    """A HEAD request gets the refusal's status and headers, without its body."""
    response = decide(methods_router(), target, NO_HEADERS, method="HEAD")
    assert isinstance(response, Response)
    assert response.status_code == status_code
    assert response.body == b""
    # Content-Length is that of the body the same refusal has for another method.
    other = decide(methods_router(), target, NO_HEADERS, method="PUT")
    assert isinstance(other, Response)
    assert response.headers["Content-Length"] == str(len(other.body or b""))


def test_plain_handler_takes_the_websocket_twin() -> None:
    """As a plain handler, a path shared with an HTTP endpoint goes to the WebSocket route."""
    result = decide(methods_router(), "/chat", NO_HEADERS, handshake=False)
    assert isinstance(result, RoutedPath)
    assert result.route.name == "chat_socket"


# The Host header.


class RecordingHeaders(Headers):
    """Headers that remember which names were read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get_all(self, key: str) -> list[str]:
        self.read.add(key.lower())
        return super().get_all(key)

    def __getitem__(self, key: str) -> str:
        self.read.add(key.lower())
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key).lower())
        return super().__contains__(key)


def hosted_router() -> Router:
    """A router with a route by tenant and one on any host."""
    router = Router()
    router.route("/rooms/{room}", name="tenant_room", host="{tenant}.example.com")(handler)
    router.route("/status", name="status")(handler)
    return router


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["acme.example.com"], ("tenant_room", {"tenant": "acme", "room": "a"})),
        (["Acme.Example.Com:443"], ("tenant_room", {"tenant": "acme", "room": "a"})),
        (["example.com"], 404),
        ([], 400),
        (["acme.example.com", "acme.example.com"], 400),
        (["acme.example.com", "other.example.com"], 400),
        ([""], 400),
        (["acme.example.com/x"], 400),
        (["acme.example.com:x"], 400),
        (["acme example.com"], 400),
    ],
)
def test_host_decides(hosts: list[str], expected: Any) -> None:
    """With host patterns, one valid Host routes; missing, repeated or malformed gets 400."""
    headers = Headers([("Host", host) for host in hosts])
    for handshake in (True, False):
        result = decide(hosted_router(), "/rooms/a", headers, handshake=handshake)
        if isinstance(expected, int):
            assert status(result) == expected
            if expected == 400:
                assert isinstance(result, Response)
                assert b"Host header" in (result.body or b"")
        else:
            assert isinstance(result, RoutedPath)
            assert (result.route.name, result.params) == expected


def test_bad_host_refused_even_for_routes_on_any_host() -> None:
    """On a router with host patterns, a bad Host gets 400 on every path."""
    result = decide(hosted_router(), "/status", Headers([("Host", "a b")]))
    assert status(result) == 400
    result = decide(hosted_router(), "/status", Headers())
    assert status(result) == 400


@pytest.mark.parametrize("target", ["/things/7", "/chat", "/healthz", "/nope", "//x", "/things/1/"])
def test_router_without_host_patterns_never_reads_host(target: str) -> None:
    """A router without host patterns decides without reading Host, whatever it is."""
    headers = RecordingHeaders([("Host", "not a host"), ("Host", "twice")])
    decide(make_router(), target, headers)
    decide(make_router(), target, headers, handshake=False)
    assert "host" not in headers.read
    headers = RecordingHeaders([("Host", "acme.example.com")])
    decide(hosted_router(), "/rooms/a", headers)
    assert "host" in headers.read
