"""The chat app: one router with rooms, a typed-id route, a health check and a page.

Routes:
    /                   the HTML page (``/?room=lobby&name=alice``), which opens a WebSocket
    /rooms/{room}       a chat room, spoken in typed JSON messages (``chat.send``, ``typing``)
    /users/{id:int}     a typed id: the handler receives an int
    /healthz            a plain HTTP health check

Room connections must say who they are with ``?name=...``: a handshake hook on the
``rooms`` router answers 403 otherwise. Browsers can't set headers on a WebSocket
handshake, so the query string (or a cookie) is where credentials go; a real app would
check a token there the same way.

Messages to a room go through ``router.broadcast(...)``: in this process by default,
through Redis across workers with ``--broadcast redis://...`` on the CLI. The room's
route keeps their history: each ``chat.message`` carries an ``offset``, and a page that
reconnects with ``?offset=`` first gets what it missed. Who is in a room and who is
typing go to a group of the room's connections instead, which keeps no history: what
was true while you were away isn't worth replaying. Who is in a room comes from the
router's presence (``router.members(...)``), with the name each connection gave in
``path.meta``.
"""

from __future__ import annotations

import http
import os
import re
from pathlib import Path
from typing import Annotated

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

from websockets_routes import HTTPResult, RoutedPath, Router
from websockets_routes.broadcast import History, Member, Topic
from websockets_routes.messages import MessageRouter

__all__ = [
    "ChatAck",
    "ChatMessage",
    "ChatQuery",
    "ChatSend",
    "HistoryExpired",
    "Members",
    "Room",
    "Typing",
    "UserTyping",
    "Welcome",
    "chat",
    "rooms",
    "router",
]

#: Names people chat under: 1 to 24 letters, digits, ".", "_" or "-".
NAME_PATTERN = r"^[A-Za-z0-9._-]{1,24}$"
#: Room names: 1 to 32 lowercase letters, digits or "-". The page checks both rules too.
ROOM_PATTERN = r"^[a-z0-9-]{1,32}$"
_NAME = re.compile(NAME_PATTERN)
_ROOM = re.compile(ROOM_PATTERN)
MAX_TEXT = 500
PAGE = (Path(__file__).parent / "static" / "index.html").read_bytes()


# Messages. Clients send chat.send and typing; the server answers chat.send with
# chat.ack and pushes welcome, chat.message and user.typing.


class ChatQuery(msgspec.Struct):
    """The query string of a room's handshake."""

    name: Annotated[str, msgspec.Meta(pattern=NAME_PATTERN, description="Who is chatting.")]
    offset: Annotated[
        str | None,
        msgspec.Meta(
            description="The offset of the last chat.message seen: those after it come "
            "first, or history.expired if they aren't kept any more."
        ),
    ] = None


class ChatSend(msgspec.Struct, tag="chat.send"):
    """Post a message to the room."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]


class ChatAck(msgspec.Struct, tag="chat.ack"):
    """The message was sent to everyone in the room."""

    room: str
    length: int


class Typing(msgspec.Struct, tag="typing"):
    """Tell the room that you are typing."""


class Welcome(msgspec.Struct, tag="welcome"):
    """Sent once the connection is in the room; ``worker`` is the serving process."""

    room: str
    name: str
    worker: int


class ChatMessage(msgspec.Struct, tag="chat.message", omit_defaults=True):
    """Someone posted in the room (you included)."""

    room: str
    name: str
    text: str
    #: Set by the room's history as the message is broadcast.
    offset: Annotated[
        str | None,
        msgspec.Meta(description="Where the message is in the room's history."),
    ] = None


class HistoryExpired(msgspec.Struct, tag="history.expired"):
    """Some messages since the offset you gave aren't kept any more: live ones follow."""


class UserTyping(msgspec.Struct, tag="user.typing"):
    """Someone else in the room is typing."""

    name: str


class Members(msgspec.Struct, tag="members"):
    """Who is in the room, sent to everyone in it when someone joins or leaves."""

    room: str
    names: list[str]


# Routes.

router = Router()
#: The rooms live in a router of their own, so that its hook guards them only.
rooms = Router()
chat = MessageRouter(
    pushes=[Welcome, ChatMessage, HistoryExpired, UserTyping, Members],
    query=ChatQuery,
    description="A chat room: everyone connected to the same room gets its messages.",
)


