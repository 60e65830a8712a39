"""Broadcast: send one message to every connection on a route, or in a group, in every process.

Connections are found by the route they matched and its parameters (tracked by the
router while their handler runs) or by the groups they joined. Delivery in this
process uses websockets' own ``broadcast()``; a backend such as Redis carries the
message to the other processes, which deliver it to their own connections::

    router.use_broadcast("redis://127.0.0.1:6379/0")  # optional: in-process by default

    @router.route("/rooms/{room}")
    async def room(ws, path):
        async for message in ws:
            await router.broadcast("room", message, room=path.params["room"])

See ``docs/howto/broadcast.md`` for how to use it and ``docs/topics/scaling.md``
for delivery semantics and scaling out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._broadcaster import Broadcaster, BroadcastError, History, Publisher
from ._fanout import deliver, logger
from ._policy import SLOW_CONSUMER, DeliveryStats, SendPolicy
from ._registry import Listener, Member, Registry, RemoteMember, Topic
from .backends import BroadcastBackend, MemoryBackend, backend_from_url, redact_url

if TYPE_CHECKING:
    from .backends.redis import RedisBackend as RedisBackend

__all__ = [
    "SLOW_CONSUMER",
    "BroadcastBackend",
    "BroadcastError",
    "Broadcaster",
    "DeliveryStats",
    "History",
    "Listener",
    "Member",
    "MemoryBackend",
    "Publisher",
    "RedisBackend",
    "Registry",
    "RemoteMember",
    "SendPolicy",
    "Topic",
    "backend_from_url",
    "deliver",
    "logger",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    # RedisBackend needs the optional redis package: import it on first use.
    if name == "RedisBackend":
        from . import backends

        return backends.RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
