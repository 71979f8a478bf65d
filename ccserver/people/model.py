"""Who is asking: a person logged in, or a system with a token."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["agent", "supervisor", "quality", "admin"]
ROLES: Final[tuple[Role, ...]] = ("agent", "supervisor", "quality", "admin")
LANGUAGES: Final = ("zh-CN", "en")


@dataclass(frozen=True)
class Principal:
    """The one a request acts for; ``teams`` None means every queue."""

    name: str
    role: Role
    kind: Literal["user", "token"] = "user"
    user_id: int | None = None
    agent_id: str | None = None
    teams: tuple[str, ...] | None = None
    language: str = "zh-CN"
    session: str | None = None  # the session's hash, to end it at logout
    phone: str | None = None  # a supervisor's own PJSIP endpoint, to listen in from

    def supervises(self, queues: Iterable[str]) -> bool:
        """Whether an agent serving ``queues`` is in this person's teams."""
        if self.role == "admin":
            return True
        if self.role != "supervisor":
            return False
        return self.teams is None or bool(set(self.teams) & set(queues))
