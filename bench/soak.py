"""Soak (issue 12 point 7): target 2 of 08-performance.md for 10 minutes, webhooks flowing, one row a minute.

Not a test: a script run by hand (``make soak``). One ``manage.py serve`` process (the embedded default,
in-process webhook worker) on a surrealkv:// file by default, the development receiver
(``manage.py markov_receiver``) as its webhook URL, and client processes over loopback:

- chat: bench/chat_bench.py's own client and sender processes (imported, not copied): 200 WebSockets over
  20 threads, 50 msg/s open loop in total, every socket checks its thread's ``seq`` sequence;
- webhooks: a process creating contributions at ``--webhook-rate``/s (each commits a ``contribution_created``
  outbox event in the same transaction), which the server's worker delivers to the receiver.

At the end of every minute the orchestrator records, from outside the server: RSS (/proc/<pid>/status
VmRSS), open file descriptors (/proc/<pid>/fd), threads, CPU, the server's asyncio task count
(``gotong_asyncio_tasks`` on /metrics, counted on the server's loop at scrape time), the outbox counts
(``gotong_webhook_outbox_events``, refreshed by the worker every 5 s), the receiver's /stats and the load
average. Latencies, sends, frames, losses and duplicates are bucketed afterwards by the minute the message
was SENT (ACK and delivery of one message land in the same row).

Verdict (warm-up = minutes 1-2; needs ``--minutes`` >= 4, otherwise "n/a"):
- memory flat: RSS at the end of the last minute <= 1.10 x RSS at the end of minute 3;
- p95 stable: ACK p95 and delivery p95 of the last minute each <= 1.5 x their minute-3 p95;
- no loss: 0 acknowledged messages missing on any socket, 0 duplicated frames, 0 seq gaps;
- webhooks: after the load stops, within ``--drain-timeout`` s, no event pending/in flight/retrying, 0 dead
  letters, every outbox event received by the receiver.

    python bench/soak.py [--minutes 10] [--rate 50] [--webhook-rate 2] [--engine surrealkv|mem|bridge]

Writes bench/results/soak.json and bench/results/soak.md; exits 1 if a verdict is FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing as mp
import os
import re
import resource
import signal
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import chat_bench as cb  # bench/ is on sys.path (the script's own folder)
from stats import summary
from webhooks_bench import SECRET, receiver_stats, start_receiver

RESULTS = cb.BENCH / "results"
MINUTE_S = 60
MAX_MINUTES = 13  # access tokens live 15 minutes (settings.SIMPLE_JWT); senders sign in once
OUTBOX_STATUSES = ("pending", "in_flight", "retrying", "delivered", "dead_letter")


# -- the contribution (webhook) driver: a client process like chat_bench's sender ---------------------------


def _contrib_proc(base: str, tokens: list[str], rate: float, duration: float, go, out) -> None:
    asyncio.run(_contributions(base, tokens, rate, duration, go, out))


async def _contributions(base: str, tokens: list[str], rate: float, duration: float, go, out) -> None:
    """Open loop at ``rate``/s: each 2xx is a committed contribution and its outbox event."""
    import httpx

    acked: list[tuple[float, float]] = []  # (start wall ms, answer ms)
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(i: int) -> None:
            started = time.time() * 1000
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}", "X-Request-ID": f"soak-{uuid.uuid4()}"}
            try:
                r = await client.post("/v1/contributions", json={"title": f"soak {i}", "contribution_type": "custom"},
                                      headers=headers)  # fmt: skip
                if r.status_code < 300:
                    acked.append((started, time.time() * 1000 - started))
                else:
                    errors.append(f"{r.status_code} {r.text[:120]}")
            except Exception as exc:  # counted and reported
                errors.append(repr(exc)[:200])

        deadline = time.monotonic() + 900
        while not go.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        tasks = []
        i = 0
        if rate > 0:
            while time.monotonic() - t0 < duration:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i)))
                i += 1
        await asyncio.gather(*tasks)
    out.put({"sent": len(tasks), "acked": acked, "errors": errors[:20], "n_errors": len(errors)})


# -- samples of the server process (from outside it) -------------------------------------------------------


def scrape(base: str) -> dict[str, float]:
    """The unlabelled and labelled samples of /metrics as ``{'name{labels}': value}``."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def sample(label: str | int, pid: int, base: str, rport: int, cpu_prev: tuple[float, float] | None) -> dict:
    now = time.monotonic()
    cpu = cb.cpu_seconds(pid)
    row: dict[str, Any] = {
        "minute": label,
        "load1": round(os.getloadavg()[0], 2),
        "server_cpu_pct": round((cpu - cpu_prev[0]) / (now - cpu_prev[1]) * 100, 1) if cpu_prev else None,
        "rss_kib": proc_status(pid, "VmRSS"),
        "engine_rss_kib": proc_status(ENGINE_PID[0], "VmRSS") if ENGINE_PID else None,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": proc_status(pid, "Threads"),
        "_cpu": (cpu, now),
    }
    try:
        metrics = scrape(base)
        tasks = metrics.get("gotong_asyncio_tasks")
        row["asyncio_tasks"] = int(tasks) if tasks is not None and tasks == tasks else None
        row["ws_open"] = int(metrics.get('gotong_realtime_connections{transport="websocket"}', 0))
        outbox_metrics = scrape(OUTBOX_METRICS[0]) if OUTBOX_METRICS else metrics
        row["outbox"] = {s: int(outbox_metrics.get(f'gotong_webhook_outbox_events{{status="{s}"}}', 0))
                         for s in OUTBOX_STATUSES}  # fmt: skip
    except OSError as exc:  # a missed scrape is a gap in the row, not the end of the soak
        row["metrics_error"] = repr(exc)[:200]
    try:
        row["receiver"] = receiver_stats(rport)
    except OSError as exc:
        row["receiver_error"] = repr(exc)[:200]
    return row


