"""Converters turn a path segment into a typed value and back.

A converter is a small object with four parts:

* :meth:`~Converter.to_python` turns the decoded segment into a value, or raises
  :exc:`ValueError` to refuse it: the matcher then tries the next candidate route,
  and answers 404 when none is left;
* :meth:`~Converter.to_url` turns a value back into a segment for
  :meth:`Router.url_for <websockets_routes.Router.url_for>`;
* :attr:`~Converter.regex` describes the accepted text when the parameter shares
  its segment with other text, as in ``/files/{name}.{ext:int}``;
* :attr:`~Converter.weight` orders candidates: at a given position in the path,
  static text is tried first, then converters by increasing weight, then ``path``.

Register your own by name with ``Router(converters={"name": MyConverter})``.

Converters take arguments in patterns, written as a call with literal values:
``{page:int(min=1, max=500)}``, ``{code:str(length=4)}``, ``{kind:any("a", "b")}``.
The arguments go to the converter's class, so a converter registered by class takes
them too; they are checked when the route is declared.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
import warnings
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final, Generic, Literal, TypeAlias, TypeVar

from .exceptions import RouteError

try:
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11 or an interpreter without it
    try:
        # Deprecated, with a warning on import, but the same parser.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import sre_parse as _parser
    except ImportError:
        raise ImportError(
            "websockets_routes checks route regexes with the standard library's regex "
            "parser (re._parser or sre_parse), which this Python lacks; use CPython 3.11+"
        ) from None

__all__ = [
    "DEFAULT_CONVERTERS",
    "NO_MATCH",
    "AnyConverter",
    "Converter",
    "FloatConverter",
    "IntConverter",
    "NoMatch",
    "PathConverter",
    "RegexConverter",
    "StrConverter",
    "UUIDConverter",
]

T = TypeVar("T")


class _NoMatch(enum.Enum):
    # An enum member is a sentinel that type checkers narrow with `is`.
    NO_MATCH = "NO_MATCH"

    def __repr__(self) -> str:
        return "NO_MATCH"


#: Returned by :meth:`Converter.match` when a segment is refused. Refusal is common
#: on the 404 path, so built-in converters return this instead of raising.
NO_MATCH: Final = _NoMatch.NO_MATCH
#: The type of :data:`NO_MATCH`, for annotations: ``def match(self, value) -> int | NoMatch``.
NoMatch: TypeAlias = Literal[_NoMatch.NO_MATCH]


class Converter(Generic[T]):
    """Base class of converters: subclass it and override :meth:`to_python`."""

    #: Regular expression for the accepted text, used in segments that mix a
    #: parameter with other text. It must not contain capturing groups.
    regex: ClassVar[str] = r".+"
    #: Lower weights are tried first among the parameters at one position.
    weight: ClassVar[int] = 100

    def to_python(self, value: str) -> T:
        """Convert a decoded, non-empty segment; raise :exc:`ValueError` to refuse it."""
        return value  # type: ignore[return-value]

    def to_url(self, value: T) -> str:
        """Convert a value back into a segment (not yet percent-encoded)."""
        return str(value)

    def match(self, value: str) -> T | NoMatch:
        """Like :meth:`to_python`, but return :data:`NO_MATCH` instead of raising."""
        try:
            return self.to_python(value)
        except ValueError:
            return NO_MATCH

    def key(self) -> Hashable:
        """Identity used to detect routes that can never be told apart."""
        return (type(self), tuple(sorted((k, repr(v)) for k, v in vars(self).items())))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({options})"


def _check_int(owner: str, name: str, value: object, low: int | None = None) -> None:
    """Refuse an argument that isn't an int (or None), or is below ``low``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise RouteError(f"{owner}: {name}={value!r} must be an int")
    if low is not None and value < low:
        raise RouteError(f"{owner}: {name}={value!r} must be >= {low}")


