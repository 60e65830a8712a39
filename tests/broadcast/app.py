"""A chat server for the broadcast tests: ``python -m tests.broadcast.app REDIS_URL``.

It prints ``READY <port>`` once subscribed and serving on 127.0.0.1, relays every
message a client sends to its room with ``router.broadcast``, and logs to stderr.
``/rooms/{room}?group=NAME`` also joins the group; a message ``group:NAME:text``
goes to that group instead.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from websockets_routes import RoutedPath, Router
from websockets_routes.broadcast import RedisBackend

router = Router()


@router.route("/rooms/{room}")
async def room(ws: Any, path: RoutedPath) -> None:
    """Relay each message to the room, or to a group."""
    group = path.query.get("group")
    if group:
        router.join(ws, group)
    async for message in ws:
        if isinstance(message, str) and message.startswith("group:"):
            _, name, text = message.split(":", 2)
            await router.broadcast_group(name, text)
        else:
            await router.broadcast("room", message, room=path.params["room"])


async def main(url: str) -> None:
    """Subscribe, serve on a free port, say so, and run until SIGTERM."""
    router.use_broadcast(RedisBackend(url, max_backoff=0.5, connect_timeout=5.0))
    await router.broadcaster.start()
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with router.serve("127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await stop
    await router.broadcaster.aclose()


if __name__ == "__main__":
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s %(message)s"
    )
    asyncio.run(main(sys.argv[1]))
