"""websockets-routes on threads: websockets' sync server, plain `def` handlers.

Run it with `python examples/threads.py [port]` (port 8765 by default, 0 for any
free port); Ctrl-C stops it.

Routes:
    /echo               echo every message back
    /things/{id:int}    a typed id: the handler receives an int
    /secret/{token}     a class view that rejects the handshake unless token == "open"
"""

from __future__ import annotations

import contextlib
import http
import sys
from typing import Any

from websockets.datastructures import Headers
from websockets.sync.server import ServerConnection

import websockets_routes.sync
from websockets_routes import RoutedPath, Router

router = Router()


@router.route("/echo")
def echo(ws: ServerConnection, path: RoutedPath) -> None:
    """Send every message back; each connection has a thread of its own."""
    for message in ws:
        ws.send(message)


@router.route("/things/{id:int}")
def thing(ws: ServerConnection, path: RoutedPath) -> None:
    """Say which thing this is; the id is already an int."""
    thing_id: int = path.params["id"]
    ws.send(f"thing #{thing_id}, next is {router.url_for('thing', id=thing_id + 1)}")


@router.route("/secret/{token}")
class Secret:
    """Rejects the handshake with 403 unless the token is "open"."""

    def process_request(self, path: RoutedPath, headers: Headers) -> Any:
        if path.params["token"] != "open":
            return (http.HTTPStatus.FORBIDDEN, [], "wrong token; try /secret/open\n")
        path.context["welcome"] = "the door is open"
        return None

    def handle(self, ws: ServerConnection, path: RoutedPath) -> None:
        ws.send(path.context["welcome"])


def main(host: str = "127.0.0.1", port: int = 8765) -> None:
    with websockets_routes.sync.serve(router, host, port) as server:
        port = server.socket.getsockname()[1]
        print(f"websockets-routes threads example listening on ws://{host}:{port}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    # Leaving the with block shut the server down and waited for its threads.
    print("stopped", flush=True)


if __name__ == "__main__":
    main(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
