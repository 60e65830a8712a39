"""``python -m examples.chat``: serve the chat app in one process until Ctrl-C.

This is what ``make demo`` runs. It needs nothing but the package and msgspec:
broadcast stays in this process. For several workers sharing rooms through
Redis, use the CLI (``websockets-routes serve examples.chat.app:router --workers 2
--broadcast redis://...``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from websockets_routes.cli import AccessLogConnection

from .app import router


def _hints(host: str, port: int) -> str:
    http_base = f"http://{host}:{port}"
    ws_base = f"ws://{host}:{port}"
    return f"""\
websockets-routes chat example on {http_base} (1 process, Ctrl-C to stop)
  open in a browser:  {http_base}/?room=lobby&name=alice
  and in another:     {http_base}/?room=lobby&name=bob
  from a terminal:    python -m websockets '{ws_base}/rooms/lobby?name=carol'
                      then type: {{"type": "chat.send", "text": "hello"}}
  a typed id:         python -m websockets {ws_base}/users/42
  health check:       curl {http_base}/healthz
  two workers:        websockets-routes serve examples.chat.app:router --workers 2 \\
                          --broadcast redis://127.0.0.1:6379/0"""


async def serve(host: str, port: int) -> None:
    """Serve the chat app on ``host:port`` until SIGINT or SIGTERM, then close gracefully."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop)
    # Leaving the block closes open connections with 1001 and waits for their handlers.
    async with router.serve(host, port, create_connection=AccessLogConnection) as server:
        print(_hints(host, server.sockets[0].getsockname()[1]), flush=True)
        await stop
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, serve, and return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m examples.chat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (8765)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # websockets logs every connection at INFO; the access log already does, once.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as exc:
        print(
            f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
