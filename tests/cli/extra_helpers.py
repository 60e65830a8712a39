"""Helpers for the CLI tests of --broadcast and asyncapi: any app, a missing package."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .helpers import ROOT, TIMEOUT, Served, _is_ours, _read_line, _worker_pids, command, environment


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


@contextlib.contextmanager
def serving_app(tmp_path: Path, reference: str, *args: str) -> Iterator[Served]:
    """Start ``serve reference --port 0 *args``; yield it once it announces.

    Like :func:`helpers.serving`, for any app: the command and the workers it
    reported are killed by PID on the way out.
    """
    log_path = tmp_path / "stderr.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command("serve", reference, "--port", "0", *args),
            cwd=ROOT,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        line = _read_line(process, time.monotonic() + TIMEOUT)
        found = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        assert found, f"unexpected announcement: {line!r}"
        yield Served(process, line, int(found.group(1)), log_path)
    finally:
        workers = _worker_pids(log_path.read_text())
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        for pid in workers:
            if _is_ours(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        assert process.stdout is not None
        process.stdout.close()
