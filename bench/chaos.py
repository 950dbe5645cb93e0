"""Chaos drill (issue 12 point 6): the outside fault runs, reproduced on loopback, one table at the end.

Not a test: a script an operator (or the lead before a release) runs by hand. Every scenario uses real
processes on free loopback ports and is bounded in time; clients retry unacknowledged requests with the
same ``X-Request-ID`` (01-api-conventions.md), so a retry is an at-least-once replay, never a new request.

1. ``server_kill``: kill -9 of ``manage.py serve`` (surrealkv:// file) during chat sends + contribution
   creates; restart on the same file and port; the client retries what was not acknowledged.
2. ``worker_kill``: kill -9 of ``manage.py run_worker`` (alone on a surrealkv:// file) mid-delivery to
   ``manage.py markov_receiver``; a second worker reclaims the leases.
3. ``redis_kill``: kill -9 of redis-server (started here) during chat sends on a server with REDIS_URL;
   restarted on the same port.
4. ``s3_outage``: the SeaweedFS ``weed mini`` S3 server stopped (SIGTERM) for 30 s (10 s with --quick)
   during evidence upload requests, PUTs and confirms; every 5xx must be a 503 envelope.
5. ``receiver_day``: the receiver answers 503 for a simulated 24 h; fake clock as in
   tests/webhooks/test_retry_schedule.py, the default retry schedule, the real worker and HTTP.

Per row: acknowledged, found afterwards, lost (acknowledged but missing), duplicated (more than one
stored/delivered copy) and the at-least-once retries/replays seen. Goal: 0 lost.

    python bench/chaos.py [--quick] [--only server_kill,worker_kill,redis_kill,s3_outage,receiver_day]

Writes bench/results/chaos.json and bench/results/chaos.md; exits 1 if any row lost something.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
# The orchestrator itself opens the surrealkv files after each run (and runs scenario 5 in-process).
os.environ.update(APP_ENV="test", DJANGO_SETTINGS_MODULE="gotong.settings", REDIS_URL="", SURREAL_ENDPOINT="mem://")

import django  # noqa: E402

django.setup()
# One INFO line per webhook attempt or HTTP request would bury the table.
for _name in ("apps", "httpx", "gotong"):
    logging.getLogger(_name).setLevel(logging.WARNING)

from chat_bench import PASSWORD, RATE_ENV, free_port  # noqa: E402
from evidence_bench import make_jpeg  # noqa: E402
from webhooks_bench import SECRET, receiver_stats, start_receiver  # noqa: E402

from tests.conftest import server_env  # noqa: E402
from tests.support.seaweed import weed_mini  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix="gr-chaos-"))
NS, DBNAME = "gotong", "main"
RESULTS = ROOT / "bench" / "results"


# -- processes ---------------------------------------------------------------------------------------------


def wait_port(port: int, proc: subprocess.Popen | None, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} (logs in {WORK})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:g} s (logs in {WORK})")


class Procs:
    """Every child process this run started; each stopped by its own pid at the end."""

    def __init__(self) -> None:
        self.items: list[subprocess.Popen] = []

    def start(self, cmd: list[str], env: dict[str, str] | None, name: str, port: int | None = None, **kw: Any):
        log = (WORK / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, cwd=kw.get("cwd", ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
        self.items.append(proc)
        if port is not None:
            wait_port(port, proc, name)
        return proc

    @staticmethod
    def kill9(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    @staticmethod
    def stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(self.items):
            self.stop(proc)


PROCS = Procs()


def app_env(**extra: str) -> dict[str, str]:
    """tests/conftest.py's child environment (no inherited database/Redis/S3), quiet logs, high rate limits."""
    return server_env(LOG_LEVEL="WARNING", SURREAL_NS=NS, SURREAL_DB=DBNAME, **RATE_ENV, **extra)


def start_server(name: str, port: int, **env: str) -> subprocess.Popen:
    cmd = [sys.executable, "manage.py", "serve", "--port", str(port)]
    return PROCS.start(cmd, app_env(**env), name, port)


