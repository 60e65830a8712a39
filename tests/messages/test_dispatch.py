"""Dispatch by type, replies, id echo, msgpack, dataclass and pydantic payloads."""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect as ws_connect

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import MessageClient, MessageRouter, connect

from .models import (
    Blob,
    ChatAck,
    ChatSend,
    Join,
    Joined,
    Move,
    Moved,
    Notice,
    Ping,
    Pong,
    StrictJoin,
    StrictPing,
    StrictPong,
    Typing,
    chat_router,
    mixed_router,
    served,
)


async def test_dispatch_by_type_and_reply():
    """Each message goes to the handler of its type, whose return value is the reply."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/lobby") as ws:
        await ws.send('{"type": "chat.send", "text": "hello"}')
        assert json.loads(await ws.recv()) == {"type": "chat.ack", "room": "lobby", "length": 5}
        await ws.send('{"type": "ping", "n": 41}')
        assert json.loads(await ws.recv()) == {"type": "pong", "n": 42}


async def test_reply_is_a_text_frame_for_a_text_frame():
    """A JSON message in a text frame gets its reply as JSON in a text frame."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/lobby") as ws:
        await ws.send('{"type": "chat.send", "text": "hi"}')
        assert isinstance(await ws.recv(), str)


async def test_handler_returning_none_sends_nothing_and_send_pushes():
    """A handler that returns None sends no reply; messages.send pushes a typed message."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/lobby") as ws:
        await ws.send('{"type": "typing", "active": false}')
        await ws.send('{"type": "ping"}')
        assert json.loads(await ws.recv()) == {"type": "notice", "text": "typing=False"}
        assert json.loads(await ws.recv()) == {"type": "pong", "n": 1}


async def test_id_is_echoed_on_the_reply():
    """A string or int correlation id in the message is echoed on the reply."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/r") as ws:
        await ws.send('{"type": "chat.send", "text": "a", "id": "abc"}')
        assert json.loads(await ws.recv()) == {
            "id": "abc",
            "type": "chat.ack",
            "room": "r",
            "length": 1,
        }
        await ws.send('{"id": 7, "type": "ping"}')
        assert json.loads(await ws.recv()) == {"id": 7, "type": "pong", "n": 1}


