"""Fuzzed command-line input (Hypothesis): no input ever gives a traceback.

The CLI runs in-process against a recorder (the fault proxy with no server
behind it, answering 404 to every request and logging it). A refused input
exits 2 and sends nothing; an accepted one reaches the recorder and gets the
documented exit 4; no input produces exit 1 ("unexpected ...") or a traceback.
Names that are sent stay in their place in the path.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import CliResult, _invoke
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.integration

FUZZ = settings(
    max_examples=int(os.environ.get("COUCHCTL_FUZZ_EXAMPLES", "100")),
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow],
)
DB_RULE = re.compile(r"^[a-z][a-z0-9_$()+/-]*$")
# Text that can be a command-line argument: anything but NUL.
ARG = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=60)

# JSON-ish text: real JSON values, and their near misses.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ARG,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ARG, inner, max_size=4),
    max_leaves=12,
)
JSON_TEXT = st.one_of(
    JSON_VALUES.map(json.dumps),
    JSON_VALUES.map(lambda v: json.dumps(v)[:-1]),  # cut short
    st.tuples(JSON_VALUES.map(json.dumps), ARG).map("".join),  # trailing junk
    ARG,
)
COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module")
def recorder() -> Iterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", 9).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def run(recorder: FaultProxy, name: str, *args: str, **kwargs: Any) -> tuple[CliResult, list[str]]:
    """Run the CLI against the recorder; the result and the targets it was sent."""
    COUNTS[name] = COUNTS.get(name, 0) + 1
    recorder.clear()
    recorder.add("status", status=404, count=-1)
    url = f"http://127.0.0.1:{recorder.port}"
    result = _invoke(["--retries", "0", *args], url, kwargs.get("input"), kwargs.get("env"))
    return result, [f"{r.method} {r.target}" for r in recorder.requests()]


def check(result: CliResult, sent: list[str], refused: bool | None = None) -> None:
    """Exit 2 with nothing sent, or sent and exit 4; never a traceback or exit 1."""
    assert "Traceback" not in result.stderr
    assert "error: unexpected " not in result.stderr, result.stderr
    if result.exit_code == 2:
        assert sent == [], result.stderr
        assert result.stderr.startswith("couchctl: error: "), result.stderr
        assert result.stdout == ""
    else:
        assert result.exit_code == 4, (result.exit_code, result.stderr)
        assert sent
    if refused is not None:
        assert (result.exit_code == 2) == refused, (result.exit_code, result.stderr, sent)


def strict_json(text: str | bytes) -> tuple[bool, Any]:
    """(True, value) when `text` is JSON as RFC 8259 has it: no NaN, valid Unicode."""

    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(text, parse_constant=constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError):
        return False, None
    return True, value


def is_object(text: str | bytes) -> bool:
    ok, value = strict_json(text)
    return ok and isinstance(value, dict)


def unicode_text(text: str) -> bool:
    """Whether `text` can be sent as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_json(text: str) -> bool:
    return strict_json(text)[0]


@FUZZ
@given(data=JSON_TEXT)
@example(data='{"a": NaN}')
@example(data='{"\\ud800": 1}')
@example(data="\ufeff{}")
@example(data="[]")
def test_data_argument(recorder: FaultProxy, data: str) -> None:
    result, sent = run(recorder, "--data", "doc", "put", "db", "doc-1", "--data", data)
    check(result, sent)
    if not is_object(data):
        assert result.exit_code == 2


@FUZZ
@given(key=JSON_TEXT)
def test_key_argument(recorder: FaultProxy, key: str) -> None:
    result, sent = run(recorder, "--key", "view", "query", "db", "dd", "v", "--key", key)
    check(result, sent)
    if not is_json(key):
        assert result.exit_code == 2


@FUZZ
@given(selector=JSON_TEXT)
def test_selector_argument(recorder: FaultProxy, selector: str) -> None:
    result, sent = run(recorder, "selector", "find", "query", "--", "db", selector)
    check(result, sent)
    if not is_object(selector):
        assert result.exit_code == 2


