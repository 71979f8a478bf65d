"""The live configuration's store and its service on a real SQLite file (the demo's store).

Seeded once, read back through the ACD's models, saved by version (a stale
version is refused), rows edited by hand into something invalid are named at
start; the service keeps the engine and the store in step: a refused change
leaves both alone, a store that fails puts the engine back, and a
supervisor's skill change not yet stored survives an admin's change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import until

from acd.config import AcdModel, load_acd
from ccserver.config import HotlineConfig
from ccserver.configuration import (
    ChangeRefused,
    ConfigStore,
    InvalidConfiguration,
    LiveConfiguration,
    StaleConfiguration,
    StoredConfigError,
)
from ccserver.orchestrator import Orchestrator
from ccserver.store import upgrade_database
from ccserver.store.schema import acd_queues
from ccserver.tasks import TaskSupervisor
from contracts.sink import ListSink
from cti.connection import AmiSettings
from cti.service import CtiService

REPO = Path(__file__).resolve().parents[3]
SEED = load_acd(REPO / "config" / "acd.example.yaml")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path}/config.db"
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def floor(model: AcdModel) -> Orchestrator:
    """An orchestrator not connected to any Asterisk: the engine and its bookkeeping."""
    sink = ListSink()
    return Orchestrator(model, CtiService(AmiSettings(secret="x"), sink), sink, HotlineConfig())


async def test_seeded_once_read_back_and_saved_by_version(db: AsyncEngine) -> None:
    store = ConfigStore(db)
    assert await store.load() is None
    seeded = await store.seed(SEED)
    assert seeded.version == 1 and seeded.model == SEED
    again = await store.seed(SEED.model_copy(update={"aging_s": 5}))  # another process late
    assert again.version == 1 and again.model.aging_s == SEED.aging_s
    data = SEED.model_dump(mode="json")
    data["queues"][2]["ring_timeout_s"] = 40
    data["agents"].pop(0)
    data["reason_codes"].append("meeting")
    changed = AcdModel.model_validate(data)
    labels = {"reason": {"meeting": ("开会", "in a meeting")}}
    saved = await store.save(changed, labels, 1, "root")
    assert (saved.version, saved.updated_by) == (2, "root")
    loaded = await store.load()
    assert loaded is not None and loaded.model == changed and loaded.version == 2
    assert loaded.codes("reason")[-1] == {
        "code": "meeting", "label_zh": "开会", "label_en": "in a meeting"
    }  # fmt: skip
    with pytest.raises(StaleConfiguration):
        await store.save(SEED, {}, 1, "late")  # made from version 1: another change came first


async def test_rows_edited_into_an_invalid_configuration_are_named(db: AsyncEngine) -> None:
    store = ConfigStore(db)
    await store.seed(SEED)
    async with db.begin() as conn:
        bad = SEED.queues[0].model_dump(mode="json") | {"wrap_up_s": -1}
        await conn.execute(
            update(acd_queues).where(acd_queues.c.name == "general").values(settings=bad)
        )
    with pytest.raises(StoredConfigError, match=r"version 1\) is not valid: queues\.0\.wrap_up_s"):
        await store.load()


async def test_the_engine_and_the_store_stay_in_step(db: AsyncEngine) -> None:
    orch = floor(SEED)
    tasks = TaskSupervisor("test")
    live = LiveConfiguration(ConfigStore(db), orch, SEED, tasks=tasks)
    await live.start()
    engine = orch.engine

    def set_ring(data: dict[str, Any], labels: Any) -> None:
        data["queues"][0]["ring_timeout_s"] = 33

    def no_queues(data: dict[str, Any], labels: Any) -> None:
        data["queues"] = []

    def drop_ana(data: dict[str, Any], labels: Any) -> None:
        data["agents"] = [a for a in data["agents"] if a["id"] != "ana"]

    # invalid: nothing changes anywhere
    with pytest.raises(InvalidConfiguration, match="queues: List should have at least 1 item"):
        await live.change(no_queues, "root")
    # refused by the engine (ana is logged in): nothing stored
    orch.agent_action("ana", "login")
    with pytest.raises(ChangeRefused, match="agent ana is not_ready: log them out"):
        await live.change(drop_ana, "root")
    assert "ana" in engine.agents and live.current.version == 1

    # a supervisor's skill change, then an admin's change before it is stored: both stay
    orch.change_skills("ben", {"general": 2, "tech": 9}, "sue")
    saved, _ = await live.change(set_ring, "root")
    assert engine.queues["general"].ring_timeout_s == 33
    assert engine.agents["ben"].skills == {"general": 2, "tech": 9}
    await until(lambda: not live._pending, 5)
    stored = await live.store.load()
    assert stored is not None and stored.version == saved.version
    ben = next(a for a in stored.model.agents if a.id == "ben")
    assert ben.skills == {"general": 2, "tech": 9}
    assert stored.model.queues[0].ring_timeout_s == 33

    # the store refuses (another process wrote meanwhile): the engine goes back
    live.current = live.current.__class__(live.current.model, live.current.labels, 1)
    orch.agent_action("ana", "logout")
    with pytest.raises(StaleConfiguration):
        await live.change(drop_ana, "root")
    assert "ana" in engine.agents and engine.queues["general"].ring_timeout_s == 33
    await tasks.close(1)
