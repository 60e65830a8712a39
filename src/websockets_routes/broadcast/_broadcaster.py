"""The broadcaster of a router: local delivery, and the backend that crosses processes.

Each room has a channel: a route with its parameter values, a route as a whole,
a group. A process subscribes to the channels of the rooms it hosts, publishes a
broadcast on its room's channel, and delivers what it receives to its members.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import sys
from collections.abc import Awaitable, Generator, Hashable
from typing import TYPE_CHECKING, Any

from .._patterns import params_of
from ._fanout import Message, deliver_now, fan_out, logger, payload_of
from ._registry import Member, RemoteMember, Topic, TopicKey, params_key
from .backends import BroadcastBackend, backend_from_url

if TYPE_CHECKING:
    from .._route import Route
    from .._router import Router
    from ..converters import Converter

__all__ = [
    "BroadcastError",
    "Broadcaster",
    "History",
    "Publisher",
    "in_async_context",
    "unknown_route",
]


class BroadcastError(ValueError):
    """A broadcast names an unknown route, or parameters the route doesn't have."""


@dataclasses.dataclass(frozen=True, slots=True)
class History:
    """Keep the last messages of each room of a route, so that clients catch up.

    Give it to ``@router.route(..., history=History())``. Every message broadcast
    to a room of the route is kept, up to ``size`` per room (in Redis with the
    Redis backend, in this process otherwise), and carries its offset: it must
    be a JSON object without a key ``field``, which it gets, with the offset, a
    string.
    A client that reconnects with ``?offset=LAST`` (``param``) first gets what it
    missed, in order and without duplicates, then live messages; when what it
    missed is no longer kept, it gets ``expired`` first instead. While the
    store is out of reach (Redis down), messages still reach the room, without
    an offset, and a warning says so once.

    Args:
        size: Messages kept per room.
        param: The query parameter that carries the last offset a client saw.
        field: The field of each message that carries its offset.
        expired: What a client whose offset is too old (or unknown) gets.

    Raises:
        ValueError: If ``size`` isn't positive or a name is empty.
    """

    size: int = 1000
    param: str = "offset"
    field: str = "offset"
    expired: str = '{"type":"history.expired"}'

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"History(size={self.size!r}) must be a positive int")
        if not self.param or not self.field:
            raise ValueError("History's param and field must be non-empty")


# Frames between processes: kind, text or binary, a JSON target, then the payload.
_ROUTE, _GROUP, _JOIN, _LEAVE = b"R", b"G", b"J", b"L"
_TEXT, _BINARY = b"t", b"b"


def _encode(kind: bytes, target: Any, payload: bytes, text: bool) -> bytes:
    header = json.dumps(target, separators=(",", ":")).encode()
    return b"".join((kind, _TEXT if text else _BINARY, header, b"\n", payload))


class _Done:
    """What a broadcast returns once it delivered synchronously: awaiting it does nothing."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


DONE = _Done()


def in_async_context() -> bool:
    """Whether this thread runs an event loop (asyncio or trio) that a broadcast can await."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        trio = sys.modules.get("trio")
        if trio is None:
            return False
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            return False
    return True


