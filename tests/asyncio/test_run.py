"""``router.run()``: a script serves until SIGINT or SIGTERM and stops without a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from websockets_routes import Router

from ..examples import closed_with

ROOT = Path(__file__).resolve().parents[2]
#: Bound for a script to start, answer or stop.
TIMEOUT = 10.0

APP = """\
import asyncio
import websockets_routes

router = websockets_routes.Router()

@router.on_startup
def started():
    print("startup", flush=True)

@router.on_shutdown
def stopped():
    print("shutdown", flush=True)

@router.route("/echo")
async def echo(ws, path):
    async for message in ws:
        await ws.send(message)

@router.route("/stuck")
async def stuck(ws, path):
    await ws.send("stuck")
    try:
        await asyncio.sleep(3600)  # Deaf to the close frame.
    finally:
        print("stuck handler cancelled", flush=True)
"""


@dataclass
class Script:
    """A running script: its process, the lines it printed so far, its URL."""

    process: subprocess.Popen[str]
    lines: list[str]
    url: str
    #: What was read after the last complete line.
    pending: str = ""
    #: How many lines read_until() looked at.
    seen: int = 0

    def read_until(self, pattern: str) -> re.Match[str]:
        """Read stdout (bounded in time) until a line matches ``pattern``; that match."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                for line in self.lines[self.seen :]:
                    self.seen += 1
                    found = re.fullmatch(pattern, line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {pattern!r}: {self.lines}"
                assert selector.select(remaining), f"no {pattern!r}: {self.lines}"
                chunk = os.read(fd, 4096).decode()
                assert chunk, f"the script ended before {pattern!r}: {self.lines}"
                self.pending += chunk
                *complete, self.pending = self.pending.split("\n")
                self.lines += complete

    def finish(self) -> tuple[int, str]:
        """Wait (bounded) for the exit; its code and everything on stderr."""
        out, err = self.process.communicate(timeout=TIMEOUT)
        self.lines += (self.pending + out).splitlines()
        return self.process.returncode, err


@contextlib.contextmanager
def script(tmp_path: Path, source: str, *, startup: bool = True) -> Iterator[Script]:
    """Run ``source`` as ``python -u app.py``; yield it once it announced its URL.

    With ``startup``, the script prints "startup" before its URL.
    """
    path = tmp_path / "app.py"
    path.write_text(source)
    process = subprocess.Popen(
        [sys.executable, "-u", str(path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "error"},
    )
    try:
        running = Script(process, [], "")
        if startup:
            running.read_until("startup")
        found = running.read_until(
            r"websockets-routes: serving on (ws://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)"
        )
        running.url = found.group(1)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=TIMEOUT)


def run_script(port: str = "0", extra: str = "") -> str:
    """The test app, ending in ``router.run("127.0.0.1", port{extra})``."""
    return APP + f'\nrouter.run("127.0.0.1", {port}{extra})\nprint("returned", flush=True)\n'


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_until_a_signal_and_returns(tmp_path: Path, signum: int) -> None:
    """router.run() announces its URL, serves, and on a signal closes with 1001 and returns."""
    with script(tmp_path, run_script()) as running:
        assert running.lines[0] == "startup"
        with connect(f"{running.url}/echo", open_timeout=TIMEOUT) as ws:
            ws.send("hi")
            assert ws.recv(timeout=TIMEOUT) == "hi"
            running.process.send_signal(signum)
            assert closed_with(ws, TIMEOUT) == 1001
        code, errors = running.finish()
    assert code == 0
    assert errors == ""
    assert running.lines[-2:] == ["shutdown", "returned"]


def test_graceful_timeout_cancels_stuck_handlers(tmp_path: Path) -> None:
    """A handler deaf to the close is cancelled after graceful_timeout; the shutdown still runs."""
    source = run_script(extra=", graceful_timeout=0.5")
    with script(tmp_path, source) as running, connect(f"{running.url}/stuck") as ws:
        assert ws.recv(timeout=TIMEOUT) == "stuck"
        started = time.monotonic()
        running.process.send_signal(signal.SIGINT)
        code, errors = running.finish()
        assert time.monotonic() - started < TIMEOUT / 2
    assert code == 0
    assert "after 0.5s: cancelling 1 handler(s) still running" in errors
    assert "Traceback" not in errors
    assert running.lines[-3:] == ["stuck handler cancelled", "shutdown", "returned"]


def test_second_signal_cancels_the_handlers(tmp_path: Path) -> None:
    """Without a graceful timeout, a second Ctrl-C cancels the stuck handler; the shutdown runs."""
    with script(tmp_path, run_script(extra=", graceful_timeout=None")) as running:
        with connect(f"{running.url}/stuck", open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT) == "stuck"
            running.process.send_signal(signal.SIGINT)
            # The server sent its close frame: the first signal was handled.
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=TIMEOUT)
        running.process.send_signal(signal.SIGINT)
        code, errors = running.finish()
    assert code == 0
    assert "second signal: stopping now" in errors
    assert "on a second signal: cancelling 1 handler(s)" in errors
    assert "Traceback" not in errors
    assert running.lines[-3:] == ["stuck handler cancelled", "shutdown", "returned"]


