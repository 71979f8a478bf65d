"""The task supervisor: background tasks that are kept, watched and stopped together.

``asyncio`` keeps only a weak reference to a task, and an exception of a task
nobody awaits shows up (if at all) as "Task exception was never retrieved" at
garbage collection. Every fire-and-forget task of the server goes through one
:class:`TaskSupervisor` instead: it holds the task until it ends, logs an
exception once with the task's name (never swallowed), counts failures by name
for /healthz, and at shutdown cancels and awaits whatever is still running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskSupervisor:
    """Owns background tasks: ``spawn`` them, read ``failures``, ``close`` at the end."""

    def __init__(self, name: str = "tasks", *, logger: logging.Logger | None = None) -> None:
        self.name = name
        self._log = logger or log
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self._closed = False
        self.spawned = 0
        self.failures: Counter[str] = Counter()  # task name -> tasks that raised

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``coro`` as a task named ``name``: a kind (``acd.deliver``); failures count by it.

        Raises ``RuntimeError`` after :meth:`close`: work started then would
        outlive the parts it needs.
        """
        if self._closed:
            coro.close()  # never awaited otherwise: a RuntimeWarning at collection
            raise RuntimeError(f"{self.name}: closed, cannot start {name}")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[task] = name
        self.spawned += 1
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        name = self._tasks.pop(task, task.get_name())
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio never reports it again
        if exc is not None:
            self.failures[name] += 1
            self._log.error("task %s failed: %r", name, exc, exc_info=exc)

    @property
    def active(self) -> int:
        """Tasks still running."""
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    def running(self) -> list[str]:
        """Names of the tasks still running (sorted)."""
        return sorted(self._tasks.values())

    def snapshot(self) -> dict[str, Any]:
        """Numbers for /healthz: running, started in all, failures by name."""
        return {
            "active": self.active,
            "spawned": self.spawned,
            "failed": sum(self.failures.values()),
            "failures": dict(self.failures),
        }

    async def close(self, timeout: float = 5.0, *, grace: float = 0.0) -> None:
        """Refuse new tasks; give running ones ``grace`` seconds, then cancel and await them.

        A task that is still running ``timeout`` seconds after being cancelled
        (it ignores cancellation) is named in a warning and left behind.
        """
        self._closed = True
        pending = set(self._tasks)
        if pending and grace > 0:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=timeout)
            if stuck:
                self._log.warning(
                    "%s: %d tasks ignored cancellation for %.1f s: %s",
                    self.name, len(stuck), timeout, ", ".join(sorted(t.get_name() for t in stuck)),
                )  # fmt: skip
