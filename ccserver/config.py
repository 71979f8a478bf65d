"""Configuration: a YAML file plus ``CCSERVER_...`` environment variables.

Environment variables override the file (nested with ``__``, e.g.
``CCSERVER_AMI__SECRET``). Everything is validated at start; a bad value is
reported as ``field.path: problem``, never as a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import typing
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cti.connection import AmiSettings


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


MIN_TOKEN_CHARS = 12  # an API token shorter than this is refused at start


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


NODE_NAME = r"^[A-Za-z0-9_]{1,32}$"  # also Asterisk's systemname: no "-" (the uniqueid's separator)
DEFAULT_NODE = "default"


class AmiConfig(_Section):
    """How to reach Asterisk's manager interface (one node of several, or the only one)."""

    # the node's short id (README "Scaling out"): with several nodes, also its Asterisk's
    # systemname (asterisk.conf), which makes its Uniqueid/Linkedid "<name>-..." unique
    name: str = Field(default=DEFAULT_NODE, pattern=NODE_NAME)
    # cross-node delivery: per other node, the PJSIP endpoint of the inter-node trunk to it
    trunk_to: dict[str, str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(default="ccserver", min_length=1)
    secret: SecretStr = SecretStr("")
    # only the event classes ccserver reads: system (FullyBooted, Shutdown, ContactStatus),
    # call (channels, dials, bridges, device states), dialplan (Newexten, VarSet) and
    # dtmf; not agi, whose AGIExec events would carry what callers key in
    events: str = "system,call,dialplan,dtmf"
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
    # a connection must finish each request's headers within this (slowloris), and an
    # idle keep-alive connection is closed after it
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)  # the whole body, once started
    max_connections: int = Field(default=512, ge=1, le=100_000)
    max_connections_per_source: int = Field(default=64, ge=1, le=100_000)

    @field_validator("api_tokens")
    @classmethod
    def _tokens_long_enough(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        # an empty token (an unset template variable) would open the API
        for token in tokens:
            value = token.get_secret_value()
            if len(value.strip()) < MIN_TOKEN_CHARS or value != value.strip():
                raise ValueError(
                    f"every API token needs at least {MIN_TOKEN_CHARS} characters, "
                    "without spaces around it"
                )
        return tokens


STORE_URLS = (
    "use sqlite+aiosqlite:///PATH/FILE.db or postgresql+asyncpg://USER:PASSWORD@HOST/DATABASE"
)


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
    # months of the event log and of the reports' projection of it (call_records,
    # agent_intervals) kept (None: forever); PostgreSQL drops whole monthly
    # partitions once all of a month is that old, SQLite deletes the rows
    retention_months: int | None = Field(default=None, ge=1)
    partition_months_ahead: int = Field(default=3, ge=0, le=24)  # PostgreSQL partitions made ahead

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        # caught here, a bad URL is one config line instead of a driver's traceback
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            driver = make_url(url).drivername
        except ArgumentError:
            raise ValueError(f"{url!r} is not a database URL; {STORE_URLS}") from None
        if driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(f"{driver!r} is not a supported store; {STORE_URLS}")
        return url

    @model_validator(mode="after")
    def _spool_beside_sqlite(self) -> StoreConfig:
        # unset: a SQLite store keeps its spool beside its file (var/ccserver.db ->
        # var/spool), so a store in a temporary directory leaves nothing in var/
        if "spool_dir" not in self.model_fields_set:
            db = sqlite_file(self.url)
            if db is not None:
                self.spool_dir = str(Path(db).parent / "spool")
        return self


class LogConfig(_Section):
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HotlineConfig(_Section):
    """The dialplan names ccserver drives (see asterisk/extensions.conf)."""

    number: str = Field(default="100", pattern=r"^[0-9]+$")
    hold_context: str = "cc-hold"
    deliver_context: str = "cc-deliver"
    deliver_remote_context: str = "cc-deliver-remote"  # several nodes: over the inter-node trunk
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
    # who may open FastAGI sessions: the Asterisk hosts (addresses or networks)
    agi_allow: list[IPvAnyNetwork] = Field(
        default_factory=lambda: list[IPv4Network | IPv6Network](
            [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]
        )
    )
    # optional shared secret: the dialplan's CC_AGI is then agi://host:port/<secret>
    agi_secret: SecretStr | None = None
    agi_max_sessions: int = Field(default=500, ge=1, le=100_000)
    agi_max_sessions_per_host: int = Field(default=500, ge=1, le=100_000)
    # a session's channel must be one Asterisk reported over AMI within this time
    agi_channel_wait_s: float = Field(default=2.0, ge=0, le=30)
    # PIN failures per account across calls: locked after this many within the window
    pin_max_failures: int = Field(default=5, ge=1, le=100)
    pin_window_s: float = Field(default=3600.0, gt=0)
    # numbers a callback may dial (regular expressions over the digits, full match);
    # the default: national numbers of 6 to 11 digits not starting 0 (international)
    # nor 900/976 (premium rate)
    callback_allowed: list[str] = Field(default_factory=lambda: [r"(?!0)(?!900)(?!976)\d{6,11}"])
    callback_max_per_number: int = Field(default=3, ge=1, le=1000)  # per window
    callback_max_per_caller: int = Field(default=3, ge=1, le=1000)  # per window
    callback_window_s: float = Field(default=3600.0, gt=0)

    @field_validator("agi_secret")
    @classmethod
    def _secret_fits_a_url(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,128}", secret.get_secret_value()
        ):
            raise ValueError("agi_secret needs 16-128 letters, digits, _ or -")
        return secret

    @field_validator("callback_allowed")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(
                    f"callback_allowed: {p!r} is not a regular expression: {exc}"
                ) from None
        return patterns

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
    # the center's time zone (IANA name, e.g. Asia/Shanghai): intervals and days are
    # aligned to it and reports show local times; unset: the machine's
    timezone: str | None = None

    @model_validator(mode="after")
    def _known_zone(self) -> ReportsSection:
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"timezone: {self.timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)"
                ) from None
        return self

    def zone(self) -> ZoneInfo:
        """The report time zone: ``timezone``, else the machine's."""
        return ZoneInfo(self.timezone) if self.timezone else machine_zone()


