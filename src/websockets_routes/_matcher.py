"""A segment trie: the cost of a match grows with the path, not with the routes."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._patterns import Mixed, Param, Rest, Segment, Static
from .converters import NO_MATCH

if TYPE_CHECKING:
    from ._router import Route

__all__ = ["Node"]


class Node:
    """One position in the trie: the routes whose patterns share a prefix."""

    __slots__ = ("dynamic", "rest", "route", "static")

    def __init__(self) -> None:
        # Edges keyed by the exact decoded segment.
        self.static: dict[str, Node] = {}
        # Whole-segment and mixed parameters, sorted by weight.
        self.dynamic: list[tuple[Param | Mixed, Hashable, Node]] = []
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
        names = (
            (segment.name,) if isinstance(segment, Param) else tuple(p.name for p in segment.params)
        )
        key = (segment.key(), names)
        for _, edge_key, child in self.dynamic:
            if edge_key == key:
                return child
        child = Node()
        self.dynamic.append((segment, key, child))
        # A stable sort keeps declaration order among equal weights.
        self.dynamic.sort(key=_weight)
        return child

    def match(self, segments: list[str], index: int, found: list[tuple[str, Any]]) -> Route | None:
        """The route matching ``segments[index:]``; captured values go in ``found``.

        Candidates are tried depth first: the static edge, then parameters by weight,
        then ``path`` parameters. A refused value means "try the next candidate".
        """
        if index == len(segments):
            return self.route
        segment = segments[index]
        # To match this segment, try the static edge first.
        child = self.static.get(segment)
        if child is not None:
            route = child.match(segments, index + 1, found)
            if route is not None:
                return route
        # Empty segments never match a parameter.
        if not segment:
            return None
        depth = len(found)
        for edge, _, child in self.dynamic:
            if isinstance(edge, Param):
                value = edge.converter.match(segment)
                if value is NO_MATCH:
                    continue
                found.append((edge.name, value))
            else:
                values = edge.match(segment)
                if values is None:
                    continue
                found.extend(values)
            route = child.match(segments, index + 1, found)
            if route is not None:
                return route
            del found[depth:]
        # Last, parameters that take the rest of the path.
        if self.rest:
            text = "/".join(segments[index:])
            # No empty part, whether from "//" in the path or from an encoded "%2F"
            # at either end of a segment: the value must rebuild into the same path.
            if text[:1] != "/" and text[-1:] != "/" and "//" not in text:
                for rest, route in self.rest:
                    value = rest.converter.match(text)
                    if value is not NO_MATCH:
                        found.append((rest.name, value))
                        return route
        return None


def _weight(item: tuple[Param | Mixed, Hashable, Node]) -> int:
    edge = item[0]
    return edge.converter.weight if isinstance(edge, Param) else edge.weight
