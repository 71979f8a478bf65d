"""The write-ahead spool: segments, checkpoint, torn lines, the lock, order."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ccserver.store.spool import Position, Spool, SpoolError


def lines(*values: Any) -> bytes:
    return "".join(json.dumps(v) + "\n" for v in values).encode()


def read_all(spool: Spool, start: Position | None = None, limit: int = 1000) -> list[Any]:
    items, end = spool.read(start or spool.checkpoint, limit)
    assert end == spool.end
    return items


@pytest.fixture
def spool(tmp_path: Path) -> Any:
    s = Spool(tmp_path / "spool")
    s.open()
    yield s
    s.close()


def test_lines_come_back_in_order_from_any_position(spool: Spool) -> None:
    start, first_end = spool.append(lines(1, 2))
    _, second_end = spool.append(lines(3))
    assert start.offset == 0 and first_end < second_end == spool.end
    assert read_all(spool) == [1, 2, 3]
    assert read_all(spool, first_end) == [3]
    # a limit stops mid-way; the position returned is where to go on from
    items, middle = spool.read(spool.checkpoint, 2)
    assert items == [1, 2] and middle == first_end
    assert spool.read(middle, 10) == ([3], second_end)


def test_the_checkpoint_survives_a_restart_and_only_the_rest_is_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    _, end = spool.append(lines("a", "b"))
    spool.append(lines("c"))
    spool.commit(end)
    spool.close()  # "c" is not committed: the segment stays
    again = Spool(tmp_path)
    again.open()
    assert again.checkpoint == end
    assert read_all(again) == ["c"]
    again.append(lines("d"))  # goes to a new segment, after the old ones
    assert read_all(again) == ["c", "d"]
    again.commit(again.end)
    again.close()
    assert again.segments() == []  # all committed: nothing left on disk


def test_a_clean_close_leaves_nothing_behind_and_a_dirty_one_keeps_the_rest(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "spool"
    spool = Spool(folder)
    spool.open()
    spool.close()  # never written to
    assert not folder.exists()
    spool = Spool(folder)
    spool.open()
    spool.append(lines(1))
    spool.close()  # not committed: kept, for the next start to replay
    assert sorted(p.name for p in folder.iterdir()) == ["000000000001.jsonl", "LOCK"]
    spool = Spool(folder)
    spool.open()
    items, position = spool.read(spool.checkpoint, 10)
    assert items == [1]
    spool.commit(position)
    spool.close()
    assert not folder.exists()


def test_segments_rotate_and_committed_ones_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=100)
    spool.open()
    ends = [spool.append(lines({"n": n, "pad": "x" * 40}))[1] for n in range(10)]
    assert len(spool.segments()) >= 4
    assert [item["n"] for item in read_all(spool)] == list(range(10))
    size = spool.size_bytes
    assert size == sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))
    spool.commit(ends[5])
    assert all(n >= ends[5].segment for n in spool.segments())
    assert spool.size_bytes < size
    assert [item["n"] for item in read_all(spool)] == list(range(6, 10))
    spool.close()


def test_a_torn_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spool.append(lines(1, 2))
    segment = tmp_path / f"{spool.end.segment:012d}.jsonl"
    spool.close()
    with segment.open("ab") as f:  # killed in the middle of writing line 3
        f.write(b'{"seq": 3, "id": "ev')
    again = Spool(tmp_path)
    again.open()
    again.append(lines(4))
    with caplog.at_level(logging.WARNING, logger="ccserver.store.spool"):
        assert read_all(again) == [1, 2, 4]
    assert "torn last line" in caplog.text
    again.close()


def test_an_undecodable_line_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spool.append(lines(1) + b"not json\n" + lines(2))
    with caplog.at_level(logging.WARNING, logger="ccserver.store.spool"):
        assert read_all(spool) == [1, 2]
    assert "undecodable line at byte 2" in caplog.text
    spool.close()


def test_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    first.open()
    second = Spool(tmp_path)
    with pytest.raises(SpoolError, match=r"in use by another event writer \(pid \d+\)"):
        second.open()
    first.close()
    second.open()  # the lock went with the first writer
    second.close()


def test_a_failed_write_is_cut_back_so_the_spool_stays_readable(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool.append(lines(1))
    real = spool._file
    assert real is not None

    class DiskFull:
        """Writes half of what it is given, then fails like a full disk."""

        def write(self, data: memoryview) -> int:
            real.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(spool, "_file", DiskFull())
    with pytest.raises(SpoolError, match="No space left"):
        spool.append(lines(2, 3))
    monkeypatch.setattr(spool, "_file", real)
    spool.append(lines(4))
    assert read_all(spool) == [1, 4]


def test_an_unreadable_checkpoint_means_replaying_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    spool.open()
    spool.append(lines(1, 2))
    spool.commit(spool.end)
    spool.append(lines(3))
    spool.close()
    (tmp_path / "checkpoint.json").write_text("{garbage")
    again = Spool(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ccserver.store.spool"):
        again.open()
    assert "unreadable checkpoint" in caplog.text
    assert read_all(again) == [1, 2, 3]
    again.close()


def test_order_holds_across_restarts_and_segments(tmp_path: Path) -> None:
    expected = []
    for run in range(4):
        spool = Spool(tmp_path, segment_bytes=64)
        spool.open()
        for n in range(5):
            spool.append(lines([run, n]))
            expected.append([run, n])
        if run == 1:  # commit part of the way once
            items, position = spool.read(spool.checkpoint, 7)
            assert items == expected[:7]
            spool.commit(position)
            del expected[:7]
        spool.close()
    spool = Spool(tmp_path)
    spool.open()
    assert read_all(spool) == expected
    spool.close()
