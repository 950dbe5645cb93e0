"""The idempotency store of 01-api-conventions.md, on Redis and in-process."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import RequestFactory
from prometheus_client import REGISTRY

from apps.core import idempotency
from apps.core.errors import Conflict, Unavailable
from apps.core.idempotency import Begun, Replay, make_key, run_idempotent, store
from apps.core.redis import get_redis, set_redis_url
from tests.conftest import free_port

OP = "test.create"
SCOPE = "user0123"


@pytest.fixture(autouse=True)
def _fresh_local_store():
    idempotency.reset_local_store()
    yield
    idempotency.reset_local_store()


@pytest.fixture(params=["local", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return request.param


def collisions(result: str, operation: str = OP) -> float:
    return (
        REGISTRY.get_sample_value("gotong_idempotency_collisions_total", {"operation": operation, "result": result})
        or 0.0
    )


def make_request(request_id: str, body: dict | None = None):
    req = RequestFactory().post("/v1/things", data=json.dumps(body or {}), content_type="application/json")
    req.request_id = request_id
    return req


async def test_backend_choice_follows_redis_url(backend):
    chosen = idempotency.backend()
    assert isinstance(chosen, idempotency.RedisBackend if backend == "redis" else idempotency.LocalBackend)


async def test_begin_complete_replay_exact(backend):
    body = {"text": "halo", "n": 1}
    first = await store.begin(OP, SCOPE, "rid-1", body)
    assert isinstance(first, Begun)
    assert first.key == "gotong:idemp:test.create:user0123:rid-1"
    stored = {"message_id": "a" * 32, "text": "halo", "nested": {"z": 1, "a": [1, 2]}}
    await store.complete(first, 201, stored)

    before = collisions("replayed")
    # Same body with other key order / whitespace is the same canonical body.
    again = await store.begin(OP, SCOPE, "rid-1", '{ "n": 1, "text": "halo" }')
    assert again == Replay(201, stored)
    assert collisions("replayed") == before + 1

    # Other scope or other request id → independent.
    assert isinstance(await store.begin(OP, "other-user", "rid-1", body), Begun)
    assert isinstance(await store.begin(OP, SCOPE, "rid-2", body), Begun)


async def test_in_progress_conflict(backend):
    body = {"text": "x"}
    assert isinstance(await store.begin(OP, SCOPE, "rid-ip", body), Begun)
    before = collisions("in_progress")
    with pytest.raises(Conflict) as info:
        await store.begin(OP, SCOPE, "rid-ip", body)
    assert info.value.status == 409
    assert info.value.code == "conflict"
    assert "in progress" in info.value.message
    assert collisions("in_progress") == before + 1


@pytest.mark.parametrize("completed", [False, True])
async def test_body_mismatch_is_key_reused(backend, completed):
    begun = await store.begin(OP, SCOPE, "rid-mm", {"text": "one"})
    if completed:
        await store.complete(begun, 201, {"ok": True})
    before = collisions("key_reused")
    with pytest.raises(Conflict) as info:
        await store.begin(OP, SCOPE, "rid-mm", {"text": "two"})
    assert info.value.details == {"reason": "idempotency_key_reused"}
    assert collisions("key_reused") == before + 1


def test_body_hash_canonical_and_raw():
    assert idempotency.body_hash({"b": 1, "a": "é"}) == idempotency.body_hash(b'{"a":"\\u00e9",  "b":1}')
    assert idempotency.body_hash({"a": 1}) != idempotency.body_hash({"a": 2})
    assert idempotency.body_hash(b"\xff\x00 not json") != idempotency.body_hash(b"\xff\x01 not json")


async def test_run_idempotent_replays_with_header(backend):
    calls = 0

    async def handler():
        nonlocal calls
        calls += 1
        return 201, {"id": calls, "text": "halo"}

    first = await run_idempotent(make_request("rid-run"), OP, SCOPE, {"text": "halo"}, handler)
    second = await run_idempotent(make_request("rid-run"), OP, SCOPE, {"text": "halo"}, handler)
    assert calls == 1
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert json.loads(second.content) == {"id": 1, "text": "halo"}
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")


async def test_error_releases_lock_and_retry_runs(backend):
    attempts = 0

    async def failing():
        nonlocal attempts
        attempts += 1
        raise RuntimeError("database went away")

    async def succeeding():
        nonlocal attempts
        attempts += 1
        return 201, {"attempt": attempts}

    with pytest.raises(RuntimeError):
        await run_idempotent(make_request("rid-err"), OP, SCOPE, {"a": 1}, failing)
    response = await run_idempotent(make_request("rid-err"), OP, SCOPE, {"a": 1}, succeeding)
    assert response.status_code == 201
    assert json.loads(response.content) == {"attempt": 2}
    assert not response.has_header("Idempotent-Replayed")


async def test_non_2xx_is_not_stored(backend):
    answers = iter([(400, {"error": {"code": "validation_error"}}), (201, {"ok": True})])

    async def handler():
        return next(answers)

    first = await run_idempotent(make_request("rid-4xx"), OP, SCOPE, {"a": 1}, handler)
    second = await run_idempotent(make_request("rid-4xx"), OP, SCOPE, {"a": 1}, handler)
    assert first.status_code == 400
    assert second.status_code == 201
    assert not second.has_header("Idempotent-Replayed")


async def test_late_release_does_not_remove_another_attempts_marker(backend):
    stale = await store.begin(OP, SCOPE, "rid-stale", {"a": 1})
    # Simulate the first marker expiring and a second attempt taking the key.
    await idempotency.backend().delete_if_token(stale.key, stale.token)
    fresh = await store.begin(OP, SCOPE, "rid-stale", {"a": 1})
    assert isinstance(fresh, Begun)
    await store.release(stale)  # the late release of the first attempt
    with pytest.raises(Conflict):
        await store.begin(OP, SCOPE, "rid-stale", {"a": 1})


async def test_concurrent_begins_exactly_one_proceeds(backend):
    results = await asyncio.gather(
        *(store.begin(OP, SCOPE, "rid-race", {"x": 1}) for _ in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, Begun) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 19


async def test_concurrent_requests_run_handler_once(backend):
    calls = refused = 0
    all_refused = asyncio.Event()

    async def held():
        """Stays in flight until the other 19 were refused (a condition, not a sleep)."""
        nonlocal calls
        calls += 1
        await asyncio.wait_for(all_refused.wait(), 10)
        return 201, {"ok": True}

    async def attempt():
        nonlocal refused
        try:
            return await run_idempotent(make_request("rid-crowd"), OP, SCOPE, {"x": 1}, held)
        except Conflict:
            refused += 1
            if refused == 19:
                all_refused.set()
            raise

    results = await asyncio.gather(*(attempt() for _ in range(20)), return_exceptions=True)
    assert calls == 1
    assert sum(getattr(r, "status_code", None) == 201 for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 19
    replay = await run_idempotent(make_request("rid-crowd"), OP, SCOPE, {"x": 1}, held)
    assert replay["Idempotent-Replayed"] == "true"
    assert calls == 1


async def test_ttls_on_redis(redis_url):
    client = get_redis()
    begun = await store.begin(OP, SCOPE, "rid-ttl", {"a": 1})
    key = make_key(OP, SCOPE, "rid-ttl")
    pttl = await client.pttl(key)
    assert 55_000 <= pttl <= 60_000
    await store.complete(begun, 201, {"ok": True})
    pttl = await client.pttl(key)
    assert 24 * 3600 * 1000 - 10_000 <= pttl <= 24 * 3600 * 1000
    stored = json.loads(await client.get(key))
    assert stored["state"] == "completed"
    assert stored["status"] == 201
    assert stored["body"] == {"ok": True}
    assert len(stored["body_hash"]) == 64


async def test_ttls_in_process():
    begun = await store.begin(OP, SCOPE, "rid-ttl", {"a": 1})
    local = idempotency.local_store()
    assert 55_000 <= local.ttl_ms(begun.key) <= 60_000
    await store.complete(begun, 201, {"ok": True})
    assert 24 * 3600 * 1000 - 10_000 <= local.ttl_ms(begun.key) <= 24 * 3600 * 1000


class FakeClock:
    """Stands in for the ``time`` module of apps.core.idempotency: the test moves time, not the machine."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


