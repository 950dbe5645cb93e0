"""Small helpers the benchmark scripts share: percentiles, summaries, load average, a free loopback port, RSS,
and the spread of figures over repeated runs."""

from __future__ import annotations

import os
import resource
import socket
import statistics
from collections.abc import Iterable
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], p: float, digits: int = 2) -> float | None:
    """The nearest-rank percentile ``p`` of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], digits)


def summary(values: list[float], digits: int = 2) -> dict[str, Any]:
    return {"n": len(values), "p50": pct(values, 50, digits), "p95": pct(values, 95, digits),
            "p99": pct(values, 99, digits), "max": round(max(values), digits) if values else None}  # fmt: skip


def load() -> float:
    return round(os.getloadavg()[0], 2)


def rss_kib(pid: int | str = "self") -> int:
    """Resident memory of a process (``VmRSS`` of /proc), KiB; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def process_cpu_s() -> float:
    """CPU seconds (user + system) this process used so far (resource usage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine, every core and process (``cpu`` line of /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Share of all cores busy between two ``machine_jiffies`` readings (neighbours' work included)."""
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total * 100, 1) if total > 0 else None


def load_triple() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(v, 2) for v in os.getloadavg()]


def dig(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``path`` "a.b"; None when a step is missing."""
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def spread(runs: list[dict[str, Any]], figures: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per ``(label, dotted path)`` found in at least one run: every run's value and min / median / max.

    Repeats of the same benchmark on a shared machine differ more than a single figure suggests (issue 14
    point 5): the spread is printed beside each figure instead of one run's value.
    """
    rows = []
    for label, path in figures:
        values = [dig(run, path) for run in runs]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numbers:
            continue
        rows.append({"figure": label, "path": path, "values": values, "min": min(numbers),
                     "median": round(statistics.median(numbers), 3), "max": max(numbers)})  # fmt: skip
    return rows
