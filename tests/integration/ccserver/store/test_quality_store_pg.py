"""The quality store on PostgreSQL (migration 0007): recordings read from the event log,
scores kept (a second score replaces the first), and the agents report's columns."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.config import QualitySection
from ccserver.quality import QualityStore, ScoreError
from ccserver.reporting.quality import add_quality_scores
from ccserver.store import EventWriter, upgrade_database
from contracts import eventlog as el
from contracts.sink import CallEvent


async def test_scores_on_postgresql(pg_url: str) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    engine = create_async_engine(pg_url)
    now = time.time()
    events = [
        CallEvent("e1", now, "c1", el.CALL_STARTED, {"caller": "5551234", "channel": "PJSIP/t-1"}),
        CallEvent("e2", now + 1, "c1", el.ACD_QUEUED, {"queue": "general"}),
        CallEvent("e3", now + 5, "c1", el.ACD_CONNECTED, {"agent": "ana", "answered_at": now + 5}),
        CallEvent("e4", now + 5.1, "c1", el.CALL_RECORDING,
                  {"file": "2026/11/30/c1.wav", "started_at": now + 5.1, "queue": "general",
                   "agent": "ana", "channel": "PJSIP/t-1", "adopted": False}),
    ]  # fmt: skip
    writer = EventWriter(pg_url, flush_interval_s=0.01)
    await writer.start()
    for e in events:
        writer.emit(e)
    await writer.stop()
    try:
        store = QualityStore(engine, QualitySection().scorecard)
        total, page = await store.recordings(now - 60, now + 60)
        assert total == 1
        (rec,) = page
        assert (rec.call_id, rec.file, rec.agent, rec.queue, rec.caller) == (
            "c1", "2026/11/30/c1.wav", "ana", "general", "5551234"
        )  # fmt: skip
        full = {c.id: c.max_points for c in store.scorecard}
        try:
            await store.score(rec, {**full, "resolution": 99}, None, "quinn")
        except ScoreError as exc:
            assert "resolution" in str(exc)
        else:
            raise AssertionError("out-of-range points were stored")
        await store.score(rec, full, "fine", "quinn")
        saved = await store.score(rec, {**full, "resolution": 0}, "second look", "quinn")
        assert saved["score"] == 62.5
        scores = await store.scores(now - 60, now + 60)
        assert [(s["score"], s["comment"]) for s in scores] == [(62.5, "second look")]
        rows = await add_quality_scores(engine, [{"agent": "ana"}, {"agent": "ben"}], now - 60,
                                        now + 60)  # fmt: skip
        assert rows == [
            {"agent": "ana", "quality_pct": 62.5, "quality_scores": 1},
            {"agent": "ben", "quality_pct": None, "quality_scores": 0},
        ]
        assert await store.recording("nope") is None
    finally:
        await engine.dispose()
