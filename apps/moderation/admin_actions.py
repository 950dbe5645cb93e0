"""What the admin site's pages do: one-click and bulk decisions, roles, enabling accounts, replays.

Decisions go through ``services.decide`` (same validator, rules and ledger as the API);
user roles through ``apps.accounts.staff``; the outbox through ``apps.webhooks.services``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from apps.accounts import staff
from apps.accounts.domain import Principal
from apps.core.audit import AuditRepository
from apps.core.db import UnitOfWork
from apps.core.errors import AppError, NotFound, ValidationFailed
from apps.moderation import services
from apps.moderation.domain import Actor, valid_content_id
from apps.moderation.repository import ModerationRepository

log = logging.getLogger(__name__)


# -- one-click decisions ----------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A one-click decision: every field the decide rules need, chosen so they agree with each other."""

    key: str
    label: str
    shortcut: str
    status: str
    action: str
    reason_code: str
    done: str
    hold_minutes: int | None = None


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset("approve", "Approve", "a", "published", "publish_now", "no_violation", "approved"),
        Preset("hide", "Hide for review", "h", "under_review", "hold_for_review", "held_for_review",
               "hidden for review (24 h hold)", hold_minutes=24 * 60),
        Preset("remove", "Remove", "r", "rejected", "block", "community_guidelines", "removed"),
        Preset("warn", "Warn", "w", "published", "publish_with_warning", "community_guidelines",
               "published with a warning"),
    )
}  # fmt: skip
BULK_PRESETS = ("approve", "remove")
MAX_BULK = 100


def preset_body(preset: Preset, content_id: str, content_type: str) -> dict[str, Any]:
    return {
        "content_id": content_id,
        "content_type": content_type,
        "moderation_status": preset.status,
        "moderation_action": preset.action,
        "reason_code": preset.reason_code,
        "confidence": 1.0,
        "hold_duration_minutes": preset.hold_minutes,
        "auto_release_if_no_action": False,
    }


async def content_type_of(content_id: str) -> str:
    """What kind an item is: from its moderation state, else from a report on it; 404 if neither."""
    if not valid_content_id(content_id):
        raise NotFound("no such item")
    r = ModerationRepository()
    state = await r.get_state(content_id)
    if state is not None:
        return state["content_type"]
    reports = await r.reports_for(content_id)
    if reports:
        return reports[0]["content_type"]
    raise NotFound("no such item")


async def quick_decide(principal: Principal, content_id: str, preset_key: str, request_id: str) -> dict[str, Any]:
    """One click, one decision through ``services.decide`` (same rules, ledger, audit, leaf, events).

    The request id is per button (``<form id>-<preset>``): a double click records one decision,
    while a second, different button on the same form is a decision of its own.
    """
    preset = PRESETS.get(preset_key)
    if preset is None:
        raise ValidationFailed.for_fields({"preset": [f"must be one of {', '.join(PRESETS)}"]})
    content_type = await content_type_of(content_id)
    body = preset_body(preset, content_id, content_type)
    return await services.decide(Actor.of(principal), body, request_id=f"{request_id}-{preset.key}")


@dataclass(frozen=True)
class BulkResult:
    content_id: str
    ok: bool
    message: str


async def bulk_decide(
    principal: Principal, content_ids: list[str], preset_key: str, request_id: str
) -> list[BulkResult]:
    """The same one-click decision on several items: each item is its own transaction (all or nothing
    per item), and each gets its own result line; one refusal does not stop the others."""
    if preset_key not in BULK_PRESETS:
        raise ValidationFailed.for_fields({"preset": [f"must be one of {', '.join(BULK_PRESETS)}"]})
    unique = list(dict.fromkeys(content_ids))
    if not unique:
        raise ValidationFailed.for_fields({"content_id": ["select at least one item"]})
    if len(unique) > MAX_BULK:
        raise ValidationFailed.for_fields({"content_id": [f"at most {MAX_BULK} items at once"]})
    preset = PRESETS[preset_key]
    results = []
    for content_id in unique:
        item_rid = f"{request_id}-{hashlib.sha256(content_id.encode()).hexdigest()[:12]}"
        try:
            await quick_decide(principal, content_id, preset_key, item_rid)
        except AppError as exc:
            if exc.status >= 500:
                log.exception("bulk decision failed", extra={"content_id": content_id})
                results.append(BulkResult(content_id, False, "not decided: a server error; try again"))
            else:
                results.append(BulkResult(content_id, False, f"not decided: {_reason(exc)}"))
        else:
            results.append(BulkResult(content_id, True, preset.done))
    return results


def _reason(exc: AppError) -> str:
    fields = (exc.details or {}).get("fields") if isinstance(exc.details, dict) else None
    if fields:
        return "; ".join(f"{name}: {', '.join(problems)}" for name, problems in fields.items())
    return exc.message


# -- users (admin only) ---------------------------------------------------------------


async def set_role(actor: Principal, user_id: str, role: str) -> None:
    await staff.set_role(actor_id=actor.user_id, user_id=user_id, role=role)


async def set_enabled(actor: Principal, user_id: str, enabled: bool, request_id: str) -> None:
    """Disable = a ``block`` decision on the user item (tokens revoked, streams closed); enable = publish.

    Who may do it is the role rule inside ``services.decide`` (apps/accounts/policy.py), not this page.
    """
    from apps.accounts.repository import AccountsRepository

    if not valid_content_id(user_id) or await AccountsRepository().get_user(user_id) is None:
        raise NotFound("user not found")
    body = {
        "content_id": user_id,
        "content_type": "user",
        "moderation_status": "published" if enabled else "rejected",
        "moderation_action": "publish_now" if enabled else "block",
        "reason_code": "admin_enable" if enabled else "admin_disable",
    }
    await services.decide(Actor.of(actor), body, request_id=request_id)


# -- webhook outbox (admin only) ---------------------------------------------------------


async def replay_event(actor: Principal, event_id: str) -> dict[str, Any]:
    """Replay one event, then record the admin action.

    The webhooks service commits the replay itself, so the audit row is a second
    transaction right after it (see docs/moderation.md: a ``replay_statement`` in
    the webhooks repository would let both share one).
    """
    from apps.webhooks import services as webhooks

    before = await webhooks.get_event(event_id)
    after = await webhooks.replay(event_id)
    uow = UnitOfWork()
    uow.add(
        AuditRepository().statement(
            actor_id=actor.user_id,
            action="webhook.replay",
            target=f"webhook_outbox:{event_id}",
            before={"status": before["status"], "attempts": before["attempts"]},
            after={"status": after["status"], "attempts": after["attempts"]},
        )
    )
    await uow.commit(operation="admin_audit")
    return after
