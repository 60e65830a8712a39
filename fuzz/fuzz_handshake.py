"""Fuzz the path from raw request bytes to the router's decision.

    python fuzz/fuzz_handshake.py -max_total_time=60     # or: make fuzz

Bytes go through websockets' own HTTP request parser (the Sans-I/O ServerProtocol),
then through Router.resolve, as a server does, and through the handshake decision of a
router with host patterns, Host, method and Upgrade included. Only documented outcomes
may come out: websockets refusing the request, a RoutedPath whose URL rebuilds to the
same route and parameters, or a 400 / 404 / 405 / 308 response. Anything else, an
exception included, is a crash that atheris reports with its input.

Without atheris, `check_one(data)` is what tests call on a seed corpus.
"""

from __future__ import annotations

import re
import sys
import uuid

from websockets.http11 import Request
from websockets.server import ServerProtocol

from websockets_routes import RoutedPath, Router
from websockets_routes._handshake import decide

router = Router(redirect_slashes=True)
for pattern, name in [
    ("/", "root"),
    ("/admin", "admin"),
    ("/rooms/{room}", "room"),
    ("/things/{id:int}", "thing"),
    ("/things/new", "new_thing"),
    ("/points/{x:float}/{y:float}", "point"),
    ("/users/{user:uuid}/", "user"),
    ("/files/{rest:path}", "files"),
    ("/codes/{code:[A-Z]{3}}", "code"),
    ("/docs/{name}.{ext}", "doc"),
    ("/café", "cafe"),
]:
    router.route(pattern, name=name)(lambda ws, path: None)

DOCUMENTED_STATUSES = {400, 404, 308}


def _noop(*args: object) -> None:
    """A handler or endpoint the harness never runs."""


# The same routes on any host, and routes by host, twins and methods on top.
hosted = Router()
hosted.include(router)
hosted.route("/rooms/{room}", name="tenant_room", host="{tenant}.example.com")(_noop)
hosted.route("/t/{p:path}/raw", name="tail", host="{n:int}.{zone}.example.org")(_noop)
hosted.http("/page", name="page", methods=["GET", "POST"])(_noop)
hosted.route("/page", name="page_socket")(_noop)

HOSTED_STATUSES = {400, 404, 405}


def check_target(target: str) -> None:
    """Route one target and fail loudly on anything undocumented."""
    decision = router.resolve(target)
    if isinstance(decision, RoutedPath):
        route = decision.route
        rebuilt = router.match(router.url_for(route.name, **decision.params))
        assert rebuilt is not None, target
        assert rebuilt.route is route, (target, route)
        assert rebuilt.params == decision.params, (target, decision.params)
        for value in decision.params.values():
            # A value filling a whole segment never carries a traversal (a value
            # inside a mixed segment such as "{name}.{ext}" may be ".").
            if isinstance(value, str):
                if route.name != "doc":
                    assert all(part not in (".", "..") for part in value.split("/")), target
                assert not any(ord(ch) < 0x20 or ch == "\x7f" for ch in value), target
            else:
                assert isinstance(value, int | float | uuid.UUID), target
    else:
        assert decision.status_code in DOCUMENTED_STATUSES, (target, decision.status_code)
        if decision.status_code == 308:
            location = decision.headers["Location"]
            assert location.startswith("/"), location
            assert not location.startswith(("//", "/\\")), location


def check_request(request: Request) -> None:
    """Decide one parsed request on the router with host patterns, as a server does."""
    method = getattr(request, "method", "GET")
    decision = decide(hosted, request.path, request.headers, method=method)
    if isinstance(decision, RoutedPath):
        route = decision.route
        assert decision.host is not None, request
        url = hosted.url_path_for(route.name, **decision.params)
        rebuilt = hosted.match(url, host=url.host or decision.host)
        assert rebuilt is not None, request
        # Twins share a pattern: match() gives the WebSocket one.
        assert rebuilt.route in (route, route.twin), (request, route)
        assert rebuilt.params == decision.params, (request, decision.params)
        assert method == "GET" or route.methods is not None, (request, method)
    else:
        assert decision.status_code in HOSTED_STATUSES, (request, decision.status_code)
        if decision.status_code == 405:
            assert decision.headers["Allow"], request


def check_one(data: bytes) -> None:
    """Feed raw bytes (or a target wrapped in a request) to the parser, then the router."""
    if not re.match(rb"[A-Z]{1,10} ", data):
        target = data.split(b"\r", 1)[0].split(b"\n", 1)[0].split(b" ", 1)[0]
        data = (
            b"GET /" + target + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
    protocol = ServerProtocol()
    protocol.receive_data(data)
    for event in protocol.events_received():
        if isinstance(event, Request):
            check_target(event.path)
            check_request(event)


def main() -> None:
    import atheris  # only needed to fuzz; tests call check_one directly

    atheris.instrument_all()  # coverage feedback from websockets and the router
    atheris.Setup(sys.argv, check_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
