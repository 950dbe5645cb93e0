"""Staff operations on users; every change writes an ``admin_action`` audit row in the same transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apps.accounts import auth_cache
from apps.accounts.domain import ADMIN_ROLES, ROLES
from apps.accounts.policy import (
    current_role,
    ensure_may_change_roles,
    ensure_may_manage,
    role_changed,
    role_guards,
)
from apps.accounts.repository import ROLE_CHANGED, AccountsRepository
from apps.accounts.services import conflict_from, hash_password, new_user_row
from apps.core.audit import AuditRepository
from apps.core.db import Thrown, UniqueViolation, UnitOfWork
from apps.core.errors import NotFound, ValidationFailed
from apps.core.ids import now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdminResult:
    user_id: str
    outcome: str  # "created" | "promoted" | "unchanged"


async def user_exists(email: str) -> bool:
    return await AccountsRepository().find_user_by_email(email.lower()) is not None


async def ensure_admin(
    *, email: str, username: str, password: str | None, actor_id: str = "system:createadmin"
) -> AdminResult:
    """Create an enabled admin, or promote/enable the user with this email. Idempotent: no change, no audit row.

    The operator acts with the ``system`` role, so the role rule (``policy``) allows it on
    users, moderators and admins and refuses it on a ``system`` account (nothing written).
    """
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
            AuditRepository().statement(
                actor_id=actor_id, action="user.create_admin", target=f"user:{row['user_id']}", before=None, after=after
            )
        )
        try:
            await uow.commit(operation="createadmin")
        except UniqueViolation as exc:
            raise conflict_from(exc) from exc
        log.info("admin created", extra={"target_user_id": row["user_id"]})
        return AdminResult(row["user_id"], "created")

    user_id = existing["user_id"]
    ensure_may_manage(actor_id, "system", user_id, existing["role"], "promote_admin", new_role="admin")
    if existing["role"] in ADMIN_ROLES and existing["enabled"]:
        return AdminResult(user_id, "unchanged")
    before = {"role": existing["role"], "enabled": existing["enabled"]}
    after = {"role": "admin", "enabled": True}
    for guard in role_guards(actor_id, "system", user_id, existing["role"]):
        uow.add(guard)
    uow.add(repo.update_user_statement(user_id, {**after, "updated_at_ms": now_ms()}))
    uow.add(
        AuditRepository().statement(
            actor_id=actor_id, action="user.promote_admin", target=f"user:{user_id}", before=before, after=after
        )
    )
    await _commit_guarded(uow, operation="createadmin")
    auth_cache.forget_user(user_id)  # the new role applies to this process's next request at once
    log.info("user promoted to admin", extra={"target_user_id": user_id})
    return AdminResult(user_id, "promoted")


async def set_role(*, actor_id: str, user_id: str, role: str) -> dict:
    """An admin changes a user's role (admin site); audited in the same transaction. No change, no row.

    The actor's role is read from their user record now (not trusted from the caller), and
    the role rule (``policy.ensure_may_manage``) decides before anything is written.
    """
    if role not in ROLES or role == "system":
        raise ValidationFailed.for_fields({"role": ["must be one of user, moderator, admin"]})
    actor_role = await current_role(actor_id)
    ensure_may_change_roles(actor_role)
    repo = AccountsRepository()
    existing = await repo.get_user(user_id)
    if existing is None:
        raise NotFound("user not found")
    ensure_may_manage(actor_id, actor_role, user_id, existing["role"], "set_role", new_role=role)
    if existing["role"] == role:
        return existing
    uow = UnitOfWork()
    for guard in role_guards(actor_id, actor_role, user_id, existing["role"]):
        uow.add(guard)
    uow.add(repo.update_user_statement(user_id, {"role": role, "updated_at_ms": now_ms()}))
    uow.add(
        AuditRepository().statement(
            actor_id=actor_id,
            action="user.set_role",
            target=f"user:{user_id}",
            before={"role": existing["role"]},
            after={"role": role},
        )
    )
    await _commit_guarded(uow, operation="user_set_role")
    auth_cache.forget_user(user_id)  # the new role applies to this process's next request at once
    log.info("user role changed", extra={"target_user_id": user_id, "role": role})
    return existing | {"role": role}


async def _commit_guarded(uow: UnitOfWork, *, operation: str) -> None:
    """Commit a unit that carries role guards; a guard that fired means ask the rule again (409)."""
    try:
        await uow.commit(operation=operation)
    except Thrown as exc:
        if ROLE_CHANGED in exc.message:
            raise role_changed() from exc
        raise
