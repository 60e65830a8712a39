"""Broadcast: send one message to every connection on a route, or in a group, in every process.

Connections are found by the route they matched and its parameters (tracked by the
router while their handler runs) or by the groups they joined. Delivery in this
process uses websockets' own ``broadcast()``; a backend such as Redis carries the
message to the other processes, which deliver it to their own connections::

    router.use_broadcast("redis://127.0.0.1:6379/0")  # optional: in-process by default

    @router.route("/rooms/{room}")
    async def room(ws, path):
        async for message in ws:
            await router.broadcast("room", message, room=path.params["room"])

See ``docs/howto/broadcast.md`` for how to use it and ``docs/topics/scaling.md``
for delivery semantics and scaling out.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

from websockets.asyncio.connection import Connection as AsyncioConnection
from websockets.asyncio.connection import broadcast as asyncio_broadcast

from ._patterns import Mixed, Param, Rest
from ._registry import params_key

if TYPE_CHECKING:
    from ._router import Route, Router
    from .converters import Converter

__all__ = [
    "BroadcastBackend",
    "BroadcastError",
    "Broadcaster",
    "MemoryBackend",
    "backend_from_url",
    "deliver",
    "logger",
]

logger = logging.getLogger("websockets_routes.broadcast")

Message = str | bytes
Sender = Callable[[Sequence[Any], Message], None]


class BroadcastError(ValueError):
    """A broadcast names an unknown route, or parameters the route doesn't have."""


class BroadcastBackend(abc.ABC):
    """Carries broadcast frames to the other processes, and theirs to this one.

    A backend moves opaque ``bytes``; the :class:`Broadcaster` encodes and
    delivers. :meth:`publish` must neither block nor raise: delivery across
    processes is at most once.
    """

    #: False for a backend that reaches this process only.
    remote: bool = True

    @abc.abstractmethod
    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Begin receiving: call ``receive(frame)`` for frames of other processes.

        Return when ready, or when it's clear that readiness will take a while;
        keep trying in the background then.
        """

    @abc.abstractmethod
    def publish(self, frame: bytes) -> None:
        """Send ``frame`` to the other processes, or drop it; never raise."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop receiving and release connections."""


