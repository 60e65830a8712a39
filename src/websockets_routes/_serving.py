"""What every adapter does around the handshake decision: hooks, handlers, failures.

Async adapters (asyncio, legacy, trio) share the coroutines here; the sync adapter
has plain-function twins. Nothing here imports an I/O library.
"""

from __future__ import annotations

import http
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ._handshake import choose_subprotocol, decide, internal_error, logger
from ._path import RoutedPath
from ._responses import close_code, text_response, to_response, without_body
from ._route import view_hook

if TYPE_CHECKING:
    from ._route import Route
    from ._router import Router

__all__ = [
    "check_handlers",
    "connection_handler",
    "connection_handler_sync",
    "handle",
    "handle_sync",
    "routed_class",
    "run_handler",
    "run_handler_sync",
    "run_hooks",
    "run_hooks_sync",
    "serve_arguments",
]

T = TypeVar("T")


def check_handlers(router: Router, *, asynchronous: bool) -> None:
    """Check that handlers suit a server: coroutine functions, or plain functions.

    Raises:
        TypeError: If a handler, a class view's ``handle`` or a hook doesn't fit
            (only hooks of sync servers must be plain functions).
    """
    if not asynchronous:
        for route in router.routes:
            if route.options.get("history") is not None:
                raise TypeError(
                    f"route {route.name!r} ({route.pattern}) keeps history, which needs an "
                    f"asyncio or trio server, not a threaded one"
                )
        for listener in [*router._registry.on_join, *router._registry.on_leave]:
            if _is_async(listener):
                raise TypeError(
                    f"presence listener {getattr(listener, '__qualname__', listener)!r} must "
                    f"be a plain function (def, not async def) on a threaded server"
                )
    for route in router.routes:
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
            if route.view_class is not None and view_hook(route.view_class):
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


def _is_async(target: Any) -> bool:
    # A callable object counts by its __call__, as a message router does.
    return inspect.iscoroutinefunction(target) or (
        not inspect.isroutine(target)
        and inspect.iscoroutinefunction(getattr(target, "__call__", None))  # noqa: B004
    )


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


def _answer(path: RoutedPath, result: Any) -> Response:
    response = to_response(result)
    # HEAD gets what GET would, without the body.
    return without_body(response) if path.method == "HEAD" else response


async def run_hooks(path: RoutedPath, headers: Headers) -> Response | None:
    """Run the hooks (and HTTP endpoint) of ``path``'s route; a response ends them."""
    route, step = path.route, None
    try:
        for step in _steps(path):
            result = step(path, headers)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return _answer(path, result)
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
                return _answer(path, result)
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
    # This coroutine lives as long as the connection: three locals keep it small
    # (240 bytes on CPython 3.11); what not every connection does is in helpers.
    # Broadcast and presence find open connections in the registry of the router
    # being served: tracked now, forgotten when the handler ends.
    registry = path.router._registry
    # Registry.track(), inlined for connections that nobody listens for.
    if registry.eager:
        registry.track(ws, path)
    else:
        registry.waiting[ws] = path
    try:
        if path.route.options:
            await _before_handler(ws, path)
        if path.route.view_class is None:
            await path.route.endpoint(ws, path)
        else:
            await path.view.handle(ws, path)
    except ConnectionClosed:
        pass
    except Exception:
        await _handler_failed(ws, path)
    finally:
        if registry.waiting.pop(ws, None) is None:
            registry.untrack(ws)


async def _before_handler(ws: Any, path: RoutedPath) -> None:
    # Route options that act before the handler: a history's catch-up.
    history = path.route.options.get("history")
    if history is not None:
        member = path.router._registry.member(ws)
        assert member is not None
        await path.router._catch_up(member, history)


async def _handler_failed(ws: Any, path: RoutedPath) -> None:
    # Called in the except block: exc_info is the handler's exception.
    logger.error("handler of route %r failed", path.route.name, exc_info=True)
    await _close(ws, CloseCode.INTERNAL_ERROR, "internal error")


def run_handler_sync(ws: Any, path: RoutedPath) -> None:
    """Like :func:`run_handler`, for threaded servers."""
    route = path.route
    registry = path.router._registry
    registry.track(ws, path)
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
        if registry.waiting.pop(ws, None) is None:
            registry.untrack(ws)


async def handle(router: Router, ws: Any, target: str, headers: Headers) -> None:
    """The router as a plain handler: route after the handshake, close on refusal."""
    router._served = True
    result = decide(router, target, headers, handshake=False)
    if isinstance(result, RoutedPath):
        result.client = ws.remote_address
        response = await run_hooks(result, headers) if result.route.runs_user_code else None
        if response is None:
            await run_handler(ws, result)
            return
        result = response
    await _close(ws, close_code(result), result.reason_phrase)


def handle_sync(router: Router, ws: Any, target: str, headers: Headers) -> None:
    """Like :func:`handle`, for threaded servers."""
    router._served = True
    result = decide(router, target, headers, handshake=False)
    if isinstance(result, RoutedPath):
        result.client = ws.remote_address
        response = run_hooks_sync(result, headers) if result.route.runs_user_code else None
        if response is None:
            run_handler_sync(ws, result)
            return
        result = response
    ws.close(close_code(result), result.reason_phrase)


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
    router._served = True
    user_process_request = kwargs.pop("process_request", None)
    user_select_subprotocol = kwargs.pop("select_subprotocol", None)
    connection_class = routed_class(kwargs.pop("create_connection", None) or default, routed)

    def route_request(connection: Any, request: Request) -> Any:
        # websockets < 17.0 parses GET requests only, and has no Request.method.
        method = getattr(request, "method", "GET")
        result = decide(router, request.path, request.headers, method=method)
        if isinstance(result, Response):
            return result
        connection.routed_path = result
        result.client = connection.remote_address
        # Without code of the user's to run, no coroutine is created.
        if result.route.runs_user_code:
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
