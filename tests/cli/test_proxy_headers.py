"""``serve --proxy-headers``: the client's address from trusted proxies only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from websockets.sync.client import connect

from websockets_routes.cli import BadOption, TrustedProxies

from .helpers import TIMEOUT, Served, serving

APP = "tests.cli.lifespan_app:router"


def seen_by_hook_and_handler(served: Served, forwarded: list[str]) -> tuple[str, str]:
    """Connect to /client with these X-Forwarded-For headers; the hosts the app saw."""
    headers = [("X-Forwarded-For", value) for value in forwarded]
    with connect(served.url("/client"), additional_headers=headers, open_timeout=TIMEOUT) as ws:
        return str(ws.recv(timeout=TIMEOUT)), str(ws.recv(timeout=TIMEOUT))


def test_a_trusted_proxy_gives_the_client_address(tmp_path: Path) -> None:
    """Behind the default trusted proxy (127.0.0.1), hooks, handlers and the log see the client."""
    with serving(tmp_path, "--proxy-headers", app=APP) as served:
        assert seen_by_hook_and_handler(served, ["203.0.113.7"]) == ("203.0.113.7",) * 2
        # Two proxies: the address the outer one appended is trusted, the client's isn't.
        chain = ["198.51.100.9, 127.0.0.1"]
        assert seen_by_hook_and_handler(served, chain) == ("198.51.100.9",) * 2
        # Headers repeated by several proxies read as one list.
        assert seen_by_hook_and_handler(served, ["192.0.2.1", "127.0.0.1"]) == ("192.0.2.1",) * 2
        # Nothing usable: the peer's own address.
        assert seen_by_hook_and_handler(served, ["unknown"]) == ("127.0.0.1",) * 2
        assert seen_by_hook_and_handler(served, []) == ("127.0.0.1",) * 2
        assert served.stop() == 0, served.log()
    access = re.findall(r"websockets_routes\.access: (\S+) client /client 101", served.log())
    assert access[:3] == ["203.0.113.7:0", "198.51.100.9:0", "192.0.2.1:0"]
    # The peer's own address keeps its port.
    assert len(access) == 5
    assert all(re.fullmatch(r"127\.0\.0\.1:[1-9]\d*", client) for client in access[3:])


def test_headers_from_untrusted_peers_are_ignored(tmp_path: Path) -> None:
    """A peer that isn't a trusted proxy can't spoof its address with X-Forwarded-For."""
    args = ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8, 192.168.1.1"]
    with serving(tmp_path, *args, app=APP) as served:
        assert seen_by_hook_and_handler(served, ["203.0.113.7"]) == ("127.0.0.1",) * 2
        assert served.stop() == 0, served.log()
    assert "203.0.113.7" not in served.log()


def test_without_proxy_headers_the_header_is_ignored(tmp_path: Path) -> None:
    """Without --proxy-headers, X-Forwarded-For changes nothing, even from 127.0.0.1."""
    with serving(tmp_path, app=APP) as served:
        assert seen_by_hook_and_handler(served, ["203.0.113.7"]) == ("127.0.0.1",) * 2
        assert served.stop() == 0, served.log()


def test_trusting_every_peer(tmp_path: Path) -> None:
    """--forwarded-allow-ips '*' trusts any peer; the workers read the headers too."""
    args = ["--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "*"]
    with serving(tmp_path, *args, app=APP) as served:
        for _ in range(4):
            assert seen_by_hook_and_handler(served, ["2001:db8::7"]) == ("2001:db8::7",) * 2
        assert served.stop() == 0, served.log()
    assert "websockets_routes.access: [2001:db8::7]:0 client /client 101" in served.log()


@pytest.mark.parametrize(
    ("spec", "peer", "forwarded", "client"),
    [
        ("127.0.0.1", "127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        ("127.0.0.1", "10.0.0.1", ["203.0.113.7"], None),
        ("10.0.0.0/8", "10.1.2.3", ["203.0.113.7, 10.9.9.9"], "203.0.113.7"),
        ("10.0.0.0/8", "10.1.2.3", ["10.4.4.4, 10.9.9.9"], "10.4.4.4"),
        ("10.0.0.0/8", "10.1.2.3", ["spoofed, 203.0.113.7"], "203.0.113.7"),
        ("10.0.0.0/8", "10.1.2.3", ["203.0.113.7, garbage"], None),
        ("127.0.0.1", "::ffff:127.0.0.1", ["203.0.113.7:4711"], "203.0.113.7"),
        ("::1", "::1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("*", "192.0.2.200", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", "127.0.0.1", [], None),
    ],
)
def test_trusted_proxies(spec: str, peer: str, forwarded: list[str], client: str | None) -> None:
    """The client is the last address that isn't a trusted proxy's, from trusted peers only."""
    assert TrustedProxies(spec).client(peer, forwarded) == client


def test_trusted_proxies_refuse_what_is_not_an_address() -> None:
    """An entry that is neither an address, a network nor * is a BadOption naming it."""
    with pytest.raises(BadOption, match="'proxy' is not an IP address or a network"):
        TrustedProxies("10.0.0.1, proxy")
