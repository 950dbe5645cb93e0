"""Every chat endpoint 1-18 (attachments excluded) with its errors and bad input."""

from __future__ import annotations

import pytest

from apps.core import ratelimit
from gotong.config import RateLimit

T = "/v1/chat/threads"


@pytest.fixture
def ana(chat):
    return chat.signup("ana")


@pytest.fixture
def bo(chat):
    return chat.signup("bob")


def test_create_thread_is_idempotent_and_creator_is_owner(chat, ana):
    body = {"scope_id": "s1", "privacy_level": "public", "title": "Hello"}
    first = chat.call("post", T, ana, body, HTTP_X_REQUEST_ID="req-1")
    again = chat.call("post", T, ana, body, HTTP_X_REQUEST_ID="req-1")
    assert first.status_code == 201
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    thread = first.json()
    assert thread["last_seq"] == 0
    assert thread["created_by"] == ana.user_id
    members = chat.call("get", f"{T}/{thread['thread_id']}/members", ana).json()
    assert [(m["user_id"], m["role"]) for m in members] == [(ana.user_id, "owner")]


@pytest.mark.parametrize(
    "body",
    [
        {"scope_id": "", "privacy_level": "public"},
        {"scope_id": "x" * 129, "privacy_level": "public"},
        {"scope_id": "s", "privacy_level": "secret"},
        {"scope_id": 5, "privacy_level": "public"},
        {"scope_id": "s", "privacy_level": "public", "title": "x" * 201},
        {"privacy_level": "public"},
        [],
    ],
)
def test_create_thread_validation(chat, ana, body):
    response = chat.call("post", T, ana, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_malformed_json_and_auth(chat, ana):
    response = chat.call("post", T, ana, "{not json")
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]["message"]
    from django.test import Client

    assert Client().get(T).status_code == 401


def test_list_threads_with_and_without_scope(chat, ana, bo):
    public = chat.thread(ana, "public", "s1", "pub")
    private = chat.thread(ana, "private", "s1", "priv")
    chat.thread(ana, "public", "s2", "other")
    chat.send(ana, public["thread_id"], "one")
    chat.send(ana, public["thread_id"], "two")
    mine = chat.call("get", T, ana).json()
    assert mine[0]["title"] == "pub"  # newest activity first
    assert sorted(t["title"] for t in mine) == ["other", "priv", "pub"]
    pub = mine[0]
    assert pub["member_count"] == 1
    assert pub["unread_count"] == 0  # your own messages never count as unread
    bo_public = chat.call("post", f"{T}/{public['thread_id']}/join", bo)
    assert bo_public.status_code in (200, 201)
    bo_item = next(t for t in chat.call("get", T, bo).json() if t["thread_id"] == public["thread_id"])
    assert bo_item["unread_count"] == 2  # ... but they do for everyone else
    chat.call("post", f"{T}/{public['thread_id']}/leave", bo)
    assert pub["last_message"]["body"] == "two"
    assert mine[1]["last_message"] is None
    bo_view = chat.call("get", f"{T}?scope_id=s1", bo).json()
    assert [t["thread_id"] for t in bo_view] == [public["thread_id"]]
    assert chat.call("get", T, bo).json() == []
    assert {t["thread_id"] for t in chat.call("get", f"{T}?scope_id=s1", ana).json()} == {
        public["thread_id"],
        private["thread_id"],
    }
    for bad in ("limit=0", "limit=201", "limit=x"):
        assert chat.call("get", f"{T}?{bad}", ana).status_code == 400


