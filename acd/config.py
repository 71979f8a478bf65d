"""Loading the ACD's queues, agents and simulation scenarios from YAML (validated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .engine import EngineSettings
from .model import Agent, EscalationStep, QueueConfig, Strategy
from .service_level import SL_VARIANTS
from .simulation import AgentBehaviour, QueueTraffic, SimulationSpec


class AcdConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepModel(_Model):
    after_s: float = Field(gt=0)
    lower_levels_by: int = Field(default=0, ge=0, le=9)
    drop_skills: list[str] = Field(default_factory=list)
    add_skills: dict[str, int] = Field(default_factory=dict)
    open_to_queue: str | None = None


class QueueModel(_Model):
    name: str = Field(min_length=1)
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = 0
    service_level: float = Field(default=0.8, gt=0, le=1)
    within_s: float = Field(default=20, gt=0)
    wrap_up_s: float = Field(default=30, ge=0)
    ring_timeout_s: float = Field(default=15, gt=0)
    max_wait_s: float | None = Field(default=None, gt=0)
    max_wait_action: Literal["overflow", "callback", "announce"] = "overflow"
    overflow_to: str | None = None
    escalation: list[StepModel] = Field(default_factory=list)
    strategy: Strategy = Strategy.LONGEST_IDLE
    preferred_agent_timeout_s: float = Field(default=30, ge=0)
    # the agent desktop's wrap-up asks for one of the disposition codes before it ends
    disposition_required: bool = False
    # the shell records this queue's conversations (MixMonitor when the call connects)
    record: bool = False
    # several Asterisk nodes: offer calls to seats on other nodes too (inter-node trunk)
    cross_node: bool = False

    @model_validator(mode="after")
    def _levels(self) -> QueueModel:
        for skill, level in self.skills.items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill {skill}: level {level} is not within 1-10")
        return self

    def build(self) -> QueueConfig:
        return QueueConfig(
            name=self.name,
            skills=tuple(sorted(self.skills.items())),
            priority=self.priority,
            sl_target=self.service_level,
            sl_threshold_s=self.within_s,
            wrap_up_s=self.wrap_up_s,
            ring_timeout_s=self.ring_timeout_s,
            max_wait_s=self.max_wait_s,
            max_wait_action=self.max_wait_action,
            overflow_to=self.overflow_to,
            escalation=tuple(
                EscalationStep(
                    s.after_s,
                    s.lower_levels_by,
                    frozenset(s.drop_skills),
                    tuple(sorted(s.add_skills.items())),
                    s.open_to_queue,
                )
                for s in sorted(self.escalation, key=lambda s: s.after_s)
            ),
            strategy=self.strategy,
            preferred_agent_timeout_s=self.preferred_agent_timeout_s,
            cross_node=self.cross_node,
        )


class AgentModel(_Model):
    id: str = Field(min_length=1)
    name: str = ""
    endpoint: str = Field(pattern=r"^[0-9A-Za-z_-]+$")
    skills: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _levels(self) -> AgentModel:
        for skill, level in self.skills.items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill {skill}: level {level} is not within 1-10")
        return self

    def build(self) -> Agent:
        return Agent(self.id, self.name or self.id, self.endpoint, dict(self.skills))


class AcdModel(_Model):
    reason_codes: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "training", "back office", "no answer"]
    )
    # how a call ended, as the agent files it at wrap-up (the agent desktop; call reports)
    disposition_codes: list[str] = Field(
        default_factory=lambda: ["resolved", "follow-up", "escalated", "wrong number"]
    )
    aging_s: float = Field(default=60, gt=0)
    vip_boost: float = 10
    vip_numbers: list[str] = Field(default_factory=list)
    resume_window_s: float = Field(default=120, ge=0)
    no_answer_not_ready: bool = True
    callback_answer_s: float = Field(default=30, gt=0)
    callback_attempts: int = Field(default=3, ge=1, le=10)
    callback_retry_s: float = Field(default=120, ge=0)
    default_queue: str | None = None
    queues: list[QueueModel] = Field(min_length=1)
    agents: list[AgentModel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AcdModel:
        names = {q.name for q in self.queues}
        for q in self.queues:
            for target in [q.overflow_to] + [s.open_to_queue for s in q.escalation]:
                if target is not None and target not in names:
                    raise ValueError(f"queue {q.name}: unknown queue {target!r}")
        if self.default_queue is not None and self.default_queue not in names:
            raise ValueError(f"default_queue: unknown queue {self.default_queue!r}")
        ids = [a.id for a in self.agents]
        if len(ids) != len(set(ids)):
            raise ValueError("agent ids must be unique")
        endpoints = [a.endpoint for a in self.agents]
        if len(endpoints) != len(set(endpoints)):
            raise ValueError("agent endpoints must be unique (one softphone per agent)")
        return self

    def settings(self) -> EngineSettings:
        return EngineSettings(
            aging_s=self.aging_s,
            vip_boost=self.vip_boost,
            resume_window_s=self.resume_window_s,
            no_answer_reason="no answer" if self.no_answer_not_ready else None,
            reason_codes=tuple(self.reason_codes),
            callback_answer_s=self.callback_answer_s,
            callback_attempts=self.callback_attempts,
            callback_retry_s=self.callback_retry_s,
        )


class TrafficModel(_Model):
    queue: str
    calls_per_hour: float = Field(gt=0)
    aht_s: float = Field(gt=0)
    patience_s: float | None = Field(default=None, gt=0)
    vip_share: float = Field(default=0, ge=0, le=1)


class SimulationModel(_Model):
    acd: AcdModel
    traffic: list[TrafficModel] = Field(min_length=1)
    hours: float = Field(default=10, gt=0)
    seed: int = 1
    answer_delay_s: float = Field(default=0, ge=0)
    no_answer_prob: float = Field(default=0, ge=0, le=1)
    sl_variant: Literal["answered_only", "abandons_met", "abandons_against"] = "answered_only"

    def build(self) -> SimulationSpec:
        assert self.sl_variant in SL_VARIANTS
        return SimulationSpec(
            queues=tuple(q.build() for q in self.acd.queues),
            agents=tuple(a.build() for a in self.acd.agents),
            traffic=tuple(
                QueueTraffic(t.queue, t.calls_per_hour, t.aht_s, t.patience_s, t.vip_share)
                for t in self.traffic
            ),
            hours=self.hours,
            seed=self.seed,
            behaviour=AgentBehaviour(self.answer_delay_s, self.no_answer_prob),
            engine=self.acd.settings(),
            sl_variant=self.sl_variant,
        )


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()
    )


def _read(path: str | Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AcdConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise AcdConfigError(f"{path} is not valid YAML: {exc}") from None


def load_acd(path: str | Path) -> AcdModel:
    """Read and validate an ACD configuration file."""
    try:
        return AcdModel.model_validate(_read(path))
    except ValidationError as exc:
        raise AcdConfigError(_errors(exc)) from None


def load_simulation(path: str | Path) -> SimulationModel:
    """Read and validate a simulation scenario."""
    try:
        return SimulationModel.model_validate(_read(path))
    except ValidationError as exc:
        raise AcdConfigError(_errors(exc)) from None
