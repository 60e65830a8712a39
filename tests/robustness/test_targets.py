"""Hostile request targets, sent raw, on every adapter and in both routing modes.

Each target goes over a socket in a hand-written upgrade request, exactly as
written here. With routing in the handshake a bad target gets HTTP 400 and an
unknown one 404; with the router as a plain handler the handshake completes and
the connection closes with 4000 or 4040. None of them may reach a handler, least
of all the one of ``/admin``, and none may give 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.adapters.helpers import Adapter
from websockets_routes import RoutedPath, Router

from .probe import Servers, probe

BAD = "bad request"
NOT_FOUND = "not found"

#: Every outcome by mode: (status, close code) with routing in the handshake,
#: then with the router as a plain handler.
EXPECTED = {
    BAD: ((400, None), (101, 4000)),
    NOT_FOUND: ((404, None), (101, 4040)),
}

#: Targets that reach the router: what each must get, or the message the handler
#: it must reach sends back.
TARGETS = [
    # Not origin-form: rule 1.
    pytest.param(b"//x/admin", BAD, id="network-path"),
    pytest.param(b"//[", BAD, id="breaks-url-parsers"),
    pytest.param(b"//[::1]/admin", BAD, id="network-path-ipv6"),
    pytest.param(b"ws://h/admin", BAD, id="absolute-form-ws"),
    pytest.param(b"http://127.0.0.1/admin", BAD, id="absolute-form-http"),
    pytest.param(b"admin", BAD, id="relative"),
    pytest.param(b"*", BAD, id="asterisk-form"),
    pytest.param(b"", BAD, id="empty"),
    pytest.param(b"/admin#frag", BAD, id="fragment"),
    pytest.param(b"/admin?x#frag", BAD, id="fragment-after-query"),
    # Malformed escapes and invalid UTF-8: rule 4.
    pytest.param(b"/admin%zz", BAD, id="escape-not-hex"),
    pytest.param(b"/admin%", BAD, id="escape-trailing-percent"),
    pytest.param(b"/admin%2", BAD, id="escape-one-digit"),
    pytest.param(b"/admin/%ff%fe", BAD, id="invalid-utf8"),
    pytest.param(b"/chat/%C3%28", BAD, id="invalid-utf8-continuation"),
    pytest.param(b"/chat/%C0%AF", BAD, id="overlong-utf8-slash"),
    pytest.param(b"/chat/%ED%A0%80", BAD, id="utf8-surrogate"),
    # Control characters, encoded or raw: rule 4.
    pytest.param(b"/admin%00", BAD, id="nul"),
    pytest.param(b"/admin%0D%0A", BAD, id="crlf"),
    pytest.param(b"/admin%7f", BAD, id="del"),
    pytest.param(b"/chat/a%09b", BAD, id="tab"),
    pytest.param(b"/admin\x00", BAD, id="raw-nul"),
    pytest.param(b"/admin\x7f", BAD, id="raw-del"),
    pytest.param(b"/admin\t", BAD, id="raw-tab"),
    # Dot segments, encoded or not: rule 4.
    pytest.param(b"/admin/..", BAD, id="dot-dot"),
    pytest.param(b"/admin/.", BAD, id="dot"),
    pytest.param(b"/./admin", BAD, id="leading-dot"),
    pytest.param(b"/x/../admin", BAD, id="dot-dot-to-admin"),
    pytest.param(b"/admin/%2e%2e", BAD, id="encoded-dot-dot"),
    pytest.param(b"/admin/%2E%2e", BAD, id="encoded-dot-dot-mixed-case"),
    pytest.param(b"/%2e", BAD, id="encoded-dot"),
    pytest.param(b"/admin/..%2F", BAD, id="dot-dot-encoded-slash"),
    pytest.param(b"/chat/..%2Fadmin", BAD, id="traversal-in-param"),
    pytest.param(b"/files/../etc/passwd", BAD, id="traversal"),
    pytest.param(b"/files/..%2F..%2Fetc", BAD, id="encoded-traversal"),
    pytest.param(b"/files/a/%2e%2e/b", BAD, id="encoded-traversal-in-path-param"),
    # Well-formed, but no route: ;params are part of the segment, an encoded "/"
    # never splits one, and int values are ASCII digits of bounded length.
    pytest.param(b"/admin;x", NOT_FOUND, id="semicolon-params"),
    pytest.param(b"/admin%3Bx", NOT_FOUND, id="encoded-semicolon"),
    pytest.param(b"/admin/", NOT_FOUND, id="trailing-slash"),
    pytest.param(b"/admin%2F", NOT_FOUND, id="encoded-trailing-slash"),
    pytest.param(b"/ADMIN", NOT_FOUND, id="case"),
    pytest.param(b"/ad\\min", NOT_FOUND, id="backslash"),
    pytest.param(b"/", NOT_FOUND, id="root"),
    pytest.param(b"/things/" + b"1" * 5000, NOT_FOUND, id="int-5000-digits"),
    pytest.param(b"/things/" + b"9" * 20, NOT_FOUND, id="int-20-digits"),
    pytest.param(b"/things/%EF%BC%91", NOT_FOUND, id="int-fullwidth-digit"),
    pytest.param(b"/things/%D9%A1", NOT_FOUND, id="int-arabic-indic-digit"),
    pytest.param(b"/things/-1", NOT_FOUND, id="int-negative"),
    pytest.param(b"/things/+1", NOT_FOUND, id="int-plus"),
    pytest.param(b"/things/1_000", NOT_FOUND, id="int-underscore"),
    pytest.param(b"/things/%201", NOT_FOUND, id="int-space"),
    pytest.param(b"/chat//", NOT_FOUND, id="empty-param"),
    pytest.param(b"/files/a//b", NOT_FOUND, id="empty-segment-in-path-param"),
    # What decoding lets through, to the handler it was routed to.
    pytest.param(b"/chat/a%2Fb", "a/b", id="encoded-slash-in-param"),
    pytest.param(b"/caf%C3%A9", "caf\u00e9", id="utf8-route"),
    pytest.param(b"/chat/%E2%80%AE", "\u202e", id="bidi-override-is-data"),
    pytest.param(b"/things/" + b"9" * 19, "9" * 19, id="int-19-digits"),
    pytest.param(b"/things/0042", "42", id="int-leading-zeros"),
    pytest.param(b"/files/a/b%2Fc", "a/b/c", id="path-param"),
    pytest.param(b"/%61dmin", "admin", id="encoded-unreserved-is-the-same-path"),
    pytest.param(b"/admin?next=//evil#", BAD, id="fragment-mark-in-query"),
    pytest.param(b"/admin?x=%zz&y=%00", "admin", id="query-never-decoded-for-matching"),
]


def probe_router(adapter: Adapter, calls: list[str]) -> Router:
    """The router under attack; the ``/admin`` handler records every call in ``calls``."""

    def admin(path: RoutedPath) -> list[str]:
        calls.append(str(path))
        return ["admin"]

    router = Router()
    router.route("/admin", name="admin")(adapter.handler(admin))
    router.route("/chat/{room}", name="chat")(adapter.handler(lambda p: [p.params["room"]]))
    router.route("/café", name="cafe")(adapter.handler(lambda p: ["café"]))
    router.route("/things/{id:int}", name="thing")(adapter.handler(lambda p: [str(p.params["id"])]))
    router.route("/files/{rest:path}", name="files")(adapter.handler(lambda p: [p.params["rest"]]))
    return router


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """Servers of :func:`probe_router` shared by this module's tests, stopped when it ends."""
    with Servers(probe_router, "/chat/still-here", "still-here") as shared:
        yield shared