def test_private_thread_is_invisible_to_non_members(chat, ana, bo):
    private = chat.thread(ana, "private")["thread_id"]
    for method, path in [
        ("get", f"{T}/{private}"),
        ("get", f"{T}/{private}/members"),
        ("get", f"{T}/{private}/messages"),
        ("get", f"{T}/{private}/messages/poll"),
        ("get", f"{T}/{private}/read-cursor"),
        ("post", f"{T}/{private}/join"),
        ("post", f"{T}/{private}/leave"),
        ("get", f"{T}/{private}/messages/stream"),
    ]:
        response = chat.call(method, path, bo)
        assert response.status_code == 404, (path, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert chat.send(bo, private).status_code == 404
    assert chat.call("get", f"{T}/{'0' * 32}", ana).status_code == 404


def test_public_thread_non_member_gets_403(chat, ana, bo):
    public = chat.thread(ana)["thread_id"]
    assert chat.call("get", f"{T}/{public}", bo).status_code == 200
    for method, path in [("get", f"{T}/{public}/members"), ("get", f"{T}/{public}/messages")]:
        response = chat.call(method, path, bo)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert chat.send(bo, public).status_code == 403
    assert chat.call("post", f"{T}/{public}/leave", bo).status_code == 403


def test_join_leave_rejoin(chat, ana, bo):
    public = chat.thread(ana)["thread_id"]
    joined = chat.call("post", f"{T}/{public}/join", bo)
    assert joined.status_code == 200
    assert joined.json()["role"] == "member"
    assert chat.call("post", f"{T}/{public}/join", bo).json() == joined.json()  # idempotent
    left = chat.call("post", f"{T}/{public}/leave", bo)
    assert left.status_code == 200
    assert left.json()["left_at_ms"] is not None
    assert chat.call("post", f"{T}/{public}/leave", bo).json() == left.json()  # idempotent
    assert chat.send(bo, public).status_code == 403
    rejoined = chat.call("post", f"{T}/{public}/join", bo).json()
    assert rejoined["left_at_ms"] is None
    assert chat.send(bo, public).status_code == 201


def test_private_invite_then_join_and_remove(chat, ana, bo):
    private = chat.thread(ana, "private")["thread_id"]
    assert chat.call("post", f"{T}/{private}/join", bo).status_code == 404
    added = chat.call("post", f"{T}/{private}/members", ana, {"user_id": bo.user_id})
    assert added.status_code == 201
    assert added.json()["role"] == "member"
    assert chat.call("post", f"{T}/{private}/join", bo).status_code == 200
    assert chat.call("post", f"{T}/{private}/members", bo, {"user_id": ana.user_id}).status_code == 403
    removed = chat.call("post", f"{T}/{private}/members/{bo.user_id}/remove", ana)
    assert removed.status_code == 200
    assert removed.json()["left_at_ms"] is not None
    assert chat.call("get", f"{T}/{private}", bo).status_code == 404
    assert chat.call("post", f"{T}/{private}/join", bo).status_code == 404
    assert chat.call("post", f"{T}/{private}/members", ana, {"user_id": "f" * 32}).status_code == 404
    for bad in ({"user_id": 5}, {"user_id": "x"}, {"user_id": bo.user_id, "role": "owner"}, {}):
        assert chat.call("post", f"{T}/{private}/members", ana, bad).status_code == 400


def test_mute_blocks_sending_not_reading(chat, ana, bo):
    public = chat.thread(ana)["thread_id"]
    chat.call("post", f"{T}/{public}/join", bo)
    assert chat.call("post", f"{T}/{public}/members/{ana.user_id}/mute", bo, {"minutes": 5}).status_code == 403
    muted = chat.call("post", f"{T}/{public}/members/{bo.user_id}/mute", ana, {"minutes": 5})
    assert muted.status_code == 200
    assert muted.json()["mute_until_ms"] is not None
    response = chat.send(bo, public)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "muted"
    assert chat.call("get", f"{T}/{public}/messages", bo).status_code == 200
    for bad in ({"minutes": -1}, {"minutes": "5"}, {"minutes": True}, {"minutes": 1.5}, {}):
        assert chat.call("post", f"{T}/{public}/members/{bo.user_id}/mute", ana, bad).status_code == 400
    chat.call("post", f"{T}/{public}/members/{bo.user_id}/mute", ana, {"minutes": 0})
    assert chat.send(bo, public).status_code == 201


def test_send_validation(chat, ana):
    public = chat.thread(ana)["thread_id"]
    path = f"{T}/{public}/messages/send"
    for body in ({"body": ""}, {"body": "   "}, {"body": "x" * 2001}, {"body": 5}, {}, {"body": None}, []):
        response = chat.call("post", path, ana, body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "validation_error"
    # Well-formed but naming no upload of the sender: 404 (a state the schema cannot know), never 400.
    assert chat.call("post", path, ana, {"body": "hi", "attachments": [{"attachment_id": "a" * 32}]}).status_code == 404
    ok = chat.call("post", path, ana, {"body": "  " + "x" * 2000 + " ", "attachments": []})
    assert ok.status_code == 201
    assert ok.json()["body"] == "x" * 2000
    assert chat.call("post", path, ana, "{bad").status_code == 400
    assert chat.send(ana, "f" * 32).status_code == 404


def test_send_is_idempotent_forever(chat, ana):
    from apps.core import idempotency

    public = chat.thread(ana)["thread_id"]
    first = chat.send(ana, public, "once", request_id="r-1")
    assert first.status_code == 201
    replay = chat.send(ana, public, "once", request_id="r-1")
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    idempotency.reset_local_store()  # the 24 h replay store forgot it: the DB still refuses a second row
    again = chat.send(ana, public, "once", request_id="r-1")
    assert again.status_code == 201
    assert again.json()["message_id"] == first.json()["message_id"]
    messages = chat.call("get", f"{T}/{public}/messages", ana).json()
    assert [m["seq"] for m in messages] == [1]
    assert first.json()["request_id"] == "r-1"
    reused = chat.send(ana, public, "different", request_id="r-1")
    assert reused.status_code == 409


def test_send_spends_the_chat_rate_limit(chat, ana):
    public = chat.thread(ana)["thread_id"]
    ratelimit.overrides["chat_send"] = RateLimit(1, 60, 2)
    assert chat.send(ana, public).status_code == 201
    assert chat.send(ana, public).status_code == 201
    limited = chat.send(ana, public)
    assert limited.status_code == 429
    assert limited["Retry-After"]


def test_message_listing_cursors(chat, ana):
    public = chat.thread(ana)["thread_id"]
    for i in range(1, 13):
        chat.send(ana, public, f"m{i}")
    get = lambda q: [m["seq"] for m in chat.call("get", f"{T}/{public}/messages?{q}", ana).json()]  # noqa: E731
    assert get("limit=5") == [8, 9, 10, 11, 12]
    assert get("after_seq=3&limit=4") == [4, 5, 6, 7]
    assert get("after_seq=12") == []
    assert get("before_seq=4&limit=10") == [1, 2, 3]
    assert get("before_seq=10&limit=3") == [7, 8, 9]
    poll = chat.call("get", f"{T}/{public}/messages/poll?after_seq=10", ana).json()
    assert [m["seq"] for m in poll] == [11, 12]
    anchor = chat.call("get", f"{T}/{public}/messages?after_seq=5&limit=1", ana).json()[0]
    legacy = f"since_created_at_ms={anchor['created_at_ms']}&since_message_id={anchor['message_id']}&limit=2"
    assert get(legacy) == [7, 8]
    assert get("after_seq=2&before_seq=6") == [3, 4, 5]
    for bad in ("limit=0", "limit=201", "after_seq=-1", "before_seq=0", "after_seq=x"):
        assert chat.call("get", f"{T}/{public}/messages?{bad}", ana).status_code == 400, bad


def test_message_view_shape(chat, ana):
    public = chat.thread(ana)["thread_id"]
    message = chat.send(ana, public, "hello").json()
    assert set(message) == {
        "thread_id", "message_id", "seq", "author_id", "author", "body", "attachments", "mentions", "created_at_ms",
        "edited_at_ms", "deleted_at_ms", "moderation_status", "request_id", "correlation_id",
    }  # fmt: skip
    assert message["author"] == {"user_id": ana.user_id, "username": "ana", "role": "user"}
    assert message["attachments"] == []


def test_edit_and_delete(chat, ana, bo):
    public = chat.thread(ana)["thread_id"]
    chat.call("post", f"{T}/{public}/join", bo)
    mine = chat.send(bo, public, "typo").json()
    path = f"{T}/{public}/messages/{mine['message_id']}"
    assert chat.call("patch", path, ana, {"body": "x"}).status_code == 403
    edited = chat.call("patch", path, bo, {"body": "fixed"})
    assert edited.status_code == 200
    assert edited.json()["body"] == "fixed"
    assert edited.json()["edited_at_ms"] is not None
    assert chat.call("patch", path, bo, {"body": ""}).status_code == 400
    carol = chat.signup("carol")
    chat.call("post", f"{T}/{public}/join", carol)
    assert chat.call("delete", path, carol).status_code == 403
    assert chat.call("delete", path, ana).status_code == 204  # the owner may delete
    listed = chat.call("get", f"{T}/{public}/messages", bo).json()
    assert [(m["seq"], m["body"], m["deleted_at_ms"] is not None) for m in listed] == [(1, "", True)]
    assert chat.call("patch", f"{T}/{public}/messages/{'e' * 32}", bo, {"body": "x"}).status_code == 404


def test_read_cursor_is_monotonic(chat, ana):
    public = chat.thread(ana)["thread_id"]
    ids = [chat.send(ana, public, f"m{i}").json()["message_id"] for i in range(3)]
    path = f"{T}/{public}/read-cursor"
    assert chat.call("get", path, ana).status_code == 404
    assert chat.call("post", path, ana, {"seq": 2}).json()["last_read_seq"] == 2
    back = chat.call("post", path, ana, {"message_id": ids[0]})
    assert back.status_code == 200
    assert back.json()["last_read_seq"] == 2
    assert chat.call("post", path, ana, {"message_id": ids[2]}).json()["last_read_seq"] == 3
    assert chat.call("get", path, ana).json()["last_read_message_id"] == ids[2]
    for bad in ({}, {"seq": 0}, {"seq": "2"}):
        assert chat.call("post", path, ana, bad).status_code == 400, bad
    assert chat.call("post", path, ana, {"seq": 9}).status_code == 404  # beyond the thread: no such message
    assert chat.call("post", path, ana, {"message_id": "d" * 32}).status_code == 404
    assert chat.call("get", T, ana).json()[0]["unread_count"] == 0


def test_telemetry_counts_fallbacks(chat, ana):
    from apps.core import metrics

    counter = metrics.realtime_fallback_total.labels("websocket", "sse", "ws_timeout")
    before = counter._value.get()
    body = {"from": "websocket", "to": "sse", "reason": "ws_timeout"}
    assert chat.call("post", "/v1/chat/telemetry", ana, body).status_code == 204
    assert counter._value.get() == before + 1
    assert chat.call("post", "/v1/chat/telemetry", ana, {"from": "x", "to": "sse", "reason": "r"}).status_code == 400