class PeopleSection(_Section):
    """Users' logins: sessions, the login throttle, the session cookie."""

    session_ttl_s: float = Field(default=12 * 3600.0, gt=0, le=30 * 86400)
    # failed logins allowed within the window, per user name and per source address
    login_max_failures_per_user: int = Field(default=5, ge=1)
    login_max_failures_per_source: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=300.0, gt=0)
    # the cookie only over HTTPS: set it when a TLS proxy is in front of ccserver
    cookie_secure: bool = False


class RecordingsSection(_Section):
    """Call recording (queues with ``record: true`` in the ACD config; README "Recording")."""

    # where ccserver reads Asterisk's recordings: Asterisk's monitor directory
    # (/var/spool/asterisk/monitor), shared with this host; unset: nothing is played back
    dir: str | None = None
    # where Asterisk writes them, when not its monitor directory: an absolute path
    # on the Asterisk host that is the same storage as ``dir``
    asterisk_dir: str | None = Field(default=None, pattern=r"^/[^\x00]*$")


# the default scorecard: id, label (zh-CN), label (en), weight, max points
_SCORECARD = (
    ("greeting", "问候与身份确认", "Greeting and identification", 1, 5),
    ("understanding", "理解客户问题", "Understood the issue", 2, 5),
    ("resolution", "问题解决", "Resolution", 3, 5),
    ("courtesy", "礼貌与语气", "Courtesy and tone", 1, 5),
    ("closing", "结束语", "Closing", 1, 5),
)


def _default_scorecard() -> list[ScoreCriterion]:
    return [
        ScoreCriterion(id=i, label_zh=zh, label_en=en, weight=w, max_points=m)
        for i, zh, en, w, m in _SCORECARD
    ]


