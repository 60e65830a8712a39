"""Tests for the built-in converters and the ReDoS guard of RegexConverter."""

from __future__ import annotations

import math
import uuid

import pytest

from websockets_routes import (
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    RegexConverter,
    RouteError,
    Router,
    StrConverter,
    UUIDConverter,
)
from websockets_routes.converters import DEFAULT_CONVERTERS, NO_MATCH, AnyConverter

UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("converter", "text", "expected"),
    [
        (StrConverter(), "hello", "hello"),
        (StrConverter(), "a/b", "a/b"),
        (StrConverter(), "café", "café"),
        (IntConverter(), "0", 0),
        (IntConverter(), "42", 42),
        (IntConverter(), "007", 7),
        (IntConverter(), "9" * 19, int("9" * 19)),
        (IntConverter(), "9" * 20, ValueError),
        (IntConverter(), "-1", ValueError),
        (IntConverter(), "+1", ValueError),
        (IntConverter(), "1_000", ValueError),
        (IntConverter(), " 1", ValueError),
        (IntConverter(), "1.0", ValueError),
        (IntConverter(), "\u0661\u0662\u0663", ValueError),  # Arabic-Indic digits
        (IntConverter(), "²", ValueError),  # superscript two: str.isdigit() says yes
        (IntConverter(), "\uff11", ValueError),  # fullwidth digit one
        (IntConverter(), "", ValueError),
        (IntConverter(min=10), "10", 10),
        (IntConverter(min=10), "9", ValueError),
        (IntConverter(max=10), "10", 10),
        (IntConverter(max=10), "11", ValueError),
        (IntConverter(min=1, max=1), "1", 1),
        (IntConverter(max_digits=3), "999", 999),
        (IntConverter(max_digits=3), "1000", ValueError),
        (IntConverter(max_digits=3), "0001", ValueError),
        (FloatConverter(), "1.5", 1.5),
        (FloatConverter(), "-2", -2.0),
        (FloatConverter(), "0", 0.0),
        (FloatConverter(), "1e-05", 1e-05),
        (FloatConverter(), "1E+16", 1e16),
        (FloatConverter(), "2.5e3", 2500.0),
        (FloatConverter(), "1e400", ValueError),  # overflows to inf
        (FloatConverter(), "-1e400", ValueError),
        (FloatConverter(), "inf", ValueError),
        (FloatConverter(), "Infinity", ValueError),
        (FloatConverter(), "nan", ValueError),
        (FloatConverter(), "NaN", ValueError),
        (FloatConverter(), ".5", ValueError),
        (FloatConverter(), "5.", ValueError),
        (FloatConverter(), "+5", ValueError),
        (FloatConverter(), "1_0", ValueError),
        (FloatConverter(), "0x10", ValueError),
        (FloatConverter(), "\u0661.\u0665", ValueError),
        (FloatConverter(), "1" * 32, float("1" * 32)),
        (FloatConverter(), "1" * 33, ValueError),
        (UUIDConverter(), str(UID), UID),
        (UUIDConverter(), str(UID).upper(), UID),
        (UUIDConverter(), UID.hex, ValueError),
        (UUIDConverter(), "{" + str(UID) + "}", ValueError),
        (UUIDConverter(), UID.urn, ValueError),
        (UUIDConverter(), str(UID)[:-1], ValueError),
        (UUIDConverter(), str(UID) + "0", ValueError),
        (UUIDConverter(), str(UID).replace("1", "g"), ValueError),
        (UUIDConverter(), str(UID).replace("-", "_"), ValueError),
        (PathConverter(), "a/b/c", "a/b/c"),
        (StrConverter(length=2), "ab", "ab"),
        (StrConverter(length=2), "a", ValueError),
        (StrConverter(length=2), "abc", ValueError),
        (StrConverter(minlength=2), "ab", "ab"),
        (StrConverter(minlength=2), "a", ValueError),
        (StrConverter(maxlength=2), "a", "a"),
        (StrConverter(maxlength=2), "abc", ValueError),
        (StrConverter(maxlength=2), "é/", "é/"),
        (IntConverter(signed=True), "-12", -12),
        (IntConverter(signed=True), "12", 12),
        (IntConverter(signed=True), "--1", ValueError),
        (IntConverter(signed=True), "-", ValueError),
        (IntConverter(signed=True), "+1", ValueError),
        (IntConverter(signed=True, min=-5), "-6", ValueError),
        (IntConverter(fixed_digits=3), "007", 7),
        (IntConverter(fixed_digits=3), "07", ValueError),
        (IntConverter(fixed_digits=3), "0007", ValueError),
        (IntConverter(fixed_digits=2, signed=True), "-07", -7),
        (FloatConverter(min=0), "-0.5", ValueError),
        (FloatConverter(min=0), "0", 0.0),
        (FloatConverter(max=1.5), "1.5", 1.5),
        (FloatConverter(max=1.5), "1.6", ValueError),
        (AnyConverter("en", "fr"), "en", "en"),
        (AnyConverter("en", "fr"), "de", ValueError),
        (AnyConverter("en", "fr"), "EN", ValueError),
        (RegexConverter(r"\d+"), "123", "123"),
        (RegexConverter(r"\d+"), "12a", ValueError),
        (RegexConverter(r"[a-z]+-\d+"), "abc-12", "abc-12"),
        (RegexConverter(r"[a-z]+-\d+"), "abc-", ValueError),
        (RegexConverter(r"[0-9a-f]{8}"), "deadbeef", "deadbeef"),
        (RegexConverter(r"[0-9a-f]{8}"), "deadbeef0", ValueError),
        (RegexConverter(r"a.*"), "a" * 255, "a" * 255),
        (RegexConverter(r"a.*"), "a" * 256, ValueError),  # longer than any regex segment
    ],
)
def test_to_python(converter: Converter[object], text: str, expected: object) -> None:
    """Each converter turns an accepted segment into its value and refuses the others."""
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            converter.to_python(text)
        assert converter.match(text) is NO_MATCH
    else:
        value = converter.to_python(text)
        assert value == expected
        assert type(value) is type(expected)
        assert converter.match(text) == expected


