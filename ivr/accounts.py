"""Subscriber accounts for balance inquiries: the IVR's port and its values.

:class:`AccountBackend` is what the IVR needs; the shell implements it
(``ccserver.selfservice``: the ``accounts`` table of ccserver's own database,
the default, or an operator's billing system over HTTP). A backend raises
:class:`BackendUnavailable` when it cannot answer, so the IVR can tell the
caller and send them to an agent instead of guessing.

PINs are never stored or sent in clear by ccserver: the table keeps a salted
PBKDF2 hash (:func:`hash_pin`), and the HTTP backend verifies the PIN itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Protocol

PBKDF2_ITERATIONS = 60_000


class BackendUnavailable(Exception):
    """The account backend did not answer in time or failed."""


@dataclass(frozen=True)
class Account:
    """What the IVR may tell a caller who proved they own the account."""

    number: str
    name: str
    balance_cents: int
    currency: str
    due_date: date | None
    region: str | None
    tier: str


class AccountBackend(Protocol):
    """Where accounts come from (the IVR's port; implemented in the shell)."""

    async def find(self, *, number: str | None = None, phone: str | None = None) -> Account | None:
        """The account with this number, or whose phone is this caller number."""
        ...

    async def verify_pin(self, number: str, pin: str) -> bool:
        """Whether the PIN is the account's."""
        ...


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """A salted PBKDF2-SHA256 hash of a PIN, as stored in ``accounts.pin_hash``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    """Constant-time check of a PIN against its stored hash."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(got.hex(), digest)
