"""Message types and a chat message router shared by the tests of this directory.

Types live at module level: handlers' annotations are resolved with
``typing.get_type_hints``, which cannot see names local to a test function.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import AsyncIterator
from typing import Any, Literal

import msgspec
import pydantic

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import MessageRouter


class ChatSend(msgspec.Struct, tag="chat.send"):
    """A chat message sent by a client."""

    text: str


class ChatAck(msgspec.Struct, tag="chat.ack"):
    """The server's acknowledgement of a chat message."""

    room: str
    length: int


class Typing(msgspec.Struct, tag="typing"):
    """A client is typing."""

    active: bool = True


class Notice(msgspec.Struct, tag="notice"):
    """A message the server pushes on its own."""

    text: str


class Ping(msgspec.Struct):
    """An untagged Struct: the router tags it with the tag given to on()."""

    n: int = 0


class Pong(msgspec.Struct, tag="pong"):
    """The reply to a ping."""

    n: int


class Boom(msgspec.Struct, tag="boom"):
    """Its handler always fails."""


@dataclasses.dataclass
class Move:
    """A dataclass message, tagged by a Literal field."""

    x: int
    y: int
    type: Literal["move"] = "move"


@dataclasses.dataclass
class Moved:
    """A dataclass reply."""

    x: int
    y: int
    type: Literal["moved"] = "moved"


class Join(pydantic.BaseModel):
    """A pydantic message, tagged by a Literal field."""

    type: Literal["join"] = "join"
    name: str = pydantic.Field(min_length=1, max_length=20)


class Joined(pydantic.BaseModel):
    """A pydantic reply."""

    type: Literal["joined"] = "joined"
    name: str
    room: str


class Blob(msgspec.Struct, tag="blob"):
    """A message with values JSON has no type for: bytes and a datetime."""

    data: bytes
    at: datetime.datetime


class StrictPing(msgspec.Struct, tag="strict.ping", forbid_unknown_fields=True):
    """A Struct that refuses unknown fields."""

    n: int


class StrictPong(msgspec.Struct, tag="strict.pong", forbid_unknown_fields=True):
    """A reply that refuses unknown fields."""

    n: int


class StrictJoin(pydantic.BaseModel):
    """A pydantic model that refuses unknown fields."""

    model_config = pydantic.ConfigDict(extra="forbid")

    type: Literal["strict.join"] = "strict.join"
    name: str


class RoomQuery(msgspec.Struct):
    """The query string of the room route."""

    token: str | None = None


class RoomHeaders(msgspec.Struct, rename={"user_agent": "User-Agent"}):
    """Handshake headers of the room route."""

    user_agent: str | None = None


def chat_router(**options: Any) -> tuple[Router, MessageRouter]:
    """A router with /rooms/{room} handled by a message router of ChatSend and Typing."""
    router = Router()
    messages = MessageRouter(pushes=[Notice], **options)

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(room=path.params["room"], length=len(msg.text))

    @messages.on
    async def typing(ws: Any, msg: Typing, path: RoutedPath) -> None:
        await messages.send(ws, Notice(f"typing={msg.active}"))

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
        return Pong(msg.n + 1)

    @messages.on
    async def boom(ws: Any, msg: Boom, path: RoutedPath) -> None:
        raise RuntimeError("the handler failed")

    router.route("/rooms/{room}", name="room")(messages)
    return router, messages


def mixed_router() -> tuple[Router, MessageRouter]:
    """A router whose message router mixes a Struct, a dataclass and a pydantic model."""
    router = Router()
    messages = MessageRouter()

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(room=path.params["room"], length=len(msg.text))

    @messages.on
    async def move(ws: Any, msg: Move, path: RoutedPath) -> Moved:
        assert isinstance(msg, Move)
        return Moved(msg.x + 1, msg.y + 1)

    @messages.on
    async def join(ws: Any, msg: Join, path: RoutedPath) -> Joined:
        assert isinstance(msg, Join)
        return Joined(name=msg.name, room=path.params["room"])

    router.route("/rooms/{room}", name="room")(messages)
    return router, messages


@contextlib.asynccontextmanager
async def served(router: Router, **kwargs: Any) -> AsyncIterator[str]:
    """Serve ``router`` on a free port of 127.0.0.1; yield its ws:// URL."""
    async with router.serve("127.0.0.1", 0, **kwargs) as server:
        host, port = server.sockets[0].getsockname()[:2]
        yield f"ws://{host}:{port}"
