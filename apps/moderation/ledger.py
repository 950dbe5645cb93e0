"""The hash-chained decision ledger: how a decision is hashed and how a chain is verified.

``event_hash`` = SHA-256 of the canonical JSON (sorted keys, compact; ``verifier.decision_event_hash``)
of the decision *without* ``event_hash``; ``prev_hash`` is
the previous decision's ``event_hash`` for the same content item. Any edit of a
stored row, or a removed/inserted row, breaks the chain at that point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from apps.transparency import verifier
from apps.webhooks.outbox import canonical_json

DECISION_FIELDS = (
    "decision_id",
    "content_id",
    "content_type",
    "moderation_status",
    "moderation_action",
    "reason_code",
    "confidence",
    "decided_at_ms",
    "chain_seq",
    "hold_expires_at_ms",
    "auto_release_if_no_action",
    "appeal_window_until_ms",
    "reasoning",
    "violations",
    "prev_hash",
)
ACTOR_FIELDS = ("user_id", "username", "role", "request_id", "correlation_id")


def decision_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored ledger row (flat) → the API's decision shape (with ``actor`` and ``violations``)."""
    view = {name: row.get(name) for name in DECISION_FIELDS}
    view["confidence"] = float(view["confidence"]) if view["confidence"] is not None else None
    view["auto_release_if_no_action"] = bool(view["auto_release_if_no_action"])
    if "violations_json" in row:
        view["violations"] = json.loads(row.get("violations_json") or "[]")
    view["actor"] = {
        "user_id": row.get("actor_user_id"),
        "username": row.get("actor_username"),
        "role": row.get("actor_role"),
        "request_id": row.get("request_id"),
        "correlation_id": row.get("correlation_id"),
    }
    view["event_hash"] = row.get("event_hash")
    return view


def stored_row(decision: dict[str, Any]) -> dict[str, Any]:
    """The API's decision shape → the flat ledger row."""
    row = {k: v for k, v in decision.items() if k not in ("actor", "violations")}
    row["violations_json"] = canonical_json(decision["violations"])
    actor = decision["actor"]
    row.update(
        actor_user_id=actor["user_id"],
        actor_username=actor["username"],
        actor_role=actor["role"],
        request_id=actor["request_id"],
        correlation_id=actor["correlation_id"],
    )
    return row


def event_hash(decision: dict[str, Any]) -> str:
    """SHA-256 of the decision as the API shows it, without ``event_hash`` and its ``transparency`` reference.

    Defined once, in the standalone verifier, so a member checks a decision with the very same function.
    """
    return verifier.decision_event_hash(decision)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    broken_at: str | None = None  # decision_id of the first row that does not hold
    problem: str | None = None


def verify_chain(decisions: list[dict[str, Any]]) -> ChainCheck:
    """Recompute every hash of one item's decisions (oldest first) and check the links."""
    previous: str | None = None
    for index, decision in enumerate(decisions):
        if decision.get("prev_hash") != previous:
            return ChainCheck(False, index, decision["decision_id"], "prev_hash does not link to the previous row")
        if event_hash(decision) != decision.get("event_hash"):
            return ChainCheck(False, index, decision["decision_id"], "event_hash does not match the row")
        previous = decision["event_hash"]
    return ChainCheck(True, len(decisions))
