"""IVR menus as configuration: a YAML file of nodes, validated at start.

A node is one of:

- ``collect``: read a number of ``min_digits``..``max_digits`` keys (``#``
  ends it) into a ``CC_`` channel variable, with the same retries;
- ``menu``: play prompts, read one key, go where the key says. Nothing or a
  key not on the menu plays the retry prompt and asks again; after
  ``retries`` the caller goes to ``on_fail`` (by default the fallback queue),
  never to silence.
- ``action``: a self-service action (``balance``, ``fault_report``,
  ``outage_notice``) with a next node per outcome.
- ``queue``: hand the call to the ACD with a queue, skills and priority;
  on the way the caller may opt in to the post-call survey, and is offered a
  callback instead of waiting when the expected wait is long.
- ``end``: play prompts and hang up (a completed self-service path).

Prompts are Asterisk sound names; the caller's language (``CHANNEL(language)``)
picks the prompt set, so ``cc-welcome`` plays ``sounds/es/cc-welcome`` for a
caller who chose Spanish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DIGITS = "0123456789*#"
# a plain sound name, as Asterisk finds it in its sounds folder for the caller's
# language: no folder, no "..", nothing a STREAM FILE could take as a path
SOUND_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
SoundName = Annotated[str, Field(pattern=SOUND_NAME)]
PromptList = list[SoundName]


class IvrConfigError(ValueError):
    """An IVR file that cannot be used; the message names the node and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(_Model):
    """Where one key of a menu leads."""

    goto: str
    language: str | None = None  # choosing this option sets the caller's language
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)


class MenuNode(_Model):
    type: Literal["menu"]
    prompt: PromptList = Field(min_length=1)
    options: dict[str, Option | str] = Field(min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=9)
    retry_prompt: SoundName | None = None
    on_fail: str | None = None  # node after the last retry; default: the fallback queue

    def option(self, key: str) -> Option | None:
        opt = self.options.get(key)
        return Option(goto=opt) if isinstance(opt, str) else opt


class CollectNode(_Model):
    """Read a number (``#`` ends it early) into a ``CC_`` channel variable, then go on."""

    type: Literal["collect"]
    prompt: PromptList = Field(min_length=1)
    variable: str = Field(pattern=r"^CC_[A-Z0-9_]{1,30}$")
    min_digits: int = Field(default=1, ge=1, le=32)
    max_digits: int = Field(default=10, ge=1, le=32)
    timeout_s: float = Field(default=6.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=9)
    retry_prompt: SoundName | None = None
    next: str
    on_fail: str | None = None  # default: the fallback queue


class ActionNode(_Model):
    type: Literal["action"]
    action: Literal["balance", "fault_report", "outage_notice"]
    next: dict[str, str] = Field(default_factory=dict)  # outcome -> node


# the outcomes each action can end with; "agent" defaults to the fallback queue
ACTION_OUTCOMES: dict[str, tuple[str, ...]] = {
    "balance": ("done", "agent"),
    "fault_report": ("done", "agent"),
    "outage_notice": ("continue",),
}


class QueueNode(_Model):
    type: Literal["queue"]
    queue: str
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    priority: float = Field(default=0, ge=-100, le=100)
    prompt: PromptList = Field(default_factory=list)
    offer_callback: bool = True  # offer a callback when the expected wait is long


class EndNode(_Model):
    type: Literal["end"]
    prompt: PromptList = Field(default_factory=list)


Node = Annotated[
    MenuNode | CollectNode | ActionNode | QueueNode | EndNode, Field(discriminator="type")
]


class Language(_Model):
    skill: str | None = None  # the ACD skill a caller of this language needs


class Tier(_Model):
    """An account tier: key accounts get the green channel."""

    priority: float = 0
    vip: bool = False


class FaultCategory(_Model):
    digit: str = Field(pattern=r"^[0-9]$")
    name: str = Field(pattern=r"^[a-z_]+$")
    prompt: SoundName
    due_hours: float = Field(gt=0)


class BalanceSettings(_Model):
    account_digits: int = Field(default=8, ge=4, le=16)
    pin_digits: int = Field(default=4, ge=4, le=8)
    pin_attempts: int = Field(default=3, ge=1, le=5)
    account_attempts: int = Field(default=3, ge=1, le=5)
    timeout_s: float = Field(default=8.0, gt=0, le=60)


class FaultSettings(_Model):
    categories: list[FaultCategory] = Field(min_length=1)
    retries: int = Field(default=2, ge=0, le=9)
    timeout_s: float = Field(default=6.0, gt=0, le=60)


class CallbackOffer(_Model):
    """Callback instead of waiting, offered at the hand-off to a queue."""

    enabled: bool = True
    min_expected_wait_s: float = Field(default=120, ge=0)
    timeout_s: float = Field(default=5.0, gt=0, le=60)


