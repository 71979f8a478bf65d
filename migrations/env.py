"""Alembic environment (async engines: asyncpg, aiosqlite)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store.schema import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from ccserver.config import load_config

        url = load_config().store.url
    return url


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


# seconds to wait for PostgreSQL to accept the connection (asyncpg waits 60 by
# default): a host that drops packets fails ``db upgrade`` and a start promptly
CONNECT_TIMEOUT_S = 10


async def _run_online() -> None:
    url = _url()
    connect_args = {"timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    engine = create_async_engine(url, connect_args=connect_args)
    async with engine.connect() as conn:
        await conn.run_sync(_migrate)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
