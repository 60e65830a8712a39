"""HTTP responses built from what hooks, views and HTTP endpoints return."""

from __future__ import annotations

import email.utils
import http
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from websockets.datastructures import Headers
from websockets.http11 import Response

__all__ = ["HTTPResult", "close_code", "text_response", "to_response", "without_body"]

#: What a hook or HTTP endpoint may return to answer the handshake itself:
#: ``(status, headers, body)``, a websockets ``Response``, or for HTTP endpoints
#: a plain ``str`` or ``bytes`` body sent with 200 OK.
HTTPResult: TypeAlias = "tuple[http.HTTPStatus | int, Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None, bytes | str] | Response | str | bytes"  # noqa: E501


def text_response(
    status: http.HTTPStatus | int, text: str | bytes, content_type: str | None = None
) -> Response:
    """A response with a body, closing the connection, as websockets' own rejections."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"{status!r} is not an HTTP status code (an int from 100 to 599)")
    code = int(status)
    try:
        reason = http.HTTPStatus(code).phrase
    except ValueError:  # a code the standard library doesn't name, such as 499
        reason = ""
    body = text.encode() if isinstance(text, str) else text
    if content_type is None:
        content_type = (
            "text/plain; charset=utf-8" if isinstance(text, str) else "application/octet-stream"
        )
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
        ]
    )
    return Response(code, reason, headers, body)


def to_response(result: Any) -> Response:
    """Turn a hook's or endpoint's return value into a websockets ``Response``.

    Raises:
        TypeError: If ``result`` has none of the accepted shapes.
        ValueError: If the status is not an HTTP status code.
    """
    if isinstance(result, Response):
        return result
    if isinstance(result, str | bytes):
        return text_response(http.HTTPStatus.OK, result)
    if not isinstance(result, tuple) or len(result) != 3:
        raise TypeError(
            f"expected None, (status, headers, body), str, bytes or a Response; "
            f"got {type(result).__name__}"
        )
    status, headers, body = result
    if not isinstance(body, str | bytes):
        raise TypeError(f"the response body must be bytes or str, not {type(body)}")
    response = text_response(status, body)
    if headers:
        if isinstance(headers, Headers):
            pairs = list(headers.raw_items())
        elif isinstance(headers, Mapping):
            pairs = list(headers.items())
        else:
            pairs = list(headers)
        # Headers the user sets replace ours rather than adding a second copy.
        for name, _ in pairs:
            if name in response.headers:
                del response.headers[name]
        for name, value in pairs:
            response.headers[name] = value
    return response


def without_body(response: Response) -> Response:
    """The response to a ``HEAD`` request: the same status and headers, no body.

    ``Content-Length`` keeps the length of the body a ``GET`` would have got.
    """
    if not response.body:
        return response
    headers = Headers(response.headers.raw_items())
    if "Content-Length" not in headers:
        headers["Content-Length"] = str(len(response.body))
    return Response(response.status_code, response.reason_phrase, headers, b"")


def close_code(response: Response) -> int:
    """The close code standing for an HTTP rejection when the handshake is done.

    A 4xx status maps to ten times itself (404 gives 4040), a 5xx status to 1011
    (internal error) and anything else to 1008 (policy violation).
    """
    status = response.status_code
    if 400 <= status < 500:
        return status * 10
    if status >= 500:
        return 1011
    return 1008
