"""Open connections by route and parameters, and by explicit group, for broadcast.

Plain dicts and sets, no I/O. The registry of the router being served tracks a
connection when its handler starts and untracks it when the handler ends, so
nothing is kept for closed connections. Threaded handlers aren't tracked by
route: broadcast doesn't deliver to them, and a registry isn't thread-safe; the
groups they joined are forgotten when they end.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._path import RoutedPath
    from .._route import Route

__all__ = ["Registry", "params_key"]


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


class Registry:
    """Where broadcast finds connections: by route and parameters, and by group.

    :attr:`Router.connections <websockets_routes.Router.connections>` is the
    registry of the router being served.
    """

    __slots__ = ("groups", "memberships", "on_first_connection", "routes")

    def __init__(self) -> None:
        #: route -> parameters key -> an open connection, or a set of them.
        self.routes: dict[Route, dict[Hashable, Any]] = {}
        #: group name -> connections that joined it.
        self.groups: dict[str, set[Any]] = {}
        #: connection -> the groups it joined, only for connections in a group.
        self.memberships: dict[Any, set[str]] = {}
        #: Called once, when the first connection is tracked: broadcast backends start there.
        self.on_first_connection: Callable[[], None] | None = None

    def __len__(self) -> int:
        """How many connections are tracked by route, all routes together."""
        return sum(
            len(members) if type(members) is set else 1
            for by_params in self.routes.values()
            for members in by_params.values()
        )

    def track(self, ws: Any, path: RoutedPath) -> Hashable:
        """Track ``ws`` under its route and parameters; return the key for :meth:`untrack`."""
        if self.on_first_connection is not None:
            on_first_connection, self.on_first_connection = self.on_first_connection, None
            on_first_connection()
        params = path.params
        if not params:
            key: Hashable = None
        elif len(params) == 1:
            (key,) = params.values()
        else:
            key = tuple(params.values())
        try:
            by_params = self.routes[path.route]
        except KeyError:
            by_params = self.routes[path.route] = {}
        try:
            members = by_params.get(key)
        except TypeError:
            key = params_key(params.values())
            members = by_params.get(key)
        # A lone connection is stored as itself: most keys of /users/{id} have one.
        if members is None:
            by_params[key] = ws
        elif type(members) is set:
            members.add(ws)
        else:
            by_params[key] = {members, ws}
        return key

    def untrack(self, ws: Any, path: RoutedPath, key: Hashable) -> None:
        """Forget ``ws``: its route entry and every group it joined."""
        by_params = self.routes[path.route]
        members = by_params[key]
        if type(members) is set:
            members.discard(ws)
            if not members:
                del by_params[key]
        elif members is ws:
            del by_params[key]
        if self.memberships:
            self.forget(ws)

    def forget(self, ws: Any) -> None:
        """Remove ``ws`` from every group it joined."""
        for group in self.memberships.pop(ws, ()):
            members = self.groups.get(group)
            if members is not None:
                members.discard(ws)
                if not members:
                    del self.groups[group]

    def join_group(self, ws: Any, group: str) -> None:
        """Add ``ws`` to ``group``; it leaves every group when its handler ends."""
        members = self.groups.get(group)
        if members is None:
            members = self.groups[group] = set()
        members.add(ws)
        self.memberships.setdefault(ws, set()).add(group)

    def leave_group(self, ws: Any, group: str) -> None:
        """Remove ``ws`` from ``group``, if it is a member."""
        members = self.groups.get(group)
        if members is not None:
            members.discard(ws)
            if not members:
                del self.groups[group]
        joined = self.memberships.get(ws)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self.memberships[ws]

    def members(
        self, route: Route, key: Hashable | None = None, *, every: bool = False
    ) -> list[Any]:
        """A snapshot of the connections on ``route`` with parameters ``key``.

        With ``every``, the connections on ``route`` whatever their parameters.
        """
        by_params = self.routes.get(route)
        if not by_params:
            return []
        if every:
            return [ws for members in by_params.values() for ws in _each(members)]
        return _each(by_params.get(key))

    def group_members(self, group: str) -> list[Any]:
        """A snapshot of the connections in ``group``."""
        return list(self.groups.get(group, ()))


def _each(members: Any) -> list[Any]:
    if members is None:
        return []
    return list(members) if type(members) is set else [members]
