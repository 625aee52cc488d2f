"""att download --resume's engine on the wire: a cut download keeps FILE.part, and the
next run asks for the rest with a Range request and checks the whole file's MD5."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import CouchClient, IntegrityError
from couchctl.workflows.download import download_resumable
from tests.unit._wire import BASE

pytestmark = pytest.mark.anyio

DATA = os.urandom(50_000)
ETAG = '"' + base64.b64encode(hashlib.md5(DATA).digest()).decode() + '"'
URL = f"{BASE}/db/doc/a.bin"


def read(path: str) -> bytes | None:
    """The file's bytes, None when it does not exist."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def headers(length: int, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
        "ETag": ETAG,
        **extra,
    }


async def test_a_cut_download_keeps_its_part_and_resumes(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    target = str(tmp_path / "a.bin")
    # the body ends after 20,000 of its 50,000 bytes
    httpx_mock.add_response(url=URL, headers=headers(len(DATA)), content=DATA[:20_000])
    with pytest.raises(IntegrityError):
        await download_resumable(couch, "db", "doc", "a.bin", None, target)
    assert read(target + ".part") == DATA[:20_000]
    assert read(target) is None

    httpx_mock.add_response(
        url=URL,
        status_code=206,
        headers=headers(30_000, **{"Content-Range": f"bytes 20000-49999/{len(DATA)}"}),
        content=DATA[20_000:],
    )
    said: list[str] = []
    result = await download_resumable(couch, "db", "doc", "a.bin", None, target, say=said.append)
    assert read(target) == DATA
    assert read(target + ".part") is None
    assert result["resumed_from"] == 20_000
    assert result["length"] == len(DATA)
    assert said == []
    second = httpx_mock.get_requests()[-1]
    assert second.headers["Range"] == "bytes=20000-"


async def test_a_whole_answer_starts_over_and_says_so(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    target = str(tmp_path / "a.bin")
    (tmp_path / "a.bin.part").write_bytes(DATA[:1000])
    httpx_mock.add_response(url=URL, headers=headers(len(DATA)), content=DATA)
    said: list[str] = []
    result = await download_resumable(couch, "db", "doc", "a.bin", None, target, say=said.append)
    assert read(target) == DATA
    assert result["resumed_from"] == 0
    assert any("ignored the range" in line for line in said)


async def test_a_bad_whole_download_removes_its_part(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    target = str(tmp_path / "a.bin")
    wrong = bytes(len(DATA))
    httpx_mock.add_response(url=URL, headers=headers(len(DATA)), content=wrong)
    with pytest.raises(IntegrityError, match="digest"):
        await download_resumable(couch, "db", "doc", "a.bin", None, target)
    assert read(target + ".part") is None
    assert read(target) is None
