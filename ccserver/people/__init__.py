"""People: users and their roles, sessions, system tokens, login throttling and the audit."""

from .model import LANGUAGES, ROLES, Principal
from .store import People, UserExists
from .throttle import LoginThrottle

__all__ = ["LANGUAGES", "ROLES", "LoginThrottle", "People", "Principal", "UserExists"]
