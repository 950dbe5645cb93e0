"""What the transparency log records for contributions, evidence and vouches (docs/transparency.md "Entries").

The log is public (no sign-in), so an entry holds ids, kinds, times and hashes — never free text, GPS fixes or
witness names. ``content_sha256`` commits to the whole record as the API returned it when it was created (its
"recorded view": every field except the ones that may change later, ``moderation_status`` and ``transparency``),
so a member who holds the record can check it against the log, and ``manage.py transparency_audit`` can compare
the current row with its leaf. A file is committed to by its SHA-256, size, type and content-credential summary.

The builders are pure; ``register()`` (called from ``EvidenceConfig.ready``) gives the audit a way to rebuild
each entry from the current rows and to re-hash the stored files.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from apps.transparency import verifier

# The recorded fields and their digest are defined once, in the standalone verifier members run themselves.
CONTRIBUTION_RECORDED = verifier.RECORDED_FIELDS["contribution"]
EVIDENCE_RECORDED = verifier.RECORDED_FIELDS["evidence"]
VOUCH_RECORDED = verifier.RECORDED_FIELDS["vouch"]
MEDIA_FIELDS = ("sha256", "size_bytes", "mime_type", "content_credentials")


def contribution_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "contribution",
        "contribution_id": row["contribution_id"],
        "author_id": row["author_id"],
        "contribution_type": row["contribution_type"],
        "mode": row["mode"],
        "created_at_ms": row["created_at_ms"],
        "content_sha256": verifier.record_digest("contribution", row),
    }


def evidence_entry(row: dict[str, Any]) -> dict[str, Any]:
    media = row.get("media")
    return {
        "kind": "evidence",
        "evidence_id": row["evidence_id"],
        "contribution_id": row["contribution_id"],
        "author_id": row["actor_id"],
        "evidence_type": row["evidence_type"],
        "created_at_ms": row["created_at_ms"],
        "content_sha256": verifier.record_digest("evidence", row),
        "media": None if media is None else {name: media.get(name) for name in MEDIA_FIELDS},
    }


def vouch_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "vouch",
        "vouch_id": row["vouch_id"],
        "voucher_id": row["voucher_id"],
        "vouchee_id": row["vouchee_id"],
        "skill_id": row.get("skill_id"),
        "weight_hint": row.get("weight_hint"),
        "created_at_ms": row["created_at_ms"],
        "content_sha256": verifier.record_digest("vouch", row),
    }


# -- the audit's hooks ------------------------------------------------------------------------------


async def _rebuild(ids: list[str], load: Any, build: Any) -> dict[str, dict[str, Any] | None]:
    rows = await load(ids)
    return {entity_id: (build(rows[entity_id]) if entity_id in rows else None) for entity_id in ids}


async def rebuild_contributions(ids: list[str]) -> dict[str, dict[str, Any] | None]:
    from apps.evidence.repository import EvidenceRepository

    return await _rebuild(ids, EvidenceRepository().contributions_by_id, contribution_entry)


async def rebuild_evidence(ids: list[str]) -> dict[str, dict[str, Any] | None]:
    from apps.evidence.repository import EvidenceRepository

    return await _rebuild(ids, EvidenceRepository().evidence_by_id, evidence_entry)


async def rebuild_vouches(ids: list[str]) -> dict[str, dict[str, Any] | None]:
    from apps.evidence.repository import EvidenceRepository

    return await _rebuild(ids, EvidenceRepository().vouches_by_id, vouch_entry)


def _hash_object(key: str) -> tuple[str, int] | None:
    """SHA-256 and size of a stored object, streamed (worker thread); None when it is missing."""
    from apps.core.errors import NotFound
    from apps.core.storage import CHUNK_SIZE, get_storage

    try:
        stream = get_storage().open_stream(key)
    except NotFound:
        return None
    digest, size = hashlib.sha256(), 0
    try:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    finally:
        stream.close()
    return digest.hexdigest(), size


async def check_evidence_files(entries: list[dict[str, Any]]) -> list[str]:
    """Re-hash every stored evidence file named by an entry; one problem line per file that does not hold."""
    from apps.evidence.files import verified_key

    problems: list[str] = []
    for entry in entries:
        media = entry.get("media")
        if not media:
            continue
        label = f"entry {entry.get('log_index')} (evidence {entry['evidence_id']})"
        found = await asyncio.to_thread(_hash_object, verified_key(media["sha256"]))
        if found is None:
            problems.append(f"{label}: the stored file {media['sha256']} is missing")
        elif found != (media["sha256"], media["size_bytes"]):
            problems.append(
                f"{label}: the stored file differs from its SHA-256 {media['sha256']}"
                f" (it hashes to {found[0]}, {found[1]} bytes)"
            )
    return problems


def register() -> None:
    from apps.transparency import registry

    registry.register("contribution", rebuild_contributions)
    registry.register("evidence", rebuild_evidence, check_evidence_files)
    registry.register("vouch", rebuild_vouches)
