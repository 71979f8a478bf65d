"""How Python values meet the store's columns.

Times are epoch seconds in the code and timestamp columns in the store: they go
in as aware UTC datetimes, and come back aware from PostgreSQL but naive from
SQLite, whose naive times are UTC. A long list of ids goes into ``IN (...)`` in
chunks, so no statement carries more parameters than a driver takes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

ID_CHUNK = 5_000  # call ids per IN (...) query


def utc(epoch: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (what a timestamp column is given)."""
    return datetime.fromtimestamp(epoch, UTC)


def aware(value: datetime) -> datetime:
    """A timestamp column's value as an aware datetime (naive is UTC: SQLite gives naive UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def epoch(value: datetime) -> float:
    """A timestamp column's value as epoch seconds (naive is UTC, see :func:`aware`)."""
    return aware(value).timestamp()


def epoch_or_none(value: datetime | None) -> float | None:
    """:func:`epoch` of a nullable column."""
    return None if value is None else epoch(value)


def chunks(items: Sequence[T], size: int = ID_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``, in order."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
