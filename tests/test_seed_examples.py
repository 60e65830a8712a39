"""The examples of websockets-routes 0.2's README, copied verbatim, run on current websockets.

Each program is the README's snippets as they were written, in a file, run with
``python``. Only their ``...`` placeholders for the address are filled in. Where
current websockets refuses the 0.2 form, the test pins websockets' error and runs
the change that the README and docs/migration.md give, line for line.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.examples import ROOT

#: Bound for a program to listen, answer or stop.
TIMEOUT = 10.0

# The README of websockets-routes 0.2, verbatim.

USAGE = """\
import asyncio

import websockets
import websockets_routes

router = websockets_routes.Router()

@router.route("/thing/")
async def thing_list(ws, path):
    ...

start_server = websockets.serve(router.handle, ...)

loop = asyncio.get_event_loop()
loop.run_until_complete(start_server)
loop.run_forever()
"""

HANDSHAKE = """\
start_server = router.serve(...)
"""

PROTOCOL = """\
class MyProtocol(websockets_routes.Protocol):
    ...

start_server = websockets.serve(
    router,
    ...,
    create_protocol=MyProtocol,
    ...,
)
"""

PARAMS = """\
@router.route("/thing/{id}")
async def thing_detail(ws, path):
    # Asumming this is accessed with "/thing/123".
    await ws.send(path)  # This sends a text frame "/thing/123".
    await ws.send(path.params["id"])  # Text frame "123".
"""

VIEW = """\
import http

@router.route("/thing/{id}")
class ThingDetail:
    async def process_request(self, path, headers):
        thing_id = path.params["id"]
        thing = get_thing_or_none(thing_id)
        if thing is not None:
            # Pass additional context to handle().
            path.context["thing"] = thing
            return None
        message = f"thing {thing_id!r} not found\\n"
        return (http.HTTPStatus.NOT_FOUND, [], message.encode("utf-8"))

    async def handle(self, ws, path):
        \"\"\"Now this is only called if thing is found.
        \"\"\"
        thing = path.context["thing"]  # Retrieve the context to use.
"""

# The changes the README and the migration page give, as (0.2 line, new line).

#: websockets.serve() now needs a running event loop; router.serve() doesn't.
SERVE_CHANGE = ("start_server = websockets.serve(router.handle, ...)", HANDSHAKE.strip())
#: The current API's server takes a connection class, not a protocol class.
PROTOCOL_CHANGES = [
    (
        "class MyProtocol(websockets_routes.Protocol):",
        "class MyProtocol(websockets_routes.asyncio.RoutedConnection):",
    ),
    ("start_server = websockets.serve(", "start_server = router.serve("),
    ("    create_protocol=MyProtocol,", "    create_connection=MyProtocol,"),
]
#: From Python 3.14 on, asyncio.get_event_loop() no longer makes a loop.
LOOP_CHANGE = ("loop = asyncio.get_event_loop()", "loop = asyncio.new_event_loop()")


def change(program: str, old: str, new: str) -> str:
    """``program`` with the one line ``old`` replaced by ``new``."""
    assert program.count(old) == 1, f"{old!r} is not one line of the program"
    return program.replace(old, new)


def address(program: str, port: int) -> str:
    """Fill the README's ``...`` address placeholders with 127.0.0.1 and ``port``."""
    program = program.replace("router.handle, ...)", f'router.handle, "127.0.0.1", {port})')
    program = program.replace("router.serve(...)", f'router.serve("127.0.0.1", {port})')
    program = program.replace("    router,\n    ...,\n", f'    "127.0.0.1",\n    {port},\n')
    program = program.replace("    ...,\n)", ")")
    if sys.version_info >= (3, 14):
        program = change(program, *LOOP_CHANGE)
    return program


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(tmp_path: Path, program: str) -> Iterator[str]:
    """Run ``program`` as ``python app.py`` until it listens; yield its ws:// base URL.

    The program serves forever, as the README's do: it is stopped with SIGTERM.
    """
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(address(program, port))
    process = subprocess.Popen(
        [sys.executable, str(script)], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"ws://127.0.0.1:{port}"
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert process.poll() is None, process.communicate(timeout=TIMEOUT)[1]
            # A WebSocket handshake, since some websockets versions log a bare TCP
            # connection as a failed handshake; every program routes /thing/.
            try:
                with connect(f"{base}/thing/", open_timeout=TIMEOUT):
                    break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, f"nothing listens on {port}"
                time.sleep(0.05)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT)
        assert process.stderr is not None
        errors = process.stderr.read()
        process.stderr.close()
    assert "Traceback" not in errors, errors


