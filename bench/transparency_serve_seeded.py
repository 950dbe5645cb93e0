"""``manage.py serve`` on an embedded ``mem://`` database pre-seeded with a transparency log (issue 10, point 8).

A ``mem://`` database lives inside its server process, so the log is written in that process before daphne
starts, then the unchanged ``serve`` command runs on the same SurrealDB client:

1. seed ``--leaves`` entities (4 of 5 contributions, 1 of 5 vouches): real rows from the evidence repository's
   own statements and their leaves from the same entry builders and the real ``append_statement``, in
   transactions of ``--batch`` (<= 250) entities. Each transaction is what ``commit_entity`` commits minus the
   outbox event (webhooks are off in the benchmark server, so no 100,000 undeliverable events pile up);
2. run the real ``transparency.services.integrate()`` until the tree is caught up and a checkpoint is signed;
3. with ``--audit``: run the audit service (``apps.transparency.audit.run_audit``, what ``transparency_audit``
   runs) in this process, on this database;
4. with ``--profile N``: time N proofs, entries and their two queries in-process (no HTTP);
5. write the leaf hashes the seeder computed itself (``--hashes``, 32 raw bytes each, index order: the client
   recomputes roots from them, independently of the stored tree) and the timings (``--info``, JSON); serve.

    python bench/transparency_serve_seeded.py --port P --info FILE --hashes FILE --leaves 100000 \\
        [--audit] [--profile 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAX_BATCH = 250
USERS = 200


def contribution_row(i: int, users: list[tuple[str, str]]) -> dict[str, Any]:
    """A row shaped exactly like ``services.create_contribution`` builds it."""
    from apps.core.ids import new_id, new_request_id
    from apps.evidence import rules
    from apps.evidence.services import created_ms_of

    contribution_id = new_id()
    now = created_ms_of(contribution_id)
    author_id, username = users[i % len(users)]
    request_id = new_request_id()
    return {
        "contribution_id": contribution_id,
        "author_id": author_id,
        "author_username": username,
        "mode": rules.MODES[i % len(rules.MODES)],
        "contribution_type": rules.CONTRIBUTION_TYPES[i % len(rules.CONTRIBUTION_TYPES)],
        "title": f"Kerja bakti RT {i % 40:02d} #{i}",
        "description": "Membersihkan saluran air dan memangkas pohon di jalan utama. " * (1 + i % 3),
        "evidence_url": None if i % 2 else f"https://example.org/laporan/{i}",
        "skill_ids": [f"skill-{i % 17}", f"skill-{i % 5 + 20}"],
        "metadata": {"rt": i % 40, "volunteers": 3 + i % 9},
        "request_id": request_id,
        "correlation_id": request_id,
        "created_at_ms": now,
        "updated_at_ms": now,
    }


def vouch_row(i: int, users: list[tuple[str, str]]) -> dict[str, Any]:
    """A row shaped like ``services.create_vouch`` builds it; ``skill_id`` unique per vouch keeps ``vouch_pair``."""
    from apps.core.ids import new_id, new_request_id, now_ms
    from apps.evidence import rules

    voucher_id, voucher_name = users[i % len(users)]
    vouchee_id = users[(i // len(users) + 1 + i) % len(users)][0]
    if vouchee_id == voucher_id:
        vouchee_id = users[(i + 1) % len(users)][0]
    request_id = new_request_id()
    return {
        "vouch_id": new_id(),
        "voucher_id": voucher_id,
        "voucher_username": voucher_name,
        "vouchee_id": vouchee_id,
        "skill_id": f"skill-{i}",
        "weight_hint": rules.WEIGHT_HINTS[i % len(rules.WEIGHT_HINTS)],
        "message": "Sangat membantu warga." if i % 3 else None,
        "request_id": request_id,
        "correlation_id": request_id,
        "created_at_ms": now_ms(),
    }


async def seed(leaves: int, batch: int) -> list[bytes]:
    """Append ``leaves`` entities with their leaves; returns each leaf hash (computed here) in index order.

    Checks that the log gave index ``i`` to the i-th entity (one writer: gapless and in order).
    """
    from apps.core.db import UnitOfWork
    from apps.core.ids import new_id
    from apps.evidence import transparency as entries
    from apps.evidence.repository import EvidenceRepository
    from apps.transparency import services as transparency
    from apps.transparency.verifier import canonical_json, leaf_hash

    repo = EvidenceRepository()
    users = [(new_id(), f"warga{n:03d}") for n in range(USERS)]
    hashes: list[bytes] = []
    for start in range(0, leaves, batch):
        uow = UnitOfWork()
        positions: list[int] = []
        for i in range(start, min(leaves, start + batch)):
            if i % 5 == 4:
                row = vouch_row(i, users)
                statement, kind, entity_id = repo.create_vouch_statement(row), "vouch", row["vouch_id"]
                entry = entries.vouch_entry(row)
            else:
                row = contribution_row(i, users)
                statement, kind = repo.create_contribution_statement(row), "contribution"
                entity_id, entry = row["contribution_id"], entries.contribution_entry(row)
            uow.add(statement)
            positions.append(uow.add(transparency.append_statement(kind, entity_id, entry)))
            hashes.append(leaf_hash(canonical_json(entry).encode("utf-8")))
        results = await uow.commit(operation="bench_seed")
        got = [transparency.transparency_from(results[p])["log_index"] for p in positions]
        if got != list(range(start, start + len(positions))):
            raise SystemExit(f"seed: the log gave indexes {got[:3]}... to entities {start}...")
    return hashes


async def prepare(args: argparse.Namespace) -> dict[str, Any]:
    from apps.core.db import get_db
    from apps.core.db.migrations import migrate
    from apps.transparency import services as transparency

    await migrate(get_db())
    info: dict[str, Any] = {"leaves": args.leaves, "batch": args.batch, "load_before": round(os.getloadavg()[0], 2)}
    started = time.perf_counter()
    hashes = await seed(args.leaves, args.batch)
    info["seed_seconds"] = round(time.perf_counter() - started, 2)
    info["load_after_seed"] = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    integrated = 0
    for _ in range(100):  # integrate() returns once caught up; loop only if another integrator raced it
        integrated += await transparency.integrate()
        state = await transparency.repo().state()
        if state["tree"] == state["head"] == args.leaves and state["checkpoint"] == args.leaves:
            break
    else:
        raise SystemExit(f"integration did not catch up: {state}")
    info["integrate_seconds"] = round(time.perf_counter() - started, 2)
    info["integrated"] = integrated
    info["state"] = state
    info["load_after_integrate"] = round(os.getloadavg()[0], 2)
    if args.audit:
        from apps.transparency import registry
        from apps.transparency.audit import run_audit

        missing = [kind for kind in ("contribution", "vouch") if registry.hooks(kind) is None]
        if missing:  # the audit must compare the leaves with their rows; register the evidence app's hooks
            from apps.evidence import transparency as entries

            entries.register()
        load_before = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        report = await run_audit()
        info["audit"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "ok": report.ok,
            "summary": report.summary(),
            "problems": report.lines()[:10],
            "load_before": load_before,
            "load_after": round(os.getloadavg()[0], 2),
            "how": "apps.transparency.audit.run_audit() in the seeded mem:// server process, before serving",
            "hooks_registered_by_bench": missing,
        }
    if args.profile:
        info["data_layer"] = await data_layer(args.leaves, args.profile)
    args.hashes.write_bytes(b"".join(hashes))
    return info


async def data_layer(size: int, samples: int) -> dict[str, Any]:
    """The same proofs in-process (no HTTP): where a proof's time goes, split by step (ms percentiles)."""
    import gc
    import random

    from apps.transparency import services as transparency
    from apps.transparency import tree

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 3)

    rng = random.Random(size)
    repo = transparency.repo()
    timings: dict[str, list[float]] = {"inclusion": [], "consistency": [], "entry": [], "state": [], "nodes": []}
    for i in range(samples + 20):
        index = rng.randrange(size)
        first, second = sorted(rng.sample(range(1, size + 1), 2))
        coords = [(0, index), *tree.distinct_coords(tree.inclusion_elements(index, size))]
        steps = (
            ("inclusion", transparency.inclusion_proof, (str(index), str(size))),
            ("consistency", transparency.consistency_proof, (str(first), str(second))),
            ("entry", transparency.entry, (str(index),)),
            ("state", repo.state, ()),
            ("nodes", repo.nodes, (coords,)),
        )
        for name, call, call_args in steps:
            started = time.perf_counter()
            await call(*call_args)
            if i >= 20:  # the first 20 rounds are warm-up
                timings[name].append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        name: {"p50": pct(values, 50), "p95": pct(values, 95), "n": len(values)} for name, values in timings.items()
    }
    result["python_objects"] = len(gc.get_objects())
    result["load"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--info", type=Path, required=True)
    parser.add_argument("--hashes", type=Path, required=True)
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=MAX_BATCH)
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--profile", type=int, default=0, help="also time N proofs in-process (data layer)")
    args = parser.parse_args()
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch must be in 1..{MAX_BATCH}")
    sys.path[:0] = [str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from apps.core.db import run_sync

    info = run_sync(prepare, args)
    args.info.write_text(json.dumps(info))
    call_command("serve", port=args.port)


if __name__ == "__main__":
    main()
