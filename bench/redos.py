"""Worst-case decision time of the inline regexes that check_regex accepts.

Run it as ``python -m bench.redos``. For every accepted pattern in :data:`ACCEPTED`,
it times ``Router.match`` on adversarial segments of 64 characters and of the
pattern's ``max_length`` (the longest segment the regex ever runs on), and prints
the worst time with a PASS/FAIL column against the contract: any 64-character
segment decided in under 50 ms (scaled by length for longer segments).

The same tables drive ``tests/robustness/test_redos.py``, which asserts the
decisions, never the timings.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets_routes import Router
from websockets_routes._patterns import Mixed, Param

from ._report import Table

__all__ = ["ACCEPTED", "BUDGET_MS", "REFUSED", "Case", "adversarial", "max_length", "route"]

#: The contract: a 64-character segment is decided in under this many milliseconds.
BUDGET_MS = 50.0


@dataclass(frozen=True)
class Case:
    """A nasty but accepted segment pattern, with inputs that make it work hardest.

    Attributes:
        segment: The last segment of the route ``/r/<segment>``: an inline regex
            ``{v:...}`` or a mixed segment.
        nasty: An ``n``-character segment that backtracks the most and must not match.
        near: An ``n``-character segment that must match, or None if no segment
            of that length can.
    """

    segment: str
    nasty: Callable[[int], str]
    near: Callable[[int], str | None]


def _never(n: int) -> None:
    return None


ACCEPTED = [
    Case("{v:[a-z]+[a-z]+x}", lambda n: "a" * (n - 1) + "y", lambda n: "a" * (n - 1) + "x"),
    Case(r"{v:\d+\d+}", lambda n: "1" * (n - 1) + "a", lambda n: "1" * n),
    Case("{v:[a-z]+?[a-z]+?x}", lambda n: "a" * (n - 1) + "y", lambda n: "a" * (n - 1) + "x"),
    Case("{v:.*.*.*=}", lambda n: "a" * n, lambda n: "a" * (n - 1) + "="),
    Case("{v:[a-z]*[a-z]*[a-z]*[a-z]*=}", lambda n: "a" * n, lambda n: "a" * (n - 1) + "="),
    Case(
        "{a:[a-z-]+}x{b:[a-z-]+}y{c:[a-z-]+}",
        lambda n: ("xy" * n)[: n - 1] + "_",
        lambda n: "a" * (n - 4) + "xbyc",
    ),
    Case(
        "{a}-{b}-{c}.{d:int}",
        lambda n: "-" * (n - 2) + ".x",
        lambda n: "a-b-c." + "1" * (n - 6) if n <= 25 else None,
    ),
    Case("{v:" + "a?" * 12 + "a" * 12 + "}", lambda n: "a" * n, _never),
    Case("{v:(?:[0-9a-f]{4}-){3}[0-9a-f]{4}}", lambda n: ("0000-" * n)[:n], _never),
    Case(
        "{v:(?:ab|cd)[a-z]*(?:ef|gh)}",
        lambda n: "ab" + "e" * (n - 2),
        lambda n: "ab" + "e" * (n - 4) + "ef",
    ),
]

#: Dangerous patterns refused at declaration, each with what the message must advise.
REFUSED = [
    ("{v:(a+)+}", "rewrite it as a single repetition"),
    ("{v:(?:a*)*}", "rewrite it as a single repetition"),
    ("{v:(?>a+)+}", "rewrite it as a single repetition"),
    ("{v:(?:[a-z]+-)*[a-z]+}", "rewrite it as a single repetition"),
    ("{v:(a|a)*}", "use a character class instead"),
    ("{v:(a|ab)*}", "use a character class instead"),
    (r"{v:(a)\1}", "rewrite it without"),
    (r"{v:(?P<x>a)(?P=x)}", "rewrite it without"),
    ("{v:(?=a)a}", "rewrite it without"),
    ("{v:(?<=a)b}", "rewrite it without"),
    ("{v:a(?!b)}", "rewrite it without"),
    ("{v:(a)?(?(1)b|c)}", "rewrite it without"),
    ("{v:" + "a?" * 22 + "a" * 22 + "}", "simplify it, or split the value across segments"),
    ("{v:.*.*.*.*.*=}", "simplify it, or split the value across segments"),
    (
        "{a:[a-z-]+}x{b:[a-z-]+}y{c:[a-z-]+}z{d:[a-z-]+}w{e:[a-z-]+}",
        "simplify it, or split the value across segments",
    ),
]


def route(case: Case) -> Router:
    """A router whose only route is ``/r/<segment>``, named ``r``."""
    router = Router()
    router.route(f"/r/{case.segment}", name="r")(_handler)
    return router


async def _handler(ws: Any, path: Any) -> None:
    """Never called: the benchmark only matches."""


def max_length(router: Router) -> int:
    """The longest segment the last segment's regex is ever evaluated on."""
    segment = router.routes[0].segments[-1]
    if isinstance(segment, Mixed):
        return segment.max_length
    assert isinstance(segment, Param)
    return int(segment.converter.max_length)  # type: ignore[attr-defined]


def adversarial(case: Case, n: int) -> list[str]:
    """``n``-character segments to time: the case's own, then generic repetitions."""
    inputs = [case.nasty(n)]
    near = case.near(n)
    if near is not None:
        inputs.append(near)
    inputs += [char * n for char in "a1x-="]
    inputs.append(("xy" * n)[:n])
    return inputs


def worst_ms(router: Router, inputs: list[str], repeat: int) -> float:
    """The slowest decision among ``inputs``, each the best of ``repeat`` runs, in ms."""
    worst = 0.0
    for segment in inputs:
        target = f"/r/{segment}"
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter_ns()
            router.match(target)
            best = min(best, time.perf_counter_ns() - start)
        worst = max(worst, best / 1e6)
    return worst


def run(repeat: int = 5) -> tuple[str, bool]:
    """Time every accepted case; the table as Markdown, and whether all passed."""
    table = Table(
        f"Worst decision time of accepted regexes (Router.match, best of {repeat} runs per input)",
        ["pattern", "max_length", "worst @64 chars", "worst @max_length", "budget @max", "result"],
        notes=[
            f"Budget: {BUDGET_MS:.0f} ms per 64-character segment, scaled by length "
            "at max_length. Longer segments never reach the regex.",
        ],
    )
    passed = True
    for case in ACCEPTED:
        router = route(case)
        limit = max_length(router)
        at_64 = worst_ms(router, adversarial(case, 64), repeat)
        at_max = worst_ms(router, adversarial(case, limit), repeat)
        budget_max = BUDGET_MS * max(limit, 64) / 64
        ok = at_64 < BUDGET_MS and at_max < budget_max
        passed &= ok
        table.add(
            # A "|" would end the Markdown cell.
            "`" + case.segment.replace("|", "\\|") + "`",
            limit,
            f"{at_64:.3f} ms",
            f"{at_max:.3f} ms",
            f"{budget_max:.0f} ms",
            "PASS" if ok else "FAIL",
        )
    return table.render(), passed


def main() -> int:
    """Print the table; exit 1 if any pattern is over budget."""
    parser = argparse.ArgumentParser(prog="python -m bench.redos", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per input (best is kept)")
    args = parser.parse_args()
    text, passed = run(args.repeat)
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
