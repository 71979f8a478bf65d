"""Where a database's spool lives: one sub-directory of ``store.spool_dir`` per URL."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy.engine import make_url


def spool_path(spool_dir: str | Path, url: str) -> Path:
    """The spool of one database: a sub-directory of ``spool_dir`` named after the URL.

    Spooled events belong to the database they were meant for: replaying them
    into another one (a changed ``store.url``, or test servers sharing the
    default ``var/spool``) would be wrong, so each URL (without its password)
    gets its own directory, readable name plus a short hash.
    """
    u = make_url(url)
    ident = u.set(password=None).render_as_string(hide_password=False)
    readable = "-".join(
        str(part)
        for part in (u.get_backend_name(), u.host, u.port, Path(u.database or "").name)
        if part
    )
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", readable)[:60]
    return Path(spool_dir) / f"{readable}-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"
