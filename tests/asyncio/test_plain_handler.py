"""The router as a plain handler: ``serve(router.handle, ...)`` and ``serve(router, ...)``."""

from __future__ import annotations

import http
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from websockets_routes import Router

from .helpers import plain, raw_request, reply, route_errors, upgrade_headers


def plain_router(calls: list[str]) -> Router:
    """Routes with a parameter, a rejecting hook, a rejecting view and an HTTP endpoint."""
    router = Router()

    @router.route("/thing/{id:int}")
    async def thing_detail(ws, path):
        calls.append(path)
        await reply(ws, path, json.dumps(path.params))

    def forbid(path, headers):
        return http.HTTPStatus.FORBIDDEN, [], b"forbidden\n"

    @router.route("/secret", hooks=[forbid])
    async def secret(ws, path):
        calls.append(path)

    @router.route("/view/{id:int}")
    class ThingView:
        def process_request(self, path, headers):
            if path.params["id"] != 1:
                return http.HTTPStatus.NOT_FOUND, [], b"thing not found\n"
            path.context["thing"] = "one"
            return None

        async def handle(self, ws, path):
            calls.append(path)
            await reply(ws, path.context["thing"])

    def teapot(path, headers):
        return 418, {}, "short and stout"

    @router.route("/teapot", hooks=[teapot])
    async def tea(ws, path):
        calls.append(path)

    @router.http("/healthz")
    def healthz(path, headers):
        return "ok\n"

    return router


async def closed_with(url: str) -> tuple[int, str]:
    """Connect (the handshake succeeds), then return the close code and reason received."""
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as exc_info:
            await ws.recv()
    assert exc_info.value.rcvd is not None
    return exc_info.value.rcvd.code, exc_info.value.rcvd.reason


@pytest.mark.parametrize("as_handler", [lambda r: r.handle, lambda r: r], ids=["handle", "router"])
async def test_routes_connections(as_handler):
    """Both ``router.handle`` and ``router`` itself route connections as handlers."""
    calls: list[str] = []
    async with (
        plain(as_handler(plain_router(calls))) as url,
        connect(url + "/thing/123?a=1") as ws,
    ):
        assert await ws.recv() == "/thing/123?a=1"
        assert json.loads(await ws.recv()) == {"id": 123}
    assert calls == ["/thing/123?a=1"]


@pytest.mark.parametrize("as_handler", [lambda r: r.handle, lambda r: r], ids=["handle", "router"])
@pytest.mark.parametrize("target", ["/nothing", "/thing/abc", "/thing/1/", "/healthz"])
async def test_unmatched_path_closes_4040(as_handler, target):
    """An unmatched path (or an HTTP endpoint) is accepted, then closed with code 4040."""
    calls: list[str] = []
    async with plain(as_handler(plain_router(calls))) as url:
        assert await closed_with(url + target) == (4040, "Not Found")
        # The server keeps serving.
        async with connect(url + "/thing/1") as ws:
            assert await ws.recv() == "/thing/1"
    assert calls == ["/thing/1"]


@pytest.mark.parametrize("target", ["//x", "/a/%zz", "/thing/%C3", "/thing/%2e%2e"])
async def test_malformed_target_closes_4000(target):
    """A malformed target is accepted, then closed with code 4000 and no handler runs."""
    calls: list[str] = []
    async with (
        plain(plain_router(calls)) as url,
        raw_request(url, target, upgrade_headers()) as response,
    ):
        assert response.status == 101
        assert await response.close_frame() == (4000, "Bad Request")
    assert calls == []


async def test_hook_rejection_closes_status_times_ten():
    """A hook's 403 closes with 4030, and no handler runs."""
    calls: list[str] = []
    async with plain(plain_router(calls)) as url:
        assert await closed_with(url + "/secret") == (4030, "Forbidden")
        assert await closed_with(url + "/teapot") == (4180, "I'm a Teapot")
    assert calls == []


async def test_view_in_plain_mode():
    """A class view's process_request runs in plain mode: rejections close 4040, context flows."""
    calls: list[str] = []
    async with plain(plain_router(calls)) as url:
        assert await closed_with(url + "/view/2") == (4040, "Not Found")
        async with connect(url + "/view/1") as ws:
            assert await ws.recv() == "one"
    assert calls == ["/view/1"]


async def test_handler_raises_closes_1011(caplog):
    """A failing handler closes with 1011 and logs one error naming the route."""
    router = Router()

    @router.route("/boom")
    async def boom(ws, path):
        raise RuntimeError("kaboom")

    @router.route("/ok")
    async def ok(ws, path):
        await reply(ws, "ok")

    async with plain(router) as url:
        assert (await closed_with(url + "/boom"))[0] == 1011
        async with connect(url + "/ok") as ws:
            assert await ws.recv() == "ok"
    (record,) = route_errors(caplog.records)
    assert "'boom'" in record.getMessage()
    assert record.exc_info is not None


async def test_hook_raises_closes_1011(caplog):
    """A failing hook closes with 1011 in plain mode and logs one error naming the route."""
    router = Router()

    def broken(path, headers):
        raise RuntimeError("kaboom")

    @router.route("/guarded", hooks=[broken])
    async def guarded(ws, path):
        raise AssertionError("unreachable")

    async with plain(router) as url:
        assert (await closed_with(url + "/guarded"))[0] == 1011
    (record,) = route_errors(caplog.records)
    assert "'guarded'" in record.getMessage()


async def test_handler_returns_closes_1000():
    """A handler that returns closes the connection normally with 1000."""
    router = Router()

    @router.route("/done")
    async def done(ws, path):
        pass

    async with plain(router) as url:
        assert (await closed_with(url + "/done"))[0] == 1000
