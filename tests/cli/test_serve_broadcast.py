"""``serve --broadcast URL``: checked before serving, used by every worker, through real Redis."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.broadcast.helpers import free_port, redis_server

from .extra_helpers import run_without
from .helpers import APP, TIMEOUT, run, serving

CHAT = "examples.chat.app:router"
#: Connections tried before giving up on landing on two different workers.
MAX_CONNECTIONS = 40


def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message of ``ws`` but member lists, decoded from JSON (bounded wait)."""
    for _ in range(100):
        message = json.loads(ws.recv(timeout=TIMEOUT))
        assert isinstance(message, dict)
        if message["type"] != "members":
            return message
    raise AssertionError("only member lists")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:6379", "unknown broadcast URL 'http://127.0.0.1:6379'"),
        ("redis://127.0.0.1:port/0", "invalid Redis URL 'redis://127.0.0.1:port/0'"),
        ("redis://127.0.0.1:99999/0", "invalid Redis URL 'redis://127.0.0.1:99999/0'"),
        ("redis://:s3cret@127.0.0.1:port/0", "invalid Redis URL 'redis://:***@127.0.0.1:port/0'"),
        ("redis://u:s3cret@[::1:6379/0", "invalid Redis URL 'redis://u:***@[::1:6379/0'"),
        # A password with "/" and "#" in it is still hidden, and redis-py's message
        # (which would quote part of it) isn't repeated.
        (
            "redis://u:s3/cret@127.0.0.1:port/0",
            "invalid Redis URL 'redis://u:***@127.0.0.1:port/0'",
        ),
        ("redis://u:s3#cret@127.0.0.1/0", "invalid Redis URL 'redis://u:***@127.0.0.1/0'"),
    ],
)
def test_invalid_urls_are_one_line_and_exit_2(url: str, error: str) -> None:
    """An unusable --broadcast URL fails before serving: one line, no password, exit code 2."""
    result = run("serve", APP, "--port", "0", "--workers", "2", "--broadcast", url)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"websockets-routes: error: --broadcast: {error}")
    assert "s3cret" not in result.stderr
    assert result.stdout == ""


def test_redis_url_without_the_redis_package_says_what_to_install(tmp_path: Path) -> None:
    """Without the redis package, --broadcast redis://... fails with one line naming the extra."""
    result = run_without(
        "redis", tmp_path, "serve", APP, "--port", "0", "--broadcast", "redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("websockets-routes: error: --broadcast: ")
    assert "pip install 'websockets-routes[redis]>=1.0'" in line


def close_code_of(ws: ClientConnection) -> int | None:
    """Wait (bounded) for the server to close ``ws``; the close code it sent, if any."""
    try:
        while True:  # Skip what the server sent before closing.
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def test_memory_url_keeps_broadcast_in_process(tmp_path: Path) -> None:
    """--broadcast memory:// is the default backend, said so in the announcement."""
    with serving(tmp_path, "--broadcast", "memory://", app=CHAT) as served:
        assert "1 process, broadcast through memory://" in served.announcement
        with (
            connect(served.url("/rooms/lobby?name=alice"), open_timeout=TIMEOUT) as alice,
            connect(served.url("/rooms/lobby?name=bob"), open_timeout=TIMEOUT) as bob,
        ):
            for ws in (alice, bob):
                assert receive(ws)["type"] == "welcome"
            alice.send(json.dumps({"type": "chat.send", "text": "here"}))
            assert chat_messages(bob, "here") == ["here"]
        assert served.stop(signal.SIGINT) == 0, served.log()


@contextlib.contextmanager
def on_two_workers(url: str) -> Iterator[tuple[ClientConnection, ClientConnection]]:
    """Two connections to the lobby welcomed by different workers; connect until they are."""
    with contextlib.ExitStack() as stack:
        by_worker: dict[int, ClientConnection] = {}
        for attempt in range(MAX_CONNECTIONS):
            ws = stack.enter_context(
                connect(f"{url}/rooms/lobby?name=user{attempt}", open_timeout=TIMEOUT)
            )
            welcome = receive(ws)
            assert welcome["type"] == "welcome"
            by_worker.setdefault(welcome["worker"], ws)
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, f"{MAX_CONNECTIONS} connections all landed on one worker"
        first, second = by_worker.values()
        yield first, second


def chat_messages(ws: ClientConnection, until: str) -> list[str]:
    """The texts of the chat messages ``ws`` gets, up to and including the text ``until``."""
    texts: list[str] = []
    while not texts or texts[-1] != until:
        message = receive(ws)
        if message["type"] == "chat.message":
            texts.append(message["text"])
    return texts


def test_chat_rooms_span_two_workers_through_redis(tmp_path: Path) -> None:
    """With --workers 2 --broadcast redis://, a room's message reaches both workers once."""
    with (
        redis_server() as redis,
        serving(tmp_path, "--workers", "2", "--broadcast", redis.url, app=CHAT) as served,
    ):
        assert f"2 workers, broadcast through {redis.url}" in served.announcement
        with on_two_workers(served.url("")) as (alice, bob):
            alice.send(json.dumps({"type": "chat.send", "text": "across", "id": 1}))
            assert chat_messages(bob, "across") == ["across"]
            assert chat_messages(alice, "across") == ["across"]
            bob.send(json.dumps({"type": "chat.send", "text": "and back"}))
            # Exactly once: nothing arrives twice before the next message.
            assert chat_messages(alice, "and back") == ["and back"]
            bob.send(json.dumps({"type": "chat.send", "text": "last"}))
            assert chat_messages(bob, "last") == ["and back", "last"]
            assert chat_messages(alice, "last") == ["last"]
            assert served.stop(signal.SIGTERM) == 0, served.log()
            assert [close_code_of(ws) for ws in (alice, bob)] == [1001, 1001]
        log = served.log()
        assert "Traceback" not in log
        assert "CRITICAL" not in log


def test_unreachable_redis_still_serves_locally(tmp_path: Path) -> None:
    """With Redis unreachable, serve --broadcast starts anyway and delivers in its process."""
    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{free_port()}/0"
    with serving(tmp_path, "--broadcast", url, app=CHAT) as served:
        with (
            connect(served.url("/rooms/lobby?name=alice"), open_timeout=TIMEOUT) as alice,
            connect(served.url("/rooms/lobby?name=bob"), open_timeout=TIMEOUT) as bob,
        ):
            for ws in (alice, bob):
                assert receive(ws)["type"] == "welcome"
            alice.send(json.dumps({"type": "chat.send", "text": "local"}))
            assert chat_messages(bob, "local") == ["local"]
        assert served.stop(signal.SIGTERM) == 0, served.log()
    assert "lost Redis broadcast" in served.log() or "isn't reachable yet" in served.log()
