"""The ACD's live configuration as rows: read, seeded once, and saved by version.

The rows are read back into ``acd.config.AcdModel`` (the one set of rules for
what a configuration may be); nothing here checks a value itself. A save
writes the rows that differ from the stored ones and bumps the version in
the same transaction, only if the version is still the one the change was
made from (another process may have written meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from acd.config import AcdModel
from ccserver.store.schema import acd_agents, acd_codes, acd_queues, acd_settings
from ccserver.store.values import epoch, utc

# the code lists of the configuration: API kind -> AcdModel field
_CODE_FIELDS = {"reason": "reason_codes", "disposition": "disposition_codes"}


def code_kinds() -> dict[str, str]:
    """The code lists the ACD model has (``disposition_codes`` comes with the dispositions)."""
    return {kind: f for kind, f in _CODE_FIELDS.items() if f in AcdModel.model_fields}


_NOT_SETTINGS = {"queues", "agents", *_CODE_FIELDS.values()}


class StaleConfiguration(Exception):
    """Another process changed the configuration since it was read: read it again."""


class StoredConfigError(ValueError):
    """The rows do not make a valid configuration (edited by hand?); the message says where."""


Labels = dict[str, dict[str, tuple[str | None, str | None]]]  # kind -> code -> (zh, en)


@dataclass(frozen=True)
class LiveConfig:
    """A configuration, its codes' labels and its stored version."""

    model: AcdModel
    labels: Labels = field(default_factory=dict)
    version: int = 0
    updated_at: float | None = None
    updated_by: str | None = None

    def codes(self, kind: str) -> list[dict[str, str | None]]:
        """The codes of a kind in order, each with its labels."""
        shown = self.labels.get(kind, {})
        return [
            {
                "code": c,
                "label_zh": shown.get(c, (None, None))[0],
                "label_en": shown.get(c, (None, None))[1],
            }
            for c in getattr(self.model, code_kinds()[kind])
        ]


def errors_of(exc: ValidationError, where: str = "") -> str:
    """A validation's problems in one line: ``field.path: problem; ...``."""
    parts = []
    for e in exc.errors(include_url=False, include_input=False):
        loc = ".".join(p for p in (where, ".".join(str(p) for p in e["loc"])) if p)
        msg = e["msg"].removeprefix("Value error, ")  # a model's own rule says it all
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _settings_of(model: AcdModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude=_NOT_SETTINGS)


