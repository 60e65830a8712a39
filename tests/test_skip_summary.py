"""The run's last words: tests skipped for missing system packages, and what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SKIPPING = """\
import pytest

def test_redis_one():
    pytest.skip("redis-server is not installed (apt-get install redis-server)")

def test_redis_two():
    pytest.skip("redis-server is not installed (apt-get install redis-server)")

def test_browser():
    pytest.skip("/usr/bin/chromium and /usr/bin/chromedriver missing: "
                "apt-get install chromium chromium-driver")

def test_optional():
    pytest.skip("trio is not installed (pip install 'websockets-routes[trio]')")

def test_runs():
    pass
"""


def run_pytest(tmp_path: Path, source: str) -> list[str]:
    """Run pytest on ``source`` with this suite's conftest hooks; the lines it printed."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_terminal_summary\n")
    (tmp_path / "test_sample.py").write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_one_line_counts_the_skips_by_package_and_says_what_to_install(tmp_path: Path) -> None:
    """The line before pytest's own last line names each package, its tests, and apt-get."""
    lines = run_pytest(tmp_path, SKIPPING)
    assert lines[-2] == (
        "Skipped 3 tests for missing system packages (1 need chromium chromium-driver, "
        "2 need redis-server); to run them: sudo apt-get install chromium chromium-driver "
        "redis-server (what .ci/run does)"
    )
    assert "1 passed, 4 skipped" in lines[-1]


def test_no_line_without_such_skips(tmp_path: Path) -> None:
    """Skips for Python packages, or none at all, add no line."""
    lines = run_pytest(tmp_path, "def test_runs():\n    pass\n")
    assert not any("missing system packages" in line for line in lines)
