"""The task supervisor: kept, logged once, counted, closed."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest
from support import until

from ccserver.tasks import TaskSupervisor


async def _fail(message: str) -> None:
    await asyncio.sleep(0)
    raise ValueError(message)


async def test_a_failing_task_is_logged_once_with_its_name_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskSupervisor("test")
    caplog.set_level(logging.ERROR, logger="ccserver.tasks")
    tasks.spawn(_fail("boom"), name="callback.repair")
    tasks.spawn(_fail("again"), name="callback.repair")
    ok = tasks.spawn(asyncio.sleep(0, result=7), name="fine")
    await until(lambda: tasks.active == 0)
    assert ok.result() == 7
    assert tasks.failures == {"callback.repair": 2}
    assert tasks.snapshot() == {
        "active": 0,
        "spawned": 3,
        "failed": 2,
        "failures": {"callback.repair": 2},
    }
    failed = [r for r in caplog.records if "callback.repair" in r.getMessage()]
    assert len(failed) == 2 and all(r.exc_info for r in failed)
    assert {str(r.exc_info[1]) for r in failed if r.exc_info} == {"boom", "again"}


async def test_asyncio_never_reports_the_exception_again() -> None:
    reported: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        tasks = TaskSupervisor()
        tasks.spawn(_fail("once"), name="x")
        await until(lambda: tasks.active == 0)
        gc.collect()  # "Task exception was never retrieved" would be reported here
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert reported == [] and tasks.failures == {"x": 1}


async def test_a_spawned_task_is_kept_without_a_reference_elsewhere() -> None:
    tasks = TaskSupervisor()
    done = asyncio.Event()

    async def work() -> None:
        for _ in range(3):
            gc.collect()  # a weakly held task could vanish here
            await asyncio.sleep(0)
        done.set()

    tasks.spawn(work(), name="work")  # the returned task is dropped on purpose
    await asyncio.wait_for(done.wait(), 2)


async def test_close_cancels_and_awaits_what_is_left_and_refuses_new_tasks() -> None:
    tasks = TaskSupervisor()
    cleaned = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    task = tasks.spawn(forever(), name="forever")
    await asyncio.sleep(0)
    assert tasks.running() == ["forever"]
    await tasks.close(timeout=2)
    assert task.cancelled() and cleaned.is_set() and tasks.active == 0
    assert tasks.failures == {}  # a cancellation is not a failure
    coro = asyncio.sleep(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be an error
        with pytest.raises(RuntimeError, match="closed"):
            tasks.spawn(coro, name="late")
    assert coro.cr_frame is None  # closed, not left to be collected unawaited


async def test_close_with_grace_lets_short_work_finish() -> None:
    tasks = TaskSupervisor()
    quick = tasks.spawn(asyncio.sleep(0.01, result="done"), name="quick")
    slow = tasks.spawn(asyncio.sleep(60), name="slow")
    await tasks.close(timeout=2, grace=1)
    assert quick.result() == "done" and slow.cancelled()


async def test_a_task_that_ignores_cancellation_is_named_and_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskSupervisor("test")
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # the bug this guards against: a swallowed cancellation

    task = tasks.spawn(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="ccserver.tasks"):
        await tasks.close(timeout=0.05)
    assert "stubborn" in caplog.text and not task.done()
    release.set()
    await asyncio.wait_for(task, 2)
