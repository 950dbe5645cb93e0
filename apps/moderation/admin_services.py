"""What the admin site's pages show and do; the pages only parse forms and render.

Decisions go through ``services.decide`` (same validation and ledger as the API);
user roles through ``apps.accounts.staff``; the outbox through ``apps.webhooks.services``.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.accounts import staff
from apps.accounts.domain import Principal
from apps.core.audit import AuditRepository
from apps.core.db import UnitOfWork
from apps.core.errors import NotFound
from apps.moderation import ledger, rules, services
from apps.moderation.entities import load_entity

log = logging.getLogger(__name__)

NEIGHBOURS = 3


async def item_context(principal: Principal, content_id: str) -> dict[str, Any]:
    """An item with everything a moderator needs: the content in context, reports, history, chain check."""
    if not rules.valid_content_id(content_id):
        raise NotFound("no such item")
    r = services.repo()
    state = await r.get_state(content_id)
    reports = [services.report_view(x) for x in await r.reports_for(content_id)]
    kind = (state or {}).get("content_type") or (reports[0]["content_type"] if reports else None)
    if kind is None:
        raise NotFound("no such item")
    decisions = [ledger.decision_view(row) for row in await r.decisions(content_id)]
    return {
        "content_id": content_id,
        "content_type": kind,
        "state": services.state_view(state) if state else None,
        "reports": reports,
        "open_reports": [x for x in reports if x["resolved_by_decision_id"] is None],
        "decisions": decisions,
        "chain": ledger.verify_chain(decisions),
        "content": await content_in_context(principal, kind, content_id),
    }


async def content_in_context(principal: Principal, kind: str, content_id: str) -> dict[str, Any] | None:
    entity = await load_entity(kind, content_id)
    if entity is None:
        return None
    if kind == "chat_message":
        from apps.chat import services as chat
        from apps.chat.repository import ChatRepository

        seq = entity.seq or 0
        rows = await chat.read_messages(entity.thread_id or "", after_seq=max(0, seq - NEIGHBOURS - 1),
                                        limit=2 * NEIGHBOURS + 1)  # fmt: skip
        users = await ChatRepository().users([row["author_id"] for row in rows])
        thread = await ChatRepository().get_thread(entity.thread_id or "")
        return {
            "thread": thread,
            "messages": [
                row | {"username": users.get(row["author_id"], {}).get("username"), "is_target": row["seq"] == seq}
                for row in rows
            ],
        }
    if kind == "contribution":
        return {"contribution": entity.row, "evidence": await _evidence_with_thumbs(principal, content_id)}
    if kind == "evidence":
        from apps.evidence.repository import EvidenceRepository

        evidence = await EvidenceRepository().get_evidence(content_id)
        return {"evidence": [await _thumb(principal, evidence)] if evidence else [], "contribution": None}
    return {"user": {k: entity.row.get(k) for k in ("user_id", "username", "email", "role", "enabled")}}


async def _evidence_with_thumbs(principal: Principal, contribution_id: str) -> list[dict[str, Any]]:
    from apps.evidence.repository import EvidenceRepository

    rows = await EvidenceRepository().list_evidence(contribution_id, 50, viewer_id=principal.user_id, staff=True)
    return [await _thumb(principal, row) for row in rows]


async def _thumb(principal: Principal, evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence with a short-lived image URL when its media is an image."""
    from apps.evidence import services_evidence

    media = evidence.get("media") or {}
    url = None
    if str(media.get("mime_type", "")).startswith("image/"):
        try:
            url = await services_evidence.media_url(principal, evidence["evidence_id"], evidence=evidence)
        except Exception:  # a missing object must not break the review page
            log.warning("thumbnail unavailable", extra={"evidence_id": evidence["evidence_id"]})
    return evidence | {"thumbnail_url": url}


async def review_queue(**filters: Any) -> list[dict[str, Any]]:
    """The review queue, evidence items carrying their media's ``content_credentials`` for the badge.

    ``None`` (no badge) for other kinds and for evidence without a file. The page's evidence rows
    are read in one query.
    """
    from apps.evidence.repository import EvidenceRepository

    items = await services.review_queue(**filters)
    evidence_ids = [item["content_id"] for item in items if item["content_type"] == "evidence"]
    rows = await EvidenceRepository().evidence_by_id(evidence_ids) if evidence_ids else {}
    for item in items:
        media = (rows.get(item["content_id"]) or {}).get("media") if item["content_type"] == "evidence" else None
        item["content_credentials"] = (media or {}).get("content_credentials")
    return items


async def search_decisions(**filters: Any) -> list[dict[str, Any]]:
    rows = await services.repo().search_decisions(**filters)
    return [ledger.decision_view(row) for row in rows]


async def verify_chain(content_id: str) -> ledger.ChainCheck:
    rows = await services.repo().decisions(content_id) if rules.valid_content_id(content_id) else []
    return ledger.verify_chain([ledger.decision_view(row) for row in rows])


async def reports_by_item() -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for report in await services.list_reports(status="open", limit=1000):
        item = grouped.setdefault(
            report["content_id"],
            {"content_id": report["content_id"], "content_type": report["content_type"], "reports": []},
        )
        item["reports"].append(report)
    return sorted(grouped.values(), key=lambda i: i["reports"][0]["created_at_ms"])


# -- users (admin only) ---------------------------------------------------------------


async def search_users(query: str | None) -> list[dict[str, Any]]:
    return await services.repo().search_users(query, 100)


async def set_role(actor: Principal, user_id: str, role: str) -> None:
    await staff.set_role(actor_id=actor.user_id, user_id=user_id, role=role)


async def set_enabled(actor: Principal, user_id: str, enabled: bool, request_id: str) -> None:
    """Disable = a ``block`` decision on the user item (tokens revoked, streams closed); enable = publish.

    Who may do it is the role rule inside ``services.decide`` (apps/accounts/policy.py), not this page.
    """
    from apps.accounts.repository import AccountsRepository

    if not rules.valid_content_id(user_id) or await AccountsRepository().get_user(user_id) is None:
        raise NotFound("user not found")
    body = {
        "content_id": user_id,
        "content_type": "user",
        "moderation_status": "published" if enabled else "rejected",
        "moderation_action": "publish_now" if enabled else "block",
        "reason_code": "admin_enable" if enabled else "admin_disable",
    }
    await services.decide(services.Actor.of(actor), body, request_id=request_id)


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
