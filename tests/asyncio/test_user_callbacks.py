"""The user's own process_request, process_response, select_subprotocol and create_connection."""

from __future__ import annotations

import http
import json

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from websockets_routes import Router
from websockets_routes.asyncio import RoutedConnection

from .helpers import reply, routed


def app(calls: list[str]) -> Router:
    """A router with a hook and a route that reports the calls made so far."""
    router = Router()

    @router.hook
    def hook(path, headers):
        calls.append("hook")

    @router.route("/thing/{id:int}")
    async def thing(ws, path):
        calls.append("handler")
        await reply(ws, json.dumps(calls))

    @router.route("/chat", subprotocols=["chat"])
    async def chat(ws, path):
        await reply(ws, str(ws.subprotocol))

    return router


async def rejection(url: str, **kwargs):
    """Connect expecting an HTTP rejection; return the response."""
    with pytest.raises(InvalidStatus) as exc_info:
        async with connect(url, **kwargs):
            pass
    return exc_info.value.response


@pytest.mark.parametrize("asynchronous", [False, True], ids=["def", "async"])
async def test_user_process_request_runs_first_and_wins(asynchronous):
    """The user's process_request runs before routing, and its response wins."""
    calls: list[str] = []

    def check(connection, request):
        calls.append("user")
        assert isinstance(connection, ServerConnection)
        if request.path.startswith("/thing/666") or request.path == "/custom":
            return connection.respond(http.HTTPStatus.FORBIDDEN, "user says no\n")
        return None

    async def check_async(connection, request):
        return check(connection, request)

    process_request = check_async if asynchronous else check
    async with routed(app(calls), process_request=process_request) as url:
        async with connect(url + "/thing/1") as ws:
            assert json.loads(await ws.recv()) == ["user", "hook", "handler"]
        calls.clear()
        # Its response wins over a route that would match...
        response = await rejection(url + "/thing/666")
        assert (response.status_code, response.body) == (403, b"user says no\n")
        # ... and over the 404 of a path no route matches.
        response = await rejection(url + "/custom")
        assert (response.status_code, response.body) == (403, b"user says no\n")
        assert calls == ["user", "user"]
        # When it lets a request through, routing still answers 404.
        response = await rejection(url + "/nothing")
        assert response.status_code == 404


async def test_user_process_response():
    """The user's process_response sees and changes routed and rejected responses."""
    seen: list[int] = []

    def process_response(connection, request, response):
        seen.append(response.status_code)
        response.headers["X-Seen"] = "yes"

    async with routed(app([]), process_response=process_response) as url:
        async with connect(url + "/thing/1") as ws:
            assert ws.response.headers["X-Seen"] == "yes"
        response = await rejection(url + "/nothing")
        assert response.headers["X-Seen"] == "yes"
    assert seen == [101, 404]


async def test_user_select_subprotocol():
    """The user's select_subprotocol chooses for routes that declare no subprotocols."""
    offers: list[list[str]] = []

    def select_subprotocol(connection, subprotocols):
        offers.append(list(subprotocols))
        return "mine" if "mine" in subprotocols else None

    async with routed(app([]), select_subprotocol=select_subprotocol) as url:
        async with connect(url + "/thing/1", subprotocols=["other", "mine"]) as ws:
            assert ws.subprotocol == "mine"
        async with connect(url + "/thing/1", subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
        # A route with its own subprotocols negotiates them itself.
        async with connect(url + "/chat", subprotocols=["mine", "chat"]) as ws:
            assert ws.subprotocol == "chat"
    assert offers == [["other", "mine"], ["other"]]


class MyConnection(ServerConnection):
    """A user's connection class that overrides send and adds a method."""

    async def send(self, message, *args, **kwargs):
        if isinstance(message, str):
            message = "my:" + message
        await super().send(message, *args, **kwargs)

    def greeting(self) -> str:
        return "hello"


@pytest.mark.parametrize("routed_base", [False, True], ids=["plain", "RoutedConnection"])
async def test_create_connection(routed_base):
    """Routed connections are instances of the user's create_connection, overrides included."""
    connection_class = (
        type("MyRoutedConnection", (MyConnection, RoutedConnection), {})
        if routed_base
        else MyConnection
    )
    router = Router()
    seen: list[object] = []

    @router.route("/me/{id:int}")
    async def me(ws, path):
        seen.append(ws)
        assert isinstance(ws, connection_class)
        assert ws.routed_path == path
        await reply(ws, ws.greeting())

    async with routed(router, create_connection=connection_class) as url:
        async with connect(url + "/me/1") as ws:
            assert await ws.recv() == "my:hello"
        response = await rejection(url + "/nothing")
        assert response.status_code == 404
    assert len(seen) == 1
    assert isinstance(seen[0], connection_class)
    if routed_base:
        assert type(seen[0]) is connection_class


async def test_handler_gets_websockets_connection():
    """Handlers get websockets' own ServerConnection, with the routed path kept on it."""
    router = Router()

    @router.route("/x/{n:int}")
    async def x(ws, path):
        assert isinstance(ws, ServerConnection)
        assert ws.request.path == path
        assert ws.routed_path is path
        await reply(ws, "checked")

    async with routed(router) as url, connect(url + "/x/3") as ws:
        assert await ws.recv() == "checked"


async def test_user_process_request_accepting_by_itself():
    """A handshake the user's process_request accepts itself is routed as by the plain handler."""
    router = Router()

    @router.route("/thing/{id:int}")
    async def thing(ws, path):
        await reply(ws, json.dumps(path.params))

    def accept_everything(connection, request):
        return connection.protocol.accept(request)

    async with routed(router, process_request=accept_everything) as url:
        async with connect(url + "/thing/5") as ws:
            assert json.loads(await ws.recv()) == {"id": 5}
        async with connect(url + "/nothing") as ws:
            with pytest.raises(ConnectionClosed) as exc_info:
                await ws.recv()
        assert exc_info.value.rcvd is not None
        assert exc_info.value.rcvd.code == 4040


async def test_connection_class_derived_once():
    """Serving twice with one create_connection class reuses one routed subclass of it."""
    router = Router()
    types: list[type] = []

    @router.route("/t")
    async def t(ws, path):
        types.append(type(ws))
        await reply(ws, "ok")

    for _ in range(2):
        async with (
            routed(router, create_connection=MyConnection) as url,
            connect(url + "/t") as ws,
        ):
            assert await ws.recv() == "my:ok"
    assert types[0] is types[1]
    assert issubclass(types[0], MyConnection)
    assert issubclass(types[0], RoutedConnection)