class _Channels:
    """Channel and key names of one app's rooms, under a prefix.

    The room's identity is in braces: a Redis Cluster hashes that part only, so
    a room's channel, history and presence keys share a slot, and rooms spread
    over the shards.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def room(self, name: str, texts: list[str]) -> str:
        return f"{self.prefix}:{{r:{name}:{json.dumps(texts, separators=(',', ':'))}}}"

    def route(self, name: str) -> str:
        return f"{self.prefix}:{{R:{name}}}"

    def group(self, group: str) -> str:
        return f"{self.prefix}:{{g:{group}}}"


class Broadcaster:
    """Delivers broadcasts of one router: locally, and through its backend.

    Get it from :attr:`Router.broadcaster <websockets_routes.Router.broadcaster>`
    or :meth:`Router.use_broadcast <websockets_routes.Router.use_broadcast>`.
    Call broadcast methods on the router you serve: it tracks the connections and
    knows route names as :meth:`~websockets_routes.Router.url_for` does.
    """

    def __init__(
        self,
        router: Router,
        backend: str | BroadcastBackend | None = None,
        *,
        attach: bool = True,
    ) -> None:
        self.router = router
        self.backend = (
            backend if isinstance(backend, BroadcastBackend) else backend_from_url(backend)
        )
        self._channels = _Channels(getattr(self.backend, "channel", "websockets-routes"))
        self._params: dict[Route, tuple[tuple[str, Converter[Any]], ...]] = {}
        self._start: asyncio.Task[None] | None = None
        # Set by aclose(), or when the backend fails to start: broadcasts stay local.
        self._closed = False
        # Router hands us the router being served, whose registry has the connections.
        self._registry = router._registry
        # Frames from other processes, delivered in order by one task.
        self._incoming: collections.deque[tuple[list[Member], bytes, bool, str | None]] = (
            collections.deque()
        )
        self._receiving: asyncio.Task[None] | None = None
        self._warned_no_loop = False
        # Whether the history store failed last time: warn once per outage.
        self._history_down = False
        # The channel of each topic this process hosts.
        self._hosted: dict[TopicKey, str] = {}
        if attach and self.backend.remote:
            # A process must listen once it holds a connection, even if it never sends.
            self._registry.on_first_connection = self._start_soon
            self._registry.on_topic = self._topic
            if self.backend.presence is not None:
                self._registry.on_room_change = self._room_changed
            self._registry.refresh()

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
        Redis answers, for example before reporting ready.
        """
        self._start_soon()
        assert self._start is not None
        await asyncio.shield(self._start)

    async def wait_subscribed(self, timeout: float | None = None) -> bool:
        """Start if need be, and wait until the rooms this process hosts are subscribed.

        From then on, what other processes broadcast to those rooms reaches
        their members here. Await it in a handler before telling a client it is
        in (the chat example's welcome). Returns False if that took longer than
        ``timeout`` seconds (the backend's ``connect_timeout`` by default).
        """
        if not self.backend.remote:
            return True
        await self.start()
        if timeout is None:
            timeout = getattr(self.backend, "connect_timeout", 5.0)
        return await self.backend.wait_subscribed(timeout)

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

    async def aclose(self, timeout: float = 5.0) -> int:
        """Publish what is queued (for at most ``timeout`` seconds), then stop the backend.

        Broadcasts sent after this still reach this process's connections;
        nothing is published, so other processes don't get them.

        Returns:
            How many messages couldn't be published.
        """
        self._closed = True
        self._registry.on_first_connection = None
        self._registry.refresh()
        if self._start is not None:
            await asyncio.gather(self._start, return_exceptions=True)
        return await self.backend.aclose(timeout)

    def broadcast(
        self,
        name: str,
        message: Message,
        /,
        *,
        exclude: Any = None,
        **params: Any,
    ) -> Awaitable[None]:
        """Send ``message`` to the connections on route ``name`` with ``params``.

        Give every parameter of the route, with values typed as handlers see
        them in ``path.params`` (``id=7`` for an ``int``; each converter checks
        its value as for ``url_for``), or none to reach every connection on the
        route. A ``str`` is sent as a text frame, ``bytes`` as a binary frame.
        ``exclude`` is a connection (the sender, say) or connections that don't
        get it.

        Await it in a coroutine: it yields to the event loop every few
        milliseconds while it reaches many connections. In a threaded server's
        handler, call it without ``await``: it delivers before returning.
        Connections of this process get it before it is done; other processes
        get it through the backend, at most once.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
            TypeError: If ``message`` is neither str nor bytes, or, on a route
                with history, isn't a JSON object or has the offset's key already.
        """
        route, texts, key = self._target(name, params)
        payload, text = payload_of(message)
        history: History | None = route.options.get("history")
        if history is not None and texts is not None:
            _check_object(route, payload, text, history.field)
            return self._broadcast_with_history(route, name, texts, key, payload, history, exclude)
        members = self._registry.members(route, key, every=texts is None)
        channel = self._channels.route(name) if texts is None else self._channels.room(name, texts)
        self._publish(channel, _encode(_ROUTE, [name, texts, None], payload, text))
        return self._deliver(_without(members, exclude), payload, text, None)

    def broadcast_group(
        self, group: str, message: Message, /, *, exclude: Any = None
    ) -> Awaitable[None]:
        """Send ``message`` to the connections in ``group``, in every process.

        ``exclude`` and awaiting work as for :meth:`broadcast`.
        """
        payload, text = payload_of(message)
        members = self._registry.group_members(group)
        self._publish(self._channels.group(group), _encode(_GROUP, group, payload, text))
        return self._deliver(_without(members, exclude), payload, text, None)

    def send(self, ws: Any, message: Message) -> Awaitable[None]:
        """Send ``message`` to connection ``ws`` alone, under the send policy.

        Unlike ``await ws.send(...)``, it never waits for a slow client: the
        message is buffered up to the bound of the send policy, then the policy
        applies. Awaiting works as for :meth:`broadcast`.

        Raises:
            ValueError: If ``ws`` isn't an open connection of this router.
        """
        payload, text = payload_of(message)
        member = self._registry.member(ws)
        if member is None:
            raise ValueError(
                f"{ws!r} isn't an open connection of this router: send to connections "
                f"whose handler runs, or use ws.send()"
            )
        deliver_now((member,), payload, text, self._registry.stats)
        return DONE

    async def presence(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Who is in the room of route ``name`` with ``params``, in every process.

        Each member is ``{"id": ..., "meta": {...}}``, plus ``"process"`` for
        members known through the backend.
        """
        route, texts, key = self._target(name, params)
        store = self.backend.presence
        if texts is None or store is None or not self.backend.remote:
            members = self._registry.members(route, key, every=texts is None)
            return [{"id": member.id, "meta": member.meta} for member in members]
        self._start_soon()
        return await store.get(self._channels.room(name, texts) + ":p")

    async def catch_up(self, member: Member, history: History) -> None:
        """Send ``member`` what its room got after the offset its client gave, then go live.

        Live messages that arrive meanwhile wait; those the replay already
        sent are skipped.
        """
        assert member.path is not None
        offset = member.path.query.get(history.param)
        store = self.backend.history
        if offset is None or store is None:
            return
        route = member.path.route
        texts = self._texts(route, member)
        if texts is None:
            return
        member.pending = []
        entries: list[tuple[str, bytes]] | None = None
        try:
            await self.wait_subscribed()
            try:
                entries = await store.since(self._channels.room(route.name, texts) + ":h", offset)
            except ValueError:
                entries = None  # Not an offset at all: as good as too old.
        finally:
            # No await from here on: nothing can arrive between replay and live.
            pending, member.pending = member.pending, None
            stats = self._registry.stats
            last = offset
            if entries is None:
                payload, text = payload_of(history.expired)
                deliver_now((member,), payload, text, stats)
                last = ""
            else:
                for entry_offset, payload in entries:
                    deliver_now(
                        (member,), _splice(payload, history.field, entry_offset), True, stats
                    )
                    last = entry_offset
            for payload, _, text, live in pending or ():
                if live is not None and last and _after(store, live, last) is False:
                    continue  # The replay sent it already.
                deliver_now((member,), payload, text, stats, live)

    def receive(self, frame: bytes) -> None:
        """Deliver a frame published by another process to connections of this one."""
        try:
            head, _, payload = frame.partition(b"\n")
            kind, flag, target = head[:1], head[1:2], json.loads(head[2:])
            text = flag == _TEXT
            if text:
                payload.decode()  # A text frame carries UTF-8: check before sending.
            offset = None
            if kind == _ROUTE:
                name, texts, offset = target
                route = self.router.get(name)
                if route is None:
                    raise KeyError(name)
                if texts is None:
                    members = self._registry.members(route, every=True)
                else:
                    spec = self._spec(route)
                    values = [conv.to_python(t) for (_, conv), t in zip(spec, texts, strict=True)]
                    members = self._registry.members(route, params_key(values))
            elif kind == _GROUP:
                members = self._registry.group_members(target)
            elif kind in (_JOIN, _LEAVE):
                self._remote_presence(kind == _JOIN, target, payload)
                return
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            logger.warning("dropped a broadcast frame this router can't read: %r", exc)
            return
        if not members:
            return
        # In order, and in slices like local broadcasts: one task drains them.
        self._incoming.append((members, payload, text, offset))
        if self._receiving is None or self._receiving.done():
            self._receiving = asyncio.get_running_loop().create_task(self._drain_incoming())

    # Internals.

    async def _drain_incoming(self) -> None:
        while self._incoming:
            members, payload, text, offset = self._incoming.popleft()
            await fan_out(members, payload, text, self._registry.stats, offset)

    async def _broadcast_with_history(
        self,
        route: Route,
        name: str,
        texts: list[str],
        key: Hashable,
        payload: bytes,
        history: History,
        exclude: Any,
    ) -> None:
        store = self.backend.history
        if store is None:
            raise TypeError(
                f"route {name!r} keeps history, but {self.backend!r} keeps none: "
                f"use the memory or Redis backend"
            )
        channel = self._channels.room(name, texts)
        offset: str | None = None
        try:
            if self.backend.remote:
                self._start_soon()
                if self._start is not None:
                    await asyncio.shield(self._start)
            offset = await store.append(channel + ":h", payload, history.size)
        except ConnectionError as exc:
            # Without the store, the room still gets the message, without an offset:
            # a client that reconnects later can't catch up on it.
            if not self._history_down:
                self._history_down = True
                logger.warning("%s; delivering without history until it is back", exc)
            spliced = payload
        else:
            if self._history_down:
                self._history_down = False
                logger.info("history of route %r is kept again", name)
            spliced = _splice(payload, history.field, offset)
        self._publish(channel, _encode(_ROUTE, [name, texts, offset], spliced, True))
        members = self._registry.members(route, key)
        await self._deliver(_without(members, exclude), spliced, True, offset)

    def _deliver(
        self, members: list[Member], payload: bytes, text: bool, offset: str | None
    ) -> Awaitable[None]:
        if len(members) > 1 and in_async_context():
            return fan_out(members, payload, text, self._registry.stats, offset)
        deliver_now(members, payload, text, self._registry.stats, offset)
        return DONE

    def _publish(self, channel: str, frame: bytes) -> None:
        if not self.backend.remote or self._closed:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # The backends run on asyncio: a thread or trio stays in this process.
            if not self._warned_no_loop:
                self._warned_no_loop = True
                logger.warning(
                    "broadcast through %r needs an asyncio event loop; outside one, "
                    "broadcasts reach this process's connections only",
                    self.backend,
                )
            return
        self._start_soon()
        self.backend.publish(channel, frame)

    def _topic(self, opened: bool, topic: TopicKey, member: Member) -> None:
        """This process starts or stops hosting ``topic``: (un)subscribe its channel."""
        if opened:
            channel = self._channel_of(topic, member)
            if channel is None:
                return
            self._hosted[topic] = channel
            self.backend.subscribe((channel,))
        else:
            channel = self._hosted.pop(topic, None)
            if channel is not None:
                self.backend.unsubscribe((channel,))

    def _channel_of(self, topic: TopicKey, member: Member) -> str | None:
        if topic[0] == "g":
            return self._channels.group(topic[1])
        route: Route = topic[1]
        if topic[0] == "R":
            return self._channels.route(route.name)
        texts = self._texts(route, member)
        return None if texts is None else self._channels.room(route.name, texts)

    def _texts(self, route: Route, member: Member) -> list[str] | None:
        """The parameter values of ``member``'s room, as its route's converters write them."""
        try:
            return [converter.to_url(member.params[name]) for name, converter in self._spec(route)]
        except (TypeError, ValueError) as exc:
            logger.warning("room of %r has parameters its converters refuse: %r", member, exc)
            return None

    def _room_changed(self, member: Member, joined: bool) -> None:
        """The members of ``member``'s room changed: tell the presence store, soon."""
        assert member.path is not None
        assert self.backend.presence is not None
        route, key = member.path.route, member.key
        topic = ("r", route, key)
        channel = self._hosted.get(topic) or self._channel_of(topic, member)
        if channel is None:
            return
        entries = [{"id": m.id, "meta": m.meta} for m in self._registry.members(route, key)]
        self.backend.presence.put(channel + ":p", entries)
        if self._registry.on_join or self._registry.on_leave:
            self._publish(
                channel,
                _encode(
                    _JOIN if joined else _LEAVE,
                    [route.name, self._texts(route, member), member.id, self._process()],
                    json.dumps(member.meta, default=str).encode(),
                    True,
                ),
            )

    def _process(self) -> str:
        tag = getattr(self.backend, "tag", b"")
        return tag.hex() if isinstance(tag, bytes) else str(tag)

    def _remote_presence(self, joined: bool, target: Any, payload: bytes) -> None:
        name, texts, member_id, process = target
        route = self.router.get(name)
        if route is None:
            raise KeyError(name)
        spec = self._spec(route)
        values = {n: conv.to_python(t) for (n, conv), t in zip(spec, texts, strict=True)}
        meta = json.loads(payload)
        self._registry.emit(joined, RemoteMember(member_id, meta, process), Topic(name, values))

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


class Publisher:
    """Broadcast to the connections of an app from a process that doesn't serve it.

    A cron job, a task-queue worker or a web view publishes through the backend;
    the app's servers deliver. It needs the app's router to know its routes::

        async with Publisher(router, "redis://127.0.0.1:6379/0") as publisher:
            await publisher.broadcast("room", "maintenance at noon", room="lobby")

    :meth:`broadcast` returns once Redis accepted the message (``wait=False``
    queues it instead); leaving the block (or :meth:`aclose`) publishes what is
    queued, within a timeout, and reports what couldn't be.

    Args:
        router: The app's router (the one its servers serve).
        backend: A backend or its URL, as for :meth:`Router.use_broadcast
            <websockets_routes.Router.use_broadcast>`.
        close_timeout: Seconds :meth:`aclose` waits for what is queued.
    """

    def __init__(
        self, router: Router, backend: str | BroadcastBackend, *, close_timeout: float = 5.0
    ) -> None:
        self._broadcaster = Broadcaster(router, backend, attach=False)
        self.backend = self._broadcaster.backend
        self.close_timeout = close_timeout
        #: Messages :meth:`aclose` couldn't publish.
        self.unsent = 0

    async def __aenter__(self) -> Publisher:
        await self._broadcaster.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def broadcast(
        self, name: str, message: Message, /, *, wait: bool = True, **params: Any
    ) -> None:
        """Publish ``message`` to route ``name`` with ``params``, as ``router.broadcast`` would.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
            ConnectionError: With ``wait``, if the backend didn't accept it.
        """
        broadcaster = self._broadcaster
        route, texts, _ = broadcaster._target(name, params)
        payload, text = payload_of(message)
        offset = None
        history: History | None = route.options.get("history")
        channels = broadcaster._channels
        channel = channels.route(name) if texts is None else channels.room(name, texts)
        if history is not None and texts is not None and self.backend.history is not None:
            _check_object(route, payload, text, history.field)
            offset = await self.backend.history.append(channel + ":h", payload, history.size)
            payload, text = _splice(payload, history.field, offset), True
        await self._publish(channel, _encode(_ROUTE, [name, texts, offset], payload, text), wait)

    async def broadcast_group(self, group: str, message: Message, /, *, wait: bool = True) -> None:
        """Publish ``message`` to ``group``, as ``router.broadcast_group`` would.

        Raises:
            ConnectionError: With ``wait``, if the backend didn't accept it.
        """
        payload, text = payload_of(message)
        channel = self._broadcaster._channels.group(group)
        await self._publish(channel, _encode(_GROUP, group, payload, text), wait)

    async def aclose(self) -> int:
        """Publish what is queued, within ``close_timeout``; return how many couldn't be."""
        self.unsent = await self._broadcaster.aclose(self.close_timeout)
        return self.unsent

    async def _publish(self, channel: str, frame: bytes, wait: bool) -> None:
        if wait:
            await self.backend.publish_wait(channel, frame)
        else:
            self.backend.publish(channel, frame)


def unknown_route(router: Router, name: str) -> BroadcastError:
    """The error for a broadcast to ``name``, which is no WebSocket route of ``router``."""
    known = ", ".join(sorted(r.name for r in router.routes if r.kind == "websocket"))
    return BroadcastError(f"no WebSocket route named {name!r}; known names: {known or 'none'}")


def _without(members: list[Member], exclude: Any) -> list[Member]:
    """``members`` but those whose connection is ``exclude``, or in it."""
    if exclude is None:
        return members
    if isinstance(exclude, set | frozenset | list | tuple):
        excluded = set(exclude)
        return [m for m in members if m.connection not in excluded]
    return [m for m in members if m.connection is not exclude]


def _check_object(route: Route, payload: bytes, text: bool, field: str) -> None:
    if not text or payload[:1] != b"{":
        raise TypeError(
            f"route {route.name!r} keeps history: its messages must be JSON objects "
            f"(text starting with '{{'), to carry their offset"
        )
    # Parsed only when the key may be there: clients would read one of two values.
    if json.dumps(field).encode() in payload:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if isinstance(message, dict) and field in message:
            raise TypeError(
                f"route {route.name!r} keeps history: its messages get their offset in "
                f"the field {field!r}, which this message has already; rename yours, "
                f"or choose another with History(field=...)"
            )


def _splice(payload: bytes, field: str, offset: str) -> bytes:
    """The JSON object ``payload`` with ``field: offset`` as its first member."""
    head = b"{" + json.dumps(field).encode() + b":" + json.dumps(offset).encode()
    return head + (b"}" if payload.strip() == b"{}" else b"," + payload[1:])


def _after(store: Any, offset: str, last: str) -> bool | None:
    """Whether ``offset`` comes after ``last``; None if either isn't an offset."""
    try:
        return bool(store.order(offset) > store.order(last))
    except ValueError:
        return None
