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

This module needs msgspec: ``pip install 'websockets-routes[messages]'``.
"""

from __future__ import annotations

try:
    import msgspec
except ImportError:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "websockets_routes.messages needs msgspec; "
        "install it with: pip install 'websockets-routes[messages]'"
    ) from None

import contextlib
import enum
import functools
import inspect
import logging
import operator
import types
import typing
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypeVar, overload

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from ._path import RoutedPath
from .exceptions import RouteError

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

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

logger = logging.getLogger("websockets_routes")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: A correlation id: a string of at most :data:`MAX_ID_LENGTH` characters, or an int.
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

    #: The frame is not JSON (text) or MessagePack (binary), or not an object.
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
_STRICT_CLOSE: dict[str, CloseCode] = {
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


class Validator(Protocol[T_co]):
    """Turns a decoded object into a message, and describes it as JSON Schema.

    msgspec types (Structs, dataclasses, TypedDicts, attrs classes) and pydantic
    models get one automatically; pass your own with
    ``messages.on("tag", validator=...)`` for anything else.
    """

    def validate(self, data: dict[str, Any]) -> T_co:
        """The message built from ``data``; raise ValueError with a short reason if invalid."""
        ...

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The payload schema and the named schemas it refers to through ``ref_template``."""
        ...


class _MsgspecValidator:
    """msgspec Structs, dataclasses, TypedDicts and attrs classes."""

    __slots__ = ("type",)

    def __init__(self, tp: type[Any]) -> None:
        self.type = tp

    def validate(self, data: dict[str, Any]) -> Any:
        return msgspec.convert(data, self.type)

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        (schema,), components = msgspec.json.schema_components(
            (self.type,), ref_template=ref_template
        )
        return schema, components


