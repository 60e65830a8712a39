"""``routes`` prints the route table; bad ``module:router`` references fail in one line."""

from __future__ import annotations

import pytest

from websockets_routes import Router
from websockets_routes.cli import BadReference, load_router, main, route_table

from .app import router as app_router
from .helpers import APP, run

TABLE = """\
PATTERN        NAME     KIND       ENDPOINT  SUBPROTOCOLS  HOOKS
/pid           pid      websocket  pid       -             -
/echo          echo     websocket  echo      -             -
/loop          loop     websocket  loop      -             -
/rooms/{room}  room     websocket  room      -             no_locked_rooms
/fail          fail     websocket  fail      -             -
/secure        Secure   websocket  Secure    chat.v1       Secure.process_request
/healthz       healthz  http       healthz   -             -
"""

#: Each bad reference and the one-line error it gets.
BAD_REFERENCES = [
    ("tests.cli.app", "'tests.cli.app' is not a 'module:attribute' reference"),
    ("tests.cli.app:", "'tests.cli.app:' is not a 'module:attribute' reference"),
    ("no_such_module:router", "module 'no_such_module' not found"),
    ("tests.cli.no_such_module:router", "module 'tests.cli.no_such_module' not found"),
    ("tests.cli.app:nope", "module 'tests.cli.app' has no attribute 'nope'"),
    ("tests.cli.app:Nested.nope", "'tests.cli.app:Nested' has no attribute 'nope'"),
    ("tests.cli.app:not_a_router", "tests.cli.app:not_a_router is an int, not a"),
    ("tests.cli.app:echo", "tests.cli.app:echo is a function, not a"),
    ("tests.cli.app:Nested", "tests.cli.app:Nested is the class Nested, not a"),
]


def test_routes_prints_the_table() -> None:
    """``routes module:router`` prints pattern, name, kind, endpoint, subprotocols and hooks."""
    result = run("routes", APP)
    assert (result.returncode, result.stdout, result.stderr) == (0, TABLE, "")


def test_routes_follows_dotted_attributes(capsys: pytest.CaptureFixture[str]) -> None:
    """A dotted attribute path after the colon reaches a router inside an object."""
    assert main(["routes", "tests.cli.app:Nested.router"]) == 0
    assert capsys.readouterr().out == TABLE


def test_route_table_of_an_empty_router() -> None:
    """A router without routes says so instead of printing a lone header."""
    assert route_table(Router()) == "no routes"


def test_route_table_lists_included_routes_under_their_prefix() -> None:
    """Included routes show with their full pattern and namespaced name."""
    outer = Router()
    outer.include(app_router, "/api", namespace="api")
    lines = route_table(outer).splitlines()
    assert lines[1].split() == ["/api/pid", "api:pid", "websocket", "pid", "-", "-"]


@pytest.mark.parametrize(("reference", "message"), BAD_REFERENCES)
def test_bad_reference_is_a_one_line_error(reference: str, message: str) -> None:
    """A bad reference prints one line on stderr naming what wasn't found, exit code 2."""
    for command in ("routes", "serve"):
        result = run(command, reference)
        assert result.returncode == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("websockets-routes: error: ")
        assert message in line


@pytest.mark.parametrize(("reference", "message"), BAD_REFERENCES)
def test_load_router_refuses_bad_references(reference: str, message: str) -> None:
    """load_router raises BadReference with the message the CLI prints."""
    with pytest.raises(BadReference) as caught:
        load_router(reference)
    assert message in str(caught.value)


def test_import_error_inside_the_module_shows_its_traceback() -> None:
    """An ImportError raised by the user's module is its bug: the traceback shows, exit 1."""
    result = run("routes", "tests.cli.broken_app:router")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "tests/cli/broken_app.py" in result.stderr
    assert "No module named 'websockets_routes_tests_no_such_module'" in result.stderr
    assert "not found (from" not in result.stderr
