"""MessageRouter: decodes each frame, runs middleware and the handler, sends the reply."""

from __future__ import annotations

import functools
import inspect
import logging
import operator
import sys
import types
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, overload

import msgspec
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from .._path import RoutedPath
from ..broadcast._fanout import deliver_now
from ..broadcast._registry import member_of
from ..exceptions import RouteError
from ._codec import (
    any_json,
    any_msgpack,
    check_id,
    close_reason,
    encode_frame,
    find_id,
    json_encoder,
    msgpack_encoder,
    send_frame,
)
from ._errors import ERROR_TAG, STRICT_CLOSE, ErrorCode, MessageError, MessageId
from ._types import (
    ErrorHookT,
    HandlerT,
    Incoming,
    Middleware,
    MiddlewareT,
    UnknownHookT,
    Validator,
    own_tag,
    refuses_id,
    type_hints,
    union_members,
    validator_for,
    without_id,
)

__all__ = ["MessageRouter"]

logger = logging.getLogger("websockets_routes")


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


class _Compiled:
    """The decoders of one message router, built once from its handlers."""

    __slots__ = ("by_tag", "by_type", "handlers", "inline", "json", "msgpack", "plain", "small")

    def __init__(
        self,
        entries: dict[str, _Entry],
        tag_field: str,
        max_size: int | None,
        middleware: bool,
    ) -> None:
        self.by_tag = entries
        self.by_type = {entry.decode_type: entry for entry in entries.values()}
        # The receive loop's inline path needs the handler only.
        self.handlers = {entry.decode_type: entry.handler for entry in entries.values()}
        # Frames up to this size can't be over max_size, whatever their encoding.
        self.small = sys.maxsize if max_size is None else max_size // 4
        # No middleware: handlers are awaited directly.
        self.plain = not middleware
        # What the receive loop decodes inline: the tagged union, without middleware.
        self.inline: Any = None
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
            if self.plain:
                self.inline = self.json.decode


