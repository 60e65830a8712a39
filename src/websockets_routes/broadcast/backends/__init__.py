"""Broadcast backends: what carries broadcasts between processes.

:class:`MemoryBackend` keeps delivery in one process; :class:`RedisBackend`
(``websockets-routes[redis]``) carries it through Redis pub/sub. Write your own
by subclassing :class:`BroadcastBackend`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import BroadcastBackend, HistoryStore, PresenceStore, redact_url
from .memory import MemoryBackend, MemoryHistory

if TYPE_CHECKING:
    from .redis import RedisBackend as RedisBackend

__all__ = [
    "BroadcastBackend",
    "HistoryStore",
    "MemoryBackend",
    "MemoryHistory",
    "PresenceStore",
    "RedisBackend",
    "backend_from_url",
    "redact_url",
]


def backend_from_url(url: str | None, **options: Any) -> BroadcastBackend:
    """The backend for ``url``: ``memory://`` (or None), ``redis://``, ``rediss://``, ``unix://``,
    ``redis+cluster://`` or ``rediss+cluster://``.

    This is what the CLI's ``--broadcast URL`` calls. ``options`` go to the
    backend (see :class:`RedisBackend`).

    Raises:
        ValueError: If the scheme is unknown.
        ImportError: If the URL needs the ``redis`` package and it is missing.
    """
    if url is None or url in ("memory://", "memory:"):
        return MemoryBackend()
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        return _redis_backend(f"broadcast to {scheme}://")(url, **options)
    raise ValueError(f"unknown broadcast URL {url!r}; use memory:// or redis://host:port/db")


def _redis_backend(what: str = "RedisBackend") -> type[RedisBackend]:
    try:
        from .redis import RedisBackend
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("redis"):
            raise
        raise ImportError(
            f"{what} needs the redis package: pip install 'websockets-routes[redis]>=1.0'"
        ) from exc
    return RedisBackend


def __getattr__(name: str) -> Any:
    # RedisBackend needs the optional redis package: import it on first use.
    if name == "RedisBackend":
        return _redis_backend()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
