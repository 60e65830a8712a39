"""The floor of matching: a minimal segment trie, about 30 lines, for the ratios.

It knows static segments and ``{name}`` parameters, tries a static edge before the
parameter and never comes back: enough for the bench's route table, and nothing a
real router needs besides (no converters, no decoding, no validation of the
target). A router can't be faster than this in Python; how close it gets is what
counts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FloorTrie"]


class FloorTrie:
    """Static segments in a dict per node, one parameter edge per node."""

    def __init__(self) -> None:
        # A node: [static children, (parameter name, child) or None, route or None].
        self.root: list[Any] = [{}, None, None]

    def add(self, pattern: str, route: Any) -> None:
        """Add ``route`` for ``pattern``, with parameters written ``{name}``."""
        node = self.root
        for segment in pattern.split("/")[1:]:
            if segment.startswith("{"):
                if node[1] is None:
                    node[1] = (segment[1:-1], [{}, None, None])
                node = node[1][1]
            else:
                node = node[0].setdefault(segment, [{}, None, None])
        node[2] = route

    def match(self, target: str) -> tuple[Any, dict[str, str]] | None:
        """The route for ``target`` and its parameters, or None."""
        path = target.partition("?")[0]
        params: dict[str, str] = {}
        node = self.root
        for segment in path.split("/")[1:]:
            child = node[0].get(segment)
            if child is None:
                param = node[1]
                if param is None or not segment:
                    return None
                params[param[0]] = segment
                child = param[1]
            node = child
        route = node[2]
        return None if route is None else (route, params)
