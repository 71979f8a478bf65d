"""Field types the API's models share: text a database can store, times in a sane range."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

# every time the API takes lies in these years: nothing before the epoch, nothing
# a timestamp cannot hold (year 1 or 9999 overflow conversions on the way to the store)
MIN_YEAR, MAX_YEAR = 1970, 2100
MIN_EPOCH = datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp()
MAX_EPOCH = datetime(MAX_YEAR, 1, 1, tzinfo=UTC).timestamp()


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters only hide things in a log
    if any((ord(c) < 32 and c not in "\t\n") or c == "\x7f" for c in value):
        raise ValueError("control characters (such as NUL) are not allowed")
    return value


def _in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a time without a zone is UTC
    if not MIN_YEAR <= value.year < MAX_YEAR:
        raise ValueError(f"must lie between {MIN_YEAR} and {MAX_YEAR}")
    return value


def epoch_in_range(value: float) -> float:
    """An epoch time that is finite and between :data:`MIN_YEAR` and :data:`MAX_YEAR`."""
    if not math.isfinite(value) or not MIN_EPOCH <= value < MAX_EPOCH:
        raise ValueError(f"must lie between {MIN_YEAR} and {MAX_YEAR}")
    return value


Text = Annotated[str, AfterValidator(_printable)]
# a time between 1970 and 2100; without a zone, UTC
Instant = Annotated[datetime, AfterValidator(_in_range)]
# an identifier as it appears in a URL or a query: printable ASCII, no spaces
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
