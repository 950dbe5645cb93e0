"""Moderation decisions: one service for the API, the admin site, reports and the worker.

A decision and everything it changes — the ledger row, the item's current
state, the moderated entity's status (chat message, contribution, evidence,
user account and its tokens), resolved reports and the audit row — is ONE
``UnitOfWork``. Live effects (stream events, closing a blocked user's streams)
follow the commit: the database is the truth, the bus only notifies.

The other moderation actions and reads live beside this module (``appeals``,
``reports``, ``selectors``, ``presenters``); the names other apps have always
imported from here are re-exported at the end of the imports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apps.accounts.repository import ROLE_CHANGED
from apps.core import context, events
from apps.core.audit import AuditRepository
from apps.core.db import Statement, Thrown, UniqueViolation, UnitOfWork
from apps.core.errors import Conflict
from apps.core.ids import new_id, now_ms
from apps.moderation import ledger, rules
from apps.moderation import transparency as log_entries
from apps.moderation.appeals import appeal
from apps.moderation.domain import DEFAULT_APPEAL_WINDOW_MINUTES, HIDDEN_STATUSES, SYSTEM, Actor, DecisionInput
from apps.moderation.entities import Entity, load_entity, status_statements
from apps.moderation.presenters import decision_result, report_view, state_view
from apps.moderation.repository import STALE, ModerationRepository
from apps.moderation.selectors import decision_views, list_reports, review_queue, view_for
from apps.moderation.serializers import decision_input
from apps.transparency import services as transparency

__all__ = [
    "SYSTEM", "Actor", "StaleDecision", "appeal", "decide", "decision_views", "list_reports", "repo",
    "report_view", "review_queue", "state_view", "view_for",
]  # fmt: skip

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class StaleDecision(Conflict):
    """A newer decision exists than the one the caller based its decision on (stale hold)."""

    def __init__(self) -> None:
        super().__init__("a newer decision exists for this item", details={"reason": "stale"})


def repo() -> ModerationRepository:
    return ModerationRepository()


async def decide(
    actor: Actor,
    data: DecisionInput | Mapping[str, Any],
    *,
    expected_last_decision_id: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Record one decision. Idempotent on ``(content_id, request id)``; ``expected_last_decision_id``
    makes it conditional (the worker's auto-release skips a hold that a newer decision replaced).

    ``data`` is a parsed ``DecisionInput`` (the API view parses with the published serializer) or a
    body that is parsed here with that same serializer (admin site, worker, community hold, demo).
    """
    inp = data if isinstance(data, DecisionInput) else decision_input(data)
    rid, cid = context.request_ids(request_id)
    stored = await repo().decision_by_request(inp.content_id, rid)
    if stored is not None:
        return await _result_of(stored)
    entity = await load_entity(inp.content_type, inp.content_id)
    _ensure_may_manage(actor, inp, entity)
    conditional = expected_last_decision_id is not None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = await repo().get_state(inp.content_id)
        if conditional and (state or {}).get("last_decision_id") != expected_last_decision_id:
            raise StaleDecision()
        decision, new_state, uow = _plan(actor, inp, state, entity, rid, cid)
        try:
            results = await _commit(uow, conditional=conditional)
        except UniqueViolation as exc:
            replayed = await _replay_or_retry(exc, inp.content_id, rid, retry=attempt < MAX_ATTEMPTS)
            if replayed is not None:
                return replayed
            continue
        if results is None:
            continue  # a concurrent decision landed first: plan again on top of it
        decision["transparency"] = transparency.transparency_from(results[-1])  # the leaf is the unit's last part
        await _after_commit(entity, state, new_state)
        log.info(
            "moderation decision",
            extra={"content_id": inp.content_id, "decision_id": decision["decision_id"], "actor": actor.user_id},
        )
        return decision_result(new_state, decision)
    raise Conflict("the item kept changing; retry")


