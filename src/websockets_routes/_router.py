"""The router: declared routes, matching, reverse URLs and the handshake decision."""

from __future__ import annotations

import http
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar
from urllib.parse import quote

from websockets.datastructures import Headers
from websockets.http11 import Response

from ._matcher import Node
from ._path import RoutedPath, encode_segment, split_target
from ._patterns import Mixed, Param, Rest, Segment, Static, parse_pattern
from ._registry import Registry
from ._responses import text_response
from .converters import DEFAULT_CONVERTERS, Converter
from .exceptions import BadRequest, RouteError, URLBuildError

if TYPE_CHECKING:
    from websockets.asyncio.server import Server

    from .broadcast import BroadcastBackend, Broadcaster

__all__ = ["Hook", "Route", "Router"]

#: A handshake hook: ``hook(path, headers)`` returns None to go on, or a response
#: (see :data:`~websockets_routes.HTTPResult`) to answer the handshake with it.
#: It may be a plain function or a coroutine function.
Hook: TypeAlias = Callable[[RoutedPath, Headers], Any]
E = TypeVar("E", bound=Callable[..., Any])
# Escaped in a redirect's Location: anything but visible ASCII, and backslashes,
# which browsers read as "/" (a Location of /\evil.com would go to evil.com).
_UNSAFE_IN_LOCATION = re.compile(r"[^\x21-\x5b\x5d-\x7e]")
F = TypeVar("F", bound=Callable[..., Any])


class Route:
    """A declared route: its pattern, name, kind, and what handles it.

    Attributes:
        pattern: The full pattern, mount prefixes included.
        name: The name :meth:`Router.url_for` knows it by (``"ns:name"`` when
            included with a namespace).
        kind: ``"websocket"`` or ``"http"``.
        endpoint: The decorated function or class.
        view_class: The class for class views, else None.
        subprotocols: The subprotocols this route negotiates, or None.
        hooks: Every hook that runs before the handshake completes, in order.
        steps: The hooks, then an HTTP endpoint: what runs in the handshake before
            a class view's ``process_request``.
    """

    __slots__ = (
        "chain",
        "endpoint",
        "has_hooks",
        "hooks",
        "kind",
        "name",
        "own_hooks",
        "pattern",
        "segments",
        "steps",
        "subprotocols",
        "view_class",
    )

    def __init__(
        self,
        pattern: str,
        name: str,
        kind: Literal["websocket", "http"],
        endpoint: Callable[..., Any],
        segments: tuple[Segment, ...],
        subprotocols: tuple[str, ...] | None,
        own_hooks: tuple[Hook, ...],
        chain: tuple[Router, ...],
    ) -> None:
        self.pattern = pattern
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
        self.view_class = endpoint if isinstance(endpoint, type) else None
        self.segments = segments
        self.subprotocols = subprotocols
        self.own_hooks = own_hooks
        # The routers this route was declared or included in, outermost first.
        self.chain = chain
        self.hooks: tuple[Hook, ...] = ()
        self.steps: tuple[Callable[..., Any], ...] = ()
        self.has_hooks = False
        self.refresh_hooks()

    def refresh_hooks(self) -> None:
        """Recompute :attr:`hooks` after a router in the chain gained a hook."""
        hooks = [hook for router in self.chain for hook in router.hooks]
        hooks.extend(self.own_hooks)
        self.hooks = tuple(hooks)
        # What runs in the handshake before a class view's process_request: the
        # hooks, then an HTTP endpoint (HTTP endpoints are never class views).
        self.steps = (*self.hooks, self.endpoint) if self.kind == "http" else self.hooks
        # With no hook, no view hook and no HTTP endpoint, a handshake is routed
        # without a coroutine.
        self.has_hooks = bool(
            self.hooks
            or self.kind == "http"
            or (self.view_class is not None and _view_hook(self.view_class))
        )

    def __repr__(self) -> str:
        return f"<Route {self.name!r} {self.pattern!r}>"


def _view_hook(view_class: type) -> bool:
    return callable(getattr(view_class, "process_request", None))


