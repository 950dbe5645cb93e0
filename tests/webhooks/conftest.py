"""Webhook test helpers: settings for fast retries, events in the outbox, a scripted receiver."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from apps.core import context
from apps.core.db import UnitOfWork, get_db
from apps.webhooks import outbox
from tests.webhooks.receiver import ScriptedReceiver

SECRET = "test-webhook-secret-0123456789-abcdef"


@pytest.fixture
def config(settings):
    """Change ``settings.CONFIG`` fields for one test: ``config(webhook_timeout_ms=300)``."""

    def change(**fields: Any) -> None:
        settings.CONFIG = dataclasses.replace(settings.CONFIG, **fields)

    change(webhook_secret=SECRET, webhook_secret_previous="")
    return change


@pytest.fixture
async def receiver(config) -> AsyncIterator[ScriptedReceiver]:
    server = await ScriptedReceiver().start()
    config(webhook_markov_url=server.url)
    yield server
    await server.close()


async def add_event(
    *, request_id: str = "req-1", correlation_id: str = "corr-1", subject: dict[str, Any] | None = None
) -> str:
    """Write one ``vouch_submitted`` event the way services do; returns its event id."""
    context.set_context(context.RequestContext(request_id=request_id, correlation_id=correlation_id))
    ids: list[str] = []

    def build() -> UnitOfWork:
        event_id = outbox.new_event_id()
        ids.append(event_id)
        uow = UnitOfWork()
        statement = outbox.event_statement(
            event_type="vouch_submitted",
            actor=outbox.Actor("u1", "ána"),
            subject=subject or {"vouch_id": "v1", "vouchee_id": "u2", "skill_id": None, "message": "héllo"},
            created_at_ms=1_700_000_000_000,
            event_id=event_id,
        )
        assert statement is not None
        uow.add(statement)
        return uow

    await outbox.commit_with_events(build, operation="test")
    return ids[-1]


async def event_row(event_id: str) -> dict[str, Any]:
    rows = await get_db().query(
        "SELECT * FROM type::record('webhook_outbox_event', $id);", {"id": event_id}, operation="test"
    )
    return rows[0][0]


async def log_rows(event_id: str) -> list[dict[str, Any]]:
    rows = await get_db().query(
        "SELECT * FROM webhook_delivery_log WHERE event_id = $id ORDER BY attempt;", {"id": event_id}
    )
    return rows[0]


async def set_fields(event_id: str, **fields: Any) -> None:
    await get_db().write(
        "UPDATE type::record('webhook_outbox_event', $id) MERGE $fields;", {"id": event_id, "fields": fields}
    )
