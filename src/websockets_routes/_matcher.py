"""A segment trie: the cost of a match grows with the path, not with the routes."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._patterns import Mixed, Param, Rest, Segment, Static
from .converters import NO_MATCH, StrConverter

if TYPE_CHECKING:
    from ._route import Route

__all__ = ["Node"]


class Node:
    """One position in the trie: the routes whose patterns share a prefix."""

    __slots__ = ("dynamic", "edges", "rest", "route", "static")

    def __init__(self) -> None:
        # Edges keyed by the exact decoded segment.
        self.static: dict[str, Node] = {}
        # Whole-segment and mixed parameters, sorted by weight, as declared...
        self.edges: list[tuple[Param | Mixed, Hashable, Node]] = []
        # ...and ready to try: (convert, name, child). convert is None for the
        # default str converter, which takes any segment as it is; name is None for
        # a mixed segment, whose convert() gives a list of (name, value) or None.
        self.dynamic: list[tuple[Any, str | None, Node]] = []
        # `path` parameters ending a pattern here, in declaration order.
        self.rest: list[tuple[Rest, Route]] = []
        # The route whose pattern ends exactly here.
        self.route: Route | None = None

    def insert(self, segments: tuple[Segment, ...], route: Route) -> None:
        """Add ``route``, reached through ``segments``."""
        node = self
        for segment in segments:
            if isinstance(segment, Static):
                node = node.static.setdefault(segment.text, Node())
            elif isinstance(segment, Rest):
                node.rest.append((segment, route))
                return
            else:
                node = node._dynamic_child(segment)
        node.route = route

    def _dynamic_child(self, segment: Param | Mixed) -> Node:
        # Edges are shared only when their parameter names agree too, so that a
        # value is always stored under the name its route declared.
        key = (segment.key(), tuple(p.name for p in segment.params))
        for _, edge_key, child in self.edges:
            if edge_key == key:
                return child
        child = Node()
        self.edges.append((segment, key, child))
        # A stable sort keeps declaration order among equal weights.
        self.edges.sort(key=_weight)
        self.dynamic = [_ready(edge, node) for edge, _, node in self.edges]
        return child

    def match(self, segments: list[str], index: int, params: dict[str, Any]) -> Route | None:
        """The route matching ``segments[index:]``; captured values go in ``params``.

        Candidates are tried depth first: the static edge, then parameters by weight,
        then ``path`` parameters. A refused value means "try the next candidate".
        Where a node leaves a single candidate the walk goes on in a loop; it
        recurses only where it may have to come back and try another.
        """
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
            if len(dynamic) == 1 and not node.rest:
                convert, name, child = dynamic[0]
                value: Any = segment if convert is None else convert(segment)
                if name is not None:
                    if value is NO_MATCH:
                        return None
                    params[name] = value
                elif value is None:
                    return None
                else:
                    params.update(value)
                node, index = child, index + 1
                continue
            mark = len(params)
            for convert, name, child in dynamic:
                value = segment if convert is None else convert(segment)
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
            # Last, parameters that take the rest of the path.
            if node.rest and segment:
                text = "/".join(segments[index:])
                # No empty part, whether from "//" in the path or from an encoded
                # "%2F" at either end of a segment: the value must rebuild into the
                # same path.
                if text[-1:] != "/" and text[:1] != "/" and "//" not in text:
                    for rest, route in node.rest:
                        value = rest.converter.match(text)
                        if value is not NO_MATCH:
                            params[rest.name] = value
                            return route
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
    if type(edge.converter) is StrConverter:
        return None, edge.name, child
    return edge.converter.match, edge.name, child


def _weight(item: tuple[Param | Mixed, Hashable, Node]) -> int:
    edge = item[0]
    return edge.converter.weight if isinstance(edge, Param) else edge.weight
