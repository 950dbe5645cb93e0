"""Threads in the members' pages and the API behind them (issue 11, point 1, and "own messages are
never unread" of point 2), through Django's test client.

Discover lists the public threads of the member's community (not other communities', not private ones)
with member count and last activity, and Join works; the thread list and the API are ordered by latest
activity and never count the reader's own messages as unread; owners/admins invite by username, see
members, mute and remove; everyone can leave. Bad input: HTML in titles and usernames shown as text,
an over-long title refused with the input kept, unknown usernames, non-managers refused.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.chat.conftest import PASSWORD, Api, User

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _browser(user: User) -> Client:
    """A cookie session for ``user`` (the sign-in page), as a browser has."""
    client = Client()
    response = client.post("/signin", {"email": f"{user.username}@example.com", "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def _signup(chat: Api, name: str, community: str | None = None) -> User:
    body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
    if community:
        body["community_id"] = community
    response = chat.call("post", "/v1/auth/signup", body=body)
    assert response.status_code == 201, response.content
    data = response.json()
    return User(data["user_id"], name, data["access_token"], data["refresh_token"])


def _thread_ids(html: str, cls: str = "thread-item") -> list[str]:
    return re.findall(rf'<li class="{cls}" data-thread-id="([0-9a-f]+)"', html)


def test_discover_lists_public_threads_of_my_community_and_join_works(chat: Api):
    ana, bob = _signup(chat, "ana"), _signup(chat, "bob")
    eve = _signup(chat, "eve", community="elsewhere")
    garden = chat.thread(ana, scope="default", title="Garden " + XSS)
    secret = chat.thread(ana, privacy="private", scope="default", title="Secret")
    other = chat.thread(eve, scope="elsewhere", title="Other place")
    assert chat.send(ana, garden["thread_id"], "first").status_code == 201
    later = chat.thread(ana, scope="default", title="Later")  # created after the message: newer activity

    # API: the caller's community only, public only, newest activity first, with counts and "joined".
    items = chat.call("get", "/v1/chat/threads/discover", bob).json()
    assert [t["thread_id"] for t in items] == [later["thread_id"], garden["thread_id"]]
    assert items[1]["member_count"] == 1
    assert items[1]["joined"] is False
    assert items[1]["last_activity_ms"] >= items[1]["created_at_ms"]
    assert secret["thread_id"] not in [t["thread_id"] for t in items]
    assert other["thread_id"] not in [t["thread_id"] for t in items]
    assert chat.call("get", "/v1/chat/threads/discover?limit=0", bob).status_code == 400
    assert Client().get("/v1/chat/threads/discover").status_code == 401

    # Page: bob has no threads, so the thread list shows the public threads instead of a dead end.
    page = _browser(bob)
    html = page.get("/threads").content.decode()
    assert "You are not in any thread yet" in html
    assert 'id="discover-inline"' in html
    assert _thread_ids(html, "discover-item") == [later["thread_id"], garden["thread_id"]]
    assert XSS not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    discover = page.get("/threads/discover").content.decode()
    assert _thread_ids(discover, "discover-item") == [later["thread_id"], garden["thread_id"]]
    assert 'data-local-time="datetime"' in discover
    assert "1 member" in discover
    assert f'action="/threads/{garden["thread_id"]}/join"' in discover

    joined = page.post(f"/threads/{garden['thread_id']}/join")
    assert joined.status_code == 302
    assert joined["Location"] == f"/threads/{garden['thread_id']}"
    assert page.post(f"/threads/{garden['thread_id']}/join").status_code == 302  # a double click: still one
    members = chat.call("get", f"/v1/chat/threads/{garden['thread_id']}/members", ana).json()
    assert sorted(m["username"] for m in members) == ["ana", "bob"]
    discover = page.get("/threads/discover").content.decode()
    assert "2 members" in discover
    assert f'href="/threads/{garden["thread_id"]}">Open' in discover.replace("\n", "")
    assert page.post(f"/threads/{secret['thread_id']}/join").status_code == 404  # not invited
    assert page.post(f"/threads/{other['thread_id']}/join").status_code == 302  # by address: spec allows public


def test_thread_list_is_ordered_by_activity_and_own_messages_are_not_unread(chat: Api):
    ana, bob = _signup(chat, "ana"), _signup(chat, "bob")
    first = chat.thread(ana, scope="default", title="First")
    second = chat.thread(ana, scope="default", title="Second")
    for thread in (first, second):
        chat.call("post", f"/v1/chat/threads/{thread['thread_id']}/join", bob)
    # No messages yet: the newer thread first (its creation is its last activity).
    assert [t["thread_id"] for t in chat.call("get", "/v1/chat/threads", ana).json()] == [
        second["thread_id"],
        first["thread_id"],
    ]
    # Ana writes three messages in the older thread: it moves to the top, and they are not unread for her.
    for text in ("one", "two", "three"):
        assert chat.send(ana, first["thread_id"], text).status_code == 201
    mine = {t["thread_id"]: t for t in chat.call("get", "/v1/chat/threads", ana).json()}
    assert list(mine) == [first["thread_id"], second["thread_id"]]
    assert mine[first["thread_id"]]["unread_count"] == 0
    assert mine[first["thread_id"]]["last_activity_ms"] >= mine[second["thread_id"]]["last_activity_ms"]
    theirs = {t["thread_id"]: t for t in chat.call("get", "/v1/chat/threads", bob).json()}
    assert theirs[first["thread_id"]]["unread_count"] == 3
    # Bob answers without reading first: his own message does not count, Ana's three still do.
    assert chat.send(bob, second["thread_id"], "hello").status_code == 201
    assert chat.send(bob, first["thread_id"], "reply").status_code == 201
    theirs = chat.call("get", "/v1/chat/threads", bob).json()
    assert [t["thread_id"] for t in theirs] == [first["thread_id"], second["thread_id"]]
    assert [t["unread_count"] for t in theirs] == [3, 0]
    mine = chat.call("get", "/v1/chat/threads", ana).json()
    assert [t["unread_count"] for t in mine] == [1, 1]  # only bob's messages
    # The page shows the same order and counts (and the empty mention counter of the contract).
    html = _browser(bob).get("/threads").content.decode()
    assert _thread_ids(html) == [first["thread_id"], second["thread_id"]]
    assert '<span class="unread">3 unread</span>' in html
    assert html.count('<span class="mention-count" hidden></span>') == 2


def test_create_thread_sets_privacy_and_refuses_bad_input_keeping_it(chat: Api):
    ana = _signup(chat, "ana")
    page = _browser(ana)
    form = page.get("/threads").content.decode()
    assert 'name="privacy_level" value="public"' in form
    assert 'name="privacy_level" value="private"' in form
    assert "only people you invite" in form
    created = page.post("/threads", {"title": "Plans " + XSS, "privacy_level": "private"})
    assert created.status_code == 302
    thread_id = created["Location"].rsplit("/", 1)[1]
    thread = chat.call("get", f"/v1/chat/threads/{thread_id}", ana).json()
    assert thread["privacy_level"] == "private"
    assert thread["scope_id"] == "default"
    html = page.get(created["Location"]).content.decode()
    assert XSS not in html
    assert "Private: invited members only" in html
    long_title = "t" * 201
    refused = page.post("/threads", {"title": long_title, "privacy_level": "public"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Keep the title to 200 characters (it has 201)." in text
    assert f'value="{long_title}"' in text
    assert page.post("/threads", {"title": "x", "privacy_level": "secret"}).status_code == 400


def test_owner_invites_by_username_sees_members_mutes_removes_and_members_leave(chat: Api):
    ana, bob, cai = _signup(chat, "ana"), _signup(chat, "bob"), _signup(chat, "cai")
    thread = chat.thread(ana, privacy="private", scope="default", title="Private plans")
    tid = thread["thread_id"]
    owner = _browser(ana)
    page = owner.get(f"/threads/{tid}/members").content.decode()
    assert 'id="invite-form"' in page
    assert 'data-username="ana"' in page

    # Unknown name, markup in the name, empty name: refused beside the field, the input kept.
    missing = owner.post(f"/threads/{tid}/members", {"username": "nobody"})
    assert missing.status_code == 404
    assert "No member is called “nobody”." in missing.content.decode()
    assert 'value="nobody"' in missing.content.decode()
    bad = owner.post(f"/threads/{tid}/members", {"username": XSS})
    assert bad.status_code == 400
    assert XSS not in bad.content.decode()
    assert "A username has 3 to 64 letters" in bad.content.decode()
    assert owner.post(f"/threads/{tid}/members", {"username": ""}).status_code == 400

    invited = owner.post(f"/threads/{tid}/members", {"username": "BOB"})  # any case
    assert invited.status_code == 302
    assert invited["Location"].endswith("?done=invited")
    assert owner.post(f"/threads/{tid}/members", {"username": "bob"}).status_code == 302  # again: no duplicate
    members = chat.call("get", f"/v1/chat/threads/{tid}/members", ana).json()
    assert [m["username"] for m in members] == ["ana", "bob"]
    assert "Invited." in owner.get(invited["Location"]).content.decode()

    # The API invites by username too (documented input); a non-manager is refused.
    assert chat.call("post", f"/v1/chat/threads/{tid}/members", ana, {"username": "cai"}).status_code == 201
    assert chat.call("post", f"/v1/chat/threads/{tid}/members", ana, {"role": "member"}).status_code == 400
    assert chat.call("post", f"/v1/chat/threads/{tid}/members", ana, {"username": "zz"}).status_code == 400
    assert chat.call("post", f"/v1/chat/threads/{tid}/members", ana, {"username": "nobody"}).status_code == 404
    assert chat.call("post", f"/v1/chat/threads/{tid}/members", bob, {"username": "ana"}).status_code == 403

    # Bob (a member) sees the list but no management controls; his invite attempt is refused.
    member = _browser(bob)
    seen = member.get(f"/threads/{tid}/members").content.decode()
    assert 'data-username="cai"' in seen
    assert 'id="invite-form"' not in seen
    assert "/remove" not in seen
    assert member.post(f"/threads/{tid}/members", {"username": "cai"}).status_code == 403
    assert member.post(f"/threads/{tid}/members/{cai.user_id}/remove").status_code == 403

    # Mute for an hour: bob cannot send; unmute: he can.
    muted = owner.post(f"/threads/{tid}/members/{bob.user_id}/mute", {"minutes": "60"})
    assert muted.status_code == 302
    assert muted["Location"].endswith("?done=muted")
    refused = chat.send(bob, tid, "hello")
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["reason"] == "muted"
    assert "muted until" in owner.get(f"/threads/{tid}/members").content.decode()
    assert owner.post(f"/threads/{tid}/members/{bob.user_id}/mute", {"minutes": "7"}).status_code == 400
    assert owner.post(f"/threads/{tid}/members/{bob.user_id}/mute", {"minutes": "0"})["Location"].endswith("unmuted")
    assert chat.send(bob, tid, "hello").status_code == 201

    # Remove cai; leave as bob (twice: still one change); an outsider sees nothing.
    assert owner.post(f"/threads/{tid}/members/{cai.user_id}/remove").status_code == 302
    assert owner.post(f"/threads/{tid}/members/{cai.user_id}/remove").status_code == 404  # not a member any more
    left = member.post(f"/threads/{tid}/leave")
    assert left.status_code == 302
    assert left["Location"] == "/threads?done=left"
    assert member.post(f"/threads/{tid}/leave").status_code == 302
    assert "You left the thread." in member.get("/threads?done=left").content.decode()
    assert member.get("/threads?done=<b>x</b>").status_code == 200  # unknown codes show nothing
    assert [m["username"] for m in chat.call("get", f"/v1/chat/threads/{tid}/members", ana).json()] == ["ana"]
    assert _browser(cai).get(f"/threads/{tid}/members").status_code == 404  # private: invisible
    assert _browser(cai).get(f"/threads/{tid}").status_code == 404


@pytest.mark.parametrize("path", ["/threads/discover", "/threads/abc/members"])
def test_pages_need_a_signed_in_member(path: str):
    assert Client().get(path)["Location"] == "/signin"


def test_discover_is_in_the_openapi_document(chat: Api):
    schema = chat.call("get", "/v1/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    assert "/v1/chat/threads/discover" in text
    assert "chat_threads_discover" in text
    assert "DiscoverItem" in text
    assert "last_activity_ms" in text
