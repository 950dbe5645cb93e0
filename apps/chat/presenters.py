"""JSON views of chat records: one function per shape, shared by HTTP, WebSocket, SSE and poll.

Streams and HTTP build message views with the same ``message_view`` so a
stream event's ``message`` equals the HTTP answer for the same message.
"""

from __future__ import annotations

import json
from typing import Any

from apps.accounts.domain import MODERATOR_ROLES, Principal
from apps.chat.attachments import attachment_views

THREAD_FIELDS = (
    "thread_id",
    "scope_id",
    "title",
    "created_by",
    "privacy_level",
    "last_seq",
    "created_at_ms",
    "updated_at_ms",
)
MEMBER_FIELDS = ("thread_id", "user_id", "role", "joined_at_ms", "left_at_ms", "mute_until_ms")
HIDDEN_STATUSES = frozenset({"under_review", "rejected"})


def thread_view(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in THREAD_FIELDS}


def member_view(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row.get(key) for key in MEMBER_FIELDS}


def sees_held_body(row: dict[str, Any], viewer: Principal | None) -> bool:
    """Whether ``viewer`` sees a held or rejected body: its author and staff do. The only way a view varies by reader,
    so the realtime fan-out renders one view per value of this (``fanout.PreparedMessage``), not one per socket."""
    return viewer is not None and (viewer.user_id == row["author_id"] or viewer.role in MODERATOR_ROLES)


def message_view(row: dict[str, Any], users: dict[str, dict[str, Any]], viewer: Principal | None) -> dict[str, Any]:
    """The message as ``viewer`` may see it: held or rejected bodies are blanked except for author and staff."""
    author = users.get(row["author_id"]) or {}
    body = row.get("body") or ""
    status = row.get("moderation_status")
    if status in HIDDEN_STATUSES and not sees_held_body(row, viewer):
        body = ""
    return {
        "thread_id": row["thread_id"],
        "message_id": row["message_id"],
        "seq": row["seq"],
        "author_id": row["author_id"],
        "author": {
            "user_id": row["author_id"],
            "username": author.get("username"),
            "role": author.get("role"),
        },
        "body": body,
        # Blanked with the body (hidden or deleted messages show no attachments either).
        "attachments": attachment_views(row) if body else [],
        # User ids the body @mentions (stored at send/edit, apps/chat/mentions.py); blanked with the body.
        "mentions": list(row.get("mentions") or []) if body else [],
        "created_at_ms": row["created_at_ms"],
        "edited_at_ms": row.get("edited_at_ms"),
        "deleted_at_ms": row.get("deleted_at_ms"),
        "moderation_status": status,
        "request_id": row.get("request_id"),
        "correlation_id": row.get("correlation_id"),
    }


class Envelope(dict):
    """A stream envelope that encodes itself to JSON once.

    The fan-out hands the *same* envelope object to every socket that sees the same view, so the
    first socket's ``text()`` pays for ``json.dumps`` and the others reuse it. Never mutated after creation.
    """

    __slots__ = ("_text",)

    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text: str = json.dumps(self, separators=(",", ":"))
            return self._text


def envelope(
    event_type: str,
    thread_id: str,
    *,
    seq: int | None = None,
    message: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Envelope:
    """The stream envelope of 03-chat.md (one per WebSocket frame / SSE ``data:`` line)."""
    return Envelope(event_type=event_type, thread_id=thread_id, seq=seq, message=message, data=data)
