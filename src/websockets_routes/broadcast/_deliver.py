"""Delivery in this process: one message to many connections, without waiting."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Message", "deliver", "logger"]

logger = logging.getLogger("websockets_routes.broadcast")

Message = str | bytes
Sender = Callable[[Sequence[Any], Message], None]

_warned: set[type[Any]] = set()


def deliver(connections: Sequence[Any], message: Message) -> None:
    """Send ``message`` to ``connections`` of this process with websockets' ``broadcast()``.

    Like it, this never waits for a connection: a connection that isn't open is
    skipped, and a slow one buffers the message; a failed write is logged as a
    warning and skipped.
    """
    if not connections:
        return
    first = type(connections[0])
    if all(type(ws) is first for ws in connections):
        _sender(first)(connections, message)
        return
    by_sender: dict[Sender, list[Any]] = {}
    for ws in connections:
        by_sender.setdefault(_sender(type(ws)), []).append(ws)
    for send, some in by_sender.items():
        send(some, message)


def _sender(cls: type[Any]) -> Sender:
    # A connection's API is loaded if it has connections: look only where one is.
    asyncio_api = sys.modules.get("websockets.asyncio.connection")
    if asyncio_api is not None and issubclass(cls, asyncio_api.Connection):
        return asyncio_api.broadcast  # type: ignore[no-any-return]
    legacy = sys.modules.get("websockets.legacy.protocol")
    if legacy is not None and issubclass(cls, legacy.WebSocketCommonProtocol):
        return legacy.broadcast  # type: ignore[no-any-return]
    return _unsupported


def _unsupported(connections: Sequence[Any], message: Message) -> None:
    cls = type(connections[0])
    if cls not in _warned:
        _warned.add(cls)
        logger.warning("broadcast skips %s connections: only asyncio and legacy ones", cls.__name__)
