"""The staff audit trail (``admin_action``): who changed what, before and after.

Every staff action (admin site, ``createadmin``, moderation) adds
``AuditRepository().statement(...)`` to the same ``UnitOfWork`` as the change
itself, so a change is never stored without its audit row or the reverse.
"""

from __future__ import annotations

from typing import Any

from apps.core import context
from apps.core.db import Repository, Statement
from apps.core.ids import new_id, now_ms


class AuditRepository(Repository):
    def statement(self, *, actor_id: str, action: str, target: str, before: Any, after: Any) -> Statement:
        """The CREATE of one audit row, carrying the current request and correlation ids."""
        request_id, correlation_id = context.request_ids()
        row = {
            "action_id": new_id(),
            "actor_id": actor_id,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
            "request_id": request_id,
            "correlation_id": correlation_id,
            "created_at_ms": now_ms(),
        }
        return Statement(
            "CREATE type::record('admin_action', $id) CONTENT $row RETURN NONE;", {"id": row["action_id"], "row": row}
        )

    async def for_target(self, target: str) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT action_id, actor_id, action, target, before, after, request_id, correlation_id, created_at_ms "
            "FROM admin_action WHERE target = $target ORDER BY created_at_ms, action_id;",
            {"target": target},
            operation="audit_for_target",
        )