@pytest.mark.parametrize(
    ("converter", "value", "expected"),
    [
        (StrConverter(), "a/b", "a/b"),
        (StrConverter(), "", ValueError),
        (StrConverter(), 1, ValueError),
        (IntConverter(), 0, "0"),
        (IntConverter(), 123, "123"),
        (IntConverter(), int("9" * 19), "9" * 19),
        (IntConverter(), 10**19, ValueError),
        (IntConverter(), -1, ValueError),
        (IntConverter(), True, ValueError),
        (IntConverter(), 1.0, ValueError),
        (IntConverter(), "1", ValueError),
        (IntConverter(min=5), 4, ValueError),
        (IntConverter(max=5), 6, ValueError),
        (FloatConverter(), 1.5, "1.5"),
        (FloatConverter(), 2, "2.0"),
        (FloatConverter(), -0.25, "-0.25"),
        (FloatConverter(), 1e-05, "1e-05"),
        (FloatConverter(), 1e16, "1e+16"),
        (FloatConverter(), math.inf, ValueError),
        (FloatConverter(), -math.inf, ValueError),
        (FloatConverter(), math.nan, ValueError),
        (FloatConverter(), 10**400, ValueError),
        (FloatConverter(), False, ValueError),
        (FloatConverter(), "1.5", ValueError),
        (UUIDConverter(), UID, str(UID)),
        (UUIDConverter(), str(UID), ValueError),
        (PathConverter(), "a/b", "a/b"),
        (PathConverter(), "", ValueError),
        (PathConverter(), None, ValueError),
        (RegexConverter(r"\d+"), "12", "12"),
        (RegexConverter(r"\d+"), 12, "12"),
        (StrConverter(length=2), "ab", "ab"),
        (StrConverter(length=2), "abc", ValueError),
        (IntConverter(signed=True), -12, "-12"),
        (IntConverter(fixed_digits=3), 7, "007"),
        (IntConverter(fixed_digits=3), 1000, ValueError),
        (IntConverter(fixed_digits=3, signed=True), -7, "-007"),
        (FloatConverter(max=1), 1.5, ValueError),
        (FloatConverter(min=-1), -1, "-1.0"),
        (AnyConverter("en", "fr"), "fr", "fr"),
        (AnyConverter("en", "fr"), "de", ValueError),
        (RegexConverter(r"\d+"), "x", ValueError),
    ],
)
def test_to_url(converter: Converter[object], value: object, expected: object) -> None:
    """Each converter writes an accepted value back as text and refuses the others."""
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            converter.to_url(value)
    else:
        assert converter.to_url(value) == expected


@pytest.mark.parametrize(
    ("converter", "value"),
    [
        (StrConverter(), "hello world"),
        (IntConverter(), 0),
        (IntConverter(), 10**18),
        (FloatConverter(), 0.1),
        (FloatConverter(), -1.7976931348623157e308),
        (FloatConverter(), 5e-324),
        (UUIDConverter(), UID),
        (UUIDConverter(), uuid.UUID(int=0)),
        (PathConverter(), "a/b/c"),
        (RegexConverter(r"[a-z]+-\d+"), "ab-1"),
    ],
)
def test_round_trip(converter: Converter[object], value: object) -> None:
    """to_python(to_url(value)) gives the value back."""
    assert converter.to_python(converter.to_url(value)) == value


