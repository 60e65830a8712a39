"""Every row of DESIGN.md's "what every situation gets" table, on every adapter.

Each test runs on the asyncio API, the legacy API, threads and trio, and where
the table has two columns, both with routing in the handshake and with the
router as a plain connection handler.
"""

from __future__ import annotations

import http
import inspect
import json
import logging
from typing import Any

import pytest
import websockets.sync.server
from websockets.exceptions import ConnectionClosed

from websockets_routes import RoutedPath, Router

from .helpers import (
    TIMEOUT,
    Adapter,
    Running,
    client,
    conversation,
    error_records,
    raw_handshake,
    rejection,
)


def known_router(adapter: Adapter) -> Router:
    """A router with one route, ``/known``, whose handler says "ok" and returns."""
    router = Router()
    router.route("/known", name="known")(adapter.handler(lambda path: ["ok"]))
    return router


def assert_still_serving(running: Running) -> None:
    """The server still routes ``/known`` to its handler."""
    assert conversation(running.port, "/known") == (["ok"], 1000)


def test_no_route(adapter: Adapter, plain: bool) -> None:
    """A path no route matches gets HTTP 404, or close 4040 from a plain handler."""
    with adapter.serve(known_router(adapter), plain=plain) as running:
        if plain:
            assert conversation(running.port, "/unknown") == ([], 4040)
        else:
            assert rejection(running.port, "/unknown")[0] == 404
        assert_still_serving(running)


@pytest.mark.parametrize("target", ["/known/%ZZ", "/a/..%2F..%2Fetc", "//known"])
def test_bad_target(adapter: Adapter, plain: bool, target: str) -> None:
    """A target breaking the decoding rules gets HTTP 400, or close 4000 from a plain handler."""
    with adapter.serve(known_router(adapter), plain=plain) as running:
        expected = (101, 4000) if plain else (400, None)
        assert raw_handshake(running.port, target) == expected
        assert_still_serving(running)


def test_hook_returns_a_response(adapter: Adapter, plain: bool) -> None:
    """A hook's response answers the handshake unchanged, or closes with its status x 10."""
    router = known_router(adapter)

    def guard(path: RoutedPath, headers: Any) -> Any:
        if path.params["who"] == "friend":
            return None
        return (http.HTTPStatus.FORBIDDEN, [("X-Reason", "not a friend")], "go away\n")

    router.route("/door/{who}", name="door", hooks=[adapter.hook(guard)])(
        adapter.handler(lambda path: [f"welcome, {path.params['who']}"])
    )
    with adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/door/friend") == (["welcome, friend"], 1000)
        if plain:
            assert conversation(running.port, "/door/stranger") == ([], 4030)
        else:
            with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
                client(running.port, "/door/stranger")
            response = caught.value.response
            assert (response.status_code, response.body) == (403, b"go away\n")
            assert response.headers["X-Reason"] == "not a friend"
        assert_still_serving(running)


def test_hook_returns_an_unnamed_status(adapter: Adapter) -> None:
    """A status the standard library doesn't name (499) is sent as is; legacy sends 400."""
    router = known_router(adapter)

    def guard(path: RoutedPath, headers: Any) -> Any:
        return (499, [], "client closed request\n")

    router.route("/gone", name="gone", hooks=[adapter.hook(guard)])(
        adapter.handler(lambda path: ["never"])
    )
    with adapter.serve(router, plain=False) as running:
        with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
            client(running.port, "/gone")
        response = caught.value.response
        expected = 400 if adapter.name == "legacy" else 499
        assert (response.status_code, response.body) == (expected, b"client closed request\n")
        assert_still_serving(running)


