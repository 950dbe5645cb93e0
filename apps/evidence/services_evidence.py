"""Proof-of-Reality evidence: append-only records, optionally linked to a verified upload."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.accounts.domain import Principal
from apps.core import context
from apps.core.db import Thrown
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.core.ids import is_entity_id, new_id, now_ms
from apps.core.storage import get_storage
from apps.evidence import inputs, rules
from apps.evidence import transparency as entries
from apps.evidence.repository import UPLOAD_NOT_VERIFIED
from apps.evidence.services import (
    LogLeaf,
    commit_entity,
    may_see,
    repo,
    with_transparency,
    with_transparency_all,
)

MEDIA_URL_TTL_S = 15 * 60
# What a ``por_evidence`` webhook says of the file (05-webhooks.md, plus the C2PA summary of the Trust issue).
PAYLOAD_MEDIA_FIELDS = ("sha256", "mime_type", "size_bytes", "content_credentials")
EXIF_TIME_TOLERANCE_MS = 24 * 3600 * 1000


def media_warnings(exif: dict[str, Any] | None, timestamp_ms: int) -> list[str]:
    """Disagreements between the photo and the claim: accepted, but flagged for reviewers."""
    warnings: list[str] = []
    if not exif:
        return warnings
    captured = exif.get("captured_at_ms")
    if captured is not None and abs(captured - timestamp_ms) > EXIF_TIME_TOLERANCE_MS:
        warnings.append("exif_time_mismatch")
    lat, lon = exif.get("lat"), exif.get("lon")
    if lat is not None and lon is not None:
        lat_min, lat_max, lon_min, lon_max = settings.CONFIG.evidence_service_area
        if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
            warnings.append("outside_service_area")
    return warnings


async def _linked_media(principal: Principal, inp: dict[str, Any]) -> dict[str, Any]:
    upload = await repo.get_upload(str(inp["upload_id"]))
    if upload is None or upload["user_id"] != principal.user_id:
        raise NotFound("upload not found")
    if upload["contribution_id"] != inp["contribution_id"]:
        raise rules.fail("upload_id", "upload_id belongs to another contribution")
    if upload["status"] == "linked":
        raise Conflict("the upload is already linked to evidence")
    if upload["status"] != "verified":
        raise Conflict("the upload is not verified; confirm it first")
    result = upload["result"]
    media_hash = inp["proof"].get("media_hash")
    if not isinstance(media_hash, str) or media_hash.lower() != result["sha256"]:
        raise rules.fail("proof.media_hash", "proof.media_hash does not match the uploaded file")
    media = {k: result[k] for k in ("upload_id", "sha256", "mime_type", "size_bytes", "exif")}
    return media | {"content_credentials": result.get("content_credentials")}


async def _parse_for_author(principal: Principal, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request (``inputs.EvidenceCreateSerializer``) and its contribution, in the spec's order:
    a bad contribution_id or evidence_type is 400, then an unknown contribution 404 and another
    member's 403, and only then any other problem of the body."""
    serializer = inputs.bound(inputs.EvidenceCreateSerializer, data)
    if set(serializer.errors) & set(inputs.EvidenceCreateSerializer.TARGET):
        raise inputs.problem(serializer.errors)
    contribution = await repo.get_contribution(serializer.initial_data["contribution_id"])
    if contribution is None:
        raise NotFound("contribution not found")
    if contribution["author_id"] != principal.user_id:
        raise Forbidden("only the contribution's author may add evidence")
    return inputs.parsed(serializer), contribution


