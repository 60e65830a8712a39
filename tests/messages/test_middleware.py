"""Per-message middleware: guards, rate limits, logging, with route params and context."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.datastructures import Headers

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import Incoming, MessageError, MessageRouter, Next, connect

from .models import ChatAck, ChatSend, Ping, Pong, served


def guarded_router(calls: list[str]) -> Router:
    """/rooms/{room} where a handshake hook stores the user and middleware guards and logs."""
    router = Router()
    messages = MessageRouter()

    @messages.middleware
    async def log(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Next) -> object:
        calls.append(f"log:{incoming.tag}:{incoming.id}:{path.params['room']}")
        reply = await call_next()
        calls.append(f"log:reply:{type(reply).__name__}")
        return reply

    @messages.middleware
    async def guard(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Next) -> object:
        if incoming.tag == "chat.send" and path.context["user"] == "guest":
            raise MessageError("forbidden", "guests may not chat")
        return await call_next()

    @messages.middleware
    async def rate_limit(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Next) -> object:
        # Per-connection state lives in the RoutedPath's context.
        count = path.context["count"] = path.context.get("count", 0) + 1
        if count > 3:
            raise MessageError("rate_limited", "at most 3 messages")
        return await call_next()

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        calls.append("handler")
        return ChatAck(room=path.params["room"], length=len(msg.text))

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
        return Pong(msg.n)

    def who(path: RoutedPath, headers: Headers) -> None:
        path.context["user"] = path.query.get("user", "guest")

    router.route("/rooms/{room}", name="room", hooks=[who])(messages)
    return router


async def test_middleware_sees_params_context_and_reply():
    """Middleware runs in order around the handler, with route params, context and the reply."""
    calls: list[str] = []
    async with served(guarded_router(calls)) as url, connect(url + "/rooms/a?user=ann") as c:
        assert await c.request(ChatSend("hi"), ChatAck) == ChatAck(room="a", length=2)
    assert calls == ["log:chat.send:1:a", "handler", "log:reply:ChatAck"]


async def test_guard_refuses_with_its_own_code():
    """A guard that raises MessageError refuses the message; the handler doesn't run."""
    calls: list[str] = []
    async with served(guarded_router(calls)) as url, connect(url + "/rooms/a") as client:
        with pytest.raises(MessageError) as caught:
            await client.request(ChatSend("hi"), ChatAck)
        assert (caught.value.code, caught.value.id) == ("forbidden", 1)
        # Other types pass the guard.
        assert await client.request(Ping(4), Pong, tag="ping") == Pong(4)
    assert "handler" not in calls


async def test_rate_limit_per_connection():
    """A rate limit keeps its count in path.context, so each connection has its own."""
    calls: list[str] = []
    async with served(guarded_router(calls)) as url:
        for _ in range(2):
            async with connect(url + "/rooms/a") as client:
                for n in range(3):
                    assert await client.request(Ping(n), Pong, tag="ping") == Pong(n)
                with pytest.raises(MessageError, match="rate_limited"):
                    await client.request(Ping(), Pong, tag="ping")


async def test_middleware_can_replace_the_reply():
    """The value a middleware returns is the reply."""
    router = Router()
    messages = MessageRouter()

    @messages.middleware
    async def double(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Next) -> object:
        reply = await call_next()
        assert isinstance(reply, Pong)
        return Pong(reply.n * 2)

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
        return Pong(msg.n)

    router.route("/p", name="p")(messages)
    async with served(router) as url, connect(url + "/p") as client:
        assert await client.request(Ping(21), Pong, tag="ping") == Pong(42)
