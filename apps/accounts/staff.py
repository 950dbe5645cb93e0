"""Staff operations on users; every change writes an ``admin_action`` audit row in the same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from apps.accounts.domain import ADMIN_ROLES
from apps.accounts.repository import AccountsRepository
from apps.accounts.services import conflict_from, hash_password, new_user_row
from apps.core import context
from apps.core.db import UniqueViolation, UnitOfWork
from apps.core.errors import ValidationFailed
from apps.core.ids import new_id, now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdminResult:
    user_id: str
    outcome: str  # "created" | "promoted" | "unchanged"


def _audit_row(actor_id: str, action: str, target: str, before: Any, after: Any) -> dict[str, Any]:
    ctx = context.current()
    return {
        "action_id": new_id(),
        "actor_id": actor_id,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
        "request_id": ctx.request_id or new_id(),
        "correlation_id": ctx.correlation_id or new_id(),
        "created_at_ms": now_ms(),
    }


async def user_exists(email: str) -> bool:
    return await AccountsRepository().find_user_by_email(email.lower()) is not None


async def ensure_admin(
    *, email: str, username: str, password: str | None, actor_id: str = "system:createadmin"
) -> AdminResult:
    """Create an enabled admin, or promote/enable the user with this email. Idempotent: no change, no audit row."""
    repo = AccountsRepository()
    existing = await repo.find_user_by_email(email.lower())
    uow = UnitOfWork()
    if existing is None:
        if not password:
            raise ValidationFailed.for_fields({"password": ["required to create a user"]})
        row = new_user_row(
            email=email,
            username=username,
            password_hash=await hash_password(password),
            community_id="default",
            role="admin",
        )
        uow.add(repo.create_user_statement(row))
        after = {"role": "admin", "enabled": True, "email": row["email"], "username": username}
        uow.add(
            repo.admin_action_statement(
                _audit_row(actor_id, "user.create_admin", f"user:{row['user_id']}", None, after)
            )
        )
        try:
            await uow.commit(operation="createadmin")
        except UniqueViolation as exc:
            raise conflict_from(exc) from exc
        log.info("admin created", extra={"target_user_id": row["user_id"]})
        return AdminResult(row["user_id"], "created")

    user_id = existing["user_id"]
    if existing["role"] in ADMIN_ROLES and existing["enabled"]:  # never demote "system"
        return AdminResult(user_id, "unchanged")
    before = {"role": existing["role"], "enabled": existing["enabled"]}
    after = {"role": "admin", "enabled": True}
    uow.add(repo.update_user_statement(user_id, {**after, "updated_at_ms": now_ms()}))
    uow.add(repo.admin_action_statement(_audit_row(actor_id, "user.promote_admin", f"user:{user_id}", before, after)))
    await uow.commit(operation="createadmin")
    log.info("user promoted to admin", extra={"target_user_id": user_id})
    return AdminResult(user_id, "promoted")
