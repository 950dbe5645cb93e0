"""A send is one database round trip (issue 14 point 3): membership, mute, attachment checks, the next ``seq``, the
row and the returned view come from one transaction, the author from the signed-in principal. Every refusal
answers exactly as the separate reads did before (same status, message, details, order) and writes nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.db import SurrealClient, UniqueViolation, run_sync
from apps.core.db.migrations import migrate
from tests.evidence.fixtures import png

T = "/v1/chat/threads"
FAKE_ATTACHMENT = "a" * 32


def _chat_ops(round_trips: list[str]) -> list[str]:
    return [op for op in round_trips if op.startswith(("chat_", "user_", "attachment"))]


def _error(response) -> tuple[int, str, str, dict | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"], error.get("details")


def _stored(surreal_db, thread_id: str) -> tuple[int | None, int]:
    """The thread's ``last_seq`` (``None``: no thread) and how many message rows it has."""
    last = run_sync(
        surreal_db.query, "SELECT VALUE last_seq FROM ONLY type::record('chat_thread', $t);", {"t": thread_id}
    )[-1]
    count = run_sync(
        surreal_db.query, "SELECT VALUE message_id FROM chat_message WHERE thread_id = $t;", {"t": thread_id}
    )
    return last, len(count[-1] or [])


def _send(chat, user, thread_id: str, body: str = "hi", attachments: list[str] | None = None):
    payload: dict = {"body": body}
    if attachments is not None:
        payload["attachments"] = [{"attachment_id": a} for a in attachments]
    return chat.call("post", f"{T}/{thread_id}/messages/send", user, payload)


def test_a_plain_send_is_one_round_trip_and_its_view_equals_the_listed_one(chat, round_trips):
    ana = chat.signup("ana")
    tid = chat.thread(ana)["thread_id"]
    round_trips.clear()
    sent = _send(chat, ana, tid, "hello")
    assert sent.status_code == 201, sent.content
    # The whole request: ana's sign-in state was read by her previous request and is still cached (auth_cache.py).
    assert round_trips == ["chat_send"]
    # The author taken from the principal is what a reader of the thread sees (read from the user record).
    view = sent.json()
    assert view["author"] == {"user_id": ana.user_id, "username": "ana", "role": "user"}
    (listed,) = chat.call("get", f"{T}/{tid}/messages", ana).json()
    assert listed == view


def test_a_send_with_a_mention_reads_only_the_member_names_beside_it(chat, round_trips):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    round_trips.clear()
    sent = _send(chat, ana, tid, "@bob look")
    assert sent.status_code == 201
    assert sent.json()["mentions"] == [bob.user_id]
    assert _chat_ops(round_trips) == ["chat_member_ids", "user_briefs", "chat_send"]


def test_a_send_with_attachments_is_one_write_plus_the_attachment_rows_of_its_view(chat, local_storage, round_trips):
    ana = chat.signup("ana")
    tid = chat.thread(ana)["thread_id"]
    file = SimpleUploadedFile("a.png", png(), content_type="image/png")
    uploaded = chat.client.post("/v1/chat/attachments/upload", {"file": file}, **ana.headers)
    attachment_id = uploaded.json()["attachment_id"]
    round_trips.clear()
    sent = _send(chat, ana, tid, "look", [attachment_id])
    assert sent.status_code == 201, sent.content
    assert _chat_ops(round_trips) == ["chat_send_attachments", "chat_attachments"]
    assert [a["attachment_id"] for a in sent.json()["attachments"]] == [attachment_id]
    (listed,) = chat.call("get", f"{T}/{tid}/messages", ana).json()
    assert listed["attachments"][0]["attachment_id"] == attachment_id


def _world(chat) -> dict:
    """ana owns a public and a private thread (one message each); bob, carl, dora, eve, finn in various states."""
    ana, bob, carl, dora, eve, finn = (chat.signup(n) for n in ("ana", "bob", "carl", "dora", "eve", "finn"))
    public, private = chat.thread(ana)["thread_id"], chat.thread(ana, privacy="private")["thread_id"]
    for tid in (public, private):
        assert _send(chat, ana, tid, "first").status_code == 201
    chat.call("post", f"{T}/{public}/join", carl)
    chat.call("post", f"{T}/{public}/leave", carl)  # left a public thread
    chat.call("post", f"{T}/{private}/members", ana, {"user_id": dora.user_id, "role": "member"})
    chat.call("post", f"{T}/{private}/leave", dora)  # left a private thread
    chat.call("post", f"{T}/{public}/join", eve)
    muted = chat.call("post", f"{T}/{public}/members/{eve.user_id}/mute", ana, {"minutes": 5}).json()
    chat.call("post", f"{T}/{private}/members", ana, {"user_id": finn.user_id, "role": "member"})
    chat.call("post", f"{T}/{private}/members/{finn.user_id}/remove", ana)  # removed from a private thread
    return {
        "users": {u.username: u for u in (ana, bob, carl, dora, eve, finn)},
        "public": public,
        "private": private,
        "mute_until_ms": muted["mute_until_ms"],
    }


