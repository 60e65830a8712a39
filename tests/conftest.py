"""Run ``async def`` tests, each in its own event loop; sum up skips for system packages.

No pytest plugin for asyncio is installed, so the hook below runs coroutine tests
with :func:`asyncio.run`, bounded by a timeout so that a hung server fails the
test instead of hanging the run.

Tests that need a program of the system (``redis-server``, Chromium) skip with a
reason ending in ``apt-get install <packages>``; the run ends with one line that
counts them by package and says how to install them all.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections import Counter
from collections.abc import Generator
from typing import Any

import pytest

#: Upper bound for one test, servers and clients included.
TEST_TIMEOUT = 10.0


async def _bounded(coroutine: Any) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        await coroutine


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a coroutine test function to completion in a fresh event loop."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(_bounded(function(**kwargs)))
    return True


#: The end of a skip reason that names the system packages to install.
APT_GET = re.compile(r"apt-get install ([a-z0-9][a-z0-9.+-]*(?: [a-z0-9][a-z0-9.+-]*)*)")


def missing_packages(reports: list[pytest.TestReport]) -> Counter[str]:
    """How many skipped tests each missing system package accounts for."""
    counts: Counter[str] = Counter()
    for report in reports:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        found = APT_GET.search(reason)
        if found is not None:
            counts[found.group(1)] += 1
    return counts


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None]:
    """After pytest's own summary, one line on tests skipped for missing system packages."""
    yield
    counts = missing_packages(terminalreporter.stats.get("skipped", []))
    if not counts:
        return
    packages = sorted({package for group in counts for package in group.split()})
    parts = [f"{count} need {group}" for group, count in sorted(counts.items())]
    terminalreporter.write_line(
        f"Skipped {sum(counts.values())} tests for missing system packages "
        f"({', '.join(parts)}); to run them: sudo apt-get install {' '.join(packages)} "
        f"(what .ci/run does)",
        yellow=True,
        bold=True,
    )
