"""``serve`` stops in bounded time: the lifespan, --graceful-timeout, and a second signal."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ..examples import closed_with
from .helpers import TIMEOUT, Served, run, serving

APP = "tests.cli.lifespan_app:router"
#: Connections opened against two workers, so that both hold a stuck one.
CONNECTIONS = 12


@contextlib.contextmanager
def stuck(served: Served, count: int = 1) -> Iterator[list[ClientConnection]]:
    """``count`` connections to /stuck, whose handlers ignore the close; closed at the end."""
    with contextlib.ExitStack() as stack:
        opened = [
            stack.enter_context(connect(served.url("/stuck"), open_timeout=TIMEOUT))
            for _ in range(count)
        ]
        for ws in opened:
            assert ws.recv(timeout=TIMEOUT) == "stuck"
        yield opened


def lifespan_lines(log: str, pid: int) -> list[str]:
    """The lifespan app's startup and shutdown lines of process ``pid``, in order."""
    return re.findall(rf"lifespan_app: (\w+) in {pid}$", log, re.M)


def test_one_process_runs_the_lifespan_once(tmp_path: Path) -> None:
    """One process starts the router before announcing and stops it after the last close."""
    with serving(tmp_path, app=APP) as served:
        pid = served.process.pid
        assert lifespan_lines(served.log(), pid) == ["startup"]
        with connect(served.url("/echo"), open_timeout=TIMEOUT) as ws:
            assert served.stop(signal.SIGINT) == 0, served.log()
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=TIMEOUT)
        log = served.log()
    assert lifespan_lines(log, pid) == ["startup", "shutdown"]
    # The connection closed before the shutdown ran.
    assert log.index("echo /echo 101 close=1001") < log.index(f"shutdown in {pid}")


def test_one_process_cancels_handlers_after_the_graceful_timeout(tmp_path: Path) -> None:
    """--graceful-timeout bounds the stop: stuck handlers are cancelled, then the shutdown runs."""
    with serving(tmp_path, "--graceful-timeout", "0.5", app=APP) as served, stuck(served) as [ws]:
        started = time.monotonic()
        assert served.stop(signal.SIGTERM) == 0, served.log()
        assert time.monotonic() - started < TIMEOUT / 2
        assert closed_with(ws, TIMEOUT) == 1001
    log = served.log()
    assert "after 0.5s: cancelling 1 handler(s) still running" in log
    assert "stuck handler cancelled" in log
    assert lifespan_lines(log, served.process.pid) == ["startup", "shutdown"]
    assert "Traceback" not in log


def test_one_process_stops_at_the_second_signal(tmp_path: Path) -> None:
    """A second Ctrl-C cancels handlers that the first one is waiting for."""
    with serving(tmp_path, "--graceful-timeout", "60", app=APP) as served, stuck(served) as [ws]:
        served.process.send_signal(signal.SIGINT)
        assert closed_with(ws, TIMEOUT) == 1001  # The first signal was handled.
        started = time.monotonic()
        assert served.stop(signal.SIGINT) == 0, served.log()
        assert time.monotonic() - started < TIMEOUT / 2
    log = served.log()
    assert "second signal: stopping now" in log
    assert "on a second signal: cancelling 1 handler(s)" in log
    assert "Traceback" not in log


def test_workers_run_the_lifespan_once_each(tmp_path: Path) -> None:
    """Each worker starts the router once before serving and stops it once after its last close."""
    with serving(tmp_path, "--workers", "2", app=APP) as served:
        workers = served.worker_pids()
        for pid in workers:
            assert lifespan_lines(served.log(), pid) == ["startup"]
        assert served.stop() == 0, served.log()
    for pid in workers:
        assert lifespan_lines(served.log(), pid) == ["startup", "shutdown"]


def test_workers_cancel_handlers_after_the_graceful_timeout(tmp_path: Path) -> None:
    """With workers, --graceful-timeout bounds each worker's stop; the supervisor exits 0."""
    args = ["--workers", "2", "--graceful-timeout", "0.5"]
    with serving(tmp_path, *args, app=APP) as served, stuck(served, CONNECTIONS) as opened:
        started = time.monotonic()
        assert served.stop(signal.SIGTERM) == 0, served.log()
        assert time.monotonic() - started < TIMEOUT / 2
        assert [closed_with(ws, TIMEOUT) for ws in opened] == [1001] * CONNECTIONS
    log = served.log()
    assert len(re.findall(r"after 0\.5s: cancelling \d+ handler", log)) >= 1
    assert log.count("stuck handler cancelled") == CONNECTIONS
    for pid in served.worker_pids():
        assert lifespan_lines(log, pid) == ["startup", "shutdown"]
    assert "CRITICAL" not in log


def test_ctrl_c_twice_stops_workers_at_once(tmp_path: Path) -> None:
    """In a terminal, a second Ctrl-C makes the supervisor force its workers; exit code 0."""
    args = ["--workers", "2", "--graceful-timeout", "60"]
    with (
        serving(tmp_path, *args, app=APP, new_session=True) as served,
        stuck(served, CONNECTIONS) as opened,
    ):
        os.killpg(served.process.pid, signal.SIGINT)
        assert [closed_with(ws, TIMEOUT) for ws in opened] == [1001] * CONNECTIONS
        started = time.monotonic()
        os.killpg(served.process.pid, signal.SIGINT)
        assert served.process.wait(timeout=TIMEOUT) == 0, served.log()
        assert time.monotonic() - started < TIMEOUT / 2
    log = served.log()
    assert "received SIGINT again; stopping the workers now" in log
    assert log.count("stuck handler cancelled") == CONNECTIONS
    assert "Traceback" not in log
    assert "CRITICAL" not in log


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_startup_serves_nothing(workers: str) -> None:
    """A startup hook that raises ends serve with exit code 1 and says why; nothing announced."""
    result = run("serve", APP, "--port", "0", "--workers", workers, env={"FAIL_STARTUP": "1"})
    assert result.returncode == 1
    assert result.stdout == ""
    # The hook's traceback, for the bug in it.
    assert 'raise ConnectionRefusedError("the database at 127.0.0.1:5432' in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    if workers == "1":
        assert last == (
            "websockets-routes: error: startup failed in open_resources: "
            "ConnectionRefusedError: the database at 127.0.0.1:5432 refused the connection"
        )
    else:
        assert "failed to start (the router's startup raised)" in result.stderr
        assert last.endswith("CRITICAL websockets_routes.cli: stopped with errors")


def test_workers_stop_when_the_supervisor_dies(tmp_path: Path) -> None:
    """A supervisor killed with SIGKILL leaves no worker behind: each stops, with its shutdown."""
    with serving(tmp_path, "--workers", "2", app=APP) as served:
        workers = served.worker_pids()
        served.process.kill()
        served.process.wait(timeout=TIMEOUT)
        for pid in workers:
            served.wait_for_log(rf"supervisor is gone; worker {pid} stopping")
            served.wait_for_log(rf"(?m)shutdown in {pid}$")
        deadline = time.monotonic() + TIMEOUT
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its supervisor"
            time.sleep(0.05)
