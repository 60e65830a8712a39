"""Section 3: echo messages per second through a routed handler and a bare one."""

from __future__ import annotations

from ._network import paired, servers
from ._report import Table, ratio, spread
from ._routes import HANDSHAKE_PATH
from ._workers import KINDS

__all__ = ["run"]


def run(*, quick: bool) -> None:
    """Print the echo table."""
    count, rounds, window, seconds = (500, 1, 50, 5.0) if quick else (60_000, 7, 50, 20.0)
    kinds = ["bare", "routed"]
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    with servers(kinds, "echo") as (client, ports):
        for _, port in ports.values():  # Warm up.
            client.call("echo", port, HANDSHAKE_PATH, count // 10 + window, window, seconds)
        for round in range(rounds):
            # Interleaved, and rotated each round: A B C, B C A, C A B...
            for kind in kinds[round % len(kinds) :] + kinds[: round % len(kinds)]:
                server, port = ports[kind]
                cpu_before, _, _ = server.call("snapshot", 0, 1.0)
                echoed, elapsed = client.call(
                    "echo", port, HANDSHAKE_PATH, count, window, seconds, timeout=seconds + 30
                )
                cpu_after, _, _ = server.call("snapshot", 0, 1.0)
                if echoed != count:
                    raise RuntimeError(f"{kind}: {echoed} of {count} messages echoed")
                rates[kind].append(echoed / elapsed)
                cpu[kind].append((cpu_after - cpu_before) / echoed * 1e6)

    table = Table(
        "3. Echo: one connection, 16-byte text messages",
        ["server", "messages/s", "vs bare", "server CPU per message", "vs bare"],
        [
            f"{rounds} interleaved rounds (order rotated each round) of {count:,} messages, "
            f"{window} in flight, from a "
            "raw-socket client in another process; medians (min-max). Ratios: median over "
            "rounds of this server / bare in the same round. Server CPU includes the "
            "handshake and close of the one connection.",
        ],
    )
    for kind in kinds:
        table.add(
            KINDS[kind],
            spread(rates[kind], "/s", 0),
            ratio(paired(rates, kind, "bare"), 3),
            spread(cpu[kind], "µs", 2),
            ratio(paired(cpu, kind, "bare"), 3),
        )
    table.print()
