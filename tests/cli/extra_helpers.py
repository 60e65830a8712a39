"""Helpers for the CLI tests of --broadcast and asyncapi: a package gone missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .helpers import ROOT, TIMEOUT, command, environment


def run_without(module: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with ``args`` where importing ``module`` fails as if it weren't installed."""
    package = tmp_path / "hidden" / module
    package.mkdir(parents=True)
    message = f"No module named {module!r}"
    (package / "__init__.py").write_text(
        f"raise ModuleNotFoundError({message!r}, name={module!r})\n"
    )
    return subprocess.run(
        command(*args),
        cwd=ROOT,
        env={**environment(), "PYTHONPATH": str(tmp_path / "hidden")},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
