"""Class views, handshake hooks and what they return, on handshake routing."""

from __future__ import annotations

import http
import json

import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from websockets_routes import Router

from .helpers import reply, routed


async def rejection(url: str, **kwargs) -> Response:
    """Connect expecting an HTTP rejection; return the response."""
    with pytest.raises(InvalidStatus) as exc_info:
        async with connect(url, **kwargs):
            pass
    return exc_info.value.response


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "def"])
async def test_class_view(asynchronous):
    """The 0.2 class view: process_request (async or def) accepts or rejects, context flows."""
    router = Router()
    things = {"123": "a thing"}

    def check(path, headers):
        if path.params["id"] in things:
            path.context["thing"] = things[path.params["id"]]
            return None
        return (http.HTTPStatus.NOT_FOUND, [], b"thing not found\n")

    async def check_async(self, path, headers):
        return check(path, headers)

    def check_sync(self, path, headers):
        return check(path, headers)

    @router.route("/thing/{id}")
    class ThingDetail:
        process_request = check_async if asynchronous else check_sync

        async def handle(self, ws, path):
            await reply(ws, path.context["thing"])

    async with routed(router) as url:
        async with connect(url + "/thing/123") as ws:
            assert await ws.recv() == "a thing"
        response = await rejection(url + "/thing/999")
        assert response.status_code == 404
        assert response.reason_phrase == "Not Found"
        assert response.body == b"thing not found\n"
        assert response.headers["Content-Length"] == str(len(b"thing not found\n"))


async def test_new_view_instance_per_connection():
    """A class view gets a new instance for every connection, from handshake to handler."""
    router = Router()
    instances: list[object] = []

    @router.route("/count")
    class Counter:
        def __init__(self):
            self.count = 0
            instances.append(self)

        async def process_request(self, path, headers):
            self.count += 1

        async def handle(self, ws, path):
            self.count += 1
            await reply(ws, str(self.count), str(id(self)))

    async with (
        routed(router) as url,
        connect(url + "/count") as first,
        connect(url + "/count") as second,
    ):
        assert await first.recv() == "2"
        assert await second.recv() == "2"
        assert await first.recv() != await second.recv()
    assert len(instances) == 2
    assert instances[0] is not instances[1]


async def test_view_without_process_request():
    """A class view with only ``handle`` is served without any handshake hook."""
    router = Router()

    @router.route("/simple/{n:int}")
    class Simple:
        async def handle(self, ws, path):
            await reply(ws, str(path.params["n"] * 2))

    async with routed(router) as url, connect(url + "/simple/21") as ws:
        assert await ws.recv() == "42"


@pytest.mark.parametrize("status", [http.HTTPStatus.FORBIDDEN, 403], ids=["HTTPStatus", "int"])
@pytest.mark.parametrize(
    "headers",
    [
        [("X-Reason", "nope"), ("Content-Type", "text/x-test")],
        {"X-Reason": "nope", "Content-Type": "text/x-test"},
        Headers([("X-Reason", "nope"), ("Content-Type", "text/x-test")]),
    ],
    ids=["pairs", "dict", "Headers"],
)
@pytest.mark.parametrize("body", [b"go away\n", "go away\n"], ids=["bytes", "str"])
async def test_rejection_shapes(status, headers, body):
    """A rejection's status, headers and body reach the client in every accepted shape."""
    router = Router()

    def deny(path, headers_):
        return status, headers, body

    @router.route("/private", hooks=[deny])
    async def private(ws, path):
        raise AssertionError("a rejected handshake runs no handler")

    async with routed(router) as url:
        response = await rejection(url + "/private")
    assert response.status_code == 403
    assert response.reason_phrase == "Forbidden"
    assert response.headers["X-Reason"] == "nope"
    # Headers the hook sets replace the defaults instead of doubling them.
    assert response.headers.get_all("Content-Type") == ["text/x-test"]
    assert response.headers["Content-Length"] == "8"
    assert response.body == b"go away\n"


async def test_hook_returns_websockets_response():
    """A hook may return a websockets Response, which is sent unchanged."""
    router = Router()
    teapot = Response(418, "Teapot", Headers([("Content-Length", "3"), ("X-A", "b")]), b"tea")

    @router.route("/tea", hooks=[lambda path, headers: teapot])
    async def tea(ws, path):
        raise AssertionError("unreachable")

    async with routed(router) as url:
        response = await rejection(url + "/tea")
    assert (response.status_code, response.reason_phrase, response.body) == (418, "Teapot", b"tea")
    assert response.headers["X-A"] == "b"


