"""The write-ahead spool: call events on local disk before they reach the database.

Why: the database may be down, slow or restarting, and ccserver may be killed
at any moment. Writing each batch to a local append-only file first (a plain
``write()`` into the page cache, so it survives the death of the process;
``sync()`` on top for surviving a power cut) means an event handed to the writer
is lost only if the disk itself fails, while memory stays bounded however long
the database is away: the backlog lives in files, not in lists.

A spool directory holds:

* ``LOCK``: ``flock``-ed by the one process that uses the directory, so two
  writers can never interleave segments or replay each other's events (the
  lock goes with the process, so a killed writer leaves no stale lock);
* ``NNNNNNNNNNNN.jsonl``: append-only segments, one item per line (the event
  writer's lines are COPY text lines, ``codec.py``; older spools hold JSON),
  numbered in write order; a new segment starts at each ``open()`` (the tail
  of the previous one may be torn) and when the current one reaches
  ``segment_bytes``;
* ``checkpoint.json``: the position ``(segment, offset)`` up to which every
  line is known to be committed to the database, replaced atomically.

Segments wholly before the checkpoint are deleted, and a spool closed with
everything committed removes its directory. Reading from a position
yields the lines after it in order; a line cut short by a crash (no final
newline) or one its reader refuses is skipped with a warning, never fatal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NamedTuple

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"


class SpoolError(RuntimeError):
    """The spool cannot be used (locked by another writer, unreadable, full disk)."""


class Position(NamedTuple):
    """A place in the spool: a byte offset inside a numbered segment."""

    segment: int
    offset: int


def _segment_name(number: int) -> str:
    return f"{number:012d}{SUFFIX}"


class Spool:
    """An append-only, checkpointed log of lines in one directory (see module doc)."""

    def __init__(self, path: str | Path, *, segment_bytes: int = 64 << 20) -> None:
        self.path = Path(path)
        self.segment_bytes = segment_bytes
        self._lock: IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self.checkpoint = Position(0, 0)
        # where the next line will go; assigned only once a write is complete, so a
        # reader bounded by it never sees a half-written batch
        self.end = Position(0, 0)
        self._closed_bytes = 0  # bytes in segments other than the one being written

    # -- life cycle -------------------------------------------------------

    def open(self) -> None:
        """Take the directory's lock, load the checkpoint, start a new segment.

        Raises ``SpoolError`` if another writer holds the lock.
        """
        lock = self._take_lock()
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n".encode())
        lock.flush()
        self._lock = lock
        self.checkpoint = self._load_checkpoint()
        numbers = self.segments()
        self._closed_bytes = sum(self._segment_path(n).stat().st_size for n in numbers)
        # never append to an old segment: its last line may be torn
        newest = max([self.checkpoint.segment, *numbers])
        self._start_segment(newest + 1)
        if not numbers:  # nothing on disk: nothing left to commit
            self.checkpoint = self.end

    def _take_lock(self) -> IO[bytes]:
        """The LOCK file, ``flock``-ed; ``SpoolError`` if another writer holds it."""
        while True:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = open(self.path / "LOCK", "a+b")  # noqa: SIM115 (held until close)
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().decode(errors="replace").strip() or "?"
                lock.close()
                raise SpoolError(
                    f"spool directory {self.path} is in use by another event writer "
                    f"(pid {holder}); give each ccserver its own store.spool_dir"
                ) from None
            # ``close`` deletes LOCK once all is committed: a lock taken on a file
            # that was deleted meanwhile guards nothing, so take the new one
            try:
                if os.stat(self.path / "LOCK").st_ino == os.fstat(lock.fileno()).st_ino:
                    return lock
            except FileNotFoundError:
                pass
            lock.close()

    def close(self) -> None:
        """Close the files; if everything is committed, remove the directory too."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is None:
            return
        if self.checkpoint >= self.end:
            # nothing to replay: leave nothing behind (the lock goes last, still held)
            for number in self.segments():
                self._segment_path(number).unlink(missing_ok=True)
            self._closed_bytes = 0
            (self.path / "checkpoint.json").unlink(missing_ok=True)
            (self.path / "LOCK").unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: someone else's files
                self.path.rmdir()
        elif self.end.offset == 0:  # not to pile up empty segments over restarts
            self._segment_path(self.end.segment).unlink(missing_ok=True)
        self._lock.close()  # releases the flock
        self._lock = None

    # -- writing ----------------------------------------------------------

    def append(self, blob: bytes) -> tuple[Position, Position]:
        """Append whole lines (``blob`` ends with a newline); return (start, end).

        On a write error (disk full) the segment is cut back to its last whole
        line, so later appends stay readable, and ``SpoolError`` is raised.
        """
        assert self._file is not None, "spool not open"
        if self.end.offset >= self.segment_bytes:
            self._start_segment(self.end.segment + 1)
        start = self.end
        try:
            # unbuffered: on a failure nothing lingers in a buffer to be written later
            view = memoryview(blob)
            done = 0
            while done < len(view):
                done += self._file.write(view[done:]) or 0
        except OSError as exc:
            self._truncate_to(start)
            raise SpoolError(f"spool write failed: {exc}") from exc
        end = Position(start.segment, start.offset + len(blob))
        self.end = end
        return start, end

    def sync(self) -> None:
        """``fsync`` the segment being written (blocking: call it from a thread).

        Without it the lines survive the death of the process (they are in the
        page cache) but not a power cut or a kernel crash.
        """
        file = self._file
        if file is not None:
            with contextlib.suppress(OSError, ValueError):  # closed meanwhile by close()
                os.fsync(file.fileno())

    def commit(self, position: Position) -> None:
        """Record that everything before ``position`` is in the database.

        The checkpoint file is replaced atomically; segments wholly before the
        position are deleted.
        """
        if position <= self.checkpoint:
            return
        tmp = self.path / "checkpoint.json.tmp"
        # no fsync: a checkpoint lost to a power cut only means a longer replay,
        # and the replay is idempotent
        tmp.write_text(json.dumps({"segment": position.segment, "offset": position.offset}))
        os.replace(tmp, self.path / "checkpoint.json")
        self.checkpoint = position
        for number in self.segments():
            if number >= position.segment:
                break
            path = self._segment_path(number)
            with contextlib.suppress(FileNotFoundError):
                self._closed_bytes -= path.stat().st_size
                path.unlink()

    # -- reading ----------------------------------------------------------

    def read(
        self, start: Position, limit: int, decode: Callable[[bytes], Any] = json.loads
    ) -> tuple[list[Any], Position]:
        """Up to ``limit`` decoded lines after ``start``, and the position after them.

        ``decode`` turns a line into an item; a line it refuses (ValueError,
        KeyError, TypeError) is skipped with a warning, as is a torn line. Both
        count as read: the returned position always moves past them.
        """
        items: list[Any] = []
        position = start
        end = self.end  # one consistent bound for this read
        while len(items) < limit and position < end:
            active = position.segment == end.segment
            # the segment being written is read up to ``end`` only; older ones to EOF
            stop = end.offset if active else None
            try:
                offset, eof = self._read_segment(position, stop, limit, items, decode)
            except FileNotFoundError:
                position = self._next_segment(position, end)
                continue
            position = Position(position.segment, offset)
            if eof and active:  # shorter than what was written: cut by someone else
                log.error("spool %s: truncated at byte %d, the rest is lost", self.path, offset)
                position = end
            elif eof:
                position = self._next_segment(position, end)
        return items, position

    def _read_segment(
        self,
        start: Position,
        stop: int | None,
        limit: int,
        items: list[Any],
        decode: Callable[[bytes], Any],
    ) -> tuple[int, bool]:
        """Decode lines of one segment into ``items``; return (offset reached, hit EOF)."""
        path = self._segment_path(start.segment)
        with open(path, "rb") as f:
            f.seek(start.offset)
            offset = start.offset
            while len(items) < limit and (stop is None or offset < stop):
                line = f.readline()
                if not line:
                    return offset, True
                offset += len(line)
                if not line.endswith(b"\n"):
                    # only a closed segment can end mid-line: the process died mid-write
                    log.warning(
                        "spool %s: torn last line at byte %d skipped (%d bytes)",
                        path, offset - len(line), len(line),
                    )  # fmt: skip
                    continue
                try:
                    items.append(decode(line))
                except (ValueError, KeyError, TypeError):
                    at = offset - len(line)
                    log.warning("spool %s: undecodable line at byte %d skipped", path, at)
            # a closed segment read to its last byte is done: step over it now, so
            # that committing this position lets the segment be deleted
            return offset, stop is None and offset >= os.fstat(f.fileno()).st_size

    # -- state ------------------------------------------------------------

    def segments(self) -> list[int]:
        """The numbers of the segment files present, oldest first."""
        numbers = []
        for path in self.path.glob("*" + SUFFIX):
            with contextlib.suppress(ValueError):
                numbers.append(int(path.name[: -len(SUFFIX)]))
        return sorted(numbers)

    @property
    def size_bytes(self) -> int:
        """Bytes in the segment files (committed or not, until they are deleted)."""
        return self._closed_bytes + self.end.offset

    # -- internals --------------------------------------------------------

    def _segment_path(self, number: int) -> Path:
        return self.path / _segment_name(number)

    def _next_segment(self, position: Position, end: Position) -> Position:
        """The start of the first segment after ``position``'s (or ``end``)."""
        later = [n for n in self.segments() if position.segment < n <= end.segment]
        return Position(later[0], 0) if later else end

    def _load_checkpoint(self) -> Position:
        try:
            raw = json.loads((self.path / "checkpoint.json").read_text())
            return Position(int(raw["segment"]), int(raw["offset"]))
        except FileNotFoundError:
            return Position(0, 0)
        except (ValueError, KeyError, TypeError) as exc:
            # replaying from the start is safe (the database ignores known ids)
            log.warning("spool %s: unreadable checkpoint (%s), replaying it all", self.path, exc)
            return Position(0, 0)

    def _start_segment(self, number: int) -> None:
        if self._file is not None:
            self._file.close()
            self._closed_bytes += self.end.offset
        self._file = open(self._segment_path(number), "ab", buffering=0)  # noqa: SIM115
        self.end = Position(number, 0)

    def _truncate_to(self, position: Position) -> None:
        with contextlib.suppress(OSError):
            assert self._file is not None
            self._file.truncate(position.offset)
            self._file.seek(position.offset)