# prompt roles the actions play; each may be renamed in the file's `prompts:`
DEFAULT_PROMPTS: dict[str, str] = {
    "retry": "cc-invalid",
    "goodbye": "cc-goodbye",
    "enter_account": "cc-enter-account",
    "unknown_account": "cc-unknown-account",
    "enter_pin": "cc-enter-pin",
    "wrong_pin": "cc-wrong-pin",
    "your_balance_is": "cc-your-balance-is",
    "you_owe": "cc-you-owe",
    "currency_major": "cc-dollars",
    "currency_minor": "cc-cents",
    "due_date_is": "cc-due-date-is",
    "backend_down": "cc-service-unavailable",
    "transfer": "cc-transfer-to-agent",
    "fault_category": "cc-fault-category",
    "callback_number_is": "cc-callback-number-is",
    "confirm_or_change": "cc-press-1-confirm-2-change",
    "enter_callback_number": "cc-enter-callback-number",
    "ticket_number_is": "cc-ticket-number-is",
    "ticket_due": "cc-ticket-due",
    "outage_known": "cc-outage-known",
    "outage_fix_expected": "cc-outage-fix-expected",
    "outage_callback_offer": "cc-outage-press-1-callback",
    "callback_registered": "cc-callback-registered",
    "survey_offer": "cc-survey-press-1",
    "survey_rate": "cc-survey-rate-1-5",
    "survey_thanks": "cc-survey-thanks",
    "wait_callback_offer": "cc-long-wait-press-1-callback",
    "repair_confirm": "cc-repair-done-press-1",
    "repair_rate": "cc-repair-rate-1-5",
    "outage_resolved": "cc-outage-resolved",
    "callback_connecting": "cc-callback-connecting",
    "still_waiting": "cc-still-waiting",
}


class IvrConfig(_Model):
    """The whole IVR: languages, nodes and the actions' settings."""

    start: str
    fallback_queue: str
    default_language: str
    languages: dict[str, Language] = Field(min_length=1)
    tiers: dict[str, Tier] = Field(default_factory=dict)
    prompts: dict[str, SoundName] = Field(default_factory=dict)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    fault: FaultSettings
    callback: CallbackOffer = Field(default_factory=CallbackOffer)
    survey_after_call: bool = True
    nodes: dict[str, Node] = Field(min_length=1)

    def prompt(self, role: str) -> str:
        """The sound file for a prompt role."""
        return self.prompts.get(role, DEFAULT_PROMPTS[role])

    @model_validator(mode="after")
    def _check_graph(self) -> IvrConfig:
        problems: list[str] = []
        unknown_roles = set(self.prompts) - set(DEFAULT_PROMPTS)
        if unknown_roles:
            problems.append(f"prompts: unknown prompt roles {sorted(unknown_roles)}")
        if self.start not in self.nodes:
            problems.append(f"start: no node named {self.start!r}")
        if self.default_language not in self.languages:
            problems.append(f"default_language: {self.default_language!r} is not in languages")
        digits = [c.digit for c in self.fault.categories]
        if len(set(digits)) != len(digits):
            problems.append("fault.categories: two categories use the same digit")
        for name, node in self.nodes.items():
            problems.extend(f"nodes.{name}: {p}" for p in self._node_problems(node))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _node_problems(
        self, node: MenuNode | CollectNode | ActionNode | QueueNode | EndNode
    ) -> list[str]:
        out: list[str] = []

        def target(where: str, name: str | None) -> None:
            if name is not None and name not in self.nodes:
                out.append(f"{where} goes to {name!r}, which is not a node")

        if isinstance(node, MenuNode):
            for key in node.options:
                opt = node.option(key)
                assert opt is not None
                if len(key) != 1 or key not in DIGITS:
                    out.append(f"options: {key!r} is not a single key (0-9, *, #)")
                target(f"option {key}", opt.goto)
                if opt.language is not None and opt.language not in self.languages:
                    out.append(f"option {key}: unknown language {opt.language!r}")
            target("on_fail", node.on_fail)
        elif isinstance(node, CollectNode):
            target("next", node.next)
            target("on_fail", node.on_fail)
            if node.min_digits > node.max_digits:
                out.append("min_digits is more than max_digits")
        elif isinstance(node, ActionNode):
            allowed = ACTION_OUTCOMES[node.action]
            for outcome, name in node.next.items():
                if outcome not in allowed:
                    out.append(f"next: {node.action} has no outcome {outcome!r} (has {allowed})")
                target(f"next.{outcome}", name)
            if "continue" in allowed and "continue" not in node.next:
                out.append(f"next.continue is required for {node.action}")
        return out

    def all_prompts(self) -> list[str]:
        """Every sound file this IVR can play (for the README and deployment)."""
        names = {self.prompt(role) for role in DEFAULT_PROMPTS}
        names.update(c.prompt for c in self.fault.categories)
        for node in self.nodes.values():
            if isinstance(node, MenuNode | CollectNode):
                names.update(node.prompt)
                if node.retry_prompt:
                    names.add(node.retry_prompt)
            elif isinstance(node, QueueNode | EndNode):
                names.update(node.prompt)
        return sorted(names)


def parse_ivr(data: object, source: str = "IVR config") -> IvrConfig:
    """Validate IVR data; raises :class:`IvrConfigError` naming each problem."""
    if not isinstance(data, dict):
        raise IvrConfigError(f"{source}: the top level must be a mapping")
    try:
        return IvrConfig.model_validate(data)
    except ValidationError as exc:
        # ``field.path: problem``, as ccserver's own config errors read
        problems = (
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise IvrConfigError(f"{source}: {'; '.join(problems)}") from None


def _read_yaml(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise IvrConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IvrConfigError(f"{path} is not valid YAML: {exc}") from None


def load_ivr(path: str | Path) -> IvrConfig:
    """Load and validate an IVR file."""
    return parse_ivr(_read_yaml(path), str(path))
