"""Request targets: decoding them into segments, and the RoutedPath handed to views."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from .exceptions import BadRequest

if TYPE_CHECKING:
    from ._route import Route
    from ._router import Router

__all__ = [
    "CONTROL",
    "QueryParams",
    "RoutedPath",
    "decode_path",
    "encode_segment",
    "split_path",
    "split_target",
]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOTS = (".", "..")
# Characters kept as they are in built URLs: RFC 3986 pchar minus "%" and "/".
_SAFE = "!$&'()*+,;=:@"


def split_path(target: str, path: str) -> tuple[list[str], int]:
    """The segments of ``path``, the part of ``target`` before ``?``, from ``start``.

    Returns ``(segments, start)``: the segments are ``segments[start:]``. Most
    targets need no decoding and take the fast path, a plain split that leaves
    the empty string before the leading ``/`` in place (``start`` is 1) rather
    than copying the path to slice it off; the others are decoded by
    :func:`decode_path` (``start`` is 0).

    Raises:
        BadRequest: As :func:`decode_path`.
    """
    # Nothing to decode, nothing that could be a dot segment, origin-form, no fragment.
    if (
        "%" not in path
        and "/." not in path
        and "#" not in target
        and path.isprintable()
        and path[:1] == "/" != path[1:2]
    ):
        return path.split("/"), 1
    return decode_path(target), 0


def decode_path(target: str) -> list[str]:
    """The slow path: check and decode every segment of ``target``'s path.

    Raises:
        BadRequest: If the target is not origin-form (``/`` first, not ``//``),
            has a fragment, a malformed escape, invalid UTF-8, a control character
            or a dot segment.
    """
    path = target.partition("?")[0]
    if path[:1] != "/" or path[:2] == "//":
        raise BadRequest("the request target must be a path starting with a single /")
    if "#" in target:
        raise BadRequest("the request target must not contain a fragment")
    return [_decode(segment) for segment in path[1:].split("/")]


def split_target(target: str) -> tuple[list[str], str]:
    """Split a request target into decoded path segments and the raw query string.

    ``/rooms/a%2Fb?x=1`` gives ``(["rooms", "a/b"], "x=1")`` and ``/`` gives
    ``([""], "")``: a trailing slash shows as a last empty segment.

    Raises:
        BadRequest: As :func:`decode_path`.
    """
    path, _, query = target.partition("?")
    segments, start = split_path(target, path)
    return segments[start:], query


def _decode(segment: str) -> str:
    # Older websockets pass non-ASCII bytes of the target as surrogate escapes.
    if "%" in segment or not segment.isascii():
        if _BAD_ESCAPE.search(segment):
            raise BadRequest("the path contains a malformed percent-escape")
        try:
            raw = segment.encode("utf-8", "surrogateescape")
            segment = unquote_to_bytes(raw).decode()
        except UnicodeError:
            raise BadRequest("the path is not valid UTF-8 once decoded") from None
        # A decoded "/" doesn't split segments, but "..%2F.." must not smuggle a
        # traversal into a path parameter either.
        if "/" in segment and any(part in _DOTS for part in segment.split("/")):
            raise BadRequest("the path contains a dot segment")
    if CONTROL.search(segment):
        raise BadRequest("the path contains a control character")
    if segment in _DOTS:
        raise BadRequest("the path contains a dot segment")
    return segment


def encode_segment(value: str) -> str:
    """Percent-encode one segment for a URL; ``/`` becomes ``%2F``."""
    return quote(value, safe=_SAFE)


class QueryParams(Mapping[str, str]):
    """The parsed query string: ``query["a"]`` is the first value of ``a``.

    Blank values are kept (``?flag`` gives ``{"flag": ""}``); use :meth:`get_all`
    for repeated keys.
    """

    __slots__ = ("_items",)

    def __init__(self, query: str = "") -> None:
        self._items = parse_qsl(query, keep_blank_values=True)

    def __getitem__(self, key: str) -> str:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._items))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self._items))

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in order; an empty list when it is absent."""
        return [value for name, value in self._items if name == key]

    def items_list(self) -> list[tuple[str, str]]:
        """Every ``(key, value)`` pair in order, repeated keys included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"QueryParams({self._items!r})"


class RoutedPath(str):
    """The request target, as a :class:`str`, with what routing found out.

    ``path == "/thing/123?x=1"`` is the target as the client sent it; the
    attributes below carry the rest.

    Attributes:
        params: Parameters captured in the path, converted by their converters:
            ``{"id": 123}`` for ``/thing/{id:int}``.
        context: A dict for handshake hooks to hand values on to the handler.
        route: The :class:`~websockets_routes.Route` that matched.
        router: The :class:`~websockets_routes.Router` that routed the request:
            the one being served, also when the route was declared on a router
            it includes. Its :attr:`~websockets_routes.Router.connections` are
            the open connections that broadcast reaches.
        client: The client's address as the connection's ``remote_address``
            gives it, ``(host, port, ...)``: the peer's, or behind a trusted
            proxy with the command line's ``--proxy-headers``, the address the
            proxy forwarded (port 0). None when routing without a connection.
    """

    params: dict[str, Any]
    route: Route
    router: Router
    view: Any
    client: Any = None

    @cached_property
    def context(self) -> dict[str, Any]:
        """A dict for handshake hooks to hand values on to the handler, made on first use."""
        return {}

    @cached_property
    def query(self) -> QueryParams:
        """The query string parsed into a :class:`QueryParams`, on first use."""
        return QueryParams(self.partition("?")[2])

    @property
    def path(self) -> str:
        """The target without its query string, as sent (not decoded)."""
        return self.partition("?")[0]