def fails(tmp_path: Path, program: str) -> str:
    """Run ``program``, which must fail; the last line it wrote on stderr."""
    script = tmp_path / "app.py"
    script.write_text(address(program, free_port()))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    return result.stderr.strip().splitlines()[-1]


def close_code(ws: ClientConnection) -> int | None:
    """The code the server closed ``ws`` with, after the messages it sent."""
    try:
        while True:  # Bounded: the server closes after its handler returns.
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def test_websockets_serve_outside_a_loop_is_refused_by_websockets(tmp_path: Path) -> None:
    """The first example fails in websockets itself: its serve() needs a running loop."""
    assert fails(tmp_path, USAGE) == "RuntimeError: no running event loop"


def test_router_serve_before_the_loop_runs(tmp_path: Path) -> None:
    """The first example with router.serve(...) on that line serves, 404 in the handshake."""
    with running(tmp_path, change(USAGE, *SERVE_CHANGE)) as base:
        with connect(f"{base}/thing/", open_timeout=TIMEOUT) as ws:
            assert close_code(ws) == 1000
        with pytest.raises(InvalidStatus) as caught, connect(f"{base}/nothing"):
            pass
        assert caught.value.response.status_code == 404


def test_a_protocol_subclass_is_refused_by_websockets_outside_a_loop(tmp_path: Path) -> None:
    """The third example's websockets.serve() fails in websockets: no running loop."""
    program = change(USAGE, SERVE_CHANGE[0], PROTOCOL.strip())
    assert fails(tmp_path, program) == "RuntimeError: no running event loop"


def test_a_connection_subclass_with_router_serve(tmp_path: Path) -> None:
    """The third example, with its three documented changes, serves with the subclass."""
    program = change(USAGE, SERVE_CHANGE[0], PROTOCOL.strip())
    for old, new in PROTOCOL_CHANGES:
        program = change(program, old, new)
    program = change(program, "import websockets_routes\n", "import websockets_routes.asyncio\n")
    with running(tmp_path, program) as base:
        with connect(f"{base}/thing/", open_timeout=TIMEOUT) as ws:
            assert close_code(ws) == 1000
        with pytest.raises(InvalidStatus) as caught, connect(f"{base}/nothing"):
            pass
        assert caught.value.response.status_code == 404


def test_route_parameters(tmp_path: Path) -> None:
    """The parameters example sends the path, then the parameter, as 0.2 did."""
    program = change(USAGE, *SERVE_CHANGE).replace("start_server =", PARAMS + "\nstart_server =", 1)
    with running(tmp_path, program) as base, connect(f"{base}/thing/123") as ws:
        assert ws.recv(timeout=TIMEOUT) == "/thing/123"
        assert ws.recv(timeout=TIMEOUT) == "123"


def test_per_view_handshake_hooks(tmp_path: Path) -> None:
    """The class view example refuses unknown things with its 404 and lets known ones in."""
    # The README leaves get_thing_or_none() to the reader.
    lookup = 'def get_thing_or_none(thing_id):\n    return {"1": "a teapot"}.get(thing_id)\n'
    program = change(USAGE, *SERVE_CHANGE).replace(
        "start_server =", lookup + "\n" + VIEW + "\nstart_server =", 1
    )
    with running(tmp_path, program) as base:
        with connect(f"{base}/thing/1", open_timeout=TIMEOUT) as ws:
            assert close_code(ws) == 1000
        with pytest.raises(InvalidStatus) as caught, connect(f"{base}/thing/2"):
            pass
        assert caught.value.response.status_code == 404
        assert caught.value.response.body == b"thing '2' not found\n"


def test_examples_are_the_ones_the_docs_quote() -> None:
    """The migration page shows the 0.2 lines these tests change, and their replacements."""
    page = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    for old, new in [SERVE_CHANGE, *PROTOCOL_CHANGES, LOOP_CHANGE]:
        assert old.strip() in page, old
        assert new.strip() in page, new
