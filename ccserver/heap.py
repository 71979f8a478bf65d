"""The server process's heap: glibc's malloc kept from growing over a long run.

glibc raises its mmap threshold each time a block larger than it is freed (from
128 KiB up to 32 MiB). After the first large block freed (a big query result, a
long AMI list), the 256 KiB buffers asyncio reads every socket into come from
the heap and are shrunk in place to the bytes read: small chunks that live on
sit between free holes, which glibc gives back only from the heap's top. The
resident size grew by about 5 MB a minute at 50 calls a second (``bench soak``),
the memory Python itself held staying flat.

Fixing the threshold kept those buffers out of the heap, but each read then paid
for a mapping of its own (mmap, mremap, munmap): the soak's hold-to-ring p99
went from 18 to 24.5 ms. ``malloc_trim(0)`` every 15 s instead hands the
holes' pages back wherever they are, in a worker thread (ctypes lets go of the
GIL), and reads stay as cheap as glibc makes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
from collections.abc import AsyncIterator, Callable

TRIM_EVERY_S = 15.0


def heap_trimmer() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None: not glibc."""
    try:
        # the symbols already loaded into this process (libc's among them): no library
        # search, which on Linux would run ldconfig in a subprocess at every start
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl, macOS: another malloc
        return None
    trim.argtypes = (ctypes.c_size_t,)
    return functools.partial(trim, 0)


@contextlib.asynccontextmanager
async def trimmed_heap(every_s: float = TRIM_EVERY_S) -> AsyncIterator[None]:
    """While inside, the heap's free pages go back to the system every ``every_s``."""
    trim = heap_trimmer()
    if trim is None:
        yield
        return
    task = asyncio.create_task(_trim_every(trim, every_s), name="heap.trim")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _trim_every(trim: Callable[[], object], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(trim)
