"""Fixtures of the robustness suite: the behaviour suite's, every adapter in both modes."""

from __future__ import annotations

from tests.adapters.conftest import adapter, plain

__all__ = ["adapter", "plain"]