async def test_hook_sees_request_headers():
    """Hooks get the request headers: a token check lets good clients in and others not."""
    router = Router()

    @router.hook
    async def authenticate(path, headers):
        if headers.get("Authorization") != "Bearer good":
            return http.HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": "Bearer"}, "who are you?\n"
        path.context["user"] = "alice"
        return None

    @router.route("/me")
    async def me(ws, path):
        await reply(ws, path.context["user"])

    async with routed(router) as url:
        async with connect(url + "/me", additional_headers={"Authorization": "Bearer good"}) as ws:
            assert await ws.recv() == "alice"
        response = await rejection(url + "/me", additional_headers={"Authorization": "Bearer x"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.body == b"who are you?\n"


def recorder(calls: list[str], name: str, answer=None):
    """A hook that records its name, then returns ``answer``; async when the name says so."""
    if name.startswith("async "):

        async def async_hook(path, headers):
            calls.append(name)
            return answer

        return async_hook

    def hook(path, headers):
        calls.append(name)
        return answer

    return hook


def layered(calls: list[str], answers: dict[str, object] | None = None) -> Router:
    """An outer router including an inner one, each with hooks, and a routed class view."""
    answers = answers or {}
    outer, inner = Router(), Router()

    def hook(name):
        return recorder(calls, name, answers.get(name))

    outer.hook(hook("outer 1"))
    outer.hook(hook("async outer 2"))
    inner.hook(hook("inner"))

    @inner.route("/view", hooks=[hook("route 1"), hook("async route 2")])
    class View:
        def process_request(self, path, headers):
            calls.append("view")
            return answers.get("view")

        async def handle(self, ws, path):
            calls.append("handler")
            await reply(ws, json.dumps(calls))

    outer.include(inner, prefix="/api")

    @outer.route("/own")
    async def own(ws, path):
        await reply(ws, json.dumps(calls))

    return outer


async def test_hook_order():
    """Hooks run outer router first, then included router, then route hooks, then the view."""
    calls: list[str] = []
    async with routed(layered(calls)) as url, connect(url + "/api/view") as ws:
        assert json.loads(await ws.recv()) == [
            "outer 1",
            "async outer 2",
            "inner",
            "route 1",
            "async route 2",
            "view",
            "handler",
        ]


async def test_included_router_hooks_stay_inside():
    """An included router's hooks don't run for the including router's own routes."""
    calls: list[str] = []
    async with routed(layered(calls)) as url, connect(url + "/own") as ws:
        assert json.loads(await ws.recv()) == ["outer 1", "async outer 2"]


@pytest.mark.parametrize(
    ("rejecter", "ran"),
    [
        ("outer 1", ["outer 1"]),
        ("async outer 2", ["outer 1", "async outer 2"]),
        ("inner", ["outer 1", "async outer 2", "inner"]),
        ("async route 2", ["outer 1", "async outer 2", "inner", "route 1", "async route 2"]),
        ("view", ["outer 1", "async outer 2", "inner", "route 1", "async route 2", "view"]),
    ],
)
async def test_first_response_wins(rejecter, ran):
    """The first hook that returns a response ends the handshake; later ones don't run."""
    calls: list[str] = []
    answer = (409, [("X-Rejected-By", rejecter)], rejecter)
    async with routed(layered(calls, {rejecter: answer})) as url:
        response = await rejection(url + "/api/view")
    assert response.status_code == 409
    assert response.headers["X-Rejected-By"] == rejecter
    assert response.body == rejecter.encode()
    assert calls == ran


async def test_hooks_added_later_apply():
    """Hooks and routes added after ``include`` still apply, and hooks cover later routes."""
    calls: list[str] = []
    outer, inner = Router(), Router()
    outer.include(inner, prefix="/api")
    outer.hook(recorder(calls, "outer"))
    inner.hook(recorder(calls, "inner"))

    @inner.route("/late")
    async def late(ws, path):
        await reply(ws, json.dumps(calls))

    async with routed(outer) as url:
        async with connect(url + "/api/late") as ws:
            assert json.loads(await ws.recv()) == ["outer", "inner"]
        # The inner router served on its own runs its own hooks only.
        calls.clear()
    async with routed(inner) as url, connect(url + "/late") as ws:
        assert json.loads(await ws.recv()) == ["inner"]


async def test_function_route_hooks_and_context():
    """Per-route hooks of a function route run in order and hand context to the handler."""
    router = Router()

    def first(path, headers):
        path.context["trail"] = ["first"]

    async def second(path, headers):
        path.context["trail"].append("second")

    @router.route("/trail/{id:int}", hooks=[first, second])
    async def trail(ws, path):
        await reply(ws, json.dumps(path.context["trail"]))

    @router.route("/untouched")
    async def untouched(ws, path):
        await reply(ws, json.dumps(path.context))

    async with routed(router) as url:
        async with connect(url + "/trail/1") as ws:
            assert json.loads(await ws.recv()) == ["first", "second"]
        async with connect(url + "/untouched") as ws:
            assert json.loads(await ws.recv()) == {}


async def test_rejection_repeated_and_lowercase_headers():
    """Repeated headers all arrive, and a lowercase Content-Type replaces the default."""
    router = Router()

    def deny(path, headers):
        pairs = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("content-type", "text/html")]
        return 400, pairs, "<p>no</p>"

    @router.route("/cookies", hooks=[deny])
    async def cookies(ws, path):
        raise AssertionError("unreachable")

    async with routed(router) as url:
        response = await rejection(url + "/cookies")
    assert response.status_code == 400
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.get_all("Content-Type") == ["text/html"]
    assert response.body == b"<p>no</p>"
