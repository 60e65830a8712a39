"""What every adapter does around the core: hooks, handlers and their failures.

Async adapters (asyncio, legacy, trio) share the coroutines here; the sync adapter
has plain-function twins. Nothing here imports an I/O library.
"""

from __future__ import annotations

import http
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader, NegotiationError
from websockets.frames import CloseCode
from websockets.headers import parse_subprotocol
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ._path import RoutedPath
from ._responses import close_code, text_response, to_response

if TYPE_CHECKING:
    from ._router import Route, Router

__all__ = [
    "begin",
    "choose_subprotocol",
    "connection_handler",
    "connection_handler_sync",
    "handle",
    "handle_sync",
    "internal_error",
    "logger",
    "offered_subprotocols",
    "route_handshake",
    "routed_class",
    "run_handler",
    "run_handler_sync",
    "run_hooks",
    "run_hooks_sync",
    "serve_arguments",
]

logger = logging.getLogger("websockets_routes")

T = TypeVar("T")


def internal_error() -> Response:
    """The generic 500 response; details go to the log, never to the client."""
    return text_response(
        http.HTTPStatus.INTERNAL_SERVER_ERROR,
        "Failed to open a WebSocket connection.\nSee server log for more information.\n",
    )


def begin(router: Router, target: str, *, handshake: bool = True) -> RoutedPath | Response:
    """Route a handshake, and create the class view's instance if there is one."""
    result = router.resolve(target, handshake=handshake)
    if isinstance(result, RoutedPath) and result.route.view_class is not None:
        try:
            result.view = result.route.view_class()
        except Exception:
            logger.error("creating the view of route %r failed", result.route.name, exc_info=True)
            return internal_error()
    return result


def _steps(path: RoutedPath) -> tuple[Any, ...]:
    route = path.route
    if route.view_class is not None:
        process_request = getattr(path.view, "process_request", None)
        if process_request is not None:
            return (*route.steps, process_request)
    return route.steps


def _failed(route: Route, step: Any) -> Response:
    name = getattr(step, "__qualname__", repr(step))
    logger.error("%s failed in the handshake of route %r", name, route.name, exc_info=True)
    return internal_error()


def _no_content() -> Response:
    # An HTTP endpoint that returns None answers 204.
    return text_response(http.HTTPStatus.NO_CONTENT, b"")


async def run_hooks(path: RoutedPath, headers: Headers) -> Response | None:
    """Run the hooks (and HTTP endpoint) of ``path``'s route; a response ends them."""
    route, step = path.route, None
    try:
        for step in _steps(path):
            result = step(path, headers)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return to_response(result)
    except Exception:
        return _failed(route, step)
    return _no_content() if route.kind == "http" else None


def run_hooks_sync(path: RoutedPath, headers: Headers) -> Response | None:
    """Like :func:`run_hooks`, for threaded servers: every step is a plain function."""
    route, step = path.route, None
    try:
        for step in _steps(path):
            result = step(path, headers)
            if result is not None:
                return to_response(result)
    except Exception:
        return _failed(route, step)
    return _no_content() if route.kind == "http" else None


async def _close(ws: Any, code: int, reason: str) -> None:
    # trio connections close with aclose(); asyncio and legacy ones with close().
    aclose = getattr(ws, "aclose", None)
    await (ws.close(code, reason) if aclose is None else aclose(code, reason))


async def run_handler(ws: Any, path: RoutedPath) -> None:
    """Run the handler; if it raises, log once with the route and close with 1011.

    A client that goes away is not an error: ConnectionClosed ends the handler
    quietly.
    """
    route = path.route
    # Broadcast finds open connections here: joined now, forgotten when the handler ends.
    connections = route.chain[0].connections
    key = connections.join(ws, path)
    try:
        if route.view_class is None:
            await route.endpoint(ws, path)
        else:
            await path.view.handle(ws, path)
    except ConnectionClosed:
        pass
    except Exception:
        logger.error("handler of route %r failed", route.name, exc_info=True)
        await _close(ws, CloseCode.INTERNAL_ERROR, "internal error")
    finally:
        connections.leave(ws, path, key)
        # join() on an included router keeps the group in that router's registry.
        if len(route.chain) > 1:
            _forget_groups(ws, route.chain)