def test_float_to_url_refusal_names_the_reason() -> None:
    """A float too large or not finite is refused with a message saying why."""
    with pytest.raises(ValueError, match="too large"):
        FloatConverter().to_url(10**400)
    with pytest.raises(ValueError, match="not finite"):
        FloatConverter().to_url(math.nan)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_digits": 0}, r"IntConverter: max_digits=0 must be >= 1"),
        ({"min": 5, "max": 4}, r"IntConverter: min=5 is above max=4"),
    ],
)
def test_int_converter_options_checked(kwargs: dict[str, int], message: str) -> None:
    """IntConverter refuses inconsistent options when it is created."""
    with pytest.raises(RouteError, match=message):
        IntConverter(**kwargs)


def test_converter_weights_order() -> None:
    """Converters are tried any, uuid, int, float, regex, custom, str, then path."""
    weights = [
        AnyConverter.weight,
        UUIDConverter.weight,
        IntConverter.weight,
        FloatConverter.weight,
        RegexConverter.weight,
        Converter.weight,
        StrConverter.weight,
        PathConverter.weight,
    ]
    assert weights == sorted(weights)
    assert len(set(weights)) == len(weights)


def test_default_converters() -> None:
    """Every router knows str, int, float, uuid, path and any by name."""
    assert sorted(DEFAULT_CONVERTERS) == ["any", "float", "int", "path", "str", "uuid"]
    assert sorted(Router().converters) == ["any", "float", "int", "path", "str", "uuid"]


def test_default_converters_are_read_only() -> None:
    """The built-in converters can't be changed for every router, only per router."""
    with pytest.raises(TypeError):
        DEFAULT_CONVERTERS["slug"] = StrConverter()  # type: ignore[index]
    Router(converters={"slug": StrConverter(), "int": FloatConverter()})
    assert "slug" not in DEFAULT_CONVERTERS
    assert type(Router().converters["int"]) is IntConverter


def test_no_match_is_a_named_sentinel() -> None:
    """NO_MATCH is one falsy-free, readable sentinel that survives copying."""
    import copy

    assert repr(NO_MATCH) == "NO_MATCH"
    assert copy.deepcopy(NO_MATCH) is NO_MATCH
    assert IntConverter().match("x") is NO_MATCH


