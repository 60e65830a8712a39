"""Property tests: url_for and match agree, and match never fails unexpectedly."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.http11 import Response

from websockets_routes import BadRequest, IntConverter, RoutedPath, Router, URLBuildError
from websockets_routes._path import decode_path, parse_host, split_path

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT_MAX = 10 ** IntConverter().max_digits - 1

# Text without control characters (U+0000-U+001F, U+007F) or surrogates.
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f").filter(
        lambda c: c >= " "
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))
# Dot parts inside a str value (as in "a/..") also make a dot segment once sent.
STR_VALUE = TEXT.filter(lambda s: not any(part in (".", "..") for part in s.split("/")))
PATH_PART = TEXT.filter(lambda s: "/" not in s)
PATH_VALUE = st.lists(PATH_PART, min_size=1, max_size=4).map("/".join)
INT_VALUE = st.integers(min_value=0, max_value=INT_MAX)
FLOAT_VALUE = st.floats(allow_nan=False, allow_infinity=False)
UUID_VALUE = st.uuids()

# Each kind of segment: its pattern, given a parameter name, and a value strategy
# per parameter. Mixed segments put a separator that their first value can't contain.
KINDS: dict[str, tuple[str, dict[str, st.SearchStrategy[Any]]]] = {
    "str": ("{%s}", {"": STR_VALUE}),
    "int": ("{%s:int}", {"": INT_VALUE}),
    "float": ("{%s:float}", {"": FLOAT_VALUE}),
    "uuid": ("{%s:uuid}", {"": UUID_VALUE}),
    "regex": ("{%s:[a-z]+-[0-9]+}", {"": st.from_regex(r"[a-z]{1,8}-[0-9]{1,8}", fullmatch=True)}),
    "mixed_int_str": ("{%s_a:int}_{%s_b}", {"_a": INT_VALUE, "_b": STR_VALUE}),
    "mixed_uuid_float": ("v{%s_a:uuid}~{%s_b:float}", {"_a": UUID_VALUE, "_b": FLOAT_VALUE}),
}


@st.composite
def route_tables(draw: st.DrawFn) -> tuple[Router, list[tuple[str, dict[str, Any]]]]:
    """A router with a few routes, and for each one a name and parameter values."""
    router = Router()
    cases = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        # A distinct static first segment, so that routes never overlap.
        segments = [f"r{index}"]
        params: dict[str, Any] = {}
        for position in range(draw(st.integers(min_value=0, max_value=3))):
            kind = draw(st.sampled_from(sorted(KINDS)))
            template, values = KINDS[kind]
            name = f"p{position}"
            segments.append(template.replace("%s", name))
            for suffix, strategy in values.items():
                params[name + suffix] = draw(strategy)
            if draw(st.booleans()):
                segments.append(draw(st.sampled_from(["x", "café", "a b", ";"])))
        if draw(st.booleans()):
            segments.append("{rest:path}")
            params["rest"] = draw(PATH_VALUE)
        elif draw(st.booleans()):
            segments.append("")  # a trailing slash
        name = f"route{index}"
        router.route("/" + "/".join(segments), name=name)(lambda ws, path: None)
        cases.append((name, params))
    return router, cases


@SETTINGS
@given(route_tables())
def test_url_for_matches_back(table: tuple[Router, list[tuple[str, dict[str, Any]]]]) -> None:
    """router.match(router.url_for(name, **params)) finds that route with those params."""
    router, cases = table
    for name, params in cases:
        url = router.url_for(name, **params)
        path = router.match(url)
        assert path is not None, url
        assert path.route.name == name
        assert path.params == params
        assert path == url


@SETTINGS
@given(STR_VALUE)
def test_str_value_round_trip(value: str) -> None:
    """Any str value without control characters or dot parts survives url_for and match."""
    router = Router()
    router.route("/s/{v}", name="s")(lambda ws, path: None)
    path = router.match(router.url_for("s", v=value))
    assert path is not None
    assert path.params == {"v": value}


@SETTINGS
@given(TEXT)
def test_str_value_url_for_or_refusal(value: str) -> None:
    """url_for either builds a path that matches back or refuses; never a bad target."""
    router = Router()
    router.route("/s/{v}", name="s")(lambda ws, path: None)
    router.route("/m/{a}.{b}", name="m")(lambda ws, path: None)
    for name, params in [("s", {"v": value}), ("m", {"a": value, "b": value})]:
        try:
            url = router.url_for(name, **params)
        except URLBuildError:
            continue
        path = router.match(url)
        assert path is not None
        assert path.params == params


ROUTER = Router()
for _pattern in [
    "/",
    "/a",
    "/a/",
    "/s/{v}",
    "/i/{v:int}",
    "/f/{v:float}",
    "/u/{v:uuid}",
    "/r/{v:[a-z]+-\\d+}",
    "/m/{name}.{ext}",
    "/p/{v:path}",
    "/{x}/{y:int}/z",
]:
    ROUTER.route(_pattern, name=_pattern)(lambda ws, path: None)

# Arbitrary text, with the characters that matter to targets made likely.
TARGET = st.one_of(
    st.text(),
    st.lists(
        st.one_of(
            st.sampled_from(["/", "%", ".", "?", "#", "2F", "2e", "C3", "A9", "ff", "a", "1"]),
            st.characters(),
            st.sampled_from(["\x00", "\x7f", "\udcff", "\ud800", "\u0663", "é"]),
        ),
        max_size=30,
    ).map("".join),
    st.from_regex(r"/[a-z0-9%./?#]*", fullmatch=True),
)


@SETTINGS
@given(TARGET)
def test_match_arbitrary_target(target: str) -> None:
    """match() on any string returns None or a RoutedPath, or raises BadRequest."""
    try:
        path = ROUTER.match(target)
    except BadRequest:
        return
    assert path is None or isinstance(path, RoutedPath)
    if path is not None:
        assert path == target
        response = ROUTER.resolve(target)
        assert isinstance(response, RoutedPath)
        assert response.params == path.params


REDIRECTING = Router(redirect_slashes=True)
REDIRECTING.include(ROUTER)


@SETTINGS
@given(TARGET)
def test_resolve_arbitrary_target(target: str) -> None:
    """resolve() on any string gives a RoutedPath or a 400, 404 or 308 response."""
    result = REDIRECTING.resolve(target)
    if not isinstance(result, RoutedPath):
        assert result.status_code in (400, 404, 308)


@SETTINGS
@given(st.uuids(), INT_VALUE)
def test_uuid_and_int_round_trip(value: uuid.UUID, number: int) -> None:
    """UUIDs and ints within IntConverter's bounds round-trip through url_for."""
    router = Router()
    router.route("/{u:uuid}/{n:int}", name="un")(lambda ws, path: None)
    path = router.match(router.url_for("un", u=value, n=number))
    assert path is not None
    assert path.params == {"u": value, "n": number}


