"""The moderation rules a single field cannot state: across fields, and against what is stored.

Each field's own rule (type, length, choices) is in ``serializers.py``, the validator that
``drf-spectacular`` publishes. What is left here needs several fields at once
(``decision_conflict``, called from ``DecisionRequestSerializer.validate``) or the item's
stored state (the others, called from the services). The JSON API and the admin site reach
both through the same services, so a decision is refused for the same reasons everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apps.core.errors import Conflict, Forbidden, NotFound
from apps.moderation.domain import DecisionInput

if TYPE_CHECKING:
    from apps.moderation.entities import Entity

# Which actions may go with which status ("contradictory status/action" is refused).
ALLOWED_ACTIONS = {
    "processing": ("publish_now", "publish_with_warning"),
    "published": ("publish_now", "publish_with_warning"),
    "under_review": ("hold_for_review",),
    "rejected": ("block",),
}


def decision_conflict(inp: DecisionInput) -> tuple[str, str] | None:
    """The first field that contradicts the others, with the problem; None when they agree."""
    if inp.moderation_action not in ALLOWED_ACTIONS[inp.moderation_status]:
        return "moderation_action", f"{inp.moderation_action} contradicts moderation_status {inp.moderation_status}"
    if inp.is_hold and inp.hold_duration_minutes is None:
        return "hold_duration_minutes", "a hold needs hold_duration_minutes >= 1"
    if not inp.is_hold and inp.hold_duration_minutes is not None:
        return "hold_duration_minutes", "only a hold_for_review decision has a hold duration"
    if inp.auto_release_if_no_action and not inp.is_hold:
        return "auto_release_if_no_action", "only a hold_for_review decision can auto-release"
    if inp.appeal_window_minutes is not None and inp.moderation_status != "rejected":
        return "appeal_window_minutes", "only a rejected decision has an appeal window"
    return None


def ensure_same_type(state: dict[str, Any] | None, content_type: str) -> None:
    """A decision must name the type the item was first moderated as."""
    if state is not None and state["content_type"] != content_type:
        # Well-formed, but contradicts what is stored: a conflict with the item's state, not a bad request.
        raise Conflict(f"this item is a {state['content_type']}", details={"content_type": state["content_type"]})


def author_of(state: dict[str, Any] | None, entity: Entity | None, inp: DecisionInput) -> tuple[str, str | None]:
    """The item's author (id, username): the stored state first, then the entity, then what the caller gave.

    An item this service does not hold has no author to derive: its first decision must name one.
    """
    author_id = (state or {}).get("author_id") or (entity.author_id if entity else None) or inp.author_id
    if not author_id:
        raise NotFound("unknown item: give author_id to moderate content this service does not hold")
    username = (state or {}).get("author_username") or (entity.author_username if entity else None)
    return author_id, username or inp.author_username


def ensure_may_appeal(state: dict[str, Any] | None, user_id: str, now: int) -> dict[str, Any]:
    """The stored state if ``user_id`` may appeal it now: the author, once, a removal, within its window."""
    if state is None:
        raise NotFound("this content was never moderated")
    if state["author_id"] != user_id:
        raise Forbidden("only the author may appeal")
    if state["moderation_status"] != "rejected":
        raise Conflict("only a rejected item can be appealed", details={"reason": "not_rejected"})
    if state.get("appeal_status"):
        raise Conflict("this item was already appealed", details={"reason": "already_appealed"})
    if now > (state.get("appeal_window_until_ms") or 0):
        raise Forbidden("the appeal window has closed", details={"reason": "appeal_window_closed"})
    return state


def appeal_after(state: dict[str, Any] | None, new_status: str) -> str | None:
    """The appeal's status once a decision lands: the next decision closes an open appeal."""
    status = (state or {}).get("appeal_status")
    if status == "open":
        return "upheld" if new_status == "rejected" else "overturned"
    return status