def _evidence_events(
    row: dict[str, Any], media: dict[str, Any] | None, contribution: dict[str, Any]
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """``por_evidence``, and ``co_witness_attested`` for witnesses; none for a rejected contribution."""
    if contribution.get("moderation_status") == "rejected":
        return []  # moderation: a rejected contribution emits no further events
    subject = {k: row[k] for k in ("contribution_id", "evidence_data", "evidence_id", "evidence_type")}
    media_fields = None if media is None else {k: media[k] for k in PAYLOAD_MEDIA_FIELDS}
    events = [("por_evidence", subject | {"media": media_fields}, {"proof": row["proof"]})]
    if row["evidence_type"] == "witness_attestation":
        witnessed = {
            "attestation_type": "witness_attestation",
            "contribution_id": row["contribution_id"],
            "evidence_id": row["evidence_id"],
            "witness_count": len(row["proof"]["witnesses"]),
        }
        events.append(("co_witness_attested", witnessed, None))
    return events


def _evidence_row(principal: Principal, inp: dict[str, Any], media: dict[str, Any] | None) -> dict[str, Any]:
    request_id, correlation_id = context.request_ids()
    return {
        "evidence_id": new_id(),
        "contribution_id": inp["contribution_id"],
        "actor_id": principal.user_id,
        "actor_username": principal.username,
        "evidence_type": inp["evidence_type"],
        "evidence_data": inp["evidence_data"],
        "proof": inp["proof"],
        "media": media,
        "warnings": media_warnings(media["exif"], inp["timestamp_ms"]) if media else [],
        "request_id": request_id,
        "correlation_id": correlation_id,
        "created_at_ms": now_ms(),
    }


async def create_evidence(principal: Principal, data: Any) -> dict[str, Any]:
    inp, contribution = await _parse_for_author(principal, data)
    media = await _linked_media(principal, inp) if inp["upload_id"] else None
    row = _evidence_row(principal, inp, media)
    now = row["created_at_ms"]
    link = (repo.link_upload_statement(media["upload_id"], row["evidence_id"], now),) if media else ()
    try:
        return await commit_entity(
            repo.create_evidence_statement(row),
            _evidence_events(row, media, contribution),
            principal=principal,
            created_at_ms=now,
            operation="evidence_create",
            view=row,
            leaf=LogLeaf("evidence", row["evidence_id"], entries.evidence_entry(row)),
            extra_statements=link,
            stored=lambda: repo.evidence_by_request(principal.user_id, row["request_id"]),
            request_index="evidence_request",
        )
    except Thrown as exc:
        if UPLOAD_NOT_VERIFIED in exc.message:
            raise Conflict("the upload is already linked to evidence") from exc
        raise


async def get_evidence(evidence_id: str) -> dict[str, Any]:
    evidence = await repo.get_evidence(evidence_id) if is_entity_id(evidence_id) else None
    if evidence is None or not await may_see(evidence["actor_id"], evidence.get("moderation_status")):
        raise NotFound("evidence not found")
    return await with_transparency("evidence", evidence)


async def list_evidence(contribution_id: str, params: Any) -> list[dict[str, Any]]:
    from apps.evidence.services import viewer_is_staff, visible_contribution

    await visible_contribution(contribution_id)  # 404 before any problem of the query
    limit = inputs.query(inputs.LimitQuery, params)["limit"]
    viewer = context.current().user_id
    rows = await repo.list_evidence(contribution_id, limit, viewer_id=viewer, staff=await viewer_is_staff())
    return await with_transparency_all("evidence", rows)


async def media_url(principal: Principal, evidence_id: str, *, evidence: dict[str, Any] | None = None) -> str:
    """A 15-minute presigned GET for the evidence's author, the contribution's author and moderators.

    Only the content-addressed ``verified_key`` is served: the upload key stays writable by its URL
    after confirm, so an upload without a verified key has nothing that may be served (404).
    """
    _, key = await verified_media(principal, evidence_id, evidence=evidence)
    return get_storage().presigned_get(key, expires_s=MEDIA_URL_TTL_S)


async def verified_media(
    principal: Principal, evidence_id: str, *, evidence: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The evidence and its file's ``verified_key``, for whoever may see the media (see ``media_url``).

    Also the access rule of the pages' thumbnails (apps/evidence/thumbnails.py): a thumbnail is shown
    exactly to those who may open the original.
    """
    evidence = evidence or await get_evidence(evidence_id)
    if evidence["media"] is None:
        raise NotFound("evidence has no media")
    if principal.user_id != evidence["actor_id"] and not principal.is_moderator:
        contribution = await repo.get_contribution(evidence["contribution_id"])
        if contribution is None or contribution["author_id"] != principal.user_id:
            raise Forbidden("not allowed to see this evidence's media")
    upload = await repo.get_upload(evidence["media"]["upload_id"])
    if upload is None or not upload.get("verified_key"):
        raise NotFound("evidence media not found")
    return evidence, upload["verified_key"]