NOT_FOUND = (404, "not_found", "thread not found", None)
NOT_MEMBER = (403, "forbidden", "not a member of this thread", None)
REFUSALS = [  # (who, where, expected answer; "muted" is filled in with the mute's end)
    ("bob", "unknown", NOT_FOUND),
    ("bob", "private", NOT_FOUND),  # a private thread is invisible to a non-member: the same 404
    ("bob", "public", NOT_MEMBER),
    ("carl", "public", NOT_MEMBER),  # left
    ("dora", "private", NOT_FOUND),  # left
    ("finn", "private", NOT_FOUND),  # removed
    ("eve", "public", "muted"),
]


@pytest.mark.parametrize("attachments", [None, [FAKE_ATTACHMENT]], ids=["plain", "with-attachment"])
def test_every_refusal_answers_as_before_in_one_round_trip_and_writes_nothing(
    chat, surreal_db, round_trips, attachments
):
    """With a bad attachment too: the thread, membership and mute refusals still come first (as before)."""
    world = _world(chat)
    before = {tid: _stored(surreal_db, tid) for tid in (world["public"], world["private"])}
    for who, where, expected in REFUSALS:
        user = world["users"][who]
        tid = world.get(where) or "f" * 32
        if expected == "muted":
            expected = (
                403,
                "forbidden",
                "you are muted in this thread",
                {"reason": "muted", "mute_until_ms": world["mute_until_ms"]},
            )
        round_trips.clear()
        response = _send(chat, user, tid, "nope", attachments)
        assert _error(response) == expected, (who, where)
        assert _chat_ops(round_trips) == ["chat_send_attachments" if attachments else "chat_send"], (who, where)
        if expected[0] != 403 or expected[2] == "not a member of this thread":
            # The same rule as every other member-only endpoint (permissions.access).
            assert _error(chat.call("get", f"{T}/{tid}/messages", user)) == expected, (who, where)
    assert (
        {tid: _stored(surreal_db, tid) for tid in before}
        == before
        == {world["public"]: (1, 1), world["private"]: (1, 1)}
    )
    assert _stored(surreal_db, "f" * 32) == (None, 0)


def test_attachment_refusals_keep_their_wording_and_order_and_write_nothing(chat, surreal_db, local_storage):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    file = SimpleUploadedFile("a.png", png(), content_type="image/png")
    mine = chat.client.post("/v1/chat/attachments/upload", {"file": file}, **ana.headers).json()["attachment_id"]
    twice = _send(chat, ana, tid, "x", [FAKE_ATTACHMENT, FAKE_ATTACHMENT])
    assert _error(twice) == (
        400,
        "validation_error",
        "validation failed: attachments: the same attachment is listed twice",
        {"fields": {"attachments": ["the same attachment is listed twice"]}},
    )
    for listed, bad in (([mine, FAKE_ATTACHMENT], FAKE_ATTACHMENT), ([FAKE_ATTACHMENT, mine], FAKE_ATTACHMENT)):
        unknown = _send(chat, ana, tid, "x", listed)
        assert _error(unknown) == (404, "not_found", f"unknown attachment {bad}", {"fields": {"attachments": [bad]}})
    stolen = _send(chat, bob, tid, "x", [mine])  # another user's upload looks unknown
    assert _error(stolen) == (404, "not_found", f"unknown attachment {mine}", {"fields": {"attachments": [mine]}})
    assert _stored(surreal_db, tid) == (0, 0)
    assert _send(chat, ana, tid, "once", [mine]).status_code == 201
    reused = _send(chat, ana, tid, "again", [mine])
    assert _error(reused)[:3] == (
        409,
        "conflict",
        "an attachment is already used by another message (each is used once)",
    )
    assert _stored(surreal_db, tid) == (1, 1)
    claimed = run_sync(
        surreal_db.query, "SELECT VALUE message_id FROM ONLY type::record('chat_attachment', $a);", {"a": mine}
    )[-1]
    assert claimed is not None


# -- the send transaction itself, on the embedded engine and on the ws:// bridge (core 3.0) -----------------------


