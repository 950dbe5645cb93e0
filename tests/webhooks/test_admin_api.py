"""Admin outbox API: roles, list/filter, detail, logs, replay one, replay by status."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts import staff
from apps.core.db import run_sync
from apps.webhooks.worker import Worker
from tests.accounts.conftest import PASSWORD, bearer, post_json
from tests.webhooks.conftest import add_event, set_fields

BASE = "/v1/admin/webhooks/outbox"


@pytest.fixture
def admin(api) -> dict[str, str]:
    run_sync(staff.ensure_admin, email="root@example.com", username="root_admin", password=PASSWORD)
    response = post_json(api, "/v1/auth/signin", {"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return bearer(response.json()["access_token"])


@pytest.fixture
def user() -> dict[str, str]:
    body = {"email": "ana@example.com", "username": "ana", "password": PASSWORD}
    response = post_json(Client(), "/v1/auth/signup", body)
    assert response.status_code == 201, response.content
    return bearer(response.json()["access_token"])


def test_anonymous_gets_401_and_plain_users_403(api, user):
    assert api.get(BASE).status_code == 401
    response = api.get(BASE, **user)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert post_json(api, f"{BASE}/replay", {"status": "dead_letter"}, **user).status_code == 403


def test_list_filter_get_and_logs(api, admin, config):
    config(webhook_markov_url="http://127.0.0.1:9/closed")
    first = run_sync(add_event, request_id="r-first")
    second = run_sync(add_event, request_id="r-second")
    run_sync(set_fields, second, status="dead_letter")
    listed = api.get(BASE, **admin).json()["events"]
    assert {e["event_id"] for e in listed} == {first, second}
    dead = api.get(f"{BASE}?status=dead_letter&limit=5", **admin).json()["events"]
    assert [e["event_id"] for e in dead] == [second]
    detail = api.get(f"{BASE}/{first}", **admin).json()
    assert (detail["status"], detail["payload"]["request_id"]) == ("pending", "r-first")
    run_sync(Worker(concurrency=2, run_jobs=False).run_once)
    logs = api.get(f"{BASE}/{first}/logs", **admin).json()
    assert logs["event_id"] == first
    assert [(log["attempt"], log["outcome"]) for log in logs["logs"]] == [(1, "retryable_failure")]


@pytest.mark.parametrize("query", ["status=nope", "limit=0", "limit=501", "limit=x"])
def test_bad_query_is_400(api, admin, query):
    response = api.get(f"{BASE}?{query}", **admin)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_unknown_event_is_404(api, admin):
    for path in ("evt_0000000000000000", "evt_0000000000000000/logs"):
        assert api.get(f"{BASE}/{path}", **admin).status_code == 404
    assert api.post(f"{BASE}/evt_0000000000000000/replay", **admin).status_code == 404


def test_replay_one_and_by_status(api, admin):
    ids = [run_sync(add_event) for _ in range(3)]
    for event_id in ids:
        run_sync(set_fields, event_id, status="dead_letter", attempts=5, last_error="HTTP 400")
    replayed = api.post(f"{BASE}/{ids[0]}/replay", **admin).json()
    assert (replayed["event_id"], replayed["status"], replayed["attempts"], replayed["last_error"]) == (
        ids[0],
        "pending",
        0,
        None,
    )
    response = post_json(api, f"{BASE}/replay", {"status": "dead_letter", "limit": 10}, **admin)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["replayed"], set(body["event_ids"])) == ("dead_letter", 2, set(ids[1:]))
    assert post_json(api, f"{BASE}/replay", {"status": "pending"}, **admin).status_code == 400
    statuses = {api.get(f"{BASE}/{event_id}", **admin).json()["status"] for event_id in ids}
    assert statuses == {"pending"}


def test_replay_of_an_event_under_a_live_lease_is_409(api, admin):
    event_id = run_sync(add_event)
    run_sync(set_fields, event_id, status="in_flight", lease_owner="w", lease_expires_at_ms=2**50)
    response = api.post(f"{BASE}/{event_id}/replay", **admin)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
