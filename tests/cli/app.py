"""A small app for the CLI tests: ``tests.cli.app:router``.

Routes:
    /pid              sends the worker's PID, then echoes until the client leaves
    /echo             echoes every message
    /loop             sends the module of the event loop's class ("uvloop", "asyncio")
    /rooms/{room}     says which room, with a handshake hook that refuses "locked"
    /fail             a handler that raises: close 1011
    /secure           a class view negotiating the "chat.v1" subprotocol
    /healthz          a plain HTTP health check
"""

from __future__ import annotations

import asyncio
import http
import os
from typing import Any

from websockets.datastructures import Headers

from websockets_routes import RoutedPath, Router

router = Router()
not_a_router = 42


def no_locked_rooms(path: RoutedPath, headers: Headers) -> Any:
    """Refuse the handshake of the room called "locked"."""
    if path.params.get("room") == "locked":
        return (http.HTTPStatus.FORBIDDEN, [], "locked\n")
    return None


@router.route("/pid")
async def pid(ws: Any, path: RoutedPath) -> None:
    """Send this process's PID, then echo."""
    await ws.send(str(os.getpid()))
    async for message in ws:
        await ws.send(message)


@router.route("/echo")
async def echo(ws: Any, path: RoutedPath) -> None:
    """Echo every message."""
    async for message in ws:
        await ws.send(message)


@router.route("/loop")
async def loop(ws: Any, path: RoutedPath) -> None:
    """Say which event loop serves: the top package of its class's module."""
    await ws.send(type(asyncio.get_running_loop()).__module__.partition(".")[0])


@router.route("/rooms/{room}", hooks=[no_locked_rooms])
async def room(ws: Any, path: RoutedPath) -> None:
    """Say which room this is."""
    await ws.send(f"room {path.params['room']}")
    async for _ in ws:
        pass


@router.route("/fail")
async def fail(ws: Any, path: RoutedPath) -> None:
    """Fail, so that the connection closes with 1011."""
    raise RuntimeError("this handler always fails")


@router.route("/secure", subprotocols=["chat.v1"])
class Secure:
    """A class view with a handshake check and a subprotocol."""

    def process_request(self, path: RoutedPath, headers: Headers) -> Any:
        return None

    async def handle(self, ws: Any, path: RoutedPath) -> None:
        await ws.send(ws.subprotocol)


@router.http("/healthz")
def healthz(path: RoutedPath, headers: Headers) -> str:
    """Answer health checks."""
    return "ok\n"


class Nested:
    """Holds the router one attribute deeper, for dotted references."""

    router = router
