"""Handshake routing with ``router.serve``: matching, parameters, queries, 404 and 400."""

from __future__ import annotations

import http
import json
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from websockets_routes import BadRequest, Converter, RoutedPath, Router

from .helpers import raw_request, reply, routed, upgrade_headers, url_of


def thing_router(calls: list[str] | None = None) -> Router:
    """The 0.2 README's router: a list route and a detail route."""
    router = Router()

    @router.route("/thing/")
    async def thing_list(ws, path):
        if calls is not None:
            calls.append(path)
        await reply(ws, "list")

    @router.route("/thing/{id}")
    async def thing_detail(ws, path):
        if calls is not None:
            calls.append(path)
        await ws.send(path)
        await ws.send(path.params["id"])
        await ws.wait_closed()

    return router


def test_decorator_returns_function_unchanged():
    """The route decorator returns the decorated function or class itself."""
    router = Router()

    async def handler(ws, path):
        pass

    class View:
        async def handle(self, ws, path):
            pass

    assert router.route("/f")(handler) is handler
    assert router.route("/v")(View) is View


async def test_serve_awaited():
    """``server = await router.serve(...)`` routes connections until it is closed."""
    server = await thing_router().serve("127.0.0.1", 0)
    try:
        async with connect(url_of(server) + "/thing/123") as ws:
            assert await ws.recv() == "/thing/123"
            assert await ws.recv() == "123"
    finally:
        server.close()
        await server.wait_closed()


async def test_serve_async_with():
    """``async with router.serve(...)`` routes connections to the matching handler."""
    async with thing_router().serve("127.0.0.1", 0) as server:
        async with connect(url_of(server) + "/thing/") as ws:
            assert await ws.recv() == "list"
        async with connect(url_of(server) + "/thing/abc") as ws:
            assert await ws.recv() == "/thing/abc"
            assert await ws.recv() == "abc"


async def test_routed_path_is_the_target():
    """The handler gets a RoutedPath equal to the request target, query included."""
    router = Router()
    seen: list[RoutedPath] = []

    @router.route("/thing/{id}")
    async def thing_detail(ws, path):
        seen.append(path)
        await reply(ws, path)

    async with routed(router) as url, connect(url + "/thing/123?x=1") as ws:
        assert await ws.recv() == "/thing/123?x=1"
    (path,) = seen
    assert isinstance(path, RoutedPath)
    assert isinstance(path, str)
    assert path == "/thing/123?x=1"
    assert path.path == "/thing/123"
    assert path.route.name == "thing_detail"


async def test_serve_passes_keywords_through():
    """Keyword arguments of websockets' serve, like server_header, reach websockets."""
    async with (
        routed(thing_router(), server_header="routes-test", ping_interval=None) as url,
        connect(url + "/thing/1") as ws,
    ):
        assert ws.response.headers["Server"] == "routes-test"
        assert await ws.recv() == "/thing/1"


class Pair(Converter[tuple[int, int]]):
    """A custom converter: ``3x4`` is ``(3, 4)``."""

    regex = r"\d+x\d+"

    def to_python(self, value):
        left, sep, right = value.partition("x")
        if not sep or not left.isdigit() or not right.isdigit():
            raise ValueError(value)
        return int(left), int(right)

    def to_url(self, value):
        return f"{value[0]}x{value[1]}"


def typed_router() -> Router:
    """One route per converter; each handler sends its params as tagged JSON."""
    router = Router(converters={"pair": Pair})

    async def echo(ws, path):
        await reply(ws, json.dumps({k: [type(v).__name__, str(v)] for k, v in path.params.items()}))

    router.route("/int/{id:int}", name="int")(echo)
    router.route("/float/{x:float}", name="float")(echo)
    router.route("/uuid/{u:uuid}", name="uuid")(echo)
    router.route("/str/{s:str}", name="str")(echo)
    router.route("/files/{p:path}", name="path")(echo)
    router.route(r"/re/{id:\d+}", name="regex")(echo)
    router.route("/pair/{size:pair}", name="pair")(echo)
    return router


