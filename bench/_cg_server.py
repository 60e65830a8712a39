"""A server that handles a set number of handshakes, then exits: for instruction counts.

``python -m bench._cg_server KIND COUNT [--calls]`` serves with ``KIND`` (``bare`` or
``routed``, with ``-uvloop`` on uvloop, as in :mod:`bench._workers`), prints its
port, and exits once COUNT connections were handled. Run under ``valgrind
--tool=callgrind`` it gives the instructions of the whole run; two runs with
different counts give the instructions per handshake. With ``--calls`` it counts
the Python function calls made while serving instead, and prints them per
connection.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ._network import ROUTES
from ._workers import _start, run_server

__all__ = ["main"]


async def serve(kind: str, count: int, calls: bool) -> None:
    """Serve until ``count`` connections were handled."""
    handled = 0
    done = asyncio.get_running_loop().create_future()
    called = 0

    async def body(ws: Any) -> None:
        nonlocal handled
        handled += 1
        if handled == count and not done.done():
            done.set_result(None)

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal called
        if event == "call":
            called += 1

    server = await _start(kind, body, ROUTES)
    print(server.sockets[0].getsockname()[1], flush=True)
    if calls:
        sys.setprofile(profile)
    try:
        if count:
            await done
        else:
            await asyncio.sleep(0)
    finally:
        sys.setprofile(None)
        server.close()
        await server.wait_closed()
    if calls:
        print(called / max(count, 1), flush=True)


def main() -> None:
    """Parse the command line and serve."""
    kind, count = sys.argv[1], int(sys.argv[2])
    run_server(kind, lambda kind: serve(kind, count, "--calls" in sys.argv[3:]))


if __name__ == "__main__":
    main()