def _ensure_may_manage(actor: Actor, inp: DecisionInput, entity: Entity | None) -> None:
    """The role rule on user items, shared by the API, the admin pages and the system actor."""
    if inp.content_type != "user":
        return
    from apps.accounts import policy

    policy.ensure_may_manage(
        actor.user_id,
        actor.role,
        inp.content_id,
        entity.row["role"] if entity is not None and entity.row else None,
        policy.decision_action(inp.moderation_action, inp.moderation_status),
    )


async def _commit(uow: UnitOfWork, *, conditional: bool) -> list[Any] | None:
    """The unit's results; None when a concurrent decision moved the item (plan again)."""
    try:
        return await uow.commit(operation="moderation_decide")
    except Thrown as exc:
        if ROLE_CHANGED in exc.message:
            from apps.accounts import policy

            raise policy.role_changed() from exc
        if STALE not in exc.message:
            raise
        if conditional:
            raise StaleDecision() from exc
        return None


async def _replay_or_retry(exc: UniqueViolation, content_id: str, rid: str, *, retry: bool) -> dict[str, Any] | None:
    """After a unique violation: the stored answer (same request id landed first), None to plan again
    (another decision took this chain position), or the violation itself."""
    if exc.index == "moderation_decision_request":
        again = await repo().decision_by_request(content_id, rid)
        if again is not None:
            return await _result_of(again)
    if exc.index == "moderation_decision_chain" and retry:
        return None
    raise exc


# -- the plan: one decision's rows and statements ----------------------------------------------


def _plan(
    actor: Actor, inp: DecisionInput, state: dict[str, Any] | None, entity: Entity | None, rid: str, cid: str
) -> tuple[dict[str, Any], dict[str, Any], UnitOfWork]:
    """The decision, the item's next state, and the unit of work that records both."""
    rules.ensure_same_type(state, inp.content_type)
    author_id, author_username = rules.author_of(state, entity, inp)
    decision = _decision(actor, inp, state, rid, cid, now_ms())
    new_state = _next_state(decision, state, author_id, author_username)
    uow = UnitOfWork()
    for statement in _statements(actor, inp, state, entity, decision, new_state):
        uow.add(statement)
    return decision, new_state, uow


def _decision(
    actor: Actor, inp: DecisionInput, state: dict[str, Any] | None, rid: str, cid: str, now: int
) -> dict[str, Any]:
    """The ledger entry in its API shape, chained to the item's previous entry by ``prev_hash``."""
    decision = {
        "decision_id": new_id(),
        "content_id": inp.content_id,
        "content_type": inp.content_type,
        "moderation_status": inp.moderation_status,
        "moderation_action": inp.moderation_action,
        "reason_code": inp.reason_code,
        "confidence": inp.confidence,
        "decided_at_ms": now,
        "chain_seq": int((state or {}).get("chain_seq") or 0) + 1,
        "hold_expires_at_ms": now + inp.hold_duration_minutes * 60_000 if inp.is_hold else None,
        "auto_release_if_no_action": inp.auto_release_if_no_action,
        "appeal_window_until_ms": (
            now + (inp.appeal_window_minutes or DEFAULT_APPEAL_WINDOW_MINUTES) * 60_000
            if inp.moderation_status == "rejected"
            else None
        ),
        "reasoning": inp.reasoning,
        "violations": inp.violations,
        "prev_hash": (state or {}).get("event_hash"),
        "actor": {
            "user_id": actor.user_id,
            "username": actor.username,
            "role": actor.role,
            "request_id": rid,
            "correlation_id": cid,
        },
    }
    decision["event_hash"] = ledger.event_hash(decision)
    return decision


