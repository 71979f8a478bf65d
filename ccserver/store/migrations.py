"""The event store's schema, brought up to date with Alembic."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_sqlite_dir(url: str) -> None:
    """Create the missing directory of a SQLite database file, and say so.

    SQLite would fail with "unable to open database file"; creating it keeps
    a first start simple, and the warning shows a mistyped path at once.
    """
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and not url.endswith(":memory:"):
        folder = Path(url[len(prefix) :].split("?", 1)[0]).parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            log.warning("store: created %s for the SQLite database", folder.resolve())


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest Alembic revision (blocking; run in a thread)."""
    from alembic import command
    from alembic.config import Config

    ensure_sqlite_dir(url)
    # inside the package (ccserver/migrations), so an installed wheel finds them too
    scripts = Path(__file__).resolve().parents[1] / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
