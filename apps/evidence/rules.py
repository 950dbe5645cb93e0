"""Validation rules of 04-evidence.md with their exact messages.

Kept apart from the services so each rule is checked in the spec's order and
every message is the spec's text. A failed rule is a 400 ``validation_error``
with ``validation failed: <message>`` and ``details.fields = {field: [message]}``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apps.core.errors import ValidationFailed
from apps.core.ids import is_entity_id, now_ms

MODES = ("komunitas", "catatan_komunitas", "catatan_saksi", "siaga")
CONTRIBUTION_TYPES = (
    "task_completion",
    "code_review",
    "documentation",
    "mentoring",
    "event_organization",
    "community_service",
    "custom",
)
EVIDENCE_TYPES = ("photo_with_timestamp", "gps_verification", "witness_attestation")
RELATIONSHIPS = ("supervisor", "peer", "beneficiary", "other")
WEIGHT_HINTS = ("strong", "moderate", "light")

MAX_TITLE, MAX_DESCRIPTION, MAX_SKILLS, MAX_SKILL_LEN = 200, 2000, 10, 100
MAX_METADATA_KEYS, MAX_OBJECT_BYTES = 50, 16 * 1024
MAX_WITNESSES, MAX_WITNESS_NAME, MAX_VOUCH_MESSAGE = 50, 100, 500
MAX_URL = 2048
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)

RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)
HEX_PATTERN = r"^[0-9a-fA-F]{32,128}$"
_HEX = re.compile(HEX_PATTERN)
# ASCII whitespace only, so Python and the OpenAPI (ECMA) regexes agree on what "blank" means.
WS = " \t\n\r\f\v"
# Documented text: not blank, and no NUL anywhere (every text field refuses NUL; apps/core/openapi.py).
NON_BLANK = r"^[^\x00]*[^ \t\n\r\f\v\x00][^\x00]*$"
# No NUL either: the server refuses it in every text field, so the documented pattern says so too.
URL_PATTERN = r"^https?://[^ \t\n\r\f\v\x00/?#][^ \t\n\r\f\v\x00]*$"
_URL = re.compile(URL_PATTERN)


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"validation failed: {message}", details={"fields": {field: [message]}})


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _string(data: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise fail(field, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise fail(field, f"{field} must be a string")
    if "\x00" in value:  # as every text field of the API (see apps/core/openapi.py)
        raise fail(field, f"{field} must not contain NUL characters")
    return value


def _choice(data: dict[str, Any], field: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = _string(data, field, required=default is None and field != "weight_hint")
    if value is None:
        return default
    if value not in choices:
        raise fail(field, f"{field} must be one of {', '.join(choices)}")
    return value


def entity_id(data: dict[str, Any], field: str) -> str:
    value = _string(data, field, required=True)
    if not value or not is_entity_id(value):
        raise fail(field, f"{field} must be a 32-character lowercase hex id")
    return value


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed.for_fields({"body": ["must be a JSON object"]})
    return data


# -- contributions ------------------------------------------------------------


@dataclass(frozen=True)
class ContributionInput:
    title: str
    description: str
    mode: str
    contribution_type: str
    evidence_url: str | None
    skill_ids: list[str]
    metadata: dict[str, Any]


def contribution_input(data: Any) -> ContributionInput:
    data = require_object(data)
    title = (_string(data, "title") or "").strip(WS)
    if not title:
        raise fail("title", "title is required")
    if len(title) > MAX_TITLE:
        raise fail("title", f"title exceeds max length of {MAX_TITLE}")
    description = _string(data, "description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise fail("description", f"description exceeds max length of {MAX_DESCRIPTION}")
    skills = data.get("skill_ids")
    if skills is None:
        skills = []
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise fail("skill_ids", "skill_ids must be an array of strings")
    if any("\x00" in s for s in skills):
        raise fail("skill_ids", "skill_ids must not contain NUL characters")
    if len(skills) > MAX_SKILLS:  # the raw list too: the documented schema says maxItems 10
        raise fail("skill_ids", f"skill_ids exceeds max of {MAX_SKILLS}")
    cleaned: list[str] = []
    for skill in (s.strip(WS) for s in skills):
        if skill and skill not in cleaned:
            cleaned.append(skill)
    if len(cleaned) > MAX_SKILLS:
        raise fail("skill_ids", f"skill_ids exceeds max of {MAX_SKILLS}")
    if any(len(s) > MAX_SKILL_LEN for s in cleaned):
        raise fail("skill_ids", f"skill_ids entries exceed max length of {MAX_SKILL_LEN}")
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise fail("metadata", "metadata must be an object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise fail("metadata", f"metadata exceeds max of {MAX_METADATA_KEYS} keys")
    if json_size(metadata) > MAX_OBJECT_BYTES:
        raise fail("metadata", f"metadata exceeds max size of {MAX_OBJECT_BYTES} bytes")
    mode = _choice(data, "mode", MODES, "komunitas")
    contribution_type = _choice(data, "contribution_type", CONTRIBUTION_TYPES, None)
    evidence_url = _string(data, "evidence_url")
    if evidence_url is not None:
        evidence_url = evidence_url.strip(WS) or None
    if evidence_url is not None and (len(evidence_url) > MAX_URL or not _URL.match(evidence_url)):
        raise fail("evidence_url", "evidence_url must be an http(s) URL")
    return ContributionInput(title, description, str(mode), str(contribution_type), evidence_url, cleaned, metadata)


# -- evidence -------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceInput:
    contribution_id: str
    evidence_type: str
    evidence_data: dict[str, Any]
    proof: dict[str, Any]
    upload_id: str | None
    timestamp_ms: int


def evidence_target(data: Any) -> tuple[str, str]:
    """``contribution_id`` and ``evidence_type``: checked first, so the contribution can be looked up
    (404/403) before the proof rules run."""
    data = require_object(data)
    return entity_id(data, "contribution_id"), str(_choice(data, "evidence_type", EVIDENCE_TYPES, None))


def evidence_input(data: Any, *, now: int | None = None) -> EvidenceInput:
    contribution_id, evidence_type = evidence_target(data)
    evidence_data = data.get("evidence_data", {})
    if not isinstance(evidence_data, dict):
        raise fail("evidence_data", "evidence_data must be an object")
    if json_size(evidence_data) > MAX_OBJECT_BYTES:
        raise fail("evidence_data", f"evidence_data exceeds max size of {MAX_OBJECT_BYTES} bytes")
    proof = data.get("proof")
    if not isinstance(proof, dict):
        raise fail("proof", "proof must be an object")
    if json_size(proof) > MAX_OBJECT_BYTES:
        raise fail("proof", f"proof exceeds max size of {MAX_OBJECT_BYTES} bytes")
    upload_id = None if data.get("upload_id") is None else entity_id(data, "upload_id")
    check = {
        "photo_with_timestamp": _photo,
        "gps_verification": _gps,
        "witness_attestation": _witnesses,
    }[evidence_type]
    check(proof)
    timestamp_ms = proof_timestamp(proof["timestamp"], now=now)
    return EvidenceInput(contribution_id, evidence_type, evidence_data, proof, upload_id, timestamp_ms)


def _timestamp_present(proof: dict[str, Any]) -> None:
    if proof.get("timestamp") is None:
        raise fail("proof.timestamp", "proof.timestamp is required")


def _photo(proof: dict[str, Any]) -> None:
    _timestamp_present(proof)
    media_hash = proof.get("media_hash")
    if media_hash is None:
        raise fail("proof.media_hash", "proof.media_hash is required")
    if not isinstance(media_hash, str) or not _HEX.match(media_hash):
        raise fail("proof.media_hash", "proof.media_hash must be a hex string (at least 32 characters)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _gps(proof: dict[str, Any]) -> None:
    _timestamp_present(proof)
    location = proof.get("location")
    location = location if isinstance(location, dict) else {}
    for axis in ("lat", "lon"):
        if location.get(axis) is None:
            raise fail(f"proof.location.{axis}", f"proof.location.{axis} is required")
    for axis, limit in (("lat", 90), ("lon", 180)):
        if not _number(location[axis]) or not -limit <= location[axis] <= limit:
            raise fail(f"proof.location.{axis}", f"proof.location.{axis} must be between -{limit} and {limit}")
    accuracy = location.get("accuracy_m")
    if accuracy is not None and (not _number(accuracy) or accuracy < 0):
        raise fail("proof.location.accuracy_m", "proof.location.accuracy_m must be >= 0")


def _witnesses(proof: dict[str, Any]) -> None:
    _timestamp_present(proof)
    witnesses = proof.get("witnesses")
    if not isinstance(witnesses, list):
        raise fail("proof.witnesses", "proof.witnesses must be an array")
    if not witnesses:
        raise fail("proof.witnesses", "proof.witnesses must contain at least one witness")
    if len(witnesses) > MAX_WITNESSES:
        raise fail("proof.witnesses", f"proof.witnesses exceeds max of {MAX_WITNESSES}")
    for i, witness in enumerate(witnesses):
        prefix = f"proof.witnesses[{i}]"
        if not isinstance(witness, dict):
            raise fail(prefix, f"{prefix} must be an object")
        name = witness.get("witness_name")
        if not isinstance(name, str) or not name.strip(WS):
            raise fail(f"{prefix}.witness_name", f"{prefix}.witness_name is required")
        if len(name) > MAX_WITNESS_NAME:
            raise fail(f"{prefix}.witness_name", f"{prefix}.witness_name exceeds max length of {MAX_WITNESS_NAME}")
        relationship = witness.get("relationship")
        if relationship is None or relationship == "":
            raise fail(f"{prefix}.relationship", f"{prefix}.relationship is required")
        if relationship not in RELATIONSHIPS:
            raise fail(f"{prefix}.relationship", f"{prefix}.relationship must be one of {', '.join(RELATIONSHIPS)}")


def proof_timestamp(value: Any, *, now: int | None = None) -> int:
    """Strict RFC 3339 (seconds and offset required); ≤ now + 5 min; ≥ now − 30 days. Returns epoch ms."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise fail("proof.timestamp", "proof.timestamp must be RFC3339")
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise fail("proof.timestamp", "proof.timestamp must be RFC3339") from None
    ms = int(moment.timestamp() * 1000)
    now = now_ms() if now is None else now
    if ms > now + CLOCK_SKEW.total_seconds() * 1000:
        raise fail("proof.timestamp", "proof.timestamp cannot be in the future")
    if ms < now - MAX_AGE.total_seconds() * 1000:
        raise fail("proof.timestamp", "proof.timestamp is too old (max 30 days)")
    return ms


# -- vouches ---------------------------------------------------------------------


@dataclass(frozen=True)
class VouchInput:
    vouchee_id: str
    skill_id: str | None
    weight_hint: str | None
    message: str | None


def vouch_input(data: Any) -> VouchInput:
    data = require_object(data)
    vouchee_id = entity_id(data, "vouchee_id")
    skill_id = _string(data, "skill_id")
    if skill_id is not None:
        skill_id = skill_id.strip(WS)
        if not skill_id:
            raise fail("skill_id", "skill_id must not be blank")
        if len(skill_id) > MAX_SKILL_LEN:
            raise fail("skill_id", f"skill_id exceeds max length of {MAX_SKILL_LEN}")
    weight_hint = _choice(data, "weight_hint", WEIGHT_HINTS, None)
    message = _string(data, "message")
    if message is not None and len(message) > MAX_VOUCH_MESSAGE:
        raise fail("message", f"message exceeds max length of {MAX_VOUCH_MESSAGE}")
    return VouchInput(vouchee_id, skill_id, weight_hint, message)
