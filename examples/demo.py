"""A small app that shows websockets-routes at work: `make demo` runs it.

Routes:
    /rooms/{room}       echo chat: every message goes to everyone in the same room
    /things/{id:int}    a typed id: the handler receives an int
    /secret/{token}     a class view that rejects the handshake unless token == "open"
    /healthz            a plain HTTP health check (GET without Upgrade)
"""

from __future__ import annotations

import asyncio
import http
import signal
import sys
from collections import defaultdict
from typing import Any

from websockets import broadcast
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from websockets_routes import RoutedPath, Router

router = Router()
rooms: defaultdict[str, set[Any]] = defaultdict(set)


@router.route("/rooms/{room}")
async def room(ws: Any, path: RoutedPath) -> None:
    """Relay every message to the other members of the room."""
    members = rooms[path.params["room"]]
    members.add(ws)
    try:
        async for message in ws:
            broadcast(members, f"{path.params['room']}: {message}")
    except ConnectionClosed:
        pass
    finally:
        members.discard(ws)


@router.route("/things/{id:int}")
async def thing(ws: Any, path: RoutedPath) -> None:
    """Say which thing this is; the id is already an int."""
    thing_id: int = path.params["id"]
    await ws.send(f"thing #{thing_id}, next is {router.url_for('thing', id=thing_id + 1)}")


@router.route("/secret/{token}")
class Secret:
    """Rejects the handshake with 403 unless the token is "open"."""

    def process_request(self, path: RoutedPath, headers: Headers) -> Any:
        if path.params["token"] != "open":
            return (http.HTTPStatus.FORBIDDEN, [], "wrong token; try /secret/open\n")
        path.context["welcome"] = "the door is open"
        return None

    async def handle(self, ws: Any, path: RoutedPath) -> None:
        await ws.send(path.context["welcome"])


@router.http("/healthz")
def healthz(path: RoutedPath, headers: Headers) -> str:
    """Answer plain HTTP health checks."""
    return "ok\n"


async def main(host: str = "127.0.0.1", port: int = 8765) -> None:
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with router.serve(host, port) as server:
        port = server.sockets[0].getsockname()[1]
        base = f"ws://{host}:{port}"
        print(f"websockets-routes demo listening on {base}", flush=True)
        print("Try, in another terminal:", flush=True)
        print(f"  python -m websockets {base}/rooms/lobby     (twice, then type)")
        print(f"  python -m websockets {base}/things/42")
        print(f"  python -m websockets {base}/secret/open     (and /secret/wrong: 403)")
        print(f"  curl http://{host}:{port}/healthz")
        print("Press Ctrl-C to stop.", flush=True)
        await stop
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
