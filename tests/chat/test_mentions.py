"""@mentions: parsed at send and edit, stored, shown in the view, counted per thread; autocomplete."""

from __future__ import annotations

import pytest

from apps.accounts.repository import AccountsRepository
from apps.chat import mentions
from apps.chat.repository import ChatRepository
from apps.core.db import run_sync

T = "/v1/chat/threads"


@pytest.fixture
def people(chat):
    ana, bob, cai = chat.signup("ana"), chat.signup("bob"), chat.signup("cai.li")
    tid = chat.thread(ana)["thread_id"]
    for user in (bob, cai):
        assert chat.call("post", f"{T}/{tid}/join", user).status_code == 200
    return ana, bob, cai, tid


def _row(tid: str, seq: int) -> dict:
    return run_sync(ChatRepository().message_at, tid, seq)


def _items(chat, user) -> dict[str, dict]:
    response = chat.call("get", T, user)
    assert response.status_code == 200
    return {item["thread_id"]: item for item in response.json()}


def test_candidates_in_body():
    assert mentions.candidates_in("hi @Ana, and @bob. see ana@example.org @@x") == ["ana", "bob.", "bob"]
    assert mentions.candidates_in("no mentions here") == []


def test_send_stores_the_mentioned_members_and_the_view_carries_them(chat, people):
    ana, bob, cai, tid = people
    outsider = chat.signup("dan")  # exists, but not a member of the thread
    body = "@BOB. and @cai.li, not @dan nor @nobody nor me @ana nor mail bob@example.org"
    sent = chat.send(ana, tid, body).json()
    assert sent["mentions"] == [bob.user_id, cai.user_id]
    assert _row(tid, 1)["mentions"] == [bob.user_id, cai.user_id]  # stored, not re-parsed on read
    listed = chat.call("get", f"{T}/{tid}/messages", bob).json()
    assert listed[0]["mentions"] == [bob.user_id, cai.user_id]
    assert outsider.user_id not in listed[0]["mentions"]
    # Reads use the stored field: renaming bob later does not change the stored mention.
    run_sync(AccountsRepository().set_user_fields, bob.user_id, {"username": "robert", "username_lower": "robert"})
    assert chat.call("get", f"{T}/{tid}/messages", cai).json()[0]["mentions"] == [bob.user_id, cai.user_id]


def test_edit_reparses_and_delete_clears(chat, people):
    ana, bob, cai, tid = people
    sent = chat.send(ana, tid, "hello @bob").json()
    assert sent["mentions"] == [bob.user_id]
    edited = chat.call("patch", f"{T}/{tid}/messages/{sent['message_id']}", ana, {"body": "hello @cai.li"})
    assert edited.status_code == 200
    assert edited.json()["mentions"] == [cai.user_id]
    assert _row(tid, 1)["mentions"] == [cai.user_id]
    assert chat.call("delete", f"{T}/{tid}/messages/{sent['message_id']}", ana).status_code == 204
    assert _row(tid, 1)["mentions"] == []
    assert chat.call("get", f"{T}/{tid}/messages", bob).json()[0]["mentions"] == []


def test_mention_count_is_unread_mentions_of_you(chat, people):
    ana, bob, cai, tid = people
    assert _items(chat, bob)[tid]["mention_count"] == 0
    chat.send(ana, tid, "@bob one")
    chat.send(ana, tid, "no mention")
    chat.send(cai, tid, "@bob two and @ana")
    chat.send(bob, tid, "@bob talking to myself")  # own message: never a mention of yourself
    assert _items(chat, bob)[tid]["mention_count"] == 2
    assert _items(chat, ana)[tid]["mention_count"] == 1
    assert _items(chat, cai)[tid]["mention_count"] == 0
    # Reading up to seq 1 leaves one unread mention; reading everything clears it.
    assert chat.call("post", f"{T}/{tid}/read-cursor", bob, {"seq": 1}).status_code == 200
    assert _items(chat, bob)[tid]["mention_count"] == 1
    assert chat.call("post", f"{T}/{tid}/read-cursor", bob, {"seq": 4}).status_code == 200
    assert _items(chat, bob)[tid]["mention_count"] == 0


def test_held_and_deleted_mentions_are_not_counted_and_held_views_hide_them(chat, people):
    ana, bob, _cai, tid = people
    held = chat.send(ana, tid, "@bob secret").json()
    gone = chat.send(ana, tid, "@bob oops").json()
    run_sync(ChatRepository().update_message, tid, held["seq"], {"moderation_status": "under_review"})
    assert chat.call("delete", f"{T}/{tid}/messages/{gone['message_id']}", ana).status_code == 204
    assert _items(chat, bob)[tid]["mention_count"] == 0
    views = {m["seq"]: m for m in chat.call("get", f"{T}/{tid}/messages", bob).json()}
    assert views[held["seq"]]["body"] == ""
    assert views[held["seq"]]["mentions"] == []
    author_view = {m["seq"]: m for m in chat.call("get", f"{T}/{tid}/messages", ana).json()}
    assert author_view[held["seq"]]["mentions"] == [bob.user_id]


def test_mention_candidates_prefix_and_errors(chat, people):
    ana, _bob, cai, tid = people
    url = f"{T}/{tid}/mention-candidates"
    everyone = chat.call("get", url, ana).json()
    assert [m["username"] for m in everyone] == ["bob", "cai.li", "ana"]  # others first, you last
    assert chat.call("get", url + "?prefix=C", ana).json() == [{"user_id": cai.user_id, "username": "cai.li"}]
    assert chat.call("get", url + "?prefix=zz", ana).json() == []
    assert len(chat.call("get", url + "?limit=1", ana).json()) == 1
    outsider = chat.signup("dan")
    private = chat.thread(ana, privacy="private")["thread_id"]
    cases = [
        (url + "?prefix=%3Cscript%3E", ana, 400),
        (url + "?prefix=" + "a" * 65, ana, 400),
        (url + "?limit=0", ana, 400),
        (url + "?limit=51", ana, 400),
        (url, outsider, 403),  # public thread, not a member
        (f"{T}/{private}/mention-candidates", outsider, 404),  # private: invisible
        (f"{T}/{'0' * 32}/mention-candidates", ana, 404),
    ]
    for path, user, status in cases:
        response = chat.call("get", path, user)
        assert response.status_code == status, (path, response.content)
        assert "error" in response.json()
    assert chat.call("get", url + "?prefix=a%00", ana).status_code == 400
    from django.test import Client

    assert Client().get(url).status_code == 401  # no cookie, no token


def test_mention_fields_are_in_the_openapi_document(chat):
    doc = chat.client.get("/v1/schema/?format=json").json()
    schemas = doc["components"]["schemas"]
    assert "mentions" in schemas["Message"]["properties"]
    assert "mention_count" in schemas["ThreadItem"]["properties"]
    assert "get" in doc["paths"]["/v1/chat/threads/{thread_id}/mention-candidates"]
