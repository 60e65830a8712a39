"""A module with a bug: it imports a module that doesn't exist."""

from __future__ import annotations

import websockets_routes_tests_no_such_module  # noqa: F401
