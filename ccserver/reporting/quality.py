"""The agents report's quality columns: each agent's average score and how many calls were scored.

Kept apart from the event log's fold: scores live in ``quality_scores`` (given by
quality staff on the quality page), one per call, counted in the range by when the
call was answered. ``quality_pct`` is the mean of the calls' weighted percentages
(None when none was scored), ``quality_scores`` their number.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.schema import quality_scores
from ..store.values import utc


async def add_quality_scores(
    engine: AsyncEngine, rows: list[dict[str, Any]], start: float, end: float
) -> list[dict[str, Any]]:
    """``rows`` (the agents report) with ``quality_pct`` and ``quality_scores`` per agent."""
    query = (
        select(
            quality_scores.c.agent,
            func.avg(quality_scores.c.score).label("pct"),
            func.count().label("n"),
        )
        .where(
            quality_scores.c.call_at >= utc(start),
            quality_scores.c.call_at < utc(end),
            quality_scores.c.agent.is_not(None),
        )
        .group_by(quality_scores.c.agent)
    )
    async with engine.connect() as conn:
        found = {r.agent: (float(r.pct), int(r.n)) for r in (await conn.execute(query)).all()}
    for row in rows:
        pct, n = found.get(row["agent"], (None, 0))
        row["quality_pct"] = None if pct is None else round(pct, 2)
        row["quality_scores"] = n
    return rows