class StrConverter(Converter[str]):
    """Any non-empty segment, ``/`` included when it was sent encoded as ``%2F``.

    Args:
        minlength: Fewest characters accepted (at least 1: parameters never match
            an empty segment).
        maxlength: Most characters accepted; None for no limit.
        length: Exactly this many characters; replaces ``minlength`` and ``maxlength``.

    Raises:
        RouteError: If an argument isn't a positive int, ``length`` comes with
            ``minlength`` or ``maxlength``, or ``minlength`` is above ``maxlength``.
    """

    weight = 200

    def __init__(
        self, minlength: int = 1, maxlength: int | None = None, length: int | None = None
    ) -> None:
        owner = "StrConverter"
        _check_int(owner, "minlength", minlength, 1)
        _check_int(owner, "maxlength", maxlength, 1)
        _check_int(owner, "length", length, 1)
        if length is not None:
            if minlength != 1 or maxlength is not None:
                raise RouteError(
                    f"{owner}: length={length!r} sets both bounds; drop minlength and maxlength"
                )
            minlength = maxlength = length
        if maxlength is not None and minlength > maxlength:
            raise RouteError(f"{owner}: minlength={minlength!r} is above maxlength={maxlength!r}")
        self.minlength = minlength
        self.maxlength = maxlength

    @property
    def regex(self) -> str:  # type: ignore[override]
        if self.maxlength is None:
            return r".+" if self.minlength == 1 else f".{{{self.minlength},}}"
        if self.minlength == self.maxlength:
            return f".{{{self.minlength}}}"
        return f".{{{self.minlength},{self.maxlength}}}"

    def match(self, value: str) -> str | NoMatch:
        if len(value) < self.minlength or (
            self.maxlength is not None and len(value) > self.maxlength
        ):
            return NO_MATCH
        return value

    def to_python(self, value: str) -> str:
        if self.match(value) is NO_MATCH:
            raise ValueError(f"not a str accepted by {self!r}")
        return value

    def to_url(self, value: str) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError("expected a non-empty str")
        return self.to_python(value)


class AnyConverter(Converter[str]):
    """One of a few fixed segments: ``{lang:any("en", "fr")}``.

    Args:
        items: The accepted segments, as decoded text.

    Raises:
        RouteError: If there is no item, or one is not a non-empty str.
    """

    weight = 5

    def __init__(self, *items: str) -> None:
        if not items:
            raise RouteError("AnyConverter needs at least one item, as in any('a', 'b')")
        for item in items:
            if not isinstance(item, str) or not item:
                raise RouteError(f"AnyConverter: item {item!r} must be a non-empty str")
            if item in (".", "..") or any(ch < " " or ch == "\x7f" for ch in item):
                raise RouteError(
                    f"AnyConverter: item {item!r} is a segment no valid request can contain"
                )
        self.items = tuple(dict.fromkeys(items))
        self._set = frozenset(self.items)

    @property
    def regex(self) -> str:  # type: ignore[override]
        return "(?:" + "|".join(re.escape(item) for item in self.items) + ")"

    def match(self, value: str) -> str | NoMatch:
        return value if value in self._set else NO_MATCH

    def to_python(self, value: str) -> str:
        if value not in self._set:
            raise ValueError(f"not one of {', '.join(map(repr, self.items))}")
        return value

    def to_url(self, value: str) -> str:
        return self.to_python(value) if isinstance(value, str) else self.to_python(str(value))

    def key(self) -> Hashable:
        return (AnyConverter, frozenset(self.items))

    def __repr__(self) -> str:
        return f"AnyConverter({', '.join(map(repr, self.items))})"


class IntConverter(Converter[int]):
    """An integer written in ASCII digits, non-negative unless ``signed``.

    Args:
        min: Smallest accepted value.
        max: Largest accepted value.
        max_digits: Most digits accepted; longer values are refused before any
            conversion, so a client cannot make the server parse huge numbers.
        fixed_digits: Exactly this many digits, zero-padded (``0042``); ``url_for``
            pads values to it.
        signed: Accept a leading ``-`` for negative values.

    Raises:
        RouteError: If an argument has the wrong type, ``min`` is above ``max``,
            or ``fixed_digits`` is above ``max_digits``.
    """

    weight = 20

    def __init__(
        self,
        min: int | None = None,
        max: int | None = None,
        max_digits: int = 19,
        fixed_digits: int | None = None,
        signed: bool = False,
    ) -> None:
        owner = "IntConverter"
        _check_int(owner, "min", min)
        _check_int(owner, "max", max)
        _check_int(owner, "max_digits", max_digits, 1)
        _check_int(owner, "fixed_digits", fixed_digits, 1)
        if not isinstance(signed, bool):
            raise RouteError(f"{owner}: signed={signed!r} must be True or False")
        if min is not None and max is not None and min > max:
            raise RouteError(f"{owner}: min={min} is above max={max}")
        if fixed_digits is not None and fixed_digits > max_digits:
            raise RouteError(
                f"{owner}: fixed_digits={fixed_digits} is above max_digits={max_digits}; "
                f"raise max_digits too"
            )
        self.min = min
        self.max = max
        self.max_digits = max_digits
        self.fixed_digits = fixed_digits
        self.signed = signed

    @property
    def regex(self) -> str:  # type: ignore[override]
        digits = "[0-9]+" if self.fixed_digits is None else f"[0-9]{{{self.fixed_digits}}}"
        return "-?" + digits if self.signed else digits

    def match(self, value: str) -> int | NoMatch:
        digits = value[1:] if self.signed and value[:1] == "-" else value
        if (
            digits.isdigit()
            and digits.isascii()
            and len(digits) <= self.max_digits
            and (self.fixed_digits is None or len(digits) == self.fixed_digits)
        ):
            number = int(value)
            if (self.min is None or number >= self.min) and (
                self.max is None or number <= self.max
            ):
                return number
        return NO_MATCH

    def to_python(self, value: str) -> int:
        number = self.match(value)
        if number is NO_MATCH:
            raise ValueError(f"not an integer accepted by {self!r}")
        return number

    def to_url(self, value: int) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an int, got {type(value).__name__}")
        digits = str(abs(value))
        if self.fixed_digits is not None:
            digits = digits.zfill(self.fixed_digits)
        text = "-" + digits if value < 0 else digits
        self.to_python(text)
        return text


