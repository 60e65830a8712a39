"""A chat server for the broadcast tests: ``python -m tests.broadcast.app REDIS_URL``.

It prints ``READY <port>`` once serving on 127.0.0.1, relays every message a client
sends to its room with ``router.broadcast``, and logs to stderr. Its parts:

- ``/rooms/{room}?group=NAME&name=WHO`` joins the room (and the group); a message
  ``group:NAME:text`` goes to that group instead of the room;
- ``/history/{room}``: a room with history, whose messages are JSON objects;
- ``GET /stats``: what the backend received and which channels it holds;
- ``GET /presence/{room}``: who is in a room, in every process;
- ``GET /events``: the join and leave events this process heard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from websockets.datastructures import Headers

from websockets_routes import HTTPResult, RoutedPath, Router
from websockets_routes.broadcast import History, Member, RedisBackend, RemoteMember, Topic

router = Router()
events: list[list[Any]] = []


@router.hook
def identify(path: RoutedPath, headers: Headers) -> None:
    """Show the ``name`` a client gave in presence."""
    path.meta["name"] = path.query.get("name", "")


@router.route("/rooms/{room}")
async def room(ws: Any, path: RoutedPath) -> None:
    """Relay each message to the room, or to a group."""
    group = path.query.get("group")
    if group:
        router.join(ws, group)
    # From then on, what other processes broadcast to this room reaches it.
    await router.broadcaster.wait_subscribed()
    async for message in ws:
        if isinstance(message, str) and message.startswith("group:"):
            _, name, text = message.split(":", 2)
            await router.broadcast_group(name, text)
        else:
            await router.broadcast("room", message, room=path.params["room"])


@router.route("/history/{room}", history=History(size=20))
async def history(ws: Any, path: RoutedPath) -> None:
    """Relay each message, a JSON object, to the room, which keeps the last 20."""
    await router.broadcaster.wait_subscribed()
    async for message in ws:
        await router.broadcast("history", message, room=path.params["room"])


@router.on_join
def joined(member: Member | RemoteMember, topic: Topic) -> None:
    """Record joins, local or not."""
    events.append(["join", str(topic), member.meta.get("name"), member.local])


@router.on_leave
def left(member: Member | RemoteMember, topic: Topic) -> None:
    """Record leaves, local or not."""
    events.append(["leave", str(topic), member.meta.get("name"), member.local])


def reply(value: Any) -> HTTPResult:
    """A JSON response."""
    return 200, [("Content-Type", "application/json")], json.dumps(value)


@router.http("/stats")
def stats(path: RoutedPath, headers: Headers) -> HTTPResult:
    """What the backend received from other processes, and its channels."""
    backend = router.broadcaster.backend
    return reply(
        {
            "received": getattr(backend, "received", 0),
            "channels": sorted(getattr(backend, "_wanted", ())),
        }
    )


@router.http("/presence/{room}")
async def presence(path: RoutedPath, headers: Headers) -> HTTPResult:
    """Who is in the room, in every process."""
    members = await router.presence("room", room=path.params["room"])
    return reply(sorted(member["meta"].get("name", "") for member in members))


@router.http("/events")
def heard(path: RoutedPath, headers: Headers) -> HTTPResult:
    """The join and leave events heard so far."""
    return reply(events)


async def main(url: str) -> None:
    """Connect, serve on a free port, say so, and run until SIGTERM."""
    router.use_broadcast(RedisBackend(url, max_backoff=0.5, connect_timeout=5.0, presence_ttl=1.5))
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
