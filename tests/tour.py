"""A short real session with couchctl, run by the README's first command.

Uses the server named by COUCH_URL, or starts the stand-in (pouchdb-server) for
the length of the tour. Every step is printed as the command a person would type.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def couchctl() -> list[str]:
    exe = shutil.which("couchctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "couchctl"]


def step(*args: str, env: dict[str, str], check: bool = True) -> None:
    print(f"\n$ couchctl {shlex.join(args)}", flush=True)
    result = subprocess.run([*couchctl(), *args], env=env, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"tour step failed with exit code {result.returncode}")


def tour(env: dict[str, str]) -> None:
    step("server", "info", env=env)


def main() -> int:
    env = dict(os.environ)
    standin = None
    if not env.get("COUCH_URL"):
        from tests.standin import start

        print("COUCH_URL is not set: starting the stand-in server (pouchdb-server) ...", flush=True)
        standin = start()
        env["COUCH_URL"] = standin.admin_url
    try:
        tour(env)
    finally:
        if standin is not None:
            standin.stop()
    print("\nTour complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