def _forget_groups(ws: Any, routers: Sequence[Router]) -> None:
    # Only registries where some connection joined a group hold anything to drop.
    for router in routers:
        if router.connections.memberships:
            router.connections.forget(ws)


def run_handler_sync(ws: Any, path: RoutedPath) -> None:
    """Like :func:`run_handler`, for threaded servers.

    The connection isn't tracked by route (broadcast doesn't deliver to threaded
    connections, and the registry isn't thread-safe), but the groups its handler
    joined are forgotten when the handler ends.
    """
    route = path.route
    try:
        if route.view_class is None:
            route.endpoint(ws, path)
        else:
            path.view.handle(ws, path)
    except ConnectionClosed:
        pass
    except Exception:
        logger.error("handler of route %r failed", route.name, exc_info=True)
        ws.close(CloseCode.INTERNAL_ERROR, "internal error")
    finally:
        _forget_groups(ws, route.chain)


def _refusal(result: RoutedPath | Response) -> tuple[int, str] | None:
    """The close code and reason for plain-handler mode, or None to go on."""
    if isinstance(result, Response):
        return close_code(result), result.reason_phrase
    if result.route.kind == "http":
        return 4040, "Not Found"
    return None


async def handle(router: Router, ws: Any, target: str, headers: Headers) -> None:
    """The router as a plain handler: route after the handshake, close on refusal."""
    result = begin(router, target, handshake=False)
    refusal = _refusal(result)
    if refusal is None:
        assert isinstance(result, RoutedPath)
        response = await run_hooks(result, headers) if result.route.has_hooks else None
        if response is None:
            await run_handler(ws, result)
            return
        refusal = close_code(response), response.reason_phrase
    await _close(ws, *refusal)


def handle_sync(router: Router, ws: Any, target: str, headers: Headers) -> None:
    """Like :func:`handle`, for threaded servers."""
    result = begin(router, target, handshake=False)
    refusal = _refusal(result)
    if refusal is None:
        assert isinstance(result, RoutedPath)
        response = run_hooks_sync(result, headers) if result.route.has_hooks else None
        if response is None:
            run_handler_sync(ws, result)
            return
        refusal = close_code(response), response.reason_phrase
    ws.close(*refusal)


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


_routed_classes: dict[tuple[type[Any], type[Any]], type[Any]] = {}


def routed_class(base: type[Any], routed: type[T]) -> type[T]:
    """A subclass of both the user's connection class ``base`` and ours, ``routed``.

    Made once per pair, so that ``create_connection`` (or ``create_protocol``)
    keeps working: the user's methods come first, ours supply the route.
    """
    if issubclass(base, routed):
        return base
    if issubclass(routed, base):
        return routed
    cls = _routed_classes.get((base, routed))
    if cls is None:
        cls = type(base.__name__, (base, routed), {"__module__": base.__module__})
        _routed_classes[(base, routed)] = cls
    return cast(type[T], cls)


# What the asyncio, sync and trio adapters pass to websockets' serve(). Their
# connections carry the RoutedPath of the handshake as `routed_path`.


def offered_subprotocols(headers: Headers) -> list[str] | None:
    """The subprotocols a handshake request offers; None if the header is malformed."""
    try:
        return [
            p
            for value in headers.get_all("Sec-WebSocket-Protocol")
            for p in parse_subprotocol(value)
        ]
    except InvalidHeader:
        return None  # malformed: websockets answers it with its own 400


