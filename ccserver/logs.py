"""Logging set-up: text or JSON lines, with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

# AMI headers and fields whose values must never appear in a log line
_SECRET_FIELDS = re.compile(r"(?i)\b(secret|key|pin|password|token)(\s*[:=]\s*)(\S+)")


class RedactSecrets(logging.Filter):
    """Replaces known secret values, and values of secret-named fields, with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _SECRET_FIELDS.sub(r"\1\2***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger for a ccserver process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic lists its plugins at INFO on every start; the migrations it runs stay visible
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # the database drivers log every statement's parameters (caller numbers) at DEBUG
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
