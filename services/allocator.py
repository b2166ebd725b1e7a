"""The C allocator of a server process: blocks of `LARGE` bytes or more (index files, request and answer
bodies, upstream transfers) are mapped on their own and given back to the system as soon as they are freed.
glibc otherwise raises that threshold to the largest block freed so far and keeps such blocks in each
thread's arena, so a burst of large transfers would stay in the resident memory of every serving thread."""

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
LARGE = 1024 * 1024


def give_back_large_blocks() -> bool:
    """Have blocks of `LARGE` bytes or more mapped apart (glibc's `mallopt`); False where it cannot be."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE))
