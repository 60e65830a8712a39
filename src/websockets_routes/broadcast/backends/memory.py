"""The in-process backend: every connection is in this process."""

from __future__ import annotations

from collections.abc import Callable

from .base import BroadcastBackend

__all__ = ["MemoryBackend"]


class MemoryBackend(BroadcastBackend):
    """The default: every connection is in this process, so there is nothing to carry."""

    remote = False

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Nothing to start."""

    def publish(self, frame: bytes) -> None:
        """Nothing to publish: the broadcaster delivered locally already."""

    async def aclose(self) -> None:
        """Nothing to close."""
