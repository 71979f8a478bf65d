"""Users, sessions, system tokens and the audit trail in ccserver's database.

Passwords are argon2 hashes (argon2-cffi); session and system tokens are
random and only their SHA-256 is stored, so a copy of the database lets no
one in. A token is shown once, when it is made.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.store.schema import api_tokens, audit_log, user_sessions, users
from ccserver.store.values import epoch_or_none, utc

from .model import LANGUAGES, ROLES, Principal, Role

_HASHER = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs the same time
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class UserExists(ValueError):
    """A user of that name is there already."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    agent_id: str | None
    teams: tuple[str, ...] | None
    language: str
    created_at: float
    disabled: bool
    phone: str | None = None

    def principal(self, session: str | None = None) -> Principal:
        return Principal(
            name=self.name,
            role=self.role,
            user_id=self.id,
            agent_id=self.agent_id,
            teams=self.teams,
            language=self.language,
            session=session,
            phone=self.phone,
        )


def _user(row: Any) -> User:
    teams = row.teams
    return User(
        id=row.id,
        name=row.name,
        role=cast(Role, row.role),
        agent_id=row.agent_id,
        teams=tuple(teams) if teams is not None else None,
        language=row.language,
        created_at=epoch_or_none(row.created_at) or 0.0,
        disabled=row.disabled_at is not None,
        phone=row.phone,
    )


class People:
    """The user, session, token and audit tables."""

    def __init__(
        self, engine: AsyncEngine, *, session_ttl_s: float = 12 * 3600.0,
        clock: Callable[[], float] | None = None,
    ) -> None:  # fmt: skip
        import time

        self.engine = engine
        self.session_ttl_s = session_ttl_s
        self.clock = clock or time.time

    # --- users ---------------------------------------------------------------
    async def add_user(
        self,
        name: str,
        password: str,
        role: Role,
        *,
        agent_id: str | None = None,
        teams: Sequence[str] | None = None,
        language: str = "zh-CN",
        phone: str | None = None,
    ) -> User:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        if role == "agent" and not agent_id:
            raise ValueError("an agent needs the ACD agent id it logs in as (--agent)")
        hashed = await asyncio.to_thread(_HASHER.hash, password)  # ~50 ms: off the loop
        values = {
            "name": name,
            "password_hash": hashed,
            "role": role,
            "agent_id": agent_id if role == "agent" else None,
            "teams": list(teams) if teams is not None and role == "supervisor" else None,
            "language": language,
            "phone": phone,
            "created_at": utc(self.clock()),
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(users).values(**values))
        except IntegrityError:
            raise UserExists(f"a user {name!r} exists already") from None
        found = await self.user(name)
        assert found is not None
        return found

    async def user(self, name: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return _user(row) if row is not None else None

    async def users(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.name))).all()
        return [_user(r) for r in rows]

    async def set_password(self, name: str, password: str) -> bool:
        hashed = await asyncio.to_thread(_HASHER.hash, password)
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(users).where(users.c.name == name).values(password_hash=hashed)
            )
            found = (await conn.execute(select(users.c.id).where(users.c.name == name))).first()
            if found is not None:  # a new password ends every session of the old one
                await conn.execute(delete(user_sessions).where(user_sessions.c.user_id == found.id))
        return bool(done.rowcount)

    async def set_language(self, user_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}")
        async with self.engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(language=language))

    async def set_phone(self, name: str, phone: str | None) -> bool:
        """Set (None: clear) the user's own phone; False when there is no such user."""
        async with self.engine.begin() as conn:
            done = await conn.execute(update(users).where(users.c.name == name).values(phone=phone))
        return bool(done.rowcount)

    async def disable(self, name: str) -> bool:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
            if row is None or row.disabled_at is not None:
                return False
            await conn.execute(
                update(users).where(users.c.id == row.id).values(disabled_at=utc(self.clock()))
            )
            await conn.execute(delete(user_sessions).where(user_sessions.c.user_id == row.id))
        return True

    async def check_password(self, name: str, password: str) -> User | None:
        """The user if the password is theirs and they are not disabled; else None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        ok: bool
        try:
            ok = await asyncio.to_thread(_HASHER.verify, stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row.disabled_at is not None:
            return None
        return _user(row)

    # --- sessions --------------------------------------------------------------
    async def open_session(self, user: User, source: str | None) -> str:
        """A new session's token (to set as the cookie); only its hash is kept."""
        token = "ccs_" + secrets.token_urlsafe(32)
        now = self.clock()
        async with self.engine.begin() as conn:
            # expired sessions go as new ones come: the table does not grow without end
            await conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < utc(now)))
            await conn.execute(
                insert(user_sessions).values(
                    token_hash=digest(token),
                    user_id=user.id,
                    created_at=utc(now),
                    expires_at=utc(now + self.session_ttl_s),
                    source=(source or "")[:64] or None,
                )
            )
        return token

    async def close_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(user_sessions).where(user_sessions.c.token_hash == token_hash)
            )

    async def by_session(self, token: str) -> Principal | None:
        hashed = digest(token)
        query = (
            select(users, user_sessions.c.expires_at)
            .join(user_sessions, user_sessions.c.user_id == users.c.id)
            .where(user_sessions.c.token_hash == hashed)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.disabled_at is not None:
            return None
        if (epoch_or_none(row.expires_at) or 0.0) <= self.clock():
            return None
        return _user(row).principal(session=hashed)

    # --- system tokens -----------------------------------------------------------
    async def create_token(self, name: str, role: Role, created_by: str) -> tuple[int, str]:
        """A new system token: its id and the token itself (shown once)."""
        if role not in ROLES or role == "agent":
            raise ValueError("a system token's role is supervisor, quality or admin")
        token = "cct_" + secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(api_tokens).values(
                    name=name,
                    token_hash=digest(token),
                    role=role,
                    created_by=created_by,
                    created_at=utc(self.clock()),
                )
            )
            token_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return token_id, token

    async def revoke_token(self, token_id: int) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc(self.clock()))
            )
        return bool(done.rowcount)

    async def tokens(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(api_tokens).order_by(api_tokens.c.id))).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "created_by": r.created_by,
                "created_at": epoch_or_none(r.created_at),
                "revoked_at": epoch_or_none(r.revoked_at),
            }
            for r in rows
        ]

    async def by_token(self, token: str) -> Principal | None:
        query = select(api_tokens).where(
            api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Principal(name=row.name, role=cast(Role, row.role), kind="token")

    # --- audit ---------------------------------------------------------------------
    async def audit(
        self,
        who: Principal,
        action: str,
        target: str | None,
        detail: dict[str, Any],
        source: str | None,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(audit_log).values(
                    at=utc(self.clock()),
                    actor=who.name[:64],
                    actor_kind=who.kind,
                    role=who.role,
                    action=action[:64],
                    target=(target or "")[:200] or None,
                    detail=detail,
                    source=(source or "")[:64] or None,
                )
            )

    async def audit_entries(
        self, limit: int = 100, actor: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {
                "id": r.id,
                "at": epoch_or_none(r.at),
                "actor": r.actor,
                "actor_kind": r.actor_kind,
                "role": r.role,
                "action": r.action,
                "target": r.target,
                "detail": r.detail,
                "source": r.source,
            }
            for r in rows
        ]
