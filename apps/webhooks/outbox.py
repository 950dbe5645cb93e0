"""Writing outbox events (05-webhooks.md "Transactional outbox" and "Payloads").

A service that creates a contribution, evidence or a vouch adds
``event_statement(...)`` to the same ``UnitOfWork`` as the entity, so either
both exist or neither. Nothing is sent from the request path: the worker
delivers. The canonical JSON body is computed here once and stored; every
delivery attempt sends those exact bytes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from apps.core import context, tracing
from apps.core.db import Statement, UniqueViolation, UnitOfWork
from apps.core.ids import now_ms

SCHEMA_VERSION = "1"
EVENT_TYPES = (
    "contribution_created",
    "vouch_submitted",
    "por_evidence",
    "co_witness_attested",
    "transparency_checkpoint",
)
EVENT_ID_INDEX = "webhook_outbox_event_id"


def canonical_json(value: Any) -> str:
    """Keys sorted at every level, compact separators, UTF-8 not escaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def new_event_id() -> str:
    """``evt_`` + 16 random lowercase hex characters (unique index; callers retry on a collision)."""
    return "evt_" + secrets.token_hex(8)


def rfc3339_ms(epoch_ms: int) -> str:
    """RFC 3339 in UTC with a ``Z`` (the payload's ``timestamp``)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str


def build_payload(
    *,
    event_id: str,
    event_type: str,
    actor: Actor,
    subject: dict[str, Any],
    created_at_ms: int,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    payload: dict[str, Any] = {
        "actor": {"user_id": actor.user_id, "username": actor.username},
        "event_id": event_id,
        "event_type": event_type,
        "request_id": request_id,
        "schema_version": SCHEMA_VERSION,
        "source_platform_id": settings.CONFIG.webhook_source_platform_id,
        "subject": subject,
        "timestamp": rfc3339_ms(created_at_ms),
    }
    if extra:
        payload.update(extra)
    return payload


def pending_row(
    payload: dict[str, Any], *, actor: Actor, request_id: str, correlation_id: str, traceparent: str | None
) -> dict[str, Any]:
    """A new ``pending`` outbox row carrying ``payload`` (its canonical JSON is the body sent, byte for byte)."""
    now = now_ms()
    return {
        "event_id": payload["event_id"],
        "event_type": payload["event_type"],
        "body": canonical_json(payload),
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "request_id": request_id,
        "correlation_id": correlation_id,
        "traceparent": traceparent,
        "status": "pending",
        "attempts": 0,
        "max_attempts": settings.CONFIG.webhook_max_attempts,
        "next_attempt_at_ms": now,
        "lease_owner": None,
        "lease_expires_at_ms": None,
        "last_status_code": None,
        "last_error": None,
        "created_at_ms": now,
        "updated_at_ms": now,
        "delivered_at_ms": None,
    }


def event_statement(
    *,
    event_type: str,
    actor: Actor,
    subject: dict[str, Any],
    created_at_ms: int,
    extra: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> Statement | None:
    """The CREATE of one outbox event, for the entity's ``UnitOfWork``; ``None`` when webhooks are disabled.

    ``request_id``/``correlation_id`` come from the current request context, so
    ``X-Request-ID`` on the delivery equals the request that created the entity.
    """
    if not settings.CONFIG.webhook_enabled:
        return None
    request_id, correlation_id = context.request_ids()
    event_id = event_id or new_event_id()
    payload = build_payload(
        event_id=event_id,
        event_type=event_type,
        actor=actor,
        subject=subject,
        created_at_ms=created_at_ms,
        request_id=request_id,
        extra=extra,
    )
    row = pending_row(
        payload,
        actor=actor,
        request_id=request_id,
        correlation_id=correlation_id,
        traceparent=tracing.current_traceparent(),
    )
    return Statement(
        "CREATE type::record('webhook_outbox_event', $id) CONTENT $row RETURN NONE;", {"id": event_id, "row": row}
    )


async def commit_with_events(build: Callable[[], UnitOfWork], *, operation: str, attempts: int = 3) -> list[list[Any]]:
    """Commit a unit of work that carries outbox events, retrying on an ``event_id`` collision.

    ``build`` must make a fresh ``UnitOfWork`` each call (new event ids come from
    ``event_statement``). A collision of 64 random bits is unlikely but must not
    lose an event or fail the request. After the commit, idle workers are woken
    (in-process, and through Redis when configured); the wake is only a hint.
    """
    for attempt in range(1, attempts + 1):
        try:
            results = await build().commit(operation=operation)
        except UniqueViolation as exc:
            collided = exc.index == EVENT_ID_INDEX or (exc.record or "").startswith("webhook_outbox_event:")
            if not collided or attempt == attempts:
                raise
            continue
        from apps.webhooks.wake import notify  # late: keeps this module free of Redis at import

        await notify()
        return results
    raise AssertionError("unreachable")
