"""A server process for the slow-consumer tests, so that its memory is its own.

The test drives it over a pipe: it serves one room, broadcasts on command while
sampling its resident set size, and reports the send policy's counters.
"""

from __future__ import annotations

import asyncio
import gc
from multiprocessing.connection import Connection
from typing import Any

from websockets_routes import RoutedPath, Router
from websockets_routes.broadcast import SendPolicy


def rss() -> int:
    """This process's resident set size, in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main(on_slow: str, bound: int, conn: Connection) -> None:
    """Serve until told to stop; see the module docstring."""
    asyncio.run(_serve(on_slow, bound, conn))


async def _serve(on_slow: str, bound: int, conn: Connection) -> None:
    router = Router(send_policy=SendPolicy(max_buffer=bound, on_slow=on_slow, close_grace=0.5))  # type: ignore[arg-type]

    @router.route("/rooms/{room}")
    async def room(ws: Any, path: RoutedPath) -> None:
        await ws.wait_closed()

    loop = asyncio.get_running_loop()
    async with router.serve("127.0.0.1", 0, ping_interval=None, close_timeout=1) as server:
        conn.send(server.sockets[0].getsockname()[1])
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "members":
                conn.send(len(router.members("room", room="a")))
            elif command == "broadcast":
                count, size = args
                gc.collect()
                before = peak = rss()
                for index in range(count):
                    await router.broadcast("room", f"{index:08d}" + "x" * (size - 8), room="a")
                    if index % 10 == 9:
                        peak = max(peak, rss())
                        # As a server that broadcasts now and then would.
                        await asyncio.sleep(0.002)
                peak = max(peak, rss())
                stats = router.delivery_stats
                conn.send((before, peak, stats.closed, stats.dropped))
            else:
                break
