"""Tests for parsing route patterns into segment specs."""

from __future__ import annotations

import re
import uuid

import pytest

from websockets_routes import (
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    RegexConverter,
    RouteError,
    StrConverter,
    UUIDConverter,
)
from websockets_routes._patterns import (
    Mixed,
    Param,
    Rest,
    Static,
    parse_host_pattern,
    parse_pattern,
)
from websockets_routes.converters import DEFAULT_CONVERTERS, NO_MATCH, AnyConverter

STR = DEFAULT_CONVERTERS["str"]
INT = DEFAULT_CONVERTERS["int"]
PATH = DEFAULT_CONVERTERS["path"]
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
        ("/f/{p:path}", (Static("f"), Rest("p", PATH))),
        ("/f/{p:path}/raw", (Static("f"), Rest("p", PATH), Static("raw"))),
        ("/{p:path}/", (Rest("p", PATH), Static(""))),
        ("/f/{p:path}/{n:int}", (Static("f"), Rest("p", PATH), Param("n", INT))),
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
        ("/{p:path}/{p}", "uses the parameter name 'p' twice"),
        ("/{p:path}/{q:path}", "has two 'path' parameters; a pattern may have one"),
        ("/{p:path}/a/{q:path}", "has two 'path' parameters"),
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
        "any, float, int, path, slug, str, uuid; register others with "
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


# Converter arguments: {name:converter(literal, ..., key=literal)}.


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/{p:int(min=1, max=500)}", IntConverter(min=1, max=500)),
        ("/{p:int(1, 500)}", IntConverter(min=1, max=500)),
        ("/{p:int()}", IntConverter()),
        ("/{p:int ( min = 1 , )}", IntConverter(min=1)),
        ("/{p:int(min=-5, signed=True)}", IntConverter(min=-5, signed=True)),
        ("/{p:int(fixed_digits=4)}", IntConverter(fixed_digits=4)),
        ("/{p:int(max_digits=3)}", IntConverter(max_digits=3)),
        ("/{c:str(length=4)}", StrConverter(length=4)),
        ("/{c:str(minlength=2, maxlength=8)}", StrConverter(minlength=2, maxlength=8)),
        ("/{c:str(maxlength=8)}", StrConverter(maxlength=8)),
        ("/{x:float(min=0, max=1.5)}", FloatConverter(min=0, max=1.5)),
        ("/{k:any('a', 'b')}", AnyConverter("a", "b")),
        ('/{k:any("a,b", "c)")}', AnyConverter("a,b", "c)")),
        ("/{k:any('a/b')}", AnyConverter("a/b")),
        ("/{u:uuid()}", UUIDConverter()),
    ],
)
def test_converter_arguments(pattern: str, expected: Converter[object]) -> None:
    """A converter call passes its literal arguments to the converter's class."""
    (segment,) = parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert isinstance(segment, Param)
    assert type(segment.converter) is type(expected)
    assert segment.converter.key() == expected.key()


