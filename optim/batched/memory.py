"""Keep freed tensor memory in the process instead of handing it back to the OS after every step.

Why: a step at R = 1024, d = 100 allocates and frees about ten 800 KB tensors. glibc's malloc
serves such sizes by mmap (or trims them off the heap top) and returns them on free, so every
step page-faults its tensors in afresh; on this project's virtual machines that made a SAM step
on ridge 3.5x slower (3.7 ms against 1.04 ms, 150-230 minor faults a step). Raising glibc's mmap
and trim thresholds (mallopt) keeps the pages: the process's resident memory stays at its peak.
Set SAMCHECK_KEEP_MALLOC=0 to leave the allocator alone; other C libraries are left alone too.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 256 << 20  # allocations below 256 MiB come from the heap (glibc's ceiling is 32 MiB by default)
TRIM_THRESHOLD = 1 << 30  # free heap top kept up to 1 GiB


@functools.cache
def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they are in force."""
    if os.environ.get("SAMCHECK_KEEP_MALLOC", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        return bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and ok
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
        return False