class FloatConverter(Converter[float]):
    """A finite decimal number such as ``1.5``, ``-2`` or ``1e-05`` (ASCII, 32 chars max).

    Args:
        min: Smallest accepted value.
        max: Largest accepted value.

    Raises:
        RouteError: If ``min`` or ``max`` isn't a finite number, or ``min`` is above ``max``.
    """

    regex = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    weight = 30

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (
                isinstance(bound, bool)
                or not isinstance(bound, int | float)
                or not math.isfinite(bound)
            ):
                raise RouteError(f"FloatConverter: {name}={bound!r} must be a finite number")
        if min is not None and max is not None and min > max:
            raise RouteError(f"FloatConverter: min={min} is above max={max}")
        self.min = min
        self.max = max

    def match(self, value: str) -> float | NoMatch:
        if len(value) > 32 or _FLOAT.fullmatch(value) is None:
            return NO_MATCH
        number = float(value)
        if (
            not math.isfinite(number)
            or (self.min is not None and number < self.min)
            or (self.max is not None and number > self.max)
        ):
            return NO_MATCH
        return number

    def to_python(self, value: str) -> float:
        number = self.match(value)
        if number is NO_MATCH:
            raise ValueError("not a finite decimal number")
        return number

    def to_url(self, value: float) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a float, got {type(value).__name__}")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{value!r} is too large for a float") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not finite")
        text = repr(number)
        self.to_python(text)
        return text


_FLOAT = re.compile(FloatConverter.regex)


class UUIDConverter(Converter[uuid.UUID]):
    """A UUID in its canonical 8-4-4-4-12 hexadecimal form; values are :class:`uuid.UUID`."""

    regex = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
    weight = 10

    def match(self, value: str) -> uuid.UUID | NoMatch:
        if len(value) != 36 or _UUID.fullmatch(value) is None:
            return NO_MATCH
        return uuid.UUID(value)

    def to_python(self, value: str) -> uuid.UUID:
        result = self.match(value)
        if result is NO_MATCH:
            raise ValueError("not a UUID")
        return result

    def to_url(self, value: uuid.UUID) -> str:
        if not isinstance(value, uuid.UUID):
            raise ValueError(f"expected a uuid.UUID, got {type(value).__name__}")
        return str(value)


_UUID = re.compile(UUIDConverter.regex)


class PathConverter(Converter[str]):
    """One or more segments, slashes included: the rest of the path, or what the rest
    of the pattern leaves (``/files/{p:path}/raw``).

    The value is the decoded segments joined with ``/``. Empty segments are refused,
    so ``/files/a//b`` and ``/files/a/`` don't match ``/files/{rest:path}``. A
    pattern has at most one ``path`` parameter, which fills its segment.
    """

    weight = 1000

    def to_url(self, value: str) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError("expected a non-empty str")
        return value


# Regular expressions run on text the client chose. check_regex() refuses the
# constructs that backtrack exponentially, then bounds the rest with a cost model:
# a segment of n characters costs at most about C(n + k, k) * 2**c steps for k
# repetitions of variable width and c optional items or alternatives. Each
# expression gets the longest segment (up to MAX_REGEX_SEGMENT) it may run on within
# REGEX_BUDGET steps; one that cannot afford MIN_REGEX_SEGMENT is refused.
MAX_REGEX_SEGMENT = 255
MIN_REGEX_SEGMENT = 64
REGEX_BUDGET = 1_000_000


