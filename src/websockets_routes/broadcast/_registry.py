"""Open connections by route and parameters, and by group: who is in each room.

Plain dicts and sets behind one lock, no I/O. The registry of the router being
served tracks a connection while its handler runs (on every kind of server), so
nothing is kept for closed connections, and broadcast, presence and join/leave
events all read from here.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._policy import DeliveryStats, SendPolicy

if TYPE_CHECKING:
    from .._path import RoutedPath
    from .._route import Route
    from ._fanout import _Outbox

__all__ = [
    "Listener",
    "Member",
    "Registry",
    "RemoteMember",
    "Topic",
    "TopicKey",
    "member_of",
    "params_key",
]

logger = logging.getLogger("websockets_routes.broadcast")

#: Called with a member and the topic it joined or left; a coroutine function's
#: coroutine runs as a task of the connection's event loop.
Listener = Callable[["Member | RemoteMember", "Topic"], Any]
#: What a process hosts: ("r", route, params key), ("R", route) or ("g", group).
TopicKey = tuple[Any, ...]


def params_key(values: Iterable[Any]) -> Hashable:
    """The key of a route's parameter values, in the route's declaration order.

    No parameter gives None and one gives the value itself, so that the usual
    routes allocate nothing; an unhashable value is keyed by its ``repr``.
    """
    items = tuple(values)
    key: Hashable = None if not items else items[0] if len(items) == 1 else items
    try:
        hash(key)
    except TypeError:
        key = tuple(repr(item) for item in items)
    return key


@dataclasses.dataclass(frozen=True)
class Topic:
    """A room: a route with its parameter values, or a group.

    Attributes:
        name: The route's name, as the router being served knows it, or the group.
        params: The route's parameter values; empty for a group.
        group: Whether this is a group rather than a route.
    """

    name: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    group: bool = False

    def __str__(self) -> str:
        if self.group:
            return f"group {self.name!r}"
        values = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"route {self.name!r}" + (f" ({values})" if values else "")


class Member:
    """An open connection, as presence and delivery see it.

    Attributes:
        connection: The websockets connection.
        path: Its :class:`~websockets_routes.RoutedPath` (None only for a
            connection that no router tracks, given to :func:`deliver`).
        groups: The groups it joined (read-only: use ``router.join``/``leave``).
    """

    __slots__ = (
        "closing",
        "connection",
        "groups",
        "key",
        "outbox",
        "path",
        "pending",
        "policy",
        "warned",
    )

    #: True for a connection of this process; see :class:`RemoteMember`.
    local = True

    def __init__(self, connection: Any, path: RoutedPath | None, policy: SendPolicy) -> None:
        self.connection = connection
        self.path = path
        self.policy = policy
        self.key: Hashable = None
        # Most connections join no group: they share one empty set until they do.
        self.groups: set[str] | frozenset[str] = _NO_GROUPS
        # Delivery state: writes that wait (threads, trio), a slow consumer being
        # closed, a warning already logged.
        self.outbox: _Outbox | None = None
        self.closing = False
        self.warned = False
        # While it catches up on a room's history: what arrives live meanwhile.
        self.pending: list[tuple[bytes, bytes, bool, str | None]] | None = None  # payload, frame

    @property
    def id(self) -> str:
        """An id for the connection, unique in this process while it is open."""
        return format(id(self), "x")

    @property
    def meta(self) -> dict[str, Any]:
        """What the app tells others about the connection: ``path.meta``."""
        return {} if self.path is None else self.path.meta

    @property
    def params(self) -> dict[str, Any]:
        """The route parameters of the connection: ``path.params``."""
        return {} if self.path is None else self.path.params

    def __repr__(self) -> str:
        if self.path is None:
            return f"<Member {self.connection!r}>"
        return f"<Member {self.path.route.name!r} {self.path.path!r} {self.meta!r}>"


def member_of(ws: Any) -> Member:
    """The member of connection ``ws`` in the registry of the router serving it.

    A connection that no router tracks (its handler doesn't run under one) gets
    a member of its own, under the default send policy, for one delivery.
    """
    path = getattr(ws, "routed_path", None)
    member = None if path is None else path.router._registry.member(ws)
    return Member(ws, None, _DEFAULT_POLICY) if member is None else member


@dataclasses.dataclass(frozen=True)
class RemoteMember:
    """A member of a room in another process, as join and leave events show it.

    Attributes:
        id: Its id in its process.
        meta: Its ``path.meta``, as JSON carried it.
        process: The id of its process.
    """

    id: str
    meta: dict[str, Any]
    process: str
    connection: None = None
    local = False


class Registry:
    """Where broadcast and presence find connections: by route and parameters, and by group.

    :attr:`Router.connections <websockets_routes.Router.connections>` is the
    registry of the router being served. Its methods may be called from any
    thread.

    Attributes:
        groups: Group name -> its members.
    """

    def __init__(self, policy_of: Callable[[Route], SendPolicy] | None = None) -> None:
        # Reentrant: indexing what waits takes it, then indexes each one with it.
        self._lock = threading.RLock()
        self._policy_of = policy_of or (lambda route: _DEFAULT_POLICY)
        self._by_connection: dict[Any, Member] = {}
        #: Tracked but not indexed yet: connection -> its RoutedPath. Handlers
        #: add themselves here when :attr:`eager` is false, and remove
        #: themselves (``waiting.pop(ws, None)``, then :meth:`untrack` if that
        #: found nothing): two dict operations per connection, without a call.
        self.waiting: dict[Any, RoutedPath] = {}
        #: Whether arrivals must be indexed at once, by :meth:`track`: someone
        #: listens for them. :meth:`refresh` sets it.
        self.eager = False
        # route -> parameters key -> a member, or a set of them: most keys of
        # /users/{id} have one, stored as itself.
        self._routes: dict[Route, dict[Hashable, Any]] = {}
        self.groups: dict[str, set[Member]] = {}
        #: What the send policy did for these connections.
        self.stats = DeliveryStats()
        #: Called once, when the first connection is tracked: broadcast backends start there.
        self.on_first_connection: Callable[[], None] | None = None
        #: Called when a member joins or leaves a route's room or a group.
        self.on_join: list[Listener] = []
        self.on_leave: list[Listener] = []
        #: Called when this process starts or stops hosting a topic, with a
        #: member of it, and when the members of a route's room change.
        self.on_topic: Callable[[bool, TopicKey, Member], None] | None = None
        self.on_room_change: Callable[[Member, bool], None] | None = None

    def __len__(self) -> int:
        """How many connections are tracked."""
        return len(self._by_connection) + len(self.waiting)

    def refresh(self) -> None:
        """Recompute :attr:`eager` after setting a hook or adding a listener.

        Connections that waited are indexed at once if someone listens now.
        """
        self.eager = bool(
            self.on_first_connection
            or self.on_topic
            or self.on_room_change
            or self.on_join
            or self.on_leave
        )
        if self.eager and self.waiting:
            self._index_waiting()

    def track(self, ws: Any, path: RoutedPath) -> None:
        """Track ``ws`` under its route and parameters while its handler runs.

        Until something asks who is where (a broadcast, presence, a join), this
        is one entry in :attr:`waiting`: a connection that nobody looks for costs
        no more. With listeners or a backend that must hear of every arrival
        (:attr:`eager`), it is indexed at once.
        """
        if self.on_first_connection is not None:
            on_first, self.on_first_connection = self.on_first_connection, None
            on_first()
        if self.eager:
            self._index(ws, path)
        else:
            self.waiting[ws] = path

    def untrack(self, ws: Any) -> None:
        """Forget ``ws``: its route entry and every group it joined."""
        # If another thread is indexing what waits, the lock waits for it: ws is
        # then either still waiting or indexed, never in between.
        with self._lock:
            if self.waiting.pop(ws, None) is not None:
                return  # Never indexed: nothing else to undo.
            member = self._by_connection.get(ws)
        if member is not None:
            self._forget(member)

    def _index_waiting(self) -> None:
        """Index the connections tracked since the last time someone looked."""
        with self._lock:
            while True:
                # Not `while self.waiting`: a handler may pop the last one
                # (without the lock) between that test and popitem().
                try:
                    ws, path = self.waiting.popitem()
                except KeyError:
                    return
                # They joined before anyone listened: join listeners don't
                # hear of it now, as they wouldn't have without the wait.
                self._index(ws, path, announce=False)

    def _index(self, ws: Any, path: RoutedPath, *, announce: bool = True) -> Member:
        member = Member(ws, path, self._policy_of(path.route))
        params = path.params
        if not params:
            key: Hashable = None
        elif len(params) == 1:
            (key,) = params.values()
        else:
            key = tuple(params.values())
        with self._lock:
            try:
                by_params = self._routes[path.route]
            except KeyError:
                by_params = self._routes[path.route] = {}
            try:
                members = by_params.get(key)
            except TypeError:
                key = params_key(params.values())
                members = by_params.get(key)
            route_opened = not by_params
            if members is None:
                by_params[key] = member
            elif type(members) is set:
                members.add(member)
            else:
                by_params[key] = {members, member}
            self._by_connection[ws] = member
        member.key = key
        if self.on_topic is not None:
            if route_opened:
                self.on_topic(True, ("R", path.route), member)
            if members is None:
                self.on_topic(True, ("r", path.route, key), member)
        if self.on_room_change is not None:
            self.on_room_change(member, True)
        if announce and self.on_join:
            self._notify(self.on_join, member, self._route_topic(member))
        return member

    def _forget(self, member: Member) -> None:
        with self._lock:
            assert member.path is not None
            by_params = self._routes[member.path.route]
            members = by_params[member.key]
            room_closed = True
            if type(members) is set:
                members.discard(member)
                room_closed = not members
                if room_closed:
                    del by_params[member.key]
            elif members is member:
                del by_params[member.key]
            groups = member.groups
            closed_groups = [group for group in groups if self._discard(group, member)]
            del self._by_connection[member.connection]
        if self.on_topic is not None:
            for group in closed_groups:
                self.on_topic(False, ("g", group), member)
            if room_closed:
                self.on_topic(False, ("r", member.path.route, member.key), member)
            if not by_params:
                self.on_topic(False, ("R", member.path.route), member)
        if self.on_room_change is not None:
            self.on_room_change(member, False)
        if member.outbox is not None:
            member.outbox.stop()
        if self.on_leave:
            for group in sorted(groups):
                self._notify(self.on_leave, member, Topic(group, group=True))
            self._notify(self.on_leave, member, self._route_topic(member))

    def member(self, ws: Any) -> Member | None:
        """The member for connection ``ws``, or None if its handler isn't running."""
        if self.waiting:
            self._index_waiting()
        return self._by_connection.get(ws)

    def join_group(self, ws: Any, group: str) -> None:
        """Add ``ws`` to ``group``; it leaves every group when its handler ends.

        Raises:
            ValueError: If ``ws`` isn't a connection whose handler runs here.
        """
        member = self.member(ws)
        if member is None:
            raise ValueError(
                f"{ws!r} isn't an open connection of this router: join groups from the "
                f"handler of a connection the router serves, while it runs"
            )
        with self._lock:
            joined = group not in member.groups
            opened = False
            if joined:
                groups = member.groups
                if not isinstance(groups, set):
                    groups = member.groups = set()
                groups.add(group)
                members = self.groups.get(group)
                if members is None:
                    members = self.groups[group] = set()
                    opened = True
                members.add(member)
        if opened and self.on_topic is not None:
            self.on_topic(True, ("g", group), member)
        if joined and self.on_join:
            self._notify(self.on_join, member, Topic(group, group=True))

    def leave_group(self, ws: Any, group: str) -> None:
        """Remove ``ws`` from ``group``, if it is a member."""
        member = self.member(ws)
        if member is None:
            return
        with self._lock:
            groups = member.groups
            left = closed = False
            if isinstance(groups, set) and group in groups:
                left = True
                groups.discard(group)
                closed = self._discard(group, member)
        if closed and self.on_topic is not None:
            self.on_topic(False, ("g", group), member)
        if left and self.on_leave:
            self._notify(self.on_leave, member, Topic(group, group=True))

    def members(self, route: Route, key: Hashable = None, *, every: bool = False) -> list[Member]:
        """A snapshot of the members on ``route`` with parameters ``key``.

        With ``every``, the members on ``route`` whatever their parameters.
        """
        if self.waiting:
            self._index_waiting()
        with self._lock:
            by_params = self._routes.get(route)
            if not by_params:
                return []
            if every:
                return [m for members in by_params.values() for m in _each(members)]
            return _each(by_params.get(key))

    def group_members(self, group: str) -> list[Member]:
        """A snapshot of the members of ``group``."""
        if self.waiting:
            self._index_waiting()
        with self._lock:
            return list(self.groups.get(group, ()))

    def _discard(self, group: str, member: Member) -> bool:
        """Take ``member`` out of ``group``; whether the group is empty now."""
        members = self.groups.get(group)
        if members is not None:
            members.discard(member)
            if not members:
                del self.groups[group]
                return True
        return False

    @staticmethod
    def _route_topic(member: Member) -> Topic:
        assert member.path is not None
        return Topic(member.path.route.name, dict(member.path.params))

    def emit(self, joined: bool, member: Member | RemoteMember, topic: Topic) -> None:
        """Call the join or leave listeners, for a member of another process say."""
        self._notify(self.on_join if joined else self.on_leave, member, topic)

    @staticmethod
    def _notify(listeners: list[Listener], member: Member | RemoteMember, topic: Topic) -> None:
        for listener in listeners:
            try:
                result = listener(member, topic)
                if inspect.iscoroutine(result):
                    _schedule(result, member)
            except Exception:
                logger.exception("presence listener %r failed for %s", listener, topic)


_DEFAULT_POLICY = SendPolicy()
_NO_GROUPS: frozenset[str] = frozenset()
_tasks: set[Any] = set()


def _schedule(coroutine: Any, member: Member | RemoteMember) -> None:
    """Run a listener's coroutine beside the connection: an asyncio task, or trio's."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        nursery = getattr(member.connection, "nursery", None)
        if nursery is None:
            coroutine.close()
            raise TypeError(
                "a presence listener on a threaded server must be a plain function"
            ) from None
        nursery.start_soon(_guarded, coroutine)
        return
    task = loop.create_task(_guarded(coroutine))
    # Keep a reference until it's done, or the task may be collected mid-way.
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _guarded(coroutine: Any) -> None:
    try:
        await coroutine
    except Exception:
        logger.exception("presence listener failed")


def _each(members: Any) -> list[Member]:
    if members is None:
        return []
    return list(members) if type(members) is set else [members]
