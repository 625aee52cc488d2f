"""Durations as people write them: `30s`, `500ms`, `2m`, `1h`; a plain number is seconds."""

from __future__ import annotations

import math

__all__ = ["parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`: a number with an optional unit (ms, s, m, h), e.g. `30s`,
    `500ms`, `1.5m`. ValueError (with a message for the user) when it is not one,
    or when it is not finite, or shorter than a millisecond (no request can be
    answered in less: a shorter timeout only ever times out)."""
    value = text.strip().lower()
    scale = 1.0
    for unit in ("ms", "s", "m", "h"):  # "ms" before "m" and "s"
        if value.endswith(unit):
            value, scale = value[: -len(unit)].rstrip(), _UNITS[unit]
            break
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a duration (a number of seconds, or 500ms, 30s, 2m, 1h)")
    if number <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    if number * scale < _UNITS["ms"]:
        raise ValueError(f"{text!r} is shorter than a millisecond (1ms)")
    return number * scale
