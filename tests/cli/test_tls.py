"""TLS through the CLI against a real TLS endpoint (a local HTTPS server with a
self-signed certificate made by the openssl command): an untrusted certificate
is exit 3 with a hint naming --cacert, --cacert makes it trusted, --insecure
warns; a missing --cacert file is named; --cacert with --insecure is exit 2."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from couchctl.cli._run import describe_error
from couchctl.client import ConnectionFailed
from tests.conftest import CliRun

WELCOME = {"couchdb": "Welcome", "version": "3.4.3", "vendor": {"name": "tls-test"}}


class _Welcome(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(WELCOME).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client refusing our certificate is what some tests do


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: (URL, cert file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {made.stderr.decode()[-200:]}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _QuietServer(("127.0.0.1", 0), _Welcome)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_untrusted_certificate_hints_at_cacert(
    cli_offline: CliRun, tls_server: tuple[str, Path]
) -> None:
    url, _ = tls_server
    result = cli_offline("--url", url, "server", "info")
    assert result.exit_code == 3
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith("couchctl: error: cannot reach the server")
    assert "certificate" in first.lower()
    assert hint.startswith("hint: ") and "--cacert" in hint


def test_cacert_trusts_the_certificate(cli_offline: CliRun, tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    result = cli_offline("--url", url, "--cacert", str(cert), "server", "info", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == WELCOME
    assert result.stderr == ""


def test_insecure_works_and_warns(cli_offline: CliRun, tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    result = cli_offline("--url", url, "--insecure", "server", "info", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == WELCOME
    assert result.stderr.startswith("couchctl: warning: TLS certificate verification is off")


def test_missing_cacert_file_is_named(cli_offline: CliRun, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    result = cli_offline("--url", "https://127.0.0.1:1", "--cacert", str(missing), "server", "info")
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[0]
        == f"couchctl: error: CA certificate file not found: {missing}"
    )


def test_cacert_with_insecure_is_a_usage_error(cli_offline: CliRun, tmp_path: Path) -> None:
    cert = tmp_path / "ca.pem"
    cert.write_text("", encoding="utf-8")
    result = cli_offline("--cacert", str(cert), "--insecure", "server", "info")
    assert result.exit_code == 2
    assert "--cacert and --insecure" in result.stderr


def test_certificate_failure_hint_from_the_exception_chain() -> None:
    # What httpx raises for a failed verification, as the client wraps it.
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    try:
        try:
            raise httpx.ConnectError("handshake failed") from cause
        except httpx.ConnectError as exc:
            raise ConnectionFailed("GET https://h/: TLS failed (handshake failed)") from exc
    except ConnectionFailed as failure:
        code, _, hint = describe_error(failure, "https://h")
    assert int(code) == 3
    assert hint is not None and "--cacert" in hint
    _, _, other = describe_error(ConnectionFailed("GET http://h/: connection refused"), "http://h")
    assert other is not None and "--cacert" not in other
