"""The live configuration: the database is the truth, the running engine follows it.

At start the stored configuration is read (the ``acd.config`` YAML seeds empty
tables once, then is ignored) and given to the engine. An admin's change is a
new whole configuration: validated by ``AcdModel`` (422 when it is not valid),
given to the running engine (which may refuse it: 409, with its reason), then
stored with a new version. Should the store fail after the engine took it, the
engine goes back to what is stored. A supervisor's skill change (live already)
is stored too, so a restart keeps it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from acd.config import AcdModel
from acd.effects import ConfigApplied, ConfigRefused, Effect
from acd.reconfigure import change_of

from ..orchestrator import Orchestrator
from ..tasks import TaskSupervisor
from .store import ConfigStore, Labels, LiveConfig, errors_of

log = logging.getLogger("ccserver.configuration")

Edit = Callable[[dict[str, Any], Labels], None]


class InvalidConfiguration(ValueError):
    """The change makes a configuration ``AcdModel`` refuses; the message names the field."""


class ChangeRefused(Exception):
    """The running floor cannot take the change now (the engine's or the IVR's reason)."""


class LiveConfiguration:
    """The stored configuration and the running engine, kept in step."""

    def __init__(
        self,
        store: ConfigStore,
        orchestrator: Orchestrator,
        seed: AcdModel,
        *,
        tasks: TaskSupervisor,
        seed_path: str | None = None,
        on_applied: Callable[[AcdModel], None] | None = None,
    ) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self.seed = seed
        self.seed_path = seed_path
        self.tasks = tasks
        self.on_applied = on_applied
        # queues the IVR menu sends callers to: removing one would strand its callers
        self.protected_queues: frozenset[str] = frozenset()
        self.current = LiveConfig(seed)  # until start: the YAML, not stored
        self.stored = False
        self._pending: dict[str, dict[str, int]] = {}  # agent -> skills live, not yet stored
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Read the stored configuration (seeding it on the first run) and apply it."""
        found = await self.store.load()
        if found is None:
            found = await self.store.seed(self.seed)
            log.info(
                "acd: configuration seeded into the database from %s (version %d)",
                self.seed_path or "the built-in defaults", found.version,
            )  # fmt: skip
        else:
            log.info(
                "acd: configuration version %d read from the database; %s is only the "
                "first-run seed and is ignored now",
                found.version, self.seed_path or "acd.config",
            )  # fmt: skip
        missing = sorted(self.protected_queues - {q.name for q in found.model.queues})
        if missing:
            log.error(
                "acd: the IVR menu sends callers to queues %s the configuration lacks", missing
            )
        self._apply(found.model, found.version, None)
        self.current, self.stored = found, True
        self.orchestrator.skills_kept = self._keep_skills

    async def change(self, edit: Edit, by: str) -> tuple[LiveConfig, list[Effect]]:
        """Apply ``edit`` (on the configuration as plain data) to the floor and the store."""
        async with self._lock:
            cur = self.current
            data, taken = self._data()
            before = copy.deepcopy(data)  # what the floor has now (skill changes included)
            labels = copy.deepcopy(cur.labels)
            edit(data, labels)
            try:
                model = AcdModel.model_validate(data)
            except ValidationError as exc:
                raise InvalidConfiguration(errors_of(exc)) from None
            lost = sorted(self.protected_queues - {q.name for q in model.queues})
            if lost:
                raise ChangeRefused(f"the IVR menu sends callers to queue(s) {lost}")
            if not self.stored:
                raise ChangeRefused("the configuration store is not reachable: try again later")
            effects = self._apply(model, cur.version + 1, by)
            try:
                saved = await self.store.save(model, labels, cur.version, by)
            except BaseException:
                # the store did not take it: the floor goes back to what is stored
                try:
                    self._apply(AcdModel.model_validate(before), cur.version, by)
                except ChangeRefused as exc:
                    log.error("acd: could not undo a configuration the store refused: %s", exc)
                raise
            self._stored(saved, taken)
            return saved, effects

    def _apply(self, model: AcdModel, version: int, by: str | None) -> list[Effect]:
        orch = self.orchestrator
        effects = orch.handle(change_of(model, version=version, by=by))
        refused = next((e for e in effects if isinstance(e, ConfigRefused)), None)
        if refused is not None:
            raise ChangeRefused(refused.reason.removeprefix("configuration refused: "))
        orch.model = model
        orch.default_queue = model.default_queue or model.queues[0].name
        orch.vip_numbers = frozenset(model.vip_numbers)
        applied = next(e for e in effects if isinstance(e, ConfigApplied))
        if applied.agents_added or applied.agents_changed:
            # new softphones: ask Asterisk now rather than at the next resync
            self.tasks.spawn(orch.refresh_devices(), name="acd.refresh_devices")
        if self.on_applied is not None:
            self.on_applied(model)
        return effects

    def _keep_skills(self, agent_id: str, skills: dict[str, int], by: str) -> None:
        """A supervisor changed an agent's skills (live already): store them too."""
        self._pending[agent_id] = dict(skills)
        self.tasks.spawn(self._persist(agent_id, by), name="acd.store_skills")

    def _data(self) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        """The configuration as plain data with the skill changes not yet stored, and those."""
        taken = {k: dict(v) for k, v in self._pending.items()}
        data = self.current.model.model_dump(mode="json")
        for agent in data["agents"]:
            if agent["id"] in taken:
                agent["skills"] = taken[agent["id"]]
        return data, taken

    def _stored(self, saved: LiveConfig, taken: dict[str, dict[str, int]]) -> None:
        self.current = saved
        for agent_id, skills in taken.items():
            if self._pending.get(agent_id) == skills:  # not changed again meanwhile
                del self._pending[agent_id]

    def view(self) -> LiveConfig:
        """The configuration as the floor has it now (a skill change not yet stored too)."""
        if not self._pending:
            return self.current
        cur = self.current
        model = AcdModel.model_validate(self._data()[0])
        return LiveConfig(model, cur.labels, cur.version, cur.updated_at, cur.updated_by)

    async def _persist(self, agent_id: str, by: str) -> None:
        async with self._lock:
            if agent_id not in self._pending or not self.stored:
                return  # stored already by a change meanwhile (or no store yet)
            cur = self.current
            data, taken = self._data()
            try:
                model = AcdModel.model_validate(data)
                saved = await self.store.save(model, cur.labels, cur.version, by)
            except Exception as exc:
                log.warning(
                    "acd: the skills of %s are live but not stored (%s); the next change"
                    " stores them", agent_id, exc,
                )  # fmt: skip
                return
            self._stored(saved, taken)