class _PydanticValidator:
    """pydantic models (``websockets-routes[pydantic]``), found by duck typing."""

    __slots__ = ("type",)

    def __init__(self, tp: type[Any]) -> None:
        self.type = tp

    def validate(self, data: dict[str, Any]) -> Any:
        try:
            return self.type.model_validate(data)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            if errors is None:
                raise
            # pydantic's own text echoes the input; keep the place and the reason.
            first = errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(
                f"{first['msg']} - at `$.{where}`" if where else first["msg"]
            ) from None

    def json_schema(self, ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        # pydantic names the placeholder {model}; msgspec and we name it {name}.
        template = ref_template.replace("{name}", "{model}")
        schema: dict[str, Any] = self.type.model_json_schema(ref_template=template)
        components: dict[str, Any] = schema.pop("$defs", {})
        name = schema.get("title") or self.type.__name__
        components[name] = schema
        return {"$ref": ref_template.format(name=name)}, components


def _is_pydantic(tp: type[Any]) -> bool:
    return callable(getattr(tp, "model_validate", None)) and callable(
        getattr(tp, "model_json_schema", None)
    )


def _validator_for(tp: type[Any]) -> Validator[Any]:
    if _is_pydantic(tp):
        return _PydanticValidator(tp)
    return _MsgspecValidator(tp)


def _refuses_id(tp: Any) -> bool:
    """Whether ``tp`` forbids unknown fields and so would refuse a message's ``id``."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return bool(tp.__struct_config__.forbid_unknown_fields) and (
            "id" not in tp.__struct_encode_fields__
        )
    if isinstance(tp, type) and _is_pydantic(tp):
        if getattr(tp, "model_config", {}).get("extra") != "forbid":
            return False
        fields: dict[str, Any] = getattr(tp, "model_fields", {})
        names = set(fields)
        for field in fields.values():
            names.update(
                alias
                for alias in (
                    getattr(field, "alias", None),
                    getattr(field, "validation_alias", None),
                )
                if isinstance(alias, str)
            )
        return "id" not in names
    return False


def _without_id(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key != "id"}


def _enc_hook(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(
        f"cannot encode a {type(obj).__name__} as a message: send a msgspec Struct, a "
        f"dataclass, a pydantic model or JSON-compatible data"
    )


_json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


def _type_hints(obj: Any, what: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception as exc:
        raise RouteError(
            f"cannot resolve the annotations of {what} ({type(exc).__name__}: {exc}); "
            f"define its types at module level"
        ) from None


def _own_tag(tp: Any, tag_field: str) -> str | None:
    """The tag a type carries itself: a msgspec Struct tag or a one-value Literal field."""
    if not isinstance(tp, type):
        return None
    if issubclass(tp, msgspec.Struct):
        config = tp.__struct_config__
        if config.tag is not None:
            if config.tag_field != tag_field:
                raise RouteError(
                    f"{tp.__name__} is tagged on {config.tag_field!r} but this message "
                    f"router's tag_field is {tag_field!r}; pass tag_field={config.tag_field!r} "
                    f"to MessageRouter or change the Struct"
                )
            if not isinstance(config.tag, str):
                raise RouteError(f"{tp.__name__}: message tags must be strings")
            return config.tag
    annotation = _type_hints(tp, tp.__name__).get(tag_field)
    if typing.get_origin(annotation) is Literal:
        args = typing.get_args(annotation)
        if len(args) == 1 and isinstance(args[0], str):
            return args[0]
    return None


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _union_members(arg)]
    return [annotation]


#: A message handler: ``async def handler(ws, msg, path) -> reply | None``.
HandlerT = TypeVar("HandlerT", bound=Callable[[Any, Any, RoutedPath], Awaitable[object]])

#: Calls the rest of the middleware chain and the handler; returns the reply.
Next: TypeAlias = Callable[[], Awaitable[object]]

#: Per-message middleware: ``async def mw(ws, incoming, path, call_next) -> reply``.
Middleware: TypeAlias = Callable[[Any, "Incoming", RoutedPath, Next], Awaitable[object]]
MiddlewareT = TypeVar("MiddlewareT", bound=Middleware)
UnknownHookT = TypeVar(
    "UnknownHookT", bound=Callable[[Any, "Incoming", RoutedPath], Awaitable[object]]
)
ErrorHookT = TypeVar("ErrorHookT", bound=Callable[[Any, MessageError, RoutedPath], Awaitable[None]])


class Incoming:
    """One decoded message, as middleware and the ``on_unknown`` hook see it.

    Attributes:
        tag: The message type (``"chat.send"``).
        message: The decoded message; for an unknown type, the plain decoded dict.
        id: The correlation id the client sent, or None.
        binary: True for a MessagePack (binary) frame, False for JSON (text).
    """

    __slots__ = ("binary", "id", "message", "tag")

    def __init__(self, tag: str, message: Any, id: MessageId | None, binary: bool) -> None:
        self.tag = tag
        self.message = message
        self.id = id
        self.binary = binary

    def __repr__(self) -> str:
        return f"<Incoming {self.tag!r} id={self.id!r}>"


class _Entry:
    __slots__ = (
        "decode_type",
        "fast",
        "handler",
        "replies",
        "strip_id",
        "tag",
        "type",
        "validator",
    )

    def __init__(
        self,
        tag: str,
        tp: Any,
        decode_type: Any,
        handler: Callable[..., Awaitable[object]],
        validator: Validator[Any],
        fast: bool,
        replies: tuple[type[Any], ...],
        strip_id: bool = False,
    ) -> None:
        self.tag = tag
        self.type = tp
        self.decode_type = decode_type
        self.handler = handler
        self.validator = validator
        self.fast = fast
        self.replies = replies
        # The type forbids unknown fields: validate without the correlation id.
        self.strip_id = strip_id


class _IdOnly(msgspec.Struct):
    id: typing.Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | int | None = None


_id_json: Any = msgspec.json.Decoder(_IdOnly)
_id_msgpack: Any = msgspec.msgpack.Decoder(_IdOnly)
# Typed Any: msgspec's stubs want bytes where text frames give str.
_any_json: Any = msgspec.json.Decoder()
_any_msgpack: Any = msgspec.msgpack.Decoder()
_INVALID_ID = "the id must be an int or a string of at most 128 characters"


def _check_id(value: Any) -> MessageId | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    raise MessageError(ErrorCode.INVALID_ID, _INVALID_ID)


class _Compiled:
    """The decoders of one message router, built once from its handlers."""

    __slots__ = ("by_tag", "by_type", "json", "msgpack")

    def __init__(self, entries: dict[str, _Entry], tag_field: str) -> None:
        self.by_tag = entries
        self.by_type = {entry.decode_type: entry for entry in entries.values()}
        # Typed Any: msgspec's stubs want bytes where text frames give str.
        self.json: Any = None
        self.msgpack: Any = None
        if entries and all(entry.fast for entry in entries.values()):
            # A tagged union decodes and validates in one pass. A sentinel keeps
            # it a union with one handler, so that the tag stays required.
            sentinel = msgspec.defstruct(
                "_Sentinel", [], tag="\x00", tag_field=tag_field, module=__name__
            )
            union: Any = functools.reduce(operator.or_, [*self.by_type, sentinel])
            self.json = msgspec.json.Decoder(union)
            self.msgpack = msgspec.msgpack.Decoder(union)


class MessageRouter:
    """Routes each message of a connection to the handler declared for its type.

    An instance is a connection handler (``await messages(ws, path)`` runs the
    receive loop), so attach it to a route with
    ``router.route("/rooms/{room}", name="room")(messages)`` or call it from a
    class view's ``handle()``.

    Args:
        tag_field: The field that names the message type.
        strict: Close the connection after an error frame: 1003 for bad data,
            1009 for an oversized frame, 1008 for a :class:`MessageError` raised
            by your code, 1011 when a handler fails. By default errors never
            close the connection.
        max_size: Frames larger than this many bytes get a ``frame_too_large``
            error without being decoded; None for no limit of our own (websockets'
            ``max_size`` still applies and closes with 1009).
        pushes: Message types the server sends on its own with :meth:`send`;
            they appear as ``send`` operations in the AsyncAPI document.
        query: A type describing the query string, for the AsyncAPI document.
        headers: A type describing the handshake headers, for the AsyncAPI document.
        name: The route name when attached without ``name=``.
        description: Describes the channel in the AsyncAPI document.
    """

    def __init__(
        self,
        *,
        tag_field: str = "type",
        strict: bool = False,
        max_size: int | None = 65_536,
        pushes: Iterable[type[Any]] = (),
        query: type[Any] | None = None,
        headers: type[Any] | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(tag_field, str) or not tag_field or tag_field == "id":
            raise RouteError(
                f"tag_field must be a non-empty str other than 'id', not {tag_field!r}"
            )
        self.tag_field = tag_field
        self.strict = strict
        self.max_size = max_size
        self.query = query
        self.headers = headers
        self.description = description
        if name is not None:
            # Router.route() names a route after its endpoint's __name__.
            self.__name__ = name
        self.pushes: tuple[type[Any], ...] = ()
        for tp in pushes:
            if _own_tag(tp, tag_field) is None:
                raise RouteError(f"push type {tp!r} needs a tag: {self._how_to_tag()}")
            self.pushes += (tp,)
        self._entries: dict[str, _Entry] = {}
        self._middleware: list[Middleware] = []
        self._unknown: Callable[[Any, Incoming, RoutedPath], Awaitable[object]] | None = None
        self._error_hooks: list[Callable[[Any, MessageError, RoutedPath], Awaitable[None]]] = []
        self._compiled: _Compiled | None = None

    def __repr__(self) -> str:
        return f"<MessageRouter {', '.join(self._entries) or 'empty'}>"

    # Declaring handlers.

    @overload
    def on(self, handler: HandlerT, /) -> HandlerT: ...

    @overload
    def on(
        self, tag: str | type[Any], /, *, validator: Validator[Any] | None = None
    ) -> Callable[[HandlerT], HandlerT]: ...

    def on(self, target: Any, /, *, validator: Validator[Any] | None = None) -> Any:
        """Declare the handler of one message type.

        Three spellings: ``@messages.on`` takes the type from the annotation of
        the handler's second parameter and the tag from the type (a msgspec
        Struct's ``tag``, or a field ``type: Literal["chat.send"]``);
        ``@messages.on("chat.send")`` names the tag (an untagged Struct gets it);
        ``@messages.on(ChatSend)`` names the type. The return annotation declares
        the replies. The decorator returns the handler unchanged.

        Raises:
            RouteError: If the handler is not a coroutine function, the type has
                no tag, the tag is taken, or a reply type has no tag.
        """
        if isinstance(target, str | type):

            def decorator(handler: HandlerT) -> HandlerT:
                self._register(target, handler, validator)
                return handler

            return decorator
        self._register(None, target, validator)
        return target

    def middleware(self, middleware: MiddlewareT) -> MiddlewareT:
        """Run ``middleware(ws, incoming, path, call_next)`` around every handler.

        ``await call_next()`` runs the rest of the chain and returns the reply,
        which the middleware may replace. Raise :class:`MessageError` to refuse
        the message (a guard, a rate limit). ``path.params`` has the route
        parameters and ``path.context`` what handshake hooks stored. Middleware
        runs in the order it was added, the first outermost.
        """
        _require_async(middleware, "middleware")
        self._middleware.append(middleware)
        return middleware

    def on_unknown(self, hook: UnknownHookT) -> UnknownHookT:
        """Handle messages of undeclared types with ``hook(ws, incoming, path)``.

        ``incoming.message`` is the plain decoded dict. Like a handler, the hook
        returns the reply or None; without it, the client gets an
        ``unknown_type`` error.
        """
        _require_async(hook, "hook")
        self._unknown = hook
        return hook

    def on_error(self, hook: ErrorHookT) -> ErrorHookT:
        """Call ``hook(ws, error, path)`` before every error frame is sent.

        For logging and metrics: ``error.code``, ``error.detail``, ``error.id``,
        and for handler failures ``error.__cause__``. A hook that raises is
        logged and ignored.
        """
        _require_async(hook, "hook")
        self._error_hooks.append(hook)
        return hook

    @property
    def tags(self) -> tuple[str, ...]:
        """The message types with a handler, in declaration order."""
        return tuple(self._entries)

    def message_types(self) -> dict[str, Any]:
        """The type of each declared message, by tag."""
        return {tag: entry.type for tag, entry in self._entries.items()}

    def reply_types(self, tag: str) -> tuple[type[Any], ...]:
        """The reply types the handler of ``tag`` declares in its return annotation."""
        return self._entries[tag].replies

    def validator(self, tag: str) -> Validator[Any]:
        """The validator of the message type ``tag``."""
        return self._entries[tag].validator

    # Serving.

    async def handle(self, ws: Any, path: RoutedPath) -> None:
        """Receive every message of the connection and dispatch it; the receive loop."""
        async for data in ws:
            await self.dispatch(ws, data, path)

    async def __call__(self, ws: Any, path: RoutedPath) -> None:
        """Same as :meth:`handle`, so that the message router is a connection handler."""
        await self.handle(ws, path)

    async def dispatch(self, ws: Any, data: str | bytes, path: RoutedPath) -> None:
        """Handle one frame: decode it, run middleware and handler, send the reply.

        ``data`` is what ``ws.recv()`` returned: ``str`` for a text frame (JSON),
        ``bytes`` for a binary frame (MessagePack). Use it when you write the
        receive loop yourself. Errors become error frames as described in
        :class:`MessageRouter`; only ConnectionClosed propagates.
        """
        compiled = self._compiled or self._compile()
        binary = data.__class__ is not str
        msg_id: MessageId | None = None
        try:
            if self.max_size is not None and len(data) > self.max_size // 4:
                self._check_size(data)
            decoder = compiled.msgpack if binary else compiled.json
            entry: _Entry | None
            if decoder is not None:
                try:
                    message = decoder.decode(data)
                except msgspec.MsgspecError:
                    entry, message, msg_id = self._decode_slowly(compiled, data, binary)
                else:
                    entry = compiled.by_type.get(message.__class__)
                    if entry is None:
                        # The sentinel's tag: no handler, so tell the client as usual.
                        entry, message, msg_id = self._decode_slowly(compiled, data, binary)
                    # Most messages carry no id: look for it only when it may be there.
                    elif (b"\xa2id" if binary else '"id"') in data:  # type: ignore[operator]
                        try:
                            msg_id = (_id_msgpack if binary else _id_json).decode(data).id
                        except msgspec.MsgspecError:
                            raise MessageError(ErrorCode.INVALID_ID, _INVALID_ID) from None
            else:
                entry, message, msg_id = self._decode_slowly(compiled, data, binary)
        except MessageError as error:
            await self._fail(ws, error, path, binary)
            return
        try:
            if entry is None:
                if self._unknown is None:
                    raise MessageError(
                        ErrorCode.UNKNOWN_TYPE, "no handler for this message type", id=msg_id
                    )
                reply = await self._run(
                    ws, Incoming(message[self.tag_field], message, msg_id, binary), path, None
                )
            elif self._middleware:
                reply = await self._run(
                    ws, Incoming(entry.tag, message, msg_id, binary), path, entry.handler
                )
            else:
                reply = await entry.handler(ws, message, path)
            if reply is None:
                return
            frame = self._encode(reply, msg_id, binary)
        except MessageError as error:
            if error.id is None:
                error.id = msg_id
            await self._fail(ws, error, path, binary)
            return
        except Exception as exc:
            # Only this connection closing ends its loop; a handler's send to
            # another, closed connection is a handler failure like any other.
            if isinstance(exc, ConnectionClosed) and not _is_open(ws):
                raise
            logger.error(
                "message handler for %r of route %r failed",
                entry.tag if entry is not None else "(unknown)",
                _route_name(path),
                exc_info=True,
            )
            failure = MessageError(ErrorCode.INTERNAL_ERROR, "internal error", id=msg_id)
            failure.__cause__ = exc
            await self._fail(ws, failure, path, binary)
            return
        await _send(ws, frame, binary)

    async def send(self, ws: Any, message: object, *, binary: bool = False) -> None:
        """Send ``message`` to one connection: JSON in a text frame, or MessagePack.

        To send it to every connection of a route, :meth:`encode` it once and
        broadcast the frame: ``await router.broadcast(name, messages.encode(msg), **params)``.
        """
        await _send(ws, self._encode(message, None, binary), binary)

    @overload
    def encode(self, message: object, *, binary: Literal[False] = False) -> str: ...

    @overload
    def encode(self, message: object, *, binary: Literal[True]) -> bytes: ...

    def encode(self, message: object, *, binary: bool = False) -> str | bytes:
        """Encode ``message`` as a frame: a JSON ``str``, or MessagePack ``bytes``."""
        frame = self._encode(message, None, binary)
        return frame if binary else frame.decode()

    # Internals.

    def _how_to_tag(self) -> str:
        return (
            f"give it a tag (class T(msgspec.Struct, tag='t')) or a field "
            f"{self.tag_field}: Literal['t']"
        )

    def _register(
        self,
        target: str | type[Any] | None,
        handler: Callable[..., Awaitable[object]],
        validator: Validator[Any] | None,
    ) -> None:
        what = f"message handler {getattr(handler, '__qualname__', handler)!r}"
        if not inspect.iscoroutinefunction(handler):
            raise RouteError(f"{what} must be a coroutine function (async def)")
        hints = _type_hints(handler, what)
        tp: Any = None
        tag = target if isinstance(target, str) else None
        if isinstance(target, type):
            tp = target
        else:
            positional = [
                p
                for p in inspect.signature(handler).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if len(positional) != 3:
                raise RouteError(f"{what} must take three arguments: (ws, message, path)")
            tp = hints.get(positional[1].name)
        if tp is None and validator is None:
            raise RouteError(
                f"{what}: annotate its message parameter with the message type, "
                f"or write @messages.on(MessageType)"
            )
        own = _own_tag(tp, self.tag_field) if tp is not None else None
        if tag is not None and own is not None and tag != own:
            raise RouteError(f"{what}: tag {tag!r} differs from {tp.__name__}'s own tag {own!r}")
        tag = tag or own
        if tag is None:
            raise RouteError(
                f"{what}: {getattr(tp, '__name__', tp)} has no tag; {self._how_to_tag()}, "
                f"or write @messages.on('t')"
            )
        if tag == ERROR_TAG:
            raise RouteError(f"{what}: the tag {ERROR_TAG!r} is reserved for error frames")
        previous = self._entries.get(tag)
        if previous is not None:
            raise RouteError(
                f"{what}: message type {tag!r} already goes to "
                f"{getattr(previous.handler, '__qualname__', previous.handler)!r}"
            )
        decode_type, fast, strip_id = tp, False, False
        if validator is None:
            if not isinstance(tp, type):
                raise RouteError(f"{what}: the message type must be a class, not {tp!r}")
            if issubclass(tp, msgspec.Struct):
                if tp.__struct_config__.tag is not None:
                    fast = True
                elif own is None:
                    # An untagged Struct gets the tag through a subclass, which the
                    # handler receives: isinstance(msg, tp) still holds.
                    try:
                        decode_type = types.new_class(
                            tp.__name__, (tp,), {"tag": tag, "tag_field": self.tag_field}
                        )
                    except (TypeError, ValueError) as exc:
                        raise RouteError(f"{what}: cannot tag {tp.__name__}: {exc}") from None
                    decode_type.__module__ = tp.__module__
                    decode_type.__qualname__ = tp.__qualname__
                    fast = True
            validator = _validator_for(decode_type)
            strip_id = _refuses_id(decode_type)
        replies: list[type[Any]] = []
        for reply in _union_members(hints.get("return")):
            if reply is None or reply is type(None) or reply is Any or reply is object:
                continue
            if _own_tag(reply, self.tag_field) is None:
                raise RouteError(
                    f"{what}: reply type {getattr(reply, '__name__', reply)} needs a tag; "
                    f"{self._how_to_tag()}"
                )
            replies.append(reply)
        self._entries[tag] = _Entry(
            tag, tp, decode_type, handler, validator, fast, tuple(replies), strip_id
        )
        self._compiled = None

    def _compile(self) -> _Compiled:
        self._compiled = _Compiled(dict(self._entries), self.tag_field)
        return self._compiled

    def _check_size(self, data: str | bytes) -> None:
        assert self.max_size is not None
        if len(data) > self.max_size or (
            isinstance(data, str) and len(data.encode(errors="surrogatepass")) > self.max_size
        ):
            raise MessageError(
                ErrorCode.FRAME_TOO_LARGE, f"frames are limited to {self.max_size} bytes"
            )

    def _decode_slowly(
        self, compiled: _Compiled, data: str | bytes, binary: bool
    ) -> tuple[_Entry | None, Any, MessageId | None]:
        """Decode to a dict, then validate: the path for routes with non-msgspec
        types, and the one that tells error cases apart."""
        try:
            obj = (_any_msgpack if binary else _any_json).decode(data)
        except msgspec.MsgspecError:
            kind = "MessagePack (binary frame)" if binary else "JSON (text frame)"
            raise MessageError(ErrorCode.INVALID_FRAME, f"the frame is not valid {kind}") from None
        if not isinstance(obj, dict):
            raise MessageError(ErrorCode.INVALID_FRAME, "a message must be an object")
        msg_id = _check_id(obj.get("id"))
        tag = obj.get(self.tag_field)
        if not isinstance(tag, str):
            raise MessageError(
                ErrorCode.MISSING_TYPE,
                f"a message needs a string {self.tag_field!r} field",
                id=msg_id,
            )
        entry = compiled.by_tag.get(tag)
        if entry is None:
            return None, obj, msg_id
        try:
            message = entry.validator.validate(_without_id(obj) if entry.strip_id else obj)
        except ValueError as exc:
            raise MessageError(ErrorCode.INVALID_PAYLOAD, str(exc), id=msg_id) from None
        return entry, message, msg_id

    async def _run(
        self,
        ws: Any,
        incoming: Incoming,
        path: RoutedPath,
        handler: Callable[..., Awaitable[object]] | None,
    ) -> object:
        chain = self._middleware

        async def call(index: int) -> object:
            if index < len(chain):
                return await chain[index](ws, incoming, path, lambda: call(index + 1))
            if handler is None:
                assert self._unknown is not None
                return await self._unknown(ws, incoming, path)
            return await handler(ws, incoming.message, path)

        return await call(0)

    def _encode(self, message: object, msg_id: MessageId | None, binary: bool) -> bytes:
        if binary:
            frame = _msgpack_encoder.encode(message)
            if frame and 0x80 <= frame[0] < 0x8F:
                if msg_id is None:
                    return frame
                # The hot case: a fixmap with room for the id, spliced in inline.
                head = bytes((frame[0] + 1,)) + b"\xa2id" + _msgpack_encoder.encode(msg_id)
                return head + frame[1:]
            if msg_id is None and _is_map(frame, True):
                return frame
        else:
            frame = _json_encoder.encode(message)
            if frame[:1] == b"{":
                if msg_id is None:
                    return frame
                # The hot case: splice the id in inline.
                head = b'{"id":' + _json_encoder.encode(msg_id)
                return head + (frame[1:] if frame == b"{}" else b"," + frame[1:])
        # A larger map, or no map at all, which _prepend refuses.
        return _prepend(frame, {"id": msg_id}, binary, message)

    async def _fail(self, ws: Any, error: MessageError, path: RoutedPath, binary: bool) -> None:
        for hook in self._error_hooks:
            try:
                await hook(ws, error, path)
            except Exception:
                logger.error("error hook %r failed", hook, exc_info=True)
        frame: dict[str, Any] = {self.tag_field: ERROR_TAG, "code": error.code}
        frame["detail"] = error.detail
        if error.id is not None:
            frame["id"] = error.id
        await _send(ws, (_msgpack_encoder if binary else _json_encoder).encode(frame), binary)
        if self.strict:
            code = _STRICT_CLOSE.get(error.code, CloseCode.POLICY_VIOLATION)
            await ws.close(code, _close_reason(error.code))


def _is_map(frame: bytes, binary: bool) -> bool:
    if binary:
        # A fixmap, map 16 or map 32 header.
        return bool(frame) and (0x80 <= frame[0] <= 0x8F or frame[0] in (0xDE, 0xDF))
    return frame[:1] == b"{"


def _prepend(frame: bytes, fields: dict[str, Any], binary: bool, message: object) -> bytes:
    """``frame``, an encoded object, with ``fields`` spliced in first.

    Splicing rather than re-encoding through a dict keeps every value as the
    encoder wrote it: MessagePack bytes and timestamps stay what they are.
    """
    if not _is_map(frame, binary):
        raise TypeError(f"a message must encode to an object, not {type(message).__name__}")
    if not binary:
        head = _json_encoder.encode(fields)[:-1]
        return head + (b"}" if frame == b"{}" else b"," + frame[1:])
    count, body = _map_entries(frame)
    count += len(fields)
    if count < 16:
        head = bytes((0x80 | count,))
    elif count < 0x10000:
        head = b"\xde" + count.to_bytes(2, "big")
    else:
        head = b"\xdf" + count.to_bytes(4, "big")
    return head + _map_entries(_msgpack_encoder.encode(fields))[1] + body


def _map_entries(frame: bytes) -> tuple[int, bytes]:
    """The entry count of a MessagePack map and its entries, after the header."""
    if frame[0] <= 0x8F:
        return frame[0] & 0x0F, frame[1:]
    width = 2 if frame[0] == 0xDE else 4
    return int.from_bytes(frame[1 : 1 + width], "big"), frame[1 + width :]


def _close_reason(code: str) -> str:
    # Cut by bytes, then drop a character the cut split in two.
    reason = code.encode(errors="replace")[:MAX_CLOSE_REASON]
    return reason.decode(errors="ignore")


def _is_open(ws: Any) -> bool:
    # Connections of every websockets API have state; a test sink may not.
    return getattr(ws, "state", State.OPEN) is State.OPEN


def _require_async(obj: object, what: str) -> None:
    # A plain function here, not a TypeGuard, so decorators keep their exact type.
    if not inspect.iscoroutinefunction(obj):
        raise RouteError(f"{what} {obj!r} must be a coroutine function (async def)")


def _route_name(path: RoutedPath) -> str:
    route = getattr(path, "route", None)
    return route.name if route is not None else "?"


_text_keyword: dict[type[Any], bool] = {}


async def _send(ws: Any, frame: bytes, binary: bool) -> None:
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
        frame = (_msgpack_encoder if self.binary else _json_encoder).encode(message)
        fields: dict[str, Any] = {}
        if tag is not None:
            fields[self.tag_field] = tag
        if id is not None:
            fields["id"] = id
        if fields:
            frame = _prepend(frame, fields, self.binary, message)
        await _send(self.ws, frame, self.binary)

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
        obj = (_any_json if isinstance(data, str) else _any_msgpack).decode(data)
        if not isinstance(obj, dict):
            raise ValueError(f"expected a message object, got {type(obj).__name__}")
        return obj

    def _raise_error(self, obj: dict[str, Any]) -> None:
        if obj.get(self.tag_field) == ERROR_TAG:
            raise MessageError(str(obj.get("code")), str(obj.get("detail", "")), id=obj.get("id"))

    def _convert(self, obj: dict[str, Any], tp: type[T]) -> T:
        self._raise_error(obj)
        if _refuses_id(tp):
            obj = _without_id(obj)
        result: T = _validator_for(tp).validate(obj)
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
