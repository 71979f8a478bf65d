"""A database that cannot be reached, told apart from a bug by the error's type.

A database outage is a normal day for a hotline: what meets one says so in
one line and goes on without the store (a start spools, the IVR skips an
outage notice, the API answers 503); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# asyncpg's errors for a server that is away, starting, stopping or full (by name:
# SQLAlchemy wraps them, and the store may be SQLite, without asyncpg's classes)
_AWAY = (
    "CannotConnectNowError",
    "TooManyConnectionsError",
    "ConnectionDoesNotExistError",
    "AdminShutdownError",
)


def unreachable(exc: BaseException | None) -> bool:
    """The database cannot be reached now: refused, no such host, timed out, restarting,
    the connection lost. Looks under a wrapping error (SQLAlchemy's, a port's own)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) or type(exc).__name__ in _AWAY:  # TimeoutError: an OSError
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def cause(exc: BaseException) -> str:
    """The first line of what the driver said (SQLAlchemy's wrapping left out)."""
    return first_line(getattr(exc, "orig", None) or exc)