class Router:
    """Routes WebSocket connections to handlers by the request path.

    Declare routes with :meth:`route` and serve them with :meth:`serve`, or pass
    the router itself as a connection handler.

    Args:
        converters: Extra converters by name, on top of ``str``, ``int``,
            ``float``, ``uuid`` and ``path``; a name here replaces a built-in.
        redirect_slashes: When a path misses only by its trailing slash, answer
            the handshake with a 308 redirect to the other form instead of 404.
            The ``Location`` is built from the path alone, never from ``Host``.
    """

    def __init__(
        self,
        *,
        converters: Mapping[str, Converter[Any] | type[Converter[Any]]] | None = None,
        redirect_slashes: bool = False,
    ) -> None:
        self.converters: dict[str, Converter[Any]] = dict(DEFAULT_CONVERTERS)
        for name, converter in (converters or {}).items():
            if isinstance(converter, type) and issubclass(converter, Converter):
                converter = converter()
            if not isinstance(converter, Converter):
                raise RouteError(
                    f"converter {name!r} must be a Converter instance or subclass, "
                    f"not {converter!r}"
                )
            self.converters[name] = converter
        self.redirect_slashes = redirect_slashes
        #: Routes in declaration order, included ones too.
        self.routes: list[Route] = []
        #: Hooks that run for every route of this router and of included routers.
        self.hooks: list[Hook] = []
        self._names: dict[str, Route] = {}
        self._shapes: dict[tuple[Any, ...], Route] = {}
        self._root = Node()
        # Fully static routes by path: most lookups end in this one dict access.
        self._static: dict[str, Route] = {}
        self._parents: list[tuple[Router, tuple[Segment, ...], str, str | None]] = []
        #: Open connections by route, parameters and group; see :meth:`broadcast`.
        self.connections = Registry()
        self._broadcaster: Broadcaster | None = None

    # Declaring routes.

    def route(
        self,
        pattern: str,
        *,
        name: str | None = None,
        subprotocols: Iterable[str] | None = None,
        hooks: Iterable[Hook] = (),
    ) -> Callable[[E], E]:
        """Route WebSocket connections to the decorated handler or class view.

        A handler is ``async def handler(ws, path)``; ``path`` is a
        :class:`RoutedPath`. A class view gets a new instance per connection; its
        ``handle(ws, path)`` handles the connection and its optional
        ``process_request(path, headers)`` runs during the handshake. The
        decorator returns its argument unchanged.

        Args:
            pattern: ``/rooms/{room}``, ``/things/{id:int}``, ``/files/{p:path}``...
            name: Name for :meth:`url_for`; defaults to the ``__name__`` of the
                handler or class.
            subprotocols: Subprotocols this route negotiates, in order of
                preference. A client that offers none of them gets HTTP 400.
            hooks: Handshake hooks for this route only; they run after the
                router's hooks and before a class view's ``process_request``.

        Raises:
            RouteError: If the pattern is invalid, the name is taken, another
                route has the same shape, or a class has no ``handle`` method.
        """
        protocols = _check_subprotocols(pattern, subprotocols)
        own_hooks = _check_hooks(pattern, hooks)

        def decorator(endpoint: E) -> E:
            if isinstance(endpoint, type):
                if not callable(getattr(endpoint, "handle", None)):
                    raise RouteError(
                        f"class view {endpoint.__name__} for route {pattern!r} needs a "
                        f"handle(self, ws, path) method"
                    )
            elif not callable(endpoint):
                raise RouteError(
                    f"route {pattern!r} needs a handler function or class, not {endpoint!r}"
                )
            self._declare(pattern, name, "websocket", endpoint, protocols, own_hooks)
            return endpoint

        return decorator

    def http(
        self, pattern: str, *, name: str | None = None, hooks: Iterable[Hook] = ()
    ) -> Callable[[F], F]:
        """Answer plain HTTP ``GET`` requests on this path, without a WebSocket.

        The decorated function receives ``(path, headers)`` like a hook and
        returns the response: a ``str`` or ``bytes`` body sent with 200 OK, a
        ``(status, headers, body)`` tuple, or a websockets ``Response``::

            @router.http("/healthz")
            def healthz(path, headers):
                return "ok\\n"

        HTTP endpoints answer during the handshake, so they work with
        :meth:`serve` only; a WebSocket client reaching one through the router as
        a plain handler is closed with code 4040.
        """
        own_hooks = _check_hooks(pattern, hooks)

        def decorator(endpoint: F) -> F:
            if isinstance(endpoint, type) or not callable(endpoint):
                raise RouteError(
                    f"HTTP endpoint {pattern!r} needs a function of (path, headers), "
                    f"not {endpoint!r}"
                )
            self._declare(pattern, name, "http", endpoint, None, own_hooks)
            return endpoint

        return decorator

    def hook(self, hook: F) -> F:
        """Run ``hook(path, headers)`` in the handshake of every route.

        It covers routes declared before and after, and those of included
        routers. Hooks run in this order: the outermost router's first (in the
        order they were added), then the included router's, then the route's own
        ``hooks=``, then a class view's ``process_request``. The first one that
        returns a response ends the handshake with it.
        """
        if not callable(hook):
            raise RouteError(f"a hook must be callable, not {hook!r}")
        self.hooks.append(hook)
        self._refresh_hooks()
        return hook

    def include(self, other: Router, prefix: str = "", *, namespace: str | None = None) -> None:
        """Mount the routes of ``other`` under ``prefix``.

        ``/api`` as a prefix matches ``/api/...`` only, never ``/apix``. With a
        ``namespace``, included names become ``"namespace:name"`` for
        :meth:`url_for`; without one they keep their names, which must not clash
        with this router's. Routes and hooks added to ``other`` later show up
        here too.

        Raises:
            RouteError: If the prefix is invalid, or a name or route shape clashes.
        """
        # A cycle is `other` already including this router; a diamond is fine.
        if other is self or other in self._ancestors():
            raise RouteError("a router cannot include itself, even indirectly")
        if namespace is not None and (not namespace or ":" in namespace):
            raise RouteError(f"namespace {namespace!r} must be non-empty, without ':'")
        segments = parse_pattern(prefix, self.converters, prefix=True)
        if any(isinstance(s, Rest) for s in segments):
            raise RouteError(f"prefix {prefix!r} cannot end in a 'path' parameter")
        # Plan every route this adds here and in the routers including this one,
        # check the whole plan, then apply it: a clash changes nothing.
        plan = [
            step
            for route in other.routes
            for step in self._plan(self._mounted(route, segments, prefix, namespace))
        ]
        _check_plan(plan)
        other._parents.append((self, segments, prefix, namespace))
        for router, route in plan:
            router._insert(route)

    # Matching.

    def match(self, target: str) -> RoutedPath | None:
        """Route a request target: a :class:`RoutedPath`, or None if no route matches.

        This does no I/O and runs no hook.

        Raises:
            BadRequest: If the target breaks the path decoding rules.
        """
        query = target.find("?")
        path = target if query < 0 else target[:query]
        route = self._static.get(path)
        params: dict[str, Any] = {}
        if route is None or "#" in target:
            # split_target's fast path, inlined: this runs once per handshake.
            if (
                "%" not in path
                and "/." not in path
                and "#" not in target
                and path.isprintable()
                and path[:1] == "/" != path[1:2]
            ):
                # The empty string before the leading "/" is skipped, not sliced off.
                segments, start = path.split("/"), 1
            else:
                segments, start = split_target(target)[0], 0
            route = self._root.match(segments, start, params)
            if route is None:
                return None
        routed = RoutedPath(target)
        # A dict built whole is smaller than the one attribute assignments grow.
        routed.__dict__ = {"route": route, "params": params}
        return routed

    def resolve(self, target: str, *, handshake: bool = True) -> RoutedPath | Response:
        """Decide a handshake: the :class:`RoutedPath` to go on with, or a response.

        The response is :meth:`bad_request`, :meth:`not_found`, or with
        ``redirect_slashes`` (and ``handshake``) a 308 redirect.
        """
        try:
            path = self.match(target)
        except BadRequest as exc:
            return self.bad_request(exc)
        if path is not None:
            return path
        if self.redirect_slashes and handshake:
            raw, mark, query = target.partition("?")
            other = raw[:-1] if raw.endswith("/") else raw + "/"
            if raw != "/" and self.match(other) is not None:
                response = text_response(http.HTTPStatus.PERMANENT_REDIRECT, "")
                location = _UNSAFE_IN_LOCATION.sub(_escape_location, other + mark + query)
                response.headers["Location"] = location
                return response
        return self.not_found(target)

    def not_found(self, target: str) -> Response:
        """The response for a target that no route matches; override to customize."""
        return text_response(http.HTTPStatus.NOT_FOUND, "Not Found\n")

    def bad_request(self, error: BadRequest) -> Response:
        """The response for a target that breaks the decoding rules; override to customize."""
        return text_response(http.HTTPStatus.BAD_REQUEST, f"Bad Request: {error}\n")

    # Building URLs.

    def url_for(self, name: str, /, **params: Any) -> str:
        """Build the path of route ``name`` with ``params``, each encoded by its converter.

        >>> router.url_for("thing_detail", id=123)  # doctest: +SKIP
        '/thing/123'

        Raises:
            URLBuildError: If the name is unknown, a parameter is missing or
                unexpected, or a converter refuses a value.
        """
        route = self._names.get(name)
        if route is None:
            known = ", ".join(sorted(self._names)) or "none"
            raise URLBuildError(f"no route named {name!r}; known names: {known}")
        expected = _param_names(route.segments)
        missing = [p for p in expected if p not in params]
        if missing:
            raise URLBuildError(
                f"route {name!r} ({route.pattern}) needs parameter(s) {', '.join(missing)}"
            )
        unexpected = [p for p in params if p not in expected]
        if unexpected:
            raise URLBuildError(
                f"route {name!r} ({route.pattern}) has no parameter(s) {', '.join(unexpected)}"
            )
        return "/" + "/".join(_build(route, s, params) for s in route.segments)

    # Serving.

    def serve(self, host: str | None = None, port: int | None = None, **kwargs: Any) -> Server:
        """Serve this router with :func:`websockets.asyncio.server.serve`.

        Unmatched paths get HTTP 404 during the handshake and no handler runs.
        Every keyword argument of ``websockets.asyncio.server.serve`` passes
        through; your own ``process_request``, ``select_subprotocol`` and
        ``create_connection`` keep working (routing runs after your
        ``process_request`` lets the request through). Use it as
        ``server = await router.serve(...)`` or ``async with router.serve(...)``.

        Raises:
            TypeError: If a handler or view ``handle`` is not a coroutine function.
        """
        from .asyncio import serve

        return serve(self, host, port, **kwargs)

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
        operations for declared pushes. Needs ``websockets-routes[messages]``.
        """
        from ._asyncapi import build_asyncapi

        return build_asyncapi(
            self, title=title, version=version, description=description, servers=servers
        )

    async def handle(self, ws: Any, path: str | None = None) -> None:
        """Handle a connection with the router as a plain connection handler.

        ``websockets.serve(router.handle, ...)`` (or just ``router``) accepts every
        handshake, then closes with code 4040 when no route matches and 4000 when
        the path is malformed. A hook's 4xx response closes with ten times its
        status (403 gives 4030). Prefer :meth:`serve`, which rejects during the
        handshake.
        """
        from ._dispatch import handle

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
                fit (only hooks of sync servers must be plain functions).
        """
        for route in self.routes:
            targets: list[tuple[str, Any]] = []
            if route.kind == "websocket":
                if route.view_class is None:
                    targets.append(("handler", route.endpoint))
                else:
                    targets.append(("handle()", getattr(route.view_class, "handle", None)))
            if not asynchronous:
                if route.kind == "http":
                    targets.append(("endpoint", route.endpoint))
                targets.extend(("hook", hook) for hook in route.hooks)
                if route.view_class is not None and _view_hook(route.view_class):
                    targets.append(("process_request()", route.view_class.process_request))  # type: ignore[attr-defined]
            for what, target in targets:
                is_async = _is_async(target)
                if asynchronous and not is_async:
                    raise TypeError(
                        f"route {route.name!r} ({route.pattern}): the {what} must be "
                        f"a coroutine function (async def) on this server"
                    )
                if not asynchronous and is_async:
                    raise TypeError(
                        f"route {route.name!r} ({route.pattern}): the {what} must be "
                        f"a plain function (def, not async def) on a threaded server"
                    )

    # Broadcasting.

    @property
    def broadcaster(self) -> Broadcaster:
        """The :class:`~websockets_routes.broadcast.Broadcaster` behind :meth:`broadcast`.

        In-process until :meth:`use_broadcast` configures another backend.
        """
        if self._broadcaster is None:
            from .broadcast import Broadcaster

            self._broadcaster = Broadcaster(self)
        return self._broadcaster

    def use_broadcast(self, backend: str | BroadcastBackend | None = None) -> Broadcaster:
        """Choose the broadcast backend: ``"redis://host:6379/0"``, a backend, or None.

        None (or ``"memory://"``) keeps delivery in this process. Call it before
        serving; see :doc:`/howto/broadcast`.
        """
        from .broadcast import Broadcaster

        if self._broadcaster is not None:
            self._broadcaster.check_replaceable()
        self._broadcaster = Broadcaster(self, backend)
        return self._broadcaster

    async def broadcast(self, name: str, message: str | bytes, /, **params: Any) -> None:
        """Send ``message`` to every connection on route ``name`` with ``params``.

        ``await router.broadcast("room", "hi", room="lobby")`` reaches the
        connections of ``/rooms/lobby`` in every process sharing the backend;
        without ``params``, every connection on the route. See
        :meth:`Broadcaster.broadcast <websockets_routes.broadcast.Broadcaster.broadcast>`.
        """
        await self.broadcaster.broadcast(name, message, **params)

    async def broadcast_group(self, group: str, message: str | bytes) -> None:
        """Send ``message`` to every connection that joined ``group``, in every process."""
        await self.broadcaster.broadcast_group(group, message)

    def join(self, ws: Any, group: str) -> None:
        """Add connection ``ws`` to ``group``; it leaves when its handler ends."""
        self.connections.join_group(ws, group)

    def leave(self, ws: Any, group: str) -> None:
        """Remove connection ``ws`` from ``group``."""
        self.connections.leave_group(ws, group)

    # Internals.

    def _declare(
        self,
        pattern: str,
        name: str | None,
        kind: Literal["websocket", "http"],
        endpoint: Callable[..., Any],
        subprotocols: tuple[str, ...] | None,
        own_hooks: tuple[Hook, ...],
    ) -> None:
        if name is None:
            name = getattr(endpoint, "__name__", None)
            if not name:
                raise RouteError(f"route {pattern!r} needs a name=")
        if not isinstance(name, str) or not name:
            raise RouteError(f"route {pattern!r}: name must be a non-empty str")
        segments = parse_pattern(pattern, self.converters)
        route = Route(pattern, name, kind, endpoint, segments, subprotocols, own_hooks, (self,))
        self._add(route)

    def _mounted(
        self,
        route: Route,
        prefix_segments: tuple[Segment, ...],
        prefix: str,
        namespace: str | None,
    ) -> Route:
        """The copy of an included ``route`` that this router matches."""
        clash = set(_param_names(prefix_segments)) & set(_param_names(route.segments))
        if clash:
            raise RouteError(
                f"prefix {prefix!r} and route {route.pattern!r} both use the "
                f"parameter name(s) {', '.join(sorted(clash))}"
            )
        return Route(
            prefix + route.pattern,
            f"{namespace}:{route.name}" if namespace else route.name,
            route.kind,
            route.endpoint,
            prefix_segments + route.segments,
            route.subprotocols,
            route.own_hooks,
            (self, *route.chain),
        )

    def _plan(self, route: Route) -> list[tuple[Router, Route]]:
        """Where adding ``route`` here puts a route: here, and in every includer."""
        plan = [(self, route)]
        for parent, segments, prefix, namespace in self._parents:
            plan.extend(parent._plan(parent._mounted(route, segments, prefix, namespace)))
        return plan

    def _add(self, route: Route) -> None:
        plan = self._plan(route)
        _check_plan(plan)
        for router, planned in plan:
            router._insert(planned)

    def _insert(self, route: Route) -> None:
        self._names[route.name] = route
        self._shapes[_shape(route)] = route
        self.routes.append(route)
        self._root.insert(route.segments, route)
        if all(isinstance(s, Static) for s in route.segments):
            key = "/" + "/".join(
                encode_segment(s.text) for s in route.segments if isinstance(s, Static)
            )
            # Only paths that pass split_target's fast path unchanged go here.
            if "/." not in key and "%" not in key and key.isprintable():
                self._static[key] = route

    def _refresh_hooks(self) -> None:
        for route in self.routes:
            route.refresh_hooks()
        for parent, *_ in self._parents:
            parent._refresh_hooks()

    def _ancestors(self) -> set[Router]:
        found: set[Router] = set()
        for parent, *_ in self._parents:
            found.add(parent)
            found |= parent._ancestors()
        return found