async def read_file_db(endpoint: str, query: str) -> list[dict[str, Any]]:
    """Open a surrealkv:// file after its server stopped (one process at a time) and run one SELECT."""
    from apps.core.db import SurrealClient

    db = SurrealClient(endpoint, NS, DBNAME)
    await db.connect()
    try:
        return (await db.query(query))[0]
    finally:
        await db.close()


# -- an HTTP client that retries with the same request id ------------------------------------------------


@dataclasses.dataclass
class Ledger:
    acked: dict[str, str] = dataclasses.field(default_factory=dict)  # request id -> kind
    attempts: int = 0
    retried: int = 0  # logical requests sent more than once (at-least-once retries)
    replayed: int = 0  # answers with Idempotent-Replayed: true
    gave_up: set[str] = dataclasses.field(default_factory=set)
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    bad_errors: list[str] = dataclasses.field(default_factory=list)  # 5xx that are not 503 envelopes


RETRYABLE = {409, 429, 500, 502, 503, 504}


async def until_acked(client, ledger: Ledger, kind: str, method: str, url: str, *, rid: str | None,
                      deadline: float, **kw: Any):  # fmt: skip
    """Send until a 2xx/3xx (acknowledged) or the deadline; same X-Request-ID every time."""
    import httpx

    headers = dict(kw.pop("headers", {}))
    if rid:
        headers["X-Request-ID"] = rid
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        ledger.attempts += 1
        if tries == 2:
            ledger.retried += 1
        try:
            r = await client.request(method, url, headers=headers, **kw)
        except httpx.HTTPError as exc:
            ledger.statuses[type(exc).__name__] += 1
            await asyncio.sleep(0.2)  # retry back-off of the client, not a synchronisation
            continue
        ledger.statuses[r.status_code] += 1
        if r.status_code >= 500 and "/v1/" in url:
            try:
                ok = r.status_code == 503 and "code" in r.json()["error"]
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                ledger.bad_errors.append(f"{method} {url} -> {r.status_code} {r.text[:200]!r}")
        if r.status_code < 400:
            if r.headers.get("Idempotent-Replayed") == "true":
                ledger.replayed += 1
            if rid:
                ledger.acked[rid] = kind
            return r
        if r.status_code not in RETRYABLE:
            raise RuntimeError(f"{method} {url} refused: {r.status_code} {r.text[:300]}")
        await asyncio.sleep(0.2)
    if rid:
        ledger.gave_up.add(rid)
    return None


async def signup(client) -> dict[str, str]:
    name = "c" + uuid.uuid4().hex[:10]
    r = await client.post("/v1/auth/signup", json={"email": f"{name}@example.com", "username": name,
                                                   "password": PASSWORD})  # fmt: skip
    r.raise_for_status()
    data = r.json()
    return {"Authorization": f"Bearer {data['access_token']}", "user_id": data["user_id"]}


async def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


async def traffic_with_fault(base: str, kinds: tuple[str, ...], fault, *, before: int, after: int,
                             tag: str, budget: float) -> tuple[Ledger, dict[str, str]]:  # fmt: skip
    """4 client tasks send logical requests until ``before`` are acknowledged, then ``fault()`` runs while
    they keep retrying; new requests stop ``after`` more acknowledgements later; pending ones finish."""
    import httpx

    ledger = Ledger()
    stop_new = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        user = await signup(client)
        auth = {"Authorization": user["Authorization"]}
        r = await client.post("/v1/chat/threads", json={"scope_id": "chaos", "privacy_level": "public"},
                              headers=auth)  # fmt: skip
        r.raise_for_status()
        thread_id = r.json()["thread_id"]
        deadline = time.monotonic() + budget

        async def producer(n: int) -> None:
            i = 0
            while not stop_new.is_set() and time.monotonic() < deadline:
                kind = kinds[(n + i) % len(kinds)]
                rid = f"{tag}-{kind}-{n}-{i}-{uuid.uuid4().hex[:8]}"
                i += 1
                if kind == "message":
                    url, body = f"/v1/chat/threads/{thread_id}/messages/send", {"body": f"chaos {rid}"}
                else:
                    url, body = "/v1/contributions", {"title": f"chaos {rid}", "contribution_type": "custom"}
                await until_acked(client, ledger, kind, "POST", url, rid=rid, deadline=deadline, json=body,
                                  headers=auth)  # fmt: skip

        tasks = [asyncio.create_task(producer(n)) for n in range(4)]
        try:
            await wait_for(lambda: len(ledger.acked) >= before, budget, f"{before} acknowledgements")
            at_fault = len(ledger.acked)
            await fault(ledger)
            await wait_for(lambda: len(ledger.acked) >= at_fault + after, budget, "acknowledgements after the fault")
            stop_new.set()
            await asyncio.gather(*tasks)
        finally:
            stop_new.set()
            for task in tasks:
                task.cancel()
    return ledger, {"thread_id": thread_id, "user_id": user["user_id"]}