# -- --trace-python: the server under tracemalloc, a snapshot diff at every sample (diagnosis only) -----------


def traced_serve(out_path: str, serve_args: list[str]) -> None:
    """``manage.py serve`` in this process with tracemalloc on; SIGUSR1 appends the Python heap's growth.

    Why: when RSS grows, this splits Python allocations (by line) from the engine's native memory. The
    snapshot runs in the signal handler on the main thread and stalls the loop for a moment: figures of
    a traced run are for diagnosis, not for the table.
    """
    import tracemalloc

    tracemalloc.start(1)
    first: list[tracemalloc.Snapshot] = []

    def dump(_signum: int, _frame: Any) -> None:
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        snap = tracemalloc.take_snapshot().filter_traces(ignore)
        current, _peak = tracemalloc.get_traced_memory()
        lines = [f"== {time.strftime('%H:%M:%S')} traced Python heap {current / 1048576:.1f} MiB, "
                 f"RSS {proc_status(os.getpid(), 'VmRSS') / 1024:.1f} MiB"]  # fmt: skip
        if first:
            for stat in snap.compare_to(first[0], "lineno")[:15]:
                lines.append(f"   {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback}")
        else:
            first.append(snap)
        with open(out_path, "a") as fh:
            fh.write("\n".join(lines) + "\n")

    signal.signal(signal.SIGUSR1, dump)
    sys.path.insert(0, str(cb.ROOT))
    sys.argv = ["manage.py", "serve", *serve_args]
    import manage

    code = manage.main()
    sys.stdout.flush()
    os._exit(code)


# -- the run -------------------------------------------------------------------------------------------------


ENGINE_PID: list[int] = []  # the bridge's pid when the engine runs in its own process (--engine bridge)
OUTBOX_METRICS: list[str] = []  # the separate worker's metrics (--engine bridge); else the server's


def engine_env(engine: str) -> dict[str, str]:
    """The server's database: in-process (mem://, surrealkv://) or the test bridge's engine in another process.

    Why the bridge: the embedded engines keep memory per write transaction (bench/engine_memory.py), so the app
    process's RSS mixes ours with the engine's. With the engine in the bridge's process (Node, @surrealdb/node,
    tests/support/surreal_bridge), the server's RSS is the app's alone and the engine's is reported beside it.
    """
    if engine == "mem":
        return {"SURREAL_ENDPOINT": "mem://"}
    if engine == "surrealkv":
        return {"SURREAL_ENDPOINT": f"surrealkv://{cb.WORK / 'soak'}/db"}
    started = cb.start_bridge()
    if isinstance(started, str):
        raise SystemExit(f"--engine bridge: {started}")
    bridge, env = started
    ENGINE_PID.append(bridge.pid)
    return env


