"""Configuration: a YAML file plus ``CCSERVER_...`` environment variables.

Environment variables override the file (nested with ``__``, e.g.
``CCSERVER_AMI__SECRET``). Everything is validated at start; a bad value is
reported as ``field.path: problem``, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cti.connection import AmiSettings


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AmiConfig(_Section):
    """How to reach Asterisk's manager interface."""

    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(default="ccserver", min_length=1)
    secret: SecretStr = SecretStr("")
    events: str = "system,call,dialplan,user,dtmf,agent,agi"
    backoff_min_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    ping_interval_s: float = Field(default=10.0, gt=0)
    ping_timeout_s: float = Field(default=5.0, gt=0)
    action_timeout_s: float = Field(default=10.0, gt=0)
    # a full resync this often besides the one after every login: ends calls
    # whose Hangup was missed and corrects agent states (the watchdog)
    reconcile_every_s: float = Field(default=60.0, gt=0)

    def to_settings(self) -> AmiSettings:
        """The CTI client's settings (the secret unwrapped only here)."""
        return AmiSettings(
            host=self.host,
            port=self.port,
            username=self.username,
            secret=self.secret.get_secret_value(),
            events=self.events,
            backoff_min_s=self.backoff_min_s,
            backoff_max_s=self.backoff_max_s,
            ping_interval_s=self.ping_interval_s,
            ping_timeout_s=self.ping_timeout_s,
            action_timeout_s=self.action_timeout_s,
        )


class HttpConfig(_Section):
    """The HTTP API, /healthz and /metrics."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: list[SecretStr] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)


class StoreConfig(_Section):
    """Where call events are recorded."""

    url: str = "sqlite+aiosqlite:///var/ccserver.db"
    batch_size: int = Field(default=5000, ge=1)  # rows per COPY (bench: 500 gives 36k/s)
    flush_interval_s: float = Field(default=0.2, gt=0)
    queue_size: int = Field(default=50_000, ge=100)
    # events are appended here before the database write, so a crash or an
    # unreachable database loses nothing; None keeps them in memory only
    spool_dir: str | None = "var/spool"
    spool_fsync: bool = False  # fsync each spool write: survives a power cut, not only a crash


class LogConfig(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HotlineConfig(_Section):
    """The dialplan names ccserver drives (see asterisk/extensions.conf)."""

    number: str = Field(default="100", pattern=r"^[0-9]+$")
    hold_context: str = "cc-hold"
    deliver_context: str = "cc-deliver"
    wait_context: str = "cc-wait"  # max wait reached: callback offer / announcement
    # outbound callbacks: PJSIP/<number>@<trunk> into <callback_context>,<script>,1
    callback_context: str = "cc-callback"
    trunk: str = "trunk"
    callback_answer_s: float = Field(default=30, gt=0, le=300)
    callback_attempts: int = Field(default=3, ge=1, le=10)
    callback_retry_s: float = Field(default=300, ge=0)


class IvrSection(_Section):
    """The FastAGI IVR and the account backend behind balance inquiries."""

    config: str | None = None  # e.g. config/ivr.example.yaml; no IVR without it
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)
    accounts: Literal["db", "http"] = "db"
    accounts_url: str | None = None  # the billing system, for accounts: http
    accounts_token: SecretStr | None = None
    accounts_timeout_s: float = Field(default=2.0, gt=0, le=30)
    accounts_retries: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _http_needs_url(self) -> IvrSection:
        if self.accounts == "http" and not self.accounts_url:
            raise ValueError("accounts: http needs accounts_url")
        return self


class AcdSection(_Section):
    """The ACD: where its queues and agents are configured."""

    config: str | None = None  # e.g. config/acd.example.yaml; no ACD without it
    tick_s: float = Field(default=0.5, gt=0)
    auto_ready: bool = False  # log every agent in and ready at start (demo)


class ReportsSection(_Section):
    """How reports compute service level and abandons (README "Reports")."""

    service_level_variant: Literal["answered_only", "abandons_met", "abandons_against"] = (
        "answered_only"
    )
    short_abandon_s: float = Field(default=5.0, ge=0)
    repeat_window_h: float = Field(default=24.0, gt=0)
    default_threshold_s: float = Field(default=20.0, gt=0)  # queues without an ACD config
    max_range_days: int = Field(default=92, ge=1)


class Settings(BaseSettings):
    """All of ccserver's settings."""

    model_config = SettingsConfigDict(
        env_prefix="CCSERVER_", env_nested_delimiter="__", extra="forbid"
    )

    ami: AmiConfig = Field(default_factory=AmiConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    hotline: HotlineConfig = Field(default_factory=HotlineConfig)
    acd: AcdSection = Field(default_factory=AcdSection)
    ivr: IvrSection = Field(default_factory=IvrSection)
    reports: ReportsSection = Field(default_factory=ReportsSection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment overrides the file, which arrives as init kwargs
        return (env_settings, init_settings)


def format_errors(exc: ValidationError, sep: str = "\n") -> str:
    """``field.path: problem`` for each error of a pydantic validation."""
    return sep.join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()
    )


def read_yaml(path: str | Path, error: type[ValueError]) -> Any:
    """A YAML file's data; unreadable or invalid files raise ``error`` with a clear message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None


def load_config(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raises :class:`ConfigError`."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path, ConfigError)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded or {}
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
