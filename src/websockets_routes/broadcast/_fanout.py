"""Fan-out: one message to many connections, framed once, within each one's send bound.

A broadcast builds its frame once. A connection without compression gets those
very bytes; one with compression gets a frame of its own, as its compression
context requires. Nothing here waits for a connection:

- asyncio and legacy connections buffer in their transport, whose size is the
  bound's measure;
- threaded and trio connections get an outbox, a queue drained by a writer of
  their own (a thread, or a task in the connection's nursery), whose bytes are
  the bound's measure.

A connection over its bound is a slow consumer: the send policy closes it (code
1008, aborting its TCP connection after a grace period if need be) or drops the
message for it. Either way it is logged once per connection and counted.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from ._policy import SLOW_CONSUMER, DeliveryStats

if TYPE_CHECKING:
    from ._registry import Member

__all__ = ["Message", "deliver", "deliver_now", "fan_out", "frame_of", "logger", "payload_of"]

logger = logging.getLogger("websockets_routes.broadcast")

Message = str | bytes
#: Writes one frame to one member; the frame, the payload, whether it's text, the stats.
Writer = Callable[["Member", bytes, bytes, bool, DeliveryStats], None]

OPEN = State.OPEN
#: A broadcast yields to the event loop once it ran this long (seconds)...
SLICE = 0.001
#: ...checked every this many connections.
CHECK_EVERY = 64
_FRAGMENTED = "it is sending a fragmented message"
# SO_LINGER with a zero timeout: closing the socket resets it and drops its buffers.
_ABORT = struct.pack("ii", 1, 0)


def frame_of(payload: bytes, text: bool) -> bytes:
    """The bytes of an unmasked, uncompressed server frame carrying ``payload``."""
    return Frame(Opcode.TEXT if text else Opcode.BINARY, payload).serialize(mask=False)


def payload_of(message: Message) -> tuple[bytes, bool]:
    """The bytes to send and whether they go in a text frame.

    Raises:
        TypeError: If ``message`` is neither str nor bytes.
    """
    if isinstance(message, str):
        return message.encode(), True
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message), False
    raise TypeError(f"a message is str (a text frame) or bytes (binary), not {type(message)}")


async def fan_out(
    members: Sequence[Member],
    payload: bytes,
    text: bool,
    stats: DeliveryStats,
    offset: str | None = None,
) -> None:
    """Deliver to ``members``, yielding to the event loop every millisecond or so.

    ``offset`` is the message's place in its room's history, if it has one.
    """
    if not members:
        return
    frame = frame_of(payload, text)
    size = len(frame)
    running = _running_loop()
    fast = _fast
    deadline = time.perf_counter() + SLICE
    countdown = CHECK_EVERY
    # Connections of a room are usually of one class: look it up once.
    last_class: type[Any] | None = None
    fragmented: str | None = None
    for member in members:
        ws = member.connection
        # The common case inline: an open asyncio connection of this loop, without
        # compression, under its bound. Anything else goes through its writer.
        if type(ws) is not last_class:
            last_class = type(ws)
            fragmented = fast.get(last_class)
        if (
            fragmented is not None
            and ws.loop is running
            and not member.closing
            and member.pending is None
        ):
            protocol = ws.protocol
            transport = ws.transport
            if (
                protocol.state is OPEN
                and not protocol.extensions
                and getattr(ws, fragmented) is None
                and transport.get_write_buffer_size() + size <= member.policy.max_buffer
            ):
                transport.write(frame)
            else:
                _write(member, frame, payload, text, stats, running, offset)
        else:
            _write(member, frame, payload, text, stats, running, offset)
        countdown -= 1
        if not countdown:
            countdown = CHECK_EVERY
            if time.perf_counter() > deadline:
                await _checkpoint(running)
                deadline = time.perf_counter() + SLICE


def deliver(connections: Iterable[Any], message: Message) -> None:
    """Send ``message`` now to ``connections`` of this process, never waiting for one.

    Each connection whose handler runs under a router gets it under its route's
    send policy (a slow one is closed or the message is dropped for it); any
    other connection under the default policy. A connection that isn't open is
    skipped.

    Raises:
        TypeError: If ``message`` is neither str nor bytes.
    """
    from ._registry import member_of

    payload, text = payload_of(message)
    members = [member_of(ws) for ws in connections]
    deliver_now(members, payload, text, _stats)


_stats = DeliveryStats()


def deliver_now(
    members: Iterable[Member],
    payload: bytes,
    text: bool,
    stats: DeliveryStats,
    offset: str | None = None,
) -> None:
    """Deliver to ``members`` without yielding: from a thread, or for a few connections."""
    frame = frame_of(payload, text)
    running = _running_loop()
    for member in members:
        _write(member, frame, payload, text, stats, running, offset)


def _write(
    member: Member,
    frame: bytes,
    payload: bytes,
    text: bool,
    stats: DeliveryStats,
    running: asyncio.AbstractEventLoop | None,
    offset: str | None = None,
) -> None:
    if member.closing:
        return
    if member.pending is not None:
        # It catches up on history: live messages wait until the replay is sent.
        member.pending.append((payload, frame, text, offset))
        return
    ws = member.connection
    write = _writers.get(type(ws)) or _writer_for(type(ws), ws)
    loop = getattr(ws, "loop", None)
    if loop is None or loop is running:
        write(member, frame, payload, text, stats)
    else:
        # An asyncio connection is written to from its own event loop only.
        loop.call_soon_threadsafe(write, member, frame, payload, text, stats)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _checkpoint(running: asyncio.AbstractEventLoop | None) -> None:
    if running is not None:
        await asyncio.sleep(0)
    else:
        import trio

        await trio.lowlevel.checkpoint()


# Writers, one per kind of connection, chosen by class once.

_writers: dict[type[Any], Writer] = {}
# asyncio connection classes, with the name of their fragmented-send marker.
_fast: dict[type[Any], str] = {}


def _writer_for(cls: type[Any], ws: Any) -> Writer:
    writer: Writer
    asyncio_api = sys.modules.get("websockets.asyncio.connection")
    legacy_api = sys.modules.get("websockets.legacy.protocol")
    sync_api = sys.modules.get("websockets.sync.connection")
    trio_api = sys.modules.get("websockets.trio.connection")
    if asyncio_api is not None and issubclass(cls, asyncio_api.Connection):
        # websockets 14 and 15 name the marker of a fragmented send differently.
        fragmented = (
            "send_in_progress" if hasattr(ws, "send_in_progress") else ("fragmented_send_waiter")
        )
        writer = _asyncio_writer(fragmented)
        _fast[cls] = fragmented
    elif legacy_api is not None and issubclass(cls, legacy_api.WebSocketCommonProtocol):
        writer = _write_legacy
    elif sync_api is not None and issubclass(cls, sync_api.Connection):
        writer = _write_to_outbox(_ThreadOutbox)
    elif trio_api is not None and issubclass(cls, trio_api.Connection):
        writer = _write_to_outbox(_TrioOutbox)
    else:
        writer = _write_unsupported
    _writers[cls] = writer
    return writer


def _asyncio_writer(fragmented: str) -> Writer:
    def write(
        member: Member, frame: bytes, payload: bytes, text: bool, stats: DeliveryStats
    ) -> None:
        ws = member.connection
        protocol = ws.protocol
        if protocol.state is not OPEN:
            return
        if getattr(ws, fragmented) is not None:
            _drop(member, len(frame), stats, _FRAGMENTED)
            return
        transport = ws.transport
        if transport.get_write_buffer_size() + len(frame) > member.policy.max_buffer:
            _slow(member, len(frame), stats)
        elif protocol.extensions:
            # Compression: a frame of its own, from its compression context.
            (protocol.send_text if text else protocol.send_binary)(payload)
            ws.send_data()
        else:
            transport.write(frame)

    return write


def _write_legacy(
    member: Member, frame: bytes, payload: bytes, text: bool, stats: DeliveryStats
) -> None:
    ws = member.connection
    if ws.state is not OPEN:
        return
    if ws._fragmented_message_waiter is not None:
        _drop(member, len(frame), stats, _FRAGMENTED)
        return
    transport = ws.transport
    if transport.get_write_buffer_size() + len(frame) > member.policy.max_buffer:
        _slow(member, len(frame), stats)
    elif ws.extensions:
        ws.write_frame_sync(True, Opcode.TEXT if text else Opcode.BINARY, payload)
    else:
        transport.write(frame)


def _write_unsupported(
    member: Member, frame: bytes, payload: bytes, text: bool, stats: DeliveryStats
) -> None:
    cls = type(member.connection)
    if cls not in _warned:
        _warned.add(cls)
        logger.warning(
            "broadcast skips %s connections: only those of websockets' asyncio, legacy, "
            "threading and trio implementations",
            cls.__name__,
        )


_warned: set[type[Any]] = set()


def _write_to_outbox(outbox_class: type[_Outbox]) -> Writer:
    def write(
        member: Member, frame: bytes, payload: bytes, text: bool, stats: DeliveryStats
    ) -> None:
        outbox = member.outbox
        if outbox is None:
            outbox = member.outbox = outbox_class(member, stats)
        if not outbox.put(frame, payload, text):
            _slow(member, len(frame), stats)

    return write


# Slow consumers.


def _slow(member: Member, size: int, stats: DeliveryStats) -> None:
    policy = member.policy
    if policy.on_slow == "drop":
        _drop(member, size, stats, f"more than {policy.max_buffer} bytes wait for it")
        return
    member.closing = True
    stats.closed += 1
    logger.warning(
        "closing slow consumer %s on route %r: more than %d bytes wait for it",
        _describe(member),
        _route_name(member),
        policy.max_buffer,
    )
    _close(member)


def _drop(member: Member, size: int, stats: DeliveryStats, why: str) -> None:
    stats.dropped += 1
    stats.dropped_bytes += size
    if not member.warned:
        member.warned = True
        logger.warning(
            "dropping messages for %s on route %r: %s (logged once per connection)",
            _describe(member),
            _route_name(member),
            why,
        )


def _route_name(member: Member) -> str:
    return "-" if member.path is None else member.path.route.name


def _describe(member: Member) -> str:
    try:
        host, port = member.connection.remote_address[:2]
    except (AttributeError, OSError, TypeError, ValueError):
        return "a connection"
    return f"{host}:{port}"


def _close(member: Member) -> None:
    """Send the close frame if it can go, then abort after the grace period."""
    ws = member.connection
    code, reason = SLOW_CONSUMER
    grace = member.policy.close_grace
    asyncio_api = sys.modules.get("websockets.asyncio.connection")
    legacy_api = sys.modules.get("websockets.legacy.protocol")
    if asyncio_api is not None and isinstance(ws, asyncio_api.Connection):
        if ws.protocol.state is OPEN:
            ws.protocol.send_close(code, reason)
            ws.send_data()
        ws.loop.call_later(grace, _abort_transport, ws.transport)
    elif legacy_api is not None and isinstance(ws, legacy_api.WebSocketCommonProtocol):
        ws.fail_connection(code, reason)
        ws.loop.call_later(grace, _abort_transport, ws.transport)
    elif member.outbox is not None:
        member.outbox.close(code, reason, grace)


def _abort_transport(transport: asyncio.Transport) -> None:
    # Releases what the transport buffers; a closed transport ignores it.
    transport.abort()


def _abort_socket(sock: socket.socket) -> None:
    # A reset rather than a FIN: the kernel drops what waits to be sent.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# Outboxes, for connections whose writes block: threads and trio.


class _Outbox(abc.ABC):
    """Frames waiting for one connection, and the writer that sends them in order."""

    __slots__ = ("member", "queue", "size", "stats", "stopped")

    def __init__(self, member: Member, stats: DeliveryStats) -> None:
        self.member = member
        self.stats = stats
        # (frame, payload, text), or None for the close frame.
        self.queue: collections.deque[tuple[bytes, bytes, bool] | None] = collections.deque()
        self.size = 0
        self.stopped = False

    @abc.abstractmethod
    def put(self, frame: bytes, payload: bytes, text: bool) -> bool:
        """Queue a frame; False, queueing nothing, if it would go over the bound."""

    @abc.abstractmethod
    def close(self, code: int, reason: str, grace: float) -> None:
        """Queue the close frame after what waits, and abort after ``grace`` seconds."""

    @abc.abstractmethod
    def stop(self) -> None:
        """The connection's handler ended: the writer stops once the queue is sent."""