def _escape_location(found: re.Match[str]) -> str:
    # Raw bytes that aren't UTF-8 reach us surrogate-escaped (websockets 14, legacy
    # API): percent-encode the byte they stand for.
    return quote(found.group(), errors="surrogateescape")


def _shape(route: Route) -> tuple[Any, ...]:
    return tuple(segment.key() for segment in route.segments)


def _check_plan(plan: list[tuple[Router, Route]]) -> None:
    """Refuse a plan that would give a router two routes with one name or shape."""
    names: dict[tuple[Router, str], Route] = {}
    shapes: dict[tuple[Router, tuple[Any, ...]], Route] = {}
    for router, route in plan:
        shape = _shape(route)
        previous = router._names.get(route.name) or names.get((router, route.name))
        if previous is not None:
            raise RouteError(
                f"route name {route.name!r} is taken by {previous.pattern!r}; "
                f"pass name= to one of them ({route.pattern!r})"
            )
        previous = router._shapes.get(shape) or shapes.get((router, shape))
        if previous is not None:
            raise RouteError(
                f"routes {previous.pattern!r} ({previous.name}) and {route.pattern!r} "
                f"({route.name}) can never be told apart; change one pattern or give "
                f"a parameter a different converter"
            )
        names[router, route.name] = route
        shapes[router, shape] = route


