"""An id conflict shows in the server's snapshot (/healthz) and in /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.store import upgrade_database
from contracts.sink import CallEvent


async def test_conflicts_reach_the_snapshot_and_the_metrics(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    await asyncio.to_thread(upgrade_database, url)
    settings = load_config(None, store={"url": url, "spool_dir": str(tmp_path / "spool")})
    server = Server(settings)
    writer = server.writer  # the event log alone: no Asterisk, no HTTP needed here
    await writer.start()
    writer.emit(CallEvent("acd-1-1", 1.0, "c1", "acd.offer"))
    writer.emit(CallEvent("acd-1-1", 2.0, "c2", "acd.queued"))  # another event, same id
    writer.emit(CallEvent("acd-1-2", 3.0, "c2", "acd.queued"))
    await writer.stop()
    store = server.snapshot().store.to_json()
    assert (store["conflicts"], store["duplicates"], store["written"]) == (1, 0, 3)
    text = generate_latest(server.registry).decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["ccserver_eventlog_conflicts_total"] == 1
    assert samples["ccserver_eventlog_dropped_total"] == 0