async def _send_scenario(db: SurrealClient) -> None:
    """Every branch of ``ChatRepository.send`` against ``db``: what the 3.0 engine must accept and answer."""
    from apps.chat.repository import (
        ATTACHMENT_NOT_OWN,
        MUTED,
        NOT_MEMBER,
        THREAD_NOT_FOUND,
        AttachmentUnavailable,
        ChatRepository,
        SendRefused,
    )

    repo, now = ChatRepository(db), 1_000_000

    def member(tid: str, user: str, **changes) -> dict:
        return {
            "thread_id": tid,
            "user_id": user,
            "role": "member",
            "joined_at_ms": 1,
            "left_at_ms": None,
            "left_reason": None,
            "mute_until_ms": None,
            "updated_at_ms": 1,
        } | changes

    def message(tid: str, user: str, request_id: str, attachments: list[str] = ()) -> dict:
        return {
            "thread_id": tid,
            "message_id": uuid.uuid4().hex,
            "author_id": user,
            "body": "hi",
            "attachments": list(attachments),
            "request_id": request_id,
            "correlation_id": "c",
            "created_at_ms": now,
            "edited_at_ms": None,
            "deleted_at_ms": None,
            "moderation_status": None,
            "mentions": [],
        }

    for tid, privacy in (("pub", "public"), ("priv", "private")):
        thread = {
            "thread_id": tid,
            "scope_id": "s",
            "title": None,
            "created_by": "ana",
            "privacy_level": privacy,
            "last_seq": 0,
            "last_activity_ms": 1,
            "request_id": tid,
            "correlation_id": "c",
            "created_at_ms": 1,
            "updated_at_ms": 1,
        }
        await repo.create_thread(thread, member(tid, "ana", role="owner"))
        await repo.put_member(member(tid, "gone", left_at_ms=5, left_reason="left"))
    await repo.put_member(member("pub", "muted", mute_until_ms=now + 60_000))
    await repo.put_member(member("pub", "was_muted", mute_until_ms=now - 1))
    cases = [
        ("nope", "ana", THREAD_NOT_FOUND),
        ("priv", "bob", THREAD_NOT_FOUND),
        ("pub", "bob", NOT_MEMBER),
        ("pub", "gone", NOT_MEMBER),
        ("priv", "gone", THREAD_NOT_FOUND),
        ("pub", "muted", MUTED),
    ]
    for tid, user, reason in cases:
        for attachments in ([], ["x1"]):
            with pytest.raises(SendRefused) as refused:
                await repo.send(tid, message(tid, user, f"r-{user}"), now, attachments)
            assert refused.value.reason == reason, (tid, user, attachments)
    assert refused.value.mute_until_ms == now + 60_000

    first = await repo.send("pub", message("pub", "ana", "r1"), now, [])
    assert (first["seq"], first["author_id"]) == (1, "ana")
    assert (await repo.send("pub", message("pub", "was_muted", "r2"), now, []))["seq"] == 2
    with pytest.raises(UniqueViolation):  # a reused request id: the replay path's signal
        await repo.send("pub", message("pub", "ana", "r1"), now, [])

    for attachment_id, owner in (("a1", "ana"), ("b1", "bob")):
        await repo.create_attachment(
            {
                "attachment_id": attachment_id,
                "owner_id": owner,
                "object_key": "k",
                "file_name": "f.png",
                "mime_type": "image/png",
                "media_type": "image",
                "size_bytes": 1,
                "sha256": "0" * 64,
                "thread_id": None,
                "message_id": None,
                "created_at_ms": now,
            }
        )
    for attachments in (["b1"], ["zz"], ["a1", "a1"]):
        with pytest.raises(SendRefused) as refused:
            await repo.send("pub", message("pub", "ana", "r3", attachments), now, attachments)
        assert refused.value.reason == ATTACHMENT_NOT_OWN, attachments
    with_file = await repo.send("pub", message("pub", "ana", "r3", ["a1"]), now, ["a1"])
    assert (with_file["seq"], with_file["attachments"]) == (3, ["a1"])
    assert (await repo.get_attachment("a1"))["message_id"] == with_file["message_id"]
    with pytest.raises(AttachmentUnavailable):
        await repo.send("pub", message("pub", "ana", "r4", ["a1"]), now, ["a1"])
    assert (await repo.get_thread("pub"))["last_seq"] == 3  # no refusal consumed a seq
    assert [m["seq"] for m in await repo.messages_between("pub", 1, 10)] == [1, 2, 3]
    assert await repo.get_thread("nope") is None


def test_the_send_transaction_on_the_embedded_engine(surreal_db):
    run_sync(_send_scenario, surreal_db)


def test_the_send_transaction_on_a_database_server(surreal_bridge):
    """The same SurrealQL on a SurrealDB server (ws://, core 3.0 in the bridge), as in production."""

    async def scenario() -> None:
        db = SurrealClient(surreal_bridge.endpoint, f"ns_{uuid.uuid4().hex[:8]}", "db")
        await migrate(db)
        try:
            await _send_scenario(db)
        finally:
            await db.close()

    run_sync(scenario)
