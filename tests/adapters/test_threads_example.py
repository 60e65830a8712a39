"""examples/threads.py serves its routes on threads and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..examples import running_example
from .helpers import TIMEOUT, client, conversation, rejection

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "threads.py"


@pytest.fixture
def example() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Start examples/threads.py on a free port; yield the process and its port."""
    with running_example([str(EXAMPLE), "0"], r"ws://127\.0\.0\.1:(\d+)", TIMEOUT) as (
        process,
        found,
    ):
        yield process, int(found.group(1))


def test_threads_example_serves_and_stops_on_sigint(
    example: tuple[subprocess.Popen[str], int],
) -> None:
    """The example answers its three routes as documented, then exits 0 on SIGINT."""
    process, port = example
    with client(port, "/echo") as ws:
        ws.send("hello")
        assert ws.recv(timeout=TIMEOUT) == "hello"
    assert conversation(port, "/things/42") == (["thing #42, next is /things/43"], 1000)
    assert conversation(port, "/secret/open") == (["the door is open"], 1000)
    assert rejection(port, "/secret/wrong")[0] == 403

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output
    assert output.splitlines()[-1] == "stopped"