def count_rows(rows: list[dict[str, Any]], tag: str) -> collections.Counter:
    return collections.Counter(r["request_id"] for r in rows if str(r.get("request_id", "")).startswith(tag))


def ledger_row(name: str, ledger: Ledger, found: collections.Counter, **extra: Any) -> dict[str, Any]:
    lost = sorted(rid for rid in ledger.acked if found[rid] == 0)
    return {
        "scenario": name,
        "acknowledged": len(ledger.acked),
        "found": sum(1 for rid in ledger.acked if found[rid] > 0),
        "lost": len(lost),
        "duplicated": sum(n - 1 for n in found.values() if n > 1),
        "retried_requests": ledger.retried,
        "replayed_answers": ledger.replayed,
        "written_not_acknowledged": sum(1 for rid in found if rid not in ledger.acked),
        "gave_up": len(ledger.gave_up),
        "bad_5xx": len(ledger.bad_errors),
        "statuses": {str(k): v for k, v in sorted(ledger.statuses.items(), key=str)},
        "lost_ids": lost[:20],
        "bad_5xx_examples": ledger.bad_errors[:5],
        **extra,
    }


# -- 1. kill -9 of the server -----------------------------------------------------------------------------


async def server_kill(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    endpoint = f"surrealkv://{WORK / 'server_kill'}/db"
    port = free_port()
    proc = start_server("server_kill-a", port, SURREAL_ENDPOINT=endpoint)
    state = {"proc": proc}

    async def fault(_: Ledger) -> None:
        Procs.kill9(state["proc"])
        state["proc"] = await asyncio.to_thread(start_server, "server_kill-b", port, SURREAL_ENDPOINT=endpoint)

    before, after = (60, 60) if quick else (300, 300)
    try:
        ledger, _ = await traffic_with_fault(f"http://127.0.0.1:{port}", ("message", "contribution"), fault,
                                               before=before, after=after, tag="s1", budget=150)  # fmt: skip
    finally:
        Procs.stop(state["proc"])
    rows = await read_file_db(endpoint, "SELECT request_id FROM chat_message;")
    rows += await read_file_db(endpoint, "SELECT request_id FROM contribution;")
    return ledger_row("server_kill", ledger, count_rows(rows, "s1-"), seconds=round(time.monotonic() - started, 1),
                      note="SIGKILL of serve, restart on the same surrealkv file")  # fmt: skip


# -- 3. kill -9 of Redis ------------------------------------------------------------------------------------


def start_redis(port: int, name: str) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    workdir = WORK / "redis"
    workdir.mkdir(exist_ok=True)
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(workdir)]  # fmt: skip
    return PROCS.start(cmd, None, name, port)


