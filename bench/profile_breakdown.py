"""Where the chat server's time goes during one load phase (issue 14 points 1 and 2), for bench/chat_bench.py.

A ``PhaseProbe`` wraps one load window of a server process and measures three things:

* **CPU** from ``/proc``: the process total and, per thread, the SurrealDB engine's native threads
  (``surrealdb-*``, ``tokio-*``: Rust, invisible to a Python profiler). The rest is the Python threads' CPU.
* **Stacks** (``--profile``): ``py-spy record --pid --format raw --gil --nonblocking`` writes collapsed stacks
  to ``bench/results/profile-<phase>.txt``. ``--gil`` keeps only the thread holding the GIL at each tick: without
  it py-spy counts threads blocked in ``queue.get``, ``Condition.wait`` or ``epoll`` as busy (a third of the
  samples in a trial), which is waiting, not CPU. Each sample is given to the component of the first frame,
  from the leaf up, whose module path matches ``COMPONENTS``: a leaf in the standard library (``uuid``, ``re``)
  counts for its caller. The Python threads' CPU is split by these shares; the engine threads' CPU is its own
  row. Divided by the phase's acknowledged sends and delivered frames, that gives ms of server CPU per sent
  message and per frame. ``--nonblocking`` does not pause the server per sample (less overhead; a torn sample
  is skipped).
* **GC pauses** from the server's ``/metrics`` before and after: the histogram ``gotong_gc_pause_seconds``
  (per ``generation``), when the server has it; "n/a" otherwise. py-spy shows no collector frames (a pause is
  sampled inside whatever allocation triggered it), so the GC row comes from the histogram's sum and is
  already inside the other rows, not added to them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ENGINE_THREADS = ("surrealdb", "tokio")  # /proc/<pid>/task/*/comm prefixes of the embedded engine's threads
ENGINE = "SurrealDB engine (native threads, /proc)"
OTHER_APP = "other app code (chat/accounts services, views)"
OTHER = "other"
GC_METRIC = "gotong_gc_pause_seconds"
BATCH_METRIC = "gotong_db_write_batch_size"

# (component, module path fragments). Paths are normalised to "/<package>/<module>.py" (site-packages, the
# standard library and the repository stripped), so "/json/" is the standard library's json package.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("request handling & middleware, thread hops",
     ("/django/core/handlers/", "/django/middleware/", "/django/http/", "/django/urls/", "/django/views/",
      "/django/utils/deprecation", "/asgiref/", "/concurrent/futures/", "/threading.py", "/queue.py",
      "/rest_framework/", "/adrf/", "/drf_spectacular/", "/apps/core/middleware", "/apps/core/loop_middleware",
      "/apps/core/asgi_handler", "/apps/core/api", "/apps/core/errors", "/apps/core/context", "/gotong/asgi")),
    ("auth, rate limit, idempotency",
     ("/apps/accounts/", "/apps/core/ratelimit", "/apps/core/idempotency", "/jwt/", "/rest_framework_simplejwt/",
      "/apps/chat/ws_auth", "/apps/chat/permissions")),
    ("SurrealDB round trips & SDK encoding",
     ("/surrealdb/", "/apps/core/db/", "/cbor", "/apps/chat/repository")),
    ("view building & JSON", ("/apps/chat/presenters", "/apps/chat/fanout", "/json/")),
    ("consumer & framing",
     ("/channels/", "/daphne/", "/autobahn/", "/twisted/", "/txaio/", "/websockets/", "/uvicorn/", "/httptools/",
      "/apps/chat/consumers", "/apps/chat/sse", "/apps/core/servers/")),
    ("hub & re-validation", ("/apps/chat/hub", "/apps/chat/streams", "/apps/chat/realtime")),
    ("logging, metrics, tracing",
     ("/logging/", "/pythonjsonlogger/", "/prometheus_client/", "/opentelemetry/", "/apps/core/logging",
      "/apps/core/metrics", "/apps/core/tracing", "/apps/core/events", "/apps/core/gc_tuning")),
    ("event loop (asyncio, selectors)", ("/asyncio/", "/selectors.py", "/uvloop/")),
    (OTHER_APP, ("/apps/",)),
]  # fmt: skip
ROOT = str(Path(__file__).resolve().parent.parent) + "/"
_STDLIB = re.compile(r"/lib/python3\.\d+/")
_FRAME = re.compile(r"\((.+?)(?::\d+)?\)$")


def module_path(frame: str) -> str:
    """``"func (/abs/path/pkg/mod.py:12)"`` → ``"/pkg/mod.py"`` (site-packages, stdlib or repository relative)."""
    match = _FRAME.search(frame)
    path = match.group(1) if match else frame
    if "site-packages/" in path:
        return "/" + path.rsplit("site-packages/", 1)[1]
    if path.startswith(ROOT):
        return "/" + path[len(ROOT) :]
    parts = _STDLIB.split(path, maxsplit=1)
    return "/" + parts[1] if len(parts) == 2 else path


def classify(stack: str) -> str:
    """The component of one collapsed stack (frames root→leaf, ``;``-separated): first match from the leaf up."""
    for frame in reversed(stack.split(";")):
        path = module_path(frame)
        for component, fragments in COMPONENTS:
            if any(fragment in path for fragment in fragments):
                return component
    return OTHER


def read_collapsed(path: Path) -> Counter[str]:
    """Samples per component of a py-spy ``--format raw`` file (``stack count`` per line)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isascii() and count.isdigit():  # --nonblocking can tear a line: skip it
            counts[classify(stack)] += int(count)
    return counts


