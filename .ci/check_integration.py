"""Fail unless the integration tests ran against a server: some passed, none skipped
for want of a server, none failed."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

MIN_PASSED = 20


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    passed = skipped_no_server = failed = 0
    for case in root.iter("testcase"):
        skip = case.find("skipped")
        # Any test skipped for want of a server (tests/integration or elsewhere) fails CI.
        if skip is not None and "no server" in (skip.get("message") or ""):
            skipped_no_server += 1
            continue
        if not case.get("classname", "").startswith("tests.integration"):
            continue
        if skip is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            continue
        passed += 1
    print(
        f"integration tests: {passed} passed, {failed} failed, {skipped_no_server} skipped without a server"
    )
    if skipped_no_server or failed or passed < MIN_PASSED:
        print("error: the integration tests did not run against a server", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
