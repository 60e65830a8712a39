"""Start an example program on a free port, as a user would, and stop it by PID."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

__all__ = ["ROOT", "closed_with", "running_example"]

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_example(
    args: list[str], announcement: str, timeout: float
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    """Run ``python -u *args`` from the repository root until the block ends.

    Yields the process and the match of ``announcement`` (a regex with the port as
    its first group) on the first line it prints; warnings are errors in it.
    """
    process = subprocess.Popen(
        [sys.executable, "-u", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(announcement, first)
        assert found, f"unexpected first line: {first!r}"
        yield process, found
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=timeout)
        if process.stdout is not None:
            process.stdout.close()


def closed_with(ws: ClientConnection, timeout: float) -> int | None:
    """Wait (bounded) for the server's close frame; its code, None without one."""
    try:
        while True:  # Bounded: each recv waits `timeout` at most, and the server closes.
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
