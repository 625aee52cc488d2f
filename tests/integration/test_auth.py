"""Authentication through the CLI and the client: URL userinfo, COUCHDB_USER /
COUCHDB_PASSWORD, --user, --token, cookie sessions; credentials never shown.

CouchDB 3.4 locks a user out after 5 failed logins from one address, so the
wrong-password tests use a throw-away user name, except one that is run only
on the stand-in, which has no lockout.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from couchctl.client import CouchClient, Unauthorized
from tests.conftest import CliRun, Server


def parts(server: Server) -> tuple[str, str, str]:
    """The server URL without credentials, the admin user and password."""
    split = urlsplit(server.url)
    assert split.username and split.password, "the test server URL carries admin credentials"
    bare = urlunsplit(split._replace(netloc=split.netloc.rsplit("@", 1)[1]))
    return bare, split.username, split.password


def with_userinfo(bare: str, user: str, password: str) -> str:
    split = urlsplit(bare)
    return urlunsplit(split._replace(netloc=f"{user}:{password}@{split.netloc}"))


def session_name(cli: CliRun, url: str, *args: str, env: dict[str, str] | None = None) -> object:
    result = cli(*args, "server", "session", "--json", url=url, env=env)
    assert result.exit_code == 0, result.stderr
    return result.json()["userCtx"]["name"]


def test_url_userinfo(cli: CliRun, server: Server) -> None:
    assert session_name(cli, server.url) == parts(server)[1]


def test_environment_user_and_password(cli: CliRun, server: Server) -> None:
    bare, user, password = parts(server)
    env = {"COUCHDB_USER": user, "COUCHDB_PASSWORD": password}
    assert session_name(cli, bare, env=env) == user


def test_user_flag_with_password_from_the_environment(cli: CliRun, server: Server) -> None:
    bare, user, password = parts(server)
    assert session_name(cli, bare, "--user", user, env={"COUCHDB_PASSWORD": password}) == user


def test_anonymous(cli: CliRun, server: Server) -> None:
    assert session_name(cli, parts(server)[0]) is None


def test_url_flag_credentials_beat_the_environment(cli: CliRun, server: Server) -> None:
    user = parts(server)[1]
    env = {"COUCHDB_USER": f"nobody-{uuid.uuid4().hex[:8]}", "COUCHDB_PASSWORD": "x"}
    result = cli("--url", server.url, "server", "session", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.json()["userCtx"]["name"] == user


def test_wrong_password_exits_6(cli: CliRun, server: Server) -> None:
    bare = parts(server)[0]
    nobody = f"couchctl-nobody-{uuid.uuid4().hex[:8]}"
    result = cli("server", "dbs", url=with_userinfo(bare, nobody, "wrong-pw"))
    assert result.exit_code == 6
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith("couchctl: error: GET /_all_dbs: ")
    assert "401" in first
    assert rest and rest[0].startswith("hint: ")
    assert "wrong-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_admin_password_on_the_standin(cli: CliRun, server: Server) -> None:
    if server.couchdb:
        pytest.skip("a real CouchDB would count this failed login toward the admin's lockout")
    bare, user, _ = parts(server)
    for args in (("server", "dbs"), ("server", "session")):
        result = cli(*args, url=with_userinfo(bare, user, "wrong-pw"))
        assert result.exit_code == 6, result.stderr
        assert "Name or password is incorrect." in result.stderr
        assert "wrong-pw" not in result.stderr


@pytest.mark.couchdb_only
def test_anonymous_all_dbs_is_refused(cli: CliRun, server: Server) -> None:
    # CouchDB 3 has admin_only_all_dbs = true; the stand-in lists databases to anyone.
    result = cli("server", "dbs", url=parts(server)[0])
    assert result.exit_code == 6
    assert "You are not a server admin." in result.stderr


def test_token_is_sent_and_never_shown(cli: CliRun, server: Server) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.e30.c2VjcmV0LXNpZ25hdHVyZQ"
    result = cli("--verbose", "--token", token, "server", "info", "--json", url=parts(server)[0])
    # Without a JWT handler configured the server ignores the token (anonymous);
    # with one, this token's bad signature would be refused.
    assert result.exit_code in (0, 6), result.stderr
    assert "authorization: [redacted]" in result.stderr.lower()
    assert token not in result.stdout + result.stderr


def test_token_from_the_environment(cli: CliRun, server: Server) -> None:
    result = cli("-v", "server", "info", url=parts(server)[0], env={"COUCHDB_TOKEN": "tok-env-123"})
    assert "authorization: [redacted]" in result.stderr.lower()
    assert "tok-env-123" not in result.stdout + result.stderr


def test_verbose_trace_redacts_credentials(cli: CliRun, server: Server, db: str) -> None:
    bare, user, password = parts(server)
    result = cli("--verbose", "db", "info", db, "--json", url=server.url)
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db
    trace = result.stderr
    assert f"> GET {bare}/{db}" in trace
    assert "< 200" in trace
    assert "authorization: [redacted]" in trace.lower()
    assert password not in trace + result.stdout
    assert f"{user}:" not in trace


def test_verbose_trace_of_a_failure_hides_the_password(cli: CliRun, server: Server) -> None:
    bare = parts(server)[0]
    result = cli(
        "-v",
        "server",
        "dbs",
        url=with_userinfo(bare, f"nobody-{uuid.uuid4().hex[:6]}", "pw-XYZ-123"),
    )
    assert result.exit_code == 6
    assert "pw-XYZ-123" not in result.stderr
    assert "< 401" in result.stderr


@pytest.mark.anyio
async def test_cookie_session(server: Server) -> None:
    bare, user, password = parts(server)
    trace: list[str] = []
    async with CouchClient(
        bare, user=user, password=password, session=True, trace=trace.append
    ) as couch:
        info = await couch.session_info()
        assert info["userCtx"]["name"] == user
        assert info["info"]["authenticated"] == "cookie"
        await couch.all_dbs()
    text = "\n".join(trace)
    assert "> POST " in text and "/_session" in text
    assert "cookie: [redacted]" in text
    assert password not in text


@pytest.mark.anyio
async def test_cookie_session_with_a_wrong_password(server: Server) -> None:
    bare = parts(server)[0]
    nobody = f"couchctl-nobody-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Unauthorized):
        async with CouchClient(bare, user=nobody, password="wrong-pw", session=True):
            pass  # pragma: no cover