class ConfigStore:
    """The ``acd_*`` tables."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    async def load(self) -> LiveConfig | None:
        """The stored configuration; None before the first seed."""
        async with self.engine.connect() as conn:
            return await self._read(conn)

    async def seed(self, model: AcdModel, by: str = "seed") -> LiveConfig:
        """Store ``model`` as version 1, all in one transaction; when another process
        seeded first, theirs is the configuration."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(acd_settings).values(
                        id=1, settings=_settings_of(model), version=1,
                        updated_at=utc(self.clock()), updated_by=by,
                    )
                )  # fmt: skip
                await self._write_rows(conn, model, {}, 1)
        except IntegrityError:
            pass  # the other process's seed stands
        stored = await self.load()
        assert stored is not None
        return stored

    async def save(self, model: AcdModel, labels: Labels, version: int, by: str) -> LiveConfig:
        """Store ``model`` as ``version + 1`` if the stored version is ``version``.

        Raises :class:`StaleConfiguration` when it is not.
        """
        now = self.clock()
        async with self.engine.begin() as conn:
            bumped = await conn.execute(
                update(acd_settings)
                .where(acd_settings.c.id == 1, acd_settings.c.version == version)
                .values(
                    settings=_settings_of(model), version=version + 1,
                    updated_at=utc(now), updated_by=by[:64],
                )
            )  # fmt: skip
            if bumped.rowcount != 1:
                raise StaleConfiguration(
                    "the configuration was changed elsewhere meanwhile: reload it and try again"
                )
            await self._write_rows(conn, model, labels, version + 1)
        return LiveConfig(model, labels, version + 1, now, by)

    async def _write_rows(
        self, conn: AsyncConnection, model: AcdModel, labels: Labels, version: int
    ) -> None:
        """Make the queue, agent and code rows say ``model``: write only what differs."""
        at = utc(self.clock())
        stamp = {"version": version, "updated_at": at}
        have = {r.name: r for r in (await conn.execute(select(acd_queues))).all()}
        for pos, queue in enumerate(model.queues):
            row = {"position": pos, "settings": queue.model_dump(mode="json")}
            await _upsert(conn, acd_queues, have.pop(queue.name, None), row, stamp,
                          acd_queues.c.name == queue.name, name=queue.name)  # fmt: skip
        if have:
            await conn.execute(delete(acd_queues).where(acd_queues.c.name.in_(list(have))))
        agents = {r.id: r for r in (await conn.execute(select(acd_agents))).all()}
        for pos, agent in enumerate(model.agents):
            row = {"position": pos, "name": agent.name, "endpoint": agent.endpoint,
                   "skills": dict(agent.skills)}  # fmt: skip
            await _upsert(conn, acd_agents, agents.pop(agent.id, None), row, stamp,
                          acd_agents.c.id == agent.id, id=agent.id)  # fmt: skip
        if agents:
            await conn.execute(delete(acd_agents).where(acd_agents.c.id.in_(list(agents))))
        codes = {(r.kind, r.code): r for r in (await conn.execute(select(acd_codes))).all()}
        for kind, name in code_kinds().items():
            shown = labels.get(kind, {})
            for pos, code in enumerate(getattr(model, name)):
                zh, en = shown.get(code, (None, None))
                row = {"position": pos, "label_zh": zh, "label_en": en}
                where = (acd_codes.c.kind == kind) & (acd_codes.c.code == code)
                await _upsert(conn, acd_codes, codes.pop((kind, code), None), row, stamp,
                              where, kind=kind, code=code)  # fmt: skip
        for kind, code in codes:
            await conn.execute(
                delete(acd_codes).where(acd_codes.c.kind == kind, acd_codes.c.code == code)
            )

    async def _read(self, conn: AsyncConnection) -> LiveConfig | None:
        top = (await conn.execute(select(acd_settings).where(acd_settings.c.id == 1))).first()
        if top is None:
            return None
        data: dict[str, Any] = dict(top.settings)
        queues = await conn.execute(select(acd_queues).order_by(acd_queues.c.position))
        data["queues"] = [dict(r.settings) | {"name": r.name} for r in queues]
        agents = await conn.execute(select(acd_agents).order_by(acd_agents.c.position))
        data["agents"] = [
            {"id": r.id, "name": r.name, "endpoint": r.endpoint, "skills": dict(r.skills)}
            for r in agents
        ]
        labels: Labels = {}
        kinds = code_kinds()
        codes = await conn.execute(
            select(acd_codes).order_by(acd_codes.c.kind, acd_codes.c.position)
        )
        lists: dict[str, list[str]] = {kind: [] for kind in kinds}
        for r in codes:
            if r.kind in kinds:
                lists[r.kind].append(r.code)
                labels.setdefault(r.kind, {})[r.code] = (r.label_zh, r.label_en)
        for kind, name in kinds.items():
            data[name] = lists[kind]
        try:
            model = AcdModel.model_validate(data)
        except ValidationError as exc:
            raise StoredConfigError(
                f"the stored ACD configuration (version {top.version}) is not valid: "
                + errors_of(exc)
            ) from None
        return LiveConfig(model, labels, top.version, epoch(top.updated_at), top.updated_by)


async def _upsert(
    conn: AsyncConnection,
    table: Any,
    old: Any,
    row: dict[str, Any],
    stamp: dict[str, Any],
    where: Any,
    **key: Any,
) -> None:
    """Insert the row, or update it if any of its values differ (a portable upsert)."""
    if old is None:
        await conn.execute(insert(table).values(**key, **row, **stamp))
    elif any(getattr(old, k) != v for k, v in row.items()):
        await conn.execute(update(table).where(where).values(**row, **stamp))
