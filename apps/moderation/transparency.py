"""What the transparency log records for a moderation decision (docs/transparency.md "Entries").

The entry names the decision, the item, the outcome and who decided (id and role), and carries the decision's
``event_hash`` (SHA-256 of the whole decision, reasoning and violations included) and ``prev_hash`` (the item's
chain). The reasoning text itself stays out of the public log. Rewriting an item's decision chain in the
database — even recomputing every hash — no longer matches the leaves already covered by signed checkpoints.
"""

from __future__ import annotations

from typing import Any

from apps.moderation import ledger


def decision_entry(decision: dict[str, Any]) -> dict[str, Any]:
    """The leaf entry of a decision in its API shape (``ledger.decision_view``)."""
    return {
        "kind": "moderation_decision",
        "decision_id": decision["decision_id"],
        "content_id": decision["content_id"],
        "content_type": decision["content_type"],
        "moderation_status": decision["moderation_status"],
        "moderation_action": decision["moderation_action"],
        "actor_user_id": decision["actor"]["user_id"],
        "actor_role": decision["actor"]["role"],
        "decided_at_ms": decision["decided_at_ms"],
        "chain_seq": decision["chain_seq"],
        "prev_hash": decision["prev_hash"],
        "event_hash": decision["event_hash"],
    }


async def rebuild_decisions(ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Entries rebuilt from the current ledger rows, with ``event_hash`` RECOMPUTED from each row.

    So an edited row differs from its leaf whether or not the editor also rewrote the stored hashes.
    """
    from apps.moderation.repository import ModerationRepository

    rows = await ModerationRepository().decisions_by_id(ids)
    rebuilt: dict[str, dict[str, Any] | None] = {}
    for decision_id in ids:
        row = rows.get(decision_id)
        if row is None:
            rebuilt[decision_id] = None
            continue
        view = ledger.decision_view(row)
        view["event_hash"] = ledger.event_hash(view)
        rebuilt[decision_id] = decision_entry(view)
    return rebuilt


def register() -> None:
    from apps.transparency import registry

    registry.register("moderation_decision", rebuild_decisions)
