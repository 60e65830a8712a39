"""The Host header: missing, empty or repeated, it never gives 500 and is never echoed.

Nothing the server answers (status line, headers, body, messages, redirects) may
be built from ``Host``: a redirect's ``Location`` comes from the path alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adapters.helpers import Adapter
from websockets_routes import Router

from .probe import Outcome, Servers, probe

#: Every Host value sent names this domain, so that an echo is easy to spot.
MARKER = "attacker.invalid"

HOSTS = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param(MARKER, id="foreign"),
    pytest.param([MARKER, MARKER], id="duplicate"),
    pytest.param([f"a.{MARKER}", f"b.{MARKER}"], id="two-different"),
    pytest.param(f"{MARKER}:1/\\x", id="junk"),
]

#: Target, then (status, close code) with routing in the handshake and as a plain handler.
TARGETS = [
    pytest.param("/admin", (101, 1000), (101, 1000), id="routed"),
    pytest.param("/no/where", (404, None), (101, 4040), id="not-found"),
    pytest.param("//admin", (400, None), (101, 4000), id="bad"),
    pytest.param("/lobby", (308, None), (101, 4040), id="redirect"),
]


def host_router(adapter: Adapter, calls: list[str]) -> Router:
    """A router with ``/admin`` and, redirecting slashes, ``/lobby/`` and ``/{name}/``."""
    router = Router(redirect_slashes=True)
    router.route("/admin", name="admin")(adapter.handler(lambda path: ["admin"]))
    router.route("/lobby/", name="lobby")(adapter.handler(lambda path: ["lobby"]))
    router.route("/{name}/", name="named")(adapter.handler(lambda path: [path.params["name"]]))
    return router


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """Servers of :func:`host_router` shared by this module's tests, stopped when it ends."""
    with Servers(host_router, "/admin", "admin") as shared:
        yield shared


def assert_no_echo(outcome: Outcome) -> None:
    """Nothing in the response or the messages carries the Host value."""
    assert outcome.status != 500
    for name, value in outcome.headers:
        assert MARKER not in value.lower(), f"{name} echoes Host: {value!r}"
    assert MARKER.encode() not in outcome.body.lower()
    assert not any(MARKER in message for message in outcome.messages)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(("target", "handshake", "as_plain"), TARGETS)
def test_host_never_matters(
    adapter: Adapter,
    plain: bool,
    servers: Servers,
    host: object,
    target: str,
    handshake: tuple[int, int | None],
    as_plain: tuple[int, int | None],
) -> None:
    """Whatever the Host header, a target gets the outcome its path alone decides."""
    running, _ = servers.get(adapter, plain)
    outcome = probe(running.port, target, host=host)
    assert outcome.short == (as_plain if plain else handshake)
    assert_no_echo(outcome)
    if outcome.status == 308:
        assert outcome.header("Location") == ["/lobby/"]


@pytest.mark.parametrize(
    ("target", "location"),
    [
        pytest.param("/\\evil.com", "/%5Cevil.com/", id="backslash"),
        pytest.param("/%5Cevil.com", "/%5Cevil.com/", id="encoded-backslash"),
        pytest.param("/%2F%2Fevil.com", "/%2F%2Fevil.com/", id="encoded-double-slash"),
        pytest.param("/%2Fevil.com", "/%2Fevil.com/", id="encoded-slash"),
        pytest.param("/\\\\evil.com", "/%5C%5Cevil.com/", id="two-backslashes"),
        pytest.param("/lobby?next=//evil.com", "/lobby/?next=//evil.com", id="query-kept"),
    ],
)
@pytest.mark.parametrize("host", HOSTS)
def test_redirect_location_is_a_local_path(
    adapter: Adapter, servers: Servers, host: object, target: str, location: str
) -> None:
    """A slash redirect's Location is the path alone, never ``//host`` or ``/\\host``."""
    running, _ = servers.get(adapter, False)
    outcome = probe(running.port, target, host=host)
    assert outcome.status == 308
    assert_no_echo(outcome)
    [sent] = outcome.header("Location")
    assert sent == location
    assert sent.startswith("/")
    assert not sent.startswith(("//", "/\\"))


# A router with host patterns reads Host, and refuses it unless it is one valid host.


def host_routed_router(adapter: Adapter, calls: list[str]) -> Router:
    """``/admin`` on any host, and ``/rooms/{room}`` on ``{tenant}.example.com``."""
    router = Router()
    router.route("/admin", name="admin")(adapter.handler(lambda path: ["admin"]))
    router.route("/rooms/{room}", name="room", host="{tenant}.example.com")(
        adapter.handler(lambda path: [path.params["tenant"]])
    )
    return router


@pytest.fixture(scope="module")
def host_routed() -> Iterator[Servers]:
    """Servers of :func:`host_routed_router`, stopped when the module ends."""
    with Servers(host_routed_router, "/admin", "admin") as shared:
        yield shared


@pytest.mark.parametrize(
    "host",
    [
        *HOSTS,
        pytest.param(f"{MARKER}\\evil", id="backslash"),
        pytest.param(f"user@{MARKER}", id="userinfo"),
        pytest.param(f"{MARKER}:99999", id="port-range"),
        pytest.param(f"{MARKER}:", id="empty-port"),
        pytest.param(f"[{MARKER}]", id="bad-ipv6"),
        pytest.param(f"{MARKER} x", id="space"),
        pytest.param(f"{MARKER}%2F", id="escape"),
        pytest.param("a" * 300 + f".{MARKER}", id="long"),
    ],
)
@pytest.mark.parametrize("target", ["/admin", "/rooms/a", "/nowhere"])
def test_host_routed_refuses_bad_host(
    adapter: Adapter, plain: bool, host_routed: Servers, host: object, target: str
) -> None:
    """With host patterns, a missing, repeated or malformed Host gets 400 (or close 4000),
    never a 500, a match or an echo; a valid foreign host routes by path alone."""
    running, _ = host_routed.get(adapter, plain)
    outcome = probe(running.port, target, host=host)
    assert_no_echo(outcome)
    if host == MARKER:  # a valid host that no host pattern names
        expected = {"/admin": (101, 1000), "/rooms/a": (404, None), "/nowhere": (404, None)}
        handshake, as_plain = expected[target], expected[target]
        if as_plain[0] == 404:
            as_plain = (101, 4040)
        assert outcome.short == (as_plain if plain else handshake)
    else:
        assert outcome.short == ((101, 4000) if plain else (400, None))
        assert outcome.messages == []
