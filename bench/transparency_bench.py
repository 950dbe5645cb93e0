"""Transparency-log benchmark: issue 10, point 8 (targets in docs/benchmarks.md, "Transparency log (issue 10)").

Not a timed test. Every figure is a percentile or a ratio from one run; the load average is recorded with each
(2 shared cores: other suites may run at the same time).

1. Append overhead (in a child process, embedded mem://): the same contribution write — the evidence
   repository's ``create_contribution_statement`` + its ``contribution_created`` outbox event in one
   transaction (``commit_with_events``) — without (A) and with (B) its leaf, B being the real
   ``services.commit_entity`` with the entry built by ``apps.evidence.transparency.contribution_entry`` (the
   entry's canonical JSON and hashes are inside the timed region). Interleaved A B A B ..., so load hits both
   alike. Target: p95(B) - p95(A) <= 5 ms.
2. Proofs at HTTP: per size (10,000 and 100,000 leaves) a real ``manage.py serve`` on embedded mem://, seeded
   in-process first (bench/transparency_serve_seeded.py: real contribution/vouch rows + leaves through the real
   ``append_statement``, 250 entities per transaction, then the real ``integrate()`` until a checkpoint covers
   every leaf). From this process (httpx, one keep-alive connection, sequential): inclusion proofs at random
   indexes against the latest checkpoint's size and consistency proofs between random sizes. Every
   ``--verify-every``-th proof is checked with ``apps/transparency/verifier.py`` against the signed checkpoint
   (signature checked with the served public key) and against roots recomputed here from the leaf hashes the
   seeder computed itself. The node rows each proof reads come from the coordinates ``apps/transparency/tree.py``
   plans (what the service fetches in its one node query). Targets: p95 <= 20 ms at the largest size; p50 ratio
   largest/smallest <= 1.5.
3. Audit: ``apps.transparency.audit.run_audit`` (what ``manage.py transparency_audit`` runs) in the seeded
   mem:// server process of the largest size, over every leaf with its entity rows. Target <= 60 s, no problem.

    python bench/transparency_bench.py            # full: 10,000 and 100,000 leaves (tens of minutes)
    python bench/transparency_bench.py --quick    # smoke: 1,000 and 10,000 leaves, fewer samples

Prints one table; writes bench/results/transparency.{json,md} (``--quick``: the same files in its temporary
work directory, so a smoke run never overwrites the recorded full run).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stats  # bench/stats.py (bench/ is on sys.path: the script's own folder)
from stats import free_port, load

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = Path(tempfile.mkdtemp(prefix="gr-tlog-bench-"))
STEPS = ("inclusion", "consistency", "entry", "state", "nodes")  # the in-process timings of the seeded server
TARGETS = {"append_p95_delta_ms": 5.0, "proof_p95_ms": 20.0, "proof_p50_ratio": 1.5, "audit_s": 60.0}


# -- small helpers -------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    return stats.pct(values, p, digits=3)


def summary(values: list[float]) -> dict[str, Any]:
    return stats.summary(values, digits=3)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SURREAL_", "REDIS_", "S3_", "PORT"))}
    env.update(
        APP_ENV="test", PYTHONDONTWRITEBYTECODE="1", LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="gotong.settings"
    )
    env.update(extra)
    return env


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (graceful drain in ``serve``), then SIGKILL after 20 s; only this run's own child, by pid."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- 1. append overhead (child process) ---------------------------------------------------------------------


def append_phase(runs: int, warmup: int, out: Path) -> None:
    """Runs inside ``--phase append``: A/B interleaved on an embedded mem:// database; JSON to ``out``."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from apps.core.db import close_db, run_sync

    try:
        out.write_text(json.dumps(run_sync(_append_async, runs, warmup)))
    finally:
        run_sync(close_db)


