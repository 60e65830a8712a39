"""Section 2b: instructions per handshake, routed vs bare, and the Python calls it adds.

Wall clock can't resolve a difference of a percent or two on a shared machine;
instruction counts can. A server (:mod:`bench._cg_server`) runs under
``valgrind --tool=callgrind`` for two numbers of handshakes; the difference of
their totals over the difference of the counts is what one handshake costs, with
start-up and shut-down cancelled out. A second run, without valgrind, counts the
Python function calls made per connection. Skipped, with a note, without valgrind.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ._report import Table
from ._routes import HANDSHAKE_PATH
from ._workers import KINDS, _handshakes, uvloop_kinds

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent


def _serve(kind: str, count: int, *, valgrind: bool, calls: bool = False) -> tuple[int, str]:
    """Run the server for ``count`` handshakes; its callgrind total (or 0), and its output."""
    command = [sys.executable, "-m", "bench._cg_server", kind, str(count)]
    if calls:
        command.append("--calls")
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        if valgrind:
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            if count:
                ok, failed, _ = asyncio.run(_handshakes(port, HANDSHAKE_PATH, count, 4, 600.0))
                if failed or ok != count:
                    raise RuntimeError(f"{kind}: {ok} handshakes, {failed} failed")
            output, errors = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        total = 0
        if valgrind:
            found = re.search(r"Collected : (\d+)", errors)
            if found is None:
                raise RuntimeError(f"no instruction count from callgrind:\n{errors[-2000:]}")
            total = int(found.group(1))
    return total, output


def run(*, quick: bool) -> None:
    """Print the instructions table, or a note when valgrind isn't installed."""
    title = "2b. Instructions per handshake (callgrind), 100 routes"
    if shutil.which("valgrind") is None:
        print(f"### {title}\n\nSkipped: valgrind is not installed (apt-get install valgrind).\n")
        return
    # --quick skips valgrind, which alone takes longer than every other section.
    low, high = (5, 25) if quick else (100, 600)
    per: dict[str, float] = {}
    calls: dict[str, float] = {}
    kinds = ["bare", "routed", *uvloop_kinds("bare", "routed")]
    for kind in kinds:
        if not quick:
            small, _ = _serve(kind, low, valgrind=True)
            large, _ = _serve(kind, high, valgrind=True)
            per[kind] = (large - small) / (high - low)
        _, output = _serve(kind, high, valgrind=False, calls=True)
        calls[kind] = float(output.split()[-1])
    table = Table(
        title,
        ["server", "instructions per handshake", "vs bare", "Python calls per connection"],
        [
            f"Callgrind totals of a server run for {high} and for {low} handshakes (path "
            f"{HANDSHAKE_PATH}, a hookless route), difference / {high - low}: start-up and "
            "shut-down cancel out. Python calls: sys.setprofile 'call' events while serving, "
            "per connection. Rows on uvloop compare with bare on uvloop. Target: routed "
            "within +1.5% of bare.",
        ],
    )
    for kind in kinds:
        bare = "bare-uvloop" if kind.endswith("-uvloop") else "bare"
        table.add(
            KINDS[kind],
            f"{per[kind]:,.0f}" if per else "not measured (--quick)",
            f"{per[kind] / per[bare] - 1:+.2%}" if per and kind != bare else "",
            f"{calls[kind]:.0f}" + (f" ({calls[kind] - calls[bare]:+.0f})" if kind != bare else ""),
        )
    table.print()
