"""The worker's auto-release of expired holds (06-moderation.md "Auto-release").

Conditional on the hold still being the item's latest decision, and keyed on it
(request id ``auto_release-<decision_id>``), so several workers running this at
once release each hold at most once and never undo a newer decision.
"""

from __future__ import annotations

import logging

from apps.core import jobs
from apps.core.ids import now_ms
from apps.moderation import services
from apps.moderation.repository import ModerationRepository

log = logging.getLogger(__name__)

EVERY_S = 30
BATCH = 100


async def release_hold(state: dict, *, now: int | None = None) -> bool:
    """Publish one held item; False when a newer decision replaced the hold (stale: skipped)."""
    try:
        await services.decide(
            services.SYSTEM,
            {
                "content_id": state["content_id"],
                "content_type": state["content_type"],
                "moderation_status": "published",
                "moderation_action": "publish_now",
                "reason_code": "auto_release",
                "author_id": state["author_id"],
            },
            expected_last_decision_id=state["last_decision_id"],
            request_id=f"auto_release-{state['last_decision_id']}",
        )
    except services.StaleDecision:
        log.info("stale hold skipped", extra={"content_id": state["content_id"]})
        return False
    return True


@jobs.periodic("moderation.auto_release", every_s=EVERY_S)
async def auto_release_expired_holds(now: int | None = None) -> int:
    """Release every hold whose time is up and that asked for it; returns how many were released."""
    released = 0
    for state in await ModerationRepository().expired_holds(now if now is not None else now_ms(), BATCH):
        released += await release_hold(state)
    if released:
        log.info("moderation holds auto-released", extra={"count": released})
    return released
