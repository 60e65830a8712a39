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
