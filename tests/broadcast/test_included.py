"""Broadcast and groups on included routers reach the connections of the router served."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from websockets_routes import RoutedPath, RouteError, Router
from websockets_routes.broadcast import BroadcastError

from .test_local import TIMEOUT, clients, nothing_pending, run, serving


def make_chat() -> Router:
    """A router, meant to be included, whose handlers use it for groups and broadcast."""
    chat = Router()

    @chat.route("/rooms/{room}", name="room")
    async def room(ws: Any, path: RoutedPath) -> None:
        chat.join(ws, "everyone")
        async for message in ws:
            if message == "shout":
                await chat.broadcast_group("everyone", "shouted")
            elif message == "leave":
                chat.leave(ws, "everyone")
                await ws.send("left")
            else:
                await chat.broadcast("room", message, room=path.params["room"])

    return chat


def test_included_router_broadcasts_reach_its_rooms() -> None:
    """chat.broadcast() in a handler of an included router reaches that room's members."""

    async def main() -> None:
        chat = make_chat()
        app = Router()
        app.include(chat, "/chat", namespace="chat")
        async with serving(app) as url:
            a, b, other = await clients(app, url, "/chat/rooms/a", "/chat/rooms/a", "/chat/rooms/b")
            await a.send("hello")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "hello"
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == "hello"
            assert await nothing_pending(other)
            # The including router names the same route with its namespace.
            await app.broadcast("chat:room", "from app", room="b")
            assert await asyncio.wait_for(other.recv(), TIMEOUT) == "from app"
            await chat.broadcast("room", "from chat", room="b")
            assert await asyncio.wait_for(other.recv(), TIMEOUT) == "from chat"
            assert await nothing_pending(a)

    run(main())


def test_included_router_groups_are_the_served_routers() -> None:
    """chat.join() puts the connection in a group that app and chat both reach."""

    async def main() -> None:
        chat = make_chat()
        app = Router()
        app.include(chat, "/chat")
        async with serving(app) as url:
            a, b = await clients(app, url, "/chat/rooms/a", "/chat/rooms/b")
            await a.send("shout")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "shouted"
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == "shouted"
            await app.broadcast_group("everyone", "from app")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "from app"
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == "from app"
            await b.send("leave")
            assert await asyncio.wait_for(b.recv(), TIMEOUT) == "left"
            await app.broadcast_group("everyone", "again")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "again"
            assert await nothing_pending(b)
            assert app.connections is chat.connections
            assert len(app.connections.group_members("everyone")) == 1

    run(main())


def test_router_included_twice_reaches_both_mounts() -> None:
    """A router mounted at two prefixes broadcasts to both; each mount's name to its own."""

    async def main() -> None:
        chat = make_chat()
        app = Router()
        app.include(chat, "/one", namespace="one")
        app.include(chat, "/two", namespace="two")
        async with serving(app) as url:
            one, two = await clients(app, url, "/one/rooms/a", "/two/rooms/a")
            await chat.broadcast("room", "both", room="a")
            assert await asyncio.wait_for(one.recv(), TIMEOUT) == "both"
            assert await asyncio.wait_for(two.recv(), TIMEOUT) == "both"
            await app.broadcast("two:room", "second", room="a")
            assert await asyncio.wait_for(two.recv(), TIMEOUT) == "second"
            assert await nothing_pending(one)

    run(main())


def test_included_router_served_alone_reaches_its_own_connections() -> None:
    """A router included somewhere but served by itself broadcasts to its own connections."""

    async def main() -> None:
        chat = make_chat()
        Router().include(chat, "/chat")
        async with serving(chat) as url:
            (a,) = await clients(chat, url, "/rooms/a")
            await chat.broadcast("room", "hi", room="a")
            assert await asyncio.wait_for(a.recv(), TIMEOUT) == "hi"

    run(main())


def test_router_included_in_two_served_routers_refuses_to_guess() -> None:
    """With two served routers including it, join and broadcast raise RouteError naming both."""

    async def main() -> None:
        chat = make_chat()
        first, second = Router(), Router()
        first.http("/first")(lambda path, headers: "first")
        second.http("/second")(lambda path, headers: "second")
        first.include(chat, "/a")
        second.include(chat, "/b")
        # Neither is served yet: two tops, so it is already ambiguous.
        with pytest.raises(RouteError, match=r"/first.*/second|/second.*/first"):
            await chat.broadcast("room", "x", room="r")
        async with serving(first), serving(second):
            with pytest.raises(RouteError, match="can't tell whose connections"):
                chat.join(object(), "g")
            with pytest.raises(RouteError, match="call them on the router you serve"):
                await chat.broadcast_group("g", "x")
            # The served routers themselves are unambiguous.
            await first.broadcast("room", "x", room="r")
            await second.broadcast_group("g", "x")

    run(main())


def test_included_router_broadcast_errors_name_its_own_routes() -> None:
    """A broadcast to an unknown name on an included router lists that router's names."""

    async def main() -> None:
        chat = make_chat()
        app = Router()
        app.route("/other", name="other")(make_chat().get("room").endpoint)  # type: ignore[union-attr]
        app.include(chat, "/chat", namespace="chat")
        with pytest.raises(
            BroadcastError, match=r"no WebSocket route named 'nope'; known names: room$"
        ):
            await chat.broadcast("nope", "x")
        with pytest.raises(BroadcastError, match="takes all of its parameters"):
            await chat.broadcast("room", "x", rom="a")

    run(main())