# -- CPU, GC ------------------------------------------------------------------------------------------------------


def cpu_snapshot(pid: int) -> dict[str, float]:
    """Process CPU seconds (all threads, dead ones included) and the engine threads' share, from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")

    def seconds(stat: str) -> float:
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    engine = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().startswith(ENGINE_THREADS):
                engine += seconds((task / "stat").read_text())
        except OSError:  # the thread ended between the listing and the read
            continue
    return {"total": seconds(Path(f"/proc/{pid}/stat").read_text()), "engine": engine}


def scrape(metrics_url: str) -> str | None:
    """The server's Prometheus text; None if not served."""
    import httpx

    try:
        return httpx.get(metrics_url, timeout=15).text
    except httpx.HTTPError:
        return None


def parse_write_batches(text: str) -> tuple[float, float] | None:
    """(engine calls, write transactions) so far of the mem:// group commit (``BATCH_METRIC``); None if absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        if family.name == BATCH_METRIC:
            values = {sample.name: sample.value for sample in family.samples}
            return values.get(f"{BATCH_METRIC}_count", 0.0), values.get(f"{BATCH_METRIC}_sum", 0.0)
    return None


def write_batches(before: tuple[float, float] | None, after: tuple[float, float] | None) -> dict[str, Any] | None:
    """The phase's group commit: engine calls, the write transactions they carried, and the mean batch."""
    if before is None or after is None:
        return None
    calls, transactions = after[0] - before[0], after[1] - before[1]
    return {"engine_calls": int(calls), "transactions": int(transactions),
            "mean_batch": round(transactions / calls, 2) if calls else None}  # fmt: skip


def batches_line(batches: dict[str, Any] | None) -> str:
    if not batches:
        return "write batches: n/a (not mem://, or the metric is not served)"
    return (f"write batches (mem:// group commit): {batches['transactions']} write transactions in "
            f"{batches['engine_calls']} engine calls, mean {batches['mean_batch']} per call")  # fmt: skip


def parse_gc(text: str) -> dict[str, dict[str, Any]] | None:
    """``GC_METRIC`` of a Prometheus text exposition, per generation ({} before any collection); None if absent."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, dict[str, Any]] | None = None
    for family in text_string_to_metric_families(text):
        if family.name != GC_METRIC:
            continue
        found = found or {}
        for sample in family.samples:
            gen = found.setdefault(sample.labels.get("generation", "?"), {"buckets": {}, "count": 0.0, "sum": 0.0})
            if sample.name.endswith("_bucket"):
                gen["buckets"][float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_count"):
                gen["count"] = sample.value
            elif sample.name.endswith("_sum"):
                gen["sum"] = sample.value
    return found


def _bucket_quantile(deltas: list[tuple[float, float]], q: float) -> float | None:
    """Upper bound (s) of the bucket holding quantile ``q`` of the phase's collections (cumulative deltas)."""
    total = deltas[-1][1] if deltas else 0
    if total <= 0:
        return None
    for le, cumulative in deltas:
        if cumulative >= q * total:
            return le
    return float("inf")


def gc_pauses(before: dict | None, after: dict | None) -> dict[str, Any]:
    """Per generation: collections during the phase and p50/p95/max as bucket upper bounds (ms), GC seconds."""
    if before is None or after is None:
        return {"available": False}
    result: dict[str, Any] = {"available": True, "generations": {}, "seconds": 0.0}
    for gen, end in sorted(after.items()):
        start = before.get(gen, {"buckets": {}, "count": 0.0, "sum": 0.0})
        deltas = [(le, end["buckets"][le] - start["buckets"].get(le, 0.0)) for le in sorted(end["buckets"])]
        gc_s = end["sum"] - start["sum"]
        result["seconds"] += gc_s
        top = max((le for le in end["buckets"] if le != float("inf")), default=0.0)
        ms = {k: _ms(v, top) for k, v in
              (("p50", _bucket_quantile(deltas, 0.5)), ("p95", _bucket_quantile(deltas, 0.95)),
               ("max", _bucket_quantile(deltas, 1.0)))}  # fmt: skip
        result["generations"][gen] = {"collections": int(end["count"] - start["count"]), "seconds": round(gc_s, 3)}
        result["generations"][gen] |= {f"{k}_ms_le": v for k, v in ms.items()}
    result["seconds"] = round(result["seconds"], 3)
    return result