async def redis_kill(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    endpoint = f"surrealkv://{WORK / 'redis_kill'}/db"
    redis_port, port = free_port(), free_port()
    redis = start_redis(redis_port, "redis-a")
    proc = start_server(
        "redis_kill-serve", port, SURREAL_ENDPOINT=endpoint, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"
    )
    down_s = 3 if quick else 10
    state = {"redis": redis}

    async def fault(ledger: Ledger) -> None:
        Procs.kill9(state["redis"])
        at_kill = len(ledger.acked)
        await asyncio.sleep(down_s)  # the outage itself: Redis stays down this long while traffic goes on
        state["acked_while_down"] = len(ledger.acked) - at_kill
        state["redis"] = await asyncio.to_thread(start_redis, redis_port, "redis-b")

    before, after = (60, 60) if quick else (300, 300)
    try:
        ledger, _ = await traffic_with_fault(f"http://127.0.0.1:{port}", ("message",), fault, before=before,
                                             after=after, tag="s3", budget=150)  # fmt: skip
    finally:
        Procs.stop(proc)
        Procs.stop(state["redis"])
    rows = await read_file_db(endpoint, "SELECT request_id FROM chat_message;")
    return ledger_row("redis_kill", ledger, count_rows(rows, "s3-"), seconds=round(time.monotonic() - started, 1),
                      acked_while_down=state.get("acked_while_down"),
                      note=f"SIGKILL of redis-server, down {down_s} s, restarted empty on the same port")  # fmt: skip


# -- 2. kill -9 of a separate worker ------------------------------------------------------------------------


async def fill_outbox(endpoint: str, count: int) -> None:
    from apps.core.db import SurrealClient, UnitOfWork
    from apps.core.db.migrations import migrate
    from apps.webhooks import outbox

    db = SurrealClient(endpoint, NS, DBNAME)
    await db.connect()
    try:
        await migrate(db)
        for start in range(0, count, 200):  # INSERT batches stay well under 500 rows (environment notes)
            uow = UnitOfWork(db)
            for i in range(start, min(count, start + 200)):
                statement = outbox.event_statement(
                    event_type="vouch_submitted",
                    actor=outbox.Actor(f"u{i}", "chaos"),
                    subject={
                        "vouch_id": f"v{i}",
                        "vouchee_id": "x",
                        "skill_id": None,
                        "message": "chaos",
                        "weight_hint": 1,
                    },
                    created_at_ms=1_800_000_000_000 + i,
                )
                uow.add(statement)
            await uow.commit(operation="chaos_fill")
    finally:
        await db.close()


async def worker_kill(quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    events = 400 if quick else 2000
    endpoint = f"surrealkv://{WORK / 'worker_kill'}/db"
    await fill_outbox(endpoint, events)
    rport = free_port()
    receiver = start_receiver(rport, 0.0)
    PROCS.items.append(receiver)
    env = app_env(SURREAL_ENDPOINT=endpoint, WEBHOOK_MARKOV_URL=f"http://127.0.0.1:{rport}/webhook",
                  GOTONG_ROYONG_WEBHOOK_SECRET=SECRET, WORKER_POLL_INTERVAL_MS="100",
                  WORKER_METRICS_PORT="0")  # fmt: skip
    cmd = [sys.executable, "manage.py", "run_worker", "--concurrency", "16"]

    def stats() -> dict[str, int]:
        return receiver_stats(rport)

    first = PROCS.start(cmd, env, "worker-a")
    kill_at = events // 3
    await wait_for(lambda: stats()["unique_events"] >= kill_at, 120, "a third of the events delivered")
    Procs.kill9(first)
    at_kill = stats()
    second = PROCS.start(cmd, env, "worker-b")
    with contextlib.suppress(RuntimeError):  # not all delivered in time: counted below as lost
        await wait_for(lambda: stats()["unique_events"] >= events, 120 if quick else 300, "every event delivered")
    Procs.stop(second)
    final = stats()
    Procs.stop(receiver)
    rows = await read_file_db(endpoint, "SELECT status FROM webhook_outbox_event;")
    status = collections.Counter(r["status"] for r in rows)
    return {
        "scenario": "worker_kill",
        "acknowledged": len(rows),  # events written (committed) before the run
        "found": final["unique_events"],  # distinct events received and answered 200
        "lost": len(rows) - final["unique_events"],
        "duplicated": final["duplicates"],
        "retried_requests": final["requests"] - final["unique_events"],
        "delivered_status": status.get("delivered", 0),
        "dead_letter": status.get("dead_letter", 0),
        "received_at_kill": at_kill["unique_events"],
        "bad_signatures": final["bad_signatures"],
        "seconds": round(time.monotonic() - started, 1),
        "note": "SIGKILL of run_worker at 1/3 delivered; duplicates = in-flight attempts redelivered after the lease",
    }


# -- 4. the S3 server stopped -------------------------------------------------------------------------------


class Weed:
    """``weed mini`` on fixed ports and one data directory, so it can be stopped and started again.

    The command line is the tests' (tests/support/seaweed.py); the fixture cannot restart on the same ports.
    """

    ACCESS, SECRET_KEY = "chaoskey", "chaos-secret-key-0123456789abcdef"

    def __init__(self) -> None:
        self.dir = WORK / "weed"
        self.dir.mkdir(parents=True)
        weed = weed_mini(self.dir, self.ACCESS, self.SECRET_KEY)  # fixed ports for this run: restartable
        self.cmd, self.port = weed.command, weed.s3_port
        self.proc: subprocess.Popen | None = None

    def start(self, name: str) -> None:
        self.proc = PROCS.start(self.cmd, None, name, None, cwd=self.dir)
        wait_port(self.port, self.proc, name, timeout=90)

    def ready(self) -> bool:
        """The S3 API answers (a listing of the bucket), not only the port."""
        import boto3

        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.port}", aws_access_key_id=self.ACCESS,
                          aws_secret_access_key=self.SECRET_KEY, region_name="us-east-1")  # fmt: skip
        try:
            try:
                s3.head_bucket(Bucket="chaos")
            except Exception:
                s3.create_bucket(Bucket="chaos")
            return True
        except Exception:
            return False