def _is_async(target: Any) -> bool:
    # A callable object counts by its __call__, as a message router does.
    return inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target)
        and inspect.iscoroutinefunction(getattr(target, "__call__", None))  # noqa: B004
    )


def _check_subprotocols(pattern: str, subprotocols: Iterable[str] | None) -> tuple[str, ...] | None:
    if subprotocols is None:
        return None
    if isinstance(subprotocols, str):
        raise RouteError(
            f"route {pattern!r}: subprotocols must be a list of names, like [{subprotocols!r}]"
        )
    protocols = tuple(subprotocols)
    if not protocols or not all(isinstance(p, str) and p for p in protocols):
        raise RouteError(f"route {pattern!r}: subprotocols must be a non-empty list of names")
    return protocols


def _check_hooks(pattern: str, hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise RouteError(f"route {pattern!r}: hook {hook!r} is not callable")
    return checked


def _param_names(segments: tuple[Segment, ...]) -> list[str]:
    """Parameter names in the order the pattern declares them."""
    names: list[str] = []
    for segment in segments:
        if isinstance(segment, Param | Rest):
            names.append(segment.name)
        elif isinstance(segment, Mixed):
            names.extend(p.name for p in segment.params)
    return names


def _build(route: Route, segment: Segment, params: Mapping[str, Any]) -> str:
    if isinstance(segment, Static):
        return encode_segment(segment.text)
    if isinstance(segment, Rest):
        text = _to_url(route, segment.name, segment.converter, params)
        parts = text.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise URLBuildError(
                f"route {route.name!r}: {segment.name}={text!r} has an empty or dot "
                f"segment, which would never match"
            )
        return "/".join(encode_segment(part) for part in parts)
    if isinstance(segment, Param):
        text = _to_url(route, segment.name, segment.converter, params)
        # "a/.." is sent as "a%2F.." and split_target refuses it as a dot segment.
        if any(part in (".", "..") for part in text.split("/")):
            raise URLBuildError(
                f"route {route.name!r}: {segment.name}={text!r} is or holds a dot "
                f"segment, which would never match"
            )
        return encode_segment(text)
    pieces = [
        part if isinstance(part, str) else _to_url(route, part.name, part.converter, params)
        for part in segment.parts
    ]
    text = "".join(pieces)
    values = [
        piece for piece, part in zip(pieces, segment.parts, strict=True) if isinstance(part, Param)
    ]
    found = segment.regex.fullmatch(text)
    # Each value must come back in its own parameter: "{a}.{b}" with b="y.z" would not.
    if (
        found is None
        or list(found.groups()) != values
        or segment.match(text) is None
        or any(part in (".", "..") for part in text.split("/"))
    ):
        raise URLBuildError(
            f"route {route.name!r}: the values for {route.pattern!r} give the segment "
            f"{text!r}, which would not match it back"
        )
    return encode_segment(text)


def _to_url(route: Route, name: str, converter: Converter[Any], params: Mapping[str, Any]) -> str:
    value = params[name]
    try:
        text = converter.to_url(value)
    except (TypeError, ValueError) as exc:
        raise URLBuildError(
            f"route {route.name!r}: {name}={value!r} is refused by {converter!r}: {exc}"
        ) from None
    try:
        text.encode()
    except UnicodeEncodeError:
        raise URLBuildError(
            f"route {route.name!r}: {name}={value!r} has a lone surrogate, which no URL can carry"
        ) from None
    if not text or any(ch < " " or ch == "\x7f" for ch in text):
        raise URLBuildError(
            f"route {route.name!r}: {name}={value!r} gives an empty segment or one "
            f"with control characters, which would never match"
        )
    return text
