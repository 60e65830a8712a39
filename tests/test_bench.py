"""The benchmark suite in bench/ keeps running; its timings are never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The baselines come from the bench dependency group (make test installs it with dev).
for baseline in ("werkzeug", "routes", "starlette"):
    pytest.importorskip(baseline, reason=f"{baseline} is in the bench dependency group")
pytest.importorskip(
    "websockets.asyncio.router", reason="the handshake baseline needs websockets >= 15.0"
)

HEADERS = {
    "match": ["### 1. Match cost per lookup", "### 1b. websockets-routes: hits"],
    "handshake": ["### 2. Handshakes", "### 2b. Instructions per handshake"],
    "echo": ["### 3. Echo"],
    "memory": ["### 4. Memory"],
    "messages": ["### Typed messages"],
    "broadcast": ["### Broadcast fan-out:", "### Broadcast fan-out, server side"],
    "scaleout": ["### Scale-out through Redis"],
    "redos": ["### Worst decision time of accepted regexes"],
}


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bench --quick` with extra arguments from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_quick_run_prints_every_table() -> None:
    """`python -m bench --quick` completes and prints the machine and every section's table."""
    result = run_bench()
    assert result.returncode == 0, result.stderr
    assert "- CPU: " in result.stdout
    assert "- Python " in result.stdout
    for headers in HEADERS.values():
        for header in headers:
            assert header in result.stdout


@pytest.mark.parametrize("section", ["match", "memory"])
def test_section_flag_runs_only_that_section(section: str) -> None:
    """`--section` prints the chosen section's table and no other."""
    result = run_bench("--section", section)
    assert result.returncode == 0, result.stderr
    for name, headers in HEADERS.items():
        for header in headers:
            assert (header in result.stdout) == (name == section)


def test_unknown_section_is_refused() -> None:
    """An unknown `--section` fails with a usage error before running anything."""
    result = run_bench("--section", "nope")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_baseline_src_adds_rows_for_another_checkout() -> None:
    """`--baseline-src DIR` measures the package in DIR beside this one, in the same run."""
    result = run_bench("--section", "match", "--section", "handshake", "--baseline-src", "src")
    assert result.returncode == 0, result.stderr
    assert "| websockets-routes (baseline) " in result.stdout
    assert "| websockets-routes (baseline) router.serve " in result.stdout


def test_baseline_src_must_hold_the_package(tmp_path: Path) -> None:
    """A --baseline-src without websockets_routes/ in it stops before measuring anything."""
    result = run_bench("--section", "match", "--baseline-src", str(tmp_path))
    assert result.returncode != 0
    assert "--baseline-src" in result.stderr
    assert "###" not in result.stdout
