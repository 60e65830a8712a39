"""Route patterns: parsed once, when a route is declared, into segment specs."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeAlias

from ._path import CONTROL, parse_host
from .converters import (
    DEFAULT_CONVERTERS,
    NO_MATCH,
    Converter,
    PathConverter,
    RegexConverter,
    check_regex,
)
from .exceptions import BadRequest, RouteError

__all__ = [
    "Mixed",
    "Param",
    "Rest",
    "Segment",
    "Static",
    "param_names",
    "params_of",
    "parse_host_pattern",
    "parse_pattern",
]


@dataclass(frozen=True, slots=True)
class Static:
    """A segment matched by its exact (decoded) text."""

    text: str

    #: The parameters this segment captures: none.
    params: ClassVar[tuple[Param | Rest, ...]] = ()

    def key(self) -> Hashable:
        return ("static", self.text)


@dataclass(frozen=True, slots=True)
class Param:
    """A whole segment captured by a converter: ``{id:int}``."""

    name: str
    converter: Converter[Any]

    @property
    def params(self) -> tuple[Param]:
        """The parameters this segment captures: itself."""
        return (self,)

    def key(self) -> Hashable:
        return ("param", self.converter.key())


@dataclass(frozen=True, slots=True)
class Mixed:
    """A segment mixing text and parameters: ``{name}.{ext}``."""

    parts: tuple[str | Param, ...]
    regex: re.Pattern[str]
    params: tuple[Param, ...]
    max_length: int

    def key(self) -> Hashable:
        return (
            "mixed",
            tuple(p if isinstance(p, str) else p.converter.key() for p in self.parts),
        )

    weight = 50

    def match(self, segment: str) -> list[tuple[str, Any]] | None:
        """The converted values of the parameters, or None if refused."""
        if len(segment) > self.max_length:
            return None
        found = self.regex.fullmatch(segment)
        if found is None:
            return None
        values = []
        for param, text in zip(self.params, found.groups(), strict=True):
            value = param.converter.match(text)
            if value is NO_MATCH:
                return None
            values.append((param.name, value))
        return values


@dataclass(frozen=True, slots=True)
class Rest:
    """The rest of the path, slashes included: ``{rest:path}``."""

    name: str
    converter: Converter[Any]

    @property
    def params(self) -> tuple[Rest]:
        """The parameters this segment captures: itself."""
        return (self,)

    def key(self) -> Hashable:
        return ("rest", self.converter.key())


Segment: TypeAlias = Static | Param | Mixed | Rest
#: Converters by name: an instance, or a class made with the arguments of a call.
Converters: TypeAlias = Mapping[str, Converter[Any] | type[Converter[Any]]]


def params_of(segments: tuple[Segment, ...]) -> list[Param | Rest]:
    """The parameters of a parsed pattern, in the order the pattern declares them."""
    return [param for segment in segments for param in segment.params]


def param_names(segments: tuple[Segment, ...]) -> list[str]:
    """The parameter names of a parsed pattern, in declaration order."""
    return [param.name for segment in segments for param in segment.params]


def parse_pattern(
    pattern: str, converters: Converters, *, prefix: bool = False
) -> tuple[Segment, ...]:
    """Parse ``pattern`` into segment specs.

    With ``prefix=True`` the pattern is a mount prefix: it may be empty and must
    not end with ``/``.

    Raises:
        RouteError: If the pattern is malformed, names an unknown converter or calls
            one with bad arguments, repeats a parameter name or has two ``path``
            parameters.
    """
    if not isinstance(pattern, str):
        raise RouteError(f"a route pattern must be a str, not {type(pattern).__name__}")
    if prefix:
        if pattern == "":
            return ()
        if pattern.endswith("/"):
            raise RouteError(
                f"prefix {pattern!r} must not end with '/'; write {pattern.rstrip('/')!r}"
            )
    if not pattern.startswith("/"):
        raise RouteError(f"route pattern {pattern!r} must start with '/'")
    raw_segments = _split(pattern)[1:]
    segments: list[Segment] = []
    names: set[str] = set()
    for index, raw in enumerate(raw_segments):
        last = index == len(raw_segments) - 1
        if raw == "" and not last:
            raise RouteError(
                f"route pattern {pattern!r} has an empty segment ('//'); empty segments never match"
            )
        segment = _parse_segment(pattern, raw, converters)
        if isinstance(segment, Rest) and any(isinstance(s, Rest) for s in segments):
            raise RouteError(
                f"route pattern {pattern!r} has two 'path' parameters; a pattern may have "
                f"one, so that how much of the path each takes is never ambiguous"
            )
        for name in param_names((segment,)):
            if name in names:
                raise RouteError(
                    f"route pattern {pattern!r} uses the parameter name {name!r} twice"
                )
            names.add(name)
        segments.append(segment)
    return tuple(segments)


def parse_host_pattern(pattern: str, converters: Converters) -> tuple[Segment, ...]:
    """Parse a host pattern such as ``{tenant}.example.com`` into one spec per label.

    Labels are split on ``.``; each is static text, a parameter or a mix, like a
    path segment, and a parameter takes one whole label. Static text is compared
    lower-cased, as the ``Host`` header is; ports are not part of host patterns.

    Raises:
        RouteError: If the pattern is malformed or its static text can't be part of
            a valid host name, or as :func:`parse_pattern` for its parameters.
    """
    if not isinstance(pattern, str):
        raise RouteError(f"a host pattern must be a str, not {type(pattern).__name__}")
    where = f"host pattern {pattern!r}"
    if pattern[:1] == "[" and "{" not in pattern:
        try:
            host, port = parse_host(pattern)
        except BadRequest:
            raise RouteError(f"{where} is not a valid IPv6 address in brackets") from None
        if port is not None:
            raise RouteError(f"{where} has a port; ports play no part in host matching")
        return (Static(host),)
    try:
        raw_labels = _split(pattern, ".", "/?#:")
    except RouteError as exc:
        raise RouteError(str(exc).replace("route pattern", "host pattern", 1)) from None
    labels: list[Segment] = []
    names: set[str] = set()
    for raw in map(_lower_outside_braces, raw_labels):
        if raw == "":
            raise RouteError(
                f"{where} has an empty label: it must not start or end with '.', nor have '..'"
            )
        try:
            label = _parse_segment(pattern, raw, converters)
        except RouteError as exc:
            raise RouteError(str(exc).replace("route pattern", "host pattern", 1)) from None
        texts = [label.text] if isinstance(label, Static) else []
        if isinstance(label, Mixed):
            texts = [part for part in label.parts if isinstance(part, str)]
        if isinstance(label, Rest):
            raise RouteError(
                f"{where}: a 'path' parameter can't be part of a host; a parameter takes one label"
            )
        for text in texts:
            if not _HOST_TEXT.fullmatch(text):
                raise RouteError(
                    f"{where}: {text!r} can't be part of a host name: letters, digits, "
                    f"'-' and '_' only"
                )
        for name in param_names((label,)):
            if name in names:
                raise RouteError(f"{where} uses the parameter name {name!r} twice")
            names.add(name)
        labels.append(label)
    return tuple(labels)


_HOST_TEXT = re.compile(r"[a-z0-9_-]+")


def _lower_outside_braces(text: str) -> str:
    """``text`` with static parts lower-cased, converter arguments and regexes kept."""
    lowered, depth = [], 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        lowered.append(char.lower() if depth == 0 else char)
    return "".join(lowered)


def _split(pattern: str, separator: str = "/", refused: str = "?#") -> list[str]:
    """Split on ``separator`` outside braces, so that regexes may contain it."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(pattern):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise RouteError(f"route pattern {pattern!r} has an unmatched '}}'")
        elif char == separator and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        elif char in refused and depth == 0:
            if separator == ".":
                raise RouteError(
                    f"host pattern {pattern!r} contains {char!r}: a host pattern is a host "
                    f"name, without scheme, port or path"
                )
            raise RouteError(
                f"route pattern {pattern!r} contains {char!r}; the query string and "
                f"fragment never take part in matching"
            )
    if depth:
        raise RouteError(f"route pattern {pattern!r} has an unmatched '{{'")
    parts.append(pattern[start:])
    return parts


