"""Delivery against a real local receiver: the request on the wire and every row of the outcome table."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import time
from email.utils import formatdate

import pytest
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from apps.core.ids import now_ms
from apps.webhooks import services
from apps.webhooks.worker import Worker
from tests.webhooks.conftest import SECRET, add_event, event_row, log_rows, set_fields
from tests.webhooks.receiver import Action

PREVIOUS = "previous-webhook-secret-9876543210-zyx"


def openssl_hmac(key: str, body: bytes) -> str:
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", key], input=body, capture_output=True, check=True
    ).stdout.decode()
    return out.strip().split("= ")[-1]


async def deliver_once() -> int:
    return await Worker(concurrency=4, run_jobs=False).run_once()


async def test_request_is_signed_and_carries_the_ids(receiver, config):
    config(webhook_secret_previous=PREVIOUS)
    event_id = await add_event(request_id="req-abc", correlation_id="corr-xyz")
    assert await deliver_once() == 1
    (request,) = receiver.requests
    row = await event_row(event_id)
    assert request.body == row["body"].encode()  # the stored canonical JSON, byte for byte
    assert "héllo".encode() in request.body  # UTF-8, not escaped
    h = request.headers
    assert h["content-type"] == "application/json"
    assert h["user-agent"] == f"GotongRoyong/{settings.APP_VERSION}"
    assert h["x-request-id"] == "req-abc" == json.loads(request.body)["request_id"]
    assert h["x-correlation-id"] == "corr-xyz"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", h["traceparent"])
    assert h["x-gr-signature"] == "sha256=" + openssl_hmac(SECRET, request.body)
    assert h["x-gr-signature-previous"] == "sha256=" + openssl_hmac(PREVIOUS, request.body)
    assert h["webhook-id"] == event_id
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 60
    assert len(h["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, PREVIOUS):  # either key verifies with a standard library
        key = "whsec_" + base64.b64encode(secret.encode()).decode()
        assert Webhook(key).verify(request.body, dict(h))["event_id"] == event_id
    assert (await event_row(event_id))["status"] == "delivered"


async def test_wrong_key_fails_standard_verification(receiver):
    await add_event()
    await deliver_once()
    request = receiver.requests[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(base64.b64encode(b"another-secret").decode()).verify(request.body, dict(request.headers))


async def test_replay_resends_identical_body_and_request_id(receiver):
    event_id = await add_event(request_id="req-replay")
    await deliver_once()
    await services.replay(event_id)
    row = await event_row(event_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    await deliver_once()
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["x-request-id"] == second.headers["x-request-id"] == "req-replay"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event_id


async def test_stored_traceparent_is_continued(receiver):
    event_id = await add_event()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await set_fields(event_id, traceparent=traceparent)
    await deliver_once()
    sent = receiver.requests[0].headers["traceparent"]
    assert sent.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"  # the same trace, continued
    assert sent.split("-")[2] != "b7ad6b7169203331"  # as a child span


@pytest.mark.parametrize(
    ("status", "expected_status", "outcome"),
    [
        (200, "delivered", "success"),
        (201, "delivered", "success"),
        (204, "delivered", "success"),
        (301, "dead_letter", "terminal_failure"),
        (400, "dead_letter", "terminal_failure"),
        (401, "dead_letter", "terminal_failure"),
        (410, "dead_letter", "terminal_failure"),
        (408, "retrying", "retryable_failure"),
        (409, "retrying", "retryable_failure"),
        (429, "retrying", "retryable_failure"),
        (500, "retrying", "retryable_failure"),
        (503, "retrying", "retryable_failure"),
    ],
)
async def test_outcome_table(receiver, status, expected_status, outcome):
    body = b"" if status == 204 else b'{"answer":1}'
    receiver.script.append(Action(status=status, body=body))
    event_id = await add_event()
    before = now_ms()
    await deliver_once()
    row = await event_row(event_id)
    assert (row["status"], row["attempts"], row["last_status_code"]) == (expected_status, 1, status)
    assert row.get("lease_owner") is None
    (log,) = await log_rows(event_id)
    assert (log["attempt"], log["outcome"], log["status_code"]) == (1, outcome, status)
    assert log["request_id"] == "req-1"
    assert log["request_body_sha256"]
    assert log["response_body_sha256"]
    if expected_status == "retrying":  # attempt 1 failed: the default schedule's first step, 5 s ± 20 %
        assert before + 4000 <= row["next_attempt_at_ms"] <= now_ms() + 6000
    if expected_status == "delivered":
        assert row["delivered_at_ms"] >= before


async def test_redirect_to_another_host_is_not_followed(receiver):
    other = await type(receiver)().start()
    try:
        receiver.script.append(Action(status=302, headers={"Location": other.url}))
        event_id = await add_event()
        await deliver_once()
        assert other.requests == []
        row = await event_row(event_id)
        assert row["status"] == "dead_letter"
        assert "redirect" in row["last_error"]
    finally:
        await other.close()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_replaces_a_shorter_backoff(receiver, form):
    value = "120" if form == "seconds" else formatdate(time.time() + 120, usegmt=True)
    receiver.script.append(Action(status=429, headers={"Retry-After": value}))
    event_id = await add_event()
    before = now_ms()
    await deliver_once()
    row = await event_row(event_id)
    assert row["status"] == "retrying"
    assert before + 115_000 <= row["next_attempt_at_ms"] <= now_ms() + 121_000


async def test_retry_after_is_capped_at_one_hour(receiver):
    receiver.script.append(Action(status=503, headers={"Retry-After": "999999"}))
    event_id = await add_event()
    before = now_ms()
    await deliver_once()
    assert (await event_row(event_id))["next_attempt_at_ms"] <= before + 3_600_000 + 2_000


@pytest.mark.parametrize("kind", ["slow", "never"])
async def test_answers_past_the_timeout_are_retryable(receiver, config, kind):
    config(webhook_timeout_ms=300)
    receiver.script.append(Action(delay_s=60.0) if kind == "slow" else Action(kind="never"))
    event_id = await add_event()
    started = time.monotonic()
    await deliver_once()
    # Gave up at the 0.3 s timeout rather than waiting for the 60 s answer; the bound is generous on purpose
    # (a loaded machine), it only has to be far below the answer's delay.
    assert time.monotonic() - started < 15
    row = await event_row(event_id)
    assert row["status"] == "retrying"
    (log,) = await log_rows(event_id)
    assert log["outcome"] == "retryable_failure"
    assert "timed out" in log["error_message"]
    assert log.get("status_code") is None


async def test_connection_refused_is_retryable_and_recorded(config):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config(webhook_markov_url=f"http://127.0.0.1:{port}/webhook")
    event_id = await add_event()
    await deliver_once()
    row = await event_row(event_id)
    assert row["status"] == "retrying"
    assert "Connect" in row["last_error"]
    assert len(await log_rows(event_id)) == 1


async def test_connection_reset_mid_response_is_retryable(receiver):
    receiver.script.append(Action(kind="reset"))
    event_id = await add_event()
    await deliver_once()
    (log,) = await log_rows(event_id)
    assert log["outcome"] == "retryable_failure"
    assert (await event_row(event_id))["status"] == "retrying"


async def test_a_50_mb_answer_is_read_only_as_a_bounded_excerpt(receiver):
    receiver.script.append(Action(kind="big", big_bytes=50 << 20))
    event_id = await add_event()
    await deliver_once()
    row = await event_row(event_id)
    assert row["status"] == "delivered"
    (log,) = await log_rows(event_id)
    assert len(log["response_excerpt"].encode()) <= 1024
    assert receiver.bytes_sent < 20 << 20  # the worker hung up long before 50 MB


async def test_a_broken_stored_body_is_a_terminal_failure_not_a_crash(receiver):
    broken = await add_event()
    healthy = await add_event()
    await set_fields(broken, body='{"event_id": "evt_x", oops')
    assert await deliver_once() == 2
    row = await event_row(broken)
    assert row["status"] == "dead_letter"
    assert "not valid JSON" in row["last_error"]
    (log,) = await log_rows(broken)
    assert log["outcome"] == "terminal_failure"
    assert (await event_row(healthy))["status"] == "delivered"
    assert len(receiver.requests) == 1
    assert (await services.get_event(broken))["payload"] is None


async def test_max_attempts_then_dead_letter_with_one_log_row_per_attempt(receiver, config):
    config(webhook_backoff_base_ms=1, webhook_backoff_max_ms=2)
    receiver.default = Action(status=503)
    event_id = await add_event()
    await set_fields(event_id, max_attempts=3)
    deadline = time.monotonic() + 5
    while (await event_row(event_id))["status"] != "dead_letter" and time.monotonic() < deadline:
        await deliver_once()
    row = await event_row(event_id)
    assert (row["status"], row["attempts"]) == ("dead_letter", 3)
    assert "gave up after 3 attempts" in row["last_error"]
    logs = await log_rows(event_id)
    assert [log["attempt"] for log in logs] == [1, 2, 3]
    assert {log["outcome"] for log in logs} == {"retryable_failure"}
    assert len(receiver.requests) == 3
