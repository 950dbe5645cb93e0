"""All SurrealQL of the chat app. Values are always bound; record ids are built with ``type::record``.

Keys live in record ids (``chat_message:[thread_id, seq]`` and friends), so
"latest", catch-up and scroll-back are bounded record-id ranges that read only
the rows they return (see notes/environment.md, "Query shapes"). Two traps are
avoided on purpose: an open-ended range with ``LIMIT`` reads the rest of the
thread, and ``ORDER BY id DESC`` on a range sorts everything — every range here
has both bounds computed from ``seq`` and comes back ascending by key.
"""

from __future__ import annotations

import re
from typing import Any

from apps.accounts.repository import AccountsRepository
from apps.chat.search_repository import HIDDEN_STATUSES
from apps.core.db import Repository, Statement, Thrown, first_row, plain

# Both bounds fixed: reads exactly hi - lo + 1 rows at most (the EXPLAIN test checks this shape).
RANGE_SQL = "SELECT * FROM chat_message:[$t, $lo]..=[$t, $hi];"
LATEST_SQL = (
    "LET $last = (SELECT VALUE last_seq FROM ONLY type::record('chat_thread', $t)) ?? 0;"
    "SELECT * FROM chat_message:[$t, $last - $n + 1]..=[$t, $last];"
)
APPEND_SQL = """
LET $th = (UPDATE type::record('chat_thread', $t)
           SET last_seq += 1, last_activity_ms = $now, updated_at_ms = $now RETURN AFTER)[0];
IF $th = NONE { THROW 'thread_not_found' };
CREATE type::record('chat_message', [$t, $th.last_seq]) CONTENT object::extend($row, {seq: $th.last_seq})
"""
# The same transaction, then the attachments are claimed for the message: only the sender's own, only
# unused ones. The CREATE comes first, so a reused X-Request-ID still surfaces as UniqueViolation.
APPEND_WITH_ATTACHMENTS_SQL = (
    APPEND_SQL
    + """;
LET $claimed = (UPDATE array::map($att, |$i| type::record('chat_attachment', $i))
    SET message_id = $row.message_id, thread_id = $t
    WHERE owner_id = $row.author_id AND message_id = NONE RETURN AFTER);
IF array::len($claimed) != array::len($att) { THROW 'attachment_unavailable' };
SELECT * FROM ONLY type::record('chat_message', [$t, $th.last_seq]);
"""
)
# The checks of a send, before its write and in its transaction (``ChatRepository.send``): the thread exists,
# the sender's membership is active (private: the same 404 as an unknown thread; public: 403), the sender is not
# muted, and (with attachments) every id is listed once and is an upload of the sender. Each refusal THROWs its
# marker before anything is written. Accepted by the embedded 3.2 engine and the 3.0 bridge
# (tests/chat/test_send_round_trips.py runs both). ``type::record(...).{fields}`` answers as ``SELECT fields FROM
# ONLY`` does (NONE for a missing record) for about 0.08 ms less of the engine's CPU per send (issue 14).
SEND_GUARD_SQL = """
LET $thread = type::record('chat_thread', $t).{privacy_level};
IF $thread = NONE { THROW 'thread_not_found' };
LET $member = type::record('chat_member', [$t, $row.author_id]).{left_at_ms, mute_until_ms};
IF $member = NONE OR $member.left_at_ms != NONE {
    THROW IF $thread.privacy_level = 'private' { 'thread_not_found' } ELSE { 'not_a_member' }
};
IF $member.mute_until_ms != NONE AND $member.mute_until_ms > $now {
    THROW 'muted:' + <string> $member.mute_until_ms
};
"""
ATTACHMENT_GUARD_SQL = """
LET $own = (SELECT VALUE attachment_id FROM array::map($att, |$i| type::record('chat_attachment', $i))
    WHERE owner_id = $row.author_id);
IF array::len(array::distinct($att)) != array::len($att) OR array::len($own) != array::len($att) {
    THROW 'attachment_not_own'
};
"""


def _block(statements: str) -> str:
    """The statements as ONE block statement, whose value is its last statement's: the transaction answers with
    that one result instead of one per statement, about 0.13 ms less CBOR to decode per send (issue 14)."""
    return "{\n" + statements.strip().rstrip(";") + "\n}"


