"""The ``websockets-routes`` command: serve a router, print its routes or its AsyncAPI.

::

    websockets-routes serve myapp:router --port 8765 --workers 4
    websockets-routes serve myapp:router --workers 4 --broadcast redis://127.0.0.1:6379/0
    websockets-routes serve myapp:router --ssl-certfile cert.pem --ssl-keyfile key.pem
    websockets-routes serve myapp:router --proxy-headers --forwarded-allow-ips 10.0.0.0/8
    websockets-routes serve myapp:router --reload
    websockets-routes routes myapp:router
    websockets-routes asyncapi myapp:router --format yaml --output asyncapi.yaml

``python -m websockets_routes`` is the same command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import ipaddress
import json
import logging
import multiprocessing
import os
import platform
import queue
import signal
import socket
import ssl
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, ClassVar

from websockets.frames import CloseCode
from websockets.version import version as websockets_version

from . import __version__
from ._route import Route
from ._router import Router
from ._running import LOOPS, Shutdown, loop_factory, run_in_loop
from ._running import serve_until_stopped as _serve_until_stopped
from .asyncio import RoutedConnection
from .broadcast import redact_url
from .exceptions import StartupError

__all__ = [
    "AccessLogConnection",
    "BadOption",
    "BadReference",
    "ForwardedConnection",
    "ServeOptions",
    "Shutdown",
    "TrustedProxies",
    "build_parser",
    "load_router",
    "main",
    "route_table",
    "serve_until_stopped",
]

logger = logging.getLogger("websockets_routes.cli")
access_logger = logging.getLogger("websockets_routes.access")

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
#: How long open connections get to close after a stop, by default (--graceful-timeout).
GRACEFUL_TIMEOUT = 30.0
#: What a worker gets on top of the graceful timeout for the router's shutdown,
#: before the supervisor forces it; then as long again before SIGKILL.
STOP_MARGIN = 10.0
FORCE_TIMEOUT = 5.0
#: A worker's exit code when the router's startup failed (uvicorn's too).
STARTUP_FAILED = 3
#: The proxies whose X-Forwarded-For counts, unless --forwarded-allow-ips says otherwise.
FORWARDED_ALLOW_IPS = "127.0.0.1,::1"


class BadReference(Exception):
    """A ``module:attribute`` reference that doesn't lead to a Router."""


class BadOption(Exception):
    """An option value that can't work, found before serving (``--broadcast``, say)."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``serve`` was asked to do; workers get a copy, so it must stay picklable."""

    reference: str
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 1
    log_level: str = "info"
    #: The broadcast backend's URL (``redis://host:6379/0``); None for in-process.
    broadcast: str | None = None
    #: PEM files of the TLS certificate (chain) and its private key; None for ws://.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    #: Read the client's address from X-Forwarded-For sent by these proxies.
    proxy_headers: bool = False
    forwarded_allow_ips: str = FORWARDED_ALLOW_IPS
    #: Restart the workers when a Python file under these directories changes.
    reload: bool = False
    reload_dirs: tuple[str, ...] = ()
    #: Seconds that open connections get to close on a stop; then handlers are cancelled.
    graceful_timeout: float = GRACEFUL_TIMEOUT
    #: The event loop: "asyncio", "uvloop", or "auto" (uvloop if installed).
    loop: str = "asyncio"
    #: Accept permessage-deflate when clients offer it (websockets' default).
    compression: bool = True

    @property
    def tls(self) -> bool:
        """Whether the server speaks wss://."""
        return self.ssl_certfile is not None


class _Fatal(Exception):
    """An error reported as one line on stderr, with exit code 1."""


# Finding the router.


def load_router(reference: str) -> Router:
    """Import ``module:attribute`` (dotted attributes allowed) and return that Router.

    The current directory comes first on ``sys.path``, so ``myapp:router`` finds
    ``./myapp.py`` as it would with ``python -c "import myapp"``.

    Raises:
        BadReference: If the reference is malformed, the module isn't found,
            an attribute is missing or the object isn't a Router. An error raised
            while the module runs (an ImportError included) propagates unchanged:
            it is a bug in that module, and its traceback says where.
    """
    module_name, colon, attributes = reference.partition(":")
    if not colon or not module_name or not attributes:
        raise BadReference(
            f"{reference!r} is not a 'module:attribute' reference, like 'myapp:router'"
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, "")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only "this module (or its package) doesn't exist" is a bad reference; a
        # missing import inside the module is the module's bug: show its traceback.
        if exc.name is None or not (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):
            raise
        raise BadReference(f"module {module_name!r} not found (from {reference!r})") from None
    where = module_name
    for attribute in attributes.split("."):
        if not hasattr(obj, attribute):
            owner = f"module {where!r}" if where == module_name else repr(where)
            raise BadReference(f"{owner} has no attribute {attribute!r} (from {reference!r})")
        obj = getattr(obj, attribute)
        where = f"{where}:{attribute}" if where == module_name else f"{where}.{attribute}"
    if not isinstance(obj, Router):
        raise BadReference(f"{reference} is {_describe(obj)}, not a websockets_routes.Router")
    return obj


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__qualname__}"
    kind = type(obj).__name__
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