@pytest.mark.parametrize(
    ("hide", "outcome"),
    [
        ("re._parser", "checked"),
        ("re._parser sre_parse", "ImportError: websockets_routes checks route regexes"),
    ],
)
def test_regex_checks_without_re_parser(hide: str, outcome: str) -> None:
    """Without re._parser, regexes are checked with sre_parse, or import fails saying why."""
    import subprocess
    import sys

    code = f"""
import re, sys, warnings
warnings.simplefilter("error")
# Where re._parser is missing, sre_parse may still hold the same parser.
sys.modules["sre_parse"] = re._parser
del re._parser
for name in {hide.split()!r}:
    sys.modules[name] = None
try:
    from websockets_routes.converters import check_regex
except ImportError as exc:
    print(f"ImportError: {{exc}}")
else:
    assert check_regex("[a-z]+") == 255
    try:
        check_regex("(a+)+")
    except ValueError:
        print("checked")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.startswith(outcome), result.stderr


def test_base_converter_is_identity() -> None:
    """The base Converter accepts any text and writes values with str()."""
    converter: Converter[str] = Converter()
    assert converter.to_python("x") == "x"
    assert converter.to_url(5) == "5"  # type: ignore[arg-type]


def test_custom_converter_refusal_is_no_match() -> None:
    """A custom converter that raises ValueError refuses the segment."""

    class Even(Converter[int]):
        def to_python(self, value: str) -> int:
            number = int(value)
            if number % 2:
                raise ValueError("odd")
            return number

    assert Even().match("4") == 4
    assert Even().match("3") is NO_MATCH
    assert Even().match("x") is NO_MATCH


def test_converter_key_and_repr_follow_options() -> None:
    """Converters with the same options share a key; the repr shows the options."""
    assert IntConverter(max=5).key() == IntConverter(max=5).key()
    assert IntConverter(max=5).key() != IntConverter(max=6).key()
    assert RegexConverter("a+").key() == RegexConverter("a+").key()
    assert RegexConverter("a+").key() != RegexConverter("b+").key()
    assert repr(IntConverter(max=5)) == (
        "IntConverter(min=None, max=5, max_digits=19, fixed_digits=None, signed=False)"
    )
    assert repr(StrConverter(length=2)) == "StrConverter(minlength=2, maxlength=2)"
    assert repr(AnyConverter("a", "b")) == "AnyConverter('a', 'b')"
    assert AnyConverter("a", "b").key() == AnyConverter("b", "a", "a").key()
    assert StrConverter(length=2).key() == StrConverter(minlength=2, maxlength=2).key()
    assert StrConverter().key() != StrConverter(maxlength=9).key()
    assert repr(RegexConverter(r"\d+")) == r"RegexConverter('\\d+')"


# The ReDoS guard.


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a+)+", "nests a repetition inside another"),
        ("(a*)*", "nests a repetition inside another"),
        ("(?:a+)+b", "nests a repetition inside another"),
        ("(?:a{2,5}){2,}", "nests a repetition inside another"),
        ("(?:a?){25}a{25}", "and 25 optional parts or alternatives: too many"),
        ("(?:x(?:a?))+", "nests a repetition inside another"),
        ("(?>a+)+", "nests a repetition inside another"),
        ("(a|a)*", "repeats an alternation"),
        ("(?:a|ab)+", "repeats an alternation"),
        ("(?:ab|cd)+", "repeats an alternation"),
        (r"(a)\1", "uses a backreference"),
        (r"(?P<x>a)(?P=x)", "uses a backreference"),
        ("(?=a)a", "uses a lookahead or lookbehind"),
        ("(?!a)b", "uses a lookahead or lookbehind"),
        ("(?<=a)b", "uses a lookahead or lookbehind"),
        ("(?<!a)b", "uses a lookahead or lookbehind"),
        ("(a)?(?(1)b|c)", "uses a conditional"),
        ("a+b+c+d+e+", "has 5 repetitions of variable width"),
        (".*.*.*.*.*.*", "has 6 repetitions of variable width"),
        ("a?" * 22, "and 22 optional parts or alternatives: too many"),
        ("(?:ab|cd)" * 21, "and 21 optional parts or alternatives: too many"),
        ("(a+)|(b+)|(c+)|(d+)|(e+)", "has 5 repetitions of variable width"),
        ("(", "invalid regular expression"),
        ("a{2,1}", "invalid regular expression"),
    ],
)
def test_dangerous_regex_refused(pattern: str, message: str) -> None:
    """A regex that could backtrack for long is refused when it is declared."""
    with pytest.raises(RouteError, match=message) as info:
        RegexConverter(pattern)
    assert repr(pattern) in str(info.value)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\d+",
        r"[a-z]+-\d+",
        r"[0-9a-f]{8}",
        r"[0-9a-f]{8}-[0-9a-f]{4}",
        r"(?:ab){3}",
        r"(?:abc)+",
        r"-?[0-9]+",
        r"(?:x|y)z",
        r"(?:a|b)?c+",
        r".*x.*",
        r"a*+b",
        r"(?i)[a-z]+",
    ],
)
def test_safe_regex_accepted(pattern: str) -> None:
    """A regex with at most two variable repetitions and no nesting is accepted."""
    assert RegexConverter(pattern).pattern == pattern


def test_dangerous_inline_regex_refused_at_declaration() -> None:
    """A route whose inline regex is dangerous fails when declared, naming the route."""
    router = Router()
    with pytest.raises(RouteError, match=r"route pattern '/x/\{v:\(a\+\)\+\}'.*nests"):
        router.route("/x/{v:(a+)+}")(lambda ws, path: None)
    assert router.routes == []


# The worst regexes the guard accepts, against hostile segments that make them
# backtrack as much as they can. Timing belongs to bench/; this checks the answers.
HOSTILE = [
    (r".*a.*", "b" * 64, False),
    (r".*a.*", "b" * 255, False),
    (r".*a.*", "b" * 254 + "a", True),
    (r"[a-z]+[a-z]+", "a" * 63 + "!", False),
    (r"[a-z]+[a-z]+", "a" * 254 + "!", False),
    (r"[a-z]+[a-z]+", "a" * 255, True),
    (r"(?:a|b)?\w*\w*", "a" * 254 + "!", False),
    (r"\w*x\w*", "w" * 64, False),
    (r"\w*x\w*", "w" * 255, False),
    (r"\w*x\w*", "w" * 127 + "x" + "w" * 127, True),
    (r"(?:ab){2}.+.+", "ab" * 32, True),
    (r"(?:ab){2}.+.+", "ab" * 128, False),  # 256 characters: over the limit
]


@pytest.mark.parametrize(("pattern", "segment", "matches"), HOSTILE)
def test_hostile_segment_decided(pattern: str, segment: str, matches: bool) -> None:
    """The worst accepted regexes decide hostile 64 and 255 character segments correctly."""
    converter = RegexConverter(pattern)
    assert (converter.match(segment) is not NO_MATCH) is matches


@pytest.mark.parametrize(("pattern", "segment", "matches"), HOSTILE)
def test_hostile_segment_decided_through_router(pattern: str, segment: str, matches: bool) -> None:
    """A router with the worst accepted regexes answers hostile targets with a match or None."""
    router = Router()
    router.route(f"/r/{{v:{pattern}}}", name="r")(lambda ws, path: None)
    found = router.match(f"/r/{segment}")
    assert (found is not None) is matches
    if matches:
        assert found is not None
        assert found.params == {"v": segment}
