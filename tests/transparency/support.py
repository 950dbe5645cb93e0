"""Helpers of the transparency tests: append test entries the way the domains do (in a unit of work)."""

from __future__ import annotations

import base64
from typing import Any

from apps.core.db import UnitOfWork, get_db
from apps.transparency import services, verifier

KIND = "test_item"


def entry(n: int, **extra: Any) -> dict[str, Any]:
    return {"kind": KIND, "item_id": f"item{n:06d}", "n": n, "note": "héllo", **extra}


async def append_many(count: int, *, start: int = 0, per_transaction: int = 50) -> list[dict[str, Any]]:
    """Append ``count`` test entries, several per transaction; returns their ``{"log_index", "leaf_hash"}``."""
    located = []
    for first in range(start, start + count, per_transaction):
        uow = UnitOfWork()
        numbers = range(first, min(start + count, first + per_transaction))
        slots = [uow.add(services.append_statement(KIND, f"item{n:06d}", entry(n))) for n in numbers]
        results = await uow.commit(operation="test.append")
        located += [services.transparency_from(results[slot]) for slot in slots]
    return located


async def leaf_hashes() -> list[bytes]:
    """Every leaf hash recomputed from the stored data, in index order (the reference for proofs)."""
    rows = await get_db().query("SELECT index, data FROM tlog_leaf ORDER BY index;")
    return [verifier.leaf_hash(r["data"].encode()) for r in rows[-1]]


def b64d(text: str) -> bytes:
    return base64.b64decode(text)


def run_audit_command() -> tuple[int, list[str]]:
    """``manage.py transparency_audit`` in-process: its exit status and output lines."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("transparency_audit", stdout=out)
        status = 0
    except SystemExit as exc:
        status = int(exc.code)
    return status, out.getvalue().splitlines()
