"""User code of the message router API that must pass ``mypy --strict``.

Not a test module: ``mypy --strict tests/typing/messages_api.py`` checks it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import (
    MAX_ID_LENGTH,
    ErrorCode,
    Incoming,
    MessageError,
    MessageId,
    MessageRouter,
    Middleware,
    Next,
    Validator,
    connect,
)


class ChatSend(msgspec.Struct, tag="chat.send"):
    text: str


class ChatAck(msgspec.Struct, tag="chat.ack"):
    length: int


class Posted(msgspec.Struct, tag="posted"):
    text: str


@dataclasses.dataclass
class Move:
    x: int
    type: Literal["move"] = "move"


router = Router()
messages = MessageRouter(pushes=[Posted], strict=False, max_size=1 << 16)


@messages.on
async def send(ws: ServerConnection, msg: ChatSend, path: RoutedPath) -> ChatAck | None:
    await messages.send(ws, Posted(msg.text))
    return ChatAck(len(msg.text))


@messages.on("move")
async def move(ws: ServerConnection, msg: Move, path: RoutedPath) -> None:
    room: str = path.params["room"]
    frame: str = messages.encode(Posted(f"{room}: {msg.x}"))
    binary: bytes = messages.encode(Posted(""), binary=True)
    del frame, binary


@messages.middleware
async def guard(
    ws: ServerConnection, incoming: Incoming, path: RoutedPath, call_next: Next
) -> object:
    if incoming.tag == "chat.send" and not path.context.get("user"):
        raise MessageError("forbidden", "log in first", id=incoming.id)
    return await call_next()


# The package re-exports its aliases and constants as the module had them.
as_middleware: Middleware = guard
correlation: MessageId = "room-1"[:MAX_ID_LENGTH]
send_validator: Validator[object] = messages.validator("chat.send")


@messages.on_unknown
async def fallback(ws: ServerConnection, incoming: Incoming, path: RoutedPath) -> None:
    return None


@messages.on_error
async def count(ws: ServerConnection, error: MessageError, path: RoutedPath) -> None:
    if error.code == ErrorCode.INTERNAL_ERROR:
        print(error.__cause__)


def who(path: RoutedPath, headers: Headers) -> None:
    path.context["user"] = headers.get("X-User")


router.route("/rooms/{room}", name="room", hooks=[who])(messages)


@router.route("/lobby")
class Lobby:
    chat = messages

    async def handle(self, ws: ServerConnection, path: RoutedPath) -> None:
        await self.chat(ws, path)


async def client(url: str) -> int:
    async with connect(url, binary=True) as c:
        ack: ChatAck = await c.request(ChatSend("hi"), ChatAck)
        posted: Posted = await c.receive(Posted)
        raw: dict[str, object] = await c.receive()
        error: MessageError = await c.receive_error()
        print(posted.text, raw, error.code, error.detail, error.id)
        return ack.length


# The handler keeps its own type: calling it directly is checked too.
async def call_directly(ws: ServerConnection, path: RoutedPath) -> int | None:
    ack = await send(ws, ChatSend("x"), path)
    return None if ack is None else ack.length


document: dict[str, object] = router.asyncapi(title="Chat", version="1.0.0")

if TYPE_CHECKING:
    # Misuse that mypy must reject: with warn_unused_ignores (part of --strict), an
    # ignore that stops being needed fails the check.

    async def two_arguments(ws: ServerConnection, msg: ChatSend) -> None: ...

    def not_async(ws: ServerConnection, msg: ChatSend, path: RoutedPath) -> None: ...

    messages.on(two_arguments)  # type: ignore[type-var]
    messages.on(not_async)  # type: ignore[type-var]
