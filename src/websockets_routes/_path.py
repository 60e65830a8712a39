"""Request targets: decoding them into segments, and the RoutedPath handed to views."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from .exceptions import BadRequest

if TYPE_CHECKING:
    from ._router import Route

__all__ = ["QueryParams", "RoutedPath", "encode_segment", "split_target"]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOTS = (".", "..")
# Characters kept as they are in built URLs: RFC 3986 pchar minus "%" and "/".
_SAFE = "!$&'()*+,;=:@"


def split_target(target: str) -> tuple[list[str], str]:
    """Split a request target into decoded path segments and the raw query string.

    ``/rooms/a%2Fb?x=1`` gives ``(["rooms", "a/b"], "x=1")`` and ``/`` gives
    ``([""], "")``: a trailing slash shows as a last empty segment.

    Raises:
        BadRequest: If the target is not origin-form (``/`` first, not ``//``),
            has a fragment, a malformed escape, invalid UTF-8, a control character
            or a dot segment.
    """
    path, _, query = target.partition("?")
    if path[:1] != "/" or path[:2] == "//":
        raise BadRequest("the request target must be a path starting with a single /")
    if "#" in target:
        raise BadRequest("the request target must not contain a fragment")
    segments = path[1:].split("/")
    # Fast path: nothing to decode and nothing that could be a dot segment.
    if "%" not in path and "/." not in path and path.isprintable():
        return segments, query
    return [_decode(segment) for segment in segments], query


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
    if _CONTROL.search(segment):
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
    """

    params: dict[str, Any]
    route: Route
    view: Any

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