# Request targets built from the pieces the decoding rules care about.
TARGET_PIECES = st.sampled_from(
    [
        *("/", "//", ".", "..", "%", "%2F", "%2e", "%C3%A9", "%ff", "%zz", "?", "#"),
        *("a", "é", " ", "\x00", "\x1f", "\x7f", "\u2028", "\udcff", "x?y=/..", "/./"),
    ]
)
TARGETS = st.lists(TARGET_PIECES, max_size=12).map("".join)


def decoded(target: str, *, fast: bool) -> list[str] | type[BadRequest]:
    """The segments of ``target`` as the fast path (when it applies) or the slow path sees them."""
    try:
        if fast:
            return split_path(target, target.partition("?")[0])[1:]
        return decode_path(target)
    except BadRequest:
        return BadRequest


@SETTINGS
@given(TARGETS)
def test_fast_and_slow_decoding_agree(target: str) -> None:
    """Whether a target takes the fast path or not, it gives the same segments or refusal."""
    assert decoded(target, fast=True) == decoded(target, fast=False)


PATTERN_PARTS = st.lists(
    st.sampled_from(["a", "b", "é", "a b", "{x}", "{n:int}"]), max_size=3, unique=True
)
# What a client may send for each part: as written, encoded, or with something added.
SENT = {"a": ["a", "%61"], "b": ["b", "b#"], "é": ["é", "%C3%A9"], "a b": ["a b", "a%20b"]}
SENT |= {"{x}": ["v", "%2F", ".."], "{n:int}": ["7", "x"]}


