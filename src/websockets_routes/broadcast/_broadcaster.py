"""The broadcaster of a router: local delivery and the backend that crosses processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from .._patterns import params_of
from ._deliver import Message, deliver, logger
from ._registry import params_key
from .backends import BroadcastBackend, backend_from_url

if TYPE_CHECKING:
    from .._route import Route
    from .._router import Router
    from ..converters import Converter

__all__ = ["BroadcastError", "Broadcaster", "unknown_route"]


class BroadcastError(ValueError):
    """A broadcast names an unknown route, or parameters the route doesn't have."""


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
        # Router hands us the router being served, whose registry has the connections.
        self._registry = router._registry
        # A process must listen once it holds a connection, even if it never sends.
        self._registry.on_first_connection = self._start_soon if self.backend.remote else None

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
        self._registry.on_first_connection = None
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
        deliver(self._registry.members(route, key, every=texts is None), message)
        if self.backend.remote and not self._closed:
            self._start_soon()
            self.backend.publish(_encode(_ROUTE, [name, texts], message))

    async def broadcast_group(self, group: str, message: Message) -> None:
        """Send ``message`` to the connections in ``group``, in every process."""
        deliver(self._registry.group_members(group), message)
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
                route = self.router.get(name)
                if route is None:
                    raise KeyError(name)
                spec = self._spec(route)
                if texts is None:
                    connections = self._registry.members(route, every=True)
                else:
                    values = [conv.to_python(t) for (_, conv), t in zip(spec, texts, strict=True)]
                    connections = self._registry.members(route, params_key(values))
            elif kind == _GROUP:
                connections = self._registry.group_members(target)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            logger.warning("dropped a broadcast frame this router can't read: %r", exc)
            return
        deliver(connections, message)

    def _spec(self, route: Route) -> tuple[tuple[str, Converter[Any]], ...]:
        spec = self._params.get(route)
        if spec is None:
            # In the order of path.params: host parameters, then the path's.
            spec = self._params[route] = tuple(
                (p.name, p.converter)
                for p in (*params_of(route.host_segments), *params_of(route.segments))
            )
        return spec

    def _target(
        self, name: str, params: dict[str, Any]
    ) -> tuple[Route, list[str] | None, Hashable]:
        route = self.router.get(name)
        if route is None or route.kind != "websocket":
            raise unknown_route(self.router, name)
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


def unknown_route(router: Router, name: str) -> BroadcastError:
    """The error for a broadcast to ``name``, which is no WebSocket route of ``router``."""
    known = ", ".join(sorted(r.name for r in router.routes if r.kind == "websocket"))
    return BroadcastError(f"no WebSocket route named {name!r}; known names: {known or 'none'}")