async def s3_outage(quick: bool) -> dict[str, Any]:
    import httpx

    started = time.monotonic()
    outage_s = 10 if quick else 30
    weed = Weed()
    weed.start("weed-a")
    await wait_for(weed.ready, 60, "the S3 API")
    endpoint = f"surrealkv://{WORK / 's3_outage'}/db"
    port = free_port()
    s3_env = dict(S3_ENDPOINT=f"http://127.0.0.1:{weed.port}", S3_ACCESS_KEY=weed.ACCESS,
                  S3_SECRET_KEY=weed.SECRET_KEY, S3_BUCKET="chaos", S3_REGION="us-east-1",
                  RATE_LIMIT_EVIDENCE_UPLOAD="100000/1:100000")  # fmt: skip
    proc = start_server("s3_outage-serve", port, SURREAL_ENDPOINT=endpoint, **s3_env)
    ledger = Ledger()
    confirmed: dict[str, dict[str, str]] = {}  # upload request id -> {evidence_id, sha256}
    stop_new = asyncio.Event()
    deadline = time.monotonic() + outage_s + 150
    served = 0
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15) as client:
            user = await signup(client)
            auth = {"Authorization": user["Authorization"]}
            r = await until_acked(client, ledger, "contribution", "POST", "/v1/contributions", rid="s4-contribution",
                                  deadline=deadline, json={"title": "chaos", "contribution_type": "custom"},
                                  headers=auth)  # fmt: skip
            contribution_id = r.json()["contribution_id"]

            async def stage(rid: str) -> tuple[dict[str, Any], str] | None:
                """A ticket and the object PUT to S3 (a failed PUT starts again from a fresh ticket)."""
                data = await asyncio.to_thread(make_jpeg, 1024 * 1024 + 4096)
                digest = hashlib.sha256(data).hexdigest()
                body = {"contribution_id": contribution_id, "file_name": "chaos.jpg", "content_type": "image/jpeg",
                        "size_bytes": len(data), "sha256": digest}  # fmt: skip
                while time.monotonic() < deadline:
                    ticket = await until_acked(client, ledger, "ticket", "POST", "/v1/evidence/uploads", rid=None,
                                               deadline=deadline, json=body, headers=auth)  # fmt: skip
                    if ticket is None:
                        break
                    t = ticket.json()
                    try:
                        put = await client.request(t.get("upload_method", "PUT"), t["upload_url"], content=data,
                                                   headers=t.get("upload_headers") or {})  # fmt: skip
                        ledger.statuses[f"PUT {put.status_code}"] += 1
                        if put.status_code < 300:
                            return t, digest
                    except httpx.HTTPError as exc:
                        ledger.statuses[f"PUT {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.2)  # client back-off
                ledger.gave_up.add(rid)
                return None

            async def finish(rid: str, t: dict[str, Any], digest: str) -> None:
                """Confirm (retried through the outage), then create the evidence with the request id."""
                url = f"/v1/evidence/uploads/{t['upload_id']}/confirm"
                done = await until_acked(client, ledger, "confirm", "POST", url, rid=None, deadline=deadline,
                                         headers=auth)  # fmt: skip
                if done is None:
                    ledger.gave_up.add(rid)
                    return
                stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                proof = {"timestamp": stamp, "media_hash": digest}
                evidence = {"contribution_id": contribution_id, "evidence_type": "photo_with_timestamp",
                            "upload_id": t["upload_id"], "proof": proof}  # fmt: skip
                created = await until_acked(client, ledger, "evidence", "POST", "/v1/evidence", rid=rid,
                                            deadline=deadline, json=evidence, headers=auth)  # fmt: skip
                if created is not None:
                    confirmed[rid] = {"evidence_id": created.json()["evidence_id"], "sha256": digest}

            async def one_upload(rid: str) -> None:
                staged = await stage(rid)
                if staged is not None:
                    await finish(rid, *staged)

            async def producer(n: int) -> None:
                i = 0
                while not stop_new.is_set() and time.monotonic() < deadline:
                    await one_upload(f"s4-upload-{n}-{i}")
                    i += 1

            tasks = [asyncio.create_task(producer(n)) for n in range(3)]
            before = 6 if quick else 15
            await wait_for(lambda: len(confirmed) >= before, 120, "uploads before the outage")
            # Objects PUT before the outage and confirmed during it: the confirm reads S3, so it meets the outage.
            held = [(f"s4-held-{n}", await stage(f"s4-held-{n}")) for n in range(3)]
            Procs.stop(weed.proc)  # the S3 server goes away (SIGTERM, then SIGKILL after 30 s)
            stopped = time.monotonic()
            tasks += [asyncio.create_task(finish(rid, *staged)) for rid, staged in held if staged is not None]
            await asyncio.sleep(outage_s)  # the outage itself: traffic goes on against a dead S3
            at_restart = len(confirmed)
            weed.start("weed-b")
            await wait_for(weed.ready, 60, "the S3 API again")
            down_for = round(time.monotonic() - stopped, 1)
            await wait_for(lambda: len(confirmed) >= at_restart + before, 120, "uploads after the outage")
            stop_new.set()
            await asyncio.gather(*tasks)
            # Served: every acknowledged evidence's media redirect answers the same bytes.
            for rid, item in confirmed.items():
                m = await client.get(f"/v1/evidence/{item['evidence_id']}/media", headers=auth)
                if m.status_code == 307:
                    got = await client.get(m.headers["location"])
                    if got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == item["sha256"]:
                        served += 1
                        continue
                ledger.bad_errors.append(f"media of {rid}: {m.status_code}")
    finally:
        stop_new.set()
        Procs.stop(proc)
        if weed.proc is not None:
            Procs.stop(weed.proc)
    rows = await read_file_db(endpoint, "SELECT id, status FROM evidence;")
    stored = len(rows)
    missing = len(confirmed) - served
    return {
        "scenario": "s3_outage",
        "acknowledged": len(confirmed),  # evidence created (201) on a confirmed upload
        "found": served,  # stored in the database and served back byte-identical through the media redirect
        "lost": missing,
        "duplicated": max(0, stored - len(confirmed)),
        "retried_requests": ledger.retried,
        "replayed_answers": ledger.replayed,
        "evidence_rows": stored,
        "gave_up": len(ledger.gave_up),
        "bad_5xx": len([e for e in ledger.bad_errors if "->" in e]),
        "statuses": {str(k): v for k, v in sorted(ledger.statuses.items(), key=str)},
        "bad_5xx_examples": ledger.bad_errors[:5],
        "s3_down_s": down_for,
        "seconds": round(time.monotonic() - started, 1),
        "note": f"weed mini stopped ~{outage_s} s (+ restart) during tickets, PUTs and confirms",
    }


# -- 5. the receiver down for a simulated day -----------------------------------------------------------------


async def receiver_day(quick: bool) -> dict[str, Any]:
    """tests/webhooks/test_retry_schedule.py's fake clock, with more events and the real default schedule."""
    from django.conf import settings

    from apps.core.db import get_db
    from apps.core.db.migrations import migrate
    from apps.webhooks import outbox, worker
    from apps.webhooks.worker import Worker
    from gotong.config import load_config
    from tests.webhooks.conftest import add_event, event_row
    from tests.webhooks.receiver import Action, ScriptedReceiver
    from tests.webhooks.test_retry_schedule import HOUR_MS, FakeClock

    started = time.monotonic()
    events = 20 if quick else 100
    outage_ms = 24 * HOUR_MS
    db = get_db()
    await db.use(f"chaos_{uuid.uuid4().hex[:8]}", "chaos")
    await migrate(db)
    receiver = await ScriptedReceiver().start()
    defaults = load_config({})
    saved = (settings.CONFIG, worker.now_ms, outbox.now_ms)
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, webhook_secret="chaos-webhook-secret-0123456789abcdef", webhook_secret_previous="",
        webhook_markov_url=receiver.url, webhook_max_attempts=defaults.webhook_max_attempts,
        webhook_backoff_base_ms=defaults.webhook_backoff_base_ms,
        webhook_backoff_max_ms=defaults.webhook_backoff_max_ms,
    )  # fmt: skip
    clock = FakeClock(1_900_000_000_000)
    worker.now_ms = outbox.now_ms = clock
    try:
        t0 = clock.ms
        answered_200: collections.Counter = collections.Counter()
        ids = [await add_event(request_id=f"s5-{n}") for n in range(events)]
        for _ in range(events * 20):  # bounded: each turn makes at least one attempt
            rows = [await event_row(i) for i in ids]
            due = [int(r["next_attempt_at_ms"]) for r in rows if r["status"] in ("pending", "retrying")]
            if not due:
                break
            clock.ms = max(clock.ms, min(due))
            healthy = clock.ms >= t0 + outage_ms
            receiver.default = Action(status=200) if healthy else Action(status=503)
            seen = len(receiver.requests)
            await Worker(concurrency=min(events, 32), run_jobs=False).run_once()
            if healthy:  # every request of this turn was answered 200: a delivery
                answered_200.update(json.loads(q.body)["event_id"] for q in receiver.requests[seen:])
        rows = [await event_row(i) for i in ids]
    finally:
        settings.CONFIG, worker.now_ms, outbox.now_ms = saved
        await receiver.close()
    status = collections.Counter(r["status"] for r in rows)
    bodies = collections.Counter(json.loads(q.body)["event_id"] for q in receiver.requests if q.body)
    delivered_at = [int(r["delivered_at_ms"]) for r in rows if r.get("delivered_at_ms")]
    last_hours = round((max(delivered_at) - t0) / HOUR_MS, 1) if delivered_at else None
    return {
        "scenario": "receiver_day",
        "acknowledged": events,
        "found": status.get("delivered", 0),
        "received_200": len(answered_200),
        "lost": events - len(answered_200),
        "duplicated": sum(n - 1 for n in answered_200.values()),  # events answered 200 more than once
        "dead_letter": status.get("dead_letter", 0),
        "retried_requests": sum(bodies.values()) - len(bodies),
        "receiver_requests": len(receiver.requests),
        "simulated_hours_to_last_delivery": last_hours,
        "seconds": round(time.monotonic() - started, 1),
        "note": "503 for 24 simulated hours (fake clock), default schedule; dead letters count as not delivered",
    }