def _ms(seconds: float | None, top: float) -> float | str | None:
    """A bucket bound in ms; the +Inf bucket as ``">top"`` (JSON has no infinity)."""
    if seconds is None:
        return None
    return f">{top * 1000:g}" if seconds == float("inf") else round(seconds * 1000, 2)


def gc_line(gc: dict[str, Any]) -> str:
    if not gc.get("available"):
        return f"GC pauses: n/a ({GC_METRIC} not served by this server)"
    if not gc["generations"]:
        return f"GC pauses: n/a ({GC_METRIC} served but holds no collection yet: pause timing not installed?)"
    parts = []
    for gen, g in gc["generations"].items():
        parts.append(f"gen{gen} {g['collections']} collections, p50/p95/max <= {g['p50_ms_le']}/{g['p95_ms_le']}/"
                     f"{g['max_ms_le']} ms")  # fmt: skip
    return f"GC pauses ({gc['seconds']} s in all): " + "; ".join(parts)


# -- one phase ----------------------------------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy binary (requirements/dev.txt) of this interpreter's environment, else on PATH."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class PhaseProbe:
    """CPU, GC histogram and (with ``profile``) py-spy stacks of server ``pid`` between ``start`` and ``stop``."""

    def __init__(self, pid: int, metrics_url: str | None, profile: Path | None = None, rate: int = 200) -> None:
        self.pid, self.metrics_url, self.profile, self.rate = pid, metrics_url, profile, rate
        self.spy: subprocess.Popen | None = None
        self.note = ""

    def start(self) -> None:
        text = scrape(self.metrics_url) if self.metrics_url else None
        self.gc0 = None if text is None else parse_gc(text)
        self.batches0 = None if text is None else parse_write_batches(text)
        if self.profile is not None:
            binary = py_spy()
            if binary is None:
                self.note = "py-spy not installed (pip install -r requirements/dev.txt): no stacks"
            else:
                self.profile.parent.mkdir(parents=True, exist_ok=True)
                self.spy_log = self.profile.with_suffix(".log").open("wb")
                cmd = [binary, "record", "--pid", str(self.pid), "--format", "raw", "--rate", str(self.rate),
                       "--gil", "--nonblocking", "--full-filenames", "--output", str(self.profile)]  # fmt: skip
                self.spy = subprocess.Popen(cmd, stdout=self.spy_log, stderr=subprocess.STDOUT)
        self.cpu0 = cpu_snapshot(self.pid)

    def stop(self) -> dict[str, Any]:
        cpu1 = cpu_snapshot(self.pid)
        samples: Counter[str] = Counter()
        if self.spy is not None:
            self.spy.send_signal(signal.SIGINT)  # py-spy writes the file on Ctrl-C
            try:
                self.spy.wait(60)
            except subprocess.TimeoutExpired:
                self.spy.kill()
                self.spy.wait(5)
            self.spy_log.close()
            if self.profile is not None and self.profile.exists():
                samples = read_collapsed(self.profile)
            else:
                self.note = f"py-spy wrote nothing (see {self.profile.with_suffix('.log')})"
        text = scrape(self.metrics_url) if self.metrics_url else None
        gc1 = None if text is None else parse_gc(text)
        batches1 = None if text is None else parse_write_batches(text)
        total, engine = cpu1["total"] - self.cpu0["total"], cpu1["engine"] - self.cpu0["engine"]
        return {"cpu_s": round(total, 3), "engine_cpu_s": round(engine, 3), "samples": dict(samples),
                "profile": str(self.profile) if samples else None, "note": self.note,
                "gc": gc_pauses(self.gc0, gc1), "write_batches": write_batches(self.batches0, batches1)}  # fmt: skip


