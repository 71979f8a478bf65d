"""Scenario files for the simulator: the hotline's callers and agents, seeded.

A scenario is YAML validated by pydantic; an invalid file raises
:class:`ScenarioError` whose message names the field and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ccserver.config import format_errors, read_yaml


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with a message naming the field."""


class AgentScript(BaseModel):
    """How one agent's softphone behaves."""

    model_config = ConfigDict(extra="forbid")

    extension: str = Field(pattern=r"^[0-9]{2,8}$")
    name: str = ""
    registered: bool = True
    answer_delay_s: float = Field(default=3.0, ge=0)
    talk_mean_s: float = Field(default=180.0, gt=0)
    no_answer_prob: float = Field(default=0.0, ge=0, le=1)
    busy_prob: float = Field(default=0.0, ge=0, le=1)
    # odds that the agent puts a call on hold once (half-way through the talk), and for how
    # long on average; 0: never (no random number is drawn, so seeded runs stay alike)
    hold_prob: float = Field(default=0.0, ge=0, le=1)
    hold_mean_s: float = Field(default=30.0, gt=0)
    # the desk phone honours Broadsoft remote-control NOTIFYs (Event: hold / talk), as
    # Yealink, Polycom, Grandstream and Snom do: ccserver's desk holds through it
    remote_control: bool = True
    # mean seconds between the softphone dropping its registration (0 = never)
    unregister_every_s: float = Field(default=0.0, ge=0)
    unregistered_for_s: float = Field(default=30.0, ge=0)
    # seconds between qualify (OPTIONS) pings of this seat; default: the scenario's
    qualify_s: float | None = Field(default=None, gt=0)


class DtmfMix(BaseModel):
    """One DTMF script and how often callers use it."""

    model_config = ConfigDict(extra="forbid")

    script: str = Field(pattern=r"^[0-9*#wh]*$")
    weight: float = Field(default=1.0, gt=0)


class CallerTraffic(BaseModel):
    """Callers arriving at the hotline."""

    model_config = ConfigDict(extra="forbid")

    calls_per_hour: float = Field(default=120.0, ge=0)
    max_calls: int | None = Field(default=None, ge=0)
    patience_mean_s: float = Field(default=90.0, gt=0)
    numbers: int = Field(default=500, ge=1, description="distinct caller numbers")
    number_prefix: str = Field(default="55501", pattern=r"^[0-9]*$")
    vip_numbers: list[str] = Field(default_factory=list)
    dtmf: list[DtmfMix] = Field(default_factory=lambda: [DtmfMix(script="")])


class Scenario(BaseModel):
    """A whole simulated hotline."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 1
    hotline: str = Field(default="100", pattern=r"^[0-9]+$")
    ring_timeout_s: float = Field(default=15.0, gt=0)
    agents: list[AgentScript] = Field(default_factory=list)
    callers: CallerTraffic = Field(default_factory=CallerTraffic)
    missing_prompts: list[str] = Field(default_factory=list)
    # the AORs' qualify_frequency: a softphone that died unnoticed is found out at the next ping
    qualify_s: float = Field(default=30.0, gt=0)

    @field_validator("agents")
    @classmethod
    def _unique_extensions(cls, agents: list[AgentScript]) -> list[AgentScript]:
        seen: set[str] = set()
        for agent in agents:
            if agent.extension in seen:
                raise ValueError(f"extension {agent.extension} appears twice")
            seen.add(agent.extension)
        return agents


def parse_scenario(data: Any) -> Scenario:
    """Validate already-loaded scenario data."""
    try:
        return Scenario.model_validate(data or {})
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, "; ")) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    return parse_scenario(read_yaml(path, ScenarioError))


def default_scenario() -> Scenario:
    """The built-in demo hotline shipped with the package (``hotline.yaml``)."""
    from importlib import resources

    text = (resources.files("ccserver.sim") / "hotline.yaml").read_text(encoding="utf-8")
    return parse_scenario(yaml.safe_load(text))