def our_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """ERROR records of the websockets_routes logger."""
    return [r for r in caplog.records if r.name == "websockets_routes" and r.levelno >= 40]


@pytest.mark.parametrize(("target", "expected"), TARGETS)
def test_raw_target(
    adapter: Adapter,
    plain: bool,
    servers: Servers,
    caplog: pytest.LogCaptureFixture,
    target: bytes,
    expected: str,
) -> None:
    """A raw target gets its documented outcome, never 500, and only its own handler runs."""
    running, calls = servers.get(adapter, plain)
    before = list(calls)
    with caplog.at_level(logging.ERROR):
        outcome = probe(running.port, target)
    assert outcome.status != 500
    if expected in EXPECTED:
        assert outcome.short == EXPECTED[expected][plain]
        assert outcome.messages == []
        assert calls == before, "a bad input reached the /admin handler"
    else:
        assert outcome.short == (101, 1000)
        assert outcome.messages == [expected]
        assert len(calls) == len(before) + (expected == "admin")
    assert our_errors(caplog) == []


def refused_by_websockets(adapter: Adapter) -> tuple[int | None, int | None]:
    """How websockets itself answers a request line it cannot parse.

    The legacy server answers 400; the others close the connection without a
    response.
    """
    return (400, None) if adapter.name == "legacy" else (None, None)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/admin x", id="raw-space"),
        pytest.param(b"/admin\r\nX-Injected: 1", id="raw-crlf"),
        pytest.param(b"/admin HTTP/1.0 x", id="extra-protocol"),
    ],
)
def test_unparseable_request_line(
    adapter: Adapter, plain: bool, servers: Servers, target: bytes
) -> None:
    """websockets refuses a request line it cannot parse before routing: 400 or closed."""
    running, calls = servers.get(adapter, plain)
    before = list(calls)
    outcome = probe(running.port, target)
    assert outcome.short == refused_by_websockets(adapter)
    assert calls == before


def test_raw_utf8_target(adapter: Adapter, plain: bool, servers: Servers) -> None:
    """Raw UTF-8 in the target is refused by websockets (closed, no response) or decoded.

    websockets 17 refuses non-ASCII request lines (the legacy server excepted); older
    versions pass the bytes on and the router decodes them as UTF-8, as if they had
    been percent-encoded, so ``/café`` is reached either way or not at all.
    """
    running, _ = servers.get(adapter, plain)
    outcome = probe(running.port, "/café".encode())
    assert outcome.short in [(None, None), (101, 1000)]
    assert outcome.messages in ([], ["café"])
    assert (outcome.status is None) == (outcome.messages == [])


def test_raw_invalid_utf8_target(adapter: Adapter, plain: bool, servers: Servers) -> None:
    """Raw invalid UTF-8 in the target is refused by websockets, or is a bad request.

    Where websockets refuses non-ASCII request lines the connection closes with
    no response; elsewhere the router gets the bytes and answers 400 (or 4000).
    """
    running, calls = servers.get(adapter, plain)
    before = list(calls)
    outcome = probe(running.port, b"/admin\xff")
    assert outcome.short in [(None, None), EXPECTED[BAD][plain]]
    assert calls == before
