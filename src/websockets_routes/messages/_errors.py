"""Error frames: their codes, MessageError, the limits on what they carry, strict-mode closes."""

from __future__ import annotations

import enum
from typing import TypeAlias

from websockets.frames import CloseCode

__all__ = [
    "ERROR_TAG",
    "MAX_CLOSE_REASON",
    "MAX_DETAIL_LENGTH",
    "MAX_ID_LENGTH",
    "STRICT_CLOSE",
    "ErrorCode",
    "MessageError",
    "MessageId",
]

# A correlation id; documented in __init__.py, where it is public.
MessageId: TypeAlias = str | int

MAX_ID_LENGTH = 128
#: Error details are cut to this many characters, so they never echo unbounded input.
MAX_DETAIL_LENGTH = 200
#: A close frame has room for this many bytes of reason.
MAX_CLOSE_REASON = 123
#: The tag of error frames; no handler may claim it.
ERROR_TAG = "error"


class ErrorCode(enum.StrEnum):
    """The stable ``code`` of the error frames the message router sends."""

    #: The frame is not JSON (text) or MessagePack (binary), not an object, or nests
    #: deeper than the interpreter's recursion limit.
    INVALID_FRAME = "invalid_frame"
    #: The frame is larger than the router's ``max_size``.
    FRAME_TOO_LARGE = "frame_too_large"
    #: The object has no string tag field (``"type"`` by default).
    MISSING_TYPE = "missing_type"
    #: No handler is declared for this type (and no ``on_unknown`` hook).
    UNKNOWN_TYPE = "unknown_type"
    #: The payload does not validate against the type's schema.
    INVALID_PAYLOAD = "invalid_payload"
    #: The ``id`` is neither an int nor a string of at most 128 characters.
    INVALID_ID = "invalid_id"
    #: The handler (or a middleware or hook) raised; details go to the log only.
    INTERNAL_ERROR = "internal_error"


# What strict mode closes with: bad data 1003, too big 1009, our failure 1011;
# any other code (a MessageError raised by a guard or handler) is a policy violation.
STRICT_CLOSE: dict[str, CloseCode] = {
    ErrorCode.INVALID_FRAME: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.MISSING_TYPE: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.UNKNOWN_TYPE: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.INVALID_PAYLOAD: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.INVALID_ID: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.FRAME_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
    ErrorCode.INTERNAL_ERROR: CloseCode.INTERNAL_ERROR,
}


class MessageError(Exception):
    """An error about one message, sent to the client as an error frame.

    Raise it in a handler or middleware to refuse a message with your own
    ``code`` (``"forbidden"``, ``"rate_limited"``...): the client gets
    ``{"type": "error", "code": ..., "detail": ..., "id": ...}`` and the
    connection goes on (in strict mode it closes with 1008). The message router
    raises nothing: it builds these for the codes of :class:`ErrorCode`.
    :class:`MessageClient` raises it when it receives an error frame.
    """

    def __init__(self, code: str, detail: str = "", *, id: MessageId | None = None) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = _bounded(detail)
        self.id = id

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


def _bounded(text: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: MAX_DETAIL_LENGTH + 1])
    if len(text) > MAX_DETAIL_LENGTH:
        text = text[: MAX_DETAIL_LENGTH - 3] + "..."
    return text