class _ThreadOutbox(_Outbox):
    __slots__ = ("condition", "thread")

    def __init__(self, member: Member, stats: DeliveryStats) -> None:
        super().__init__(member, stats)
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None

    def put(self, frame: bytes, payload: bytes, text: bool) -> bool:
        with self.condition:
            if self.stopped:
                return True
            if self.size + len(frame) > self.member.policy.max_buffer:
                return False
            self.queue.append((frame, payload, text))
            self.size += len(frame)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="websockets-routes writer", daemon=True
                )
                self.thread.start()
            self.condition.notify()
        return True

    def close(self, code: int, reason: str, grace: float) -> None:
        with self.condition:
            self.queue.append(None)
            self.condition.notify()
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        timer = threading.Timer(grace, self._abort)
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify()

    def _abort(self) -> None:
        ws = self.member.connection
        if ws.protocol.state is not State.CLOSED:
            _abort_socket(ws.socket)

    def _run(self) -> None:
        ws = self.member.connection
        while True:
            with self.condition:
                while not self.queue and not self.stopped:
                    self.condition.wait()
                if not self.queue:
                    return
                item = self.queue[0]
            try:
                with ws.protocol_mutex:
                    if ws.protocol.state is not OPEN:
                        pass
                    elif item is None:
                        ws.protocol.send_close(*SLOW_CONSUMER)
                        ws.send_data()
                    elif ws.send_in_progress:
                        _drop(
                            self.member,
                            len(item[0]),
                            self.stats,
                            "it is sending a fragmented message",
                        )
                    elif ws.protocol.extensions:
                        _frame, payload, text = item
                        (ws.protocol.send_text if text else ws.protocol.send_binary)(payload)
                        ws.send_data()
                    else:
                        ws.socket.sendall(item[0])
            except OSError:
                # The connection broke, or was aborted: nothing more can go.
                self.stop()
            with self.condition:
                self.queue.popleft()
                self.size -= 0 if item is None else len(item[0])


