"""What the handshake, echo and memory sections share: servers and rounds."""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from ._workers import Worker, client_main, server_main

__all__ = ["ROUTES", "paired", "servers"]

#: Routes in every routed server.
ROUTES = 100


@contextmanager
def servers(
    kinds: Sequence[str], mode: str
) -> Iterator[tuple[Worker, dict[str, tuple[Worker, int]]]]:
    """Start a load client and one server per kind; stop them all on the way out.

    Yields the client and ``{kind: (server, port)}``.
    """
    with ExitStack() as stack:
        client = stack.enter_context(Worker(client_main))
        started = {
            kind: stack.enter_context(Worker(server_main, kind, mode, ROUTES)) for kind in kinds
        }
        ports = {}
        for kind, server in started.items():
            ready, port = server.recv(60)
            if ready != "ready":
                raise RuntimeError(f"server {kind} sent {ready!r}")
            ports[kind] = (server, port)
        yield client, ports


def paired(values: dict[str, list[float]], kind: str, baseline: str) -> float:
    """Median over rounds of ``kind``'s value / the baseline's value in the same round."""
    return statistics.median(a / b for a, b in zip(values[kind], values[baseline], strict=True))
