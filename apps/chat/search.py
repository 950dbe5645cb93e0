"""Message search across the threads a member can read.

Which threads: those the caller is an *active* member of. 03-chat.md lets only active members read a
thread's messages (a public thread answers 403 to a non-member), so search does not widen that: a
public thread one has not joined is found through Discover, not through its messages. Optional
``thread_id`` narrows to one thread (the same access rule as reading it: 404 unknown/private, 403
public non-member).

Visibility: deleted messages never match; messages held or rejected by moderation match only for their
author and for moderators (the readers to whom the message view shows their body).

Order: newest first (``created_at_ms``, then ``seq``), paginated by ``offset``/``limit``.

Snippets: the engine's match offsets (``search::offsets``, character positions) cut a window of the
body around the first match; the text is HTML-escaped in full and only ``<mark>…</mark>`` is added, so
a body containing markup is shown as text. ``search::highlight`` is not used because it inserts tags
into the unescaped body.
"""

from __future__ import annotations

import html
from typing import Any

from apps.accounts.domain import Principal
from apps.chat.search_repository import ChatSearchRepository
from apps.core.errors import NotFound, ValidationFailed

QUERY_MAX = 200
SNIPPET_CHARS = 160
LEAD_CHARS = 40


def _spans(offsets: Any) -> list[tuple[int, int]]:
    """``{"0": [{"s": 9, "e": 16}, ...]}`` → sorted, non-overlapping ``(start, end)`` pairs."""
    spans: list[tuple[int, int]] = []
    if isinstance(offsets, dict):
        for items in offsets.values():
            for item in items or []:
                if isinstance(item, dict) and isinstance(item.get("s"), int) and isinstance(item.get("e"), int):
                    spans.append((item["s"], item["e"]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > start:
            merged.append((start, end))
    return merged


def snippet_html(body: str, offsets: Any) -> str:
    """An escaped window of ``body`` around the first match, each match wrapped in ``<mark>``."""
    spans = _spans(offsets)
    start = max(0, spans[0][0] - LEAD_CHARS) if spans else 0
    end = min(len(body), start + SNIPPET_CHARS)
    if spans and spans[0][1] > end:  # a very long first match: show it whole
        end = min(len(body), spans[0][1])
    out: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(body[cursor:s]))
        out.append("<mark>" + html.escape(body[s:e]) + "</mark>")
        cursor = e
    out.append(html.escape(body[cursor:end]))
    if end < len(body):
        out.append("…")
    return "".join(out)


def clean_query(query: str) -> str:
    """Trimmed, 1..QUERY_MAX characters, no NUL (the serializer checks too; pages call this directly)."""
    query = (query or "").strip()
    if not query:
        raise ValidationFailed.for_fields({"q": ["enter words to search for"]})
    if len(query) > QUERY_MAX:
        raise ValidationFailed.for_fields({"q": [f"at most {QUERY_MAX} characters"]})
    if "\x00" in query:
        raise ValidationFailed.for_fields({"q": ["must not contain NUL characters"]})
    return query


async def search_messages(
    principal: Principal, *, query: str, thread_id: str | None = None, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    """``{query, results: [...], next_offset}``; ``next_offset`` is null on the last page."""
    from apps.chat import services

    query = clean_query(query)
    repo = ChatSearchRepository()
    if thread_id:
        await services.access(principal, thread_id)
        thread_ids = [thread_id]
    else:
        thread_ids = await repo.active_thread_ids(principal.user_id)
    rows = await repo.search(
        query=query,
        thread_ids=thread_ids,
        user_id=principal.user_id,
        staff=principal.is_moderator,
        limit=limit + 1,
        offset=offset,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    threads = await repo.threads([r["thread_id"] for r in rows])
    users = await services._repo().users([r["author_id"] for r in rows])
    results = []
    for row in rows:
        thread = threads.get(row["thread_id"])
        if thread is None:
            raise NotFound("thread not found")  # cannot happen: a message's thread is never deleted
        author = users.get(row["author_id"]) or {}
        results.append(
            {
                "thread_id": row["thread_id"],
                "thread_title": thread.get("title"),
                "message_id": row["message_id"],
                "seq": row["seq"],
                "author": {"user_id": row["author_id"], "username": author.get("username")},
                "created_at_ms": row["created_at_ms"],
                "edited_at_ms": row.get("edited_at_ms"),
                "moderation_status": row.get("moderation_status"),
                "snippet_html": snippet_html(row["body"], row.get("offsets")),
                "url": f"/threads/{row['thread_id']}?seq={row['seq']}#m-{row['seq']}",
            }
        )
    return {"query": query, "results": results, "next_offset": offset + limit if more else None}
