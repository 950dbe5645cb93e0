"""The moderation vocabulary of 06-moderation.md and the typed values the services act on.

Kept apart from ``rules.py`` (rules across fields and against stored state) and from
``serializers.py`` (the one validator of each operation's input): the serializers, the
rules, the repository statements and the admin site all read these names, and none of
them should have to import the others to get a constant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apps.accounts.domain import Principal

CONTENT_TYPES = ("chat_message", "contribution", "evidence", "user")
STATUSES = ("processing", "under_review", "published", "rejected")
ACTIONS = ("publish_now", "publish_with_warning", "hold_for_review", "block")
REPORT_REASONS = ("spam", "harassment", "misinformation", "violence", "privacy", "other")
QUEUE_KINDS = ("held", "appeal", "reported")
HIDDEN_STATUSES = frozenset({"under_review", "rejected"})
MAX_REASON_CODE_BYTES = 512
MAX_REASONING = 4000
MAX_VIOLATIONS = 20
MAX_HOLD_MINUTES = 60 * 24 * 365
DEFAULT_APPEAL_WINDOW_MINUTES = 7 * 24 * 60
MAX_NOTE, MAX_STATEMENT = 500, 1000
CONTENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def valid_content_id(value: Any) -> bool:
    """Path parameters are not parsed by a serializer; this is the same check as the body's ``content_id``."""
    return isinstance(value, str) and CONTENT_ID_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class DecisionInput:
    """A decision as ``DecisionRequestSerializer`` accepted it (defaults filled in, ``""`` texts as None)."""

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


@dataclass(frozen=True)
class ReportInput:
    content_type: str
    content_id: str
    reason: str
    note: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who records a decision: a signed-in moderator or admin, or the system (worker, community reports)."""

    user_id: str
    username: str
    role: str

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.user_id, principal.username, principal.role)


SYSTEM = Actor("system", "system", "system")
