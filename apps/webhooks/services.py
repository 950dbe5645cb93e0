"""Operations on the outbox for the admin API and the commands (thin edges call these)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from apps.core.db import UniqueViolation, UnitOfWork
from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.core.ids import now_ms
from apps.webhooks import metrics
from apps.webhooks.outbox import EVENT_TYPES, Actor, pending_row
from apps.webhooks.repository import STATUSES, OutboxRepository

log = logging.getLogger(__name__)

REPLAYABLE = ("dead_letter", "delivered", "retrying")


def _payload(row: dict[str, Any]) -> Any:
    """The payload as sent (parsed ``body``); ``None`` when the stored body is not valid JSON."""
    try:
        return json.loads(row.get("body") or "")
    except ValueError:
        return None


def event_view(row: dict[str, Any], *, with_payload: bool = True) -> dict[str, Any]:
    fields = (
        "event_id",
        "event_type",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at_ms",
        "lease_owner",
        "lease_expires_at_ms",
        "last_status_code",
        "last_error",
        "actor_id",
        "actor_username",
        "request_id",
        "correlation_id",
        "created_at_ms",
        "updated_at_ms",
        "delivered_at_ms",
    )
    view = {name: row.get(name) for name in fields}
    if with_payload:
        view["payload"] = _payload(row)
    return view


def log_view(row: dict[str, Any]) -> dict[str, Any]:
    fields = (
        "log_id",
        "event_id",
        "attempt",
        "outcome",
        "status_code",
        "duration_ms",
        "request_id",
        "correlation_id",
        "request_body_sha256",
        "response_body_sha256",
        "response_excerpt",
        "error_message",
        "created_at_ms",
    )
    return {name: row.get(name) for name in fields}


def _check_status(status: str | None, allowed: tuple[str, ...] = STATUSES) -> None:
    if status is not None and status not in allowed:
        raise ValidationFailed.for_fields({"status": [f"must be one of {', '.join(allowed)}"]})


async def list_events(*, status: str | None, limit: int) -> list[dict[str, Any]]:
    _check_status(status)
    rows = await OutboxRepository().list(status=status, limit=limit)
    return [event_view(r, with_payload=False) for r in rows]


async def get_event(event_id: str) -> dict[str, Any]:
    row = await OutboxRepository().get(event_id)
    if row is None:
        raise NotFound("no such outbox event")
    return event_view(row)


async def event_logs(event_id: str) -> list[dict[str, Any]]:
    repo = OutboxRepository()
    if not await repo.exists(event_id):
        raise NotFound("no such outbox event")
    return [log_view(r) for r in await repo.logs(event_id)]


async def replay(event_id: str) -> dict[str, Any]:
    """Back to ``pending`` with attempts 0, same ``event_id`` and body; 409 while a live lease holds it."""
    repo = OutboxRepository()
    row = await repo.replay(event_id, now_ms())
    if row is None:
        if not await repo.exists(event_id):
            raise NotFound("no such outbox event")
        raise Conflict("the event is being delivered right now; retry after its lease ends")
    await _wake()
    log.info("webhook event replayed", extra={"event_id": event_id})
    return event_view(row)


async def replay_status(*, status: str, limit: int, dry_run: bool = False) -> list[str]:
    _check_status(status, REPLAYABLE)
    repo = OutboxRepository()
    if dry_run:
        return await repo.ids_with_status(status=status, limit=limit)
    ids = await repo.replay_status(status=status, limit=limit, now=now_ms())
    if ids:
        await _wake()
    log.info("webhook events replayed", extra={"status": status, "count": len(ids)})
    return ids


async def _wake() -> None:
    from apps.webhooks.wake import notify

    await notify()


async def refresh_gauges() -> None:
    """``webhook_outbox_events{status}`` and ``webhook_queue_lag_seconds`` (a periodic job of the worker)."""
    repo = OutboxRepository()
    now = now_ms()
    for status, count in (await repo.status_counts()).items():
        metrics.webhook_outbox_events.labels(status).set(count)
    oldest = await repo.oldest_due_ms(now)
    metrics.webhook_queue_lag_seconds.set(0 if oldest is None else max(0, now - oldest) / 1000)


# -- backfill -----------------------------------------------------------------


@dataclass
class BackfillResult:
    inserted: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def backfill_row(line: str) -> dict[str, Any]:
    """An outbox row from one NDJSON payload line; ``ValueError`` says what is wrong with it."""
    try:
        payload = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    event_id, event_type = payload.get("event_id"), payload.get("event_type")
    actor, request_id = payload.get("actor"), payload.get("request_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 128:
        raise ValueError("event_id missing or invalid")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}")
    if not isinstance(actor, dict) or not isinstance(actor.get("user_id"), str):
        raise ValueError("actor.user_id missing")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("request_id missing")
    actor_ref = Actor(actor["user_id"], str(actor.get("username") or ""))
    return pending_row(payload, actor=actor_ref, request_id=request_id, correlation_id=request_id, traceparent=None)


async def backfill_line(line: str, *, dry_run: bool, result: BackfillResult, line_no: int) -> None:
    """Insert one line's event unless it exists (duplicates counted, never re-inserted)."""
    try:
        row = backfill_row(line)
    except ValueError as exc:
        result.failed += 1
        result.errors.append(f"line {line_no}: {exc}")
        return
    repo = OutboxRepository()
    if row["event_id"] in result.seen or await repo.exists(row["event_id"]):
        result.duplicates += 1
        return
    result.seen.add(row["event_id"])
    if dry_run:
        result.inserted += 1
        return
    uow = UnitOfWork()
    uow.add(repo.insert_statement(row))
    try:
        await uow.commit(operation="webhook_backfill")
    except UniqueViolation:
        result.duplicates += 1
        return
    except Exception as exc:
        result.failed += 1
        result.errors.append(f"line {line_no}: {type(exc).__name__}: {exc}"[:300])
        return
    result.inserted += 1