def _parse_segment(pattern: str, raw: str, converters: Converters) -> Segment:
    parts: list[str | Param] = []
    index = 0
    while index < len(raw):
        start = raw.find("{", index)
        if start < 0:
            parts.append(raw[index:])
            break
        if start > index:
            parts.append(raw[index:start])
        end, depth = start, 0
        for end in range(start, len(raw)):
            depth += {"{": 1, "}": -1}.get(raw[end], 0)
            if depth == 0:
                break
        parts.append(_parse_param(pattern, raw[start + 1 : end], converters))
        index = end + 1

    if not any(isinstance(p, Param) for p in parts):
        text = "".join(p for p in parts if isinstance(p, str))
        if text in (".", "..") or CONTROL.search(text):
            raise RouteError(
                f"route pattern {pattern!r} has the segment {text!r}, which no valid "
                f"request can contain"
            )
        return Static(text)
    if len(parts) == 1:
        param = parts[0]
        assert isinstance(param, Param)
        if isinstance(param.converter, PathConverter):
            return Rest(param.name, param.converter)
        return param
    for before, after in itertools.pairwise(parts):
        if isinstance(before, Param) and isinstance(after, Param):
            raise RouteError(
                f"route pattern {pattern!r}: parameters {{{before.name}}} and "
                f"{{{after.name}}} touch, so they can never be told apart; put text "
                f"between them"
            )
    regex = ""
    for part in parts:
        if isinstance(part, str):
            regex += re.escape(part)
        elif isinstance(part.converter, PathConverter):
            raise RouteError(f"route pattern {pattern!r}: a 'path' parameter must fill its segment")
        else:
            regex += f"({part.converter.regex})"
    try:
        max_length = check_regex(regex)
    except RouteError as exc:
        raise RouteError(f"route pattern {pattern!r}: segment {raw!r}: {exc}") from None
    compiled = re.compile(regex, re.ASCII)
    if compiled.groups != sum(isinstance(p, Param) for p in parts):
        raise RouteError(
            f"route pattern {pattern!r}: a converter's regex has capturing groups; "
            f"use (?:...) in Converter.regex"
        )
    params = tuple(p for p in parts if isinstance(p, Param))
    return Mixed(tuple(parts), compiled, params, max_length)


