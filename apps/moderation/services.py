"""Moderation decisions: one service for the API, the admin site, reports and the worker.

A decision and everything it changes — the ledger row, the item's current
state, the moderated entity's status (chat message, contribution, evidence,
user account and its tokens), resolved reports and the audit row — is ONE
``UnitOfWork``. Live effects (stream events, closing a blocked user's streams)
follow the commit: the database is the truth, the bus only notifies.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.accounts.domain import MODERATOR_ROLES, Principal
from apps.accounts.repository import ROLE_CHANGED
from apps.core import context
from apps.core.audit import AuditRepository
from apps.core.db import Thrown, UniqueViolation, UnitOfWork
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.core.ids import new_id, now_ms
from apps.moderation import ledger, rules
from apps.moderation import transparency as log_entries
from apps.moderation.entities import Entity, load_entity, status_statements
from apps.moderation.repository import STALE, ModerationRepository
from apps.transparency import services as transparency

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STATE_FIELDS = (
    "content_id", "content_type", "author_id", "author_username", "moderation_status", "moderation_action",
    "reason_code", "confidence", "decided_at_ms", "decided_by", "hold_expires_at_ms", "auto_release_if_no_action",
    "appeal_window_until_ms", "reasoning", "last_decision_id", "report_count", "request_id", "correlation_id",
    "event_hash",
)  # fmt: skip


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.user_id, principal.username, principal.role)


SYSTEM = Actor("system", "system", "system")


class StaleDecision(Conflict):
    """A newer decision exists than the one the caller based its decision on (stale hold)."""

    def __init__(self) -> None:
        super().__init__("a newer decision exists for this item", details={"reason": "stale"})


def repo() -> ModerationRepository:
    return ModerationRepository()


# -- views ---------------------------------------------------------------------


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
    return {
        "under_review": "This content is hidden while moderators review it.",
        "rejected": "This content was removed by moderators.",
    }.get(state["moderation_status"])


def author_view(state: dict[str, Any]) -> dict[str, Any]:
    keys = ("content_id", "content_type", "moderation_status", "moderation_action", "reason_code", "decided_at_ms",
            "hold_expires_at_ms", "appeal_window_until_ms")  # fmt: skip
    return {k: state.get(k) for k in keys} | {"warning_label": warning_label(state), "appeal": appeal_view(state)}


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "content_id": state["content_id"],
        "content_type": state["content_type"],
        "moderation_status": state["moderation_status"],
        "is_visible": state["moderation_status"] not in rules.HIDDEN_STATUSES,
        "placeholder": placeholder(state),
        "warning_label": warning_label(state),
    }


async def view_for(principal: Principal, content_id: str) -> dict[str, Any]:
    """``GET /v1/moderations/{content_id}``: the view the caller's role allows."""
    state = await repo().get_state(content_id) if rules.valid_content_id(content_id) else None
    if state is None:
        raise NotFound("this content was never moderated")
    if principal.role in MODERATOR_ROLES:
        decisions = await decision_views(await repo().decisions(content_id))
        return {"Moderator": state_view(state) | {"decisions": decisions}}
    if principal.user_id == state["author_id"]:
        return {"Author": author_view(state)}
    return {"Public": public_view(state)}


