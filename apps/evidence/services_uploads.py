"""Direct-to-storage evidence uploads: presigned PUT → client upload → streamed verification.

The API never carries the file bytes to S3: it hands out a presigned PUT (300 s,
bound to content type, length and metadata), then ``confirm`` reads the stored
object once, streaming, in a worker thread. A rejected file is deleted at once;
an upload never confirmed is deleted after an hour by a periodic job.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

from apps.accounts.domain import Principal
from apps.core import jobs
from apps.core.errors import Conflict, EvidenceRejected, Forbidden, NotFound, PayloadTooLarge
from apps.core.ids import is_entity_id, new_id, now_ms
from apps.core.ratelimit import limiter
from apps.core.storage import ObjectStorage, adelete, ahead, get_storage
from apps.evidence import files, rules
from apps.evidence.services import repo

log = logging.getLogger(__name__)

UPLOAD_URL_TTL_S = 300
UNCONFIRMED_TTL_MS = 3600 * 1000
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def storage_key(upload_id: str, now: int) -> str:
    moment = datetime.fromtimestamp(now / 1000, UTC)
    return f"evidence/{moment:%Y}/{moment:%m}/{upload_id}"


def _upload_input(data: Any) -> dict[str, Any]:
    data = rules.require_object(data)
    contribution_id = rules.entity_id(data, "contribution_id")
    file_name = data.get("file_name")
    if not isinstance(file_name, str) or not file_name.strip(rules.WS):
        raise rules.fail("file_name", "file_name is required")
    if len(file_name) > 255:
        raise rules.fail("file_name", "file_name exceeds max length of 255")
    content_type = data.get("content_type")
    if content_type is None:
        raise rules.fail("content_type", "content_type is required")
    if content_type not in files.ALLOWED_TYPES:
        raise rules.fail("content_type", f"content_type must be one of {', '.join(files.ALLOWED_TYPES)}")
    size = data.get("size_bytes")
    if size is None:
        raise rules.fail("size_bytes", "size_bytes is required")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise rules.fail("size_bytes", "size_bytes must be a positive integer (empty files are not accepted)")
    sha256 = data.get("sha256")
    if sha256 is None:
        raise rules.fail("sha256", "sha256 is required")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise rules.fail("sha256", "sha256 must be 64 hex characters")
    return {
        "contribution_id": contribution_id,
        "file_name": file_name.strip(rules.WS),
        "content_type": content_type,
        "size_bytes": size,
        "sha256": sha256.lower(),
    }


async def request_upload(principal: Principal, data: Any) -> dict[str, Any]:
    inp = _upload_input(data)
    contribution = await repo.get_contribution(inp["contribution_id"])
    if contribution is None:
        raise NotFound("contribution not found")
    if contribution["author_id"] != principal.user_id:
        raise Forbidden("only the contribution's author may add evidence")
    limit = files.LIMITS[inp["content_type"]]
    if inp["size_bytes"] > limit:
        raise PayloadTooLarge(limit, f"size_bytes exceeds the limit of {limit} bytes for {inp['content_type']}")
    await limiter.hit("evidence_upload", principal.user_id)
    now = now_ms()
    upload_id = new_id()
    key = storage_key(upload_id, now)
    metadata = {"user_id": principal.user_id, "contribution_id": inp["contribution_id"], "sha256": inp["sha256"]}
    storage = get_storage()
    presigned = await asyncio.to_thread(
        storage.presigned_put,
        key,
        content_type=inp["content_type"],
        size_bytes=inp["size_bytes"],
        metadata=metadata,
        expires_s=UPLOAD_URL_TTL_S,
    )
    await repo.create_upload(
        {
            **inp,
            "upload_id": upload_id,
            "user_id": principal.user_id,
            "storage_key": key,
            "status": "pending",
            "result_json": None,
            "evidence_id": None,
            "created_at_ms": now,
            "updated_at_ms": now,
        }
    )
    return {
        "upload_id": upload_id,
        "upload_url": presigned.url,
        "upload_method": presigned.method,
        "upload_headers": presigned.headers,
        "expires_at_ms": presigned.expires_at_ms,
    }


def _inspect(storage: ObjectStorage, key: str) -> files.Inspection:
    stream = storage.open_stream(key)
    try:
        return files.inspect_stream(stream)
    finally:
        stream.close()


async def confirm_upload(principal: Principal, upload_id: str) -> dict[str, Any]:
    upload = await repo.get_upload(upload_id) if is_entity_id(upload_id) else None
    if upload is None or upload["user_id"] != principal.user_id:
        raise NotFound("upload not found")
    if upload["status"] in ("verified", "linked"):
        return upload["result"]
    if upload["status"] == "rejected":
        raise files.rejected(upload["result"]["reason"], upload["result"]["message"])
    key, declared = upload["storage_key"], upload["content_type"]
    info = await ahead(key)
    if info is None:
        raise Conflict("the file has not been uploaded yet")
    try:
        if info.size > files.LIMITS[declared]:
            raise files.rejected("too_large", f"the file exceeds the limit of {files.LIMITS[declared]} bytes")
        if info.size != upload["size_bytes"]:
            raise files.rejected("size_mismatch", "the stored file's size differs from the declared size_bytes")
        found = await asyncio.to_thread(_inspect, get_storage(), key)
        if found.sha256 != upload["sha256"]:
            raise files.rejected("hash_mismatch", "the file's SHA-256 differs from the declared sha256")
        if found.mime_type is None:
            raise files.rejected("type_not_allowed", "the file's type is not allowed")
        if not files.type_agrees(found.mime_type, declared):
            raise files.rejected("type_mismatch", f"the file is {found.mime_type}, not {declared}")
        if found.size > files.LIMITS[found.mime_type]:
            raise files.rejected("too_large", f"the file exceeds the limit of {files.LIMITS[found.mime_type]} bytes")
        if found.exif_error is not None:
            raise found.exif_error
    except EvidenceRejected as exc:
        await _reject(upload, exc)
        raise
    result = {
        "upload_id": upload_id,
        "sha256": found.sha256,
        "mime_type": declared,
        "size_bytes": found.size,
        "exif": found.exif,
        "status": "verified",
    }
    row = await repo.finish_upload(upload_id, "verified", result, now_ms())
    if row["status"] == "rejected":  # a concurrent confirm decided first
        raise files.rejected(row["result"]["reason"], row["result"]["message"])
    return row["result"]


async def _reject(upload: dict[str, Any], exc: EvidenceRejected) -> None:
    """Delete the object first (a rejected file must not stay), then remember why."""
    await adelete(upload["storage_key"])
    reason = (exc.details or {}).get("reason", "rejected")
    await repo.finish_upload(upload["upload_id"], "rejected", {"reason": reason, "message": exc.message}, now_ms())


@jobs.periodic("evidence.expire_uploads", every_s=60)
async def expire_unconfirmed_uploads(now: int | None = None, batch: int = 200) -> int:
    """Delete uploads still pending after an hour, object first (safe to run on several workers)."""
    now = now_ms() if now is None else now
    removed = 0
    for upload in await repo.stale_uploads(now - UNCONFIRMED_TTL_MS, batch):
        try:
            await adelete(upload["storage_key"])
        except Exception:
            log.warning("could not delete an expired upload's object", extra={"upload_id": upload["upload_id"]})
            continue
        if await repo.delete_pending_upload(upload["upload_id"]):
            removed += 1
    return removed
