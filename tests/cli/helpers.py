"""Run the CLI in a subprocess, read what it announces, and always stop it."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.cli.app:router"
#: Upper bound for the CLI to start (workers included) or to stop.
TIMEOUT = 15.0


def command(*args: str) -> list[str]:
    """The command line that runs ``python -m websockets_routes`` with ``args``."""
    return [sys.executable, "-m", "websockets_routes", *args]


def environment() -> dict[str, str]:
    """The environment of CLI subprocesses: warnings are errors there too."""
    return {**os.environ, "PYTHONWARNINGS": "error"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a CLI command that ends by itself (``routes``, a bad reference...).

    ``env`` is added to its environment.
    """
    return subprocess.run(
        command(*args),
        cwd=ROOT,
        env={**environment(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@dataclass
class Served:
    """A running ``serve`` command: its process, announced line and port, and its log."""

    process: subprocess.Popen[bytes]
    announcement: str
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        """The ``ws://`` (``wss://`` with TLS) URL of ``path`` on the served port."""
        scheme = "wss" if "wss://" in self.announcement else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        """Everything the command wrote on stderr so far."""
        return self.log_path.read_text()

    def worker_pids(self) -> list[int]:
        """The PIDs of the workers the supervisor says it started."""
        return _worker_pids(self.log())

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and wait (bounded) for the exit code."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {TIMEOUT}s after {signum}:\n{self.log()}"
            ) from None

    def wait_for_log(self, pattern: str) -> re.Match[str]:
        """Wait (bounded) until the log has a line matching ``pattern``."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = re.search(pattern, self.log())
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in the log:\n{self.log()}")
            time.sleep(0.05)


def _read_line(process: subprocess.Popen[bytes], deadline: float) -> str:
    assert process.stdout is not None
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"no line on stdout within {TIMEOUT}s: {data!r}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"the command exited before announcing: {data!r}")
            data += chunk
    return data.decode().partition("\n")[0]


def _worker_pids(log: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"started worker (\d+)", log)]


def _is_ours(pid: int) -> bool:
    # A worker PID, as long as it still runs Python's multiprocessing (no PID reuse).
    try:
        return b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@contextlib.contextmanager
def serving(
    tmp_path: Path,
    *args: str,
    new_session: bool = False,
    app: str = APP,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Iterator[Served]:
    """Start ``serve app --port 0 *args`` (the test app by default); yield it once it announces.

    With ``new_session``, the command leads a process group of its own, as in a
    terminal, so that a test can signal the whole group like Ctrl-C does. It
    runs in ``cwd``, with ``env`` added to its environment.

    Whatever happens, the command and the workers it reported are killed by PID
    on the way out.
    """
    log_path = tmp_path / "stderr.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command("serve", app, "--port", "0", *args),
            cwd=cwd,
            env={**environment(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=new_session,
        )
    try:
        line = _read_line(process, time.monotonic() + TIMEOUT)
        found = re.search(r"wss?://127\.0\.0\.1:(\d+)", line)
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
