"""The send policy: how much may wait for one connection, and what happens beyond."""

from __future__ import annotations

import dataclasses
from typing import Literal

__all__ = ["SLOW_CONSUMER", "DeliveryStats", "SendPolicy"]

#: The close code a connection gets when it is closed as a slow consumer: 1008,
#: policy violation, with the reason "slow consumer".
SLOW_CONSUMER = (1008, "slow consumer")


@dataclasses.dataclass(frozen=True, slots=True)
class SendPolicy:
    """What the library does for a connection that doesn't keep up with what it's sent.

    It applies to everything sent on your behalf: route and group broadcasts,
    :meth:`Router.send <websockets_routes.Router.send>`, and a message router's
    :meth:`~websockets_routes.messages.MessageRouter.send`. What a handler sends
    with ``await ws.send(...)`` waits for the connection instead, as usual.

    Give one to ``Router(send_policy=...)`` for its routes, or to
    ``@router.route(..., send_policy=...)`` for one route.

    Args:
        max_buffer: Bytes that may wait to be written to one connection; a
            message that would go over is the mark of a slow consumer. About
            1 MiB by default. The kernel's socket buffer comes on top of it.
        on_slow: ``"close"`` (the default) closes a slow consumer with code
            1008 and reason "slow consumer", then aborts its TCP connection
            after ``close_grace`` seconds if the close frame couldn't get
            through, which releases its buffers; ``"drop"`` drops the message
            for that connection and keeps it open.
        close_grace: Seconds a slow consumer closed with ``"close"`` gets to
            take the close frame before its connection is aborted.

    Raises:
        ValueError: If ``max_buffer`` or ``close_grace`` isn't positive, or
            ``on_slow`` is neither ``"close"`` nor ``"drop"``.
    """

    max_buffer: int = 1 << 20
    on_slow: Literal["close", "drop"] = "close"
    close_grace: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.max_buffer, bool) or not isinstance(self.max_buffer, int):
            raise ValueError(f"max_buffer must be an int of bytes, not {self.max_buffer!r}")
        if self.max_buffer <= 0:
            raise ValueError(f"max_buffer must be positive, not {self.max_buffer}")
        if self.on_slow not in ("close", "drop"):
            raise ValueError(f"on_slow must be 'close' or 'drop', not {self.on_slow!r}")
        if not self.close_grace > 0:
            raise ValueError(f"close_grace must be a positive number, not {self.close_grace!r}")


@dataclasses.dataclass(slots=True)
class DeliveryStats:
    """Counters of what the send policy did, for metrics: read them, export them.

    Attributes:
        closed: Connections closed as slow consumers.
        dropped: Messages dropped for a slow consumer (``on_slow="drop"``), or
            for a connection that was sending a fragmented message.
        dropped_bytes: The size of the frames counted in ``dropped``.
    """

    closed: int = 0
    dropped: int = 0
    dropped_bytes: int = 0