@FUZZ
@given(
    content=st.one_of(
        JSON_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=200)
    ),
    via=st.sampled_from(["@file", "-", "FILE"]),
)
def test_json_from_file_or_stdin(recorder: FaultProxy, content: bytes, via: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.json"
        path.write_bytes(content)
        if via == "FILE":
            args = ["doc", "put", "db", "doc-1", str(path)]
        else:
            args = [
                "doc",
                "put",
                "db",
                "doc-1",
                "--data",
                "@" + str(path) if via == "@file" else "-",
            ]
        result, sent = run(recorder, "@file/-", *args, input=content if via == "-" else None)
    check(result, sent)
    try:
        valid = is_object(content.decode("utf-8"))
    except UnicodeDecodeError:
        valid = False
    if not valid:
        assert result.exit_code == 2


NAME_CHARS = st.sampled_from(
    [*list("abz09_$()+-/%?#. "), "é", "日", "\u200b", "A", "_design/", ".."]
)
NAMES = st.one_of(ARG, st.lists(NAME_CHARS, min_size=1, max_size=12).map("".join))


@FUZZ
@given(name=NAMES)
@example(name="..")
@example(name="_users")
@example(name="a/b")
@example(name="\udc80abc")
def test_database_names(recorder: FaultProxy, name: str) -> None:
    # db create checks CouchDB's rule before sending; a read sends any name, in one segment.
    result, sent = run(recorder, "db names", "db", "create", "--", name)
    valid = bool(DB_RULE.fullmatch(name)) or name in ("_users", "_replicator", "_global_changes")
    check(result, sent, refused=not valid)
    result, sent = run(recorder, "db names", "db", "info", "--", name)
    check(result, sent, refused=name == "" or not unicode_text(name))
    for line in sent:
        path = line.split(" ", 1)[1]
        assert unquote(path) == "/" + name
        assert "/" not in path[1:]  # one path segment
        assert path not in ("/.", "/..")


@FUZZ
@given(doc_id=NAMES)
@example(doc_id="..")
@example(doc_id="_design/x/y")
@example(doc_id="a+b?c#d%e")
def test_document_ids(recorder: FaultProxy, doc_id: str) -> None:
    result, sent = run(recorder, "doc ids", "doc", "get", "--", "db", doc_id)
    check(result, sent)
    if sent:
        path = sent[0].split(" ", 1)[1].split("?")[0]
        assert unquote(path) == f"/db/{doc_id}"
        prefixed = doc_id.startswith(("_design/", "_local/"))
        assert path.count("/") == 2 + prefixed  # the id never leaves its segment


def jsonl_line(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["doc", "doc", "doc", "broken", "value", "blank", "nul", "huge"]))
    if kind == "doc":
        return json.dumps(
            draw(
                st.dictionaries(
                    ARG.filter(lambda k: not k.startswith("_")), JSON_VALUES, max_size=3
                )
            )
        )
    if kind == "broken":
        return json.dumps(draw(st.dictionaries(ARG, JSON_VALUES, max_size=3)))[:-1]
    if kind == "value":
        return json.dumps(draw(JSON_VALUES))
    if kind == "nul":
        return '{"a": 1}\x00'
    if kind == "huge":
        return json.dumps({"big": "x" * draw(st.integers(100_000, 400_000))})
    return ""


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            st.builds(lambda: None).flatmap(lambda _: st.composite(jsonl_line)()),
            min_size=1,
            max_size=8,
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    data = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))] + b"\xff"  # not UTF-8
    return data


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 100))
@given(content=jsonl_files(), stdin=st.booleans())
def test_bulk_load_input(recorder: FaultProxy, content: bytes, stdin: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        path.write_bytes(content)
        source = "-" if stdin else str(path)
        result, sent = run(
            recorder, "jsonl", "bulk", "load", "db", source, input=content if stdin else None
        )
        leftovers = sorted(p.name for p in Path(tmp).iterdir())
    assert "Traceback" not in result.stderr
    assert "error: unexpected " not in result.stderr, result.stderr
    assert result.exit_code in (2, 4), (result.exit_code, result.stderr)
    if result.exit_code == 2 and not stdin:
        assert sent == [], result.stderr  # a file is checked whole before anything is sent
    if result.exit_code == 2 and "line" in result.stderr:
        assert re.search(r"line \d+", result.stderr), result.stderr
    assert leftovers == ["docs.jsonl"] or stdin


SAMPLED_TEXT = ("30s", "http://", "ftp://x")
PROFILE_KEYS = st.sampled_from(
    ["url", "user", "password", "token", "timeout", "cacert", "insecure", "retries", "other"]
)
TOML_VALUES = st.one_of(
    st.integers(-5, 100).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        ["true", "false", "[]", "{}", "inf", "nan", '"30s"', '""', '"http://"', '"ftp://x"']
    ),
    ARG.map(json.dumps),
)