# The route table.


def _qualname(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or repr(obj))


def route_table(router: Router) -> str:
    """The routes of ``router`` as aligned columns, one line per route, in declaration order."""
    header = ("PATTERN", "NAME", "KIND", "ENDPOINT", "SUBPROTOCOLS", "HOOKS")
    rows = [header]
    for route in router.routes:
        rows.append(
            (
                route.pattern,
                route.name,
                route.kind,
                _qualname(route.endpoint),
                ", ".join(route.subprotocols) if route.subprotocols else "-",
                ", ".join(_hook_names(route)) or "-",
            )
        )
    if len(rows) == 1:
        return "no routes"
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _hook_names(route: Route) -> list[str]:
    names = [_qualname(hook) for hook in route.hooks]
    if route.view_class is not None and callable(
        getattr(route.view_class, "process_request", None)
    ):
        names.append(f"{route.view_class.__qualname__}.process_request")
    return names


# The access log.


def _format_client(address: Any) -> str:
    try:
        host, port = address[:2]
    except (TypeError, ValueError):
        return "-"
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class AccessLogConnection(RoutedConnection):
    """A connection that logs one line on ``websockets_routes.access`` when it ends.

    The CLI serves with this class; routers served otherwise don't pay for it.
    A line reads ``127.0.0.1:50412 room /rooms/lobby 101 close=1000 in 152.3ms``,
    or ``127.0.0.1:50413 - /nope 404 in 1.2ms`` for a rejected handshake. The
    query string is left out: it often carries tokens. The same values are on
    the log record as ``client``, ``route``, ``path``, ``status``, ``close_code``
    and ``duration_ms`` for structured handlers.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # No request means no handshake to speak of (a port scan, a timeout).
        if self.request is None or self.response is None:
            return
        duration_ms = (time.monotonic() - self.started) * 1000
        route = self.routed_path.route.name if self.routed_path is not None else "-"
        path = self.request.path.partition("?")[0]
        status = self.response.status_code
        close_code = _close_code(self) if status == 101 else None
        client = _format_client(self.remote_address)
        outcome = f"{status} close={close_code}" if close_code is not None else str(status)
        access_logger.info(
            "%s %s %s %s in %.1fms",
            client,
            route,
            path,
            outcome,
            duration_ms,
            extra={
                "client": client,
                "route": route,
                "path": path,
                "status": status,
                "close_code": close_code,
                "duration_ms": duration_ms,
            },
        )


def _close_code(connection: RoutedConnection) -> int:
    # The code of whoever closed first: ours when the server closed (1000, 1001,
    # 1011...), the client's otherwise; 1006 if the TCP connection just dropped.
    protocol = connection.protocol
    if protocol.close_sent is not None and not protocol.close_rcvd_then_sent:
        return protocol.close_sent.code
    if protocol.close_rcvd is not None:
        return protocol.close_rcvd.code
    return 1006


# The client's address behind a proxy.


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address in ``text`` (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed (``--forwarded-allow-ips``).

    ``spec`` lists addresses and networks separated by commas
    (``"127.0.0.1,10.0.0.0/8"``), or is ``"*"`` to trust every peer.

    Raises:
        BadOption: If an entry is neither an IP address, a network nor ``*``.
    """

    def __init__(self, spec: str) -> None:
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        self.everyone = "*" in entries
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise BadOption(
                    f"--forwarded-allow-ips: {entry!r} is not an IP address or a network "
                    f"(like 10.0.0.0/8), nor *"
                ) from None

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        if self.everyone:
            return True
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded: Sequence[str]) -> str | None:
        """The client's address that a trusted ``peer`` forwarded, or None to keep the peer's.

        ``forwarded`` holds the values of the ``X-Forwarded-For`` headers, in
        order. Each proxy appends the address it got the request from, so the
        list is read from the right: the first address that isn't a trusted
        proxy is the client's. A malformed entry ends the walk: the peer's own
        address stays.
        """
        if not forwarded or not self.trusts(peer):
            return None
        hops = [hop for value in forwarded for hop in value.split(",")]
        found: str | None = None
        for hop in reversed(hops):
            ip = _ip(hop)
            if ip is None:
                return None
            found = str(ip)
            if not self.trusts(found):
                return found
        # Every address is a trusted proxy's: the first one is the closest to the client.
        return found