def _statements(
    actor: Actor,
    inp: DecisionInput,
    state: dict[str, Any] | None,
    entity: Entity | None,
    decision: dict[str, Any],
    new_state: dict[str, Any],
) -> list[Statement]:
    """Everything one decision writes, in order; the transparency-log leaf goes last (``decide`` reads
    its log index from the unit's last result)."""
    r = repo()
    statements = [
        r.expect_statement(inp.content_id, (state or {}).get("last_decision_id") or ""),
        r.decision_statement(ledger.stored_row(decision), new_state),
        *status_statements(inp.content_type, inp.content_id, inp, decision["decided_at_ms"]),
    ]
    if inp.content_type == "user" and entity is not None and entity.row:
        from apps.accounts import policy  # the roles the rule was checked with must still hold at commit

        statements += policy.role_guards(actor.user_id, actor.role, inp.content_id, entity.row["role"])
    if actor.role != "system":
        statements.append(r.resolve_reports_statement(inp.content_id, decision["decision_id"]))
    statements.append(_audit_statement(actor, state, decision))
    statements.append(
        transparency.append_statement(
            "moderation_decision", decision["decision_id"], log_entries.decision_entry(decision)
        )
    )
    return statements


def _audit_statement(actor: Actor, state: dict[str, Any] | None, decision: dict[str, Any]) -> Statement:
    return AuditRepository().statement(
        actor_id=actor.user_id,
        action="moderation.decide",
        target=f"content_moderation:{decision['content_id']}",
        before=None if state is None else {k: state.get(k) for k in ("moderation_status", "moderation_action")},
        after={
            "moderation_status": decision["moderation_status"],
            "moderation_action": decision["moderation_action"],
            "decision_id": decision["decision_id"],
        },
    )


def _next_state(
    decision: dict[str, Any], state: dict[str, Any] | None, author_id: str, author_username: str | None
) -> dict[str, Any]:
    return {
        "content_id": decision["content_id"],
        "content_type": decision["content_type"],
        "author_id": author_id,
        "author_username": author_username,
        "moderation_status": decision["moderation_status"],
        "moderation_action": decision["moderation_action"],
        "reason_code": decision["reason_code"],
        "confidence": decision["confidence"],
        "decided_at_ms": decision["decided_at_ms"],
        "decided_by": decision["actor"]["user_id"],
        "hold_expires_at_ms": decision["hold_expires_at_ms"],
        "auto_release_if_no_action": decision["auto_release_if_no_action"],
        "appeal_window_until_ms": decision["appeal_window_until_ms"],
        "reasoning": decision["reasoning"],
        "violations_json": ledger.canonical_json(decision["violations"]),
        "last_decision_id": decision["decision_id"],
        "chain_seq": decision["chain_seq"],
        "report_count": int((state or {}).get("report_count") or 0),
        "appeal_status": rules.appeal_after(state, decision["moderation_status"]),
        "appealed_at_ms": (state or {}).get("appealed_at_ms"),
        "appeal_statement": (state or {}).get("appeal_statement"),
        "request_id": decision["actor"]["request_id"],
        "correlation_id": decision["actor"]["correlation_id"],
        "event_hash": decision["event_hash"],
    }


# -- after the commit -----------------------------------------------------------------------------


async def _after_commit(entity: Entity | None, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Announce a committed decision's live effects as domain events (chat's realtime layer subscribes):
    a chat message hidden or restored, every sign-in of a blocked user ended."""
    if entity is not None and entity.kind == "chat_message":
        was_hidden = entity.moderation_status in HIDDEN_STATUSES
        hidden = after["moderation_status"] in HIDDEN_STATUSES
        if was_hidden != hidden:
            await events.publish(
                events.MessageVisibilityChanged(entity.thread_id or "", entity.seq, entity.content_id, hidden)
            )
    if after["content_type"] == "user" and after["moderation_action"] == "block":
        await events.publish(events.UserSessionsRevoked(after["content_id"]))


async def _result_of(stored: dict[str, Any]) -> dict[str, Any]:
    """The answer for an already-recorded decision (a retry with the same request id)."""
    decision = (await decision_views([stored]))[0]
    state = await repo().get_state(stored["content_id"])
    return decision_result(state or {}, decision)
