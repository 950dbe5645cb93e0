"""Input rules of 06-moderation.md, shared by the JSON API and the admin site's forms.

Both edges hand plain Python values to these functions, so a decision made in
the admin site is refused for exactly the same reasons as one made through
``POST /v1/moderations`` (one implementation of the rules, not two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import ValidationFailed

CONTENT_TYPES = ("chat_message", "contribution", "evidence", "user")
STATUSES = ("processing", "under_review", "published", "rejected")
ACTIONS = ("publish_now", "publish_with_warning", "hold_for_review", "block")
REPORT_REASONS = ("spam", "harassment", "misinformation", "violence", "privacy", "other")
HIDDEN_STATUSES = frozenset({"under_review", "rejected"})
# Which actions may go with which status ("contradictory status/action" is refused).
ALLOWED_ACTIONS = {
    "processing": ("publish_now", "publish_with_warning"),
    "published": ("publish_now", "publish_with_warning"),
    "under_review": ("hold_for_review",),
    "rejected": ("block",),
}
MAX_REASON_CODE_BYTES = 512
MAX_REASONING = 4000
MAX_VIOLATIONS = 20
MAX_HOLD_MINUTES = 60 * 24 * 365
DEFAULT_APPEAL_WINDOW_MINUTES = 7 * 24 * 60
MAX_NOTE, MAX_STATEMENT = 500, 1000
CONTENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def fail(field_name: str, problem: str) -> ValidationFailed:
    return ValidationFailed.for_fields({field_name: [problem]})


@dataclass(frozen=True)
class DecisionInput:
    content_id: str
    content_type: str
    moderation_status: str
    moderation_action: str
    reason_code: str
    confidence: float = 1.0
    author_id: str | None = None
    author_username: str | None = None
    hold_duration_minutes: int | None = None
    auto_release_if_no_action: bool = False
    appeal_window_minutes: int | None = None
    reasoning: str | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_hold(self) -> bool:
        return self.moderation_action == "hold_for_review"


def valid_content_id(value: Any) -> bool:
    return isinstance(value, str) and CONTENT_ID_RE.match(value) is not None


def _text(data: dict[str, Any], name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
    value = data.get(name)
    if value is None or (value == "" and not required):
        if required:
            raise fail(name, "this field is required")
        return None
    if not isinstance(value, str):
        raise fail(name, "must be a string")
    if "\x00" in value:
        raise fail(name, "must not contain NUL characters")
    if required and not value.strip():
        raise fail(name, "must not be blank")
    if max_len is not None and len(value) > max_len:
        raise fail(name, f"at most {max_len} characters")
    return value


def _choice(data: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in choices:
        raise fail(name, f"must be one of {', '.join(choices)}")
    return value


def _int(data: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(name, "must be an integer")
    if not minimum <= value <= maximum:
        raise fail(name, f"must be between {minimum} and {maximum}")
    return value


def _violations(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_VIOLATIONS:
        raise fail("violations", f"must be a list of at most {MAX_VIOLATIONS} objects")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise fail("violations", "each violation must be an object")
        category = _text(item, "category", required=True, max_len=64)
        severity = _text(item, "severity", max_len=32)
        snippet = _text(item, "snippet", max_len=500)
        reason = _text(item, "reason", max_len=500)
        out.append({"category": category, "severity": severity, "snippet": snippet, "reason": reason})
    return out


def decision_input(data: Any) -> DecisionInput:
    """Parse and check a decision (types first, then the cross-field rules)."""
    if not isinstance(data, dict):
        raise fail("body", "must be a JSON object")
    content_id = data.get("content_id")
    if not valid_content_id(content_id):
        raise fail("content_id", "1..128 characters of letters, digits, '_' or '-'")
    content_type = _choice(data, "content_type", CONTENT_TYPES)
    status = _choice(data, "moderation_status", STATUSES)
    action = _choice(data, "moderation_action", ACTIONS)
    reason_code = _text(data, "reason_code", required=True) or ""
    if len(reason_code.encode("utf-8")) > MAX_REASON_CODE_BYTES:
        raise fail("reason_code", f"at most {MAX_REASON_CODE_BYTES} bytes")
    confidence = data.get("confidence", 1.0)
    if confidence is None:
        confidence = 1.0
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise fail("confidence", "must be a number between 0 and 1")
    author_id = data.get("author_id")
    if author_id is not None and not valid_content_id(author_id):
        raise fail("author_id", "1..128 characters of letters, digits, '_' or '-'")
    auto_release = data.get("auto_release_if_no_action", False)
    if auto_release is None:
        auto_release = False
    if not isinstance(auto_release, bool):
        raise fail("auto_release_if_no_action", "must be a boolean")
    inp = DecisionInput(
        content_id=content_id,
        content_type=content_type,
        moderation_status=status,
        moderation_action=action,
        reason_code=reason_code,
        confidence=float(confidence),
        author_id=author_id,
        author_username=_text(data, "author_username", max_len=64),
        hold_duration_minutes=_int(data, "hold_duration_minutes", minimum=1, maximum=MAX_HOLD_MINUTES),
        auto_release_if_no_action=auto_release,
        appeal_window_minutes=_int(data, "appeal_window_minutes", minimum=1, maximum=MAX_HOLD_MINUTES),
        reasoning=_text(data, "reasoning", max_len=MAX_REASONING),
        violations=_violations(data.get("violations")),
    )
    _cross_field(inp, data)
    return inp


def _cross_field(inp: DecisionInput, data: dict[str, Any]) -> None:
    if inp.moderation_action not in ALLOWED_ACTIONS[inp.moderation_status]:
        raise fail(
            "moderation_action",
            f"{inp.moderation_action} contradicts moderation_status {inp.moderation_status}",
        )
    if inp.is_hold and inp.hold_duration_minutes is None:
        raise fail("hold_duration_minutes", "a hold needs hold_duration_minutes >= 1")
    if not inp.is_hold and inp.hold_duration_minutes is not None:
        raise fail("hold_duration_minutes", "only a hold_for_review decision has a hold duration")
    if inp.auto_release_if_no_action and not inp.is_hold:
        raise fail("auto_release_if_no_action", "only a hold_for_review decision can auto-release")
    if inp.appeal_window_minutes is not None and inp.moderation_status != "rejected":
        raise fail("appeal_window_minutes", "only a rejected decision has an appeal window")


@dataclass(frozen=True)
class ReportInput:
    content_type: str
    content_id: str
    reason: str
    note: str | None


def report_input(data: Any) -> ReportInput:
    if not isinstance(data, dict):
        raise fail("body", "must be a JSON object")
    content_type = _choice(data, "content_type", CONTENT_TYPES)
    content_id = data.get("content_id")
    if not valid_content_id(content_id):
        raise fail("content_id", "1..128 characters of letters, digits, '_' or '-'")
    reason = _choice(data, "reason", REPORT_REASONS)
    return ReportInput(content_type, content_id, reason, _text(data, "note", max_len=MAX_NOTE))


def appeal_statement(data: Any) -> str:
    if not isinstance(data, dict):
        raise fail("body", "must be a JSON object")
    return _text(data, "statement", required=True, max_len=MAX_STATEMENT) or ""
