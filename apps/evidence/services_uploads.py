"""Direct-to-storage evidence uploads: presigned PUT → client upload → streamed verification.

The API never carries the file bytes to S3: it hands out a presigned PUT (300 s,
bound to content type, length and metadata), then ``confirm`` checks the file in
a worker thread. A rejected file is deleted at once; an upload never confirmed is
deleted after an hour by a periodic job.

Verified files cannot change. The upload URL stays usable after confirm (an S3
presigned PUT until it expires), so confirm never serves or trusts the upload key:

1. it MOVES the upload key to a private staging key (``evidence/staging/{id}``; no URL reaches it),
2. reads staging once, pinned to the version it read (hash, sniff, EXIF, and for images and videos a
   spooled copy for the C2PA reader),
3. copies exactly that version (S3 ``CopySourceIfMatch`` on the ETag; local file identity) to the
   content-addressed key ``evidence/sha256/{hex}``, records it as ``verified_key`` with the status in
   one conditional update, then deletes staging. Only ``verified_key`` is ever served.

A crash at any step leaves either the upload key or the staging key (a repeated confirm continues from
staging) or a finished row (the periodic sweep deletes leftovers). Concurrent confirms: the conditional
``finish_upload`` picks one outcome, the other request answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from datetime import UTC, datetime
from typing import Any

from apps.accounts.domain import Principal
from apps.core import jobs
from apps.core.errors import AppError, Conflict, EvidenceRejected, Forbidden, NotFound, PayloadTooLarge
from apps.core.ids import is_entity_id, new_id, now_ms
from apps.core.ratelimit import limiter
from apps.core.storage import ObjectChanged, ObjectStorage, adelete, ahead, amove, get_storage
from apps.evidence import credentials, files, inputs
from apps.evidence.services import repo

log = logging.getLogger(__name__)

UPLOAD_URL_TTL_S = 300
UNCONFIRMED_TTL_MS = 3600 * 1000
# Upload and staging keys of finished uploads are deleted once the upload URL has surely expired
# (its 300 s plus a minute of clock skew between us and the object store).
CLEAR_AFTER_MS = (UPLOAD_URL_TTL_S + 60) * 1000
CREDENTIAL_TYPES = ("image/", "video/")


def storage_key(upload_id: str, now: int) -> str:
    moment = datetime.fromtimestamp(now / 1000, UTC)
    return f"evidence/{moment:%Y}/{moment:%m}/{upload_id}"


def staging_key(upload_id: str) -> str:
    """Where confirm checks the file: written only by the server, never by an upload URL."""
    return f"evidence/staging/{upload_id}"


async def accepts_put(key: str) -> bool:
    """Local put guard: only the ``storage_key`` of an upload that is still ``pending`` may be written."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "evidence" or not is_entity_id(parts[3]):
        return False
    upload = await repo.get_upload(parts[3])
    return upload is not None and upload["status"] == "pending" and upload["storage_key"] == key


async def request_upload(principal: Principal, data: Any) -> dict[str, Any]:
    inp = inputs.body(inputs.UploadCreateSerializer, data)
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


def _inspect(storage: ObjectStorage, key: str, declared: str) -> tuple[files.Inspection, str, str | None]:
    """One pinned read of ``key``: the inspection, the version read, and (images, videos) a spooled copy.

    The caller deletes the spooled file. Memory stays bounded: chunks go to the hash and to disk.
    """
    stream, version = storage.open_pinned(key)
    spool_path = None
    try:
        if declared.startswith(CREDENTIAL_TYPES):
            fd, spool_path = tempfile.mkstemp(prefix="gotong-evidence-")
            with os.fdopen(fd, "wb") as spool:
                found = files.inspect_stream(stream, spool=spool)
        else:
            found = files.inspect_stream(stream)
    except BaseException:
        if spool_path is not None:
            os.unlink(spool_path)
        raise
    finally:
        stream.close()
    return found, version, spool_path


