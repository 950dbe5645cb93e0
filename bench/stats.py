"""Small helpers the benchmark scripts share: percentiles, summaries, load average, a free loopback port, RSS."""

from __future__ import annotations

import os
import socket
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
