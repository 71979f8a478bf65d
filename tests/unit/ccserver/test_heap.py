"""glibc's mmap threshold stays fixed in the server process (ccserver/heap.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# how many blocks glibc holds in mappings of their own, around a 256 KiB read buffer
# allocated after a 4 MiB block was freed (which raises a dynamic threshold past it)
PROBE = """
import ctypes, sys
from ccserver.heap import steady_heap

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "steady":
    assert steady_heap()
big = bytearray(4 << 20)
del big
before = libc.mallinfo2().hblks
buffer = bytearray(256 << 10)
print(libc.mallinfo2().hblks - before)
"""


def mapped_blocks(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not Path("/lib/x86_64-linux-gnu/libc.so.6").exists()
                    and not Path("/lib/aarch64-linux-gnu/libc.so.6").exists(),
                    reason="glibc only")  # fmt: skip
def test_a_read_buffer_keeps_its_own_mapping_after_a_large_block_was_freed() -> None:
    assert mapped_blocks("default") == 0  # glibc's dynamic threshold: from the heap
    assert mapped_blocks("steady") == 1  # fixed: a mapping of its own, given back whole


def test_an_operators_own_threshold_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from ccserver.heap import steady_heap

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert steady_heap() is False