def run(args: argparse.Namespace) -> dict[str, Any]:
    rport = cb.free_port()
    receiver = start_receiver(rport, 0.0)
    cb.PROCS.items.append(receiver)  # stopped with the rest, by pid
    env = {"WEBHOOK_MARKOV_URL": f"http://127.0.0.1:{rport}/webhook", "GOTONG_ROYONG_WEBHOOK_SECRET": SECRET}
    env |= engine_env(args.engine)
    if ENGINE_PID:  # a database server: webhooks go out through a separate worker, as in production
        wport = cb.free_port()
        cb.PROCS.start([sys.executable, "manage.py", "run_worker", "--metrics-port", str(wport)],
                       cb.server_env(**env), "worker", wport)  # fmt: skip
        OUTBOX_METRICS.append(f"http://127.0.0.1:{wport}")
    if args.trace_python:
        port = cb.free_port()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--traced-serve", str(args.trace_python), "--port",
               str(port)]  # fmt: skip
        proc = cb.PROCS.start(cmd, cb.server_env(**env), "serve-soak", port)
    else:
        proc, port = cb.start_server("serve-soak", **env)
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    users = asyncio.run(cb.make_users(base, cb.USERS))
    plans = asyncio.run(cb.make_threads(base, users, cb.THREADS, cb.PER_THREAD))
    duration = args.minutes * MINUTE_S

    ctx = mp.get_context("spawn")
    ready, out_c, out_s, out_w = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
    go, stop = ctx.Event(), ctx.Event()
    manager = ctx.Manager()
    expected = manager.dict()
    sockets = [(p["thread_id"], tok) for p in plans for tok in p["sockets"]]
    chunks = [sockets[k :: args.client_procs] for k in range(args.client_procs)]
    clients = [ctx.Process(target=cb._client_proc, args=("app", ws_base, c, ready, go, stop, expected, out_c,
                                                          duration + 600)) for c in chunks]  # fmt: skip
    sender = ctx.Process(target=cb._sender_proc, args=("app", base, plans, args.rate, duration, 200, go, out_s,
                                                       duration))  # fmt: skip
    contrib = ctx.Process(target=_contrib_proc, args=(base, [u["token"] for u in users], args.webhook_rate,
                                                      duration, go, out_w))  # fmt: skip
    children = [*clients, sender, contrib]
    for child in children:
        child.start()
    try:
        connected = sum(ready.get(timeout=300) for _ in clients)
        time.sleep(1.0)  # let the server finish each stream's connect sequence (as chat_bench.run_load)
        traced = (lambda: os.kill(proc.pid, signal.SIGUSR1)) if args.trace_python else (lambda: None)
        traced()
        rows = [sample(0, proc.pid, base, rport, None)]
        print(f"  {connected}/{len(sockets)} sockets open; minute 0: {brief(rows[0])}", flush=True)
        t0 = time.monotonic()
        t0_wall = time.time() * 1000
        go.set()
        for minute in range(1, args.minutes + 1):
            time.sleep(max(0.0, t0 + minute * MINUTE_S - time.monotonic()))
            rows.append(sample(minute, proc.pid, base, rport, rows[-1]["_cpu"]))
            traced()
            print(f"  minute {minute}: {brief(rows[-1])}", flush=True)
        sent = out_s.get(timeout=300)
        expected.update(sent["last"])
        stop.set()
        made = out_w.get(timeout=300)
        results = [out_c.get(timeout=300) for _ in clients]
        drain = drain_webhooks(base, len(made["acked"]), args.drain_timeout)
        end = sample("end", proc.pid, base, rport, rows[-1]["_cpu"])
        traced()
        print(f"  after the drain ({drain['seconds']} s): {brief(end)}", flush=True)
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.terminate()
        manager.shutdown()
        cb.PROCS.stop_all()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t0_wall / 1000)),
        "command": " ".join(["python", "bench/soak.py", *sys.argv[1:]]),
        "minutes": args.minutes,
        "rate": args.rate,
        "webhook_rate": args.webhook_rate,
        "endpoint": env["SURREAL_ENDPOINT"],
        "sockets": len(sockets),
        "connected": connected,
        "t0_wall_ms": t0_wall,
        "rows": rows,
        "end": end,
        "drain": drain,
        "sent": sent,
        "made": made,
        "clients": results,
    }


