"""The chat example runs as `make demo` runs it, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .examples import running_example

pytest.importorskip("msgspec", reason="the chat example needs msgspec")

#: Bound for the demo to start or stop, and for one message to arrive.
TIMEOUT = 10.0


@pytest.fixture
def demo() -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """Start `python -m examples.chat` on a free port; yield it, its port and what it printed."""
    args = ["-m", "examples.chat", "--port", "0"]
    with running_example(args, r"http://127\.0\.0\.1:(\d+)", TIMEOUT) as (process, found):
        assert process.stdout is not None
        # The hints come in one write, ending with the line about --broadcast.
        banner = [found.string]
        while "--broadcast" not in banner[-1] and len(banner) < 20:
            banner.append(process.stdout.readline())
        yield process, int(found.group(1)), "".join(banner)


def test_demo_serves_the_chat_and_stops_on_sigint(
    demo: tuple[subprocess.Popen[str], int, str],
) -> None:
    """The demo prints how to reach the chat app, serves it so, then exits 0 on SIGINT."""
    process, port, banner = demo
    assert f"http://127.0.0.1:{port}/?room=lobby&name=alice" in banner
    assert f"python -m websockets 'ws://127.0.0.1:{port}/rooms/lobby?name=carol'" in banner
    assert f"curl http://127.0.0.1:{port}/healthz" in banner

    base = f"ws://127.0.0.1:{port}"
    with (
        connect(f"{base}/rooms/lobby?name=alice", open_timeout=TIMEOUT) as alice,
        connect(f"{base}/rooms/lobby?name=bob", open_timeout=TIMEOUT) as bob,
    ):
        for ws in (alice, bob):
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
        alice.send('{"type": "chat.send", "text": "hello"}')
        # Member lists come and go as people join: skip them.
        message = json.loads(bob.recv(timeout=TIMEOUT))
        while message["type"] == "members":
            message = json.loads(bob.recv(timeout=TIMEOUT))
        # The room keeps history: each message carries its offset there.
        assert isinstance(message.pop("offset"), str)
        assert message == {
            "type": "chat.message",
            "room": "lobby",
            "name": "alice",
            "text": "hello",
        }
    with connect(f"{base}/users/42", open_timeout=TIMEOUT) as ws:
        assert json.loads(ws.recv(timeout=TIMEOUT))["next"] == "/users/43"
    with pytest.raises(InvalidStatus) as caught, connect(f"{base}/rooms/lobby"):
        pass
    assert caught.value.response.status_code == 403

    client = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        client.request("GET", "/healthz")
        response = client.getresponse()
        assert (response.status, response.read()) == (200, b"ok\n")
    finally:
        client.close()

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0
    assert "stopped" in output
    assert "Traceback" not in output
