"""Frames: JSON and MessagePack codecs, correlation ids, fields spliced in, sending a frame."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from ._errors import MAX_CLOSE_REASON, MAX_ID_LENGTH, ErrorCode, MessageError, MessageId

__all__ = [
    "INVALID_ID_DETAIL",
    "any_json",
    "any_msgpack",
    "check_id",
    "close_reason",
    "encode_frame",
    "find_id",
    "json_encoder",
    "msgpack_encoder",
    "prepend",
    "send_frame",
]


def _enc_hook(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(
        f"cannot encode a {type(obj).__name__} as a message: send a msgspec Struct, a "
        f"dataclass, a pydantic model or JSON-compatible data"
    )


json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


class _IdOnly(msgspec.Struct):
    # Any, then check_id(): the id is decoded and validated as the slow path does.
    id: Any = None


_id_json: Any = msgspec.json.Decoder(_IdOnly)
_id_msgpack: Any = msgspec.msgpack.Decoder(_IdOnly)
# Typed Any: msgspec's stubs want bytes where text frames give str.
any_json: Any = msgspec.json.Decoder()
any_msgpack: Any = msgspec.msgpack.Decoder()
INVALID_ID_DETAIL = "the id must be an int or a string of at most 128 characters"


def find_id(data: str | bytes, binary: bool) -> MessageId | None:
    """The correlation id of a frame that decoded already, validated as :func:`check_id` does.

    Most messages carry no id, so the frame is searched first: a JSON key ``"id"``
    is written as such or with ``\\u`` escapes (``"\\u0069d"``); a MessagePack
    key holds the bytes ``id`` whatever its string header (fixstr, str8...).

    Raises:
        MessageError: ``invalid_id`` if the id is neither an int nor a short string.
    """
    if binary:
        if b"id" not in data:
            return None
        return check_id(_id_msgpack.decode(data).id)
    if '"id"' not in data and "\\u" not in data:
        return None
    return check_id(_id_json.decode(data).id)


def check_id(value: Any) -> MessageId | None:
    """``value`` if it is a valid correlation id or None; an ``invalid_id`` MessageError if not."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    raise MessageError(ErrorCode.INVALID_ID, INVALID_ID_DETAIL)


def encode_frame(message: object, msg_id: MessageId | None, binary: bool) -> bytes:
    """``message`` encoded as a frame, with the correlation id ``msg_id`` first if not None."""
    if binary:
        frame = msgpack_encoder.encode(message)
        if frame and 0x80 <= frame[0] < 0x8F:
            if msg_id is None:
                return frame
            # The hot case: a fixmap with room for the id, spliced in inline.
            head = bytes((frame[0] + 1,)) + b"\xa2id" + msgpack_encoder.encode(msg_id)
            return head + frame[1:]
        if msg_id is None and _is_map(frame, True):
            return frame
    else:
        frame = json_encoder.encode(message)
        if frame[:1] == b"{":
            if msg_id is None:
                return frame
            # The hot case: splice the id in inline.
            head = b'{"id":' + json_encoder.encode(msg_id)
            return head + (frame[1:] if frame == b"{}" else b"," + frame[1:])
    # A larger map, or no map at all, which prepend refuses.
    return prepend(frame, {"id": msg_id}, binary, message)


def _is_map(frame: bytes, binary: bool) -> bool:
    if binary:
        # A fixmap, map 16 or map 32 header.
        return bool(frame) and (0x80 <= frame[0] <= 0x8F or frame[0] in (0xDE, 0xDF))
    return frame[:1] == b"{"


def prepend(frame: bytes, fields: dict[str, Any], binary: bool, message: object) -> bytes:
    """``frame``, an encoded object, with ``fields`` spliced in first.

    Splicing rather than re-encoding through a dict keeps every value as the
    encoder wrote it: MessagePack bytes and timestamps stay what they are.
    """
    if not _is_map(frame, binary):
        raise TypeError(f"a message must encode to an object, not {type(message).__name__}")
    if not binary:
        head = json_encoder.encode(fields)[:-1]
        return head + (b"}" if frame == b"{}" else b"," + frame[1:])
    count, body = _map_entries(frame)
    count += len(fields)
    if count < 16:
        head = bytes((0x80 | count,))
    elif count < 0x10000:
        head = b"\xde" + count.to_bytes(2, "big")
    else:
        head = b"\xdf" + count.to_bytes(4, "big")
    return head + _map_entries(msgpack_encoder.encode(fields))[1] + body


def _map_entries(frame: bytes) -> tuple[int, bytes]:
    """The entry count of a MessagePack map and its entries, after the header."""
    if frame[0] <= 0x8F:
        return frame[0] & 0x0F, frame[1:]
    width = 2 if frame[0] == 0xDE else 4
    return int.from_bytes(frame[1 : 1 + width], "big"), frame[1 + width :]


def close_reason(code: str) -> str:
    """The close reason that carries an error ``code``, cut to fit in a close frame."""
    # Cut by bytes, then drop a character the cut split in two.
    reason = code.encode(errors="replace")[:MAX_CLOSE_REASON]
    return reason.decode(errors="ignore")


_text_keyword: dict[type[Any], bool] = {}


async def send_frame(ws: Any, frame: bytes, binary: bool) -> None:
    """Send an encoded frame: binary as it is, or as a text frame."""
    if binary:
        await ws.send(frame)
        return
    # Connections that take send(bytes, text=True) skip a decode and re-encode.
    cls = type(ws)
    text = _text_keyword.get(cls)
    if text is None:
        try:
            text = "text" in inspect.signature(ws.send).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtin send
            text = False
        _text_keyword[cls] = text
    if text:
        await ws.send(frame, text=True)
    else:
        await ws.send(frame.decode())
