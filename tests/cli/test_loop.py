"""``serve --loop`` (asyncio's event loop, uvloop, or uvloop when installed) and
``--no-compression``."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from websockets.sync.client import connect

from .extra_helpers import run_without
from .helpers import APP, TIMEOUT, run, serving


def loop_of(url: str) -> str:
    """Which event loop serves ``url`` (the test app's /loop), by its module."""
    with connect(url, open_timeout=TIMEOUT) as ws:
        return str(ws.recv(timeout=TIMEOUT))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), "asyncio"),
        (("--loop", "asyncio"), "asyncio"),
        (("--loop", "uvloop"), "uvloop"),
        (("--loop", "UVLOOP"), "uvloop"),
        (("--loop", "auto"), "uvloop"),  # uvloop is in the test group.
    ],
)
def test_one_process_serves_on_the_chosen_loop(
    tmp_path: Path, options: tuple[str, ...], expected: str
) -> None:
    """The handler runs on the loop --loop names; the announcement says uvloop when used."""
    with serving(tmp_path, *options) as served:
        assert ("uvloop" in served.announcement) == (expected == "uvloop")
        assert loop_of(served.url("/loop")) == expected
        assert served.stop(signal.SIGTERM) == 0, served.log()
    assert "Traceback" not in served.log()


def test_workers_serve_on_uvloop(tmp_path: Path) -> None:
    """Every worker runs uvloop, and stops gracefully on it."""
    with serving(tmp_path, "--workers", "2", "--loop", "uvloop") as served:
        assert {loop_of(served.url("/loop")) for _ in range(6)} == {"uvloop"}
        assert served.stop(signal.SIGINT) == 0, served.log()
    assert "Traceback" not in served.log()


def test_uvloop_missing_is_a_one_line_error(tmp_path: Path) -> None:
    """Without uvloop installed, --loop uvloop fails before serving, naming the extra."""
    result = run_without("uvloop", tmp_path, "serve", APP, "--port", "0", "--loop", "uvloop")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("websockets-routes: error: --loop uvloop needs uvloop: ")
    assert "pip install 'websockets-routes[uvloop]>=1.0'" in line
    assert result.stdout == ""


def test_auto_without_uvloop_serves_on_asyncio(tmp_path: Path) -> None:
    """--loop auto falls back to asyncio's loop when uvloop isn't installed."""
    hidden = tmp_path / "hidden" / "uvloop"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvloop'\", name='uvloop')\n"
    )
    env = {"PYTHONPATH": str(tmp_path / "hidden")}
    with serving(tmp_path, "--loop", "auto", env=env) as served:
        assert "uvloop" not in served.announcement
        assert loop_of(served.url("/loop")) == "asyncio"
        assert served.stop(signal.SIGTERM) == 0, served.log()


def test_unknown_loop_is_a_usage_error() -> None:
    """--loop takes asyncio, uvloop or auto; anything else is refused by the parser."""
    result = run("serve", APP, "--loop", "tokio")
    assert result.returncode == 2
    assert "invalid choice: 'tokio'" in result.stderr


@pytest.mark.parametrize(("options", "negotiated"), [((), True), (("--no-compression",), False)])
def test_no_compression_refuses_permessage_deflate(
    tmp_path: Path, options: tuple[str, ...], negotiated: bool
) -> None:
    """websockets' client offers compression: accepted by default, not with --no-compression."""
    with serving(tmp_path, *options) as served:
        with connect(served.url("/echo"), open_timeout=TIMEOUT) as ws:
            assert ws.request is not None
            assert ws.response is not None
            assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
            accepted = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in accepted) == negotiated
            ws.send("hello")
            assert ws.recv(timeout=TIMEOUT) == "hello"
        assert served.stop(signal.SIGTERM) == 0, served.log()
