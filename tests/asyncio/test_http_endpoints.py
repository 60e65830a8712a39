"""Plain HTTP endpoints (``@router.http``) answering on the WebSocket port."""

from __future__ import annotations

import http
import json

import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from websockets_routes import Router

from .helpers import raw_request, reply, routed, upgrade_headers


def http_router() -> Router:
    """A health check, endpoints of each return shape, and a WebSocket route."""
    router = Router()

    @router.http("/healthz")
    def healthz(path, headers):
        return "ok\n"

    @router.http("/bytes")
    async def raw_bytes(path, headers):
        return b"\x00\x01"

    @router.http("/items/{id:int}")
    def item(path, headers):
        body = json.dumps({"id": path.params["id"], "q": path.query.get_all("q")})
        return http.HTTPStatus.OK, {"Content-Type": "application/json"}, body

    @router.http("/created")
    def created(path, headers):
        return 201, Headers([("Location", "/items/1")]), ""

    @router.http("/response")
    def response(path, headers):
        return Response(202, "Accepted", Headers([("Content-Length", "4")]), b"soon")

    @router.http("/empty")
    def empty(path, headers):
        return None

    @router.route("/ws")
    async def ws_route(ws, path):
        await reply(ws, "ws")

    return router


async def test_health_check_answers_plain_get():
    """``GET /healthz`` without Upgrade answers 200 with the endpoint's body."""
    async with routed(http_router()) as url:
        async with raw_request(url, "/healthz") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert response.headers["Content-Length"] == "3"
            assert response.body == b"ok\n"
        # The WebSocket routes keep working on the same port.
        async with connect(url + "/ws") as ws:
            assert await ws.recv() == "ws"


@pytest.mark.parametrize(
    ("target", "status", "header", "body"),
    [
        ("/bytes", 200, ("Content-Type", "application/octet-stream"), b"\x00\x01"),
        (
            "/items/7?q=a&q=b",
            200,
            ("Content-Type", "application/json"),
            b'{"id": 7, "q": ["a", "b"]}',
        ),
        ("/created", 201, ("Location", "/items/1"), b""),
        ("/response", 202, ("Content-Length", "4"), b"soon"),
        ("/empty", 204, ("Content-Length", "0"), b""),
    ],
)
async def test_endpoint_return_shapes(target, status, header, body):
    """An endpoint may return str, bytes, a (status, headers, body) tuple, a Response or None."""
    async with routed(http_router()) as url, raw_request(url, target) as response:
        assert response.status == status
        assert response.headers[header[0]] == header[1]
        assert response.body == body


@pytest.mark.parametrize("target", ["/nothing", "/healthz/", "/items/x"])
async def test_unknown_plain_get_is_404(target):
    """A plain GET to no route gets 404 Not Found."""
    async with routed(http_router()) as url, raw_request(url, target) as response:
        assert response.status == 404
        assert response.body == b"Not Found\n"


async def test_plain_get_to_websocket_route_is_426():
    """A plain GET to a WebSocket route gets websockets' own 426 Upgrade Required."""
    async with routed(http_router()) as url, raw_request(url, "/ws") as response:
        assert response.status == 426


async def test_websocket_client_on_http_endpoint():
    """A WebSocket client reaching an HTTP endpoint gets its response as a rejection."""
    async with routed(http_router()) as url:
        with pytest.raises(InvalidStatus) as exc_info:
            async with connect(url + "/healthz"):
                pass
        assert exc_info.value.response.status_code == 200
        assert exc_info.value.response.body == b"ok\n"
        async with raw_request(url, "/healthz", upgrade_headers()) as response:
            assert response.status == 200


async def test_endpoint_behind_hooks_and_include():
    """Router hooks guard HTTP endpoints too, including those of included routers."""
    admin = Router()

    @admin.http("/stats")
    def stats(path, headers):
        return "42\n"

    router = Router()

    @router.hook
    def key_required(path, headers):
        if headers.get("X-Key") != "k":
            return 403, [], "no key\n"
        return None

    router.include(admin, prefix="/admin")

    async with routed(router) as url:
        async with raw_request(url, "/admin/stats") as response:
            assert (response.status, response.body) == (403, b"no key\n")
        async with raw_request(url, "/admin/stats", [("X-Key", "k")]) as response:
            assert (response.status, response.body) == (200, b"42\n")
