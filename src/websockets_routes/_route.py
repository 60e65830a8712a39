"""A declared route: its pattern, name, kind, and what handles it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from websockets.datastructures import Headers

from ._path import RoutedPath
from ._patterns import Segment

if TYPE_CHECKING:
    from ._routes import RouteTable

__all__ = ["Hook", "Route", "view_hook"]

#: A handshake hook: ``hook(path, headers)`` returns None to go on, or a response
#: (see :data:`~websockets_routes.HTTPResult`) to answer the handshake with it.
#: It may be a plain function or a coroutine function.
Hook: TypeAlias = Callable[[RoutedPath, Headers], Any]


class Route:
    """A declared route: its pattern, name, kind, and what handles it.

    A router holds one per route it matches; a route of an included router
    appears there as a copy with the prefix and namespace applied.

    Attributes:
        pattern: The full pattern, mount prefixes included.
        name: The name :meth:`Router.url_for <websockets_routes.Router.url_for>`
            knows it by (``"ns:name"`` when included with a namespace).
        kind: ``"websocket"`` or ``"http"``.
        endpoint: The decorated function or class.
        view_class: The class for class views, else None.
        subprotocols: The subprotocols this route negotiates, or None.
        hooks: Every hook that runs before the handshake completes, in order.
        steps: The hooks, then an HTTP endpoint: what runs in the handshake before
            a class view's ``process_request``.
        runs_user_code: Whether the handshake runs code of yours: a hook, a
            class view's ``process_request`` or an HTTP endpoint. Without any,
            routing a handshake creates no coroutine.
        origin: The route as declared, on the router whose decorator made it;
            the route itself unless it is an included copy.
        methods: The HTTP methods an HTTP endpoint answers (``("GET", "HEAD")``
            by default); None for a WebSocket route.
        twin: The route of the other kind on the same pattern: the HTTP endpoint
            of a WebSocket route, or the other way round; None if there is none.
            The handshake decision picks the WebSocket route for requests with
            ``Upgrade: websocket`` and the endpoint for the others.
        host: The host pattern (``"{tenant}.example.com"``), from the route or
            the ``include`` that brought it; None if the route matches any host.
        host_segments: The host pattern parsed, one spec per label; empty if none.
    """

    __slots__ = (
        "chain",
        "endpoint",
        "hooks",
        "host",
        "host_segments",
        "kind",
        "methods",
        "name",
        "options",
        "origin",
        "own_hooks",
        "pattern",
        "runs_user_code",
        "segments",
        "steps",
        "subprotocols",
        "twin",
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
        chain: tuple[RouteTable, ...],
        origin: Route | None = None,
        *,
        methods: tuple[str, ...] | None = None,
        host: str | None = None,
        host_segments: tuple[Segment, ...] = (),
    ) -> None:
        self.pattern = pattern
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
        self.view_class = endpoint if isinstance(endpoint, type) else None
        self.segments = segments
        self.subprotocols = subprotocols
        self.own_hooks = own_hooks
        # The routers this route was declared or included in, outermost first:
        # their hooks run, in that order, before the route's own.
        self.chain = chain
        self.origin: Route = self if origin is None else origin
        # What the layers above keep per route (a send policy), carried as is.
        self.options: dict[str, Any] = {} if origin is None else origin.options
        self.methods = methods
        self.twin: Route | None = None
        self.host = host
        self.host_segments = host_segments
        self.hooks: tuple[Hook, ...] = ()
        self.steps: tuple[Callable[..., Any], ...] = ()
        self.runs_user_code = False
        self.refresh_hooks()

    def mounted(
        self,
        router: RouteTable,
        prefix: tuple[Segment, ...],
        pattern: str,
        name: str,
        host: str | None = None,
        host_segments: tuple[Segment, ...] = (),
    ) -> Route:
        """The copy of this route that ``router`` matches, under a mount ``prefix``.

        ``host`` is the host pattern of the mount, for a route that has none.
        """
        return Route(
            pattern + self.pattern,
            name,
            self.kind,
            self.endpoint,
            prefix + self.segments,
            self.subprotocols,
            self.own_hooks,
            (router, *self.chain),
            self.origin,
            methods=self.methods,
            host=self.host if host is None else host,
            host_segments=self.host_segments if host is None else host_segments,
        )

    def refresh_hooks(self) -> None:
        """Recompute :attr:`hooks` after a router in the chain gained a hook."""
        hooks = [hook for router in self.chain for hook in router.hooks]
        hooks.extend(self.own_hooks)
        self.hooks = tuple(hooks)
        # HTTP endpoints are never class views: the endpoint comes last.
        self.steps = (*self.hooks, self.endpoint) if self.kind == "http" else self.hooks
        self.runs_user_code = bool(
            self.hooks
            or self.kind == "http"
            or (self.view_class is not None and view_hook(self.view_class))
        )

    def __repr__(self) -> str:
        return f"<Route {self.name!r} {self.pattern!r}>"


def view_hook(view_class: type) -> bool:
    """Whether a class view has a ``process_request`` to run in the handshake."""
    return callable(getattr(view_class, "process_request", None))
