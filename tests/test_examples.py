"""The example app runs as `make demo` runs it, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start examples/demo.py on a free port and yield it with its ws:// base URL."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(ROOT / "examples" / "demo.py"), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"ws://127\.0\.0\.1:\d+", first)
        assert found, f"unexpected first line: {first!r}"
        yield process, found.group()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_demo_serves_every_route_and_stops_on_sigint(
    demo: tuple[subprocess.Popen[str], str],
) -> None:
    """The demo answers its four routes as documented, then exits 0 on SIGINT."""
    process, base = demo
    with connect(f"{base}/rooms/lobby") as alice, connect(f"{base}/rooms/lobby") as bob:
        alice.send("hello")
        assert bob.recv(timeout=5) == "lobby: hello"
    with connect(f"{base}/things/42") as ws:
        assert ws.recv(timeout=5) == "thing #42, next is /things/43"
    with connect(f"{base}/secret/open") as ws:
        assert ws.recv(timeout=5) == "the door is open"
    with pytest.raises(InvalidStatus) as caught, connect(f"{base}/secret/wrong"):
        pass
    assert caught.value.response.status_code == 403

    host, port = base.removeprefix("ws://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=5)
    client.request("GET", "/healthz")
    response = client.getresponse()
    assert (response.status, response.read()) == (200, b"ok\n")
    client.close()

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in output
    assert "Traceback" not in output
