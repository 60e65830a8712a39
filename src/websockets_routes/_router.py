"""Router: the public façade over the route table, serving and delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._lifespan import Lifespan, LifespanFactory, LifespanHook, check_lifespan
from ._route import Route
from ._routes import RouteTable
from ._serving import check_handlers
from .broadcast import (
    Broadcaster,
    DeliveryStats,
    History,
    Listener,
    Member,
    Publisher,
    Registry,
    SendPolicy,
)
from .broadcast._broadcaster import unknown_route
from .converters import Converter
from .exceptions import RouteError

if TYPE_CHECKING:
    from .asyncio import Serve
    from .broadcast import BroadcastBackend

__all__ = ["Router"]

L = TypeVar("L", bound=Listener)
H = TypeVar("H", bound=LifespanHook)


class Router(RouteTable):
    """Routes WebSocket connections to handlers by the request path.

    Declare routes with :meth:`route` and serve them with :meth:`serve`, or pass
    the router itself as a connection handler.

    A router served with :meth:`serve`, an adapter or as a handler keeps the
    open connections of every route it matches, its included routers' too; see
    :attr:`connections`. :meth:`join`, :meth:`leave`, :meth:`broadcast` and
    :meth:`broadcast_group` on an included router act on the connections of the
    router that serves it.

    Args:
        converters: Extra converters by name, on top of ``str``, ``int``,
            ``float``, ``uuid`` and ``path``; a name here replaces a built-in.
        redirect_slashes: When a path misses only by its trailing slash, answer
            the handshake with a 308 redirect to the other form instead of 404.
            The ``Location`` is built from the path alone, never from ``Host``.
        strict_slashes: False to let a path that misses only by its trailing
            slash match the route anyway, without a redirect: ``/rooms/`` and
            ``/rooms`` both reach ``/rooms``. An exact match always wins.
        send_policy: The :class:`~websockets_routes.broadcast.SendPolicy` of
            this router's routes, included ones too unless they have their own:
            how much may wait for a connection, and what happens beyond.
        lifespan: ``lifespan(router)`` returns an async context manager (made
            with :func:`contextlib.asynccontextmanager`; a plain one on threaded
            servers): entering it is the router's startup, leaving it its
            shutdown. See :meth:`lifespan` for when they run.

    Raises:
        RouteError: If a converter is neither a Converter instance nor subclass,
            ``redirect_slashes`` comes with ``strict_slashes=False``, or the send
            policy isn't one.
        TypeError: If ``lifespan`` isn't callable.
    """

    def __init__(
        self,
        *,
        converters: Mapping[str, Converter[Any] | type[Converter[Any]]] | None = None,
        redirect_slashes: bool = False,
        strict_slashes: bool = True,
        send_policy: SendPolicy | None = None,
        lifespan: LifespanFactory | None = None,
    ) -> None:
        super().__init__(
            converters=converters,
            redirect_slashes=redirect_slashes,
            strict_slashes=strict_slashes,
        )
        self.send_policy = _check_policy("Router(send_policy=...)", send_policy)
        if lifespan is not None and not callable(lifespan):
            raise TypeError(
                f"lifespan must be a function that takes the router and returns a "
                f"context manager, not {lifespan!r}"
            )
        self._lifespan = Lifespan(self, lifespan)
        # The open connections, when this router is the one being served.
        self._registry = Registry(self._policy_of)
        self._broadcaster: Broadcaster | None = None
        # Set when a server or a handler starts with this router.
        self._served = False
        # Names of this router's routes as the serving router knows them, per
        # route, valid while that router has as many routes as when computed.
        self._copies: dict[tuple[Router, Route], tuple[int, list[str]]] = {}

    # Lifespan.

    def on_startup(self, hook: H) -> H:
        """Run ``hook()`` when the router starts, before any handshake.

        Use it as a decorator. A hook may be a coroutine function on asyncio and
        trio servers; it must be a plain function on threaded servers. Hooks run
        in the order they were added, after the ``lifespan=`` context is entered;
        one that raises stops the start with :exc:`~websockets_routes.StartupError`.
        """
        if not callable(hook):
            raise TypeError(f"a startup hook must be callable, not {hook!r}")
        self._lifespan.startup.append(hook)
        return hook

    def on_shutdown(self, hook: H) -> H:
        """Run ``hook()`` when the router stops, after its last connection closed.

        Use it as a decorator. Hooks run in the order they were added, before the
        ``lifespan=`` context is left, and only if the startup completed; one that
        raises is logged and the others still run.
        """
        if not callable(hook):
            raise TypeError(f"a shutdown hook must be callable, not {hook!r}")
        self._lifespan.shutdown.append(hook)
        return hook

    def lifespan(self) -> Lifespan:
        """The router's startup and shutdown, as a context manager.

        :meth:`serve`, :meth:`run`, the adapters' ``serve()`` and the command
        line enter it before listening and leave it once the server closed its
        last connection: the ``lifespan=`` context and the hooks of this router
        and of the routers it includes run once per process, however many
        servers run it. Enter it yourself (``async with router.lifespan():``, or
        ``with`` for plain-function hooks) where the router serves as a plain
        handler, or to run the startup in tests.

        Raises:
            StartupError: On entry, if a startup hook or the lifespan raised.
        """
        return self._lifespan

    # Serving.

    def serve(self, host: str | None = None, port: int | None = None, **kwargs: Any) -> Serve:
        """Serve this router with :func:`websockets.asyncio.server.serve`.

        Unmatched paths get HTTP 404 during the handshake and no handler runs.
        Every keyword argument of websockets' ``serve()`` passes through, your own
        callbacks included (:doc:`/topics/handshake`). Use it as
        ``server = await router.serve(...)`` or ``async with router.serve(...)``;
        the call itself needs no event loop, so
        ``loop.run_until_complete(router.serve(...))`` works too. The router's
        startup runs first (:meth:`lifespan`); its shutdown runs once the
        server closed, before ``server.wait_closed()`` returns.

        Raises:
            TypeError: If a handler or view ``handle`` is not a coroutine function.
            StartupError: When awaited, if the router's startup failed; nothing
                listens then.
        """
        from .asyncio import Serve

        return Serve(self, host, port, **kwargs)

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        graceful_timeout: float | None = 30.0,
        loop: str = "asyncio",
        **kwargs: Any,
    ) -> None:
        """Serve this router until SIGINT (Ctrl-C) or SIGTERM, then stop cleanly: for scripts.

        ``router.run("127.0.0.1", 8765)`` starts an event loop, serves with
        :meth:`serve` (keyword arguments pass through), prints where it listens,
        and returns once stopped, without a traceback. Stopping closes open
        connections with 1001 and waits up to ``graceful_timeout`` seconds (None:
        no limit) for their handlers, then cancels those still running and runs
        the shutdown. A second signal cancels whatever the stop still waits for.
        Call it outside any event loop.

        ``loop="uvloop"`` serves on uvloop (the ``uvloop`` extra), ``"auto"`` on
        uvloop if it is installed, asyncio's loop otherwise.

        Raises:
            StartupError: If the router's startup failed.
            OSError: If the address can't be listened on.
            ValueError: If ``loop`` is none of ``"asyncio"``, ``"uvloop"``, ``"auto"``.
            ImportError: If ``loop`` is ``"uvloop"`` and uvloop isn't installed.
        """
        from ._running import run

        run(self, host, port, graceful_timeout=graceful_timeout, loop=loop, **kwargs)

    async def handle(self, ws: Any, path: str | None = None) -> None:
        """Handle a connection with the router as a plain connection handler.

        ``websockets.serve(router.handle, ...)`` (or just ``router``) accepts every
        handshake, then closes with code 4040 when no route matches and 4000 when
        the path (or, for a router with host patterns, the ``Host`` header) is
        malformed. A hook's 4xx response closes with ten times its
        status (403 gives 4030). Prefer :meth:`serve`, which rejects during the
        handshake.
        """
        from ._serving import handle

        request = getattr(ws, "request", None)
        if request is not None:
            target = request.path if path is None else path
            headers = request.headers
        else:  # The legacy API: ws.path and ws.request_headers.
            target = ws.path if path is None else path
            headers = ws.request_headers
        await handle(self, ws, target, headers)

    async def __call__(self, ws: Any, path: str | None = None) -> None:
        """Same as :meth:`handle`, so that the router itself is a handler."""
        await self.handle(ws, path)

    def check_handlers(self, *, asynchronous: bool) -> None:
        """Check that handlers suit a server: coroutine functions or plain functions.

        Servers call this when they start, so that a mismatch fails at once with
        the route's name rather than at the first connection.

        Raises:
            TypeError: If a handler, a class view's ``handle`` or a hook doesn't
                fit (only hooks of sync servers must be plain functions, startup
                and shutdown hooks included).
        """
        check_handlers(self, asynchronous=asynchronous)
        check_lifespan(self, asynchronous=asynchronous)

    def asyncapi(
        self,
        *,
        title: str = "WebSocket API",
        version: str = "1.0.0",
        description: str | None = None,
        servers: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Describe the routes and their messages as an AsyncAPI 3.0 document (a dict).

        Each WebSocket route is a channel with its path parameters; the message
        types of a :class:`~websockets_routes.messages.MessageRouter` are its
        messages, with ``receive`` operations, their replies and ``send``
        operations for declared pushes. Routes without a message router need only
        the core; msgspec (``websockets-routes[messages]``) is needed only where a
        message router is attached.
        """
        from ._asyncapi import build_asyncapi

        return build_asyncapi(
            self, title=title, version=version, description=description, servers=servers
        )

    # Connections and broadcast.

    @property
    def connections(self) -> Registry:
        """The open connections by route, parameters and group, for broadcast.

        Those of the router being served: for an included router, the registry
        of the router that serves it.
        """
        return self._serving()._registry

    @property
    def broadcaster(self) -> Broadcaster:
        """The :class:`~websockets_routes.broadcast.Broadcaster` behind :meth:`broadcast`.

        In-process until :meth:`use_broadcast` configures another backend. For
        an included router, the broadcaster of the router that serves it.
        """
        served = self._serving()
        if served._broadcaster is None:
            served._broadcaster = Broadcaster(served)
        return served._broadcaster

    def use_broadcast(self, backend: str | BroadcastBackend | None = None) -> Broadcaster:
        """Choose the broadcast backend: ``"redis://host:6379/0"``, a backend, or None.

        None (or ``"memory://"``) keeps delivery in this process. Call it before
        serving; see :doc:`/howto/broadcast`. On an included router, it
        configures the router that serves it.
        """
        served = self._serving()
        if served._broadcaster is not None:
            served._broadcaster.check_replaceable()
        served._broadcaster = Broadcaster(served, backend)
        return served._broadcaster

    def broadcast(
        self, name: str, message: str | bytes, /, *, exclude: Any = None, **params: Any
    ) -> Awaitable[None]:
        """Send ``message`` to every connection on route ``name`` with ``params``.

        ``await router.broadcast("room", "hi", room="lobby")`` reaches the
        connections of ``/rooms/lobby`` in every process sharing the backend;
        without ``params``, every connection on the route. ``name`` is as this
        router knows it, also on an included router. ``exclude=ws`` (or a list
        of connections) leaves out the sender. Everything is sent under the send
        policy: a client that doesn't keep up never slows the others down.

        Await it in a coroutine; in a threaded server's handler, call it
        without ``await``: it delivers before returning. See
        :meth:`Broadcaster.broadcast <websockets_routes.broadcast.Broadcaster.broadcast>`.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
            RouteError: If this router is included in routers served apart, so
                that it is unclear whose connections to reach.
        """
        served = self._serving()
        broadcaster = self.broadcaster
        if served is self:
            return broadcaster.broadcast(name, message, exclude=exclude, **params)
        copies = [
            broadcaster.broadcast(copy, message, exclude=exclude, **params)
            for copy in self._copies_in(served, name)
        ]
        return copies[0] if len(copies) == 1 else _all(copies)

    def broadcast_group(
        self, group: str, message: str | bytes, /, *, exclude: Any = None
    ) -> Awaitable[None]:
        """Send ``message`` to every connection that joined ``group``, in every process.

        ``exclude`` and awaiting work as for :meth:`broadcast`.
        """
        return self.broadcaster.broadcast_group(group, message, exclude=exclude)

    def send(self, ws: Any, message: str | bytes) -> Awaitable[None]:
        """Send ``message`` to connection ``ws`` alone, under the send policy.

        For pushing to another connection than the handler's own (a private
        message, a notification): unlike ``await ws.send(...)``, it never waits
        for a slow client. To reach every connection of one user wherever they
        are, have each join a group of its own (``router.join(ws, f"user:{id}")``)
        and use :meth:`broadcast_group`. Awaiting works as for :meth:`broadcast`.

        Raises:
            ValueError: If ``ws`` isn't an open connection of the router served.
        """
        return self.broadcaster.send(ws, message)

    def join(self, ws: Any, group: str) -> None:
        """Add connection ``ws`` to ``group``; it leaves when its handler ends.

        Raises:
            ValueError: If ``ws`` isn't an open connection of the router served.
        """
        self._serving()._registry.join_group(ws, group)

    def leave(self, ws: Any, group: str) -> None:
        """Remove connection ``ws`` from ``group``."""
        self._serving()._registry.leave_group(ws, group)

    # Presence.

    def members(self, name: str, /, **params: Any) -> list[Member]:
        """The connections in this process on route ``name`` with ``params``: who is in a room.

        ``router.members("room", room="lobby")`` lists the
        :class:`~websockets_routes.broadcast.Member` objects of ``/rooms/lobby``;
        without ``params``, every connection on the route. Each has its
        ``connection``, its ``path``, and its ``meta``, what hooks or the handler
        put in ``path.meta`` (a user name, say); ``len()`` counts them.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
        """
        served = self._serving()
        broadcaster = self.broadcaster
        names = [name] if served is self else self._copies_in(served, name)
        found: list[Member] = []
        for copy in names:
            route, texts, key = broadcaster._target(copy, params)
            found.extend(served._registry.members(route, key, every=texts is None))
        return found

    def group_members(self, group: str) -> list[Member]:
        """The connections in this process that joined ``group``."""
        return self._serving()._registry.group_members(group)

    def on_join(self, listener: L) -> L:
        """Call ``listener(member, topic)`` when a connection joins a room.

        A connection joins its route's room (the route and its parameters) when
        its handler starts, and a group when it calls :meth:`join`. ``topic`` is
        a :class:`~websockets_routes.broadcast.Topic`. A coroutine function runs
        as a task beside the connection (a plain function on a threaded
        server); one that raises is logged. Use it as a decorator.
        """
        registry = self._serving()._registry
        registry.on_join.append(_check_listener(listener))
        registry.refresh()
        return listener

    def on_leave(self, listener: L) -> L:
        """Call ``listener(member, topic)`` when a connection leaves a room.

        It leaves its groups, then its route's room, when its handler ends, and
        a group when it calls :meth:`leave`. It is no longer a member then.
        Otherwise as :meth:`on_join`.
        """
        registry = self._serving()._registry
        registry.on_leave.append(_check_listener(listener))
        registry.refresh()
        return listener

    async def presence(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Who is in the room of route ``name`` with ``params``, in every process.

        With a backend that knows presence across processes (Redis), each
        process's members of the room, kept up to date by heartbeats: those of a
        process that died stop counting within the backend's ``presence_ttl``.
        Otherwise the members of this process. Each is ``{"id": ..., "meta":
        {...}}`` (plus ``"process"`` from Redis); ``len()`` counts them.

        Raises:
            BroadcastError: If there is no route ``name``, or ``params`` don't
                match its parameters.
        """
        served = self._serving()
        names = [name] if served is self else self._copies_in(served, name)
        found: list[dict[str, Any]] = []
        for copy in names:
            found.extend(await served.broadcaster.presence(copy, params))
        return found

    def publisher(self, backend: Any, *, close_timeout: float = 5.0) -> Publisher:
        """A :class:`~websockets_routes.broadcast.Publisher` of this app's broadcasts.

        For scripts and workers that don't serve: ``async with
        router.publisher("redis://...") as publisher: await publisher.broadcast(...)``.
        """
        return Publisher(self._serving(), backend, close_timeout=close_timeout)

    @property
    def delivery_stats(self) -> DeliveryStats:
        """What the send policy did: slow consumers closed, messages dropped (counters)."""
        return self._serving()._registry.stats

    # Internals.

    def _route_options(self, pattern: str, **options: Any) -> dict[str, Any]:
        _check_policy(f"route {pattern!r}: send_policy", options.get("send_policy"))
        history = options.get("history")
        if history is not None and not isinstance(history, History):
            raise RouteError(
                f"route {pattern!r}: history must be a websockets_routes.broadcast.History, "
                f"not {history!r}"
            )
        return super()._route_options(pattern, **options)

    async def _catch_up(self, member: Member, history: History) -> None:
        await self.broadcaster.catch_up(member, history)

    def _policy_of(self, route: Route) -> SendPolicy:
        """The send policy of ``route``: its own, else the nearest router's that has one."""
        policy: SendPolicy | None = route.options.get("send_policy")
        if policy is None:
            for router in reversed(route.chain):
                policy = getattr(router, "send_policy", None)
                if policy is not None:
                    break
        return policy or _DEFAULT_POLICY

    def _serving(self) -> Router:
        """The router whose connections this one reaches: the one serving it.

        That is this router unless it is included: then the one router among it
        and its includers that is served, or if none is served yet, the one at
        the top of the includes.

        Raises:
            RouteError: If there are two such routers.
        """
        if not self._parents:
            return self
        family = [self, *sorted(self._ancestors(), key=id)]
        found = [r for r in family if isinstance(r, Router) and r._served]
        if not found:
            found = [r for r in family if isinstance(r, Router) and not r._parents]
        if len(found) == 1:
            return found[0]
        raise RouteError(
            f"{self!r} is part of both {found[0]!r} and {found[1]!r}: join, leave and "
            f"broadcast can't tell whose connections to reach; call them on the router "
            f"you serve, or include this router in only one"
        )

    def _copies_in(self, served: Router, name: str) -> list[str]:
        """The names that ``served`` gives to this router's route ``name``."""
        route = self.get(name)
        if route is None or route.kind != "websocket":
            raise unknown_route(self, name)
        cached = self._copies.get((served, route))
        if cached is not None and cached[0] == len(served.routes):
            return cached[1]
        names = [r.name for r in served.routes if r.origin is route.origin and self in r.chain]
        self._copies[served, route] = (len(served.routes), names)
        return names


_DEFAULT_POLICY = SendPolicy()


def _check_policy(what: str, policy: Any) -> SendPolicy | None:
    if policy is not None and not isinstance(policy, SendPolicy):
        raise RouteError(f"{what} must be a websockets_routes.broadcast.SendPolicy, not {policy!r}")
    return policy


def _check_listener(listener: L) -> L:
    if not callable(listener):
        raise RouteError(f"a presence listener must be callable, not {listener!r}")
    return listener


async def _all(awaitables: list[Awaitable[None]]) -> None:
    for awaitable in awaitables:
        await awaitable
