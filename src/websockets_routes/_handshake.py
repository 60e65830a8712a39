"""The handshake decision: a request in, the route to go on with or the response out.

Like websockets' ``ServerProtocol.accept``, this is one sans-I/O function that
every adapter calls; the adapters then run the route's hooks, if it has any,
and its handler.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader, NegotiationError
from websockets.headers import parse_subprotocol
from websockets.http11 import Response
from websockets.typing import Subprotocol

from ._path import RoutedPath
from ._responses import text_response, without_body
from .exceptions import BadRequest

if TYPE_CHECKING:
    from ._route import Route
    from ._routes import RouteTable

__all__ = [
    "choose_subprotocol",
    "decide",
    "internal_error",
    "logger",
    "offered_subprotocols",
]

logger = logging.getLogger("websockets_routes")


def decide(
    router: RouteTable,
    target: str,
    headers: Headers,
    *,
    handshake: bool = True,
    method: str = "GET",
) -> RoutedPath | Response:
    """Decide a request: the :class:`RoutedPath` to go on with, or the response.

    The response is what :meth:`~websockets_routes.Router.resolve` answers (400,
    404, a 308 redirect), 405 with ``Allow`` for a method the route doesn't
    answer, HTTP 500 when a class view can't be created, or HTTP 400 when the
    route requires a subprotocol that the client doesn't offer. On the way, a
    class view's instance is created as ``path.view``.

    Where an HTTP endpoint and a WebSocket route share a pattern, a request with
    ``Upgrade: websocket`` goes to the WebSocket route, the others to the
    endpoint. A ``HEAD`` request gets the responses decided here without a body.

    A router with host patterns reads the ``Host`` header: missing, repeated or
    malformed, the request gets :meth:`~websockets_routes.Router.bad_request`.
    Other routers never read it.

    With ``handshake=False`` the router is a plain handler deciding after the
    handshake: no redirect, no subprotocol check (websockets negotiated already),
    and an HTTP endpoint is not found, since the client wants a WebSocket.
    """
    result: RoutedPath | Response
    if router.host_routing:
        # Only a router with host patterns reads Host (DESIGN.md, rule 8).
        hosts = headers.get_all("Host")
        if len(hosts) != 1:
            result = router.bad_request(BadRequest("the request needs exactly one Host header"))
        else:
            result = router.resolve(target, handshake=handshake, host=hosts[0])
    else:
        result = router.resolve(target, handshake=handshake)
    if isinstance(result, Response):
        return without_body(result) if method == "HEAD" else result
    route = result.route
    if not handshake:
        if route.kind == "http":
            return router.not_found(target)
    else:
        if route.twin is not None and not _upgrade(headers):
            route = result.route = route.twin
        if route.methods is not None:
            if method not in route.methods:
                return _refuse_method(router, target, route.methods, method)
            if method != "GET":
                result.method = method
        elif method != "GET":
            # websockets would answer 405 too, but after the route's hooks.
            twin = route.twin.methods or () if route.twin is not None else ()
            allowed = tuple(dict.fromkeys(("GET", *twin)))
            return _refuse_method(router, target, allowed, method)
    if route.view_class is not None:
        try:
            result.view = route.view_class()
        except Exception:
            logger.error("creating the view of route %r failed", route.name, exc_info=True)
            return internal_error()
    if handshake and route.subprotocols is not None:
        offered = offered_subprotocols(headers)
        # A malformed header is websockets' to refuse, with its own 400.
        if offered is not None and not any(p in offered for p in route.subprotocols):
            return text_response(
                http.HTTPStatus.BAD_REQUEST,
                f"Failed to open a WebSocket connection: {_no_common_subprotocol(route)}.\n",
            )
    return result


def _refuse_method(
    router: RouteTable, target: str, allowed: tuple[str, ...], method: str
) -> Response:
    response = router.method_not_allowed(target, allowed)
    return without_body(response) if method == "HEAD" else response


def _upgrade(headers: Headers) -> bool:
    """Whether the request asks for a WebSocket: ``Upgrade: websocket``, in any case."""
    return any(
        token.strip().lower() == "websocket"
        for value in headers.get_all("Upgrade")
        for token in value.split(",")
    )


def internal_error() -> Response:
    """The generic 500 response; details go to the log, never to the client."""
    return text_response(
        http.HTTPStatus.INTERNAL_SERVER_ERROR,
        "Failed to open a WebSocket connection.\nSee server log for more information.\n",
    )


def offered_subprotocols(headers: Headers) -> list[str] | None:
    """The subprotocols a handshake request offers; None if the header is malformed."""
    try:
        return [
            p
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for p in parse_subprotocol(value)
        ]
    except InvalidHeader:
        return None


def choose_subprotocol(route: Route, offered: Sequence[str]) -> Subprotocol:
    """The first of ``route``'s subprotocols that the client offers.

    Raises:
        NegotiationError: If the client offers none of them; websockets answers
            the handshake with HTTP 400.
    """
    assert route.subprotocols is not None
    for subprotocol in route.subprotocols:
        if subprotocol in offered:
            return Subprotocol(subprotocol)
    raise NegotiationError(_no_common_subprotocol(route))


def _no_common_subprotocol(route: Route) -> str:
    assert route.subprotocols is not None
    return f"no subprotocol in common; {route.pattern} supports {', '.join(route.subprotocols)}"
