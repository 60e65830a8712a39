"""Section 4: server memory per idle connection, routed and bare."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from ._network import ROUTES, servers
from ._report import Table, spread
from ._routes import HANDSHAKE_PATH
from ._workers import KINDS

__all__ = ["run"]


#: What the rows measure: a server kind, and whether clients offer compression.
ROWS = {
    "bare": ("bare", False),
    "routed": ("routed", False),
    "deflate": ("routed", True),
}
LABELS = {**KINDS, "deflate": KINDS["routed"] + ", clients offer compression"}


def idle_connections(
    row: str, connections: int, concurrency: int, seconds: float, traced: bool
) -> float:
    """KiB per idle connection in a fresh server: of RSS, or of Python allocations.

    A fresh server each time, since memory a previous run freed would be reused.
    With ``traced``, :mod:`tracemalloc` counts the bytes Python allocated instead.
    """
    kind, deflate = ROWS[row]
    with servers([kind], "idle") as (client, ports):
        server, port = ports[kind]
        # Warm up, so that lazy imports and first-use caches come before.
        ok, failed, _ = client.call("handshake", port, HANDSHAKE_PATH, 50, 5, seconds)
        if failed or not ok:
            raise RuntimeError(f"{kind}: warm-up failed ({ok} handshakes, {failed} failed)")
        server.call("snapshot", 0, 2.0)
        if traced:
            server.call("trace")
        measure = "traced" if traced else "rss"
        before = server.call(measure)
        client.conn.send(("hold", port, HANDSHAKE_PATH, connections, concurrency, seconds, deflate))
        _, held, failed = client.recv(seconds + 30)
        try:
            _, _, active = server.call("snapshot", held, 10.0)
            after = server.call(measure)
        finally:
            client.conn.send(("release",))
            client.recv(60)
    if failed or held != connections or active != connections:
        raise RuntimeError(f"{kind}: {held} connections held, {failed} failed, {active} active")
    return (after - before) / connections / (1024 if traced else 1)


def run(*, quick: bool, connections: Sequence[int] = (2_000, 10_000)) -> None:
    """Print the memory table for each number of ``connections``."""
    for count in [50] if quick else connections:
        table(count, quick=quick)


def table(connections: int, *, quick: bool) -> None:
    """Measure and print the memory table at ``connections`` idle connections."""
    rounds, concurrency, seconds = (1, 10, 10.0) if quick else (5, 32, 120.0)
    rows = list(ROWS)
    rss: dict[str, list[float]] = {row: [] for row in rows}
    for round in range(rounds):
        for row in rows[round % len(rows) :] + rows[: round % len(rows)]:
            rss[row].append(idle_connections(row, connections, concurrency, seconds, False))
    traced = {row: idle_connections(row, connections, concurrency, seconds, True) for row in rows}
    table = Table(
        f"4. Memory: server RSS per idle connection ({connections:,} connections)",
        [
            "server",
            "RSS per connection",
            "extra vs bare",
            "Python allocations per connection",
            "extra vs bare",
        ],
        [
            f"RSS: {rounds} interleaved rounds, a fresh server process each ({ROUTES} routes "
            "when routed); (VmRSS with the connections open - VmRSS before) / connections, "
            "after gc.collect(); medians (min-max). Python allocations: one more round each "
            "under tracemalloc (bytes Python allocated and still holds / connections). The "
            "client keeps the connections open in another process and offers no compression "
            "extension, except on the last row, where it offers permessage-deflate as "
            "browsers do and websockets accepts it: each connection then holds zlib "
            "state. Target: routed at most +0.5 KiB over bare.",
        ],
    )
    bare = statistics.median(rss["bare"])
    for row in rows:
        extra = row != "bare"
        table.add(
            LABELS[row],
            spread(rss[row], "KiB", 2),
            f"{statistics.median(rss[row]) - bare:+.2f} KiB" if extra else "",
            f"{traced[row]:.2f} KiB",
            f"{traced[row] - traced['bare']:+.2f} KiB" if extra else "",
        )
    table.print()
