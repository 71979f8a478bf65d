"""The server process's heap: glibc's malloc kept from growing over a long run.

glibc serves a block larger than its mmap threshold (128 KiB) from a mapping of
its own, and raises the threshold each time such a block is freed, up to
32 MiB. After the first large block freed (a big query result, a long AMI
list), the 256 KiB buffers asyncio reads every socket into come from the heap
and are shrunk in place to the bytes read: the heap fills with small chunks
that live on between large holes it cannot give back, and the resident size
grew by about 5 MB a minute at 50 calls a second (``bench soak``), the memory
Python itself held staying flat. A fixed threshold keeps those buffers out of
the heap. An operator's own ``MALLOC_MMAP_THRESHOLD_`` is left as it is.
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept


def steady_heap(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold; False where there is nothing to do (not glibc, or the
    operator set ``MALLOC_MMAP_THRESHOLD_``)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        # the symbols already loaded into this process (libc's among them): no library
        # search, which on Linux would run ldconfig in a subprocess at every start
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl, macOS: another malloc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
