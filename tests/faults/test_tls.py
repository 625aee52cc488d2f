"""Real TLS: the proxy terminates TLS with a certificate of a CA made at test time.

Verification is on by default: an unknown CA is exit 3 with a hint naming
--cacert; --cacert and the profile's `cacert` key trust the test CA; --insecure
works and warns every time; a certificate for another host is refused.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from tests.conftest import CliRun, Server
from tests.faults.conftest import via
from tests.faults.proxy import FaultProxy


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_proxy(server: Server, ca: trustme.CA, *names: str) -> FaultProxy:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    parts = urlsplit(server.url)
    return FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5984, ssl_context=context)


@pytest.fixture
def tls(server: Server, ca: trustme.CA) -> Iterator[FaultProxy]:
    """A TLS endpoint for 127.0.0.1 in front of the test server."""
    proxy = tls_proxy(server, ca, "127.0.0.1").start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_unknown_ca_is_exit_3(tls: FaultProxy, server: Server, cli: CliRun) -> None:
    result = cli("db", "list", "--json", url=via(tls, server, "https"))
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("couchctl: error: cannot reach the server")
    assert "certificate" in lines[0].lower() or "tls" in lines[0].lower()
    assert "Traceback" not in result.stderr
    assert tls.log == []  # nothing was sent over the untrusted connection


def test_unknown_ca_hint_names_cacert(tls: FaultProxy, server: Server, cli: CliRun) -> None:
    result = cli("db", "list", "--json", url=via(tls, server, "https"))
    assert result.exit_code == 3
    assert any(
        line.startswith("hint:") and "--cacert" in line for line in result.stderr.splitlines()
    ), result.stderr


def test_cacert_flag_trusts_the_test_ca(
    tls: FaultProxy, server: Server, cli: CliRun, ca_file: Path, db: str
) -> None:
    result = cli(
        "--cacert", str(ca_file), "db", "info", db, "--json", url=via(tls, server, "https")
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db
    assert [r.target for r in tls.requests("GET")] == [f"/{db}"]


def test_cacert_after_the_command_works_too(
    tls: FaultProxy, server: Server, cli: CliRun, ca_file: Path, db: str
) -> None:
    result = cli(
        "db", "info", db, "--json", "--cacert", str(ca_file), url=via(tls, server, "https")
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db


def test_cacert_profile_key(
    tls: FaultProxy, server: Server, cli_offline: CliRun, ca_file: Path, db: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[default]\nurl = "{via(tls, server, "https")}"\ncacert = "{ca_file}"\n', encoding="utf-8"
    )
    result = cli_offline("db", "info", db, "--json", env={"COUCHCTL_CONFIG": str(config)})
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db
    # Without the key the same profile is refused: it was the key that made it work.
    config.write_text(f'[default]\nurl = "{via(tls, server, "https")}"\n', encoding="utf-8")
    refused = cli_offline("db", "info", db, "--json", env={"COUCHCTL_CONFIG": str(config)})
    assert refused.exit_code == 3


def test_insecure_works(tls: FaultProxy, server: Server, cli: CliRun, db: str) -> None:
    result = cli("--insecure", "db", "info", db, "--json", url=via(tls, server, "https"))
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db


def test_insecure_warns_every_time(tls: FaultProxy, server: Server, cli: CliRun, db: str) -> None:
    for _ in range(2):
        result = cli("--insecure", "db", "info", db, "--json", url=via(tls, server, "https"))
        assert result.exit_code == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "insecure" in warnings[0].lower(), result.stderr


def test_hostname_mismatch_is_refused(
    server: Server, ca: trustme.CA, cli: CliRun, ca_file: Path
) -> None:
    proxy = tls_proxy(server, ca, "couch.example.org").start()
    try:
        result = cli("--cacert", str(ca_file), "db", "list", url=via(proxy, server, "https"))
        assert proxy.log == []
    finally:
        proxy.stop()
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("couchctl: error: cannot reach the server")
    assert "127.0.0.1" in first and ("hostname" in first.lower() or "match" in first.lower())


def test_faults_over_tls_are_ridden_out(
    tls: FaultProxy, server: Server, cli: CliRun, ca_file: Path, db: str
) -> None:
    for action in ("reset_before", "truncate"):
        tls.add(action, method="GET", path=f"^/{db}$")
    tls.add("status", method="GET", path=f"^/{db}$", status=503)
    result = cli(
        "--cacert", str(ca_file), "db", "info", db, "--json", url=via(tls, server, "https")
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db
    assert [r.fault for r in tls.requests("GET", f"^/{db}$")] == [
        "reset_before",
        "truncate",
        "status",
        None,
    ]