#: What the receive loop holds before its first message: not any router's tables.
_NOT_YET: Any = object()


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
        self._max_size = max_size
        self.query = query
        self.headers = headers
        self.description = description
        if name is not None:
            # Router.route() names a route after its endpoint's __name__.
            self.__name__ = name
        self.pushes: tuple[type[Any], ...] = ()
        for tp in pushes:
            if own_tag(tp, tag_field) is None:
                raise RouteError(f"push type {tp!r} needs a tag: {self._how_to_tag()}")
            self.pushes += (tp,)
        self._entries: dict[str, _Entry] = {}
        self._middleware: list[Middleware] = []
        self._unknown: Callable[[Any, Incoming, RoutedPath], Awaitable[object]] | None = None
        self._error_hooks: list[Callable[[Any, MessageError, RoutedPath], Awaitable[None]]] = []
        self._compiled: _Compiled | None = None

    def __repr__(self) -> str:
        return f"<MessageRouter {', '.join(self._entries) or 'empty'}>"

    @property
    def max_size(self) -> int | None:
        """Frames larger than this many bytes get ``frame_too_large``; None for no limit."""
        return self._max_size

    @max_size.setter
    def max_size(self, value: int | None) -> None:
        self._max_size = value
        self._compiled = None

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
        self._compiled = None
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
        """Receive every message of the connection and dispatch it; the receive loop.

        It does what :meth:`dispatch` does for each frame, with the common case
        inline: a JSON message of a declared type, without an id, handled
        without middleware. Anything else goes through :meth:`dispatch`.
        """
        compiled: Any = _NOT_YET
        async for data in ws:
            if self._compiled is not compiled:
                # The first message, or a handler or middleware declared meanwhile.
                compiled = self._compiled or self._compile()
                decode, handlers, small = compiled.inline, compiled.handlers, compiled.small
            # An id's key is '"id"' unless escaped, which takes a backslash.
            if (
                decode is None
                or data.__class__ is not str
                or len(data) > small
                or '"id"' in data
                or "\\" in data
            ):
                await self.dispatch(ws, data, path)
                continue
            try:
                message = decode(data)
                handler = handlers[type(message)]
            except (msgspec.MsgspecError, RecursionError, KeyError):
                # Invalid, or the sentinel's tag, which has no handler: dispatch() answers.
                await self.dispatch(ws, data, path)
                continue
            try:
                reply = await handler(ws, message, path)
                if reply is None:
                    continue
                frame = encode_frame(reply, None, False)
            except Exception as exc:
                entry = compiled.by_type.get(message.__class__)
                await self._failed(ws, path, entry, exc, None, False)
                continue
            await send_frame(ws, frame, False)

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
            if len(data) > compiled.small:
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
                    # Most messages carry no id: find_id searches the frame first,
                    # and so, inline, does this.
                    elif (b"id" in data) if binary else ('"id"' in data or "\\u" in data):
                        msg_id = find_id(data, binary)
            else:
                entry, message, msg_id = self._decode_slowly(compiled, data, binary)
        except MessageError as error:
            await self._fail(ws, error, path, binary)
            return
        except RecursionError:
            # msgspec refuses to nest deeper than the interpreter's recursion limit.
            too_deep = MessageError(ErrorCode.INVALID_FRAME, "the frame nests too deeply")
            await self._fail(ws, too_deep, path, binary)
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
            elif compiled.plain:
                reply = await entry.handler(ws, message, path)
            else:
                reply = await self._run(
                    ws, Incoming(entry.tag, message, msg_id, binary), path, entry.handler
                )
            if reply is None:
                return
            frame = encode_frame(reply, msg_id, binary)
        except Exception as exc:
            await self._failed(ws, path, entry, exc, msg_id, binary)
            return
        await send_frame(ws, frame, binary)

    async def _failed(
        self,
        ws: Any,
        path: RoutedPath,
        entry: _Entry | None,
        exc: Exception,
        msg_id: MessageId | None,
        binary: bool,
    ) -> None:
        """Answer a message whose handler (or middleware, or hook) raised ``exc``."""
        if isinstance(exc, MessageError):
            if exc.id is None:
                exc.id = msg_id
            await self._fail(ws, exc, path, binary)
            return
        # Only this connection closing ends its loop; a handler's send to
        # another, closed connection is a handler failure like any other.
        if isinstance(exc, ConnectionClosed) and not _is_open(ws):
            raise exc
        logger.error(
            "message handler for %r of route %r failed",
            entry.tag if entry is not None else "(unknown)",
            _route_name(path),
            exc_info=exc,
        )
        failure = MessageError(ErrorCode.INTERNAL_ERROR, "internal error", id=msg_id)
        failure.__cause__ = exc
        await self._fail(ws, failure, path, binary)

    async def send(self, ws: Any, message: object, *, binary: bool = False) -> None:
        """Send ``message`` to one connection: JSON in a text frame, or MessagePack.

        A push to a connection that a router serves follows its route's send
        policy, like a broadcast: it never waits for a slow client. To send it
        to every connection of a route, :meth:`encode` it once and broadcast the
        frame: ``await router.broadcast(name, messages.encode(msg), **params)``.
        """
        frame = encode_frame(message, None, binary)
        member = member_of(ws)
        if member.path is None:
            # No router tracks it: a client, or a connection served otherwise.
            await send_frame(ws, frame, binary)
        else:
            deliver_now((member,), frame, not binary, member.path.router._registry.stats)

    @overload
    def encode(self, message: object, *, binary: Literal[False] = False) -> str: ...

    @overload
    def encode(self, message: object, *, binary: Literal[True]) -> bytes: ...

    def encode(self, message: object, *, binary: bool = False) -> str | bytes:
        """Encode ``message`` as a frame: a JSON ``str``, or MessagePack ``bytes``."""
        frame = encode_frame(message, None, binary)
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
        hints = type_hints(handler, what)
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
        own = own_tag(tp, self.tag_field) if tp is not None else None
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
            validator = validator_for(decode_type)
            strip_id = refuses_id(decode_type)
        replies: list[type[Any]] = []
        for reply in union_members(hints.get("return")):
            if reply is None or reply is type(None) or reply is Any or reply is object:
                continue
            if own_tag(reply, self.tag_field) is None:
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
        self._compiled = _Compiled(
            dict(self._entries), self.tag_field, self.max_size, bool(self._middleware)
        )
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
            obj = (any_msgpack if binary else any_json).decode(data)
        except msgspec.MsgspecError:
            kind = "MessagePack (binary frame)" if binary else "JSON (text frame)"
            raise MessageError(ErrorCode.INVALID_FRAME, f"the frame is not valid {kind}") from None
        if not isinstance(obj, dict):
            raise MessageError(ErrorCode.INVALID_FRAME, "a message must be an object")
        msg_id = check_id(obj.get("id"))
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
            message = entry.validator.validate(without_id(obj) if entry.strip_id else obj)
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
        await send_frame(ws, (msgpack_encoder if binary else json_encoder).encode(frame), binary)
        if self.strict:
            code = STRICT_CLOSE.get(error.code, CloseCode.POLICY_VIOLATION)
            await ws.close(code, close_reason(error.code))


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
