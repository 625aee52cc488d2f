"""Large blocks given back to the system when freed (glibc's malloc).

glibc serves an allocation of 128 KiB or more with its own mmap, unmapped when
freed; but each time such a block is freed it raises that threshold to the block's
size (up to 32 MiB), so that later blocks of that size come from the heap, whose
freed memory mostly stays with the process. A load of 7 MB documents then peaked
at 74 MB of RSS where its live memory peaks at 37 MB (bench/README.md, "Bulk load
of large documents").

So the threshold is fixed, at 1 MiB: a large document, and each 1 MiB read of the
input, is then held in blocks of its own, given back as soon as they are freed.
Below that, blocks come from the heap as before: a 128 KiB threshold made each
256 KiB body piece a fresh mmap as well (0.35 s more system time for 120 MiB of
200 KB documents, where 1 MiB costs 0.13 s, and 0.08 s for 200,000 small ones);
at 4 MiB, the 1 MiB pieces of a long line read from stdin stayed in the heap (66 MB
against 61 MB for 7 MB documents). Fixing it also stops glibc's raising of the trim
threshold, which is then set to 32 MiB (its own ceiling), else the heap would be
shrunk and grown again at every turn.

Process-wide, so only the engines whose memory is bounded by the size of what they
move call it (bulk load and bulk dump), not the client. Elsewhere than glibc, it does
nothing.
"""

from __future__ import annotations

__all__ = ["give_back_large_blocks"]

# mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 20
_TRIM_THRESHOLD = 32 << 20


def give_back_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 1 MiB (and its trim threshold at 32 MiB); whether
    it was (False: not glibc)."""
    import os

    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # no such confstr name, no libc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    trimmed = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and trimmed)