async def _append_async(runs: int, warmup: int) -> dict[str, Any]:
    from apps.accounts.domain import Principal
    from apps.core.db import UnitOfWork, get_db
    from apps.core.db.migrations import migrate
    from apps.core.ids import new_id, new_request_id
    from apps.evidence import services
    from apps.evidence import transparency as entries
    from apps.transparency import services as transparency
    from apps.webhooks.outbox import commit_with_events, event_statement

    await migrate(get_db())
    principal = Principal("b" * 32, "bench", "bench@example.com", "user", "default", "j", "f", "bearer")
    counter = [0]

    def new_row() -> tuple[dict[str, Any], dict[str, Any]]:
        """The row and event subject ``services.create_contribution`` builds (fresh ids each call)."""
        counter[0] += 1
        contribution_id = new_id()
        now = services.created_ms_of(contribution_id)
        request_id = new_request_id()
        row = {
            "contribution_id": contribution_id, "author_id": principal.user_id,
            "author_username": principal.username, "mode": "komunitas", "contribution_type": "community_service",
            "title": f"Kerja bakti #{counter[0]}", "description": "Membersihkan saluran air di RT 04.",
            "evidence_url": None, "skill_ids": ["gotong-royong"], "metadata": {"rt": 4},
            "request_id": request_id, "correlation_id": request_id, "created_at_ms": now, "updated_at_ms": now,
        }  # fmt: skip
        subject = {k: row[k] for k in (
            "contribution_id", "contribution_type", "description", "evidence_url", "metadata", "mode", "skill_ids",
            "title",
        )}  # fmt: skip
        return row, subject

    async def without_leaf() -> float:
        row, subject = new_row()
        started = time.perf_counter()

        def build() -> UnitOfWork:
            uow = UnitOfWork()
            uow.add(services.repo.create_contribution_statement(row))
            event = event_statement(
                event_type="contribution_created", actor=services.actor_of(principal), subject=subject,
                created_at_ms=row["created_at_ms"],
            )  # fmt: skip
            if event is not None:
                uow.add(event)
            return uow

        await commit_with_events(build, operation="contribution_create")
        return (time.perf_counter() - started) * 1000

    async def with_leaf() -> float:
        row, subject = new_row()
        started = time.perf_counter()
        view = await services.commit_entity(
            services.repo.create_contribution_statement(row),
            [("contribution_created", subject, None)],
            principal=principal,
            created_at_ms=row["created_at_ms"],
            operation="contribution_create",
            view=row,
            leaf=services.LogLeaf("contribution", row["contribution_id"], entries.contribution_entry(row)),
        )
        elapsed = (time.perf_counter() - started) * 1000
        if view.get("transparency", {}).get("log_index") is None:
            raise SystemExit(f"the write with a leaf returned no transparency: {view}")
        return elapsed

    for _ in range(warmup):
        await without_leaf()
        await with_leaf()
    a: list[float] = []
    b: list[float] = []
    load_before = load()
    for i in range(2 * runs):
        if i % 2 == 0:
            a.append(await without_leaf())
        else:
            b.append(await with_leaf())
    state = await transparency.repo().state()
    outbox = await get_db().query("RETURN count(SELECT VALUE id FROM webhook_outbox_event);")
    contributions = await get_db().query("RETURN count(SELECT VALUE id FROM contribution);")
    return {
        "without_leaf_ms": summary(a),
        "with_leaf_ms": summary(b),
        "p50_delta_ms": round(pct(b, 50) - pct(a, 50), 3),
        "p95_delta_ms": round(pct(b, 95) - pct(a, 95), 3),
        "leaves_appended": state["head"],
        "contributions": contributions[-1],
        "outbox_events": outbox[-1],
        "load_before": load_before,
        "load_after": load(),
        "order": "A B A B ... (A without leaf, B with leaf), after warm-up pairs",
    }


