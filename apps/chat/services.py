"""Chat rules: threads, membership, ordered messages, read cursors.

Views parse input and call these; SurrealQL lives in ``repository.py``. Every
change is committed first and then announced with ``realtime.publish`` (ids and
``seq`` only): the database is the truth, the bus only says "look again".
"""

from __future__ import annotations

from typing import Any

from apps.accounts.domain import Principal
from apps.chat import fanout, mentions, realtime, uploads
from apps.chat.attachments import with_attachments
from apps.chat.permissions import NOT_A_MEMBER, Access, access, is_active
from apps.chat.presenters import member_view, message_view, thread_view
from apps.chat.repository import (
    ATTACHMENT_NOT_OWN,
    MUTED,
    NOT_MEMBER,
    AttachmentUnavailable,
    ChatRepository,
    SendRefused,
)
from apps.core import context
from apps.core.db import UniqueViolation
from apps.core.errors import AppError, Conflict, Forbidden, NotFound
from apps.core.ids import new_id, now_ms
from apps.core.ratelimit import limiter

EDIT_WINDOW_MS = 24 * 3600 * 1000
MANAGER_ROLES = frozenset({"owner", "admin"})


def _repo() -> ChatRepository:
    return ChatRepository()


# -- threads ---------------------------------------------------------------


async def create_thread(principal: Principal, *, scope_id: str, privacy_level: str, title: str | None) -> dict:
    """Create a thread; the creator becomes its ``owner`` in the same transaction."""
    now = now_ms()
    request_id, correlation_id = context.request_ids()
    thread = {
        "thread_id": new_id(),
        "scope_id": scope_id,
        "title": title,
        "created_by": principal.user_id,
        "privacy_level": privacy_level,
        "last_seq": 0,
        "last_activity_ms": now,
        "request_id": request_id,
        "correlation_id": correlation_id,
        "created_at_ms": now,
        "updated_at_ms": now,
    }
    owner = _member_row(thread["thread_id"], principal.user_id, "owner", now)
    await _repo().create_thread(thread, owner)
    return thread_view(thread)


async def list_threads(principal: Principal, *, scope_id: str | None, limit: int) -> list[dict]:
    repo = _repo()
    if scope_id:
        threads = await repo.threads_in_scope(scope_id, principal.user_id, limit)
    else:
        threads = await repo.threads_of_user(principal.user_id, limit)
    # A fixed number of queries whatever the number of threads: the threads, their summaries, and the
    # last messages' authors and attachments (tests/chat/test_thread_list.py counts them).
    summaries = await repo.thread_summaries(threads, principal.user_id, mention_window=mentions.MENTION_WINDOW)
    lasts = [s["last"] for s in summaries if s.get("last")]
    views = {v["message_id"]: v for v in await views_of(lasts, principal)}
    items = []
    for thread, summary in zip(threads, summaries, strict=True):
        item = thread_view(thread)
        item["member_count"] = int(summary.get("member_count") or 0)
        # The caller's own messages are never unread (thread_summaries counts them after the cursor).
        unread = thread["last_seq"] - int(summary.get("read_seq") or 0) - int(summary.get("own_unread") or 0)
        item["unread_count"] = max(0, unread)
        item["last_activity_ms"] = thread.get("last_activity_ms") or thread["created_at_ms"]
        last = summary.get("last")
        item["last_message"] = views.get(last["message_id"]) if last else None
        # Unread mentions of the caller, by others, visible to them (mentions.py's window).
        item["mention_count"] = int(summary.get("mention_count") or 0) if item["unread_count"] else 0
        items.append(item)
    return items


async def discover(principal: Principal, *, limit: int) -> list[dict]:
    """Public threads of the caller's community (the scope a member belongs to), newest activity first,
    with ``member_count``, ``last_activity_ms`` and ``joined``: how a new member finds a conversation."""
    rows = await _repo().discover_threads(principal.community_id, principal.user_id, limit)
    items = []
    for row in rows:
        item = thread_view(row)
        item["member_count"] = int(row.get("member_count") or 0)
        item["last_activity_ms"] = row.get("last_activity_ms") or row["created_at_ms"]
        item["joined"] = bool(row.get("joined"))
        items.append(item)
    return items


async def get_thread(principal: Principal, thread_id: str) -> dict:
    return thread_view((await access(principal, thread_id, member_required=False)).thread)


# -- members ---------------------------------------------------------------


