"""Message search: full-text index, visibility, snippets, pagination and bad input."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from apps.accounts.repository import AccountsRepository
from apps.chat import search
from apps.chat.repository import ChatRepository
from apps.core.db import get_db, run_sync

T = "/v1/chat/threads"
S = "/v1/chat/search"


@pytest.fixture
def people(chat):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana, title="Garden")["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    return ana, bob, tid


def _search(chat, user, q: str, **params):
    query = "&".join([f"q={quote(q)}"] + [f"{k}={v}" for k, v in params.items()])
    return chat.call("get", f"{S}?{query}", user)


def _found(chat, user, q: str, **params) -> list[dict]:
    response = _search(chat, user, q, **params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_the_migration_defines_a_fulltext_index_used_by_the_query():
    info = run_sync(get_db().query, "INFO FOR TABLE chat_message;")[0]
    assert "FULLTEXT ANALYZER chat_text" in info["indexes"]["chat_message_body_search"]
    plan = run_sync(
        get_db().query,
        "EXPLAIN SELECT * FROM chat_message WHERE body @1@ $q AND thread_id IN $t;",
        {"q": "garden", "t": ["x"]},
    )[-1]
    assert "FullTextScan" in str(plan)
    assert "chat_message_body_search" in str(plan)


def test_finds_stemmed_accent_folded_words_with_thread_author_and_link(chat, people):
    ana, bob, tid = people
    chat.send(ana, tid, "The gardens need water")
    chat.send(bob, tid, "Café tomorrow?")
    chat.send(bob, tid, "unrelated")
    hits = _found(chat, bob, "garden")
    assert [h["seq"] for h in hits] == [1]
    hit = hits[0]
    assert hit["thread_id"] == tid
    assert hit["thread_title"] == "Garden"
    assert hit["author"] == {"user_id": ana.user_id, "username": "ana"}
    assert hit["snippet_html"] == "The <mark>gardens</mark> need water"
    assert hit["url"] == f"/threads/{tid}?seq=1#m-1"
    assert isinstance(hit["created_at_ms"], int)
    assert [h["seq"] for h in _found(chat, ana, "CAFE")] == [2]
    assert _found(chat, ana, "garden water")
    assert not _found(chat, ana, "garden tomorrow")


def test_only_threads_the_member_reads(chat, people):
    ana, bob, tid = people
    cai = chat.signup("cai")
    mine = chat.thread(cai, title="Cai's")["thread_id"]  # public, ana never joined
    private = chat.thread(cai, privacy="private")["thread_id"]
    chat.send(cai, mine, "pumpkin in public")
    chat.send(cai, private, "pumpkin in private")
    chat.send(ana, tid, "pumpkin shared")
    assert [h["thread_id"] for h in _found(chat, ana, "pumpkin")] == [tid]
    assert {h["thread_id"] for h in _found(chat, cai, "pumpkin")} == {mine, private}
    # Leaving a thread removes its messages from one's results.
    assert chat.call("post", f"{T}/{tid}/leave", bob).status_code == 200
    assert _found(chat, bob, "pumpkin") == []


def test_deleted_held_and_edited_messages(chat, people):
    ana, bob, tid = people
    gone = chat.send(ana, tid, "radish gone").json()
    held = chat.send(ana, tid, "radish held").json()
    edited = chat.send(ana, tid, "radish first").json()
    assert chat.call("delete", f"{T}/{tid}/messages/{gone['message_id']}", ana).status_code == 204
    run_sync(ChatRepository().update_message, tid, held["seq"], {"moderation_status": "under_review"})
    patch = chat.call("patch", f"{T}/{tid}/messages/{edited['message_id']}", ana, {"body": "carrot second"})
    assert patch.status_code == 200
    assert [h["seq"] for h in _found(chat, bob, "radish")] == []  # deleted never, held not for others
    assert [h["seq"] for h in _found(chat, ana, "radish")] == [held["seq"]]  # the author sees their held one
    assert _found(chat, ana, "radish")[0]["moderation_status"] == "under_review"
    assert [h["seq"] for h in _found(chat, bob, "carrot")] == [edited["seq"]]
    assert _found(chat, bob, "first") == []
    run_sync(AccountsRepository().set_user_fields, bob.user_id, {"role": "moderator"})
    assert [h["seq"] for h in _found(chat, bob, "radish")] == [held["seq"]]  # staff see held messages


def test_snippet_escapes_html_and_marks_only_matches(chat, people):
    ana, bob, tid = people
    chat.send(ana, tid, '<b>melon</b> & <script>alert("x")</script> melons')
    snippet = _found(chat, bob, "melon")[0]["snippet_html"]
    assert snippet == (
        "&lt;b&gt;<mark>melon</mark>&lt;/b&gt; &amp; &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; "
        "<mark>melons</mark>"
    )
    long = "word " * 60 + "needle " + "tail " * 60
    chat.send(ana, tid, long.strip())
    cut = _found(chat, bob, "needle")[0]["snippet_html"]
    assert cut.startswith("…")
    assert cut.endswith("…")
    assert "<mark>needle</mark>" in cut
    assert len(cut) < 250


def test_snippet_html_unit():
    assert search.snippet_html("a <i>b</i>", {"0": [{"s": 5, "e": 6}]}) == "a &lt;i&gt;<mark>b</mark>&lt;/i&gt;"
    assert search.snippet_html("plain", None) == "plain"


def test_newest_first_and_paginated(chat, people):
    ana, bob, tid = people
    for i in range(25):
        chat.send(ana if i % 2 else bob, tid, f"onion number {i}")
    page1 = _search(chat, bob, "onion", limit=10).json()
    assert [h["seq"] for h in page1["results"]] == list(range(25, 15, -1))
    assert page1["next_offset"] == 10
    page3 = _search(chat, bob, "onion", limit=10, offset=20).json()
    assert [h["seq"] for h in page3["results"]] == [5, 4, 3, 2, 1]
    assert page3["next_offset"] is None
    one = _found(chat, bob, "onion", thread_id=tid, limit=1)
    assert [h["seq"] for h in one] == [25]


def test_bad_input(chat, people):
    ana, bob, tid = people
    outsider = chat.signup("dan")
    private = chat.thread(ana, privacy="private")["thread_id"]
    cases = [
        (f"{S}", 400),
        (f"{S}?q=", 400),
        (f"{S}?q=%20%20%20", 400),
        (f"{S}?q={'a' * 201}", 400),
        (f"{S}?q=a%00b", 400),
        (f"{S}?q=a&limit=0", 400),
        (f"{S}?q=a&limit=51", 400),
        (f"{S}?q=a&offset=-1", 400),
        (f"{S}?q=a&thread_id={'0' * 32}", 404),
        (f"{S}?q=a&thread_id={private}", 404),
    ]
    for path, status in cases:
        response = chat.call("get", path, outsider)
        assert response.status_code == status, (path, response.content)
        assert response.json()["error"]["code"] in ("validation_error", "not_found")
    response = chat.call("get", f"{S}?q=a&thread_id={tid}", outsider)  # public thread, not a member
    assert response.status_code == 403
    assert Client().get(f"{S}?q=a").status_code == 401
    # HTML and punctuation-only queries are plain words (nothing to find is an empty page, not an error).
    html_query = _search(chat, bob, "<script>alert(1)</script>").json()
    assert html_query["query"] == "<script>alert(1)</script>"
    assert html_query["results"] == []
    assert _found(chat, bob, "!!! ???") == []
    assert _search(chat, bob, "x" * 200).status_code == 200


def test_search_is_in_the_openapi_document(chat):
    doc = chat.client.get("/v1/schema/?format=json").json()
    op = doc["paths"]["/v1/chat/search"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"q", "thread_id", "limit", "offset"} <= names
    assert {"200", "400", "401", "403", "404"} <= set(op["responses"])
