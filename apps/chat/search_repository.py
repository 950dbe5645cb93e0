"""SurrealQL of the conversation features: message search, mention candidates, unread mentions.

A module of its own (still the chat app's, which owns the tables) so the search and mention queries
stay next to each other and apart from the ordered-message core in ``repository.py``. Bound values
only; record ids through ``type::record``.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.repository import AccountsRepository
from apps.core.db import Repository, plain

HIDDEN_STATUSES = ["under_review", "rejected"]

# Full-text match (index chat_message_body_search, predicate reference 1), limited to the caller's
# threads; deleted messages never, held/rejected ones only for their author or staff. Newest first:
# the BM25 score is the same for most short chat messages, so recency is the useful order, and an
# integer order (created_at_ms, then seq) is stable across pages (no datetime index: engine defect 2).
SEARCH_SQL = """
SELECT thread_id, message_id, seq, author_id, body, created_at_ms, edited_at_ms, moderation_status,
       search::offsets(1) AS offsets
FROM chat_message
WHERE body @1@ $q
  AND thread_id IN $threads
  AND deleted_at_ms = NONE
  AND (moderation_status = NONE OR moderation_status NOT IN $hidden OR author_id = $u OR $staff = true)
ORDER BY created_at_ms DESC, seq DESC
LIMIT $limit START $offset;
"""


class ChatSearchRepository(Repository):
    async def member_names(self, thread_id: str) -> list[dict[str, Any]]:
        """``{user_id, username}`` of the thread's active members, by username (mentions resolve against these).

        Two reads: the members here, their names from the accounts repository (it owns ``user``).
        """
        ids = await self.db.query(
            "SELECT VALUE user_id FROM chat_member WHERE thread_id = $t AND left_at_ms = NONE;",
            {"t": thread_id},
            operation="chat_member_ids",
        )
        briefs = await AccountsRepository().user_briefs([str(i) for i in (ids[-1] or [])])
        named = [{"user_id": b["user_id"], "username": b["username"]} for b in briefs.values() if b.get("username")]
        return sorted(named, key=lambda m: m["username"])

    async def active_thread_ids(self, user_id: str) -> list[str]:
        """Threads the user is an active member of: the threads whose messages they may read."""
        rows = await self.db.query(
            "SELECT VALUE thread_id FROM chat_member WHERE user_id = $u AND left_at_ms = NONE;",
            {"u": user_id},
            operation="chat_search_threads",
        )
        return [str(t) for t in (rows[-1] or [])]

    async def threads(self, thread_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not thread_ids:
            return {}
        rows = await self._all(
            "SELECT thread_id, title, privacy_level, scope_id"
            " FROM array::map($ids, |$i| type::record('chat_thread', $i));",
            {"ids": sorted(set(thread_ids))},
            operation="chat_search_thread_titles",
        )
        return {row["thread_id"]: plain(row) for row in rows if row}

    async def search(
        self, *, query: str, thread_ids: list[str], user_id: str, staff: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        if not thread_ids:
            return []
        rows = await self._all(
            SEARCH_SQL,
            {
                "q": query,
                "threads": thread_ids,
                "hidden": HIDDEN_STATUSES,
                "u": user_id,
                "staff": staff,
                "limit": limit,
                "offset": offset,
            },
            operation="chat_search",
        )
        return [plain(row) for row in rows]
