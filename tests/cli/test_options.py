"""``serve`` options checked before anything starts, ``--version``, and the broadcast warning."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest
import websockets.version
from websockets.sync.client import connect

import websockets_routes
from websockets_routes.cli import _broadcasting, load_router

from .extra_helpers import run_without
from .helpers import APP, TIMEOUT, run, serving

CHAT = "examples.chat.app:router"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--port", "70000"], "--port: 70000 is not a port; use 0 to 65535 (0 picks one)"),
        (["--port", "70000", "--workers", "2"], "--port: 70000 is not a port"),
        (["--port", "-1"], "--port: -1 is not a port"),
        (["--ssl-keyfile", "key.pem"], "--ssl-keyfile needs --ssl-certfile"),
        (
            ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1,proxy.local"],
            "--forwarded-allow-ips: 'proxy.local' is not an IP address or a network",
        ),
        (["--reload-dir", "src"], "--reload-dir has an effect only with --reload"),
        (["--reload", "--reload-dir", "no/such/dir"], "--reload-dir: "),
    ],
)
def test_unusable_options_are_one_line_and_exit_2(args: list[str], error: str) -> None:
    """An option that can't work fails before serving: one line on stderr, exit code 2."""
    result = run("serve", APP, *args)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"websockets-routes: error: {error}")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--graceful-timeout", "-1"], "must be a number of seconds, at least 0, not -1"),
        (["--graceful-timeout", "soon"], "must be a number of seconds, not 'soon'"),
        (["--log-level", "loud"], "invalid choice: 'loud'"),
        (["--port", "http"], "invalid int value: 'http'"),
    ],
)
def test_malformed_values_are_usage_errors(args: list[str], error: str) -> None:
    """A value of the wrong kind is argparse's usage error, exit code 2."""
    result = run("serve", APP, *args)
    assert result.returncode == 2
    assert error in result.stderr


def test_version() -> None:
    """--version prints the versions of websockets-routes, websockets and Python."""
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == (
        f"websockets-routes {websockets_routes.__version__} "
        f"(websockets {websockets.version.version}, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


def test_log_levels_are_case_insensitive(tmp_path: Path) -> None:
    """--log-level WARNING works as warning: the access log is off."""
    with serving(tmp_path, "--log-level", "WARNING") as served:
        with connect(served.url("/echo"), open_timeout=TIMEOUT):
            pass
        assert served.stop() == 0, served.log()
        assert "websockets_routes.access" not in served.log()


def test_reload_without_watchfiles_says_what_to_install(tmp_path: Path) -> None:
    """Without watchfiles, --reload fails with one line naming the extra, exit code 1."""
    result = run_without("watchfiles", tmp_path, "serve", APP, "--port", "0", "--reload")
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("websockets-routes: error: --reload needs watchfiles")
    assert "pip install 'websockets-routes[reload]>=1.0'" in last
    assert "Traceback" not in result.stderr


def test_workers_of_a_broadcasting_app_get_a_warning(tmp_path: Path) -> None:
    """--workers 2 on an app that broadcasts in-process warns that rooms split between workers."""
    pytest.importorskip("msgspec", reason="the chat example needs msgspec")
    with serving(tmp_path, "--workers", "2", app=CHAT) as served:
        assert served.stop() == 0, served.log()
    [warning] = re.findall(r"WARNING .*", served.log())
    assert f"{CHAT} broadcasts (in examples.chat.app." in warning
    assert "each of the 2 workers reaches only its own connections" in warning
    assert "--broadcast redis://host:6379/0" in warning


def test_no_warning_where_nothing_is_split(tmp_path: Path) -> None:
    """Workers of an app that doesn't broadcast, or one process of one that does, don't warn."""
    with serving(tmp_path, "--workers", "2") as served:
        assert served.stop() == 0, served.log()
        assert "WARNING" not in served.log()
    pytest.importorskip("msgspec", reason="the chat example needs msgspec")
    with serving(tmp_path, app=CHAT) as served:
        assert served.stop() == 0, served.log()
        assert "WARNING" not in served.log()


def test_broadcasting_finds_the_calls_of_the_app() -> None:
    """The check finds broadcast calls in the modules that declare routes, not elsewhere."""
    assert _broadcasting(load_router(APP)) is None
    pytest.importorskip("msgspec", reason="the chat example needs msgspec")
    chat = load_router(CHAT)
    where = _broadcasting(chat)
    assert where is not None
    assert where.startswith("examples.chat.app.")
