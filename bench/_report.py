"""Statistics, tables and the description of the machine a run happens on."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from importlib import metadata

__all__ = ["Table", "load", "machine", "per_lookup", "ratio", "spread"]


def spread(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    """``median (min-max) unit`` for the values of repeated measurements."""
    median = statistics.median(values)
    text = f"{median:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"
    return f"{text} {unit}" if unit else text


def ratio(value: float, digits: int = 2) -> str:
    """A ratio against a baseline, like ``1.02x``."""
    return f"{value:,.{digits}f}x"


def per_lookup(values_ns: Sequence[float]) -> str:
    """Nanoseconds per lookup, shown in ns or µs depending on the size."""
    median = statistics.median(values_ns)
    if median < 1_000:
        return spread(values_ns, "ns", 0)
    return spread([v / 1_000 for v in values_ns], "µs", 1 if median < 100_000 else 0)


class Table:
    """A Markdown table printed with aligned columns, so it pastes into the docs."""

    def __init__(self, title: str, columns: Sequence[str], notes: Sequence[str] = ()) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[str]] = []
        self.notes = list(notes)

    def add(self, *cells: object) -> None:
        """Append a row; cells are shown with ``str()``."""
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        """The title, the table and its notes as Markdown text."""
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        lines = [f"### {self.title}", "", line(self.columns)]
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        lines.extend(line(row) for row in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines)

    def print(self) -> None:
        """Print the table followed by a blank line."""
        print(self.render(), end="\n\n", flush=True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """One Markdown list describing the CPU, the OS and the versions in use."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("websockets-routes", "websockets", "werkzeug", "routes", "starlette")
    )
    return "\n".join(
        [
            f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores ({usable} usable)",
            f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
            f"- Python {platform.python_version()} ({platform.python_implementation()}, "
            f"{sys.executable})",
            f"- {versions}",
            f"- {load()}",
        ]
    )


def load() -> str:
    """The load average now: other processes on these cores skew the timings."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"
