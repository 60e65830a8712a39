"""``serve --ssl-certfile/--ssl-keyfile``: wss:// with a certificate made by the test."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect

from .helpers import APP, TIMEOUT, run, serving

x509 = pytest.importorskip(
    "cryptography.x509", reason="the TLS tests make certificates with cryptography"
)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


@dataclass
class Certificate:
    """PEM files of a self-signed certificate for 127.0.0.1, and a client context trusting it."""

    certfile: Path
    keyfile: Path
    #: The certificate and its key in one file.
    combined: Path
    client: ssl.SSLContext


def make_certificate(directory: Path, name: str = "server") -> Certificate:
    """A new key and a self-signed certificate for IP 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certfile, keyfile = directory / f"{name}.crt", directory / f"{name}.key"
    combined = directory / f"{name}.pem"
    certfile.write_bytes(cert_pem)
    keyfile.write_bytes(key_pem)
    combined.write_bytes(cert_pem + key_pem)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Certificate(certfile, keyfile, combined, client)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """One certificate for the module's tests."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_one_process_serves_wss(tmp_path: Path, certificate: Certificate) -> None:
    """With a certificate and a key, serve announces wss:// and a verifying client gets in."""
    args = ["--ssl-certfile", str(certificate.certfile), "--ssl-keyfile", str(certificate.keyfile)]
    with serving(tmp_path, *args) as served:
        assert "on wss://127.0.0.1:" in served.announcement
        assert "connect with: python -m websockets wss://127.0.0.1:" in served.announcement
        url = served.url("/echo")
        assert url.startswith("wss://")
        with connect(url, ssl=certificate.client, open_timeout=TIMEOUT) as ws:
            ws.send("secret")
            assert ws.recv(timeout=TIMEOUT) == "secret"
        # A client that doesn't speak TLS gets no WebSocket.
        plain = url.replace("wss://", "ws://")
        with (
            pytest.raises((InvalidHandshake, OSError, EOFError)),
            connect(plain, open_timeout=TIMEOUT),
        ):
            pass
        assert served.stop() == 0, served.log()
    assert "Traceback" not in served.log()


def test_workers_serve_wss_from_one_combined_file(tmp_path: Path, certificate: Certificate) -> None:
    """Every worker serves TLS; --ssl-certfile alone may hold the key too."""
    with serving(tmp_path, "--workers", "2", "--ssl-certfile", str(certificate.combined)) as served:
        assert "on wss://127.0.0.1:" in served.announcement
        for _ in range(4):
            with connect(served.url("/pid"), ssl=certificate.client, open_timeout=TIMEOUT) as ws:
                assert int(ws.recv(timeout=TIMEOUT)) in served.worker_pids()
        assert served.stop() == 0, served.log()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_key_of_another_certificate_is_one_line(
    tmp_path: Path, certificate: Certificate, workers: str
) -> None:
    """A key that doesn't match the certificate fails before serving: one line, exit 1."""
    other = make_certificate(tmp_path, "other")
    result = run(
        "serve",
        APP,
        "--port",
        "0",
        "--workers",
        workers,
        "--ssl-certfile",
        str(certificate.certfile),
        "--ssl-keyfile",
        str(other.keyfile),
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"websockets-routes: error: --ssl-certfile {certificate.certfile}")
    assert "not a PEM certificate with its private key" in line
    assert result.stdout == ""


def test_a_missing_file_is_one_line(tmp_path: Path, certificate: Certificate) -> None:
    """A certificate file that isn't there is named in one line, exit 1."""
    missing = tmp_path / "nope.crt"
    result = run("serve", APP, "--port", "0", "--ssl-certfile", str(missing))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line == f"websockets-routes: error: cannot read {missing}: No such file or directory"


def test_a_certificate_without_its_key_is_one_line(
    tmp_path: Path, certificate: Certificate
) -> None:
    """--ssl-certfile with a file that holds no key, and no --ssl-keyfile, is one line, exit 1."""
    result = run("serve", APP, "--port", "0", "--ssl-certfile", str(certificate.certfile))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "not a PEM certificate with its private key" in line
