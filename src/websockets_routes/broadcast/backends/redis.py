"""The Redis backend (``websockets-routes[redis]``): pub/sub per room, on one server or a Cluster.

One server: ``SUBSCRIBE``/``PUBLISH``. A Redis Cluster (``redis+cluster://``):
sharded pub/sub, ``SSUBSCRIBE``/``SPUBLISH`` on the node owning each channel's
slot, with failover and resharding followed by redis-py's cluster client. Rooms
with history keep their last messages in a stream each; presence lives in a hash
and a sorted set per room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import ConnectionPool, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import BroadcastBackend, HistoryStore, PresenceStore, redact_url

__all__ = ["RedisBackend", "RedisHistory", "RedisPresence"]

logger = logging.getLogger("websockets_routes.broadcast")

# A message published by this process is delivered here directly, so frames
# carrying our own tag are skipped when Redis echoes them back.
_TAG_SIZE = 16

# Errors that say Redis is unreachable, hung, or the connection is broken.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)
_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class RedisBackend(BroadcastBackend):
    """Broadcast across processes and machines through Redis pub/sub, one channel per room.

    A process subscribes to the channel of a room (a route with its parameters, a
    route as a whole, a group) while it holds at least one of its members, so it
    receives the traffic of the rooms it hosts only. Changes are batched: a storm
    of joins makes one ``SUBSCRIBE``. Each broadcast is published once, tagged
    with a per-process id; the sending process delivers its own messages
    directly, so they reach its connections exactly once and even while Redis is
    away.

    With a ``redis+cluster://`` (or ``rediss+cluster://``) URL, the backend talks
    to a Redis Cluster (Redis 7 or later) with sharded pub/sub: each room's
    channel lives on the node owning its slot, so rooms spread over the shards.

    Redis is lost when a subscription breaks, when a PING sent after
    ``ping_interval`` idle seconds isn't answered within another
    ``ping_interval`` (a hung server), or when publishing fails to reach it. Then
    broadcasts still reach local connections, a WARNING is logged, and the
    backend resubscribes with jittered exponential backoff up to ``max_backoff``
    seconds; an INFO with the outage's duration follows when it's back. Messages
    published anywhere during the outage don't cross processes: delivery across
    processes is at most once (history lets clients catch up).

    Args:
        url: ``redis://[user:password@]host[:port][/db]``, ``rediss://...``,
            ``unix://...``, or ``redis+cluster://host:port`` (any node of the
            cluster). Percent-encode ``@``, ``/`` and ``:`` in a password.
        channel: The prefix of every channel and key; processes of one app must
            agree on it, other apps on the same Redis must use another.
        max_backoff: Upper bound, in seconds, of the wait between reconnections.
        max_pending: Messages waiting to be published beyond this are dropped.
        connect_timeout: Seconds :meth:`start` waits for the connection; also the
            bound for connecting, subscribing, and each publication.
        ping_interval: Idle seconds before the subscriber checks Redis with a PING.
        presence_ttl: Seconds after which the members of a process that stopped
            renewing them (it died) no longer count; renewed every third of it.
        cluster: Talk to a Redis Cluster; by default, when the scheme says so.

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
        presence_ttl: float = 15.0,
        cluster: bool | None = None,
    ) -> None:
        if min(max_backoff, max_pending, connect_timeout, ping_interval, presence_ttl) <= 0:
            raise ValueError(
                "max_backoff, max_pending, connect_timeout, ping_interval and presence_ttl "
                "must be positive"
            )
        # Fail here, where the app configures broadcast, not in a background task.
        self._options, url_cluster, self.where = _parse(url)
        self.url = url
        self.cluster = url_cluster if cluster is None else cluster
        self.channel = channel
        self.max_backoff = max_backoff
        self.max_pending = max_pending
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        # Made by start(), not here: processes forked from the one that created the
        # backend would share the tag and skip each other's messages.
        self.tag = b""
        self._client: Any = None
        # What is published before the backend started waits for it here.
        self._queue: asyncio.Queue[tuple[str, bytes, asyncio.Future[None] | None]] = asyncio.Queue(
            max_pending
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._receive: Callable[[bytes], None] | None = None
        self._up: asyncio.Event | None = None
        self._down_since: float | None = None
        self._closed = False
        # Channels wanted, and those Redis confirmed. A channel nobody publishes on
        # keeps a subscription open even when no room is hosted: its connection
        # breaking is how a crash of Redis shows at once.
        self._wanted: set[str] = {f"{channel}:{{control}}"}
        self._subscribed: set[str] = set()
        self._changed: asyncio.Event | None = None
        self._settled: asyncio.Event | None = None
        self._pending_confirmations: set[str] = set()
        # With a Redis Cluster: the subscriptions held on each node, and a request
        # to read the cluster's slots again after a node failed.
        self._shards: dict[str, _Shard] = {}
        self._retired: set[asyncio.Task[None]] = set()
        self._refresh: asyncio.Event | None = None
        self.history = RedisHistory(self)
        self._presence = self.presence = RedisPresence(self, presence_ttl)
        #: Messages of this process that reached local connections only.
        self.dropped = 0
        #: Messages of other processes received through Redis.
        self.received = 0

    def __repr__(self) -> str:
        kind = "Redis Cluster" if self.cluster else "Redis"
        return f"RedisBackend({kind} at {self.where!r}, channel={self.channel!r})"

    @property
    def connected(self) -> bool:
        """Whether broadcasts cross processes now: subscribed, and Redis not lost since.

        With a Redis Cluster: every node holding subscriptions answers.
        """
        up = self._up is not None and self._up.is_set()
        return up and not any(shard.down_since is not None for shard in self._shards.values())

    @property
    def client(self) -> Any:
        """The redis-py client (``Redis`` or ``RedisCluster``), once started."""
        return self._client

    async def start(self, receive: Callable[[bytes], None]) -> None:
        """Connect, and return once connected or after ``connect_timeout``."""
        if self._receive is None:
            self._receive = receive
            self.tag = uuid.uuid4().bytes
            self._up = asyncio.Event()
            self._changed = asyncio.Event()
            self._settled = asyncio.Event()
            self._settled.set()
            self._client = self._connect()
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(
                    self._cluster_subscriber() if self.cluster else self._subscriber()
                ),
                loop.create_task(self._publisher()),
                loop.create_task(self._presence.run()),
            ]
        assert self._up is not None
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._up.wait()
        except TimeoutError:
            if self._down_since is not None:
                return  # _lost() said so already.
            logger.warning(
                "Redis broadcast at %s isn't reachable yet; delivering to local "
                "connections only and retrying",
                self.where,
            )

    def publish(self, channel: str, frame: bytes) -> None:
        """Queue ``frame`` for publication on ``channel``, or drop it while Redis is away.

        After :meth:`aclose`, this does nothing.
        """
        if self._closed:
            return
        if self._down_since is not None:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((channel, frame, None))
        except asyncio.QueueFull:
            self.dropped += 1

    async def publish_wait(self, channel: str, frame: bytes) -> None:
        """Publish ``frame`` and return once Redis accepted it.

        Raises:
            ConnectionError: If Redis didn't accept it within ``connect_timeout``
                (or this backend is closed).
        """
        if self._closed:
            raise ConnectionError(f"the Redis backend at {self.where} is closed")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._queue.put((channel, frame, done))
                await asyncio.shield(done)
        except TimeoutError:
            raise ConnectionError(
                f"Redis at {self.where} didn't accept a message within {self.connect_timeout:g} s"
            ) from None

    def subscribe(self, channels: Iterable[str]) -> None:
        """Subscribe to ``channels`` soon, in one command with other changes."""
        added = set(channels) - self._wanted
        if added:
            self._wanted |= added
            self._change()

    def unsubscribe(self, channels: Iterable[str]) -> None:
        """Unsubscribe from ``channels`` soon, in one command with other changes."""
        removed = (set(channels) & self._wanted) - {f"{self.channel}:{{control}}"}
        if removed:
            self._wanted -= removed
            self._change()

    async def wait_subscribed(self, timeout: float) -> bool:
        """Wait until every channel asked for is confirmed; False after ``timeout``."""
        if self._settled is None:
            return not self._wanted
        try:
            async with asyncio.timeout(timeout):
                while not (self._settled.is_set() and self._wanted <= self._subscribed):
                    self._settled.clear()
                    await self._settled.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout: float = 5.0) -> int:
        """Publish what is queued within ``timeout`` seconds, then stop; return what wasn't.

        Later publications do nothing.
        """
        self._closed = True
        unsent = 0
        if self._tasks:
            try:
                async with asyncio.timeout(timeout):
                    await self._queue.join()
            except TimeoutError:
                unsent = self._queue.qsize()
        if self._up is not None:
            self._up.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for shard in self._shards.values():
            await shard.stop()
        while not self._queue.empty():
            _, _, done = self._queue.get_nowait()
            if done is not None and not done.done():
                done.set_exception(ConnectionError("the Redis backend closed"))
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()
        if unsent:
            logger.warning(
                "closing the Redis broadcast at %s: %d message(s) couldn't be published "
                "within %g s",
                self.where,
                unsent,
                timeout,
            )
        return unsent

    # Internals.

    def _connect(self) -> Any:
        options = dict(
            self._options,
            # Our own reconnection loop replaces redis-py's retries.
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
            socket_keepalive=True,
        )
        if self.cluster:
            options.pop("db", None)
            options.pop("connection_class", None)
            return RedisCluster(**options)
        return aioredis.Redis(retry=Retry(NoBackoff(), 0), **options)

    def _shard_options(self) -> dict[str, Any]:
        """Connection options for one node of a cluster: the URL's, without its address."""
        options = {k: v for k, v in self._options.items() if k not in ("host", "port", "db")}
        options.update(
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
            socket_keepalive=True,
        )
        return options

    def _request_refresh(self) -> None:
        """Ask the cluster subscriber to read the slots again: a node failed."""
        if self._refresh is not None and self._changed is not None:
            self._refresh.set()
            self._changed.set()

    def _change(self) -> None:
        if self._changed is not None:
            assert self._settled is not None
            self._settled.clear()
            self._changed.set()

    def _lost(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            assert self._up is not None
            self._up.clear()
            logger.warning(
                "lost Redis broadcast at %s (%s); delivering to local connections "
                "only until it's back",
                self.where,
                _describe(exc),
            )

    def _back(self) -> None:
        if self._down_since is not None:
            duration = time.monotonic() - self._down_since
            logger.info(
                "Redis broadcast at %s is back after %.1f s; %d message(s) sent here "
                "meanwhile reached local connections only",
                self.where,
                duration,
                self.dropped,
            )
            self._down_since = None
            self.dropped = 0
        assert self._up is not None
        self._up.set()

    async def _subscriber(self) -> None:
        attempt = 0
        while True:
            pubsub = self._client.pubsub()
            self._subscribed = set()
            try:
                # A first round trip proves Redis answers, channels or not.
                await asyncio.wait_for(self._client.ping(), self.connect_timeout)
                if self._down_since is not None:
                    # Idle publishing connections predate the outage and may be
                    # dead (Redis restarted): drop them so the next one reconnects.
                    await self._disconnect_idle()
                await self._sync(pubsub)
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

    async def _disconnect_idle(self) -> None:
        # A cluster client finds its nodes again by itself.
        if not self.cluster:
            await self._client.connection_pool.disconnect(inuse_connections=False)

    async def _sync(self, pubsub: Any) -> None:
        """Apply the channel changes asked for since the last time, in one command each."""
        assert self._changed is not None
        assert self._settled is not None
        self._changed.clear()
        wanted = set(self._wanted)
        added = sorted(wanted - self._subscribed)
        removed = sorted(self._subscribed - wanted)
        if added:
            await (pubsub.ssubscribe if self.cluster else pubsub.subscribe)(*added)
        if removed:
            await (pubsub.sunsubscribe if self.cluster else pubsub.unsubscribe)(*removed)
        self._pending_confirmations = set(added)
        self._subscribed = (self._subscribed - set(removed)) | set(added)
        if not added:
            self._settle()

    def _settle(self) -> None:
        assert self._settled is not None
        assert self._changed is not None
        if not self._pending_confirmations and not self._changed.is_set():
            self._settled.set()

    async def _listen(self, pubsub: Any) -> None:
        # Return when the publisher lost Redis: the caller resubscribes, which
        # proves Redis is back. A PING unanswered for ping_interval means a hung Redis.
        assert self._changed is not None
        pong_due = False
        idle = 0.0
        get = pubsub.get_sharded_message if self.cluster else pubsub.get_message
        while self._down_since is None:
            if self._changed.is_set():
                await self._sync(pubsub)
            # Short waits, so that subscription changes go out within 0.1 s.
            wait = min(0.1, self.ping_interval)
            reply = await get(timeout=wait)
            if reply is None:
                idle += wait
                if idle < self.ping_interval:
                    continue
                idle = 0.0
                if pong_due:
                    raise TimeoutError(f"no answer to PING within {self.ping_interval:g} s")
                if self.cluster:
                    await asyncio.wait_for(self._client.ping(), self.ping_interval)
                else:
                    await pubsub.ping()
                    pong_due = True
                continue
            idle = 0.0
            kind = reply["type"]
            if kind in ("message", "smessage"):
                self._deliver(reply["data"])
            elif kind in ("subscribe", "ssubscribe"):
                channel = reply["channel"]
                self._pending_confirmations.discard(
                    channel.decode() if isinstance(channel, bytes) else channel
                )
                self._settle()
            elif kind == "pong":
                pong_due = False

    async def _cluster_subscriber(self) -> None:
        """Place each wanted channel on the node owning its slot, one shard per node."""
        assert self._changed is not None
        assert self._up is not None
        self._refresh = asyncio.Event()
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(self._client.initialize(), self.connect_timeout)
                self._back()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc)
            ceiling = min(self.max_backoff, 0.05 * 2**attempt)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))
        while True:
            if self._refresh.is_set():
                self._refresh.clear()
                # A node failed: its replica may have taken over its slots.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._client.nodes_manager.initialize(), self.connect_timeout
                    )
            self._changed.clear()
            self._place()
            # A change of channels and a request to refresh both set _changed.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_backoff):
                    await self._changed.wait()

    def _place(self) -> None:
        placement: dict[str, tuple[Any, set[str]]] = {}
        for channel in self._wanted:
            node = self._client.get_node_from_key(channel)
            placement.setdefault(node.name, (node, set()))[1].add(channel)
        for name, (node, channels) in placement.items():
            shard = self._shards.get(name)
            if shard is None:
                shard = self._shards[name] = _Shard(self, name, node.host, node.port)
            shard.place(channels)
        for name in [name for name in self._shards if name not in placement]:
            # Nothing lives there any more (a failed master, say): drop it.
            shard = self._shards.pop(name)
            shard.channels = set()
            self._retired.add(asyncio.get_running_loop().create_task(shard.stop()))
            self._retired = {task for task in self._retired if not task.done()}
        self._pending_confirmations = set(self._wanted) - self._subscribed
        self._settle()

    def _deliver(self, data: bytes) -> None:
        if data[:_TAG_SIZE] == self.tag:
            return
        self.received += 1
        assert self._receive is not None
        try:
            self._receive(data[_TAG_SIZE:])
        except Exception:
            logger.exception("delivering a broadcast from Redis failed")

    async def _publisher(self) -> None:
        assert self._up is not None
        failing = False
        while True:
            batch = [await self._queue.get()]
            while len(batch) < 256 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if self._down_since is None:
                    # Messages sent before the first connection wait for it.
                    await self._up.wait()
                if self._down_since is not None:
                    self._failed(batch, ConnectionError(f"Redis at {self.where} is away"))
                    continue
                try:
                    if self.cluster:
                        failing = await self._send_sharded(batch, failing)
                        continue
                    await self._send(batch)
                except asyncio.CancelledError:
                    raise
                except _LOST as exc:
                    # No retry: the batch may have reached Redis in part, and a retry
                    # would deliver that part twice. The subscriber decides when it's back.
                    self._failed(batch, exc)
                    self._lost(exc)
                except Exception as exc:
                    self._failed(batch, exc)
                    if not failing:
                        failing = True
                        logger.warning(
                            "publishing to Redis broadcast at %s failed (%s); %d message(s) "
                            "reached local connections only",
                            self.where,
                            _describe(exc),
                            len(batch),
                        )
                else:
                    failing = False
                    for _, _, done in batch:
                        if done is not None and not done.done():
                            done.set_result(None)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _send_sharded(
        self, batch: list[tuple[str, bytes, asyncio.Future[None] | None]], failing: bool
    ) -> bool:
        """Publish each frame on the node owning its channel; return whether some failed.

        A failing node costs the messages of its rooms only: the others go on.
        """
        results = await asyncio.gather(
            *(self._client.spublish(channel, self.tag + frame) for channel, frame, _ in batch),
            return_exceptions=True,
        )
        failed = 0
        for (_, _, done), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                self.dropped += 1
                if done is not None and not done.done():
                    done.set_exception(
                        ConnectionError(f"not published to Redis: {_describe(result)}")
                    )
                self._request_refresh()
            elif done is not None and not done.done():
                done.set_result(None)
        if failed and not failing:
            logger.warning(
                "publishing to Redis Cluster at %s failed for %d message(s); their rooms' "
                "other processes missed them",
                self.where,
                failed,
            )
        return failed > 0

    async def _send(self, batch: list[tuple[str, bytes, asyncio.Future[None] | None]]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for channel, frame, _ in batch:
                pipe.publish(channel, self.tag + frame)
            await pipe.execute()

    def _failed(
        self, batch: list[tuple[str, bytes, asyncio.Future[None] | None]], exc: BaseException
    ) -> None:
        self.dropped += len(batch)
        for _, _, done in batch:
            if done is not None and not done.done():
                done.set_exception(ConnectionError(f"not published to Redis: {_describe(exc)}"))


class _Shard:
    """The sharded subscriptions of a cluster held on one node, with their connection."""

    def __init__(self, backend: RedisBackend, name: str, host: str, port: int) -> None:
        self.backend = backend
        self.name = name
        self.host = host
        self.port = port
        self.channels: set[str] = set()
        self.subscribed: set[str] = set()
        self.changed = asyncio.Event()
        self.down_since: float | None = None
        self.task: asyncio.Task[None] | None = None

    def place(self, channels: set[str]) -> None:
        """Hold these channels here from now on."""
        if channels != self.channels:
            self.channels = set(channels)
            self.changed.set()
        if self.channels and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Stop listening, and forget its subscriptions."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self._forget()

    async def run(self) -> None:
        """Subscribe, listen, and reconnect with backoff, until it holds no channel."""
        backend = self.backend
        attempt = 0
        while self.channels:
            pool = ConnectionPool(host=self.host, port=self.port, **backend._shard_options())
            client = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
            pubsub: Any = client.pubsub()
            try:
                await asyncio.wait_for(client.ping(), backend.connect_timeout)
                if self.down_since is not None:
                    logger.info(
                        "Redis Cluster node %s:%s is back after %.1f s",
                        self.host,
                        self.port,
                        time.monotonic() - self.down_since,
                    )
                    self.down_since = None
                attempt = 0
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    logger.warning(
                        "lost Redis Cluster node %s:%s (%s); its rooms are local only "
                        "until it, or its replica, is back",
                        self.host,
                        self.port,
                        _describe(exc),
                    )
                backend._request_refresh()
            finally:
                self._forget()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            ceiling = min(backend.max_backoff, 0.05 * 2**attempt)
            attempt = min(attempt + 1, 30)
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    def _by_slot(self, channels: list[str]) -> list[list[str]]:
        slots: dict[int, list[str]] = {}
        for channel in channels:
            slots.setdefault(key_slot(channel.encode()), []).append(channel)
        return list(slots.values())

    def _forget(self) -> None:
        self.backend._subscribed -= self.subscribed
        self.subscribed = set()

    async def _listen(self, pubsub: Any) -> None:
        backend = self.backend
        idle = 0.0
        pong_due = False
        # A new connection holds nothing yet: subscribe to everything placed here.
        self.changed.set()
        while self.channels or self.subscribed:
            if self.changed.is_set():
                self.changed.clear()
                added = sorted(self.channels - self.subscribed)
                removed = sorted(self.subscribed - self.channels)
                # One command per slot: Redis refuses channels of several in one.
                for channels in self._by_slot(added):
                    await pubsub.ssubscribe(*channels)
                for channels in self._by_slot(removed):
                    await pubsub.sunsubscribe(*channels)
                self.subscribed -= set(removed)
                backend._subscribed -= set(removed)
                if not self.subscribed and not added:
                    return
            wait = min(0.1, backend.ping_interval)
            reply = await pubsub.get_message(timeout=wait)
            if reply is None:
                idle += wait
                if idle >= backend.ping_interval:
                    idle = 0.0
                    if pong_due:
                        raise TimeoutError(f"no answer to PING within {backend.ping_interval:g} s")
                    await pubsub.ping()
                    pong_due = True
                continue
            idle = 0.0
            kind = reply["type"]
            if kind == "smessage":
                backend._deliver(reply["data"])
            elif kind == "ssubscribe":
                channel = _text(reply["channel"])
                self.subscribed.add(channel)
                backend._subscribed.add(channel)
                backend._pending_confirmations.discard(channel)
                backend._settle()
            elif kind == "pong":
                pong_due = False


class RedisHistory(HistoryStore):
    """The last messages of each room in a Redis stream of its own.

    Offsets are the streams' entry ids (``1712345678901-0``): any process of the
    app can replay what came after one. Each stream keeps ``size`` entries and
    expires a day after the last message.
    """

    #: Seconds a room's history outlives its last message.
    ttl = 86_400

    def __init__(self, backend: RedisBackend) -> None:
        self._backend = backend

    async def append(self, key: str, payload: bytes, size: int) -> str:
        """Add ``payload`` to the stream ``key``, trimmed to ``size``; return its id.

        Raises:
            ConnectionError: If Redis didn't take it.
        """
        client = self._backend.client
        if client is None:
            raise ConnectionError("the Redis backend isn't started")
        if self._backend._down_since is not None:
            # Don't wait for a connection timeout per message while Redis is away.
            raise ConnectionError(
                f"the message wasn't kept in Redis at {self._backend.where}: it's unreachable"
            )
        try:
            # Trimmed exactly: a room keeps `size` messages, not about as many.
            offset = await client.xadd(key, {"m": payload}, maxlen=size, approximate=False)
            await client.expire(key, self.ttl)
        except (RedisError, OSError) as exc:
            raise ConnectionError(
                f"the message wasn't kept in Redis at {self._backend.where}, nor "
                f"published: {_describe(exc)}"
            ) from exc
        return offset.decode() if isinstance(offset, bytes) else str(offset)

    async def since(self, key: str, offset: str) -> list[tuple[str, bytes]] | None:
        """Entries after ``offset``; None if ``offset`` isn't kept (trimmed, or unknown)."""
        self.order(offset)
        client = self._backend.client
        if client is None:
            raise ConnectionError("the Redis backend isn't started")
        # Trimming drops the oldest first: if `offset` itself is still kept, so is
        # everything after it. If it isn't, what came right after may be gone too.
        entries = await client.xrange(key, min=offset, max="+")
        if not entries or _text(entries[0][0]) != offset:
            return None
        return [(_text(entry_id), fields[b"m"]) for entry_id, fields in entries[1:]]

    def order(self, offset: str) -> tuple[int, int]:
        """``(milliseconds, sequence)`` of a stream id.

        Raises:
            ValueError: If ``offset`` isn't a stream id.
        """
        millis, dash, sequence = offset.partition("-")
        if (
            not dash
            or not (millis.isdigit() and millis.isascii() and sequence.isdigit())
            or len(offset) > 41
        ):
            raise ValueError(f"{offset!r} is not an offset of this server")
        return int(millis), int(sequence)


class RedisPresence(PresenceStore):
    """Who is in each room, across processes, with heartbeats.

    Each process writes its members of a room as one field of a hash (``KEY:m``),
    and renews its entry in a sorted set (``KEY:a``) whose scores are expiry
    times, every third of ``ttl``. A process that dies stops renewing: its
    members stop counting within ``ttl`` seconds, and are deleted by the next
    reader.
    """

    def __init__(self, backend: RedisBackend, ttl: float) -> None:
        self._backend = backend
        self.ttl = ttl
        self._rooms: dict[str, str] = {}  # key -> this process's members, as JSON
        self._dirty: set[str] = set()
        self._wake: asyncio.Event | None = None

    @property
    def process(self) -> str:
        """This process's id in Redis."""
        return self._backend.tag.hex()

    def put(self, key: str, entries: list[dict[str, Any]]) -> None:
        """Write this process's members of ``key`` soon, batched with other changes."""
        if entries:
            self._rooms[key] = json.dumps(entries, separators=(",", ":"), default=str)
        else:
            self._rooms.pop(key, None)
        self._dirty.add(key)
        if self._wake is not None:
            self._wake.set()

    async def get(self, key: str) -> list[dict[str, Any]]:
        """The members of ``key`` in every process that renewed them in time."""
        client = self._backend.client
        if client is None:
            raise ConnectionError("the Redis backend isn't started")
        now = time.time()
        alive = [_text(p) for p in await client.zrangebyscore(f"{key}:a", now, "+inf")]
        dead = [_text(p) for p in await client.zrangebyscore(f"{key}:a", "-inf", f"({now}")]
        if dead:
            # Whoever reads first cleans up after processes that died.
            await client.zrem(f"{key}:a", *dead)
            await client.hdel(f"{key}:m", *dead)
        if not alive:
            return []
        members: list[dict[str, Any]] = []
        for process, found in zip(alive, await client.hmget(f"{key}:m", alive), strict=True):
            if found is not None:
                for entry in json.loads(found):
                    entry["process"] = process
                    members.append(entry)
        return members

    async def run(self) -> None:
        """Write changes as they come, and renew every entry every third of ``ttl``."""
        self._wake = asyncio.Event()
        renewed = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ttl / 3):
                    await self._wake.wait()
            await asyncio.sleep(0.01)  # Gather what a burst of joins changes.
            self._wake.clear()
            now = time.monotonic()
            keys = set(self._dirty)
            if now - renewed >= self.ttl / 3:
                keys |= set(self._rooms)
                renewed = now
            if not keys or self._backend.client is None or not self._backend.connected:
                continue
            self._dirty -= keys
            try:
                await self._write(keys)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._dirty |= keys
                logger.warning("writing presence to Redis failed (%s); retrying", _describe(exc))

    async def _write(self, keys: set[str]) -> None:
        client = self._backend.client
        process = self.process
        expiry = time.time() + self.ttl
        async with client.pipeline(transaction=False) as pipe:
            for key in sorted(keys):
                entries = self._rooms.get(key)
                if entries is None:
                    pipe.zrem(f"{key}:a", process)
                    pipe.hdel(f"{key}:m", process)
                else:
                    pipe.hset(f"{key}:m", process, entries)
                    pipe.zadd(f"{key}:a", {process: expiry})
                    pipe.expire(f"{key}:m", int(self.ttl * 2) + 1)
                    pipe.expire(f"{key}:a", int(self.ttl * 2) + 1)
            await pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(url: str) -> tuple[dict[str, Any], bool, str]:
    """Parse ``url`` once, with redis-py's parser: its options, cluster or not, and how to show it.

    Raises:
        ValueError: If the URL is invalid, its db isn't a number, or its password
            holds an unencoded ``@``, ``/`` or ``:`` that would make redis-py
            connect to another host than the one the URL seems to name.
    """
    scheme = url.partition("://")[0].lower()
    cluster = scheme in _CLUSTER_SCHEMES
    parsable = _CLUSTER_SCHEMES[scheme] + url[len(scheme) :] if cluster else url
    redacted = redact_url(url)
    try:
        options: dict[str, Any] = dict(parse_url(parsable))
    except ValueError as exc:
        # redis-py's message may quote part of the password: explain with the
        # redacted URL instead; if that one parses, the password is the problem.
        try:
            parse_url(redact_url(parsable))
        except ValueError:
            reason = str(exc)
        else:
            reason = "its password must be percent-encoded"
        raise ValueError(
            f"invalid Redis URL {redacted!r}: {reason}; "
            "expected redis://[user:password@]host[:port][/db]"
        ) from None
    if scheme != "unix":
        parts = urlsplit(parsable)
        # What comes after the last "@" is what a reader takes for the host: if
        # redis-py found another one, the password holds an unencoded "/" or "@".
        seen = parsable.partition("://")[2].rpartition("@")[2].partition("/")[0].lower()
        seen = seen[1 : seen.find("]")] if seen.startswith("[") else seen.partition(":")[0]
        host = parts.hostname or ""
        if unquote(seen) != host.lower():
            raise ValueError(
                f"invalid Redis URL {redacted!r}: the password holds '@', '/' or ':' "
                f"that must be percent-encoded (%40, %2F, %3A)"
            )
        path = unquote(parts.path).strip("/")
        if path and not path.isdigit():
            raise ValueError(
                f"invalid Redis URL {redacted!r}: the database must be a number, not {path!r}"
            )
        if cluster and path not in ("", "0"):
            raise ValueError(f"invalid Redis URL {redacted!r}: a Redis Cluster has database 0 only")
        where = f"{scheme}://{_host(host)}:{options.get('port', 6379)}/{options.get('db', 0)}"
    else:
        where = f"unix://{options.get('path', '')}"
    return options, cluster, where


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