SEND_SQL = _block(SEND_GUARD_SQL + APPEND_SQL)
SEND_WITH_ATTACHMENTS_SQL = _block(SEND_GUARD_SQL + ATTACHMENT_GUARD_SQL + APPEND_WITH_ATTACHMENTS_SQL)
# How far back ``thread_summaries`` looks for the caller's own unread messages (bounded read).
OWN_UNREAD_WINDOW = 500
THREAD_NOT_FOUND = "thread_not_found"
NOT_MEMBER = "not_a_member"
MUTED = "muted"
ATTACHMENT_NOT_OWN = "attachment_not_own"
ATTACHMENT_UNAVAILABLE = "attachment_unavailable"


def _seq_counter(thread_id: str) -> str:
    """The record every message of a thread writes (its ``last_seq``): this process's sends there queue, not
    conflict (``SurrealClient.write``'s ``serialise_on``)."""
    return f"chat_thread:{thread_id}"


def _clean(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = plain(row)
    row.pop("id", None)
    return row


def _clean_all(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [r for r in (_clean(row) for row in rows or []) if r is not None]


class AttachmentUnavailable(Exception):
    """An attachment of a send is already used by another message (claimed after the write, all or nothing)."""


class SendRefused(Exception):
    """A send's transaction refused before writing: ``reason`` is ``THREAD_NOT_FOUND``, ``NOT_MEMBER``,
    ``MUTED`` (with ``mute_until_ms``) or ``ATTACHMENT_NOT_OWN``; the service turns it into the answer."""

    def __init__(self, reason: str, mute_until_ms: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mute_until_ms = mute_until_ms


def _send_refusal(message: str) -> Exception | None:
    """The domain exception of a send's THROW marker (``None``: not one of ours)."""
    if match := re.search(r"muted:(\d+)", message):
        return SendRefused(MUTED, mute_until_ms=int(match.group(1)))
    if ATTACHMENT_UNAVAILABLE in message:
        return AttachmentUnavailable()
    for reason in (THREAD_NOT_FOUND, NOT_MEMBER, ATTACHMENT_NOT_OWN):
        if reason in message:
            return SendRefused(reason)
    return None


class ChatRepository(Repository):
    # -- threads ----------------------------------------------------------

    async def create_thread(self, thread: dict[str, Any], owner: dict[str, Any]) -> None:
        await self.db.write(
            "CREATE type::record('chat_thread', $t) CONTENT $thread RETURN NONE;"
            "CREATE type::record('chat_member', [$t, $u]) CONTENT $owner RETURN NONE;",
            {"t": thread["thread_id"], "u": owner["user_id"], "thread": thread, "owner": owner},
            operation="chat_thread_create",
        )

    async def get_thread(self, thread_id: str) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM ONLY type::record('chat_thread', $t);", {"t": thread_id}, operation="chat_thread_get"
            )
        )

    async def threads_of_user(self, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Threads where the user is an active member, newest activity first."""
        return _clean_all(
            await self._all(
                "LET $ids = (SELECT VALUE thread_id FROM chat_member WHERE user_id = $u AND left_at_ms = NONE);"
                # ORDER BY is ignored on a SELECT over an array of record ids (measured on the embedded
                # engine 3.2.4): sort an inner SELECT instead (tests/chat/test_web_threads.py checks).
                "SELECT * FROM (SELECT * FROM array::map($ids, |$i| type::record('chat_thread', $i)))"
                " ORDER BY last_activity_ms DESC, thread_id DESC LIMIT $limit;",
                {"u": user_id, "limit": limit},
                operation="chat_threads_of_user",
            )
        )

    async def threads_in_scope(self, scope_id: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Public threads of the scope plus the private ones the user belongs to."""
        return _clean_all(
            await self._all(
                "LET $mine = (SELECT VALUE thread_id FROM chat_member WHERE user_id = $u AND left_at_ms = NONE);"
                "SELECT * FROM chat_thread WHERE scope_id = $s AND (privacy_level = 'public' OR thread_id IN $mine)"
                " ORDER BY last_activity_ms DESC, thread_id DESC LIMIT $limit;",
                {"u": user_id, "s": scope_id, "limit": limit},
                operation="chat_threads_in_scope",
            )
        )

    async def thread_summaries(
        self, threads: list[dict[str, Any]], user_id: str, *, mention_window: int
    ) -> list[dict[str, Any]]:
        """For a page of threads, in ONE query whatever their number, each thread's member count, the caller's
        read position, the last message, ``own_unread`` (the caller's own messages after the read position:
        they never count as unread) and ``mention_count`` (unread messages by others that mention the caller
        and the caller may see). Both counts are closed record-id ranges over at most the last
        ``OWN_UNREAD_WINDOW`` / ``mention_window`` messages, so a huge thread never read stays bounded."""
        if not threads:
            return []
        results = await self.db.query(
            "RETURN array::map($items, |$it| {"
            " LET $read = (SELECT VALUE last_read_seq FROM ONLY type::record('chat_read_cursor', [$it.t, $u])) ?? 0;"
            " LET $lo = math::max([$read + 1, $it.last - $w + 1, 1]);"
            " LET $mlo = math::max([$read + 1, $it.last - $mw + 1, 1]);"
            " RETURN {"
            "  thread_id: $it.t,"
            "  member_count: (SELECT count() FROM chat_member WHERE thread_id = $it.t AND left_at_ms = NONE"
            "   GROUP ALL)[0].count ?? 0,"
            "  read_seq: $read,"
            "  own_unread: IF $lo <= $it.last {"
            "   count((SELECT VALUE seq FROM chat_message:[$it.t, $lo]..=[$it.t, $it.last] WHERE author_id = $u))"
            "  } ELSE { 0 },"
            "  mention_count: IF $mlo <= $it.last {"
            "   count((SELECT VALUE seq FROM chat_message:[$it.t, $mlo]..=[$it.t, $it.last]"
            "    WHERE $u IN mentions AND author_id != $u AND deleted_at_ms = NONE"
            "    AND (moderation_status = NONE OR moderation_status NOT IN $hidden)))"
            "  } ELSE { 0 },"
            "  last: IF $it.last > 0 { (SELECT * FROM ONLY type::record('chat_message', [$it.t, $it.last])) }"
            "   ELSE { NONE }"
            " };"
            "});",
            {
                "items": [{"t": t["thread_id"], "last": int(t["last_seq"])} for t in threads],
                "u": user_id,
                "w": OWN_UNREAD_WINDOW,
                "mw": mention_window,
                "hidden": sorted(HIDDEN_STATUSES),
            },
            operation="chat_thread_summaries",
        )
        summaries = plain(results[-1]) or []
        for summary in summaries:
            summary["last"] = _clean(summary.get("last"))
        return summaries

    async def discover_threads(self, scope_id: str, user_id: str, limit: int) -> list[dict[str, Any]]:
        """Public threads of a scope, newest activity first, each with ``member_count`` and whether
        ``user_id`` is an active member (``joined``): the Discover page and API."""
        return _clean_all(
            await self._all(
                "LET $mine = (SELECT VALUE thread_id FROM chat_member WHERE user_id = $u AND left_at_ms = NONE);"
                "SELECT *, thread_id IN $mine AS joined,"
                " (SELECT count() FROM chat_member WHERE thread_id = $parent.thread_id AND left_at_ms = NONE"
                " GROUP ALL)[0].count ?? 0 AS member_count"
                " FROM chat_thread WHERE scope_id = $s AND privacy_level = 'public'"
                " ORDER BY last_activity_ms DESC, thread_id DESC LIMIT $limit;",
                {"u": user_id, "s": scope_id, "limit": limit},
                operation="chat_threads_discover",
            )
        )

    # -- members ----------------------------------------------------------

    async def get_member(self, thread_id: str, user_id: str) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM ONLY type::record('chat_member', [$t, $u]);",
                {"t": thread_id, "u": user_id},
                operation="chat_member_get",
            )
        )

    async def put_member(self, row: dict[str, Any]) -> dict[str, Any]:
        """Create or replace the ``(thread_id, user_id)`` row (join, invite, re-join)."""
        result = await self._write_one(
            "UPSERT type::record('chat_member', [$t, $u]) CONTENT $row RETURN AFTER;",
            {"t": row["thread_id"], "u": row["user_id"], "row": row},
            operation="chat_member_put",
        )
        return _clean(result) or row

    async def update_member(self, thread_id: str, user_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        return _clean(
            await self._write_one(
                "UPDATE type::record('chat_member', [$t, $u]) MERGE $changes RETURN AFTER;",
                {"t": thread_id, "u": user_id, "changes": changes},
                operation="chat_member_update",
            )
        )

    async def active_members(self, thread_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        return _clean_all(
            await self._all(
                "SELECT * FROM chat_member WHERE thread_id = $t AND left_at_ms = NONE"
                " ORDER BY joined_at_ms, user_id LIMIT $limit;",
                {"t": thread_id, "limit": limit},
                operation="chat_members",
            )
        )

    # -- messages ---------------------------------------------------------

    async def append_message(self, thread_id: str, row: dict[str, Any], now_ms: int) -> dict[str, Any] | None:
        """Increment ``last_seq`` and create ``chat_message:[thread, seq]`` in one transaction.

        Returns ``None`` when the thread does not exist; a reused request id raises
        ``UniqueViolation`` (index ``chat_message_thread_request``) and nothing is written.
        """
        try:
            results = await self.db.write(
                APPEND_SQL,
                {"t": thread_id, "row": row, "now": now_ms},
                operation="chat_send",
                serialise_on=_seq_counter(thread_id),
            )
        except Thrown as exc:
            if THREAD_NOT_FOUND in exc.message:
                return None
            raise
        return _clean(first_row(results[-1]))

    async def send(self, thread_id: str, row: dict[str, Any], now_ms: int, attachment_ids: list[str]) -> dict[str, Any]:
        """A whole send in ONE round trip: the checks of ``SEND_GUARD_SQL`` (and ``ATTACHMENT_GUARD_SQL``), then
        ``append_message``'s write (claiming ``attachment_ids`` for the new message, all or nothing), then the
        stored row. The sender is ``row["author_id"]``.

        Raises ``SendRefused`` when a check fails and ``AttachmentUnavailable`` when an attachment is already
        used; nothing is written then. A reused request id raises ``UniqueViolation`` (the CREATE comes before
        the claim), as in ``append_message``.
        """
        sql, operation = (
            (SEND_WITH_ATTACHMENTS_SQL, "chat_send_attachments") if attachment_ids else (SEND_SQL, "chat_send")
        )
        variables = {"t": thread_id, "row": row, "now": now_ms, "att": attachment_ids}
        try:
            results = await self.db.write(sql, variables, operation=operation, serialise_on=_seq_counter(thread_id))
        except Thrown as exc:
            refusal = _send_refusal(exc.message)
            if refusal is None:
                raise
            raise refusal from exc
        stored = _clean(first_row(results[-1]))
        assert stored is not None  # the guard THROWs for a missing thread: a committed send has its row
        return stored

    # -- attachments ------------------------------------------------------

    async def create_attachment(self, row: dict[str, Any]) -> None:
        await self.db.write(
            "CREATE type::record('chat_attachment', $a) CONTENT $row RETURN NONE;",
            {"a": row["attachment_id"], "row": row},
            operation="chat_attachment_create",
        )

    async def get_attachment(self, attachment_id: str) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM ONLY type::record('chat_attachment', $a);",
                {"a": attachment_id},
                operation="chat_attachment_get",
            )
        )

    async def attachments(self, attachment_ids: list[str]) -> dict[str, dict[str, Any]]:
        """``attachment_id`` → row, for the attachments of a page of messages (one query)."""
        if not attachment_ids:
            return {}
        rows = _clean_all(
            await self._all(
                "SELECT * FROM array::map($ids, |$i| type::record('chat_attachment', $i));",
                {"ids": sorted(set(attachment_ids))},
                operation="chat_attachments",
            )
        )
        return {row["attachment_id"]: row for row in rows}

    async def message_by_request(self, thread_id: str, request_id: str) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM chat_message WHERE thread_id = $t AND request_id = $r LIMIT 1;",
                {"t": thread_id, "r": request_id},
                operation="chat_message_by_request",
            )
        )

    async def message_by_id(self, thread_id: str, message_id: str) -> dict[str, Any] | None:
        row = _clean(
            await self._one(
                "SELECT * FROM chat_message WHERE message_id = $m LIMIT 1;", {"m": message_id}, operation="chat_message"
            )
        )
        return row if row is not None and row["thread_id"] == thread_id else None

    async def message_at(self, thread_id: str, seq: int) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM ONLY type::record('chat_message', [$t, $s]);",
                {"t": thread_id, "s": seq},
                operation="chat_message_at",
            )
        )

    async def update_message(self, thread_id: str, seq: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        return _clean(
            await self._write_one(
                "UPDATE type::record('chat_message', [$t, $s]) MERGE $changes RETURN AFTER;",
                {"t": thread_id, "s": seq, "changes": changes},
                operation="chat_message_update",
            )
        )

    async def messages_between(self, thread_id: str, lo: int, hi: int) -> list[dict[str, Any]]:
        """Messages with ``lo <= seq <= hi``, ascending (a closed record-id range)."""
        if hi < lo or hi < 1:
            return []
        rows = _clean_all(
            await self._all(RANGE_SQL, {"t": thread_id, "lo": max(1, lo), "hi": hi}, operation="chat_messages_range")
        )
        return sorted(rows, key=lambda r: r["seq"])

    async def latest_messages(self, thread_id: str, n: int) -> list[dict[str, Any]]:
        rows = _clean_all(await self._all(LATEST_SQL, {"t": thread_id, "n": n}, operation="chat_messages_latest"))
        return sorted(rows, key=lambda r: r["seq"])

    # -- read cursors -----------------------------------------------------

    async def get_cursor(self, thread_id: str, user_id: str) -> dict[str, Any] | None:
        return _clean(
            await self._one(
                "SELECT * FROM ONLY type::record('chat_read_cursor', [$t, $u]);",
                {"t": thread_id, "u": user_id},
                operation="chat_cursor_get",
            )
        )

    async def advance_cursor(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Move the cursor forward only; an older position leaves it as it is. Returns the current cursor."""
        results = await self.db.write(
            "LET $c = (SELECT * FROM ONLY type::record('chat_read_cursor', [$t, $u]));"
            "IF $c = NONE OR $c.last_read_seq < $row.last_read_seq {"
            " UPSERT type::record('chat_read_cursor', [$t, $u]) CONTENT $row RETURN NONE };"
            "SELECT * FROM ONLY type::record('chat_read_cursor', [$t, $u]);",
            {"t": row["thread_id"], "u": row["user_id"], "row": row},
            operation="chat_cursor_advance",
        )
        return _clean(first_row(results[-1]))

    # -- users and stream state --------------------------------------------

    async def users(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """``user_id`` → ``{user_id, username, role}`` of message authors (accounts owns ``user``)."""
        return await AccountsRepository().user_briefs(user_ids)

    async def user_by_username(self, username: str) -> dict[str, Any] | None:
        """``{user_id, username, role, enabled}`` by username (any case): invitations by username."""
        found = await AccountsRepository().user_by_username(username)
        return None if found is None else {k: found.get(k) for k in ("user_id", "username", "role", "enabled")}

    async def stream_state(
        self, families: list[str], users: list[str], members: list[list[str]], threads: list[str]
    ) -> dict[str, Any]:
        """The periodic re-validation of every stream of a process: two batched reads, whatever the streams.

        Sign-ins and accounts come from the accounts repository (it owns those tables); memberships and
        threads' ``last_seq`` from one chat query.
        """
        results = await self.db.query(
            "RETURN {"
            " members: (SELECT thread_id, user_id, left_at_ms"
            "  FROM array::map($m, |$i| type::record('chat_member', $i))),"
            " threads: (SELECT thread_id, last_seq FROM array::map($t, |$i| type::record('chat_thread', $i)))"
            "};",
            {"m": members, "t": threads},
            operation="chat_stream_state",
        )
        return (plain(results[-1]) or {}) | await AccountsRepository().stream_auth_state(families, users)

    # -- for moderation (a decision's reads and its statement; chat's SQL stays here) ---------------------

    async def message_for_moderation(self, message_id: str) -> dict[str, Any] | None:
        """A message by its id alone (moderation knows no thread), with every field."""
        return await self._one(
            "SELECT * OMIT id FROM chat_message WHERE message_id = $mid LIMIT 1;",
            {"mid": message_id},
            operation="moderation_chat_message",
        )

    async def messages_for_review(self, message_ids: list[str]) -> list[dict[str, Any]]:
        """A page of queued chat messages in one query: the review queue shows their text."""
        if not message_ids:
            return []
        return await self._all(
            "SELECT message_id, thread_id, seq, author_id, body, moderation_status, deleted_at_ms, created_at_ms "
            "FROM chat_message WHERE message_id IN $ids;",
            {"ids": message_ids},
            operation="moderation_chat_messages",
        )

    def moderation_status_statement(self, message_id: str, status: str | None) -> Statement:
        """A moderation decision's status on a message, for the decision's unit of work."""
        return Statement(
            "UPDATE chat_message SET moderation_status = $s WHERE message_id = $mid RETURN NONE;",
            {"mid": message_id, "s": status},
        )
