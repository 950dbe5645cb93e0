"""@mentions: ``@username`` in a message body names a member of the thread.

Parsed once, at send and at edit, against the thread's *active* members, and stored with the message
(``chat_message.mentions``: user ids), so reading a page never re-parses bodies and a member who joins
later is not mentioned retroactively. The author is never in their own message's mentions (no
self-notification). Unread mentions of a reader are the messages after their read cursor that mention
them (``mention_count`` of the thread list).
"""

from __future__ import annotations

import re
from typing import Any

from apps.accounts.domain import Principal
from apps.chat import permissions
from apps.chat.search_repository import ChatSearchRepository

# A username is [A-Za-z0-9_.-]{3,64} (accounts.serializers.USERNAME_RE). The "@" must not follow a word
# character (so "ana@example.org" is an address, not a mention).
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]{1,64})")
MAX_MENTIONS = 50
# Unread mentions are counted over at most this many of the latest unread messages (a bounded read).
MENTION_WINDOW = 1000


def candidates_in(body: str) -> list[str]:
    """Lower-cased names after ``@``, each also without trailing ``.``/``-`` ("@ana." ends a sentence)."""
    names: list[str] = []
    for match in MENTION_RE.finditer(body):
        token = match.group(1).lower()
        for name in (token, token.rstrip(".-")):
            if name and name not in names:
                names.append(name)
    return names


async def resolve(thread_id: str, body: str, author_id: str) -> list[str]:
    """User ids of the thread's active members that ``body`` mentions, in order of first mention."""
    names = candidates_in(body)
    if not names:
        return []
    by_name = {m["username"].lower(): m["user_id"] for m in await ChatSearchRepository().member_names(thread_id)}
    found: list[str] = []
    for name in names:
        user_id = by_name.get(name)
        if user_id and user_id != author_id and user_id not in found:
            found.append(user_id)
    return found[:MAX_MENTIONS]


async def mention_candidates(principal: Principal, thread_id: str, *, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Members of the thread whose username starts with ``prefix`` (case-insensitive), for autocomplete.

    Members only (the same access rule as the member list: 404 private/unknown, 403 public non-member).
    """
    await permissions.access(principal, thread_id)
    prefix = prefix.lower()
    members = await ChatSearchRepository().member_names(thread_id)
    hits = [m for m in members if m["username"].lower().startswith(prefix)]
    hits.sort(key=lambda m: (m["user_id"] == principal.user_id, m["username"].lower()))
    return [{"user_id": m["user_id"], "username": m["username"]} for m in hits[:limit]]