def test_second_signal_cuts_a_stuck_shutdown(tmp_path: Path) -> None:
    """A shutdown hook that hangs is cancelled by the next signal, and run() returns."""
    source = run_script(extra=", graceful_timeout=None").replace(
        'def stopped():\n    print("shutdown", flush=True)',
        'async def stopped():\n    print("shutdown", flush=True)\n    await asyncio.sleep(3600)',
    )
    with script(tmp_path, source) as running:
        running.process.send_signal(signal.SIGTERM)
        running.read_until("shutdown")
        running.process.send_signal(signal.SIGTERM)
        code, errors = running.finish()
    assert code == 0
    assert "the router's shutdown is cut short" in errors
    assert "Traceback" not in errors
    assert running.lines[-2:] == ["shutdown", "returned"]


def test_a_busy_port_is_an_os_error(tmp_path: Path) -> None:
    """run() on a port in use raises OSError after a failed start, with no shutdown to run."""
    source = APP + textwrap.dedent(
        """
        import errno
        import socket
        with socket.create_server(("127.0.0.1", 0)) as busy:
            try:
                router.run("127.0.0.1", busy.getsockname()[1])
            except OSError as exc:
                print("OSError", exc.errno == errno.EADDRINUSE, flush=True)
        """
    )
    path = tmp_path / "app.py"
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr
    # The startup ran and was undone: the shutdown hooks ran as well.
    assert result.stdout.splitlines() == ["startup", "shutdown", "OSError True"]


@pytest.mark.parametrize("loop", ["uvloop", "auto"])
def test_run_serves_on_uvloop(tmp_path: Path, loop: str) -> None:
    """run(loop="uvloop") (or "auto", uvloop being installed) serves on uvloop."""
    source = APP + textwrap.dedent(
        """
        @router.route("/loop")
        async def which(ws, path):
            await ws.send(type(asyncio.get_running_loop()).__module__)
        """
    )
    with script(tmp_path, source + run_script(extra=f", loop={loop!r}")[len(APP) :]) as running:
        with connect(f"{running.url}/loop", open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT).startswith("uvloop")
        running.process.send_signal(signal.SIGINT)
        code, errors = running.finish()
    assert code == 0, errors
    assert running.lines[-2:] == ["shutdown", "returned"]


def test_run_refuses_an_unknown_loop() -> None:
    """An unknown loop is a ValueError before anything starts."""
    started: list[str] = []
    router = Router()
    router.on_startup(lambda: started.append("startup"))
    with pytest.raises(ValueError, match=r"one of auto, asyncio, uvloop, not 'tokio'"):
        router.run("127.0.0.1", 0, loop="tokio")
    assert started == []


def test_run_refuses_a_running_loop() -> None:
    """Inside a coroutine, run() says to await router.serve() instead."""

    async def inside() -> None:
        Router().run("127.0.0.1", 0)

    with pytest.raises(RuntimeError, match=r"await router.serve"):
        asyncio.run(inside())


def test_run_refuses_other_threads() -> None:
    """Outside the main thread, which signals reach, run() refuses to start."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            Router().run("127.0.0.1", 0)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(TIMEOUT)
    [error] = errors
    assert "main thread" in str(error)


def test_the_readme_app_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """`python app.py` with the README's first example serves, and Ctrl-C ends it quietly."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert found is not None
    source = found.group(1)
    assert 'router.run("127.0.0.1", 8765)' in source
    with socket.socket() as sock:  # 8765 may be taken, by `make demo` say.
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with script(tmp_path, source.replace("8765", str(port)), startup=False) as running:
        with connect(f"{running.url}/things/7") as ws:
            assert ws.recv(timeout=TIMEOUT) == "thing #00007"
        running.process.send_signal(signal.SIGINT)
        code, errors = running.finish()
    assert code == 0
    assert errors == ""
