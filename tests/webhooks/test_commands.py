"""Commands: webhook_replay, webhook_backfill, markov_receiver (the dev receiver)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.core.management import CommandError, call_command

from apps.core.db import run_sync
from apps.webhooks import signing
from apps.webhooks.httpserver import Request
from apps.webhooks.receiver import MarkovReceiver
from tests.webhooks.conftest import add_event, event_row, set_fields
from tests.webhooks.test_claims import _payload_line


def test_webhook_replay_dry_run_then_real(capsys):
    ids = [run_sync(add_event) for _ in range(3)]
    for event_id in ids:
        run_sync(set_fields, event_id, status="dead_letter", attempts=5)
    call_command("webhook_replay", "--status", "dead_letter", "--limit", "2", "--dry-run")
    out = capsys.readouterr().out
    assert "would replay 2 event(s)" in out
    assert {run_sync(event_row, i)["status"] for i in ids} == {"dead_letter"}
    call_command("webhook_replay", "--status", "dead_letter", "--limit", "2")
    out = capsys.readouterr().out
    assert "[2/2] replayed" in out
    assert "replayed 2 event(s)" in out
    assert sorted(run_sync(event_row, i)["status"] for i in ids) == ["dead_letter", "pending", "pending"]


def test_webhook_replay_rejects_a_bad_limit():
    with pytest.raises(CommandError):
        call_command("webhook_replay", "--limit", "0")


def test_webhook_backfill_counts_inserted_duplicates_and_failures(tmp_path, capsys):
    existing = run_sync(add_event)
    lines = [_payload_line(1), _payload_line(2), _payload_line(1), "{not json", json.dumps({"event_id": "x"})]
    lines.append(json.dumps({**json.loads(_payload_line(3)), "event_id": existing}))
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="2 line"):
        call_command("webhook_backfill", "--file", str(path), "--dry-run")
    assert "inserted 2, duplicates 2, failed 2" in capsys.readouterr().out
    with pytest.raises(IndexError):
        run_sync(event_row, "evt_0000000000000001")
    with pytest.raises(CommandError):
        call_command("webhook_backfill", "--file", str(path))
    assert "inserted 2, duplicates 2, failed 2" in capsys.readouterr().out
    row = run_sync(event_row, "evt_0000000000000001")
    assert row["status"] == "pending"
    assert row["body"] == json.dumps(json.loads(_payload_line(1)), sort_keys=True, separators=(",", ":"))


def test_webhook_backfill_of_a_clean_file_exits_zero(tmp_path, capsys):
    path = tmp_path / "events.ndjson"
    path.write_text(_payload_line(7) + "\n")
    call_command("webhook_backfill", "--file", str(path))
    assert "inserted 1, duplicates 0, failed 0" in capsys.readouterr().out


SECRET = "receiver-secret-0123456789"


def _request(body: bytes, signature: str | None) -> Request:
    headers = {"x-gr-signature": signature} if signature else {}
    return Request("POST", "/api/v1/platforms/gotong_royong/webhook", headers, body)


async def test_receiver_verifies_dedupes_and_answers():
    receiver = MarkovReceiver(SECRET)
    body = _payload_line(1).encode()
    bad = await receiver.handle(_request(body, "sha256=" + "0" * 64))
    assert bad.status == 401
    assert (await receiver.handle(_request(body, None))).status == 401
    first = await receiver.handle(_request(body, signing.gr_signature(SECRET, body)))
    again = await receiver.handle(_request(body, signing.gr_signature(SECRET, body)))
    assert json.loads(first.body) == {"processed": 1, "results": [{"event_id": body_id(body), "status": "processed"}]}
    assert json.loads(again.body)["processed"] == 0
    assert receiver.stats()["duplicates"] == 1
    assert receiver.stats()["bad_signatures"] == 2


def body_id(body: bytes) -> str:
    return json.loads(body)["event_id"]


async def test_receiver_fails_on_purpose_at_the_given_rate():
    receiver = MarkovReceiver(SECRET, fail_rate=0.3, fail_status=503, seed=7)
    statuses = []
    for i in range(200):
        body = _payload_line(i).encode()
        statuses.append((await receiver.handle(_request(body, signing.gr_signature(SECRET, body)))).status)
    assert set(statuses) == {200, 503}
    assert 40 <= statuses.count(503) <= 80


async def test_receiver_over_http_with_the_worker(config):
    """The receiver as the command serves it, driven by the real worker."""
    import asyncio

    from apps.webhooks.receiver import start
    from apps.webhooks.worker import Worker
    from tests.webhooks.conftest import SECRET as WORKER_SECRET

    receiver = MarkovReceiver(WORKER_SECRET)
    server = await start(receiver, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config(webhook_markov_url=f"http://127.0.0.1:{port}/webhook")
    ids = [await add_event() for _ in range(5)]
    assert await Worker(concurrency=5, run_jobs=False).run_once() == 5
    assert {(await event_row(i))["status"] for i in ids} == {"delivered"}
    stats = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats")))
    assert (stats["unique_events"], stats["duplicates"], stats["bad_signatures"]) == (5, 0, 0)
    server.close()
