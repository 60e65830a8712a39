"""Handshake routing on websockets' trio API (:mod:`websockets.trio.server`).

It needs trio and websockets >= 17.0: ``pip install 'websockets-routes[trio]>=1.0'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import trio
    from websockets.trio.server import ServerConnection
    from websockets.trio.server import serve as websockets_serve
except ImportError as exc:  # trio, or websockets.trio (websockets < 17.0), is missing.
    raise ImportError(
        f"websockets_routes.trio needs trio and websockets >= 17.0 ({exc}); "
        f"install them with: pip install 'websockets-routes[trio]>=1.0'"
    ) from exc

from ._path import RoutedPath
from ._serving import connection_handler, serve_arguments

if TYPE_CHECKING:
    from ._router import Router

__all__ = ["RoutedConnection", "serve"]


class RoutedConnection(ServerConnection):
    """A :class:`~websockets.trio.server.ServerConnection` that keeps its route.

    :func:`serve` makes connections of this class, or of a subclass of both this
    class and the ``create_connection`` you pass.
    """

    #: What routing found during the handshake; None until then.
    routed_path: RoutedPath | None = None


async def serve(router: Router, port: int | None = None, **kwargs: Any) -> None:
    """Serve ``router`` with :func:`websockets.trio.server.serve`.

    It takes the same arguments, with the router in place of the handler; start
    it in a nursery to get the :class:`~websockets.trio.server.Server`::

        async with trio.open_nursery() as nursery:
            serve = functools.partial(websockets_routes.trio.serve, router, 8765)
            server = await nursery.start(serve)

    Otherwise it is :meth:`Router.serve <websockets_routes.Router.serve>` for
    trio: the router's startup runs before listening, its shutdown once the
    server closed and its last handler returned, before this returns (even
    when cancelled).

    Raises:
        TypeError: If a handler or view ``handle`` is not a coroutine function.
        StartupError: If the router's startup failed; nothing listens then.
    """
    router.check_handlers(asynchronous=True)
    arguments = serve_arguments(
        router, kwargs, RoutedConnection, ServerConnection, asynchronous=True
    )
    lifespan = router.lifespan()
    await lifespan.__aenter__()
    try:
        await websockets_serve(connection_handler(router), port, **arguments)
    finally:
        # Cancelled or not, the shutdown runs to its end.
        with trio.CancelScope(shield=True):
            await lifespan.__aexit__(None, None, None)
