"""The Redis pub/sub broadcast backend (``websockets-routes[redis]``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import BroadcastBackend, redact_url

__all__ = ["RedisBackend"]

logger = logging.getLogger("websockets_routes.broadcast")

# A message published by this process is delivered here directly, so frames
# carrying our own tag are skipped when Redis echoes them back.
_TAG_SIZE = 16

# Errors that say Redis is unreachable, hung, or the connection is broken.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBackend(BroadcastBackend):
    """Broadcast across processes and machines through one Redis pub/sub channel.

    Every process subscribes to ``channel`` and publishes each broadcast once,
    tagged with a per-process id; it delivers its own messages directly, so
    they reach its connections exactly once and even while Redis is away.

    Redis is lost when the subscription breaks, when a PING sent after
    ``ping_interval`` idle seconds isn't answered within another
    ``ping_interval`` (a hung server), or when publishing fails to reach it. Then
    broadcasts still reach local connections, a WARNING is logged, and the
    backend resubscribes with jittered exponential backoff up to ``max_backoff``
    seconds; an INFO with the outage's duration follows when it's back. Messages
    published anywhere during the outage don't cross processes: delivery across
    processes is at most once.

    Args:
        url: ``redis://[:password@]host:port/db``, ``rediss://...`` or ``unix://...``.
        channel: The pub/sub channel; processes of one app must agree on it,
            other apps on the same Redis must use another.
        max_backoff: Upper bound, in seconds, of the wait between reconnections.
        max_pending: Messages waiting to be published beyond this are dropped.
        connect_timeout: Seconds :meth:`start` waits for the first subscription;
            also the bound for connecting, subscribing, and each publication.
        ping_interval: Idle seconds before the subscriber checks Redis with a PING.

    Raises:
        ValueError: If ``url`` isn't a valid Redis URL, or an option isn't positive.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = "websockets-routes",
        max_backoff: float = 5.0,
        max_pending: int = 10_000,
        connect_timeout: float = 5.0,
        ping_interval: float = 10.0,
    ) -> None:
        if min(max_backoff, max_pending, connect_timeout, ping_interval) <= 0:
            raise ValueError(
                "max_backoff, max_pending, connect_timeout and ping_interval must be positive"
            )
        self.url = url
        # Fail here, where the app configures broadcast, not in a background task.
        _check_url(url)
        self.channel = channel
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        # Made by start(), not here: processes forked from the one that created the
        # backend would share the tag and skip each other's messages.
        self.tag = b""
        self._client: Any = None
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self._receive: Callable[[bytes], None] | None = None
        self._up = asyncio.Event()
        self._down_since: float | None = None
        self._closed = False
        #: Messages of this process that reached local connections only.
        self.dropped = 0

    def __repr__(self) -> str:
        return f"RedisBackend({self._where()!r}, channel={self.channel!r})"

    @property
    def connected(self) -> bool:
        """Whether broadcasts cross processes now: subscribed, and Redis not lost since."""
        return self._up.is_set()

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Connect, subscribe, and return once subscribed or after ``connect_timeout``."""
        if self._receive is None:
            self._receive = receive
            self.tag = uuid.uuid4().bytes
            # Our own reconnection loop replaces redis-py's retries.
            self._client = aioredis.Redis.from_url(
                self.url,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=self.connect_timeout,
                socket_keepalive=True,
            )
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._subscribe()), loop.create_task(self._publish())]
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._up.wait()
        except TimeoutError:
            if self._down_since is not None:
                return  # _lost() said so already.
            logger.warning(
                "Redis broadcast at %s isn't reachable yet; delivering to local "
                "connections only and retrying",
                self._where(),
            )

    def publish(self, frame: bytes) -> None:
        """Queue ``frame`` for publication, or drop it while Redis is away.

        After :meth:`aclose`, this does nothing.
        """
        if self._closed:
            return
        if self._down_since is not None:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1

    async def aclose(self) -> None:
        """Stop both tasks and close the connections; later publications do nothing."""
        self._closed = True
        self._up.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()

    # Internals.

    def _where(self) -> str:
        return redact_url(self.url)

    def _lost(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._up.clear()
            logger.warning(
                "lost Redis broadcast at %s (%s); delivering to local connections "
                "only until it's back",
                self._where(),
                _describe(exc),
            )

    def _back(self) -> None:
        if self._down_since is not None:
            duration = time.monotonic() - self._down_since
            logger.info(
                "Redis broadcast at %s is back after %.1f s; %d message(s) sent here "
                "meanwhile reached local connections only",
                self._where(),
                duration,
                self.dropped,
            )
            self._down_since = None
            self.dropped = 0
        self._up.set()

    async def _subscribe(self) -> None:
        attempt = 0
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # Wait for the confirmation: from then on, nothing is missed.
                async with asyncio.timeout(self.connect_timeout):
                    while True:
                        reply = await pubsub.get_message(timeout=self.connect_timeout)
                        if reply is not None and reply["type"] == "subscribe":
                            break
                if self._down_since is not None:
                    # Idle publishing connections predate the outage and may be dead
                    # (Redis restarted): drop them so the next publication reconnects.
                    await self._client.connection_pool.disconnect(inuse_connections=False)
                self._back()
                attempt = 0
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            # Exponential backoff with jitter, bounded by max_backoff.
            ceiling = min(self.max_backoff, 0.05 * 2**attempt)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _listen(self, pubsub: Any) -> None:
        # Return when the publisher lost Redis: the caller resubscribes, which
        # proves Redis is back. A PING unanswered for ping_interval means a hung Redis.
        pong_due = False
        while self._down_since is None:
            reply = await pubsub.get_message(timeout=self.ping_interval)
            if reply is None:
                if pong_due:
                    raise TimeoutError(f"no answer to PING within {self.ping_interval:g} s")
                await pubsub.ping()
                pong_due = True
            elif reply["type"] == "message":
                self._deliver(reply["data"])
            elif reply["type"] == "pong":
                pong_due = False

    def _deliver(self, data: bytes) -> None:
        if data[:_TAG_SIZE] == self.tag:
            return
        assert self._receive is not None
        try:
            self._receive(data[_TAG_SIZE:])
        except Exception:
            logger.exception("delivering a broadcast from Redis failed")

    async def _publish(self) -> None:
        failing = False
        while True:
            batch = [await self._queue.get()]
            while len(batch) < 256 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if self._down_since is None:
                # Messages sent before the first subscription wait for it.
                await self._up.wait()
            if self._down_since is not None:
                self.dropped += len(batch)
                continue
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for frame in batch:
                        pipe.publish(self.channel, self.tag + frame)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except _LOST as exc:
                # No retry: the batch may have reached Redis in part, and a retry
                # would deliver that part twice. The subscriber decides when it's back.
                self.dropped += len(batch)
                self._lost(exc)
            except Exception as exc:
                self.dropped += len(batch)
                if not failing:
                    failing = True
                    logger.warning(
                        "publishing to Redis broadcast at %s failed (%s); %d message(s) "
                        "reached local connections only",
                        self._where(),
                        _describe(exc),
                        len(batch),
                    )
            else:
                failing = False


def _check_url(url: str) -> None:
    try:
        parse_url(url)
    except ValueError:
        # redis-py's message may quote part of the password: explain with the
        # redacted URL instead; if that one parses, the password is the problem.
        redacted = redact_url(url)
        try:
            parse_url(redacted)
        except ValueError as exc:
            reason = str(exc)
        else:
            reason = "its password must be percent-encoded"
        raise ValueError(
            f"invalid Redis URL {redacted!r}: {reason}; "
            "expected redis://[user:password@]host[:port][/db]"
        ) from None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
