"""All SurrealQL of the webhook outbox and its delivery log.

Claims are conditional updates: the candidate ids are selected and the UPDATE
re-checks the claim condition in the same transaction, so two workers never
both hold one event (on ``surrealkv://``/servers the loser's transaction
conflicts and is retried by the data layer; on ``mem://`` writes are
serialised in-process). Times are int epoch ms: datetime indexes sort wrongly.
"""

from __future__ import annotations

from typing import Any

from apps.core.db import Repository, Statement

CLAIMABLE = ["pending", "retrying", "in_flight"]
STATUSES = ("pending", "in_flight", "retrying", "delivered", "dead_letter")
_CLAIM_CONDITION = (
    "status IN $claimable AND next_attempt_at_ms <= $now "
    "AND (lease_expires_at_ms IS NONE OR lease_expires_at_ms < $now)"
)
_EVENT = "type::record('webhook_outbox_event', $id)"
# What a delivery needs (not the ``payload`` object: decoding it for nothing costs the worker CPU).
_CLAIMED = (
    "event_id, body, attempts, max_attempts, request_id, correlation_id, traceparent, status, "
    "lease_owner, lease_expires_at_ms, next_attempt_at_ms"
)


class OutboxRepository(Repository):
    async def claim(self, *, owner: str, now: int, limit: int, lease_ms: int) -> list[dict[str, Any]]:
        """Lease up to ``limit`` due events (pending, retrying, or in flight with an expired lease)."""
        sql = (
            # The ordered field is selected too: SurrealDB 3.0 servers refuse ORDER BY a field that
            # ``SELECT VALUE`` leaves out ("Missing order idiom"); the embedded 3.2 engine accepted it.
            f"LET $ids = (SELECT id, next_attempt_at_ms FROM webhook_outbox_event WHERE {_CLAIM_CONDITION} "
            "ORDER BY next_attempt_at_ms LIMIT $limit).id;\n"
            "UPDATE $ids SET status = 'in_flight', attempts += 1, lease_owner = $owner, "
            f"lease_expires_at_ms = $expires, updated_at_ms = $now WHERE {_CLAIM_CONDITION} RETURN {_CLAIMED};"
        )
        variables = {
            "claimable": CLAIMABLE,
            "now": now,
            "limit": limit,
            "owner": owner,
            "expires": now + lease_ms,
        }
        results = await self.db.write(sql, variables, operation="webhook_claim")
        return [_plain_row(row) for row in results[-1] or []]

    async def finish(self, *, owner: str, items: list[dict[str, Any]]) -> None:
        """Record attempts: the event update (only while this worker holds the lease) and one log row each.

        ``items``: ``{"id", "changes", "log"}``. One transaction for a batch keeps
        the serialised ``mem://`` write path from capping throughput.
        """
        sql = (
            "FOR $item IN $items {\n"
            "  UPDATE type::record('webhook_outbox_event', $item.id) MERGE $item.changes "
            "WHERE lease_owner = $owner RETURN NONE;\n"
            "  CREATE type::record('webhook_delivery_log', $item.log.log_id) CONTENT $item.log RETURN NONE;\n"
            "};"
        )
        await self.db.write(sql, {"items": items, "owner": owner}, operation="webhook_finish")

    async def release(self, *, owner: str, event_ids: list[str], now: int) -> None:
        """Give leases back (graceful stop): the unfinished attempt is not counted; due again at once."""
        sql = (
            "FOR $id IN $ids {\n"
            f"  UPDATE {_EVENT} SET attempts = math::max([attempts - 1, 0]), lease_owner = NONE, "
            "lease_expires_at_ms = NONE, next_attempt_at_ms = $now, updated_at_ms = $now WHERE lease_owner = $owner;\n"
            f"  UPDATE {_EVENT} SET status = IF attempts > 0 {{ 'retrying' }} ELSE {{ 'pending' }} "
            "WHERE status = 'in_flight' AND lease_owner IS NONE;\n"
            "};"
        )
        await self.db.write(sql, {"ids": event_ids, "owner": owner, "now": now}, operation="webhook_release")

    async def get(self, event_id: str) -> dict[str, Any] | None:
        row = await self._one(f"SELECT * FROM {_EVENT};", {"id": event_id}, operation="webhook_get")
        return _plain_row(row) if row else None

    async def list(self, *, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Newest first (``created_at_ms``, then ``event_id``)."""
        if status:
            sql = (
                "SELECT * FROM webhook_outbox_event WHERE status = $status "
                "ORDER BY created_at_ms DESC, event_id DESC LIMIT $limit;"
            )
        else:
            sql = "SELECT * FROM webhook_outbox_event ORDER BY created_at_ms DESC, event_id DESC LIMIT $limit;"
        rows = await self._all(sql, {"status": status, "limit": limit}, operation="webhook_list")
        return [_plain_row(r) for r in rows]

    async def logs(self, event_id: str) -> list[dict[str, Any]]:
        sql = "SELECT * FROM webhook_delivery_log WHERE event_id = $event_id ORDER BY attempt, created_at_ms;"
        rows = await self._all(sql, {"event_id": event_id}, operation="webhook_logs")
        return [_plain_row(r) for r in rows]

    async def replay(self, event_id: str, now: int) -> dict[str, Any] | None:
        """Back to ``pending`` with attempts 0 unless a live lease holds it (then ``None``)."""
        sql = (
            f"UPDATE {_EVENT} SET {_REPLAY_SET} "
            "WHERE status != 'in_flight' OR lease_expires_at_ms IS NONE OR lease_expires_at_ms < $now RETURN AFTER;"
        )
        row = await self._write_one(sql, {"id": event_id, "now": now}, operation="webhook_replay")
        return _plain_row(row) if row else None

    async def replay_status(self, *, status: str, limit: int, now: int) -> list[str]:
        sql = (
            "LET $ids = (SELECT id, next_attempt_at_ms FROM webhook_outbox_event WHERE status = $status "
            "ORDER BY next_attempt_at_ms LIMIT $limit).id;\n"
            f"UPDATE $ids SET {_REPLAY_SET} WHERE status = $status RETURN VALUE event_id;"
        )
        results = await self.db.write(sql, {"status": status, "limit": limit, "now": now}, operation="webhook_replay")
        return list(results[-1] or [])

    async def ids_with_status(self, *, status: str, limit: int) -> list[str]:
        sql = (
            "RETURN (SELECT event_id, next_attempt_at_ms FROM webhook_outbox_event WHERE status = $status "
            "ORDER BY next_attempt_at_ms LIMIT $limit).event_id;"
        )
        results = await self.db.query(sql, {"status": status, "limit": limit}, operation="webhook_select")
        return list(results[-1] or [])

    def insert_statement(self, row: dict[str, Any]) -> Statement:
        return Statement(f"CREATE {_EVENT} CONTENT $row RETURN NONE;", {"id": row["event_id"], "row": row})

    async def exists(self, event_id: str) -> bool:
        results = await self.db.query(
            "SELECT VALUE event_id FROM webhook_outbox_event WHERE event_id = $event_id LIMIT 1;",
            {"event_id": event_id},
            operation="webhook_exists",
        )
        return bool(results[-1])

    async def status_counts(self) -> dict[str, int]:
        results = await self.db.query(
            "SELECT status, count() AS n FROM webhook_outbox_event GROUP BY status;", operation="webhook_counts"
        )
        counts = dict.fromkeys(STATUSES, 0)
        for row in results[-1] or []:
            counts[row["status"]] = int(row["n"])
        return counts

    async def oldest_due_ms(self, now: int) -> int | None:
        """``next_attempt_at_ms`` of the oldest due pending/retrying event (queue lag)."""
        results = await self.db.query(
            "SELECT VALUE next_attempt_at_ms FROM webhook_outbox_event WHERE status IN ['pending', 'retrying'] "
            "AND next_attempt_at_ms <= $now ORDER BY next_attempt_at_ms LIMIT 1;",
            {"now": now},
            operation="webhook_lag",
        )
        values = results[-1] or []
        return int(values[0]) if values else None


_REPLAY_SET = (
    "status = 'pending', attempts = 0, next_attempt_at_ms = $now, lease_owner = NONE, lease_expires_at_ms = NONE, "
    "last_status_code = NONE, last_error = NONE, delivered_at_ms = NONE, updated_at_ms = $now"
)


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row.pop("id", None)
    return row
