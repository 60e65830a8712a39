"""Per-route subprotocol negotiation."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from websockets_routes import Router

from .helpers import reply, route_errors, routed


def chat_router() -> Router:
    """A chat route that speaks two subprotocols, and a route that speaks none."""
    router = Router()

    @router.route("/chat", subprotocols=["chat.v2", "chat.v1"])
    async def chat(ws, path):
        await reply(ws, str(ws.subprotocol))

    @router.route("/plain")
    async def plain_route(ws, path):
        await reply(ws, str(ws.subprotocol))

    return router


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["chat.v1", "chat.v2"], "chat.v2"),
        (["chat.v2"], "chat.v2"),
        (["other", "chat.v1"], "chat.v1"),
    ],
)
async def test_route_negotiates_preferred_common(offered, chosen):
    """The route picks its own most preferred subprotocol among those the client offers."""
    async with routed(chat_router()) as url, connect(url + "/chat", subprotocols=offered) as ws:
        assert ws.subprotocol == chosen
        assert await ws.recv() == chosen


@pytest.mark.parametrize("offered", [["other"], None], ids=["other", "none"])
async def test_no_common_subprotocol_is_400(caplog, offered):
    """A client offering none of the route's subprotocols gets HTTP 400; the server goes on."""
    async with routed(chat_router()) as url:
        with pytest.raises(InvalidStatus) as exc_info:
            async with connect(url + "/chat", subprotocols=offered):
                pass
        response = exc_info.value.response
        assert response.status_code == 400
        assert b"chat.v2, chat.v1" in response.body
        async with connect(url + "/chat", subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol == "chat.v1"
    # A client's choice is no server error for us. (websockets 14.0 itself logs
    # "opening handshake failed" for this 400; 14.1 and later don't.)
    assert route_errors(caplog.records) == []


async def test_other_routes_negotiate_nothing():
    """Routes without subprotocols negotiate none, even when the client offers the chat ones."""
    async with (
        routed(chat_router()) as url,
        connect(url + "/plain", subprotocols=["chat.v2", "chat.v1"]) as ws,
    ):
        assert ws.subprotocol is None
        assert await ws.recv() == "None"


async def test_server_wide_subprotocols_for_other_routes():
    """``serve(subprotocols=...)`` still negotiates for routes that declare none."""
    async with routed(chat_router(), subprotocols=["app"]) as url:
        async with connect(url + "/plain", subprotocols=["app"]) as ws:
            assert ws.subprotocol == "app"
        async with connect(url + "/chat", subprotocols=["app", "chat.v1"]) as ws:
            assert ws.subprotocol == "chat.v1"


async def test_included_route_keeps_subprotocols():
    """An included route negotiates its own subprotocols under the prefix."""
    router = Router()
    router.include(chat_router(), prefix="/api")
    async with routed(router) as url:
        async with connect(url + "/api/chat", subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol == "chat.v1"
        async with connect(url + "/api/plain", subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol is None
