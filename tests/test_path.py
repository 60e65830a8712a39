"""Tests for request target decoding, QueryParams and RoutedPath."""

from __future__ import annotations

import re
from typing import Any

import pytest

from websockets_routes import BadRequest, QueryParams, RoutedPath, Router, URLBuildError, URLPath
from websockets_routes._path import encode_segment, parse_host, split_target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", ([""], "")),
        ("/a", (["a"], "")),
        ("/a/", (["a", ""], "")),
        ("/a//b", (["a", "", "b"], "")),
        ("/a/b?x=1", (["a", "b"], "x=1")),
        ("/a?x=1?y=2", (["a"], "x=1?y=2")),
        ("/?", ([""], "")),
        ("/a?x=%2F", (["a"], "x=%2F")),  # the query string is never decoded here
        ("/a?x=%zz", (["a"], "x=%zz")),  # nor checked
        ("/chat/a%2Fb", (["chat", "a/b"], "")),
        ("/a%2F", (["a/"], "")),
        ("/%2F", (["/"], "")),
        ("/caf%C3%A9", (["café"], "")),
        ("/caf%c3%a9", (["café"], "")),
        ("/café", (["café"], "")),
        ("/caf\udcc3\udca9", (["café"], "")),  # raw UTF-8 bytes as surrogate escapes
        ("/a%20b", (["a b"], "")),
        ("/a+b", (["a+b"], "")),  # "+" is not a space in a path
        ("/a%25b", (["a%b"], "")),
        ("/a%2525", (["a%25"], "")),  # decoded once only
        ("/a;b=c/d", (["a;b=c", "d"], "")),
        ("/a%3Bb", (["a;b"], "")),
        ("/.well-known", ([".well-known"], "")),
        ("/a/...", (["a", "..."], "")),
        ("/a/.b", (["a", ".b"], "")),
        ("/a/b.", (["a", "b."], "")),
        ("/%2e%2e%2e", (["..."], "")),
        ("/a%2F.b", (["a/.b"], "")),
        ("/%7e", (["~"], "")),
        ("/%C2%85", (["\x85"], "")),  # C1 controls are not refused
        ("/\\evil", (["\\evil"], "")),
    ],
)
def test_split_target(target: str, expected: tuple[list[str], str]) -> None:
    """A target splits on '/' first, then each segment is percent-decoded as UTF-8."""
    assert split_target(target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "must be a path starting with a single /"),
        ("a/b", "must be a path starting with a single /"),
        ("*", "must be a path starting with a single /"),
        ("http://example.com/a", "must be a path starting with a single /"),
        ("example.com:443", "must be a path starting with a single /"),
        ("//", "must be a path starting with a single /"),
        ("//evil.com/a", "must be a path starting with a single /"),
        ("//[", "must be a path starting with a single /"),
        ("?x=1", "must be a path starting with a single /"),
        ("/a#b", "must not contain a fragment"),
        ("/a?x#b", "must not contain a fragment"),
        ("/#", "must not contain a fragment"),
        ("/%zz", "malformed percent-escape"),
        ("/a%", "malformed percent-escape"),
        ("/a%2", "malformed percent-escape"),
        ("/a%2g", "malformed percent-escape"),
        ("/%%41", "malformed percent-escape"),
        ("/%٣٣", "malformed percent-escape"),
        ("/%ff%fe", "not valid UTF-8"),
        ("/%C3", "not valid UTF-8"),
        ("/%C3%28", "not valid UTF-8"),
        ("/%ED%A0%80", "not valid UTF-8"),  # an encoded surrogate
        ("/%C0%AF", "not valid UTF-8"),  # an overlong "/"
        ("/a\udcff", "not valid UTF-8"),  # a raw byte that is not UTF-8
        ("/\udcff%41", "not valid UTF-8"),
        ("/\ud800", "not valid UTF-8"),
        ("/%00", "control character"),
        ("/a%0D%0Ab", "control character"),
        ("/%0a", "control character"),
        ("/%1F", "control character"),
        ("/%7f", "control character"),
        ("/a\x00", "control character"),
        ("/a\tb", "control character"),
        ("/a\x7f", "control character"),
        ("/..", "dot segment"),
        ("/.", "dot segment"),
        ("/a/..", "dot segment"),
        ("/a/../b", "dot segment"),
        ("/a/./b", "dot segment"),
        ("/a/.", "dot segment"),
        ("/%2e%2e", "dot segment"),
        ("/%2E", "dot segment"),
        ("/.%2e", "dot segment"),
        ("/a/%2e%2e/b", "dot segment"),
        ("/..%2F..", "dot segment"),
        ("/..%2F..%2Fetc", "dot segment"),
        ("/a%2F..", "dot segment"),
        ("/a%2F.%2Fb", "dot segment"),
        ("/%2F..", "dot segment"),
        ("/%2e%2e%2Fx", "dot segment"),
    ],
)
def test_split_target_bad_request(target: str, message: str) -> None:
    """A target breaking the decoding rules raises BadRequest with a short message."""
    with pytest.raises(BadRequest, match=message) as info:
        split_target(target)
    # The message never echoes the target, so it is safe to send back.
    if len(target) > 1:
        assert target not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", "a"),
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("café", "caf%C3%A9"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
        ("a;b=c:d@e", "a;b=c:d@e"),
        ("!$&'()*+,", "!$&'()*+,"),
        ("~-._", "~-._"),
    ],
)
def test_encode_segment(text: str, expected: str) -> None:
    """A segment is percent-encoded so that it decodes back to the same text."""
    assert encode_segment(text) == expected
    assert split_target("/" + encode_segment(text))[0] == [text]