def _member_row(thread_id: str, user_id: str, role: str, now: int) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "user_id": user_id,
        "role": role,
        "joined_at_ms": now,
        "left_at_ms": None,
        "left_reason": None,
        "mute_until_ms": None,
        "updated_at_ms": now,
    }


async def list_members(principal: Principal, thread_id: str) -> list[dict]:
    """Active members with their ``username`` (additive to the spec's member view: pages and invites)."""
    await access(principal, thread_id)
    repo = _repo()
    rows = await repo.active_members(thread_id)
    users = await repo.users([m["user_id"] for m in rows])
    return [dict(member_view(m), username=(users.get(m["user_id"]) or {}).get("username")) for m in rows]


async def join(principal: Principal, thread_id: str) -> dict:
    """Idempotent. Public: anyone. Private: only someone invited (a row not ended by removal)."""
    repo = _repo()
    thread = await repo.get_thread(thread_id)
    if thread is None:
        raise NotFound("thread not found")
    member = await repo.get_member(thread_id, principal.user_id)
    if is_active(member):
        return member_view(member)
    if thread["privacy_level"] == "private" and (member is None or member.get("left_reason") == "removed"):
        raise NotFound("thread not found")
    now = now_ms()
    role = member["role"] if member else "member"
    row = await repo.put_member(_member_row(thread_id, principal.user_id, role, now))
    await realtime.publish(thread_id, "member_joined", data={"user_id": principal.user_id})
    return member_view(row)


async def add_member(
    principal: Principal, thread_id: str, *, user_id: str | None = None, username: str | None = None, role: str
) -> dict:
    """Owner/admin invite by ``user_id`` or ``username``: creates (or reactivates) an active membership."""
    from apps.accounts.repository import AccountsRepository

    found = await access(principal, thread_id)
    if found.role not in MANAGER_ROLES:
        raise Forbidden("only the thread's owner or admins may add members")
    repo = _repo()
    if user_id is None:
        user = await repo.user_by_username(username or "")
        if user is None or not user.get("enabled", True):
            raise NotFound("no member is called that", details={"username": username})
        user_id = user["user_id"]
    elif await AccountsRepository().get_user(user_id) is None:
        raise NotFound("user not found")
    existing = await repo.get_member(thread_id, user_id)
    if is_active(existing):
        if existing["role"] != role and existing["role"] != "owner":
            existing = await repo.update_member(thread_id, user_id, {"role": role, "updated_at_ms": now_ms()})
        return member_view(existing)
    row = await repo.put_member(_member_row(thread_id, user_id, role, now_ms()))
    await realtime.publish(thread_id, "member_joined", data={"user_id": user_id})
    return member_view(row)


async def leave(principal: Principal, thread_id: str) -> dict:
    """Idempotent: leaving twice answers the ended membership again."""
    repo = _repo()
    thread = await repo.get_thread(thread_id)
    if thread is None:
        raise NotFound("thread not found")
    member = await repo.get_member(thread_id, principal.user_id)
    if member is None:
        if thread["privacy_level"] == "private":
            raise NotFound("thread not found")
        raise Forbidden(NOT_A_MEMBER)
    if not is_active(member):
        return member_view(member)
    now = now_ms()
    row = await repo.update_member(
        thread_id, principal.user_id, {"left_at_ms": now, "left_reason": "left", "updated_at_ms": now}
    )
    await realtime.membership_ended(thread_id, principal.user_id, "member_left")
    return member_view(row)


async def _managed_target(principal: Principal, thread_id: str, user_id: str) -> tuple[Access, dict[str, Any]]:
    found = await access(principal, thread_id)
    if found.role not in MANAGER_ROLES:
        raise Forbidden("only the thread's owner or admins may do this")
    target = await _repo().get_member(thread_id, user_id)
    if not is_active(target):
        raise NotFound("member not found")
    if target["role"] == "owner" and found.role != "owner":
        raise Forbidden("admins cannot act on the owner")
    return found, target


async def mute(principal: Principal, thread_id: str, user_id: str, *, minutes: int) -> dict:
    await _managed_target(principal, thread_id, user_id)
    now = now_ms()
    until = now + minutes * 60_000 if minutes > 0 else None
    row = await _repo().update_member(thread_id, user_id, {"mute_until_ms": until, "updated_at_ms": now})
    return member_view(row)


async def remove(principal: Principal, thread_id: str, user_id: str) -> dict:
    await _managed_target(principal, thread_id, user_id)
    now = now_ms()
    row = await _repo().update_member(
        thread_id, user_id, {"left_at_ms": now, "left_reason": "removed", "updated_at_ms": now}
    )
    await realtime.membership_ended(thread_id, user_id, "member_left")
    return member_view(row)


