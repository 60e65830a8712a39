"""What a broadcast backend does, and the one way to show its URL in logs."""

from __future__ import annotations

import abc
from collections.abc import Callable

__all__ = ["BroadcastBackend", "redact_url"]


class BroadcastBackend(abc.ABC):
    """Carries broadcast frames to the other processes, and theirs to this one.

    A backend moves opaque ``bytes``; the
    :class:`~websockets_routes.broadcast.Broadcaster` encodes and delivers.
    :meth:`publish` must neither block nor raise: delivery across processes is
    at most once.
    """

    #: False for a backend that reaches this process only.
    remote: bool = True

    @abc.abstractmethod
    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Begin receiving: call ``receive(frame)`` for frames of other processes.

        Return when ready, or when it's clear that readiness will take a while;
        keep trying in the background then.
        """

    @abc.abstractmethod
    def publish(self, frame: bytes) -> None:
        """Send ``frame`` to the other processes, or drop it; never raise."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop receiving and release connections."""


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, fit for logs; never raises.

    The password may itself contain "/" or "@": the host follows the last "@".
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, address = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{address}"
