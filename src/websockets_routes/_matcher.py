"""A segment trie: the cost of a match grows with the path, not with the routes.

Routes with a host pattern are found by host first (:class:`Hosts`), then in a
trie of their own.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._patterns import Mixed, Param, Rest, Segment, Static
from .converters import NO_MATCH, StrConverter

if TYPE_CHECKING:
    from ._route import Route

__all__ = ["Hosts", "Node", "Paths"]


# What a node holds decides how a segment goes through it. Most nodes hold either
# static edges only, or one parameter edge only: those take a segment without a
# branch to come back to, in the loop of Node.match; the others recurse.
PLAIN, SINGLE, BRANCHED, LONE = 0, 1, 2, 3
# Shared by every node without static edges until one is added: most have none.
_NO_EDGES: dict[str, Node] = {}
# The `single` and `lone` of nodes that aren't SINGLE, or LONE.
_NOT_SINGLE: tuple[Any, Any, Any] = (None, None, None)
_NOT_LONE: tuple[str, Any] = ("", None)


class Node:
    """One position in the trie: the routes whose patterns share a prefix."""

    __slots__ = ("dynamic", "edges", "kind", "lone", "rest", "route", "single", "static")

    def __init__(self) -> None:
        # Edges keyed by the exact decoded segment.
        self.static: dict[str, Node] = _NO_EDGES
        # Whole-segment and mixed parameters, sorted by weight, as declared...
        # (Empty tuples, shared by the many nodes without any, until one is added.)
        self.edges: tuple[tuple[Param | Mixed, Hashable, Node], ...] = ()
        # ...and ready to try: (convert, name, child). convert is None for the
        # default str converter, which takes any segment as it is; name is None for
        # a mixed segment, whose convert() gives a list of (name, value) or None.
        self.dynamic: tuple[tuple[Any, str | None, Node], ...] = ()
        # `path` parameters starting here: (tail, rest, child), where `tail` is the
        # number of segments the pattern has after the parameter. Longest tails
        # first, then in declaration order: the parameter takes the fewest segments.
        self.rest: tuple[tuple[int, Rest, Node], ...] = ()
        # The route whose pattern ends exactly here.
        self.route: Route | None = None
        # PLAIN, LONE (one static edge: `lone` is its text and child, compared
        # without a dict), SINGLE (`single` is the one entry of `dynamic`) or
        # BRANCHED.
        self.kind = PLAIN
        self.single: tuple[Any, Any, Any] = _NOT_SINGLE
        self.lone: tuple[str, Any] = _NOT_LONE

    def insert(self, segments: tuple[Segment, ...], route: Route) -> None:
        """Add ``route``, reached through ``segments``."""
        node = self
        for index, segment in enumerate(segments):
            if isinstance(segment, Static):
                if node.static is _NO_EDGES:
                    node.static = {}
                # Interned: every node's keys are the same string objects.
                text = sys.intern(segment.text)
                child = node.static.get(text)
                if child is None:
                    child = node.static[text] = Node()
                    node._classify()
                node = child
            elif isinstance(segment, Rest):
                node = node._rest_child(segment, len(segments) - index - 1)
            else:
                node = node._dynamic_child(segment)
        node.route = route

    def _classify(self) -> None:
        if self.rest or (self.dynamic and (self.static or len(self.dynamic) > 1)):
            self.kind, self.single, self.lone = BRANCHED, _NOT_SINGLE, _NOT_LONE
        elif self.dynamic:
            self.kind, self.single, self.lone = SINGLE, self.dynamic[0], _NOT_LONE
        elif len(self.static) == 1:
            self.kind, self.single, self.lone = LONE, _NOT_SINGLE, next(iter(self.static.items()))
        else:
            self.kind, self.single, self.lone = PLAIN, _NOT_SINGLE, _NOT_LONE

    def _rest_child(self, segment: Rest, tail: int) -> Node:
        # Shared, like dynamic edges, when the converter, the name and the length
        # of the rest of the pattern agree.
        for edge_tail, rest, child in self.rest:
            if edge_tail == tail and rest.name == segment.name and rest.key() == segment.key():
                return child
        child = Node()
        self.rest = tuple(sorted([*self.rest, (tail, segment, child)], key=_longest_tail_first))
        self._classify()
        return child

    def _dynamic_child(self, segment: Param | Mixed) -> Node:
        # Edges are shared only when their parameter names agree too, so that a
        # value is always stored under the name its route declared.
        key = (segment.key(), tuple(p.name for p in segment.params))
        for _, edge_key, child in self.edges:
            if edge_key == key:
                return child
        child = Node()
        # A stable sort keeps declaration order among equal weights.
        self.edges = tuple(sorted([*self.edges, (segment, key, child)], key=_weight))
        self.dynamic = tuple(_ready(edge, node) for edge, _, node in self.edges)
        self._classify()
        return child

    def match(self, segments: list[str], index: int, params: dict[str, Any]) -> Route | None:
        """The route matching ``segments[index:]``; captured values go in ``params``.

        Candidates are tried depth first: the static edge, then parameters by weight,
        then ``path`` parameters, those followed by the most segments first. A
        refused value means "try the next candidate".
        Where a node leaves a single candidate the walk goes on in a loop; it
        recurses only where it may have to come back and try another.
        """
        node, count = self, len(segments)
        while index < count:
            segment = segments[index]
            # Kinds in the order paths meet them most.
            kind = node.kind
            if kind is PLAIN:
                child = node.static.get(segment)
                if child is None:
                    return None
            elif kind is SINGLE:
                # Empty segments never match a parameter.
                if not segment:
                    return None
                convert, name, child = node.single
                if convert is None:
                    params[name] = segment
                else:
                    value = convert(segment)
                    if name is not None:
                        if value is NO_MATCH:
                            return None
                        params[name] = value
                    elif value is None:
                        return None
                    else:
                        params.update(value)
            elif kind is LONE:
                text, child = node.lone
                if segment != text:
                    return None
            else:
                return node._branch(segments, index, params)
            node, index = child, index + 1
        return node.route

    def _branch(self, segments: list[str], index: int, params: dict[str, Any]) -> Route | None:
        """Match at a node with several candidates, coming back to try the next."""
        node, count = self, len(segments)
        while index < count:
            segment = segments[index]
            child = node.static.get(segment)
            # Empty segments never match a parameter.
            dynamic = node.dynamic if segment else ()
            if child is not None:
                if not dynamic and not node.rest:
                    node, index = child, index + 1
                    continue
                mark = len(params)
                route = child.match(segments, index + 1, params)
                if route is not None:
                    return route
                _forget(params, mark)
            mark = len(params)
            for convert, name, child in dynamic:
                value: Any = segment if convert is None else convert(segment)
                if name is not None:
                    if value is NO_MATCH:
                        continue
                    params[name] = value
                elif value is None:
                    continue
                else:
                    params.update(value)
                route = child.match(segments, index + 1, params)
                if route is not None:
                    return route
                _forget(params, mark)
            # Last, `path` parameters: each takes the segments that the rest of its
            # pattern leaves, so there is one way to try it, not one per length.
            if node.rest and segment:
                for tail, rest, child in node.rest:
                    end = count - tail
                    if end <= index:
                        continue
                    text = "/".join(segments[index:end])
                    # No empty part, whether from "//" in the path or from an encoded
                    # "%2F" at either end of a segment: the value must rebuild into
                    # the same path.
                    if text[-1:] == "/" or text[:1] == "/" or "//" in text:
                        continue
                    value = rest.converter.match(text)
                    if value is NO_MATCH:
                        continue
                    mark = len(params)
                    params[rest.name] = value
                    route = child.match(segments, end, params)
                    if route is not None:
                        return route
                    _forget(params, mark)
            return None
        return node.route


def _forget(params: dict[str, Any], mark: int) -> None:
    """Drop the values a failed branch added after the first ``mark`` ones."""
    if len(params) > mark:
        for name in list(params)[mark:]:
            del params[name]


def _ready(edge: Param | Mixed, child: Node) -> tuple[Any, str | None, Node]:
    if isinstance(edge, Mixed):
        return edge.match, None, child
    converter = edge.converter
    # A str parameter without length bounds takes any (non-empty) segment as it is.
    if type(converter) is StrConverter and converter.key() == _ANY_STR:
        return None, edge.name, child
    return converter.match, edge.name, child


_ANY_STR = StrConverter().key()


def _longest_tail_first(edge: tuple[int, Rest, Node]) -> int:
    return -edge[0]


def _weight(item: tuple[Param | Mixed, Hashable, Node]) -> int:
    edge = item[0]
    return edge.converter.weight if isinstance(edge, Param) else edge.weight


class Paths:
    """The routes of one host pattern (or of none): a trie, and fully static paths."""

    __slots__ = ("root", "static")

    def __init__(self) -> None:
        self.root = Node()
        # Fully static routes by path: most lookups end in this one dict access.
        self.static: dict[str, Route] = {}


class Hosts:
    """Routes by host pattern: exact hosts in a dict, then patterns by precedence.

    Patterns are ordered by their labels from the right (the top-level domain
    first): at the first label where two differ, static text goes before a
    parameter, and parameters go by converter weight. So ``admin.example.com``
    goes before ``{tenant}.example.com``, whatever the declaration order.
    """

    __slots__ = ("exact", "patterns")

    def __init__(self) -> None:
        self.exact: dict[str, Paths] = {}
        self.patterns: list[tuple[tuple[Segment, ...], Hashable, Paths]] = []

    def paths(self, labels: tuple[Segment, ...]) -> Paths:
        """The routes of the host pattern ``labels``, made on first use."""
        if all(isinstance(label, Static) for label in labels):
            text = ".".join(label.text for label in labels if isinstance(label, Static))
            return self.exact.setdefault(text, Paths())
        # Shared when the names agree too, as edges of the trie are.
        key = tuple((label.key(), tuple(p.name for p in label.params)) for label in labels)
        for _, known, paths in self.patterns:
            if known == key:
                return paths
        paths = Paths()
        self.patterns.append((labels, key, paths))
        self.patterns.sort(key=_precedence)
        return paths

    def candidates(self, host: str) -> list[tuple[Paths, list[tuple[str, Any]]]]:
        """The routes of every host pattern matching ``host``, with its parameters, in order."""
        found: list[tuple[Paths, list[tuple[str, Any]]]] = []
        exact = self.exact.get(host)
        if exact is not None:
            found.append((exact, []))
        names = host.split(".") if host[:1] != "[" else [host]
        for labels, _, paths in self.patterns:
            values = _match_labels(labels, names)
            if values is not None:
                found.append((paths, values))
        return found


def _match_labels(labels: tuple[Segment, ...], names: list[str]) -> list[tuple[str, Any]] | None:
    """The parameters of a host pattern matching the labels of a host, or None."""
    if len(labels) != len(names):
        return None
    values: list[tuple[str, Any]] = []
    for label, name in zip(labels, names, strict=True):
        if isinstance(label, Static):
            if label.text != name:
                return None
        elif isinstance(label, Param):
            value = label.converter.match(name)
            if value is NO_MATCH:
                return None
            values.append((label.name, value))
        else:  # a mixed label: host patterns have no `path` parameter
            mixed = label.match(name)  # type: ignore[union-attr]
            if mixed is None:
                return None
            values.extend(mixed)
    return values


def _precedence(pattern: tuple[tuple[Segment, ...], Hashable, Paths]) -> tuple[Any, ...]:
    labels = pattern[0]
    ranks = [_rank(label) for label in reversed(labels)]
    return (len(labels), *ranks)


def _rank(label: Segment) -> tuple[int, ...]:
    if isinstance(label, Param):
        return (1, label.converter.weight)
    if isinstance(label, Mixed):
        return (1, label.weight)
    return (0,)
