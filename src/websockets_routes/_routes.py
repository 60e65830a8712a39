"""The route table: declaring routes, including routers, matching and building URLs.

This is the sans-I/O core of :class:`~websockets_routes.Router`, which adds
serving and delivery on top. Nothing here imports an upper layer.
"""

from __future__ import annotations

import functools
import http
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from websockets.http11 import Response

from ._matcher import Node
from ._path import RoutedPath, encode_segment, split_path
from ._patterns import Param, Rest, Segment, Static, param_names, parse_pattern
from ._responses import text_response
from ._route import Hook, Route
from .converters import DEFAULT_CONVERTERS, Converter
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
        self._root = Node()
        # Fully static routes by path: most lookups end in this one dict access.
        self._static: dict[str, Route] = {}
        # The tables including this one, each with its prefix and namespace.
        self._parents: list[tuple[RouteTable, tuple[Segment, ...], str, str | None]] = []

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

        Raises:
            RouteError: If the pattern is invalid, the name is taken, another
                route has the same shape, or a class has no ``handle`` method.
        """
        protocols = _check_subprotocols(pattern, subprotocols)
        own_hooks = _check_hooks(pattern, hooks)

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

    def include(self, other: RouteTable, prefix: str = "", *, namespace: str | None = None) -> None:
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
        # A static hit is safe only if the target has no fragment to refuse.
        if route is None or "#" in target:
            segments, start = split_path(target, path)
            route = self._root.match(segments, start, params)
            if route is None:
                if self.strict_slashes:
                    return None
                route = _other_slash(self._root, segments, start, params)
                if route is None:
                    return None
        routed = RoutedPath(target)
        # A dict built whole is smaller than the one attribute assignments grow.
        routed.__dict__ = {"route": route, "params": params, "router": self}
        return routed

    def get(self, name: str) -> Route | None:
        """The route named ``name`` (``"ns:name"`` for an included one), or None."""
        return self._names.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The names of every route, included ones too, in declaration order."""
        return tuple(self._names)

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
        expected = param_names(route.segments)
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
            name = endpoint_name(endpoint)
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
        clash = set(param_names(prefix_segments)) & set(param_names(route.segments))
        if clash:
            raise RouteError(
                f"prefix {prefix!r} and route {route.pattern!r} both use the "
                f"parameter name(s) {', '.join(sorted(clash))}"
            )
        if _has_rest(prefix_segments) and _has_rest(route.segments):
            raise RouteError(
                f"prefix {prefix!r} and route {route.pattern!r} both have a 'path' "
                f"parameter; a pattern may have one, so that how much of the path each "
                f"takes is never ambiguous"
            )
        name = f"{namespace}:{route.name}" if namespace else route.name
        return route.mounted(self, prefix_segments, prefix, name)

    def _plan(self, route: Route) -> list[tuple[RouteTable, Route]]:
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
            # Only paths that split_path's fast path leaves unchanged go here.
            if "/." not in key and "%" not in key and key.isprintable():
                self._static[key] = route

    def _refresh_hooks(self) -> None:
        for route in self.routes:
            route.refresh_hooks()
        for parent, *_ in self._parents:
            parent._refresh_hooks()

    def _ancestors(self) -> set[RouteTable]:
        found: set[RouteTable] = set()
        for parent, *_ in self._parents:
            found.add(parent)
            found |= parent._ancestors()
        return found


def _other_slash(root: Node, segments: list[str], start: int, params: dict[str, Any]) -> Any:
    """The route matching the path with its trailing slash added or removed, if any."""
    if segments[-1] == "":
        if len(segments) - start == 1:  # "/" has no other form
            return None
        segments = segments[:-1]
    else:
        segments = [*segments, ""]
    params.clear()
    return root.match(segments, start, params)


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
    return tuple(segment.key() for segment in route.segments)


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
            raise RouteError(
                f"routes {previous.pattern!r} ({previous.name}) and {route.pattern!r} "
                f"({route.name}) can never be told apart; change one pattern or give "
                f"a parameter a different converter"
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