def breakdown(server: dict[str, Any], sends: int, frames: int) -> list[dict[str, Any]]:
    """Rows ``component, samples_pct, cpu_pct, ms_per_send, ms_per_frame``: Python CPU split by sample shares."""
    samples, total_cpu = server["samples"], server["cpu_s"]
    python_cpu = max(0.0, total_cpu - server["engine_cpu_s"])
    n = sum(samples.values())
    if not n:
        return []

    def row(name: str, cpu_s: float, share: float | None) -> dict[str, Any]:
        return {"component": name, "samples_pct": None if share is None else round(share * 100, 1),
                "cpu_pct": round(cpu_s / total_cpu * 100, 1) if total_cpu else None,
                "ms_per_send": round(cpu_s * 1000 / sends, 3) if sends else None,
                "ms_per_frame": round(cpu_s * 1000 / frames, 3) if frames else None}  # fmt: skip

    names = [c for c, _ in COMPONENTS] + [OTHER]
    rows = [row(name, python_cpu * samples.get(name, 0) / n, samples.get(name, 0) / n) for name in names]
    rows.append(row(ENGINE, server["engine_cpu_s"], None))
    rows.append(row("total (process CPU)", total_cpu, 1.0 if n else None))
    gc = server["gc"]
    if gc.get("generations"):
        rows.append(row("  of which GC pauses (histogram sum, inside the rows above)", gc["seconds"], None))
    return rows


def table_lines(title: str, rows: list[dict[str, Any]], server: dict[str, Any], *, markdown: bool) -> list[str]:
    """The breakdown as console lines or a Markdown table, with the sample count and the GC line."""
    n = sum(server["samples"].values())
    head = (f"{title}: {n} samples (GIL holder), process CPU {server['cpu_s']} s "
            f"(engine threads {server['engine_cpu_s']} s)")  # fmt: skip
    if not rows:
        return [head + f" -- no stacks{': ' + server['note'] if server['note'] else ''}", gc_line(server["gc"])]
    cells = [(r["component"], _fmt(r["samples_pct"]), _fmt(r["cpu_pct"]), _fmt(r["ms_per_send"]),
              _fmt(r["ms_per_frame"])) for r in rows]  # fmt: skip
    header = ("component", "% samples", "% CPU", "ms CPU / sent msg", "ms CPU / frame")
    if markdown:
        lines = [head, "", "| " + " | ".join(header) + " |", "|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return [*lines, "", gc_line(server["gc"])]
    lines = [head, f"    {header[0]:<58} {header[1]:>9} {header[2]:>6} {header[3]:>17} {header[4]:>14}"]
    lines += [f"    {c[0]:<58} {c[1]:>9} {c[2]:>6} {c[3]:>17} {c[4]:>14}" for c in cells]
    return [*lines, "    " + gc_line(server["gc"])]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


MD_START = "<!-- chat_bench --profile: start -->"
MD_END = "<!-- chat_bench --profile: end -->"


def write_md_section(path: Path, body: list[str]) -> None:
    """Replace the generated profile section of ``path`` (between the markers), or append it."""
    section = "\n".join([MD_START, *body, MD_END])
    text = path.read_text() if path.exists() else ""
    if MD_START in text and MD_END in text:
        before, rest = text.split(MD_START, 1)
        text = before + section + rest.split(MD_END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text)


PROFILED = {  # result key -> (title, the sub-key holding our server's load run, if any)
    "t7_app_saturated": ("saturated closed loop (target 7, ours)", None),
    "send_path": ("the send path alone (no sockets), saturated closed loop", None),
    "send_bridge": ("the send path alone, the database in its own process (the app's CPU only)", None),
    "send_paced": ("the send path alone at target 2's rate, the database in its own process (the app's CPU)", None),
    "t3": ("target 3: idle sockets + target 2's load", "load"),
    "fanout": ("fan-out ceiling (5a, ours): 2,000 sockets, fan-out 500", "ours"),
}


def report(res: dict[str, Any], md_path: Path | None, rate: int) -> list[str]:
    """The profiled phases' tables of a chat_bench result (console lines); Markdown into ``md_path``'s section."""
    console: list[str] = []
    md = [
        f"## Where the server's CPU goes (`--profile`, {res['date']})",
        "",
        f"Command: `{res['command']}`. py-spy at {rate} Hz (`--gil --nonblocking`) on the server",
        "process; components and method: bench/profile_breakdown.py. Python threads' CPU split by sample",
        "shares; the SurrealDB engine's native threads measured from /proc. Load average before → after.",
        "",
    ]
    for key, (title, sub) in PROFILED.items():
        phase = res.get(key, {})
        phase = phase.get(sub, {}) if sub else phase
        if "server" not in phase:
            continue
        where = (f"{title}: {phase['acked']} sends, {phase['frames']} frames, load {phase['load_before']} -> "
                 f"{phase['load_after']}")  # fmt: skip
        console += table_lines(where, phase["breakdown"], phase["server"], markdown=False)
        md += ["### " + where, "", *table_lines("Server", phase["breakdown"], phase["server"], markdown=True), ""]
        res.setdefault("profile", {})[key] = {"rows": phase["breakdown"], "file": phase["server"]["profile"]}
    if res.get("profile") and md_path is not None:
        write_md_section(md_path, md)
        console.append(f"profile section written to {md_path}")
    return console