UUID = "12345678-1234-5678-1234-567812345678"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/int/123", {"id": ["int", "123"]}),
        ("/float/1.5", {"x": ["float", "1.5"]}),
        ("/uuid/" + UUID, {"u": ["UUID", str(uuid.UUID(UUID))]}),
        ("/str/caf%C3%A9", {"s": ["str", "café"]}),
        ("/str/a%2Fb", {"s": ["str", "a/b"]}),
        ("/files/a/b/c.txt", {"p": ["str", "a/b/c.txt"]}),
        ("/re/42", {"id": ["str", "42"]}),
        ("/pair/3x4", {"size": ["tuple", "(3, 4)"]}),
    ],
)
async def test_typed_params(target, expected):
    """Converted parameters reach the handler typed: ``{id:int}`` gives the int 123."""
    async with routed(typed_router()) as url, connect(url + target) as ws:
        assert json.loads(await ws.recv()) == expected


@pytest.mark.parametrize(
    "target", ["/int/abc", "/int/" + "9" * 5000, "/float/x", "/uuid/nope", "/re/4a2", "/pair/3y4"]
)
async def test_refused_value_is_404(target):
    """A value its converter refuses gets HTTP 404, as if no route matched."""
    async with routed(typed_router()) as url:
        with pytest.raises(InvalidStatus) as exc_info:
            async with connect(url + target):
                pass
        assert exc_info.value.response.status_code == 404


async def test_query_parsing():
    """``path.query`` parses the query string: first value by key, all values by get_all."""
    router = Router()

    @router.route("/q")
    async def query(ws, path):
        await reply(
            ws,
            json.dumps(
                {
                    "a": path.query["a"],
                    "all_a": path.query.get_all("a"),
                    "b": path.query["b"],
                    "none": path.query.get_all("zzz"),
                    "keys": list(path.query),
                }
            ),
        )

    async with routed(router) as url, connect(url + "/q?a=1&b=&a=two%20words") as ws:
        assert json.loads(await ws.recv()) == {
            "a": "1",
            "all_a": ["1", "two words"],
            "b": "",
            "none": [],
            "keys": ["a", "b"],
        }


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/thing/?id=5", "list"),
        ("/thing/?/thing/7", "list"),
        ("/thing/9?x=/thing/", "/thing/9?x=/thing/"),
    ],
)
async def test_query_never_affects_matching(target, expected):
    """The query string takes no part in matching, whatever it contains."""
    async with routed(thing_router()) as url, connect(url + target) as ws:
        assert await ws.recv() == expected


@pytest.mark.parametrize("target", ["/nothing?x=/thing/1", "/nothing", "/thing", "/thing/1/2"])
async def test_unmatched_path_is_404_and_runs_no_handler(target):
    """An unmatched path gets HTTP 404 in the handshake and no handler runs."""
    calls: list[str] = []
    async with routed(thing_router(calls)) as url:
        with pytest.raises(InvalidStatus) as exc_info:
            async with connect(url + target):
                pass
        response = exc_info.value.response
        assert response.status_code == 404
        assert response.reason_phrase == "Not Found"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Content-Length"] == str(len(b"Not Found\n"))
        assert response.body == b"Not Found\n"
        # The server keeps serving after a rejection.
        async with connect(url + "/thing/") as ws:
            assert await ws.recv() == "list"
    assert calls == ["/thing/"]


@pytest.mark.parametrize(
    "target",
    [
        "//x",
        "/a/%zz",
        "/thing/%zz",
        "/thing/%C3",
        "/thing/%2e%2e",
        "/thing/..",
        "/thing/a%00",
        "/thing/a%2F..%2Fb",
    ],
)
async def test_malformed_target_is_400(target):
    """A target that breaks the decoding rules gets HTTP 400 in the handshake, never 500."""
    calls: list[str] = []
    async with routed(thing_router(calls)) as url:
        async with raw_request(url, target, upgrade_headers()) as response:
            assert response.status == 400
            assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert response.body.startswith(b"Bad Request: ")
            # The message never echoes the target.
            assert target.encode() not in response.body
        async with connect(url + "/thing/") as ws:
            assert await ws.recv() == "list"
    assert calls == ["/thing/"]


