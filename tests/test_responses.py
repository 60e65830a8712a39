"""Tests for turning hook and endpoint results into responses and close codes."""

from __future__ import annotations

import http
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Response

from websockets_routes._responses import close_code, text_response, to_response, without_body


@pytest.mark.parametrize(
    ("result", "status", "reason", "body", "content_type"),
    [
        ("ok\n", 200, "OK", b"ok\n", "text/plain; charset=utf-8"),
        ("café", 200, "OK", "café".encode(), "text/plain; charset=utf-8"),
        (b"\x00\x01", 200, "OK", b"\x00\x01", "application/octet-stream"),
        (
            (http.HTTPStatus.FORBIDDEN, None, "no"),
            403,
            "Forbidden",
            b"no",
            "text/plain; charset=utf-8",
        ),
        ((404, [], b"gone"), 404, "Not Found", b"gone", "application/octet-stream"),
        ((204, {}, ""), 204, "No Content", b"", "text/plain; charset=utf-8"),
        ((308, None, ""), 308, "Permanent Redirect", b"", "text/plain; charset=utf-8"),
    ],
)
def test_to_response_shapes(
    result: Any, status: int, reason: str, body: bytes, content_type: str
) -> None:
    """A str, bytes or (status, headers, body) tuple becomes a closing response."""
    response = to_response(result)
    assert isinstance(response, Response)
    assert response.status_code == status
    assert response.reason_phrase == reason
    assert response.body == body
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Length"] == str(len(body))
    assert response.headers["Connection"] == "close"
    assert response.headers["Date"].endswith(" GMT")


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "application/json"), ("X-Id", "1")],
        {"content-type": "application/json", "X-Id": "1"},
        Headers([("CONTENT-TYPE", "application/json"), ("X-Id", "1")]),
    ],
    ids=["pairs", "dict", "Headers"],
)
def test_to_response_headers_replace_defaults(headers: Any) -> None:
    """Headers given as pairs, a dict or websockets Headers replace the defaults."""
    response = to_response((200, headers, "{}"))
    assert response.headers.get_all("Content-Type") == ["application/json"]
    assert response.headers["X-Id"] == "1"
    assert response.headers["Connection"] == "close"


def test_to_response_repeated_headers() -> None:
    """A header the user repeats is sent as many times as given."""
    response = to_response((200, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], ""))
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    response = to_response((200, Headers([("Connection", "keep-alive"), ("X", "1")]), ""))
    assert response.headers.get_all("Connection") == ["keep-alive"]


def test_to_response_passes_response_through() -> None:
    """A websockets Response is returned unchanged."""
    response = Response(401, "Unauthorized", Headers([("WWW-Authenticate", "Basic")]), b"")
    assert to_response(response) is response


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        (None, TypeError, "got NoneType"),
        (42, TypeError, "got int"),
        ([200, None, "x"], TypeError, "got list"),
        ((200, None), TypeError, "got tuple"),
        ((200, None, "x", "y"), TypeError, "got tuple"),
        ((200, None, 5), TypeError, "body must be bytes or str"),
        ((200, None, None), TypeError, "body must be bytes or str"),
        ((999, None, "x"), ValueError, "999 is not an HTTP status code"),
        ((99, None, "x"), ValueError, "99 is not an HTTP status code"),
        ((0, None, "x"), ValueError, "0 is not an HTTP status code"),
        (("200", None, "x"), ValueError, "'200' is not an HTTP status code"),
    ],
)
def test_to_response_invalid(result: Any, error: type[Exception], message: str) -> None:
    """A result of another shape raises TypeError; a bad status raises ValueError."""
    with pytest.raises(error, match=message):
        to_response(result)


def test_unnamed_status_is_kept() -> None:
    """A status the standard library doesn't name, such as 499, is sent as it is."""
    response = to_response((499, None, "client closed"))
    assert (response.status_code, response.reason_phrase) == (499, "")
    assert response.body == b"client closed"


def test_text_response_content_type() -> None:
    """text_response sets the given content type and the body length."""
    response = text_response(200, '{"a": 1}', "application/json")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == "8"
    assert response.body == b'{"a": 1}'


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, 4000),
        (401, 4010),
        (403, 4030),
        (404, 4040),
        (429, 4290),
        (499, 4990),
        (500, 1011),
        (502, 1011),
        (503, 1011),
        (200, 1008),
        (101, 1008),
        (302, 1008),
        (308, 1008),
    ],
)
def test_close_code(status: int, code: int) -> None:
    """4xx maps to ten times the status, 5xx to 1011, anything else to 1008."""
    response = Response(status, "", Headers(), b"")
    assert close_code(response) == code


@pytest.mark.parametrize(
    ("response", "length"),
    [
        (text_response(200, "hello"), "5"),
        (text_response(404, "Not Found\n"), "10"),
        # A response without Content-Length gets the length of the body it loses.
        (Response(200, "OK", Headers([("X-A", "1")]), b"abc"), "3"),
        # Nothing to drop: the response as it is.
        (text_response(204, b""), "0"),
        (Response(204, "No Content", Headers(), b""), None),
    ],
)
def test_without_body(response: Response, length: str | None) -> None:
    """A HEAD response keeps the status and headers, Content-Length included, without body."""
    head = without_body(response)
    assert (head.status_code, head.reason_phrase) == (response.status_code, response.reason_phrase)
    assert head.body == b""
    assert head.headers.get("Content-Length") == length
    for name, value in response.headers.raw_items():
        assert value in head.headers.get_all(name)
    if not response.body:
        assert head is response