# -- the table ----------------------------------------------------------------------------------------------

SCENARIOS = {
    "server_kill": server_kill,
    "worker_kill": worker_kill,
    "redis_kill": redis_kill,
    "s3_outage": s3_outage,
    "receiver_day": receiver_day,
}
COLUMNS = [("scenario", 13), ("acknowledged", 12), ("found", 6), ("lost", 5), ("duplicated", 10),
           ("retried_requests", 16), ("dead_letter", 11), ("bad_5xx", 7), ("seconds", 8)]  # fmt: skip


LEGEND = """\
- acknowledged: server_kill, redis_kill: requests answered 2xx (chat sends; contribution creates too in
  server_kill); worker_kill, receiver_day: events committed to the outbox; s3_outage: evidence created (201)
  on a confirmed upload.
- found: rows with that request id in the surrealkv file afterwards; distinct events the receiver answered
  200; evidence served back byte-identical through its media redirect.
- lost: acknowledged but not found. duplicated: extra stored rows, or extra 200 deliveries at the receiver.
- retried_requests: logical requests sent again with the same X-Request-ID (webhooks: attempts after the
  first). At-least-once by design: worker_kill's duplicates are the attempts in flight at the SIGKILL,
  sent again after their lease expired (the receiver dedupes by event id).
- bad_5xx: /v1/ answers of 5xx that are not a 503 error envelope. dead_letter: events given up.
"""


