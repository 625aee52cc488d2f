"""Ways to read one attachment body, in one process, against curl: wall and CPU seconds.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/transfer_readers.py [--size-mib 256] [--rounds 3]

Uploads SIZE random bytes as an attachment of a database of its own (deleted at
the end), then, round after round, reads it with each reader below, every one
computing the MD5 and writing a file (curl: writing only), and prints wall seconds
and the process's user and system CPU seconds for each read (start-up excluded):

  async     httpx AsyncClient, aiter_raw, MD5 in a thread beside it (couchctl before
            the threaded transfers: AttachmentDownload.iter_bytes, 1 MiB writes)
  threaded  couchctl now: attachment_get(threaded=True) + save(): sync httpx client
            in a worker thread, MD5 and writes there, 64 KiB blocks (SO_RCVLOWAT)
  sync      httpx Client.iter_raw in a worker thread, MD5 and writes there, reads as
            the kernel wakes the thread (no SO_RCVLOWAT)
  curl      curl -o, as a child process
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import httpx  # noqa: E402

from bench._flows import curl_config, server_from_env  # noqa: E402
from couchctl.client import CouchClient  # noqa: E402


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = server_from_env()
    db = f"bench-readers-{uuid.uuid4().hex[:10]}"
    user, _, password = (server.userinfo or ":").partition(":")
    auth = (user, password) if server.userinfo else None
    url = f"{server.base}/{db}/doc/blob"
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as folder:
        work = Path(folder)
        source, out = work / "blob.bin", work / "out.bin"
        with source.open("wb") as handle:
            for _ in range(args.size_mib):
                handle.write(os.urandom(1 << 20))
        curlrc = curl_config(server, work)
        server.call("PUT", f"/{db}")
        try:

            async def upload() -> None:
                async with CouchClient(server.url) as couch:
                    await couch.attachment_upload(db, "doc", "blob", None, source)

            anyio.run(upload)

            async def old_async() -> None:
                # a transport of the caller's own: no sync twin, the async path
                transport = httpx.AsyncHTTPTransport()
                async with (
                    CouchClient(server.url, transport=transport) as couch,
                    couch.attachment_get(db, "doc", "blob") as download,
                ):
                    with out.open("wb") as handle:
                        await download.save(handle.write)

            async def threaded() -> None:
                async with (
                    CouchClient(server.url) as couch,
                    couch.attachment_get(db, "doc", "blob", threaded=True) as download,
                ):
                    with out.open("wb") as handle:
                        await download.save(handle.write)

            def sync_reader() -> None:
                md5 = hashlib.md5(usedforsecurity=False)
                headers = {"Accept-Encoding": "gzip"}
                with (
                    httpx.Client(auth=auth) as client,
                    out.open("wb") as handle,
                    client.stream("GET", url, headers=headers) as answer,
                ):
                    for chunk in answer.iter_raw():
                        md5.update(chunk)
                        handle.write(chunk)

            async def sync_in_thread() -> None:
                await anyio.to_thread.run_sync(sync_reader)

            def curl() -> None:
                subprocess.run(
                    ["curl", "-sS", "-f", "-K", str(curlrc), "-o", str(out), url], check=True
                )

            readers: list[tuple[str, Callable[[], None]]] = [
                ("async", lambda: anyio.run(old_async)),
                ("threaded", lambda: anyio.run(threaded)),
                ("sync", lambda: anyio.run(sync_in_thread)),
                ("curl", curl),
            ]
            print(f"{args.size_mib} MiB; load average {os.getloadavg()[0]:.2f}")
            print("| round | reader | wall s | user s | sys s |")
            print("|---|---|---|---|---|")
            for round_ in range(1, args.rounds + 1):
                for name, read in readers:
                    children = resource.getrusage(resource.RUSAGE_CHILDREN)
                    user0, sys0 = cpu()
                    started = time.perf_counter()
                    read()
                    wall = time.perf_counter() - started
                    user1, sys1 = cpu()
                    if name == "curl":
                        after = resource.getrusage(resource.RUSAGE_CHILDREN)
                        user1, sys1 = after.ru_utime, after.ru_stime
                        user0, sys0 = children.ru_utime, children.ru_stime
                    print(
                        f"| {round_} | {name} | {wall:.2f} | {user1 - user0:.2f} "
                        f"| {sys1 - sys0:.2f} |",
                        flush=True,
                    )
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            subprocess.run(
                ["curl", "-sS", "-K", str(curlrc), "-X", "DELETE", f"{server.base}/{db}"],
                capture_output=True,
                check=False,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
