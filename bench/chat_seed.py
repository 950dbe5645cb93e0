"""Seeding helpers of the chat benchmark (bench/chat_bench.py): bulk rows shaped like the append path, and
(``seed_watchers``) one signed-in account per idle socket of target 3.

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


# -- target 3: one account per idle socket ------------------------------------------------------------------------

USERS_PER_COMMIT = 250  # two statements per user (user + token family): 500 per transaction, as above


async def seed_watchers(*, users: int, threads: int, password: str, tag: str) -> dict[str, Any]:
    """``users`` distinct accounts, each signed in once and a member of one of ``threads`` public threads.

    Why not ``POST /v1/auth/signup`` 5,000 times: every sign-up hashes its password with argon2id, minutes of
    CPU on a 2-core machine. Here, in the server process before it serves (``bench/chat_serve_users.py``):

    * the password is hashed ONCE by ``accounts.services.hash_password`` and that PHC string is stored for every
      account (each can still sign in with ``password``; only the salt is shared);
    * user rows come from ``accounts.services.new_user_row`` and token families from ``services._family_row``,
      written with the accounts repository's own statements (``create_user_statement``,
      ``create_family_statement``): the rows sign-up commits, 250 accounts per transaction;
    * each access token is minted by ``services._issue`` (simplejwt, the sign-up code path), so every socket
      presents its own user and sign-in: the hub re-validates ``users`` distinct principals and families;
    * thread k is created by ``chat.services.create_thread`` (its owner is watcher k); the others join with
      the row ``chat.services.join`` writes (``_member_row`` through ``ChatRepository.put_member``).

    Watcher i watches thread ``i % threads``. Returns ``{"watchers": [{user_id, token, thread_id}], "threads"}``.
    """
    from apps.chat import services as chat
    from apps.chat.repository import ChatRepository
    from apps.core.ids import now_ms

    watchers, principals = await _seed_accounts(users, password, tag)
    thread_ids = []
    for owner in principals[: max(1, min(threads, users))]:
        thread = await chat.create_thread(owner, scope_id="bench", privacy_level="public", title=None)
        thread_ids.append(thread["thread_id"])
    repo, now = ChatRepository(), now_ms()
    for i, watcher in enumerate(watchers):
        watcher["thread_id"] = thread_ids[i % len(thread_ids)]
        if i >= len(thread_ids):  # watchers 0..threads-1 own their thread already
            await repo.put_member(chat._member_row(watcher["thread_id"], watcher["user_id"], "member", now))
    return {"watchers": watchers, "threads": thread_ids}


async def _seed_accounts(users: int, password: str, tag: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Accounts with one token family each, committed like sign-up does; their tokens and principals."""
    from apps.accounts import services as accounts
    from apps.accounts.domain import Principal
    from apps.accounts.repository import AccountsRepository
    from apps.accounts.tokens import access_jti_for
    from apps.core.db import UnitOfWork
    from apps.core.ids import new_id

    encoded = await accounts.hash_password(password)
    repo = AccountsRepository()
    watchers: list[dict[str, Any]] = []
    principals: list[Principal] = []
    for start in range(0, users, USERS_PER_COMMIT):
        uow = UnitOfWork()
        for i in range(start, min(users, start + USERS_PER_COMMIT)):
            name = f"{tag}w{i}"
            row = accounts.new_user_row(email=f"{name}@example.com", username=name, password_hash=encoded,
                                        community_id="default", role="user")  # fmt: skip
            family_id = new_id()
            issued, jti = accounts._issue(row, family_id)
            family = accounts._family_row(row["user_id"], family_id, jti, issued.refresh_expires_at_ms)
            uow.add(repo.create_user_statement(row))
            uow.add(repo.create_family_statement(family))
            watchers.append({"user_id": row["user_id"], "token": issued.access_token})
            principals.append(Principal(user_id=row["user_id"], username=name, email=row["email"], role="user",
                                        community_id="default", jti=access_jti_for(jti), family_id=family_id,
                                        via="bearer"))  # fmt: skip
        await uow.commit(operation="bench_seed_users")
    return watchers, principals
