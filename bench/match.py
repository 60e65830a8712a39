"""Section 1: the cost of one lookup, by router and by number of routes."""

from __future__ import annotations

import gc
import statistics
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from ._baseline import LABEL, baseline_src
from ._report import Table, per_lookup, ratio
from ._routes import lookups, noop, patterns

__all__ = ["ROUTERS", "measure", "run"]

Lookup = Callable[[str], Any]


def ours(count: int) -> Lookup:
    """websockets-routes: ``Router.match``, which returns None on a miss."""
    from websockets_routes import Router

    router = Router()
    for name, pattern in patterns(count, "braces"):
        router.route(pattern, name=name)(noop)
    return router.match


def ours_find(count: int) -> Lookup:
    """websockets-routes' matcher alone: ``Router.find``, the route and its parameters."""
    from websockets_routes import Router

    router = Router()
    for name, pattern in patterns(count, "braces"):
        router.route(pattern, name=name)(noop)
    return router.find


def floor(count: int) -> Lookup:
    """The floor: a minimal segment trie (``bench/_floor.py``), with none of the features."""
    from ._floor import FloorTrie

    trie = FloorTrie()
    for name, pattern in patterns(count, "braces"):
        trie.add(pattern, name)
    return trie.match


def werkzeug(count: int) -> Lookup:
    """werkzeug, the way ``websockets.asyncio.router`` routes each request."""
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import Map, Rule

    url_map = Map([Rule(p, endpoint=n, websocket=True) for n, p in patterns(count, "angle")])
    bind, urlparse = url_map.bind, urllib.parse.urlparse

    def match(target: str) -> Any:
        # Bound per request with the Host header, as websockets' router does.
        adapter = bind(server_name="localhost:8765", url_scheme="ws")
        parsed = urlparse(target)
        try:
            return adapter.match(path_info=parsed.path, query_args=parsed.query)
        except NotFound:
            return None

    return match


def routes(count: int) -> Lookup:
    """Routes' ``Mapper.match``, which websockets-routes 0.2 used."""
    from routes import Mapper

    mapper = Mapper()
    for name, pattern in patterns(count, "braces"):
        mapper.connect(name, pattern)
    return mapper.match


def starlette(count: int) -> Lookup:
    """Starlette's router: ``route.matches(scope)`` on each route in order."""
    from starlette.routing import Match, WebSocketRoute

    table = [WebSocketRoute(p, endpoint=noop, name=n) for n, p in patterns(count, "braces")]
    full = Match.FULL

    def match(path: str) -> Any:
        # The ASGI server builds the scope; the router only reads it.
        scope = {"type": "websocket", "path": path, "root_path": ""}
        for route in table:
            found, child_scope = route.matches(scope)
            if found is full:
                return child_scope
        return None

    return match


def from_baseline(count: int) -> Lookup:
    """The same router from another checkout (``--baseline-src``)."""
    from ._baseline import load

    router = load().Router()
    for name, pattern in patterns(count, "braces"):
        router.route(pattern, name=name)(noop)
    return router.match  # type: ignore[no-any-return]


#: Routers compared, websockets-routes first: it is the baseline of the ratios.
ROUTERS: dict[str, Callable[[int], Lookup]] = {
    "websockets-routes": ours,
    "minimal trie (floor)": floor,
    "werkzeug (bind + match)": werkzeug,
    "Routes (Mapper.match)": routes,
    "Starlette (scan)": starlette,
}


def measure(
    cases: dict[str, tuple[Lookup, list[str]]],
    repeats: int,
    budget: float,
    *,
    alternate: bool = False,
) -> dict[str, list[float]]:
    """Nanoseconds per lookup of each case, for each of ``repeats`` timed runs.

    A case is a lookup function and the paths it looks up. Like :mod:`timeit`,
    garbage collection is off while timing and each run loops over the paths as
    many times as fits in ``budget`` seconds (at least once). Runs are interleaved
    (A B C A B C ...) so that a burst of load elsewhere hits every case alike;
    with ``alternate``, every other repeat runs them in reverse order.
    """
    loops = {name: _loops(lookup, targets, budget) for name, (lookup, targets) in cases.items()}
    results: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases.items())
    enabled = gc.isenabled()
    gc.disable()
    try:
        for repeat in range(repeats):
            for name, (lookup, targets) in order[::-1] if alternate and repeat % 2 else order:
                start = time.perf_counter_ns()
                for _ in range(loops[name]):
                    for target in targets:
                        lookup(target)
                elapsed = time.perf_counter_ns() - start
                results[name].append(elapsed / (loops[name] * len(targets)))
    finally:
        if enabled:
            gc.enable()
    return results


def paired(
    first: Lookup, second: Lookup, targets: list[str], rounds: int, budget: float
) -> tuple[list[float], list[float], list[float]]:
    """Nanoseconds per lookup of two lookups timed back to back, and their ratios.

    Each round times both on ``targets``, in turns (``first`` leads in even rounds,
    ``second`` in odd ones), so that the two runs of a round see the same machine:
    the ratio of a round is steadier than a ratio of medians taken seconds apart.
    """
    cases = {"first": (first, targets), "second": (second, targets)}
    times = measure(cases, rounds, budget, alternate=True)
    ratios = [a / b for a, b in zip(times["first"], times["second"], strict=True)]
    return times["first"], times["second"], ratios


