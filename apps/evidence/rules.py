"""The evidence rules that one request field cannot check alone, with 04-evidence.md's exact messages.

Each field's own rules (types, lengths, choices, ids) are checked by the request serializers of
``apps.evidence.inputs``, which are also what OpenAPI publishes. What stays here needs several fields
(a proof's shape depends on ``evidence_type``) or the clock (a proof's timestamp), plus the limits and
patterns both sides share. A failed rule is a 400 ``validation_error`` with
``validation failed: <message>`` and ``details.fields = {field: [message]}``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apps.core.errors import ValidationFailed
from apps.core.ids import now_ms

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
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)

RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)
HEX_PATTERN = r"^[0-9a-fA-F]{32,128}$"
_HEX = re.compile(HEX_PATTERN)
ID_PATTERN = r"^[0-9a-f]{32}$"
# ASCII whitespace only, so Python and the OpenAPI (ECMA) regexes agree on what "blank" means.
WS = " \t\n\r\f\v"
# Documented text: not blank, and no NUL anywhere (every text field refuses NUL; apps/core/openapi.py).
NON_BLANK = r"^[^\x00]*[^ \t\n\r\f\v\x00][^\x00]*$"
# No NUL either: the server refuses it in every text field, so the documented pattern says so too.
URL_PATTERN = r"^https?://[^ \t\n\r\f\v\x00/?#][^ \t\n\r\f\v\x00]*$"


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"validation failed: {message}", details={"fields": {field: [message]}})


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


# -- evidence proofs ---------------------------------------------------------------


def proof_rules(evidence_type: str, proof: dict[str, Any], *, now: int | None = None) -> int:
    """The per-type rules of the proof, then its timestamp's (the spec's order). Returns the timestamp (ms)."""
    check: Callable[[dict[str, Any]], None] = {
        "photo_with_timestamp": _photo,
        "gps_verification": _gps,
        "witness_attestation": _witnesses,
    }[evidence_type]
    check(proof)
    return proof_timestamp(proof["timestamp"], now=now)


def _timestamp_present(proof: dict[str, Any]) -> None:
    if proof.get("timestamp") is None:
        raise fail("proof.timestamp", "proof.timestamp is required")


def _photo(proof: dict[str, Any]) -> None:
    _timestamp_present(proof)
    media_hash = proof.get("media_hash")
    if media_hash is None:
        raise fail("proof.media_hash", "proof.media_hash is required")
    if not isinstance(media_hash, str) or not _HEX.fullmatch(media_hash):
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
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
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