def test_path_converter_call_takes_the_rest() -> None:
    """``{p:path()}`` is a path parameter like ``{p:path}``."""
    (segment,) = parse_pattern("/{p:path()}", DEFAULT_CONVERTERS)
    assert isinstance(segment, Rest)
    assert segment.key() == Rest("p", PATH).key()


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("/{p:int(min='1')}", "IntConverter: min='1' must be an int"),
        ("/{p:int(min=True)}", "IntConverter: min=True must be an int"),
        ("/{p:int(min=5, max=1)}", "IntConverter: min=5 is above max=1"),
        ("/{p:int(max_digits=0)}", "IntConverter: max_digits=0 must be >= 1"),
        ("/{p:int(fixed_digits=20)}", "fixed_digits=20 is above max_digits=19"),
        ("/{p:int(signed=1)}", "IntConverter: signed=1 must be True or False"),
        ("/{p:int(mni=1)}", "IntConverter takes min, max, .*unexpected keyword argument 'mni'"),
        ("/{p:int(1, 2, 3, 4, 5, 6)}", "IntConverter takes .*too many positional"),
        ("/{p:int(min=1, min=2)}", r"int\(\.\.\.\) repeats the argument min"),
        ("/{p:int(min=x)}", r"argument min of int\(\.\.\.\), x, is not a literal"),
        ("/{p:int(min=f())}", r"argument min of int\(\.\.\.\), f\(\), is not a literal"),
        ("/{p:int(__import__('os'))}", r"argument 1 of int\(\.\.\.\), __import__\('os'\)"),
        ("/{p:int(min=1+)}", r"the arguments of int\(\.\.\.\) are not valid Python"),
        ("/{p:int(min=1}", r"the arguments of int\(\.\.\.\) must end with '\)'"),
        ("/{p:int(min=1)x}", r"must end with '\)'"),
        ("/{p:int(1), g(2)}", r"int\(\.\.\.\) must be one call with literal arguments"),
        ("/{p:int(*[1])}", r"takes no \*arguments"),
        ("/{p:int(**{'min': 1})}", r"takes no \*\*arguments"),
        ("/{p:nope(1)}", "calls the unknown converter 'nope'; known converters: any, float"),
        ("/{p:ab(c)d}", r"calls the unknown converter 'ab'.*non-capturing: ab\(\?:\.\.\.\)"),
        ("/{p:uuid(1)}", "UUIDConverter takes no arguments"),
        ("/{c:str(length=0)}", "StrConverter: length=0 must be >= 1"),
        ("/{c:str(minlength=0)}", "StrConverter: minlength=0 must be >= 1"),
        ("/{c:str(length=4, maxlength=5)}", "length=4 sets both bounds"),
        ("/{c:str(minlength=5, maxlength=4)}", "minlength=5 is above maxlength=4"),
        ("/{c:str(maxlength='8')}", "StrConverter: maxlength='8' must be an int"),
        ("/{x:float(min='a')}", "FloatConverter: min='a' must be a finite number"),
        ("/{x:float(max=1e999)}", "FloatConverter: max=inf must be a finite number"),
        ("/{x:float(min=2, max=1)}", "FloatConverter: min=2 is above max=1"),
        ("/{k:any()}", r"AnyConverter needs at least one item"),
        ("/{k:any}", r"converter 'any' needs arguments, as in \{name:any\(\.\.\.\)\}"),
        ("/{k:any('')}", "AnyConverter: item '' must be a non-empty str"),
        ("/{k:any(1)}", "AnyConverter: item 1 must be a non-empty str"),
        ("/{k:any('..')}", "AnyConverter: item '..' is a segment no valid request can contain"),
    ],
)
def test_converter_argument_errors(pattern: str, message: str) -> None:
    """A bad converter call raises RouteError naming the pattern and the bad argument."""
    with pytest.raises(RouteError, match=message) as info:
        parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert repr(pattern) in str(info.value)


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        (r"/{id:\d+}", r"\d+"),
        ("/{id:[0-9]+}", "[0-9]+"),
        ("/{v:(?:ab)(c)}", "(?:ab)(c)"),
        ("/{v:(int)}", "(int)"),
        ("/{v:[a-z]+(x)?}", "[a-z]+(x)?"),
        ("/{v:9(a)}", "9(a)"),
        ("/{v:ab(?:c)}", "ab(?:c)"),
        ("/{v:int(?:x)}", "int(?:x)"),
    ],
)
def test_regex_is_told_apart_from_a_call(pattern: str, regex: str) -> None:
    """Only a spec starting with a name and '(' is a converter call; others stay regexes."""
    (segment,) = parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert isinstance(segment, Param)
    assert isinstance(segment.converter, RegexConverter)
    assert segment.converter.pattern == regex


def test_converter_registered_by_class_takes_arguments() -> None:
    """A converter registered by class gets the arguments of the pattern's call."""

    class Prefixed(Converter[str]):
        def __init__(self, prefix: str = "x-") -> None:
            if not isinstance(prefix, str):
                raise RouteError(f"Prefixed: prefix={prefix!r} must be a str")
            self.prefix = prefix

        def to_python(self, value: str) -> str:
            if not value.startswith(self.prefix):
                raise ValueError("no prefix")
            return value[len(self.prefix) :]

    converters = {**DEFAULT_CONVERTERS, "pre": Prefixed}
    (plain,) = parse_pattern("/{v:pre}", converters)
    (given,) = parse_pattern("/{v:pre(prefix='id-')}", converters)
    assert isinstance(plain, Param)
    assert isinstance(given, Param)
    assert plain.converter.match("x-1") == "1"
    assert given.converter.match("id-1") == "1"
    assert given.converter.match("x-1") is NO_MATCH
    with pytest.raises(RouteError, match=r"\{v:pre\(prefix=1\)\}: Prefixed: prefix=1 must be"):
        parse_pattern("/{v:pre(prefix=1)}", converters)


def test_converter_registered_as_instance_takes_no_arguments() -> None:
    """A converter registered as an instance refuses arguments, saying to register its class."""
    converters = {**DEFAULT_CONVERTERS, "port": IntConverter(min=1, max=65535)}
    assert parse_pattern("/{p:port}", converters) == (Param("p", converters["port"]),)
    with pytest.raises(RouteError, match=r"registered as an instance.*'port': IntConverter\}"):
        parse_pattern("/{p:port(max=10)}", converters)