def _parse_param(pattern: str, body: str, converters: Converters) -> Param:
    name, colon, spec = body.partition(":")
    if not name.isidentifier():
        raise RouteError(
            f"route pattern {pattern!r}: {{{body}}} needs a parameter name that is a "
            f"Python identifier, as in {{id}} or {{id:int}}"
        )
    if not colon:
        return Param(name, _converter(pattern, body, "str", converters))
    if not spec or spec.strip() != spec:
        known = ", ".join(sorted(converters))
        raise RouteError(
            f"route pattern {pattern!r}: {{{body}}} has an empty or space-padded converter "
            f"{spec!r}; write {{{name}}} or one of: {known}, or a regular expression"
        )
    if spec in converters:
        return Param(name, _converter(pattern, body, spec, converters))
    call = _CALL.match(spec)
    if call is not None:
        return Param(name, _converter_call(pattern, body, call, converters))
    if spec.isidentifier():
        _unknown(pattern, name, spec, converters)
    try:
        return Param(name, RegexConverter(spec))
    except RouteError as exc:
        raise RouteError(f"route pattern {pattern!r}: {exc}") from None


def _unknown(pattern: str, name: str, spec: str, converters: Converters) -> NoReturn:
    known = ", ".join(sorted(converters))
    raise RouteError(
        f"route pattern {pattern!r}: unknown converter {spec!r} for {{{name}}}; "
        f"known converters: {known}; register others with "
        f"Router(converters={{{spec!r}: ...}})"
    )


