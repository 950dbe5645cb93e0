"""The outbox writer: canonical JSON, event ids, payload envelope, atomic commit with the entity."""

from __future__ import annotations

import json
import re

import pytest

from apps.core import context
from apps.core.db import Statement, UniqueViolation, UnitOfWork, run_sync
from apps.webhooks import outbox


def test_canonical_json_sorts_keys_at_every_level_and_keeps_utf8():
    text = outbox.canonical_json({"b": 1, "a": {"z": "ü", "y": [{"d": 1, "c": 2}]}})
    assert text == '{"a":{"y":[{"c":2,"d":1}],"z":"ü"},"b":1}'


def test_event_ids_are_evt_and_16_hex():
    ids = {outbox.new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"evt_[0-9a-f]{16}", i) for i in ids)


def test_timestamp_is_rfc3339_utc_with_z():
    assert outbox.rfc3339_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


def _statement(event_id: str | None = None) -> Statement:
    context.set_context(context.RequestContext(request_id="req-1", correlation_id="corr-1"))
    statement = outbox.event_statement(
        event_type="vouch_submitted",
        actor=outbox.Actor("u1", "ana"),
        subject={"vouch_id": "v1", "vouchee_id": "u2", "skill_id": None, "weight_hint": None, "message": ""},
        created_at_ms=1_700_000_000_000,
        event_id=event_id,
    )
    assert statement is not None
    return statement


def test_event_row_carries_payload_body_and_request_ids(surreal_db):
    uow = UnitOfWork()
    uow.add(_statement("evt_00000000000000aa"))
    run_sync(uow.commit, operation="test")
    row = run_sync(surreal_db.query, "SELECT * FROM webhook_outbox_event;")[0][0]
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert (row["request_id"], row["correlation_id"]) == ("req-1", "corr-1")
    payload = json.loads(row["body"])
    assert row["body"] == outbox.canonical_json(payload)
    assert payload["subject"]["skill_id"] is None  # null stays null in the body that is sent
    assert payload["event_id"] == "evt_00000000000000aa"
    assert payload["schema_version"] == "1"
    assert payload["source_platform_id"] == "gotong_royong"
    assert payload["request_id"] == "req-1"
    assert payload["actor"] == {"user_id": "u1", "username": "ana"}
    assert payload["timestamp"] == "2023-11-14T22:13:20.000Z"


def test_disabled_webhooks_write_no_event(settings):
    import dataclasses

    settings.CONFIG = dataclasses.replace(settings.CONFIG, webhook_enabled=False)
    assert (
        outbox.event_statement(event_type="vouch_submitted", actor=outbox.Actor("u", "n"), subject={}, created_at_ms=0)
        is None
    )


def test_event_and_entity_commit_together_or_not_at_all(surreal_db):
    uow = UnitOfWork()
    uow.add(_statement())
    uow.add(Statement("THROW 'entity write failed';"))
    with pytest.raises(Exception, match="entity write failed"):
        run_sync(uow.commit, operation="test")
    assert run_sync(surreal_db.query, "SELECT * FROM webhook_outbox_event;")[0] == []


def test_an_event_id_collision_is_retried_with_a_new_id(surreal_db, monkeypatch):
    first = UnitOfWork()
    first.add(_statement("evt_00000000000000bb"))
    run_sync(first.commit, operation="test")
    ids = iter(["evt_00000000000000bb", "evt_00000000000000cc"])
    monkeypatch.setattr(outbox, "new_event_id", lambda: next(ids))

    def build() -> UnitOfWork:
        uow = UnitOfWork()
        uow.add(_statement())
        return uow

    run_sync(outbox.commit_with_events, build, operation="test")
    rows = run_sync(surreal_db.query, "SELECT event_id FROM webhook_outbox_event ORDER BY event_id;")[0]
    assert [r["event_id"] for r in rows] == ["evt_00000000000000bb", "evt_00000000000000cc"]


def test_other_conflicts_are_not_retried(surreal_db):
    def build() -> UnitOfWork:
        uow = UnitOfWork()
        uow.add(Statement("CREATE _migration CONTENT {name: 'core/0001_core.surql', checksum: 'x', applied_at_ms: 1};"))
        return uow

    with pytest.raises(UniqueViolation):
        run_sync(outbox.commit_with_events, build, operation="test")
