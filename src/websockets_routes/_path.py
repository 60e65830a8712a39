"""Request targets: decoding them into segments, and the RoutedPath handed to views."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from .exceptions import BadRequest, URLBuildError

if TYPE_CHECKING:
    from ._route import Route
    from ._router import Router

__all__ = [
    "CONTROL",
    "QueryParams",
    "RoutedPath",
    "URLPath",
    "decode_path",
    "encode_segment",
    "parse_host",
    "split_path",
    "split_target",
]

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOTS = (".", "..")
# Characters kept as they are in built URLs: RFC 3986 pchar minus "%" and "/".
_SAFE = "!$&'()*+,;=:@"


def split_path(target: str, path: str) -> list[str]:
    """The segments of ``path``, the part of ``target`` before ``?``, after a leading "".

    The segments are ``segments[1:]``: most targets need no decoding and take the
    fast path, a plain split that leaves the empty string before the leading
    ``/`` in place rather than copying the path to slice it off; the others are
    decoded by :func:`decode_path`, with an empty string put first to match.

    Raises:
        BadRequest: As :func:`decode_path`.
    """
    # Nothing to decode, nothing that could be a dot segment, no fragment...
    if "%" not in path and "/." not in path and "#" not in target and path.isprintable():
        segments = path.split("/")
        # ...and origin-form: "/" first, but not "//" (checked on the split, which
        # costs less than slicing the path).
        if len(segments) > 1 and segments[0] == "" and (segments[1] or len(segments) == 2):
            return segments
    return ["", *decode_path(target)]


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
    return split_path(target, path)[1:], query


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


# A label of a host name: letters, digits, "-" inside, and "_", which some private
# networks use in names (Docker services); 63 characters at most. Lower case only:
# the header is lower-cased before this is applied.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")


def parse_host(value: str) -> tuple[str, int | None]:
    """Check a ``Host`` header's value; return the host lower-cased, and the port.

    The host is a host name (labels of letters, digits, ``-`` and ``_``; one
    trailing dot is dropped), an IPv4 address, or an IPv6 address in brackets,
    written back in its compressed form (``[::1]``). A port, if any, is 0 to 65535.

    Raises:
        BadRequest: If the value is anything else.
    """
    if not 0 < len(value) <= 300 or not value.isascii():
        raise BadRequest("the Host header is not a host name or IP address, with an optional port")
    value = value.lower()
    if value[:1] == "[":
        end = value.find("]")
        host, rest = value[1:end], value[end + 1 :]
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]" if end > 0 else ""
        except ValueError:
            host = ""
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
        if host[-1:] == ".":
            host = host[:-1]
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
            host = ""
    port_number = None
    if rest:
        if rest[:1] == ":" and _PORT.fullmatch(rest[1:]) and int(rest[1:]) <= 65535:
            port_number = int(rest[1:])
        else:
            host = ""
    if not host:
        raise BadRequest("the Host header is not a host name or IP address, with an optional port")
    return host, port_number


def encode_segment(value: str) -> str:
    """Percent-encode one segment for a URL; ``/`` becomes ``%2F``."""
    return quote(value, safe=_SAFE)


class URLPath(str):
    """A path built by :meth:`Router.url_path_for <websockets_routes.Router.url_path_for>`,
    as a :class:`str`, that can also give the absolute URL.

    ``url == "/rooms/lobby"``; :meth:`absolute` adds a scheme and a host.

    Attributes:
        host: The host built from the route's host pattern and parameters
            (``"acme.example.com"``), or None for a route without one.
    """

    host: str | None = None

    def absolute(
        self, scheme: str = "wss", *, host: str | None = None, port: int | None = None
    ) -> str:
        """The absolute URL: ``wss://acme.example.com/rooms/lobby``.

        Args:
            scheme: ``"wss"`` (the default), ``"ws"``, or for HTTP endpoints
                ``"https"`` or ``"http"``.
            host: The host, with an optional port (``"localhost:8765"``), for a
                route without a host pattern; a route with one builds its own.
            port: A port to add to the host.

        Raises:
            URLBuildError: If the scheme is unknown, the host is missing, given
                for a route that builds its own, or not a valid host, or the port
                is not in 1-65535 or comes on top of one in ``host``.
        """
        if scheme not in ("ws", "wss", "http", "https"):
            raise URLBuildError(f"scheme {scheme!r} must be 'wss', 'ws', 'https' or 'http'")
        if host is None:
            if self.host is None:
                raise URLBuildError(
                    f"{self!r} comes from a route without a host pattern: pass host="
                )
            host = self.host
        elif self.host is not None:
            raise URLBuildError(
                f"{self!r} comes from a route whose host pattern gives {self.host!r}; "
                f"pass port= to add a port, not host="
            )
        try:
            _, given = parse_host(host)
        except BadRequest:
            raise URLBuildError(
                f"{host!r} is not a host name or IP address (IPv6 in brackets), with an "
                f"optional port"
            ) from None
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 65535:
                raise URLBuildError(f"port={port!r} must be an int from 1 to 65535")
            if given is not None:
                raise URLBuildError(f"host {host!r} has a port already; drop port={port!r}")
            host = f"{host}:{port}"
        return f"{scheme}://{host}{self}"


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
        meta: Public facts about the connection that presence shows (a user's name).
        route: The :class:`~websockets_routes.Route` that matched.
        router: The :class:`~websockets_routes.Router` that routed the request:
            the one being served, also when the route was declared on a router
            it includes. Its :attr:`~websockets_routes.Router.connections` are
            the open connections that broadcast reaches.
        method: The request method: ``"GET"``, or for an HTTP endpoint, any of
            the methods it answers (``"HEAD"``, ``"POST"``...).
        host: The host the request was routed by, from its ``Host`` header:
            lower-cased, without the port. None when the router has no host
            patterns, since it never reads ``Host``.
        client: The client's address as the connection's ``remote_address``
            gives it, ``(host, port, ...)``: the peer's, or behind a trusted
            proxy with the command line's ``--proxy-headers``, the address the
            proxy forwarded (port 0). None when routing without a connection.
    """

    params: dict[str, Any]
    route: Route
    router: Router
    view: Any
    # Class attributes: set on the instance only for other methods than GET, and
    # by routers with host patterns.
    method: str = "GET"
    host: str | None = None
    client: Any = None

    @cached_property
    def context(self) -> dict[str, Any]:
        """A dict for handshake hooks to hand values on to the handler, made on first use."""
        return {}

    @cached_property
    def meta(self) -> dict[str, Any]:
        """What the app tells others about this connection, made on first use.

        Presence shows it: ``member.meta`` is this dict. Put public facts in it,
        such as the user's name, from a hook or the handler; keep secrets in
        :attr:`context`.
        """
        return {}

    @cached_property
    def query(self) -> QueryParams:
        """The query string parsed into a :class:`QueryParams`, on first use."""
        return QueryParams(self.partition("?")[2])

    @property
    def path(self) -> str:
        """The target without its query string, as sent (not decoded)."""
        return self.partition("?")[0]
