"""The C allocator of a server process: blocks of `LARGE` bytes or more (index files, request and answer
bodies, upstream transfers) are mapped on their own and given back to the system as soon as they are freed,
and the serving threads share `ARENAS` arenas. glibc otherwise raises that threshold to the largest block
freed so far and gives each thread an arena of its own that keeps what it freed, so a burst of large
transfers would stay in the resident memory of every serving thread (Python's lock makes more arenas buy
little)."""

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
LARGE = 1024 * 1024
ARENAS = 2


def give_back_large_blocks() -> bool:
    """Have blocks of `LARGE` bytes or more mapped apart and at most `ARENAS` arenas (glibc's `mallopt`,
    before the serving threads start); False where it cannot be."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE)) and bool(mallopt(M_ARENA_MAX, ARENAS))