async def test_msgpack_in_binary_frames():
    """A MessagePack message in a binary frame gets a MessagePack reply, id included."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/bin") as ws:
        await ws.send(msgspec.msgpack.encode({"type": "chat.send", "text": "hey", "id": 3}))
        reply = await ws.recv()
        assert isinstance(reply, bytes)
        assert msgspec.msgpack.decode(reply) == {
            "id": 3,
            "type": "chat.ack",
            "room": "bin",
            "length": 3,
        }
        await ws.send(msgspec.msgpack.encode({"type": "ping", "n": 1}))
        assert msgspec.msgpack.decode(await ws.recv()) == {"type": "pong", "n": 2}


AT = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def blob_router() -> Router:
    """A router whose /blob route echoes Blob messages."""
    messages = MessageRouter()

    @messages.on
    async def blob(ws: Any, msg: Blob, path: RoutedPath) -> Blob:
        return Blob(msg.data + b"!", msg.at)

    router = Router()
    router.route("/blob", name="blob")(messages)
    return router


async def test_msgpack_reply_with_an_id_keeps_its_types():
    """A MessagePack reply carries bytes and timestamps as such, with or without an id."""
    async with served(blob_router()) as url, ws_connect(url + "/blob") as ws:
        for extra in [{}, {"id": 4}]:
            await ws.send(
                msgspec.msgpack.encode({"type": "blob", "data": b"\x00", "at": AT, **extra})
            )
            assert msgspec.msgpack.decode(await ws.recv()) == {
                **extra,
                "type": "blob",
                "data": b"\x00!",
                "at": AT,
            }


async def test_msgpack_client_keeps_its_types():
    """The MessagePack client sends bytes and timestamps as such when it adds an id or a tag."""
    router = blob_router()

    @router.route("/echo")
    async def echo(ws: Any, path: RoutedPath) -> None:
        async for data in ws:
            await ws.send(data)

    async with served(router) as url, connect(url + "/echo", binary=True) as client:
        await client.send(Blob(b"\x01", AT), id=1)
        assert await client.receive() == {"id": 1, "type": "blob", "data": b"\x01", "at": AT}
        await client.send(Ping(2), tag="ping")
        assert await client.receive() == {"type": "ping", "n": 2}
    async with served(router) as url, connect(url + "/blob", binary=True) as client:
        assert await client.request(Blob(b"\x01", AT), Blob) == Blob(b"\x01!", AT)


@pytest.mark.parametrize("size", [0, 14, 15, 65_534, 65_535])
async def test_id_is_spliced_into_maps_of_any_size(size: int):
    """The id is added to a MessagePack reply of any size, across map header widths."""
    messages = MessageRouter()

    @messages.on("big")
    async def big(ws: Any, msg: Ping, path: RoutedPath):  # type: ignore[no-untyped-def]
        return {f"k{n}": n for n in range(size)}

    sent: list[Any] = []

    class Sink:
        async def send(self, data: Any) -> None:
            sent.append(data)

    frame = msgspec.msgpack.encode({"type": "big", "id": "r"})
    await messages.dispatch(Sink(), frame, None)  # type: ignore[arg-type]
    await messages.dispatch(Sink(), '{"type": "big", "id": "r"}', None)  # type: ignore[arg-type]
    expected = {"id": "r", **{f"k{n}": n for n in range(size)}}
    assert msgspec.msgpack.decode(sent[0]) == expected
    assert json.loads(sent[1]) == expected


async def test_types_forbidding_unknown_fields_accept_an_id():
    """Types that forbid unknown fields still take (and echo) the correlation id."""
    messages = MessageRouter()

    @messages.on
    async def ping(ws: Any, msg: StrictPing, path: RoutedPath) -> StrictPong:
        return StrictPong(msg.n + 1)

    @messages.on
    async def join(ws: Any, msg: StrictJoin, path: RoutedPath) -> StrictPong:
        return StrictPong(len(msg.name))

    router = Router()
    router.route("/strict", name="strict")(messages)
    async with served(router) as url:
        for binary in (False, True):
            async with connect(url + "/strict", binary=binary) as client:
                assert await client.request(StrictPing(1), StrictPong) == StrictPong(2)
                assert await client.request(StrictJoin(name="abc"), StrictPong) == StrictPong(3)
                # Other unknown fields are still refused.
                await client.send_raw('{"type": "strict.ping", "n": 1, "x": 0, "id": 5}')
                error = await client.receive_error()
                assert (error.code, error.id) == ("invalid_payload", 5)
                await client.send_raw('{"type": "strict.join", "name": "a", "x": 0, "id": 6}')
                error = await client.receive_error()
                assert (error.code, error.id) == ("invalid_payload", 6)


async def test_dataclass_and_pydantic_payloads():
    """Dataclass and pydantic messages are validated and their replies encoded."""
    router, _ = mixed_router()
    async with served(router) as url, ws_connect(url + "/rooms/mix") as ws:
        await ws.send('{"type": "move", "x": 1, "y": 2, "id": 1}')
        assert json.loads(await ws.recv()) == {"id": 1, "x": 2, "y": 3, "type": "moved"}
        await ws.send('{"type": "join", "name": "ann", "id": 2}')
        assert json.loads(await ws.recv()) == {
            "id": 2,
            "type": "joined",
            "name": "ann",
            "room": "mix",
        }
        await ws.send('{"type": "chat.send", "text": "x"}')
        assert json.loads(await ws.recv())["type"] == "chat.ack"


async def test_dataclass_and_pydantic_payloads_in_msgpack():
    """Dataclass and pydantic messages work in MessagePack binary frames too."""
    router, _ = mixed_router()
    async with served(router) as url, connect(url + "/rooms/mix", binary=True) as client:
        assert await client.request(Move(1, 1), Moved) == Moved(2, 2)
        assert await client.request(Join(name="bo"), Joined) == Joined(name="bo", room="mix")


async def test_invalid_pydantic_payload_gets_bounded_detail():
    """A pydantic validation failure is an invalid_payload error that doesn't echo the input."""
    router, _ = mixed_router()
    async with served(router) as url, connect(url + "/rooms/mix") as client:
        await client.send_raw(json.dumps({"type": "join", "name": "x" * 5000, "id": 9}))
        error = await client.receive_error()
        assert (error.code, error.id) == ("invalid_payload", 9)
        assert "xxxxxxxxxx" not in error.detail
        assert "name" in error.detail