def drain_webhooks(base: str, contributions: int, timeout: float) -> dict[str, Any]:
    """Wait (bounded) until the outbox gauges hold every event and none is still to deliver."""
    started = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - started < timeout:
        metrics = scrape(OUTBOX_METRICS[0] if OUTBOX_METRICS else base)
        counts = {s: int(metrics.get(f'gotong_webhook_outbox_events{{status="{s}"}}', 0)) for s in OUTBOX_STATUSES}
        open_ = counts["pending"] + counts["in_flight"] + counts["retrying"]
        if sum(counts.values()) >= contributions and open_ == 0:
            return {"drained": True, "seconds": round(time.monotonic() - started, 1), "outbox": counts}
        time.sleep(1.0)  # the gauges refresh every 5 s inside the server
    return {"drained": False, "seconds": round(time.monotonic() - started, 1), "outbox": counts}


def brief(row: dict) -> str:
    ob = row.get("outbox", {})
    engine = f" (engine process {row['engine_rss_kib'] / 1024:.1f} MiB)" if row.get("engine_rss_kib") else ""
    return (f"load {row['load1']}, RSS {row['rss_kib'] / 1024:.1f} MiB{engine}, fds {row['fds']}, tasks "
            f"{row.get('asyncio_tasks')}, threads {row['threads']}, CPU {row['server_cpu_pct']} %, outbox "
            f"delivered {ob.get('delivered')} pending {ob.get('pending', 0) + ob.get('retrying', 0)} dead "
            f"{ob.get('dead_letter')}")  # fmt: skip


# -- per-minute figures and the verdict ---------------------------------------------------------------------


