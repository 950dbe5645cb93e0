"""The role rule, in ONE place (02-accounts.md "Staff", 06-moderation.md "Enforcement").

Nobody blocks, disables, enables, holds or changes the role of themselves or of an
account whose role is at or above their own; only admins (and the ``system``
operator) change roles, never to a role above their own, and ``system`` is never
assigned. Ranks: user < moderator < admin < system.

Every entry point reaches it through a service — ``apps.moderation.services.decide``
for decisions on ``user`` items (API, admin pages, community holds, auto-release),
``apps.accounts.staff.set_role`` and ``staff.ensure_admin`` (admin pages,
``createadmin``) — so no view carries its own copy. It is checked before anything
is planned or written, so a refusal leaves no row behind.
"""

from __future__ import annotations

from apps.accounts.domain import ROLES, role_rank
from apps.accounts.repository import AccountsRepository
from apps.core.db import Statement
from apps.core.errors import Conflict, Forbidden

ADMIN_RANK = role_rank("admin")

# What each action is called in a refusal message.
_VERBS = {
    "block": "block",
    "disable": "disable",
    "enable": "enable",
    "hold": "hold",
    "moderate": "moderate",
    "set_role": "change the role of",
    "promote_admin": "promote",
}


def _refuse(message: str, reason: str) -> Forbidden:
    return Forbidden(message, details={"reason": reason})


def ensure_may_manage(
    actor_id: str,
    actor_role: str,
    target_id: str,
    target_role: str | None,
    action: str,
    *,
    new_role: str | None = None,
) -> None:
    """Raise ``Forbidden`` unless ``actor`` may apply ``action`` to the account ``target``.

    ``target_role`` None means the account does not exist here (nothing to protect
    but the actor themselves). ``new_role`` is required for the role-changing actions
    (``set_role``, ``promote_admin``). The caller passes the actor's *current* role.
    """
    verb = _VERBS.get(action, action)
    if actor_role not in ROLES:
        raise _refuse("not allowed: the acting account has no known role", "unknown_role")
    changes_role = action in ("set_role", "promote_admin")
    if changes_role:
        ensure_may_change_roles(actor_role)
    if actor_id == target_id:
        raise _refuse(f"you cannot {verb} your own account", "self")
    if target_role is not None and (target_role not in ROLES or role_rank(target_role) >= role_rank(actor_role)):
        raise _refuse(
            f"you cannot {verb} an account whose role ({target_role}) is at or above your own ({actor_role})",
            "rank",
        )
    if changes_role:
        if new_role not in ROLES or new_role == "system":
            raise _refuse("the system role is never assigned", "system_role")
        if role_rank(new_role) > role_rank(actor_role):
            raise _refuse(f"you cannot grant a role above your own ({actor_role})", "role_above_actor")


def ensure_may_change_roles(actor_role: str) -> None:
    """Only admins (and the ``system`` operator) change roles; checked before the target is even looked up."""
    if actor_role not in ROLES or role_rank(actor_role) < ADMIN_RANK:
        raise _refuse("only admins change roles", "admin_only")


def decision_action(moderation_action: str, moderation_status: str) -> str:
    """What a moderation decision on a ``user`` item does to the account (see moderation/entities.py)."""
    if moderation_action == "block":
        return "block"
    if moderation_action == "hold_for_review":
        return "hold"
    if moderation_status == "published":
        return "enable"
    return "moderate"


async def current_role(actor_id: str) -> str:
    """The actor's role as the user record says now (never the caller's claim); a missing or
    disabled account may do nothing."""
    row = await AccountsRepository().get_user(actor_id)
    if row is None or not row.get("enabled", False):
        raise _refuse("not allowed: the acting account is unknown or disabled", "actor_unknown")
    return row["role"]


def role_guards(actor_id: str, actor_role: str, target_id: str | None, target_role: str | None) -> list[Statement]:
    """Statements for the write's unit of work that hold both roles as the rule saw them (``ROLE_CHANGED``)."""
    repo = AccountsRepository()
    guards = []
    if actor_role != "system":  # the operator and the worker act as "system", which has no user record
        guards.append(repo.expect_role_statement(actor_id, actor_role))
    if target_id is not None and target_role is not None:
        guards.append(repo.expect_role_statement(target_id, target_role))
    return guards


def role_changed() -> Conflict:
    """The answer when a guard fired (409): the rule must be asked again with the new roles."""
    return Conflict("an account's role changed while this was being done; retry", details={"reason": "role_changed"})