def route_handshake(router: Router, target: str, headers: Headers) -> RoutedPath | Response:
    """:func:`begin`, and HTTP 400 when a route's subprotocols aren't offered.

    Refusing here, before websockets negotiates, gives the same response and no
    error log on every websockets version.
    """
    result = begin(router, target)
    if isinstance(result, RoutedPath) and result.route.subprotocols is not None:
        offered = offered_subprotocols(headers)
        if offered is not None and not any(p in offered for p in result.route.subprotocols):
            return text_response(
                http.HTTPStatus.BAD_REQUEST,
                f"Failed to open a WebSocket connection: {_no_common_subprotocol(result.route)}.\n",
            )
    return result


def serve_arguments(
    router: Router,
    kwargs: dict[str, Any],
    routed: type[Any],
    default: type[Any],
    *,
    asynchronous: bool,
) -> dict[str, Any]:
    """The keyword arguments for websockets' ``serve()``, the user's chained in.

    The user's ``process_request`` runs first and routing runs if it lets the
    request through; the user's ``create_connection`` is combined with
    ``routed``; a ``select_subprotocol`` of ours is installed only where a route
    declares subprotocols, so other servers keep websockets' own negotiation.
    """
    user_process_request = kwargs.pop("process_request", None)
    user_select_subprotocol = kwargs.pop("select_subprotocol", None)
    connection_class = routed_class(kwargs.pop("create_connection", None) or default, routed)

    def route_request(connection: Any, request: Request) -> Any:
        result = route_handshake(router, request.path, request.headers)
        if isinstance(result, Response):
            return result
        connection.routed_path = result
        # Without hooks the handshake is routed without creating a coroutine.
        if result.route.has_hooks:
            return (
                run_hooks(result, request.headers)
                if asynchronous
                else run_hooks_sync(result, request.headers)
            )
        return None

    async def route_after(response: Any, connection: Any, request: Request) -> Response | None:
        response = await response
        if response is not None:
            return cast(Response, response)
        routed = route_request(connection, request)
        return cast(Response | None, await routed if inspect.isawaitable(routed) else routed)

    def process_request(connection: Any, request: Request) -> Any:
        assert user_process_request is not None
        response = user_process_request(connection, request)
        if inspect.isawaitable(response):
            return route_after(response, connection, request)
        if response is not None:
            return response
        return route_request(connection, request)

    def select_subprotocol(connection: Any, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        path = connection.routed_path
        if path is not None and path.route.subprotocols is not None:
            return choose_subprotocol(path.route, offered)
        if user_select_subprotocol is not None:
            return cast(Subprotocol | None, user_select_subprotocol(connection, offered))
        return ServerProtocol.select_subprotocol(connection.protocol, offered)

    arguments = {
        **kwargs,
        "process_request": route_request if user_process_request is None else process_request,
        "create_connection": connection_class,
    }
    if any(route.subprotocols is not None for route in router.routes):
        arguments["select_subprotocol"] = select_subprotocol
    elif user_select_subprotocol is not None:
        arguments["select_subprotocol"] = user_select_subprotocol
    return arguments


def connection_handler(router: Router) -> Callable[[Any], Awaitable[None]]:
    """The handler for websockets' asyncio or trio ``serve()``.

    A plain function returning :func:`run_handler`'s coroutine, so that only that
    one coroutine of ours, not a second, runs beside the user's handler.
    """

    def handler(connection: Any) -> Awaitable[None]:
        path = connection.routed_path
        if path is None:
            # The user's process_request completed the handshake by itself.
            request = connection.request
            return handle(router, connection, request.path, request.headers)
        return run_handler(connection, path)

    return handler


def connection_handler_sync(router: Router) -> Callable[[Any], None]:
    """Like :func:`connection_handler`, for websockets' threaded ``serve()``."""

    def handler(connection: Any) -> None:
        path = connection.routed_path
        if path is None:
            request = connection.request
            handle_sync(router, connection, request.path, request.headers)
        else:
            run_handler_sync(connection, path)

    return handler
