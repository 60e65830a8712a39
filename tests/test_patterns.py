"""Tests for parsing route patterns into segment specs."""

from __future__ import annotations

import re
import uuid

import pytest

from websockets_routes import (
    Converter,
    IntConverter,
    PathConverter,
    RegexConverter,
    RouteError,
    StrConverter,
    UUIDConverter,
)
from websockets_routes._patterns import Mixed, Param, Rest, Static, parse_pattern
from websockets_routes.converters import DEFAULT_CONVERTERS

STR = DEFAULT_CONVERTERS["str"]
INT = DEFAULT_CONVERTERS["int"]
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/", (Static(""),)),
        ("/a", (Static("a"),)),
        ("/a/", (Static("a"), Static(""))),
        ("/a/b", (Static("a"), Static("b"))),
        ("/café", (Static("café"),)),
        ("/a%20b", (Static("a%20b"),)),
        ("/a;b=c", (Static("a;b=c"),)),
        ("/.well-known", (Static(".well-known"),)),
        ("/...", (Static("..."),)),
        ("/{x}", (Param("x", STR),)),
        ("/{x:str}", (Param("x", STR),)),
        ("/{id:int}", (Param("id", INT),)),
        ("/{_id2:int}/", (Param("_id2", INT), Static(""))),
        ("/{é}", (Param("é", STR),)),
        ("/f/{p:path}", (Static("f"), Rest("p", DEFAULT_CONVERTERS["path"]))),
    ],
)
def test_parse_simple(pattern: str, expected: tuple[object, ...]) -> None:
    """Patterns split into static segments, parameters and a trailing path."""
    assert parse_pattern(pattern, DEFAULT_CONVERTERS) == expected


@pytest.mark.parametrize(
    ("pattern", "converter_type", "regex_pattern"),
    [
        ("/{uid:uuid}", UUIDConverter, None),
        (r"/{id:\d+}", RegexConverter, r"\d+"),
        ("/{id:[0-9a-f]{8}}", RegexConverter, "[0-9a-f]{8}"),
        ("/{v:a/b}", RegexConverter, "a/b"),
        ("/{t:a:b}", RegexConverter, "a:b"),
        ("/{q:a?}", RegexConverter, "a?"),
    ],
)
def test_parse_converter_kinds(
    pattern: str, converter_type: type[Converter[object]], regex_pattern: str | None
) -> None:
    """A converter name selects a converter; anything else is an inline regex."""
    (segment,) = parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert isinstance(segment, Param)
    assert type(segment.converter) is converter_type
    if regex_pattern is not None:
        assert isinstance(segment.converter, RegexConverter)
        assert segment.converter.pattern == regex_pattern


@pytest.mark.parametrize(
    ("pattern", "segment", "expected"),
    [
        ("/{name}.{ext}", "a.txt", [("name", "a"), ("ext", "txt")]),
        ("/{name}.{ext}", "a.b.txt", [("name", "a.b"), ("ext", "txt")]),
        ("/{name}.{ext}", "atxt", None),
        ("/{name}.{ext}", ".txt", None),
        ("/v{n:int}", "v12", [("n", 12)]),
        ("/v{n:int}", "v", None),
        ("/v{n:int}", "v1x", None),
        ("/v{n:int}", "v\u0661", None),
        ("/{id:int}.json", "5.json", [("id", 5)]),
        ("/{id:int}.json", "5.jsonx", None),
        ("/{x:float}px", "1.5e3px", [("x", 1500.0)]),
        ("/{x:float}px", "1e999px", None),  # the regex matches, the converter refuses
        ("/{a:[a-z]+}-{b:\\d+}", "ab-12", [("a", "ab"), ("b", "12")]),
        ("/{a:[a-z]+}-{b:\\d+}", "ab-cd", None),
        ("/x{n:int}", "x" + "1" * 255, None),  # longer than any regex segment
        ("/{u:uuid}.bin", f"{UID}.bin", [("u", UID)]),
        ("/{u:uuid}.bin", f"{UID}x.bin", None),
    ],
)
def test_mixed_segment_match(pattern: str, segment: str, expected: object) -> None:
    """A segment mixing text and parameters captures each value with its converter."""
    (mixed,) = parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert isinstance(mixed, Mixed)
    assert mixed.match(segment) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a/b", "must start with '/'"),
        ("", "must start with '/'"),
        ("{x}", "must start with '/'"),
        ("//", r"has an empty segment \('//'\)"),
        ("/a//b", r"has an empty segment \('//'\)"),
        ("//a", r"has an empty segment \('//'\)"),
        ("/{x", r"has an unmatched '\{'"),
        ("/x}", r"has an unmatched '\}'"),
        ("/{x}}", r"has an unmatched '\}'"),
        ("/{{x}", r"has an unmatched '\{'"),
        ("/a?b", r"contains '\?'; the query string"),
        ("/a#b", "contains '#'; the query string and fragment"),
        ("/{}", r"\{\} needs a parameter name that is a Python identifier"),
        ("/{1x}", r"\{1x\} needs a parameter name"),
        ("/{a-b}", r"\{a-b\} needs a parameter name"),
        ("/{:int}", r"\{:int\} needs a parameter name"),
        ("/{ x}", r"\{ x\} needs a parameter name"),
        ("/{x}/{x}", "uses the parameter name 'x' twice"),
        ("/{x:int}/{x:str}", "uses the parameter name 'x' twice"),
        ("/{x}.{x}", "uses the parameter name 'x' twice"),
        ("/{p:path}/{p}", "a 'path' parameter takes the rest of the path"),
        ("/{p:path}/a", "a 'path' parameter takes the rest of the path"),
        ("/{p:path}/", "a 'path' parameter takes the rest of the path"),
        ("/a{p:path}", "a 'path' parameter must fill its segment"),
        ("/{a}{b}", r"parameters \{a\} and \{b\} touch"),
        ("/x{a:int}{b:int}y", r"parameters \{a\} and \{b\} touch"),
        ("/{a:nope}", "unknown converter 'nope' for {a}; known converters: "),
        ("/{a:}", r"\{a:\} has an empty or space-padded converter ''; write \{a\}"),
        ("/{a:int }", r"\{a:int \} has an empty or space-padded converter 'int '"),
        ("/.", "has the segment '.', which no valid request can contain"),
        ("/..", "has the segment '..', which no valid request can contain"),
        ("/a/../b", "has the segment '..'"),
        ("/a/./", "has the segment '.'"),
        ("/a\x00", "which no valid request can contain"),
        ("/a\x7f", "which no valid request can contain"),
        ("/{x:(a+)+}", "nests a repetition inside another"),
        ("/{x:(}", "invalid regular expression"),
        ("/{x:(a)}.b", "capturing groups"),
    ],
)
def test_parse_errors(pattern: str, message: str) -> None:
    """A malformed pattern raises RouteError naming the pattern and the problem."""
    with pytest.raises(RouteError, match=message) as info:
        parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert repr(pattern) in str(info.value)