def test_converter_class_that_needs_arguments() -> None:
    """A converter class that needs arguments, used without a call, says how to call it."""

    class Choice(Converter[str]):
        def __init__(self, *choices: str) -> None:
            if not choices:
                raise ValueError("Choice needs choices")
            self.choices = choices

    converters = {**DEFAULT_CONVERTERS, "choice": Choice}
    with pytest.raises(RouteError, match=r"converter 'choice' needs arguments.*needs choices"):
        parse_pattern("/{c:choice}", converters)
    (segment,) = parse_pattern("/{c:choice('a')}", converters)
    assert isinstance(segment, Param)
    assert segment.converter.choices == ("a",)


@pytest.mark.parametrize(
    ("pattern", "segment", "expected"),
    [
        ("/{c:str(length=2)}.txt", "ab.txt", [("c", "ab")]),
        ("/{c:str(length=2)}.txt", "abc.txt", None),
        ("/{c:str(minlength=2, maxlength=3)}.txt", "abc.txt", [("c", "abc")]),
        ("/{c:str(minlength=2)}.txt", "a.txt", None),
        ("/v{n:int(fixed_digits=2)}", "v07", [("n", 7)]),
        ("/v{n:int(fixed_digits=2)}", "v7", None),
        ("/v{n:int(signed=True)}", "v-3", [("n", -3)]),
        ("/v{n:int()}", "v-3", None),
        ("/{k:any('a', 'b.c')}.x", "b.c.x", [("k", "b.c")]),
        ("/{k:any('a', 'b.c')}.x", "bxc.x", None),
        ("/{x:float(max=2)}px", "3px", None),
    ],
)
def test_converter_arguments_in_mixed_segments(
    pattern: str, segment: str, expected: object
) -> None:
    """Converter arguments shape the regex of a mixed segment and the values it accepts."""
    (mixed,) = parse_pattern(pattern, DEFAULT_CONVERTERS)
    assert isinstance(mixed, Mixed)
    assert mixed.match(segment) == expected


# Host patterns: one spec per label.


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("example.com", (Static("example"), Static("com"))),
        ("Example.COM", (Static("example"), Static("com"))),
        ("{tenant}.example.com", (Param("tenant", STR), Static("example"), Static("com"))),
        ("{n:int}.x", (Param("n", INT), Static("x"))),
        ("localhost", (Static("localhost"),)),
        ("my_app", (Static("my_app"),)),
        ("127.0.0.1", (Static("127"), Static("0"), Static("0"), Static("1"))),
        ("[::1]", (Static("[::1]"),)),
        ("[0:0::1]", (Static("[::1]"),)),
    ],
)
def test_parse_host_pattern(pattern: str, expected: tuple[object, ...]) -> None:
    """A host pattern splits into labels, static text lower-cased, parameters one label each."""
    assert parse_host_pattern(pattern, DEFAULT_CONVERTERS) == expected


def test_host_pattern_mixed_label_and_arguments() -> None:
    """A label may mix text and parameters, and converters take arguments, kept as written."""
    mixed, region, *_ = parse_host_pattern("{t}-EU.{r:any('Eu', 'us')}.x.com", DEFAULT_CONVERTERS)
    assert isinstance(mixed, Mixed)
    assert mixed.match("acme-eu") == [("t", "acme")]
    assert isinstance(region, Param)
    assert region.converter.key() == AnyConverter("Eu", "us").key()


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "has an empty label"),
        ("a..b", "has an empty label"),
        (".a", "has an empty label"),
        ("a.", "has an empty label: it must not start or end with '.'"),
        ("a:80", "contains ':': a host pattern is a host name, without scheme, port or path"),
        ("ws://a", "contains ':'"),
        ("a/b", "contains '/'"),
        ("a?b", "contains '?'"),
        ("[::1]:80", "has a port; ports play no part in host matching"),
        ("[zz]", "is not a valid IPv6 address in brackets"),
        ("a b.com", "'a b' can't be part of a host name"),
        ("caf\u00e9.com", "can't be part of a host name"),
        ("{t}~x.com", "'~x' can't be part of a host name"),
        ("{p:path}.com", "a 'path' parameter can't be part of a host"),
        ("{t}.{t}.com", "uses the parameter name 't' twice"),
        ("{t.com", r"has an unmatched '\{'"),
        ("{t:nope}.com", "unknown converter 'nope'"),
        ("{t:int(min='a')}.com", "IntConverter: min='a' must be an int"),
    ],
)
def test_host_pattern_errors(pattern: str, message: str) -> None:
    """A malformed host pattern raises RouteError naming it as a host pattern."""
    with pytest.raises(RouteError, match=message) as info:
        parse_host_pattern(pattern, DEFAULT_CONVERTERS)
    assert f"host pattern {pattern!r}" in str(info.value)


def test_host_pattern_must_be_str() -> None:
    """A host pattern that is not a str raises RouteError naming its type."""
    with pytest.raises(RouteError, match="a host pattern must be a str, not int"):
        parse_host_pattern(1, DEFAULT_CONVERTERS)  # type: ignore[arg-type]