class MemoryBackend(BroadcastBackend):
    """The default: every connection is in this process, so there is nothing to carry."""

    remote = False

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Nothing to start."""

    def publish(self, frame: bytes) -> None:
        """Nothing to publish: the broadcaster delivered locally already."""

    async def aclose(self) -> None:
        """Nothing to close."""


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, fit for logs; never raises.

    The password may itself contain "/" or "@": the host follows the last "@".
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, address = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{address}"


def backend_from_url(url: str | None, **options: Any) -> BroadcastBackend:
    """The backend for ``url``: ``memory://`` (or None), ``redis://``, ``rediss://``, ``unix://``.

    This is what the CLI's ``--broadcast URL`` calls. ``options`` go to the
    backend (see :class:`~websockets_routes._redis.RedisBackend`).

    Raises:
        ValueError: If the scheme is unknown.
        ImportError: If the URL needs the ``redis`` package and it is missing.
    """
    if url is None or url in ("memory://", "memory:"):
        return MemoryBackend()
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        try:
            from ._redis import RedisBackend
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("redis"):
                raise
            raise ImportError(
                f"broadcast to {scheme}:// needs the redis package: "
                "pip install 'websockets-routes[redis]'"
            ) from exc
        return RedisBackend(url, **options)
    raise ValueError(f"unknown broadcast URL {url!r}; use memory:// or redis://host:port/db")


# Delivery in this process.

_warned: set[type[Any]] = set()


def _unsupported(connections: Sequence[Any], message: Message) -> None:
    cls = type(connections[0])
    if cls not in _warned:
        _warned.add(cls)
        logger.warning("broadcast skips %s connections: only asyncio and legacy ones", cls.__name__)


def _sender(cls: type[Any]) -> Sender:
    if issubclass(cls, AsyncioConnection):
        return asyncio_broadcast
    # The legacy API is deprecated: look for it only if the app imported it.
    legacy = sys.modules.get("websockets.legacy.protocol")
    if legacy is not None and issubclass(cls, legacy.WebSocketCommonProtocol):
        return legacy.broadcast  # type: ignore[no-any-return]
    return _unsupported


def deliver(connections: Sequence[Any], message: Message) -> None:
    """Send ``message`` to ``connections`` of this process with websockets' ``broadcast()``.

    Like it, this never waits for a connection: a connection that isn't open is
    skipped, and a slow one buffers the message (websockets' keepalive closes it
    if it stops reading); a failed write is logged as a warning and skipped.
    """
    if not connections:
        return
    first = type(connections[0])
    if all(type(ws) is first for ws in connections):
        _sender(first)(connections, message)
        return
    by_sender: dict[Sender, list[Any]] = {}
    for ws in connections:
        by_sender.setdefault(_sender(type(ws)), []).append(ws)
    for send, some in by_sender.items():
        send(some, message)


# Frames between processes: kind, text or binary, a JSON target, then the message.
_ROUTE, _GROUP = b"R", b"G"
_TEXT, _BINARY = b"t", b"b"


def _encode(kind: bytes, target: Any, message: Message) -> bytes:
    if isinstance(message, str):
        flag, payload = _TEXT, message.encode()
    else:
        flag, payload = _BINARY, bytes(message)
    header = json.dumps(target, separators=(",", ":")).encode()
    return b"".join((kind, flag, header, b"\n", payload))


class Broadcaster:
    """Delivers broadcasts of one router: locally, and through its backend.

    Get it from :attr:`Router.broadcaster <websockets_routes.Router.broadcaster>`
    or :meth:`Router.use_broadcast <websockets_routes.Router.use_broadcast>`.
    Call broadcast methods on the router you serve: it tracks the connections and
    knows route names as :meth:`~websockets_routes.Router.url_for` does.
    """

    def __init__(self, router: Router, backend: str | BroadcastBackend | None = None) -> None:
        self.router = router
        self.backend = (
            backend if isinstance(backend, BroadcastBackend) else backend_from_url(backend)
        )
        self._params: dict[Route, tuple[tuple[str, Converter[Any]], ...]] = {}
        self._start: asyncio.Task[None] | None = None
        # Set by aclose(), or when the backend fails to start: broadcasts stay local.
        self._closed = False
        # A process must listen once it holds a connection, even if it never sends.
        router.connections.on_join = self._start_soon if self.backend.remote else None

    @property
    def started(self) -> bool:
        """Whether the backend was started."""
        return self._start is not None

    def check_replaceable(self) -> None:
        """Raise if the backend started already: configure broadcast before serving.

        Raises:
            RuntimeError: If this broadcaster's backend started.
        """
        if self.started:
            raise RuntimeError("configure broadcast with use_broadcast() before serving")

    async def start(self) -> None:
        """Start the backend and wait until it is ready (it retries in the background).

        Connections and broadcasts start it on first use; await this to know that
        messages from other processes are coming in, for example before
        reporting ready.
        """
        self._start_soon()
        assert self._start is not None
        await asyncio.shield(self._start)

    def _start_soon(self) -> None:
        if self._start is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                logger.warning("broadcast needs an asyncio event loop; this one isn't")
                return
            self._start = loop.create_task(self.backend.start(self.receive))
            self._start.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[None]) -> None:
        # Nobody may await the task: report a failure here, not at garbage collection.
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._closed = True
            logger.error(
                "broadcast backend %r failed to start; delivering to local connections only",
                self.backend,
                exc_info=exc,
            )

    async def aclose(self) -> None:
        """Stop the backend; broadcasts are then delivered in this process only.

        Broadcasts sent after this still reach this process's connections; nothing
        is published, so other processes don't get them.
        """
        self._closed = True
        self.router.connections.on_join = None
        if self._start is not None:
            await asyncio.gather(self._start, return_exceptions=True)
        await self.backend.aclose()

    async def broadcast(self, name: str, message: Message, /, **params: Any) -> None:
        """Send ``message`` to the connections on route ``name`` with ``params``.

        Give every parameter of the route, with values typed as handlers see
        them in ``path.params`` (``id=7`` for an ``int``; each converter checks
        its value as for ``url_for``), or none to reach every connection on the route. A
        ``str`` is sent as a text frame, ``bytes`` as a binary frame.

        Connections of this process get it before this returns; other
        processes get it through the backend, at most once.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
        """
        route, texts, key = self._target(name, params)
        registry = self.router.connections
        deliver(registry.members(route, key, every=texts is None), message)
        if self.backend.remote and not self._closed:
            self._start_soon()
            self.backend.publish(_encode(_ROUTE, [name, texts], message))

    async def broadcast_group(self, group: str, message: Message) -> None:
        """Send ``message`` to the connections in ``group``, in every process."""
        deliver(self.router.connections.group_members(group), message)
        if self.backend.remote and not self._closed:
            self._start_soon()
            self.backend.publish(_encode(_GROUP, group, message))

    def receive(self, frame: bytes) -> None:
        """Deliver a frame published by another process to connections of this one."""
        try:
            head, _, payload = frame.partition(b"\n")
            kind, flag, target = head[:1], head[1:2], json.loads(head[2:])
            message: Message = payload.decode() if flag == _TEXT else payload
            if kind == _ROUTE:
                name, texts = target
                route = self.router._names[name]
                spec = self._spec(route)
                if texts is None:
                    connections = self.router.connections.members(route, every=True)
                else:
                    values = [conv.to_python(t) for (_, conv), t in zip(spec, texts, strict=True)]
                    connections = self.router.connections.members(route, params_key(values))
            elif kind == _GROUP:
                connections = self.router.connections.group_members(target)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            logger.warning("dropped a broadcast frame this router can't read: %r", exc)
            return
        deliver(connections, message)

    def _spec(self, route: Route) -> tuple[tuple[str, Converter[Any]], ...]:
        spec = self._params.get(route)
        if spec is None:
            found: list[tuple[str, Converter[Any]]] = []
            for segment in route.segments:
                if isinstance(segment, Param | Rest):
                    found.append((segment.name, segment.converter))
                elif isinstance(segment, Mixed):
                    found.extend((p.name, p.converter) for p in segment.params)
            spec = self._params[route] = tuple(found)
        return spec

    def _target(
        self, name: str, params: dict[str, Any]
    ) -> tuple[Route, list[str] | None, Hashable]:
        route = self.router._names.get(name)
        if route is None or route.kind != "websocket":
            known = ", ".join(
                sorted(n for n, r in self.router._names.items() if r.kind == "websocket")
            )
            raise BroadcastError(
                f"no WebSocket route named {name!r}; known names: {known or 'none'}"
            )
        spec = self._spec(route)
        if not params:
            return route, None, None
        names = [n for n, _ in spec]
        if set(params) != set(names):
            raise BroadcastError(
                f"route {name!r} ({route.pattern}) takes all of its parameters "
                f"({', '.join(names) or 'none'}) or none, not {', '.join(sorted(params))}"
            )
        texts: list[str] = []
        values: list[Any] = []
        for param, converter in spec:
            try:
                text = converter.to_url(params[param])
                values.append(converter.to_python(text))
            except (TypeError, ValueError) as exc:
                raise BroadcastError(
                    f"route {name!r}: {param}={params[param]!r} is refused by {converter!r}: {exc}"
                ) from None
            texts.append(text)
        return route, texts, params_key(values)