def per_minute(raw: dict[str, Any], minutes: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows 1..minutes, and the overrun: sends started after the last minute because the server fell
    behind (chat_bench's sender sends rate x duration messages in all, so a late backlog shows here)."""
    t0 = raw["t0_wall_ms"]

    def minute_of(wall_ms: float) -> int:
        return min(minutes + 1, max(1, int((wall_ms - t0) // (MINUTE_S * 1000)) + 1))

    acks: dict[int, list[float]] = collections.defaultdict(list)
    sent_minute: dict[tuple[str, int], int] = {}
    per_thread: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for started, ack, tid, seq in raw["sent"]["ack_log"]:
        m = minute_of(started)
        acks[m].append(ack)
        sent_minute[(tid, seq)] = m
        per_thread[tid].append((seq, m))
    errors = collections.Counter(minute_of(at) for at in raw["sent"]["error_at"])
    delivery: dict[int, list[float]] = collections.defaultdict(list)
    lost: collections.Counter = collections.Counter()
    dup: collections.Counter = collections.Counter()
    for result in raw["clients"]:
        for latency, at in zip(result["delivery"], result["delivery_at"], strict=True):
            delivery[minute_of(at - latency)].append(latency)  # the minute the message was sent
        for tid, got in result["seqs"]:
            seen = collections.Counter(got)
            for seq, m in per_thread[tid]:
                if not seen[seq]:
                    lost[m] += 1
            for seq, n in seen.items():
                if n > 1:
                    dup[sent_minute.get((tid, seq), minutes)] += n - 1
    made = collections.Counter(minute_of(started) for started, _ms in raw["made"]["acked"])
    contrib_ms: dict[int, list[float]] = collections.defaultdict(list)
    for started, ms in raw["made"]["acked"]:
        contrib_ms[minute_of(started)].append(ms)
    out = []
    prev_received = raw["rows"][0].get("receiver", {}).get("unique_events", 0)
    for m in range(1, minutes + 2):
        srv = raw["rows"][m] if m <= minutes else {"minute": f">{minutes}"}
        received = srv.get("receiver", {}).get("unique_events", prev_received)
        out.append({
            **{k: v for k, v in srv.items() if k != "_cpu"},
            "sent": len(acks[m]) + errors[m],
            "acked": len(acks[m]),
            "send_errors": errors[m],
            "ack_ms": summary(acks[m]),
            "delivery_ms": summary(delivery[m]),
            "frames": len(delivery[m]),
            "lost": lost[m],
            "duplicated": dup[m],
            "contributions": made[m],
            "contribution_ms": summary(contrib_ms[m]),
            "webhooks_received": received - prev_received,
        })  # fmt: skip
        prev_received = received
    overrun = out.pop()
    overrun["webhooks_received"] = None
    return out, overrun


def verdicts(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows, minutes = res["minutes"], res["minutes_run"]
    out = []
    if minutes >= 4:
        m3, last = rows[2], rows[-1]
        growth = (last["rss_kib"] - m3["rss_kib"]) / m3["rss_kib"]
        out.append(("memory flat", f"RSS minute 3 {m3['rss_kib'] / 1024:.1f} MiB -> minute {minutes} "
                    f"{last['rss_kib'] / 1024:.1f} MiB ({growth * 100:+.1f} %); fds {m3['fds']} -> {last['fds']}, "
                    f"asyncio tasks {m3.get('asyncio_tasks')} -> {last.get('asyncio_tasks')}",
                    "last <= 1.10 x minute 3", "PASS" if growth <= 0.10 else "FAIL"))  # fmt: skip
        a3, al = m3["ack_ms"]["p95"], last["ack_ms"]["p95"]
        d3, dl = m3["delivery_ms"]["p95"], last["delivery_ms"]["p95"]
        ok = None not in (a3, al, d3, dl) and al <= 1.5 * a3 and dl <= 1.5 * d3
        worst = max((r["delivery_ms"]["p95"] or 0) for r in rows[2:])
        out.append(("p95 stable", f"ACK p95 minute 3 {a3} -> minute {minutes} {al} ms; delivery p95 {d3} -> {dl} ms "
                    f"(worst minute after warm-up: delivery p95 {worst} ms)",
                    "last <= 1.5 x minute 3 (ACK and delivery)", "PASS" if ok else "FAIL"))  # fmt: skip
    else:
        out.append(("memory flat", "needs --minutes >= 4 (warm-up 2, minute 3, a last minute)", "-", "n/a"))
        out.append(("p95 stable", "needs --minutes >= 4", "-", "n/a"))
    t = res["totals"]
    ok = t["lost"] == 0 and t["duplicated"] == 0 and t["seq_gaps"] == 0 and t["connected"] == t["sockets"]
    out.append(("no loss", f"{t['acked']}/{t['sent']} sends acked ({t['send_errors']} errors); frames "
                f"{t['frames']}/{t['expected_frames']}; lost {t['lost']}, duplicated {t['duplicated']}, seq gaps "
                f"{t['seq_gaps']}; sockets {t['connected']}/{t['sockets']}, {t['client_failures']} closed early",
                "0 lost, 0 duplicated", "PASS" if ok else "FAIL"))  # fmt: skip
    d, w = res["drain"], res["webhooks"]
    ob = d["outbox"]
    ok = d["drained"] and ob.get("dead_letter", 0) == 0 and w["receiver_unique"] >= sum(ob.values())
    ok = ok and w["bad_signatures"] == 0 and sum(ob.values()) >= w["contributions_acked"]
    out.append(("webhooks delivered", f"{w['contributions_acked']} contributions acked; outbox {ob} after "
                f"{d['seconds']} s drain; receiver {w['receiver_unique']} unique events, {w['receiver_duplicates']}"
                f" duplicates, {w['bad_signatures']} bad signatures",
                "all delivered, 0 dead, drain bounded", "PASS" if ok else "FAIL"))  # fmt: skip
    return out


def summarise(raw: dict[str, Any], args: argparse.Namespace, started: float) -> dict[str, Any]:
    minutes, overrun = per_minute(raw, raw["minutes"])
    sent, clients = raw["sent"], raw["clients"]
    expected_frames = sum(sent["last"].get(tid, 0) for r in clients for tid, _got in r["seqs"])
    all_acks = [a for _s, a, _t, _q in sent["ack_log"]]
    all_delivery = [v for r in clients for v in r["delivery"]]
    end = {k: v for k, v in raw["end"].items() if k != "_cpu"}
    res: dict[str, Any] = {
        "date": raw["date"],
        "command": raw["command"],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "uname": " ".join(os.uname()[2:5])},
        "engine": raw["endpoint"],
        "rate_msg_s": raw["rate"],
        "webhook_rate_s": raw["webhook_rate"],
        "minutes_run": raw["minutes"],
        "baseline": {k: v for k, v in raw["rows"][0].items() if k != "_cpu"},
        "minutes": minutes,
        "overrun": overrun,
        "end": end,
        "drain": raw["drain"],
        "totals": {
            "sockets": raw["sockets"],
            "connected": raw["connected"],
            "sent": sent["sent"],
            "acked": len(all_acks),
            "send_errors": sent["n_errors"],
            "send_error_samples": sent["errors"][:5],
            "ack_ms": summary(all_acks),
            "delivery_ms": summary(all_delivery),
            "frames": sum(r["frames"] for r in clients),
            "expected_frames": expected_frames,
            "lost": sum(m["lost"] for m in [*minutes, overrun]),
            "duplicated": sum(m["duplicated"] for m in [*minutes, overrun]),
            "seq_gaps": sum(r["lost"] for r in clients),  # chat_bench's own check: 1..last seq on every socket
            "out_of_order": sum(r["disorder"] for r in clients),
            "client_failures": sum(r["n_failures"] for r in clients),
            "client_failure_samples": [f for r in clients for f in r["failures"]][:5],
        },
        "webhooks": {
            "contributions_sent": raw["made"]["sent"],
            "contributions_acked": len(raw["made"]["acked"]),
            "contribution_errors": raw["made"]["n_errors"],
            "contribution_error_samples": raw["made"]["errors"][:5],
            "receiver_unique": end.get("receiver", {}).get("unique_events", 0),
            "receiver_requests": end.get("receiver", {}).get("requests", 0),
            "receiver_duplicates": end.get("receiver", {}).get("duplicates", 0),
            "bad_signatures": end.get("receiver", {}).get("bad_signatures", 0),
        },
        "server_log_dir": str(cb.WORK),
    }
    res["verdicts"] = verdicts(res)
    res["seconds"] = round(time.time() - started, 1)
    return res


COLUMNS = ["min", "load1", "CPU %", "RSS MiB", "fds", "tasks", "thr", "sent", "acked", "ACK p50/p95/p99 ms",
           "delivery p50/p95/p99 ms", "frames", "lost", "dup", "contrib", "wh recv", "wh pending",
           "wh dead"]  # fmt: skip


def table_rows(res: dict[str, Any]) -> list[list[str]]:
    def pcts(s: dict) -> str:
        return f"{s['p50']}/{s['p95']}/{s['p99']}" if s["n"] else "-"

    def rss_cell(r: dict) -> str:  # the app's RSS, and the engine process's when it runs apart (--engine bridge)
        engine = f" (engine {r['engine_rss_kib'] / 1024:.1f})" if r.get("engine_rss_kib") else ""
        return f"{r['rss_kib'] / 1024:.1f}{engine}"

    def outbox(r: dict, *keys: str) -> str:
        ob = r.get("outbox")
        return str(sum(ob[k] for k in keys)) if ob else ("?" if "rss_kib" in r else "-")

    out = []
    late = [res["overrun"]] if res["overrun"]["sent"] else []
    for r in [res["baseline"], *res["minutes"], *late, res["end"]]:
        if "rss_kib" in r:
            load_cells = [str(r["minute"]), str(r["load1"]), str(r["server_cpu_pct"] if r["server_cpu_pct"] is not None
                          else "-"), rss_cell(r), str(r["fds"]), str(r.get("asyncio_tasks")),
                          str(r["threads"])]  # fmt: skip
        else:  # the overrun row: traffic only
            load_cells = [str(r["minute"])] + ["-"] * 6
        if "ack_ms" in r:
            traffic = [str(r["sent"]), str(r["acked"]), pcts(r["ack_ms"]), pcts(r["delivery_ms"]),
                       str(r["frames"]), str(r["lost"]), str(r["duplicated"]), str(r["contributions"]),
                       str(r["webhooks_received"] if r["webhooks_received"] is not None else "-")]  # fmt: skip
        else:
            recv = r.get("receiver", {}).get("unique_events", "?")
            traffic = ["-"] * 9
            traffic[-1] = f"{recv} (total)"
        out.append(load_cells + traffic + [outbox(r, "pending", "in_flight", "retrying"), outbox(r, "dead_letter")])
    return out


def write_outputs(res: dict[str, Any], json_path: Path, md_path: Path) -> str:
    rows = table_rows(res)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    text = "  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True))
    for r in rows:
        text += "\n" + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
    verdict_text = "\n".join(f"{name:<19} {v:<5} {goal:<42} {figures}" for name, figures, goal, v in res["verdicts"])
    t = res["totals"]
    md = [
        "# Soak (issue 12 point 7)",
        "",
        f"Command: `{res['command']}`, {res['date']}, {res['seconds']} s in all. Engine `{res['engine']}`; "
        f"{t['sockets']} WebSockets over 20 threads, {res['rate_msg_s']} msg/s open loop, contributions at "
        f"{res['webhook_rate_s']}/s (each one outbox event) to the development receiver. Machine: "
        f"{res['machine']['cpus']} CPUs, Python {res['machine']['python']}, shared with other work (see load1). "
        "Generated by bench/soak.py; every figure per minute in soak.json.",
        "",
        "Row 0: after the sockets connected, before the load; rows 1..N: the end of each minute (latencies, "
        "sends, frames, losses by the minute the message was sent); `end`: after the webhook drain. tasks = "
        "`gotong_asyncio_tasks` (the server loop's asyncio tasks at the scrape); thr = OS threads; wh recv = "
        "distinct events the receiver got that minute; wh pending = pending + in flight + retrying (outbox "
        "gauges, refreshed every 5 s).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"Whole run: ACK p50/p95/p99 {t['ack_ms']['p50']}/{t['ack_ms']['p95']}/{t['ack_ms']['p99']} ms, delivery "
        f"{t['delivery_ms']['p50']}/{t['delivery_ms']['p95']}/{t['delivery_ms']['p99']} ms (target 2: ACK p95 <= 60, "
        f"delivery p95 <= 100 ms).",
        "",
        "| check | verdict | goal | figures |",
        "|---|---|---|---|",
        *(f"| {name} | **{v}** | {goal} | {figures} |" for name, figures, goal, v in res["verdicts"]),
        "",
    ]
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(res, indent=2) + "\n")
    md_path.write_text("\n".join(md))
    whole = (f"whole run: ACK p50/p95/p99 {t['ack_ms']['p50']}/{t['ack_ms']['p95']}/{t['ack_ms']['p99']} ms, "
             f"delivery {t['delivery_ms']['p50']}/{t['delivery_ms']['p95']}/{t['delivery_ms']['p99']} ms")  # fmt: skip
    return f"{text}\n\n{whole}\n\n{verdict_text}"


def main() -> None:
    if sys.argv[1:2] == ["--traced-serve"]:
        traced_serve(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help=f"load minutes (10; 1 = smoke; <= {MAX_MINUTES})")
    parser.add_argument("--rate", type=float, default=50.0, help="chat messages/s over all 20 threads (target 2)")
    parser.add_argument("--webhook-rate", type=float, default=2.0, help="contributions (webhook events) per second")
    parser.add_argument("--engine", choices=["surrealkv", "mem", "bridge"], default="surrealkv")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="max seconds for the outbox to empty")
    parser.add_argument("--client-procs", type=int, default=2, help="processes holding the 200 sockets")
    parser.add_argument(
        "--trace-python",
        type=Path,
        default=None,
        help="diagnosis: run the server under tracemalloc, append heap diffs per minute to this file",
    )
    parser.add_argument(
        "--from-raw",
        type=Path,
        default=None,
        help="summarise the soak-raw.json of an earlier run again instead of running",
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "soak.json")
    parser.add_argument("--md", type=Path, default=RESULTS / "soak.md")
    args = parser.parse_args()
    if not 1 <= args.minutes <= MAX_MINUTES:
        parser.error(f"--minutes must be 1..{MAX_MINUTES} (access tokens expire after 15 minutes)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # children inherit it
    started = time.time()
    print(f"soak: {args.minutes} min, {args.rate} msg/s, {args.webhook_rate} contributions/s, {args.engine}; "
          f"logs in {cb.WORK}", flush=True)  # fmt: skip
    if args.from_raw:
        raw = json.loads(args.from_raw.read_text())
    else:
        raw = run(args)
        raw_path = cb.WORK / "soak-raw.json"
        raw_path.write_text(json.dumps(raw))  # every sample, for a later --from-raw
        print(f"raw samples in {raw_path}", flush=True)
    res = summarise(raw, args, started)
    print()
    print(write_outputs(res, args.json, args.md))
    print(f"wrote {args.json} and {args.md}; server logs in {cb.WORK}")
    sys.exit(1 if any(v == "FAIL" for _n, _f, _g, v in res["verdicts"]) else 0)


if __name__ == "__main__":
    main()
