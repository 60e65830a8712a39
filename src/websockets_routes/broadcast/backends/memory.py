"""The in-process backend: every connection is in this process."""

from __future__ import annotations

import collections
from collections.abc import Callable

from .base import BroadcastBackend, HistoryStore

__all__ = ["MemoryBackend", "MemoryHistory"]


class MemoryHistory(HistoryStore):
    """The last messages of each room, in this process: offsets count up from 1 per room."""

    def __init__(self) -> None:
        # key -> (the messages kept, the offset of the last one given out)
        self._rooms: dict[str, tuple[collections.deque[tuple[int, bytes]], list[int]]] = {}

    async def append(self, key: str, payload: bytes, size: int) -> str:
        """Keep ``payload``, forgetting the oldest beyond ``size``; return its offset."""
        room = self._rooms.get(key)
        if room is None or room[0].maxlen != size:
            kept = collections.deque(room[0] if room else (), maxlen=size)
            room = self._rooms[key] = (kept, room[1] if room else [0])
        kept, last = room
        last[0] += 1
        kept.append((last[0], payload))
        return str(last[0])

    async def since(self, key: str, offset: str) -> list[tuple[str, bytes]] | None:
        """What came after ``offset``; None if some of it was forgotten."""
        after = self.order(offset)
        kept, last = self._rooms.get(key, (collections.deque(), [0]))
        if after > last[0]:
            return None  # An offset this room never gave out (a restarted server).
        if kept and kept[0][0] > after + 1:
            return None  # What came right after it was forgotten.
        return [(str(number), payload) for number, payload in kept if number > after]

    def order(self, offset: str) -> int:
        """The number behind ``offset``.

        Raises:
            ValueError: If ``offset`` isn't a non-negative integer.
        """
        if not offset.isdigit() or not offset.isascii() or len(offset) > 19:
            raise ValueError(f"{offset!r} is not an offset of this server")
        return int(offset)


class MemoryBackend(BroadcastBackend):
    """The default: every connection is in this process, so there is nothing to carry."""

    remote = False

    def __init__(self) -> None:
        self.history = MemoryHistory()

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Nothing to start."""

    def publish(self, channel: str, frame: bytes) -> None:
        """Nothing to publish: the broadcaster delivered locally already."""

    async def aclose(self, timeout: float = 5.0) -> int:
        """Nothing to close, nothing left unsent."""
        return 0
