"""The ACD's live configuration: stored in the database, applied without a restart."""

from .live import ChangeRefused, InvalidConfiguration, LiveConfiguration
from .store import ConfigStore, LiveConfig, StaleConfiguration, StoredConfigError, code_kinds

__all__ = [
    "ChangeRefused",
    "ConfigStore",
    "InvalidConfiguration",
    "LiveConfig",
    "LiveConfiguration",
    "StaleConfiguration",
    "StoredConfigError",
    "code_kinds",
]