async def test_in_process_marker_expires(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(idempotency, "time", clock)
    assert isinstance(await store.begin(OP, SCOPE, "rid-exp", {"a": 1}), Begun)
    clock.now += (idempotency.IN_PROGRESS_TTL_MS - 1) / 1000  # 1 ms before the marker ends: still held
    with pytest.raises(Conflict):
        await store.begin(OP, SCOPE, "rid-exp", {"a": 1})
    clock.now += 0.002  # past the in-progress TTL
    assert isinstance(await store.begin(OP, SCOPE, "rid-exp", {"a": 1}), Begun)


async def test_redis_down_is_unavailable_not_fallback(redis_url):
    set_redis_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        calls = 0

        async def handler():
            nonlocal calls
            calls += 1
            return 201, {}

        with pytest.raises(Unavailable) as info:
            await run_idempotent(make_request("rid-down"), OP, SCOPE, {"a": 1}, handler)
        assert info.value.status == 503
        assert calls == 0
        # Nothing went to the in-process store (no silent fallback).
        assert idempotency.local_store().ttl_ms(make_key(OP, SCOPE, "rid-down")) is None
    finally:
        set_redis_url(None)


async def test_a_burst_larger_than_the_redis_pool_waits_instead_of_failing(redis_url):
    """200 concurrent idempotent requests share a 64-connection pool without a 503."""
    import asyncio

    from apps.core.idempotency import store as idem_store
    from apps.core.redis import POOL_SIZE

    async def one(i: int) -> None:
        begun = await idem_store.begin("burst", "scope", f"burst-{i}", {"i": i})
        await idem_store.complete(begun, 201, {"i": i})

    assert POOL_SIZE < 200
    await asyncio.gather(*(one(i) for i in range(200)))


async def test_database_backed_operations_run_while_the_store_is_down(rf):
    """Chat sends keep working without Redis: the database's unique request id prevents duplicates."""
    from apps.core.errors import Unavailable
    from apps.core.idempotency import run_idempotent
    from apps.core.redis import set_redis_url
    from tests.conftest import free_port

    set_redis_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        request = rf.post("/x", HTTP_X_REQUEST_ID="down-1")

        async def handler():
            return 201, {"ok": True}

        response = await run_idempotent(request, "op", "scope", {"a": 1}, handler, database_backed=True)
        assert response.status_code == 201
        try:
            await run_idempotent(request, "op", "scope", {"a": 1}, handler)
        except Unavailable:
            pass
        else:
            raise AssertionError("an operation without database backing must answer 503")
    finally:
        set_redis_url(None)


async def test_the_in_process_store_is_bounded_oldest_first():
    """Without Redis every answer used to stay 24 h: memory grew with traffic (soak, issue 12 point 7)."""
    local = idempotency.LocalBackend(max_entries=3)
    for i in range(5):
        record = idempotency.Record(state="completed", body_hash="h", token=f"t{i}", status=200, body={"i": i})
        await local.add(f"k{i}", record, 60_000)
    assert [local.ttl_ms(f"k{i}") is None for i in range(5)] == [True, True, False, False, False]
    await local.put("k5", idempotency.Record(state="completed", body_hash="h", token="t5", status=200, body={}), 60_000)
    assert local.ttl_ms("k2") is None
    assert local.ttl_ms("k5") is not None
