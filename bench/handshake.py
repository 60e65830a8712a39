"""Section 2: handshakes per second and server CPU per connection."""

from __future__ import annotations

import statistics

from ._baseline import baseline_src
from ._network import ROUTES, paired, servers
from ._report import Table, ratio, spread
from ._routes import HANDSHAKE_PATH
from ._workers import KINDS, uvloop_kinds

__all__ = ["run"]


def run(*, quick: bool) -> None:
    """Print the handshake table."""
    count, rounds, concurrency, seconds = (30, 1, 4, 5.0) if quick else (2_000, 7, 8, 20.0)
    kinds = ["bare", "routed", "werkzeug"]
    if baseline_src() is not None:
        kinds.insert(2, "baseline")
    kinds += uvloop_kinds("bare", "routed")
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    with servers(kinds, "handshake") as (client, ports):
        for server, port in ports.values():  # Warm up: imports, caches, allocator.
            ok, failed, _ = client.call(
                "handshake", port, HANDSHAKE_PATH, count // 4 + 1, concurrency, seconds
            )
            if failed or not ok:
                raise RuntimeError(f"warm-up: {ok} handshakes, {failed} failed")
            server.call("snapshot", 0, 1.0)
        for round in range(rounds):
            # Interleaved, and rotated each round: A B C, B C A, C A B...
            for kind in (
                kinds[round % len(kinds) :] + kinds[: round % len(kinds)]
            ):  # Interleaved: A B C A B C ...
                server, port = ports[kind]
                cpu_before, handled_before, _ = server.call("snapshot", 0, 1.0)
                ok, failed, elapsed = client.call(
                    "handshake",
                    port,
                    HANDSHAKE_PATH,
                    count,
                    concurrency,
                    seconds,
                    timeout=seconds + 30,
                )
                cpu_after, handled_after, _ = server.call("snapshot", 0, 1.0)
                handled = handled_after - handled_before
                if failed or not ok or handled != ok:
                    raise RuntimeError(
                        f"{kind}: {ok} handshakes, {failed} failed, {handled} handled"
                    )
                rates[kind].append(ok / elapsed)
                cpu[kind].append((cpu_after - cpu_before) / handled * 1e6)

    table = Table(
        f"2. Handshakes: {ROUTES} routes, path {HANDSHAKE_PATH}",
        [
            "server",
            "connections/s",
            "vs bare",
            "server CPU per connection",
            "vs bare",
            "extra CPU vs bare",
        ],
        [
            f"{rounds} interleaved rounds (order rotated each round) of {count:,} connections "
            f"({concurrency} at a time) "
            "from a raw-socket client in another process; medians (min-max). Ratios: "
            "median over rounds of this server / bare in the same round. Server CPU: "
            "time.process_time() of the server process (user + system) / connections. "
            "Rows on uvloop compare with bare on uvloop"
            + ("." if "bare-uvloop" in kinds else " (not installed: pip install uvloop)."),
        ],
    )
    for kind in kinds:
        bare = "bare-uvloop" if kind.endswith("-uvloop") else "bare"
        table.add(
            KINDS[kind],
            spread(rates[kind], "/s", 0),
            ratio(paired(rates, kind, bare), 3),
            spread(cpu[kind], "µs"),
            ratio(paired(cpu, kind, bare), 3),
            f"{statistics.median(cpu[kind]) - statistics.median(cpu[bare]):+.1f} µs",
        )
    table.print()