def _loops(lookup: Lookup, targets: list[str], budget: float) -> int:
    """How many passes over ``targets`` take about ``budget`` seconds."""
    for _ in range(2):  # Warm up caches, and time one pass for the loop count.
        start = time.perf_counter_ns()
        for target in targets:
            lookup(target)
        one_pass = max(time.perf_counter_ns() - start, 1)
    return max(1, int(budget * 1e9 / one_pass))


def _check(name: str, lookup: Lookup) -> None:
    # Every router must find hits and miss misses, or the comparison means nothing.
    for target in lookups(10, "hit") + lookups(10, "last"):
        if lookup(target) is None:
            raise RuntimeError(f"{name} found no route for {target}")
    for target in lookups(10, "miss"):
        if lookup(target) is not None:
            raise RuntimeError(f"{name} found a route for {target}")


def run(*, quick: bool) -> None:
    """Print the match tables."""
    sizes = (10, 100) if quick else (10, 100, 1_000, 10_000)
    repeats, budget = (3, 0.002) if quick else (7, 0.1)
    mix = Table(
        "1. Match cost per lookup (mix of hits, last route and misses)",
        ["routes", "router", "per lookup: median (min-max)", "vs websockets-routes"],
        [
            f"Median (min-max) of {repeats} timed runs over 60 paths (a third hits on "
            "random routes with random values, a third the last route, a third misses), "
            "routers interleaved, garbage collection off, each run about "
            f"{budget * 1000:g} ms. Ratio: this router's median / websockets-routes' median.",
        ],
    )
    routers = dict(ROUTERS)
    if baseline_src() is not None:
        routers = {"websockets-routes": ours, LABEL: from_baseline, **routers}
    cold_size = 500 if quick else 20_000
    pair_rounds, pair_budget = (3, 0.002) if quick else (21, 0.02)
    ours_by_kind: dict[int, dict[str, list[float]]] = {}
    ours_mix: dict[int, float] = {}
    floor_rows: dict[int, dict[str, tuple[list[float], list[float], list[float]]]] = {}
    for count in sizes:
        cases = {}
        for name, factory in routers.items():
            lookup = factory(count)
            _check(name, lookup)
            cases[name] = (lookup, lookups(count, "mix"))
        for kind in ("hit", "last", "miss"):
            cases[kind] = (cases["websockets-routes"][0], lookups(count, kind))
        results = measure(cases, repeats, budget)
        finder, trie = ours_find(count), cases["minimal trie (floor)"][0]
        hot, cold = lookups(count, "mix"), lookups(count, "cold", size=cold_size)
        floor_rows[count] = {
            "hot": paired(finder, trie, hot, pair_rounds, pair_budget),
            "cold": paired(finder, trie, cold, pair_rounds, pair_budget),
        }
        baseline = ours_mix[count] = statistics.median(results["websockets-routes"])
        for name in routers:
            median = statistics.median(results[name])
            mix.add(f"{count:,}", name, per_lookup(results[name]), ratio(median / baseline, 1))
        ours_by_kind[count] = {kind: results[kind] for kind in ("hit", "last", "miss")}
        del cases, results
        gc.collect()
    mix.print()

    detail = Table(
        "1b. websockets-routes: hits, last route and misses",
        [
            "routes",
            "hit (random route)",
            "last route",
            "miss",
            "miss / hit",
            f"vs {sizes[0]:,} routes",
        ],
        [
            f"Medians (min-max) of {repeats} runs over 60 paths of each kind. "
            f"'vs {sizes[0]:,} routes': the median of the mix (table 1) at this size "
            f"/ the same at {sizes[0]:,} routes.",
        ],
    )
    for count in sizes:
        kinds = ours_by_kind[count]
        hit, miss = statistics.median(kinds["hit"]), statistics.median(kinds["miss"])
        detail.add(
            f"{count:,}",
            per_lookup(kinds["hit"]),
            per_lookup(kinds["last"]),
            per_lookup(kinds["miss"]),
            ratio(miss / hit),
            ratio(ours_mix[count] / ours_mix[sizes[0]]),
        )
    detail.print()

    versus = Table(
        "1c. websockets-routes against the floor: hot and cold lookups",
        ["routes", "hot: ours", "floor", "ours / floor", "cold: ours", "floor", "ours / floor"],
        [
            "Ours: Router.find, the matcher (Router.match is it plus the RoutedPath). The "
            "floor is a minimal segment trie (bench/_floor.py): static segments and "
            "{name} parameters, no converters, no decoding, no checks. Hot: the mix of "
            f"table 1, 60 paths looked up again and again. Cold: {cold_size:,} different "
            f"paths spread over every route, each with fresh values. {pair_rounds} rounds, "
            f"each timing ours and the floor back to back for about {pair_budget * 1000:g} ms "
            "each, in turns; medians (min-max) over rounds. Ratio: median over rounds of "
            "ours / floor in the same round. Target: at most 1.3x everywhere.",
        ],
    )
    for count in sizes:
        row: list[str] = [f"{count:,}"]
        for kind in ("hot", "cold"):
            ours_ns, floor_ns, ratios = floor_rows[count][kind]
            row += [per_lookup(ours_ns), per_lookup(floor_ns), ratio(statistics.median(ratios))]
        versus.add(*row)
    versus.print()