async def confirm_upload(principal: Principal, upload_id: str) -> dict[str, Any]:
    upload = await repo.get_upload(upload_id) if is_entity_id(upload_id) else None
    if upload is None or upload["user_id"] != principal.user_id:
        raise NotFound("upload not found")
    if upload["status"] in ("verified", "linked"):
        return upload["result"]
    if upload["status"] == "rejected":
        raise files.rejected(upload["result"]["reason"], upload["result"]["message"])
    declared, staging = upload["content_type"], staging_key(upload_id)
    # NotFound: not uploaded, or an earlier (crashed) or concurrent confirm moved it; continue from staging.
    with contextlib.suppress(NotFound):
        await amove(upload["storage_key"], staging)
    info = await ahead(staging)
    if info is None:
        return await _settled(upload_id, Conflict("the file has not been uploaded yet"))
    storage, spool_path = get_storage(), None
    try:
        try:
            if info.size > files.LIMITS[declared]:
                raise files.rejected("too_large", f"the file exceeds the limit of {files.LIMITS[declared]} bytes")
            if info.size != upload["size_bytes"]:
                raise files.rejected("size_mismatch", "the stored file's size differs from the declared size_bytes")
            found, version, spool_path = await asyncio.to_thread(_inspect, storage, staging, declared)
            _check(found, upload)
        except EvidenceRejected as exc:
            return await _reject(upload, exc)
        found_credentials = None
        if spool_path is not None:
            found_credentials = await asyncio.to_thread(credentials.content_credentials, spool_path, declared)
    except NotFound:  # staging vanished: a concurrent confirm finished (or the sweep ran)
        return await _settled(upload_id, Conflict("the file has not been uploaded yet"))
    finally:
        if spool_path is not None:
            os.unlink(spool_path)
    final = files.verified_key(found.sha256)
    try:
        await asyncio.to_thread(storage.copy, staging, final, if_version=version)
    except (NotFound, ObjectChanged):
        return await _settled(upload_id, Conflict("the file changed while it was being confirmed; confirm again"))
    result = {
        "upload_id": upload_id,
        "sha256": found.sha256,
        "mime_type": declared,
        "size_bytes": found.size,
        "exif": found.exif,
        "content_credentials": found_credentials,
        "status": "verified",
    }
    row = await repo.finish_upload(upload_id, "verified", result, now_ms(), verified_key=final)
    await _discard(staging)
    return _outcome(row)


def _check(found: files.Inspection, upload: dict[str, Any]) -> None:
    """The spec's order: hash, then type, then size by the sniffed type, then EXIF."""
    declared = upload["content_type"]
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


def _outcome(row: dict[str, Any]) -> dict[str, Any]:
    """The upload's recorded decision as confirm's answer: the verified result, or its rejection."""
    if row["status"] == "rejected":
        raise files.rejected(row["result"]["reason"], row["result"]["message"])
    return row["result"]


async def _settled(upload_id: str, otherwise: AppError) -> dict[str, Any]:
    """After losing a race for the object: answer the decision another confirm recorded, else ``otherwise``."""
    row = await repo.get_upload(upload_id)
    if row is None or row["status"] == "pending":
        raise otherwise
    return _outcome(row)


async def _discard(*keys: str) -> None:
    """Best effort: a leftover staging or upload key is deleted later by ``clear_finished_upload_keys``."""
    for key in keys:
        try:
            await adelete(key)
        except Exception:
            log.warning("could not delete an evidence object; the sweep will", extra={"key": key})


async def _reject(upload: dict[str, Any], exc: EvidenceRejected) -> dict[str, Any]:
    """Remember why, then delete the staging and upload keys (a rejected file must not stay).

    Recorded first so a concurrent confirm that finds the object gone answers the same rejection.
    """
    reason = (exc.details or {}).get("reason", "rejected")
    result = {"reason": reason, "message": exc.message}
    row = await repo.finish_upload(upload["upload_id"], "rejected", result, now_ms())
    for key in (staging_key(upload["upload_id"]), upload["storage_key"]):
        await adelete(key)
    return _outcome(row)


@jobs.periodic("evidence.expire_uploads", every_s=60)
async def expire_unconfirmed_uploads(now: int | None = None, batch: int = 200) -> int:
    """Delete uploads still pending after an hour, object first (safe to run on several workers)."""
    now = now_ms() if now is None else now
    removed = 0
    for upload in await repo.stale_uploads(now - UNCONFIRMED_TTL_MS, batch):
        try:
            await adelete(upload["storage_key"])
            await adelete(staging_key(upload["upload_id"]))
        except Exception:
            log.warning("could not delete an expired upload's object", extra={"upload_id": upload["upload_id"]})
            continue
        if await repo.delete_pending_upload(upload["upload_id"]):
            removed += 1
    return removed


@jobs.periodic("evidence.clear_upload_keys", every_s=60)
async def clear_finished_upload_keys(now: int | None = None, batch: int = 200) -> int:
    """Delete the upload and staging keys of finished uploads once their upload URL has expired.

    An S3 presigned PUT stays valid for its 300 s after confirm and recreates the upload key, which is
    never served; this removes it. Each row is done once (``upload_key_cleared``); deleting a missing
    key is a no-op, so several workers may run it at once.
    """
    now = now_ms() if now is None else now
    cleared = []
    for upload in await repo.uploads_to_clear(now - CLEAR_AFTER_MS, batch):
        try:
            await adelete(upload["storage_key"])
            await adelete(staging_key(upload["upload_id"]))
        except Exception:
            log.warning("could not delete a finished upload's keys", extra={"upload_id": upload["upload_id"]})
            continue
        cleared.append(upload["upload_id"])
    if cleared:
        await repo.mark_upload_keys_cleared(cleared)
    return len(cleared)
