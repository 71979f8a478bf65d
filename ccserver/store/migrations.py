"""The event store's schema, brought up to date with Alembic."""

from __future__ import annotations

from pathlib import Path


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite database file (SQLite does not)."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and not url.endswith(":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest Alembic revision (blocking; run in a thread)."""
    from alembic import command
    from alembic.config import Config

    ensure_sqlite_dir(url)
    root = Path(__file__).resolve().parents[2]
    cfg = Config()
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