def test_hook_raises(adapter: Adapter, plain: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A hook that raises gives HTTP 500 with a generic body, or close 1011; logged once."""
    router = known_router(adapter)

    def broken(path: RoutedPath, headers: Any) -> Any:
        raise RuntimeError("secret detail")

    router.route("/broken", name="broken_door", hooks=[adapter.hook(broken)])(
        adapter.handler(lambda path: ["unreachable"])
    )
    with caplog.at_level(logging.ERROR), adapter.serve(router, plain=plain) as running:
        if plain:
            assert conversation(running.port, "/broken") == ([], 1011)
        else:
            status, body = rejection(running.port, "/broken")
            assert status == 500
            assert b"secret detail" not in body
        [record] = error_records(caplog)
        assert record.name == "websockets_routes"
        assert "broken_door" in record.getMessage()
        assert record.exc_info is not None
        assert_still_serving(running)


def test_handler_raises(adapter: Adapter, plain: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A handler that raises closes with 1011, logged once with the route and traceback."""
    router = known_router(adapter)

    def script(path: RoutedPath) -> Any:
        yield "about to fail"
        raise RuntimeError("handler bug")

    router.route("/fails", name="failing")(adapter.handler(script))
    with caplog.at_level(logging.ERROR), adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/fails") == (["about to fail"], 1011)
        [record] = error_records(caplog)
        assert record.name == "websockets_routes"
        assert "failing" in record.getMessage()
        assert record.exc_info is not None
        assert "handler bug" in caplog.text
        assert_still_serving(running)


def test_handler_returns(adapter: Adapter, plain: bool) -> None:
    """A handler that returns closes the connection with 1000."""
    router = Router()
    router.route("/hello", name="hello")(adapter.handler(lambda path: ["hello", "bye"]))
    with adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/hello") == (["hello", "bye"], 1000)


def test_no_common_subprotocol(adapter: Adapter) -> None:
    """A client offering none of a route's subprotocols gets HTTP 400; others get its pick."""
    router = Router()
    router.route("/chat", name="chat", subprotocols=["chat.v2", "chat.v1"])(adapter.echo())
    router.route("/echo", name="echo")(adapter.echo())
    with adapter.serve(router) as running:
        assert rejection(running.port, "/chat", subprotocols=["other"])[0] == 400
        assert rejection(running.port, "/chat")[0] == 400
        with client(running.port, "/chat", subprotocols=["chat.v1", "chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"
            ws.send("hi")
            assert ws.recv(timeout=TIMEOUT) == "hi"
        # A route without subprotocols ignores the client's offer.
        with client(running.port, "/echo", subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol is None
            ws.send("hi")
            assert ws.recv(timeout=TIMEOUT) == "hi"


def _closes_connections_on_shutdown(adapter: Adapter) -> bool:
    # websockets' sync Server.shutdown() closes open connections since it grew
    # close_connections; before that (14.0), it only stops accepting new ones.
    if adapter.name != "sync":
        return True
    shutdown = websockets.sync.server.Server.shutdown
    return "close_connections" in inspect.signature(shutdown).parameters


def test_server_shutting_down(adapter: Adapter, plain: bool) -> None:
    """Shutting the server down closes open connections as websockets does: 1001."""
    router = Router()
    router.route("/echo", name="echo")(adapter.echo())
    with adapter.serve(router, plain=plain) as running, client(running.port, "/echo") as ws:
        ws.send("ping")
        assert ws.recv(timeout=TIMEOUT) == "ping"
        running.shutdown()
        if _closes_connections_on_shutdown(adapter):
            with pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=TIMEOUT)
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == 1001
        else:
            # This websockets leaves open connections alone; the handler goes on.
            ws.send("still here")
            assert ws.recv(timeout=TIMEOUT) == "still here"


def test_routes_once_per_connection(adapter: Adapter, plain: bool) -> None:
    """The handler gets the handshake's RoutedPath: the target is routed once per connection."""
    targets: list[str] = []

    class CountingRouter(Router):
        def resolve(self, target: str, *, handshake: bool = True) -> Any:
            targets.append(target)
            return super().resolve(target, handshake=handshake)

    router = CountingRouter()
    router.route("/things/{id:int}", name="thing")(
        adapter.handler(lambda path: [str(path.params["id"])])
    )
    with adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/things/7") == (["7"], 1000)
    assert targets == ["/things/7"]


def test_user_process_request_runs_first(adapter: Adapter) -> None:
    """The user's own process_request answers first; routing runs when it lets a request by."""
    router = known_router(adapter)
    router.route("/other", name="other")(adapter.handler(lambda path: ["other"]))
    with adapter.serve(router, **adapter.refuse("/known", 401)) as running:
        assert rejection(running.port, "/known") == (401, b"refused by the user\n")
        assert conversation(running.port, "/other") == (["other"], 1000)
        assert rejection(running.port, "/missing")[0] == 404


def test_wrong_kind_of_handler_fails_at_serve_time(adapter: Adapter) -> None:
    """A coroutine handler on threads, or a plain one on async servers, fails at serve time."""
    router = Router()
    if adapter.asynchronous:

        @router.route("/a", name="wrong_kind")
        def handler(ws: Any, path: RoutedPath) -> None:
            pass

    else:

        @router.route("/a", name="wrong_kind")
        async def async_handler(ws: Any, path: RoutedPath) -> None:
            pass

    with pytest.raises(TypeError, match="wrong_kind"):
        adapter.start(router)


# The examples of 0.2's README, on every adapter.


def test_function_route(adapter: Adapter, plain: bool) -> None:
    """0.2's function route receives the path as a str and its params."""
    router = Router()
    router.route("/thing/{id}", name="thing_detail")(
        adapter.handler(lambda path: [path, path.params["id"]])
    )
    with adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/thing/123") == (["/thing/123", "123"], 1000)


def test_class_view(adapter: Adapter, plain: bool) -> None:
    """0.2's class view rejects unknown things in process_request and hands context on."""
    router = Router()
    things = {"1": "a teapot"}

    def process_request(path: RoutedPath, headers: Any) -> Any:
        thing_id = path.params["id"]
        if thing_id not in things:
            message = f"thing {thing_id!r} not found\n"
            return (http.HTTPStatus.NOT_FOUND, [], message.encode("utf-8"))
        path.context["thing"] = things[thing_id]
        return None

    view = adapter.view(lambda path: [f"thing 1 is {path.context['thing']}"], process_request)
    router.route("/thing/{id}", name="thing_detail")(view)
    with adapter.serve(router, plain=plain) as running:
        assert conversation(running.port, "/thing/1") == (["thing 1 is a teapot"], 1000)
        if plain:
            assert conversation(running.port, "/thing/2") == ([], 4040)
        else:
            assert rejection(running.port, "/thing/2") == (404, b"thing '2' not found\n")


def test_routed_path(adapter: Adapter, plain: bool) -> None:
    """The handler's RoutedPath equals the request target and carries typed params."""
    router = Router()

    def describe(path: RoutedPath) -> list[str]:
        thing_id = path.params["id"]
        facts = [path, path.path, type(thing_id).__name__, thing_id, path.query["x"]]
        return [json.dumps(facts), str(isinstance(path, RoutedPath))]

    router.route("/things/{id:int}", name="thing")(adapter.handler(describe))
    with adapter.serve(router, plain=plain) as running:
        messages, code = conversation(running.port, "/things/0123?x=1")
    assert json.loads(messages[0]) == ["/things/0123?x=1", "/things/0123", "int", 123, "1"]
    assert (messages[1], code) == ("True", 1000)