@st.composite
def profiles(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0:
        return draw(ARG)
    tables = []
    for name in draw(
        st.lists(st.sampled_from(["default", "prod", "x y"]), min_size=1, max_size=2, unique=True)
    ):
        keys = draw(st.dictionaries(PROFILE_KEYS, TOML_VALUES, max_size=4))
        body = "".join(f"{key} = {value}\n" for key, value in keys.items())
        tables.append(f'["{name}"]\n{body}')
    return "\n".join(tables)


def secrets_in(text: str) -> list[str]:
    """The passwords and tokens of a profile file (long enough not to appear by chance)."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    # What may be shown: every value that is not a secret (a URL or a user named in
    # a message may hold the same characters as another profile's password).
    shown = " ".join(
        str(value)
        for table in data.values()
        if isinstance(table, dict)
        for key, value in table.items()
        if key not in ("password", "token")
    )
    return [
        value
        for table in data.values()
        if isinstance(table, dict)
        for key, value in table.items()
        if key in ("password", "token")
        and isinstance(value, str)
        and len(value.strip()) >= 6
        and value not in SAMPLED_TEXT  # "http://" is in messages anyway
        and value not in shown
    ]


@FUZZ
@example(text='["prod"]\nuser = 0\npassword = 0\n', profile="prod")
@example(text="[default]\nurl = 5\n", profile=None)
@example(text='["default"]\ntimeout = nan\n', profile=None)  # TOML's nan: exit 2
@example(text='["default"]\nurl = "30s"\npassword = "http://"\n', profile=None)
@example(text='["default"]\nurl = "000000"\n\n["prod"]\npassword = "000000"\n', profile=None)
@given(text=profiles(), profile=st.sampled_from([None, "prod", "missing"]))
def test_profile_files(recorder: FaultProxy, text: str, profile: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_bytes(text.encode("utf-8", "surrogatepass"))
        args = ["--profile", profile] if profile else []
        # --url wins over the profile's: every request goes to the recorder, never elsewhere.
        url = f"http://127.0.0.1:{recorder.port}"
        result, sent = run(
            recorder, "profiles", "--url", url, *args, "db", "info", "db",
            env={"COUCHCTL_CONFIG": str(config)},
        )  # fmt: skip
    assert "Traceback" not in result.stderr
    assert "error: unexpected " not in result.stderr, result.stderr
    for secret in secrets_in(text):
        assert secret not in result.stderr + result.stdout
    if result.exit_code == 2:
        assert sent == [], result.stderr
    elif result.exit_code == 3 and short_timeout(text):
        # A profile's timeout of a few milliseconds may run out on a busy machine:
        # then the request timed out, said once (exit 3), and nothing else happened.
        assert "timed out" in result.stderr, result.stderr
    else:
        assert result.exit_code == 4, (result.exit_code, result.stderr)
        assert sent  # it was the recorder that answered


def short_timeout(text: str) -> bool:
    """Whether a profile of `text` sets a timeout under a second."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return any(
        isinstance(table, dict)
        and isinstance(table.get("timeout"), int | float)
        and not isinstance(table.get("timeout"), bool)
        and table["timeout"] < 1
        for table in data.values()
    )


def test_zz_examples_were_run() -> None:
    """Runs last in this module: every fuzzed command saw its examples (figures in README)."""
    if not COUNTS:
        pytest.skip("run with the fuzz tests of this module")
    assert all(n >= 10 for n in COUNTS.values()), COUNTS
    print("fuzz examples:", json.dumps(COUNTS, sort_keys=True))