# -- messages --------------------------------------------------------------


async def views_of(rows: list[dict[str, Any]], viewer: Principal) -> list[dict]:
    """Message views for one reader (authors resolved in one query; moderation filtering per reader)."""
    loaded, users = await fanout.load_for_views(rows)
    return [message_view(r, users, viewer) for r in loaded]


async def read_messages(
    thread_id: str, *, after_seq: int | None = None, before_seq: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Raw rows, ascending: latest ``limit``; strictly after ``after_seq``; or the ``limit`` before ``before_seq``."""
    repo = _repo()
    if after_seq is not None and before_seq is not None:  # strictly between, ascending, first `limit`
        return await repo.messages_between(thread_id, after_seq + 1, min(before_seq - 1, after_seq + limit))
    if after_seq is not None:
        return await repo.messages_between(thread_id, after_seq + 1, after_seq + limit)
    if before_seq is not None:
        return await repo.messages_between(thread_id, before_seq - limit, before_seq - 1)
    return await repo.latest_messages(thread_id, limit)


async def list_messages(
    principal: Principal,
    thread_id: str,
    *,
    after_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = 50,
    since_message_id: str | None = None,
) -> list[dict]:
    await access(principal, thread_id)
    if since_message_id is not None and after_seq is None:
        anchor = await _repo().message_by_id(thread_id, since_message_id)
        if anchor is None:
            raise NotFound("since_message_id: no such message in this thread")
        after_seq = anchor["seq"]
    rows = await read_messages(thread_id, after_seq=after_seq, before_seq=before_seq, limit=limit)
    return await views_of(rows, principal)


async def send_message(principal: Principal, thread_id: str, *, body: str, attachments: list[str]) -> dict:
    """Append a message with the next ``seq``. Idempotent forever on ``(thread_id, X-Request-ID)``.

    A plain send is ONE database round trip (issue 14): the checks of ``permissions.access`` (404 unknown or
    private non-member, 403 public non-member), the mute, the attachments' ownership, the next ``seq``, the row
    and the attachments' claim are one transaction (``ChatRepository.send``, refusals in today's order), and the
    sender's view and the event every hub renders take the author from the signed-in principal (``_author_brief``),
    so delivering it reads nothing in any process either. Reads happen beside it only
    when needed: the thread's member names when the body has ``@`` candidates (``mentions.resolve``, before the
    transaction: a refused send discards its result), the attachment rows of the view, the original message of
    a replayed request id, and ``uploads.check_own`` to word an attachment refusal exactly as before.
    """
    await limiter.hit("chat_send", principal.user_id)
    now = now_ms()
    request_id, correlation_id = context.request_ids()
    row = {
        "thread_id": thread_id,
        "message_id": new_id(),
        "author_id": principal.user_id,
        "body": body,
        "attachments": list(attachments),
        "request_id": request_id,
        "correlation_id": correlation_id,
        "created_at_ms": now,
        "edited_at_ms": None,
        "deleted_at_ms": None,
        "moderation_status": None,
        "mentions": await mentions.resolve(thread_id, body, principal.user_id),  # parsed once, stored
    }
    repo = _repo()
    try:
        stored = await repo.send(thread_id, row, now, list(attachments))
    except SendRefused as exc:
        raise await _send_refused(principal, exc, attachments) from exc
    except AttachmentUnavailable as exc:
        raise Conflict("an attachment is already used by another message (each is used once)") from exc
    except UniqueViolation as exc:
        if exc.index != "chat_message_thread_request":
            raise
        stored = await repo.message_by_request(thread_id, request_id)
        if stored is None or stored["author_id"] != principal.user_id:
            raise Conflict(
                "X-Request-ID was already used in this thread", details={"reason": "idempotency_key_reused"}
            ) from exc
        return (await views_of([stored], principal))[0]
    author = _author_brief(principal)
    await realtime.publish(
        thread_id, "message", seq=stored["seq"], message_id=stored["message_id"], row=stored, authors=author
    )
    return await _sender_view(stored, principal, author)


async def _send_refused(principal: Principal, refused: SendRefused, attachments: list[str]) -> AppError:
    """The answer to a send its transaction refused: the same errors ``access``, the mute check and
    ``uploads.check_own`` gave when they ran as separate reads before the write."""
    if refused.reason == MUTED:
        details = {"reason": "muted", "mute_until_ms": refused.mute_until_ms}
        return Forbidden("you are muted in this thread", details=details)
    if refused.reason == NOT_MEMBER:
        return Forbidden(NOT_A_MEMBER)
    if refused.reason == ATTACHMENT_NOT_OWN:
        await uploads.check_own(principal, attachments)  # raises the refusal naming the first bad attachment
        return NotFound("unknown attachment", details={"fields": {"attachments": list(attachments)}})
    return NotFound("thread not found")


def _author_brief(principal: Principal) -> dict[str, dict[str, Any]]:
    """The sender as a message's author, without reading it back: the signed-in principal is built from the
    current user record at authentication, i.e. the same ``{user_id, username, role}`` that ``views_of`` would
    read. The sender's answer and every hub's rendering of the message use it."""
    return {principal.user_id: {"user_id": principal.user_id, "username": principal.username, "role": principal.role}}


async def _sender_view(row: dict[str, Any], principal: Principal, author: dict[str, dict[str, Any]]) -> dict:
    """The sender's own view of the message they just sent (``author``: ``_author_brief``); attachment rows are
    read when there are some."""
    (loaded,) = await with_attachments([row])
    return message_view(loaded, author, principal)


async def _own_message(principal: Principal, thread_id: str, message_id: str) -> tuple[Access, dict[str, Any]]:
    found = await access(principal, thread_id)
    message = await _repo().message_by_id(thread_id, message_id)
    if message is None:
        raise NotFound("message not found")
    return found, message


async def edit_message(principal: Principal, thread_id: str, message_id: str, *, body: str) -> dict:
    _, message = await _own_message(principal, thread_id, message_id)
    if message["author_id"] != principal.user_id:
        raise Forbidden("only the author may edit a message")
    if message.get("deleted_at_ms") is not None:
        raise NotFound("message not found")
    now = now_ms()
    if now - message["created_at_ms"] > EDIT_WINDOW_MS:
        raise Forbidden("messages can be edited for 24 hours")
    mentioned = await mentions.resolve(thread_id, body, principal.user_id)  # re-parsed: the body changed
    row = await _repo().update_message(
        thread_id, message["seq"], {"body": body, "edited_at_ms": now, "mentions": mentioned}
    )
    await realtime.publish(thread_id, "message_updated", seq=row["seq"], message_id=message_id, row=row)
    return (await views_of([row], principal))[0]


async def delete_message(principal: Principal, thread_id: str, message_id: str) -> None:
    """Tombstone (empty body, ``deleted_at_ms``): the row stays so ``seq`` stays gapless."""
    found, message = await _own_message(principal, thread_id, message_id)
    allowed = message["author_id"] == principal.user_id or found.role in MANAGER_ROLES or principal.is_moderator
    if not allowed:
        raise Forbidden("only the author, the thread's owner/admins or moderators may delete a message")
    if message.get("deleted_at_ms") is not None:
        return
    await _repo().update_message(thread_id, message["seq"], {"body": "", "deleted_at_ms": now_ms(), "mentions": []})
    await realtime.publish(thread_id, "message_deleted", seq=message["seq"], message_id=message_id)


# -- read cursors ----------------------------------------------------------


def _cursor_view(row: dict[str, Any]) -> dict:
    keys = ("thread_id", "user_id", "last_read_seq", "last_read_message_id", "last_read_at_ms")
    return {key: row.get(key) for key in keys}


async def get_cursor(principal: Principal, thread_id: str) -> dict:
    await access(principal, thread_id)
    row = await _repo().get_cursor(thread_id, principal.user_id)
    if row is None:
        raise NotFound("no read cursor yet")
    return _cursor_view(row)


async def set_cursor(principal: Principal, thread_id: str, *, message_id: str | None, seq: int | None) -> dict:
    """Monotonic: an older position answers the current cursor unchanged."""
    found = await access(principal, thread_id)
    repo = _repo()
    if message_id is not None:
        message = await repo.message_by_id(thread_id, message_id)
        if message is None:
            raise NotFound("message not found")
    else:
        assert seq is not None
        message = await repo.message_at(thread_id, seq) if seq <= found.thread["last_seq"] else None
        if message is None:
            raise NotFound("message not found")
    row = await repo.advance_cursor(
        {
            "thread_id": thread_id,
            "user_id": principal.user_id,
            "last_read_seq": message["seq"],
            "last_read_message_id": message["message_id"],
            "last_read_at_ms": now_ms(),
        }
    )
    return _cursor_view(row or {})