class RegexConverter(Converter[str]):
    """A segment that fully matches a regular expression: ``{id:[0-9a-f]{8}}``.

    The expression applies to the decoded segment, with ASCII semantics (``\\d`` is
    ``[0-9]``). To keep a hostile client from stalling the server, it is checked
    when the route is declared: no backreference, lookaround or conditional; no
    repetition inside a repetition, nor alternation inside one. Segments longer
    than :attr:`max_length` never match: 255 characters for simple expressions,
    fewer (64 at least) as the number of variable-width repetitions and optional
    parts grows; an expression too complex for 64 characters is refused.
    """

    weight = 40

    def __init__(self, pattern: str) -> None:
        self.max_length = check_regex(pattern)
        self.pattern = pattern
        self._compiled = re.compile(pattern, re.ASCII)

    @property
    def regex(self) -> str:  # type: ignore[override]
        return f"(?:{self.pattern})"

    def match(self, value: str) -> str | NoMatch:
        if len(value) > self.max_length or self._compiled.fullmatch(value) is None:
            return NO_MATCH
        return value

    def to_python(self, value: str) -> str:
        if self.match(value) is NO_MATCH:
            raise ValueError(f"does not match {self.pattern!r}")
        return value

    def to_url(self, value: str) -> str:
        value = str(value)
        self.to_python(value)
        return value

    def key(self) -> Hashable:
        return (RegexConverter, self.pattern)

    def __repr__(self) -> str:
        return f"RegexConverter({self.pattern!r})"


_FORBIDDEN_OPS = {
    _parser.GROUPREF: "a backreference",
    _parser.GROUPREF_EXISTS: "a conditional",
    _parser.ASSERT: "a lookahead or lookbehind",
    _parser.ASSERT_NOT: "a lookahead or lookbehind",
}
_REPEATS = {_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT}


def check_regex(pattern: str) -> int:
    """Refuse regular expressions that could backtrack for a long time.

    Returns:
        The longest segment the expression may be evaluated on.

    Raises:
        RouteError: If ``pattern`` is invalid or could stall the server.
    """
    try:
        parsed = _parser.parse(pattern)
    except re.error as exc:
        raise RouteError(f"invalid regular expression {pattern!r}: {exc}") from None
    repeats, choices = _walk(pattern, parsed, inside_repeat=False)
    for length in range(MAX_REGEX_SEGMENT, MIN_REGEX_SEGMENT - 1, -1):
        if math.comb(length + repeats, repeats) * 2**choices <= REGEX_BUDGET:
            return length
    raise RouteError(
        f"regular expression {pattern!r} has {repeats} repetitions of variable width "
        f"and {choices} optional parts or alternatives: too many to match a "
        f"{MIN_REGEX_SEGMENT}-character segment quickly; simplify it, or split the "
        f"value across segments"
    )


def _walk(pattern: str, items: Any, inside_repeat: bool) -> tuple[int, int]:
    """Check one parsed sequence; count its variable repetitions and choice points."""
    repeats = choices = 0
    for op, arg in items:
        if op in _FORBIDDEN_OPS:
            raise RouteError(
                f"regular expression {pattern!r} uses {_FORBIDDEN_OPS[op]}, which "
                f"can make matching slow; rewrite it without"
            )
        if op in _REPEATS:
            low, high, body = arg
            many = high > 1
            # Only a repetition of variable width inside another one backtracks
            # exponentially; fixed counts such as (?:[0-9a-f]{4}-){3} are plain text.
            if inside_repeat and low != high:
                raise RouteError(
                    f"regular expression {pattern!r} nests a repetition inside "
                    f"another, which can backtrack exponentially; rewrite it as a "
                    f"single repetition"
                )
            if low != high:
                if many:
                    repeats += 1
                else:
                    choices += 1
            inner = _walk(pattern, body, inside_repeat or (many and low != high))
            if low == high:  # a fixed count repeats the choices inside it
                inner = (inner[0] * low, inner[1] * low)
        elif op is _parser.SUBPATTERN:
            inner = _walk(pattern, arg[-1], inside_repeat)
        elif op is _parser.ATOMIC_GROUP:
            inner = _walk(pattern, arg, inside_repeat)
        elif op is _parser.BRANCH:
            if inside_repeat:
                raise RouteError(
                    f"regular expression {pattern!r} repeats an alternation, which "
                    f"can backtrack exponentially; use a character class instead"
                )
            branches = [_walk(pattern, branch, inside_repeat) for branch in arg[1]]
            inner = (sum(r for r, _ in branches), sum(c for _, c in branches))
            choices += len(branches) - 1
        else:
            continue
        repeats += inner[0]
        choices += inner[1]
    return repeats, choices


#: Converters available by name in every router, read-only: pass your own to
#: ``Router(converters=...)`` instead of changing these for every router. ``any``,
#: which needs arguments, is here as a class; the others as instances without
#: arguments, whose classes take the arguments of converter calls.
DEFAULT_CONVERTERS: Mapping[str, Converter[Any] | type[Converter[Any]]] = MappingProxyType(
    {
        "str": StrConverter(),
        "int": IntConverter(),
        "float": FloatConverter(),
        "uuid": UUIDConverter(),
        "path": PathConverter(),
        "any": AnyConverter,
    }
)