@pytest.mark.parametrize(
    ("query", "key", "first", "every"),
    [
        ("a=1", "a", "1", ["1"]),
        ("a=1&a=2", "a", "1", ["1", "2"]),
        ("a=1&b=2&a=3", "a", "1", ["1", "3"]),
        ("flag", "flag", "", [""]),
        ("flag=", "flag", "", [""]),
        ("a=x%20y", "a", "x y", ["x y"]),
        ("a=x+y", "a", "x y", ["x y"]),
        ("a=%C3%A9", "a", "é", ["é"]),
        ("a=1;b=2", "a", "1;b=2", ["1;b=2"]),
        ("a=1&&b=2", "b", "2", ["2"]),
        ("", "a", KeyError, []),
        ("b=1", "a", KeyError, []),
    ],
)
def test_query_params(query: str, key: str, first: object, every: list[str]) -> None:
    """query[key] is the first value, get_all() every value, blank values kept."""
    params = QueryParams(query)
    if first is KeyError:
        with pytest.raises(KeyError):
            params[key]
        assert params.get(key) is None
        assert key not in params
    else:
        assert params[key] == first
        assert params.get(key) == first
        assert key in params
    assert params.get_all(key) == every


def test_query_params_mapping() -> None:
    """QueryParams iterates over distinct keys in order and keeps every pair."""
    params = QueryParams("b=1&a=2&b=3&c")
    assert list(params) == ["b", "a", "c"]
    assert len(params) == 3
    assert dict(params) == {"b": "1", "a": "2", "c": ""}
    assert params.items_list() == [("b", "1"), ("a", "2"), ("b", "3"), ("c", "")]
    assert repr(params) == "QueryParams([('b', '1'), ('a', '2'), ('b', '3'), ('c', '')])"
    assert len(QueryParams()) == 0


@pytest.fixture
def router() -> Router:
    router = Router()

    @router.route("/thing/{id:int}")
    async def thing(ws: object, path: RoutedPath) -> None:
        pass

    @router.route("/static")
    async def static(ws: object, path: RoutedPath) -> None:
        pass

    return router


@pytest.mark.parametrize(
    ("target", "params", "path", "query"),
    [
        ("/thing/123", {"id": 123}, "/thing/123", {}),
        ("/thing/123?x=1&x=2&y", {"id": 123}, "/thing/123", {"x": "1", "y": ""}),
        ("/thing/0123?", {"id": 123}, "/thing/0123", {}),
        ("/static", {}, "/static", {}),
        ("/static?a=%2F", {}, "/static", {"a": "/"}),
    ],
)
def test_routed_path(
    router: Router, target: str, params: dict[str, int], path: str, query: dict[str, str]
) -> None:
    """A RoutedPath is the target as sent, with params, context, route, query and path."""
    routed = router.match(target)
    assert isinstance(routed, RoutedPath)
    assert isinstance(routed, str)
    assert routed == target
    assert str(routed) == target
    assert routed.params == params
    assert routed.context == {}
    assert routed.route.name == target[1:].partition("/")[0].partition("?")[0]
    assert routed.path == path
    assert dict(routed.query) == query


def test_routed_path_route_and_query_cache(router: Router) -> None:
    """A RoutedPath carries its Route; the query is parsed once and cached."""
    routed = router.match("/thing/1?x=1")
    assert routed is not None
    assert routed.route.name == "thing"
    assert routed.route.pattern == "/thing/{id:int}"
    assert routed.query is routed.query
    assert routed.query.get_all("x") == ["1"]


def test_routed_path_context_per_match(router: Router) -> None:
    """Each match gets its own params and context dicts."""
    first = router.match("/thing/1")
    second = router.match("/thing/1")
    assert first is not None
    assert second is not None
    first.context["user"] = "alice"
    first.params["extra"] = True
    assert second.context == {}
    assert second.params == {"id": 1}


