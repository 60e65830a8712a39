"""What a broadcast backend does, and the one way to show its URL in logs."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["BroadcastBackend", "HistoryStore", "PresenceStore", "redact_url"]


class BroadcastBackend(abc.ABC):
    """Carries broadcast frames between processes, on channels.

    A backend moves opaque ``bytes`` on named channels; the
    :class:`~websockets_routes.broadcast.Broadcaster` names the channels (one per
    room, route and group), encodes and delivers. A process subscribes to the
    channels of the rooms it hosts only, so it receives only their traffic.
    :meth:`publish` must neither block nor raise: delivery across processes is at
    most once.
    """

    #: False for a backend that reaches this process only.
    remote: bool = True
    #: Where broadcasts to routes with history are kept, or None.
    history: HistoryStore | None = None
    #: Where members of rooms are known across processes, or None.
    presence: PresenceStore | None = None

    @abc.abstractmethod
    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Begin receiving: call ``receive(frame)`` for frames of other processes.

        Return when ready, or when it's clear that readiness will take a while;
        keep trying in the background then.
        """

    @abc.abstractmethod
    def publish(self, channel: str, frame: bytes) -> None:
        """Send ``frame`` on ``channel`` to the other processes, or drop it; never raise."""

    async def publish_wait(self, channel: str, frame: bytes) -> None:
        """Like :meth:`publish`, returning once the frame is on its way.

        Raises:
            ConnectionError: If it couldn't be sent.
        """
        self.publish(channel, frame)

    def subscribe(self, channels: Iterable[str]) -> None:  # noqa: B027 - optional
        """Receive what is published on ``channels`` too, from now on (or soon).

        A backend that receives every channel anyway needn't override it.
        """

    def unsubscribe(self, channels: Iterable[str]) -> None:  # noqa: B027 - optional
        """Stop receiving what is published on ``channels``."""

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until every channel asked for is subscribed; False after ``timeout``."""
        return True

    @abc.abstractmethod
    async def aclose(self, timeout: float = 5.0) -> int:
        """Send what waits, for at most ``timeout`` seconds, then stop.

        Returns:
            How many frames couldn't be sent.
        """


class HistoryStore(abc.ABC):
    """Keeps the last messages of each room, so that a client that reconnects catches up."""

    @abc.abstractmethod
    async def append(self, key: str, payload: bytes, size: int) -> str:
        """Keep ``payload`` under ``key``, at most ``size`` of them; return its offset."""

    @abc.abstractmethod
    async def since(self, key: str, offset: str) -> list[tuple[str, bytes]] | None:
        """What was kept under ``key`` after ``offset``, in order; None if it's gone.

        None means that messages after ``offset`` were dropped (the history is
        bounded) or that the offset isn't one this store gave out.
        """

    @abc.abstractmethod
    def order(self, offset: str) -> Any:
        """A key that sorts offsets in the order they were given out.

        Raises:
            ValueError: If ``offset`` isn't an offset of this store.
        """


class PresenceStore(abc.ABC):
    """Who is in each room, across processes."""

    @abc.abstractmethod
    def put(self, key: str, entries: list[dict[str, Any]]) -> None:
        """Say that this process's members in room ``key`` are ``entries`` now."""

    @abc.abstractmethod
    async def get(self, key: str) -> list[dict[str, Any]]:
        """The members of room ``key`` in every live process."""


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, fit for logs; never raises.

    The password may itself contain "/" or "@": the host follows the last "@".
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, address = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{address}"
