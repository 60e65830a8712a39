"""Stress test: many concurrent routed connections from a separate client process.

    python tools/stress.py --connections 10000

For each server kind (routed with 100 routes, then bare websockets) it starts the
server in a subprocess on 127.0.0.1, opens the connections concurrently, checks that
each one got its own parameters back, reads the server's RSS with every connection
open, then shuts the server down and checks that every connection received close code
1001. It prints a table and exits non-zero if any check failed. Everything is bounded
in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROUTES = 100
HANDSHAKE_CONCURRENCY = 256


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# Server side.


async def run_server(kind: str) -> None:
    from websockets.asyncio.server import serve

    from websockets_routes import Router

    async def echo_params(ws: Any, path: Any) -> None:
        await ws.send(f"{path.route.name} {path.params['id']}")
        await ws.wait_closed()

    async def echo_path(ws: Any) -> None:
        await ws.send(ws.request.path)
        await ws.wait_closed()

    router = Router()
    for index in range(ROUTES):
        router.route(f"/r{index}/{{id:int}}", name=f"r{index}")(echo_params)

    kwargs: dict[str, Any] = {"ping_interval": None, "compression": None, "backlog": 4096}
    if kind == "routed":
        server = await router.serve("127.0.0.1", 0, **kwargs)
    else:
        server = await serve(echo_path, "127.0.0.1", 0, **kwargs)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port} RSS {rss_kib()}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "RSS":
            print(f"RSS {rss_kib()}", flush=True)
        elif line == "STOP":
            server.close()
            await asyncio.wait_for(server.wait_closed(), 60)
            print("STOPPED", flush=True)
            return


# Client side.


async def run_client(kind: str, connections: int, deadline: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    loop = asyncio.get_running_loop()

    async def ask(command: str, answer: str) -> str:
        if command:
            server.stdin.write(command + "\n")  # type: ignore[union-attr]
            server.stdin.flush()  # type: ignore[union-attr]
        line = await asyncio.wait_for(loop.run_in_executor(None, server.stdout.readline), 60)  # type: ignore[union-attr]
        if not line.startswith(answer):
            raise RuntimeError(f"server said {line!r}, expected {answer}")
        return line

    try:
        _, port, _, idle_rss = (await ask("", "PORT")).split()
        gate = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
        clients: list[Any] = []
        wrong = 0

        async def open_one(index: int) -> None:
            nonlocal wrong
            route, value = index % ROUTES, index * 7 + 1
            target = f"/r{route}/{value}"
            async with gate:
                ws = await connect(
                    f"ws://127.0.0.1:{port}{target}",
                    ping_interval=None,
                    compression=None,
                    open_timeout=30,
                    close_timeout=30,
                )
                reply = await asyncio.wait_for(ws.recv(), 30)
            expected = f"r{route} {value}" if kind == "routed" else target
            wrong += reply != expected
            clients.append(ws)

        start = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(open_one(i) for i in range(connections))),
            max(1.0, deadline - time.monotonic()),
        )
        elapsed = time.perf_counter() - start
        loaded_rss = int((await ask("RSS", "RSS")).split()[1])

        await ask("STOP", "STOPPED")
        codes: dict[int | None, int] = {}

        async def close_code(ws: Any) -> None:
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                codes[code] = codes.get(code, 0) + 1

        await asyncio.gather(*(close_code(ws) for ws in clients))
        return {
            "kind": kind,
            "connections": len(clients),
            "wrong": wrong,
            "rate": len(clients) / elapsed,
            "per_conn_kib": (loaded_rss - int(idle_rss)) / max(1, len(clients)),
            "codes": codes,
        }
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=300, help="seconds, whole run")
    parser.add_argument("--serve", choices=["routed", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    if args.serve:
        asyncio.run(run_server(args.serve))
        return 0

    deadline = time.monotonic() + args.timeout
    results = [
        asyncio.run(run_client(kind, args.connections, deadline)) for kind in ("routed", "bare")
    ]
    routed, bare = results
    print(
        f"{'server':<8} {'connections':>11} {'handshakes/s':>13} {'RSS/conn KiB':>13}  close codes"
    )
    for result in results:
        print(
            f"{result['kind']:<8} {result['connections']:>11} {result['rate']:>13.0f} "
            f"{result['per_conn_kib']:>13.2f}  {result['codes']}"
        )
    print(
        f"routed/bare: handshakes/s x{routed['rate'] / bare['rate']:.2f}, "
        f"RSS per connection {routed['per_conn_kib'] - bare['per_conn_kib']:+.2f} KiB"
    )
    failures = []
    for result in results:
        if result["wrong"]:
            failures.append(f"{result['kind']}: {result['wrong']} connections got a wrong reply")
        if result["codes"] != {1001: args.connections}:
            failures.append(
                f"{result['kind']}: close codes {result['codes']}, expected 1001 for all"
            )
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print(f"OK: all {args.connections} connections got their own parameters, then 1001")
    return 0


if __name__ == "__main__":
    sys.exit(main())