async def test_untagged_struct_gets_the_tag_of_on():
    """An untagged Struct declared with on("ping") decodes to an instance of that Struct."""
    seen: list[Any] = []
    messages = MessageRouter()

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
        seen.append(msg)
        return Pong(msg.n)

    router = Router()
    router.route("/p", name="p")(messages)
    async with served(router) as url, connect(url + "/p") as client:
        assert await client.request(Ping(5), Pong, tag="ping") == Pong(5)
    assert isinstance(seen[0], Ping)
    assert seen[0].n == 5


async def test_on_with_a_type_needs_no_annotation():
    """on(ChatSend) declares the type explicitly, so the handler may be unannotated."""
    messages = MessageRouter()

    @messages.on(ChatSend)
    async def send(ws, msg, path):
        return ChatAck(room="r", length=len(msg.text))

    router = Router()
    router.route("/c", name="c")(messages)
    async with served(router) as url, connect(url + "/c") as client:
        assert await client.request(ChatSend("abc"), ChatAck) == ChatAck(room="r", length=3)


async def test_message_router_in_a_class_view():
    """A class view runs the message router from its handle() after its own setup."""
    messages = MessageRouter()

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(room=path.context["room"], length=len(msg.text))

    router = Router()

    @router.route("/rooms/{room}")
    class Room:
        chat = messages

        async def handle(self, ws: Any, path: RoutedPath) -> None:
            path.context["room"] = path.params["room"].upper()
            await messages.send(ws, Notice("welcome"))
            await self.chat(ws, path)

    async with served(router) as url, connect(url + "/rooms/abc") as client:
        assert await client.receive(Notice) == Notice("welcome")
        assert await client.request(ChatSend("x"), ChatAck) == ChatAck(room="ABC", length=1)


