"""Run ``async def`` tests, each in its own event loop.

No pytest plugin for asyncio is installed, so the hook below runs coroutine tests
with :func:`asyncio.run`, bounded by a timeout so that a hung server fails the
test instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import inspect
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
