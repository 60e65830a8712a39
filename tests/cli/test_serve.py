"""``serve``: one process or several workers, graceful stops, crashes and the access log."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .helpers import APP, TIMEOUT, run, serving

#: Connections opened against the workers: enough that the kernel's hash of
#: their source ports practically always lands on both workers.
CONNECTIONS = 20


def close_code_of(ws: ClientConnection) -> int | None:
    """Wait (bounded) for the server to close ``ws``; the close code it sent, if any."""
    try:
        while True:  # Skip what the handler sent before closing.
            ws.recv(timeout=TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


@pytest.fixture
def connections() -> Iterator[ExitStack]:
    """An exit stack that closes every client connection a test opens."""
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_one_process_serves_and_stops_gracefully(
    tmp_path: Path, connections: ExitStack, signum: int
) -> None:
    """Without --workers, serve announces its URL, serves, and on a signal closes with 1001."""
    with serving(tmp_path) as served:
        assert "python -m websockets ws://127.0.0.1:" in served.announcement
        ws = connections.enter_context(connect(served.url("/echo"), open_timeout=TIMEOUT))
        ws.send("hello")
        assert ws.recv(timeout=TIMEOUT) == "hello"
        assert served.stop(signum) == 0, served.log()
        assert close_code_of(ws) == 1001
        assert "Traceback" not in served.log()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_workers_share_the_port_and_stop_gracefully(
    tmp_path: Path, connections: ExitStack, signum: int
) -> None:
    """With --workers 2 --port 0, workers serve one port; a signal closes all with 1001, exit 0."""
    with serving(tmp_path, "--workers", "2") as served:
        assert "2 workers" in served.announcement
        workers = served.worker_pids()
        assert len(workers) == 2
        opened = [
            connections.enter_context(connect(served.url("/pid"), open_timeout=TIMEOUT))
            for _ in range(CONNECTIONS)
        ]
        pids = {int(ws.recv(timeout=TIMEOUT)) for ws in opened}
        # Which worker gets a connection is the kernel's choice; every PID is a worker's.
        assert pids <= set(workers)
        assert len(pids) >= 1
        assert served.stop(signum) == 0, served.log()
        assert [close_code_of(ws) for ws in opened] == [1001] * CONNECTIONS
        log = served.log()
        assert "Traceback" not in log
        assert "CRITICAL" not in log


def test_ctrl_c_in_a_terminal_stops_workers_gracefully(
    tmp_path: Path, connections: ExitStack
) -> None:
    """SIGINT to the whole process group, as Ctrl-C sends it, closes with 1001 and exits 0."""
    with serving(tmp_path, "--workers", "2", new_session=True) as served:
        opened = [
            connections.enter_context(connect(served.url("/pid"), open_timeout=TIMEOUT))
            for _ in range(4)
        ]
        for ws in opened:
            ws.recv(timeout=TIMEOUT)
        os.killpg(served.process.pid, signal.SIGINT)
        assert served.process.wait(timeout=TIMEOUT) == 0, served.log()
        assert [close_code_of(ws) for ws in opened] == [1001] * 4
        assert "Traceback" not in served.log()


def test_killed_worker_stops_the_server(tmp_path: Path, connections: ExitStack) -> None:
    """A worker killed with SIGKILL is not restarted: the others stop and the exit code is 1."""
    with serving(tmp_path, "--workers", "2") as served:
        victim, _ = served.worker_pids()
        ws = connections.enter_context(connect(served.url("/echo"), open_timeout=TIMEOUT))
        os.kill(victim, signal.SIGKILL)
        assert served.process.wait(timeout=TIMEOUT) == 1, served.log()
        log = served.log()
        assert f"worker {victim} killed by SIGKILL" in log
        assert "stopping the other workers" in log
        # The connection was on one of the two workers: closed either way.
        assert close_code_of(ws) in (1001, None)


def test_access_log_has_a_line_per_connection(tmp_path: Path, connections: ExitStack) -> None:
    """Each connection logs its route, path, status or close code and duration."""
    with serving(tmp_path) as served:
        with connect(served.url("/echo?token=secret"), open_timeout=TIMEOUT) as ws:
            ws.send("x")
            ws.recv(timeout=TIMEOUT)
        with pytest.raises(InvalidStatus), connect(served.url("/nope"), open_timeout=TIMEOUT):
            pass
        with (
            pytest.raises(InvalidStatus),
            connect(served.url("/rooms/locked"), open_timeout=TIMEOUT),
        ):
            pass
        with connect(served.url("/fail"), open_timeout=TIMEOUT) as ws:
            assert close_code_of(ws) == 1011
        client = http.client.HTTPConnection("127.0.0.1", served.port, timeout=TIMEOUT)
        client.request("GET", "/healthz")
        assert client.getresponse().status == 200
        client.close()
        ws = connections.enter_context(connect(served.url("/rooms/lobby"), open_timeout=TIMEOUT))
        assert ws.recv(timeout=TIMEOUT) == "room lobby"
        assert served.stop() == 0, served.log()
        assert close_code_of(ws) == 1001

        log = served.log()
        line = r"websockets_routes\.access: 127\.0\.0\.1:\d+ "
        assert re.search(line + r"echo /echo 101 close=1000 in \d+\.\dms$", log, re.M)
        assert re.search(line + r"- /nope 404 in \d+\.\dms$", log, re.M)
        assert re.search(line + r"room /rooms/locked 403 in \d+\.\dms$", log, re.M)
        assert re.search(line + r"fail /fail 101 close=1011 in \d+\.\dms$", log, re.M)
        assert re.search(line + r"healthz /healthz 200 in \d+\.\dms$", log, re.M)
        assert re.search(line + r"room /rooms/lobby 101 close=1001 in \d+\.\dms$", log, re.M)
        assert "secret" not in log


def test_log_level_warning_hides_the_access_log(tmp_path: Path) -> None:
    """--log-level warning leaves access lines out."""
    with serving(tmp_path, "--log-level", "warning") as served:
        with connect(served.url("/echo"), open_timeout=TIMEOUT):
            pass
        assert served.stop() == 0, served.log()
        assert "websockets_routes.access" not in served.log()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use_is_a_one_line_error(workers: str) -> None:
    """A port another socket listens on gives a one-line error and exit code 1."""
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        result = run("serve", APP, "--port", port, "--workers", workers)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"websockets-routes: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_workers_must_be_positive() -> None:
    """--workers 0 is a usage error, exit code 2."""
    result = run("serve", APP, "--workers", "0")
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr
