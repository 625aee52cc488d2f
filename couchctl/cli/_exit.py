"""Exit codes (DESIGN.md section 5)."""

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    UNREACHABLE = 3
    NOT_FOUND = 4
    CONFLICT = 5
    AUTH = 6
    CLIENT = 7
    SERVER = 8
    INTERRUPTED = 130