def verdict(row: dict[str, Any]) -> str:
    if "error" in row:
        return "ERROR"
    ok = row["lost"] == 0 and row.get("bad_5xx", 0) == 0 and row.get("dead_letter", 0) == 0
    return "PASS" if ok else "FAIL"


def table(rows: list[dict[str, Any]]) -> tuple[str, str]:
    text = " ".join(f"{name:>{width}}" for name, width in COLUMNS) + "  verdict"
    md = ["| " + " | ".join(name for name, _ in COLUMNS) + " | verdict |", "|" + "---|" * (len(COLUMNS) + 1)]
    for row in rows:
        cells = [str(row.get(name, "-")) for name, _ in COLUMNS]
        text += "\n" + " ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True)) + f"  {verdict(row)}"
        md.append("| " + " | ".join(cells) + f" | {verdict(row)} |")
    return text, "\n".join(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short scenarios (whole run < 4 minutes)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--json", type=Path, default=RESULTS / "chaos.json")
    parser.add_argument("--md", type=Path, default=RESULTS / "chaos.md")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    async def run() -> list[dict[str, Any]]:
        from apps.core.db import close_db

        rows = []
        try:
            for name in names:
                print(f"-- {name} ...", flush=True)
                try:
                    rows.append(await SCENARIOS[name](args.quick))
                except Exception as exc:
                    rows.append({"scenario": name, "error": f"{type(exc).__name__}: {exc}"})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            await close_db()
        return rows

    started = time.monotonic()
    try:
        rows = asyncio.run(run())
    finally:
        PROCS.stop_all()
    text, md = table(rows)
    print(text)
    command = "python bench/chaos.py" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if set(names) != set(SCENARIOS) else "")  # fmt: skip
    meta = {"command": command, "seconds": round(time.monotonic() - started, 1), "logs": str(WORK),
            "load_average_end": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    args.md.write_text(
        f"# Chaos drill (issue 12 point 6)\n\nCommand: `{command}` ({meta['seconds']} s, load average at the end "
        f"{meta['load_average_end']} on {meta['cores']} cores). Generated by bench/chaos.py; details per row in "
        f"chaos.json.\n\n{md}\n\n{LEGEND}"
    )
    print(f"whole run {meta['seconds']} s; logs in {WORK}")
    sys.exit(0 if all(verdict(r) == "PASS" for r in rows) else 1)


if __name__ == "__main__":
    main()
