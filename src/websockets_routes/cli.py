"""The ``websockets-routes`` command: serve a router, print its routes or its AsyncAPI.

::

    websockets-routes serve myapp:router --port 8765 --workers 4
    websockets-routes serve myapp:router --workers 4 --broadcast redis://127.0.0.1:6379/0
    websockets-routes routes myapp:router
    websockets-routes asyncapi myapp:router --format yaml --output asyncapi.yaml

``python -m websockets_routes`` is the same command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from ._route import Route
from ._router import Router
from .asyncio import RoutedConnection
from .broadcast import redact_url

__all__ = [
    "AccessLogConnection",
    "BadOption",
    "BadReference",
    "ServeOptions",
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
#: How long a worker gets to close its connections after SIGTERM before SIGKILL.
SHUTDOWN_TIMEOUT = 30.0


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


class AccessLogConnection(RoutedConnection):
    """A connection that logs one line on ``websockets_routes.access`` when it ends.

    The CLI serves with this class; routers served otherwise don't pay for it.
    A line reads ``127.0.0.1:50412 room /rooms/lobby 101 close=1000 in 152.3ms``,
    or ``127.0.0.1:50413 - /nope 404 in 1.2ms`` for a rejected handshake. The
    query string is left out: it often carries tokens. The same values are on
    the log record as ``route``, ``path``, ``status``, ``close_code`` and
    ``duration_ms`` for structured handlers.
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
        try:
            client = "%s:%s" % self.remote_address[:2]  # noqa: UP031
        except (TypeError, ValueError):
            client = "-"
        outcome = f"{status} close={close_code}" if close_code is not None else str(status)
        access_logger.info(
            "%s %s %s %s in %.1fms",
            client,
            route,
            path,
            outcome,
            duration_ms,
            extra={
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


# Serving.


def _format_url(host: str, port: int) -> str:
    return f"ws://[{host}]:{port}" if ":" in host else f"ws://{host}:{port}"


def _example_path(router: Router) -> str:
    websockets = [route.pattern for route in router.routes if route.kind == "websocket"]
    static = [pattern for pattern in websockets if "{" not in pattern]
    return (static or websockets or ["/"])[0]


def _announce(options: ServeOptions, router: Router, host: str, port: int) -> None:
    url = _format_url(host, port)
    processes = f"{options.workers} workers" if options.workers > 1 else "1 process"
    if options.broadcast is not None:
        processes += f", broadcast through {redact_url(options.broadcast)}"
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
    stop: asyncio.Future[None] | None = None,
    broadcast: str | None = None,
) -> None:
    """Serve ``router`` with the access log until SIGINT, SIGTERM or ``stop``.

    ``on_ready`` receives the bound port. Shutting down closes open connections
    with 1001 (going away) and waits for their handlers, as websockets'
    ``Server.close()`` does.

    With ``broadcast``, a backend URL such as ``redis://host:6379/0``, the router
    uses that backend (:meth:`Router.use_broadcast`): it is started before
    ``on_ready`` (it keeps retrying in the background if it isn't reachable yet)
    and closed after the last connection.
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = loop.create_future()
    stopping = stop

    def request_stop() -> None:
        if not stopping.done():
            stopping.set_result(None)

    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        loop.add_signal_handler(signum, request_stop)
    try:
        if broadcast is not None:
            router.use_broadcast(broadcast)
            # Ready means hearing the other processes: no message is lost to a
            # client that connects right after the announcement.
            await router.broadcaster.start()
        extra: dict[str, Any] = {"reuse_port": True} if reuse_port else {}
        try:
            try:
                server = await router.serve(
                    host, port, create_connection=AccessLogConnection, **extra
                )
            except OSError as exc:
                raise _Fatal(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
            try:
                on_ready(server.sockets[0].getsockname()[1])
                await stopping
            finally:
                server.close()
                await server.wait_closed()
        finally:
            if broadcast is not None:
                await router.broadcaster.aclose()
    finally:
        for signum in signals:
            # asyncio resets to the default; put back what was there before.
            loop.remove_signal_handler(signum)
            signal.signal(signum, previous[signum])


def _serve_one(options: ServeOptions, router: Router) -> int:
    def on_ready(bound: int) -> None:
        _announce(options, router, options.host, bound)

    asyncio.run(
        serve_until_stopped(
            router, options.host, options.port, on_ready=on_ready, broadcast=options.broadcast
        )
    )
    return 0


# Workers.
#
# Every worker listens on its own socket bound to the same address with
# SO_REUSEPORT, and the kernel spreads new connections across them (Linux hashes
# the connection's 4-tuple). The supervisor doesn't listen: it binds one
# SO_REUSEPORT socket without listen() to pick the port when --port is 0 and to
# hold it, so that no other user's program can take it while workers start. A
# bound socket that doesn't listen gets no connections, so the kernel only picks
# among the workers. (Passing one listening socket down instead would make the
# workers compete in accept() on a single queue: that works, but isn't what
# SO_REUSEPORT is for.)


def _worker(options: ServeOptions, host: str, port: int, channel: Connection) -> None:
    """A worker process: serve until SIGINT/SIGTERM or until the supervisor goes away."""
    # Until the event loop handles it, SIGTERM (from the supervisor stopping
    # early) ends the worker quietly, like SIGINT.
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        _configure_logging(options.log_level)
        router = load_router(options.reference)
        asyncio.run(_run_worker(router, host, port, channel, options.broadcast))
    except KeyboardInterrupt:
        pass


def _exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


async def _run_worker(
    router: Router, host: str, port: int, channel: Connection, broadcast: str | None
) -> None:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def supervisor_gone() -> None:
        # The supervisor never writes: readable means it closed its end (died).
        loop.remove_reader(channel.fileno())
        if not stop.done():
            logger.warning("supervisor is gone; worker %d stopping", os.getpid())
            stop.set_result(None)

    loop.add_reader(channel.fileno(), supervisor_gone)
    # Once serving ends, more signals must not kill the worker with a non-zero
    # status: Ctrl-C reaches the whole process group, then the supervisor
    # forwards SIGTERM too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def on_ready(bound: int) -> None:
        channel.send(os.getpid())

    await serve_until_stopped(
        router, host, port, on_ready=on_ready, reuse_port=True, stop=stop, broadcast=broadcast
    )


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
    return f"exited with code {code}"


def _serve_workers(options: ServeOptions, router: Router) -> int:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise _Fatal("--workers needs SO_REUSEPORT, which this platform lacks")
    try:
        reserved = _reserve_port(options.host, options.port)
    except OSError as exc:
        raise _Fatal(
            f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
        ) from None
    address, port = reserved.getsockname()[:2]
    workers = options.workers

    # Signals wake the loop below through this socket pair; the handlers only
    # need to exist so that SIGINT doesn't raise KeyboardInterrupt.
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    previous_fd = signal.set_wakeup_fd(wake_w.fileno())
    previous = {
        signum: signal.signal(signum, _ignore) for signum in (signal.SIGINT, signal.SIGTERM)
    }

    context = multiprocessing.get_context("spawn")
    processes: dict[int, BaseProcess] = {}
    channels: dict[Connection, BaseProcess] = {}
    exit_code = 0
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process: BaseProcess = context.Process(
                target=_worker,
                args=(options, address, port, theirs),
                name="websockets-routes worker",
            )
            process.start()
            theirs.close()
            assert process.pid is not None
            processes[process.pid] = process
            channels[ours] = process
            logger.info("started worker %d", process.pid)

        waiting = set(channels)
        started = 0
        stopping = False
        while not stopping:
            sentinels = {p.sentinel: p for p in processes.values()}
            ready = wait([wake_r, *waiting, *sentinels])
            if wake_r in ready:
                signals = _drain(wake_r)
                names = ", ".join(sorted({signal.Signals(s).name for s in signals}))
                logger.info("received %s; stopping %d workers", names or "a signal", workers)
                break
            for channel in waiting & set(ready):
                waiting.discard(channel)
                try:
                    channel.recv()
                except (EOFError, OSError):
                    continue  # The worker died; its sentinel says how.
                started += 1
                if started == workers:
                    _announce(options, router, address, port)
            for sentinel, process in sentinels.items():
                if sentinel in ready:
                    # The sentinel may be ready a moment before the exit status is.
                    process.join(1.0)
                    logger.critical(
                        "worker %d %s; stopping the other workers (no worker is restarted)",
                        process.pid,
                        _describe_exit(process.exitcode),
                    )
                    exit_code = 1
                    stopping = True
    finally:
        exit_code = _stop_workers(list(processes.values())) or exit_code
        for channel in channels:
            channel.close()
        reserved.close()
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        wake_r.close()
        wake_w.close()
    if exit_code:
        logger.critical("stopped with errors")
    return exit_code


def _ignore(signum: int, frame: Any) -> None:
    pass


def _drain(wake: socket.socket) -> list[int]:
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := wake.recv(512):
            data += chunk
    return list(data)


def _stop_workers(processes: list[BaseProcess]) -> int:
    """SIGTERM every live worker, wait, SIGKILL stragglers; 1 if any didn't exit 0."""
    for process in processes:
        if process.exitcode is None and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT
    failed = 0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            logger.critical(
                "worker %d didn't stop in %.0fs; killing it", process.pid, SHUTDOWN_TIMEOUT
            )
            process.kill()
            process.join()
            failed = 1
        elif process.exitcode != 0:
            failed = 1
    return failed


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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a router",
        description="Serve a router with websockets' asyncio server.",
    )
    serve.add_argument("reference", metavar="module:router", help="where the Router is")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (8765)")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes sharing the port with SO_REUSEPORT (1)",
    )
    serve.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="logging level (info)"
    )
    serve.add_argument(
        "--broadcast",
        metavar="URL",
        help="broadcast backend of every worker: redis://host:6379/0 (in-process)",
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
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
    )
    if options.broadcast is not None:
        _check_broadcast(options.broadcast)
    _configure_logging(options.log_level)
    router = load_router(options.reference)
    try:
        router.check_handlers(asynchronous=True)
    except TypeError as exc:
        raise _Fatal(str(exc)) from None
    if options.workers > 1:
        return _serve_workers(options, router)
    return _serve_one(options, router)


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
