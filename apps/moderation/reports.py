"""Reports: members flag content they can see; enough distinct reports hold it for review."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from apps.accounts.domain import Principal
from apps.core import context
from apps.core.db import UniqueViolation
from apps.core.errors import Conflict, Forbidden
from apps.core.ids import new_id, now_ms
from apps.moderation import services
from apps.moderation.domain import HIDDEN_STATUSES, SYSTEM, ReportInput
from apps.moderation.entities import Entity, ensure_visible
from apps.moderation.presenters import report_view
from apps.moderation.repository import ModerationRepository
from apps.moderation.serializers import report_input

log = logging.getLogger(__name__)

COMMUNITY_HOLD_MINUTES = 24 * 60


async def report(principal: Principal, inp: ReportInput | dict[str, Any]) -> dict[str, Any]:
    """Report content the caller can see, once per item; enough distinct reports put it on hold.

    ``inp`` is parsed, or a request body to parse with ``ReportRequestSerializer``.
    """
    if not isinstance(inp, ReportInput):
        inp = report_input(inp)
    entity = await ensure_visible(principal, inp.content_type, inp.content_id)
    rid, cid = context.request_ids()
    row = {
        "report_id": new_id(),
        "content_type": inp.content_type,
        "content_id": inp.content_id,
        "reporter_id": principal.user_id,
        "reason": inp.reason,
        "note": inp.note,
        "created_at_ms": now_ms(),
        "resolved_by_decision_id": None,
        "request_id": rid,
        "correlation_id": cid,
    }
    repo = ModerationRepository()
    try:
        await repo.create_report(row)
    except UniqueViolation as exc:
        raise Conflict("you already reported this content") from exc
    if await repo.open_report_count(inp.content_id) >= settings.CONFIG.moderation_report_threshold:
        await _community_hold(entity, row["report_id"])
    return report_view(row)


async def _community_hold(entity: Entity, report_id: str) -> None:
    """The system's hold on an item the community reported; never fails the report that triggered it."""
    state = await ModerationRepository().get_state(entity.content_id)
    if state is not None and state["moderation_status"] in HIDDEN_STATUSES:
        return  # already held or removed
    data = {
        "content_id": entity.content_id,
        "content_type": entity.kind,
        "moderation_status": "under_review",
        "moderation_action": "hold_for_review",
        "reason_code": "community_reports",
        "hold_duration_minutes": COMMUNITY_HOLD_MINUTES,
        "auto_release_if_no_action": False,
        "author_id": entity.author_id,
        "author_username": entity.author_username,
    }
    try:
        await services.decide(SYSTEM, data, request_id=f"community_reports-{report_id}")
    except Conflict:  # StaleDecision included
        log.info("community hold skipped: the item changed", extra={"content_id": entity.content_id})
    except Forbidden as exc:  # the role rule: the system actor may not act on this account; the report stands
        log.warning(
            "community hold skipped: refused by the role rule",
            extra={"content_id": entity.content_id, "reason": exc.message},
        )
