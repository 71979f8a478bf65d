"""Recorded calls (from the event log) and their quality scores (``quality_scores``).

A recording exists for ccserver when the event log says so: a ``call.recording``
event names its file, relative to ``recordings.dir``. The list joins each with
its call record (the reports' fold: agent, queue, caller, answer, talk time)
and its score, if it has one. One score per call: scoring again replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import eventlog as el

from ..config import ScoreCriterion
from ..reporting.calls import FOLDED_KINDS, fold_call
from ..reporting.projector import row_event
from ..store.schema import call_events, quality_scores
from ..store.values import chunks, epoch, utc
from .scorecard import card_snapshot, weighted_score

_CHUNK = 500  # call ids per IN (...) query


@dataclass
class Recording:
    """One recorded call as the quality pages list it."""

    call_id: str
    file: str
    started_at: float
    queue: str | None
    agent: str | None
    caller: str
    answered_at: float | None
    talk_s: float
    score: float | None = None
    scored_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def audio_path(root: str | Path, file: str) -> Path | None:
    """The file a recording names, if it lies under ``root`` and is there (else None)."""
    base = Path(root).resolve()
    try:
        path = (base / file).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not path.is_relative_to(base) or path == base or not path.is_file():
        return None
    return path


class QualityStore:
    """Reads recordings from the event log; keeps the scores."""

    def __init__(self, engine: AsyncEngine, scorecard: Sequence[ScoreCriterion]) -> None:
        self.engine = engine
        self.scorecard = list(scorecard)

    async def _recording_events(
        self, start: float | None, end: float | None, call_ids: Iterable[str] | None = None
    ) -> dict[str, tuple[str, float, dict[str, Any]]]:
        """call id -> (file, started_at, data) of its first ``call.recording`` event."""
        query = select(call_events).where(call_events.c.kind == el.CALL_RECORDING)
        if start is not None:
            query = query.where(call_events.c.at >= utc(start))
        if end is not None:
            query = query.where(call_events.c.at < utc(end))
        if call_ids is not None:
            query = query.where(call_events.c.call_id.in_(sorted(call_ids)))
        found: dict[str, tuple[str, float, dict[str, Any]]] = {}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(call_events.c.at))).all()
        for row in rows:
            data = row.data if isinstance(row.data, dict) else {}
            file = data.get("file")
            if isinstance(file, str) and file and row.call_id not in found:
                started = data.get("started_at")
                at = float(started) if isinstance(started, int | float) else epoch(row.at)
                found[row.call_id] = (file, at, data)
        return found

    async def _records(self, call_ids: Sequence[str]) -> dict[str, Any]:
        """The call records (the reports' fold) of these calls."""
        out: dict[str, Any] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(call_ids, _CHUNK):
                query = (
                    select(call_events)
                    .where(
                        call_events.c.call_id.in_(chunk),
                        call_events.c.kind.in_(sorted(FOLDED_KINDS)),
                    )
                    .order_by(call_events.c.call_id, call_events.c.seq)
                )
                by_call: dict[str, list[Any]] = {}
                for row in (await conn.execute(query)).all():
                    by_call.setdefault(row.call_id, []).append(row_event(row))
                for cid, events in by_call.items():
                    out[cid] = fold_call(cid, events)
        return out

    def _recording(
        self, call_id: str, found: tuple[str, float, dict[str, Any]], rec: Any
    ) -> Recording:
        file, started, data = found
        return Recording(
            call_id=call_id,
            file=file,
            started_at=started,
            queue=(str(data["queue"]) if data.get("queue") else None)
            or (rec.queue if rec is not None else None),
            agent=(rec.agent if rec is not None and rec.agent else None)
            or (str(data["agent"]) if data.get("agent") else None),
            caller=rec.caller if rec is not None else "",
            answered_at=rec.answered_at if rec is not None else None,
            talk_s=round(rec.talk_s, 3) if rec is not None else 0.0,
        )

    async def recordings(
        self,
        start: float,
        end: float,
        *,
        agent: str | None = None,
        queue: str | None = None,
        teams: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[Recording]]:
        """Recordings started in ``[start, end)``, newest first: (how many match, one page).

        ``teams``: only the calls of these queues (a supervisor's).
        """
        found = await self._recording_events(start, end)
        records = await self._records(list(found))
        items = [self._recording(cid, f, records.get(cid)) for cid, f in found.items()]
        items = [
            r for r in items
            if (agent is None or r.agent == agent)
            and (queue is None or r.queue == queue)
            and (teams is None or r.queue in teams)
        ]  # fmt: skip
        items.sort(key=lambda r: (-r.started_at, r.call_id))
        page = items[offset : offset + limit]
        await self._attach_scores(page)
        return len(items), page

    async def recording(self, call_id: str) -> Recording | None:
        """One call's recording (None: the event log names none)."""
        found = await self._recording_events(None, None, [call_id])
        if call_id not in found:
            return None
        records = await self._records([call_id])
        rec = self._recording(call_id, found[call_id], records.get(call_id))
        await self._attach_scores([rec])
        return rec

    async def _attach_scores(self, recs: list[Recording]) -> None:
        if not recs:
            return
        query = select(quality_scores.c.call_id, quality_scores.c.score, quality_scores.c.scored_by)
        query = query.where(quality_scores.c.call_id.in_([r.call_id for r in recs]))
        async with self.engine.connect() as conn:
            scores = {row.call_id: row for row in (await conn.execute(query)).all()}
        for r in recs:
            row = scores.get(r.call_id)
            if row is not None:
                r.score, r.scored_by = float(row.score), str(row.scored_by)

    async def score(
        self, rec: Recording, points: dict[str, int], comment: str | None, by: str
    ) -> dict[str, Any]:
        """Score a recorded call on the scorecard (ScoreError: points that do not fit it)."""
        total = weighted_score(self.scorecard, points)
        now = datetime.now(UTC)
        row = {
            "call_id": rec.call_id,
            "agent": rec.agent,
            "queue": rec.queue,
            "call_at": utc(rec.answered_at if rec.answered_at is not None else rec.started_at),
            "points": dict(points),
            "scorecard": card_snapshot(self.scorecard),
            "score": total,
            "comment": comment or None,
            "scored_by": by,
            "scored_at": now,
        }
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(quality_scores).where(quality_scores.c.call_id == rec.call_id)
            )
            await conn.execute(insert(quality_scores).values(**row))
        return self._score_dict(row)

    async def scores(
        self,
        start: float,
        end: float,
        *,
        agent: str | None = None,
        call_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Scores of calls answered in ``[start, end)`` (or of one call), newest first."""
        query = select(quality_scores)
        if call_id is not None:
            query = query.where(quality_scores.c.call_id == call_id)
        else:
            query = query.where(
                quality_scores.c.call_at >= utc(start), quality_scores.c.call_at < utc(end)
            )
        if agent is not None:
            query = query.where(quality_scores.c.agent == agent)
        query = query.order_by(quality_scores.c.call_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self._score_dict(row._asdict()) for row in rows]

    @staticmethod
    def _score_dict(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "call_id": row["call_id"],
            "agent": row["agent"],
            "queue": row["queue"],
            "call_at": epoch(row["call_at"]),
            "points": dict(row["points"]),
            "score": float(row["score"]),
            "comment": row["comment"],
            "scored_by": row["scored_by"],
            "scored_at": epoch(row["scored_at"]),
        }
