"""Section: typed messages decoded and dispatched through a MessageRouter vs by hand.

Receive loops handle the same frames (a 93-byte ``chat.send`` among four message types)
from an in-memory connection, and call the same kind of async handler: the message
router's own loop (``MessageRouter.handle``, a msgspec tagged union), a hand-written
``json.loads`` + ``if type == ...`` loop with the checks the types imply, pydantic
(``validate_json`` of a discriminated union, then a dict of handlers), Litestar's
``websocket_listener`` driven through ASGI in memory (when Litestar is installed), and
the floor: msgspec by hand, decoding the tagged union, looking up the handler and
awaiting it, nothing else.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import msgspec
import pydantic

from websockets_routes import RoutedPath, Router
from websockets_routes.messages import MessageRouter

from ._report import Table, ratio, spread

__all__ = ["run"]


class ChatSend(msgspec.Struct, tag="chat.send"):
    room: str
    text: str
    mentions: list[str] = []


class Typing(msgspec.Struct, tag="typing"):
    room: str
    active: bool


class Read(msgspec.Struct, tag="read"):
    message_id: int


class React(msgspec.Struct, tag="react"):
    message_id: int
    emoji: str


class PChatSend(pydantic.BaseModel):
    type: Literal["chat.send"]
    room: str
    text: str
    mentions: list[str] = []


class PTyping(pydantic.BaseModel):
    type: Literal["typing"]
    room: str
    active: bool


class PRead(pydantic.BaseModel):
    type: Literal["read"]
    message_id: int


class PReact(pydantic.BaseModel):
    type: Literal["react"]
    message_id: int
    emoji: str


FRAMES = [
    '{"type":"chat.send","room":"lobby","text":"hello everyone, how is it going?",'
    '"mentions":["bob"]}',
    '{"type":"typing","room":"lobby","active":true}',
    '{"type":"read","message_id":123456}',
    '{"type":"react","message_id":123456,"emoji":"+1"}',
]


class _Sink:
    """Stands in for a connection: it yields ``frames``; the handlers here never reply."""

    def __init__(self, frames: list[str] | None = None) -> None:
        self.frames = frames or []

    async def send(self, message: Any, text: bool | None = None) -> None:
        pass

    def __aiter__(self) -> Any:
        return self._frames()

    async def _frames(self) -> Any:
        for frame in self.frames:
            yield frame


def _router() -> MessageRouter:
    messages = MessageRouter()

    @messages.on
    async def chat(ws: Any, msg: ChatSend, path: RoutedPath) -> None:
        pass

    @messages.on
    async def typing(ws: Any, msg: Typing, path: RoutedPath) -> None:
        pass

    @messages.on
    async def read(ws: Any, msg: Read, path: RoutedPath) -> None:
        pass

    @messages.on
    async def react(ws: Any, msg: React, path: RoutedPath) -> None:
        pass

    return messages


async def _handler(ws: Any, msg: Any, path: RoutedPath) -> None:
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _by_hand(ws: Any, data: str, path: RoutedPath) -> None:
    # What applications write today, with the checks the four types imply.
    try:
        msg = json.loads(data)
    except ValueError:
        await ws.send('{"type":"error","code":"invalid_frame"}')
        return
    if not isinstance(msg, dict):
        await ws.send('{"type":"error","code":"invalid_frame"}')
        return
    kind = msg.get("type")
    if kind == "chat.send":
        mentions = msg.get("mentions", [])
        ok = (
            isinstance(msg.get("room"), str)
            and isinstance(msg.get("text"), str)
            and isinstance(mentions, list)
            and all(isinstance(m, str) for m in mentions)
        )
    elif kind == "typing":
        ok = isinstance(msg.get("room"), str) and isinstance(msg.get("active"), bool)
    elif kind == "read":
        ok = _is_int(msg.get("message_id"))
    elif kind == "react":
        ok = _is_int(msg.get("message_id")) and isinstance(msg.get("emoji"), str)
    else:
        await ws.send('{"type":"error","code":"unknown_type"}')
        return
    if not ok:
        await ws.send('{"type":"error","code":"invalid_payload"}')
        return
    await _handler(ws, msg, path)


_adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(
    Annotated[PChatSend | PTyping | PRead | PReact, pydantic.Field(discriminator="type")]
)
_pydantic_handlers = dict.fromkeys(("chat.send", "typing", "read", "react"), _handler)


async def _pydantic(ws: Any, data: str, path: RoutedPath) -> None:
    try:
        msg = _adapter.validate_json(data)
    except pydantic.ValidationError:
        await ws.send('{"type":"error","code":"invalid_payload"}')
        return
    await _pydantic_handlers[msg.type](ws, msg, path)


_floor_decoder = msgspec.json.Decoder(ChatSend | Typing | Read | React)
_floor_handlers = dict.fromkeys((ChatSend, Typing, Read, React), _handler)


async def _floor(ws: Any, data: str, path: RoutedPath) -> None:
    # The least any typed dispatch does: decode and validate in one pass, find the
    # handler, await it. No size limit, id echo, error frames or middleware.
    try:
        message = _floor_decoder.decode(data)
    except msgspec.MsgspecError:
        return
    await _floor_handlers[type(message)](ws, message, path)


async def _floor_loop(ws: Any, path: RoutedPath) -> None:
    decode = _floor_decoder.decode
    async for data in ws:
        try:
            message = decode(data)
        except msgspec.MsgspecError:
            continue
        await _floor_handlers[type(message)](ws, message, path)


def _loop(dispatch: Callable[[Any, str, RoutedPath], Awaitable[None]]) -> Loop:
    async def loop(ws: Any, path: RoutedPath) -> None:
        async for data in ws:
            await dispatch(ws, data, path)

    return loop


def _litestar() -> Loop | None:
    """Litestar's websocket_listener with the same four types, driven through ASGI."""
    try:
        from litestar import Litestar, websocket_listener
    except ImportError:
        return None

    @websocket_listener("/ws")
    async def listener(data: ChatSend | Typing | Read | React) -> None:
        pass

    app = Litestar([listener], logging_config=None)

    async def loop(ws: Any, path: RoutedPath) -> None:
        frames = iter(ws.frames)
        connected = False

        async def receive() -> dict[str, Any]:
            nonlocal connected
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            frame = next(frames, None)
            if frame is None:
                return {"type": "websocket.disconnect", "code": 1000}
            return {"type": "websocket.receive", "text": frame}

        async def send(message: dict[str, Any]) -> None:
            pass

        scope = {
            "type": "websocket",
            "path": "/ws",
            "raw_path": b"/ws",
            "headers": [],
            "query_string": b"",
            "root_path": "",
            "scheme": "ws",
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
            "subprotocols": [],
            "asgi": {"version": "3.0"},
            "state": {},
        }
        await app(scope, receive, send)  # type: ignore[arg-type]

    return loop


