"""``path.client``: hooks and handlers see the client's address on every adapter."""

from __future__ import annotations

from typing import Any

from websockets_routes import RoutedPath, Router

from .helpers import TIMEOUT, Adapter, client


def test_hooks_and_handlers_see_the_client_address(adapter: Adapter, plain: bool) -> None:
    """The hook and the handler read the client's (host, port) on path.client."""
    seen: list[Any] = []

    def remember(path: RoutedPath, headers: Any) -> None:
        seen.append(path.client)

    router = Router()
    router.route("/where", name="where", hooks=[adapter.hook(remember)])(
        adapter.handler(lambda path: [f"{path.client[0]}:{path.client[1]}"])
    )
    with adapter.serve(router, plain=plain) as running, client(running.port, "/where") as ws:
        told = ws.recv(timeout=TIMEOUT)
        # The handler has returned: the client's socket may be closed already.
    [address] = seen
    host, port = address[:2]
    assert told == f"{host}:{port}"
    assert host == "127.0.0.1"
    assert port != running.port


def test_paths_routed_without_a_connection_have_no_client() -> None:
    """Router.match() knows no client: path.client is None."""
    router = Router()
    router.route("/where")(lambda ws, path: None)
    path = router.match("/where")
    assert path is not None
    assert path.client is None