def _converter(pattern: str, body: str, spec: str, converters: Converters) -> Converter[Any]:
    """The converter named ``spec``: the registered instance, or its class made bare."""
    converter = converters[spec]
    if not isinstance(converter, type):
        return converter
    try:
        return converter()
    except (RouteError, TypeError, ValueError) as exc:
        raise RouteError(
            f"route pattern {pattern!r}: {{{body}}}: converter {spec!r} needs arguments, "
            f"as in {{name:{spec}(...)}}: {exc}"
        ) from None


# A converter call: a name, then "(" but not "(?", which starts a regex group. What
# follows must be literal arguments and ")": anything else starting like a call is
# refused, never read as a regular expression.
_CALL = re.compile(r"(?P<name>[^\W\d]\w*)\s*\((?!\?)(?P<args>.*)\Z", re.DOTALL)


def _converter_call(
    pattern: str, body: str, call: re.Match[str], converters: Converters
) -> Converter[Any]:
    """Parse ``name(args)`` with literal arguments only and make that converter."""
    spec, args = call["name"], call["args"]
    where = f"route pattern {pattern!r}: {{{body}}}"
    if spec not in converters:
        known = ", ".join(sorted(converters))
        raise RouteError(
            f"{where} calls the unknown converter {spec!r}; known converters: {known}. "
            f"To write a regular expression that starts with a name and a capturing "
            f"group, make the group non-capturing: {spec}(?:...)"
        )
    if not args.endswith(")"):
        raise RouteError(f"{where}: the arguments of {spec}(...) must end with ')'")
    factory = converters[spec]
    if not isinstance(factory, type):
        factory = type(factory)
        if DEFAULT_CONVERTERS.get(spec) is not converters[spec]:
            # Only a class knows how to make the converter with other arguments.
            raise RouteError(
                f"{where}: converter {spec!r} was registered as an instance, which takes "
                f"no arguments; register its class to pass them: "
                f"Router(converters={{{spec!r}: {factory.__name__}}})"
            )
    positional, keywords = _literal_arguments(where, spec, args[:-1])
    signature = inspect.signature(factory)
    try:
        signature.bind(*positional, **keywords)
    except TypeError as exc:
        names = ", ".join(signature.parameters) or "no arguments"
        raise RouteError(f"{where}: {factory.__name__} takes {names}: {exc}") from None
    try:
        return factory(*positional, **keywords)
    except (RouteError, TypeError, ValueError) as exc:
        raise RouteError(f"{where}: {exc}") from None


def _literal_arguments(where: str, spec: str, args: str) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of a call, each a Python literal."""
    try:
        tree = ast.parse(f"_({args})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        raise RouteError(
            f"{where}: the arguments of {spec}(...) are not valid Python: {message}"
        ) from None
    # "a), b(" parses as the tuple _(a), b(): one call of "_" is all there may be.
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "_"):
        raise RouteError(f"{where}: {spec}(...) must be one call with literal arguments")
    positional, keywords = [], {}
    for index, node in enumerate(tree.args):
        if isinstance(node, ast.Starred):
            raise RouteError(f"{where}: {spec}(...) takes no *arguments; write each value")
        positional.append(_literal(where, spec, f"argument {index + 1}", node))
    for keyword in tree.keywords:
        if keyword.arg is None:
            raise RouteError(f"{where}: {spec}(...) takes no **arguments; write each value")
        if keyword.arg in keywords:
            raise RouteError(f"{where}: {spec}(...) repeats the argument {keyword.arg}")
        keywords[keyword.arg] = _literal(where, spec, f"argument {keyword.arg}", keyword.value)
    return positional, keywords


def _literal(where: str, spec: str, what: str, node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        source = ast.unparse(node)
        raise RouteError(
            f"{where}: {what} of {spec}(...), {source}, is not a literal: write a number, "
            f"a quoted string, True, False, None, or a tuple or list of them"
        ) from None