def test_routed_path_is_not_decoded(router: Router) -> None:
    """RoutedPath.path is the path as sent, percent-escapes included."""
    router.route("/files/{name}")(lambda ws, path: None)
    routed = router.match("/files/a%2Fb?q")
    assert routed is not None
    assert routed.path == "/files/a%2Fb"
    assert routed.params == {"name": "a/b"}


# The Host header, for routers with host patterns.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", ("example.com", None)),
        ("Example.COM", ("example.com", None)),
        ("example.com.", ("example.com", None)),
        ("acme.example.com:8443", ("acme.example.com", 8443)),
        ("localhost", ("localhost", None)),
        ("my_app:8000", ("my_app", 8000)),
        ("a-b.c1", ("a-b.c1", None)),
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("h:65535", ("h", 65535)),
        ("[::1]", ("[::1]", None)),
        ("[::1]:8765", ("[::1]", 8765)),
        ("[0:0:0::1]", ("[::1]", None)),
        ("[2001:DB8::1]", ("[2001:db8::1]", None)),
        ("a" * 63 + ".com", ("a" * 63 + ".com", None)),
        ("", BadRequest),
        (" ", BadRequest),
        ("a b", BadRequest),
        ("a..b", BadRequest),
        (".a", BadRequest),
        ("-a.com", BadRequest),
        ("a-.com", BadRequest),
        ("a" * 64 + ".com", BadRequest),
        (".".join(["a"] * 128), BadRequest),  # 255 characters
        ("a/b", BadRequest),
        ("a\\b", BadRequest),
        ("a@b", BadRequest),
        ("a%41", BadRequest),
        ("a\x00", BadRequest),
        ("caf\u00e9.com", BadRequest),
        ("\u212a.com", BadRequest),  # the Kelvin sign lower-cases to "k"
        ("a:", BadRequest),
        ("a:x", BadRequest),
        ("a:+1", BadRequest),
        ("a:65536", BadRequest),
        ("a:123456", BadRequest),
        ("a:1:2", BadRequest),
        ("::1", BadRequest),
        ("[::1", BadRequest),
        ("[::1]x", BadRequest),
        ("[::1]:", BadRequest),
        ("[zz::1]", BadRequest),
        ("[]", BadRequest),
        ("x" * 301, BadRequest),
    ],
)
def test_parse_host(value: str, expected: object) -> None:
    """A Host header is a host name or an IP literal and an optional port, or a bad request."""
    if expected is BadRequest:
        with pytest.raises(BadRequest, match="the Host header is not a host name"):
            parse_host(value)
    else:
        assert parse_host(value) == expected


@pytest.mark.parametrize(
    ("host", "kwargs", "expected"),
    [
        (None, {"host": "example.com"}, "wss://example.com/a%20b"),
        (None, {"host": "localhost:8765"}, "wss://localhost:8765/a%20b"),
        (None, {"host": "[::1]", "port": 80}, "wss://[::1]:80/a%20b"),
        (None, {"scheme": "ws", "host": "h"}, "ws://h/a%20b"),
        (None, {"scheme": "https", "host": "h"}, "https://h/a%20b"),
        ("acme.example.com", {}, "wss://acme.example.com/a%20b"),
        ("acme.example.com", {"port": 8443}, "wss://acme.example.com:8443/a%20b"),
        ("acme.example.com", {"scheme": "http"}, "http://acme.example.com/a%20b"),
        (None, {}, "comes from a route without a host pattern: pass host="),
        ("acme.example.com", {"host": "x"}, "pass port= to add a port, not host="),
        (None, {"scheme": "ftp", "host": "h"}, "scheme 'ftp' must be 'wss', 'ws'"),
        (None, {"host": "h:1", "port": 2}, "host 'h:1' has a port already"),
        (None, {"host": "h", "port": 0}, "port=0 must be an int from 1 to 65535"),
        (None, {"host": "h", "port": True}, "port=True must be an int"),
        (None, {"host": "::1"}, "'::1' is not a host name or IP address"),
        (None, {"host": "a/b"}, "'a/b' is not a host name"),
    ],
)
def test_url_path_absolute(host: str | None, kwargs: dict[str, Any], expected: str) -> None:
    """URLPath.absolute adds a scheme and a host (its own, or one given), or says what's wrong."""
    url = URLPath("/a%20b")
    url.host = host
    if "://" in expected:
        assert url.absolute(**kwargs) == expected
    else:
        with pytest.raises(URLBuildError, match=re.escape(expected)):
            url.absolute(**kwargs)
