"""Error frames, strict mode and the unknown-type and error hooks."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.protocol import State

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import Incoming, MessageError, MessageRouter, connect

from .models import ChatAck, ChatSend, Ping, Pong, chat_router, mixed_router, served

LONG = "z" * 10_000


async def error_of(url: str, frame: str | bytes) -> dict[str, Any]:
    """Send one frame on a fresh connection and return the error frame, decoded."""
    async with ws_connect(url + "/rooms/e") as ws:
        await ws.send(frame)
        reply = await ws.recv()
        decoded = json.loads(reply) if isinstance(reply, str) else msgspec.msgpack.decode(reply)
        # The connection survives the error.
        await ws.send('{"type": "ping", "n": 1}')
        assert json.loads(await ws.recv()) == {"type": "pong", "n": 2}
        return decoded


@pytest.mark.parametrize(
    ("frame", "code", "msg_id"),
    [
        ("not json", "invalid_frame", None),
        ("[1, 2]", "invalid_frame", None),
        (b"\xc1", "invalid_frame", None),
        ('{"text": "no type", "id": 1}', "missing_type", 1),
        ('{"type": 5, "id": 2}', "missing_type", 2),
        ('{"type": "nope", "id": "u"}', "unknown_type", "u"),
        ('{"type": "chat.send", "text": 5, "id": 4}', "invalid_payload", 4),
        ('{"type": "chat.send", "id": 5}', "invalid_payload", 5),
        ('{"type": "chat.send", "text": "x", "id": [1]}', "invalid_id", None),
        ('{"type": "chat.send", "text": "x", "id": "' + "i" * 129 + '"}', "invalid_id", None),
        ('{"type": "boom", "id": 6}', "internal_error", 6),
        (msgspec.msgpack.encode({"type": "nope", "id": 8}), "unknown_type", 8),
        (msgspec.msgpack.encode({"type": "ping", "n": "x"}), "invalid_payload", None),
        # The tag of the decoder's internal sentinel is no message type either.
        ('{"type": "\\u0000", "id": 10}', "unknown_type", 10),
        (msgspec.msgpack.encode({"type": "\x00", "id": 11}), "unknown_type", 11),
    ],
)
async def test_error_frames(frame: str | bytes, code: str, msg_id: Any):
    """Each kind of bad message gets an error frame with its stable code and id; the
    connection goes on."""
    router, _ = chat_router()
    async with served(router) as url:
        error = await error_of(url, frame)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error.get("id") == msg_id
    assert isinstance(error["detail"], str)
    assert error["detail"]


async def test_error_frame_matches_the_frame_kind():
    """An error about a binary frame is a MessagePack binary frame."""
    router, _ = chat_router()
    async with served(router) as url, ws_connect(url + "/rooms/e") as ws:
        await ws.send(msgspec.msgpack.encode({"type": "nope"}))
        assert isinstance(await ws.recv(), bytes)


async def test_oversized_frames():
    """A frame over max_size gets frame_too_large without being decoded."""
    router, _ = chat_router(max_size=1000)
    async with served(router) as url, connect(url + "/rooms/e") as client:
        await client.send_raw('{"type": "chat.send", "text": "' + "x" * 2000 + '", "id": 1}')
        error = await client.receive_error()
        # Not decoded, so the id is unknown.
        assert (error.code, error.id) == ("frame_too_large", None)
        await client.send_raw(msgspec.msgpack.encode({"type": "ping", "pad": b"x" * 2000}))
        assert (await client.receive_error()).code == "frame_too_large"
        # Three-byte characters: 400 characters are 1200 bytes.
        await client.send_raw('{"type": "chat.send", "text": "' + "€" * 400 + '"}')
        assert (await client.receive_error()).code == "frame_too_large"
        assert await client.request(ChatSend("é" * 300), ChatAck) == ChatAck(room="e", length=300)


async def test_details_never_echo_unbounded_input():
    """Error details are bounded: these long inputs are never echoed."""
    router, _ = chat_router(max_size=None)
    frames = [
        LONG,
        '{"type": "' + LONG + '"}',
        '{"type": "chat.send", "text": 1, "' + LONG + '": 1}',
        '{"type": "chat.send", "text": "x", "id": "' + LONG + '"}',
    ]
    async with served(router) as url, connect(url + "/rooms/e") as client:
        for frame in frames:
            await client.send_raw(frame)
            error = await client.receive_error()
            assert len(error.detail) <= 200
            assert "zzzzzzzzzz" not in error.detail
            assert error.id is None


async def test_handler_failure_is_logged_once(caplog: pytest.LogCaptureFixture):
    """A failing handler is logged with its traceback; the client only sees internal_error."""
    router, _ = chat_router()
    with caplog.at_level(logging.ERROR, logger="websockets_routes"):
        async with served(router) as url, connect(url + "/rooms/e") as client:
            await client.send_raw('{"type": "boom"}')
            error = await client.receive_error()
            assert (error.code, error.detail) == ("internal_error", "internal error")
    records = [r for r in caplog.records if r.name == "websockets_routes"]
    assert len(records) == 1
    assert "boom" in records[0].getMessage()
    assert records[0].exc_info is not None


async def test_send_to_another_closed_connection_is_a_handler_failure(
    caplog: pytest.LogCaptureFixture,
):
    """A handler failing to send to another, closed connection gets internal_error, logged
    once; its own connection goes on."""
    peers: list[Any] = []
    messages = MessageRouter()

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> Pong:
        for peer in peers:
            if peer is not ws:
                await peer.send("hi")
        return Pong(msg.n)

    router = Router()

    @router.route("/r")
    async def room(ws: Any, path: RoutedPath) -> None:
        peers.append(ws)
        await messages(ws, path)

    with caplog.at_level(logging.ERROR, logger="websockets_routes"):
        async with served(router) as url, connect(url + "/r") as client:
            async with ws_connect(url + "/r") as gone:
                # Once this gets an answer, its handler runs: it is among the peers.
                await gone.send('{"type": "nope"}')
                assert json.loads(await gone.recv())["code"] == "unknown_type"
            await peers[1].wait_closed()
            await client.send(Ping(2), tag="ping")
            error = await client.receive_error()
            assert (error.code, error.detail) == ("internal_error", "internal error")
            peers.pop()
            assert await client.request(Ping(3), Pong, tag="ping") == Pong(3)
    records = [r for r in caplog.records if r.name == "websockets_routes"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ConnectionClosed)


async def test_connection_closed_propagates_only_for_a_closed_connection():
    """A ConnectionClosed from a handler ends dispatch only when its own connection is
    closed; one without state (a test sink) counts as open and gets internal_error."""
    sent: list[Any] = []
    messages = MessageRouter()

    @messages.on("ping")
    async def ping(ws: Any, msg: Ping, path: RoutedPath) -> None:
        raise ConnectionClosedOK(None, None)

    class Sink:
        async def send(self, data: Any) -> None:
            sent.append(data)

    class ClosedSink(Sink):
        state = State.CLOSED

    with pytest.raises(ConnectionClosedOK):
        await messages.dispatch(ClosedSink(), '{"type": "ping"}', None)  # type: ignore[arg-type]
    assert sent == []
    await messages.dispatch(Sink(), '{"type": "ping"}', None)  # type: ignore[arg-type]
    assert json.loads(sent[0])["code"] == "internal_error"


async def test_message_error_raised_by_a_handler():
    """A MessageError raised by a handler becomes an error frame with its code and the id."""
    _, messages = chat_router()
    from websockets_routes import Router

    router = Router()

    @messages.on("deny")
    async def deny(ws: Any, msg: Ping, path: RoutedPath) -> None:
        raise MessageError("forbidden", "not in this room")

    router.route("/rooms/{room}", name="room")(messages)
    async with served(router) as url, connect(url + "/rooms/e") as client:
        with pytest.raises(MessageError) as caught:
            await client.request(Ping(), Pong, tag="deny")
        assert (caught.value.code, caught.value.detail, caught.value.id) == (
            "forbidden",
            "not in this room",
            1,
        )


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        ("not json", 1003),
        ('{"type": "nope"}', 1003),
        ('{"type": "chat.send"}', 1003),
        ('{"type": "chat.send", "text": "' + "x" * 2000 + '"}', 1009),
        ('{"type": "boom"}', 1011),
    ],
)
async def test_strict_mode_closes(frame: str, close_code: int):
    """In strict mode the error frame is followed by a close with 1003, 1009 or 1011."""
    router, _ = chat_router(strict=True, max_size=1000)
    async with served(router) as url, ws_connect(url + "/rooms/s") as ws:
        await ws.send(frame)
        assert json.loads(await ws.recv())["type"] == "error"
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == close_code


async def test_strict_mode_closes_1008_on_a_refusal():
    """In strict mode a MessageError raised by a guard closes with 1008 (policy violation)."""
    router, messages = chat_router(strict=True)

    @messages.middleware
    async def guard(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Any) -> object:
        raise MessageError("forbidden", "no")

    async with served(router) as url, ws_connect(url + "/rooms/s") as ws:
        await ws.send('{"type": "ping"}')
        assert json.loads(await ws.recv())["code"] == "forbidden"
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.rcvd is not None
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (1008, "forbidden")


async def test_strict_close_reason_fits_a_close_frame():
    """In strict mode a long non-ASCII code still closes with 1008, its reason cut at a
    character within the 123 bytes a close frame allows."""
    router, messages = chat_router(strict=True)

    @messages.middleware
    async def guard(ws: Any, incoming: Incoming, path: RoutedPath, call_next: Any) -> object:
        raise MessageError("é" * 120, "no")

    async with served(router) as url, ws_connect(url + "/rooms/s") as ws:
        await ws.send('{"type": "ping"}')
        assert json.loads(await ws.recv())["code"] == "é" * 120
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.rcvd is not None
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (1008, "é" * 61)


async def test_strict_mode_keeps_good_messages_flowing():
    """In strict mode valid messages are handled as usual."""
    router, _ = chat_router(strict=True)
    async with served(router) as url, connect(url + "/rooms/s") as client:
        for n in range(3):
            assert await client.request(Ping(n), Pong, tag="ping") == Pong(n + 1)


async def test_unknown_type_hook():
    """The on_unknown hook handles undeclared types; its return value is the reply."""
    router, messages = chat_router()
    seen: list[Incoming] = []

    @messages.on_unknown
    async def fallback(ws: Any, incoming: Incoming, path: RoutedPath) -> Pong | None:
        seen.append(incoming)
        if incoming.tag == "silent":
            return None
        return Pong(len(incoming.message))

    async with served(router) as url, connect(url + "/rooms/h") as client:
        await client.send_raw('{"type": "legacy.thing", "a": 1, "id": "q"}')
        assert await client.receive() == {"id": "q", "type": "pong", "n": 3}
        await client.send_raw('{"type": "silent"}')
        assert await client.request(Ping(), Pong, tag="ping") == Pong(1)
    assert [(i.tag, i.id, i.binary) for i in seen] == [
        ("legacy.thing", "q", False),
        ("silent", None, False),
    ]
    assert seen[0].message == {"type": "legacy.thing", "a": 1, "id": "q"}


async def test_error_hook_sees_every_error(caplog: pytest.LogCaptureFixture):
    """on_error hooks see each error before its frame is sent, with the cause of failures."""
    router, messages = chat_router()
    errors: list[MessageError] = []

    @messages.on_error
    async def record(ws: Any, error: MessageError, path: RoutedPath) -> None:
        assert path.params == {"room": "h"}
        errors.append(error)

    @messages.on_error
    async def broken(ws: Any, error: MessageError, path: RoutedPath) -> None:
        raise RuntimeError("a broken hook is logged and ignored")

    with caplog.at_level(logging.ERROR, logger="websockets_routes"):
        async with served(router) as url, connect(url + "/rooms/h") as client:
            for frame in ["nope", '{"type": "x", "id": 1}', '{"type": "boom", "id": 2}']:
                await client.send_raw(frame)
                await client.receive_error()
    assert [(e.code, e.id) for e in errors] == [
        ("invalid_frame", None),
        ("unknown_type", 1),
        ("internal_error", 2),
    ]
    assert isinstance(errors[2].__cause__, RuntimeError)
    assert sum("error hook" in r.getMessage() for r in caplog.records) == 3


# A frame about 2 KB long, nested 1,000 levels deep: msgspec raises RecursionError.
DEEP = "[" * 1000 + "]" * 1000
DEEP_FRAMES = [
    pytest.param(DEEP, id="json-array"),
    pytest.param('{"type": "chat.send", "text": "x", "extra": ' + DEEP + "}", id="json-field"),
    pytest.param('{"type": "ping", "id": ' + DEEP + "}", id="json-id"),
    pytest.param(b"\x91" * 1000 + b"\xc0", id="msgpack-array"),
    pytest.param(
        b"\x83\xa4type\xa9chat.send\xa4text\xa1x\xa5extra" + b"\x91" * 1000 + b"\xc0",
        id="msgpack-field",
    ),
]


@pytest.mark.parametrize("routers", [chat_router, mixed_router], ids=["fast", "slow"])
@pytest.mark.parametrize("frame", DEEP_FRAMES)
async def test_deeply_nested_frame_is_invalid_frame(
    routers: Any, frame: str | bytes, caplog: pytest.LogCaptureFixture
):
    """A frame nested 1,000 levels deep gets invalid_frame, logs no ERROR, and the
    connection goes on, on the fast and the slow decoding paths."""
    router, _ = routers()
    with caplog.at_level(logging.ERROR):
        async with served(router) as url, ws_connect(url + "/rooms/d") as ws:
            await ws.send(frame)
            reply = await ws.recv()
            # The connection goes on.
            await ws.send('{"type": "chat.send", "text": "ok"}')
            assert json.loads(await ws.recv()) == {"type": "chat.ack", "room": "d", "length": 2}
    error = json.loads(reply) if isinstance(reply, str) else msgspec.msgpack.decode(reply)
    assert (error["code"], error.get("id")) == ("invalid_frame", None)
    assert "deep" in error["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("frame", [DEEP, b"\x91" * 1000 + b"\xc0"], ids=["json", "msgpack"])
async def test_deeply_nested_frame_closes_1003_in_strict_mode(frame: str | bytes):
    """In strict mode a frame nested too deeply closes the connection with 1003."""
    router, _ = chat_router(strict=True)
    async with served(router) as url, ws_connect(url + "/rooms/s") as ws:
        await ws.send(frame)
        reply = await ws.recv()
        decoded = json.loads(reply) if isinstance(reply, str) else msgspec.msgpack.decode(reply)
        assert decoded["code"] == "invalid_frame"
        with pytest.raises(ConnectionClosed) as caught:
            await ws.recv()
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1003
