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

Register your own by name with ``Router(converters={"name": MyConverter()})``.
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


class StrConverter(Converter[str]):
    """Any non-empty segment, ``/`` included when it was sent encoded as ``%2F``."""

    weight = 200

    def match(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError("expected a non-empty str")
        return value


class IntConverter(Converter[int]):
    """A non-negative integer written in ASCII digits.

    Args:
        min: Smallest accepted value.
        max: Largest accepted value.
        max_digits: Longest accepted text; longer values are refused before any
            conversion, so a client cannot make the server parse huge numbers.
    """

    regex = r"[0-9]+"
    weight = 20

    def __init__(
        self, min: int | None = None, max: int | None = None, max_digits: int = 19
    ) -> None:
        if max_digits < 1:
            raise RouteError(f"IntConverter(max_digits={max_digits}) must be >= 1")
        if min is not None and max is not None and min > max:
            raise RouteError(f"IntConverter(min={min}, max={max}): min is above max")
        self.min = min
        self.max = max
        self.max_digits = max_digits

    def match(self, value: str) -> int | NoMatch:
        if value.isdigit() and value.isascii() and len(value) <= self.max_digits:
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
        text = str(value)
        self.to_python(text)
        return text


class FloatConverter(Converter[float]):
    """A finite decimal number such as ``1.5``, ``-2`` or ``1e-05`` (ASCII, 32 chars max)."""

    regex = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    weight = 30

    def match(self, value: str) -> float | NoMatch:
        if len(value) > 32 or _FLOAT.fullmatch(value) is None:
            return NO_MATCH
        number = float(value)
        return number if math.isfinite(number) else NO_MATCH

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
        return repr(number)


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
    """The rest of the path, slashes included; it must end the pattern.

    The value is the decoded segments joined with ``/``. Empty segments are refused,
    so ``/files/a//b`` and ``/files/a/`` don't match ``/files/{rest:path}``.
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
#: ``Router(converters=...)`` instead of changing these for every router.
DEFAULT_CONVERTERS: Mapping[str, Converter[Any]] = MappingProxyType(
    {
        "str": StrConverter(),
        "int": IntConverter(),
        "float": FloatConverter(),
        "uuid": UUIDConverter(),
        "path": PathConverter(),
    }
)
