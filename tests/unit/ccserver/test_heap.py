"""glibc's free heap pages go back to the system while the server runs (ccserver/heap.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# The server's pattern: read buffers of 256 KiB from the heap (a large block freed first
# raised glibc's threshold), shrunk to the bytes read; most freed soon, a few living on
# between the holes. Prints the resident MB before and after a while with(out) trimming.
PROBE = """
import asyncio, ctypes, random, sys
from ccserver.heap import trimmed_heap

libc = ctypes.CDLL(None)
libc.malloc.restype = libc.realloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.realloc.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
libc.free.argtypes = (ctypes.c_void_p,)

def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6

big = libc.malloc(8 << 20)
ctypes.memset(big, 1, 8 << 20)
libc.free(big)
rng = random.Random(1)
recent, lasting = [], []
for _ in range(60_000):
    buffer = libc.malloc(256 << 10)
    ctypes.memset(buffer, 1, 16 << 10)
    recent.append(libc.realloc(buffer, rng.randint(600, 8000)))
    if len(recent) > 50:
        chunk = recent.pop(rng.randrange(len(recent)))
        (lasting.append if rng.random() < 0.02 else libc.free)(chunk)
    if len(lasting) > 3000:
        libc.free(lasting.pop(rng.randrange(len(lasting))))

async def main():
    before = resident_mb()
    if sys.argv[1] == "trimmed":
        async with trimmed_heap(every_s=0.05):
            await asyncio.sleep(0.5)
    else:
        await asyncio.sleep(0.5)
    print(round(before), round(resident_mb()))
    assert len(asyncio.all_tasks()) == 1  # the trimming stopped with its block

asyncio.run(main())
"""


def resident_mb(mode: str) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True
    )
    before, after = out.stdout.split()
    return int(before), int(after)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="Linux only")
def test_the_free_holes_of_a_fragmented_heap_are_given_back() -> None:
    from ccserver.heap import heap_trimmer

    if heap_trimmer() is None:
        pytest.skip("glibc only")
    before, after = resident_mb("left")
    assert before > 100 and after > 100  # the holes stay resident by themselves
    before, after = resident_mb("trimmed")
    assert before > 100 and after < before - 70
