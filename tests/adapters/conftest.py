"""Fixtures of the behaviour suite: every adapter, in both routing modes."""

from __future__ import annotations

import pytest

from .helpers import ADAPTERS, Adapter, import_trio


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    """Each websockets implementation in turn; trio only where it is installed."""
    if request.param == "trio":
        import_trio()
    return Adapter(request.param)


@pytest.fixture(params=["handshake", "plain"])
def plain(request: pytest.FixtureRequest) -> bool:
    """Routing in the handshake, then the router as a plain connection handler."""
    return bool(request.param == "plain")