async def decision_views(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger rows in the API's decision shape, each with its ``transparency`` (one lookup for all)."""
    views = [ledger.decision_view(row) for row in rows]
    found = await transparency.locate("moderation_decision", [view["decision_id"] for view in views])
    return [view | {"transparency": found.get(view["decision_id"])} for view in views]


# -- decisions -------------------------------------------------------------------


async def decide(
    actor: Actor,
    data: Any,
    *,
    expected_last_decision_id: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Record one decision. Idempotent on ``(content_id, request id)``; ``expected_last_decision_id``
    makes it conditional (the worker's auto-release skips a hold that a newer decision replaced)."""
    inp = rules.decision_input(data)
    rid, cid = context.request_ids(request_id)
    stored = await repo().decision_by_request(inp.content_id, rid)
    if stored is not None:
        return await _result_of(stored)
    entity = await load_entity(inp.content_type, inp.content_id)
    if inp.content_type == "user":  # the role rule, shared by the API, the admin pages and the system actor
        from apps.accounts import policy

        policy.ensure_may_manage(
            actor.user_id,
            actor.role,
            inp.content_id,
            entity.row["role"] if entity is not None and entity.row else None,
            policy.decision_action(inp.moderation_action, inp.moderation_status),
        )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = await repo().get_state(inp.content_id)
        if expected_last_decision_id is not None and (state or {}).get("last_decision_id") != expected_last_decision_id:
            raise StaleDecision()
        decision, new_state, uow = _plan(actor, inp, state, entity, rid, cid)
        try:
            results = await uow.commit(operation="moderation_decide")
        except Thrown as exc:
            if ROLE_CHANGED in exc.message:
                from apps.accounts import policy

                raise policy.role_changed() from exc
            if STALE not in exc.message:
                raise
            if expected_last_decision_id is not None:
                raise StaleDecision() from exc
            continue  # a concurrent decision landed first: plan again on top of it
        except UniqueViolation as exc:
            if exc.index == "moderation_decision_request":
                again = await repo().decision_by_request(inp.content_id, rid)
                if again is not None:
                    return await _result_of(again)
            if exc.index == "moderation_decision_chain" and attempt < MAX_ATTEMPTS:
                continue
            raise
        decision["transparency"] = transparency.transparency_from(results[-1])  # the leaf is the unit's last part
        await _after_commit(entity, state, new_state)
        log.info(
            "moderation decision",
            extra={"content_id": inp.content_id, "decision_id": decision["decision_id"], "actor": actor.user_id},
        )
        return _result(new_state, decision)
    raise Conflict("the item kept changing; retry")


def _plan(
    actor: Actor,
    inp: rules.DecisionInput,
    state: dict[str, Any] | None,
    entity: Entity | None,
    rid: str,
    cid: str,
) -> tuple[dict[str, Any], dict[str, Any], UnitOfWork]:
    if state is not None and state["content_type"] != inp.content_type:
        # Well-formed, but contradicts what is stored: a conflict with the item's state, not a bad request.
        raise Conflict(f"this item is a {state['content_type']}", details={"content_type": state["content_type"]})
    author_id = (state or {}).get("author_id") or (entity.author_id if entity else None) or inp.author_id
    if not author_id:
        raise NotFound("unknown item: give author_id to moderate content this service does not hold")
    author_username = (
        (state or {}).get("author_username") or (entity.author_username if entity else None) or inp.author_username
    )
    now = now_ms()
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
            now + (inp.appeal_window_minutes or rules.DEFAULT_APPEAL_WINDOW_MINUTES) * 60_000
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
    new_state = _next_state(decision, state, author_id, author_username)
    uow = UnitOfWork()
    r = repo()
    uow.add(r.expect_statement(inp.content_id, (state or {}).get("last_decision_id") or ""))
    uow.add(r.decision_statement(ledger.stored_row(decision), new_state))
    for statement in status_statements(inp.content_type, inp.content_id, inp, now):
        uow.add(statement)
    if inp.content_type == "user" and entity is not None and entity.row:
        from apps.accounts import policy  # the roles the rule was checked with must still hold at commit

        for guard in policy.role_guards(actor.user_id, actor.role, inp.content_id, entity.row["role"]):
            uow.add(guard)
    if actor.role != "system":
        uow.add(r.resolve_reports_statement(inp.content_id, decision["decision_id"]))
    uow.add(
        AuditRepository().statement(
            actor_id=actor.user_id,
            action="moderation.decide",
            target=f"content_moderation:{inp.content_id}",
            before=None if state is None else {k: state.get(k) for k in ("moderation_status", "moderation_action")},
            after={
                "moderation_status": inp.moderation_status,
                "moderation_action": inp.moderation_action,
                "decision_id": decision["decision_id"],
            },
        )
    )
    # The transparency-log leaf goes last: ``decide`` reads its log index from the unit's last result.
    uow.add(
        transparency.append_statement(
            "moderation_decision", decision["decision_id"], log_entries.decision_entry(decision)
        )
    )
    return decision, new_state, uow


def _next_state(
    decision: dict[str, Any], state: dict[str, Any] | None, author_id: str, author_username: str | None
) -> dict[str, Any]:
    appeal_status = (state or {}).get("appeal_status")
    if appeal_status == "open":  # the next decision closes the appeal
        appeal_status = "upheld" if decision["moderation_status"] == "rejected" else "overturned"
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
        "appeal_status": appeal_status,
        "appealed_at_ms": (state or {}).get("appealed_at_ms"),
        "appeal_statement": (state or {}).get("appeal_statement"),
        "request_id": decision["actor"]["request_id"],
        "correlation_id": decision["actor"]["correlation_id"],
        "event_hash": decision["event_hash"],
    }


async def _after_commit(entity: Entity | None, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Live effects of a committed decision: chat stream events, closing a blocked user's streams."""
    from apps.chat import realtime

    if entity is not None and entity.kind == "chat_message":
        was_hidden = entity.moderation_status in rules.HIDDEN_STATUSES
        hidden = after["moderation_status"] in rules.HIDDEN_STATUSES
        if was_hidden != hidden:
            await realtime.publish(
                entity.thread_id or "",
                "message_hidden" if hidden else "message_restored",
                seq=entity.seq,
                message_id=entity.content_id,
            )
    if after["content_type"] == "user" and after["moderation_action"] == "block":
        await realtime.user_sessions_revoked(after["content_id"])


def _result(state: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    schedule = None
    if decision["auto_release_if_no_action"] and decision["hold_expires_at_ms"] is not None:
        schedule = {"content_id": decision["content_id"], "release_at_ms": decision["hold_expires_at_ms"]}
    return {"content": state_view(state), "decision": decision, "schedule_auto_release": schedule}


async def _result_of(stored: dict[str, Any]) -> dict[str, Any]:
    """The answer for an already-recorded decision (a retry with the same request id)."""
    decision = (await decision_views([stored]))[0]
    state = await repo().get_state(stored["content_id"])
    return _result(state or {}, decision)


# -- appeals ------------------------------------------------------------------------


async def appeal(principal: Principal, content_id: str, data: Any) -> dict[str, Any]:
    """The author appeals a rejection once, within its window; the item returns to the queue."""
    statement = rules.appeal_statement(data)
    state = await repo().get_state(content_id) if rules.valid_content_id(content_id) else None
    if state is None:
        raise NotFound("this content was never moderated")
    if state["author_id"] != principal.user_id:
        raise Forbidden("only the author may appeal")
    if state["moderation_status"] != "rejected":
        raise Conflict("only a rejected item can be appealed", details={"reason": "not_rejected"})
    if state.get("appeal_status"):
        raise Conflict("this item was already appealed", details={"reason": "already_appealed"})
    now = now_ms()
    if now > (state.get("appeal_window_until_ms") or 0):
        raise Forbidden("the appeal window has closed", details={"reason": "appeal_window_closed"})
    changes = {"appeal_status": "open", "appealed_at_ms": now, "appeal_statement": statement}
    uow = UnitOfWork()
    uow.add(repo().expect_statement(content_id, state["last_decision_id"]))
    uow.add(repo().appeal_statement(content_id, changes))
    try:
        await uow.commit(operation="moderation_appeal")
    except Thrown as exc:
        if STALE in exc.message:
            raise Conflict("the item changed; reload and retry") from exc
        raise
    return {
        "content_id": content_id,
        "content_type": state["content_type"],
        "moderation_status": state["moderation_status"],
        "appeal": appeal_view(state | changes),
    }


# -- reports ---------------------------------------------------------------------------


def report_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("report_id", "content_type", "content_id", "reporter_id", "reason", "note", "created_at_ms",
            "resolved_by_decision_id")  # fmt: skip
    return {k: row.get(k) for k in keys}


async def report(principal: Principal, data: Any) -> dict[str, Any]:
    """Report content the caller can see, once per item; enough distinct reports put it on hold."""
    from apps.moderation.entities import ensure_visible

    inp = rules.report_input(data)
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
    try:
        await repo().create_report(row)
    except UniqueViolation as exc:
        raise Conflict("you already reported this content") from exc
    if await repo().open_report_count(inp.content_id) >= settings.CONFIG.moderation_report_threshold:
        await _community_hold(entity, row["report_id"])
    return report_view(row)


async def _community_hold(entity: Entity, report_id: str) -> None:
    state = await repo().get_state(entity.content_id)
    if state is not None and state["moderation_status"] in rules.HIDDEN_STATUSES:
        return  # already held or removed
    data = {
        "content_id": entity.content_id,
        "content_type": entity.kind,
        "moderation_status": "under_review",
        "moderation_action": "hold_for_review",
        "reason_code": "community_reports",
        "hold_duration_minutes": 24 * 60,
        "auto_release_if_no_action": False,
        "author_id": entity.author_id,
        "author_username": entity.author_username,
    }
    try:
        await decide(SYSTEM, data, request_id=f"community_reports-{report_id}")
    except (StaleDecision, Conflict):
        log.info("community hold skipped: the item changed", extra={"content_id": entity.content_id})
    except Forbidden as exc:  # the role rule: the system actor may not act on this account; the report stands
        log.warning(
            "community hold skipped: refused by the role rule",
            extra={"content_id": entity.content_id, "reason": exc.message},
        )


async def list_reports(*, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await repo().reports(open_only=status == "open", limit=limit)
    return [report_view(r) for r in rows]


# -- the review queue -----------------------------------------------------------------------


async def review_queue(*, kind: str | None = None, content_type: str | None = None, limit: int = 50) -> list[dict]:
    """Held, appealed and reported items, oldest first (each once, with every reason it is queued)."""
    items: dict[str, dict[str, Any]] = {}

    def add(content_id: str, content_type_: str, queue_kind: str, since: int, state: dict | None) -> None:
        item = items.setdefault(content_id, {
            "content_id": content_id, "content_type": content_type_, "kinds": [], "queued_at_ms": since,
            "moderation_status": None, "moderation_action": None, "author_id": None, "reason_code": None,
            "report_count": 0, "report_reasons": [], "appeal": None, "hold_expires_at_ms": None,
        })  # fmt: skip
        item["kinds"].append(queue_kind)
        item["queued_at_ms"] = min(item["queued_at_ms"], since)
        if state:
            item.update(
                {
                    k: state.get(k)
                    for k in (
                        "moderation_status",
                        "moderation_action",
                        "author_id",
                        "reason_code",
                        "hold_expires_at_ms",
                    )
                },
                appeal=appeal_view(state),
            )

    r = repo()
    if kind in (None, "held"):
        for state in await r.held(limit):
            add(state["content_id"], state["content_type"], "held", state["decided_at_ms"], state)
    if kind in (None, "appeal"):
        for state in await r.appealed(limit):
            add(state["content_id"], state["content_type"], "appeal", state["appealed_at_ms"], state)
    if kind in (None, "reported"):
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in await r.reports(open_only=True, limit=1000):
            grouped.setdefault(row["content_id"], []).append(row)
        states = {s["content_id"]: s for s in await r.states(list(grouped)) if s}
        for content_id, rows in grouped.items():
            add(content_id, rows[0]["content_type"], "reported", rows[0]["created_at_ms"], states.get(content_id))
            items[content_id]["report_count"] = len(rows)
            items[content_id]["report_reasons"] = sorted({row["reason"] for row in rows})
    result = [i for i in items.values() if content_type in (None, "", i["content_type"])]
    result.sort(key=lambda i: (i["queued_at_ms"], i["content_id"]))
    for item in result:
        item["kind"] = item["kinds"][0]
    return result[:limit]
