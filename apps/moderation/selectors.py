"""Reads of moderation data: an item's view by role, its decisions, reports, the review queue.

Nothing here writes; the actions are ``services`` (decisions), ``appeals`` and ``reports``.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.domain import MODERATOR_ROLES, Principal
from apps.core.errors import NotFound
from apps.moderation import ledger
from apps.moderation.domain import valid_content_id
from apps.moderation.presenters import appeal_view, author_view, public_view, report_view, state_view
from apps.moderation.repository import ModerationRepository
from apps.transparency import services as transparency

QUEUE_STATE_FIELDS = ("moderation_status", "moderation_action", "author_id", "reason_code", "hold_expires_at_ms")
QUEUE_REPORT_ROWS = 1000


async def view_for(principal: Principal, content_id: str) -> dict[str, Any]:
    """``GET /v1/moderations/{content_id}``: the view the caller's role allows."""
    repo = ModerationRepository()
    state = await repo.get_state(content_id) if valid_content_id(content_id) else None
    if state is None:
        raise NotFound("this content was never moderated")
    if principal.role in MODERATOR_ROLES:
        decisions = await decision_views(await repo.decisions(content_id))
        return {"Moderator": state_view(state) | {"decisions": decisions}}
    if principal.user_id == state["author_id"]:
        return {"Author": author_view(state)}
    return {"Public": public_view(state)}


async def decision_views(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger rows in the API's decision shape, each with its ``transparency`` (one lookup for all)."""
    views = [ledger.decision_view(row) for row in rows]
    found = await transparency.locate("moderation_decision", [view["decision_id"] for view in views])
    return [view | {"transparency": found.get(view["decision_id"])} for view in views]


async def list_reports(*, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await ModerationRepository().reports(open_only=status == "open", limit=limit)
    return [report_view(r) for r in rows]


# -- the review queue -----------------------------------------------------------------------


async def review_queue(*, kind: str | None = None, content_type: str | None = None, limit: int = 50) -> list[dict]:
    """Held, appealed and reported items, oldest first (each once, with every reason it is queued)."""
    items: dict[str, dict[str, Any]] = {}
    repo = ModerationRepository()
    if kind in (None, "held"):
        for state in await repo.held(limit):
            _enqueue(items, state["content_id"], state["content_type"], "held", state["decided_at_ms"], state)
    if kind in (None, "appeal"):
        for state in await repo.appealed(limit):
            _enqueue(items, state["content_id"], state["content_type"], "appeal", state["appealed_at_ms"], state)
    if kind in (None, "reported"):
        await _enqueue_reported(items, repo)
    result = [i for i in items.values() if content_type in (None, "", i["content_type"])]
    result.sort(key=lambda i: (i["queued_at_ms"], i["content_id"]))
    for item in result:
        item["kind"] = item["kinds"][0]
    return result[:limit]


def _enqueue(
    items: dict[str, dict[str, Any]], content_id: str, content_type: str, kind: str, since: int, state: dict | None
) -> None:
    """Add one reason to queue an item: the first reason creates the row, later ones extend it."""
    item = items.setdefault(content_id, {
        "content_id": content_id, "content_type": content_type, "kinds": [], "queued_at_ms": since,
        "moderation_status": None, "moderation_action": None, "author_id": None, "reason_code": None,
        "report_count": 0, "report_reasons": [], "appeal": None, "hold_expires_at_ms": None,
    })  # fmt: skip
    item["kinds"].append(kind)
    item["queued_at_ms"] = min(item["queued_at_ms"], since)
    if state:
        item.update({k: state.get(k) for k in QUEUE_STATE_FIELDS}, appeal=appeal_view(state))


async def _enqueue_reported(items: dict[str, dict[str, Any]], repo: ModerationRepository) -> None:
    """Items with open reports, each with how many and for which reasons."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in await repo.reports(open_only=True, limit=QUEUE_REPORT_ROWS):
        grouped.setdefault(row["content_id"], []).append(row)
    states = {s["content_id"]: s for s in await repo.states(list(grouped)) if s}
    for content_id, rows in grouped.items():
        _enqueue(
            items, content_id, rows[0]["content_type"], "reported", rows[0]["created_at_ms"], states.get(content_id)
        )
        items[content_id]["report_count"] = len(rows)
        items[content_id]["report_reasons"] = sorted({row["reason"] for row in rows})