class _TrioOutbox(_Outbox):
    __slots__ = ("started", "wakeup")

    def __init__(self, member: Member, stats: DeliveryStats) -> None:
        super().__init__(member, stats)
        self.started = False
        self.wakeup: Any = None

    def put(self, frame: bytes, payload: bytes, text: bool) -> bool:
        if self.stopped:
            return True
        if self.size + len(frame) > self.member.policy.max_buffer:
            return False
        self.queue.append((frame, payload, text))
        self.size += len(frame)
        self._wake()
        return True

    def close(self, code: int, reason: str, grace: float) -> None:
        self.queue.append(None)
        self._wake()
        with contextlib.suppress(RuntimeError):  # the connection's nursery is closed
            self.member.connection.nursery.start_soon(self._abort, grace)

    def stop(self) -> None:
        self.stopped = True
        self._wake()

    def _wake(self) -> None:
        if not self.started:
            self.started = True
            try:
                self.member.connection.nursery.start_soon(self._run)
            except RuntimeError:  # the connection's nursery is closed
                self.stopped = True
                self.queue.clear()
                return
        if self.wakeup is not None:
            self.wakeup.set()

    async def _abort(self, grace: float) -> None:
        import trio

        await trio.sleep(grace)
        ws = self.member.connection
        if ws.protocol.state is not State.CLOSED:
            _abort_socket(ws.stream.socket)

    async def _run(self) -> None:
        import trio

        ws = self.member.connection
        while True:
            while not self.queue:
                if self.stopped:
                    return
                self.wakeup = trio.Event()
                await self.wakeup.wait()
            item = self.queue[0]
            try:
                if ws.protocol.state is not OPEN:
                    pass
                elif item is None:
                    ws.protocol.send_close(*SLOW_CONSUMER)
                    await ws.send_data()
                elif ws.send_in_progress is not None:
                    _drop(
                        self.member, len(item[0]), self.stats, "it is sending a fragmented message"
                    )
                elif ws.protocol.extensions:
                    _frame, payload, text = item
                    (ws.protocol.send_text if text else ws.protocol.send_binary)(payload)
                    await ws.send_data()
                else:
                    async with ws.send_lock:
                        await ws.stream.send_all(item[0])
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                self.stopped = True
            self.queue.popleft()
            self.size -= 0 if item is None else len(item[0])
