"""``serve --reload``: workers restart when a Python file changes, closing with 1012."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .helpers import TIMEOUT, Served, serving

pytest.importorskip("watchfiles", reason="--reload needs watchfiles (websockets-routes[reload])")

APP = """\
from websockets_routes import Router

router = Router()

@router.route("/version")
async def version(ws, path):
    await ws.send({version!r})
    await ws.wait_closed()
"""


def write_app(directory: Path, version: str) -> None:
    """Write the app that answers ``version`` on /version."""
    (directory / "reloadable.py").write_text(APP.format(version=version))


def version_served(served: Served, expected: str) -> None:
    """Connect (bounded retries: workers restart) until /version answers ``expected``."""
    deadline = time.monotonic() + TIMEOUT
    answer = None
    while answer != expected:
        assert time.monotonic() < deadline, f"still {answer!r}, not {expected!r}:\n{served.log()}"
        try:
            with connect(served.url("/version"), open_timeout=TIMEOUT) as ws:
                answer = ws.recv(timeout=TIMEOUT)
        except (OSError, ConnectionClosed):
            time.sleep(0.05)  # No worker listens for a moment.


def test_a_change_restarts_the_workers(tmp_path: Path) -> None:
    """Editing the app closes its connections with 1012, then new workers serve the new code."""
    write_app(tmp_path, "v1")
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    with serving(tmp_path, "--reload", app="reloadable:router", cwd=tmp_path, env=env) as served:
        assert "restarted when a .py file changes" in served.announcement
        [first] = served.worker_pids()
        with connect(served.url("/version"), open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT) == "v1"
            write_app(tmp_path, "v2")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1012, "service restart")
        version_served(served, "v2")
        served.wait_for_log("reloadable.py changed; restarting the workers")
        served.wait_for_log("restarted 1 workers")
        # One new worker in place of the first.
        assert served.worker_pids()[0] == first
        assert len(served.worker_pids()) == 2

        # A broken edit leaves no worker, and the supervisor waits for the fix.
        (tmp_path / "reloadable.py").write_text("this is not Python\n")
        served.wait_for_log(r"worker \d+ exited with code 1; waiting for a change")
        write_app(tmp_path, "v3")
        version_served(served, "v3")
        assert served.stop(signal.SIGINT) == 0, served.log()
    assert "CRITICAL" not in served.log()


def test_files_that_are_not_python_change_nothing(tmp_path: Path) -> None:
    """A change to a file that isn't Python keeps the workers and their connections."""
    write_app(tmp_path, "v1")
    with serving(tmp_path, "--reload", app="reloadable:router", cwd=tmp_path) as served:
        with connect(served.url("/version"), open_timeout=TIMEOUT) as ws:
            assert ws.recv(timeout=TIMEOUT) == "v1"
            (tmp_path / "notes.txt").write_text("not code\n")
            # The restart after a .py change takes well under this.
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1.0)
        assert served.stop() == 0, served.log()
    assert "changed" not in served.log()
