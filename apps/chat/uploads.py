"""Attachment rules: accept an upload (type, size, owner), resolve a signed download.

The view hands over the spooled file; this module checks it in a worker thread
(``asyncio.to_thread``: hashing and storage I/O block), stores it, then writes
the ``chat_attachment`` row. Sends claim attachments in their own transaction
(``ChatRepository.send``).
"""

from __future__ import annotations

import asyncio
from typing import Any, BinaryIO

from apps.accounts.domain import Principal
from apps.chat import attachments as att
from apps.chat.repository import ChatRepository
from apps.core.errors import Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from apps.core.ids import new_id, now_ms
from apps.core.ratelimit import limiter


def _bad_file(message: str, reason: str) -> ValidationFailed:
    error = ValidationFailed.for_fields({"file": [message]})
    error.details = {**(error.details or {}), "reason": reason}
    return error


async def upload(
    principal: Principal, stream: BinaryIO, *, file_name: str | None, declared_type: str | None
) -> dict[str, Any]:
    """Check the spooled file, store it at its content-addressed key, record who uploaded it."""
    await limiter.hit("chat_send", principal.user_id)
    declared = att.normalise_declared(declared_type)
    if declared not in att.ALLOWED:
        raise _bad_file("only image, video and audio files can be attached", "type_not_allowed")
    found = await asyncio.to_thread(att.inspect, stream)
    if found.size == 0:
        raise _bad_file("the file is empty", "empty")
    if found.size > att.MAX_BYTES:
        raise PayloadTooLarge(att.MAX_BYTES)
    if found.sniffed is None:
        raise _bad_file("the file's content is not an allowed image, video or audio type", "type_not_allowed")
    if not att.type_agrees(found.sniffed, declared):
        raise _bad_file(f"the file's content is {found.sniffed}, not {declared}", "type_mismatch")
    attachment_id = new_id()
    row = {
        "attachment_id": attachment_id,
        "owner_id": principal.user_id,
        "object_key": att.object_key(found.sha256),
        "file_name": att.sanitise_name(file_name, declared),
        "mime_type": declared,
        "media_type": att.ALLOWED[declared],
        "size_bytes": found.size,
        "sha256": found.sha256,
        "thread_id": None,
        "message_id": None,
        "created_at_ms": now_ms(),
    }
    metadata = {"sha256": found.sha256}  # the object may be shared by several uploads: the rows say who
    await asyncio.to_thread(
        att.store, row["object_key"], stream, size=found.size, content_type=declared, metadata=metadata
    )
    await ChatRepository().create_attachment(row)
    return att.upload_view(row)


async def download_target(attachment_id: str, exp: str, sig: str) -> dict[str, Any]:
    """The attachment row behind a valid signed URL; 403 for a bad or expired signature, 404 if gone."""
    if not att.signature_valid(attachment_id, exp, sig):
        raise Forbidden("invalid or expired signature")
    row = await ChatRepository().get_attachment(attachment_id)
    if row is None:
        raise NotFound("attachment not found")
    return row


async def check_own(principal: Principal, attachment_ids: list[str]) -> None:
    """Before a send: every id must be an upload of the sender (unknown and others' look the same)."""
    if len(set(attachment_ids)) != len(attachment_ids):
        raise ValidationFailed.for_fields({"attachments": ["the same attachment is listed twice"]})
    rows = await ChatRepository().attachments(attachment_ids)
    for attachment_id in attachment_ids:
        row = rows.get(attachment_id)
        if row is None or row["owner_id"] != principal.user_id:
            # The body is well-formed; what it names does not exist for this sender (so 404, not 400).
            raise NotFound(f"unknown attachment {attachment_id}", details={"fields": {"attachments": [attachment_id]}})