async def test_include_under_prefix():
    """An included router serves under its prefix, and ``/apix/...`` gets 404."""
    api = Router()

    @api.route("/items/{id:int}")
    async def item(ws, path):
        await reply(ws, f"{path.route.name} {path.params['id'] + 1}")

    router = Router()
    router.include(api, prefix="/api", namespace="v1")

    async with routed(router) as url:
        async with connect(url + "/api/items/41") as ws:
            assert await ws.recv() == "v1:item 42"
        async with connect(url + router.url_for("v1:item", id=7)) as ws:
            assert await ws.recv() == "v1:item 8"
        for target in ["/apix/items/41", "/items/41", "/api/items/x", "/api"]:
            with pytest.raises(InvalidStatus) as exc_info:
                async with connect(url + target):
                    pass
            assert exc_info.value.response.status_code == 404


async def test_include_with_parameter_prefix():
    """A prefix with a parameter hands that parameter to the included route."""
    rooms = Router()

    @rooms.route("/rooms/{room}")
    async def room(ws, path):
        await reply(ws, json.dumps(path.params))

    router = Router()
    router.include(rooms, prefix="/org/{org:int}")

    async with routed(router) as url, connect(url + "/org/5/rooms/lobby") as ws:
        assert json.loads(await ws.recv()) == {"org": 5, "room": "lobby"}


async def test_url_for_round_trip():
    """A URL built by url_for routes back to its route with the same values."""
    router = Router()

    @router.route("/rooms/{room}/{n:int}")
    async def room(ws, path):
        await reply(ws, json.dumps(path.params))

    async with routed(router) as url:
        target = router.url_for("room", room="a/b c", n=3)
        async with connect(url + target) as ws:
            assert json.loads(await ws.recv()) == {"room": "a/b c", "n": 3}


async def test_redirect_slashes():
    """With redirect_slashes, a path missing its trailing slash gets a 308 to the route."""
    router = Router(redirect_slashes=True)

    @router.route("/thing/")
    async def thing_list(ws, path):
        await reply(ws, "list")

    async with routed(router) as url:
        headers = [("Host", "evil.example"), *upgrade_headers()]
        async with raw_request(url, "/thing?a=1", headers) as response:
            assert response.status == http.HTTPStatus.PERMANENT_REDIRECT
            assert response.headers["Location"] == "/thing/?a=1"
        # The websockets client follows the redirect to the route.
        async with connect(url + "/thing") as ws:
            assert await ws.recv() == "list"


MATCH_TARGETS = [
    "/thing/",
    "/thing/123",
    "/thing/123?a=b",
    "/thing/caf%C3%A9",
    "/thing/a%2Fb",
    "/thing",
    "/thing/1/2",
    "/other",
    "/",
    "//thing/1",
    "/thing/%zz",
    "/thing/..",
]


async def test_serve_routes_what_match_says():
    """Every target is served by the route ``router.match`` names, or rejected as it says."""
    router = Router()

    @router.route("/thing/")
    async def thing_list(ws, path):
        await reply(ws, json.dumps([path.route.name, path.params]))

    @router.route("/thing/{id}")
    async def thing_detail(ws, path):
        await reply(ws, json.dumps([path.route.name, path.params]))

    async with routed(router) as url:
        for target in MATCH_TARGETS:
            try:
                matched = router.match(target)
            except BadRequest:
                expected_status = 400
            else:
                expected_status = None if matched is not None else 404
            async with raw_request(url, target, upgrade_headers()) as response:
                if expected_status is not None:
                    assert response.status == expected_status, target
                    continue
                assert response.status == 101, target
            async with connect(url + target) as ws:
                assert matched is not None
                assert json.loads(await ws.recv()) == [matched.route.name, matched.params]
