"""Leases: conditional claims never hand one event to two workers; expired leases are reclaimed."""

from __future__ import annotations

import asyncio
from collections import Counter

from apps.core.db import SurrealClient
from apps.core.db.migrations import migrate
from apps.core.ids import now_ms
from apps.webhooks.delivery import AttemptResult
from apps.webhooks.repository import OutboxRepository
from apps.webhooks.services import backfill_row
from apps.webhooks.worker import Worker, outcome_item
from tests.webhooks.conftest import add_event, event_row


def _payload_line(i: int) -> str:
    import json

    return json.dumps(
        {
            "actor": {"user_id": "u", "username": "n"},
            "event_id": f"evt_{i:016x}",
            "event_type": "vouch_submitted",
            "request_id": f"req-{i}",
            "schema_version": "1",
            "source_platform_id": "gotong_royong",
            "subject": {},
            "timestamp": "2026-01-01T00:00:00.000Z",
        }
    )


async def _fill(repo: OutboxRepository, count: int) -> None:
    from apps.core.db import UnitOfWork

    for start in range(0, count, 50):
        uow = UnitOfWork(repo.db)
        for i in range(start, min(count, start + 50)):
            uow.add(repo.insert_statement(backfill_row(_payload_line(i))))
        await uow.commit(operation="test")


async def _race(repo: OutboxRepository, *, claimers: int, total: int) -> Counter[str]:
    """``claimers`` workers claim batches of 7 at once until nothing is left; returns claims per event."""
    claimed: Counter[str] = Counter()

    async def claimer(n: int) -> None:
        while True:
            rows = await repo.claim(owner=f"w{n}", now=now_ms(), limit=7, lease_ms=60_000)
            if not rows:
                return
            claimed.update(r["event_id"] for r in rows)

    await asyncio.gather(*(claimer(n) for n in range(claimers)))
    return claimed


async def test_concurrent_claimers_never_share_an_event_on_mem():
    repo = OutboxRepository()
    await _fill(repo, 120)
    claimed = await _race(repo, claimers=6, total=120)
    assert len(claimed) == 120
    assert max(claimed.values()) == 1


async def test_concurrent_claimers_never_share_an_event_on_surrealkv(tmp_path):
    """surrealkv:// runs transactions concurrently (no in-process lock): conflicts must not double-claim."""
    db = SurrealClient(f"surrealkv://{tmp_path}/kv", "t", "t", max_attempts=50)
    assert not db.serialise_writes
    await db.connect()
    try:
        await migrate(db)
        repo = OutboxRepository(db)
        await _fill(repo, 120)
        claimed = await _race(repo, claimers=6, total=120)
        assert len(claimed) == 120
        assert max(claimed.values()) == 1
        assert db.max_writes_in_flight > 1  # the claims really overlapped (conflicts were retried)
        rows = await db.query("SELECT lease_owner, attempts FROM webhook_outbox_event;")
        assert {r["attempts"] for r in rows[0]} == {1}
    finally:
        await db.close()


async def test_a_live_lease_blocks_and_an_expired_one_is_reclaimed():
    repo = OutboxRepository()
    event_id = await add_event()
    now = now_ms()
    (first,) = await repo.claim(owner="a", now=now, limit=10, lease_ms=1000)
    assert (first["status"], first["lease_owner"], first["attempts"]) == ("in_flight", "a", 1)
    assert await repo.claim(owner="b", now=now + 999, limit=10, lease_ms=1000) == []
    (again,) = await repo.claim(owner="b", now=now + 1001, limit=10, lease_ms=1000)
    assert (again["event_id"], again["lease_owner"], again["attempts"]) == (event_id, "b", 2)
    # The first worker comes back late: its result must not overwrite the new owner's lease.
    late = outcome_item(first, AttemptResult("success", 200, 5, "x"), now_ms())
    await repo.finish(owner="a", items=[late])
    row = await event_row(event_id)
    assert (row["status"], row["lease_owner"]) == ("in_flight", "b")


async def test_future_events_are_not_claimed():
    repo = OutboxRepository()
    event_id = await add_event()
    from tests.webhooks.conftest import set_fields

    await set_fields(event_id, status="retrying", next_attempt_at_ms=now_ms() + 60_000)
    assert await repo.claim(owner="a", now=now_ms(), limit=10, lease_ms=1000) == []


async def test_release_gives_leases_back_without_counting_the_attempt():
    repo = OutboxRepository()
    event_id = await add_event()
    await repo.claim(owner="a", now=now_ms(), limit=10, lease_ms=60_000)
    await repo.release(owner="a", event_ids=[event_id], now=now_ms())
    row = await event_row(event_id)
    assert (row["status"], row["attempts"], row.get("lease_owner")) == ("pending", 0, None)


async def test_two_workers_deliver_each_event_once(receiver):
    for _ in range(30):
        await add_event()
    a, b = Worker(concurrency=8, run_jobs=False), Worker(concurrency=8, run_jobs=False)
    while sum(await asyncio.gather(a.run_once(), b.run_once())):
        pass
    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(ids) == 30
    assert max(ids.values()) == 1


async def test_a_queued_row_whose_lease_is_nearly_over_is_not_sent(receiver):
    """Prefetched rows wait for a slot; one whose lease could expire mid-attempt is left to be reclaimed."""
    worker = Worker(concurrency=2, run_jobs=False)
    event_id = await add_event()
    (row,) = await OutboxRepository().claim(owner=worker.owner, now=now_ms(), limit=1, lease_ms=500)
    worker._queue.append(row)
    worker._start_queued(client=None)  # type: ignore[arg-type]  # nothing may be started
    assert worker.in_flight == 0
    assert receiver.requests == []
    assert (await event_row(event_id))["lease_owner"] == worker.owner


def test_claims_replays_and_listings_run_on_a_database_server(surreal_bridge):
    """The worker on a SurrealDB server (ws://, core 3.0 in the bridge), as in production.

    Before: every claim failed there with "Missing order idiom `next_attempt_at_ms`" (3.0 refuses ORDER BY a
    field that ``SELECT VALUE`` leaves out; the embedded 3.2 engine accepted it), so no webhook was ever sent.
    """
    import uuid

    from apps.core.db import run_sync

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        db = SurrealClient(surreal_bridge.endpoint, f"ns_{uuid.uuid4().hex[:8]}", "db")
        await migrate(db)
        repo = OutboxRepository(db)
        await _fill(repo, 5)
        base = now_ms() - 1000
        for i in range(5):  # evt 4 is due first, evt 0 last
            await db.write(
                "UPDATE webhook_outbox_event SET next_attempt_at_ms = $at WHERE event_id = $id;",
                {"at": base + (4 - i), "id": f"evt_{i:016x}"},
            )
        claimed = [r["event_id"] for r in await repo.claim(owner="w", now=now_ms(), limit=3, lease_ms=60_000)]
        await db.write("UPDATE webhook_outbox_event SET status = 'dead_letter' WHERE status = 'in_flight';")
        listed = await repo.ids_with_status(status="dead_letter", limit=10)
        replayed = await repo.replay_status(status="dead_letter", limit=10, now=now_ms())
        await db.close()
        return claimed, listed, replayed

    claimed, listed, replayed = run_sync(scenario)
    assert sorted(claimed) == [f"evt_{i:016x}" for i in (2, 3, 4)]  # the three due first: ordered, then limited
    assert sorted(listed) == sorted(claimed)
    assert sorted(replayed) == sorted(claimed)