async def test_name_argument_names_the_route():
    """MessageRouter(name=...) names the route, so route() needs no name=."""
    messages = MessageRouter(name="chat")

    @messages.on
    async def send(ws: Any, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(room="", length=0)

    router = Router()
    router.route("/chat")(messages)
    assert router.url_for("chat") == "/chat"


async def test_typed_client_request_receive_and_pending():
    """The test client matches replies by id and keeps earlier pushes for receive()."""
    router, _ = chat_router()
    async with served(router) as url, connect(url + "/rooms/t") as client:
        await client.send(Typing(active=True))
        assert await client.request(Ping(1), Pong, tag="ping") == Pong(2)
        assert await client.receive(Notice) == Notice("typing=True")
        await client.send(ChatSend("four"), id="x")
        assert await client.receive() == {"id": "x", "type": "chat.ack", "room": "t", "length": 4}


async def test_typed_client_over_an_existing_connection():
    """MessageClient wraps a websockets client connection opened elsewhere."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/w") as ws:
        client = MessageClient(ws, binary=True)
        assert await client.request(ChatSend("ab"), ChatAck) == ChatAck(room="w", length=2)


async def test_encode_gives_frames_for_broadcast():
    """encode() gives a JSON str or MessagePack bytes to hand to websockets.broadcast."""
    _, messages = chat_router()
    assert json.loads(messages.encode(Notice("n"))) == {"type": "notice", "text": "n"}
    assert msgspec.msgpack.decode(messages.encode(Notice("n"), binary=True)) == {
        "type": "notice",
        "text": "n",
    }
    assert messages.encode(Joined(name="a", room="b")) == (
        '{"type":"joined","name":"a","room":"b"}'
    )


async def test_messages_are_handled_in_order():
    """Messages of one connection are handled one at a time, in the order they arrive."""
    router, _ = chat_router()
    async with served(router) as url, connect(url + "/rooms/o") as client:
        for n in range(20):
            await client.send(Ping(n), id=n, tag="ping")
        for n in range(20):
            reply = await client.receive()
            assert (reply["id"], reply["n"]) == (n, n + 1)


async def test_tag_field_is_configurable():
    """A message router with tag_field="kind" routes on that field."""

    messages = MessageRouter(tag_field="kind")

    @messages.on
    async def hello(ws: Any, msg: Hello, path: RoutedPath) -> Hello:
        return Hello(msg.who.upper())

    router = Router()
    router.route("/k", name="k")(messages)
    async with served(router) as url, connect(url + "/k", tag_field="kind") as client:
        assert await client.request(Hello("a"), Hello) == Hello("A")
        await client.send_raw('{"type": "hello"}')
        assert (await client.receive_error()).code == "missing_type"


class Hello(msgspec.Struct, tag="hello", tag_field="kind"):
    """A message tagged on "kind"."""

    who: str


def _msgpack_key(header: bytes) -> bytes:
    """A MessagePack ChatSend map whose ``id`` key has the string ``header`` given."""
    return b"\x83\xa4type\xa9chat.send\xa4text\xa1a" + header + b"id"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param('{"type": "chat.send", "text": "a", "\\u0069d": "u"}', "u", id="json-u0069"),
        pytest.param('{"type": "chat.send", "text": "a", "i\\u0064": 3}', 3, id="json-u0064"),
        pytest.param('{"\\u0069\\u0064": 4, "type": "chat.send", "text": "a"}', 4, id="json-both"),
        pytest.param('{"type": "chat.send", "text": "a\\n", "id": 5}', 5, id="json-plain"),
        pytest.param('{"type": "chat.send", "text": "\\u00e9"}', None, id="json-escape-no-id"),
        pytest.param('{"id": 1, "type": "chat.send", "text": "a", "id": 6}', 6, id="json-twice"),
        pytest.param(_msgpack_key(b"\xa2") + b"\x07", 7, id="msgpack-fixstr"),
        pytest.param(_msgpack_key(b"\xd9\x02") + b"\x08", 8, id="msgpack-str8"),
        pytest.param(_msgpack_key(b"\xda\x00\x02") + b"\xa1v", "v", id="msgpack-str16"),
        pytest.param(_msgpack_key(b"\xdb\x00\x00\x00\x02") + b"\x09", 9, id="msgpack-str32"),
        pytest.param(b"\x82\xa4type\xa9chat.send\xa4text\xa5video", None, id="msgpack-id-in-text"),
    ],
)
@pytest.mark.parametrize("routers", [chat_router, mixed_router], ids=["fast", "slow"])
async def test_id_is_found_however_its_key_is_written(
    routers: Any, frame: str | bytes, expected: Any
):
    """The correlation id is echoed whatever escapes or string header spell its key, on
    the fast decoding path as on the slow one."""
    router, _ = routers()
    async with served(router) as url, ws_connect(url + "/rooms/r") as ws:
        await ws.send(frame)
        reply = await ws.recv()
    decoded = json.loads(reply) if isinstance(reply, str) else msgspec.msgpack.decode(reply)
    assert decoded["type"] == "chat.ack"
    assert decoded.get("id") == expected


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param('{"type": "chat.send", "text": "a", "\\u0069d": [1]}', id="json-list"),
        pytest.param('{"type": "chat.send", "text": "a", "\\u0069d": true}', id="json-bool"),
        pytest.param('{"type": "chat.send", "text": "a", "\\u0069d": 1.5}', id="json-float"),
        pytest.param(
            '{"type": "chat.send", "text": "a", "\\u0069d": "' + "i" * 129 + '"}', id="json-long"
        ),
        pytest.param(_msgpack_key(b"\xd9\x02") + b"\xc3", id="msgpack-str8-bool"),
        pytest.param(_msgpack_key(b"\xd9\x02") + b"\x91\x01", id="msgpack-str8-list"),
    ],
)
@pytest.mark.parametrize("routers", [chat_router, mixed_router], ids=["fast", "slow"])
async def test_bad_id_is_refused_however_its_key_is_written(routers: Any, frame: str | bytes):
    """An id that is neither an int nor a short string gets invalid_id, whatever spells
    its key, on the fast decoding path as on the slow one."""
    router, _ = routers()
    async with served(router) as url, ws_connect(url + "/rooms/r") as ws:
        await ws.send(frame)
        reply = await ws.recv()
    decoded = json.loads(reply) if isinstance(reply, str) else msgspec.msgpack.decode(reply)
    assert (decoded["type"], decoded["code"], decoded.get("id")) == ("error", "invalid_id", None)
