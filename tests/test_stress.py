"""The stress tool runs, as `make stress` runs it, at CI's size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_stress_at_ci_size() -> None:
    """1,000 concurrent routed connections each get their own parameters, then 1001."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "stress.py"),
            "--connections",
            "1000",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: all 1000 connections got their own parameters, then 1001" in result.stdout
    assert "handshakes/s" in result.stdout
    assert "RSS/conn KiB" in result.stdout