class ForwardedConnection(AccessLogConnection):
    """A connection whose ``remote_address`` is the client a trusted proxy forwarded.

    With ``--proxy-headers``: when the peer is one of :attr:`trusted`, the client
    named in ``X-Forwarded-For`` becomes ``remote_address``, as ``(host, 0)``,
    and so the access log's client and
    :attr:`RoutedPath.client <websockets_routes.RoutedPath.client>` for hooks
    and handlers. Headers from other peers are ignored.
    """

    #: The proxies to believe; the command line sets it on a subclass.
    trusted: ClassVar[TrustedProxies] = TrustedProxies(FORWARDED_ALLOW_IPS)
    _client: Any = None

    @property
    def remote_address(self) -> Any:
        """The forwarded client's ``(host, 0)``, or the peer's address."""
        if self._client is not None:
            return self._client
        peer = super().remote_address
        if self.request is None or not peer:
            return peer  # The headers aren't read yet: don't remember this.
        forwarded = self.trusted.client(peer[0], self.request.headers.get_all("X-Forwarded-For"))
        self._client = peer if forwarded is None else (forwarded, 0)
        return self._client


def _connection_class(options: ServeOptions) -> type[AccessLogConnection]:
    if not options.proxy_headers:
        return AccessLogConnection
    trusted = TrustedProxies(options.forwarded_allow_ips)
    return type("ForwardedConnection", (ForwardedConnection,), {"trusted": trusted})


# TLS.


