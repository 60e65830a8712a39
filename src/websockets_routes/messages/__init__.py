"""Typed per-message routing inside a connection: each message to its typed handler.

A :class:`MessageRouter` is a connection handler: it reads every frame, decodes it
once against the union of the message types it knows (JSON in text frames,
MessagePack in binary frames), calls the handler declared for its type and sends
the handler's return value back as the reply::

    class ChatSend(msgspec.Struct, tag="chat.send"):
        text: str

    class ChatAck(msgspec.Struct, tag="chat.ack"):
        length: int

    messages = MessageRouter()

    @messages.on
    async def send(ws, msg: ChatSend, path: RoutedPath) -> ChatAck:
        return ChatAck(len(msg.text))

    router.route("/rooms/{room}", name="room")(messages)

This module needs msgspec: ``pip install 'websockets-routes[messages]>=1.0'``.
"""

from __future__ import annotations

try:
    import msgspec  # noqa: F401 - the private modules import it; this names the extra
except ImportError:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "websockets_routes.messages needs msgspec; "
        "install it with: pip install 'websockets-routes[messages]>=1.0'"
    ) from None

import typing

from . import _errors, _types

# Names re-exported "as" themselves are public names of the module this package
# replaced, kept importable outside __all__ as they were.
from ._client import MessageClient, connect
from ._dispatch import MessageRouter
from ._errors import ERROR_TAG as ERROR_TAG
from ._errors import MAX_CLOSE_REASON as MAX_CLOSE_REASON
from ._errors import MAX_DETAIL_LENGTH as MAX_DETAIL_LENGTH
from ._errors import MAX_ID_LENGTH as MAX_ID_LENGTH
from ._errors import ErrorCode, MessageError
from ._types import ErrorHookT as ErrorHookT
from ._types import HandlerT as HandlerT
from ._types import Incoming, Validator
from ._types import MiddlewareT as MiddlewareT
from ._types import UnknownHookT as UnknownHookT

# Type aliases are assigned rather than imported: autodoc reads their doc
# comments in the source of the module it documents, this one.

#: A correlation id: a string of at most :data:`MAX_ID_LENGTH` characters, or an int.
MessageId: typing.TypeAlias = _errors.MessageId

#: Calls the rest of the middleware chain and the handler; returns the reply.
Next: typing.TypeAlias = _types.Next

#: Per-message middleware: ``async def mw(ws, incoming, path, call_next) -> reply``.
Middleware: typing.TypeAlias = _types.Middleware

__all__ = [
    "ErrorCode",
    "Incoming",
    "MessageClient",
    "MessageError",
    "MessageId",
    "MessageRouter",
    "Middleware",
    "Next",
    "Validator",
    "connect",
]
