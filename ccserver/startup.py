"""How the server's parts start and stop: one-line errors and bounded stops.

A part that cannot start raises :class:`StartupError`, whose text is one line
for a person (the part, what went wrong, what to do); the commands print it and
exit non-zero. A part's stop is bounded, so one part cannot hang a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterator

from sqlalchemy.engine import make_url

from .store import SpoolError, upgrade_database
from .store.reach import first_line

log = logging.getLogger("ccserver.app")


class StartupError(Exception):
    """A part of the server could not start.

    ``str()`` is one line for a person: the part, what went wrong, what to do,
    e.g. ``HTTP: cannot listen on 127.0.0.1:8080: address already in use
    (stop what uses it, or set http.port)``.
    """

    def __init__(self, component: str, problem: str, hint: str = "") -> None:
        self.component = component
        self.problem = problem
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        line = f"{self.component}: {self.problem}"
        return f"{line} ({self.hint})" if self.hint else line


def why_oserror(exc: OSError) -> str:
    """An OSError in a few words: "address already in use", "connection refused"."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror.lower()  # the host name does not resolve
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def listen_errors(component: str, address: str, setting: str) -> Iterator[None]:
    """A listening socket that cannot be opened, as a StartupError."""
    try:
        yield
    except OSError as exc:
        hint = f"stop what uses it, or set {setting}"
        if exc.errno != errno.EADDRINUSE:
            hint = f"check {setting} and the host"
        raise StartupError(
            component, f"cannot listen on {address}: {why_oserror(exc)}", hint
        ) from exc


@contextlib.contextmanager
def store_errors(url: str, doing: str) -> Iterator[None]:
    """The store's failures at start, as a StartupError; details in the debug log."""
    where = make_url(url).render_as_string(hide_password=True)
    try:
        yield
    except SpoolError as exc:
        raise StartupError("store", str(exc), "another ccserver may use store.spool_dir") from exc
    except OSError as exc:  # refused, no such host, timed out
        log.debug("store unreachable", exc_info=True)
        raise StartupError(
            "store", f"cannot reach the database at {where}: {why_oserror(exc)}", "check store.url"
        ) from exc
    except Exception as exc:  # an SQL error, a failed migration: one line, details at debug
        log.debug("store failed at start", exc_info=True)
        problem = f"cannot {doing} {where}: {first_line(exc)}"
        raise StartupError("store", problem, "check store.url") from exc


async def migrate_store(url: str) -> None:
    """Bring the store to the newest schema; a failure is a StartupError of one line."""
    with store_errors(url, "migrate"):
        await asyncio.to_thread(upgrade_database, url)


async def stop_within(part: str, stop: Callable[[], Awaitable[None]], timeout: float) -> None:
    """Stop a part, giving up after ``timeout`` seconds so one part cannot hang the shutdown.

    Giving up cancels the stop itself, and with it what it waits on: a task
    that missed its first cancellation gets a second one.
    """
    try:
        async with asyncio.timeout(timeout):
            await stop()
    except TimeoutError:
        log.warning("%s did not stop within %.0f s; stopped waiting for it", part, timeout)


async def cancel_task(task: asyncio.Task[None]) -> None:
    """Cancel a task and wait for it to end (its exception, if any, is its owner's to log)."""
    task.cancel()
    await asyncio.wait([task])
