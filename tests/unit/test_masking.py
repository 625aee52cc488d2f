"""Every URL that reaches a message has everything before its last @ masked,
whatever its scheme and whatever the password holds."""

from __future__ import annotations

import io

import pytest

from couchctl.client import HTTPError, error_for_status
from couchctl.config import ConfigError, load_settings, mask_text, mask_url
from couchctl.render import Output


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:p@h:5984/x", "http://u:***@h:5984/x"),
        ("admin:S3cret@host:5984", "admin:***@host:5984"),
        ("ftp://admin:S3cret@host", "ftp://admin:***@host"),
        ("http://admin:p@ss@host", "http://admin:***@host"),
        ("http://admin:pa/ss@host/db", "http://admin:***@host/db"),
        ("http://admin:pa#ss@host", "http://admin:***@host"),
        ("http://a@b:c@host", "http://***@host"),
        ("http://u@h", "http://u@h"),
        ("http://h:5984", "http://h:5984"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_text_masks_every_url_in_a_message() -> None:
    text = "copying from https://a:S3cret@one:6984/db to couchdb://b:Other@two/x: failed"
    masked = mask_text(text)
    assert "S3cret" not in masked and "Other" not in masked
    assert masked == "copying from https://a:***@one:6984/db to couchdb://b:***@two/x: failed"


@pytest.mark.parametrize(
    ("raw", "message", "hint"),
    [
        ("admin:S3cret@host:5984", "must start with http", "http://HOST:PORT"),
        ("http://admin:S3cr/et@host:5984", "port is not a number", "percent-encode"),
        ("http://admin:S3cr#et@host:5984", "port is not a number", "percent-encode"),
        ("http://admin:1234#S3cret@host:5984", "an @ after its host", "percent-encode"),
        ("http://admin:1234/S3cret@host:5984", "an @ after its host", "percent-encode"),
    ],
)
def test_bad_urls_are_masked_with_a_hint(raw: str, message: str, hint: str) -> None:
    for kwargs, environ in (({"url": raw}, {}), ({}, {"COUCH_URL": raw})):
        with pytest.raises(ConfigError) as info:
            load_settings(environ=environ, **kwargs)  # type: ignore[arg-type]
        assert message in str(info.value)
        assert "S3cr" not in str(info.value)
        assert info.value.hint is not None and hint in info.value.hint


def test_client_errors_never_show_a_password() -> None:
    error = error_for_status(404, {"error": "not_found"}, method="GET", url="http://u:S3cret@h/db")
    assert isinstance(error, HTTPError)
    assert "S3cret" not in str(error)


def test_render_masks_urls_in_every_message() -> None:
    err = io.StringIO()
    output = Output(stdout=io.StringIO(), stderr=err)  # type: ignore[arg-type]
    output.error("GET http://u:S3cret@h/: boom", "try https://v:S3cret@h")
    output.warn("at http://u:S3cret@h")
    output.info("at http://u:S3cret@h")
    output.trace("> GET http://u:S3cret@h/db\n  accept: */*")
    assert "S3cret" not in err.getvalue()
    assert err.getvalue().count("u:***@h") == 4
