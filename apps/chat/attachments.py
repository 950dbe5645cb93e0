"""Chat attachments (03-chat.md endpoints 19-20): upload checks, storage, signed download URLs, views.

Why it looks like this:

* The upload is multipart through the API (the spec's contract), so the body must never sit in
  memory: ``BODY_LIMIT_OVERRIDES`` refuses an oversized ``Content-Length`` before a byte is read,
  ``CappedUploadHandler`` spools the file part to a temporary file and stops past the limit
  (chunked bodies have no length to check up front), and the file is copied to storage in chunks.
* The type comes from the bytes. Images and videos reuse evidence's sniffer
  (``apps.evidence.files.sniff``); audio and GIF, which evidence does not accept, are recognised
  here first. The declared part type must agree.
* Message views carry download URLs signed with the attachment-URL key (``apps.core.keys``); the expiry is rounded up to
  ``URL_BUCKET_S`` so every view built in the same window is byte-identical (a stream event equals
  the HTTP view of the same message — release gate 1) while staying valid for at least
  ``URL_TTL_S``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

from apps.core import keys
from apps.evidence.files import sniff

MIB = 1024 * 1024
MAX_BYTES = 20 * MIB
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the one file
UPLOAD_PATH = "/v1/chat/attachments/upload"
URL_TTL_S = 3600
URL_BUCKET_S = 3600
S3_GET_TTL_S = 300
HEAD_BYTES = 64
CHUNK = MIB
NAME_MAX = 128

ALLOWED: dict[str, str] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "image/gif": "image",
    "image/heic": "image",
    "video/mp4": "video",
    "video/webm": "video",
    "audio/mpeg": "audio",
    "audio/ogg": "audio",
    "audio/wav": "audio",
    "audio/mp4": "audio",
    "audio/webm": "audio",
}
ALIASES = {"audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/x-m4a": "audio/mp4"}
# Containers whose magic bytes do not say whether there is a picture track.
SAME_CONTAINER = {("video/webm", "audio/webm"), ("video/mp4", "audio/mp4"), ("audio/mp4", "video/mp4")}
_M4A_BRANDS = {b"M4A ", b"M4B "}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sniff_media(head: bytes) -> str | None:
    """The media type from the first bytes; ``None`` when it is not an allowed image, video or audio."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"  # an MPEG audio frame (a JPEG's second byte, 0xD8, is not a frame sync)
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp" and head[8:12] in _M4A_BRANDS:
        return "audio/mp4"
    found = sniff(head, is_text=False)
    return found if found in ALLOWED else None


def normalise_declared(content_type: str | None) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def type_agrees(sniffed: str, declared: str) -> bool:
    return sniffed == declared or (sniffed, declared) in SAME_CONTAINER


def sanitise_name(name: str | None, mime_type: str) -> str:
    """Only ``[A-Za-z0-9._-]``: path separators, spaces, quotes and control characters become ``_``."""
    cleaned = _UNSAFE.sub("_", (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
    if not cleaned:
        cleaned = "attachment." + mime_type.split("/", 1)[1]
    return cleaned[-NAME_MAX:]


def object_key(sha256: str) -> str:
    """Content-addressed: the key names the bytes, so what is served always hashes to the row's ``sha256``.

    No upload URL ever reaches these keys (the local endpoint has no put guard for them), and the same
    bytes uploaded twice share one object (rewriting it with identical bytes changes nothing).
    """
    return f"chat-attachments/{settings.CONFIG.app_env}/sha256/{sha256}"


# -- the multipart upload -------------------------------------------------------------


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Spools the file part to disk and stops reading once it passes ``MAX_BYTES``."""

    too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > MAX_BYTES:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


@dataclass(frozen=True)
class Inspected:
    size: int
    sha256: str
    sniffed: str | None


def inspect(stream: BinaryIO) -> Inspected:
    """One chunked pass (worker thread): size, SHA-256 and the sniffed type of the first bytes."""
    stream.seek(0)
    digest = hashlib.sha256()
    head = b""
    size = 0
    while chunk := stream.read(CHUNK):
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return Inspected(size, digest.hexdigest(), sniff_media(head) if size else None)


def store(key: str, stream: BinaryIO, *, size: int, content_type: str, metadata: dict[str, str]) -> None:
    """Copy the spooled, already-hashed file to object storage in chunks (worker thread).

    The spool is this request's private temporary file, so the bytes stored are the bytes hashed.
    """
    from apps.core.storage import get_storage

    stream.seek(0)
    get_storage().put_stream(key, stream, size=size, content_type=content_type, metadata=metadata)


# -- signed download URLs --------------------------------------------------------------


def signature(attachment_id: str, exp: int) -> str:
    """hex HMAC-SHA256(key, "{attachment_id}:{exp}"), the spec's formula with the attachment-URL purpose key
    (derived from ``SECRET_KEY``, apps/core/keys.py) instead of ``JWT_SECRET``: one key per purpose."""
    message = f"{attachment_id}:{exp}".encode()
    return hmac.new(keys.purpose_key(keys.ATTACHMENT_URL), message, hashlib.sha256).hexdigest()


def signature_valid(attachment_id: str, exp: str, sig: str) -> bool:
    """Constant-time check of the signature, then the expiry."""
    try:
        expires = int(exp)
    except (TypeError, ValueError):
        return False
    expected = signature(attachment_id, expires)
    return hmac.compare_digest(expected.encode(), (sig or "").encode()) and expires >= time.time()


def signed_url(attachment_id: str, now_s: float | None = None) -> tuple[str, int]:
    """The download URL and its expiry (epoch seconds), rounded up to the next ``URL_BUCKET_S``."""
    now_s = time.time() if now_s is None else now_s
    exp = (int(now_s + URL_TTL_S) // URL_BUCKET_S + 1) * URL_BUCKET_S
    return f"/v1/chat/attachments/{attachment_id}/download?exp={exp}&sig={signature(attachment_id, exp)}", exp


# -- views -------------------------------------------------------------------------------


def attachment_view(row: dict[str, Any]) -> dict[str, Any]:
    url, _ = signed_url(row["attachment_id"])
    return {
        "attachment_id": row["attachment_id"],
        "media_type": row["media_type"],
        "mime_type": row["mime_type"],
        "file_name": row["file_name"],
        "size_bytes": row["size_bytes"],
        "url": url,
    }


def upload_view(row: dict[str, Any]) -> dict[str, Any]:
    url, exp = signed_url(row["attachment_id"])
    return {
        "attachment_id": row["attachment_id"],
        "file_name": row["file_name"],
        "mime_type": row["mime_type"],
        "size_bytes": row["size_bytes"],
        "media_type": row["media_type"],
        "url": url,
        "expires_at_ms": exp * 1000,
    }


ROWS_KEY = "attachment_rows"


def attachment_views(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The views of a message's attachments, in the order sent (rows joined by ``with_attachments``)."""
    found = row.get(ROWS_KEY) or {}
    return [attachment_view(found[a]) for a in row.get("attachments") or [] if a in found]


async def with_attachments(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``rows`` carrying their attachment rows (one query for the page) for ``attachment_views``."""
    from apps.chat.repository import ChatRepository

    wanted = [a for row in rows for a in row.get("attachments") or []]
    if not wanted:
        return rows
    found = await ChatRepository().attachments(wanted)
    return [{**row, ROWS_KEY: found} if row.get("attachments") else row for row in rows]
