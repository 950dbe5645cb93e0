"""SurrealQL of the transparency log (tables of ``surql/0001_transparency.surql``).

Why the shapes: leaves, nodes and checkpoints are addressed by record id (``tlog_leaf:⟨n⟩``,
``tlog_node:[level, index]``, ``tlog_checkpoint:⟨size⟩``), so every read is a set of point
lookups with a known size: a proof reads its O(log n) nodes, a batch reads its leaves,
nothing scans a table. Ranges are given as explicit id lists (the engine cannot bind a
record-id range to variables).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from typing import Any

from apps.core.db import Repository, Statement, Thrown, UniqueViolation
from apps.transparency.tree import Coord

# Engine INSERT batches stay at or under 500 rows (environment notes).
INSERT_CHUNK = 400
TREE_MOVED = "tlog_tree_moved"

STATE_SQL = (
    "RETURN {"
    " head: (SELECT VALUE size FROM ONLY tlog_state:head),"
    " tree: (SELECT VALUE size FROM ONLY tlog_state:tree),"
    " checkpoint: (SELECT VALUE size FROM ONLY tlog_state:checkpoint)"
    "};"
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def append_statement_sql(suffix: str) -> str:
    """Two statements: take the next index from the head counter, create the leaf; the last returns one row.

    The LET name carries ``suffix`` because a unit of work prefixes only bound ``$vars``:
    two appends in one transaction must not share it.
    """
    var = f"$tlog_index_{suffix}"
    return (
        f"LET {var} = (UPDATE tlog_state:head SET size += 1, updated_at_ms = $now RETURN AFTER)[0].size - 1;\n"
        f"CREATE type::record('tlog_leaf', {var}) CONTENT {{index: {var}, data: $data, leaf_hash: $leaf_hash,"
        " entity_kind: $kind, entity_id: $entity_id, created_at_ms: $now} RETURN index AS log_index, leaf_hash"
    )


def append_leaf(*, kind: str, entity_id: str, data: str, leaf_hash: str, now: int) -> Statement:
    return Statement(
        append_statement_sql(secrets.token_hex(6)),
        {"data": data, "leaf_hash": leaf_hash, "kind": kind, "entity_id": entity_id, "now": now},
        results=2,
    )


class TransparencyRepository(Repository):
    # -- state ------------------------------------------------------------

    async def state(self) -> dict[str, int]:
        """Appended leaves (head), integrated leaves (tree) and the latest checkpoint's size."""
        row = await self._one(STATE_SQL, operation="tlog.state") or {}
        return {name: int(row.get(name) or 0) for name in ("head", "tree", "checkpoint")}

    # -- leaves -----------------------------------------------------------

    async def leaves(self, start: int, end: int, *, with_data: bool = False) -> list[dict[str, Any]]:
        """Leaves ``[start, end)`` by record id (missing ones are simply absent), in index order."""
        fields = "index, leaf_hash, data, entity_kind, entity_id" if with_data else "index, leaf_hash"
        rows = await self._all(
            f"SELECT {fields} FROM array::map($ids, |$i| type::record('tlog_leaf', $i));",
            {"ids": list(range(start, end))},
            operation="tlog.leaves",
        )
        rows.sort(key=lambda r: int(r["index"]))
        return rows

    async def leaf(self, index: int) -> dict[str, Any] | None:
        row = await self._one(
            "SELECT index, data, leaf_hash, entity_kind, entity_id, created_at_ms"
            " FROM ONLY type::record('tlog_leaf', $i);",
            {"i": index},
            operation="tlog.leaf",
        )
        return row or None

    async def locate(self, kind: str, entity_ids: list[str]) -> list[dict[str, Any]]:
        """Index and leaf hash of each entity's leaf (unique index ``(entity_kind, entity_id)``)."""
        if not entity_ids:
            return []
        return await self._all(
            "SELECT entity_id, index AS log_index, leaf_hash FROM tlog_leaf"
            " WHERE entity_kind = $kind AND entity_id IN $ids;",
            {"kind": kind, "ids": list(entity_ids)},
            operation="tlog.locate",
        )

    # -- nodes ------------------------------------------------------------

    async def nodes(self, coords: list[Coord]) -> dict[Coord, bytes]:
        """The stored hashes of these perfect nodes, in one query (absent ones are left out)."""
        if not coords:
            return {}
        rows = await self.db.query(
            "SELECT id, hash FROM array::map($c, |$x| type::record('tlog_node', $x));",
            {"c": [list(c) for c in coords]},
            operation="tlog.nodes",
        )
        found: dict[Coord, bytes] = {}
        for row in rows[-1] or []:
            level, index = row["id"].id
            found[(int(level), int(index))] = unb64(row["hash"])
        return found

    async def node_range(self, level: int, start: int, end: int) -> list[tuple[int, str]]:
        """Stored nodes ``(level, start..end)`` as ``(index, base64 hash)`` (the audit streams these)."""
        rows = await self.db.query(
            "SELECT id, hash FROM array::map($ids, |$i| type::record('tlog_node', [$l, $i]));",
            {"ids": list(range(start, end)), "l": level},
            operation="tlog.node_range",
        )
        return sorted((int(row["id"].id[1]), row["hash"]) for row in rows[-1] or [])

    async def store_nodes(self, *, from_size: int, to_size: int, nodes: dict[Coord, bytes], now: int) -> bool:
        """Write the new nodes and move the tree size, only if it is still ``from_size`` (one transaction).

        Returns False when another integrator moved the tree first (nothing written).
        """
        rows = [{"k": [level, index], "h": b64(value)} for (level, index), value in nodes.items()]
        parts = ["IF (SELECT VALUE size FROM ONLY tlog_state:tree) != $from { THROW 'tlog_tree_moved' }"]
        variables: dict[str, Any] = {"from": from_size, "to": to_size, "now": now}
        for number, chunk_start in enumerate(range(0, len(rows), INSERT_CHUNK)):
            variables[f"rows{number}"] = rows[chunk_start : chunk_start + INSERT_CHUNK]
            parts.append(
                f"INSERT INTO tlog_node (array::map($rows{number},"
                " |$r| {id: type::record('tlog_node', $r.k), hash: $r.h})) RETURN NONE"
            )
        parts.append("UPDATE tlog_state:tree SET size = $to, updated_at_ms = $now RETURN NONE")
        try:
            await self.db.write(";\n".join(parts), variables, operation="tlog.integrate")
        except Thrown as exc:
            if TREE_MOVED in exc.message:
                return False
            raise
        except UniqueViolation:
            return False  # a node already written by the winner: the same work, done once
        return True

    # -- checkpoints ------------------------------------------------------

    def checkpoint_statement(self, *, tree_size: int, root_hash: str, note: str, now: int) -> Statement:
        """Create ``tlog_checkpoint:⟨size⟩`` and move the latest-checkpoint pointer forward (never back)."""
        return Statement(
            "CREATE type::record('tlog_checkpoint', $n) CONTENT"
            " {tree_size: $n, root_hash: $root, note: $note, created_at_ms: $now} RETURN NONE;"
            "UPDATE tlog_state:checkpoint SET size = math::max([size, $n]), updated_at_ms = $now RETURN NONE",
            {"n": tree_size, "root": root_hash, "note": note, "now": now},
            results=2,
        )

    async def checkpoint(self, tree_size: int) -> dict[str, Any] | None:
        return await self._one(
            "SELECT tree_size, root_hash, note, created_at_ms FROM ONLY type::record('tlog_checkpoint', $n);",
            {"n": tree_size},
            operation="tlog.checkpoint",
        )

    async def latest_checkpoint(self) -> dict[str, Any] | None:
        return await self._one(
            "LET $n = (SELECT VALUE size FROM ONLY tlog_state:checkpoint) ?? 0;"
            "SELECT tree_size, root_hash, note, created_at_ms FROM ONLY type::record('tlog_checkpoint', $n);",
            operation="tlog.latest_checkpoint",
        )

    async def checkpoint_sizes(self) -> list[int]:
        """Every stored checkpoint's size, ascending (the audit then reads them by id in batches)."""
        rows = await self.db.query("SELECT VALUE tree_size FROM tlog_checkpoint;", operation="tlog.checkpoint_sizes")
        return sorted(int(v) for v in rows[-1] or [])

    async def checkpoints_of(self, sizes: list[int]) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT tree_size, root_hash, note FROM array::map($ids, |$n| type::record('tlog_checkpoint', $n));",
            {"ids": list(sizes)},
            operation="tlog.checkpoints",
        )
        rows.sort(key=lambda r: int(r["tree_size"]))
        return rows

    # -- development key --------------------------------------------------

    async def dev_key(self) -> str | None:
        row = await self._one("SELECT private_key FROM ONLY tlog_key:dev;", operation="tlog.dev_key")
        return row.get("private_key") if row else None

    async def create_dev_key(self, private_key: str, now: int) -> str:
        """Store a generated key; when another process stored one first, that one wins (re-read)."""
        with contextlib.suppress(UniqueViolation):
            await self.db.write(
                "CREATE tlog_key:dev CONTENT {private_key: $k, created_at_ms: $now} RETURN NONE;",
                {"k": private_key, "now": now},
                operation="tlog.dev_key_create",
            )
        stored = await self.dev_key()
        if stored is None:
            raise RuntimeError("the development signing key could not be stored")
        return stored
