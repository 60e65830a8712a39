"""Tests for the segment trie on its own: which route a path reaches, and with what values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from websockets_routes._matcher import Node
from websockets_routes._patterns import parse_pattern
from websockets_routes._route import Route
from websockets_routes.converters import (
    DEFAULT_CONVERTERS,
    Converter,
    IntConverter,
    PathConverter,
)


async def handler(ws: Any, path: Any) -> None:
    """A handler that does nothing; the trie never calls it."""


class Even(Converter[int]):
    """A custom converter: even numbers only."""

    weight = 60

    def to_python(self, value: str) -> int:
        number = int(value)
        if number % 2:
            raise ValueError("odd")
        return number


class LowerPath(PathConverter):
    """A custom `path` converter: lower-case paths only."""

    def to_python(self, value: str) -> str:
        if not value.islower():
            raise ValueError("not lower case")
        return value


CONVERTERS = {
    **DEFAULT_CONVERTERS,
    "even": Even(),
    "small": IntConverter(max=9),
    "lower": LowerPath(),
}


def trie(*patterns: str) -> Node:
    """A trie of routes named after their patterns, inserted in this order."""
    root = Node()
    for pattern in patterns:
        segments = parse_pattern(pattern, CONVERTERS)
        root.insert(segments, Route(pattern, pattern, "websocket", handler, segments, None, (), ()))
    return root


def lookup(root: Node, path: str) -> tuple[str, dict[str, Any]] | None:
    """The pattern of the route ``path`` reaches, and the captured values."""
    params: dict[str, Any] = {}
    route = root.match(path.split("/"), 1, params)
    return None if route is None else (route.pattern, params)


UUID = "12345678-1234-1234-1234-123456789abc"


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        # Static text first, whatever the declaration order.
        (["/a/{x}", "/a/new"], "/a/new", ("/a/new", {})),
        (["/a/{x}", "/a/new"], "/a/old", ("/a/{x}", {"x": "old"})),
        # Then parameters by converter weight: uuid, int, float, regex, custom, str.
        (["/v/{s}", "/v/{f:float}", "/v/{i:int}"], "/v/7", ("/v/{i:int}", {"i": 7})),
        (["/v/{s}", "/v/{f:float}", "/v/{i:int}"], "/v/7.5", ("/v/{f:float}", {"f": 7.5})),
        (["/v/{s}", "/v/{f:float}", "/v/{i:int}"], "/v/x", ("/v/{s}", {"s": "x"})),
        (["/v/{s}", "/v/{u:uuid}"], f"/v/{UUID}", ("/v/{u:uuid}", {"u": uuid.UUID(UUID)})),
        (["/v/{s}", "/v/{r:[a-c]+}"], "/v/abc", ("/v/{r:[a-c]+}", {"r": "abc"})),
        (["/v/{s}", "/v/{e:even}"], "/v/4", ("/v/{e:even}", {"e": 4})),
        (["/v/{s}", "/v/{e:even}"], "/v/3", ("/v/{s}", {"s": "3"})),
        # Mixed segments, between converters and str.
        (
            ["/f/{name}", "/f/{stem}.{ext}"],
            "/f/a.txt",
            ("/f/{stem}.{ext}", {"stem": "a", "ext": "txt"}),
        ),
        (["/f/{name}", "/f/{stem}.{ext}"], "/f/a", ("/f/{name}", {"name": "a"})),
        # A refused value means: try the next candidate.
        (["/n/{a:small}", "/n/{b}"], "/n/10", ("/n/{b}", {"b": "10"})),
        # A branch that fails deeper hands back, and forgets what it captured.
        (["/a/{x:int}/b", "/a/{y}/c"], "/a/1/c", ("/a/{y}/c", {"y": "1"})),
        (["/a/new/b", "/a/{y}/c"], "/a/new/c", ("/a/{y}/c", {"y": "new"})),
        # `path` parameters come last and take the rest, slashes included.
        (["/p/{rest:path}", "/p/{one}"], "/p/a", ("/p/{one}", {"one": "a"})),
        (["/p/{rest:path}", "/p/{one}"], "/p/a/b", ("/p/{rest:path}", {"rest": "a/b"})),
        (["/p/{rest:path}", "/p/a/b"], "/p/a/b", ("/p/a/b", {})),
        (["/p/{rest:path}", "/p/a/b"], "/p/a/c", ("/p/{rest:path}", {"rest": "a/c"})),
        # A `path` parameter followed by more pattern takes what the rest leaves.
        (["/f/{p:path}/raw"], "/f/a/b/raw", ("/f/{p:path}/raw", {"p": "a/b"})),
        (["/f/{p:path}/raw"], "/f/a/raw/raw", ("/f/{p:path}/raw", {"p": "a/raw"})),
        (["/f/{p:path}/raw"], "/f/raw/raw", ("/f/{p:path}/raw", {"p": "raw"})),
        (["/f/{p:path}/"], "/f/a/b/", ("/f/{p:path}/", {"p": "a/b"})),
        (
            ["/f/{p:path}/{n:int}.txt"],
            "/f/a/b/7.txt",
            ("/f/{p:path}/{n:int}.txt", {"p": "a/b", "n": 7}),
        ),
        (
            ["/{p:path}/x/{q}"],
            "/a/x/x/b",
            ("/{p:path}/x/{q}", {"p": "a/x", "q": "b"}),
        ),
        # Of `path` parameters at one position, the one followed by the most
        # segments goes first, whatever the declaration order...
        (["/f/{p:path}", "/f/{p:path}/raw"], "/f/a/raw", ("/f/{p:path}/raw", {"p": "a"})),
        (["/f/{p:path}/raw", "/f/{p:path}"], "/f/a/raw", ("/f/{p:path}/raw", {"p": "a"})),
        (["/f/{p:path}", "/f/{p:path}/raw"], "/f/a/b", ("/f/{p:path}", {"p": "a/b"})),
        (
            ["/f/{p:path}/{x}", "/f/{p:path}/{x}/{y}"],
            "/f/a/b/c",
            ("/f/{p:path}/{x}/{y}", {"p": "a", "x": "b", "y": "c"}),
        ),
        # ...and when its tail refuses, the next one is tried, its values forgotten.
        (
            ["/f/{p:path}/{n:int}", "/f/{q:path}"],
            "/f/a/b",
            ("/f/{q:path}", {"q": "a/b"}),
        ),
        (["/f/{p:path}/raw", "/f/{p:path}"], "/f/a/b", ("/f/{p:path}", {"p": "a/b"})),
        # A `path` value its converter refuses means: try the next candidate.
        (["/f/{p:lower}/raw", "/f/{q:path}"], "/f/a/raw", ("/f/{p:lower}/raw", {"p": "a"})),
        (["/f/{p:lower}/raw", "/f/{q:path}"], "/f/A/raw", ("/f/{q:path}", {"q": "A/raw"})),
        # Static text and parameters still come before a `path` parameter.
        (["/f/{p:path}/raw", "/f/{x}/raw"], "/f/a/raw", ("/f/{x}/raw", {"x": "a"})),
        (["/f/{p:path}/raw", "/f/a/raw"], "/f/a/raw", ("/f/a/raw", {})),
        # Edges are shared only when the names agree too: values keep their route's name.
        (["/x/{a:int}/p", "/x/{b:int}/q"], "/x/1/q", ("/x/{b:int}/q", {"b": 1})),
        # A route may end where another goes on.
        (["/t", "/t/{x}"], "/t", ("/t", {})),
        (["/t", "/t/{x}"], "/t/1", ("/t/{x}", {"x": "1"})),
        (["/", "/{x}"], "/", ("/", {})),
    ],
)
def test_match(patterns: list[str], path: str, expected: tuple[str, dict[str, Any]]) -> None:
    """The trie tries static text, then parameters by weight, then `path`, depth first."""
    assert lookup(trie(*patterns), path) == expected


@pytest.mark.parametrize(
    ("patterns", "path"),
    [
        (["/a/{x}"], "/a"),
        (["/a/{x}"], "/a/b/c"),
        # Empty segments never match a parameter.
        (["/a/{x}/b"], "/a//b"),
        (["/a/{x}"], "/a/"),
        # A `path` value has no empty part: it must rebuild into the same path.
        (["/p/{rest:path}"], "/p/a//b"),
        (["/p/{rest:path}"], "/p/a/"),
        (["/p/{rest:path}"], "/p/"),
        # A `path` parameter takes at least one segment, none of them empty.
        (["/f/{p:path}/raw"], "/f/raw"),
        (["/f/{p:path}/raw"], "/f//raw"),
        (["/f/{p:path}/raw"], "/f/a//b/raw"),
        (["/f/{p:path}/raw"], "/f/a/b"),
        (["/f/{p:path}/raw"], "/f/a/raw/"),
        (["/f/{p:path}/{n:int}"], "/f/a/b"),
        # Every candidate refuses.
        (["/n/{a:small}", "/n/{e:even}"], "/n/11"),
        (["/f/{stem}.{ext:int}"], "/f/a.b"),
    ],
)
def test_no_match(patterns: list[str], path: str) -> None:
    """Paths that no candidate accepts reach no route."""
    assert lookup(trie(*patterns), path) is None


def test_equal_weights_keep_declaration_order() -> None:
    """Among parameters of equal weight, the one declared first is tried first."""
    root = trie("/r/{a:[a-m]+}", "/r/{b:[a-z]+}")
    assert lookup(root, "/r/abc") == ("/r/{a:[a-m]+}", {"a": "abc"})
    assert lookup(root, "/r/xyz") == ("/r/{b:[a-z]+}", {"b": "xyz"})
    root = trie("/r/{b:[a-z]+}", "/r/{a:[a-m]+}")
    assert lookup(root, "/r/abc") == ("/r/{b:[a-z]+}", {"b": "abc"})


def test_first_segment_index() -> None:
    """Matching starts at the given index, so a path split on '/' needs no copy."""
    root = trie("/a/{x}")
    params: dict[str, Any] = {}
    route = root.match(["ignored", "a", "1"], 1, params)
    assert route is not None
    assert (route.pattern, params) == ("/a/{x}", {"x": "1"})
    assert root.match(["a", "1"], 0, {}) is route


def test_path_in_the_middle_tries_one_split_per_tail() -> None:
    """A `path` parameter followed by more pattern is converted once, not once per length."""
    calls: list[str] = []

    class CountingPath(PathConverter):
        def match(self, value: str) -> Any:
            calls.append(value)
            return value

    converters = {**CONVERTERS, "counted": CountingPath()}
    root = Node()
    for pattern in ["/f/{p:counted}/raw", "/f/{p:counted}/{a}/{b}"]:
        segments = parse_pattern(pattern, converters)
        root.insert(segments, Route(pattern, pattern, "websocket", handler, segments, None, (), ()))
    params: dict[str, Any] = {}
    path = "/f/" + "a/" * 2000 + "raw"
    route = root.match(path.split("/"), 1, params)
    assert route is not None
    assert route.pattern == "/f/{p:counted}/{a}/{b}"
    assert params == {"p": "/".join(["a"] * 1999), "a": "a", "b": "raw"}
    assert len(calls) == 1
    calls.clear()
    assert root.match(["", "f", "a", "b", "raw"], 1, {}) is not None
    assert calls == ["a"]
