"""Stored moderation rows in the shapes the API and the admin site answer with (no I/O here).

One place per shape, so the moderator's view of an item, an author's and the public's are
written once and every reader (API views, admin pages, the decision's own answer) agrees.
"""

from __future__ import annotations

import json
from typing import Any

from apps.moderation.domain import HIDDEN_STATUSES

STATE_FIELDS = (
    "content_id", "content_type", "author_id", "author_username", "moderation_status", "moderation_action",
    "reason_code", "confidence", "decided_at_ms", "decided_by", "hold_expires_at_ms", "auto_release_if_no_action",
    "appeal_window_until_ms", "reasoning", "last_decision_id", "report_count", "request_id", "correlation_id",
    "event_hash",
)  # fmt: skip
AUTHOR_FIELDS = ("content_id", "content_type", "moderation_status", "moderation_action", "reason_code",
                 "decided_at_ms", "hold_expires_at_ms", "appeal_window_until_ms")  # fmt: skip
REPORT_FIELDS = ("report_id", "content_type", "content_id", "reporter_id", "reason", "note", "created_at_ms",
                 "resolved_by_decision_id")  # fmt: skip
PLACEHOLDERS = {
    "under_review": "This content is hidden while moderators review it.",
    "rejected": "This content was removed by moderators.",
}


def appeal_view(state: dict[str, Any]) -> dict[str, Any] | None:
    if not state.get("appeal_status"):
        return None
    return {
        "appealed_at_ms": state.get("appealed_at_ms"),
        "statement": state.get("appeal_statement"),
        "status": state["appeal_status"],
    }


def state_view(state: dict[str, Any]) -> dict[str, Any]:
    """The moderator's view of an item's current state (every field)."""
    view = {name: state.get(name) for name in STATE_FIELDS}
    view["confidence"] = float(view["confidence"])
    view["report_count"] = int(view["report_count"] or 0)
    view["violations"] = json.loads(state.get("violations_json") or "[]")
    view["appeal"] = appeal_view(state)
    return view


def warning_label(state: dict[str, Any]) -> str | None:
    if state["moderation_action"] == "publish_with_warning":
        return f"Shown with a warning: {state['reason_code']}"
    return None


def placeholder(state: dict[str, Any]) -> str | None:
    return PLACEHOLDERS.get(state["moderation_status"])


def author_view(state: dict[str, Any]) -> dict[str, Any]:
    view = {k: state.get(k) for k in AUTHOR_FIELDS}
    return view | {"warning_label": warning_label(state), "appeal": appeal_view(state)}


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "content_id": state["content_id"],
        "content_type": state["content_type"],
        "moderation_status": state["moderation_status"],
        "is_visible": state["moderation_status"] not in HIDDEN_STATUSES,
        "placeholder": placeholder(state),
        "warning_label": warning_label(state),
    }


def report_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in REPORT_FIELDS}


def decision_result(state: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """The answer to a decision: the item's new state, the ledger entry, and when it auto-releases."""
    schedule = None
    if decision["auto_release_if_no_action"] and decision["hold_expires_at_ms"] is not None:
        schedule = {"content_id": decision["content_id"], "release_at_ms": decision["hold_expires_at_ms"]}
    return {"content": state_view(state), "decision": decision, "schedule_auto_release": schedule}


def appeal_result(content_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "content_id": content_id,
        "content_type": state["content_type"],
        "moderation_status": state["moderation_status"],
        "appeal": appeal_view(state),
    }