def run_append(runs: int, warmup: int) -> dict[str, Any]:
    out = WORK / "append.json"
    log = (WORK / "append.log").open("wb")
    cmd = [sys.executable, __file__, "--phase", "append", "--runs", str(runs), "--warmup", str(warmup),
           "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        proc.wait(1800)
    except subprocess.TimeoutExpired:
        stop(proc)
    if not out.exists():
        raise SystemExit(f"append phase failed (exit {proc.returncode}); log: {WORK / 'append.log'}")
    return json.loads(out.read_text())


# -- 2. proofs at HTTP against a seeded server --------------------------------------------------------------


class LocalTree:
    """Every perfect subtree hash, recomputed here from the seeder's leaf hashes (the mapping ``tree`` reads)."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        from apps.transparency.verifier import node_hash

        self.levels = [leaf_hashes]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def __getitem__(self, coord: tuple[int, int]) -> bytes:
        level, index = coord
        return self.levels[level][index]

    def root(self, size: int) -> bytes:
        from apps.transparency import tree

        return tree.root_from(size, self)


def start_seeded(leaves: int, audit: bool, profile: int) -> tuple[subprocess.Popen, int, dict[str, Any], list[bytes]]:
    port = free_port()
    info, hashes = WORK / f"info-{leaves}.json", WORK / f"hashes-{leaves}.bin"
    cmd = [sys.executable, str(ROOT / "bench" / "transparency_serve_seeded.py"), "--port", str(port),
           "--info", str(info), "--hashes", str(hashes), "--leaves", str(leaves),
           "--profile", str(profile)]  # fmt: skip
    cmd += ["--audit"] if audit else []
    env = child_env(WEBHOOK_ENABLED="false", RATE_LIMIT_TRANSPARENCY="1000000/1:1000000")
    log = (WORK / f"server-{leaves}.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"seeded server ({leaves}) exited with {proc.returncode}; log: {log.name}")
        if info.exists():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                pass
        time.sleep(0.2)
    else:
        stop(proc)
        raise SystemExit(f"seeded server ({leaves}) not ready within an hour; log: {log.name}")
    raw = hashes.read_bytes()
    return proc, port, json.loads(info.read_text()), [raw[i : i + 32] for i in range(0, len(raw), 32)]


def measure_proofs(port: int, leaf_hashes: list[bytes], samples: int, verify_every: int, seed: int) -> dict[str, Any]:
    import httpx

    from apps.transparency import tree, verifier

    rng = random.Random(seed)
    local = LocalTree(leaf_hashes)
    n = len(leaf_hashes)
    result: dict[str, Any] = {"leaves": n, "load_before": load()}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        key_text = client.get("/v1/transparency/public-key").raise_for_status().text.strip()
        key = verifier.parse_verifier_key(key_text)
        checkpoint = verifier.verify_checkpoint(client.get("/v1/transparency/checkpoint").raise_for_status().text, key)
        size = checkpoint.tree_size
        if size != n:
            raise SystemExit(f"the latest checkpoint covers {size} leaves, the seeder appended {n}")
        if checkpoint.root_hash != local.root(n) or local.root(n) != verifier.root_hash(leaf_hashes):
            raise SystemExit("the signed checkpoint's root differs from the root of the seeder's leaf hashes")
        result["checkpoint_root"] = base64.b64encode(checkpoint.root_hash).decode()

        def get(path: str, params: dict[str, int]) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            r = client.get(path, params=params)
            body = r.json()
            elapsed = (time.perf_counter() - started) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{path} {params}: {r.status_code} {body}")
            return elapsed, body

        for _ in range(20):  # warm-up: connection, code paths
            get("/v1/transparency/proofs/inclusion", {"index": rng.randrange(n), "tree_size": size})
            first = rng.randrange(1, size)
            get("/v1/transparency/proofs/consistency", {"first": first, "second": size})

        inclusion: list[float] = []
        inclusion_rows: list[int] = []
        verified_inclusion = 0
        for i in range(samples):
            index = rng.randrange(size)
            elapsed, body = get("/v1/transparency/proofs/inclusion", {"index": index, "tree_size": size})
            inclusion.append(elapsed)
            inclusion_rows.append(1 + len(tree.distinct_coords(tree.inclusion_elements(index, size))))
            if i % verify_every == 0:
                path = [base64.b64decode(p) for p in body["path"]]
                leaf = base64.b64decode(body["leaf_hash"])
                if leaf != leaf_hashes[index]:
                    raise SystemExit(f"inclusion {index}: the served leaf hash is not the one appended")
                verifier.verify_inclusion(leaf, index, size, path, checkpoint.root_hash)
                verified_inclusion += 1

        consistency: list[float] = []
        consistency_rows: list[int] = []
        verified_consistency = 0
        for i in range(samples):
            first, second = sorted(rng.sample(range(1, size + 1), 2))
            elapsed, body = get("/v1/transparency/proofs/consistency", {"first": first, "second": second})
            consistency.append(elapsed)
            consistency_rows.append(len(tree.distinct_coords(tree.consistency_elements(first, second))))
            if i % verify_every == 0:
                path = [base64.b64decode(p) for p in body["path"]]
                verifier.verify_consistency(first, second, local.root(first), local.root(second), path)
                verified_consistency += 1

        # A few entries end to end: leaf bytes -> leaf hash -> canonical JSON of the shown entry.
        entries: list[float] = []
        for _ in range(20):
            index = rng.randrange(size)
            elapsed, body = get(f"/v1/transparency/entries/{index}", {})
            entries.append(elapsed)
            data = base64.b64decode(body["leaf_data"])
            verifier.check_entry(body["entry"], data)
            if verifier.leaf_hash(data) != leaf_hashes[index]:
                raise SystemExit(f"entry {index}: its leaf data does not hash to the appended leaf")

    result.update(
        tree_size=size,
        inclusion_ms=summary(inclusion),
        consistency_ms=summary(consistency),
        entry_ms=summary(entries),
        verified={
            "inclusion": verified_inclusion,
            "consistency": verified_consistency,
            "entries": len(entries),
            "failed": 0,
        },
        node_rows={
            "log2_n": round(math.log2(size), 2),
            "inclusion": {"mean": round(sum(inclusion_rows) / len(inclusion_rows), 2), "max": max(inclusion_rows)},
            "consistency": {
                "mean": round(sum(consistency_rows) / len(consistency_rows), 2),
                "max": max(consistency_rows),
            },
        },
        load_after=load(),
    )
    return result


# -- report ---------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    app = results.get("append")
    if app:
        delta = app["p95_delta_ms"]
        rows.append({
            "target": "append adds <= 5 ms p95", "status": verdict(delta <= TARGETS["append_p95_delta_ms"]),
            "figure": f"without leaf p50 {app['without_leaf_ms']['p50']} / p95 {app['without_leaf_ms']['p95']} ms; "
                      f"with leaf p50 {app['with_leaf_ms']['p50']} / p95 {app['with_leaf_ms']['p95']} ms; "
                      f"p95 delta {delta} ms (n={app['with_leaf_ms']['n']} each; load {app['load_before']}-"
                      f"{app['load_after']})",
        })  # fmt: skip
    proofs = results.get("proofs") or []
    if proofs:
        small, large = proofs[0], proofs[-1]
        for kind in ("inclusion", "consistency"):
            s = large[f"{kind}_ms"]
            rows.append({
                "target": f"{kind} proof p95 <= 20 ms at HTTP ({large['leaves']:,} leaves)",
                "status": verdict(s["p95"] <= TARGETS["proof_p95_ms"]),
                "figure": f"p50 {s['p50']} / p95 {s['p95']} / p99 {s['p99']} ms (n={s['n']}; load "
                          f"{large['load_before']}-{large['load_after']})",
            })  # fmt: skip
            ratio = round(large[f"{kind}_ms"]["p50"] / small[f"{kind}_ms"]["p50"], 2)
            results.setdefault("ratios", {})[kind] = ratio
            rows.append({
                "target": f"{kind} p50 ratio {large['leaves']:,}/{small['leaves']:,} <= 1.5",
                "status": verdict(ratio <= TARGETS["proof_p50_ratio"]),
                "figure": f"{ratio} ({large[f'{kind}_ms']['p50']} / {small[f'{kind}_ms']['p50']} ms); node rows "
                          f"read: mean {small['node_rows'][kind]['mean']} -> {large['node_rows'][kind]['mean']}, "
                          f"max {small['node_rows'][kind]['max']} -> {large['node_rows'][kind]['max']} "
                          f"(log2 n {small['node_rows']['log2_n']} -> {large['node_rows']['log2_n']})",
            })  # fmt: skip
    audit = results.get("audit")
    if audit:
        found = "no problem" if audit["ok"] else "PROBLEMS: " + "; ".join(audit["problems"])
        rows.append({
            "target": f"audit of {results['audit_leaves']:,} leaves <= 60 s, no problem",
            "status": verdict(audit["seconds"] <= TARGETS["audit_s"] and audit["ok"]),
            "figure": f"{audit['seconds']} s, {found} (load {audit['load_before']}-{audit['load_after']})",
        })  # fmt: skip
    return rows


def print_table(rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    width = max(len(r["target"]) for r in rows) if rows else 10
    print()
    for r in rows:
        print(f"{r['target']:<{width}}  {r['status']:<6}  {r['figure']}")
    for p in results.get("proofs", []):
        seeding = p.get("seeding", {})
        d = seeding.get("data_layer")
        if d:
            print(f"{p['leaves']:>7,} leaves in-process (no HTTP) p50/p95 ms: "
                  + ", ".join(f"{k} {d[k]['p50']}/{d[k]['p95']}" for k in STEPS))  # fmt: skip
        print(f"{p['leaves']:>7,} leaves: seed {seeding.get('seed_seconds')} s, integrate "
              f"{seeding.get('integrate_seconds')} s; verified {p['verified']}")  # fmt: skip


def write_markdown(path: Path, rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
    lines = [
        "# Transparency log benchmark (issue 10, point 8)",
        "",
        f"Generated by `{results['command']}` on {results['date']}.",
        f"Machine: {results['machine']}. Load average (1 min) is given with each figure.",
        "",
        "| target | status | figures |",
        "|---|---|---|",
        *[f"| {r['target']} | **{r['status']}** | {r['figure']} |" for r in rows],
        "",
        "## Per size (HTTP, one keep-alive connection, sequential requests)",
        "",
        "| leaves | inclusion p50 / p95 / p99 ms | consistency p50 / p95 / p99 ms | entry p50 / p95 ms | node rows per "
        "inclusion (mean / max) | per consistency (mean / max) | log2 n | verified (incl / cons / entries) | "
        "seed s | integrate s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in results.get("proofs", []):
        i, c, e, nr, s = p["inclusion_ms"], p["consistency_ms"], p["entry_ms"], p["node_rows"], p["seeding"]
        lines.append(
            f"| {p['leaves']:,} | {i['p50']} / {i['p95']} / {i['p99']} | {c['p50']} / {c['p95']} / {c['p99']} | "
            f"{e['p50']} / {e['p95']} | {nr['inclusion']['mean']} / {nr['inclusion']['max']} | "
            f"{nr['consistency']['mean']} / {nr['consistency']['max']} | {nr['log2_n']} | "
            f"{p['verified']['inclusion']} / {p['verified']['consistency']} / {p['verified']['entries']} | "
            f"{s['seed_seconds']} | {s['integrate_seconds']} | {p['load_before']}-{p['load_after']} |"
        )
    lines += [
        "",
        "## Where a proof's time goes (in the server process, no HTTP; same seeded database, before serving)",
        "",
        "| leaves | inclusion p50 / p95 ms | consistency p50 / p95 ms | entry p50 / p95 ms | state query p50 / p95 | "
        "node query (inclusion's coords) p50 / p95 | Python objects | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in results.get("proofs", []):
        d = p["seeding"].get("data_layer")
        if d:
            cells = " | ".join(
                f"{d[k]['p50']} / {d[k]['p95']}" for k in ("inclusion", "consistency", "entry", "state", "nodes")
            )
            lines.append(f"| {p['leaves']:,} | {cells} | {d['python_objects']:,} | {d['load']} |")
    audit = results.get("audit")
    if audit:
        lines += ["", "## Audit", "", f"- how: {audit['how']}", f"- result: `{audit['summary']}`"]
        if audit.get("hooks_registered_by_bench"):
            lines.append(
                f"- the row checks for {', '.join(audit['hooks_registered_by_bench'])} were not registered by the "
                "app at start-up; the benchmark registered `apps.evidence.transparency.register()` itself so "
                "the audit compares every leaf with its row"
            )
    lines += ["", "## Method", "", *[f"    {line}" for line in (__doc__ or "").strip().splitlines()], ""]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 / 10,000 leaves, fewer samples (smoke run)")
    parser.add_argument("--sizes", default="", help="comma-separated leaf counts (default 10000,100000)")
    parser.add_argument("--samples", type=int, default=0, help="proofs of each kind per size (default 400)")
    parser.add_argument("--runs", type=int, default=0, help="append writes of each kind (default 600)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--verify-every", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: append,proofs,audit")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--phase", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.phase == "append":
        append_phase(args.runs, args.warmup, args.out)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s] or ([1_000, 10_000] if args.quick else [10_000, 100_000])
    samples = args.samples or (100 if args.quick else 400)
    runs = args.runs or (100 if args.quick else 600)
    skip = set(filter(None, args.skip.split(",")))
    results: dict[str, Any] = {
        "command": "python bench/transparency_bench.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "quick": args.quick,
        "work_dir": str(WORK),
    }
    print(f"transparency benchmark; logs in {WORK}; load {load()}", flush=True)
    if "append" not in skip:
        print(f"1. append overhead: {runs} + {runs} writes interleaved ...", flush=True)
        results["append"] = run_append(runs, args.warmup)
    if "proofs" not in skip or "audit" not in skip:
        results["proofs"] = []
        for n, leaves in enumerate(sizes):
            audit = "audit" not in skip and n == len(sizes) - 1
            print(f"2. seeding {leaves:,} leaves{' + audit' if audit else ''} ...", flush=True)
            proc, port, info, hashes = start_seeded(leaves, audit, samples // 2)
            try:
                if "audit" in info:
                    results["audit"], results["audit_leaves"] = info.pop("audit"), leaves
                if "proofs" not in skip:
                    print(f"   proofs against {leaves:,} leaves (seed {info['seed_seconds']} s, integrate "
                          f"{info['integrate_seconds']} s) ...", flush=True)  # fmt: skip
                    measured = measure_proofs(port, hashes, samples, args.verify_every, args.seed + n)
                    measured["seeding"] = info
                    results["proofs"].append(measured)
            finally:
                stop(proc)
    rows = evaluate(results)
    results["table"] = rows
    print_table(rows, results)
    # A smoke run never overwrites the recorded full run.
    out = WORK if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "transparency.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(out / "transparency.md", rows, results)
    print(f"\nwrote {out / 'transparency.json'} and {out / 'transparency.md'}")


if __name__ == "__main__":
    main()
