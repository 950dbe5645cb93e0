"""All SurrealQL of the moderation app (and of the admin site's read-only lookups).

Values are always bound; record ids are built with ``type::record``. Methods
named ``*_statement`` return ``Statement``s for a ``UnitOfWork``: a decision
and everything it changes are committed as one transaction by the service.
"""

from __future__ import annotations

from typing import Any

from apps.core.db import Repository, Statement

STALE = "moderation_stale"
_EXPECT = (
    "LET $cur = (SELECT VALUE last_decision_id FROM ONLY type::record('content_moderation', $cid)) ?? '';"
    f"IF $cur != $expected {{ THROW '{STALE}' }};"
)


class ModerationRepository(Repository):
    # -- state and ledger ------------------------------------------------------

    async def get_state(self, content_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT * OMIT id FROM ONLY type::record('content_moderation', $cid);",
            {"cid": content_id},
            operation="moderation_state",
        )

    async def decisions(self, content_id: str) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM moderation_decision WHERE content_id = $cid ORDER BY chain_seq;",
            {"cid": content_id},
            operation="moderation_decisions",
        )

    async def decisions_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Ledger rows by decision id, in one query (the transparency audit reads them in batches)."""
        rows = await self._all(
            "SELECT * OMIT id FROM array::map($ids, |$i| type::record('moderation_decision', $i));",
            {"ids": ids},
            operation="moderation_decisions_by_id",
        )
        return {row["decision_id"]: row for row in rows}

    async def decision_by_request(self, content_id: str, request_id: str) -> dict[str, Any] | None:
        return await self._one(
            "SELECT * OMIT id FROM moderation_decision WHERE content_id = $cid AND request_id = $rid LIMIT 1;",
            {"cid": content_id, "rid": request_id},
            operation="moderation_decision_by_request",
        )

    async def ledger_count(self) -> int:
        rows = await self._all(
            "SELECT count() AS n FROM moderation_decision GROUP ALL;", operation="moderation_ledger_count"
        )
        return int(rows[0]["n"]) if rows else 0

    def expect_statement(self, content_id: str, expected_last_decision_id: str) -> Statement:
        """THROWs (rolling the transaction back) unless the item's last decision is still the expected one."""
        return Statement(_EXPECT, {"cid": content_id, "expected": expected_last_decision_id}, results=2)

    def decision_statement(self, row: dict[str, Any], state: dict[str, Any]) -> Statement:
        return Statement(
            "CREATE type::record('moderation_decision', $did) CONTENT $row RETURN NONE;"
            "UPSERT type::record('content_moderation', $cid) CONTENT $state RETURN NONE;",
            {"did": row["decision_id"], "row": row, "cid": state["content_id"], "state": state},
            results=2,
        )

    def resolve_reports_statement(self, content_id: str, decision_id: str) -> Statement:
        return Statement(
            "UPDATE content_report SET resolved_by_decision_id = $did "
            "WHERE content_id = $cid AND resolved_by_decision_id = NONE RETURN NONE;",
            {"cid": content_id, "did": decision_id},
        )

    def appeal_statement(self, content_id: str, changes: dict[str, Any]) -> Statement:
        return Statement(
            "UPDATE type::record('content_moderation', $cid) MERGE $changes RETURN NONE;",
            {"cid": content_id, "changes": changes},
        )

    async def search_decisions(
        self, *, content_id: str | None, actor: str | None, from_ms: int | None, to_ms: int | None, limit: int
    ) -> list[dict[str, Any]]:
        where, variables = ["true"], {"limit": limit}
        if content_id:
            where.append("content_id = $cid")
            variables["cid"] = content_id
        if actor:
            where.append("(actor_username = $actor OR actor_user_id = $actor)")
            variables["actor"] = actor
        if from_ms is not None:
            where.append("decided_at_ms >= $from")
            variables["from"] = from_ms
        if to_ms is not None:
            where.append("decided_at_ms <= $to")
            variables["to"] = to_ms
        return await self._all(
            f"SELECT * OMIT id FROM moderation_decision WHERE {' AND '.join(where)} "
            "ORDER BY decided_at_ms DESC, decision_id DESC LIMIT $limit;",
            variables,
            operation="moderation_decision_search",
        )

    # -- queue and timers --------------------------------------------------------

    async def held(self, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM content_moderation WHERE moderation_status = 'under_review' "
            "ORDER BY decided_at_ms, content_id LIMIT $limit;",
            {"limit": limit},
            operation="moderation_held",
        )

    async def appealed(self, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM content_moderation WHERE appeal_status = 'open' "
            "ORDER BY appealed_at_ms, content_id LIMIT $limit;",
            {"limit": limit},
            operation="moderation_appealed",
        )

    async def states(self, content_ids: list[str]) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM array::map($ids, |$i| type::record('content_moderation', $i));",
            {"ids": content_ids},
            operation="moderation_states",
        )

    async def expired_holds(self, now: int, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM content_moderation WHERE moderation_status = 'under_review' "
            "AND auto_release_if_no_action = true AND hold_expires_at_ms <= $now "
            "ORDER BY decided_at_ms LIMIT $limit;",
            {"now": now, "limit": limit},
            operation="moderation_expired_holds",
        )

    # -- reports -----------------------------------------------------------------

    async def create_report(self, row: dict[str, Any]) -> None:
        await self.db.write(
            "CREATE type::record('content_report', $id) CONTENT $row RETURN NONE;"
            "UPDATE type::record('content_moderation', $cid) SET report_count += 1 RETURN NONE;",
            {"id": row["report_id"], "row": row, "cid": row["content_id"]},
            operation="moderation_report_create",
        )

    async def open_report_count(self, content_id: str) -> int:
        rows = await self._all(
            "SELECT count() AS n FROM content_report WHERE content_id = $cid AND resolved_by_decision_id = NONE "
            "GROUP ALL;",
            {"cid": content_id},
            operation="moderation_report_count",
        )
        return int(rows[0]["n"]) if rows else 0

    async def reports_for(self, content_id: str) -> list[dict[str, Any]]:
        return await self._all(
            "SELECT * OMIT id FROM content_report WHERE content_id = $cid ORDER BY created_at_ms, report_id;",
            {"cid": content_id},
            operation="moderation_reports_for",
        )

    async def reports(self, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
        where = "WHERE resolved_by_decision_id = NONE " if open_only else ""
        return await self._all(
            f"SELECT * OMIT id FROM content_report {where}ORDER BY created_at_ms, report_id LIMIT $limit;",
            {"limit": limit},
            operation="moderation_reports",
        )
