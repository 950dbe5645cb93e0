"""The thread list loads in a fixed number of database round trips, whatever the number of threads (issue 13
point 5), and its per-thread figures stay right (unread, own messages, mentions, last message)."""

from __future__ import annotations

T = "/v1/chat/threads"


def _list_round_trips(chat, user, round_trips: list[str]) -> tuple[list[dict], list[str]]:
    round_trips.clear()
    response = chat.call("get", T, user)
    assert response.status_code == 200
    listed = [op for op in round_trips if op.startswith(("chat_", "user_", "attachment"))]
    return response.json(), listed


def test_the_thread_list_costs_the_same_queries_for_2_and_for_12_threads(chat, round_trips):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    for i in range(2):
        tid = chat.thread(ana, title=f"t{i}")["thread_id"]
        assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
        chat.send(ana, tid, f"@bob hello {i}")
    few, few_queries = _list_round_trips(chat, bob, round_trips)
    for i in range(2, 12):
        tid = chat.thread(ana, title=f"t{i}")["thread_id"]
        assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
        chat.send(ana, tid, f"@bob hello {i}")
    many, many_queries = _list_round_trips(chat, bob, round_trips)
    assert (len(few), len(many)) == (2, 12)
    assert many_queries == few_queries, (few_queries, many_queries)
    # threads, summaries, the last messages' authors (attachments only when a last message has some)
    assert many_queries == ["chat_threads_of_user", "chat_thread_summaries", "user_briefs"]
    for item in many:
        assert item["unread_count"] == 1
        assert item["mention_count"] == 1
        assert item["member_count"] == 2
        assert item["last_message"]["body"].startswith("@bob hello")


def test_own_messages_and_reading_clear_unread_and_mentions(chat):
    ana, bob = chat.signup("ana"), chat.signup("bob")
    tid = chat.thread(ana)["thread_id"]
    assert chat.call("post", f"{T}/{tid}/join", bob).status_code == 200
    chat.send(ana, tid, "@bob look")
    chat.send(bob, tid, "mine, @bob")  # own: never unread, never a mention of yourself
    item = next(i for i in chat.call("get", T, bob).json() if i["thread_id"] == tid)
    assert (item["unread_count"], item["mention_count"]) == (1, 1)
    assert item["last_message"]["body"] == "mine, @bob"
    assert chat.call("post", f"{T}/{tid}/read-cursor", bob, {"seq": 2}).status_code == 200
    item = next(i for i in chat.call("get", T, bob).json() if i["thread_id"] == tid)
    assert (item["unread_count"], item["mention_count"]) == (0, 0)
    empty = chat.thread(bob, title="quiet")["thread_id"]
    quiet = next(i for i in chat.call("get", T, bob).json() if i["thread_id"] == empty)
    assert (quiet["unread_count"], quiet["mention_count"], quiet["last_message"]) == (0, 0, None)
