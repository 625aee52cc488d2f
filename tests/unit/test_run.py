"""cli/_run.py: the one place where failures become exit codes (DESIGN section 5)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from couchctl.cli._context import BadInput, GlobalOptions
from couchctl.cli._exit import ExitCode
from couchctl.cli._run import Missing, describe_error, execute
from couchctl.client import (
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    CouchError,
    Forbidden,
    IntegrityError,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RequestTimeout,
    ServerError,
    Unauthorized,
    error_for_status,
)
from couchctl.config import ConfigError
from couchctl.render import Output

BASE = "http://127.0.0.1:5984"


def http(status: int, error: str = "e", reason: str = "why") -> Exception:
    return error_for_status(
        status, {"error": error, "reason": reason}, method="GET", url=BASE + "/db/doc"
    )


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (BadInput("bad --data"), ExitCode.USAGE),
        (InvalidArgument("invalid database name"), ExitCode.USAGE),
        (ConfigError("profile"), ExitCode.USAGE),
        (FileNotFoundError(2, "No such file", "x.json"), ExitCode.USAGE),
        (ConnectionFailed("GET http://h/: connection refused"), ExitCode.UNREACHABLE),
        (RequestTimeout("GET http://h/: timed out"), ExitCode.UNREACHABLE),
        (http(404), ExitCode.NOT_FOUND),
        (http(409), ExitCode.CONFLICT),
        (http(412), ExitCode.CONFLICT),
        (http(401), ExitCode.AUTH),
        (http(403), ExitCode.AUTH),
        (http(400), ExitCode.CLIENT),
        (http(405), ExitCode.CLIENT),
        (http(413), ExitCode.CLIENT),
        (http(415), ExitCode.CLIENT),
        (http(500), ExitCode.SERVER),
        (http(503), ExitCode.SERVER),
        (ProtocolError("not JSON"), ExitCode.FAILURE),
        (IntegrityError("digest"), ExitCode.FAILURE),
        (CouchError("other"), ExitCode.FAILURE),
        (RuntimeError("boom"), ExitCode.FAILURE),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
)
def test_every_error_class_has_its_exit_code(exc: BaseException, code: ExitCode) -> None:
    assert describe_error(exc, BASE)[0] == code


def test_exit_code_values_follow_the_design() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]


def test_classes_by_status() -> None:
    assert isinstance(http(400), BadRequest) and isinstance(http(405), ClientError)
    assert isinstance(http(401), Unauthorized) and isinstance(http(403), Forbidden)
    assert isinstance(http(409), Conflict) and isinstance(http(412), PreconditionFailed)
    assert isinstance(http(404), NotFound) and isinstance(http(502), ServerError)


def test_http_error_message_has_what_and_reason() -> None:
    _, message, hint = describe_error(http(404, "not_found", "missing"), BASE)
    assert message == "GET /db/doc: missing (404 not_found)"
    assert hint is None
    _, message, hint = describe_error(http(409, "conflict", "Document update conflict."), BASE)
    assert message == "GET /db/doc: Document update conflict. (409 conflict)"
    assert hint is not None and "revision" in hint
    _, _, hint = describe_error(http(401), BASE)
    assert hint is not None and "password" in hint


def test_unreachable_message() -> None:
    _, message, hint = describe_error(
        ConnectionFailed("GET http://h:1/: connection refused"), "http://h:1"
    )
    assert message == "cannot reach the server at http://h:1: connection refused"
    assert hint is not None


def test_exception_groups_are_unwrapped() -> None:
    group = ExceptionGroup("tasks", [http(404)])
    nested = BaseExceptionGroup("outer", [group])
    assert describe_error(nested)[0] == ExitCode.NOT_FOUND


def run_op(exc: BaseException, debug: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    output = Output("human", stdout=out, stderr=err)  # type: ignore[arg-type]

    async def operation(couch: Any, o: Output) -> int | None:
        o.text("partial")
        raise exc

    options = GlobalOptions(url=BASE, debug=debug)
    code = execute(options, output, operation)
    return code, out.getvalue(), err.getvalue()


def test_execute_maps_and_reports_one_line() -> None:
    code, out, err = run_op(http(412, "file_exists", "The database could not be created."))
    assert code == 5
    assert out == "partial\n"
    assert err == (
        "couchctl: error: GET /db/doc: The database could not be created. (412 file_exists)\n"
    )
    assert "Traceback" not in err


def test_execute_debug_shows_the_traceback() -> None:
    code, _, err = run_op(http(500), debug=True)
    assert code == 8
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1].startswith("couchctl: error: ")


def test_execute_success_and_returned_code() -> None:
    output = Output("human", stdout=io.StringIO(), stderr=io.StringIO())  # type: ignore[arg-type]

    async def ok(couch: Any, o: Output) -> int | None:
        return None

    async def one(couch: Any, o: Output) -> int | None:
        return 1

    options = GlobalOptions(url="http://127.0.0.1:9")
    assert execute(options, output, ok) == 0
    assert execute(options, output, one) == 1


def test_bad_settings_are_a_usage_error() -> None:
    err = io.StringIO()
    output = Output("human", stdout=io.StringIO(), stderr=err)  # type: ignore[arg-type]

    async def never(couch: Any, o: Output) -> int | None:  # pragma: no cover
        raise AssertionError

    assert execute(GlobalOptions(url="ftp://u:secret@h"), output, never) == 2
    assert "secret" not in err.getvalue()


def test_broken_pipe_is_quiet() -> None:
    code, _, err = run_op(BrokenPipeError(32, "Broken pipe"))
    assert code == 1
    assert err == ""


def test_missing_is_exit_4_without_a_server_status() -> None:
    code, message, hint = describe_error(Missing("document d in db"))
    assert (code, message, hint) == (ExitCode.NOT_FOUND, "document d in db: missing", None)
