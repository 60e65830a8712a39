"""The route table: declaring routes, including routers, matching and building URLs.

This is the sans-I/O core of :class:`~websockets_routes.Router`, which adds
serving and delivery on top. Nothing here imports an upper layer.
"""

from __future__ import annotations

import functools
import http
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar
from urllib.parse import quote

from websockets.http11 import Response

from ._matcher import LONE, PLAIN, SINGLE, Hosts, Node, Paths
from ._path import RoutedPath, URLPath, encode_segment, parse_host, split_path
from ._patterns import (
    Param,
    Rest,
    Segment,
    Static,
    param_names,
    parse_host_pattern,
    parse_pattern,
)
from ._responses import text_response
from ._route import Hook, Route
from .converters import DEFAULT_CONVERTERS, NO_MATCH, Converter
from .exceptions import BadRequest, RouteError, URLBuildError

__all__ = ["RouteTable", "endpoint_name"]

#: A decorated function or class, returned unchanged.
F = TypeVar("F", bound=Callable[..., Any])
# Escaped in a redirect's Location: anything but visible ASCII, and backslashes,
# which browsers read as "/" (a Location of /\evil.com would go to evil.com).
_UNSAFE_IN_LOCATION = re.compile(r"[^\x21-\x5b\x5d-\x7e]")