def _ssl_context(options: ServeOptions) -> ssl.SSLContext | None:
    """The server's TLS context from --ssl-certfile and --ssl-keyfile; None without them.

    Raises:
        _Fatal: If a file can't be read or doesn't hold a matching certificate and key.
    """
    if options.ssl_certfile is None:
        return None
    for path in (options.ssl_certfile, options.ssl_keyfile):
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise _Fatal(f"cannot read {path}: {exc.strerror or exc}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(options.ssl_certfile, options.ssl_keyfile)
    except ssl.SSLError as exc:
        files = f"--ssl-certfile {options.ssl_certfile}"
        if options.ssl_keyfile is not None:
            files += f" --ssl-keyfile {options.ssl_keyfile}"
        what = str(exc.reason or exc).lower().replace("_", " ")
        raise _Fatal(f"{files}: not a PEM certificate with its private key ({what})") from None
    return context


# Serving.


def _format_url(host: str, port: int, *, tls: bool = False) -> str:
    scheme = "wss" if tls else "ws"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _example_path(router: Router) -> str:
    websockets = [route.pattern for route in router.routes if route.kind == "websocket"]
    static = [pattern for pattern in websockets if "{" not in pattern]
    return (static or websockets or ["/"])[0]


def _announce(options: ServeOptions, router: Router, host: str, port: int) -> None:
    url = _format_url(host, port, tls=options.tls)
    processes = f"{options.workers} workers" if options.workers > 1 else "1 process"
    if options.broadcast is not None:
        processes += f", broadcast through {redact_url(options.broadcast)}"
    if options.reload:
        processes += ", restarted when a .py file changes"
    if loop_factory(options.loop) is not None:
        processes += ", uvloop"
    print(
        f"websockets-routes: serving {options.reference} on {url} ({processes}, Ctrl-C to stop); "
        f"connect with: python -m websockets {url}{_example_path(router)}",
        flush=True,
    )


async def serve_until_stopped(
    router: Router,
    host: str,
    port: int,
    *,
    on_ready: Callable[[int], None],
    reuse_port: bool = False,
    shutdown: Shutdown | None = None,
    broadcast: str | None = None,
    ssl: ssl.SSLContext | None = None,
    connection_class: type[RoutedConnection] = AccessLogConnection,
    graceful_timeout: float | None = GRACEFUL_TIMEOUT,
    compression: bool = True,
) -> None:
    """Serve ``router`` with the access log until SIGINT, SIGTERM or ``shutdown``.

    ``on_ready`` receives the bound port. The router's startup runs before it
    listens (:meth:`Router.lifespan`). Without ``shutdown``, a first SIGINT or
    SIGTERM stops the server gracefully and a second one forces it; with one,
    its requests do (signals are the caller's business). Stopping closes open
    connections with 1001 (or the code of the request), waits up to
    ``graceful_timeout`` seconds for their handlers, cancels those still
    running, then runs the router's shutdown.

    With ``broadcast``, a backend URL such as ``redis://host:6379/0``, the router
    uses that backend (:meth:`Router.use_broadcast`): it is started before
    ``on_ready`` (it keeps retrying in the background if it isn't reachable yet)
    and closed after the last connection. Without ``compression``, the server
    refuses permessage-deflate (websockets' ``compression=None``).

    Raises:
        StartupError: If the router's startup failed; nothing listened.
    """
    if shutdown is None:
        shutdown = Shutdown()
        signals: contextlib.AbstractContextManager[None] = shutdown.on_signals()
    else:
        signals = contextlib.nullcontext()
    with signals:
        if broadcast is not None:
            router.use_broadcast(broadcast)
            # Ready means hearing the other processes: no message is lost to a
            # client that connects right after the announcement.
            await router.broadcaster.start()
        extra: dict[str, Any] = {"reuse_port": True} if reuse_port else {}
        if ssl is not None:
            extra["ssl"] = ssl
        if not compression:
            extra["compression"] = None
        try:
            await _serve_until_stopped(
                router,
                host,
                port,
                shutdown=shutdown,
                graceful_timeout=graceful_timeout,
                on_ready=lambda server: on_ready(server.sockets[0].getsockname()[1]),
                create_connection=connection_class,
                **extra,
            )
        except OSError as exc:
            raise _Fatal(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        finally:
            if broadcast is not None:
                await router.broadcaster.aclose()


def _startup_failed(error: StartupError) -> _Fatal:
    # The traceback of the hook that failed, then one line on what happened.
    logger.error("the router's startup failed; nothing was served", exc_info=error.__cause__)
    return _Fatal(str(error))


def _serve_one(options: ServeOptions, router: Router) -> int:
    def on_ready(bound: int) -> None:
        _announce(options, router, options.host, bound)

    try:
        run_in_loop(
            serve_until_stopped(
                router,
                options.host,
                options.port,
                on_ready=on_ready,
                broadcast=options.broadcast,
                ssl=_ssl_context(options),
                connection_class=_connection_class(options),
                graceful_timeout=options.graceful_timeout,
                compression=options.compression,
            ),
            options.loop,
        )
    except StartupError as error:
        raise _startup_failed(error) from None
    return 0


# Workers.
#
# Every worker listens on its own socket bound to the same address with
# SO_REUSEPORT, and the kernel spreads new connections across them (Linux hashes
# the connection's 4-tuple). The supervisor doesn't listen: it binds one
# SO_REUSEPORT socket without listen() to pick the port when --port is 0 and to
# hold it, so that no other user's program can take it while workers start (or
# restart, with --reload). A bound socket that doesn't listen gets no
# connections, so the kernel only picks among the workers.
#
# The supervisor tells workers what to do through a pipe: "stop" (close with
# 1001), "restart" (close with 1012, for --reload) and "force" (cancel what the
# stop waits for). Ctrl-C reaches every process of the terminal's group, so
# workers ignore SIGINT and leave it to the supervisor; SIGTERM stops a worker
# gracefully, whoever sends it.


def _worker(options: ServeOptions, host: str, port: int, channel: Connection) -> None:
    """A worker process: serve until the supervisor says stop, or goes away."""
    # Until the event loop handles it, SIGTERM (from the supervisor stopping
    # early) ends the worker quietly.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _configure_logging(options.log_level)
    router = load_router(options.reference)
    try:
        run_in_loop(_run_worker(router, options, host, port, channel), options.loop)
    except StartupError as error:
        logger.error("%s; worker %d exits", error, os.getpid(), exc_info=error.__cause__)
        sys.exit(STARTUP_FAILED)


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


async def _run_worker(
    router: Router, options: ServeOptions, host: str, port: int, channel: Connection
) -> None:
    loop = asyncio.get_running_loop()
    shutdown = Shutdown()

    def on_message() -> None:
        try:
            message = channel.recv()
        except (EOFError, OSError):
            # The supervisor closed its end: it died.
            loop.remove_reader(channel.fileno())
            if not shutdown.requested.done():
                logger.warning("supervisor is gone; worker %d stopping", os.getpid())
            shutdown.request()
            return
        if message == "restart":
            shutdown.request(CloseCode.SERVICE_RESTART, "service restart")
        elif message == "force":
            shutdown.force()
        else:
            shutdown.request()

    def on_ready(bound: int) -> None:
        channel.send(os.getpid())

    loop.add_reader(channel.fileno(), on_message)
    # Once serving ends, a late SIGTERM must not end the worker with a traceback.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with shutdown.on_signals(shutdown.request, (signal.SIGTERM,)):
            await serve_until_stopped(
                router,
                host,
                port,
                on_ready=on_ready,
                reuse_port=True,
                shutdown=shutdown,
                broadcast=options.broadcast,
                ssl=_ssl_context(options),
                connection_class=_connection_class(options),
                graceful_timeout=options.graceful_timeout,
                compression=options.compression,
            )
    finally:
        with contextlib.suppress(OSError, ValueError):
            loop.remove_reader(channel.fileno())


def _reserve_port(host: str, port: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Same options as the workers' sockets, so that they may share the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code == STARTUP_FAILED:
        return "failed to start (the router's startup raised)"
    return f"exited with code {code}"


def _ignore(signum: int, frame: Any) -> None:
    pass


def _drain(wake: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := wake.recv(512):
            data += chunk
    return data


def _tell(channel: Connection, message: str) -> None:
    # A worker that already exited has closed its end.
    with contextlib.suppress(OSError):
        channel.send(message)


class _Watcher:
    """Watches directories for changed Python files in a thread (``--reload``).

    The supervisor waits on :attr:`wake` with its other file descriptors.
    """

    def __init__(self, directories: Sequence[str]) -> None:
        try:
            import watchfiles
        except ImportError as exc:
            raise _Fatal(
                f"--reload needs watchfiles ({exc}): pip install 'websockets-routes[reload]>=1.0'"
            ) from None
        self.directories = [Path(directory).resolve() for directory in directories]
        for directory in self.directories:
            if not directory.is_dir():
                raise BadOption(f"--reload-dir: {directory} is not a directory")
        self.wake, self._notify = socket.socketpair()
        self.wake.setblocking(False)
        self._changes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(watchfiles,), name="websockets-routes reload", daemon=True
        )
        self._thread.start()

    def _watch(self, watchfiles: types.ModuleType) -> None:
        for changes in watchfiles.watch(
            *self.directories,
            watch_filter=watchfiles.PythonFilter(),
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            for _, path in changes:
                self._changes.put(path)
            with contextlib.suppress(OSError):
                self._notify.send(b"x")

    def changed(self) -> list[str]:
        """The files changed since the last call, relative to the current directory."""
        _drain(self.wake)
        paths: set[str] = set()
        with contextlib.suppress(queue.Empty):
            while True:
                paths.add(self._changes.get_nowait())
        return sorted(os.path.relpath(path) for path in paths)

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join(FORCE_TIMEOUT)
        self.wake.close()
        self._notify.close()


class _Supervisor:
    """Starts the workers, restarts them on changes (``--reload``), and stops them."""

    def __init__(
        self, options: ServeOptions, router: Router, address: str, port: int, wake: socket.socket
    ) -> None:
        self.options = options
        self.router = router
        self.address = address
        self.port = port
        self.wake = wake
        self.context = multiprocessing.get_context("spawn")
        #: The live workers, by the supervisor's end of their pipe.
        self.workers: dict[Connection, BaseProcess] = {}
        self.starting: set[Connection] = set()
        self.announced = False
        #: Set by the first signal; a second one forces the stop.
        self.stopping = False
        self.forced = False
        self.watcher = _Watcher(options.reload_dirs or (".",)) if options.reload else None

    def close(self) -> None:
        """Release what the supervisor holds (the workers stop before)."""
        if self.watcher is not None:
            self.watcher.close()
        for channel in self.workers:
            channel.close()

    def start_workers(self) -> None:
        """Start workers until there are as many as asked for."""
        while len(self.workers) < self.options.workers:
            ours, theirs = self.context.Pipe()
            process = self.context.Process(
                target=_worker,
                args=(self.options, self.address, self.port, theirs),
                name="websockets-routes worker",
            )
            process.start()
            theirs.close()
            self.workers[ours] = process
            self.starting.add(ours)
            logger.info("started worker %d", process.pid)

    def run(self) -> int:
        """Supervise until a signal, or a worker's death without --reload; the exit code."""
        self.start_workers()
        watched = [self.watcher.wake] if self.watcher is not None else []
        while True:
            sentinels = {process.sentinel: channel for channel, process in self.workers.items()}
            ready = wait([self.wake, *watched, *self.starting, *sentinels])
            if self.wake in ready:
                self.on_signal()
                return self.stop_workers("stop")
            for channel in self.starting & set(ready):
                self.starting.discard(channel)
                try:
                    channel.recv()
                except (EOFError, OSError):
                    continue  # The worker died; its sentinel says how.
                if not self.starting:
                    self.on_all_ready()
            for sentinel, channel in sentinels.items():
                if sentinel in ready and self.on_exit(channel):
                    return self.stop_workers("stop") or 1
            if self.watcher is not None and self.watcher.wake in ready:
                changed = self.watcher.changed()
                if changed and self.restart(changed):
                    return self.stop_workers("stop")

    def on_signal(self) -> bool:
        """Note a signal: the first stops, the next one forces the stop; whether it did."""
        names = ", ".join(sorted({signal.Signals(s).name for s in _drain(self.wake)}))
        if not self.stopping:
            self.stopping = True
            logger.info("received %s; stopping %d workers", names or "a signal", len(self.workers))
        elif not self.forced:
            self.forced = True
            logger.warning("received %s again; stopping the workers now", names or "a signal")
            for channel in self.workers:
                _tell(channel, "force")
            return True
        return False

    def on_all_ready(self) -> None:
        if not self.announced:
            self.announced = True
            _announce(self.options, self.router, self.address, self.port)
        else:
            logger.info("restarted %d workers", len(self.workers))

    def on_exit(self, channel: Connection) -> bool:
        """Forget a worker that exited; whether that stops the server (it does without --reload)."""
        process = self.workers.pop(channel)
        self.starting.discard(channel)
        channel.close()
        # The sentinel may be ready a moment before the exit status is.
        process.join(FORCE_TIMEOUT)
        if self.watcher is not None:
            logger.error(
                "worker %d %s; waiting for a change to start it again",
                process.pid,
                _describe_exit(process.exitcode),
            )
            return False
        logger.critical(
            "worker %d %s; stopping the other workers (no worker is restarted)",
            process.pid,
            _describe_exit(process.exitcode),
        )
        return True

    def restart(self, changed: list[str]) -> bool:
        """Replace every worker; whether a signal during the restart means stop instead."""
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        logger.info("%s changed; restarting the workers", shown)
        self.stop_workers("restart")
        if self.stopping:
            return True
        self.start_workers()
        return False

    def stop_workers(self, message: str) -> int:
        """Tell every worker to stop and wait, forcing then killing laggards; 1 if one failed.

        A signal while waiting forces the stop (after a first one stopped).
        """
        workers = dict(self.workers)
        for channel in workers:
            _tell(channel, message)
        deadline = time.monotonic() + self.options.graceful_timeout + STOP_MARGIN
        failed = 0
        while True:
            # Polled once: a worker that exits right after its poll still wakes wait().
            alive = [process for process in workers.values() if process.exitcode is None]
            if not alive:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if not self.forced:
                    self.forced = True
                    logger.warning("workers still running; stopping them now")
                    for channel in workers:
                        _tell(channel, "force")
                    deadline = time.monotonic() + FORCE_TIMEOUT
                    continue
                for process in alive:
                    logger.critical("worker %d didn't stop; killing it", process.pid)
                    process.kill()
                    process.join()
                    failed = 1
                break
            sentinels = [process.sentinel for process in alive]
            if self.wake in wait([self.wake, *sentinels], remaining) and self.on_signal():
                deadline = time.monotonic() + FORCE_TIMEOUT
        for channel, process in workers.items():
            if process.exitcode != 0:
                failed = 1
            self.workers.pop(channel, None)
            self.starting.discard(channel)
            channel.close()
        self.forced = False
        return failed


def _serve_workers(options: ServeOptions, router: Router) -> int:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise _Fatal("--workers and --reload need SO_REUSEPORT, which this platform lacks")
    try:
        reserved = _reserve_port(options.host, options.port)
    except OSError as exc:
        raise _Fatal(
            f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
        ) from None
    address, port = reserved.getsockname()[:2]

    # Signals wake the supervisor through this socket pair; the handlers only
    # need to exist so that SIGINT doesn't raise KeyboardInterrupt.
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    previous_fd = signal.set_wakeup_fd(wake_w.fileno())
    previous = {
        signum: signal.signal(signum, _ignore) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    supervisor: _Supervisor | None = None
    exit_code = 1
    try:
        supervisor = _Supervisor(options, router, address, port, wake_r)
        exit_code = supervisor.run()
    finally:
        if supervisor is not None:
            # Whatever went wrong in the supervisor, no worker outlives it.
            exit_code = supervisor.stop_workers("stop") or exit_code
            supervisor.close()
        reserved.close()
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        wake_r.close()
        wake_w.close()
    if exit_code:
        logger.critical("stopped with errors")
    return exit_code


def _broadcasting(router: Router) -> str | None:
    """Where the app calls broadcast, if it does with the in-process backend: a qualified name.

    It looks at the functions and classes of the modules that declare routes,
    for a use of ``broadcast``, ``broadcast_group`` or ``broadcaster``.
    """
    served = router._broadcaster
    if served is not None and served.backend.remote:
        return None  # The app chose a shared backend itself.
    names = {"broadcast", "broadcast_group", "broadcaster"}
    modules = {getattr(route.endpoint, "__module__", None) for route in router.routes}
    for module_name in sorted(name for name in modules if name):
        module = sys.modules.get(module_name)
        for obj in vars(module).values() if module is not None else ():
            if getattr(obj, "__module__", None) != module_name:
                continue
            functions = [obj] if inspect.isfunction(obj) else []
            if isinstance(obj, type):
                functions = [f for f in vars(obj).values() if inspect.isfunction(f)]
            for function in functions:
                if names & _code_names(function.__code__):
                    return f"{module_name}.{function.__qualname__}"
    return None


def _code_names(code: types.CodeType) -> set[str]:
    # Names used in a function and in the functions nested in it.
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_names(const)
    return found


def _warn_if_split(options: ServeOptions, router: Router) -> None:
    # Several workers that each broadcast to their own connections split rooms
    # between them without a word: say so before they start.
    if options.workers < 2 or (options.broadcast or "memory://") != "memory://":
        return
    where = _broadcasting(router)
    if where is not None:
        logger.warning(
            "%s broadcasts (in %s) with the in-process backend: each of the %d workers "
            "reaches only its own connections, so clients on different workers miss each "
            "other's messages; share a backend with --broadcast redis://host:6379/0",
            options.reference,
            where,
            options.workers,
        )


# The command line.


def _configure_logging(level_name: str) -> None:
    level = getattr(logging, level_name.upper())
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    # websockets logs "connection open/rejected/closed" at INFO; the access log
    # already says all of it, once per connection.
    logging.getLogger("websockets").setLevel(level if level <= logging.DEBUG else logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each command is a subparser with its own options."""
    parser = argparse.ArgumentParser(
        prog="websockets-routes",
        description="Serve a websockets-routes Router, or print its routes or its AsyncAPI.",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a router",
        description="Serve a router with websockets' asyncio server.",
    )
    serve.add_argument("reference", metavar="module:router", help="where the Router is")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8765, help="port, 0 to 65535; 0 picks a free one (8765)"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes sharing the port with SO_REUSEPORT (1)",
    )
    serve.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default="info",
        help="logging level, in any case (info)",
    )
    serve.add_argument(
        "--broadcast",
        metavar="URL",
        help="broadcast backend of every worker: redis://host:6379/0 (in-process)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=_seconds,
        default=GRACEFUL_TIMEOUT,
        metavar="SECONDS",
        help="on a stop, how long open connections get to close before their handlers are "
        f"cancelled; a second Ctrl-C cuts it short ({GRACEFUL_TIMEOUT:g})",
    )
    serve.add_argument(
        "--loop",
        type=str.lower,
        choices=LOOPS,
        default="asyncio",
        help="event loop: uvloop needs websockets-routes[uvloop]; auto picks it if "
        "installed (asyncio)",
    )
    serve.add_argument(
        "--no-compression",
        dest="compression",
        action="store_false",
        help="refuse permessage-deflate: about 3x less memory per idle connection, for "
        "servers that mostly broadcast (compression accepted when offered)",
    )
    tls = serve.add_argument_group("TLS (wss://)")
    tls.add_argument("--ssl-certfile", metavar="FILE", help="PEM certificate (chain)")
    tls.add_argument(
        "--ssl-keyfile", metavar="FILE", help="PEM private key (in the certificate file)"
    )
    proxies = serve.add_argument_group("behind a proxy")
    proxies.add_argument(
        "--proxy-headers",
        action="store_true",
        help="take the client's address from X-Forwarded-For, if a trusted proxy sent it",
    )
    proxies.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        default=os.environ.get("FORWARDED_ALLOW_IPS", FORWARDED_ALLOW_IPS),
        help="trusted proxies: addresses and networks separated by commas, or * for any "
        f"($FORWARDED_ALLOW_IPS, else {FORWARDED_ALLOW_IPS})",
    )
    development = serve.add_argument_group("development")
    development.add_argument(
        "--reload",
        action="store_true",
        help="restart the workers when a .py file changes; needs websockets-routes[reload]",
    )
    development.add_argument(
        "--reload-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to watch with --reload, repeatable (the current directory)",
    )
    serve.set_defaults(run=_command_serve)

    routes = commands.add_parser(
        "routes",
        help="print the route table",
        description="Print the route table of a router, in declaration order.",
    )
    routes.add_argument("reference", metavar="module:router", help="where the Router is")
    routes.set_defaults(run=_command_routes)

    asyncapi = commands.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document",
        description="Write the AsyncAPI 3.0 document of a router as JSON or YAML.",
    )
    asyncapi.add_argument("reference", metavar="module:router", help="where the Router is")
    asyncapi.add_argument(
        "--format",
        choices=("json", "yaml"),
        help="output format (from the --output suffix: .yaml or .yml for YAML; else json)",
    )
    asyncapi.add_argument("--output", metavar="FILE", help="write to FILE (stdout)")
    asyncapi.add_argument("--title", default="WebSocket API", help="info.title (WebSocket API)")
    asyncapi.add_argument(
        "--api-version", default="1.0.0", metavar="VERSION", help="info.version (1.0.0)"
    )
    asyncapi.set_defaults(run=_command_asyncapi)
    return parser


def _version() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"websockets-routes {__version__} (websockets {websockets_version}, {python})"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0, not {text}")
    return value


def _command_serve(args: argparse.Namespace) -> int:
    # A new option is a parser argument, a ServeOptions field, and its use in
    # serve_until_stopped (which every worker runs).
    options = ServeOptions(
        reference=args.reference,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        broadcast=args.broadcast,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        reload=args.reload,
        reload_dirs=tuple(args.reload_dir),
        graceful_timeout=args.graceful_timeout,
        loop=args.loop,
        compression=args.compression,
    )
    _check_options(options)
    _configure_logging(options.log_level)
    router = load_router(options.reference)
    try:
        router.check_handlers(asynchronous=True)
    except TypeError as exc:
        raise _Fatal(str(exc)) from None
    _warn_if_split(options, router)
    if options.workers > 1 or options.reload:
        return _serve_workers(options, router)
    return _serve_one(options, router)


def _check_options(options: ServeOptions) -> None:
    """Fail on what workers would only find out later: one line, before anything starts."""
    if not 0 <= options.port <= 65535:
        raise BadOption(f"--port: {options.port} is not a port; use 0 to 65535 (0 picks one)")
    if options.ssl_keyfile is not None and options.ssl_certfile is None:
        raise BadOption("--ssl-keyfile needs --ssl-certfile, the certificate that goes with it")
    if options.broadcast is not None:
        _check_broadcast(options.broadcast)
    if options.proxy_headers:
        TrustedProxies(options.forwarded_allow_ips)
    if options.reload_dirs and not options.reload:
        raise BadOption("--reload-dir has an effect only with --reload")
    try:
        loop_factory(options.loop)
    except ImportError:
        raise _Fatal(
            "--loop uvloop needs uvloop: pip install 'websockets-routes[uvloop]>=1.0', "
            "or leave --loop out to serve on asyncio's event loop"
        ) from None
    _ssl_context(options)


def _check_broadcast(url: str) -> None:
    # Workers would only find out at their first connection: check the URL here.
    from .broadcast import backend_from_url

    try:
        backend_from_url(url)
    except ValueError as exc:
        raise BadOption(f"--broadcast: {exc}") from None
    except ImportError as exc:
        raise _Fatal(f"--broadcast: {exc}") from None


def _command_routes(args: argparse.Namespace) -> int:
    print(route_table(load_router(args.reference)))
    return 0


def _command_asyncapi(args: argparse.Namespace) -> int:
    output: str | None = args.output
    fmt: str | None = args.format
    if fmt is None:
        fmt = "yaml" if output is not None and output.endswith((".yaml", ".yml")) else "json"
    # Look for PyYAML first: a missing one is the error to report, not a late one.
    yaml: Any = None
    if fmt == "yaml":
        try:
            yaml = importlib.import_module("yaml")  # untyped without types-PyYAML
        except ImportError:
            raise _Fatal("--format yaml needs PyYAML: pip install pyyaml") from None
    router = load_router(args.reference)
    document = router.asyncapi(title=args.title, version=args.api_version)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if yaml is not None:
        # Through JSON, so that schemas shared in the dict aren't YAML anchors.
        text = yaml.safe_dump(json.loads(text), sort_keys=False, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise _Fatal(f"cannot write {output}: {exc.strerror or exc}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (BadReference, BadOption) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except _Fatal as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