class ScoreCriterion(_Section):
    """One line of the quality scorecard: points 0..max_points, weighted in the total."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label_zh: str = Field(min_length=1, max_length=80)  # zh-CN
    label_en: str = Field(min_length=1, max_length=80)
    weight: float = Field(default=1.0, gt=0, le=100)
    max_points: int = Field(default=5, ge=1, le=100)


class QualitySection(_Section):
    """Quality monitoring: the scorecard recorded calls are scored on."""

    scorecard: list[ScoreCriterion] = Field(
        default_factory=_default_scorecard, min_length=1, max_length=30
    )

    @field_validator("scorecard")
    @classmethod
    def _unique_ids(cls, criteria: list[ScoreCriterion]) -> list[ScoreCriterion]:
        ids = [c.id for c in criteria]
        if len(ids) != len(set(ids)):
            raise ValueError("scorecard: criterion ids must be unique")
        return criteria


# the advisory-lock key of active/standby: any number 0 to 2**63-1, the same for every process
# of one center (its default spells "ccserver" in ASCII)
DEFAULT_HA_LOCK_KEY = int.from_bytes(b"ccserver", "big") & ((1 << 63) - 1)


class HaSection(_Section):
    """Active/standby on PostgreSQL (README "Active / standby")."""

    enabled: bool = False
    # this process, as /healthz and a standby's 503 name it; it also names its spool
    # (store.spool_dir/ha-NAME), so two processes on one host need two names;
    # unset: HOSTNAME-HTTPPORT
    name: str | None = Field(default=None, min_length=1, max_length=48, pattern=r"^[\w.:@-]+$")
    lock_key: int = Field(default=DEFAULT_HA_LOCK_KEY, ge=0, lt=1 << 63)
    retry_s: float = Field(default=1.0, gt=0, le=60)  # a standby tries the lock this often
    keepalive_s: float = Field(default=1.0, gt=0, le=10)  # the active's query on its lock
    # PostgreSQL ends a lock session silent this long (idle_session_timeout), freeing
    # the lock; the active steps down after half of it without an answer
    lease_s: float = Field(default=5.0, ge=1, le=120)

    @model_validator(mode="after")
    def _lease_covers_keepalives(self) -> HaSection:
        if self.lease_s < 3 * self.keepalive_s:
            raise ValueError("lease_s must be at least 3 keepalive_s")
        return self


class Settings(BaseSettings):
    """All of ccserver's settings."""

    model_config = SettingsConfigDict(
        env_prefix="CCSERVER_", env_nested_delimiter="__", extra="forbid"
    )

    # one node (a mapping) or several (a list of mappings, each with its name)
    ami: AmiConfig | list[AmiConfig] = Field(default_factory=AmiConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    hotline: HotlineConfig = Field(default_factory=HotlineConfig)
    acd: AcdSection = Field(default_factory=AcdSection)
    ivr: IvrSection = Field(default_factory=IvrSection)
    reports: ReportsSection = Field(default_factory=ReportsSection)
    people: PeopleSection = Field(default_factory=PeopleSection)
    ha: HaSection = Field(default_factory=HaSection)
    recordings: RecordingsSection = Field(default_factory=RecordingsSection)
    quality: QualitySection = Field(default_factory=QualitySection)

    def ami_nodes(self) -> list[AmiConfig]:
        """The Asterisk nodes to follow, in configured order (one when ``ami`` is a mapping)."""
        return list(self.ami) if isinstance(self.ami, list) else [self.ami]

    @model_validator(mode="after")
    def _nodes_consistent(self) -> Settings:
        nodes = self.ami_nodes()
        if not nodes:
            raise ValueError("ami: give at least one node")
        names = [n.name for n in nodes]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            raise ValueError(f"ami: node names must differ ({', '.join(doubles)} repeated)")
        for node in nodes:
            unknown = sorted(set(node.trunk_to) - set(names) | ({node.name} & set(node.trunk_to)))
            if unknown:
                raise ValueError(
                    f"ami: node {node.name}: trunk_to names no other node: {', '.join(unknown)}"
                )
        return self

    @model_validator(mode="after")
    def _ha_needs_postgresql(self) -> Settings:
        # the advisory lock is PostgreSQL's; two processes on one SQLite file cannot share it
        if self.ha.enabled and not self.store.url.startswith("postgresql"):
            raise ValueError(
                "ha.enabled needs a PostgreSQL store (store.url postgresql+asyncpg://...)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the file arrives as init kwargs with the environment merged over it by
        # load_config (environment_overrides), which explains a bad variable in one line
        return (init_settings,)


# ``ami`` is one node or a list: pydantic names the union's branch in each error's path
_AMI_BRANCHES = {"AmiConfig", "list[AmiConfig]"}


def _plain_errors(exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """The errors' paths and messages, the ``ami`` union's branch names left out (and the
    branch that does not fit the input's shape at all)."""
    out = []
    shapeless = False
    for e in exc.errors():
        loc = tuple(e["loc"])
        if len(loc) >= 2 and loc[0] == "ami" and loc[1] in _AMI_BRANCHES:
            if e["type"] in ("list_type", "model_type", "dict_type"):
                shapeless = True
                continue
            loc = (loc[0], *loc[2:])
        out.append((loc, e["msg"]))
    if shapeless and not any(loc[:1] == ("ami",) for loc, _ in out):
        out.append((("ami",), "give a mapping (one node) or a list of nodes"))
    return out


def format_errors(exc: ValidationError, sep: str = "\n") -> str:
    """``field.path: problem`` for each error of a pydantic validation."""
    return sep.join(
        f"{'.'.join(str(p) for p in loc) or '(top level)'}: "
        f"{msg.removeprefix('Value error, ')}"  # our validators' messages stand alone
        for loc, msg in _plain_errors(exc)
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
        data = resolve_paths(data, Path(path).resolve().parent)
    data.update(overrides)
    env = environment_overrides(os.environ)
    if isinstance(data.get("ami"), list) and "ami" in env:
        raise ConfigError(
            "environment variables CCSERVER_AMI__*: ami is a list of nodes in the file; "
            "set each node's settings there"
        )
    data = merge(data, env)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


# -- the environment, paths relative to the file, the machine's time zone ----------

ENV_PREFIX = "CCSERVER_"


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(_is_list(a) for a in typing.get_args(annotation))


def _env_value(name: str, raw: str, annotation: Any) -> Any:
    """A variable's text for a field: lists as JSON or comma-separated, the rest as text."""
    if not _is_list(annotation):
        return raw
    if raw.lstrip().startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(
                f"environment variable {name}: not a JSON list; give a JSON list "
                '(["a", "b"]) or comma-separated values (a,b)'
            ) from None
        if not isinstance(value, list):
            raise ConfigError(f"environment variable {name}: not a list")
        return value
    return [item.strip() for item in raw.split(",") if item.strip()]


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings of ``CCSERVER_<SECTION>__<KEY>`` variables, as nested data.

    An unknown section or key is a ConfigError (a misspelt variable would
    otherwise be ignored in silence). A list (``http.api_tokens``) is given
    as JSON or comma-separated: ``CCSERVER_HTTP__API_TOKENS=tok1,tok2``.
    """
    sections = Settings.model_fields
    out: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        field = sections.get(section)
        if field is None:
            raise ConfigError(
                f"environment variable {name}: no section {section!r} "
                f"(sections: {', '.join(sections)}; CCSERVER_<SECTION>__<KEY>)"
            )
        model = field.annotation
        # ami: one node or a list of them; a variable sets the one node's setting
        model = next(
            (m for m in typing.get_args(model) if isinstance(m, type) and issubclass(m, BaseModel)),
            model,
        )
        fields = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        )
        key = key.partition("__")[0]
        if not key or key not in fields:
            raise ConfigError(
                f"environment variable {name}: {section} has no setting {key!r} "
                f"(settings: {', '.join(fields)})"
            )
        value = _env_value(name, environ[name], fields[key].annotation)
        out.setdefault(section, {})[key] = value
    return out


def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in, section by section."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for other stores and ``:memory:``)."""
    prefix, sep, path = url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or not path or path.startswith(":memory:"):
        return None
    return path.split("?", 1)[0]


# settings that name files: relative ones are relative to the config file's directory
_PATHS = (
    ("store", "spool_dir"), ("acd", "config"), ("ivr", "config"), ("recordings", "dir"),
)  # fmt: skip


def resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths of a config file made absolute from its directory.

    The same file then means the same thing from any working directory (a
    service manager, a container, a shell in another folder).
    """
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for section, key in _PATHS:
        value = out.get(section, {}).get(key) if isinstance(out.get(section), dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            out[section][key] = str(base / value)
    store = out.get("store")
    if isinstance(store, dict) and isinstance(store.get("url"), str):
        db = sqlite_file(store["url"])
        if db is not None and not Path(db).is_absolute():
            prefix, _, rest = store["url"].partition(":///")
            store["url"] = f"{prefix}:///{base / db}{rest[len(db) :]}"
    return out


def machine_zone() -> ZoneInfo:
    """The machine's time zone as an IANA zone (``TZ``, /etc/localtime, /etc/timezone; UTC)."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.readlink("/etc/localtime")
        names.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except OSError:
        pass
    with contextlib.suppress(OSError):
        names.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
