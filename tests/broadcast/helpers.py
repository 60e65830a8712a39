"""Real ``redis-server`` and app-server processes for the broadcast tests, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Bound for a process to start, answer, or stop.
START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop ``proc`` by its PID: ``sig``, then SIGKILL if it lingers."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(START_TIMEOUT)


def ping(port: int) -> bool:
    """Whether a Redis server answers PING on ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` on a free port of 127.0.0.1, in a temporary directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING (bounded)."""
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server didn't start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Kill it with SIGKILL, as a crash would."""
        assert self.proc is not None
        stop(self.proc, signal.SIGKILL)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Run a ``redis-server``; skip the test if it isn't installed."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("redis")
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(directory)
        try:
            server.start()
            yield server
        finally:
            if server.proc is not None:
                stop(server.proc)


class AppServer:
    """``tests.broadcast.app`` in a subprocess: its URL and its log."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.url = f"ws://127.0.0.1:{port}"
        self.log = log

    def log_text(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text()


@contextlib.contextmanager
def app_server(redis_url: str) -> Iterator[AppServer]:
    """Run the chat app against ``redis_url`` until it says READY; stop it by PID."""
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "server.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.broadcast.app", redis_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        try:
            assert proc.stdout is not None
            line = b""
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                if selector.select(START_TIMEOUT):
                    line = proc.stdout.readline()
            if not line.startswith(b"READY "):
                raise RuntimeError(f"app server didn't start: {line!r}\n{log.read_text()}")
            yield AppServer(proc, int(line.split()[1]), log)
        finally:
            stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()


class RedisClusterNodes:
    """A Redis Cluster of ``redis-server`` processes on free ports of 127.0.0.1.

    Three masters, each with one replica, so that killing a master fails over.
    """

    def __init__(self, directory: str, masters: int = 3) -> None:
        self.directory = directory
        self.ports = [_cluster_port() for _ in range(masters * 2)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.url = f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start_node(self, port: int) -> None:
        """Start the node on ``port`` (again), in its own directory."""
        directory = Path(self.directory) / str(port)
        directory.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(directory),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(port):
            if self.procs[port].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server didn't start on port {port}")
            time.sleep(0.02)

    def create(self) -> None:
        """Start every node, make them a cluster, and wait until it serves every slot."""
        for port in self.ports:
            self.start_node(port)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )  # fmt: skip
        self.wait_ok()

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node says the cluster is ok, and every replica synced.

        A replica that never synced with its master doesn't take over when the
        master dies.
        """
        deadline = time.monotonic() + timeout
        live = [port for port, proc in self.procs.items() if proc.poll() is None]
        while not all(
            "cluster_state:ok" in self.command(port, "CLUSTER INFO")
            and (
                "role:master" in (info := self.command(port, "INFO replication"))
                or "master_link_status:up" in info
            )
            for port in live
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster isn't ok")
            time.sleep(0.1)

    def command(self, port: int, command: str) -> str:
        """What the node on ``port`` answers ``command``, or "" if it doesn't answer."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(command.encode() + b"\r\n")
                return sock.recv(65536).decode(errors="replace")
        except OSError:
            return ""

    def master_of(self, key: str) -> int:
        """The port of the master serving ``key``'s slot now."""
        import redis

        client = redis.RedisCluster(host="127.0.0.1", port=self.ports[0])
        try:
            node = client.get_node_from_key(key)
            return int(node.port)
        finally:
            client.close()

    def kill(self, port: int) -> None:
        """Kill the node on ``port`` with SIGKILL, as a crash would."""
        stop(self.procs[port], signal.SIGKILL)


def _cluster_port() -> int:
    """A free port whose cluster bus port (10,000 higher) is free too, as Redis needs."""
    import random

    for _ in range(200):
        port = random.randint(20_000, 55_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


@contextlib.contextmanager
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """Run a six-node Redis Cluster; skip the test if redis-server or redis-cli is missing."""
    for program, package in (("redis-server", "redis-server"), ("redis-cli", "redis-tools")):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (apt-get install {package})")
    pytest.importorskip("redis")
    with tempfile.TemporaryDirectory() as directory:
        cluster = RedisClusterNodes(directory)
        try:
            cluster.create()
            yield cluster
        finally:
            for proc in cluster.procs.values():
                stop(proc)