Loop = Callable[[Any, RoutedPath], Awaitable[None]]


async def _time(loop: Loop, count: int, path: RoutedPath) -> float:
    ws = _Sink(FRAMES * (count // len(FRAMES)))
    start = time.perf_counter()
    await loop(ws, path)
    return time.perf_counter() - start


def measure(count: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per message of each contender, one value per round, rounds interleaved."""
    router = Router()
    messages = _router()
    router.route("/rooms/{room}", name="room")(messages)
    path = router.match("/rooms/lobby")
    assert path is not None
    contenders: dict[str, Loop] = {
        "message router (msgspec)": messages.handle,
        "json.loads + if type == ... + checks": _loop(_by_hand),
        "pydantic validate_json (discriminated union)": _loop(_pydantic),
        "floor: msgspec decode + lookup + await, nothing else": _floor_loop,
    }
    litestar = _litestar()
    if litestar is not None:
        contenders["Litestar websocket_listener (ASGI, in memory)"] = litestar
    results: dict[str, list[float]] = {name: [] for name in contenders}

    async def main() -> None:
        for loop in contenders.values():  # Warm up.
            await _time(loop, count // 10 + len(FRAMES), path)
        for _ in range(rounds):
            for name, loop in contenders.items():
                elapsed = await _time(loop, count, path)
                results[name].append(elapsed / (count // len(FRAMES) * len(FRAMES)))

    asyncio.run(main())
    return results


def run(*, quick: bool) -> None:
    """Print the messages table."""
    count, rounds = (400, 1) if quick else (200_000, 7)
    results = measure(count, rounds)
    router_name = next(iter(results))
    table = Table(
        "Typed messages: decode, validate and dispatch to an async handler",
        ["dispatch", "messages/s", "µs per message", "router is faster by"],
        [
            f"{rounds} interleaved rounds of {count:,} frames (four message types, the "
            f"chat.send frame is {len(FRAMES[0])} bytes), in one process, no socket; "
            "medians (min-max). Ratio: median over rounds of this loop's time / the "
            "message router's in the same round.",
        ],
    )
    for name, values in results.items():
        ratios = [v / r for v, r in zip(values, results[router_name], strict=True)]
        table.add(
            name,
            spread([1 / v for v in values], "/s", 0),
            spread([v * 1e6 for v in values], "µs", 3),
            ratio(statistics.median(ratios)),
        )
    table.print()


if __name__ == "__main__":
    run(quick=False)