@SETTINGS
@given(PATTERN_PARTS, st.data())
def test_static_shortcut_agrees_with_the_trie(parts: list[str], data: st.DataObject) -> None:
    """The route match() finds (through its static shortcut or not) is what the trie finds."""
    router = Router()
    router.route("/" + "/".join(parts), name="r")(_handler)
    sent = "/" + "/".join(data.draw(st.sampled_from(SENT[part])) for part in parts)
    target = data.draw(st.one_of(st.just(sent), TARGETS, TARGETS.map(sent.__add__)))
    segments = decoded(target, fast=False)
    try:
        path = router.match(target)
    except BadRequest:
        assert segments is BadRequest
        return
    expected = None if segments is BadRequest else router._root.match(segments, 0, {})
    assert (path.route if path is not None else None) is expected


async def _handler(ws: Any, path: RoutedPath) -> None:
    """A handler that does nothing."""


# Host routing.

HOSTED = Router()
HOSTED.route("/rooms/{room}", name="tenant_room", host="{tenant}.example.com")(_handler)
HOSTED.route("/rooms/{room}", name="any_room")(_handler)
HOSTED.include(ROUTER, "/in", namespace="in", host="{n:int}.{zone}.example.org")

LABEL = st.from_regex(r"[a-z0-9_]([a-z0-9_-]{0,10}[a-z0-9_])?", fullmatch=True)
HOST = st.one_of(
    st.text(max_size=40),
    st.lists(LABEL, min_size=1, max_size=5).map(".".join),
    st.tuples(st.lists(LABEL, min_size=1, max_size=4).map(".".join), st.integers(0, 70000)).map(
        lambda pair: f"{pair[0]}:{pair[1]}"
    ),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
)


@SETTINGS
@given(HOST)
def test_parse_host_arbitrary(value: str) -> None:
    """parse_host() on any string gives a host that parses back to itself, or BadRequest."""
    try:
        host, port = parse_host(value)
    except BadRequest:
        return
    assert parse_host(host) == (host, None)
    assert host == host.lower()
    assert port is None or 0 <= port <= 65535


@SETTINGS
@given(TARGET, HOST)
def test_match_arbitrary_host(target: str, host: str) -> None:
    """match() with any Host returns None or a RoutedPath whose params the host and path
    gave, or raises BadRequest; resolve() never answers anything but 400, 404 or a match."""
    try:
        path = HOSTED.match(target, host=host)
    except BadRequest:
        result = HOSTED.resolve(target, host=host)
        assert isinstance(result, Response)
        assert result.status_code == 400
        return
    if path is not None:
        assert path == target
        assert path.host == parse_host(host)[0]
        if path.route.host is not None:
            assert path.host.endswith((".example.com", ".example.org"))


@SETTINGS
@given(LABEL, STR_VALUE)
def test_url_path_for_host_matches_back(tenant: str, room: str) -> None:
    """A URL built for a host pattern routes back to its route, with the same parameters."""
    url = HOSTED.url_path_for("tenant_room", tenant=tenant, room=room)
    assert url.host == f"{tenant}.example.com"
    found = HOSTED.match(url, host=url.host)
    assert found is not None
    assert (found.route.name, found.params) == ("tenant_room", {"tenant": tenant, "room": room})