def test_pattern_must_be_str() -> None:
    """A pattern that is not a str raises RouteError naming its type."""
    with pytest.raises(RouteError, match="must be a str, not bytes"):
        parse_pattern(b"/a", DEFAULT_CONVERTERS)  # type: ignore[arg-type]


def test_unknown_converter_lists_known_ones() -> None:
    """An unknown converter name is reported with the list of known converters."""
    converters = {**DEFAULT_CONVERTERS, "slug": StrConverter()}
    with pytest.raises(RouteError) as info:
        parse_pattern("/{a:nope}", converters)
    assert str(info.value) == (
        "route pattern '/{a:nope}': unknown converter 'nope' for {a}; known converters: "
        "float, int, path, slug, str, uuid; register others with "
        "Router(converters={'nope': ...})"
    )


def test_custom_converter_by_name() -> None:
    """A converter registered by name is used for parameters that name it."""
    small = IntConverter(max=9)
    (segment,) = parse_pattern("/{n:small}", {**DEFAULT_CONVERTERS, "small": small})
    assert segment == Param("n", small)


def test_custom_path_converter_takes_the_rest() -> None:
    """A PathConverter registered under another name also takes the rest of the path."""
    (segment,) = parse_pattern("/{p:tail}", {**DEFAULT_CONVERTERS, "tail": PathConverter()})
    assert isinstance(segment, Rest)


def test_converter_regex_with_groups_refused() -> None:
    """A custom converter whose regex captures is refused in a mixed segment."""

    class Capturing(Converter[str]):
        regex = "(a)"

    with pytest.raises(RouteError, match=r"use \(\?:\.\.\.\) in Converter.regex"):
        parse_pattern("/{x:cap}.txt", {**DEFAULT_CONVERTERS, "cap": Capturing()})


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ()),
        ("/api", (Static("api"),)),
        ("/u/{uid:int}", (Static("u"), Param("uid", INT))),
        ("/api/", RouteError),
        ("api", RouteError),
    ],
)
def test_parse_prefix(prefix: str, expected: object) -> None:
    """A mount prefix may be empty and must not end with '/'."""
    if isinstance(expected, type):
        with pytest.raises(expected, match=re.escape(repr(prefix))):
            parse_pattern(prefix, DEFAULT_CONVERTERS, prefix=True)
    else:
        assert parse_pattern(prefix, DEFAULT_CONVERTERS, prefix=True) == expected


def test_prefix_error_suggests_fix() -> None:
    """A prefix ending with '/' is refused with the prefix to write instead."""
    with pytest.raises(RouteError, match="prefix '/api/' must not end with '/'; write '/api'"):
        parse_pattern("/api/", DEFAULT_CONVERTERS, prefix=True)


def test_segment_keys_ignore_names() -> None:
    """Segments differing only by parameter names share a key."""
    (a,) = parse_pattern("/{a}.{b:int}", DEFAULT_CONVERTERS)
    (c,) = parse_pattern("/{c}.{d:int}", DEFAULT_CONVERTERS)
    (e,) = parse_pattern("/{e}.{f}", DEFAULT_CONVERTERS)
    assert a.key() == c.key()
    assert a.key() != e.key()
    assert Param("x", INT).key() == Param("y", INT).key()
    assert Param("x", INT).key() != Param("x", STR).key()
