"""User regexes cannot stall the server: refused when dangerous, decided when accepted.

The cases live in ``bench/redos.py``, which times them; here only the decisions
are asserted, never the timings.
"""

from __future__ import annotations

import re

import pytest
from bench.redos import ACCEPTED, REFUSED, Case, adversarial, max_length, route

from websockets_routes import RouteError


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.segment for case in ACCEPTED])
def test_accepted_regex_decides_adversarial_segments(case: Case) -> None:
    """Adversarial 64-character and max-length segments are decided as expected."""
    router = route(case)
    limit = max_length(router)
    assert 64 <= limit <= 255
    for n in (64, limit):
        assert router.match(f"/r/{case.nasty(n)}") is None
        near = case.near(n)
        if near is not None:
            path = router.match(f"/r/{near}")
            assert path is not None
            assert path.route.name == "r"
        # Every generic adversarial input is decided, one way or the other.
        for segment in adversarial(case, n):
            router.match(f"/r/{segment}")


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.segment for case in ACCEPTED])
def test_accepted_regex_refuses_longer_segments(case: Case) -> None:
    """A segment longer than max_length never reaches the regex: it does not match."""
    router = route(case)
    limit = max_length(router)
    for segment in adversarial(case, limit + 1):
        assert router.match(f"/r/{segment}") is None


@pytest.mark.parametrize(("segment", "advice"), REFUSED, ids=[s for s, _ in REFUSED])
def test_dangerous_regex_is_refused(segment: str, advice: str) -> None:
    """A dangerous regex is refused when declared, with a message that says how to fix it."""
    with pytest.raises(RouteError, match=re.escape(advice)) as caught:
        route(Case(segment, lambda n: "", lambda n: None))
    # The message names the route, so the fix is easy to find.
    assert repr(f"/r/{segment}") in str(caught.value)