@rooms.hook
def authenticate(path: RoutedPath, headers: Headers) -> HTTPResult | None:
    """Let in connections that give a valid ``name``; answer 403 otherwise."""
    name = path.query.get("name")
    if name is None or _NAME.fullmatch(name) is None:
        return (
            http.HTTPStatus.FORBIDDEN,
            [],
            "say who you are with ?name=... (1-24 letters, digits, '.', '_' or '-')\n",
        )
    path.context["name"] = name
    # What others see of this connection: the room's member list shows it.
    path.meta["name"] = name
    return None


#: The last messages of each room, for pages that reconnect.
HISTORY = History(size=200)


@rooms.route("/rooms/{room}", name="room", history=HISTORY)
class Room:
    """A connection to a chat room: the name checked, a welcome, then the message loop."""

    messages = chat  # Where router.asyncapi() finds the message types.

    def process_request(self, path: RoutedPath, headers: Headers) -> HTTPResult | None:
        """Refuse, in the handshake, room names that aren't short lowercase words."""
        if _ROOM.fullmatch(path.params["room"]) is None:
            return (
                http.HTTPStatus.NOT_FOUND,
                [],
                "no such room: rooms are named with 1-32 lowercase letters, digits or '-'\n",
            )
        return None

    async def handle(self, ws: ServerConnection, path: RoutedPath) -> None:
        # What this page missed, if it gave an offset, came before this (the
        # route's history). Member lists and typing notices go to the room's group.
        room: str = path.params["room"]
        router.join(ws, signals(room))
        # Once the room is subscribed, the backend hears what the other workers
        # broadcast to it: say welcome only then, so that a client that got it
        # misses nothing.
        await router.broadcaster.wait_subscribed()
        welcome = Welcome(room=room, name=path.context["name"], worker=os.getpid())
        await chat.send(ws, welcome)
        await router.broadcast_group(signals(room), chat.encode(members(room)))
        await chat(ws, path)


def signals(room: str) -> str:
    """The group of ``room``'s connections: who is in it and who is typing, no history."""
    return f"signals:{room}"


def members(room: str) -> Members:
    """Who is in ``room``, as the router's presence knows it."""
    names = sorted(member.meta["name"] for member in router.members("room", room=room))
    return Members(room=room, names=names)


@chat.on
async def send(ws: ServerConnection, msg: ChatSend, path: RoutedPath) -> ChatAck:
    """Broadcast the message to the room, the sender included, and acknowledge it."""
    room: str = path.params["room"]
    posted = ChatMessage(room=room, name=path.context["name"], text=msg.text)
    await router.broadcast("room", chat.encode(posted), room=room)
    return ChatAck(room=room, length=len(msg.text))


@chat.on
async def typing_notice(ws: ServerConnection, msg: Typing, path: RoutedPath) -> None:
    """Tell the others in the room who is typing; no reply."""
    notice = UserTyping(name=path.context["name"])
    await router.broadcast_group(signals(path.params["room"]), chat.encode(notice), exclude=ws)


router.include(rooms)


@router.on_leave
async def left(member: Member, topic: Topic) -> None:
    """Tell a room who is still in it when someone leaves."""
    if topic.name == "room" and not topic.group:
        room = topic.params["room"]
        await router.broadcast_group(signals(room), chat.encode(members(room)))


@router.route("/users/{id:int}")
async def user(ws: ServerConnection, path: RoutedPath) -> None:
    """Describe user ``id``, which the route's converter made an int.

    The connection stays open until the client closes it, so that no client (some
    drop messages that arrive with the server's close) misses the answer.
    """
    user_id: int = path.params["id"]
    profile = {"type": "user", "id": user_id, "next": router.url_for("user", id=user_id + 1)}
    await ws.send(msgspec.json.encode(profile).decode())
    await ws.wait_closed()


@router.http("/healthz")
def healthz(path: RoutedPath, headers: Headers) -> HTTPResult:
    """Answer plain HTTP health checks."""
    return "ok\n"


@router.http("/")
def page(path: RoutedPath, headers: Headers) -> HTTPResult:
    """The chat page; it reads ``room`` and ``name`` from its own URL."""
    return (
        http.HTTPStatus.OK,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
        ],
        PAGE,
    )
