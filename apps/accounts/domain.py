"""Plain value objects of the accounts app: roles, the user record, the request principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ROLES = ("user", "moderator", "admin", "system")
MODERATOR_ROLES = frozenset({"moderator", "admin", "system"})
ADMIN_ROLES = frozenset({"admin", "system"})
DEFAULT_COMMUNITY = "default"
# Order of authority for the role rule (apps/accounts/policy.py): user < moderator < admin < system.
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def role_rank(role: str) -> int:
    """The role's place in ``ROLES``; an unknown role raises ``KeyError`` (the policy treats it as a refusal)."""
    return ROLE_RANK[role]


@dataclass(frozen=True)
class User:
    """A ``user`` row as services see it (the password hash stays inside the services)."""

    user_id: str
    username: str
    email: str
    password: str
    community_id: str
    role: str
    enabled: bool
    created_at_ms: int
    updated_at_ms: int
    last_login_ms: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            user_id=row["user_id"],
            username=row["username"],
            email=row["email"],
            password=row["password"],
            community_id=row["community_id"],
            role=row["role"],
            enabled=bool(row["enabled"]),
            created_at_ms=row["created_at_ms"],
            updated_at_ms=row["updated_at_ms"],
            last_login_ms=row.get("last_login_ms"),
        )


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request.

    Built from the *current* user record (role, enabled), never from token claims
    alone, so role changes and disabling take effect on the next request. It
    doubles as DRF's ``request.user`` (hence ``is_authenticated``).
    """

    user_id: str
    username: str
    email: str
    role: str
    community_id: str
    jti: str
    family_id: str
    via: Literal["bearer", "cookie"]

    is_authenticated = True
    is_anonymous = False

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATOR_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def pk(self) -> str:
        return self.user_id

    def __str__(self) -> str:
        return self.username


@dataclass(frozen=True)
class IssuedTokens:
    """A fresh access/refresh pair; ``expires_at_ms`` is the access token's expiry."""

    access_token: str
    refresh_token: str
    user_id: str
    username: str
    role: str
    expires_at_ms: int
    refresh_expires_at_ms: int

    def as_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "user_id": self.user_id,
            "username": self.username,
            "role": self.role,
            "expires_at_ms": self.expires_at_ms,
        }
