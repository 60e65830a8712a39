"""What only the legacy adapter has: 0.2's Protocol subclasses and create_protocol."""

from __future__ import annotations

from typing import Any

import pytest

from websockets_routes import RoutedPath, Router

from .helpers import Adapter, conversation, import_legacy, rejection


@pytest.fixture
def legacy() -> Adapter:
    """The legacy adapter, with websockets.legacy imported without its warning."""
    import_legacy()
    return Adapter("legacy")


def make_router() -> Router:
    """A router whose one route sends the thing's id back."""
    router = Router()

    @router.route("/thing/{id:int}")
    async def thing(ws: Any, path: RoutedPath) -> None:
        await ws.send(str(path.params["id"]))

    return router


def test_subclass_overriding_process_request(legacy: Adapter) -> None:
    """A Protocol subclass that overrides process_request routes when it calls super()."""
    import websockets_routes

    class MyProtocol(websockets_routes.Protocol):
        async def process_request(self, path: str, request_headers: Any) -> Any:
            if request_headers.get("Authorization") != "Bearer ok":
                return (401, [("WWW-Authenticate", "Bearer")], b"who are you?\n")
            return await super().process_request(path, request_headers)

    with legacy.serve(make_router(), create_protocol=MyProtocol) as running:
        assert rejection(running.port, "/thing/1") == (401, b"who are you?\n")
        headers = {"Authorization": "Bearer ok"}
        assert rejection(running.port, "/nothing", additional_headers=headers)[0] == 404


def test_serve_combines_create_protocol(legacy: Adapter) -> None:
    """websockets_routes.legacy.serve routes with a create_protocol that isn't a Protocol."""
    from websockets.legacy.server import WebSocketServerProtocol

    seen: list[str] = []

    class Recording(WebSocketServerProtocol):
        async def process_request(self, path: str, request_headers: Any) -> Any:
            seen.append(path)
            return await super().process_request(path, request_headers)

    with legacy.serve(make_router(), create_protocol=Recording, helper=True) as running:
        assert conversation(running.port, "/thing/7") == (["7"], 1000)
        assert rejection(running.port, "/nothing")[0] == 404
    assert seen == ["/thing/7", "/nothing"]
