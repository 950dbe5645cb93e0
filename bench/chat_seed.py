"""Seeding helpers of the chat benchmark (bench/chat_bench.py): bulk rows shaped like the append path.

Rows are written in transactions of at most 500 (bulk INSERT of 5,000 is pathologically slow on the
embedded 3.x engine, notes/environment.md). Ids are ``chat_message:[thread_id, seq]`` and
``chat_thread.last_seq`` is set, exactly what ``repository.APPEND_SQL`` leaves behind.
"""

from __future__ import annotations

import uuid
from typing import Any

BATCH = 500
SEED_USER = "0" * 32  # author of seeded messages (the view resolves unknown authors to nulls)

INSERT_SQL = "FOR $r IN $rows { CREATE type::record('chat_message', [$r.thread_id, $r.seq]) CONTENT $r RETURN NONE; };"
THREAD_SQL = "FOR $r IN $rows { CREATE type::record('chat_thread', $r.thread_id) CONTENT $r RETURN NONE; };"
SET_LAST_SQL = "UPDATE type::record('chat_thread', $t) SET last_seq = $n, last_activity_ms = $now RETURN NONE;"


def thread_row(thread_id: str, now: int, last_seq: int = 0) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "scope_id": "bench",
        "title": None,
        "created_by": SEED_USER,
        "privacy_level": "public",
        "last_seq": last_seq,
        "last_activity_ms": now,
        "request_id": uuid.uuid4().hex,
        "correlation_id": uuid.uuid4().hex,
        "created_at_ms": now,
        "updated_at_ms": now,
    }


def message_row(thread_id: str, seq: int, now: int) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "message_id": uuid.uuid4().hex,
        "seq": seq,
        "author_id": SEED_USER,
        "body": f"seeded message {seq} of the catch-up benchmark",
        "attachments": [],
        "request_id": uuid.uuid4().hex,
        "correlation_id": uuid.uuid4().hex,
        "created_at_ms": now + seq,
        "edited_at_ms": None,
        "deleted_at_ms": None,
        "moderation_status": None,
    }


async def insert_messages(db: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await db.write(INSERT_SQL, {"rows": rows[start : start + BATCH]}, operation="bench_seed")


async def seed_catchup(db: Any, *, hot: int, noise_threads: int, noise_each: int, now: int) -> dict[str, Any]:
    """One public hot thread of ``hot`` messages plus ``noise_threads`` threads of ``noise_each``."""
    hot_id = uuid.uuid4().hex
    noise_ids = [uuid.uuid4().hex for _ in range(noise_threads)]
    threads = [thread_row(hot_id, now, hot)] + [thread_row(t, now, noise_each) for t in noise_ids]
    for start in range(0, len(threads), BATCH):
        await db.write(THREAD_SQL, {"rows": threads[start : start + BATCH]}, operation="bench_seed")
    # Interleave: noise first, hot thread in the middle of the write history, then the rest of the noise.
    half = len(noise_ids) // 2
    for group in (noise_ids[:half], [hot_id], noise_ids[half:]):
        rows: list[dict[str, Any]] = []
        for tid in group:
            count = hot if tid == hot_id else noise_each
            rows.extend(message_row(tid, s, now) for s in range(1, count + 1))
            if len(rows) >= 20 * BATCH:
                await insert_messages(db, rows)
                rows = []
        await insert_messages(db, rows)
    return {"hot_thread": hot_id, "noise_threads": noise_threads}


async def grow_thread(db: Any, thread_id: str, *, start: int, to: int, now: int) -> None:
    """Append seqs ``start+1..to`` to a thread and move its ``last_seq``."""
    for lo in range(start + 1, to + 1, 20 * BATCH):
        hi = min(to, lo + 20 * BATCH - 1)
        await insert_messages(db, [message_row(thread_id, s, now) for s in range(lo, hi + 1)])
    await db.write(SET_LAST_SQL, {"t": thread_id, "n": to, "now": now}, operation="bench_seed")
