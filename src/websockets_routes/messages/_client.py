"""MessageClient and connect: a typed client for a message router."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._codec import any_json, any_msgpack, json_encoder, msgpack_encoder, prepend, send_frame
from ._errors import ERROR_TAG, MessageError, MessageId
from ._types import refuses_id, validator_for, without_id

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["MessageClient", "connect"]

T = TypeVar("T")


class MessageClient:
    """A typed client for a message router: send messages, receive them by type.

    Made by :func:`connect`; also wraps any websockets client connection. Error
    frames raise :class:`MessageError`. Handy in tests::

        async with connect(url + "/rooms/lobby") as client:
            ack = await client.request(ChatSend("hi"), ChatAck)

    Args:
        ws: A websockets client connection.
        binary: Send MessagePack in binary frames instead of JSON in text frames.
        tag_field: The field that names the message type.
    """

    def __init__(self, ws: ClientConnection, *, binary: bool = False, tag_field: str = "type"):
        self.ws = ws
        self.binary = binary
        self.tag_field = tag_field
        self._next_id = 0
        self._pending: deque[dict[str, Any]] = deque()

    async def send(
        self, message: object, *, id: MessageId | None = None, tag: str | None = None
    ) -> None:
        """Send one message, with a correlation ``id`` if given.

        Pass ``tag`` for a type that doesn't carry its tag (an untagged Struct).
        """
        frame = (msgpack_encoder if self.binary else json_encoder).encode(message)
        fields: dict[str, Any] = {}
        if tag is not None:
            fields[self.tag_field] = tag
        if id is not None:
            fields["id"] = id
        if fields:
            frame = prepend(frame, fields, self.binary, message)
        await send_frame(self.ws, frame, self.binary)

    async def send_raw(self, data: str | bytes) -> None:
        """Send a frame as it is: ``str`` as text, ``bytes`` as binary."""
        await self.ws.send(data)

    async def request(
        self, message: object, reply: type[T], *, tag: str | None = None, max_frames: int = 100
    ) -> T:
        """Send ``message`` with a fresh id and return the reply with that id, as ``reply``.

        Other messages that arrive first are kept for :meth:`receive`.

        Raises:
            MessageError: If the server answers with an error frame about it.
            ValueError: If the reply is not a valid ``reply``, or none comes
                within ``max_frames`` frames.
        """
        self._next_id += 1
        msg_id = self._next_id
        await self.send(message, id=msg_id, tag=tag)
        for _ in range(max_frames):
            obj = await self._recv_obj()
            if obj.get("id") == msg_id:
                return self._convert(obj, reply)
            self._pending.append(obj)
        raise ValueError(f"no reply with id {msg_id} within {max_frames} frames")

    @overload
    async def receive(self) -> dict[str, Any]: ...

    @overload
    async def receive(self, cls: type[T]) -> T: ...

    async def receive(self, cls: Any = None) -> Any:
        """The next message: as ``type``, or as a plain dict without one.

        Raises:
            MessageError: If it is an error frame.
        """
        obj = self._pending.popleft() if self._pending else await self._recv_obj()
        self._raise_error(obj)
        return obj if cls is None else self._convert(obj, cls)

    async def receive_error(self) -> MessageError:
        """The next message, which must be an error frame, as a :class:`MessageError`."""
        try:
            obj = await self.receive()
        except MessageError as error:
            return error
        raise ValueError(f"expected an error frame, got {obj.get(self.tag_field)!r}")

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()

    async def _recv_obj(self) -> dict[str, Any]:
        data = await self.ws.recv()
        obj = (any_json if isinstance(data, str) else any_msgpack).decode(data)
        if not isinstance(obj, dict):
            raise ValueError(f"expected a message object, got {type(obj).__name__}")
        return obj

    def _raise_error(self, obj: dict[str, Any]) -> None:
        if obj.get(self.tag_field) == ERROR_TAG:
            raise MessageError(str(obj.get("code")), str(obj.get("detail", "")), id=obj.get("id"))

    def _convert(self, obj: dict[str, Any], tp: type[T]) -> T:
        self._raise_error(obj)
        if refuses_id(tp):
            obj = without_id(obj)
        result: T = validator_for(tp).validate(obj)
        return result


@contextlib.asynccontextmanager
async def connect(
    uri: str, *, binary: bool = False, tag_field: str = "type", **kwargs: Any
) -> AsyncIterator[MessageClient]:
    """Connect with :func:`websockets.asyncio.client.connect` and yield a :class:`MessageClient`.

    Keyword arguments other than ``binary`` and ``tag_field`` go to websockets.
    """
    from websockets.asyncio.client import connect as websockets_connect

    async with websockets_connect(uri, **kwargs) as ws:
        yield MessageClient(ws, binary=binary, tag_field=tag_field)
