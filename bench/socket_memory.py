"""What one idle WebSocket keeps in the server's Python heap, line by line (issue 14 point 2).

Starts the target-3 server (``bench/chat_serve_users.py``: ``--sockets`` accounts, each signed in and a member
of one of 20 threads) under ``python -X tracemalloc=N``, takes a tracemalloc snapshot (on SIGUSR1, written by
the server), connects one idle WebSocket per account from two client processes, takes a second snapshot and
prints the growth per socket: in total and by allocating line (or, with ``--traceback``, by call stack).
It also prints, from the server's own collector, what a full collection walks per socket (the tracked container
objects by type) and how long one takes with and without the sockets; then, after the sockets have closed, the
cyclic garbage they left (objects that only a collection frees; the collector is off while they close).
tracemalloc slows the server and its own bookkeeping inflates RSS, so RSS figures come from
``bench/chat_bench.py --targets 3``; this says where the bytes are.

    python bench/socket_memory.py [--sockets 1000] [--top 30] [--traceback] [--frames 10] [--settle 10]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def kinds_of(objects: list[object]) -> Counter:
    """How many objects of each type (``module.QualifiedName``)."""
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)


def _serve_traced(argv: list[str], snapshot_dir: str) -> None:
    """The server process: chat_serve_users with a SIGUSR1 handler that writes snapshot N to the folder."""
    taken = []

    def dump(*_: object) -> None:
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        n = len(taken)
        taken.append(n)
        snapshot.dump(f"{snapshot_dir}/snapshot{n}.pickle")
        del snapshot  # its traces are tracked tuples: they must not be counted below
        # What a full collection walks: the tracked containers that are alive (frozen ones excluded). The first
        # collection's count is the cyclic garbage since the last one; between snapshots 1 and 2 (the sockets
        # closing) the collector is off, so snapshot 2 counts all the cyclic garbage that closing left.
        if n == 2:  # keep what the collection finds, to say what kinds of objects closing leaves in cycles
            gc.set_debug(gc.DEBUG_SAVEALL)
        garbage = gc.collect()
        if n == 2:
            gc.set_debug(0)
            Path(f"{snapshot_dir}/garbage.json").write_text(json.dumps(kinds_of(gc.garbage)))
            gc.garbage.clear()
        started = time.perf_counter()
        gc.collect()
        full_ms = round((time.perf_counter() - started) * 1000)
        tracked = kinds_of(gc.get_objects())
        tracked["(full collection, ms)"], tracked["(cyclic garbage)"] = full_ms, garbage
        if n == 1:
            gc.disable()
        elif n == 2:
            gc.enable()
        Path(f"{snapshot_dir}/snapshot{n}.gc.json").write_text(json.dumps(tracked))
        Path(f"{snapshot_dir}/snapshot{n}.done").touch()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["chat_serve_users.py", *argv]
    import chat_serve_users

    chat_serve_users.main()


def socket_fds(pid: int) -> int:
    """How many sockets process ``pid`` has open."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(fd).startswith("socket:")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--traceback", action="store_true", help="group by call stack instead of by line")
    parser.add_argument("--settle", type=float, default=10, help="seconds for the closed sockets' applications "
                        "to end before the garbage they left is counted")  # fmt: skip
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc frames kept per allocation")
    parser.add_argument("--serve", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve is not None:
        _serve_traced(args.serve[1:], args.serve[0])
        return

    import chat_bench as cb
    from stats import free_port, rss_kib

    work = tempfile.mkdtemp(prefix="gr-socket-memory-")
    port, info_path = free_port(), Path(work) / "info.json"
    cmd = [sys.executable, "-X", f"tracemalloc={args.frames}", str(Path(__file__)), "--serve", work,
           "--port", str(port), "--info", str(info_path), "--users", str(args.sockets), "--threads", "20"]  # fmt: skip
    # No re-freeze: this tool's own full collections would freeze the sockets it is counting (apps/core/gc_tuning.py).
    env = cb.server_env(SURREAL_ENDPOINT="mem://", GC_REFREEZE_AFTER_MS="0")
    proc = cb.PROCS.start(cmd, env, "traced", port, timeout=900)

    def tracked(n: int) -> Counter:
        return Counter(json.loads(Path(f"{work}/snapshot{n}.gc.json").read_text()))

    def snapshot(n: int) -> tracemalloc.Snapshot:
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 300
        while not Path(f"{work}/snapshot{n}.done").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the server wrote no snapshot {n} (logs in {cb.WORK})")
            time.sleep(0.2)
        return tracemalloc.Snapshot.load(f"{work}/snapshot{n}.pickle")

    try:
        info = json.loads(info_path.read_text())
        time.sleep(2)
        rss0, before, sockets0 = rss_kib(proc.pid), snapshot(0), socket_fds(proc.pid)
        sockets = [(w["thread_id"], w["token"]) for w in info["watchers"][: args.sockets]]
        idlers = cb.IdleClients(f"ws://127.0.0.1:{port}", sockets)
        connected = idlers.connected
        time.sleep(5)
        rss1, after = rss_kib(proc.pid), snapshot(1)
        idlers.finish()
        settle = time.monotonic() + 120
        while socket_fds(proc.pid) > sockets0 and time.monotonic() < settle:  # until the server has seen every close
            time.sleep(0.5)
        time.sleep(args.settle)  # the applications of the closed sockets end
        snapshot(2)
    finally:
        cb.PROCS.stop(proc)

    extra = ("(full collection, ms)", "(cyclic garbage)")
    counts = {n: tracked(n) for n in (0, 1, 2)}
    full_ms, garbage = ({n: c.pop(key) for n, c in counts.items()} for key in extra)
    containers = counts[1] - counts[0]
    left = Counter(json.loads(Path(f"{work}/garbage.json").read_text()))
    print(f"a full collection took {full_ms[0]} ms before the sockets and {full_ms[1]} ms with them (wall time)")
    print(f"closing the {connected} sockets left {garbage[2] / connected:.1f} objects of cyclic garbage per socket "
          f"(freed only by a collection); tracked objects: {counts[0].total()} before the sockets, "
          f"{counts[1].total()} with them, {counts[2].total()} after they closed")  # fmt: skip
    for kind, count in left.most_common(args.top):
        print(f"{count / connected:8.2f}  {kind} (cyclic garbage)")
    print(f"{containers.total() / connected:.0f} objects tracked by the garbage collector per socket (what a full "
          f"collection walks); the largest kinds:")  # fmt: skip
    for kind, count in containers.most_common(args.top):
        print(f"{count / connected:8.2f}  {kind}")
    key = "traceback" if args.traceback else "lineno"
    stats = after.compare_to(before, key)
    growth = sum(s.size_diff for s in stats)
    print(f"{connected} idle sockets; load average {os.getloadavg()}")
    print(f"Python heap growth {growth / connected / 1024:.2f} KiB per socket (tracemalloc); RSS growth under "
          f"tracemalloc {(rss1 - rss0) / connected:.1f} KiB per socket (inflated by its bookkeeping)")  # fmt: skip
    for s in stats[: args.top]:
        print(f"{s.size_diff / connected:8.0f} B {s.count_diff / connected:6.2f} blocks per socket  {s.traceback}")
        if args.traceback:
            for line in s.traceback.format()[-2 * args.frames :]:
                print("          ", line)


if __name__ == "__main__":
    main()
