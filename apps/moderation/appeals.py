"""Appeals: the author of a removed item asks once, within its window, for another look."""

from __future__ import annotations

from typing import Any

from apps.accounts.domain import Principal
from apps.core.db import Thrown, UnitOfWork
from apps.core.errors import Conflict
from apps.core.ids import now_ms
from apps.moderation import rules
from apps.moderation.domain import valid_content_id
from apps.moderation.presenters import appeal_result
from apps.moderation.repository import STALE, ModerationRepository
from apps.moderation.serializers import appeal_statement


async def appeal(principal: Principal, content_id: str, statement: str | dict[str, Any]) -> dict[str, Any]:
    """Record the appeal; the item returns to the review queue until the next decision closes it.

    ``statement`` is the parsed text, or a request body (``{"statement": ...}``) to parse with
    ``AppealRequestSerializer`` (callers other than the API view, e.g. the demo seed).
    """
    if not isinstance(statement, str):
        statement = appeal_statement(statement)
    repo = ModerationRepository()
    state = await repo.get_state(content_id) if valid_content_id(content_id) else None
    now = now_ms()
    state = rules.ensure_may_appeal(state, principal.user_id, now)
    changes = {"appeal_status": "open", "appealed_at_ms": now, "appeal_statement": statement}
    uow = UnitOfWork()
    uow.add(repo.expect_statement(content_id, state["last_decision_id"]))
    uow.add(repo.appeal_statement(content_id, changes))
    try:
        await uow.commit(operation="moderation_appeal")
    except Thrown as exc:
        if STALE in exc.message:
            raise Conflict("the item changed; reload and retry") from exc
        raise
    return appeal_result(content_id, state | changes)
