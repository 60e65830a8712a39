"""The route table every benchmark uses, written for each router under test.

Route ``i`` is one of three shapes, a third of the routes each:

* ``i % 3 == 0``: two parameters, ``/q{i}/{a}/items/{b}``;
* ``i % 3 == 1``: static, ``/s{i}/info``;
* ``i % 3 == 2``: one parameter, ``/p{i}/{a}``.

With 10, 100, 1,000 or 10,000 routes the last route has two parameters: the worst
case of a router that scans its routes in order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

__all__ = ["HANDSHAKE_PATH", "lookups", "noop", "patterns"]

#: The path every handshake asks for: route 50 of 100, which has one parameter.
HANDSHAKE_PATH = "/p50/abc123"


def patterns(count: int, style: str) -> list[tuple[str, str]]:
    """``(name, pattern)`` for ``count`` routes, parameters written in ``style``.

    ``style`` is ``"braces"`` (``{a}``: websockets-routes, Routes, Starlette) or
    ``"angle"`` (``<a>``: werkzeug).
    """

    def param(name: str) -> str:
        return f"{{{name}}}" if style == "braces" else f"<{name}>"

    routes = []
    for i in range(count):
        if i % 3 == 0:
            pattern = f"/q{i}/{param('a')}/items/{param('b')}"
        elif i % 3 == 1:
            pattern = f"/s{i}/info"
        else:
            pattern = f"/p{i}/{param('a')}"
        routes.append((f"r{i}", pattern))
    return routes


def _hit(i: int, rng: random.Random) -> str:
    if i % 3 == 0:
        return f"/q{i}/u{rng.randrange(10**6)}/items/{rng.randrange(10**4)}"
    if i % 3 == 1:
        return f"/s{i}/info"
    return f"/p{i}/u{rng.randrange(10**6)}"


def _miss(i: int, rng: random.Random) -> str:
    if rng.random() < 0.5:
        # Unknown from the first segment.
        return f"/x{rng.randrange(10**6)}/info"
    # Known prefix, wrong tail: a router must walk in before it gives up.
    i -= i % 3
    return f"/q{i}/u{rng.randrange(10**6)}/other/{rng.randrange(10**4)}"


def lookups(count: int, kind: str, size: int = 60, seed: int = 1) -> list[str]:
    """``size`` request paths for a table of ``count`` routes.

    ``kind`` is ``"hit"`` (random routes, random parameter values), ``"last"``
    (the last route), ``"miss"``, or ``"mix"``: a third of each, interleaved.
    ``"cold"`` is ``size`` hits spread over every route, each path different: where
    ``"mix"`` repeats a few paths that stay in the processor's caches, these go
    all over the route table, as real traffic does.
    """
    rng = random.Random(seed)
    if kind == "cold":
        return [
            _hit(n * count // size + rng.randrange(max(1, count // size)), rng) for n in range(size)
        ]
    make: dict[str, Callable[[], str]] = {
        "hit": lambda: _hit(rng.randrange(count), rng),
        "last": lambda: _hit(count - 1, rng),
        "miss": lambda: _miss(rng.randrange(count), rng),
    }
    kinds = ["hit", "last", "miss"] if kind == "mix" else [kind]
    return [make[kinds[n % len(kinds)]]() for n in range(size)]


def noop(*args: Any, **kwargs: Any) -> None:
    """A stand-in endpoint for routers that need one."""