class RouteTable:
    """Routes declared with decorators and included from other tables, matched by path.

    :class:`~websockets_routes.Router` is the public class; this part of it
    declares, matches and builds URLs, and does no I/O.

    Args:
        converters: Extra converters by name, on top of ``str``, ``int``,
            ``float``, ``uuid`` and ``path``; a name here replaces a built-in.
        redirect_slashes: When a path misses only by its trailing slash, answer
            the handshake with a 308 redirect to the other form instead of 404.
            The ``Location`` is built from the path alone, never from ``Host``.
        strict_slashes: False to let a path that misses only by its trailing
            slash match the route anyway, without a redirect: ``/rooms/`` and
            ``/rooms`` both reach ``/rooms``. An exact match always wins.

    Raises:
        RouteError: If a converter is neither a Converter instance nor subclass,
            or ``redirect_slashes`` comes with ``strict_slashes=False``.
    """

    def __init__(
        self,
        *,
        converters: Mapping[str, Converter[Any] | type[Converter[Any]]] | None = None,
        redirect_slashes: bool = False,
        strict_slashes: bool = True,
    ) -> None:
        #: Converters by name: instances, or classes made with a pattern's arguments.
        self.converters: dict[str, Converter[Any] | type[Converter[Any]]] = dict(DEFAULT_CONVERTERS)
        for name, converter in (converters or {}).items():
            if not isinstance(converter, Converter) and not (
                isinstance(converter, type) and issubclass(converter, Converter)
            ):
                raise RouteError(
                    f"converter {name!r} must be a Converter instance or subclass, "
                    f"not {converter!r}"
                )
            self.converters[name] = converter
        if redirect_slashes and not strict_slashes:
            raise RouteError(
                "redirect_slashes=True redirects a path that misses by its trailing "
                "slash, strict_slashes=False matches it: choose one"
            )
        self.redirect_slashes = redirect_slashes
        self.strict_slashes = strict_slashes
        #: Routes in declaration order, included ones too.
        self.routes: list[Route] = []
        #: Hooks that run for every route of this router and of included routers.
        self.hooks: list[Hook] = []
        self._names: dict[str, Route] = {}
        self._shapes: dict[tuple[Any, ...], Route] = {}
        # Routes without a host pattern: a trie, and fully static paths.
        self._paths = Paths()
        self._root = self._paths.root
        self._static = self._paths.static
        # Routes with a host pattern, by host.
        self._hosts = Hosts()
        #: Whether a route has a host pattern: then the handshake decision reads
        #: ``Host``; otherwise it never does.
        self.host_routing = False
        # The tables including this one, each with its prefix, namespace and host.
        self._parents: list[tuple[RouteTable, Mount]] = []

    def __repr__(self) -> str:
        shown = ", ".join(route.pattern for route in self.routes[:5])
        more = f", ... ({len(self.routes) - 5} more)" if len(self.routes) > 5 else ""
        count = f"{len(self.routes)} route{'' if len(self.routes) == 1 else 's'}"
        return f"<{type(self).__name__} {count}{': ' if shown else ''}{shown}{more}>"

    # Declaring routes.

    def route(
        self,
        pattern: str,
        *,
        name: str | None = None,
        subprotocols: Iterable[str] | None = None,
        hooks: Iterable[Hook] = (),
        host: str | None = None,
        send_policy: Any = None,
        history: Any = None,
    ) -> Callable[[F], F]:
        """Route WebSocket connections to the decorated handler or class view.

        A handler is ``async def handler(ws, path)``; ``path`` is a
        :class:`RoutedPath`. A class view gets a new instance per connection; its
        ``handle(ws, path)`` handles the connection and its optional
        ``process_request(path, headers)`` runs during the handshake. The
        decorator returns its argument unchanged.

        Args:
            pattern: ``/rooms/{room}``, ``/things/{id:int}``, ``/files/{p:path}``...
            name: Name for :meth:`url_for`; defaults to the ``__name__`` of the
                handler or class, of the function a ``functools.partial`` wraps,
                or of a callable object's class.
            subprotocols: Subprotocols this route negotiates, in order of
                preference. A client that offers none of them gets HTTP 400.
            hooks: Handshake hooks for this route only; they run after the
                router's hooks and before a class view's ``process_request``.
            host: A host pattern such as ``"{tenant}.example.com"``: the route
                matches requests whose ``Host`` matches it, and its parameters
                join ``path.params``. None matches any host.
            send_policy: A :class:`~websockets_routes.broadcast.SendPolicy` for
                what is broadcast or pushed to this route's connections, in
                place of the router's.
            history: A :class:`~websockets_routes.broadcast.History`: keep the
                last messages broadcast to each room of this route, so that
                clients that reconnect catch up.

        Raises:
            RouteError: If the pattern is invalid, the name is taken, another
                route has the same shape, or a class has no ``handle`` method.
        """
        protocols = _check_subprotocols(pattern, subprotocols)
        own_hooks = _check_hooks(pattern, hooks)
        options = self._route_options(pattern, send_policy=send_policy, history=history)

        def decorator(endpoint: F) -> F:
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
            self._declare(
                pattern, name, "websocket", endpoint, protocols, own_hooks, None, host, options
            )
            return endpoint

        return decorator

    def http(
        self,
        pattern: str,
        *,
        name: str | None = None,
        hooks: Iterable[Hook] = (),
        methods: Iterable[str] | None = None,
        host: str | None = None,
    ) -> Callable[[F], F]:
        """Answer plain HTTP requests on this path, without a WebSocket.

        The decorated function receives ``(path, headers)`` like a hook and
        returns the response: a ``str`` or ``bytes`` body sent with 200 OK, a
        ``(status, headers, body)`` tuple, or a websockets ``Response``::

            @router.http("/healthz")
            def healthz(path, headers):
                return "ok\\n"

        Other methods get 405 Method Not Allowed with an ``Allow`` header, and
        ``HEAD`` gets the headers of the ``GET`` response without its body;
        ``path.method`` says which method the request used. A WebSocket route
        may share the pattern: requests with ``Upgrade: websocket`` go to it,
        the others to the endpoint.

        HTTP endpoints answer during the handshake, so they work with
        :meth:`serve` only; a WebSocket client reaching one through the router as
        a plain handler is closed with code 4040.

        Args:
            pattern: As for :meth:`route`.
            name: As for :meth:`route`.
            hooks: As for :meth:`route`; they run before the endpoint.
            methods: The methods to answer, ``GET`` and ``HEAD`` by default;
                ``HEAD`` comes with ``GET``. Before websockets 17.0, and on the
                legacy API, websockets refuses other methods than ``GET`` itself,
                before routing; every version refuses requests with a body.
            host: As for :meth:`route`.

        Raises:
            RouteError: If the pattern is invalid, the name is taken, another
                HTTP endpoint has the same shape, or a method is not an HTTP token.
        """
        own_hooks = _check_hooks(pattern, hooks)
        allowed = _check_methods(pattern, methods)

        def decorator(endpoint: F) -> F:
            if isinstance(endpoint, type) or not callable(endpoint):
                raise RouteError(
                    f"HTTP endpoint {pattern!r} needs a function of (path, headers), "
                    f"not {endpoint!r}"
                )
            self._declare(pattern, name, "http", endpoint, None, own_hooks, allowed, host)
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

    def include(
        self,
        other: RouteTable,
        prefix: str = "",
        *,
        namespace: str | None = None,
        host: str | None = None,
    ) -> None:
        """Mount the routes of ``other`` under ``prefix``, and on ``host`` if given.

        ``/api`` as a prefix matches ``/api/...`` only, never ``/apix``. With a
        ``namespace``, included names become ``"namespace:name"`` for
        :meth:`url_for`; without one they keep their names, which must not clash
        with this router's. Routes and hooks added to ``other`` later show up
        here too. With a ``host`` pattern, the included routes match requests
        whose ``Host`` matches it; they must not have host patterns of their own.

        Raises:
            RouteError: If the prefix or host pattern is invalid, or a name, a
                parameter name or a route shape clashes.
        """
        # A cycle is `other` already including this router; a diamond is fine.
        if other is self or other in self._ancestors():
            raise RouteError("a router cannot include itself, even indirectly")
        if namespace is not None and (not namespace or ":" in namespace):
            raise RouteError(f"namespace {namespace!r} must be non-empty, without ':'")
        mount = Mount(
            parse_pattern(prefix, self.converters, prefix=True),
            prefix,
            namespace,
            host,
            () if host is None else parse_host_pattern(host, self.converters),
        )
        # Plan every route this adds here and in the routers including this one,
        # check the whole plan, then apply it: a clash changes nothing.
        plan = [step for route in other.routes for step in self._plan(self._mounted(route, mount))]
        _check_plan(plan)
        other._parents.append((self, mount))
        for router, route in plan:
            router._insert(route)

    # Matching.

    def match(self, target: str, *, host: str | None = None) -> RoutedPath | None:
        """Route a request target: a :class:`RoutedPath`, or None if no route matches.

        This does no I/O and runs no hook. Where an HTTP endpoint and a WebSocket
        route share a pattern, this is the WebSocket route; its
        :attr:`~websockets_routes.Route.twin` is the endpoint.

        Args:
            target: The request target, as sent.
            host: The ``Host`` header, as sent. A router with host patterns checks
                it and tries the routes whose host pattern matches it first, then
                those without one; without it, only the latter. A router without
                host patterns ignores it.

        Raises:
            BadRequest: If the target breaks the path decoding rules, or ``host``
                is given to a router with host patterns and isn't a valid host.
        """
        if host is not None and self.host_routing:
            found = self._find_by_host(target, host)
            if found is None:
                return None
            routed = RoutedPath(target)
            routed.__dict__ = {"route": found[0], "params": found[1], "router": self}
            routed.__dict__["host"] = found[2]
            return routed
        found_path = self.find(target)
        if found_path is None:
            return None
        routed = RoutedPath(target)
        # A dict built whole is smaller than the one attribute assignments grow.
        routed.__dict__ = {"route": found_path[0], "params": found_path[1], "router": self}
        return routed

    def find(self, target: str, *, host: str | None = None) -> tuple[Route, dict[str, Any]] | None:
        """The matcher alone: the route for ``target`` and its parameters, or None.

        :meth:`match` is this, packaged as a :class:`RoutedPath`. Use it where
        you route without a connection, and don't need that package.

        Raises:
            BadRequest: As :meth:`match`.
        """
        if host is not None and self.host_routing:
            found = self._find_by_host(target, host)
            return None if found is None else (found[0], found[1])
        path = target.partition("?")[0]
        route = self._static.get(path)
        params: dict[str, Any] = {}
        # A static hit is safe only if the target has no fragment to refuse.
        if route is None or "#" in target:
            # split_path()'s fast path, inlined: this runs once per handshake.
            segments = path.split("/")
            count = len(segments)
            if (
                "%" in path
                or "/." in path
                or "#" in target
                or not path.isprintable()
                or count < 2
                or segments[0]
                or not (segments[1] or count == 2)
            ):
                segments = split_path(target, path)
                count = len(segments)
            # Node.match() inlined, for the nodes that leave one way on: the call
            # costs ~450 instructions, 5% of a lookup. Where the trie branches,
            # Node._branch() goes on.
            node, index, route = self._root, 1, None
            while index < count:
                segment = segments[index]
                kind = node.kind
                if kind is PLAIN:
                    child = node.static.get(segment)
                    if child is None:
                        break
                elif kind is SINGLE:
                    if not segment:
                        break  # Empty segments match no parameter.
                    convert, name, child = node.single
                    if convert is None:
                        params[name] = segment
                    else:
                        value = convert(segment)
                        if name is not None:
                            if value is NO_MATCH:
                                break
                            params[name] = value
                        elif value is None:
                            break
                        else:
                            params.update(value)
                elif kind is LONE:
                    text, child = node.lone
                    if segment != text:
                        break
                else:
                    route = node._branch(segments, index, params)
                    break
                node, index = child, index + 1
            else:
                route = node.route
            if route is None:
                if self.strict_slashes:
                    return None
                route = _other_slash(self._root, segments, 1, params)
                if route is None:
                    return None
        return route, params

    def _find_by_host(self, target: str, host: str) -> tuple[Route, dict[str, Any], str] | None:
        """:meth:`find` for a router with host patterns: by host, then by path."""
        name, _ = parse_host(host)
        path = target.partition("?")[0]
        segments, start = split_path(target, path), 1
        tables = [*self._hosts.candidates(name), (self._paths, [])]
        tries = [segments] if self.strict_slashes else [segments, _toggle_slash(segments, start)]
        for tried in tries:
            for paths, values in tables:
                params: dict[str, Any] = dict(values)
                # The path is valid (split_path checked it): a fully static route
                # is one dict access away, as in find().
                route = paths.static.get(path) if tried is segments else None
                if route is None and tried:
                    route = paths.root.match(tried, start, params)
                if route is not None:
                    return route, params, name
        return None

    def get(self, name: str) -> Route | None:
        """The route named ``name`` (``"ns:name"`` for an included one), or None."""
        return self._names.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The names of every route, included ones too, in declaration order."""
        return tuple(self._names)

    def resolve(
        self, target: str, *, handshake: bool = True, host: str | None = None
    ) -> RoutedPath | Response:
        """Decide a handshake: the :class:`RoutedPath` to go on with, or a response.

        The response is :meth:`bad_request`, :meth:`not_found`, or with
        ``redirect_slashes`` (and ``handshake``) a 308 redirect. ``host`` is as
        for :meth:`match`.
        """
        try:
            if host is None:
                # match(), without a call: this runs once per handshake.
                found = self.find(target)
                if found is not None:
                    path = RoutedPath(target)
                    path.__dict__ = {"route": found[0], "params": found[1], "router": self}
                    return path
            elif (routed := self.match(target, host=host)) is not None:
                return routed
        except BadRequest as exc:
            return self.bad_request(exc)
        if self.redirect_slashes and handshake:
            raw, mark, query = target.partition("?")
            other = raw[:-1] if raw.endswith("/") else raw + "/"
            if raw != "/" and self.match(other, host=host) is not None:
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

    def method_not_allowed(self, target: str, allowed: Sequence[str]) -> Response:
        """The 405 response for a method the route doesn't answer; override to customize.

        Args:
            target: The request target.
            allowed: The methods the route answers, for the ``Allow`` header.
        """
        response = text_response(http.HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed\n")
        response.headers["Allow"] = ", ".join(allowed)
        return response

    # Building URLs.

    def url_for(self, name: str, /, **params: Any) -> str:
        """Build the path of route ``name`` with ``params``, each encoded by its converter.

        >>> router.url_for("thing_detail", id=123)  # doctest: +SKIP
        '/thing/123'

        A route with a host pattern needs its host parameters too, as they come
        in ``path.params``. For an absolute ``wss://`` URL, use :meth:`url_path_for`.

        Raises:
            URLBuildError: If the name is unknown, a parameter is missing or
                unexpected, or a converter refuses a value.
        """
        return str(self.url_path_for(name, **params))

    def url_path_for(self, name: str, /, **params: Any) -> URLPath:
        """Like :meth:`url_for`, as a :class:`URLPath` that also builds the absolute URL.

        ``router.url_path_for("room", tenant="acme", room="lobby").absolute()``
        gives ``"wss://acme.example.com/rooms/lobby"`` for a route on
        ``{tenant}.example.com``; for a route without a host pattern, pass the
        host: ``.absolute(host="example.com")``. The result is a :class:`str`
        subclass, which some encoders (msgspec) refuse: send ``str(url)``.

        Raises:
            URLBuildError: As :meth:`url_for`, and if the values of the host
                parameters don't give a host that matches the host pattern back.
        """
        route = self._names.get(name)
        if route is None:
            known = ", ".join(sorted(self._names)) or "none"
            raise URLBuildError(f"no route named {name!r}; known names: {known}")
        expected = param_names(route.host_segments) + param_names(route.segments)
        missing = [p for p in expected if p not in params]
        where = route.pattern if route.host is None else f"{route.pattern} on {route.host}"
        if missing:
            raise URLBuildError(f"route {name!r} ({where}) needs parameter(s) {', '.join(missing)}")
        unexpected = [p for p in params if p not in expected]
        if unexpected:
            raise URLBuildError(
                f"route {name!r} ({where}) has no parameter(s) {', '.join(unexpected)}"
            )
        url = URLPath("/" + "/".join(_build(route, s, params) for s in route.segments))
        if route.host_segments:
            url.host = _build_host(route, params)
        return url

    # Internals.

    def _declare(
        self,
        pattern: str,
        name: str | None,
        kind: Literal["websocket", "http"],
        endpoint: Callable[..., Any],
        subprotocols: tuple[str, ...] | None,
        own_hooks: tuple[Hook, ...],
        methods: tuple[str, ...] | None = None,
        host: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if name is None:
            name = endpoint_name(endpoint)
            if not name:
                raise RouteError(f"route {pattern!r} needs a name=")
        if not isinstance(name, str) or not name:
            raise RouteError(f"route {pattern!r}: name must be a non-empty str")
        segments = parse_pattern(pattern, self.converters)
        labels = () if host is None else parse_host_pattern(host, self.converters)
        clash = set(param_names(labels)) & set(param_names(segments))
        if clash:
            raise RouteError(
                f"route {pattern!r} and its host pattern {host!r} both use the parameter "
                f"name(s) {', '.join(sorted(clash))}; rename one, since both go in path.params"
            )
        route = Route(
            pattern,
            name,
            kind,
            endpoint,
            segments,
            subprotocols,
            own_hooks,
            (self,),
            methods=methods,
            host=host,
            host_segments=labels,
        )
        route.options = dict(options or {})
        self._add(route)

    def _route_options(self, pattern: str, **options: Any) -> dict[str, Any]:
        """Check what the serving layer keeps per route; the table only carries it."""
        return {name: value for name, value in options.items() if value is not None}

    def _mounted(self, route: Route, mount: Mount) -> Route:
        """The copy of an included ``route`` that this router matches."""
        prefix = mount.prefix
        clash = set(param_names(mount.segments)) & set(param_names(route.segments))
        if clash:
            raise RouteError(
                f"prefix {prefix!r} and route {route.pattern!r} both use the "
                f"parameter name(s) {', '.join(sorted(clash))}"
            )
        if _has_rest(mount.segments) and _has_rest(route.segments):
            raise RouteError(
                f"prefix {prefix!r} and route {route.pattern!r} both have a 'path' "
                f"parameter; a pattern may have one, so that how much of the path each "
                f"takes is never ambiguous"
            )
        if mount.host is not None:
            if route.host is not None:
                raise RouteError(
                    f"route {route.pattern!r} has the host pattern {route.host!r}, so it "
                    f"can't be included with the host pattern {mount.host!r}; give the "
                    f"host pattern in one place"
                )
            path_names = set(param_names(mount.segments)) | set(param_names(route.segments))
            clash = set(param_names(mount.host_segments)) & path_names
            if clash:
                raise RouteError(
                    f"host pattern {mount.host!r} and route {prefix + route.pattern!r} "
                    f"both use the parameter name(s) {', '.join(sorted(clash))}; rename "
                    f"one, since both go in path.params"
                )
        name = f"{mount.namespace}:{route.name}" if mount.namespace else route.name
        return route.mounted(self, mount.segments, prefix, name, mount.host, mount.host_segments)

    def _plan(self, route: Route) -> list[tuple[RouteTable, Route]]:
        """Where adding ``route`` here puts a route: here, and in every includer."""
        plan = [(self, route)]
        for parent, mount in self._parents:
            plan.extend(parent._plan(parent._mounted(route, mount)))
        return plan

    def _add(self, route: Route) -> None:
        plan = self._plan(route)
        _check_plan(plan)
        for router, planned in plan:
            router._insert(planned)

    def _insert(self, route: Route) -> None:
        shape = _shape(route)
        self._names[route.name] = route
        self._shapes[shape] = route
        self.routes.append(route)
        twin = self._shapes.get(_twin_shape(shape))
        if twin is not None:
            route.twin, twin.twin = twin, route
            # The trie holds the WebSocket route; the handshake decision finds
            # the HTTP endpoint as its twin.
            if route.kind == "http":
                return
        if route.host_segments:
            self.host_routing = True
            paths = self._hosts.paths(route.host_segments)
        else:
            paths = self._paths
        paths.root.insert(route.segments, route)
        if all(isinstance(s, Static) for s in route.segments):
            key = "/" + "/".join(
                encode_segment(s.text) for s in route.segments if isinstance(s, Static)
            )
            # Only paths that split_path's fast path leaves unchanged go here.
            if "/." not in key and "%" not in key and key.isprintable():
                paths.static[key] = route

    def _refresh_hooks(self) -> None:
        for route in self.routes:
            route.refresh_hooks()
        for parent, _ in self._parents:
            parent._refresh_hooks()

    def _ancestors(self) -> set[RouteTable]:
        found: set[RouteTable] = set()
        for parent, _ in self._parents:
            found.add(parent)
            found |= parent._ancestors()
        return found


class Mount(NamedTuple):
    """How a router includes another: a prefix, a namespace, a host pattern."""

    segments: tuple[Segment, ...]
    prefix: str
    namespace: str | None
    host: str | None
    host_segments: tuple[Segment, ...]


def _toggle_slash(segments: list[str], start: int) -> list[str]:
    """The segments with a trailing slash removed or added; empty for "/" alone."""
    if segments[-1] != "":
        return [*segments, ""]
    return segments[:-1] if len(segments) - start > 1 else []


def _other_slash(root: Node, segments: list[str], start: int, params: dict[str, Any]) -> Any:
    """The route matching the path with its trailing slash added or removed, if any."""
    other = _toggle_slash(segments, start)
    if not other:
        return None
    params.clear()
    return root.match(other, start, params)


def _escape_location(found: re.Match[str]) -> str:
    # Raw bytes that aren't UTF-8 reach us surrogate-escaped (websockets 14, legacy
    # API): percent-encode the byte they stand for.
    return quote(found.group(), errors="surrogateescape")


def endpoint_name(endpoint: Callable[..., Any]) -> str:
    """The default name of a route: its endpoint's ``__name__``, as Starlette names them.

    A :func:`functools.partial` is named after the function it wraps, and a
    callable object without a ``__name__`` after its class.
    """
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    name = getattr(endpoint, "__name__", None)
    if isinstance(name, str):
        return name
    return type(endpoint).__name__


def _has_rest(segments: tuple[Segment, ...]) -> bool:
    return any(isinstance(segment, Rest) for segment in segments)


def _shape(route: Route) -> tuple[Any, ...]:
    # An HTTP endpoint and a WebSocket route may share a pattern.
    host = tuple(label.key() for label in route.host_segments)
    return (route.kind, host, *(segment.key() for segment in route.segments))


def _twin_shape(shape: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("http" if shape[0] == "websocket" else "websocket", *shape[1:])


def _check_plan(plan: list[tuple[RouteTable, Route]]) -> None:
    """Refuse a plan that would give a router two routes with one name or shape."""
    names: dict[tuple[RouteTable, str], Route] = {}
    shapes: dict[tuple[RouteTable, tuple[Any, ...]], Route] = {}
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
            advice = (
                "declare every method in one endpoint with methods=[...]"
                if route.kind == "http"
                else "change one pattern or give a parameter a different converter"
            )
            raise RouteError(
                f"routes {previous.pattern!r} ({previous.name}) and {route.pattern!r} "
                f"({route.name}) can never be told apart; {advice}"
            )
        names[router, route.name] = route
        shapes[router, shape] = route


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


# An HTTP method is a token (RFC 9110); by convention, and here, in capitals.
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")


def _check_methods(pattern: str, methods: Iterable[str] | None) -> tuple[str, ...]:
    if methods is None:
        return ("GET", "HEAD")
    if isinstance(methods, str):
        raise RouteError(
            f"HTTP endpoint {pattern!r}: methods must be a list of names, like [{methods!r}]"
        )
    checked: list[str] = []
    for method in methods:
        if not isinstance(method, str) or not _METHOD.fullmatch(method.upper()):
            raise RouteError(
                f"HTTP endpoint {pattern!r}: method {method!r} is not an HTTP method name "
                f"such as 'GET' or 'POST'"
            )
        checked.append(method.upper())
        # A GET endpoint answers HEAD too, with the headers of its GET response.
        if method.upper() == "GET":
            checked.append("HEAD")
    if not checked:
        raise RouteError(f"HTTP endpoint {pattern!r}: methods must name at least one method")
    return tuple(dict.fromkeys(checked))


def _check_hooks(pattern: str, hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise RouteError(f"route {pattern!r}: hook {hook!r} is not callable")
    return checked


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


def _build_host(route: Route, params: Mapping[str, Any]) -> str:
    """The host that the host pattern of ``route`` gives with ``params``."""
    host = ".".join(
        label.text if isinstance(label, Static) else _build(route, label, params)
        for label in route.host_segments
    )
    try:
        valid = parse_host(host) == (host, None)
    except BadRequest:
        valid = False
    # Each value must stay in its own label, in lower case, to match back.
    if not valid or host.count(".") != len(route.host_segments) - 1:
        raise URLBuildError(
            f"route {route.name!r}: the values for the host pattern {route.host!r} give "
            f"{host!r}, which is not a host that matches it back (lower-case letters, "
            f"digits, '-' and '_' in each label)"
        )
    return host


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
